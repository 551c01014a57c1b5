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
	"errors"
	"fmt"
	"hash"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/cioevents/cioevents/shared/event"
	"github.com/cioevents/cioevents/shared/ledger"
	"github.com/cioevents/cioevents/shared/workspace"
)

// Lifetime is how long a tombstone lives by default: longer than every
// path that can bring an event back — Customer.io's retries (7 days), a
// dead letter kept for its longest retention (31 days) and replayed on its
// last day, the nightly backfill's look-back — with room for a manual
// backfill over the last year. Older deliveries are what the App API
// marks forgotten once the person is deleted in Customer.io too.
const Lifetime = 400 * 24 * time.Hour

// DefaultRefresh is how often an instance reads the tombstones written
// since its last read: one small indexed query (a single read when nothing
// is new).
const DefaultRefresh = time.Minute

// Kinds of identifier.
const (
	KindEmail = "email"
	KindID    = "id"
	KindCioID = "cio_id"
	// KindEmailHash is an address as the CIO_PII policy stores it under
	// email=hash ("hmac:…@domain", shared/privacy): all forget finds of an
	// address in rows written under that policy. Like an address it is
	// global (no workspace), and the pipeline matches it through the
	// hasher's AddressForm.
	KindEmailHash = "email_hash"
)

// Errors of Key, for an identifier that cannot be keyed.
var (
	// ErrEmpty: the identifier is empty once trimmed. It is refused, not
	// keyed: an empty key would name nobody, or everybody without one.
	ErrEmpty = errors.New("tombstone: empty identifier")
	// ErrKind: not one of KindEmail, KindEmailHash, KindID, KindCioID.
	ErrKind = errors.New("tombstone: unknown kind of identifier")
)

// Normalize is the identifier as it is keyed and matched, everywhere
// (tombstone keys, forget's matching and deletion): trimmed of white
// space, and an address lower-cased, since addresses are compared
// case-insensitively (Customer.io stores them as given). IDs keep their
// case: two IDs that differ in case are two people to Customer.io.
func Normalize(kind, value string) (string, error) {
	switch kind {
	case KindEmail, KindEmailHash, KindID, KindCioID:
	default:
		return "", fmt.Errorf("%w: %q", ErrKind, kind)
	}
	v := strings.TrimSpace(value)
	if v == "" {
		return "", fmt.Errorf("%w (%s)", ErrEmpty, kind)
	}
	if kind == KindEmail || kind == KindEmailHash {
		v = strings.ToLower(v)
	}
	return v, nil
}

// Hasher turns identifiers into tombstone keys. With a secret (CIO_PII_KEY)
// a key is an HMAC-SHA256, which a list of addresses cannot reverse
// without the secret; without one, a domain-separated SHA-256 (a guess can
// be confirmed: set CIO_PII_KEY).
type Hasher struct {
	secret []byte
	// macs holds keyed HMAC states for reuse: keying one (hmac.New) costs
	// more than hashing a short identifier, and an event is matched by up
	// to nine keys.
	macs *sync.Pool
	// form is how the CIO_PII policy stores an address; nil: as given.
	form AddressForm
}

// AddressForm is how the CIO_PII policy stores an address
// (*privacy.Policy): StoredAddress returns the hashed form a row holds
// ("hmac:…@domain"), and false when the policy cannot hash.
type AddressForm interface {
	StoredAddress(addr string) (string, bool)
}

// WithAddressForm returns h matching each address of an event also by the
// form f stores it in (KindEmailHash): a person forgotten by rows that
// hold their address only hashed (forget --id under email=hash) stays
// forgotten when an event names them by address alone. It costs one more
// HMAC (the policy's) and one more key per distinct address of an event.
func (h Hasher) WithAddressForm(f AddressForm) Hasher {
	h.form = f
	return h
}

// NewHasher returns the hasher for secret (may be empty).
func NewHasher(secret []byte) Hasher {
	return Hasher{secret: secret, macs: &sync.Pool{New: func() any { return hmac.New(sha256.New, secret) }}}
}

