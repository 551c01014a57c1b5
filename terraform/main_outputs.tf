# Generated from the module (modules/cioevents) by
#   go test ./internal/testsupport/tfcheck -run TestRootPassesTheModuleThrough -update
# Do not edit: change the module and regenerate.

output "webhook_url" {
  description = "Paste into Customer.io: Integrations → Reporting webhooks → endpoint URL."
  value       = module.cioevents.webhook_url
}

output "signing_keys_secret" {
  description = "Secret that must hold the Customer.io webhook signing key (comma-separated during a rotation)."
  value       = module.cioevents.signing_keys_secret
}

output "track_api_secrets" {
  description = "Secrets that must hold the Customer.io Track API site ID and API key."
  value       = module.cioevents.track_api_secrets
}

output "events_table" {
  description = "BigQuery table with one row per delivery (project.dataset.table)."
  value       = module.cioevents.events_table
}

output "events_deduped_view" {
  description = "BigQuery view with one row per event: (delivery_id, metric), plus event_time for metrics that repeat; event_id only without a delivery_id. Filter on event_time."
  value       = module.cioevents.events_deduped_view
}

output "rejected_events_table" {
  description = "BigQuery table of messages the processor rejected, with the reason."
  value       = module.cioevents.rejected_events_table
}

output "topic" {
  description = "Pub/Sub topic the receiver publishes to (`cioevents replay --topic`)."
  value       = module.cioevents.topic
}

output "dead_letter_subscription" {
  description = "Pull subscription holding dead-lettered messages (`cioevents replay --subscription`)."
  value       = module.cioevents.dead_letter_subscription
}

output "firestore_database" {
  description = "Firestore database holding the dedupe ledger."
  value       = module.cioevents.firestore_database
}

output "job_image_repository" {
  description = "Artifact Registry repository the job image is pushed to (cloudbuild.yaml pushes REPOSITORY/cioevents by digest)."
  value       = module.cioevents.job_image_repository
}

output "job_image" {
  description = "The image the jobs run, pinned by digest (backfill_image if set, else job_image); empty when neither is set."
  value       = module.cioevents.job_image
}

output "deliveries_table" {
  description = "BigQuery table with one row per delivery (the deliveries model); filter on send_day."
  value       = module.cioevents.deliveries_table
}

output "looker_studio_url" {
  description = "Looker Studio Linking API URL: a new report with the deliveries model (with names) and the daily views as data sources (docs/models.md)."
  value       = module.cioevents.looker_studio_url
}

output "track_workspaces_secret" {
  description = "Secret that must hold the named workspaces' Track API credentials (name=site_id:api_key[:region], comma-separated); null without named workspaces."
  value       = module.cioevents.track_workspaces_secret
}
