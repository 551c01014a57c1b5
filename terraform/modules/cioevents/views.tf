# Reporting views over events_deduped. The SQL is generated from the metric
# definitions in cmd/cioevents/internal/funnel (the same ones `cioevents report` evaluates
# locally) and committed under views/; a Go test fails when they drift.

variable "views_lookback_days" {
  description = "Days of events the reporting views read when the query does not narrow them (each view filters event_time, the partition column)."
  type        = number
  default     = 400

  validation {
    condition     = var.views_lookback_days >= 1 && floor(var.views_lookback_days) == var.views_lookback_days
    error_message = "views_lookback_days must be a whole number of days, at least 1."
  }
}

locals {
  reporting_views = {
    delivery_funnel_daily = "Funnel per send day, channel, message and action, with their names: deliveries per stage, each on its send day with all its later stages, all and human-only opens and clicks."
    deliverability_daily  = "Email deliverability per send day, mailbox provider and recipient domain: deliveries sent, delivered, bounced, spammed, dropped, failed, and the rates."
    deliveries_named      = "The deliveries table with the names of each delivery's message and action beside their IDs; filter on send_day."
    person_engagement     = "Per person (workspace, cio_id): when a delivery was last delivered, opened and clicked, all and human only."
  }
}

resource "google_bigquery_table" "reporting" {
  for_each = local.reporting_views

  project     = var.project_id
  dataset_id  = google_bigquery_dataset.events.dataset_id
  table_id    = each.key
  description = each.value

  view {
    use_legacy_sql = false
    query = templatefile("${path.module}/views/${each.key}.sql", {
      events_deduped = "${var.project_id}.${google_bigquery_dataset.events.dataset_id}.${google_bigquery_table.events_deduped.table_id}"
      lookback_days  = var.views_lookback_days
      deliveries     = "${var.project_id}.${google_bigquery_dataset.events.dataset_id}.${google_bigquery_table.deliveries.table_id}"
      message_names  = "${var.project_id}.${google_bigquery_dataset.events.dataset_id}.${google_bigquery_table.message_names.table_id}"
    })
  }

  deletion_protection = true
}
