// Package pipeline is the processor's logic: turn one Pub/Sub message into
// exactly one warehouse row and one round of Customer.io actions, however
// often the message is delivered, wherever a delivery stops, and whichever
// source (webhook, backfill, replay) brings the same occurrence first.
//
// Exactly-once comes from the ledger, keyed by the event's identity
// (event.Key: delivery and metric, plus the occurrence time for metrics that
// repeat, else the event_id; docs/backfill.md). An event with actions is
// claimed first: one delivery at a time holds it under a lease, and steps
// already done are skipped by later deliveries. An event without actions
// (most events) is not claimed: the ledger is read, the row inserted and the
// event stored as done in one create. A source that stores rows without
// acting (backfill without --apply-actions: DeferActions) records them so,
// and the next delivery of the occurrence with actions to make makes them
// under a record of their own (ActionsKey). The windows the ledger leaves — a
// side effect done but not yet written down when the process dies, and two
// deliveries of an unclaimed event at the same moment — are covered for rows
// by the insert ID (= the identity) and the dedupe view, and for actions by
// their being idempotent updates (`_update: true` attribute sets).
//
// How often the ledger is written is a trade: by default (lean) the steps of
// a claimed event are stored with the write that finishes it (or with a
// lease renewal or release, when one happens anyway), so an event costs at
// most two writes; RecordEachStep stores each step as soon as it is done,
// which narrows what a crash repeats at one write per step.
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
	"github.com/cioevents/cioevents/shared/workspace"
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
	// OutcomeForgotten: the event names a person `cioevents forget` erased
	// (a live tombstone); it is dropped — no row, no action, no ledger
	// write — and only this line counts it.
	OutcomeForgotten = "forgotten"
)

// Processor runs the steps. Its fields are set once and then only read.
type Processor struct {
	Ledger    ledger.Ledger
	Warehouse warehouse.Writer
	Actions   actions.Client
	Policy    actions.Policy
	// Workspaces, when set, replaces Actions and Policy: each event is
	// acted on with the client and policy of its own workspace (the
	// message's workspace attribute, the default one when absent), never
	// another's.
	Workspaces interface {
		Lookup(workspace string) (actions.Client, actions.Policy)
	}
	// Forgotten, when set, reports an event naming an erased person
	// (a tombstone.Set, held in memory: no store call per event).
	Forgotten interface {
		Forgotten(ev *event.Event) bool
	}
	// TTL is how long a ledger entry outlives its event; ≥ 8 days because
	// Customer.io retries for 7.
	TTL time.Duration
	// DeferActions stores rows without acting and records them so: the
	// next delivery of the same occurrence that has actions to make makes
	// them (a webhook, or ProcessActions). Backfill without --apply-actions.
	DeferActions bool
	// ActionsTTL is how long the record of a row stored with its actions
	// deferred, and of those actions once made, lives (default
	// DefaultActionsTTL, never less than TTL): as long as a later backfill
	// may still come for them.
	ActionsTTL time.Duration
	Logger     *slog.Logger
	Now        func() time.Time
	// StepTimeout bounds each call to another service (default 20 s): the
	// BigQuery client retries 5xx by itself for as long as its context
	// allows, and a delivery must fail and be redelivered, not hang.
	StepTimeout time.Duration
	// LedgerTimeout bounds each ledger call (default 10 s).
	LedgerTimeout time.Duration
	// LeaseMargin is how much of the lease must still be left when a side
	// effect is due to have ended (default 5 s): time for a cancelled call
	// to stop before another delivery may take the event over.
	LeaseMargin time.Duration
	// RecordEachStep writes each step to the ledger as soon as it is done
	// and claims every event, as the first releases did (LEDGER_MODE=strict);
	// by default steps wait for the next write (see the package comment).
	RecordEachStep bool
	// Fault, when set (tests only), is called at each crash point —
	// "claimed", "row:sent", "row", "action:<i>:<kind>:sent",
	// "action:<i>:<kind>", "done" — and a non-nil error aborts the delivery
	// there as a crash would: nothing more is written, the lease is kept.
	Fault func(point string) error
}

