# Values for the validation rules of terraform/modules/cioevents/probe.tf.

accept "probe every 5 minutes with the job image" {
  vars = {
    probe_interval_minutes = 5
    backfill_image         = "images.example.com/p/r/cioevents:v1"
  }
}

accept "probe switched off" {
  vars = { probe_interval_minutes = 0 }
}

refuse "interval that does not divide an hour" {
  vars  = { probe_interval_minutes = 7 }
  error = "probe_interval_minutes must divide an hour"
}

refuse "interval over an hour" {
  vars  = { probe_interval_minutes = 90 }
  error = "probe_interval_minutes must divide an hour"
}
