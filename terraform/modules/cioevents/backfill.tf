# Optional nightly `cioevents backfill` (docs/backfill.md):
# a Cloud Run job started by Cloud Scheduler that compares the last few days
# of the App API's deliveries with the events table. Off by default. With
# backfill_dry_run (the default) it only reports; otherwise it also stores
# the missing events, missing-only, through the same ledger and table.

variable "backfill_schedule_enabled" {
  description = "Create the nightly backfill job and its schedule. Needs backfill_image and a value in the app-api-key secret."
  type        = bool
  default     = false
}

variable "backfill_image" {
  description = "Container image whose entrypoint is the cioevents binary (e.g. built with `ko build ./cmd/cioevents`)."
  type        = string
  default     = ""

  validation {
    condition     = var.backfill_image == "" || can(regex("^[a-z0-9.-]{1,253}(:[0-9]{1,5})?/[a-z0-9._/-]{1,500}(:[A-Za-z0-9._-]{1,128})?(@sha256:[a-f0-9]{64})?$", var.backfill_image))
    error_message = "backfill_image must be an image reference such as europe-docker.pkg.dev/p/r/cioevents:v1."
  }
  validation {
    condition     = !var.backfill_schedule_enabled || var.backfill_image != ""
    error_message = "backfill_schedule_enabled needs backfill_image."
  }
}

variable "backfill_schedule" {
  description = "When the backfill job runs, as a cron expression in UTC."
  type        = string
  default     = "30 4 * * *"

  validation {
    condition     = length(split(" ", trimspace(var.backfill_schedule))) == 5
    error_message = "backfill_schedule must be a five-field cron expression."
  }
}

variable "backfill_lookback" {
  description = "How far back each run looks (--since), e.g. 3d or 72h. Deliveries are windowed by creation time, so leave room for late opens and clicks."
  type        = string
  default     = "3d"

  validation {
    condition     = can(regex("^[1-9][0-9]{0,3}[dh]$", var.backfill_lookback))
    error_message = "backfill_lookback must be a number of days or hours, such as 3d or 72h."
  }
}

variable "backfill_workspace" {
  description = "The workspace the app-api-key secret's App API key belongs to (--workspace): the backfilled rows carry it. An App API key reaches one workspace; \"default\" is the workspace of unnamed signing keys."
  type        = string
  default     = "default"

  validation {
    condition     = can(regex("^[a-z][a-z0-9_-]{0,29}$", var.backfill_workspace))
    error_message = "backfill_workspace must be a workspace name (a lowercase letter, then up to 29 lowercase letters, digits, _ or -), as named in the signing keys secret, or default."
  }
}

variable "backfill_dry_run" {
  description = "Only report what is missing (--dry-run). false also stores the missing events (source = backfill); actions are never applied."
  type        = bool
  default     = true
}

locals {
  backfill       = var.backfill_schedule_enabled ? 1 : 0
  backfill_store = var.backfill_schedule_enabled && !var.backfill_dry_run ? 1 : 0
}

resource "google_project_service" "scheduler" {
  count = local.backfill

  project            = var.project_id
  service            = "cloudscheduler.googleapis.com"
  disable_on_destroy = false
}

resource "google_service_account" "backfill" {
  count = local.backfill

  project      = var.project_id
  account_id   = "${var.name_prefix}-backfill"
  display_name = "cioevents nightly backfill"
  description  = "Runs cioevents backfill: reads the App API and the events table; stores missing events unless dry-run. Also the identity Cloud Scheduler starts the job with."
}

# The App API key is read-only access to the whole workspace's data; its
# value is added out of band like the other secrets.
resource "google_secret_manager_secret" "app_api_key" {
  count = local.backfill

  project   = var.project_id
  secret_id = "${var.name_prefix}-app-api-key"

  labels = { consumer = "backfill" }

  replication {
    auto {}
  }

  depends_on = [google_project_service.enabled]
}

resource "google_secret_manager_secret_iam_member" "backfill_reads_pii_key" {
  count = local.backfill * length(google_secret_manager_secret.pii_key)

  project   = var.project_id
  secret_id = google_secret_manager_secret.pii_key[0].secret_id
  role      = "roles/secretmanager.secretAccessor"
  member    = google_service_account.backfill[0].member
}

resource "google_secret_manager_secret_iam_member" "backfill_reads_app_api_key" {
  count = local.backfill

  project   = var.project_id
  secret_id = google_secret_manager_secret.app_api_key[0].secret_id
  role      = "roles/secretmanager.secretAccessor"
  member    = google_service_account.backfill[0].member
}

# Query jobs are created in the project; there is no narrower resource.
resource "google_project_iam_member" "backfill_runs_queries" {
  count = local.backfill

  project = var.project_id
  role    = "roles/bigquery.jobUser"
  member  = google_service_account.backfill[0].member
}

# Reconciliation reads the events table only (one query per run).
resource "google_bigquery_table_iam_member" "backfill_reads_events" {
  count = local.backfill

  project    = var.project_id
  dataset_id = google_bigquery_dataset.events.dataset_id
  table_id   = google_bigquery_table.events.table_id
  role       = "roles/bigquery.dataViewer"
  member     = google_service_account.backfill[0].member
}

