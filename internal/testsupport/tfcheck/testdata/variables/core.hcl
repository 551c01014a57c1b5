# Values for the validation rules of terraform/modules/cioevents/variables.tf, planned by
# TestVariableRules without a provider. Every rule needs a refuse case that it
# refuses (and that nothing else refuses), and every validated variable an
# accept case; a new .tf file with its own variables adds its own file here.
# `error` is text of the refusing rule's error_message.

base = {
  project_id = "my-project-id"
}

# --- names --------------------------------------------------------------------

accept "project ids at the length limits" {
  vars = { project_id = "abc-12" }
}

accept "project id of 30 characters" {
  vars = { project_id = "a-project-id-of-30-characters0" }
}

refuse "project number instead of id" {
  vars  = { project_id = "123456789012" }
  error = "project_id must be a project ID"
}

refuse "project id ending in a hyphen" {
  vars  = { project_id = "my-project-" }
  error = "project_id must be a project ID"
}

accept "another region" {
  vars = { region = "europe-west1" }
}

refuse "zone instead of region" {
  vars  = { region = "us-central1-a" }
  error = "region must look like us-central1"
}

accept "short prefix" {
  vars = { name_prefix = "cio-2" }
}

refuse "prefix too long for service account ids" {
  vars  = { name_prefix = "cioevents-production1" }
  error = "name_prefix must be 3-20 characters"
}

refuse "prefix with uppercase" {
  vars  = { name_prefix = "CioEvents" }
  error = "name_prefix must be 3-20 characters"
}

# --- receiver -----------------------------------------------------------------

accept "durations in several units" {
  vars = {
    signature_max_age   = "168h0m"
    signature_max_ahead = "1h30m"
    publish_timeout     = "2500ms"
  }
}

refuse "signature max age in days" {
  vars  = { signature_max_age = "8d" }
  error = "signature_max_age must be a Go duration"
}

accept "signature max age as a fraction" {
  vars = { signature_max_age = "190.5h" }
}

refuse "signature max ahead without unit" {
  vars  = { signature_max_ahead = "3600" }
  error = "signature_max_ahead must be a Go duration"
}

refuse "signature max age under a minute" {
  vars  = { signature_max_age = "59s" }
  error = "signature_max_age must be between 1m and 720h"
}

refuse "signature max ahead over a day" {
  vars  = { signature_max_ahead = "24h0m1s" }
  error = "signature_max_ahead must be between 1s and 24h"
}

accept "publish timeout limits" {
  vars = {
    publish_timeout     = "100ms"
    signature_max_ahead = "1s"
  }
}

accept "longest publish timeout and signature windows" {
  vars = {
    publish_timeout     = "3.5s"
    signature_max_ahead = "24h"
    signature_max_age   = "1m"
  }
}

refuse "publish timeout past Customer.io's patience" {
  vars  = { publish_timeout = "4s" }
  error = "publish_timeout must be between 100ms and 3.5s"
}

refuse "publish timeout too short" {
  vars  = { publish_timeout = "99ms" }
  error = "publish_timeout must be between 100ms and 3.5s"
}

refuse "publish timeout with a space" {
  vars  = { publish_timeout = "3 s" }
  error = "publish_timeout must be a Go duration"
}

accept "smallest body limit" {
  vars = { max_body_bytes = 1024 }
}

accept "largest body limit" {
  vars = {
    max_body_bytes        = 9900000
    processor_concurrency = 8
  }
}

refuse "body limit above what Pub/Sub carries" {
  vars  = { max_body_bytes = 9900001 }
  error = "max_body_bytes must be a whole number between 1024 and 9900000"
}

refuse "fractional body limit" {
  vars  = { max_body_bytes = 2048.5 }
  error = "max_body_bytes must be a whole number between 1024 and 9900000"
}

accept "one receiver instance" {
  vars = { receiver_max_instances = 1 }
}

refuse "no receiver instances" {
  vars  = { receiver_max_instances = 0 }
  error = "receiver_max_instances must be between 1 and 1000"
}

accept "most receiver concurrency that 512 MiB holds with 9 MiB bodies" {
  vars = {
    receiver_concurrency  = 14
    max_body_bytes        = 9437184
    processor_concurrency = 8
  }
}