// Defaults of the Processor's durations.
const (
	DefaultStepTimeout   = 20 * time.Second
	DefaultLedgerTimeout = 10 * time.Second
	DefaultLeaseMargin   = 5 * time.Second
	DefaultActionsTTL    = 400 * 24 * time.Hour
)

// MinLease is the shortest lease under which one side effect can run to its
// timeout and still end a margin before the lease does.
func MinLease(stepTimeout, ledgerTimeout, margin time.Duration) time.Duration {
	return stepTimeout + ledgerTimeout + margin
}

// Result says what one delivery did.
type Result struct {
	EventID string
	// Key is the event's identity (event.Key), its row's ledger key.
	Key     string
	Outcome string
	Reason  string // for rejections
	Attempt int

	// receivedAt and occurred (zero when the body has no timestamp) are
	// the event's times, for the lags its log line reports.
	receivedAt, occurred time.Time
	// deferred: the row was a duplicate stored with its actions deferred.
	deferred bool
}

// eventResult starts the result of a parsed event.
func eventResult(ev *event.Event, receivedAt time.Time) Result {
	res := Result{EventID: ev.EventID, receivedAt: receivedAt}
	if ev.Timestamp != 0 {
		res.occurred = ev.Time()
	}
	return res
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

// errCrash marks an injected crash: the delivery stops where it is, as a
// killed process would, without releasing its lease.
var errCrash = errors.New("injected crash")

// errLeaseShort: not enough of the lease is left for a side effect even
// right after renewing it, so the configured lease is too short.
var errLeaseShort = errors.New("lease too short for one step: LEDGER_LEASE must exceed the step timeout plus the ledger timeout and margin")

// Process handles one delivery. A nil error means the message can be acked:
// processed, a duplicate, or quarantined in the rejected table. After a
// retryable failure the lease is released (at once, or after the margin when
// a call was abandoned), so that the redelivery does the work instead of
// finding the event busy.
func (p *Processor) Process(ctx context.Context, m Message) (Result, error) {
	return p.run(ctx, m, false)
}

// ProcessActions makes the round of actions of an event whose row was
// stored with its actions deferred (DeferActions), unless the ledger records
// them made: it never inserts a row. Backfill --catch-up-actions uses it.
func (p *Processor) ProcessActions(ctx context.Context, m Message) (Result, error) {
	return p.run(ctx, m, true)
}

func (p *Processor) run(ctx context.Context, m Message, actionsOnly bool) (Result, error) {
	start := p.now()
	res, claim, err := p.process(ctx, m, actionsOnly)
	if err != nil && claim != nil && !errors.Is(err, errCrash) && !errors.Is(err, ledger.ErrLeaseLost) {
		// A call that timed out may still be running at the far side: keep
		// the margin, so the next delivery's call cannot overlap it.
		var after time.Duration
		if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
			after = p.leaseMargin()
		}
		p.release(ctx, claim, after)
	}
	p.log(ctx, m, res, err, start)
	return res, err
}

