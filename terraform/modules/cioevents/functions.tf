# Both functions deploy from one zip: the Go buildpack builds the root
# package, which registers ReceiveWebhook and ProcessEvent, and each function
# picks its entry point. The zip holds an allow-list, not the working tree
# minus a deny-list: whatever else lies in a checkout (the CLI's data
# directories and reports, a .env, a checkpoint) never reaches the bucket, and
# cannot change the hash and force a rebuild. What the build needs: go.mod,
# go.sum, the root package, the non-test Go files of functions/ and shared/,
# and the sample events the root package embeds (//go:embed in cioevents.go).
# A test in internal/testsupport/tfcheck compares this list with `go list -deps`
# and plants stray files to show they stay out.
locals {
  # The repository root: this module lives in terraform/modules/cioevents.
  source_root = "${path.module}/../../.."
  source_files = setunion(
    fileset(local.source_root, "{cioevents.go,go.mod,go.sum}"),
    [for f in fileset(local.source_root, "{functions,shared}/**/*.go") : f if !endswith(f, "_test.go")],
    fileset(local.source_root, "testdata/{events,odd,malformed}/**"),
  )
}

# Every file goes in as a source block: archive_file zips them in name order
# with a zero timestamp, so the same files make the same hash on any machine.
# file() reads UTF-8 text, which Go source and the JSON samples are.
data "archive_file" "source" {
  # In the .terraform folder of the calling configuration (path.root), where
  # cloudbuild.yaml stores and checks it when terraform/ is the root.
  type        = "zip"
  output_path = "${path.root}/.terraform/cioevents-source.zip"

  dynamic "source" {
    for_each = local.source_files
    content {
      content  = file("${local.source_root}/${source.value}")
      filename = source.value
    }
  }
}

# Bucket IAM is uniform and no principal outside the project is granted access;
# the zip contains only the public source code.
#trivy:ignore:AVD-GCP-0066 Source zips hold no secrets or customer data, so Google-managed encryption is enough and a KMS key would add cost and an outage mode.
#trivy:ignore:AVD-GCP-0078 Objects are content-addressed and never overwritten, and each is rebuilt from git, so versioning would protect nothing.
resource "google_storage_bucket" "source" {
  project  = var.project_id
  name     = "${var.project_id}-${var.name_prefix}-source"
  location = var.region

  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  force_destroy               = true

  # Every deploy uploads a new content-addressed object; old ones are only
  # useful for a quick rollback.
  lifecycle_rule {
    condition {
      age = 30
    }
    action {
      type = "Delete"
    }
  }

  depends_on = [google_project_service.enabled]
}

# Named by content hash so that a code change is a new object, which makes
# Terraform update (and Cloud Functions rebuild) both functions.
resource "google_storage_bucket_object" "source" {
  name   = "source-${data.archive_file.source.output_md5}.zip"
  bucket = google_storage_bucket.source.name
  source = data.archive_file.source.output_path
}

locals {
  # go.mod says `go 1.26`; the runtime must not be older.
  go_runtime = "go126"
}

resource "google_cloudfunctions2_function" "receiver" {
  project     = var.project_id
  location    = var.region
  name        = "${var.name_prefix}-receiver"
  description = "Customer.io reporting webhook receiver: verifies the signature and publishes the raw body."

  build_config {
    runtime         = local.go_runtime
    entry_point     = "ReceiveWebhook"
    service_account = google_service_account.build.id

    source {
      storage_source {
        bucket = google_storage_bucket.source.name
        object = google_storage_bucket_object.source.name
      }
    }
  }

  service_config {
    service_account_email = google_service_account.receiver.email

    # Public by necessity (see iam.tf); the signature check is the gate.
    ingress_settings               = "ALLOW_ALL"
    all_traffic_on_latest_revision = true

    min_instance_count = 0
    max_instance_count = var.receiver_max_instances
    # Concurrency above 1 requires a whole vCPU; receiver_concurrency's rule
    # keeps the in-flight bodies within the memory.
    available_cpu                    = "1"
    available_memory                 = "${var.receiver_memory_mib}Mi"
    max_instance_request_concurrency = var.receiver_concurrency
    # Customer.io waits 4s; the publish budget bounds the normal case, this
    # bounds reading a large body from a slow client.
    timeout_seconds = 30

    environment_variables = {
      GOOGLE_CLOUD_PROJECT    = var.project_id
      PUBSUB_TOPIC            = google_pubsub_topic.events.name
      CIO_SIGNATURE_MAX_AGE   = var.signature_max_age
      CIO_SIGNATURE_MAX_AHEAD = var.signature_max_ahead
      CIO_MAX_BODY_BYTES      = tostring(var.max_body_bytes)
      CIO_BODY_BUDGET_BYTES   = tostring(var.body_budget_bytes)
      CIO_INSTANCE_MEMORY     = "${var.receiver_memory_mib}Mi"
      CIO_PUBLISH_TIMEOUT     = var.publish_timeout
      LOG_LEVEL               = var.log_level
    }

    secret_environment_variables {
      key        = "CIO_WEBHOOK_SIGNING_KEYS"
      project_id = data.google_project.this.number
      secret     = google_secret_manager_secret.signing_keys.secret_id
      version    = var.signing_keys_version
    }
  }

  # The deploy checks the runtime account can read its secret and the build
  # account can build, so the grants must exist first.
  depends_on = [
    google_project_iam_member.build,
    google_secret_manager_secret_iam_member.receiver_reads_signing_keys,
    google_pubsub_topic_iam_member.receiver_publishes,
  ]
}

