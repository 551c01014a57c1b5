package ledger

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/cioevents/cioevents/shared/groupcommit"
)

// Bolt keeps the ledger in a bbolt file: the durable ledger of `cioevents
// dev`, so a restarted dev repeats no row and no action. bbolt is an
// embedded, well-kept (etcd's) single-file B+tree with serialisable
// transactions, which is exactly what a ledger needs — one writer at a time
// makes create-if-absent and the lease-token check trivially atomic — with
// no server to run and no cgo. Concurrent writes share transactions and
// fsyncs (shared/groupcommit), which keeps a busy dev fast.
//
// Records are keyed by DocID and hold the same fields as the Firestore
// documents. Lease expiry is judged by Now, the store's clock (this process
// is the store). Records past expire_at count as absent and are replaced by
// the next claim, or removed by Purge.
type Bolt struct {
	// Now is the clock; nil means time.Now. Set it before first use.
	Now func() time.Time

	db    *bolt.DB
	group *groupcommit.Committer
	lease time.Duration
}

var _ Ledger = (*Bolt)(nil)

var boltBucket = []byte("ledger")

type boltRecord struct {
	EventID    string               `json:"event_id"`
	State      string               `json:"state"`
	Attempt    int                  `json:"attempt"`
	LeaseUntil time.Time            `json:"lease_until"`
	LeaseToken string               `json:"lease_token"`
	Steps      map[string]time.Time `json:"steps"`
	Outcome    string               `json:"outcome,omitempty"`
	CreatedAt  time.Time            `json:"created_at"`
	UpdatedAt  time.Time            `json:"updated_at"`
	ExpireAt   time.Time            `json:"expire_at"`
}

// NewBolt keeps the ledger in db (its "ledger" bucket), which the caller
// opens and closes; claims hold a lease of lease.
func NewBolt(db *bolt.DB, lease time.Duration) (*Bolt, error) {
	if err := db.Update(func(tx *bolt.Tx) error {
		_, err := tx.CreateBucketIfNotExists(boltBucket)
		return err
	}); err != nil {
		return nil, fmt.Errorf("ledger: %w", err)
	}
	return &Bolt{db: db, group: groupcommit.New(db), lease: lease}, nil
}

// Close stops the ledger's writer; the caller closes db afterwards.
func (b *Bolt) Close() error {
	b.group.Close()
	return nil
}

func (b *Bolt) now() time.Time {
	if b.Now != nil {
		return b.Now()
	}
	return time.Now()
}

func get(bk *bolt.Bucket, key []byte) (*boltRecord, error) {
	v := bk.Get(key)
	if v == nil {
		return nil, nil
	}
	var r boltRecord
	if err := json.Unmarshal(v, &r); err != nil {
		return nil, fmt.Errorf("record %s: %w", key, err)
	}
	return &r, nil
}

func put(bk *bolt.Bucket, key []byte, r *boltRecord) error {
	v, err := json.Marshal(r)
	if err != nil {
		return err
	}
	return bk.Put(key, v)
}

// Claim implements Ledger.
func (b *Bolt) Claim(ctx context.Context, eventID string, expireAt time.Time) (*Claim, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("ledger: claim %s: %w", DocID(eventID), err)
	}
	if err := checkExpireAt(expireAt); err != nil {
		return nil, err
	}
	key := []byte(DocID(eventID))
	token := newToken()
	sent := b.now() // the holder counts its lease from before the write
	var claim *Claim
	var result error
	// fn may run more than once: every run starts from the stored state.
	err := b.group.Update(ctx, func(tx *bolt.Tx) error {
		claim, result = nil, nil
		bk := tx.Bucket(boltBucket)
		r, err := get(bk, key)
		if err != nil {
			return err
		}
		now := b.now()
		switch {
		case r == nil || !r.ExpireAt.After(now):
			// JSON strings are UTF-8, as Firestore's are; the key keeps the bytes.
			r = &boltRecord{EventID: strings.ToValidUTF8(eventID, "\uFFFD"), State: StateProcessing, Attempt: 1, LeaseUntil: now.Add(b.lease),
				LeaseToken: token, Steps: map[string]time.Time{}, CreatedAt: now, UpdatedAt: now, ExpireAt: expireAt}
		case r.State == StateDone:
			result = doneError(r.Outcome, r.Steps)
			return nil
		case r.LeaseUntil.After(now):
			result = ErrBusy
			return nil
		default:
			r.Attempt++
			r.LeaseUntil = now.Add(b.lease)
			r.LeaseToken = token
			r.UpdatedAt = now
			r.ExpireAt = later(r.ExpireAt, expireAt)
		}
		if err := put(bk, key, r); err != nil {
			return err
		}
		claim = newClaim(eventID, r.Attempt, token, r.Steps)
		return nil
	})
	if err == nil {
		err = result
	}
	if err != nil {
		return nil, fmt.Errorf("ledger: claim %s: %w", DocID(eventID), err)
	}
	return claim.start(b.lease, b.now, sent), nil
}

// Peek implements Ledger.
func (b *Bolt) Peek(ctx context.Context, eventID string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("ledger: peek %s: %w", DocID(eventID), err)
	}
	var r *boltRecord
	err := b.db.View(func(tx *bolt.Tx) error {
		var err error
		r, err = get(tx.Bucket(boltBucket), []byte(DocID(eventID)))
		return err
	})
	if err == nil && r != nil {
		err = peekState(r.State, r.Outcome, r.Steps, r.ExpireAt, r.LeaseUntil, b.now())
	}
	if err != nil {
		return fmt.Errorf("ledger: peek %s: %w", DocID(eventID), err)
	}
	return nil
}

