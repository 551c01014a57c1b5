package tombstone_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"cloud.google.com/go/firestore"
	bolt "go.etcd.io/bbolt"

	"github.com/cioevents/cioevents/internal/testsupport/emulator"
	"github.com/cioevents/cioevents/shared/ledger"
	"github.com/cioevents/cioevents/shared/logging"
	"github.com/cioevents/cioevents/shared/tombstone"
)

func TestMain(m *testing.M) { emulator.Main(m, emulator.Firestore) }

var collSeq atomic.Int64

// stores are the places tombstones live: the Firestore emulator (the
// deployed processor's ledger), bbolt (dev's ledger file) and Memory.
func stores(t *testing.T) map[string]func(t *testing.T) ledger.Tombstones {
	return map[string]func(t *testing.T) ledger.Tombstones{
		"firestore": func(t *testing.T) ledger.Tombstones {
			client, err := firestore.NewClient(context.Background(), "cioevents-tombstone-test")
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { client.Close() })
			return ledger.NewFirestore(client, fmt.Sprintf("tomb-%d-%d", time.Now().UnixNano(), collSeq.Add(1)), time.Minute)
		},
		"bbolt": func(t *testing.T) ledger.Tombstones {
			db, err := bolt.Open(filepath.Join(t.TempDir(), "ledger.db"), 0o600, nil)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			b, err := ledger.NewBolt(db, time.Minute)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { b.Close() })
			return b
		},
		"memory": func(t *testing.T) ledger.Tombstones { return ledger.NewMemory(time.Minute) },
	}
}

// A forget run on a machine whose clock is an hour ahead, or an hour
// behind, or a day ahead, is read by the next refresh of a running set,
// and so is every forget after it: the cursor is the store's order of
// writing (Firestore's commit time, bbolt's sequence), not the time the
// forgetting machine stamped.
func TestRefreshIgnoresTheForgettingClock(t *testing.T) {
	ctx := context.Background()
	for name, open := range stores(t) {
		t.Run(name, func(t *testing.T) {
			store := open(t)
			h := tombstone.NewHasher(secret)
			now := time.Now().UTC()
			set := &tombstone.Set{Store: store, Hasher: h}
			if err := set.Refresh(ctx); err != nil {
				t.Fatal(err)
			}
			for i, skew := range []time.Duration{time.Hour, 0, -time.Hour, 24 * time.Hour, -time.Hour, 0} {
				email := fmt.Sprintf("person%d@example.com", i)
				ev := parse(t, `{"event_id":"e","object_type":"email","metric":"sent","data":{"identifiers":{"email":"`+email+`"}}}`)
				// The forgetting machine's clock stamps created_at (and
				// expire_at from it).
				if err := store.PutTombstones(ctx, tombstone.New(h, tombstone.Person{Email: email}, now.Add(skew), 0)); err != nil {
					t.Fatal(err)
				}
				if err := set.Refresh(ctx); err != nil {
					t.Fatal(err)
				}
				if !set.Forgotten("", ev) {
					t.Errorf("forget %d from a clock %v off: not read by the next refresh", i, skew)
				}
			}
			if set.Len() != 6 {
				t.Errorf("set holds %d tombstones, want 6", set.Len())
			}
			// A new instance reads them all at once.
			fresh := &tombstone.Set{Store: store, Hasher: h}
			if err := fresh.Refresh(ctx); err != nil || fresh.Len() != 6 {
				t.Errorf("a new instance holds %d tombstones (%v), want 6", fresh.Len(), err)
			}
		})
	}
}

