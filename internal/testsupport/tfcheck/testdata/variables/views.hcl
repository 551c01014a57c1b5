# Values for the validation rules of terraform/modules/cioevents/views.tf.

accept "a shorter view lookback" {
  vars = { views_lookback_days = 35 }
}

refuse "no view lookback" {
  vars  = { views_lookback_days = 0 }
  error = "views_lookback_days must be a whole number of days, at least 1"
}

accept "a privacy policy that hashes" {
  vars = { pii_policy = "email=hash,subject=drop,href=strip-query" }
}

refuse "a privacy policy with spaces" {
  vars  = { pii_policy = "email = hash" }
  error = "pii_policy must be field=mode pairs"
}
