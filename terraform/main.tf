# Generated from the module (modules/cioevents) by
#   go test ./internal/testsupport/tfcheck -run TestRootPassesTheModuleThrough -update
# Do not edit: change the module and regenerate.
# The configuration that `terraform apply` uses (cloudbuild.yaml, docs/deploy.md):
# versions.tf holds the backend and the provider blocks, main_variables.tf and
# main_outputs.tf pass the module's through, moved.tf takes a state from
# before the module across, and every resource lives in the module.

module "cioevents" {
  source = "./modules/cioevents"

  job_image                        = var.job_image
  backfill_schedule_enabled        = var.backfill_schedule_enabled
  backfill_image                   = var.backfill_image
  backfill_schedule                = var.backfill_schedule
  backfill_lookback                = var.backfill_lookback
  backfill_workspace               = var.backfill_workspace
  backfill_dry_run                 = var.backfill_dry_run
  deliveries_lookback_days         = var.deliveries_lookback_days
  deliveries_schedule              = var.deliveries_schedule
  alert_emails                     = var.alert_emails
  runbook_base_url                 = var.runbook_base_url
  signature_failure_threshold      = var.signature_failure_threshold
  receiver_503_threshold           = var.receiver_503_threshold
  silence_hours                    = var.silence_hours
  backlog_max_age_minutes          = var.backlog_max_age_minutes
  track_rate_limit_threshold       = var.track_rate_limit_threshold
  bigquery_failure_threshold       = var.bigquery_failure_threshold
  rejected_per_hour_threshold      = var.rejected_per_hour_threshold
  spam_rate_threshold              = var.spam_rate_threshold
  bounce_rate_threshold            = var.bounce_rate_threshold
  deliverability_min_volume        = var.deliverability_min_volume
  log_sample_success               = var.log_sample_success
  names_refresh_schedule           = var.names_refresh_schedule
  probe_interval_minutes           = var.probe_interval_minutes
  project_id                       = var.project_id
  region                           = var.region
  name_prefix                      = var.name_prefix
  signature_max_age                = var.signature_max_age
  signature_max_ahead              = var.signature_max_ahead
  max_body_bytes                   = var.max_body_bytes
  publish_timeout                  = var.publish_timeout
  receiver_max_instances           = var.receiver_max_instances
  receiver_concurrency             = var.receiver_concurrency
  body_budget_bytes                = var.body_budget_bytes
  receiver_memory_mib              = var.receiver_memory_mib
  signing_keys_version             = var.signing_keys_version
  max_delivery_attempts            = var.max_delivery_attempts
  dead_letter_retention            = var.dead_letter_retention
  create_firestore_database        = var.create_firestore_database
  firestore_database               = var.firestore_database
  firestore_location               = var.firestore_location
  ledger_collection                = var.ledger_collection
  ledger_ttl                       = var.ledger_ttl
  ledger_lease                     = var.ledger_lease
  step_timeout                     = var.step_timeout
  ledger_timeout                   = var.ledger_timeout
  ledger_mode                      = var.ledger_mode
  bigquery_location                = var.bigquery_location
  bigquery_dataset                 = var.bigquery_dataset
  events_table                     = var.events_table
  rejected_table                   = var.rejected_table
  events_partition_expiration_days = var.events_partition_expiration_days
  cio_region                       = var.cio_region
  cio_actions                      = var.cio_actions
  cio_actions_allow_suppress       = var.cio_actions_allow_suppress
  cio_actions_dry_run              = var.cio_actions_dry_run
  track_api_rate_budget            = var.track_api_rate_budget
  cio_rate_limit                   = var.cio_rate_limit
  processor_max_instances          = var.processor_max_instances
  processor_concurrency            = var.processor_concurrency
  processor_memory_mib             = var.processor_memory_mib
  processor_timeout_seconds        = var.processor_timeout_seconds
  track_api_secret_version         = var.track_api_secret_version
  pii_policy                       = var.pii_policy
  log_level                        = var.log_level
  views_lookback_days              = var.views_lookback_days
  workspaces                       = var.workspaces
  workspace_actions                = var.workspace_actions
  workspaces_secret_version        = var.workspaces_secret_version
}
