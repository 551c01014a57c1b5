package backfill_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/firestore"
	bolt "go.etcd.io/bbolt"

	"github.com/cioevents/cioevents/cmd/cioevents/internal/backfill"
	"github.com/cioevents/cioevents/shared/ledger"
	"github.com/cioevents/cioevents/shared/privacy"
	"github.com/cioevents/cioevents/shared/tombstone"
	"github.com/cioevents/cioevents/shared/warehouse"
)

var (
	rightKey = "the right PII key, 32 bytes long"
	wrongKey = "another PII key, thirty-two byte"
)

// Backfill hashes with its own CIO_PII_KEY. Under another key than the one
// the tombstones were written with, its hashes match no forgotten person
// and it would store them again, so it refuses — an error (exit 1) naming
// where the right key lives — before it writes anything; under the right
// key it runs. In dev's data dir (bbolt) and against the Firestore emulator.
func TestRefusesAnotherKey(t *testing.T) {
	ctx := context.Background()
	t.Run("data dir", func(t *testing.T) {
		fake, _ := newFake(t, 50, 3)
		dir := t.TempDir()
		db, err := bolt.Open(filepath.Join(dir, "ledger.db"), 0o600, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := tombstone.WriteFingerprint(ctx, ledger.NewBoltTombstones(db), tombstone.NewHasher([]byte(rightKey))); err != nil {
			t.Fatal(err)
		}
		db.Close()
		env := func(key string) backfill.Env {
			return backfill.Env{Getenv: func(k string) string {
				return map[string]string{backfill.EnvAppAPIKey: appKey, privacy.EnvKey: key}[k]
			}}
		}
		for _, key := range []string{wrongKey, ""} {
			r := run(ctx, fake, env(key), append([]string{"--data-dir", dir}, span...)...)
			if r.err == nil || !strings.Contains(r.err.Error(), "refused") ||
				!strings.Contains(r.err.Error(), filepath.Join(dir, tombstone.FingerprintFile)) {
				t.Errorf("key %q: %v, want a refusal naming dev's key fingerprint file", key, r.err)
			}
			if _, err := os.Stat(filepath.Join(dir, warehouse.EventsFile)); err == nil {
				t.Errorf("key %q: rows written before the refusal", key)
			}
		}
		if r := run(ctx, fake, env(rightKey), append([]string{"--data-dir", dir}, span...)...); r.err != nil {
			t.Errorf("the right key: %v\n%s", r.err, r.stderr)
		}
	})
	t.Run("firestore", func(t *testing.T) {
		fake, _ := newFake(t, 50, 3)
		_, bqOpts, _ := newBigQuery(t)
		coll := fmt.Sprintf("backfill_key_%d", time.Now().UnixNano())
		client, err := firestore.NewClient(ctx, "proj")
		if err != nil {
			t.Fatal(err)
		}
		defer client.Close()
		if err := tombstone.WriteFingerprint(ctx, ledger.NewFirestore(client, coll, time.Minute), tombstone.NewHasher([]byte(rightKey))); err != nil {
			t.Fatal(err)
		}
		env := func(key string) backfill.Env {
			return backfill.Env{BigQueryOptions: bqOpts, Getenv: func(k string) string {
				return map[string]string{backfill.EnvAppAPIKey: appKey, "GOOGLE_CLOUD_PROJECT": "proj", "LEDGER_COLLECTION": coll,
					"FIRESTORE_EMULATOR_HOST": os.Getenv("FIRESTORE_EMULATOR_HOST"), privacy.EnvKey: key}[k]
			}}
		}
		args := append([]string{"--checkpoint", t.TempDir() + "/cp.json"}, span...)
		r := run(ctx, fake, env(wrongKey), args...)
		if r.err == nil || !strings.Contains(r.err.Error(), "refused") || !strings.Contains(r.err.Error(), "pii-key") {
			t.Errorf("another key: %v, want a refusal naming the processor's secret", r.err)
		}
		if r := run(ctx, fake, env(rightKey), args...); r.err != nil {
			t.Errorf("the right key: %v\n%s", r.err, r.stderr)
		}
	})
}
