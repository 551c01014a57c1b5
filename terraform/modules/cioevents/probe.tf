# The scheduled probe (docs/probe.md): a Cloud Run job that runs
# `cioevents doctor --cloud --json` every probe_interval_minutes, so a
# receiver answering 401 to a rotated key at night, or rows that stop landing
# while traffic is quiet, is noticed without anyone running doctor. Each run
# writes one JSON line per check (cmd/cioevents/internal/doctor); a
# log-based metric counts the failed and unknown ones, and the alert below
# fires when the same check fails in two runs in a row, or when runs stop.
# Its probe events are probes (shared/event/probe.go): no view, report or
# funnel counts them.

variable "probe_interval_minutes" {
  description = "Minutes between scheduled doctor runs (a divisor of 60); 0 turns the probe off. It runs the job image (job_image, or backfill_image when set) and is off while neither is set."
  type        = number
  default     = 15

  validation {
    condition     = contains([0, 1, 2, 3, 4, 5, 6, 10, 12, 15, 20, 30, 60], var.probe_interval_minutes)
    error_message = "probe_interval_minutes must divide an hour (1, 2, 3, 4, 5, 6, 10, 12, 15, 20, 30 or 60), or be 0 to turn the probe off."
  }
}

locals {
  # The image the nightly backfill job runs: the cioevents binary.
  probe_image = local.job_image
  probe       = var.probe_interval_minutes > 0 && local.probe_image != "" ? 1 : 0
  # An alert looks back over two runs' worth of points, and calls the probe
  # silent after three intervals without a run.
  probe_interval_s = var.probe_interval_minutes * 60

  probe_logs          = "resource.type=\"cloud_run_job\" AND resource.labels.job_name=\"${var.name_prefix}-probe\""
  probe_checks_series = "metric.type=\"${local.user_metric}/${google_logging_metric.probe_checks.name}\" AND resource.type=\"cloud_run_job\""
  probe_runs_series   = "metric.type=\"${local.user_metric}/${google_logging_metric.probe_runs.name}\" AND resource.type=\"cloud_run_job\""
}

resource "google_service_account" "probe" {
  count = local.probe

  project      = var.project_id
  account_id   = "${var.name_prefix}-probe"
  display_name = "cioevents scheduled probe"
  description  = "Runs cioevents doctor --cloud: signs a probe with the stored key, reads its row, dry-runs the views, reads Pub/Sub names and metrics. Also the identity Cloud Scheduler starts the job with."
}

# The probe signs with the first key of the signing keys' latest version.
resource "google_secret_manager_secret_iam_member" "probe_reads_signing_keys" {
  count = local.probe

  project   = var.project_id
  secret_id = google_secret_manager_secret.signing_keys.secret_id
  role      = "roles/secretmanager.secretAccessor"
  member    = google_service_account.probe[0].member
}

# With the backfill's App API key, doctor also checks Customer.io's webhook;
# without it that check is a skip.
resource "google_secret_manager_secret_iam_member" "probe_reads_app_api_key" {
  count = local.probe * local.backfill

  project   = var.project_id
  secret_id = google_secret_manager_secret.app_api_key[0].secret_id
  role      = "roles/secretmanager.secretAccessor"
  member    = google_service_account.probe[0].member
}

# The probe's row lookup and the views' dry runs are query jobs, which exist
# only at project level.
resource "google_project_iam_member" "probe_runs_queries" {
  count = local.probe

  project = var.project_id
  role    = "roles/bigquery.jobUser"
  member  = google_service_account.probe[0].member
}

# The views read the table under them, so their dry runs need the dataset.
resource "google_bigquery_dataset_iam_member" "probe_reads_dataset" {
  count = local.probe

  project    = var.project_id
  dataset_id = google_bigquery_dataset.events.dataset_id
  role       = "roles/bigquery.dataViewer"
  member     = google_service_account.probe[0].member
}

