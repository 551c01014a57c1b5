# Values for the validation rules of terraform/modules/cioevents/names.tf.

accept "names refreshed at 03:45, before the backfill" {
  vars = {
    backfill_schedule_enabled = true
    backfill_image            = "europe-docker.pkg.dev/p/r/cioevents:v1"
    names_refresh_schedule    = "45 3 * * *"
  }
}

refuse "names schedule with six fields" {
  vars  = { names_refresh_schedule = "0 0 4 * * *" }
  error = "names_refresh_schedule must be a five-field cron expression"
}
