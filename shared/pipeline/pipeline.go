// Package pipeline is the processor's logic: turn one Pub/Sub message into
// exactly one warehouse row and one round of Customer.io actions, however
// often the message is delivered and wherever a delivery stops.
//
// Exactly-once comes from the ledger: every delivery first claims the
// event_id; each side effect is recorded as a step once done, and skipped by
// later deliveries that find it recorded. The one window the ledger cannot
// close — a side effect done but not yet recorded when the process dies — is
// covered for rows by the insert ID (= event_id) and the dedupe view, and for
// actions by their being idempotent updates (`_update: true` attribute sets).
package pipeline

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/cioevents/cioevents/shared/actions"
	"github.com/cioevents/cioevents/shared/event"
	"github.com/cioevents/cioevents/shared/ledger"
	"github.com/cioevents/cioevents/shared/warehouse"
	"github.com/cioevents/cioevents/shared/webhook"
)

// Message is one delivery of a published webhook.
type Message struct {
	ID          string
	Data        []byte
	Attributes  map[string]string
	PublishTime time.Time
}

// Ledger steps besides the actions' own ("action:<i>:<kind>").
const (
	StepRow      = "row"
	StepRejected = "rejected"
)

// Outcomes, as recorded in the ledger and logged.
const (
	OutcomeInserted  = "inserted"
	OutcomeDuplicate = "duplicate"
	OutcomeRejected  = "rejected"
)

// Processor runs the steps. Its fields are set once and then only read.
type Processor struct {
	Ledger    ledger.Ledger
	Warehouse warehouse.Writer
	Actions   actions.Client
	Policy    actions.Policy
	// TTL is how long a ledger entry outlives its event; ≥ 8 days because
	// Customer.io retries for 7.
	TTL    time.Duration
	Logger *slog.Logger
	Now    func() time.Time
	// StepTimeout bounds each call to another service (default 20 s): the
	// BigQuery client retries 5xx by itself for as long as its context
	// allows, and a delivery must fail and be redelivered, not hang.
	StepTimeout time.Duration
	// Fault, when set (tests only), is called at each crash point —
	// "claimed", "row", "action:<i>:<kind>", "done" — and a non-nil error
	// aborts the delivery there as a crash would.
	Fault func(point string) error
}

// Result says what one delivery did.
type Result struct {
	EventID string
	Outcome string
	Reason  string // for rejections
	Attempt int
}

// RetryError is returned for failures a redelivery may fix. Pub/Sub then
// redelivers with backoff and finally dead-letters.
type RetryError struct {
	Step       string
	RetryAfter time.Duration // what the far side asked for, if anything
	Err        error
}

func (e *RetryError) Error() string { return fmt.Sprintf("retry at %s: %v", e.Step, e.Err) }
func (e *RetryError) Unwrap() error { return e.Err }

// Process handles one delivery. A nil error means the message can be acked:
// processed, a duplicate, or quarantined in the rejected table.
func (p *Processor) Process(ctx context.Context, m Message) (Result, error) {
	start := p.now()
	res, err := p.process(ctx, m)
	p.log(ctx, m, res, err, start)
	return res, err
}