// Put implements Ledger.
func (b *Bolt) Put(ctx context.Context, eventID string, expireAt time.Time, outcome string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("ledger: put %s: %w", DocID(eventID), err)
	}
	if err := checkExpireAt(expireAt); err != nil {
		return err
	}
	key := []byte(DocID(eventID))
	var result error
	err := b.group.Update(ctx, func(tx *bolt.Tx) error {
		result = nil
		bk := tx.Bucket(boltBucket)
		r, err := get(bk, key)
		if err != nil {
			return err
		}
		now := b.now()
		if r != nil && r.ExpireAt.After(now) {
			result = ErrDuplicate
			return nil
		}
		return put(bk, key, &boltRecord{EventID: strings.ToValidUTF8(eventID, "\uFFFD"), State: StateDone, Attempt: 1,
			LeaseUntil: now, Steps: map[string]time.Time{}, Outcome: outcome, CreatedAt: now, UpdatedAt: now, ExpireAt: expireAt})
	})
	if err == nil {
		err = result
	}
	if err != nil {
		return fmt.Errorf("ledger: put %s: %w", DocID(eventID), err)
	}
	return nil
}

// Record implements Ledger.
func (b *Bolt) Record(ctx context.Context, c *Claim, step string) error {
	if err := checkClaimArgs(c, step); err != nil {
		return err
	}
	return b.write(ctx, c, "record "+step, step, func(*boltRecord, time.Time) {})
}

// Extend implements Ledger.
func (b *Bolt) Extend(ctx context.Context, c *Claim) error {
	if c == nil {
		return errNilClaim
	}
	return b.write(ctx, c, "extend", "", func(*boltRecord, time.Time) {})
}

// Release implements Ledger.
func (b *Bolt) Release(ctx context.Context, c *Claim, after time.Duration) error {
	if c == nil {
		return errNilClaim
	}
	err := b.write(ctx, c, "release", "", func(r *boltRecord, now time.Time) { r.LeaseUntil = now.Add(max(after, 0)) })
	c.release()
	return err
}

// Finish implements Ledger.
func (b *Bolt) Finish(ctx context.Context, c *Claim, outcome string) error {
	if c == nil {
		return errNilClaim
	}
	return b.write(ctx, c, "finish", "", func(r *boltRecord, _ time.Time) {
		r.State = StateDone
		r.Outcome = outcome
	})
}

// write applies one change to c's record if c still holds it, stores step
// (if any) and the deferred steps, and renews the lease.
func (b *Bolt) write(ctx context.Context, c *Claim, op, step string, apply func(*boltRecord, time.Time)) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("ledger: %s %s: %w", op, DocID(c.EventID), err)
	}
	if c.isReleased() {
		return fmt.Errorf("ledger: %s %s: claim released: %w", op, DocID(c.EventID), ErrLeaseLost)
	}
	key := []byte(DocID(c.EventID))
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	steps, deferred := c.pending(step)
	sent := b.now()
	var result error
	err := b.group.Update(ctx, func(tx *bolt.Tx) error {
		result = nil
		bk := tx.Bucket(boltBucket)
		r, err := get(bk, key)
		if err != nil {
			return err
		}
		if r == nil || r.LeaseToken != c.token {
			result = ErrLeaseLost
			return nil
		}
		if r.Steps == nil {
			r.Steps = map[string]time.Time{}
		}
		now := b.now()
		r.LeaseUntil = now.Add(b.lease)
		for _, s := range steps {
			r.Steps[s] = now
		}
		apply(r, now)
		r.UpdatedAt = now
		return put(bk, key, r)
	})
	if err == nil {
		err = result
	}
	if err != nil {
		return fmt.Errorf("ledger: %s %s: %w", op, DocID(c.EventID), err)
	}
	c.renewed(sent)
	c.saved(deferred)
	if step != "" {
		c.markDone(step)
	}
	return nil
}

// Purge deletes the records whose expire_at has passed, as Firestore's TTL
// policy does, and returns how many it deleted.
func (b *Bolt) Purge(ctx context.Context) (int, error) {
	now := b.now()
	n := 0
	err := b.db.Update(func(tx *bolt.Tx) error {
		bk := tx.Bucket(boltBucket)
		// Deleting under a moving cursor can skip keys: collect first.
		var expired [][]byte
		err := bk.ForEach(func(k, v []byte) error {
			if err := ctx.Err(); err != nil {
				return err
			}
			var r struct {
				ExpireAt time.Time `json:"expire_at"`
			}
			if err := json.Unmarshal(v, &r); err != nil {
				return fmt.Errorf("record %s: %w", k, err)
			}
			if !r.ExpireAt.After(now) {
				expired = append(expired, bytes.Clone(k))
			}
			return nil
		})
		if err != nil {
			return err
		}
		for _, k := range expired {
			if err := bk.Delete(k); err != nil {
				return err
			}
		}
		n = len(expired)
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("ledger: purge: %w", err)
	}
	return n, nil
}

// snapshot returns the stored record, for tests.
func (b *Bolt) snapshot(eventID string) (boltRecord, bool, error) {
	var r *boltRecord
	err := b.db.View(func(tx *bolt.Tx) error {
		var err error
		r, err = get(tx.Bucket(boltBucket), []byte(DocID(eventID)))
		return err
	})
	if err != nil || r == nil {
		return boltRecord{}, false, err
	}
	return *r, true, nil
}
