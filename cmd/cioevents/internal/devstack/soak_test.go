package devstack_test

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

	"github.com/cioevents/cioevents/cmd/cioevents/internal/devstack"
	"github.com/cioevents/cioevents/cmd/cioevents/internal/sender"
	"github.com/cioevents/cioevents/internal/testsupport/emulator"
	"github.com/cioevents/cioevents/shared/actions"
	"github.com/cioevents/cioevents/shared/actions/trackfake"
	"github.com/cioevents/cioevents/shared/event"
	"github.com/cioevents/cioevents/shared/warehouse"
	"github.com/cioevents/cioevents/shared/warehouse/bqfake"
)

// countingWriter counts the inserts the pipeline completed per event_id, and
// the ones it gave up on when its step timed out (the fake may still have
// stored those, as BigQuery may).
type countingWriter struct {
	warehouse.Writer
	mu       sync.Mutex
	inserts  map[string]int
	timedOut int
}

func (w *countingWriter) InsertEvent(ctx context.Context, r warehouse.Row) error {
	err := w.Writer.InsertEvent(ctx, r)
	w.mu.Lock()
	defer w.mu.Unlock()
	switch {
	case err == nil:
		w.inserts[r.EventID]++
	case errors.Is(err, context.DeadlineExceeded):
		w.timedOut++
	}
	return err
}

// TestSoak pushes signed events with duplicates through the whole pipeline on
// the emulators while injecting transient faults everywhere (processor
// crashes between steps, BigQuery insert errors, Track API 429/503), and
// checks that nothing is lost, duplicated or repeated. CIOEVENTS_SOAK_EVENTS
// sets the size (CI: 2000; the release check: 10000).
//
// It runs in both ledger modes. Strict mode writes each step at once, so
// every repeat has exactly one explanation — a crash between a side effect
// and its record — and the counts must match exactly. Lean mode (the
// default) writes steps with the finishing write, so a crash anywhere after
// a side effect repeats it, and two deliveries of an event without actions
// at the same moment both insert (same insert ID): repeats are bounded by
// those crashes and the duplicate requests.
// The soak runs on both emulators; the package's other tests do not mind them.
func TestMain(m *testing.M) { emulator.Main(m, emulator.PubSub, emulator.Firestore) }

func TestSoak(t *testing.T) {
	for _, mode := range []string{"strict", "lean"} {
		t.Run(mode, func(t *testing.T) { soak(t, mode == "strict") })
	}
}

