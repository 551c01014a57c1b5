package ledger

import (
	"context"
	"fmt"
	"strings"
	"time"

	"cloud.google.com/go/firestore"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Firestore keeps the ledger in one collection, one document per event.
// It uses no transactions: Claim is Create (create-if-absent), and every
// later write carries an update-time precondition, so of two deliveries
// racing on one document exactly one write lands and the other re-reads.
//
// A lease runs from the document's last update time for lease_ms, and other
// deliveries judge it against the read time of their snapshot: both are
// Firestore's clock, so no instance's clock skew can cut a lease short.
type Firestore struct {
	// Now is this instance's clock, used only to measure how much of its
	// own lease is left; nil means time.Now. Set it before first use.
	Now func() time.Time

	coll  *firestore.CollectionRef
	lease time.Duration
	// shift moves Firestore's clock forward, so tests can expire a lease
	// without waiting for it; nil in production. Each write stores the
	// shift it was made at (test_shift_ms), so that elapsed lease time is
	// shifted consistently on both ends.
	shift func() time.Duration
}

var _ Ledger = (*Firestore)(nil)

// maxConflicts bounds the re-read/retry loops. Each lost race means another
// writer made progress, so a handful is plenty.
const maxConflicts = 8

// record is the document. The field names are the contract with Terraform
// (expire_at carries the TTL policy) and with anyone reading the console.
type record struct {
	EventID    string               `firestore:"event_id"`
	State      string               `firestore:"state"`
	Attempt    int                  `firestore:"attempt"`
	LeaseMS    int64                `firestore:"lease_ms"`
	LeaseToken string               `firestore:"lease_token"`
	Steps      map[string]time.Time `firestore:"steps"`
	Outcome    string               `firestore:"outcome"`
	CreatedAt  time.Time            `firestore:"created_at,serverTimestamp"`
	UpdatedAt  time.Time            `firestore:"updated_at,serverTimestamp"`
	ExpireAt   time.Time            `firestore:"expire_at"`
	// TestShiftMS is only ever written by tests (see Firestore.shift).
	TestShiftMS int64 `firestore:"test_shift_ms,omitempty"`
}

// NewFirestore returns a ledger in collection whose claims hold a lease of lease.
func NewFirestore(client *firestore.Client, collection string, lease time.Duration) *Firestore {
	return &Firestore{coll: client.Collection(collection), lease: lease}
}

func (f *Firestore) now() time.Time {
	if f.Now != nil {
		return f.Now()
	}
	return time.Now()
}

func (f *Firestore) shiftMS() int64 {
	if f.shift == nil {
		return 0
	}
	return f.shift().Milliseconds()
}

// withShift adds the test clock shift to a write's updates (none in production).
func (f *Firestore) withShift(us []firestore.Update) []firestore.Update {
	if f.shift == nil {
		return us
	}
	return append(us, firestore.Update{Path: "test_shift_ms", Value: f.shiftMS()})
}

// SetClockShiftForTest moves the clock this instance judges leases and
// expiry by (Firestore's) forward by what shift returns, so tests elsewhere
// can let a crashed holder's lease run out without waiting for it. Never
// called in production. Set it before first use.
func (f *Firestore) SetClockShiftForTest(shift func() time.Duration) { f.shift = shift }

// serverNow is Firestore's clock at the time snap was read.
func (f *Firestore) serverNow(snap *firestore.DocumentSnapshot) time.Time {
	return snap.ReadTime.Add(time.Duration(f.shiftMS()) * time.Millisecond)
}

// leased reports whether cur's lease still runs, as Firestore's clock says:
// the time from its last write to this read is shorter than its lease.
func (f *Firestore) leased(snap *firestore.DocumentSnapshot, cur record) bool {
	elapsed := snap.ReadTime.Sub(snap.UpdateTime) + time.Duration(f.shiftMS()-cur.TestShiftMS)*time.Millisecond
	return elapsed < time.Duration(cur.LeaseMS)*time.Millisecond
}

func (f *Firestore) doc(eventID string) *firestore.DocumentRef { return f.coll.Doc(DocID(eventID)) }

// Claim implements Ledger.
func (f *Firestore) Claim(ctx context.Context, eventID string, expireAt time.Time) (*Claim, error) {
	if err := checkExpireAt(expireAt); err != nil {
		return nil, err
	}
	ref := f.doc(eventID)
	id := ref.ID
	leaseMS := f.lease.Milliseconds()
	for range maxConflicts {
		token := newToken()
		fresh := record{
			// Firestore strings must be valid UTF-8; the document ID is
			// derived from the original bytes, so nothing is lost.
			EventID: strings.ToValidUTF8(eventID, "\uFFFD"),
			State:   StateProcessing, Attempt: 1, LeaseMS: leaseMS, LeaseToken: token,
			Steps: map[string]time.Time{}, ExpireAt: expireAt, TestShiftMS: f.shiftMS(),
		}
		sentAt := f.now()
		wr, err := ref.Create(ctx, fresh)
		if err == nil {
			c := newClaim(eventID, 1, token, nil)
			c.updateTime = wr.UpdateTime
			return c.start(f.lease, f.now, sentAt), nil
		}
		if status.Code(err) != codes.AlreadyExists {
			return nil, fmt.Errorf("ledger: claim %s: create: %w", id, err)
		}

		snap, cur, err := read(ctx, ref)
		if err != nil {
			return nil, fmt.Errorf("ledger: claim %s: %w", id, err)
		}
		if snap == nil {
			continue // deleted (TTL) between Create and Get
		}

		now := f.serverNow(snap)
		var updates []firestore.Update
		var c *Claim
		switch {
		case !cur.ExpireAt.After(now):
			// Expired but not yet deleted: start over as if absent.
			updates = replacing(fresh)
			c = newClaim(eventID, 1, token, nil)
		case cur.State == StateDone:
			return nil, fmt.Errorf("ledger: claim %s: %w", id, doneError(cur.Outcome, cur.Steps))
		case f.leased(snap, cur):
			return nil, fmt.Errorf("ledger: claim %s: %w", id, ErrBusy)
		default:
			updates = []firestore.Update{
				{Path: "attempt", Value: cur.Attempt + 1},
				{Path: "lease_ms", Value: leaseMS},
				{Path: "lease_token", Value: token},
				{Path: "updated_at", Value: firestore.ServerTimestamp},
				{Path: "expire_at", Value: later(cur.ExpireAt, expireAt)},
			}
			c = newClaim(eventID, cur.Attempt+1, token, cur.Steps)
		}
		// The precondition makes the takeover conditional on nobody having
		// written since our read; a loser re-reads and sees the winner's lease.
		sentAt = f.now()
		wr, err = ref.Update(ctx, f.withShift(updates), firestore.LastUpdateTime(snap.UpdateTime))
		if err == nil {
			c.updateTime = wr.UpdateTime
			return c.start(f.lease, f.now, sentAt), nil
		}
		if !isConflict(err) {
			return nil, fmt.Errorf("ledger: claim %s: take over: %w", id, err)
		}
	}
	return nil, fmt.Errorf("ledger: claim %s: gave up after %d conflicting writes", id, maxConflicts)
}

// Peek implements Ledger: one read.
func (f *Firestore) Peek(ctx context.Context, eventID string) error {
	ref := f.doc(eventID)
	snap, cur, err := read(ctx, ref)
	if err != nil {
		return fmt.Errorf("ledger: peek %s: %w", ref.ID, err)
	}
	switch {
	case snap == nil, !cur.ExpireAt.After(f.serverNow(snap)):
		return nil
	case cur.State == StateDone:
		return fmt.Errorf("ledger: peek %s: %w", ref.ID, doneError(cur.Outcome, cur.Steps))
	case f.leased(snap, cur):
		return fmt.Errorf("ledger: peek %s: %w", ref.ID, ErrBusy)
	}
	return fmt.Errorf("ledger: peek %s: %w", ref.ID, ErrUnfinished)
}

// replacing is the update that turns an expired record into r.
func replacing(r record) []firestore.Update {
	return []firestore.Update{
		{Path: "event_id", Value: r.EventID},
		{Path: "state", Value: r.State},
		{Path: "attempt", Value: r.Attempt},
		{Path: "lease_ms", Value: r.LeaseMS},
		{Path: "lease_token", Value: r.LeaseToken},
		{Path: "steps", Value: r.Steps},
		{Path: "outcome", Value: r.Outcome},
		{Path: "created_at", Value: firestore.ServerTimestamp},
		{Path: "updated_at", Value: firestore.ServerTimestamp},
		{Path: "expire_at", Value: r.ExpireAt},
	}
}

// Put implements Ledger: one create, or a read and an overwrite when an
// expired record is still there (TTL deletion lags by up to a day).
func (f *Firestore) Put(ctx context.Context, eventID string, expireAt time.Time, outcome string) error {
	if err := checkExpireAt(expireAt); err != nil {
		return err
	}
	ref := f.doc(eventID)
	done := record{EventID: strings.ToValidUTF8(eventID, "\uFFFD"), State: StateDone, Attempt: 1,
		Steps: map[string]time.Time{}, Outcome: outcome, ExpireAt: expireAt, TestShiftMS: f.shiftMS()}
	for range maxConflicts {
		_, err := ref.Create(ctx, done)
		if err == nil {
			return nil
		}
		if status.Code(err) != codes.AlreadyExists {
			return fmt.Errorf("ledger: put %s: create: %w", ref.ID, err)
		}
		snap, cur, err := read(ctx, ref)
		if err != nil {
			return fmt.Errorf("ledger: put %s: %w", ref.ID, err)
		}
		if snap == nil {
			continue // deleted (TTL) between Create and Get
		}
		if cur.ExpireAt.After(f.serverNow(snap)) {
			return fmt.Errorf("ledger: put %s: %w", ref.ID, ErrDuplicate)
		}
		_, err = ref.Update(ctx, f.withShift(replacing(done)), firestore.LastUpdateTime(snap.UpdateTime))
		if err == nil {
			return nil
		}
		if !isConflict(err) {
			return fmt.Errorf("ledger: put %s: overwrite: %w", ref.ID, err)
		}
	}
	return fmt.Errorf("ledger: put %s: gave up after %d conflicting writes", ref.ID, maxConflicts)
}

// Record implements Ledger.
func (f *Firestore) Record(ctx context.Context, c *Claim, step string) error {
	if err := checkClaimArgs(c, step); err != nil {
		return err
	}
	return f.write(ctx, c, "record "+step, step)
}

// Extend implements Ledger.
func (f *Firestore) Extend(ctx context.Context, c *Claim) error {
	if c == nil {
		return errNilClaim
	}
	return f.write(ctx, c, "extend", "")
}

// Release implements Ledger.
func (f *Firestore) Release(ctx context.Context, c *Claim, after time.Duration) error {
	if c == nil {
		return errNilClaim
	}
	err := f.write(ctx, c, "release", "", firestore.Update{Path: "lease_ms", Value: max(after, 0).Milliseconds()})
	c.release()
	return err
}

// Finish implements Ledger.
func (f *Firestore) Finish(ctx context.Context, c *Claim, outcome string) error {
	if c == nil {
		return errNilClaim
	}
	return f.write(ctx, c, "finish", "",
		firestore.Update{Path: "state", Value: StateDone}, firestore.Update{Path: "outcome", Value: outcome})
}

// write applies updates on condition that the document is unchanged since
// this claim's last write; each write restarts the lease (updated_at). A
// failed precondition is re-read: a different lease token means a takeover
// (ErrLeaseLost); the same token means the change was our own (say, a commit
// whose reply was lost), so retry. On success, step (if any) is marked done
// in the claim.
func (f *Firestore) write(ctx context.Context, c *Claim, op, step string, updates ...firestore.Update) error {
	ref := f.doc(c.EventID)
	if c.isReleased() {
		return fmt.Errorf("ledger: %s %s: claim released: %w", op, ref.ID, ErrLeaseLost)
	}
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	steps, deferred := c.pending(step)
	for _, s := range steps {
		// FieldPath, not a dotted Path: step names contain ":" and may
		// contain anything else.
		updates = append(updates, firestore.Update{FieldPath: firestore.FieldPath{"steps", s}, Value: firestore.ServerTimestamp})
	}
	us := f.withShift(append(updates, firestore.Update{Path: "updated_at", Value: firestore.ServerTimestamp}))
	for range maxConflicts {
		sentAt := f.now()
		wr, err := ref.Update(ctx, us, firestore.LastUpdateTime(c.updateTime))
		if err == nil {
			c.updateTime = wr.UpdateTime
			c.renewed(sentAt)
			c.saved(deferred)
			if step != "" {
				c.markDone(step)
			}
			return nil
		}
		if !isConflict(err) {
			return fmt.Errorf("ledger: %s %s: %w", op, ref.ID, err)
		}
		snap, cur, err := read(ctx, ref)
		if err != nil {
			return fmt.Errorf("ledger: %s %s: %w", op, ref.ID, err)
		}
		if snap == nil {
			return fmt.Errorf("ledger: %s %s: record deleted: %w", op, ref.ID, ErrLeaseLost)
		}
		if cur.LeaseToken != c.token {
			return fmt.Errorf("ledger: %s %s: %w", op, ref.ID, ErrLeaseLost)
		}
		c.updateTime = snap.UpdateTime
	}
	return fmt.Errorf("ledger: %s %s: gave up after %d conflicting writes", op, ref.ID, maxConflicts)
}

// read returns ref's record and snapshot; a nil snapshot means there is none.
func read(ctx context.Context, ref *firestore.DocumentRef) (*firestore.DocumentSnapshot, record, error) {
	var cur record
	snap, err := ref.Get(ctx)
	if status.Code(err) == codes.NotFound {
		return nil, cur, nil
	}
	if err != nil {
		return nil, cur, fmt.Errorf("read: %w", err)
	}
	if err := snap.DataTo(&cur); err != nil {
		return nil, cur, fmt.Errorf("decode: %w", err)
	}
	return snap, cur, nil
}

// isConflict reports a failed precondition: the document changed or vanished
// since the update time we hold.
func isConflict(err error) bool {
	switch status.Code(err) {
	case codes.FailedPrecondition, codes.NotFound:
		return true
	}
	return false
}