resource "google_cloudfunctions2_function" "processor" {
  project     = var.project_id
  location    = var.region
  name        = "${var.name_prefix}-processor"
  description = "cioevents processor: dedupes, stores and acts on Customer.io events pushed by Pub/Sub."

  build_config {
    runtime         = local.go_runtime
    entry_point     = "ProcessEvent"
    service_account = google_service_account.build.id

    source {
      storage_source {
        bucket = google_storage_bucket.source.name
        object = google_storage_bucket_object.source.name
      }
    }
  }

  service_config {
    service_account_email = google_service_account.processor.email

    # Same-project Pub/Sub push counts as internal traffic.
    ingress_settings               = "ALLOW_INTERNAL_ONLY"
    all_traffic_on_latest_revision = true

    min_instance_count               = 0
    max_instance_count               = var.processor_max_instances
    available_cpu                    = "1"
    available_memory                 = "${var.processor_memory_mib}Mi"
    max_instance_request_concurrency = var.processor_concurrency
    timeout_seconds                  = var.processor_timeout_seconds

    environment_variables = {
      GOOGLE_CLOUD_PROJECT       = var.project_id
      GOMEMLIMIT                 = "${floor(var.processor_memory_mib * 0.85)}MiB"
      FIRESTORE_DATABASE         = var.firestore_database
      LEDGER_COLLECTION          = var.ledger_collection
      LEDGER_TTL                 = var.ledger_ttl
      LEDGER_LEASE               = var.ledger_lease
      CIO_STEP_TIMEOUT           = var.step_timeout
      LEDGER_TIMEOUT             = var.ledger_timeout
      LEDGER_MODE                = var.ledger_mode
      BIGQUERY_DATASET           = google_bigquery_dataset.events.dataset_id
      BIGQUERY_TABLE             = google_bigquery_table.events.table_id
      BIGQUERY_REJECTED_TABLE    = google_bigquery_table.rejected_events.table_id
      CIO_REGION                 = var.cio_region
      CIO_ACTIONS                = var.cio_actions
      CIO_ACTIONS_ALLOW_SUPPRESS = tostring(var.cio_actions_allow_suppress)
      CIO_ACTIONS_DRY_RUN        = tostring(var.cio_actions_dry_run)
      CIO_RATE_LIMIT             = tostring(var.cio_rate_limit)
      CIO_PII                    = var.pii_policy
      CIO_WORKSPACE_ACTIONS      = jsonencode(var.workspace_actions)
      LOG_LEVEL                  = var.log_level
    }

    # Only a policy that hashes needs the key; a secret with no version
    # would fail the deploy, so it is not mounted otherwise.
    dynamic "secret_environment_variables" {
      for_each = google_secret_manager_secret.pii_key
      content {
        key        = "CIO_PII_KEY"
        project_id = data.google_project.this.number
        secret     = secret_environment_variables.value.secret_id
        version    = "latest"
      }
    }

    # Named workspaces' Track credentials (workspaces.tf), only when some
    # workspace has its own.
    dynamic "secret_environment_variables" {
      for_each = google_secret_manager_secret.workspace_credentials
      content {
        key        = "CIO_WORKSPACE_CREDENTIALS"
        project_id = data.google_project.this.number
        secret     = secret_environment_variables.value.secret_id
        version    = var.workspaces_secret_version
      }
    }

    secret_environment_variables {
      key        = "CIO_SITE_ID"
      project_id = data.google_project.this.number
      secret     = google_secret_manager_secret.track_site_id.secret_id
      version    = var.track_api_secret_version
    }

    secret_environment_variables {
      key        = "CIO_TRACK_API_KEY"
      project_id = data.google_project.this.number
      secret     = google_secret_manager_secret.track_api_key.secret_id
      version    = var.track_api_secret_version
    }
  }

  lifecycle {
    # Repeats the variable check where the number is used, so a later edit
    # that stops reading the variables cannot silently lift the cap.
    precondition {
      condition     = var.cio_rate_limit * var.processor_max_instances <= var.track_api_rate_budget
      error_message = "cio_rate_limit x processor_max_instances exceeds track_api_rate_budget."
    }
  }

  depends_on = [
    google_project_iam_member.build,
    google_project_iam_member.processor_firestore,
    google_bigquery_table_iam_member.processor_inserts_events,
    google_bigquery_table_iam_member.processor_inserts_rejected,
    google_bigquery_dataset_iam_member.processor_looks_up_dataset,
    google_secret_manager_secret_iam_member.processor_reads_site_id,
    google_secret_manager_secret_iam_member.processor_reads_api_key,
    google_secret_manager_secret_iam_member.processor_reads_workspace_credentials,
    google_firestore_field.ledger,
  ]
}
