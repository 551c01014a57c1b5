# Metrics, alert policies and a dashboard, all from what the functions
# already write: every outcome is one JSON log line (docs/logs.md), and each
# metric below is a log-based metric over those lines.
#
# Why log-based rather than custom metrics written by the code: the lines
# exist anyway (they are how an operator investigates), so counting them
# adds no code path that can fail or drift from what is logged; counters are
# exact (one line, one count, no sampling or client-side aggregation window);
# and a custom metric would need the Monitoring client in both functions, a
# flush on every scale-down and its own write quota. User-defined log-based
# metrics are billed as ordinary metric samples, cents a month at this volume.
# The test in internal/testsupport/tfcheck drives the receiver and the processor through
# every outcome and checks each filter here against the lines they write.

locals {
  # Gen 2 functions run as Cloud Run services of the same name; their stdout
  # lands under this resource, with severity lifted out of the JSON.
  receiver_logs  = "resource.type=\"cloud_run_revision\" AND resource.labels.service_name=\"${google_cloudfunctions2_function.receiver.name}\""
  processor_logs = "resource.type=\"cloud_run_revision\" AND resource.labels.service_name=\"${google_cloudfunctions2_function.processor.name}\""

  user_metric = "logging.googleapis.com/user"
  runbooks    = trimsuffix(var.runbook_base_url, "/")

  # The time series each alert and dashboard chart selects, spelled once.
  webhook_series         = "metric.type=\"${local.user_metric}/${google_logging_metric.webhook_requests.name}\" AND resource.type=\"cloud_run_revision\""
  processor_series       = "metric.type=\"${local.user_metric}/${google_logging_metric.processor_events.name}\" AND resource.type=\"cloud_run_revision\""
  action_series          = "metric.type=\"${local.user_metric}/${google_logging_metric.action_calls.name}\" AND resource.type=\"cloud_run_revision\""
  function_errors_series = "metric.type=\"${local.user_metric}/${google_logging_metric.function_errors.name}\" AND resource.type=\"cloud_run_revision\""
  lag_received_series    = "metric.type=\"${local.user_metric}/${google_logging_metric.lag_received.name}\" AND resource.type=\"cloud_run_revision\""
  lag_event_series       = "metric.type=\"${local.user_metric}/${google_logging_metric.lag_event.name}\" AND resource.type=\"cloud_run_revision\""
  backlog_series         = "metric.type=\"pubsub.googleapis.com/subscription/oldest_unacked_message_age\" AND resource.type=\"pubsub_subscription\" AND resource.label.subscription_id=\"${google_pubsub_subscription.processor_push.name}\""
  dead_letter_series     = "metric.type=\"pubsub.googleapis.com/subscription/num_undelivered_messages\" AND resource.type=\"pubsub_subscription\" AND resource.label.subscription_id=\"${google_pubsub_subscription.dead_letter.name}\""

  notification_channels = values(google_monitoring_notification_channel.email)[*].name
}

resource "google_project_service" "monitoring" {
  project            = var.project_id
  service            = "monitoring.googleapis.com"
  disable_on_destroy = false
}

resource "google_monitoring_notification_channel" "email" {
  for_each = toset(var.alert_emails)

  project      = var.project_id
  display_name = "${var.name_prefix} alerts: ${each.value}"
  type         = "email"
  labels = {
    email_address = each.value
  }

  depends_on = [google_project_service.monitoring]
}

# --- Sampled success lines ----------------------------------------------------------

# Below log_sample_success = 1, the routine success lines of events whose
# event_id falls outside the sample are excluded from storage (the _Default
# sink), which is what Cloud Logging bills. sample() decides by the field's
# value, so the receiver and processor lines of one event share one fate, and
# a redelivery's line that of the first. The log-based metrics below are
# project-scoped (no bucket_name; a test checks): they are
# computed from every line received, excluded ones included, so counts,
# alerts and lag distributions stay exact. Lines with severity WARNING or
# above, odd events (accepted_*, unknown pairs, inserted:action_failed,
# rejected) and action lines never match.
locals {
  sampled_success_filter = join(" AND ", [
    "severity=INFO",
    "((${local.receiver_logs} AND jsonPayload.message=\"webhook\" AND jsonPayload.outcome=\"accepted\") OR (${local.processor_logs} AND jsonPayload.message=\"event\" AND (jsonPayload.outcome=\"inserted\" OR jsonPayload.outcome=\"duplicate\") AND NOT jsonPayload.unknown_pair=true))",
    "sample(jsonPayload.event_id, ${format("%.4f", 1 - var.log_sample_success)})",
  ])
}

