// Package doctor is `cioevents doctor`: a checklist that proves the whole
// loop — the receiver fails closed, a signed probe travels to the events
// table, the views answer with their partition filter, nothing is stuck in
// Pub/Sub, and Customer.io's webhook points here with every event type. Each
// line says what it measured; each failure names the likely cause and the
// runbook. A probe is an event whose event_id starts with
// event.ProbePrefix: its row is marked source=probe, it never causes a
// Customer.io call, and no view, report or funnel counts it.
package doctor

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/cioevents/cioevents/cmd/cioevents/internal/appapi"
	"github.com/cioevents/cioevents/cmd/cioevents/internal/cloudlogs"
	"github.com/cioevents/cioevents/cmd/cioevents/internal/cloudmetrics"
)

// Status of one check.
type Status string

// Statuses. Critical is a failure that loses data or lets anyone in.
// Unknown means doctor could not observe what the check is about (no metric
// data, a read refused): it is not a pass. Skip is a check not asked for
// (dev has no views; CIO_APP_API_KEY unset): it is reported and does not
// fail the run.
const (
	Pass     Status = "ok"
	Fail     Status = "FAIL"
	Critical Status = "CRITICAL"
	Unknown  Status = "unknown"
	Skip     Status = "skip"
)

// Passed reports whether s lets the run pass: ok, or a skip.
func (s Status) Passed() bool { return s == Pass || s == Skip }

// Check is one line of the checklist.
type Check struct {
	Name   string `json:"name"`
	Status Status `json:"status"`
	// Measured says what was observed, pass or fail.
	Measured string `json:"measured"`
	// Cause is the likely cause of a failure.
	Cause string `json:"cause,omitempty"`
	// Runbook is the page under docs/runbooks/ that handles it.
	Runbook string `json:"runbook,omitempty"`
	// LatencyMS is the probe's end-to-end latency, where measured.
	LatencyMS int64 `json:"latency_ms,omitempty"`
}

// Report is the checklist.
type Report struct {
	Checks []Check `json:"checks"`
	OK     bool    `json:"ok"`
}

// RowFinder finds a probe's row where the processor writes rows.
type RowFinder interface {
	// FindProbe reports whether the row of eventID exists, and its source.
	FindProbe(ctx context.Context, eventID string, sentAt time.Time) (found bool, source string, err error)
	// Where names the place, for the report.
	Where() string
}

// DryRunner dry-runs a query.
type DryRunner interface {
	DryRun(ctx context.Context, sql string, since time.Time) error
}

// ViewQuery is one view and the documented way to query it.
type ViewQuery struct {
	Name string
	SQL  string
}

// WebhookLister lists Customer.io's reporting webhooks.
type WebhookLister interface {
	Webhooks(ctx context.Context) ([]appapi.Webhook, error)
}

// Options are what to check; a nil dependency skips its checks (saying why).
type Options struct {
	// URL is the receiver.
	URL string
	// Key signs the probe; KeySource says where it came from.
	Key       []byte
	KeySource string
	// Timeout bounds the wait for the probe's row (default 60 s).
	Timeout time.Duration
	// PollEvery is how often the row is looked for (default 1 s).
	PollEvery time.Duration
	Rows      RowFinder

	// Views are dry-run with DryRun; SkipViews says why they are not.
	Views     []ViewQuery
	DryRun    DryRunner
	SkipViews string

	// Metrics reads Subscription's oldest unacked age and
	// DeadLetterSubscription's undelivered count in Project, after
	// Resources confirmed they and Topic exist. With Metrics nil,
	// SkipStuck says why (locally) and MetricsErr why not (deployed).
	Metrics                              cloudmetrics.Reader
	Resources                            cloudmetrics.Resources
	Project, Topic                       string
	Subscription, DeadLetterSubscription string
	SkipStuck                            string
	MetricsErr, ResourcesErr             error
	// MaxUnackedAge is the oldest unacked message age that still passes
	// (default 10 minutes).
	MaxUnackedAge time.Duration

	// Webhooks, when set, checks Customer.io's side against Events (default
	// every App API event type).
	Webhooks     WebhookLister
	Events       []string
	SkipCustomer string

	// Logs, with ProcessorService, explains a probe that did not land.
	Logs             cloudlogs.Reader
	ProcessorService string

	HTTP *http.Client
	Now  func() time.Time
}