# Time series have no narrower resource than the project.
resource "google_project_iam_member" "probe_reads_metrics" {
  count = local.probe

  project = var.project_id
  role    = "roles/monitoring.viewer"
  member  = google_service_account.probe[0].member
}

# The processor's latest problem line explains a probe that did not land.
resource "google_project_iam_member" "probe_reads_logs" {
  count = local.probe

  project = var.project_id
  role    = "roles/logging.viewer"
  member  = google_service_account.probe[0].member
}

# doctor confirms each name exists before reading its metrics: a name that
# does not exist has no data, like a quiet one.
resource "google_pubsub_topic_iam_member" "probe_sees_topic" {
  count = local.probe

  project = var.project_id
  topic   = google_pubsub_topic.events.name
  role    = "roles/pubsub.viewer"
  member  = google_service_account.probe[0].member
}

resource "google_pubsub_subscription_iam_member" "probe_sees_push" {
  count = local.probe

  project      = var.project_id
  subscription = google_pubsub_subscription.processor_push.name
  role         = "roles/pubsub.viewer"
  member       = google_service_account.probe[0].member
}

resource "google_pubsub_subscription_iam_member" "probe_sees_dead_letter" {
  count = local.probe

  project      = var.project_id
  subscription = google_pubsub_subscription.dead_letter.name
  role         = "roles/pubsub.viewer"
  member       = google_service_account.probe[0].member
}

