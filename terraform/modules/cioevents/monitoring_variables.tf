# Variables of monitoring.tf: where alerts go and when they fire. Each
# threshold's description says why its default is what it is; docs/runbooks/
# has one page per alert.

variable "alert_emails" {
  description = "Email addresses notified by every cioevents alert policy. Empty: the policies still open incidents in Cloud Monitoring, but nobody is told."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for e in var.alert_emails : can(regex("^[^@[:space:]]{1,64}@[^@[:space:]]{1,255}\\.[^@[:space:]]{1,63}$", e))])
    error_message = "alert_emails must be plain email addresses such as ops@example.com."
  }
}

variable "runbook_base_url" {
  description = "Where docs/runbooks/ is published; every alert's documentation links <this>/<alert>.md. Point it at your fork to ship your own runbooks."
  type        = string
  default     = "https://github.com/cioevents/cioevents/blob/main/docs/runbooks"

  validation {
    condition     = can(regex("^https://[^[:space:]]{1,1000}$", var.runbook_base_url))
    error_message = "runbook_base_url must be an https URL."
  }
}

variable "signature_failure_threshold" {
  description = "Alert when more than this many requests in an hour fail the signature check as mismatch, too_old or too_new. Default 0: after a 401 Customer.io holds the stream for an hour, so a wrong key or clock shows as a trickle, never a flood, and every such 401 is an event held back. Unsigned probes (missing_signature and similar) are not counted."
  type        = number
  default     = 0

  validation {
    condition     = var.signature_failure_threshold >= 0 && floor(var.signature_failure_threshold) == var.signature_failure_threshold
    error_message = "signature_failure_threshold must be a whole number, 0 or more."
  }
}

variable "receiver_503_threshold" {
  description = "Alert when the receiver answers 503 more than this many times in 10 minutes. Default 2: a lone 503 is a Pub/Sub blip Customer.io simply retries; three in ten minutes is an outage forming."
  type        = number
  default     = 2

  validation {
    condition     = var.receiver_503_threshold >= 0 && floor(var.receiver_503_threshold) == var.receiver_503_threshold
    error_message = "receiver_503_threshold must be a whole number, 0 or more."
  }
}

variable "silence_hours" {
  description = "Alert when no event has been accepted for this many hours (the webhook disabled, its URL changed, or Customer.io holding the stream behind a failure). Default 6: long enough for a quiet night, short enough to act well inside Customer.io's 7-day retry window. Cloud Monitoring allows at most 23.5 h."
  type        = number
  default     = 6

  validation {
    condition     = var.silence_hours >= 1 && var.silence_hours <= 23 && floor(var.silence_hours) == var.silence_hours
    error_message = "silence_hours must be a whole number of hours from 1 to 23."
  }
}

variable "backlog_max_age_minutes" {
  description = "Alert when the oldest unacknowledged message on the processor subscription is older than this. Default 60: one poison message legitimately waits ~45 min while Pub/Sub backs off (10 s to 600 s, 10 attempts) before it is dead-lettered, which the dead-letter alert reports; an hour means the processor is stuck or too slow."
  type        = number
  default     = 60

  validation {
    condition     = var.backlog_max_age_minutes >= 5 && var.backlog_max_age_minutes <= 1440 && floor(var.backlog_max_age_minutes) == var.backlog_max_age_minutes
    error_message = "backlog_max_age_minutes must be a whole number from 5 to 1440."
  }
}

variable "track_rate_limit_threshold" {
  description = "Alert when the Track API answers 429 more than this many times in 10 minutes. Default 10: the client already limits itself well below Customer.io's limit and honours Retry-After, so a few 429s are absorbed; a steady stream means another integration shares the budget or cio_rate_limit is too high."
  type        = number
  default     = 10

  validation {
    condition     = var.track_rate_limit_threshold >= 0 && floor(var.track_rate_limit_threshold) == var.track_rate_limit_threshold
    error_message = "track_rate_limit_threshold must be a whole number, 0 or more."
  }
}

variable "bigquery_failure_threshold" {
  description = "Alert when more than this many deliveries in 10 minutes fail at a BigQuery insert (events or rejected_events) and go back to Pub/Sub. Default 4: the client already retries 5xx within a delivery, so an isolated failure heals on redelivery; five in ten minutes is a lost permission, a deleted table or an exhausted quota."
  type        = number
  default     = 4

  validation {
    condition     = var.bigquery_failure_threshold >= 0 && floor(var.bigquery_failure_threshold) == var.bigquery_failure_threshold
    error_message = "bigquery_failure_threshold must be a whole number, 0 or more."
  }
}

variable "rejected_per_hour_threshold" {
  description = "Alert when more than this many messages an hour land in rejected_events. Default 10: authentic Customer.io bodies almost never fail to parse, so a handful an hour means the payload contract or the schema changed."
  type        = number
  default     = 10

  validation {
    condition     = var.rejected_per_hour_threshold >= 0 && floor(var.rejected_per_hour_threshold) == var.rejected_per_hour_threshold
    error_message = "rejected_per_hour_threshold must be a whole number, 0 or more."
  }
}

variable "spam_rate_threshold" {
  description = "Alert when email.spammed / email.delivered over the last 24 h exceeds this fraction. Default 0.001 (0.1 %): Gmail's and Yahoo's sender rules require staying under 0.3 % and advise under 0.1 %."
  type        = number
  default     = 0.001

  validation {
    condition     = var.spam_rate_threshold > 0 && var.spam_rate_threshold < 1
    error_message = "spam_rate_threshold must be a fraction between 0 and 1 (0.001 is 0.1 %)."
  }
}

variable "bounce_rate_threshold" {
  description = "Alert when email.bounced / email.sent over the last 24 h exceeds this fraction. Default 0.02 (2 %): the figure email providers commonly treat as the edge of a healthy list."
  type        = number
  default     = 0.02

  validation {
    condition     = var.bounce_rate_threshold > 0 && var.bounce_rate_threshold < 1
    error_message = "bounce_rate_threshold must be a fraction between 0 and 1 (0.02 is 2 %)."
  }
}

variable "deliverability_min_volume" {
  description = "The deliverability alerts fire only when at least this many emails were delivered (spam rate) or sent (bounce rate) in the 24 h window, so one complaint among a few hundred emails does not page anyone. Default 1000."
  type        = number
  default     = 1000

  validation {
    condition     = var.deliverability_min_volume >= 1 && floor(var.deliverability_min_volume) == var.deliverability_min_volume
    error_message = "deliverability_min_volume must be a whole number, 1 or more."
  }
}

variable "log_sample_success" {
  description = "Fraction of success log lines stored (receiver accepted, processor inserted or duplicate), chosen by event_id so an event's receiver and processor lines are kept or dropped together. Default 1: all. Below 1, a Logging exclusion drops the rest before storage, where log storage is billed; the log-based metrics still count every line, because they are computed from all logs received, excluded ones included. Failures, warnings, odd events and Track API calls are always stored."
  type        = number
  default     = 1

  validation {
    condition     = var.log_sample_success >= 0.001 && var.log_sample_success <= 1
    error_message = "log_sample_success must be a fraction from 0.001 to 1 (1 keeps every success line)."
  }
}