accept "more concurrency with smaller bodies" {
  vars = {
    receiver_concurrency = 80
    max_body_bytes       = 1048576
  }
}

accept "more concurrency with more memory" {
  vars = {
    receiver_concurrency  = 80
    receiver_memory_mib   = 4096
    max_body_bytes        = 16777216 / 2
    processor_concurrency = 8
  }
}

refuse "no receiver concurrency" {
  vars  = { receiver_concurrency = 0 }
  error = "receiver_concurrency must be a whole number between 1 and 1000"
}

refuse "receiver concurrency x body over memory" {
  vars = {
    receiver_concurrency  = 15
    max_body_bytes        = 9437184
    processor_concurrency = 8
  }
  error = "receiver_concurrency x max_body_bytes x 3 + 128 MiB exceeds receiver_memory_mib"
}

refuse "the old default concurrency with 9 MiB bodies" {
  vars = {
    receiver_concurrency  = 80
    max_body_bytes        = 9437184
    processor_concurrency = 8
  }
  error = "receiver_concurrency x max_body_bytes x 3 + 128 MiB exceeds receiver_memory_mib"
}

accept "a larger body budget with more memory" {
  vars = {
    body_budget_bytes   = 268435456
    receiver_memory_mib = 1024
  }
}

refuse "body budget below one MiB" {
  vars = {
    body_budget_bytes = 1048575
    max_body_bytes    = 1024
  }
  error = "body_budget_bytes must be a whole number between 1 MiB and 1 GiB"
}

refuse "body budget not above the body limit" {
  vars = {
    body_budget_bytes     = 2097152
    max_body_bytes        = 2097152
    processor_concurrency = 8
  }
  error = "body_budget_bytes must exceed max_body_bytes"
}

refuse "body budget that the instance cannot hold" {
  vars  = { body_budget_bytes = 268435456 }
  error = "64 MiB + 3 x body_budget_bytes exceeds receiver_memory_mib"
}

accept "receiver memory at the top" {
  vars = { receiver_memory_mib = 4096 }
}

refuse "receiver memory above one vCPU's maximum" {
  vars  = { receiver_memory_mib = 4097 }
  error = "receiver_memory_mib must be a whole number of MiB between 512 and 4096"
}

accept "pinned signing keys version" {
  vars = { signing_keys_version = "3" }
}

refuse "signing keys version zero" {
  vars  = { signing_keys_version = "0" }
  error = "signing_keys_version must be \"latest\" or a version number"
}

refuse "signing keys version as a resource name" {
  vars  = { signing_keys_version = "versions/3" }
  error = "signing_keys_version must be \"latest\" or a version number"
}

# --- Pub/Sub ------------------------------------------------------------------

accept "delivery attempts at Pub/Sub's limits" {
  vars = { max_delivery_attempts = 5 }
}

accept "most delivery attempts" {
  vars = { max_delivery_attempts = 100 }
}

refuse "too few delivery attempts" {
  vars  = { max_delivery_attempts = 4 }
  error = "max_delivery_attempts must be between 5 and 100"
}

accept "shortest dead-letter retention" {
  vars = { dead_letter_retention = "600s" }
}

accept "longest dead-letter retention with a ledger that outlives it" {
  vars = {
    dead_letter_retention = "2678400s"
    ledger_ttl            = "768h"
  }
}

refuse "dead-letter retention in days" {
  vars  = { dead_letter_retention = "7d" }
  error = "dead_letter_retention must be seconds with an s suffix"
}

refuse "dead-letter retention below ten minutes" {
  vars  = { dead_letter_retention = "599s" }
  error = "dead_letter_retention must be seconds with an s suffix, between 600s and 2678400s"
}

# --- ledger -------------------------------------------------------------------

accept "the project's default database" {
  vars = {
    create_firestore_database = false
    firestore_database        = "(default)"
  }
}

refuse "database name with underscore" {
  vars  = { firestore_database = "cio_events" }
  error = "firestore_database must be (default) or 4-63 lowercase letters"
}

accept "another collection" {
  vars = { ledger_collection = "Ledger-2_b" }
}

refuse "collection path instead of id" {
  vars  = { ledger_collection = "a/b" }
  error = "ledger_collection must be 1-100 letters"
}

accept "ledger ttl in minutes" {
  vars = { ledger_ttl = "20160m" }
}

