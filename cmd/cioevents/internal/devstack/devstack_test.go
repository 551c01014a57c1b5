package devstack

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cioevents/cioevents/cmd/cioevents/internal/sender"
	"github.com/cioevents/cioevents/shared/warehouse"
)

// outcomes counts the processor's final "event" lines by outcome.
type outcomes struct {
	mu      sync.Mutex
	counts  map[string]int
	total   int
	retries int
}

func (o *outcomes) Enabled(context.Context, slog.Level) bool { return true }
func (o *outcomes) WithAttrs([]slog.Attr) slog.Handler       { return o }
func (o *outcomes) WithGroup(string) slog.Handler            { return o }
func (o *outcomes) Handle(_ context.Context, r slog.Record) error {
	if r.Message != "event" {
		return nil
	}
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == "outcome" {
			o.mu.Lock()
			defer o.mu.Unlock()
			if v := a.Value.String(); v != "retry" && v != "busy" {
				o.counts[v]++
				o.total++
			} else {
				o.retries++
			}
		}
		return true
	})
	return nil
}

func (o *outcomes) wait(t *testing.T, n int) map[string]int {
	t.Helper()
	for deadline := time.Now().Add(2 * time.Minute); ; time.Sleep(20 * time.Millisecond) {
		o.mu.Lock()
		total, counts := o.total, map[string]int{}
		for k, v := range o.counts {
			counts[k] = v
		}
		o.mu.Unlock()
		if total >= n {
			return counts
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d events processed: %v", total, n, counts)
		}
	}
}

// waitRetries waits for n failed deliveries.
func (o *outcomes) waitRetries(t *testing.T, n int) {
	t.Helper()
	for deadline := time.Now().Add(2 * time.Minute); ; time.Sleep(20 * time.Millisecond) {
		o.mu.Lock()
		r := o.retries
		o.mu.Unlock()
		if r >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d failed deliveries", r, n)
		}
	}
}

// noEnv keeps the test's own emulator variables (set in CI) out: this is
// dev on its built-in, durable stand-ins.
func noEnv(string) string { return "" }

// downWarehouse fails every insert as an outage would (retryable).
type downWarehouse struct{}

func (downWarehouse) InsertEvent(context.Context, warehouse.Row) error {
	return errors.New("warehouse down")
}
func (downWarehouse) InsertRejected(context.Context, warehouse.Rejected) error {
	return errors.New("warehouse down")
}

func start(t *testing.T, dir string) (*Stack, *outcomes) { return startWith(t, dir, nil) }

func startWith(t *testing.T, dir string, wh warehouse.Writer) (*Stack, *outcomes) {
	t.Helper()
	o := &outcomes{counts: map[string]int{}}
	s, err := Start(context.Background(), Options{Addr: "127.0.0.1:0", DataDir: dir, Getenv: noEnv,
		Logger: slog.New(o), Warehouse: wh})
	if err != nil {
		t.Fatal(err)
	}
	return s, o
}

func sendAll(t *testing.T, s *Stack, key string) int {
	t.Helper()
	fixtures, err := fs.Sub(os.DirFS("../../../.."), "testdata")
	if err != nil {
		t.Fatal(err)
	}
	rep, err := sender.Run(context.Background(), sender.Options{URL: s.URL, Key: []byte(key), All: true,
		Concurrency: 8, Fixtures: fixtures})
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK() {
		t.Fatalf("not all answered 2xx: %v %v", rep.Status, rep.Errors)
	}
	return rep.Requests
}

func lines(t *testing.T, path string) []string {
	t.Helper()
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 16<<20)
	for sc.Scan() {
		out = append(out, sc.Text())
	}
	return out
}

