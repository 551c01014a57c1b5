# Values for the validation rules of terraform/modules/cioevents/backfill.tf.

accept "nightly reconciliation switched on" {
  vars = {
    backfill_schedule_enabled = true
    backfill_image            = "europe-docker.pkg.dev/p/r/cioevents:v1"
    backfill_schedule         = "15 3 * * 1"
    backfill_lookback         = "72h"
    backfill_workspace        = "b2b-eu"
  }
}

refuse "image with uppercase host" {
  vars  = { backfill_image = "Registry.Example.com/cioevents:v1" }
  error = "backfill_image must be an image reference"
}

refuse "schedule switched on without an image" {
  vars  = { backfill_schedule_enabled = true }
  error = "backfill_schedule_enabled needs backfill_image"
}

refuse "schedule with six fields" {
  vars  = { backfill_schedule = "0 30 4 * * *" }
  error = "backfill_schedule must be a five-field cron expression"
}

refuse "lookback in weeks" {
  vars  = { backfill_lookback = "2w" }
  error = "backfill_lookback must be a number of days or hours"
}

refuse "workspace with an uppercase letter" {
  vars  = { backfill_workspace = "Shop" }
  error = "backfill_workspace must be a workspace name"
}

refuse "workspace name of 31 characters" {
  vars  = { backfill_workspace = "a123456789012345678901234567890" }
  error = "backfill_workspace must be a workspace name"
}
