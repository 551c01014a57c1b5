# Values for the validation rules of terraform/modules/cioevents/deliveries.tf.

accept "a week of lookback" {
  vars = { deliveries_lookback_days = 7 }
}

refuse "no lookback" {
  vars  = { deliveries_lookback_days = 0 }
  error = "deliveries_lookback_days must be a whole number of days, at least 1"
}