resource "google_logging_project_exclusion" "sampled_success" {
  count = var.log_sample_success < 1 ? 1 : 0

  project     = var.project_id
  name        = "${var.name_prefix}-sampled-success"
  description = "cioevents: store only log_sample_success of the routine success lines; metrics still count all of them."
  filter      = local.sampled_success_filter

  depends_on = [google_project_service.enabled]
}

# --- Log-based metrics -----------------------------------------------------------

# One count per receiver request. outcome is the receiver's category
# (accepted, accepted_unknown, mismatch, too_old, publish_failed, ...); status
# the HTTP answer. Publish failures are outcome publish_failed and
# publish_timeout (status 503).
resource "google_logging_metric" "webhook_requests" {
  project     = var.project_id
  name        = "${var.name_prefix}/webhook_requests"
  description = "cioevents receiver requests by outcome (401 category, publish failure, ...), HTTP status and object_type."
  filter      = "${local.receiver_logs} AND jsonPayload.message=\"webhook\""

  metric_descriptor {
    metric_kind = "DELTA"
    value_type  = "INT64"
    unit        = "1"

    labels {
      key         = "outcome"
      value_type  = "STRING"
      description = "Receiver outcome: accepted*, a signature category for 401s, publish_failed, publish_timeout, read_error, method."
    }
    labels {
      key         = "status"
      value_type  = "STRING"
      description = "HTTP status answered."
    }
    labels {
      key         = "object_type"
      value_type  = "STRING"
      description = "object_type of an authenticated event; empty otherwise."
    }
  }

  label_extractors = {
    outcome     = "EXTRACT(jsonPayload.outcome)"
    status      = "EXTRACT(jsonPayload.status)"
    object_type = "EXTRACT(jsonPayload.object_type)"
  }

  depends_on = [google_project_service.enabled]
}

# One count per processor delivery. outcome: inserted, inserted:action_failed,
# duplicate, rejected, busy, retry; step says where a retry failed (row and
# rejected are the BigQuery inserts).
resource "google_logging_metric" "processor_events" {
  project     = var.project_id
  name        = "${var.name_prefix}/processor_events"
  description = "cioevents processor deliveries by outcome, object_type, metric, failed step and reject reason."
  filter      = "${local.processor_logs} AND jsonPayload.message=\"event\""

  metric_descriptor {
    metric_kind = "DELTA"
    value_type  = "INT64"
    unit        = "1"

    labels {
      key         = "outcome"
      value_type  = "STRING"
      description = "inserted, inserted:action_failed, duplicate, rejected, busy or retry."
    }
    labels {
      key         = "object_type"
      value_type  = "STRING"
      description = "Event object_type (email, sms, ...)."
    }
    labels {
      key         = "metric"
      value_type  = "STRING"
      description = "Event metric (delivered, bounced, spammed, ...)."
    }
    labels {
      key         = "step"
      value_type  = "STRING"
      description = "For retries: the step that failed (claim, row, rejected, action:<i>:<kind>, finish)."
    }
    labels {
      key         = "reason"
      value_type  = "STRING"
      description = "For rejections: why (invalid_json, not_object, no_event_id, oversized, unparseable, row_invalid)."
    }
  }

  label_extractors = {
    outcome     = "EXTRACT(jsonPayload.outcome)"
    object_type = "EXTRACT(jsonPayload.object_type)"
    metric      = "EXTRACT(jsonPayload.metric)"
    step        = "EXTRACT(jsonPayload.step)"
    reason      = "EXTRACT(jsonPayload.reason)"
  }

  depends_on = [google_project_service.enabled]
}

