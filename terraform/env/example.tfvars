# One committed file per environment: copy to env/<name>.tfvars, set
# project_id, commit it, and apply from a laptop with
#   terraform apply -var-file=env/<name>.tfvars
# or from Cloud Build with _ENV=<name> (docs/deploy.md). Both read this file,
# so both deploy the same settings. It holds no secrets: secret values live in
# Secret Manager, and only their version numbers are set here.
#
# Every line but project_id shows the default.

project_id = "my-project-id"
# region      = "us-central1"
# name_prefix = "cioevents"

# Receiver
# signature_max_age      = "192h" # Customer.io retries for 7 days
# signature_max_ahead    = "1h"
# max_body_bytes         = 1048576
# body_budget_bytes      = 67108864  # 64 MiB + 3 x this must fit in receiver_memory_mib
# publish_timeout        = "3s"
# receiver_max_instances = 20
# receiver_concurrency   = 12  # x max_body_bytes x 3 + 128 MiB must fit in receiver_memory_mib
# receiver_memory_mib    = 512
# Pin the signing keys' Secret Manager version, and change it here to roll
# keys (docs/deploy.md, Rotating keys); "latest" is read when an instance starts.
# signing_keys_version   = "latest"

# Pub/Sub
# max_delivery_attempts = 10         # 5-100, then the dead-letter topic
# dead_letter_retention = "604800s"  # 7 days; ledger_ttl must exceed it by a day

# Ledger (Firestore). To use an existing (default) database instead of
# creating a dedicated one:
#   create_firestore_database = false
#   firestore_database        = "(default)"
# firestore_location = "nam5"
# ledger_collection  = "cioevents_ledger"
# ledger_ttl         = "336h"
# ledger_mode        = "lean"  # or "strict": a ledger write per step (README, Performance)
# ledger_lease       = "2m"  # must exceed processor_timeout_seconds and step_timeout + ledger_timeout + 5s
# step_timeout       = "20s"
# ledger_timeout     = "10s"

# Warehouse (BigQuery)
# bigquery_location                = "US"
# bigquery_dataset                 = "cioevents"
# events_table                     = "events"
# rejected_table                   = "rejected_events"
# events_partition_expiration_days = 0

# Actions back into Customer.io. cio_rate_limit x processor_max_instances
# must stay within track_api_rate_budget.
# cio_region                 = "us"
# cio_actions                = ""     # empty: the safe defaults; "none": no calls
# cio_actions_allow_suppress = false  # suppress DELETES people
# cio_actions_dry_run        = false
# track_api_rate_budget      = 50
# cio_rate_limit             = 10
# processor_max_instances    = 5
# processor_concurrency      = 80   # x max_body_bytes x 8 + 128 MiB must fit in processor_memory_mib
# processor_memory_mib       = 1024
# processor_timeout_seconds  = 60
# track_api_secret_version   = "latest"

# Named workspaces (README, Workspaces): keys named in the signing keys secret
# (name=key). Those listed here get their own Track credentials from the
# <prefix>-track-workspaces secret (name=site_id:api_key[:region],...); a
# workspace without them is stored but never acted on. A workspace not in
# workspace_actions has cio_actions.
# workspaces                = []        # e.g. ["shop", "b2b"]
# workspace_actions         = {}        # e.g. { b2b = "none" }
# workspaces_secret_version = "latest"

# pii_policy = ""  # e.g. "email=hash,subject=drop"; hashing needs the <prefix>-pii-key secret

# log_level          = "info"
# log_sample_success = 1  # fraction of success lines stored (by event_id); metrics still count every line
# labels             = { app = "cioevents" }

# Alerts (monitoring_variables.tf; docs/runbooks)
# alert_emails                = []  # e.g. ["oncall@example.com"]
# runbook_base_url            = "https://github.com/cioevents/cioevents/blob/main/docs/runbooks"
# signature_failure_threshold = 0      # per hour
# receiver_503_threshold      = 2      # per 10 minutes
# silence_hours               = 6
# backlog_max_age_minutes     = 60
# track_rate_limit_threshold  = 10     # 429s per 10 minutes
# bigquery_failure_threshold  = 4      # per 10 minutes
# rejected_per_hour_threshold = 10
# spam_rate_threshold         = 0.001  # over 24 h
# bounce_rate_threshold       = 0.02   # over 24 h
# deliverability_min_volume   = 1000

# Reporting views (README, Funnel and deliverability)
# views_lookback_days = 400

# The deliveries table and its scheduled MERGE (docs/models.md)
# deliveries_lookback_days = 3
# deliveries_schedule      = "every 24 hours"

# Nightly backfill and reconciliation (README, Backfill); needs a value in the
# <prefix>-app-api-key secret.
# backfill_schedule_enabled = false
# job_image                 = ""           # not a setting: cloudbuild.yaml's plan build sets it to the image it pushed
# backfill_image            = ""           # overrides job_image, e.g. "europe-docker.pkg.dev/p/r/cioevents:v1"
# backfill_schedule         = "30 4 * * *"  # UTC
# backfill_lookback         = "3d"
# backfill_workspace        = "default"    # the workspace the App API key belongs to
# backfill_dry_run          = true         # false also stores the missing events
# names_refresh_schedule    = "0 4 * * *"  # UTC; the nightly names refresh, on the same image and key

# Scheduled probe (docs/probe.md): `cioevents doctor --cloud` as a Cloud Run job,
# on the job image (backfill_image); 0 turns it off.
# probe_interval_minutes = 15