// A refresh reads what was written since the last one, not everything
// again: on bbolt exactly the new tombstones; on Firestore those of the
// last minute's overlap too.
func TestRefreshReadsOnlyWhatIsNew(t *testing.T) {
	ctx := context.Background()
	for name, open := range stores(t) {
		t.Run(name, func(t *testing.T) {
			store := open(t)
			h := tombstone.NewHasher(secret)
			ts := tombstone.New(h, tombstone.Person{Email: "a@example.com", ID: "1"}, time.Now(), 0)
			if err := store.PutTombstones(ctx, ts); err != nil {
				t.Fatal(err)
			}
			got, cursor, err := store.ReadTombstones(ctx, "")
			if err != nil || len(got) != 2 {
				t.Fatalf("first read: %d tombstones, %v; want 2", len(got), err)
			}
			got, cursor2, err := store.ReadTombstones(ctx, cursor)
			if err != nil {
				t.Fatal(err)
			}
			if name != "firestore" && len(got) != 0 {
				t.Errorf("nothing new: %d tombstones read again", len(got))
			}
			if err := store.PutTombstones(ctx, tombstone.New(h, tombstone.Person{ID: "2"}, time.Now().Add(-48*time.Hour), 0)); err != nil {
				t.Fatal(err)
			}
			got, _, err = store.ReadTombstones(ctx, cursor2)
			if err != nil {
				t.Fatal(err)
			}
			want, _ := h.Key("", tombstone.KindID, "2")
			var found bool
			for _, g := range got {
				found = found || g.Key == want
			}
			if !found || name != "firestore" && len(got) != 1 {
				t.Errorf("after one more forget (stamped two days back): %d read, the new one among them: %v", len(got), found)
			}
		})
	}
}

// The fingerprint: hex, the same for the same key, another for another
// key or none, and holding nothing of the key.
func TestFingerprint(t *testing.T) {
	a := tombstone.NewHasher(secret).Fingerprint()
	if a != tombstone.NewHasher(append([]byte(nil), secret...)).Fingerprint() {
		t.Error("one key, two fingerprints")
	}
	if len(a) != 32 || strings.Trim(a, "0123456789abcdef") != "" {
		t.Errorf("fingerprint %q is not 32 hex digits", a)
	}
	others := []string{tombstone.NewHasher([]byte("another key of thirty-two bytes!")).Fingerprint(), tombstone.NewHasher(nil).Fingerprint()}
	for _, o := range others {
		if o == a {
			t.Error("two keys share a fingerprint")
		}
	}
	if strings.Contains(a, fmt.Sprintf("%x", secret[:4])) {
		t.Error("the fingerprint shows the key")
	}
	h := tombstone.NewHasher(secret)
	for _, kind := range []string{tombstone.KindEmail, tombstone.KindID, tombstone.KindCioID} {
		if k, _ := h.Key("", kind, "cioevents-key-fingerprint-v1"); k == a {
			t.Errorf("the fingerprint is the %s tombstone of its label", kind)
		}
	}
}

// The pipeline writes its key's fingerprint beside the tombstones once
// (first writer wins), forget reads it, and another key is told apart —
// and never overwrites the stored one.
func TestFingerprintBesideTheTombstones(t *testing.T) {
	ctx := context.Background()
	for name, open := range stores(t) {
		t.Run(name, func(t *testing.T) {
			store := open(t)
			right, wrong := tombstone.NewHasher(secret), tombstone.NewHasher([]byte("a wrong key, thirty-two bytes..."))
			if _, err := tombstone.ReadFingerprint(ctx, store); !errors.Is(err, tombstone.ErrNoFingerprint) {
				t.Errorf("empty store: %v, want ErrNoFingerprint", err)
			}
			if err := tombstone.CheckFingerprint(ctx, store, right); !errors.Is(err, tombstone.ErrNoFingerprint) {
				t.Errorf("check on an empty store: %v, want ErrNoFingerprint", err)
			}
			for range 2 { // idempotent
				if err := tombstone.WriteFingerprint(ctx, store, right); err != nil {
					t.Fatal(err)
				}
			}
			var mismatch *tombstone.KeyMismatchError
			if err := tombstone.WriteFingerprint(ctx, store, wrong); !errors.As(err, &mismatch) ||
				mismatch.Stored != right.Fingerprint() || mismatch.Ours != wrong.Fingerprint() {
				t.Errorf("another key: %v, want a KeyMismatchError naming both fingerprints", err)
			}
			if fp, err := tombstone.ReadFingerprint(ctx, store); err != nil || fp != right.Fingerprint() {
				t.Errorf("stored %q, %v; want the first key's %q", fp, err, right.Fingerprint())
			}
			if err := tombstone.CheckFingerprint(ctx, store, right); err != nil {
				t.Errorf("check with the right key: %v", err)
			}
			if err := tombstone.CheckFingerprint(ctx, store, wrong); !tombstone.IsKeyMismatch(err) {
				t.Errorf("check with the wrong key: %v", err)
			}
		})
	}
}

