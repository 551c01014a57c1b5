# Generated from the module (modules/cioevents) by
#   go test ./internal/testsupport/tfcheck -run TestRootPassesTheModuleThrough -update
# Do not edit: change the module and regenerate.
# Validation rules live in the module, which reports them with the same messages.

variable "job_image" {
  description = "The job image pinned by digest (REPOSITORY/cioevents@sha256:...), built from this source by internal/jobimage and pushed to the job_image_repository output; cloudbuild.yaml's plan build sets it. The backfill job runs it unless backfill_image is set."
  type        = string
  default     = ""
}

variable "backfill_schedule_enabled" {
  description = "Create the nightly backfill job and its schedule. Needs the job image (job_image, which cloudbuild.yaml's plan build sets, or backfill_image) and a value in the app-api-key secret."
  type        = bool
  default     = false
}

variable "backfill_image" {
  description = "Overrides job_image for the backfill job: a container image whose entrypoint is the cioevents binary, built elsewhere. Empty: the job image cloudbuild.yaml builds and pins (job_image)."
  type        = string
  default     = ""
}

variable "backfill_schedule" {
  description = "When the backfill job runs, as a cron expression in UTC."
  type        = string
  default     = "30 4 * * *"
}

variable "backfill_lookback" {
  description = "How far back each run looks (--since), e.g. 3d or 72h. Deliveries are windowed by creation time, so leave room for late opens and clicks."
  type        = string
  default     = "3d"
}

variable "backfill_workspace" {
  description = "The workspace the app-api-key secret's App API key belongs to (--workspace): the backfilled rows carry it. An App API key reaches one workspace; \"default\" is the workspace of unnamed signing keys."
  type        = string
  default     = "default"
}

variable "backfill_dry_run" {
  description = "Only report what is missing (--dry-run). false also stores the missing events (source = backfill); actions are never applied."
  type        = bool
  default     = true
}

variable "deliveries_lookback_days" {
  description = "Days of events each scheduled MERGE folds into the deliveries table. Covers late webhooks and the nightly backfill's window; a backfill of older days needs a transfer-config backfill run (docs/models.md)."
  type        = number
  default     = 3
}

variable "deliveries_schedule" {
  description = "How often the MERGE into the deliveries table runs (BigQuery Data Transfer schedule syntax). Each run reads the whole deliveries table (docs/performance.md): more often is fresher and costs that many times more."
  type        = string
  default     = "every 24 hours"
}

variable "alert_emails" {
  description = "Email addresses notified by every cioevents alert policy. Empty: the policies still open incidents in Cloud Monitoring, but nobody is told."
  type        = list(string)
  default     = []
}

variable "runbook_base_url" {
  description = "Where docs/runbooks/ is published; every alert's documentation links <this>/<alert>.md. Point it at your fork to ship your own runbooks."
  type        = string
  default     = "https://github.com/cioevents/cioevents/blob/main/docs/runbooks"
}

variable "signature_failure_threshold" {
  description = "Alert when more than this many requests in an hour fail the signature check as mismatch, too_old or too_new. Default 0: after a 401 Customer.io holds the stream for an hour, so a wrong key or clock shows as a trickle, never a flood, and every such 401 is an event held back. Unsigned probes (missing_signature and similar) are not counted."
  type        = number
  default     = 0
}

variable "receiver_503_threshold" {
  description = "Alert when the receiver answers 503 more than this many times in 10 minutes. Default 2: a lone 503 is a Pub/Sub blip Customer.io simply retries; three in ten minutes is an outage forming."
  type        = number
  default     = 2
}

variable "silence_hours" {
  description = "Alert when no event has been accepted for this many hours (the webhook disabled, its URL changed, or Customer.io holding the stream behind a failure). Default 6: long enough for a quiet night, short enough to act well inside Customer.io's 7-day retry window. Cloud Monitoring allows at most 23.5 h."
  type        = number
  default     = 6
}

variable "backlog_max_age_minutes" {
  description = "Alert when the oldest unacknowledged message on the processor subscription is older than this. Default 60: one poison message legitimately waits ~45 min while Pub/Sub backs off (10 s to 600 s, 10 attempts) before it is dead-lettered, which the dead-letter alert reports; an hour means the processor is stuck or too slow."
  type        = number
  default     = 60
}

variable "track_rate_limit_threshold" {
  description = "Alert when the Track API answers 429 more than this many times in 10 minutes. Default 10: the client already limits itself well below Customer.io's limit and honours Retry-After, so a few 429s are absorbed; a steady stream means another integration shares the budget or cio_rate_limit is too high."
  type        = number
  default     = 10
}

