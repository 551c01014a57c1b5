package cioevents_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"cloud.google.com/go/bigquery"
	"cloud.google.com/go/firestore"
	"google.golang.org/api/option"

	"github.com/cioevents/cioevents/shared/actions"
	"github.com/cioevents/cioevents/shared/actions/trackfake"
	"github.com/cioevents/cioevents/shared/devstack"
	"github.com/cioevents/cioevents/shared/event"
	"github.com/cioevents/cioevents/shared/sender"
	"github.com/cioevents/cioevents/shared/warehouse"
	"github.com/cioevents/cioevents/shared/warehouse/bqfake"
)

// countingWriter counts the inserts the pipeline completed per event_id:
// the BigQuery fake, like BigQuery, would hide a duplicate insert behind the
// insert ID, and the soak must see the pipeline's own behaviour.
type countingWriter struct {
	warehouse.Writer
	mu      sync.Mutex
	inserts map[string]int
}

func (w *countingWriter) InsertEvent(ctx context.Context, r warehouse.Row) error {
	if err := w.Writer.InsertEvent(ctx, r); err != nil {
		return err
	}
	w.mu.Lock()
	w.inserts[r.EventID]++
	w.mu.Unlock()
	return nil
}

// TestSoak pushes signed events with duplicates through the whole pipeline on
// the emulators while injecting transient faults everywhere (processor
// crashes between steps, BigQuery insert errors, Track API 429/503), and
// checks that nothing is lost, duplicated or repeated. CIOEVENTS_SOAK_EVENTS
// sets the size (CI: 2000; the release check: 10000).
func TestSoak(t *testing.T) {
	n := 2000
	if v := os.Getenv("CIOEVENTS_SOAK_EVENTS"); v != "" {
		n, _ = strconv.Atoi(v)
	}
	if testing.Short() {
		n = 300
	}
	ctx := context.Background()
	bq := bqfake.New(map[string]bigquery.Schema{
		"cioevents.events": warehouse.EventsSchema(), "cioevents.rejected_events": warehouse.RejectedSchema()})
	defer bq.Close()
	track := trackfake.New("site", "key")
	defer track.Close()
	bqw, err := warehouse.NewBigQuery(ctx, "proj", "cioevents", "events", "rejected_events",
		option.WithEndpoint(bq.URL()+"/bigquery/v2/"), option.WithoutAuthentication())
	if err != nil {
		t.Fatal(err)
	}
	defer bqw.Close()
	wh := &countingWriter{Writer: bqw, inserts: map[string]int{}}
	tr, err := actions.NewTrack(actions.TrackConfig{SiteID: "site", APIKey: "key", BaseURL: track.URL(),
		HTTPClient: track.Client(), RateLimit: 5000, Burst: 100})
	if err != nil {
		t.Fatal(err)
	}

	faults := os.Getenv("CIOEVENTS_SOAK_FAULTS") != "off" // off: measure the fault-free rate
	rng := rand.New(rand.NewPCG(1, 2))
	var rngMu sync.Mutex
	chance := func(p float64) bool { rngMu.Lock(); defer rngMu.Unlock(); return rng.Float64() < p }
	var crashes atomic.Int64
	run := time.Now().UnixNano()
	stack, err := devstack.Start(ctx, devstack.Options{
		Addr: "127.0.0.1:0", DataDir: t.TempDir(), Project: "cioevents-soak",
		Topic: fmt.Sprintf("soak-%d", run), Sub: fmt.Sprintf("soak-%d-processor", run),
		LedgerCollection: fmt.Sprintf("soak_%d", run), LedgerLease: 2 * time.Second,
		Keys: [][]byte{[]byte("soak-key")}, Warehouse: wh, Actions: tr, Concurrency: 64,
		Getenv: os.Getenv, Logger: soakLogger(t),
		Fault: func(point string) error {
			if faults && chance(0.01) {
				crashes.Add(1)
				return errors.New("injected crash")
			}
			return nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer stack.Close()
	if !strings.HasPrefix(stack.Ledger, "Firestore emulator") {
		t.Fatal("soak must run on the Firestore emulator")
	}

	// Transient faults in the far services, at random moments.
	stopFaults := make(chan struct{})
	var bqFaults, trackFaults atomic.Int64
	go func() {
		for {
			select {
			case <-stopFaults:
				return
			case <-time.After(100 * time.Millisecond):
			}
			switch {
			case !faults:
			case chance(0.1):
				bq.InsertErrorNext(1, "backendError")
				bqFaults.Add(1)
			case chance(0.1):
				status, after := http.StatusServiceUnavailable, ""
				if chance(0.5) {
					status, after = http.StatusTooManyRequests, "0"
				}
				track.FailNext(1, status, after)
				trackFaults.Add(1)
			}
		}
	}()
	stop := sync.OnceFunc(func() { close(stopFaults) })
	defer stop()

	fixtures, _ := fs.Sub(os.DirFS("."), "testdata")
	start := time.Now()
	rep, err := sender.Run(ctx, sender.Options{URL: stack.URL, Key: []byte("soak-key"), N: n, Concurrency: 16,
		DupRate: 0.1, Fixtures: fixtures})
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK() || rep.Requests != n {
		t.Fatalf("sender: %+v", rep)
	}
	unique := rep.Requests - rep.Duplicates

	deadline := time.Now().Add(5 * time.Minute)
	for len(bq.Rows("cioevents.events")) < unique && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	// Every event with a row must also have had its actions; wait for them.
	rows := bq.Rows("cioevents.events")
	wantCalls := 0
	for _, r := range rows {
		ev, err := event.Parse([]byte(r["raw"].(string)))
		if err != nil {
			t.Fatal(err)
		}
		if len(actions.DefaultPolicy().Plan(ev)) > 0 && actions.Person(ev) != "" {
			wantCalls++
		}
	}
	ok := func() int {
		c := 0
		for _, call := range track.Calls() {
			if call.Status == http.StatusOK {
				c++
			}
		}
		return c
	}
	for ok() < wantCalls && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	elapsed := time.Since(start)
	stop()
	time.Sleep(500 * time.Millisecond) // let any stray extra call land before counting

	dupRows := 0
	for _, c := range wh.inserts {
		if c > 1 {
			dupRows += c - 1
		}
	}
	lost := unique - len(rows)
	rate := float64(unique) / elapsed.Seconds()
	createRate := firestoreCreateRate(t, 2000)
	t.Logf("soak: %d requests (%d duplicates), %d events → %d rows, lost %d, duplicated inserts %d, "+
		"Track calls ok %d (want %d); faults: %d crashes, %d BigQuery, %d Track; %.0f events/s end to end; "+
		"Firestore emulator raw create rate %.0f docs/s (16 goroutines)",
		rep.Requests, rep.Duplicates, unique, len(rows), lost, dupRows, ok(), wantCalls,
		crashes.Load(), bqFaults.Load(), trackFaults.Load(), rate, createRate)
	if lost != 0 || dupRows != 0 || len(wh.inserts) != unique {
		t.Fatalf("lost %d, duplicated %d, distinct inserted %d of %d", lost, dupRows, len(wh.inserts), unique)
	}
	if got := ok(); got != wantCalls {
		t.Fatalf("%d successful Track calls, want %d (one per acting event)", got, wantCalls)
	}
	if faults && (crashes.Load() == 0 || bqFaults.Load() == 0 || trackFaults.Load() == 0) {
		t.Fatal("no faults were injected; the soak proved nothing")
	}
}

// firestoreCreateRate measures the emulator's raw create-if-absent rate.
func firestoreCreateRate(t *testing.T, n int) float64 {
	t.Helper()
	ctx := context.Background()
	c, err := firestore.NewClient(ctx, "cioevents-soak")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	coll := c.Collection(fmt.Sprintf("raw_%d", time.Now().UnixNano()))
	var next atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := next.Add(1); i <= int64(n); i = next.Add(1) {
				if _, err := coll.Doc(strconv.FormatInt(i, 10)).Create(ctx, map[string]any{"i": i}); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	return float64(n) / time.Since(start).Seconds()
}

// soakLogger writes the pipeline's log lines to CIOEVENTS_SOAK_LOG when set.
func soakLogger(t *testing.T) *slog.Logger {
	path := os.Getenv("CIOEVENTS_SOAK_LOG")
	if path == "" {
		return slog.New(slog.NewJSONHandler(io.Discard, nil))
	}
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return slog.New(slog.NewJSONHandler(f, nil))
}
