package tombstone_test

import (
	"context"
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
	keys := h.Keys(tombstone.Person{Email: " Jane@Example.com ", ID: "u_9001", CioID: "a3f10e000042"})
	if len(keys) != 3 {
		t.Fatalf("%d keys, want 3", len(keys))
	}
	for _, k := range keys {
		for _, clear := range []string{"jane", "example", "u_9001", "a3f10e000042"} {
			if strings.Contains(strings.ToLower(k), clear) {
				t.Errorf("key %s holds %s", k, clear)
			}
		}
	}
	if h.Key(tombstone.KindEmail, "JANE@example.com") != h.Key(tombstone.KindEmail, "jane@example.com ") {
		t.Error("an address's case or spaces change its key")
	}
	if h.Key(tombstone.KindID, "U_9001") == h.Key(tombstone.KindID, "u_9001") {
		t.Error("IDs are exact, yet two cases share a key")
	}
	if tombstone.NewHasher(nil).Key(tombstone.KindEmail, "jane@example.com") == h.Key(tombstone.KindEmail, "jane@example.com") {
		t.Error("the secret does not key the hash")
	}
	if len(h.Keys(tombstone.Person{ID: "  "})) != 0 {
		t.Error("a blank identifier has a key (it would match every event without one)")
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
			if set.Forgotten(ev) {
				t.Fatal("forgotten before the first refresh")
			}
			if err := set.Refresh(ctx); err != nil {
				t.Fatal(err)
			}
			if !set.Forgotten(ev) || set.Forgotten(other) {
				t.Errorf("forgotten: %v (want true), other %v (want false)", set.Forgotten(ev), set.Forgotten(other))
			}
		})
	}
}

// Refresh reads only what is new (with an hour's overlap), and a tombstone
// past its lifetime no longer counts: on bbolt, dev's ledger file.
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
	if got, _ := store.ListTombstones(ctx, now.Add(-time.Hour)); len(got) != 1 {
		t.Errorf("since an hour ago: %d tombstones, want the new one", len(got))
	}
	if err := set.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if !set.Forgotten(jane) || !set.Forgotten(sam) {
		t.Fatalf("after the refresh: jane %v, sam %v; want both forgotten", set.Forgotten(jane), set.Forgotten(sam))
	}
	now = now.Add(40 * 24 * time.Hour)
	if set.Forgotten(jane) || !set.Forgotten(sam) {
		t.Errorf("after 40 days: jane %v (lifetime over), sam %v (default lifetime)", set.Forgotten(jane), set.Forgotten(sam))
	}
	if tombstone.Lifetime < 31*24*time.Hour+7*24*time.Hour {
		t.Errorf("lifetime %v is shorter than a dead letter's longest retention plus Customer.io's retries", tombstone.Lifetime)
	}
}
