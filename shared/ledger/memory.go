package ledger

import (
	"context"
	"fmt"
	"maps"
	"sync"
	"time"
)

// Memory is the in-process twin of Firestore with the same semantics, for
// tests; its clock is both the store's and the holder's. Records are never
// evicted and are gone with the process (`cioevents dev` uses Bolt).
type Memory struct {
	// Now is the clock; nil means time.Now. Set it before first use.
	Now func() time.Time

	lease time.Duration
	mu    sync.Mutex
	docs  map[string]*memDoc
	// tombstones are kept apart from the documents, as Bolt keeps them.
	tombstones     []Tombstone
	keyFingerprint string
}

var _ Ledger = (*Memory)(nil)

type memDoc struct {
	state      string
	attempt    int
	leaseUntil time.Time
	token      string
	steps      map[string]time.Time
	outcome    string
	createdAt  time.Time
	updatedAt  time.Time
	expireAt   time.Time
}

// NewMemory returns an empty ledger whose claims hold a lease of lease.
func NewMemory(lease time.Duration) *Memory {
	return &Memory{lease: lease, docs: make(map[string]*memDoc)}
}

func (m *Memory) now() time.Time {
	if m.Now != nil {
		return m.Now()
	}
	return time.Now()
}

// Claim implements Ledger.
func (m *Memory) Claim(ctx context.Context, eventID string, expireAt time.Time) (*Claim, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("ledger: claim %s: %w", DocID(eventID), err)
	}
	if err := checkExpireAt(expireAt); err != nil {
		return nil, err
	}
	now := m.now()
	token := newToken()
	m.mu.Lock()
	defer m.mu.Unlock()
	d, ok := m.docs[eventID]
	switch {
	case !ok || !d.expireAt.After(now):
		d = &memDoc{state: StateProcessing, attempt: 1, leaseUntil: now.Add(m.lease), token: token,
			steps: map[string]time.Time{}, createdAt: now, updatedAt: now, expireAt: expireAt}
		m.docs[eventID] = d
	case d.state == StateDone:
		return nil, fmt.Errorf("ledger: claim %s: %w", DocID(eventID), &DoneError{Outcome: d.outcome})
	case d.leaseUntil.After(now):
		return nil, fmt.Errorf("ledger: claim %s: %w", DocID(eventID), ErrBusy)
	default:
		d.attempt++
		d.leaseUntil = now.Add(m.lease)
		d.token = token
		d.updatedAt = now
		d.expireAt = later(d.expireAt, expireAt)
	}
	return newClaim(eventID, d.attempt, token, d.steps).start(m.lease, m.now, now), nil
}

// Peek implements Ledger.
func (m *Memory) Peek(ctx context.Context, eventID string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("ledger: peek %s: %w", DocID(eventID), err)
	}
	now := m.now()
	m.mu.Lock()
	defer m.mu.Unlock()
	d, ok := m.docs[eventID]
	if !ok {
		return nil
	}
	if err := peekState(d.state, d.outcome, d.expireAt, d.leaseUntil, now); err != nil {
		return fmt.Errorf("ledger: peek %s: %w", DocID(eventID), err)
	}
	return nil
}

// Put implements Ledger.
func (m *Memory) Put(ctx context.Context, eventID string, expireAt time.Time, outcome string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("ledger: put %s: %w", DocID(eventID), err)
	}
	if err := checkExpireAt(expireAt); err != nil {
		return err
	}
	now := m.now()
	m.mu.Lock()
	defer m.mu.Unlock()
	if d, ok := m.docs[eventID]; ok && d.expireAt.After(now) {
		return fmt.Errorf("ledger: put %s: %w", DocID(eventID), ErrDuplicate)
	}
	m.docs[eventID] = &memDoc{state: StateDone, attempt: 1, leaseUntil: now, steps: map[string]time.Time{},
		outcome: outcome, createdAt: now, updatedAt: now, expireAt: expireAt}
	return nil
}

// Record implements Ledger.
func (m *Memory) Record(ctx context.Context, c *Claim, step string) error {
	if err := checkClaimArgs(c, step); err != nil {
		return err
	}
	return m.write(ctx, c, "record "+step, func(d *memDoc, now time.Time) {
		d.steps[step] = now
		c.markDone(step)
	})
}

// Extend implements Ledger.
func (m *Memory) Extend(ctx context.Context, c *Claim) error {
	if c == nil {
		return errNilClaim
	}
	return m.write(ctx, c, "extend", func(*memDoc, time.Time) {})
}

// Release implements Ledger.
func (m *Memory) Release(ctx context.Context, c *Claim, after time.Duration) error {
	if c == nil {
		return errNilClaim
	}
	err := m.write(ctx, c, "release", func(d *memDoc, now time.Time) { d.leaseUntil = now.Add(max(after, 0)) })
	c.release()
	return err
}

// Finish implements Ledger.
func (m *Memory) Finish(ctx context.Context, c *Claim, outcome string) error {
	if c == nil {
		return errNilClaim
	}
	return m.write(ctx, c, "finish", func(d *memDoc, _ time.Time) {
		d.state = StateDone
		d.outcome = outcome
	})
}

// write applies a change if c still holds the lease, and renews the lease.
func (m *Memory) write(ctx context.Context, c *Claim, op string, apply func(*memDoc, time.Time)) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("ledger: %s %s: %w", op, DocID(c.EventID), err)
	}
	if c.isReleased() {
		return fmt.Errorf("ledger: %s %s: claim released: %w", op, DocID(c.EventID), ErrLeaseLost)
	}
	now := m.now()
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	m.mu.Lock()
	defer m.mu.Unlock()
	d, ok := m.docs[c.EventID]
	if !ok || d.token != c.token {
		return fmt.Errorf("ledger: %s %s: %w", op, DocID(c.EventID), ErrLeaseLost)
	}
	d.leaseUntil = now.Add(m.lease)
	steps, deferred := c.pending("")
	for _, s := range steps {
		d.steps[s] = now
	}
	apply(d, now)
	d.updatedAt = now
	c.renewed(now)
	c.saved(deferred)
	return nil
}

// snapshot returns a copy of the record, for tests.
func (m *Memory) snapshot(eventID string) (memDoc, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	d, ok := m.docs[eventID]
	if !ok {
		return memDoc{}, false
	}
	cp := *d
	cp.steps = maps.Clone(d.steps)
	return cp, true
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