variable "bigquery_failure_threshold" {
  description = "Alert when more than this many deliveries in 10 minutes fail at a BigQuery insert (events or rejected_events) and go back to Pub/Sub. Default 4: the client already retries 5xx within a delivery, so an isolated failure heals on redelivery; five in ten minutes is a lost permission, a deleted table or an exhausted quota."
  type        = number
  default     = 4
}

variable "rejected_per_hour_threshold" {
  description = "Alert when more than this many messages an hour land in rejected_events. Default 10: authentic Customer.io bodies almost never fail to parse, so a handful an hour means the payload contract or the schema changed."
  type        = number
  default     = 10
}

variable "spam_rate_threshold" {
  description = "Alert when email.spammed / email.delivered over the last 24 h exceeds this fraction. Default 0.001 (0.1 %): Gmail's and Yahoo's sender rules require staying under 0.3 % and advise under 0.1 %."
  type        = number
  default     = 0.001
}

variable "bounce_rate_threshold" {
  description = "Alert when email.bounced / email.sent over the last 24 h exceeds this fraction. Default 0.02 (2 %): the figure email providers commonly treat as the edge of a healthy list."
  type        = number
  default     = 0.02
}

variable "deliverability_min_volume" {
  description = "The deliverability alerts fire only when at least this many emails were delivered (spam rate) or sent (bounce rate) in the 24 h window, so one complaint among a few hundred emails does not page anyone. Default 1000."
  type        = number
  default     = 1000
}

variable "log_sample_success" {
  description = "Fraction of success log lines stored (receiver accepted, processor inserted or duplicate), chosen by event_id so an event's receiver and processor lines are kept or dropped together. Default 1: all. Below 1, a Logging exclusion drops the rest before storage, where log storage is billed; the log-based metrics still count every line, because they are computed from all logs received, excluded ones included. Failures, warnings, odd events and Track API calls are always stored."
  type        = number
  default     = 1
}

variable "names_refresh_schedule" {
  description = "When the nightly names refresh runs (with backfill_schedule_enabled), as a cron expression in UTC. Keep it apart from backfill_schedule: both use the App API's 10 requests/s."
  type        = string
  default     = "0 4 * * *"
}

variable "probe_interval_minutes" {
  description = "Minutes between scheduled doctor runs (a divisor of 60); 0 turns the probe off. It runs the job image (job_image, or backfill_image when set) and is off while neither is set."
  type        = number
  default     = 15
}

variable "project_id" {
  description = "Project to deploy into. It must already exist, with billing and the bootstrap APIs enabled (docs/deploy.md)."
  type        = string
}

variable "region" {
  description = "Region for the functions, the source bucket and the secrets' replicas."
  type        = string
  default     = "us-central1"
}

variable "name_prefix" {
  description = "Prefix for every resource name, so several deployments can share a project. It also prefixes service account IDs, which are at most 30 characters."
  type        = string
  default     = "cioevents"
}

variable "signature_max_age" {
  description = "CIO_SIGNATURE_MAX_AGE: oldest X-CIO-Timestamp accepted. Customer.io retries for 7 days, so keep this above 168h."
  type        = string
  default     = "192h"
}

variable "signature_max_ahead" {
  description = "CIO_SIGNATURE_MAX_AHEAD: how far in the future an X-CIO-Timestamp may be (clock skew)."
  type        = string
  default     = "1h"
}

variable "max_body_bytes" {
  description = "CIO_MAX_BODY_BYTES: bodies above this are published as an 'oversized' stub (still answered 200). Real events weigh about 1 KB, content-bearing *_sent events up to a few hundred KB, so 1 MiB keeps every ordinary body whole; Pub/Sub's 10 MB limit is the ceiling."
  type        = number
  default     = 1048576
}

variable "publish_timeout" {
  description = "CIO_PUBLISH_TIMEOUT: how long the receiver waits for Pub/Sub before answering 503 (100ms-3.5s). Customer.io gives up after 4s."
  type        = string
  default     = "3s"
}

variable "receiver_max_instances" {
  description = "Upper bound on receiver instances; the receiver only verifies and publishes, so a few instances carry a lot."
  type        = number
  default     = 20
}

variable "receiver_concurrency" {
  description = "Concurrent requests per receiver instance (each instance has one vCPU). Customer.io sends one event at a time per webhook, so a few per instance is plenty. Memory bounds it: a request may hold its body three times (the read buffer, which grows by doubling, and the published copy), so receiver_concurrency x max_body_bytes x 3 + 128 MiB for the runtime must fit in receiver_memory_mib."
  type        = number
  default     = 12
}