# Storing missing events streams rows like the processor: the same roles on
# the same two tables and the dataset.
resource "google_bigquery_table_iam_member" "backfill_inserts_events" {
  count = local.backfill_store

  project    = var.project_id
  dataset_id = google_bigquery_dataset.events.dataset_id
  table_id   = google_bigquery_table.events.table_id
  role       = google_project_iam_custom_role.row_inserter.name
  member     = google_service_account.backfill[0].member
}

resource "google_bigquery_table_iam_member" "backfill_inserts_rejected" {
  count = local.backfill_store

  project    = var.project_id
  dataset_id = google_bigquery_dataset.events.dataset_id
  table_id   = google_bigquery_table.rejected_events.table_id
  role       = google_project_iam_custom_role.row_inserter.name
  member     = google_service_account.backfill[0].member
}

resource "google_bigquery_dataset_iam_member" "backfill_looks_up_dataset" {
  count = local.backfill_store

  project    = var.project_id
  dataset_id = google_bigquery_dataset.events.dataset_id
  role       = google_project_iam_custom_role.dataset_lookup.name
  member     = google_service_account.backfill[0].member
}

# Firestore grants exist only at project level; the condition narrows it to
# the ledger database, as for the processor.
resource "google_project_iam_member" "backfill_uses_ledger" {
  count = local.backfill_store

  project = var.project_id
  role    = "roles/datastore.user"
  member  = google_service_account.backfill[0].member

  condition {
    title       = "cioevents ledger database only"
    description = "Limits the grant to the database named by var.firestore_database."
    expression  = "resource.name == \"projects/${var.project_id}/databases/${var.firestore_database}\""
  }
}

resource "google_cloud_run_v2_job" "backfill" {
  count = local.backfill

  project             = var.project_id
  name                = "${var.name_prefix}-backfill"
  location            = var.region
  deletion_protection = false

  template {
    task_count = 1
    template {
      service_account = google_service_account.backfill[0].email
      # A failed run is retried once; the next night's covers it anyway.
      max_retries = 1
      timeout     = "3600s"

      containers {
        image = var.backfill_image
        args  = concat(["backfill", "--since", var.backfill_lookback, "--workspace", var.backfill_workspace], var.backfill_dry_run ? ["--dry-run"] : [])

        dynamic "env" {
          for_each = {
            GOOGLE_CLOUD_PROJECT    = var.project_id
            BIGQUERY_DATASET        = google_bigquery_dataset.events.dataset_id
            BIGQUERY_TABLE          = google_bigquery_table.events.table_id
            BIGQUERY_REJECTED_TABLE = google_bigquery_table.rejected_events.table_id
            FIRESTORE_DATABASE      = var.firestore_database
            LEDGER_COLLECTION       = var.ledger_collection
            LEDGER_TTL              = var.ledger_ttl
            LEDGER_LEASE            = var.ledger_lease
            CIO_REGION              = var.cio_region
            CIO_PII                 = var.pii_policy
            LOG_LEVEL               = var.log_level
          }
          content {
            name  = env.key
            value = env.value
          }
        }
        env {
          name = "CIO_APP_API_KEY"
          value_source {
            secret_key_ref {
              secret  = google_secret_manager_secret.app_api_key[0].secret_id
              version = "latest"
            }
          }
        }
        # Backfilled rows follow the processor's CIO_PII policy, hashed with
        # the same key, so that they join and a tombstone matches them.
        dynamic "env" {
          for_each = google_secret_manager_secret.pii_key
          content {
            name = "CIO_PII_KEY"
            value_source {
              secret_key_ref {
                secret  = env.value.secret_id
                version = "latest"
              }
            }
          }
        }
        resources {
          limits = { cpu = "1", memory = "1Gi" }
        }
      }
    }
  }

  depends_on = [google_project_service.enabled, google_secret_manager_secret_iam_member.backfill_reads_app_api_key, google_secret_manager_secret_iam_member.backfill_reads_pii_key]
}

resource "google_cloud_run_v2_job_iam_member" "backfill_scheduler_runs_job" {
  count = local.backfill

  project  = var.project_id
  location = var.region
  name     = google_cloud_run_v2_job.backfill[0].name
  role     = "roles/run.invoker"
  member   = google_service_account.backfill[0].member
}

resource "google_cloud_scheduler_job" "backfill" {
  count = local.backfill

  project          = var.project_id
  region           = var.region
  name             = "${var.name_prefix}-backfill"
  description      = "Starts the nightly cioevents backfill job."
  schedule         = var.backfill_schedule
  time_zone        = "Etc/UTC"
  attempt_deadline = "60s"

  http_target {
    http_method = "POST"
    uri         = "https://run.googleapis.com/v2/projects/${var.project_id}/locations/${var.region}/jobs/${google_cloud_run_v2_job.backfill[0].name}:run"
    oauth_token {
      service_account_email = google_service_account.backfill[0].email
      scope                 = "https://www.googleapis.com/auth/cloud-platform"
    }
  }

  depends_on = [google_project_service.scheduler]
}
