# Names of messages (docs/names.md): table message_names holds the
# name of every campaign, broadcast, newsletter, transactional message,
# action and newsletter content, read from the App API by
# `cioevents names refresh`, which MERGEs one row per (workspace, kind, id).
# The schema file is generated from cmd/cioevents/internal/names (Record)
# and a Go test keeps the two in step.
resource "google_bigquery_table" "message_names" {
  project     = var.project_id
  dataset_id  = google_bigquery_dataset.events.dataset_id
  table_id    = "message_names"
  description = "Names of campaigns, broadcasts, newsletters, transactional messages, actions and contents, from the App API; one row per (workspace, kind, id). Refreshed by cioevents names refresh."

  schema = file("${path.module}/schema/message_names.json")

  # A few thousand rows: no partitions; clustering keeps a join's reads
  # to the workspace and kind it names.
  clustering = ["workspace", "kind"]

  deletion_protection = true
}

# With the nightly backfill (backfill.tf), a second Cloud Run job on the same
# image, account and App API key refreshes the names. It runs on its own
# schedule, before the backfill, so the two never share the App API's
# 10 requests/s; a refresh costs 4 + (campaigns, broadcasts and newsletters
# with actions) App API calls.

variable "names_refresh_schedule" {
  description = "When the nightly names refresh runs (with backfill_schedule_enabled), as a cron expression in UTC. Keep it apart from backfill_schedule: both use the App API's 10 requests/s."
  type        = string
  default     = "0 4 * * *"

  validation {
    condition     = length(split(" ", trimspace(var.names_refresh_schedule))) == 5
    error_message = "names_refresh_schedule must be a five-field cron expression."
  }
}

# MERGE reads and changes message_names, and only it.
resource "google_bigquery_table_iam_member" "backfill_merges_names" {
  count = local.backfill

  project    = var.project_id
  dataset_id = google_bigquery_dataset.events.dataset_id
  table_id   = google_bigquery_table.message_names.table_id
  role       = "roles/bigquery.dataEditor"
  member     = google_service_account.backfill[0].member
}

resource "google_cloud_run_v2_job" "names" {
  count = local.backfill

  project             = var.project_id
  name                = "${var.name_prefix}-names"
  location            = var.region
  deletion_protection = false

  template {
    task_count = 1
    template {
      service_account = google_service_account.backfill[0].email
      # A refresh is idempotent; a failed one is retried once, and the next
      # night's covers it anyway.
      max_retries = 1
      timeout     = "1800s"

      containers {
        image = local.job_image
        args  = ["names", "refresh", "--workspace", var.backfill_workspace]

        dynamic "env" {
          for_each = {
            GOOGLE_CLOUD_PROJECT = var.project_id
            BIGQUERY_DATASET     = google_bigquery_dataset.events.dataset_id
            CIO_REGION           = var.cio_region
            CIO_PII              = var.pii_policy
            LOG_LEVEL            = var.log_level
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
        # A name that quotes an address follows CIO_PII's email rule, hashed
        # with the processor's key.
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
          limits = { cpu = "1", memory = "512Mi" }
        }
      }
    }
  }

  depends_on = [google_project_service.enabled, google_secret_manager_secret_iam_member.backfill_reads_app_api_key, google_secret_manager_secret_iam_member.backfill_reads_pii_key]
}

resource "google_cloud_run_v2_job_iam_member" "names_scheduler_runs_job" {
  count = local.backfill

  project  = var.project_id
  location = var.region
  name     = google_cloud_run_v2_job.names[0].name
  role     = "roles/run.invoker"
  member   = google_service_account.backfill[0].member
}

resource "google_cloud_scheduler_job" "names" {
  count = local.backfill

  project          = var.project_id
  region           = var.region
  name             = "${var.name_prefix}-names"
  description      = "Starts the nightly cioevents names refresh job."
  schedule         = var.names_refresh_schedule
  time_zone        = "Etc/UTC"
  attempt_deadline = "60s"

  http_target {
    http_method = "POST"
    uri         = "https://run.googleapis.com/v2/projects/${var.project_id}/locations/${var.region}/jobs/${google_cloud_run_v2_job.names[0].name}:run"
    oauth_token {
      service_account_email = google_service_account.backfill[0].email
      scope                 = "https://www.googleapis.com/auth/cloud-platform"
    }
  }

  depends_on = [google_project_service.scheduler]
}
