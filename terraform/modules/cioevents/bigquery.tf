resource "google_bigquery_dataset" "events" {
  project     = var.project_id
  dataset_id  = var.bigquery_dataset
  location    = var.bigquery_location
  description = "Customer.io reporting webhook events received by cioevents."

  # A destroy must never take the event history with it.
  delete_contents_on_destroy = false

  depends_on = [google_project_service.enabled]
}

# The schema files are generated from the Go row types (`cioevents schema`)
# and a Go test keeps them, the Go code and this file in step.
resource "google_bigquery_table" "events" {
  project     = var.project_id
  dataset_id  = google_bigquery_dataset.events.dataset_id
  table_id    = var.events_table
  description = "One row per delivery of a Customer.io event; query events_deduped for one row per event_id."

  schema = file("${path.module}/schema/events.json")

  time_partitioning {
    type          = "DAY"
    field         = "event_time"
    expiration_ms = var.events_partition_expiration_days > 0 ? var.events_partition_expiration_days * 86400000 : null
  }

  # Every query must say which days it reads; a full scan of years of events
  # is the expensive mistake this prevents.
  require_partition_filter = true

  clustering = ["object_type", "metric", "customer_id"]

  deletion_protection = true
}

resource "google_bigquery_table" "rejected_events" {
  project     = var.project_id
  dataset_id  = google_bigquery_dataset.events.dataset_id
  table_id    = var.rejected_table
  description = "Messages the processor could not turn into an event, with the reason; nothing is dropped silently."

  schema = file("${path.module}/schema/rejected_events.json")

  time_partitioning {
    type  = "DAY"
    field = "received_at"
  }

  deletion_protection = true
}

# Insert IDs dedupe only best-effort, so this view is the last guard: one row
# per event identity (docs/backfill.md: delivery and metric, else event_id),
# the webhook's row before a backfilled one. The SQL is generated from
# cmd/cioevents/internal/funnel, like the reporting views.
resource "google_bigquery_table" "events_deduped" {
  project     = var.project_id
  dataset_id  = google_bigquery_dataset.events.dataset_id
  table_id    = "${var.events_table}_deduped"
  description = "events with one row per event identity (delivery and metric, else event_id). Filter on event_time, as on the table."

  view {
    use_legacy_sql = false
    query = templatefile("${path.module}/views/events_deduped.sql", {
      events = "${var.project_id}.${google_bigquery_dataset.events.dataset_id}.${google_bigquery_table.events.table_id}"
    })
  }

  deletion_protection = true
}