func (p *Processor) process(ctx context.Context, m Message, actionsOnly bool) (Result, *ledger.Claim, error) {
	receivedAt := p.receivedAt(m)
	if reason := m.Attributes[webhook.AttrInvalid]; reason != "" {
		return p.reject(ctx, m, receivedAt, reason, m.Attributes[webhook.AttrEventID])
	}
	if m.Attributes[webhook.AttrOversized] != "" {
		return p.reject(ctx, m, receivedAt, "oversized", m.Attributes[webhook.AttrEventID])
	}
	ev, err := event.Parse(m.Data)
	if ev != nil && p.Forgotten != nil && p.Forgotten.Forgotten(ev) {
		// Dropped rather than stored redacted: a row without the person
		// still places them in a campaign at a time, and nothing is to be
		// counted that the event line does not count.
		return Result{EventID: ev.EventID, Outcome: OutcomeForgotten}, nil, nil
	}
	switch {
	case errors.Is(err, event.ErrInvalidJSON):
		return p.reject(ctx, m, receivedAt, webhook.InvalidJSON, "")
	case errors.Is(err, event.ErrNotObject):
		return p.reject(ctx, m, receivedAt, webhook.InvalidNotObject, "")
	case errors.Is(err, event.ErrNoEventID):
		return p.reject(ctx, m, receivedAt, webhook.InvalidNoEventID, "")
	case err != nil:
		return p.reject(ctx, m, receivedAt, "unparseable", ev.EventID)
	}

	// The event's own workspace decides what is done and with which
	// credentials: never another workspace's.
	client, policy := p.Actions, p.Policy
	if p.Workspaces != nil {
		client, policy = p.Workspaces.Lookup(*workspaceOf(m))
	}
	plan := policy.Plan(ev)
	if ev.IsProbe() {
		// A doctor probe proves the path to the warehouse; it must never
		// reach a person in Customer.io, whatever a policy says.
		plan = nil
	}
	acting := plan
	if p.DeferActions {
		plan = nil
	}
	row := eventRow(m, ev, receivedAt)
	key := row.Key()
	if actionsOnly {
		return p.deferredActions(ctx, m, ev, client, acting, row, receivedAt)
	}
	if len(plan) == 0 && !p.RecordEachStep {
		res, err := p.processUnclaimed(ctx, m, ev, row, key, receivedAt)
		if !errors.Is(err, ledger.ErrUnfinished) {
			return res, nil, err
		}
		// A delivery that claimed the event stopped half way (the policy
		// had actions for it then): finish it the same way.
	}
	res, claim, err := p.processClaimed(ctx, m, ev, client, plan, key, &row, receivedAt)
	if err == nil && res.deferred && len(plan) > 0 {
		// Another source stored the row and left its actions to whoever
		// acts next: make them, once, under their own record.
		return p.processClaimed(ctx, m, ev, client, plan, ActionsKey(key), nil, receivedAt)
	}
	return res, claim, err
}

// OutcomeDeferred is the ledger outcome of a row stored with DeferActions:
// the next delivery of the occurrence that has actions to make makes them.
const OutcomeDeferred = OutcomeInserted + ":actions_deferred"

// ActionsKey is the ledger key of the actions of an occurrence whose row
// was stored with its actions deferred.
func ActionsKey(key string) string { return "actions-" + key }

// deferredActions makes the actions of a stored row whose storer deferred
// them (ProcessActions), or finishes a claimed event a delivery left
// unfinished (a run stopped between its row and its actions). A row stored
// otherwise — by a delivery that acted, or had nothing to do — or one the
// ledger no longer knows is left alone: acting on it could act twice.
func (p *Processor) deferredActions(ctx context.Context, m Message, ev *event.Event, client actions.Client,
	plan []actions.Call, row warehouse.Row, receivedAt time.Time) (Result, *ledger.Claim, error) {
	key := row.Key()
	res := eventResult(ev, receivedAt)
	res.Key = key
	err := p.peek(ctx, key)
	if outcome, done := ledger.DoneOutcome(err); done && outcome == OutcomeDeferred && len(plan) > 0 {
		return p.processClaimed(ctx, m, ev, client, plan, ActionsKey(key), nil, receivedAt)
	}
	switch {
	case err == nil || errors.Is(err, ledger.ErrDuplicate):
		res.Outcome = OutcomeDuplicate
		return res, nil, nil
	case errors.Is(err, ledger.ErrUnfinished):
		// Its steps done are skipped; a row whose insert was not yet
		// recorded goes again under the same insert ID.
		return p.processClaimed(ctx, m, ev, client, plan, key, &row, receivedAt)
	}
	return res, nil, err
}