variable "body_budget_bytes" {
  description = "CIO_BODY_BUDGET_BYTES: request-body bytes one receiver instance holds at once, authenticated or not; over it the receiver answers 503 with Retry-After, which Customer.io retries. It bounds memory whatever the concurrency: 64 MiB + 3 x the budget must fit in receiver_memory_mib."
  type        = number
  default     = 67108864
}

variable "receiver_memory_mib" {
  description = "Memory of each receiver instance in MiB (512-4096 with one vCPU). See receiver_concurrency for what it must hold."
  type        = number
  default     = 512
}

variable "signing_keys_version" {
  description = "Secret Manager version of the signing keys the receiver loads. \"latest\" is read only when an instance starts; pin a number in the environment's tfvars file and change it to roll every instance onto a new set of keys (docs/deploy.md, Rotating keys)."
  type        = string
  default     = "latest"
}

variable "max_delivery_attempts" {
  description = "Deliveries of one message to the processor before it goes to the dead-letter topic (Pub/Sub allows 5-100)."
  type        = number
  default     = 10
}

variable "dead_letter_retention" {
  description = "How long dead-lettered messages are kept for `cioevents replay` (600s to 31 days). ledger_ttl must outlive it by a day, so that a message replayed late in its retention still finds its ledger entry and is not processed twice."
  type        = string
  default     = "604800s"
}

variable "create_firestore_database" {
  description = "Create the Firestore database named by firestore_database. Set false to use one that already exists, such as the project's (default) database."
  type        = bool
  default     = true
}

variable "firestore_database" {
  description = "FIRESTORE_DATABASE: the database holding the dedupe ledger. A dedicated one keeps cioevents out of any existing (default) database."
  type        = string
  default     = "cioevents"
}

variable "firestore_location" {
  description = "Location of a database this configuration creates (a multi-region such as nam5 or eur3, or a region)."
  type        = string
  default     = "nam5"
}

variable "ledger_collection" {
  description = "LEDGER_COLLECTION: Firestore collection of ledger documents; the TTL policy is set on its expire_at field."
  type        = string
  default     = "cioevents_ledger"
}

variable "ledger_ttl" {
  description = "LEDGER_TTL: how long a ledger document lives after the later of its event and the delivery that last claimed it (192h-9600h). It must outlast signature_max_age, or a late Customer.io retry would be processed twice, and dead_letter_retention plus a day, or a late replay would."
  type        = string
  default     = "336h"
}

variable "ledger_lease" {
  description = "LEDGER_LEASE: how long a delivery owns an event before another delivery may take it over (5s-10m). It must be longer than processor_timeout_seconds: a redelivery that takes over while the first delivery is still running would repeat its side effects. The processor's own default (60s) equals the default timeout, so Terraform always sets it."
  type        = string
  default     = "2m"
}

variable "step_timeout" {
  description = "CIO_STEP_TIMEOUT: the longest one call to BigQuery or the Track API may take (1s-5m). ledger_lease must be at least this plus 15s."
  type        = string
  default     = "20s"
}

variable "ledger_timeout" {
  description = "LEDGER_TIMEOUT: the longest one Firestore ledger call may take (1s-5m). ledger_lease must be at least step_timeout + ledger_timeout + 5s."
  type        = string
  default     = "10s"
}

variable "ledger_mode" {
  description = "LEDGER_MODE: lean (default: an event costs the ledger at most two writes; a crash repeats the idempotent side effects since the claim) or strict (a write per step; a crash repeats only the call in flight)."
  type        = string
  default     = "lean"
}

variable "bigquery_location" {
  description = "Location of the BigQuery dataset (US, EU or a region)."
  type        = string
  default     = "US"
}

variable "bigquery_dataset" {
  description = "BIGQUERY_DATASET: dataset holding the events and rejected_events tables and the dedupe view."
  type        = string
  default     = "cioevents"
}

variable "events_table" {
  description = "BIGQUERY_TABLE: one row per event (docs/schema.md)."
  type        = string
  default     = "events"
}

variable "rejected_table" {
  description = "BIGQUERY_REJECTED_TABLE: messages the processor could not parse, with the reason."
  type        = string
  default     = "rejected_events"
}

variable "events_partition_expiration_days" {
  description = "Delete event partitions older than this many days; 0 keeps them forever."
  type        = number
  default     = 0
}

variable "cio_region" {
  description = "CIO_REGION: the Customer.io account's data region, which selects the Track API host."
  type        = string
  default     = "us"
}

