package tombstone_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/cioevents/cioevents/shared/event"
	"github.com/cioevents/cioevents/shared/ledger"
	"github.com/cioevents/cioevents/shared/tombstone"
)

var secret = []byte("0123456789abcdef0123456789abcdef")

func parse(t *testing.T, body string) *event.Event {
	t.Helper()
	ev, err := event.Parse([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	return ev
}

func TestKeysHoldNoIdentifier(t *testing.T) {
	h := tombstone.NewHasher(secret)
	keys, err := h.Keys("", tombstone.Person{Email: " Jane@Example.com ", ID: "u_9001", CioID: "a3f10e000042"}.Identifiers()...)
	if err != nil || len(keys) != 3 {
		t.Fatalf("%d keys, %v; want 3", len(keys), err)
	}
	for _, k := range keys {
		for _, clear := range []string{"jane", "example", "u_9001", "a3f10e000042"} {
			if strings.Contains(strings.ToLower(k), clear) {
				t.Errorf("key %s holds %s", k, clear)
			}
		}
	}
	a, _ := tombstone.NewHasher(nil).Key("", tombstone.KindEmail, "jane@example.com")
	b, _ := h.Key("", tombstone.KindEmail, "jane@example.com")
	if a == b {
		t.Error("the secret does not key the hash")
	}
}

// Identifiers are normalised the same way wherever they are keyed: white
// space trimmed, addresses compared case-insensitively, IDs exact in case;
// an empty one is refused by Key and NewIn, and skipped in an event.
func TestKeyNormalises(t *testing.T) {
	h := tombstone.NewHasher(secret)
	key := func(ws, kind, v string) string {
		t.Helper()
		k, err := h.Key(ws, kind, v)
		if err != nil {
			t.Fatalf("Key(%q, %q, %q): %v", ws, kind, v, err)
		}
		return k
	}
	for _, tc := range []struct {
		name       string
		kind, a, b string
		same       bool
	}{
		{"address case and spaces", tombstone.KindEmail, "JANE@example.com", "\tjane@Example.COM ", true},
		{"id trailing space (forget --id \"u_9001 \")", tombstone.KindID, "u_9001 ", "u_9001", true},
		{"cio_id spaces", tombstone.KindCioID, " a3f1", "a3f1", true},
		{"id case", tombstone.KindID, "U_9001", "u_9001", false},
		{"two addresses", tombstone.KindEmail, "jane@example.com", "jane@example.net", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := key("", tc.kind, tc.a) == key("", tc.kind, tc.b); got != tc.same {
				t.Errorf("%q and %q share a key: %v, want %v", tc.a, tc.b, got, tc.same)
			}
		})
	}
	for _, v := range []string{"", "  ", "\t\n"} {
		for _, kind := range []string{tombstone.KindEmail, tombstone.KindID, tombstone.KindCioID} {
			if _, err := h.Key("", kind, v); !errors.Is(err, tombstone.ErrEmpty) {
				t.Errorf("Key(%s, %q) = %v, want ErrEmpty", kind, v, err)
			}
		}
	}
	if _, err := h.Key("", "phone", "+1"); !errors.Is(err, tombstone.ErrKind) {
		t.Errorf("an unknown kind: %v, want ErrKind", err)
	}
	if ts, err := tombstone.NewIn(h, "", []tombstone.Identifier{{tombstone.KindEmail, "jane@example.com"}, {tombstone.KindID, " "}},
		time.Now(), 0); !errors.Is(err, tombstone.ErrEmpty) || ts != nil {
		t.Errorf("NewIn with a blank ID: %d tombstones, %v; want none and ErrEmpty", len(ts), err)
	}
	ev := parse(t, `{"event_id":"e1","object_type":"email","metric":"sent","data":{"identifiers":{"email":" ","id":"","cio_id":"c1"},"customer_id":"  "}}`)
	if got := h.EventKeys("", ev); len(got) != 2 { // cio_id, and its earlier-release key
		t.Errorf("an event with blank identifiers has %d keys, want 2 (cio_id's)", len(got))
	}
}

// Scope: an ID or cio_id tombstone holds only in its workspace (ID 42 is
// another person elsewhere); an address tombstone holds in every one (the
// same human being). An ID tombstone from before workspaces (no workspace
// in its key, the exact value) still holds everywhere it did.
func TestWorkspaceScope(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	h := tombstone.NewHasher(secret)
	body := func(ids string) string {
		return `{"event_id":"e1","object_type":"sms","metric":"sent","data":{"identifiers":{` + ids + `}}}`
	}
	legacy := func(kind, v string) ledger.Tombstone { // what release v1 wrote
		m := hmac.New(sha256.New, secret)
		m.Write([]byte("cioevents-tombstone-v1\x00" + kind + "\x00" + v))
		return ledger.Tombstone{Key: hex.EncodeToString(m.Sum(nil)[:16]), CreatedAt: now, ExpireAt: now.Add(tombstone.Lifetime)}
	}
	for _, tc := range []struct {
		name    string
		stones  func() []ledger.Tombstone
		body    string
		ws      string
		forgets bool
	}{
		{"id, its workspace", in(t, h, "eu", tombstone.KindID, "42", now), body(`"id":"42"`), "eu", true},
		{"id, another workspace", in(t, h, "eu", tombstone.KindID, "42", now), body(`"id":"42"`), "us", false},
		{"id, default workspace named or not", in(t, h, "", tombstone.KindID, "42", now), body(`"id":"42"`), "default", true},
		{"customer_id, another workspace", in(t, h, "eu", tombstone.KindID, "42", now), `{"event_id":"e1","object_type":"email","metric":"sent","data":{"customer_id":"42"}}`, "us", false},
		{"cio_id, its workspace", in(t, h, "eu", tombstone.KindCioID, "c9", now), body(`"cio_id":"c9"`), "eu", true},
		{"cio_id, another workspace", in(t, h, "eu", tombstone.KindCioID, "c9", now), body(`"cio_id":"c9"`), "us", false},
		{"email, its workspace", in(t, h, "eu", tombstone.KindEmail, "Jane@example.com", now), body(`"email":"jane@example.com"`), "eu", true},
		{"email, another workspace", in(t, h, "eu", tombstone.KindEmail, "jane@example.com", now), body(`"email":"JANE@example.com"`), "us", true},
		{"v1 id, any workspace", func() []ledger.Tombstone { return []ledger.Tombstone{legacy(tombstone.KindID, "42")} }, body(`"id":"42"`), "us", true},
		{"v1 cio_id, any workspace", func() []ledger.Tombstone { return []ledger.Tombstone{legacy(tombstone.KindCioID, "c9")} }, body(`"cio_id":"c9"`), "eu", true},
		{"v1 email", func() []ledger.Tombstone { return []ledger.Tombstone{legacy(tombstone.KindEmail, "jane@example.com")} }, body(`"email":"Jane@Example.com "`), "eu", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mem := ledger.NewMemory(time.Minute)
			if err := mem.PutTombstones(ctx, tc.stones()); err != nil {
				t.Fatal(err)
			}
			set := &tombstone.Set{Store: mem, Hasher: h, Now: func() time.Time { return now }}
			if err := set.Refresh(ctx); err != nil {
				t.Fatal(err)
			}
			if got := set.Forgotten(tc.ws, parse(t, tc.body)); got != tc.forgets {
				t.Errorf("forgotten in %s: %v, want %v", tc.ws, got, tc.forgets)
			}
		})
	}
}