// Keyed reports whether the hasher holds a secret.
func (h Hasher) Keyed() bool { return len(h.secret) > 0 }

// Key is the tombstone key of one identifier of a person in workspace ws
// ("" is workspace.Default), normalised first (Normalize); an empty value
// is ErrEmpty.
//
// Scope: an `id`/`customer_id` or a `cio_id` is a workspace's own name for
// a person — ID 42 in one workspace and ID 42 in another are two people —
// so its key includes the workspace and it matches only there. An address
// is keyed without a workspace, so its tombstone holds in every workspace:
// an erasure request comes from a human being, and their address names
// that same human wherever it appears (docs/privacy.md says so to users).
// The address key is the one earlier releases wrote, so their address
// tombstones keep working unchanged.
func (h Hasher) Key(ws, kind, value string) (string, error) {
	v, err := Normalize(kind, value)
	if err != nil {
		return "", err
	}
	return h.key(ws, kind, v), nil
}

// key is Key of a value Normalize has made.
func (h Hasher) key(ws, kind, v string) string {
	if kind == KindEmail || kind == KindEmailHash {
		return h.sum("cioevents-tombstone-v1\x00" + kind + "\x00" + v)
	}
	return h.sum("cioevents-tombstone-v2\x00" + workspace.OrDefault(strings.TrimSpace(ws)) + "\x00" + kind + "\x00" + v)
}

// legacyKey is the key earlier releases gave an ID or cio_id: the exact
// value, no workspace. Events are still matched against it (Set), so an
// ID forgotten before workspaces scoped tombstones stays forgotten, in
// every workspace as it was, until its tombstone expires (Lifetime); no
// migration rewrites them, since their identifiers are not stored.
func (h Hasher) legacyKey(kind, value string) string {
	return h.sum("cioevents-tombstone-v1\x00" + kind + "\x00" + value)
}

func (h Hasher) sum(msg string) string {
	var buf [sha256.Size]byte
	sum := buf[:0]
	switch {
	case len(h.secret) == 0:
		s := sha256.Sum256([]byte(msg))
		sum = s[:]
	case h.macs != nil:
		m := h.macs.Get().(hash.Hash)
		m.Reset()
		io.WriteString(m, msg)
		sum = m.Sum(sum)
		h.macs.Put(m)
	default: // a Hasher not made by NewHasher
		m := hmac.New(sha256.New, h.secret)
		io.WriteString(m, msg)
		sum = m.Sum(sum)
	}
	return hex.EncodeToString(sum[:16])
}

// fingerprintLabel is what Fingerprint signs. It is no identifier's
// message (those start "cioevents-tombstone-"), so a fingerprint can never
// equal a tombstone key.
const fingerprintLabel = "cioevents-key-fingerprint-v1"

// Fingerprint names the hasher's secret without revealing it: the HMAC of
// a fixed label under the secret, hex (32 digits). Two machines with the
// same fingerprint compute the same tombstone keys; the fingerprint says
// nothing else about the key, which HMAC keeps secret. Without a secret it
// is the label's plain SHA-256, so an unkeyed hasher has a fingerprint of
// its own too.
func (h Hasher) Fingerprint() string { return h.sum(fingerprintLabel) }

// Identifier is one identifier of a person: a kind and its value.
type Identifier struct{ Kind, Value string }

// Keys are the tombstone keys of ids in workspace ws; the first that
// cannot be keyed (ErrEmpty, ErrKind) is the error.
func (h Hasher) Keys(ws string, ids ...Identifier) ([]string, error) {
	out := make([]string, 0, len(ids))
	for _, id := range ids {
		k, err := h.Key(ws, id.Kind, id.Value)
		if err != nil {
			return nil, err
		}
		out = append(out, k)
	}
	return out, nil
}

// Person is whom forget was given.
type Person struct{ Email, ID, CioID string }

// Identifiers are p's non-blank identifiers.
func (p Person) Identifiers() []Identifier {
	var out []Identifier
	for _, id := range []Identifier{{KindEmail, p.Email}, {KindID, p.ID}, {KindCioID, p.CioID}} {
		if strings.TrimSpace(id.Value) != "" {
			out = append(out, id)
		}
	}
	return out
}