func soak(t *testing.T, strict bool) {
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
	// A crash after a side effect and before its record repeats that side
	// effect on redelivery (the window no ledger closes): count them, so that
	// every repeat is accounted for and any other repeat fails the soak.
	var crashes, crashesAfterInsert, crashesAfterCall atomic.Int64
	run := time.Now().UnixNano()
	stack, err := devstack.Start(ctx, devstack.Options{
		Addr: "127.0.0.1:0", DataDir: t.TempDir(), Project: "cioevents-soak",
		Topic: fmt.Sprintf("soak-%d", run), Sub: fmt.Sprintf("soak-%d-processor", run),
		// A crashed delivery keeps its lease until it runs out, as a killed
		// process would; 30 s leaves each step its full 20 s timeout.
		LedgerCollection: fmt.Sprintf("soak_%d", run), LedgerLease: 30 * time.Second,
		Keys: [][]byte{[]byte("soak-key")}, Warehouse: wh, Actions: tr, Concurrency: 64,
		Getenv: soakEnv(strict), Logger: soakLogger(t),
		Fault: func(point string) error {
			if faults && chance(0.01) {
				crashes.Add(1)
				afterCall := strings.HasPrefix(point, "action:") && (!strict || strings.HasSuffix(point, ":sent")) ||
					!strict && point == "done"
				switch {
				case point == "row:sent", !strict && (point == "row" || afterCall):
					crashesAfterInsert.Add(1)
				}
				if afterCall {
					crashesAfterCall.Add(1)
				}
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

	fixtures, _ := fs.Sub(os.DirFS("../../../.."), "testdata")
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

	deadline := time.Now().Add(10 * time.Minute)
	for len(byEventID(bq.Rows("cioevents.events"))) < unique && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	// Every event with a row must also have had its actions; wait for them.
	stored := bq.Rows("cioevents.events")
	rows := byEventID(stored)
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
	acting := wantCalls
	if strict {
		wantCalls += int(crashesAfterCall.Load())
	}
	// A delivery that crashed after its insert repeats it once its lease has
	// run out, after its row is already there: wait for those too (strict;
	// lean waits for the acting events' calls and then for the backlog).
	repeated := func() int64 {
		wh.mu.Lock()
		defer wh.mu.Unlock()
		n := 0
		for _, c := range wh.inserts {
			n += c - 1
		}
		return int64(n)
	}
	for (ok() < wantCalls || strict && repeated() < crashesAfterInsert.Load()) && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	if !strict {
		// Crashed deliveries come back when their lease runs out; wait
		// until nothing more arrives for longer than a lease.
		for last, lastChange := repeated()+int64(ok()), time.Now(); time.Since(lastChange) < 35*time.Second && time.Now().Before(deadline); {
			time.Sleep(time.Second)
			if now := repeated() + int64(ok()); now != last {
				last, lastChange = now, time.Now()
			}
		}
	}
	elapsed := time.Since(start)
	stop()
	time.Sleep(500 * time.Millisecond) // let any stray extra call land before counting

	dupRows := int(repeated())
	lost := unique - len(rows)
	rate := float64(unique) / elapsed.Seconds()
	createRate := firestoreCreateRate(t, 2000)
	t.Logf("soak: %d requests (%d duplicates), %d events → %d rows (%d stored), lost %d, repeated inserts %d "+
		"(%d crashes after an insert, %d timed-out inserts), Track calls ok %d (want %d, %d crashes after a call); "+
		"faults: %d crashes, %d BigQuery, %d Track; %.0f events/s end to end; "+
		"Firestore emulator raw create rate %.0f docs/s (16 goroutines)",
		rep.Requests, rep.Duplicates, unique, len(rows), len(stored), lost, dupRows, crashesAfterInsert.Load(), wh.timedOut,
		ok(), wantCalls, crashesAfterCall.Load(), crashes.Load(), bqFaults.Load(), trackFaults.Load(), rate, createRate)
	if lost != 0 || len(wh.inserts) != unique {
		t.Fatalf("lost %d, distinct inserted %d of %d", lost, len(wh.inserts), unique)
	}
	if strict && int64(dupRows) != crashesAfterInsert.Load() {
		t.Fatalf("%d repeated inserts, want exactly the %d crashes between an insert and its record", dupRows, crashesAfterInsert.Load())
	}
	if bound := crashesAfterInsert.Load() + int64(rep.Duplicates); !strict && int64(dupRows) > bound {
		t.Fatalf("%d repeated inserts, more than the %d crashes after an insert and %d duplicate requests",
			dupRows, crashesAfterInsert.Load(), rep.Duplicates)
	}
	if extra := len(stored) - len(rows); extra > dupRows+wh.timedOut {
		t.Fatalf("%d extra stored rows, more than the %d repeated and %d abandoned inserts", extra, dupRows, wh.timedOut)
	}
	if got := ok(); strict && got != wantCalls {
		t.Fatalf("%d successful Track calls, want %d (one per acting event)", got, wantCalls)
	}
	if got := ok(); !strict && (got < acting || got > acting+int(crashesAfterCall.Load())) {
		t.Fatalf("%d successful Track calls, want %d (one per acting event) plus at most the %d crashes after a call",
			got, acting, crashesAfterCall.Load())
	}
	if faults && (crashes.Load() == 0 || bqFaults.Load() == 0 || trackFaults.Load() == 0) {
		t.Fatal("no faults were injected; the soak proved nothing")
	}
}

// soakEnv is the environment with a ledger timeout a loaded machine's fresh
// emulator cannot run into (the soak counts outcomes, not deadlines), in
// the ledger mode under test.
func soakEnv(strict bool) func(string) string {
	return func(k string) string {
		switch k {
		case "LEDGER_TIMEOUT":
			return "30s"
		case "LEDGER_LEASE": // validated; the soak's own shorter lease overrides it
			return "1m"
		case "LEDGER_MODE":
			if strict {
				return "strict"
			}
			return "lean"
		}
		return os.Getenv(k)
	}
}

// byEventID keeps one stored row per event_id, as events_deduped does.
func byEventID(rows []map[string]any) map[string]map[string]any {
	out := make(map[string]map[string]any, len(rows))
	for _, r := range rows {
		out[r["event_id"].(string)] = r
	}
	return out
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
