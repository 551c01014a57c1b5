package forget

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"cloud.google.com/go/firestore"

	bolt "go.etcd.io/bbolt"

	"github.com/cioevents/cioevents/shared/event"
	"github.com/cioevents/cioevents/shared/ledger"
	"github.com/cioevents/cioevents/shared/tombstone"
)

// devFingerprint records key's fingerprint as dev does (nil: none).
func devFingerprint(t *testing.T, dir string, db *bolt.DB, key []byte) {
	t.Helper()
	if key == nil {
		return
	}
	os.WriteFile(filepath.Join(dir, "key-fingerprint"), []byte(fingerprint(tombstone.NewHasher(key))+"\n"), 0o600)
}

func readBoltTombstones(t *testing.T, db *bolt.DB) []ledger.Tombstone {
	t.Helper()
	ts, err := ledger.ListBoltTombstones(db, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	return ts
}

func tombstoneSet(t *testing.T, db *bolt.DB, key []byte) *tombstone.Set {
	t.Helper()
	l, err := ledger.NewBolt(db, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	s := &tombstone.Set{Store: l, Hasher: tombstone.NewHasher(key)}
	if err := s.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	return s
}

func forgotten(s *tombstone.Set, ws string, ev *event.Event) bool { return s.Forgotten(ev) }

// processorFingerprint records key's fingerprint beside the tombstones as
// the processor does (nil: none).
func processorFingerprint(t *testing.T, fs *firestore.Client, coll string, key []byte) {
	t.Helper()
	if key == nil {
		return
	}
	if _, err := fs.Collection(coll).Doc("_tombstone_key").Set(context.Background(),
		map[string]any{"key_fingerprint": fingerprint(tombstone.NewHasher(key))}); err != nil {
		t.Fatal(err)
	}
}

func countTombstones(t *testing.T, fs *firestore.Client, coll string) int { return 0 }
