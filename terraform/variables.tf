# Go duration strings, as time.ParseDuration accepts them.
locals {
  duration_pattern = "^([0-9]+(\\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$"
}

variable "project_id" {
  description = "Project to deploy into. It must already exist, with billing and the bootstrap APIs enabled (docs/deploy.md)."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{4,28}[a-z0-9]$", var.project_id))
    error_message = "project_id must be a project ID (6-30 lowercase letters, digits or hyphens), not a project number or name."
  }
}

variable "region" {
  description = "Region for the functions, the source bucket and the secrets' replicas."
  type        = string
  default     = "us-central1"

  validation {
    condition     = can(regex("^[a-z]+-[a-z]+[0-9]$", var.region))
    error_message = "region must look like us-central1 or europe-west1."
  }
}

variable "name_prefix" {
  description = "Prefix for every resource name, so several deployments can share a project. It also prefixes service account IDs, which are at most 30 characters."
  type        = string
  default     = "cioevents"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{2,19}$", var.name_prefix))
    error_message = "name_prefix must be 3-20 characters: a lowercase letter, then lowercase letters, digits or hyphens."
  }
}

variable "labels" {
  description = "Labels added to every resource that supports them."
  type        = map(string)
  default     = { app = "cioevents" }
}

# --- Receiver -----------------------------------------------------------------

variable "signature_max_age" {
  description = "CIO_SIGNATURE_MAX_AGE: oldest X-CIO-Timestamp accepted. Customer.io retries for 7 days, so keep this above 168h."
  type        = string
  default     = "192h"

  validation {
    condition     = can(regex(local.duration_pattern, var.signature_max_age))
    error_message = "signature_max_age must be a Go duration such as 192h."
  }
}

variable "signature_max_ahead" {
  description = "CIO_SIGNATURE_MAX_AHEAD: how far in the future an X-CIO-Timestamp may be (clock skew)."
  type        = string
  default     = "1h"

  validation {
    condition     = can(regex(local.duration_pattern, var.signature_max_ahead))
    error_message = "signature_max_ahead must be a Go duration such as 1h."
  }
}

variable "max_body_bytes" {
  description = "CIO_MAX_BODY_BYTES: bodies above this are published as an 'oversized' stub. Pub/Sub messages are limited to 10 MB including attributes."
  type        = number
  default     = 9437184

  validation {
    condition     = var.max_body_bytes >= 1024 && var.max_body_bytes <= 9900000 && floor(var.max_body_bytes) == var.max_body_bytes
    error_message = "max_body_bytes must be a whole number between 1024 and 9900000 (Pub/Sub's 10 MB limit leaves room for attributes)."
  }
}

variable "publish_timeout" {
  description = "CIO_PUBLISH_TIMEOUT: how long the receiver waits for Pub/Sub before answering 503 (100ms-3.5s). Customer.io gives up after 4s."
  type        = string
  default     = "3s"

  validation {
    condition     = can(regex(local.duration_pattern, var.publish_timeout))
    error_message = "publish_timeout must be a Go duration such as 3s."
  }
}

variable "receiver_max_instances" {
  description = "Upper bound on receiver instances; the receiver only verifies and publishes, so a few instances carry a lot."
  type        = number
  default     = 20

  validation {
    condition     = var.receiver_max_instances >= 1 && var.receiver_max_instances <= 1000
    error_message = "receiver_max_instances must be between 1 and 1000."
  }
}

variable "receiver_concurrency" {
  description = "Concurrent requests per receiver instance. Values above 1 run with one full vCPU."
  type        = number
  default     = 80

  validation {
    condition     = var.receiver_concurrency >= 1 && var.receiver_concurrency <= 1000
    error_message = "receiver_concurrency must be between 1 and 1000."
  }
}

variable "signing_keys_version" {
  description = "Secret Manager version of the signing keys the receiver loads. \"latest\" is read only when an instance starts; pin a number and change it to roll every instance onto a new set of keys (docs/deploy.md, key rotation)."
  type        = string
  default     = "latest"

  validation {
    condition     = can(regex("^(latest|[1-9][0-9]*)$", var.signing_keys_version))
    error_message = "signing_keys_version must be \"latest\" or a version number."
  }
}

