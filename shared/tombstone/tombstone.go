// Package tombstone keeps a forgotten person forgotten. `cioevents forget`
// leaves one tombstone per identifier it was given — a keyed hash, never
// the identifier — in the ledger's store; every processor instance holds
// the (small) set in memory, refreshed on a timer, and drops an event that
// names a forgotten person before anything is stored or acted on. The hot
// path costs a map lookup: no Firestore operation per event.
package tombstone

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/cioevents/cioevents/shared/event"
	"github.com/cioevents/cioevents/shared/ledger"
)

// Lifetime is how long a tombstone lives by default: longer than every
// path that can bring an event back — Customer.io's retries (7 days), a
// dead letter kept for its longest retention (31 days) and replayed on its
// last day, the nightly backfill's look-back — with room for a manual
// backfill over the last year. Older deliveries are what the App API
// marks forgotten once the person is deleted in Customer.io too.
const Lifetime = 400 * 24 * time.Hour

// DefaultRefresh is how often an instance reads the tombstones created
// since its last read: one small range read (a single document read when
// nothing is new).
const DefaultRefresh = time.Minute

// overlap re-reads the tombstones of the last hour at each refresh, so one
// written by a machine whose clock is behind is still found.
const overlap = time.Hour

// Kinds of identifier.
const (
	KindEmail = "email"
	KindID    = "id"
	KindCioID = "cio_id"
)

// Hasher turns identifiers into tombstone keys. With a secret (CIO_PII_KEY)
// a key is an HMAC-SHA256, which a list of addresses cannot reverse
// without the secret; without one, a domain-separated SHA-256 (a guess can
// be confirmed: set CIO_PII_KEY).
type Hasher struct{ secret []byte }

// NewHasher returns the hasher for secret (may be empty).
func NewHasher(secret []byte) Hasher { return Hasher{secret: secret} }

// Key is the tombstone key of one identifier. Addresses are trimmed and
// lower-cased; IDs are exact. id and customer_id share a kind: both are
// the workspace's own person ID.
func (h Hasher) Key(kind, value string) string {
	if kind == KindEmail {
		value = strings.ToLower(strings.TrimSpace(value))
	}
	msg := "cioevents-tombstone-v1\x00" + kind + "\x00" + value
	var sum []byte
	if len(h.secret) > 0 {
		m := hmac.New(sha256.New, h.secret)
		m.Write([]byte(msg))
		sum = m.Sum(nil)
	} else {
		s := sha256.Sum256([]byte(msg))
		sum = s[:]
	}
	return hex.EncodeToString(sum[:16])
}

// Person is whom forget was given.
type Person struct{ Email, ID, CioID string }

// Keys are the tombstone keys of p's identifiers.
func (h Hasher) Keys(p Person) []string {
	var out []string
	for _, kv := range [][2]string{{KindEmail, p.Email}, {KindID, p.ID}, {KindCioID, p.CioID}} {
		if strings.TrimSpace(kv[1]) != "" {
			out = append(out, h.Key(kv[0], kv[1]))
		}
	}
	return out
}

// EventKeys are the keys of every identifier ev names: its addresses
// (identifiers.email, email_address, an address recipient), its IDs
// (identifiers.id, customer_id) and cio_id.
func (h Hasher) EventKeys(ev *event.Event) []string {
	d := &ev.Data
	var out []string
	add := func(kind string, s event.String) {
		if s.Valid && strings.TrimSpace(s.Value) != "" {
			out = append(out, h.Key(kind, s.Value))
		}
	}
	add(KindEmail, d.Identifiers.Email)
	add(KindEmail, d.EmailAddress)
	if strings.Contains(d.Recipient.Value, "@") {
		add(KindEmail, d.Recipient)
	}
	add(KindID, d.Identifiers.ID)
	add(KindID, d.CustomerID)
	add(KindCioID, d.Identifiers.CioID)
	return out
}

// Set is one instance's copy of the tombstones. Safe for concurrent use.
type Set struct {
	Store  ledger.Tombstones
	Hasher Hasher
	// Now is the clock; nil means time.Now.
	Now    func() time.Time
	Logger *slog.Logger

	mu     sync.RWMutex
	keys   map[string]time.Time // key → expire_at
	latest time.Time            // newest created_at read
	loaded bool
}

func (s *Set) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// Refresh reads the tombstones created since the last read (all of them
// the first time).
func (s *Set) Refresh(ctx context.Context) error {
	s.mu.RLock()
	since, loaded := s.latest, s.loaded
	s.mu.RUnlock()
	if loaded && !since.IsZero() {
		since = since.Add(-overlap)
	} else {
		since = time.Time{}
	}
	ts, err := s.Store.ListTombstones(ctx, since)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.keys == nil {
		s.keys = map[string]time.Time{}
	}
	now := s.now()
	for k, exp := range s.keys {
		if !exp.After(now) {
			delete(s.keys, k)
		}
	}
	for _, t := range ts {
		if t.ExpireAt.After(now) && t.ExpireAt.After(s.keys[t.Key]) {
			s.keys[t.Key] = t.ExpireAt
		}
		if t.CreatedAt.After(s.latest) {
			s.latest = t.CreatedAt
		}
	}
	s.loaded = true
	return nil
}

// Run refreshes every interval (DefaultRefresh if not positive) until ctx
// ends. A failed refresh keeps the set it had and is logged; the next
// one catches up.
func (s *Set) Run(ctx context.Context, every time.Duration) {
	if every <= 0 {
		every = DefaultRefresh
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := s.Refresh(ctx); err != nil && ctx.Err() == nil && s.Logger != nil {
				s.Logger.Warn("tombstones not refreshed", "error", err.Error())
			}
		}
	}
}

// Forgotten reports whether ev names a person with a live tombstone.
func (s *Set) Forgotten(ev *event.Event) bool {
	s.mu.RLock()
	n := len(s.keys)
	s.mu.RUnlock()
	if n == 0 {
		return false
	}
	keys := s.Hasher.EventKeys(ev)
	now := s.now()
	s.mu.RLock()
	defer s.mu.RUnlock()
	for _, k := range keys {
		if exp, ok := s.keys[k]; ok && exp.After(now) {
			return true
		}
	}
	return false
}

// Len is how many tombstones the set holds.
func (s *Set) Len() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return len(s.keys)
}

// New returns tombstones for p, created now and living for lifetime
// (Lifetime if not positive).
func New(h Hasher, p Person, now time.Time, lifetime time.Duration) []ledger.Tombstone {
	if lifetime <= 0 {
		lifetime = Lifetime
	}
	var out []ledger.Tombstone
	for _, k := range h.Keys(p) {
		out = append(out, ledger.Tombstone{Key: k, CreatedAt: now.UTC(), ExpireAt: now.UTC().Add(lifetime)})
	}
	return out
}
