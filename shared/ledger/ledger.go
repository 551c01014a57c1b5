// Package ledger is the exactly-once ledger of the processor: one record per
// key — an event's identity, or its round of actions (shared/pipeline) —
// that says whether the event is being processed (under a lease),
// which side effects are already done, and whether it is finished. Pub/Sub
// delivers at least once, so every redelivery goes through Claim first.
package ledger

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"maps"
	"regexp"
	"slices"
	"sync"
	"time"
)

// Sentinel errors; match them with errors.Is.
var (
	// ErrDuplicate: the event is already done; ack the delivery.
	ErrDuplicate = errors.New("ledger: event already processed")
	// ErrBusy: another delivery holds a valid lease; retry later.
	ErrBusy = errors.New("ledger: event is being processed by another delivery")
	// ErrLeaseLost: another delivery took the event over; stop and retry later.
	ErrLeaseLost = errors.New("ledger: lease lost to another delivery")
	// ErrUnfinished: Peek found an event that a delivery started and did
	// not finish (its lease ran out or was released); Claim takes it over.
	ErrUnfinished = errors.New("ledger: event started and not finished")
)

// DoneError is the ErrDuplicate of Claim and Peek: the record is done, and
// Outcome is what its Finish or Put wrote. Both read the record anyway, so
// the outcome costs nothing; the pipeline uses it to tell a row stored with
// its actions deferred from one whose deliverer acted. Steps are the steps
// the record holds (sorted): a delivery that stored the row with its actions
// deferred may have taken over a claim whose earlier holder had already
// made some of them, and whoever makes the deferred actions must not repeat
// those.
type DoneError struct {
	Outcome string
	Steps   []string
}

func (e *DoneError) Error() string        { return ErrDuplicate.Error() }
func (e *DoneError) Is(target error) bool { return target == ErrDuplicate }

// DoneSteps are the steps a DoneError in err carries.
func DoneSteps(err error) []string {
	var d *DoneError
	if errors.As(err, &d) {
		return d.Steps
	}
	return nil
}

// doneError is the DoneError of a record with outcome and steps.
func doneError[T any](outcome string, steps map[string]T) *DoneError {
	return &DoneError{Outcome: outcome, Steps: slices.Sorted(maps.Keys(steps))}
}

// DoneOutcome is the outcome a DoneError in err carries.
func DoneOutcome(err error) (string, bool) {
	var d *DoneError
	if errors.As(err, &d) {
		return d.Outcome, true
	}
	return "", false
}

// Ledger is implemented by Firestore (production), Bolt (`cioevents dev`) and
// Memory (tests).
//
// A lease is judged by the store's own clock: Firestore compares its read
// time with the holder's last write time, so instances whose clocks disagree
// still agree on who holds an event. The holder keeps its own, conservative
// view of the lease in Claim.Remaining, measured from before its last write
// was sent, and must not start a side effect that could outlast it.
type Ledger interface {
	// Claim takes the event for processing. A new event is created in state
	// "processing", attempt 1, under a fresh lease. A "done" event gives
	// ErrDuplicate; a "processing" event under a valid lease gives ErrBusy;
	// one whose lease expired or was released is taken over (attempt+1, new
	// lease), keeping the steps already recorded. A record whose expire_at
	// is not in the future counts as absent, because TTL deletion lags by up
	// to a day.
	Claim(ctx context.Context, eventID string, expireAt time.Time) (*Claim, error)
	// Record marks one side-effect step as done and renews the lease.
	// ErrLeaseLost means another delivery took the event over since this
	// claim (or the claim was released).
	Record(ctx context.Context, c *Claim, step string) error
	// Extend renews the lease without recording anything; same lease rule.
	Extend(ctx context.Context, c *Claim) error
	// Release gives the lease up so that the next delivery takes over
	// after `after` (0: at once) instead of finding the event busy for the
	// rest of the lease. A holder that abandoned a call which may still be
	// running at the far side passes a margin, so the next delivery's call
	// cannot overlap it. The claim is unusable after.
	Release(ctx context.Context, c *Claim, after time.Duration) error
	// Finish marks the event done with a short outcome; same lease rule.
	Finish(ctx context.Context, c *Claim, outcome string) error

	// Peek reads the event's record and writes nothing: nil when there is
	// none (or it expired), ErrDuplicate when it is done, ErrBusy while a
	// delivery holds it, ErrUnfinished when Claim would take it over.
	Peek(ctx context.Context, eventID string) error
	// Put stores an event that was processed without a claim as done,
	// create-if-absent: ErrDuplicate when a live record exists (another
	// delivery finished or claimed it since Peek).
	Put(ctx context.Context, eventID string, expireAt time.Time, outcome string) error
}

// Record field values.
const (
	StateProcessing = "processing"
	StateDone       = "done"
)

// Claim is one delivery's hold on an event. It is safe for concurrent use;
// writes through one claim are serialised.
type Claim struct {
	EventID string
	Attempt int

	token string
	lease time.Duration
	now   func() time.Time
	// writeMu serialises writes, so a claim never races itself for the
	// precondition; Done must not wait for a write, hence a second mutex.
	writeMu sync.Mutex
	// updateTime is the Firestore update time of this claim's last write,
	// the precondition of its next one. Guarded by writeMu.
	updateTime time.Time
	mu         sync.Mutex
	steps      map[string]bool
	// unsaved are steps marked done by Defer and not yet written.
	unsaved []string
	// leaseEnd is when the lease ends at the latest as the holder sees it:
	// the lease counted from before the write that started it was sent,
	// which is never later than the store's own view.
	leaseEnd time.Time
	released bool
}

