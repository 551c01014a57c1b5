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
type Firestore struct {
	// Now is the clock; nil means time.Now. Set it before first use.
	Now func() time.Time

	coll  *firestore.CollectionRef
	lease time.Duration
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
	LeaseUntil time.Time            `firestore:"lease_until"`
	LeaseToken string               `firestore:"lease_token"`
	Steps      map[string]time.Time `firestore:"steps"`
	Outcome    string               `firestore:"outcome"`
	CreatedAt  time.Time            `firestore:"created_at"`
	UpdatedAt  time.Time            `firestore:"updated_at"`
	ExpireAt   time.Time            `firestore:"expire_at"`
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

func (f *Firestore) doc(eventID string) *firestore.DocumentRef { return f.coll.Doc(DocID(eventID)) }

// Claim implements Ledger.
func (f *Firestore) Claim(ctx context.Context, eventID string, expireAt time.Time) (*Claim, error) {
	if err := checkExpireAt(expireAt); err != nil {
		return nil, err
	}
	ref := f.doc(eventID)
	id := ref.ID
	for range maxConflicts {
		now := f.now()
		token := newToken()
		fresh := record{
			// Firestore strings must be valid UTF-8; the document ID is
			// derived from the original bytes, so nothing is lost.
			EventID: strings.ToValidUTF8(eventID, "\uFFFD"),
			State:   StateProcessing, Attempt: 1, LeaseUntil: now.Add(f.lease), LeaseToken: token,
			Steps: map[string]time.Time{}, CreatedAt: now, UpdatedAt: now, ExpireAt: expireAt,
		}
		wr, err := ref.Create(ctx, fresh)
		if err == nil {
			return newClaim(eventID, 1, token, wr.UpdateTime, nil), nil
		}
		if status.Code(err) != codes.AlreadyExists {
			return nil, fmt.Errorf("ledger: claim %s: create: %w", id, err)
		}

		snap, err := ref.Get(ctx)
		if status.Code(err) == codes.NotFound {
			continue // deleted (TTL) between Create and Get
		}
		if err != nil {
			return nil, fmt.Errorf("ledger: claim %s: read: %w", id, err)
		}
		var cur record
		if err := snap.DataTo(&cur); err != nil {
			return nil, fmt.Errorf("ledger: claim %s: decode: %w", id, err)
		}

		var updates []firestore.Update
		var c *Claim
		switch {
		case !cur.ExpireAt.After(now):
			// Expired but not yet deleted: start over as if absent.
			updates = []firestore.Update{
				{Path: "event_id", Value: fresh.EventID},
				{Path: "state", Value: fresh.State},
				{Path: "attempt", Value: fresh.Attempt},
				{Path: "lease_until", Value: fresh.LeaseUntil},
				{Path: "lease_token", Value: fresh.LeaseToken},
				{Path: "steps", Value: fresh.Steps},
				{Path: "outcome", Value: fresh.Outcome},
				{Path: "created_at", Value: fresh.CreatedAt},
				{Path: "updated_at", Value: fresh.UpdatedAt},
				{Path: "expire_at", Value: fresh.ExpireAt},
			}
			c = newClaim(eventID, 1, token, time.Time{}, nil)
		case cur.State == StateDone:
			return nil, fmt.Errorf("ledger: claim %s: %w", id, ErrDuplicate)
		case cur.LeaseUntil.After(now):
			return nil, fmt.Errorf("ledger: claim %s: %w", id, ErrBusy)
		default:
			updates = []firestore.Update{
				{Path: "attempt", Value: cur.Attempt + 1},
				{Path: "lease_until", Value: now.Add(f.lease)},
				{Path: "lease_token", Value: token},
				{Path: "updated_at", Value: now},
				{Path: "expire_at", Value: later(cur.ExpireAt, expireAt)},
			}
			c = newClaim(eventID, cur.Attempt+1, token, time.Time{}, cur.Steps)
		}
		// The precondition makes the takeover conditional on nobody having
		// written since our read; a loser re-reads and sees the winner's lease.
		wr, err = ref.Update(ctx, updates, firestore.LastUpdateTime(snap.UpdateTime))
		if err == nil {
			c.updateTime = wr.UpdateTime
			return c, nil
		}
		if !isConflict(err) {
			return nil, fmt.Errorf("ledger: claim %s: take over: %w", id, err)
		}
	}
	return nil, fmt.Errorf("ledger: claim %s: gave up after %d conflicting writes", id, maxConflicts)
}

// Record implements Ledger.
func (f *Firestore) Record(ctx context.Context, c *Claim, step string) error {
	if err := checkClaimArgs(c, step); err != nil {
		return err
	}
	// FieldPath, not a dotted Path: step names contain ":" and may contain
	// anything else.
	return f.write(ctx, c, "record "+step, step, func(now time.Time) []firestore.Update {
		return []firestore.Update{{FieldPath: firestore.FieldPath{"steps", step}, Value: now}}
	})
}

// Finish implements Ledger.
func (f *Firestore) Finish(ctx context.Context, c *Claim, outcome string) error {
	if c == nil {
		return errNilClaim
	}
	return f.write(ctx, c, "finish", "", func(time.Time) []firestore.Update {
		return []firestore.Update{{Path: "state", Value: StateDone}, {Path: "outcome", Value: outcome}}
	})
}

// write applies updates on condition that the document is unchanged since
// this claim's last write. A failed precondition is re-read: a different
// lease token means a takeover (ErrLeaseLost); the same token means the
// change was our own (say, a commit whose reply was lost), so retry. On
// success, step (if any) is marked done in the claim.
func (f *Firestore) write(ctx context.Context, c *Claim, op, step string, updates func(time.Time) []firestore.Update) error {
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	ref := f.doc(c.EventID)
	now := f.now()
	us := append(updates(now), firestore.Update{Path: "updated_at", Value: now})
	for range maxConflicts {
		wr, err := ref.Update(ctx, us, firestore.LastUpdateTime(c.updateTime))
		if err == nil {
			c.updateTime = wr.UpdateTime
			if step != "" {
				c.markDone(step)
			}
			return nil
		}
		if !isConflict(err) {
			return fmt.Errorf("ledger: %s %s: %w", op, ref.ID, err)
		}
		snap, err := ref.Get(ctx)
		if status.Code(err) == codes.NotFound {
			return fmt.Errorf("ledger: %s %s: record deleted: %w", op, ref.ID, ErrLeaseLost)
		}
		if err != nil {
			return fmt.Errorf("ledger: %s %s: read: %w", op, ref.ID, err)
		}
		var cur record
		if err := snap.DataTo(&cur); err != nil {
			return fmt.Errorf("ledger: %s %s: decode: %w", op, ref.ID, err)
		}
		if cur.LeaseToken != c.token {
			return fmt.Errorf("ledger: %s %s: %w", op, ref.ID, ErrLeaseLost)
		}
		c.updateTime = snap.UpdateTime
	}
	return fmt.Errorf("ledger: %s %s: gave up after %d conflicting writes", op, ref.ID, maxConflicts)
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
