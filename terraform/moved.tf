# State addresses from before the module: every resource used to be declared
# in terraform/ itself, and now lives in modules/cioevents. These blocks take
# an existing state across on the next plan with no destroy; a state created
# since has nothing at the old addresses and ignores them. Data sources are
# read again and need none. Resources added to the module later need no
# block here. A test in internal/testsupport/tfcheck holds each to a resource
# the module declares.

moved {
  from = google_project_service.enabled
  to   = module.cioevents.google_project_service.enabled
}

moved {
  from = google_project_service_identity.pubsub
  to   = module.cioevents.google_project_service_identity.pubsub
}

moved {
  from = google_project_service.scheduler
  to   = module.cioevents.google_project_service.scheduler
}

moved {
  from = google_service_account.backfill
  to   = module.cioevents.google_service_account.backfill
}

moved {
  from = google_secret_manager_secret.app_api_key
  to   = module.cioevents.google_secret_manager_secret.app_api_key
}

moved {
  from = google_secret_manager_secret_iam_member.backfill_reads_pii_key
  to   = module.cioevents.google_secret_manager_secret_iam_member.backfill_reads_pii_key
}

moved {
  from = google_secret_manager_secret_iam_member.backfill_reads_app_api_key
  to   = module.cioevents.google_secret_manager_secret_iam_member.backfill_reads_app_api_key
}

moved {
  from = google_project_iam_member.backfill_runs_queries
  to   = module.cioevents.google_project_iam_member.backfill_runs_queries
}

moved {
  from = google_bigquery_table_iam_member.backfill_reads_events
  to   = module.cioevents.google_bigquery_table_iam_member.backfill_reads_events
}

moved {
  from = google_bigquery_table_iam_member.backfill_inserts_events
  to   = module.cioevents.google_bigquery_table_iam_member.backfill_inserts_events
}

moved {
  from = google_bigquery_table_iam_member.backfill_inserts_rejected
  to   = module.cioevents.google_bigquery_table_iam_member.backfill_inserts_rejected
}

moved {
  from = google_bigquery_dataset_iam_member.backfill_looks_up_dataset
  to   = module.cioevents.google_bigquery_dataset_iam_member.backfill_looks_up_dataset
}

moved {
  from = google_project_iam_member.backfill_uses_ledger
  to   = module.cioevents.google_project_iam_member.backfill_uses_ledger
}

moved {
  from = google_cloud_run_v2_job.backfill
  to   = module.cioevents.google_cloud_run_v2_job.backfill
}

moved {
  from = google_cloud_run_v2_job_iam_member.backfill_scheduler_runs_job
  to   = module.cioevents.google_cloud_run_v2_job_iam_member.backfill_scheduler_runs_job
}

moved {
  from = google_cloud_scheduler_job.backfill
  to   = module.cioevents.google_cloud_scheduler_job.backfill
}

moved {
  from = google_bigquery_dataset.events
  to   = module.cioevents.google_bigquery_dataset.events
}

moved {
  from = google_bigquery_table.events
  to   = module.cioevents.google_bigquery_table.events
}

moved {
  from = google_bigquery_table.rejected_events
  to   = module.cioevents.google_bigquery_table.rejected_events
}

moved {
  from = google_bigquery_table.events_deduped
  to   = module.cioevents.google_bigquery_table.events_deduped
}

moved {
  from = google_firestore_database.ledger
  to   = module.cioevents.google_firestore_database.ledger
}

moved {
  from = google_firestore_field.ledger
  to   = module.cioevents.google_firestore_field.ledger
}

moved {
  from = google_storage_bucket.source
  to   = module.cioevents.google_storage_bucket.source
}

moved {
  from = google_storage_bucket_object.source
  to   = module.cioevents.google_storage_bucket_object.source
}

moved {
  from = google_cloudfunctions2_function.receiver
  to   = module.cioevents.google_cloudfunctions2_function.receiver
}