accept "shortest ledger ttl with matching limits" {
  vars = {
    ledger_ttl            = "192h"
    dead_letter_retention = "604800s"
  }
}

refuse "ledger ttl in days" {
  vars  = { ledger_ttl = "14d" }
  error = "ledger_ttl must be a Go duration"
}

refuse "ledger ttl beyond the processor's range" {
  vars  = { ledger_ttl = "9601h" }
  error = "ledger_ttl must be between 192h and 9600h"
}

refuse "ledger ttl shorter than the signature max age" {
  vars  = { signature_max_age = "337h" }
  error = "ledger_ttl must be at least signature_max_age"
}

refuse "ledger ttl shorter than the dead-letter retention plus a day" {
  vars  = { dead_letter_retention = "1209600s" }
  error = "ledger_ttl must be at least dead_letter_retention plus one day"
}

refuse "ledger ttl equal to the dead-letter retention plus less than a day" {
  vars = {
    ledger_ttl            = "360h"
    dead_letter_retention = "1209601s"
  }
  error = "ledger_ttl must be at least dead_letter_retention plus one day"
}

accept "lease just above the processor timeout" {
  vars = {
    ledger_lease              = "10m"
    processor_timeout_seconds = 599
  }
}

refuse "lease with a bad unit" {
  vars  = { ledger_lease = "2min" }
  error = "ledger_lease must be a Go duration"
}

refuse "lease above the processor's range" {
  vars  = { ledger_lease = "11m" }
  error = "ledger_lease must be between 5s and 10m"
}

refuse "lease equal to the processor timeout" {
  vars  = { ledger_lease = "60s" }
  error = "ledger_lease must be longer than processor_timeout_seconds"
}

refuse "processor timeout raised past the lease" {
  vars  = { processor_timeout_seconds = 300 }
  error = "ledger_lease must be longer than processor_timeout_seconds"
}

accept "longer steps with a lease to match" {
  vars = {
    step_timeout   = "1m"
    ledger_timeout = "30s"
    ledger_lease   = "2m"
  }
}

refuse "step timeout with a bad unit" {
  vars  = { step_timeout = "20 sec" }
  error = "step_timeout must be a Go duration"
}

refuse "step timeout above the processor's range" {
  vars = {
    step_timeout = "6m"
    ledger_lease = "10m"
  }
  error = "step_timeout must be between 1s and 5m"
}

refuse "ledger timeout with a bad unit" {
  vars  = { ledger_timeout = "ten seconds" }
  error = "ledger_timeout must be a Go duration"
}

refuse "ledger timeout below the processor's range" {
  vars  = { ledger_timeout = "500ms" }
  error = "ledger_timeout must be between 1s and 5m"
}

refuse "lease too short for one step and a renewal" {
  vars = {
    step_timeout = "110s"
    ledger_lease = "2m"
  }
  error = "ledger_lease must be at least step_timeout + ledger_timeout + 5s"
}

# --- BigQuery -----------------------------------------------------------------

accept "bigquery ids at the length limits" {
  vars = {
    bigquery_dataset = join("", [for i in range(1024) : "d"])
    events_table     = join("", [for i in range(1016) : "e"])
    rejected_table   = "_"
  }
}

accept "bigquery ids with digits and underscores" {
  vars = {
    bigquery_dataset = "cio_events_2"
    events_table     = "Events_v2"
    rejected_table   = "rejected_2"
  }
}

refuse "dataset id too long" {
  vars  = { bigquery_dataset = join("", [for i in range(205) : "ddddd"]) }
  error = "bigquery_dataset must be 1-1024 letters"
}

refuse "dataset id with a hyphen" {
  vars  = { bigquery_dataset = "cio-events" }
  error = "bigquery_dataset must be 1-1024 letters"
}

refuse "events table too long for its view" {
  vars  = { events_table = join("", [for i in range(1017) : "e"]) }
  error = "events_table must be 1-1016 letters"
}

refuse "events table starting with a digit" {
  vars  = { events_table = "2events" }
  error = "events_table must be 1-1016 letters"
}

refuse "empty rejected table" {
  vars  = { rejected_table = "" }
  error = "rejected_table must be 1-1024 letters"
}