# --- Pub/Sub ------------------------------------------------------------------

variable "max_delivery_attempts" {
  description = "Deliveries of one message to the processor before it goes to the dead-letter topic (Pub/Sub allows 5-100)."
  type        = number
  default     = 10

  validation {
    condition     = var.max_delivery_attempts >= 5 && var.max_delivery_attempts <= 100
    error_message = "max_delivery_attempts must be between 5 and 100."
  }
}

variable "dead_letter_retention" {
  description = "How long dead-lettered messages are kept for `cioevents replay` (Pub/Sub allows up to 31 days)."
  type        = string
  default     = "1209600s"

  validation {
    condition     = can(regex("^[0-9]+s$", var.dead_letter_retention)) && try(tonumber(trimsuffix(var.dead_letter_retention, "s")) >= 600 && tonumber(trimsuffix(var.dead_letter_retention, "s")) <= 2678400, false)
    error_message = "dead_letter_retention must be seconds with an s suffix, between 600s and 2678400s (31 days)."
  }
}

# --- Processor ----------------------------------------------------------------

variable "create_firestore_database" {
  description = "Create the Firestore database named by firestore_database. Set false to use one that already exists, such as the project's (default) database."
  type        = bool
  default     = true
}

variable "firestore_database" {
  description = "FIRESTORE_DATABASE: the database holding the dedupe ledger. A dedicated one keeps cioevents out of any existing (default) database."
  type        = string
  default     = "cioevents"

  validation {
    condition     = var.firestore_database == "(default)" || can(regex("^[a-z][a-z0-9-]{2,61}[a-z0-9]$", var.firestore_database))
    error_message = "firestore_database must be (default) or 4-63 lowercase letters, digits or hyphens, starting with a letter."
  }
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

  validation {
    condition     = can(regex("^[A-Za-z0-9_-]{1,100}$", var.ledger_collection))
    error_message = "ledger_collection must be 1-100 letters, digits, underscores or hyphens."
  }
}

variable "ledger_ttl" {
  description = "LEDGER_TTL: how long a ledger document lives after its event (192h-9600h). It must outlast signature_max_age, or a late Customer.io retry would be processed twice."
  type        = string
  default     = "336h"

  validation {
    condition     = can(regex(local.duration_pattern, var.ledger_ttl))
    error_message = "ledger_ttl must be a Go duration such as 336h."
  }
}

variable "ledger_lease" {
  description = "LEDGER_LEASE: how long a delivery owns an event before another delivery may take it over (5s-10m). Keep it above processor_timeout_seconds."
  type        = string
  default     = "2m"

  validation {
    condition     = can(regex(local.duration_pattern, var.ledger_lease))
    error_message = "ledger_lease must be a Go duration such as 2m."
  }
}

variable "step_timeout" {
  description = "CIO_STEP_TIMEOUT: the longest one call to BigQuery or the Track API may take (1s-5m). ledger_lease must be at least this plus 15s."
  type        = string
  default     = "20s"

  validation {
    condition     = can(regex(local.duration_pattern, var.step_timeout))
    error_message = "step_timeout must be a Go duration such as 20s."
  }
}

variable "ledger_timeout" {
  description = "LEDGER_TIMEOUT: the longest one Firestore ledger call may take (1s-5m). ledger_lease must be at least step_timeout + ledger_timeout + 5s."
  type        = string
  default     = "10s"

  validation {
    condition     = can(regex(local.duration_pattern, var.ledger_timeout))
    error_message = "ledger_timeout must be a Go duration such as 10s."
  }
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

  validation {
    condition     = can(regex("^[A-Za-z_][A-Za-z0-9_]{0,1023}$", var.bigquery_dataset))
    error_message = "bigquery_dataset must be letters, digits and underscores."
  }
}