func in(t *testing.T, h tombstone.Hasher, ws, kind, v string, now time.Time) func() []ledger.Tombstone {
	return func() []ledger.Tombstone {
		ts, err := tombstone.NewIn(h, ws, []tombstone.Identifier{{Kind: kind, Value: v}}, now, 0)
		if err != nil {
			t.Fatal(err)
		}
		return ts
	}
}

// Every identifier an event names is matched: identifiers.email,
// email_address, an address recipient, identifiers.id, customer_id, cio_id.
func TestSetMatchesEveryIdentifier(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name   string
		person tombstone.Person
		body   string
	}{
		{"identifiers.email", tombstone.Person{Email: "jane@example.com"}, `"identifiers":{"email":"JANE@example.com"}`},
		{"email_address", tombstone.Person{Email: "jane@example.com"}, `"email_address":"jane@example.com"`},
		{"recipient", tombstone.Person{Email: "jane@example.com"}, `"recipient":"jane@example.com"`},
		{"identifiers.id", tombstone.Person{ID: "u_1"}, `"identifiers":{"id":"u_1"}`},
		{"customer_id", tombstone.Person{ID: "u_1"}, `"customer_id":"u_1"`},
		{"cio_id", tombstone.Person{CioID: "c1"}, `"identifiers":{"cio_id":"c1"}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mem := ledger.NewMemory(time.Minute)
			h := tombstone.NewHasher(secret)
			set := &tombstone.Set{Store: mem, Hasher: h, Now: func() time.Time { return now }}
			ev := parse(t, `{"event_id":"e1","object_type":"email","metric":"sent","data":{`+tc.body+`}}`)
			other := parse(t, `{"event_id":"e2","object_type":"email","metric":"sent","data":{"identifiers":{"email":"sam@example.net","id":"u_2","cio_id":"c2"}}}`)
			mem.PutTombstones(ctx, tombstone.New(h, tc.person, now, 0))
			if set.Forgotten("", ev) {
				t.Fatal("forgotten before the first refresh")
			}
			if err := set.Refresh(ctx); err != nil {
				t.Fatal(err)
			}
			if !set.Forgotten("", ev) || set.Forgotten("", other) {
				t.Errorf("forgotten: %v (want true), other %v (want false)", set.Forgotten("", ev), set.Forgotten("", other))
			}
		})
	}
}

// A tombstone past its lifetime no longer counts: on bbolt, dev's ledger
// file.
func TestSetRefreshAndLifetime(t *testing.T) {
	ctx := context.Background()
	db, err := bolt.Open(filepath.Join(t.TempDir(), "ledger.db"), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	store, err := ledger.NewBolt(db, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	now := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	h := tombstone.NewHasher(secret)
	set := &tombstone.Set{Store: store, Hasher: h, Now: clock}
	jane := parse(t, `{"event_id":"e1","object_type":"email","metric":"sent","data":{"identifiers":{"email":"jane@example.com"}}}`)
	sam := parse(t, `{"event_id":"e2","object_type":"email","metric":"sent","data":{"identifiers":{"id":"u_2"}}}`)
	if err := store.PutTombstones(ctx, tombstone.New(h, tombstone.Person{Email: "jane@example.com"}, now, 40*24*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := set.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	now = now.Add(2 * time.Hour)
	if err := store.PutTombstones(ctx, tombstone.New(h, tombstone.Person{ID: "u_2"}, now, 0)); err != nil {
		t.Fatal(err)
	}
	if err := set.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if !set.Forgotten("", jane) || !set.Forgotten("", sam) {
		t.Fatalf("after the refresh: jane %v, sam %v; want both forgotten", set.Forgotten("", jane), set.Forgotten("", sam))
	}
	now = now.Add(40 * 24 * time.Hour)
	if set.Forgotten("", jane) || !set.Forgotten("", sam) {
		t.Errorf("after 40 days: jane %v (lifetime over), sam %v (default lifetime)", set.Forgotten("", jane), set.Forgotten("", sam))
	}
	if tombstone.Lifetime < 31*24*time.Hour+7*24*time.Hour {
		t.Errorf("lifetime %v is shorter than a dead letter's longest retention plus Customer.io's retries", tombstone.Lifetime)
	}
}