refuse "rejected table too long" {
  vars  = { rejected_table = join("", [for i in range(205) : "rrrrr"]) }
  error = "rejected_table must be 1-1024 letters"
}

accept "partitions expire after a year" {
  vars = { events_partition_expiration_days = 365 }
}

refuse "negative partition expiry" {
  vars  = { events_partition_expiration_days = -1 }
  error = "events_partition_expiration_days must be a whole number"
}

refuse "fractional partition expiry" {
  vars  = { events_partition_expiration_days = 1.5 }
  error = "events_partition_expiration_days must be a whole number"
}

# --- actions ------------------------------------------------------------------

accept "eu region" {
  vars = { cio_region = "eu" }
}

refuse "region spelled in capitals" {
  vars  = { cio_region = "EU" }
  error = "cio_region must be us or eu"
}

accept "full documented Track API budget" {
  vars = {
    track_api_rate_budget   = 100
    cio_rate_limit          = 20
    processor_max_instances = 5
  }
}

refuse "budget above the documented Track API limit" {
  vars  = { track_api_rate_budget = 101 }
  error = "track_api_rate_budget must be above 0 and at most 100"
}

accept "slow rate limit" {
  vars = { cio_rate_limit = 0.5 }
}

refuse "zero rate limit" {
  vars  = { cio_rate_limit = 0 }
  error = "cio_rate_limit must be above 0 and at most 100"
}

refuse "instances x rate above the budget" {
  vars  = { cio_rate_limit = 11 }
  error = "cio_rate_limit x processor_max_instances exceeds track_api_rate_budget"
}

refuse "more instances at the same rate" {
  vars  = { processor_max_instances = 6 }
  error = "cio_rate_limit x processor_max_instances exceeds track_api_rate_budget"
}

accept "one processor instance" {
  vars = { processor_max_instances = 1 }
}

refuse "no processor instances" {
  vars  = { processor_max_instances = 0 }
  error = "processor_max_instances must be between 1 and 100"
}

accept "one push at a time" {
  vars = { processor_concurrency = 1 }
}

refuse "too much processor concurrency" {
  vars  = { processor_concurrency = 1001 }
  error = "processor_concurrency must be between 1 and 1000"
}

accept "most processor concurrency that 1 GiB holds with 1 MiB bodies" {
  vars = { processor_concurrency = 112 }
}

refuse "processor concurrency x body over memory" {
  vars  = { processor_concurrency = 113 }
  error = "processor_concurrency x max_body_bytes x 8 + 128 MiB exceeds processor_memory_mib"
}

accept "more processor concurrency with more memory" {
  vars = {
    processor_concurrency = 400
    processor_memory_mib  = 4096
    max_body_bytes        = 1048576
  }
}

refuse "the old processor memory with the new concurrency" {
  vars  = { processor_memory_mib = 512 }
  error = "processor_concurrency x max_body_bytes x 8 + 128 MiB exceeds processor_memory_mib"
}

refuse "processor memory below what Cloud Run allows with a vCPU" {
  vars = {
    processor_memory_mib  = 256
    processor_concurrency = 1
  }
  error = "processor_memory_mib must be a whole number of MiB between 512 and 4096"
}

refuse "processor memory above 4 GiB" {
  vars  = { processor_memory_mib = 4097 }
  error = "processor_memory_mib must be a whole number of MiB between 512 and 4096"
}

accept "shortest processor timeout" {
  vars = { processor_timeout_seconds = 10 }
}

refuse "processor timeout below Pub/Sub's ack deadline minimum" {
  vars  = { processor_timeout_seconds = 9 }
  error = "processor_timeout_seconds must be between 10 and 600"
}

accept "pinned Track API secret version" {
  vars = { track_api_secret_version = "12" }
}

refuse "Track API secret version with a leading zero" {
  vars  = { track_api_secret_version = "012" }
  error = "track_api_secret_version must be \"latest\" or a version number"
}

accept "debug logs" {
  vars = { log_level = "debug" }
}

refuse "log level in capitals" {
  vars  = { log_level = "INFO" }
  error = "log_level must be debug, info, warn or error"
}

accept "strict ledger mode" {
  vars = { ledger_mode = "strict" }
}

refuse "unknown ledger mode" {
  vars  = { ledger_mode = "fast" }
  error = "ledger_mode must be lean or strict"
}
