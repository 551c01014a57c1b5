output "webhook_url" {
  description = "Paste into Customer.io: Integrations → Reporting webhooks → endpoint URL."
  value       = google_cloudfunctions2_function.receiver.service_config[0].uri
}

output "signing_keys_secret" {
  description = "Secret that must hold the Customer.io webhook signing key (comma-separated during a rotation)."
  value       = google_secret_manager_secret.signing_keys.secret_id
}

output "track_api_secrets" {
  description = "Secrets that must hold the Customer.io Track API site ID and API key."
  value = {
    site_id = google_secret_manager_secret.track_site_id.secret_id
    api_key = google_secret_manager_secret.track_api_key.secret_id
  }
}

output "events_table" {
  description = "BigQuery table with one row per delivery (project.dataset.table)."
  value       = "${var.project_id}.${google_bigquery_dataset.events.dataset_id}.${google_bigquery_table.events.table_id}"
}

output "events_deduped_view" {
  description = "BigQuery view with one row per event: (delivery_id, metric), plus event_time for metrics that repeat; event_id only without a delivery_id. Filter on event_time."
  value       = "${var.project_id}.${google_bigquery_dataset.events.dataset_id}.${google_bigquery_table.events_deduped.table_id}"
}

output "rejected_events_table" {
  description = "BigQuery table of messages the processor rejected, with the reason."
  value       = "${var.project_id}.${google_bigquery_dataset.events.dataset_id}.${google_bigquery_table.rejected_events.table_id}"
}

output "topic" {
  description = "Pub/Sub topic the receiver publishes to (`cioevents replay --topic`)."
  value       = google_pubsub_topic.events.name
}

output "dead_letter_subscription" {
  description = "Pull subscription holding dead-lettered messages (`cioevents replay --subscription`)."
  value       = google_pubsub_subscription.dead_letter.name
}

output "firestore_database" {
  description = "Firestore database holding the dedupe ledger."
  value       = var.firestore_database
}

output "job_image_repository" {
  description = "Artifact Registry repository the job image is pushed to (cloudbuild.yaml pushes REPOSITORY/cioevents by digest)."
  value       = google_artifact_registry_repository.jobs.registry_uri
}

output "job_image" {
  description = "The image the jobs run, pinned by digest (backfill_image if set, else job_image); empty when neither is set."
  value       = local.job_image
}

output "deliveries_table" {
  description = "BigQuery table with one row per delivery (the deliveries model); filter on send_day."
  value       = "${var.project_id}.${google_bigquery_dataset.events.dataset_id}.${google_bigquery_table.deliveries.table_id}"
}

output "looker_studio_url" {
  description = "Looker Studio Linking API URL: a new report with the deliveries model (with names) and the daily views as data sources (docs/models.md)."
  value       = "https://lookerstudio.google.com/reporting/create?r.reportName=cioevents%20deliveries&ds.ds0.connector=bigQuery&ds.ds0.type=TABLE&ds.ds0.projectId=${var.project_id}&ds.ds0.datasetId=${google_bigquery_dataset.events.dataset_id}&ds.ds0.tableId=deliveries_named&ds.ds0.datasourceName=deliveries_named&ds.ds1.connector=bigQuery&ds.ds1.type=TABLE&ds.ds1.projectId=${var.project_id}&ds.ds1.datasetId=${google_bigquery_dataset.events.dataset_id}&ds.ds1.tableId=delivery_funnel_daily&ds.ds1.datasourceName=delivery_funnel_daily&ds.ds2.connector=bigQuery&ds.ds2.type=TABLE&ds.ds2.projectId=${var.project_id}&ds.ds2.datasetId=${google_bigquery_dataset.events.dataset_id}&ds.ds2.tableId=deliverability_daily&ds.ds2.datasourceName=deliverability_daily"
}