// The fingerprint document is no tombstone: reading the tombstones skips it.
func TestFingerprintIsNoTombstone(t *testing.T) {
	ctx := context.Background()
	for name, open := range stores(t) {
		t.Run(name, func(t *testing.T) {
			store := open(t)
			if err := tombstone.WriteFingerprint(ctx, store, tombstone.NewHasher(secret)); err != nil {
				t.Fatal(err)
			}
			got, cursor, err := store.ReadTombstones(ctx, "")
			if err != nil || len(got) != 0 {
				t.Errorf("first read: %v, %v; want no tombstone", got, err)
			}
			if got, _, err := store.ReadTombstones(ctx, cursor); err != nil || len(got) != 0 {
				t.Errorf("next read: %v, %v; want no tombstone", got, err)
			}
		})
	}
}

// A pipeline started with another key than the one stored logs one ERROR
// line (the function_errors metric counts it; see tfcheck's log filter
// test) and still loads the tombstones and runs with its own key.
func TestStartWithAnotherKey(t *testing.T) {
	ctx := context.Background()
	store := ledger.NewMemory(time.Minute)
	right := tombstone.NewHasher(secret)
	if err := (&tombstone.Set{Store: store, Hasher: right}).Start(ctx); err != nil {
		t.Fatal(err)
	}
	if err := store.PutTombstones(ctx, tombstone.New(right, tombstone.Person{Email: "jane@example.com"}, time.Now(), 0)); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	set := &tombstone.Set{Store: store, Hasher: tombstone.NewHasher(nil), Logger: logging.New(&out, "info")}
	if err := set.Start(ctx); !tombstone.IsKeyMismatch(err) {
		t.Fatalf("Start: %v, want a key mismatch", err)
	}
	if set.Len() != 1 {
		t.Errorf("the set holds %d tombstones after the mismatch, want them loaded", set.Len())
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	var line map[string]any
	if len(lines) != 1 || json.Unmarshal([]byte(lines[0]), &line) != nil {
		t.Fatalf("log: %q, want one JSON line", out.String())
	}
	if line["severity"] != "ERROR" || line["cause"] != "pii_key_mismatch" || line["stored_fingerprint"] != right.Fingerprint() {
		t.Errorf("line %v", line)
	}
	out.Reset()
	if err := (&tombstone.Set{Store: store, Hasher: right, Logger: logging.New(&out, "info")}).Start(ctx); err != nil || out.Len() != 0 {
		t.Errorf("the right key: %v, logged %q", err, out.String())
	}
}

func TestFingerprintFile(t *testing.T) {
	dir := t.TempDir()
	if _, err := tombstone.ReadFingerprintFile(dir); !errors.Is(err, tombstone.ErrNoFingerprint) {
		t.Errorf("no file: %v", err)
	}
	h := tombstone.NewHasher(secret)
	if err := tombstone.WriteFingerprintFile(dir, h); err != nil {
		t.Fatal(err)
	}
	if fp, err := tombstone.ReadFingerprintFile(dir); err != nil || fp != h.Fingerprint() {
		t.Errorf("read %q, %v; want %q", fp, err, h.Fingerprint())
	}
	if st, err := os.Stat(filepath.Join(dir, tombstone.FingerprintFile)); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("file mode %v, %v; want 0600", st.Mode(), err)
	}
}