// TestRestart: events accepted by one run but not processed (its warehouse
// was down) are processed by the next; a re-send after a restart adds no row and no action line;
// the signing key (and so the printed send command) survives.
func TestRestart(t *testing.T) {
	dir := t.TempDir()
	events := filepath.Join(dir, warehouse.EventsFile)
	rejected := filepath.Join(dir, warehouse.RejectedFile)
	actionsPath := filepath.Join(dir, ActionsFile)

	// Run 1: the warehouse is down, so every accepted body stays queued.
	s1, o1 := startWith(t, dir, downWarehouse{})
	key := s1.Key
	n := sendAll(t, s1, key)
	o1.waitRetries(t, 1)
	if err := s1.Close(); err != nil {
		t.Fatal(err)
	}
	if got := len(lines(t, events)) + len(lines(t, rejected)); got != 0 {
		t.Fatalf("%d rows written while the warehouse was down, want 0", got)
	}

	// Run 2: the backlog of run 1 is processed without sending anything.
	s2, o2 := start(t, dir)
	if s2.Key != key || !strings.Contains(s2.KeySource, KeyFile) {
		t.Fatalf("key after restart %q (%s), want %q from %s", s2.Key, s2.KeySource, key, KeyFile)
	}
	o2.wait(t, n)
	rows, rejRows, acts := lines(t, events), lines(t, rejected), lines(t, actionsPath)
	if len(rows) == 0 || len(acts) == 0 || len(rows)+len(rejRows) != n {
		t.Fatalf("after the restart: %d rows + %d rejects for %d bodies, %d actions", len(rows), len(rejRows), n, len(acts))
	}
	seen := map[string]bool{}
	for _, l := range rows {
		var r struct {
			EventID string `json:"event_id"`
		}
		if err := json.Unmarshal([]byte(l), &r); err != nil || seen[r.EventID] {
			t.Fatalf("row %q: duplicate or unreadable (%v)", l, err)
		}
		seen[r.EventID] = true
	}

	// Run 3: the same key, the same bodies, nothing new.
	if err := s2.Close(); err != nil {
		t.Fatal(err)
	}
	s3, o3 := start(t, dir)
	defer s3.Close()
	sendAll(t, s3, key)
	if got := o3.wait(t, n); got["duplicate"] != n {
		t.Fatalf("re-send after restart: outcomes %v, want %d duplicates", got, n)
	}
	if r, j, a := len(lines(t, events)), len(lines(t, rejected)), len(lines(t, actionsPath)); r != len(rows) || j != len(rejRows) || a != len(acts) {
		t.Fatalf("re-send after restart: rows %d→%d, rejects %d→%d, actions %d→%d", len(rows), r, len(rejRows), j, len(acts), a)
	}
	for _, f := range []string{events, rejected, actionsPath, filepath.Join(dir, KeyFile), filepath.Join(dir, LedgerFile), filepath.Join(dir, QueueFile)} {
		st, err := os.Stat(f)
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != 0o600 {
			t.Errorf("%s is %v, want 0600", filepath.Base(f), st.Mode().Perm())
		}
	}
}

// TestDryRunUnlessLive: Track credentials in the environment do not make
// dev call Customer.io; only --live does.
func TestDryRunUnlessLive(t *testing.T) {
	env := func(k string) string {
		return map[string]string{"CIO_SITE_ID": "site", "CIO_TRACK_API_KEY": "key"}[k]
	}
	for _, live := range []bool{false, true} {
		s, err := Start(context.Background(), Options{Addr: "127.0.0.1:0", DataDir: t.TempDir(), Getenv: env, Live: live})
		if err != nil {
			t.Fatal(err)
		}
		s.Close()
		if got := strings.HasPrefix(s.Actions, "LIVE"); got != live {
			t.Errorf("live=%v: actions %q", live, s.Actions)
		}
	}
	none := func(k string) string { return map[string]string{"CIO_ACTIONS": "none"}[k] }
	s, err := Start(context.Background(), Options{Addr: "127.0.0.1:0", DataDir: t.TempDir(), Getenv: none})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	if !strings.HasPrefix(s.Actions, "none") {
		t.Errorf("CIO_ACTIONS=none: banner says %q", s.Actions)
	}
}