variable "events_table" {
  description = "BIGQUERY_TABLE: one row per event (see the README, What lands in BigQuery)."
  type        = string
  default     = "events"

  validation {
    condition     = can(regex("^[A-Za-z_][A-Za-z0-9_]{0,1023}$", var.events_table))
    error_message = "events_table must be letters, digits and underscores."
  }
}

variable "rejected_table" {
  description = "BIGQUERY_REJECTED_TABLE: messages the processor could not parse, with the reason."
  type        = string
  default     = "rejected_events"

  validation {
    condition     = can(regex("^[A-Za-z_][A-Za-z0-9_]{0,1023}$", var.rejected_table))
    error_message = "rejected_table must be letters, digits and underscores."
  }
}

variable "events_partition_expiration_days" {
  description = "Delete event partitions older than this many days; 0 keeps them forever."
  type        = number
  default     = 0

  validation {
    condition     = var.events_partition_expiration_days >= 0 && floor(var.events_partition_expiration_days) == var.events_partition_expiration_days
    error_message = "events_partition_expiration_days must be a whole number, 0 or more."
  }
}

variable "cio_region" {
  description = "CIO_REGION: the Customer.io account's data region, which selects the Track API host."
  type        = string
  default     = "us"

  validation {
    condition     = contains(["us", "eu"], var.cio_region)
    error_message = "cio_region must be us or eu."
  }
}

variable "cio_actions" {
  description = "CIO_ACTIONS: the action policy (see the README, Actions back into Customer.io). Empty keeps the built-in safe defaults."
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

  validation {
    condition     = var.track_api_rate_budget > 0 && var.track_api_rate_budget <= 100
    error_message = "track_api_rate_budget must be above 0 and at most 100 req/s."
  }
}

variable "cio_rate_limit" {
  description = "CIO_RATE_LIMIT: Track API requests per second per processor instance. The limiter is per instance, so the deployment's worst case is cio_rate_limit x processor_max_instances, which must stay within track_api_rate_budget (default 10 x 5 = 50 req/s)."
  type        = number
  default     = 10

  validation {
    condition     = var.cio_rate_limit > 0 && var.cio_rate_limit <= 100
    error_message = "cio_rate_limit must be above 0 and at most 100."
  }

  validation {
    condition     = var.cio_rate_limit * var.processor_max_instances <= var.track_api_rate_budget
    error_message = "cio_rate_limit x processor_max_instances exceeds track_api_rate_budget: lower one of the first two."
  }
}

variable "processor_max_instances" {
  description = "Upper bound on processor instances. It caps Track API traffic together with cio_rate_limit (see track_api_rate_budget)."
  type        = number
  default     = 5

  validation {
    condition     = var.processor_max_instances >= 1 && var.processor_max_instances <= 100
    error_message = "processor_max_instances must be between 1 and 100."
  }
}

variable "processor_concurrency" {
  description = "Concurrent pushes per processor instance. Throughput only; the Track API rate is capped per instance regardless."
  type        = number
  default     = 8

  validation {
    condition     = var.processor_concurrency >= 1 && var.processor_concurrency <= 1000
    error_message = "processor_concurrency must be between 1 and 1000."
  }
}

variable "processor_timeout_seconds" {
  description = "Processor request timeout, also the push subscription's ack deadline (Pub/Sub allows 10-600)."
  type        = number
  default     = 60

  validation {
    condition     = var.processor_timeout_seconds >= 10 && var.processor_timeout_seconds <= 600
    error_message = "processor_timeout_seconds must be between 10 and 600."
  }
}

variable "track_api_secret_version" {
  description = "Secret Manager version of the Track API site ID and key the processor loads (\"latest\" or a number; change it to roll instances onto new credentials)."
  type        = string
  default     = "latest"

  validation {
    condition     = can(regex("^(latest|[1-9][0-9]*)$", var.track_api_secret_version))
    error_message = "track_api_secret_version must be \"latest\" or a version number."
  }
}

variable "log_level" {
  description = "LOG_LEVEL for both functions."
  type        = string
  default     = "info"

  validation {
    condition     = contains(["debug", "info", "warn", "error"], var.log_level)
    error_message = "log_level must be debug, info, warn or error."
  }
}