# One count per Track API call (identify, suppress).
resource "google_logging_metric" "action_calls" {
  project     = var.project_id
  name        = "${var.name_prefix}/action_calls"
  description = "cioevents Customer.io Track API calls by outcome, HTTP status and status class."
  filter      = "${local.processor_logs} AND jsonPayload.message=\"action\""

  metric_descriptor {
    metric_kind = "DELTA"
    value_type  = "INT64"
    unit        = "1"

    labels {
      key         = "kind"
      value_type  = "STRING"
      description = "identify or suppress."
    }
    labels {
      key         = "outcome"
      value_type  = "STRING"
      description = "applied, dry_run, skipped, failed (permanent) or retry."
    }
    labels {
      key         = "status"
      value_type  = "STRING"
      description = "HTTP status from the Track API; 0 when none arrived."
    }
    labels {
      key         = "status_class"
      value_type  = "STRING"
      description = "2xx, 4xx, 5xx or none."
    }
  }

  label_extractors = {
    kind         = "EXTRACT(jsonPayload.kind)"
    outcome      = "EXTRACT(jsonPayload.outcome)"
    status       = "EXTRACT(jsonPayload.status)"
    status_class = "EXTRACT(jsonPayload.status_class)"
  }

  depends_on = [google_project_service.enabled]
}

# Everything else at ERROR or above from either function — a refused
# start-up, the framework's own errors — and Go's panic and fatal-error lines,
# which reach stderr as plain text without a severity: what no metric above
# counts. The three messages above are excluded: they are counted (and
# alerted on) by outcome.
resource "google_logging_metric" "function_errors" {
  project     = var.project_id
  name        = "${var.name_prefix}/function_errors"
  description = "cioevents error lines that are not a counted outcome: crashes, refused start-ups, framework errors."
  filter      = "resource.type=\"cloud_run_revision\" AND (resource.labels.service_name=\"${google_cloudfunctions2_function.receiver.name}\" OR resource.labels.service_name=\"${google_cloudfunctions2_function.processor.name}\") AND (severity>=ERROR OR textPayload=~\"^(panic|fatal error): \") AND NOT jsonPayload.message=\"webhook\" AND NOT jsonPayload.message=\"event\" AND NOT jsonPayload.message=\"action\""

  metric_descriptor {
    metric_kind = "DELTA"
    value_type  = "INT64"
    unit        = "1"

    labels {
      key         = "service"
      value_type  = "STRING"
      description = "The function's Cloud Run service."
    }
  }

  label_extractors = {
    service = "EXTRACT(resource.labels.service_name)"
  }

  depends_on = [google_project_service.enabled]
}

# Lag distributions, in milliseconds up to the end of the delivery that
# inserted the row. Buckets grow by 1.5 from 10 ms: 50 of them reach past the
# 7 days Customer.io may hold an event back.
resource "google_logging_metric" "lag_received" {
  project     = var.project_id
  name        = "${var.name_prefix}/lag_received"
  description = "cioevents lag from the receiver accepting an event to its row being inserted, in ms."
  filter      = "${local.processor_logs} AND jsonPayload.message=\"event\" AND jsonPayload.lag_received_ms:*"

  metric_descriptor {
    metric_kind = "DELTA"
    value_type  = "DISTRIBUTION"
    unit        = "ms"

    labels {
      key         = "object_type"
      value_type  = "STRING"
      description = "Event object_type."
    }
  }

  value_extractor = "EXTRACT(jsonPayload.lag_received_ms)"
  label_extractors = {
    object_type = "EXTRACT(jsonPayload.object_type)"
  }

  bucket_options {
    exponential_buckets {
      num_finite_buckets = 50
      growth_factor      = 1.5
      scale              = 10
    }
  }

  depends_on = [google_project_service.enabled]
}

resource "google_logging_metric" "lag_event" {
  project     = var.project_id
  name        = "${var.name_prefix}/lag_event"
  description = "cioevents lag from the event's own timestamp to its row being inserted, in ms (includes Customer.io's delay)."
  filter      = "${local.processor_logs} AND jsonPayload.message=\"event\" AND jsonPayload.lag_event_ms:*"

  metric_descriptor {
    metric_kind = "DELTA"
    value_type  = "DISTRIBUTION"
    unit        = "ms"

    labels {
      key         = "object_type"
      value_type  = "STRING"
      description = "Event object_type."
    }
  }

  value_extractor = "EXTRACT(jsonPayload.lag_event_ms)"
  label_extractors = {
    object_type = "EXTRACT(jsonPayload.object_type)"
  }

  bucket_options {
    exponential_buckets {
      num_finite_buckets = 50
      growth_factor      = 1.5
      scale              = 10
    }
  }

  depends_on = [google_project_service.enabled]
}