func (c *Claim) markDone(step string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.steps[step] = true
}

// Defer marks step done without a write of its own: it is stored by the
// claim's next write (Record, Extend, Release or Finish). Until then a
// crash forgets it and the next delivery repeats the step, so Defer is for
// side effects that are safe to repeat and cost a write to record.
func (c *Claim) Defer(step string) {
	if c == nil || step == "" {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.steps[step] {
		c.steps[step] = true
		c.unsaved = append(c.unsaved, step)
	}
}

// pending returns the deferred steps the next write must store, then step
// unless it is empty or among them, and how many of them were deferred.
// Callers hold writeMu.
func (c *Claim) pending(step string) (steps []string, deferred int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	steps = append([]string(nil), c.unsaved...)
	if step != "" && !slices.Contains(steps, step) {
		steps = append(steps, step)
	}
	return steps, len(c.unsaved)
}

// saved drops the first n deferred steps, now written. Callers hold
// writeMu, so nothing but Defer's appends happened since pending.
func (c *Claim) saved(n int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	n = min(n, len(c.unsaved))
	c.unsaved = c.unsaved[n:]
}

func newClaim(eventID string, attempt int, token string, steps map[string]time.Time) *Claim {
	c := &Claim{EventID: eventID, Attempt: attempt, token: token, steps: make(map[string]bool, len(steps))}
	for s := range steps {
		c.steps[s] = true
	}
	return c
}

// start gives a new claim its lease, counted from sentAt on the holder's clock.
func (c *Claim) start(lease time.Duration, now func() time.Time, sentAt time.Time) *Claim {
	c.lease, c.now = lease, now
	c.renewed(sentAt)
	return c
}

// renewed notes a successful write sent at sentAt: the store restarted the
// lease no earlier than that.
func (c *Claim) renewed(sentAt time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if end := sentAt.Add(c.lease); end.After(c.leaseEnd) {
		c.leaseEnd = end
	}
}

func (c *Claim) release() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.released = true
	c.leaseEnd = time.Time{}
}

func (c *Claim) isReleased() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.released
}

// Remaining is how much of the lease is surely left; zero once it may have
// ended or the claim was released. A holder starts no side effect that could
// run longer than this.
func (c *Claim) Remaining() time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.released || c.now == nil {
		return 0
	}
	return max(c.leaseEnd.Sub(c.now()), 0)
}

// Done reports whether step was recorded by this or an earlier attempt.
func (c *Claim) Done(step string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.steps[step]
}

var errNilClaim = errors.New("ledger: nil claim")

// peekState is Peek's verdict on a record that exists, for the stores that
// keep the lease's end (Memory, Bolt).
func peekState(state, outcome string, steps map[string]time.Time, expireAt, leaseUntil, now time.Time) error {
	switch {
	case !expireAt.After(now):
		return nil
	case state == StateDone:
		return doneError(outcome, steps)
	case leaseUntil.After(now):
		return ErrBusy
	}
	return ErrUnfinished
}

func checkClaimArgs(c *Claim, step string) error {
	if c == nil {
		return errNilClaim
	}
	if step == "" {
		// Firestore rejects an empty field name; refuse it everywhere so
		// both implementations agree.
		return errors.New("ledger: empty step name")
	}
	return nil
}

func checkExpireAt(t time.Time) error {
	if t.IsZero() {
		// A zero expire_at is already expired: the record would count as
		// absent at once and dedupe nothing.
		return errors.New("ledger: expireAt is zero")
	}
	return nil
}

func newToken() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go ≥ 1.24)
	return hex.EncodeToString(b[:])
}

// readableID is deliberately narrower than what Firestore accepts: it has no
// "/" or ".", cannot form "__x__" (it starts with an alphanumeric), and stays
// far below the 1,500-byte limit.
var readableID = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]{0,199}$`)

// hashedPrefix starts with "_", which a spread readable ID never does (it
// starts with a hex digit), so a hashed ID can never equal a readable one;
// two hashed IDs collide only with SHA-256. A single leading "_" followed
// by a letter cannot match "__.*__".
const hashedPrefix = "_sha256_"

// spreadLen is how many hex digits of the event ID's SHA-256 lead a
// readable document ID: 8 digits spread keys over 4 billion prefixes.
const spreadLen = 8

// DocID is the document ID of an event. Customer.io's event IDs are ULIDs,
// which grow with time, and Firestore splits its key space by ranges: keys
// that grow with time all land in the last range and cap the write rate
// (Firestore's best practices name this hotspot). So a readable ID is led
// by eight hex digits of its own SHA-256 — "3fa01c9e-01J…": spread over
// the key space, still deterministic for lookups, still readable in the
// console. An ID that is not plainly safe is replaced by a prefixed
// SHA-256 of its bytes, which is spread too.
func DocID(eventID string) string {
	sum := sha256.Sum256([]byte(eventID))
	if readableID.MatchString(eventID) {
		return hex.EncodeToString(sum[:spreadLen/2]) + "-" + eventID
	}
	return hashedPrefix + hex.EncodeToString(sum[:])
}

// LegacyDocID is the document ID releases before the spreading used for
// eventID: the readable ID itself. Documents under it expire by TTL; only
// erasure (cioevents forget) still looks for them.
func LegacyDocID(eventID string) string {
	if readableID.MatchString(eventID) {
		return eventID
	}
	return DocID(eventID)
}
