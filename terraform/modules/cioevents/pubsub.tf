# The receiver publishes here; nothing else should.
resource "google_pubsub_topic" "events" {
  project = var.project_id
  name    = "${var.name_prefix}-events"

  # Lets an operator seek the push subscription back after a bad deploy.
  message_retention_duration = "86400s"

  depends_on = [google_project_service.enabled]
}

resource "google_pubsub_topic" "dead_letter" {
  project = var.project_id
  name    = "${var.name_prefix}-events-dead-letter"

  depends_on = [google_project_service.enabled]
}

# Terraform-managed push rather than an Eventarc trigger: Eventarc owns its
# subscription and a dead-letter policy cannot be set on it. The processor's
# functions-framework accepts plain push bodies and takes the topic name from
# the request path; without /projects/P/topics/T it prints a plain-text
# warning on every push, which is not a JSON log line.
resource "google_pubsub_subscription" "processor_push" {
  project = var.project_id
  name    = "${var.name_prefix}-processor-push"
  topic   = google_pubsub_topic.events.id

  # For push this is the request timeout, so it matches the function's.
  ack_deadline_seconds       = var.processor_timeout_seconds
  message_retention_duration = "604800s"

  push_config {
    push_endpoint = "${google_cloudfunctions2_function.processor.service_config[0].uri}/projects/${var.project_id}/topics/${google_pubsub_topic.events.name}"

    # The audience is the bare service URL, which Cloud Run accepts whatever
    # the path.
    oidc_token {
      service_account_email = google_service_account.push_invoker.email
      audience              = google_cloudfunctions2_function.processor.service_config[0].uri
    }
  }

  retry_policy {
    minimum_backoff = "10s"
    maximum_backoff = "600s"
  }

  dead_letter_policy {
    dead_letter_topic     = google_pubsub_topic.dead_letter.id
    max_delivery_attempts = var.max_delivery_attempts
  }

  # The default expires a subscription after 31 idle days; a quiet month must
  # not delete the pipeline.
  expiration_policy {
    ttl = ""
  }

  depends_on = [
    google_cloud_run_v2_service_iam_member.push_invokes_processor,
    google_service_account_iam_member.pubsub_mints_push_tokens,
  ]
}

# Messages published to a topic with no subscription are dropped, so the
# dead-letter topic gets a pull subscription that never expires; drain it with
# `cioevents replay`.
resource "google_pubsub_subscription" "dead_letter" {
  project = var.project_id
  name    = "${var.name_prefix}-events-dead-letter"
  topic   = google_pubsub_topic.dead_letter.id

  ack_deadline_seconds       = 60
  message_retention_duration = var.dead_letter_retention

  expiration_policy {
    ttl = ""
  }
}