# --- Alert policies ----------------------------------------------------------------
#
# Every policy has a severity, documentation that links its runbook
# (docs/runbooks/<name>.md) and sums across revisions (REDUCE_SUM), so that a
# deploy, which starts a new revision, neither resets nor splits a count.

resource "google_monitoring_alert_policy" "signature_failures" {
  project      = var.project_id
  display_name = "${var.name_prefix}: webhook signatures failing"
  severity     = "CRITICAL"
  combiner     = "OR"

  conditions {
    display_name = "401 mismatch / too_old / too_new in the last hour"
    condition_threshold {
      filter          = "${local.webhook_series} AND metric.label.status=\"401\" AND metric.label.outcome=one_of(\"mismatch\", \"too_old\", \"too_new\")"
      comparison      = "COMPARISON_GT"
      threshold_value = var.signature_failure_threshold
      duration        = "0s"
      aggregations {
        alignment_period     = "3600s"
        per_series_aligner   = "ALIGN_SUM"
        cross_series_reducer = "REDUCE_SUM"
      }
    }
  }

  documentation {
    mime_type = "text/markdown"
    content   = <<-EOT
      Signed requests are failing verification (metric `webhook_requests`, status 401, outcome mismatch/too_old/too_new): the signing key in Secret Manager does not match Customer.io's, or a clock is off. Customer.io holds every later event behind the failing one and drops events after 7 days.

      Runbook: ${local.runbooks}/signature-failures.md
    EOT
  }

  notification_channels = local.notification_channels
  depends_on            = [google_project_service.monitoring]
}

resource "google_monitoring_alert_policy" "receiver_unavailable" {
  project      = var.project_id
  display_name = "${var.name_prefix}: receiver answering 503"
  severity     = "ERROR"
  combiner     = "OR"

  conditions {
    display_name = "503s in the last 10 minutes"
    condition_threshold {
      filter          = "${local.webhook_series} AND metric.label.status=\"503\""
      comparison      = "COMPARISON_GT"
      threshold_value = var.receiver_503_threshold
      duration        = "0s"
      aggregations {
        alignment_period     = "600s"
        per_series_aligner   = "ALIGN_SUM"
        cross_series_reducer = "REDUCE_SUM"
      }
    }
  }

  documentation {
    mime_type = "text/markdown"
    content   = <<-EOT
      The receiver answers 503 (metric `webhook_requests`, status 503: publish_failed, publish_timeout, read_error): events are not reaching Pub/Sub. Nothing is lost yet — Customer.io retries — but the stream is stalled.

      Runbook: ${local.runbooks}/receiver-unavailable.md
    EOT
  }

  notification_channels = local.notification_channels
  depends_on            = [google_project_service.monitoring]
}

resource "google_monitoring_alert_policy" "silence" {
  project      = var.project_id
  display_name = "${var.name_prefix}: no events accepted for ${var.silence_hours} h"
  severity     = "CRITICAL"
  combiner     = "OR"

  conditions {
    display_name = "no accepted webhook for ${var.silence_hours} h"
    condition_absent {
      filter   = "${local.webhook_series} AND metric.label.status=\"200\""
      duration = "${var.silence_hours * 3600}s"
      aggregations {
        alignment_period     = "300s"
        per_series_aligner   = "ALIGN_SUM"
        cross_series_reducer = "REDUCE_SUM"
      }
    }
  }

  documentation {
    mime_type = "text/markdown"
    content   = <<-EOT
      No webhook has been accepted (metric `webhook_requests`, status 200) for ${var.silence_hours} hours: the webhook may be disabled, its URL changed, or Customer.io holding the stream behind a failure.

      Runbook: ${local.runbooks}/silence.md
    EOT
  }

  notification_channels = local.notification_channels
  depends_on            = [google_project_service.monitoring]
}

