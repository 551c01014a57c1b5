package actions

import (
	"context"
	"errors"
	"log/slog"
	"strconv"
	"time"
)

// Action outcomes, as logged in the "action" line's outcome field.
const (
	ActionApplied = "applied" // Customer.io answered 2xx
	ActionDryRun  = "dry_run" // written to the dry-run output instead
	ActionSkipped = "skipped" // the event names nobody; no call made
	// ActionNoCredentials: the event's workspace has no Track credentials;
	// no call made.
	ActionNoCredentials = "no_credentials"
	ActionFailed        = "failed" // permanent: recorded, not retried
	ActionRetry         = "retry"  // retryable: the delivery fails and Pub/Sub redelivers
)

// Logged returns a Client that writes one JSON line per call of c — message
// "action" with step, kind, outcome, status, status_class and latency_ms —
// so that log-based metrics can count calls by outcome and status class
// (terraform/modules/cioevents/monitoring.tf). The line names the event, never the person or
// the attribute values.
func Logged(c Client, l *slog.Logger) Client {
	_, dry := c.(*DryRun)
	return &logged{c: c, l: l, dry: dry}
}

type logged struct {
	c   Client
	l   *slog.Logger
	dry bool
}

func (g *logged) Do(ctx context.Context, c Call) error {
	start := time.Now()
	err := g.c.Do(ctx, c)
	status := Status(err)
	level, outcome := slog.LevelInfo, ActionApplied
	_, retry := IsRetryable(err)
	switch {
	case err == nil && g.dry:
		outcome = ActionDryRun
	case err == nil:
		status = 200 // Track answers 200 to both calls; the SDK hides the exact code
	case errors.Is(err, ErrNoPerson):
		outcome = ActionSkipped
	case errors.Is(err, ErrNoCredentials):
		// Configuration, not an outage: counted, and worth a look.
		level, outcome = slog.LevelWarn, ActionNoCredentials
	case retry && errors.Is(err, ErrCredentials):
		// Retried like any outage, but every update fails until a person
		// fixes the key: an error, not a warning.
		level, outcome = slog.LevelError, ActionRetry
	case retry:
		level, outcome = slog.LevelWarn, ActionRetry
	default:
		level, outcome = slog.LevelError, ActionFailed
	}
	attrs := []slog.Attr{
		slog.String("event_id", c.EventID),
		slog.String("step", c.Step),
		slog.String("kind", string(c.Kind)),
		slog.String("outcome", outcome),
		slog.Int("status", status),
		slog.String("status_class", StatusClass(status)),
		slog.Float64("latency_ms", float64(time.Since(start).Microseconds())/1000),
	}
	if err != nil {
		attrs = append(attrs, slog.String("error", err.Error())) // the clients keep people and keys out of it
	}
	g.l.LogAttrs(ctx, level, "action", attrs...)
	return err
}

// StatusClass groups a call's result for metrics: "2xx", "4xx", "5xx",
// "none" (nothing was sent: a dry run, a skipped call, a network error or a
// client-side wait).
func StatusClass(status int) string {
	if status >= 100 && status < 600 {
		return strconv.Itoa(status/100) + "xx"
	}
	return "none"
}