func (p *Processor) processUnclaimed(ctx context.Context, m Message, ev *event.Event, row warehouse.Row, key string,
	receivedAt time.Time) (Result, error) {
	res := eventResult(ev, receivedAt)
	res.Key = key
	if err := p.peek(ctx, key); err != nil {
		if errors.Is(err, ledger.ErrDuplicate) {
			res.Outcome = OutcomeDuplicate
			return res, nil
		}
		return res, err
	}
	if err := p.fault("claimed"); err != nil {
		return res, err
	}
	if err := p.bounded(ctx, func(ctx context.Context) error { return p.Warehouse.InsertEvent(ctx, row) }); err != nil {
		if !warehouse.IsPermanent(err) {
			return res, asRetry(StepRow, err)
		}
		return p.rejectUnclaimed(ctx, m, receivedAt, "row_invalid", ev.EventID, key, err)
	}
	for _, point := range []string{StepRow + ":sent", StepRow, "done"} {
		if err := p.fault(point); err != nil {
			return res, err
		}
	}
	expireAt, outcome := p.expireAt(receivedAt), OutcomeInserted
	if p.DeferActions {
		expireAt, outcome = p.actionsExpireAt(receivedAt), OutcomeDeferred
	}
	res.Outcome = outcome
	if err := p.put(ctx, key, expireAt, outcome); errors.Is(err, ledger.ErrDuplicate) {
		// Another delivery stored it first; our insert carried its insert ID.
		res.Outcome = OutcomeDuplicate
	} else if err != nil {
		return res, err
	}
	return res, nil
}

// processClaimed holds key under a claim while it does what is left of the
// row (row set: the row's key) or of the plan (row nil: the actions' key).
func (p *Processor) processClaimed(ctx context.Context, m Message, ev *event.Event, client actions.Client,
	plan []actions.Call, key string, row *warehouse.Row, receivedAt time.Time) (Result, *ledger.Claim, error) {
	res := eventResult(ev, receivedAt)
	res.Key = key
	// Crash points of the actions' claim are named apart from the row's.
	at := func(point string) string { return point }
	expireAt := p.expireAt(receivedAt)
	if row == nil || p.DeferActions {
		expireAt = p.actionsExpireAt(receivedAt)
	}
	if row == nil {
		at = func(point string) string { return "actions:" + point }
	}
	claim, err := p.claim(ctx, key, expireAt)
	if errors.Is(err, ledger.ErrDuplicate) {
		res.Outcome = OutcomeDuplicate
		outcome, _ := ledger.DoneOutcome(err)
		res.deferred = row != nil && outcome == OutcomeDeferred
		return res, nil, nil
	}
	if err != nil {
		return res, nil, err
	}
	res.Attempt = claim.Attempt
	if err := p.fault(at("claimed")); err != nil {
		return res, claim, err
	}

	if row != nil && !claim.Done(StepRow) {
		if err := p.sideEffect(ctx, claim, StepRow, func(ctx context.Context) error { return p.Warehouse.InsertEvent(ctx, *row) }); err != nil {
			if !warehouse.IsPermanent(err) {
				return res, claim, asRetry(StepRow, err)
			}
			// The row can never be inserted; keep the body where it can be
			// found and fixed instead of retrying forever.
			res, err := p.rejectClaimed(ctx, claim, m, receivedAt, "row_invalid", ev.EventID, err)
			return res, claim, err
		}
		if err := p.fault(StepRow + ":sent"); err != nil {
			return res, claim, err
		}
		if err := p.record(ctx, claim, StepRow); err != nil {
			return res, claim, err
		}
	}
	if row != nil {
		if err := p.fault(StepRow); err != nil {
			return res, claim, err
		}
	}

	outcome := OutcomeInserted
	if row != nil && p.DeferActions {
		outcome = OutcomeDeferred
	}
	for _, call := range plan {
		if claim.Done(call.Step) {
			continue
		}
		err := p.sideEffect(ctx, claim, call.Step, func(ctx context.Context) error { return client.Do(ctx, call) })
		var re *RetryError
		if errors.As(err, &re) {
			return res, claim, err // the lease could not be kept
		}
		if wait, retry := actions.IsRetryable(err); retry {
			return res, claim, &RetryError{Step: call.Step, RetryAfter: wait, Err: err}
		}
		if err != nil {
			// Permanent: a retry would fail the same way. The step is
			// recorded so it is not attempted again; the client's own action
			// line (actions.Logged) says why, once.
			outcome = OutcomeInserted + ":action_failed"
		}
		if err := p.fault(call.Step + ":sent"); err != nil {
			return res, claim, err
		}
		if err := p.record(ctx, claim, call.Step); err != nil {
			return res, claim, err
		}
		if err := p.fault(call.Step); err != nil {
			return res, claim, err
		}
	}
	if err := p.fault(at("done")); err != nil {
		return res, claim, err
	}
	if err := p.finish(ctx, claim, outcome); err != nil {
		return res, claim, err
	}
	res.Outcome = outcome
	return res, nil, nil
}