func (p *Processor) process(ctx context.Context, m Message) (Result, error) {
	receivedAt := p.receivedAt(m)
	if reason := m.Attributes[webhook.AttrInvalid]; reason != "" {
		return p.reject(ctx, m, receivedAt, reason, m.Attributes[webhook.AttrEventID])
	}
	if m.Attributes[webhook.AttrOversized] != "" {
		return p.reject(ctx, m, receivedAt, "oversized", m.Attributes[webhook.AttrEventID])
	}
	ev, err := event.Parse(m.Data)
	switch {
	case errors.Is(err, event.ErrNotObject):
		return p.reject(ctx, m, receivedAt, webhook.InvalidNotObject, "")
	case errors.Is(err, event.ErrNoEventID):
		return p.reject(ctx, m, receivedAt, webhook.InvalidNoEventID, "")
	case err != nil:
		return p.reject(ctx, m, receivedAt, "unparseable", ev.EventID)
	}

	res := Result{EventID: ev.EventID}
	claim, err := p.claim(ctx, ev.EventID, later(ev.Time(), receivedAt))
	if errors.Is(err, ledger.ErrDuplicate) {
		res.Outcome = OutcomeDuplicate
		return res, nil
	}
	if err != nil {
		return res, err
	}
	res.Attempt = claim.Attempt
	if err := p.fault("claimed"); err != nil {
		return res, err
	}

	if !claim.Done(StepRow) {
		row := warehouse.FromEvent(ev, receivedAt, signedAt(m), m.ID)
		if err := p.bounded(ctx, func(ctx context.Context) error { return p.Warehouse.InsertEvent(ctx, row) }); err != nil {
			if !warehouse.IsPermanent(err) {
				return res, &RetryError{Step: StepRow, Err: err}
			}
			// The row can never be inserted; keep the body where it can be
			// found and fixed instead of retrying forever.
			return p.rejectClaimed(ctx, claim, m, receivedAt, "row_invalid", ev.EventID, err)
		}
		if err := p.record(ctx, claim, StepRow); err != nil {
			return res, err
		}
	}
	if err := p.fault(StepRow); err != nil {
		return res, err
	}

	outcome := OutcomeInserted
	for _, call := range p.Policy.Plan(ev) {
		if claim.Done(call.Step) {
			continue
		}
		err := p.bounded(ctx, func(ctx context.Context) error { return p.Actions.Do(ctx, call) })
		if wait, retry := actions.IsRetryable(err); retry {
			return res, &RetryError{Step: call.Step, RetryAfter: wait, Err: err}
		}
		if err != nil {
			// Permanent: a retry would fail the same way. The step is
			// recorded so it is not attempted again; the log keeps why.
			outcome = OutcomeInserted + ":action_failed"
			p.logger().LogAttrs(ctx, slog.LevelWarn, "action not applied",
				slog.String("event_id", ev.EventID), slog.String("step", call.Step), slog.String("error", err.Error()))
		}
		if err := p.record(ctx, claim, call.Step); err != nil {
			return res, err
		}
		if err := p.fault(call.Step); err != nil {
			return res, err
		}
	}
	if err := p.fault("done"); err != nil {
		return res, err
	}
	if err := p.finish(ctx, claim, outcome); err != nil {
		return res, err
	}
	res.Outcome = outcome
	return res, nil
}

// reject quarantines a message the pipeline cannot make a row of. It is
// claimed like an event (by event_id, else by the hash of its bytes), so a
// redelivered or re-sent bad body still yields one rejected row.
func (p *Processor) reject(ctx context.Context, m Message, receivedAt time.Time, reason, eventID string) (Result, error) {
	key := eventID
	if key == "" {
		sum := sha256.Sum256(m.Data)
		key = "sha256:" + hex.EncodeToString(sum[:])
	}
	claim, err := p.claim(ctx, key, receivedAt)
	if errors.Is(err, ledger.ErrDuplicate) {
		return Result{EventID: eventID, Outcome: OutcomeDuplicate, Reason: reason}, nil
	}
	if err != nil {
		return Result{EventID: eventID, Reason: reason}, err
	}
	return p.rejectClaimed(ctx, claim, m, receivedAt, reason, eventID, nil)
}

func (p *Processor) rejectClaimed(ctx context.Context, claim *ledger.Claim, m Message, receivedAt time.Time,
	reason, eventID string, cause error) (Result, error) {
	res := Result{EventID: eventID, Outcome: OutcomeRejected, Reason: reason, Attempt: claim.Attempt}
	if !claim.Done(StepRejected) {
		text := reason
		if cause != nil {
			text = reason + ": " + cause.Error()
		}
		row := warehouse.NewRejected(receivedAt, text, eventID, m.Data, m.Attributes, m.ID)
		if err := p.bounded(ctx, func(ctx context.Context) error { return p.Warehouse.InsertRejected(ctx, row) }); err != nil {
			return res, &RetryError{Step: StepRejected, Err: err}
		}
		if err := p.record(ctx, claim, StepRejected); err != nil {
			return res, err
		}
	}
	if err := p.finish(ctx, claim, OutcomeRejected+":"+reason); err != nil {
		return res, err
	}
	return res, nil
}