moved {
  from = google_cloudfunctions2_function.processor
  to   = module.cioevents.google_cloudfunctions2_function.processor
}

moved {
  from = google_service_account.receiver
  to   = module.cioevents.google_service_account.receiver
}

moved {
  from = google_service_account.processor
  to   = module.cioevents.google_service_account.processor
}

moved {
  from = google_service_account.push_invoker
  to   = module.cioevents.google_service_account.push_invoker
}

moved {
  from = google_service_account.build
  to   = module.cioevents.google_service_account.build
}

moved {
  from = google_pubsub_topic_iam_member.receiver_publishes
  to   = module.cioevents.google_pubsub_topic_iam_member.receiver_publishes
}

moved {
  from = google_secret_manager_secret_iam_member.receiver_reads_signing_keys
  to   = module.cioevents.google_secret_manager_secret_iam_member.receiver_reads_signing_keys
}

moved {
  from = google_project_iam_member.processor_firestore
  to   = module.cioevents.google_project_iam_member.processor_firestore
}

moved {
  from = google_project_iam_custom_role.row_inserter
  to   = module.cioevents.google_project_iam_custom_role.row_inserter
}

moved {
  from = google_project_iam_custom_role.dataset_lookup
  to   = module.cioevents.google_project_iam_custom_role.dataset_lookup
}

moved {
  from = google_bigquery_dataset_iam_member.processor_looks_up_dataset
  to   = module.cioevents.google_bigquery_dataset_iam_member.processor_looks_up_dataset
}

moved {
  from = google_bigquery_table_iam_member.processor_inserts_events
  to   = module.cioevents.google_bigquery_table_iam_member.processor_inserts_events
}

moved {
  from = google_bigquery_table_iam_member.processor_inserts_rejected
  to   = module.cioevents.google_bigquery_table_iam_member.processor_inserts_rejected
}

moved {
  from = google_secret_manager_secret_iam_member.processor_reads_site_id
  to   = module.cioevents.google_secret_manager_secret_iam_member.processor_reads_site_id
}

moved {
  from = google_secret_manager_secret_iam_member.processor_reads_api_key
  to   = module.cioevents.google_secret_manager_secret_iam_member.processor_reads_api_key
}

moved {
  from = google_cloud_run_v2_service_iam_member.push_invokes_processor
  to   = module.cioevents.google_cloud_run_v2_service_iam_member.push_invokes_processor
}

moved {
  from = google_service_account_iam_member.pubsub_mints_push_tokens
  to   = module.cioevents.google_service_account_iam_member.pubsub_mints_push_tokens
}

moved {
  from = google_pubsub_topic_iam_member.pubsub_publishes_dead_letters
  to   = module.cioevents.google_pubsub_topic_iam_member.pubsub_publishes_dead_letters
}

moved {
  from = google_pubsub_subscription_iam_member.pubsub_forwards_from_processor_sub
  to   = module.cioevents.google_pubsub_subscription_iam_member.pubsub_forwards_from_processor_sub
}

moved {
  from = google_cloud_run_v2_service_iam_member.public_invokes_receiver
  to   = module.cioevents.google_cloud_run_v2_service_iam_member.public_invokes_receiver
}

moved {
  from = google_project_iam_member.build
  to   = module.cioevents.google_project_iam_member.build
}

moved {
  from = google_secret_manager_secret_iam_member.processor_reads_pii_key
  to   = module.cioevents.google_secret_manager_secret_iam_member.processor_reads_pii_key
}

moved {
  from = google_project_service.monitoring
  to   = module.cioevents.google_project_service.monitoring
}

moved {
  from = google_monitoring_notification_channel.email
  to   = module.cioevents.google_monitoring_notification_channel.email
}

moved {
  from = google_logging_project_exclusion.sampled_success
  to   = module.cioevents.google_logging_project_exclusion.sampled_success
}

moved {
  from = google_logging_metric.webhook_requests
  to   = module.cioevents.google_logging_metric.webhook_requests
}

