package actions

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

var (
	// ErrNoPerson is returned for a Call whose event named nobody. Nothing
	// was sent; the processor records the step as skipped.
	ErrNoPerson = errors.New("actions: event names no person, call not made")

	// ErrPermanent marks failures that repeating cannot fix: a 4xx other
	// than 401/403/408/429, or a call that cannot be encoded. Record, do not
	// retry.
	ErrPermanent = errors.New("permanent Customer.io error")

	// ErrCredentials is a 401 or 403: the Track site ID or API key is wrong,
	// revoked or lacks the scope. It comes wrapped in a *RetryableError,
	// because the call itself is fine: once the key is fixed, redelivered
	// (or replayed) events must still get their update.
	//lint:ignore ST1005 the message starts with the name Customer.io, which is spelled with a capital
	ErrCredentials = errors.New("Customer.io refused the Track API credentials (check CIO_SITE_ID and CIO_TRACK_API_KEY)")
)

// StatusError is a permanent failure the Track API answered with a status
// (a 4xx other than 408/429). It matches ErrPermanent with errors.Is, and
// keeps the status for logs and metrics (401/403 mean the credentials).
type StatusError struct {
	Status int
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("%s: HTTP %d", ErrPermanent.Error(), e.Status)
}

// Is makes errors.Is(err, ErrPermanent) hold.
func (e *StatusError) Is(target error) bool { return target == ErrPermanent }

// Status returns the HTTP status behind err: that of a *RetryableError or a
// *StatusError, 0 when no response arrived or err is nil.
func Status(err error) int {
	var re *RetryableError
	if errors.As(err, &re) {
		return re.Status
	}
	var se *StatusError
	if errors.As(err, &se) {
		return se.Status
	}
	return 0
}

// RetryableError is a failure worth retrying: 408, 429, 5xx, a timeout or a
// network error. RetryAfter is what the server asked for (0 if nothing).
// Its text carries the status and the cause, never the person or the
// attribute values.
type RetryableError struct {
	Status     int // HTTP status; 0 when no response arrived
	RetryAfter time.Duration
	Err        error
}

func (e *RetryableError) Error() string {
	var b strings.Builder
	b.WriteString("retryable")
	if e.Status != 0 {
		fmt.Fprintf(&b, ": HTTP %d", e.Status)
	}
	if e.RetryAfter > 0 {
		fmt.Fprintf(&b, " (retry after %s)", e.RetryAfter)
	}
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

func (e *RetryableError) Unwrap() error { return e.Err }

// IsRetryable reports whether err is worth retrying, and after how long
// the server asked to wait (0 if it did not say).
func IsRetryable(err error) (time.Duration, bool) {
	var re *RetryableError
	if errors.As(err, &re) {
		return re.RetryAfter, true
	}
	return 0, false
}

// redactedError hides secrets and personal data from an error's text while
// keeping the chain for errors.Is/As.
type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }

// redact returns err with every non-empty secret in its text replaced.
func redact(err error, secrets ...string) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	for _, s := range secrets {
		if s != "" {
			msg = strings.ReplaceAll(msg, s, "[redacted]")
		}
	}
	return &redactedError{msg: msg, err: err}
}