func (p *Processor) claim(ctx context.Context, key string, eventTime time.Time) (*ledger.Claim, error) {
	ttl := p.TTL
	if ttl <= 0 {
		ttl = 14 * 24 * time.Hour
	}
	// Expiry counts from the later of event and arrival, and never from
	// before now: a late retry must still find its entry.
	expireAt := later(eventTime, p.now()).Add(ttl)
	c, err := p.Ledger.Claim(ctx, key, expireAt)
	switch {
	case err == nil, errors.Is(err, ledger.ErrDuplicate):
		return c, err
	default:
		return nil, &RetryError{Step: "claim", Err: err}
	}
}

func (p *Processor) record(ctx context.Context, c *ledger.Claim, step string) error {
	if err := p.Ledger.Record(ctx, c, step); err != nil {
		return &RetryError{Step: step, Err: err}
	}
	return nil
}

func (p *Processor) finish(ctx context.Context, c *ledger.Claim, outcome string) error {
	if err := p.Ledger.Finish(ctx, c, outcome); err != nil {
		return &RetryError{Step: "finish", Err: err}
	}
	return nil
}

func (p *Processor) bounded(ctx context.Context, f func(context.Context) error) error {
	d := p.StepTimeout
	if d <= 0 {
		d = 20 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	return f(ctx)
}

func (p *Processor) fault(point string) error {
	if p.Fault == nil {
		return nil
	}
	if err := p.Fault(point); err != nil {
		return &RetryError{Step: point, Err: err}
	}
	return nil
}

func (p *Processor) now() time.Time {
	if p.Now != nil {
		return p.Now()
	}
	return time.Now()
}

func (p *Processor) logger() *slog.Logger {
	if p.Logger != nil {
		return p.Logger
	}
	return slog.Default()
}

func (p *Processor) receivedAt(m Message) time.Time {
	if t, err := time.Parse(time.RFC3339Nano, m.Attributes[webhook.AttrReceivedAt]); err == nil {
		return t.UTC()
	}
	if !m.PublishTime.IsZero() {
		return m.PublishTime.UTC()
	}
	return p.now().UTC()
}

func signedAt(m Message) *time.Time {
	sec, err := strconv.ParseInt(m.Attributes[webhook.AttrSignedAt], 10, 64)
	if err != nil {
		return nil
	}
	t := time.Unix(sec, 0).UTC()
	return &t
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func (p *Processor) log(ctx context.Context, m Message, res Result, err error, start time.Time) {
	level := slog.LevelInfo
	attrs := []slog.Attr{
		slog.String("event_id", res.EventID),
		slog.String("object_type", m.Attributes[webhook.AttrObjectType]),
		slog.String("metric", m.Attributes[webhook.AttrMetric]),
		slog.String("message_id", m.ID),
		slog.Int("attempt", res.Attempt),
		slog.Float64("latency_ms", float64(p.now().Sub(start).Microseconds())/1000),
	}
	outcome := res.Outcome
	if err != nil {
		level, outcome = slog.LevelWarn, "retry"
		var re *RetryError
		if errors.As(err, &re) {
			attrs = append(attrs, slog.String("step", re.Step))
		}
		if errors.Is(err, ledger.ErrBusy) {
			level, outcome = slog.LevelInfo, "busy"
		}
		attrs = append(attrs, slog.String("error", err.Error()))
	}
	attrs = append(attrs, slog.String("outcome", outcome))
	if res.Reason != "" {
		attrs = append(attrs, slog.String("reason", res.Reason))
	}
	if m.Attributes[webhook.AttrUnknown] != "" {
		attrs = append(attrs, slog.Bool("unknown_pair", true))
	}
	if err == nil && strings.HasPrefix(outcome, OutcomeInserted) {
		attrs = append(attrs, p.lags(m)...)
	}
	p.logger().LogAttrs(ctx, level, "event", attrs...)
}

// lags are the end-to-end delays of an inserted event, in milliseconds up
// to the end of its delivery (row inserted and actions applied):
// lag_received_ms from the receiver's clock, lag_event_ms from the event's
// own timestamp (absent when the body has none). The lag metrics in
// terraform/monitoring.tf are distributions of these.
func (p *Processor) lags(m Message) []slog.Attr {
	now := p.now()
	out := []slog.Attr{slog.Int64("lag_received_ms", now.Sub(p.receivedAt(m)).Milliseconds())}
	if ev, _ := event.ParseEnvelope(m.Data); ev != nil && ev.Timestamp != 0 {
		out = append(out, slog.Int64("lag_event_ms", now.Sub(ev.Time()).Milliseconds()))
	}
	return out
}