moved {
  from = google_logging_metric.processor_events
  to   = module.cioevents.google_logging_metric.processor_events
}

moved {
  from = google_logging_metric.action_calls
  to   = module.cioevents.google_logging_metric.action_calls
}

moved {
  from = google_logging_metric.function_errors
  to   = module.cioevents.google_logging_metric.function_errors
}

moved {
  from = google_logging_metric.lag_received
  to   = module.cioevents.google_logging_metric.lag_received
}

moved {
  from = google_logging_metric.lag_event
  to   = module.cioevents.google_logging_metric.lag_event
}

moved {
  from = google_monitoring_alert_policy.signature_failures
  to   = module.cioevents.google_monitoring_alert_policy.signature_failures
}

moved {
  from = google_monitoring_alert_policy.receiver_unavailable
  to   = module.cioevents.google_monitoring_alert_policy.receiver_unavailable
}

moved {
  from = google_monitoring_alert_policy.silence
  to   = module.cioevents.google_monitoring_alert_policy.silence
}

moved {
  from = google_monitoring_alert_policy.backlog
  to   = module.cioevents.google_monitoring_alert_policy.backlog
}

moved {
  from = google_monitoring_alert_policy.dead_letters
  to   = module.cioevents.google_monitoring_alert_policy.dead_letters
}

moved {
  from = google_monitoring_alert_policy.track_credentials
  to   = module.cioevents.google_monitoring_alert_policy.track_credentials
}

moved {
  from = google_monitoring_alert_policy.track_rate_limited
  to   = module.cioevents.google_monitoring_alert_policy.track_rate_limited
}

moved {
  from = google_monitoring_alert_policy.bigquery_insert_failures
  to   = module.cioevents.google_monitoring_alert_policy.bigquery_insert_failures
}

moved {
  from = google_monitoring_alert_policy.rejected_events
  to   = module.cioevents.google_monitoring_alert_policy.rejected_events
}

moved {
  from = google_monitoring_alert_policy.function_errors
  to   = module.cioevents.google_monitoring_alert_policy.function_errors
}

moved {
  from = google_monitoring_alert_policy.spam_complaints
  to   = module.cioevents.google_monitoring_alert_policy.spam_complaints
}

moved {
  from = google_monitoring_alert_policy.bounces
  to   = module.cioevents.google_monitoring_alert_policy.bounces
}

moved {
  from = google_monitoring_dashboard.cioevents
  to   = module.cioevents.google_monitoring_dashboard.cioevents
}

moved {
  from = google_pubsub_topic.events
  to   = module.cioevents.google_pubsub_topic.events
}

moved {
  from = google_pubsub_topic.dead_letter
  to   = module.cioevents.google_pubsub_topic.dead_letter
}

moved {
  from = google_pubsub_subscription.processor_push
  to   = module.cioevents.google_pubsub_subscription.processor_push
}

moved {
  from = google_pubsub_subscription.dead_letter
  to   = module.cioevents.google_pubsub_subscription.dead_letter
}

moved {
  from = google_secret_manager_secret.signing_keys
  to   = module.cioevents.google_secret_manager_secret.signing_keys
}

moved {
  from = google_secret_manager_secret.track_site_id
  to   = module.cioevents.google_secret_manager_secret.track_site_id
}

moved {
  from = google_secret_manager_secret.track_api_key
  to   = module.cioevents.google_secret_manager_secret.track_api_key
}

moved {
  from = google_secret_manager_secret.pii_key
  to   = module.cioevents.google_secret_manager_secret.pii_key
}

moved {
  from = google_bigquery_table.reporting
  to   = module.cioevents.google_bigquery_table.reporting
}

moved {
  from = google_secret_manager_secret.workspace_credentials
  to   = module.cioevents.google_secret_manager_secret.workspace_credentials
}

moved {
  from = google_secret_manager_secret_iam_member.processor_reads_workspace_credentials
  to   = module.cioevents.google_secret_manager_secret_iam_member.processor_reads_workspace_credentials
}
