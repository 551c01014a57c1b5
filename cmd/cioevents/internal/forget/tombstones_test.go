package forget

import (
	"context"
	"testing"
	"time"

	"cloud.google.com/go/firestore"
	bolt "go.etcd.io/bbolt"

	"github.com/cioevents/cioevents/shared/event"
	"github.com/cioevents/cioevents/shared/ledger"
	"github.com/cioevents/cioevents/shared/tombstone"
)

// devFingerprint records key's fingerprint as dev does when it starts
// (nil: none, a data dir no dev of this release ran in).
func devFingerprint(t *testing.T, dir string, db *bolt.DB, key []byte) {
	t.Helper()
	if key == nil {
		return
	}
	h := tombstone.NewHasher(key)
	if err := tombstone.WriteFingerprint(context.Background(), ledger.NewBoltTombstones(db), h); err != nil {
		t.Fatal(err)
	}
	if err := tombstone.WriteFingerprintFile(dir, h); err != nil {
		t.Fatal(err)
	}
}

func readBoltTombstones(t *testing.T, db *bolt.DB) []ledger.Tombstone {
	t.Helper()
	ts, _, err := ledger.NewBoltTombstones(db).ReadTombstones(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	return ts
}

// tombstoneSet is the set dev holds after reading db.
func tombstoneSet(t *testing.T, db *bolt.DB, key []byte) *tombstone.Set {
	t.Helper()
	s := &tombstone.Set{Store: ledger.NewBoltTombstones(db), Hasher: tombstone.NewHasher(key)}
	if err := s.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	return s
}

func forgotten(s *tombstone.Set, ws string, ev *event.Event) bool { return s.Forgotten(ws, ev) }

// processorFingerprint records key's fingerprint beside the tombstones as
// the processor does when it starts (nil: none).
func processorFingerprint(t *testing.T, fs *firestore.Client, coll string, key []byte) {
	t.Helper()
	if key == nil {
		return
	}
	if err := tombstone.WriteFingerprint(context.Background(), ledger.NewFirestore(fs, coll, time.Minute), tombstone.NewHasher(key)); err != nil {
		t.Fatal(err)
	}
}

func countTombstones(t *testing.T, fs *firestore.Client, coll string) int {
	t.Helper()
	ts, _, err := ledger.NewFirestore(fs, coll, time.Minute).ReadTombstones(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	return len(ts)
}