resource "google_cloud_run_v2_job" "probe" {
  count = local.probe

  project             = var.project_id
  name                = "${var.name_prefix}-probe"
  location            = var.region
  deletion_protection = false

  template {
    task_count = 1
    template {
      service_account = google_service_account.probe[0].email
      # A failed run is the finding, not a fault to retry: the next run is
      # one interval away, and the alert waits for two.
      max_retries = 0
      timeout     = "600s"

      containers {
        image = local.probe_image
        # Every name is given, so doctor needs no terraform in the job.
        args = [
          "doctor", "--cloud", "--json",
          "--project", var.project_id,
          "--url", google_cloudfunctions2_function.receiver.service_config[0].uri,
          "--secret", google_secret_manager_secret.signing_keys.secret_id,
          "--dataset", google_bigquery_dataset.events.dataset_id,
          "--table", google_bigquery_table.events.table_id,
          "--topic", google_pubsub_topic.events.name,
          "--subscription", google_pubsub_subscription.processor_push.name,
          "--dead-letter-subscription", google_pubsub_subscription.dead_letter.name,
          "--processor-service", google_cloudfunctions2_function.processor.name,
        ]

        env {
          name  = "CIO_REGION"
          value = var.cio_region
        }
        dynamic "env" {
          for_each = google_secret_manager_secret.app_api_key
          content {
            name = "CIO_APP_API_KEY"
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

  depends_on = [google_project_service.enabled, google_secret_manager_secret_iam_member.probe_reads_signing_keys, google_secret_manager_secret_iam_member.probe_reads_app_api_key]
}

resource "google_cloud_run_v2_job_iam_member" "probe_scheduler_runs_job" {
  count = local.probe

  project  = var.project_id
  location = var.region
  name     = google_cloud_run_v2_job.probe[0].name
  role     = "roles/run.invoker"
  member   = google_service_account.probe[0].member
}

resource "google_cloud_scheduler_job" "probe" {
  count = local.probe

  project          = var.project_id
  region           = var.region
  name             = "${var.name_prefix}-probe"
  description      = "Starts the scheduled cioevents doctor probe."
  schedule         = var.probe_interval_minutes == 60 ? "0 * * * *" : "*/${var.probe_interval_minutes} * * * *"
  time_zone        = "Etc/UTC"
  attempt_deadline = "60s"

  http_target {
    http_method = "POST"
    uri         = "https://run.googleapis.com/v2/projects/${var.project_id}/locations/${var.region}/jobs/${google_cloud_run_v2_job.probe[0].name}:run"
    oauth_token {
      service_account_email = google_service_account.probe[0].email
      scope                 = "https://www.googleapis.com/auth/cloud-platform"
    }
  }

  depends_on = [google_project_service.scheduler]
}

# One count per failed (FAIL, CRITICAL) or unknown check of a run; an ok or
# skipped check is not counted. The metric exists whether or not the probe
# runs, so a probe switched on later is counted from its first run.
resource "google_logging_metric" "probe_checks" {
  project     = var.project_id
  name        = "${var.name_prefix}/probe_checks"
  description = "Failed and unknown checks of the scheduled doctor probe, one per check line."
  filter      = "${local.probe_logs} AND jsonPayload.message=\"doctor check\" AND (jsonPayload.status=\"FAIL\" OR jsonPayload.status=\"CRITICAL\" OR jsonPayload.status=\"unknown\")"

  metric_descriptor {
    metric_kind = "DELTA"
    value_type  = "INT64"
    unit        = "1"

    labels {
      key         = "check"
      value_type  = "STRING"
      description = "The check's name, as doctor prints it (e.g. signed probe, dead letters)."
    }
    labels {
      key         = "status"
      value_type  = "STRING"
      description = "FAIL, CRITICAL or unknown."
    }
  }

  label_extractors = {
    check  = "EXTRACT(jsonPayload.name)"
    status = "EXTRACT(jsonPayload.status)"
  }

  depends_on = [google_project_service.enabled]
}

# One count per run (its last line), passed or not: the alert's proof that
# the probe runs at all.
resource "google_logging_metric" "probe_runs" {
  project     = var.project_id
  name        = "${var.name_prefix}/probe_runs"
  description = "Runs of the scheduled doctor probe, by result."
  filter      = "${local.probe_logs} AND jsonPayload.message=\"doctor run\""

  metric_descriptor {
    metric_kind = "DELTA"
    value_type  = "INT64"
    unit        = "1"

    labels {
      key         = "ok"
      value_type  = "STRING"
      description = "true when every check passed."
    }
  }

  label_extractors = {
    ok = "EXTRACT(jsonPayload.ok)"
  }

  depends_on = [google_project_service.enabled]
}

resource "google_monitoring_alert_policy" "probe" {
  count = local.probe

  project      = var.project_id
  display_name = "${var.name_prefix}: scheduled doctor failing twice in a row, or not running"
  severity     = "ERROR"
  combiner     = "OR"

  # A run writes one line per check, so a check counted twice within two
  # intervals failed (or was unknown) in two runs in a row.
  conditions {
    display_name = "a check failed or was unknown in two runs in a row"
    condition_threshold {
      filter          = local.probe_checks_series
      comparison      = "COMPARISON_GT"
      threshold_value = 1
      duration        = "0s"
      aggregations {
        alignment_period     = "${2 * local.probe_interval_s}s"
        per_series_aligner   = "ALIGN_SUM"
        cross_series_reducer = "REDUCE_SUM"
        group_by_fields      = ["metric.label.check"]
      }
    }
  }

  # No run line is not "healthy": the job, its schedule or its image broke.
  conditions {
    display_name = "no probe run for three intervals"
    condition_absent {
      filter   = local.probe_runs_series
      duration = "${3 * local.probe_interval_s}s"
      aggregations {
        alignment_period     = "${local.probe_interval_s}s"
        per_series_aligner   = "ALIGN_SUM"
        cross_series_reducer = "REDUCE_SUM"
      }
    }
  }

  documentation {
    mime_type = "text/markdown"
    content   = <<-EOT
      The scheduled `cioevents doctor --cloud` (job ${var.name_prefix}-probe, every ${var.probe_interval_minutes} min) found the same check failed or unknown in two runs in a row (metric `probe_checks`, label `check` names it), or has not run for three intervals (metric `probe_runs`). Its log lines say what it measured and which runbook handles it.

      Runbook: ${local.runbooks}/probe.md
    EOT
  }

  notification_channels = local.notification_channels
  depends_on            = [google_project_service.monitoring]
}
