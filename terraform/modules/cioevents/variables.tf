# Go duration strings, as time.ParseDuration accepts them. Rules that compare
# durations sum regexall(duration_part, ...) over duration_unit_seconds; the
# condition has to name its own variable, so that sum is spelled out in each
# rule instead of living in a local. A comparing rule passes a value that is
# not a duration at all, which the variable's format rule already refuses:
# one mistake, one message.
locals {
  duration_pattern = "^([0-9]+(\\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$"
  duration_part    = "([0-9]+(?:\\.[0-9]+)?)(ns|us|µs|ms|s|m|h)"
  duration_unit_seconds = {
    ns   = 0.000000001
    us   = 0.000001
    "µs" = 0.000001
    ms   = 0.001
    s    = 1
    m    = 60
    h    = 3600
  }

  # Go's regexp, which Terraform uses, refuses counted repetitions above
  # 1000, so name lengths are checked with length() instead of {m,n}.
  bigquery_id_pattern = "^[A-Za-z_][A-Za-z0-9_]*$"
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

  validation {
    condition     = !can(regex(local.duration_pattern, var.signature_max_age)) || try(sum([for p in regexall(local.duration_part, var.signature_max_age) : tonumber(p[0]) * local.duration_unit_seconds[p[1]]]) >= 60 && sum([for p in regexall(local.duration_part, var.signature_max_age) : tonumber(p[0]) * local.duration_unit_seconds[p[1]]]) <= 2592000, false)
    error_message = "signature_max_age must be between 1m and 720h (30 days), the range the receiver accepts."
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

  validation {
    condition     = !can(regex(local.duration_pattern, var.signature_max_ahead)) || try(sum([for p in regexall(local.duration_part, var.signature_max_ahead) : tonumber(p[0]) * local.duration_unit_seconds[p[1]]]) >= 1 && sum([for p in regexall(local.duration_part, var.signature_max_ahead) : tonumber(p[0]) * local.duration_unit_seconds[p[1]]]) <= 86400, false)
    error_message = "signature_max_ahead must be between 1s and 24h, the range the receiver accepts."
  }
}

variable "max_body_bytes" {
  description = "CIO_MAX_BODY_BYTES: bodies above this are published as an 'oversized' stub (still answered 200). Real events weigh about 1 KB, content-bearing *_sent events up to a few hundred KB, so 1 MiB keeps every ordinary body whole; Pub/Sub's 10 MB limit is the ceiling."
  type        = number
  default     = 1048576

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

  validation {
    condition     = !can(regex(local.duration_pattern, var.publish_timeout)) || try(sum([for p in regexall(local.duration_part, var.publish_timeout) : tonumber(p[0]) * local.duration_unit_seconds[p[1]]]) >= 0.1 && sum([for p in regexall(local.duration_part, var.publish_timeout) : tonumber(p[0]) * local.duration_unit_seconds[p[1]]]) <= 3.5, false)
    error_message = "publish_timeout must be between 100ms and 3.5s, the range the receiver accepts: Customer.io gives up after 4s."
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
  description = "Concurrent requests per receiver instance (each instance has one vCPU). Customer.io sends one event at a time per webhook, so a few per instance is plenty. Memory bounds it: a request may hold its body three times (the read buffer, which grows by doubling, and the published copy), so receiver_concurrency x max_body_bytes x 3 + 128 MiB for the runtime must fit in receiver_memory_mib."
  type        = number
  default     = 12

  validation {
    condition     = var.receiver_concurrency >= 1 && var.receiver_concurrency <= 1000 && floor(var.receiver_concurrency) == var.receiver_concurrency
    error_message = "receiver_concurrency must be a whole number between 1 and 1000."
  }

  validation {
    condition     = var.receiver_concurrency * var.max_body_bytes * 3 + 134217728 <= var.receiver_memory_mib * 1048576
    error_message = "receiver_concurrency x max_body_bytes x 3 + 128 MiB exceeds receiver_memory_mib: a burst of large bodies would run the receiver out of memory. Lower receiver_concurrency or max_body_bytes, or raise receiver_memory_mib."
  }
}

variable "body_budget_bytes" {
  description = "CIO_BODY_BUDGET_BYTES: request-body bytes one receiver instance holds at once, authenticated or not; over it the receiver answers 503 with Retry-After, which Customer.io retries. It bounds memory whatever the concurrency: 64 MiB + 3 x the budget must fit in receiver_memory_mib."
  type        = number
  default     = 67108864

  validation {
    condition     = var.body_budget_bytes >= 1048576 && var.body_budget_bytes <= 1073741824 && floor(var.body_budget_bytes) == var.body_budget_bytes
    error_message = "body_budget_bytes must be a whole number between 1 MiB and 1 GiB."
  }

  validation {
    condition     = var.body_budget_bytes > var.max_body_bytes
    error_message = "body_budget_bytes must exceed max_body_bytes, or no body at the limit could ever be read."
  }

  validation {
    condition     = 67108864 + 3 * var.body_budget_bytes <= var.receiver_memory_mib * 1048576
    error_message = "64 MiB + 3 x body_budget_bytes exceeds receiver_memory_mib: the bodies, their Pub/Sub request and its encoding would not fit. Lower body_budget_bytes or raise receiver_memory_mib."
  }
}

variable "receiver_memory_mib" {
  description = "Memory of each receiver instance in MiB (512-4096 with one vCPU). See receiver_concurrency for what it must hold."
  type        = number
  default     = 512

  validation {
    condition     = var.receiver_memory_mib >= 512 && var.receiver_memory_mib <= 4096 && floor(var.receiver_memory_mib) == var.receiver_memory_mib
    error_message = "receiver_memory_mib must be a whole number of MiB between 512 and 4096."
  }
}

variable "signing_keys_version" {
  description = "Secret Manager version of the signing keys the receiver loads. \"latest\" is read only when an instance starts; pin a number in the environment's tfvars file and change it to roll every instance onto a new set of keys (docs/deploy.md, Rotating keys)."
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
  description = "How long dead-lettered messages are kept for `cioevents replay` (600s to 31 days). ledger_ttl must outlive it by a day, so that a message replayed late in its retention still finds its ledger entry and is not processed twice."
  type        = string
  default     = "604800s"

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
  description = "LEDGER_TTL: how long a ledger document lives after the later of its event and the delivery that last claimed it (192h-9600h). It must outlast signature_max_age, or a late Customer.io retry would be processed twice, and dead_letter_retention plus a day, or a late replay would."
  type        = string
  default     = "336h"

  validation {
    condition     = can(regex(local.duration_pattern, var.ledger_ttl))
    error_message = "ledger_ttl must be a Go duration such as 336h."
  }

  validation {
    condition     = !can(regex(local.duration_pattern, var.ledger_ttl)) || try(sum([for p in regexall(local.duration_part, var.ledger_ttl) : tonumber(p[0]) * local.duration_unit_seconds[p[1]]]) >= 691200 && sum([for p in regexall(local.duration_part, var.ledger_ttl) : tonumber(p[0]) * local.duration_unit_seconds[p[1]]]) <= 34560000, false)
    error_message = "ledger_ttl must be between 192h and 9600h (8 to 400 days), the range the processor accepts."
  }

  validation {
    condition     = !can(regex(local.duration_pattern, var.ledger_ttl)) || !can(regex(local.duration_pattern, var.signature_max_age)) || try(sum([for p in regexall(local.duration_part, var.ledger_ttl) : tonumber(p[0]) * local.duration_unit_seconds[p[1]]]) >= sum([for p in regexall(local.duration_part, var.signature_max_age) : tonumber(p[0]) * local.duration_unit_seconds[p[1]]]), false)
    error_message = "ledger_ttl must be at least signature_max_age: a Customer.io retry accepted that late must still find its ledger entry."
  }

  validation {
    condition     = !can(regex(local.duration_pattern, var.ledger_ttl)) || !can(regex("^[0-9]+s$", var.dead_letter_retention)) || try(sum([for p in regexall(local.duration_part, var.ledger_ttl) : tonumber(p[0]) * local.duration_unit_seconds[p[1]]]) >= tonumber(trimsuffix(var.dead_letter_retention, "s")) + 86400, false)
    error_message = "ledger_ttl must be at least dead_letter_retention plus one day: a message replayed from the dead-letter subscription late in its retention must still find its ledger entry."
  }
}

variable "ledger_lease" {
  description = "LEDGER_LEASE: how long a delivery owns an event before another delivery may take it over (5s-10m). It must be longer than processor_timeout_seconds: a redelivery that takes over while the first delivery is still running would repeat its side effects. The processor's own default (60s) equals the default timeout, so Terraform always sets it."
  type        = string
  default     = "2m"

  validation {
    condition     = can(regex(local.duration_pattern, var.ledger_lease))
    error_message = "ledger_lease must be a Go duration such as 2m."
  }

  validation {
    condition     = !can(regex(local.duration_pattern, var.ledger_lease)) || try(sum([for p in regexall(local.duration_part, var.ledger_lease) : tonumber(p[0]) * local.duration_unit_seconds[p[1]]]) >= 5 && sum([for p in regexall(local.duration_part, var.ledger_lease) : tonumber(p[0]) * local.duration_unit_seconds[p[1]]]) <= 600, false)
    error_message = "ledger_lease must be between 5s and 10m, the range the processor accepts."
  }

  validation {
    condition     = !can(regex(local.duration_pattern, var.ledger_lease)) || try(sum([for p in regexall(local.duration_part, var.ledger_lease) : tonumber(p[0]) * local.duration_unit_seconds[p[1]]]) > var.processor_timeout_seconds, false)
    error_message = "ledger_lease must be longer than processor_timeout_seconds, or a redelivery can take over an event the first delivery is still working on."
  }

  validation {
    condition     = !can(regex(local.duration_pattern, var.ledger_lease)) || !can(regex(local.duration_pattern, var.step_timeout)) || !can(regex(local.duration_pattern, var.ledger_timeout)) || try(sum([for p in regexall(local.duration_part, var.ledger_lease) : tonumber(p[0]) * local.duration_unit_seconds[p[1]]]) >= sum([for p in regexall(local.duration_part, var.step_timeout) : tonumber(p[0]) * local.duration_unit_seconds[p[1]]]) + sum([for p in regexall(local.duration_part, var.ledger_timeout) : tonumber(p[0]) * local.duration_unit_seconds[p[1]]]) + 5, false)
    error_message = "ledger_lease must be at least step_timeout + ledger_timeout + 5s: one step, the ledger call that renews the lease before it, and the margin to stop in time."
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

  validation {
    condition     = !can(regex(local.duration_pattern, var.step_timeout)) || try(sum([for p in regexall(local.duration_part, var.step_timeout) : tonumber(p[0]) * local.duration_unit_seconds[p[1]]]) >= 1 && sum([for p in regexall(local.duration_part, var.step_timeout) : tonumber(p[0]) * local.duration_unit_seconds[p[1]]]) <= 300, false)
    error_message = "step_timeout must be between 1s and 5m, the range the processor accepts."
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

  validation {
    condition     = !can(regex(local.duration_pattern, var.ledger_timeout)) || try(sum([for p in regexall(local.duration_part, var.ledger_timeout) : tonumber(p[0]) * local.duration_unit_seconds[p[1]]]) >= 1 && sum([for p in regexall(local.duration_part, var.ledger_timeout) : tonumber(p[0]) * local.duration_unit_seconds[p[1]]]) <= 300, false)
    error_message = "ledger_timeout must be between 1s and 5m, the range the processor accepts."
  }
}

variable "ledger_mode" {
  description = "LEDGER_MODE: lean (default: an event costs the ledger at most two writes; a crash repeats the idempotent side effects since the claim) or strict (a write per step; a crash repeats only the call in flight)."
  type        = string
  default     = "lean"

  validation {
    condition     = contains(["lean", "strict"], var.ledger_mode)
    error_message = "ledger_mode must be lean or strict."
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
    condition     = can(regex(local.bigquery_id_pattern, var.bigquery_dataset)) && length(var.bigquery_dataset) <= 1024
    error_message = "bigquery_dataset must be 1-1024 letters, digits and underscores, not starting with a digit."
  }
}

variable "events_table" {
  description = "BIGQUERY_TABLE: one row per event (docs/schema.md)."
  type        = string
  default     = "events"

  validation {
    condition     = can(regex(local.bigquery_id_pattern, var.events_table)) && length(var.events_table) <= 1016
    error_message = "events_table must be 1-1016 letters, digits and underscores, not starting with a digit (the view appends _deduped, and BigQuery allows 1024)."
  }
}

variable "rejected_table" {
  description = "BIGQUERY_REJECTED_TABLE: messages the processor could not parse, with the reason."
  type        = string
  default     = "rejected_events"

  validation {
    condition     = can(regex(local.bigquery_id_pattern, var.rejected_table)) && length(var.rejected_table) <= 1024
    error_message = "rejected_table must be 1-1024 letters, digits and underscores, not starting with a digit."
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
  description = "Concurrent pushes per processor instance. A delivery is mostly waiting on Firestore and BigQuery (measured: about 1 ms of CPU in 5-25 ms against the emulators; production round trips are longer), so one vCPU needs dozens in flight before it is busy: at 80, Cloud Run's two scale-out signals (60 % of the concurrency, 60 % CPU) arrive together at about 100 ms per delivery. The Track API rate is capped per instance regardless. Memory bounds it: see processor_memory_mib."
  type        = number
  default     = 80

  validation {
    condition     = var.processor_concurrency >= 1 && var.processor_concurrency <= 1000
    error_message = "processor_concurrency must be between 1 and 1000."
  }
}

variable "processor_memory_mib" {
  description = "Memory of each processor instance in MiB (512-4096 with one vCPU). An event in flight holds about 8 times its size (the push body, its base64 and decoded copies, the parsed event and the row: 127 MiB of heap was measured with eight 1 MB events in flight, garbage included), so processor_concurrency x max_body_bytes x 8 + 128 MiB for the runtime must fit. GOMEMLIMIT is set to 85 % of it, so the collector works harder rather than the instance running out."
  type        = number
  default     = 1024

  validation {
    condition     = var.processor_memory_mib >= 512 && var.processor_memory_mib <= 4096 && floor(var.processor_memory_mib) == var.processor_memory_mib
    error_message = "processor_memory_mib must be a whole number of MiB between 512 and 4096."
  }

  validation {
    condition     = var.processor_concurrency * var.max_body_bytes * 8 + 134217728 <= var.processor_memory_mib * 1048576
    error_message = "processor_concurrency x max_body_bytes x 8 + 128 MiB exceeds processor_memory_mib: a burst of large events would run the processor out of memory. Lower processor_concurrency or max_body_bytes, or raise processor_memory_mib."
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

variable "pii_policy" {
  description = "CIO_PII: per field keep, hash or drop (docs/privacy.md), e.g. \"email=hash,subject=drop\". Empty: the default (content and headers dropped, the rest kept). A policy that hashes creates the <prefix>-pii-key secret, whose value (at least 16 bytes) you add before the apply reaches the processor."
  type        = string
  default     = ""

  validation {
    condition     = var.pii_policy == "" || can(regex("^[a-z_]+=[a-z-]+(,[a-z_]+=[a-z-]+)*$", var.pii_policy))
    error_message = "pii_policy must be field=mode pairs separated by commas, such as email=hash,subject=drop."
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