resource "google_monitoring_alert_policy" "backlog" {
  project      = var.project_id
  display_name = "${var.name_prefix}: processor backlog older than ${var.backlog_max_age_minutes} min"
  severity     = "ERROR"
  combiner     = "OR"

  conditions {
    display_name = "oldest unacked message on the processor subscription"
    condition_threshold {
      filter          = local.backlog_series
      comparison      = "COMPARISON_GT"
      threshold_value = var.backlog_max_age_minutes * 60
      duration        = "300s"
      aggregations {
        alignment_period   = "60s"
        per_series_aligner = "ALIGN_MAX"
      }
    }
  }

  documentation {
    mime_type = "text/markdown"
    content   = <<-EOT
      The oldest unacknowledged message on the processor's push subscription (`pubsub.googleapis.com/subscription/oldest_unacked_message_age`) is older than ${var.backlog_max_age_minutes} minutes: the processor is failing or cannot keep up.

      Runbook: ${local.runbooks}/backlog.md
    EOT
  }

  notification_channels = local.notification_channels
  depends_on            = [google_project_service.monitoring]
}

resource "google_monitoring_alert_policy" "dead_letters" {
  project      = var.project_id
  display_name = "${var.name_prefix}: messages in the dead-letter subscription"
  severity     = "ERROR"
  combiner     = "OR"

  conditions {
    display_name = "undelivered messages in the dead-letter subscription"
    condition_threshold {
      filter          = local.dead_letter_series
      comparison      = "COMPARISON_GT"
      threshold_value = 0
      duration        = "0s"
      aggregations {
        alignment_period   = "300s"
        per_series_aligner = "ALIGN_MAX"
      }
    }
  }

  documentation {
    mime_type = "text/markdown"
    content   = <<-EOT
      Messages were dead-lettered (`pubsub.googleapis.com/subscription/num_undelivered_messages` on the dead-letter subscription > 0): the processor failed them ${var.max_delivery_attempts} times. They are kept, not lost; fix the cause, then `cioevents replay`.

      Runbook: ${local.runbooks}/dead-letters.md
    EOT
  }

  notification_channels = local.notification_channels
  depends_on            = [google_project_service.monitoring]
}

resource "google_monitoring_alert_policy" "track_credentials" {
  project      = var.project_id
  display_name = "${var.name_prefix}: Customer.io Track API refusing credentials"
  severity     = "CRITICAL"
  combiner     = "OR"

  conditions {
    display_name = "Track API 401/403 in the last 10 minutes"
    condition_threshold {
      filter          = "${local.action_series} AND metric.label.status=one_of(\"401\", \"403\")"
      comparison      = "COMPARISON_GT"
      threshold_value = 0
      duration        = "0s"
      aggregations {
        alignment_period     = "600s"
        per_series_aligner   = "ALIGN_SUM"
        cross_series_reducer = "REDUCE_SUM"
      }
    }
  }

  documentation {
    mime_type = "text/markdown"
    content   = <<-EOT
      The Customer.io Track API answers 401/403 (metric `action_calls`, status 401 or 403): the site ID or API key is wrong or revoked. Acting events are retried and finally dead-lettered, not dropped: fix the key, then `cioevents replay`.

      Runbook: ${local.runbooks}/track-credentials.md
    EOT
  }

  notification_channels = local.notification_channels
  depends_on            = [google_project_service.monitoring]
}

resource "google_monitoring_alert_policy" "track_rate_limited" {
  project      = var.project_id
  display_name = "${var.name_prefix}: Customer.io Track API rate limiting"
  severity     = "WARNING"
  combiner     = "OR"

  conditions {
    display_name = "Track API 429 in the last 10 minutes"
    condition_threshold {
      filter          = "${local.action_series} AND metric.label.status=\"429\""
      comparison      = "COMPARISON_GT"
      threshold_value = var.track_rate_limit_threshold
      duration        = "0s"
      aggregations {
        alignment_period     = "600s"
        per_series_aligner   = "ALIGN_SUM"
        cross_series_reducer = "REDUCE_SUM"
      }
    }
  }

  documentation {
    mime_type = "text/markdown"
    content   = <<-EOT
      The Customer.io Track API keeps answering 429 (metric `action_calls`, status 429). Deliveries are retried, so nothing is lost, but the backlog grows.

      Runbook: ${local.runbooks}/track-rate-limited.md
    EOT
  }

  notification_channels = local.notification_channels
  depends_on            = [google_project_service.monitoring]
}