// asRetry makes err a *RetryError at step unless it already is one.
func asRetry(step string, err error) error {
	var re *RetryError
	if errors.As(err, &re) {
		return err
	}
	return &RetryError{Step: step, Err: err}
}

// reject quarantines a message the pipeline cannot make a row of. It is
// keyed in the ledger like an event (by event_id, else by the hash of its
// bytes), so a redelivered or re-sent bad body still yields one rejected row.
func (p *Processor) reject(ctx context.Context, m Message, receivedAt time.Time, reason, eventID string) (Result, *ledger.Claim, error) {
	key := eventID
	if key == "" {
		sum := sha256.Sum256(m.Data)
		key = "sha256:" + hex.EncodeToString(sum[:])
	}
	if !p.RecordEachStep {
		res, err := p.rejectUnclaimed(ctx, m, receivedAt, reason, eventID, key, nil)
		if !errors.Is(err, ledger.ErrUnfinished) {
			return res, nil, err
		}
	}
	claim, err := p.claim(ctx, key, p.expireAt(receivedAt))
	if errors.Is(err, ledger.ErrDuplicate) {
		return Result{EventID: eventID, Outcome: OutcomeDuplicate, Reason: reason}, nil, nil
	}
	if err != nil {
		return Result{EventID: eventID, Reason: reason}, nil, err
	}
	res, err := p.rejectClaimed(ctx, claim, m, receivedAt, reason, eventID, nil)
	return res, claim, err
}

// rejectUnclaimed quarantines without a claim, as processUnclaimed inserts.
// After a permanent row failure (cause set) the ledger was read already.
func (p *Processor) rejectUnclaimed(ctx context.Context, m Message, receivedAt time.Time,
	reason, eventID, key string, cause error) (Result, error) {
	res := Result{EventID: eventID, Outcome: OutcomeRejected, Reason: reason}
	if cause == nil {
		if err := p.peek(ctx, key); err != nil {
			if errors.Is(err, ledger.ErrDuplicate) {
				res.Outcome = OutcomeDuplicate
				return res, nil
			}
			return res, err
		}
	}
	row := p.rejectedRow(m, receivedAt, reason, eventID, cause)
	if err := p.bounded(ctx, func(ctx context.Context) error { return p.Warehouse.InsertRejected(ctx, row) }); err != nil {
		return res, asRetry(StepRejected, err)
	}
	if err := p.fault(StepRejected + ":sent"); err != nil {
		return res, err
	}
	if err := p.put(ctx, key, p.expireAt(receivedAt), OutcomeRejected+":"+reason); errors.Is(err, ledger.ErrDuplicate) {
		res.Outcome = OutcomeDuplicate
	} else if err != nil {
		return res, err
	}
	return res, nil
}

func (p *Processor) rejectedRow(m Message, receivedAt time.Time, reason, eventID string, cause error) warehouse.Rejected {
	text := reason
	if cause != nil {
		text = reason + ": " + cause.Error()
	}
	r := warehouse.NewRejected(receivedAt, text, eventID, m.Data, m.Attributes, m.ID)
	r.Workspace = workspaceOf(m)
	return r.Fit()
}

