# Values for the validation rules of terraform/modules/cioevents/monitoring_variables.tf.

accept "alert channels and thresholds set" {
  vars = {
    alert_emails                = ["ops@example.com", "on-call+cio@example.co.uk"]
    runbook_base_url            = "https://wiki.example.com/runbooks"
    signature_failure_threshold = 5
    receiver_503_threshold      = 0
    silence_hours               = 23
    backlog_max_age_minutes     = 5
    track_rate_limit_threshold  = 0
    bigquery_failure_threshold  = 10
    rejected_per_hour_threshold = 100
    spam_rate_threshold         = 0.003
    bounce_rate_threshold       = 0.05
    deliverability_min_volume   = 1
  }
}

refuse "alert email without a domain" {
  vars  = { alert_emails = ["ops@localhost"] }
  error = "alert_emails must be plain email addresses"
}

refuse "runbooks over plain http" {
  vars  = { runbook_base_url = "http://wiki.example.com/runbooks" }
  error = "runbook_base_url must be an https URL"
}

refuse "negative signature threshold" {
  vars  = { signature_failure_threshold = -1 }
  error = "signature_failure_threshold must be a whole number, 0 or more"
}

refuse "fractional 503 threshold" {
  vars  = { receiver_503_threshold = 1.5 }
  error = "receiver_503_threshold must be a whole number, 0 or more"
}

refuse "a day of silence" {
  vars  = { silence_hours = 24 }
  error = "silence_hours must be a whole number of hours from 1 to 23"
}

refuse "backlog alert too eager" {
  vars  = { backlog_max_age_minutes = 4 }
  error = "backlog_max_age_minutes must be a whole number from 5 to 1440"
}

refuse "negative rate-limit threshold" {
  vars  = { track_rate_limit_threshold = -2 }
  error = "track_rate_limit_threshold must be a whole number, 0 or more"
}

refuse "fractional BigQuery threshold" {
  vars  = { bigquery_failure_threshold = 0.5 }
  error = "bigquery_failure_threshold must be a whole number, 0 or more"
}

refuse "negative rejected threshold" {
  vars  = { rejected_per_hour_threshold = -1 }
  error = "rejected_per_hour_threshold must be a whole number, 0 or more"
}

refuse "spam rate given in percent" {
  vars  = { spam_rate_threshold = 1 }
  error = "spam_rate_threshold must be a fraction between 0 and 1"
}

refuse "bounce rate of zero" {
  vars  = { bounce_rate_threshold = 0 }
  error = "bounce_rate_threshold must be a fraction between 0 and 1"
}

refuse "no minimum volume" {
  vars  = { deliverability_min_volume = 0 }
  error = "deliverability_min_volume must be a whole number, 1 or more"
}

accept "a tenth of the success lines stored" {
  vars = { log_sample_success = 0.1 }
}

accept "the smallest sample" {
  vars = { log_sample_success = 0.001 }
}

refuse "no success line stored" {
  vars  = { log_sample_success = 0 }
  error = "log_sample_success must be a fraction from 0.001 to 1"
}

refuse "more than every line" {
  vars  = { log_sample_success = 1.5 }
  error = "log_sample_success must be a fraction from 0.001 to 1"
}
