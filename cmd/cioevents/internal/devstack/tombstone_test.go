package devstack

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/cioevents/cioevents/shared/config"
	"github.com/cioevents/cioevents/shared/ledger"
	"github.com/cioevents/cioevents/shared/privacy"
	"github.com/cioevents/cioevents/shared/signature"
	"github.com/cioevents/cioevents/shared/tombstone"
	"github.com/cioevents/cioevents/shared/warehouse"
)

// errorLines keeps the messages of the ERROR lines a stack logs, beside
// the outcomes it counts.
type errorLines struct {
	*outcomes
	mu   sync.Mutex
	msgs []string
}

func (e *errorLines) Handle(ctx context.Context, r slog.Record) error {
	if r.Level >= slog.LevelError {
		e.mu.Lock()
		e.msgs = append(e.msgs, r.Message)
		e.mu.Unlock()
	}
	return e.outcomes.Handle(ctx, r)
}
func (e *errorLines) WithAttrs([]slog.Attr) slog.Handler { return e }
func (e *errorLines) WithGroup(string) slog.Handler      { return e }

// dev keeps a forgotten person out of rejected.ndjson too: a body of
// theirs without event_id, and an oversized one (its kept prefix), under a
// policy that keeps every field in clear, are dropped as forgotten. dev
// writes its key's fingerprint beside the tombstones and in its data dir,
// and a restart with another key logs an ERROR line and runs on.
func TestDevTombstonesAndKey(t *testing.T) {
	dir := t.TempDir()
	key := "dev's PII key, thirty-two bytes!"
	h := tombstone.NewHasher([]byte(key))
	// What `forget --data-dir` leaves before dev runs.
	db, err := bolt.Open(filepath.Join(dir, LedgerFile), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := ledger.PutBoltTombstones(db, tombstone.New(h, tombstone.Person{Email: "jane@example.com"}, time.Now(), 0)); err != nil {
		t.Fatal(err)
	}
	db.Close()
	env := func(key string) func(string) string {
		return func(k string) string {
			return map[string]string{privacy.EnvKey: key, config.EnvMaxBodyBytes: "4096",
				privacy.EnvPolicy: "email=keep,recipient=keep,subject=keep,href=keep,failure_message=keep,content=keep,headers=keep"}[k]
		}
	}
	o := &outcomes{counts: map[string]int{}}
	s, err := Start(context.Background(), Options{Addr: "127.0.0.1:0", DataDir: dir, Getenv: env(key), Logger: slog.New(o)})
	if err != nil {
		t.Fatal(err)
	}
	post := func(body string) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, s.URL, strings.NewReader(body))
		ts, sig := signature.Headers([]byte(s.Key), time.Now(), []byte(body))
		req.Header.Set(signature.HeaderTimestamp, ts)
		req.Header.Set(signature.HeaderSignature, sig)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("status %d", resp.StatusCode)
		}
	}
	big := strings.Repeat("x", 8<<10)
	post(`{"object_type":"email","metric":"sent","data":{"identifiers":{"email":"Jane@example.com"}}}`)
	post(`{"event_id":"01JDEVBIG00000000000000001","object_type":"email","metric":"sent","data":{"recipient":"jane@example.com","content":"` + big + `"}}`)
	post(`{"object_type":"email","metric":"sent","data":{"identifiers":{"email":"sam@example.net"}}}`)
	post(`{"event_id":"01JDEVBIG00000000000000002","object_type":"email","metric":"sent","data":{"recipient":"sam@example.net","content":"` + big + `"}}`)
	counts := o.wait(t, 4)
	if counts["forgotten"] != 2 || counts["rejected"] != 2 {
		t.Errorf("outcomes %v, want 2 forgotten (jane's) and 2 rejected (sam's)", counts)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	rejected, err := os.ReadFile(filepath.Join(dir, warehouse.RejectedFile))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(bytes.ToLower(rejected), []byte("jane")) || !bytes.Contains(rejected, []byte("sam@example.net")) {
		t.Errorf("rejected.ndjson holds jane, or not sam in clear:\n%.600s", rejected)
	}
	if fp, err := tombstone.ReadFingerprintFile(dir); err != nil || fp != h.Fingerprint() {
		t.Errorf("%s: %q, %v; want %s", tombstone.FingerprintFile, fp, err, h.Fingerprint())
	}
	db, err = bolt.Open(filepath.Join(dir, LedgerFile), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	fp, err := tombstone.ReadFingerprint(context.Background(), ledger.NewBoltTombstones(db))
	db.Close()
	if err != nil || fp != h.Fingerprint() {
		t.Errorf("fingerprint beside the tombstones: %q, %v; want %s", fp, err, h.Fingerprint())
	}

	// Restarted with another key: it runs, and says so once at ERROR.
	e := &errorLines{outcomes: &outcomes{counts: map[string]int{}}}
	s, err = Start(context.Background(), Options{Addr: "127.0.0.1:0", DataDir: dir, Getenv: env("another key, thirty-two bytes..."), Logger: slog.New(e)})
	if err != nil {
		t.Fatalf("another key stops dev: %v", err)
	}
	defer s.Close()
	if len(e.msgs) != 1 || e.msgs[0] != "tombstone key mismatch" {
		t.Errorf("ERROR lines %q, want one key mismatch", e.msgs)
	}
}