resource "google_monitoring_alert_policy" "bigquery_insert_failures" {
  project      = var.project_id
  display_name = "${var.name_prefix}: BigQuery inserts failing"
  severity     = "ERROR"
  combiner     = "OR"

  conditions {
    display_name = "deliveries retried at a BigQuery insert in the last 10 minutes"
    condition_threshold {
      filter          = "${local.processor_series} AND metric.label.outcome=\"retry\" AND metric.label.step=one_of(\"row\", \"rejected\")"
      comparison      = "COMPARISON_GT"
      threshold_value = var.bigquery_failure_threshold
      duration        = "0s"
      aggregations {
        alignment_period     = "600s"
        per_series_aligner   = "ALIGN_SUM"
        cross_series_reducer = "REDUCE_SUM"
      }
    }
  }

  documentation {
    mime_type = "text/markdown"
    content   = <<-EOT
      Deliveries fail at the BigQuery insert and go back to Pub/Sub (metric `processor_events`, outcome retry, step row or rejected): a permission, table or quota problem. Messages wait in Pub/Sub and are dead-lettered after ${var.max_delivery_attempts} attempts.

      Runbook: ${local.runbooks}/bigquery-insert-failures.md
    EOT
  }

  notification_channels = local.notification_channels
  depends_on            = [google_project_service.monitoring]
}

resource "google_monitoring_alert_policy" "rejected_events" {
  project      = var.project_id
  display_name = "${var.name_prefix}: jump in rejected_events"
  severity     = "WARNING"
  combiner     = "OR"

  conditions {
    display_name = "messages quarantined in rejected_events in the last hour"
    condition_threshold {
      filter          = "${local.processor_series} AND metric.label.outcome=\"rejected\""
      comparison      = "COMPARISON_GT"
      threshold_value = var.rejected_per_hour_threshold
      duration        = "0s"
      aggregations {
        alignment_period     = "3600s"
        per_series_aligner   = "ALIGN_SUM"
        cross_series_reducer = "REDUCE_SUM"
      }
    }
  }

  documentation {
    mime_type = "text/markdown"
    content   = <<-EOT
      More than ${var.rejected_per_hour_threshold} messages in an hour were quarantined in `rejected_events` (metric `processor_events`, outcome rejected; the reason label says why). They are kept with their raw body; nothing is lost, but no row or action was made of them.

      Runbook: ${local.runbooks}/rejected-events.md
    EOT
  }

  notification_channels = local.notification_channels
  depends_on            = [google_project_service.monitoring]
}

resource "google_monitoring_alert_policy" "function_errors" {
  project      = var.project_id
  display_name = "${var.name_prefix}: unexpected errors in a function"
  severity     = "ERROR"
  combiner     = "OR"

  conditions {
    display_name = "error lines outside the counted outcomes in the last 10 minutes"
    condition_threshold {
      filter          = local.function_errors_series
      comparison      = "COMPARISON_GT"
      threshold_value = 0
      duration        = "0s"
      aggregations {
        alignment_period     = "600s"
        per_series_aligner   = "ALIGN_SUM"
        cross_series_reducer = "REDUCE_SUM"
        group_by_fields      = ["metric.label.service"]
      }
    }
  }

  documentation {
    mime_type = "text/markdown"
    content   = <<-EOT
      A function logged an error that is not one of its counted outcomes (metric `function_errors`): a panic, a refused start-up (bad configuration or secret), or an error of the functions framework. Start with the log line itself.

      Runbook: ${local.runbooks}/function-errors.md
    EOT
  }

  notification_channels = local.notification_channels
  depends_on            = [google_project_service.monitoring]
}