func (p *Processor) rejectClaimed(ctx context.Context, claim *ledger.Claim, m Message, receivedAt time.Time,
	reason, eventID string, cause error) (Result, error) {
	res := Result{EventID: eventID, Outcome: OutcomeRejected, Reason: reason, Attempt: claim.Attempt}
	if !claim.Done(StepRejected) {
		row := p.rejectedRow(m, receivedAt, reason, eventID, cause)
		if err := p.sideEffect(ctx, claim, StepRejected, func(ctx context.Context) error { return p.Warehouse.InsertRejected(ctx, row) }); err != nil {
			return res, asRetry(StepRejected, err)
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

// expireAt is when key's ledger entry expires: TTL after the later of
// arrival and now — not after the body's timestamp, which a sender controls
// and which may lie beyond what Firestore can store (year 9999).
func (p *Processor) expireAt(receivedAt time.Time) time.Time {
	ttl := p.TTL
	if ttl <= 0 {
		ttl = 14 * 24 * time.Hour
	}
	return later(receivedAt, p.now()).Add(ttl)
}

// actionsExpireAt is when an actions record expires: ActionsTTL after the
// later of arrival and now. It outlives the row's record because a backfill
// may come back for the actions of rows stored long ago (--catch-up-actions)
// and must then find those already made.
func (p *Processor) actionsExpireAt(receivedAt time.Time) time.Time {
	ttl := max(p.ActionsTTL, p.TTL)
	if p.ActionsTTL <= 0 {
		ttl = max(DefaultActionsTTL, p.TTL)
	}
	return later(receivedAt, p.now()).Add(ttl)
}

// peek reads key's ledger entry. ErrDuplicate and ErrUnfinished come back
// as they are; anything else (ErrBusy too) is a retry.
func (p *Processor) peek(ctx context.Context, key string) error {
	err := p.ledgerCall(ctx, func(ctx context.Context) error { return p.Ledger.Peek(ctx, key) })
	if err == nil || errors.Is(err, ledger.ErrDuplicate) || errors.Is(err, ledger.ErrUnfinished) {
		return err
	}
	return &RetryError{Step: "peek", Err: err}
}

// put stores key as done; ErrDuplicate comes back as it is.
func (p *Processor) put(ctx context.Context, key string, expireAt time.Time, outcome string) error {
	err := p.ledgerCall(ctx, func(ctx context.Context) error { return p.Ledger.Put(ctx, key, expireAt, outcome) })
	if err == nil || errors.Is(err, ledger.ErrDuplicate) {
		return err
	}
	return &RetryError{Step: "finish", Err: err}
}

// claim takes key in the ledger.
func (p *Processor) claim(ctx context.Context, key string, expireAt time.Time) (*ledger.Claim, error) {
	var c *ledger.Claim
	err := p.ledgerCall(ctx, func(ctx context.Context) (err error) {
		c, err = p.Ledger.Claim(ctx, key, expireAt)
		return err
	})
	switch {
	case err == nil, errors.Is(err, ledger.ErrDuplicate):
		return c, err
	default:
		return nil, &RetryError{Step: "claim", Err: err}
	}
}

// sideEffect runs f, a call whose effect the ledger cannot take back, only
// while the claim surely holds the lease, renewing it first if less than a
// step's worth is left, and bounds f to end a margin before the lease can.
// So no other delivery can take the event over while f may still act.
func (p *Processor) sideEffect(ctx context.Context, c *ledger.Claim, step string, f func(context.Context) error) error {
	timeout, margin := p.stepTimeout(), p.leaseMargin()
	if c.Remaining() < timeout+margin {
		if err := p.ledgerCall(ctx, func(ctx context.Context) error { return p.Ledger.Extend(ctx, c) }); err != nil {
			return &RetryError{Step: step, Err: fmt.Errorf("renew lease: %w", err)}
		}
	}
	d := min(timeout, c.Remaining()-margin)
	if d <= 0 {
		return &RetryError{Step: step, Err: errLeaseShort}
	}
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	return f(ctx)
}

// bounded runs f, a call without a claim, within the step timeout.
func (p *Processor) bounded(ctx context.Context, f func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, p.stepTimeout())
	defer cancel()
	return f(ctx)
}

// record notes step done: written at once with RecordEachStep, else
// deferred to the claim's next write.
func (p *Processor) record(ctx context.Context, c *ledger.Claim, step string) error {
	if !p.RecordEachStep {
		c.Defer(step)
		return nil
	}
	if err := p.ledgerCall(ctx, func(ctx context.Context) error { return p.Ledger.Record(ctx, c, step) }); err != nil {
		return &RetryError{Step: step, Err: err}
	}
	return nil
}

func (p *Processor) finish(ctx context.Context, c *ledger.Claim, outcome string) error {
	if err := p.ledgerCall(ctx, func(ctx context.Context) error { return p.Ledger.Finish(ctx, c, outcome) }); err != nil {
		return &RetryError{Step: "finish", Err: err}
	}
	return nil
}

// release gives the lease up after a retryable failure. It runs even when
// the delivery's own context has ended, which is often why it failed; if it
// fails too, the lease simply runs out.
func (p *Processor) release(ctx context.Context, c *ledger.Claim, after time.Duration) {
	ctx = context.WithoutCancel(ctx)
	if err := p.ledgerCall(ctx, func(ctx context.Context) error { return p.Ledger.Release(ctx, c, after) }); err != nil &&
		!errors.Is(err, ledger.ErrLeaseLost) {
		p.logger().LogAttrs(ctx, slog.LevelWarn, "lease not released",
			slog.String("event_id", c.EventID), slog.String("error", err.Error()))
	}
}

// ledgerCall bounds one ledger call, so a slow Firestore fails a delivery
// instead of holding it past its lease.
func (p *Processor) ledgerCall(ctx context.Context, f func(context.Context) error) error {
	d := p.LedgerTimeout
	if d <= 0 {
		d = DefaultLedgerTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	return f(ctx)
}

func (p *Processor) stepTimeout() time.Duration {
	if p.StepTimeout > 0 {
		return p.StepTimeout
	}
	return DefaultStepTimeout
}

func (p *Processor) leaseMargin() time.Duration {
	if p.LeaseMargin > 0 {
		return p.LeaseMargin
	}
	return DefaultLeaseMargin
}

func (p *Processor) fault(point string) error {
	if p.Fault == nil {
		return nil
	}
	if err := p.Fault(point); err != nil {
		return &RetryError{Step: point, Err: fmt.Errorf("%w: %w", errCrash, err)}
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

// eventRow is ev's warehouse row, fitted to BigQuery's limits.
func eventRow(m Message, ev *event.Event, receivedAt time.Time) warehouse.Row {
	r := warehouse.FromEvent(ev, receivedAt, signedAt(m), m.ID)
	r.Workspace = workspaceOf(m)
	switch src := m.Attributes[webhook.AttrSource]; src {
	case warehouse.SourceBackfill, warehouse.SourceReplay:
		r.Source = &src
	}
	row, _ := r.Fit()
	return row
}

// workspaceOf is the message's workspace: the receiver's attribute, or the
// default workspace for a message published before workspaces existed.
func workspaceOf(m Message) *string {
	w := workspace.OrDefault(m.Attributes[webhook.AttrWorkspace])
	return &w
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
		slog.String("workspace", *workspaceOf(m)),
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
		// A refused Track key fails every acting event until someone fixes
		// it: an error for the operator, with a cause an alert can match.
		if errors.Is(err, actions.ErrCredentials) {
			level = slog.LevelError
			attrs = append(attrs, slog.String("cause", "track_credentials"))
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
	if src := m.Attributes[webhook.AttrSource]; src != "" {
		attrs = append(attrs, slog.String("source", src))
	}
	if err == nil && strings.HasPrefix(outcome, OutcomeInserted) {
		attrs = append(attrs, p.lags(res)...)
	}
	p.logger().LogAttrs(ctx, level, "event", attrs...)
}

// lags are the end-to-end delays of an inserted event, in milliseconds up
// to the end of its delivery (row inserted and actions applied):
// lag_received_ms from the receiver's clock, lag_event_ms from the event's
// own timestamp (absent when the body has none). The lag metrics in
// terraform/modules/cioevents/monitoring.tf are distributions of these.
func (p *Processor) lags(res Result) []slog.Attr {
	now := p.now()
	out := []slog.Attr{slog.Int64("lag_received_ms", now.Sub(res.receivedAt).Milliseconds())}
	if !res.occurred.IsZero() {
		out = append(out, slog.Int64("lag_event_ms", now.Sub(res.occurred).Milliseconds()))
	}
	return out
}
