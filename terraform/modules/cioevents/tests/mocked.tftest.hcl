# A mocked `terraform test` of the module: the providers' schemas are real,
# every API call is mocked, so it needs no credentials and creates nothing.
# It needs the google, google-beta and archive providers installed, which CI
# cannot do, so CI does not run it (.ci/terraform-checks); run it by hand
# where the providers are available (docs/deploy.md, "Checking the layout"):
#   cd terraform/modules/cioevents && terraform init -backend=false && terraform test

# Computed values the provider validates where they are used: a mock's
# random string is no IAM member or service account name.
mock_provider "google" {
  mock_resource "google_service_account" {
    defaults = {
      email  = "mock-account@my-project-id.iam.gserviceaccount.com"
      member = "serviceAccount:mock-account@my-project-id.iam.gserviceaccount.com"
      id     = "projects/my-project-id/serviceAccounts/mock-account@my-project-id.iam.gserviceaccount.com"
      name   = "projects/my-project-id/serviceAccounts/mock-account@my-project-id.iam.gserviceaccount.com"
    }
  }
  mock_data "google_project" {
    defaults = {
      number = "123456789012"
    }
  }
}
mock_provider "google-beta" {}
mock_provider "archive" {}

variables {
  project_id = "my-project-id"
}

run "defaults" {
  command = apply

  assert {
    condition     = length(google_cloud_run_v2_job.backfill) == 0 && length(google_cloud_scheduler_job.backfill) == 0
    error_message = "the backfill job is off by default"
  }
  assert {
    condition     = length(google_secret_manager_secret.pii_key) == 0 && length(google_secret_manager_secret.workspace_credentials) == 0
    error_message = "the PII key and workspace secrets are made only when asked for"
  }
  assert {
    condition     = length(google_firestore_database.ledger) == 1
    error_message = "the ledger database is created by default"
  }
  assert {
    condition     = google_pubsub_subscription.processor_push.dead_letter_policy[0].max_delivery_attempts == 10
    error_message = "the push subscription dead-letters after 10 attempts by default"
  }
}

run "every_option_on" {
  command = apply

  variables {
    backfill_schedule_enabled = true
    backfill_image            = "registry.example.com/cioevents@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
    backfill_dry_run          = false
    alert_emails              = ["oncall@example.com", "lead@example.com"]
    log_sample_success        = 0.1
    pii_policy                = "email=hash,subject=drop"
    workspaces                = ["shop", "b2b"]
    workspace_actions         = { shop = "", b2b = "none" }
    cio_actions_dry_run       = false
    signing_keys_version      = "3"
  }

  assert {
    condition     = length(google_cloud_run_v2_job.backfill) == 1 && length(google_cloud_scheduler_job.backfill) == 1
    error_message = "backfill_schedule_enabled creates the job and its schedule"
  }
  assert {
    condition     = length(google_bigquery_table_iam_member.backfill_inserts_events) == 1
    error_message = "a backfill that is not a dry run may insert rows"
  }
  assert {
    condition     = length(google_secret_manager_secret.pii_key) == 1 && length(google_secret_manager_secret_iam_member.backfill_reads_pii_key) == 1
    error_message = "a hashing pii_policy creates the PII key, which the backfill reads too"
  }
  assert {
    condition     = length(google_secret_manager_secret.workspace_credentials) == 1
    error_message = "named workspaces get their credentials secret"
  }
  assert {
    condition     = length(google_monitoring_notification_channel.email) == 2
    error_message = "one notification channel per alert e-mail"
  }
  assert {
    condition     = length(google_logging_project_exclusion.sampled_success) == 1
    error_message = "log_sample_success below 1 samples the success lines"
  }
}

run "backfill_runs_the_pushed_job_image" {
  command = apply

  variables {
    backfill_schedule_enabled = true
    job_image                 = "registry.example/my-project-id/cioevents-jobs/cioevents@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
  }

  assert {
    condition     = google_cloud_run_v2_job.backfill[0].template[0].template[0].containers[0].image == var.job_image
    error_message = "with no backfill_image the job runs job_image, the image the plan build pushed"
  }
  assert {
    condition     = google_artifact_registry_repository_iam_member.run_pulls_job_image.role == "roles/artifactregistry.reader"
    error_message = "Cloud Run's agent reads the job image repository"
  }
}