variable "cio_actions" {
  description = "CIO_ACTIONS: the action policy (docs/actions.md). Empty keeps the built-in safe defaults."
  type        = string
  default     = ""
}

variable "cio_actions_allow_suppress" {
  description = "CIO_ACTIONS_ALLOW_SUPPRESS: permit the suppress action, which DELETES the person in Customer.io permanently."
  type        = bool
  default     = false
}

variable "cio_actions_dry_run" {
  description = "CIO_ACTIONS_DRY_RUN: log the Track API calls the policy would make instead of making them."
  type        = bool
  default     = false
}

variable "track_api_rate_budget" {
  description = "Total Track API requests per second this deployment may use. Customer.io's documented limit is 100 req/s (some sources say 1000); the default of 50 leaves headroom for your other integrations. cio_rate_limit x processor_max_instances must not exceed it."
  type        = number
  default     = 50
}

variable "cio_rate_limit" {
  description = "CIO_RATE_LIMIT: Track API requests per second per processor instance. The limiter is per instance, so the deployment's worst case is cio_rate_limit x processor_max_instances, which must stay within track_api_rate_budget (default 10 x 5 = 50 req/s)."
  type        = number
  default     = 10
}

variable "processor_max_instances" {
  description = "Upper bound on processor instances. It caps Track API traffic together with cio_rate_limit (see track_api_rate_budget)."
  type        = number
  default     = 5
}

variable "processor_concurrency" {
  description = "Concurrent pushes per processor instance. A delivery is mostly waiting on Firestore and BigQuery (measured: about 1 ms of CPU in 5-25 ms against the emulators; production round trips are longer), so one vCPU needs dozens in flight before it is busy: at 80, Cloud Run's two scale-out signals (60 % of the concurrency, 60 % CPU) arrive together at about 100 ms per delivery. The Track API rate is capped per instance regardless. Memory bounds it: see processor_memory_mib."
  type        = number
  default     = 80
}

variable "processor_memory_mib" {
  description = "Memory of each processor instance in MiB (512-4096 with one vCPU). An event in flight holds about 8 times its size (the push body, its base64 and decoded copies, the parsed event and the row: 127 MiB of heap was measured with eight 1 MB events in flight, garbage included), so processor_concurrency x max_body_bytes x 8 + 128 MiB for the runtime must fit. GOMEMLIMIT is set to 85 % of it, so the collector works harder rather than the instance running out."
  type        = number
  default     = 1024
}

variable "processor_timeout_seconds" {
  description = "Processor request timeout, also the push subscription's ack deadline (Pub/Sub allows 10-600)."
  type        = number
  default     = 60
}

variable "track_api_secret_version" {
  description = "Secret Manager version of the Track API site ID and key the processor loads (\"latest\" or a number; change it to roll instances onto new credentials)."
  type        = string
  default     = "latest"
}

variable "pii_policy" {
  description = "CIO_PII: per field keep, hash or drop (docs/privacy.md), e.g. \"email=hash,subject=drop\". Empty: the default (content and headers dropped, the rest kept). A policy that hashes creates the <prefix>-pii-key secret, whose value (at least 16 bytes) you add before the apply reaches the processor."
  type        = string
  default     = ""
}

variable "log_level" {
  description = "LOG_LEVEL for both functions."
  type        = string
  default     = "info"
}

variable "views_lookback_days" {
  description = "Days of events the reporting views read when the query does not narrow them (each view filters event_time, the partition column)."
  type        = number
  default     = 400
}

variable "workspaces" {
  description = "Named workspaces (as named in the signing keys secret) that have their own Track API credentials. A non-empty list creates the <prefix>-track-workspaces secret, whose value you add before the apply reaches the processor: name=site_id:api_key[:us|eu] per workspace, comma-separated (CIO_WORKSPACE_CREDENTIALS). An event from a workspace without credentials is stored and never acted on."
  type        = list(string)
  default     = []
}

variable "workspace_actions" {
  description = "CIO_WORKSPACE_ACTIONS: the action policy of named workspaces, each as cio_actions takes it (\"\" for the safe defaults, \"none\", or a JSON policy). A workspace not listed has cio_actions. A policy other than \"none\" needs the workspace's credentials (listed in workspaces) unless cio_actions_dry_run."
  type        = map(string)
  default     = {}
}

variable "workspaces_secret_version" {
  description = "Secret Manager version of the named workspaces' Track API credentials the processor loads (\"latest\" or a number; change it to roll instances onto new credentials)."
  type        = string
  default     = "latest"
}