# Deliverability is computed from the same processor_events metric: a ratio
# of two label-filtered counts over a 24 h window. A scheduled query over
# events_deduped would be exact to the last duplicate, but needs the Data
# Transfer service, a service account and a second alerting path (a failing
# query); the log-based ratio counts only deliveries that inserted a row
# (outcome inserted*), so duplicates are already excluded, and it alerts
# through the same channels within minutes. The AND with a volume condition
# keeps a quiet day from paging on one complaint.
resource "google_monitoring_alert_policy" "spam_complaints" {
  project      = var.project_id
  display_name = "${var.name_prefix}: spam-complaint rate above ${var.spam_rate_threshold * 100} %"
  severity     = "ERROR"
  combiner     = "AND"

  conditions {
    display_name = "email spammed / delivered over 24 h"
    condition_threshold {
      filter             = "${local.processor_series} AND metric.label.object_type=\"email\" AND metric.label.metric=\"spammed\" AND metric.label.outcome=starts_with(\"inserted\")"
      denominator_filter = "${local.processor_series} AND metric.label.object_type=\"email\" AND metric.label.metric=\"delivered\" AND metric.label.outcome=starts_with(\"inserted\")"
      comparison         = "COMPARISON_GT"
      threshold_value    = var.spam_rate_threshold
      duration           = "0s"
      aggregations {
        alignment_period     = "86400s"
        per_series_aligner   = "ALIGN_SUM"
        cross_series_reducer = "REDUCE_SUM"
      }
      denominator_aggregations {
        alignment_period     = "86400s"
        per_series_aligner   = "ALIGN_SUM"
        cross_series_reducer = "REDUCE_SUM"
      }
    }
  }

  conditions {
    display_name = "enough email delivered in 24 h to judge"
    condition_threshold {
      filter          = "${local.processor_series} AND metric.label.object_type=\"email\" AND metric.label.metric=\"delivered\" AND metric.label.outcome=starts_with(\"inserted\")"
      comparison      = "COMPARISON_GT"
      threshold_value = var.deliverability_min_volume - 1
      duration        = "0s"
      aggregations {
        alignment_period     = "86400s"
        per_series_aligner   = "ALIGN_SUM"
        cross_series_reducer = "REDUCE_SUM"
      }
    }
  }

  documentation {
    mime_type = "text/markdown"
    content   = <<-EOT
      Spam complaints over the last 24 h exceed ${var.spam_rate_threshold * 100} % of delivered email (metric `processor_events`: email spammed / email delivered). Gmail and Yahoo require bulk senders to stay under 0.3 %; above it, mail goes to spam or is refused.

      Runbook: ${local.runbooks}/spam-complaints.md
    EOT
  }

  notification_channels = local.notification_channels
  depends_on            = [google_project_service.monitoring]
}

resource "google_monitoring_alert_policy" "bounces" {
  project      = var.project_id
  display_name = "${var.name_prefix}: bounce rate above ${var.bounce_rate_threshold * 100} %"
  severity     = "WARNING"
  combiner     = "AND"

  conditions {
    display_name = "email bounced / sent over 24 h"
    condition_threshold {
      filter             = "${local.processor_series} AND metric.label.object_type=\"email\" AND metric.label.metric=\"bounced\" AND metric.label.outcome=starts_with(\"inserted\")"
      denominator_filter = "${local.processor_series} AND metric.label.object_type=\"email\" AND metric.label.metric=\"sent\" AND metric.label.outcome=starts_with(\"inserted\")"
      comparison         = "COMPARISON_GT"
      threshold_value    = var.bounce_rate_threshold
      duration           = "0s"
      aggregations {
        alignment_period     = "86400s"
        per_series_aligner   = "ALIGN_SUM"
        cross_series_reducer = "REDUCE_SUM"
      }
      denominator_aggregations {
        alignment_period     = "86400s"
        per_series_aligner   = "ALIGN_SUM"
        cross_series_reducer = "REDUCE_SUM"
      }
    }
  }

  conditions {
    display_name = "enough email sent in 24 h to judge"
    condition_threshold {
      filter          = "${local.processor_series} AND metric.label.object_type=\"email\" AND metric.label.metric=\"sent\" AND metric.label.outcome=starts_with(\"inserted\")"
      comparison      = "COMPARISON_GT"
      threshold_value = var.deliverability_min_volume - 1
      duration        = "0s"
      aggregations {
        alignment_period     = "86400s"
        per_series_aligner   = "ALIGN_SUM"
        cross_series_reducer = "REDUCE_SUM"
      }
    }
  }

  documentation {
    mime_type = "text/markdown"
    content   = <<-EOT
      Bounces over the last 24 h exceed ${var.bounce_rate_threshold * 100} % of sent email (metric `processor_events`: email bounced / email sent). A high bounce rate hurts the sending domain's reputation.

      Runbook: ${local.runbooks}/bounces.md
    EOT
  }

  notification_channels = local.notification_channels
  depends_on            = [google_project_service.monitoring]
}

# --- Dashboard ---------------------------------------------------------------------