func (o *Options) defaults() {
	if o.Timeout <= 0 {
		o.Timeout = 60 * time.Second
	}
	if o.PollEvery <= 0 {
		o.PollEvery = time.Second
	}
	if o.MaxUnackedAge <= 0 {
		o.MaxUnackedAge = 10 * time.Minute
	}
	if o.HTTP == nil {
		o.HTTP = &http.Client{}
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if len(o.Events) == 0 {
		o.Events = appapi.WebhookEvents
	}
}

// Run runs every check.
func Run(ctx context.Context, o Options) Report {
	o.defaults()
	var r Report
	closed := checkFailsClosed(ctx, o)
	r.Checks = append(r.Checks, closed)
	if closed.Status == Fail && closed.Runbook == runbookReceiverDown {
		r.Checks = append(r.Checks, Check{Name: nameProbe, Status: Skip, Measured: "receiver down; no probe sent"})
	} else {
		r.Checks = append(r.Checks, checkProbe(ctx, o))
	}
	r.Checks = append(r.Checks, checkViews(ctx, o)...)
	names, exist := checkPubSub(ctx, o)
	if names.Name != "" {
		r.Checks = append(r.Checks, names)
	}
	r.Checks = append(r.Checks, checkStuck(ctx, o, exist)...)
	r.Checks = append(r.Checks, checkCustomerIO(ctx, o))
	r.OK = true
	for _, c := range r.Checks {
		if !c.Status.Passed() {
			r.OK = false
		}
	}
	return r
}

// counts are the checks that failed (FAIL or CRITICAL) and the unknown ones.
func (r Report) counts() (failed, unknown int) {
	for _, c := range r.Checks {
		switch c.Status {
		case Fail, Critical:
			failed++
		case Unknown:
			unknown++
		}
	}
	return failed, unknown
}

// Print writes the checklist, one line per check, and a last line.
func (r Report) Print(w io.Writer) {
	for _, c := range r.Checks {
		fmt.Fprintf(w, "%-10s %s: %s", "["+string(c.Status)+"]", c.Name, c.Measured)
		if c.Cause != "" {
			fmt.Fprintf(w, "\n           likely cause: %s", c.Cause)
		}
		if c.Runbook != "" {
			fmt.Fprintf(w, "\n           runbook: %s", c.Runbook)
		}
		fmt.Fprintln(w)
	}
	failed, unknown := r.counts()
	switch {
	case r.OK:
		fmt.Fprintln(w, "all checks passed")
	case unknown == 0:
		fmt.Fprintf(w, "%d of %d checks failed\n", failed, len(r.Checks))
	default:
		fmt.Fprintf(w, "%d of %d checks failed, %d unknown (unknown is not passed)\n", failed, len(r.Checks), unknown)
	}
}

// LogMessage is the `message` of doctor's --json lines; LogRunMessage that
// of the last line, the run's summary. Cloud Logging keeps every other field
// under jsonPayload, where the probe's log-based metric reads `status`.
const (
	LogMessage    = "doctor check"
	LogRunMessage = "doctor run"
)

// Line is one --json line: a check, in Cloud Logging's structured shape.
type Line struct {
	Severity string `json:"severity"`
	Message  string `json:"message"`
	Check
}

// Severity is the Cloud Logging severity of a check's line: ERROR for a
// failure, CRITICAL for a critical one, WARNING for unknown.
func (s Status) Severity() string {
	switch s {
	case Fail:
		return "ERROR"
	case Critical:
		return "CRITICAL"
	case Unknown:
		return "WARNING"
	default:
		return "INFO"
	}
}

// JSON writes the report as JSON lines, one per check and a last one with
// the run's result, so the scheduled probe's log holds one entry per check
// for the log-based metric to count.
func (r Report) JSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	for _, c := range r.Checks {
		if err := enc.Encode(Line{Severity: c.Status.Severity(), Message: LogMessage, Check: c}); err != nil {
			return err
		}
	}
	failed, unknown := r.counts()
	sev := "INFO"
	if !r.OK {
		sev = "ERROR"
	}
	return enc.Encode(map[string]any{"severity": sev, "message": LogRunMessage, "ok": r.OK, "checks": len(r.Checks),
		"failed": failed, "unknown": unknown})
}