// EventKeys are the keys an event in workspace ws is matched by: every
// identifier it names — its addresses (identifiers.email, email_address,
// an address recipient), its IDs (identifiers.id, customer_id) and
// cio_id — each as Key makes it, plus each ID's legacyKey, and with an
// AddressForm each address also as the policy stores it (KindEmailHash).
// Empty fields are skipped, and an identifier named twice (identifiers.email
// and recipient, identifiers.id and customer_id, usually) is keyed once.
func (h Hasher) EventKeys(ws string, ev *event.Event) []string {
	d := &ev.Data
	out := make([]string, 0, 8)
	// Each identifier is keyed once: identifiers.email and recipient, or
	// identifiers.id and customer_id, usually name the same one. An ID's
	// legacyKey is of its exact value, so IDs are told apart as given.
	type named struct{ kind, value string }
	var seen [6]named // one per add below
	n := 0
	add := func(kind string, s event.String) {
		if !s.Valid {
			return
		}
		v, err := Normalize(kind, s.Value)
		if err != nil {
			return
		}
		id := named{kind, v}
		if kind != KindEmail {
			id.value = s.Value
		}
		if slices.Contains(seen[:n], id) {
			return
		}
		seen[n] = id
		n++
		out = append(out, h.key(ws, kind, v))
		switch {
		case kind != KindEmail:
			out = append(out, h.legacyKey(kind, s.Value))
		case h.form != nil:
			if st, ok := h.form.StoredAddress(v); ok {
				if k, err := h.Key(ws, KindEmailHash, st); err == nil {
					out = append(out, k)
				}
			}
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
	cursor string               // the store's, after the last read
	loaded bool
}

func (s *Set) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// Refresh reads the tombstones written since the last read (all of them
// the first time), by the store's cursor: whatever clock the machine
// that ran forget keeps, its tombstones are read by the next refresh.
func (s *Set) Refresh(ctx context.Context) error {
	s.mu.RLock()
	cursor := s.cursor
	s.mu.RUnlock()
	ts, next, err := s.Store.ReadTombstones(ctx, cursor)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cursor != cursor {
		// Another Refresh ran meanwhile; its read is as new as ours, and
		// adding ours too would do no harm, but the cursor must not go back.
		next = s.cursor
	}
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
	}
	s.cursor = next
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

// Forgotten reports whether ev, an event of workspace ws ("" is the
// default workspace), names a person with a live tombstone.
func (s *Set) Forgotten(ws string, ev *event.Event) bool {
	s.mu.RLock()
	n := len(s.keys)
	s.mu.RUnlock()
	if n == 0 {
		return false
	}
	keys := s.Hasher.EventKeys(ws, ev)
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

// New returns tombstones for p in the default workspace, created now and
// living for lifetime (Lifetime if not positive); blank identifiers are
// skipped. NewIn is the same for any workspace, refusing blank ones.
func New(h Hasher, p Person, now time.Time, lifetime time.Duration) []ledger.Tombstone {
	ts, _ := NewIn(h, workspace.Default, p.Identifiers(), now, lifetime)
	return ts
}

// NewIn returns tombstones for ids of a person in workspace ws, created
// now and living for lifetime (Lifetime if not positive). An identifier
// that cannot be keyed (ErrEmpty, ErrKind) is the error, and no tombstone.
func NewIn(h Hasher, ws string, ids []Identifier, now time.Time, lifetime time.Duration) ([]ledger.Tombstone, error) {
	if lifetime <= 0 {
		lifetime = Lifetime
	}
	keys, err := h.Keys(ws, ids...)
	if err != nil {
		return nil, err
	}
	out := make([]ledger.Tombstone, 0, len(keys))
	for _, k := range keys {
		out = append(out, ledger.Tombstone{Key: k, CreatedAt: now.UTC(), ExpireAt: now.UTC().Add(lifetime)})
	}
	return out, nil
}
