# The deliveries model, materialized (docs/models.md, docs/performance.md):
# one row per (workspace, delivery_id), partitioned by send day and clustered
# by what dashboards filter on, kept current by a scheduled MERGE over the
# last deliveries_lookback_days of events. The MERGE and the views over this
# table are generated from cmd/cioevents/internal/funnel (views/*.sql).

variable "deliveries_lookback_days" {
  description = "Days of events each scheduled MERGE folds into the deliveries table. Covers late webhooks and the nightly backfill's window; a backfill of older days needs a transfer-config backfill run (docs/models.md)."
  type        = number
  default     = 3

  validation {
    condition     = var.deliveries_lookback_days >= 1 && floor(var.deliveries_lookback_days) == var.deliveries_lookback_days
    error_message = "deliveries_lookback_days must be a whole number of days, at least 1."
  }
}

variable "deliveries_schedule" {
  description = "How often the MERGE into the deliveries table runs (BigQuery Data Transfer schedule syntax). Each run reads the whole deliveries table (docs/performance.md): more often is fresher and costs that many times more."
  type        = string
  default     = "every 24 hours"
}

resource "google_bigquery_table" "deliveries" {
  project     = var.project_id
  dataset_id  = google_bigquery_dataset.events.dataset_id
  table_id    = "deliveries"
  description = "One row per delivery: when it reached each stage, its message, recipient domain, mailbox provider and bounce class. Every daily figure counts it on send_day."

  schema = file("${path.module}/schema/deliveries.json")

  time_partitioning {
    type          = "DAY"
    field         = "send_day"
    expiration_ms = var.events_partition_expiration_days > 0 ? var.events_partition_expiration_days * 86400000 : null
  }

  clustering = ["workspace", "channel", "message_type", "message_ref"]

  deletion_protection = true
}

# The names of campaigns, broadcasts, newsletters, transactional messages and
# actions (cmd/cioevents/internal/names) live in message_names (names.tf),
# which the daily views and deliveries_named join beside the IDs.

resource "google_service_account" "deliveries" {
  project      = var.project_id
  account_id   = "${var.name_prefix}-deliveries"
  display_name = "cioevents deliveries model"
  description  = "Runs the scheduled MERGE that keeps the deliveries table current."
}

# The MERGE reads events (through events_deduped) and writes deliveries:
# data viewer on the dataset, editor on the one table it writes, and jobs in
# the project (a query job cannot be granted narrower).
resource "google_bigquery_dataset_iam_member" "deliveries_reads_dataset" {
  project    = var.project_id
  dataset_id = google_bigquery_dataset.events.dataset_id
  role       = "roles/bigquery.dataViewer"
  member     = google_service_account.deliveries.member
}

resource "google_bigquery_table_iam_member" "deliveries_writes_table" {
  project    = var.project_id
  dataset_id = google_bigquery_dataset.events.dataset_id
  table_id   = google_bigquery_table.deliveries.table_id
  role       = "roles/bigquery.dataEditor"
  member     = google_service_account.deliveries.member
}

resource "google_project_iam_member" "deliveries_runs_jobs" {
  project = var.project_id
  role    = "roles/bigquery.jobUser"
  member  = google_service_account.deliveries.member
}

resource "google_bigquery_data_transfer_config" "deliveries_merge" {
  project              = var.project_id
  display_name         = "${var.name_prefix} deliveries merge"
  location             = var.bigquery_location
  data_source_id       = "scheduled_query"
  schedule             = var.deliveries_schedule
  service_account_name = google_service_account.deliveries.email
  params = {
    query = templatefile("${path.module}/views/deliveries_merge.sql", {
      deliveries     = "${var.project_id}.${google_bigquery_dataset.events.dataset_id}.${google_bigquery_table.deliveries.table_id}"
      events_deduped = "${var.project_id}.${google_bigquery_dataset.events.dataset_id}.${google_bigquery_table.events_deduped.table_id}"
      lookback_days  = var.deliveries_lookback_days
    })
  }

  depends_on = [
    google_project_service.enabled,
    google_bigquery_dataset_iam_member.deliveries_reads_dataset,
    google_bigquery_table_iam_member.deliveries_writes_table,
    google_project_iam_member.deliveries_runs_jobs,
  ]
}
