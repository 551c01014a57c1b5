package tombstone_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/cioevents/cioevents/shared/event"
	"github.com/cioevents/cioevents/shared/ledger"
	"github.com/cioevents/cioevents/shared/privacy"
	"github.com/cioevents/cioevents/shared/tombstone"
)

// hashPolicy is CIO_PII email=hash under the tombstones' own key, as the
// processor and dev run it (both read CIO_PII_KEY).
func hashPolicy(t testing.TB, spec string) *privacy.Policy {
	t.Helper()
	pol, err := privacy.Parse(spec, secret)
	if err != nil {
		t.Fatal(err)
	}
	return pol
}

// A person forgotten by rows that hold their address only hashed
// (email=hash; forget --id finds "hmac:…@domain") stays forgotten when an
// event names them by address alone, in any field, case or workspace; a
// set without the policy's address form cannot see it, and another
// address is no match.
func TestSetMatchesTheStoredAddressHash(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	pol := hashPolicy(t, "email=hash")
	stored, ok := pol.Stored("email", "Jane@Example.com")
	if !ok || stored[:5] != "hmac:" {
		t.Fatalf("email=hash stores %q", stored)
	}
	mem := ledger.NewMemory(time.Minute)
	h := tombstone.NewHasher(secret)
	mem.PutTombstones(ctx, in(t, h, "", tombstone.KindEmailHash, stored, now)())
	with := &tombstone.Set{Store: mem, Hasher: h.WithAddressForm(pol), Now: func() time.Time { return now }}
	without := &tombstone.Set{Store: mem, Hasher: h, Now: func() time.Time { return now }}
	for _, s := range []*tombstone.Set{with, without} {
		if err := s.Refresh(ctx); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		name, ws, data string
		want           bool
	}{
		{"identifiers.email", "", `"identifiers":{"email":"jane@example.com"}`, true},
		{"email_address, other case and spaces", "", `"email_address":" JANE@example.COM "`, true},
		{"recipient", "", `"recipient":"jane@example.com"`, true},
		{"another workspace (an address is global)", "eu", `"identifiers":{"email":"jane@example.com"}`, true},
		{"another address", "", `"identifiers":{"email":"jane@example.net"},"recipient":"sam@example.com"`, false},
		{"an ID only", "", `"identifiers":{"id":"u_9001"}`, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ev := parse(t, `{"event_id":"e1","object_type":"email","metric":"sent","data":{`+tc.data+`}}`)
			if got := with.Forgotten(tc.ws, ev); got != tc.want {
				t.Errorf("with the policy's address form: forgotten %v, want %v", got, tc.want)
			}
			if without.Forgotten(tc.ws, ev) {
				t.Error("without the address form: forgotten, want false (no key names the clear address)")
			}
		})
	}
}

// The stored form is keyed as its own kind: never the clear address's
// key, normalised like an address, refused when empty, global.
func TestEmailHashKey(t *testing.T) {
	h := tombstone.NewHasher(secret)
	pol := hashPolicy(t, "email=hash")
	stored, _ := pol.Stored("email", "jane@example.com")
	hashed, err := h.Key("", tombstone.KindEmailHash, stored)
	if err != nil {
		t.Fatal(err)
	}
	clear, _ := h.Key("", tombstone.KindEmail, "jane@example.com")
	asEmail, _ := h.Key("", tombstone.KindEmail, stored)
	upper, _ := h.Key("eu", tombstone.KindEmailHash, " "+stored+" ")
	if hashed == clear || hashed == asEmail {
		t.Error("an email_hash key equals an email key")
	}
	if upper != hashed {
		t.Error("an email_hash key depends on white space or workspace")
	}
	if _, err := h.Key("", tombstone.KindEmailHash, " "); err == nil {
		t.Error("an empty email_hash is keyed")
	}
}

// The address form is the policy's whatever email's action is now, so a
// person forgotten while rows were hashed stays forgotten after the
// policy changes to keep; without a key there is no hashed form.
func TestStoredAddressAcrossPolicies(t *testing.T) {
	want, _ := hashPolicy(t, "email=hash").Stored("email", "jane@example.com")
	for _, spec := range []string{"email=hash", "email=keep", "email=drop", ""} {
		got, ok := hashPolicy(t, spec).StoredAddress(" Jane@EXAMPLE.com")
		if !ok || got != want {
			t.Errorf("%q: StoredAddress = %q, %v; want %q", spec, got, ok, want)
		}
	}
	keyless, err := privacy.Parse("email=keep", nil)
	if err != nil {
		t.Fatal(err)
	}
	if got, ok := keyless.StoredAddress("jane@example.com"); ok {
		t.Errorf("without a key: %q", got)
	}
}

// BenchmarkForgottenHashed is BenchmarkForgotten with the policy's
// address form (email=hash): each distinct address is also hashed as the
// policy stores it and keyed as KindEmailHash.
func BenchmarkForgottenHashed(b *testing.B) {
	ctx := context.Background()
	pol := hashPolicy(b, "email=hash")
	h := tombstone.NewHasher(secret).WithAddressForm(pol)
	mem := ledger.NewMemory(time.Minute)
	for i := range 1000 {
		st, _ := pol.Stored("email", fmt.Sprintf("p%d@example.com", i))
		ts, _ := tombstone.NewIn(h, "", []tombstone.Identifier{{Kind: tombstone.KindEmailHash, Value: st}}, time.Now(), 0)
		mem.PutTombstones(ctx, ts)
	}
	set := &tombstone.Set{Store: mem, Hasher: h}
	if err := set.Refresh(ctx); err != nil {
		b.Fatal(err)
	}
	ev, err := event.Parse([]byte(`{"event_id":"e1","object_type":"email","metric":"sent","data":{"identifiers":{"email":"sam@example.net","id":"u_2","cio_id":"c2"},"customer_id":"u_2","recipient":"sam@example.net"}}`))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if set.Forgotten("eu", ev) {
			b.Fatal("forgotten")
		}
	}
}