locals {

  # One chart per entry, two per row, every count summed per minute.
  dashboard_charts = [
    {
      title = "Accepted events / min by object_type"
      plot  = "STACKED_BAR"
      series = [{ filter = "${local.webhook_series} AND metric.label.status=\"200\"", aligner = "ALIGN_SUM",
      reducer = "REDUCE_SUM", group = ["metric.label.object_type"] }]
    },
    {
      title = "Receiver 401s by category"
      plot  = "STACKED_BAR"
      series = [{ filter = "${local.webhook_series} AND metric.label.status=\"401\"", aligner = "ALIGN_SUM",
      reducer = "REDUCE_SUM", group = ["metric.label.outcome"] }]
    },
    {
      title = "Receiver 503s (publish failures)"
      plot  = "STACKED_BAR"
      series = [{ filter = "${local.webhook_series} AND metric.label.status=\"503\"", aligner = "ALIGN_SUM",
      reducer = "REDUCE_SUM", group = ["metric.label.outcome"] }]
    },
    {
      title = "Processor outcomes / min"
      plot  = "STACKED_BAR"
      series = [{ filter = local.processor_series, aligner = "ALIGN_SUM", reducer = "REDUCE_SUM",
      group = ["metric.label.outcome"] }]
    },
    {
      title = "Lag, received → inserted (p50, p99, ms)"
      plot  = "LINE"
      series = [
        { filter = local.lag_received_series,
        aligner = "ALIGN_DELTA", reducer = "REDUCE_PERCENTILE_50", group = [] },
        { filter = local.lag_received_series,
        aligner = "ALIGN_DELTA", reducer = "REDUCE_PERCENTILE_99", group = [] },
      ]
    },
    {
      title = "Lag, event time → inserted (p50, p99, ms)"
      plot  = "LINE"
      series = [
        { filter = local.lag_event_series,
        aligner = "ALIGN_DELTA", reducer = "REDUCE_PERCENTILE_50", group = [] },
        { filter = local.lag_event_series,
        aligner = "ALIGN_DELTA", reducer = "REDUCE_PERCENTILE_99", group = [] },
      ]
    },
    {
      title = "Backlog: oldest unacked message (s)"
      plot  = "LINE"
      series = [{ filter = local.backlog_series,
      aligner = "ALIGN_MAX", reducer = "REDUCE_MAX", group = [] }]
    },
    {
      title = "Dead letters waiting"
      plot  = "LINE"
      series = [{ filter = local.dead_letter_series,
      aligner = "ALIGN_MAX", reducer = "REDUCE_MAX", group = [] }]
    },
    {
      title = "Track API calls by outcome and status class"
      plot  = "STACKED_BAR"
      series = [{ filter = local.action_series, aligner = "ALIGN_SUM", reducer = "REDUCE_SUM",
      group = ["metric.label.outcome", "metric.label.status_class"] }]
    },
    {
      title = "Unexpected errors by function"
      plot  = "STACKED_BAR"
      series = [{ filter = local.function_errors_series,
      aligner = "ALIGN_SUM", reducer = "REDUCE_SUM", group = ["metric.label.service"] }]
    },
    {
      title = "Email events / min by metric (deliverability)"
      plot  = "STACKED_BAR"
      series = [{ filter = "${local.processor_series} AND metric.label.object_type=\"email\" AND metric.label.outcome=starts_with(\"inserted\")",
      aligner = "ALIGN_SUM", reducer = "REDUCE_SUM", group = ["metric.label.metric"] }]
    },
  ]
}

resource "google_monitoring_dashboard" "cioevents" {
  project = var.project_id
  dashboard_json = jsonencode({
    displayName = "cioevents (${var.name_prefix})"
    mosaicLayout = {
      columns = 48
      tiles = [for i, chart in local.dashboard_charts : {
        xPos   = (i % 2) * 24
        yPos   = floor(i / 2) * 16
        width  = 24
        height = 16
        widget = {
          title = chart.title
          xyChart = {
            dataSets = [for s in chart.series : {
              plotType = chart.plot
              timeSeriesQuery = {
                timeSeriesFilter = {
                  filter = s.filter
                  aggregation = {
                    alignmentPeriod    = "60s"
                    perSeriesAligner   = s.aligner
                    crossSeriesReducer = s.reducer
                    groupByFields      = s.group
                  }
                }
              }
            }]
          }
        }
      }]
    }
  })

  depends_on = [google_project_service.monitoring]
}
