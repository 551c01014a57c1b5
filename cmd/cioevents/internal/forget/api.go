package forget

import (
	"context"
	"os"
	"path/filepath"
	"strings"

	"cloud.google.com/go/firestore"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/cioevents/cioevents/shared/ledger"
	"github.com/cioevents/cioevents/shared/privacy"
	"github.com/cioevents/cioevents/shared/tombstone"
)

// stonesFor are the tombstones of s's identifiers: an address in every
// workspace, an ID or cio_id in its own.
func stonesFor(h tombstone.Hasher, s *Identity, now time.Time, lifetime time.Duration) ([]ledger.Tombstone, error) {
	var out []ledger.Tombstone
	for _, i := range s.tombstoned() {
		var p tombstone.Person
		switch i.Kind {
		case tombstone.KindEmail:
			p.Email = i.Value
		case tombstone.KindID:
			p.ID = i.Value
		case tombstone.KindCioID:
			p.CioID = i.Value
		}
		out = append(out, tombstone.New(h, p, now, lifetime)...)
	}
	return out, nil
}

// fingerprints is where a key fingerprint is stored beside tombstones.
type fingerprints interface {
	KeyFingerprint(ctx context.Context) (string, error)
}

func fingerprint(h tombstone.Hasher) string { return h.Key("fingerprint", "cioevents") }

// storedFingerprint is the fingerprint beside the tombstones ("" : none).
func storedFingerprint(ctx context.Context, store any) (string, error) {
	if f, ok := store.(fingerprints); ok {
		return f.KeyFingerprint(ctx)
	}
	return "", nil
}

// checkLocalKey compares h with the fingerprint dev wrote in dir.
func checkLocalKey(ctx context.Context, dir string, store any, h tombstone.Hasher) error {
	b, _ := os.ReadFile(filepath.Join(dir, "key-fingerprint"))
	stored := strings.TrimSpace(string(b))
	if stored != fingerprint(h) {
		return keyError(stored, fingerprint(h), "run forget with the "+privacy.EnvKey+" that cioevents dev runs with in "+dir)
	}
	return nil
}

// checkCloudKey compares h with the fingerprint the processor wrote.
func checkCloudKey(ctx context.Context, store *ledger.Firestore, fs *firestore.Client, h tombstone.Hasher, o options) error {
	stored := ""
	if snap, err := fs.Collection(o.coll).Doc("_tombstone_key").Get(ctx); err == nil {
		stored, _ = snap.Data()["key_fingerprint"].(string)
	}
	if stored != fingerprint(h) {
		return keyError(stored, fingerprint(h), "forget reads the key from Secret Manager secret "+o.secret+
			" (--pii-key-secret), the one the processor mounts as "+privacy.EnvKey)
	}
	return nil
}

type boltStore struct{ db *bolt.DB }

func (b boltStore) PutTombstones(ctx context.Context, ts []ledger.Tombstone) error {
	return ledger.PutBoltTombstones(b.db, ts)
}

// allTombstoned reports whether every identifier of s that a tombstone can
// name has a live one in store: a rerun of a forget whose rows are gone.
func allTombstoned(ctx context.Context, store any, h tombstone.Hasher, s *Identity) (bool, error) {
	l, ok := store.(interface {
		ListTombstones(ctx context.Context, since time.Time) ([]ledger.Tombstone, error)
	})
	if !ok {
		b := store.(boltStore)
		return allTombstoned(ctx, lister{b.db}, h, s)
	}
	ts, err := l.ListTombstones(ctx, time.Time{})
	if err != nil {
		return false, err
	}
	live := map[string]bool{}
	for _, t := range ts {
		if t.ExpireAt.After(time.Now()) {
			live[t.Key] = true
		}
	}
	want, err := stonesFor(h, s, time.Now(), 0)
	if err != nil || len(want) == 0 {
		return false, err
	}
	for _, t := range want {
		if !live[t.Key] {
			return false, nil
		}
	}
	return true, nil
}

type lister struct{ db *bolt.DB }

func (l lister) ListTombstones(ctx context.Context, since time.Time) ([]ledger.Tombstone, error) {
	return ledger.ListBoltTombstones(l.db, since)
}
