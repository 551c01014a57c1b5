package pipeline

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"cloud.google.com/go/bigquery"
	"cloud.google.com/go/firestore"
	bolt "go.etcd.io/bbolt"
	"google.golang.org/api/option"

	"github.com/cioevents/cioevents/internal/testsupport/emulator"
	"github.com/cioevents/cioevents/shared/actions"
	"github.com/cioevents/cioevents/shared/actions/trackfake"
	"github.com/cioevents/cioevents/shared/event"
	"github.com/cioevents/cioevents/shared/ledger"
	"github.com/cioevents/cioevents/shared/warehouse"
	"github.com/cioevents/cioevents/shared/warehouse/bqfake"
	"github.com/cioevents/cioevents/shared/webhook"
)

func TestMain(m *testing.M) { emulator.Main(m, emulator.Firestore) }

const (
	project     = "cioevents-pipeline-test"
	eventsTable = "cioevents.events"
	rejTable    = "cioevents.rejected_events"
)

var collSeq atomic.Int64

// runStart tells this test process's collections from an earlier one's.
var runStart = time.Now().UnixNano()

// rig is a processor wired to real parts: a ledger (Firestore emulator or
// memory), BigQuery through the official client against bqfake, and the
// Track client against trackfake.
type rig struct {
	p     *Processor
	bq    *bqfake.Server
	track *trackfake.Server
	fault sync.Map // point → remaining failures (*atomic.Int64)
	// clock is the ledger's (Firestore's, shifted): advancing it lets a
	// crashed holder's lease run out without a test waiting for it.
	clock *testClock
	kind  ledgerKind
}

// testLease is long enough that no lease runs out on its own during a test
// on a loaded machine; tests end leases by advancing the clock.
const testLease = 2 * time.Minute

type testClock struct {
	mu    sync.Mutex
	shift time.Duration
}

func (c *testClock) Now() time.Time { return time.Now().Add(c.Shift()) }
func (c *testClock) Shift() time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.shift
}
func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.shift += d
}

// expireLeases lets every lease granted so far run out.
func (r *rig) expireLeases() { r.clock.Advance(testLease + time.Second) }

type ledgerKind string

const (
	firestoreLedger ledgerKind = "firestore"
	memoryLedger    ledgerKind = "memory"
	boltLedger      ledgerKind = "bbolt"
)

func newLedger(t testing.TB, kind ledgerKind, lease time.Duration, clock *testClock) ledger.Ledger {
	t.Helper()
	if kind == memoryLedger {
		m := ledger.NewMemory(lease)
		m.Now = clock.Now
		return m
	}
	if kind == boltLedger {
		db, err := bolt.Open(filepath.Join(t.TempDir(), "ledger.db"), 0o600, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		b, err := ledger.NewBolt(db, lease)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { b.Close() })
		b.Now = clock.Now
		return b
	}
	ctx := context.Background()
	client, err := firestore.NewClient(ctx, project)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	// The run's start in the name: the emulator outlives a test process,
	// and a collection an earlier run filled would dedupe this run's events.
	coll := fmt.Sprintf("ledger_%s_%d_%d", filepath.Base(t.Name()), runStart, collSeq.Add(1))
	f := ledger.NewFirestore(client, coll, lease)
	f.Now = clock.Now
	f.SetClockShiftForTest(clock.Shift)
	return f
}

func newRig(t testing.TB, kind ledgerKind) *rig {
	t.Helper()
	ctx := context.Background()
	r := &rig{
		bq: bqfake.New(map[string]bigquery.Schema{
			eventsTable: warehouse.EventsSchema(),
			rejTable:    warehouse.RejectedSchema(),
		}),
		track: trackfake.New("site", "key"),
		clock: &testClock{},
		kind:  kind,
	}
	t.Cleanup(r.bq.Close)
	t.Cleanup(r.track.Close)
	wh, err := warehouse.NewBigQuery(ctx, "proj", "cioevents", "events", "rejected_events",
		option.WithEndpoint(r.bq.URL()+"/bigquery/v2/"), option.WithoutAuthentication())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { wh.Close() })
	tr, err := actions.NewTrack(actions.TrackConfig{SiteID: "site", APIKey: "key", BaseURL: r.track.URL(),
		HTTPClient: r.track.Client(), RateLimit: 1000, Burst: 100})
	if err != nil {
		t.Fatal(err)
	}
	r.p = &Processor{
		Ledger: newLedger(t, kind, testLease, r.clock),
		Now:    r.clock.Now,
		// A fresh emulator takes seconds over its first writes, more on a
		// loaded machine; the production default (10 s) is not what is
		// under test here, and a Create that times out after committing
		// leaves the event busy for a whole lease.
		LedgerTimeout: 30 * time.Second,
		Warehouse:     wh,
		Actions:       tr,
		Policy:        actions.DefaultPolicy(),
		TTL:           14 * 24 * time.Hour,
		Logger:        slog.New(slog.NewJSONHandler(io.Discard, nil)),
		Fault: func(point string) error {
			if n, ok := r.fault.Load(point); ok && n.(*atomic.Int64).Add(-1) >= 0 {
				return errors.New("injected crash at " + point)
			}
			return nil
		},
	}
	return r
}

func (r *rig) crashOnceAt(point string) {
	n := new(atomic.Int64)
	n.Store(1)
	r.fault.Store(point, n)
}

func fixture(t testing.TB, path string) Message {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("../../testdata", path))
	if err != nil {
		t.Fatal(err)
	}
	return message(path, b)
}

// message wraps a body the way the receiver publishes it.
func message(id string, b []byte) Message {
	attrs := map[string]string{
		webhook.AttrReceivedAt: time.Now().UTC().Format(time.RFC3339Nano),
		webhook.AttrSignedAt:   strconv.FormatInt(time.Now().Unix(), 10),
		webhook.AttrKeyIndex:   "0",
	}
	ev, err := event.Parse(b)
	switch {
	case errors.Is(err, event.ErrInvalidJSON):
		attrs[webhook.AttrInvalid] = webhook.InvalidJSON
	case errors.Is(err, event.ErrNotObject):
		attrs[webhook.AttrInvalid] = webhook.InvalidNotObject
	case errors.Is(err, event.ErrNoEventID):
		attrs[webhook.AttrInvalid] = webhook.InvalidNoEventID
	}
	if ev.EventID != "" {
		attrs[webhook.AttrEventID] = ev.EventID
	}
	return Message{ID: id, Data: b, Attributes: attrs, PublishTime: time.Now()}
}

func ledgers() []ledgerKind { return []ledgerKind{firestoreLedger, memoryLedger} }

// deliver processes m until it is acked, as Pub/Sub redelivery would,
// failing the test after too many attempts.
func deliver(t *testing.T, p *Processor, m Message) Result {
	t.Helper()
	var err error
	for i := 0; i < 10; i++ {
		var res Result
		res, err = p.Process(context.Background(), m)
		if err == nil {
			return res
		}
		var re *RetryError
		if !errors.As(err, &re) {
			t.Fatalf("non-retry error %v", err)
		}
		t.Logf("delivery %d of %s: %v", i+1, m.ID, err)
	}
	t.Fatalf("message %s not acked after 10 deliveries; last error: %v", m.ID, err)
	return Result{}
}

func TestEveryFixture(t *testing.T) {
	for _, kind := range ledgers() {
		t.Run(string(kind), func(t *testing.T) {
			r := newRig(t, kind)
			var good, bad []string
			for _, dir := range []string{"events", "odd"} {
				m, _ := filepath.Glob(filepath.Join("../../testdata", dir, "*.json"))
				for _, f := range m {
					good = append(good, filepath.Join(dir, filepath.Base(f)))
				}
			}
			m, _ := filepath.Glob("../../testdata/malformed/*")
			for _, f := range m {
				bad = append(bad, filepath.Join("malformed", filepath.Base(f)))
			}
			if len(good) < 80 || len(bad) < 5 {
				t.Fatalf("fixtures missing: %d good, %d malformed", len(good), len(bad))
			}
			for round := 0; round < 2; round++ { // the second round is all duplicates
				for _, f := range append(append([]string{}, good...), bad...) {
					res := deliver(t, r.p, fixture(t, f))
					want := OutcomeInserted
					if round == 1 {
						want = OutcomeDuplicate
					} else if filepath.Dir(f) == "malformed" {
						want = OutcomeRejected
					}
					if res.Outcome != want {
						t.Errorf("%s round %d: outcome %q, want %q", f, round, res.Outcome, want)
					}
				}
			}
			rows := r.bq.Rows(eventsTable)
			if len(rows) != len(good) {
				t.Fatalf("%d rows for %d events", len(rows), len(good))
			}
			if n := len(r.bq.Rows(rejTable)); n != len(bad) {
				t.Fatalf("%d rejected rows for %d malformed bodies", n, len(bad))
			}
			byID := map[string]map[string]any{}
			for _, row := range rows {
				byID[row["event_id"].(string)] = row
			}
			for _, f := range good {
				ev, _ := event.Parse(fixture(t, f).Data)
				row := byID[ev.EventID]
				if row == nil {
					t.Fatalf("%s: no row", f)
				}
				checkColumns(t, f, ev, row)
			}
			// The default policy acts on bounced, spammed, opened and clicked
			// email events only, once each, always with _update.
			calls := r.track.Calls()
			acting := 0
			for _, f := range good {
				ev, _ := event.Parse(fixture(t, f).Data)
				if len(actions.DefaultPolicy().Plan(ev)) > 0 && actions.Person(ev) != "" {
					acting++
				}
			}
			if len(calls) != acting || acting < 4 {
				t.Fatalf("%d Track calls, want %d", len(calls), acting)
			}
			for _, c := range calls {
				body, _ := c.Body.(map[string]any)
				if c.Method != "PUT" || body["_update"] != true {
					t.Fatalf("call %s %s body %v", c.Method, c.Path, body)
				}
			}
		})
	}
}

func checkColumns(t *testing.T, name string, ev *event.Event, row map[string]any) {
	t.Helper()
	str := func(col string, v event.String) {
		got, present := row[col]
		if v.Valid && (!present || got != v.Value) {
			t.Errorf("%s: %s = %v, want %q", name, col, got, v.Value)
		}
	}
	num := func(col string, v event.Int) {
		got, present := row[col]
		if v.Valid && (!present || fmt.Sprint(got) != strconv.FormatInt(v.Value, 10)) {
			t.Errorf("%s: %s = %v, want %d", name, col, got, v.Value)
		}
	}
	if row["object_type"] != ev.ObjectType || row["metric"] != ev.Metric {
		t.Errorf("%s: object_type/metric = %v/%v", name, row["object_type"], row["metric"])
	}
	str("delivery_id", ev.Data.DeliveryID)
	str("recipient", ev.Data.Recipient)
	str("subject", ev.Data.Subject)
	str("href", ev.Data.Href)
	str("failure_message", ev.Data.FailureMessage)
	str("journey_id", ev.Data.JourneyID)
	str("cio_id", ev.Data.Identifiers.CioID)
	str("person_id", ev.Data.Identifiers.ID)
	num("campaign_id", ev.Data.CampaignID)
	num("action_id", ev.Data.ActionID)
	num("link_id", ev.Data.LinkID)
	num("newsletter_id", ev.Data.NewsletterID)
	if raw, ok := row["raw"].(string); !ok || raw == "" {
		t.Errorf("%s: raw = %v", name, row["raw"])
	}
}

// A delivery that dies between any two steps — including between a side
// effect and its record — is redelivered once its lease has run out. The
// ledger makes it one row and one Track call wherever a step was recorded;
// where the process died after the call but before the record, the call is
// made again: a second insert request with the same insert ID (BigQuery
// drops it inside its dedupe window, events_deduped after it) or a second,
// identical attribute update. The fake counts requests, not rows, so both
// show here.
//
// By default (lean) steps are written with the finishing write, so a crash
// anywhere after a side effect repeats it; RecordEachStep (strict) writes
// each step at once and repeats only the call whose record was lost.
func TestCrashBetweenSteps(t *testing.T) {
	points := []struct {
		point          string
		inserts, calls int // strict
		leanInserts    int
		leanCalls      int
	}{
		{"claimed", 1, 1, 1, 1},
		{StepRow + ":sent", 2, 1, 2, 1},
		{StepRow, 1, 1, 2, 1},
		{"action:0:identify:sent", 1, 2, 2, 2},
		{"action:0:identify", 1, 1, 2, 2},
		{"done", 1, 1, 2, 2},
	}
	for _, kind := range ledgers() {
		for _, tc := range points {
			for _, strict := range []bool{true, false} {
				if !strict {
					tc.inserts, tc.calls = tc.leanInserts, tc.leanCalls
				}
				t.Run(string(kind)+"/"+mode(strict)+"/"+tc.point, func(t *testing.T) {
					r := newRig(t, kind)
					r.p.RecordEachStep = strict
					r.crashOnceAt(tc.point)
					m := fixture(t, "events/email.bounced.json")
					if _, err := r.p.Process(context.Background(), m); err == nil {
						t.Fatal("the injected crash did not surface")
					}
					// A crash releases nothing: the event is busy until the lease ends.
					if _, err := r.p.Process(context.Background(), m); !errors.Is(err, ledger.ErrBusy) {
						t.Fatalf("redelivery inside the crashed lease: %v, want busy", err)
					}
					r.expireLeases()
					res := deliver(t, r.p, m)
					if res.Outcome != OutcomeInserted || res.Attempt != 2 {
						t.Fatalf("redelivery: %+v", res)
					}
					r.checkAfterCrash(t, m, tc.inserts, tc.calls)
				})
			}
		}
	}
}

// checkAfterCrash delivers m once more — a duplicate now — and counts what
// reached the fakes: insert requests and Track calls, one event stored.
func (r *rig) checkAfterCrash(t *testing.T, m Message, inserts, calls int) {
	t.Helper()
	if res := deliver(t, r.p, m); res.Outcome != OutcomeDuplicate {
		t.Fatalf("third delivery: %+v", res)
	}
	if n := r.bq.Requests(eventsTable); n != inserts {
		t.Fatalf("%d insert requests, want %d", n, inserts)
	}
	if n := distinct(r.bq.Rows(eventsTable), "event_id"); n != 1 {
		t.Fatalf("%d distinct events stored", n)
	}
	if n := len(r.track.Calls()); n != calls {
		t.Fatalf("%d Track calls, want %d", n, calls)
	}
}

func mode(strict bool) string {
	if strict {
		return "strict"
	}
	return "lean"
}

// An event with nothing to do but its row is not claimed: a crash leaves no
// lease, so the redelivery goes ahead at once and inserts again wherever the
// crash was after the insert (same insert ID). Once stored as done, every
// delivery is a duplicate that inserts nothing.
func TestCrashWithoutClaim(t *testing.T) {
	points := []struct {
		point   string
		inserts int
	}{
		{"claimed", 1},
		{StepRow + ":sent", 2},
		{StepRow, 2},
		{"done", 2},
	}
	for _, kind := range ledgers() {
		for _, tc := range points {
			t.Run(string(kind)+"/"+tc.point, func(t *testing.T) {
				r := newRig(t, kind)
				r.crashOnceAt(tc.point)
				m := fixture(t, "events/email.delivered.json")
				if _, err := r.p.Process(context.Background(), m); err == nil {
					t.Fatal("the injected crash did not surface")
				}
				if res := deliver(t, r.p, m); res.Outcome != OutcomeInserted {
					t.Fatalf("redelivery: %+v", res)
				}
				r.checkAfterCrash(t, m, tc.inserts, 0)
			})
		}
	}
}

// waitFor polls cond for up to a minute: long enough for any loaded machine,
// and no result depends on how long it took.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(time.Minute); !cond(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

func distinct(rows []map[string]any, col string) int {
	seen := map[any]bool{}
	for _, r := range rows {
		seen[r[col]] = true
	}
	return len(seen)
}

// A holder that is slow rather than dead — its lease ran out while it was
// between steps and another delivery finished the event — makes no further
// side effect: it renews the lease before its next call, finds it taken, and
// stops. Before, it went on and called Track a second time.
func TestSlowHolderStopsBeforeItsNextSideEffect(t *testing.T) {
	for _, kind := range ledgers() {
		for _, strict := range []bool{true, false} {
			t.Run(string(kind)+"/"+mode(strict), func(t *testing.T) {
				r := newRig(t, kind)
				r.p.RecordEachStep = strict
				m := fixture(t, "events/email.bounced.json")
				var other Result
				var otherErr error
				first := true
				r.p.Fault = func(point string) error {
					if point == StepRow && first {
						first = false
						// The holder stalls here past its lease; a redelivery takes over.
						r.expireLeases()
						other, otherErr = r.p.Process(context.Background(), m)
					}
					return nil
				}
				_, err := r.p.Process(context.Background(), m)
				if !errors.Is(err, ledger.ErrLeaseLost) {
					t.Fatalf("slow holder: err = %v, want lease lost", err)
				}
				if otherErr != nil || other.Outcome != OutcomeInserted || other.Attempt != 2 {
					t.Fatalf("redelivery: %+v, %v", other, otherErr)
				}
				// The slow holder's row was inserted and not yet written down
				// (lean), so the redelivery inserted it again; strict mode, which
				// records each step, inserts once.
				wantInserts := 2
				if strict {
					wantInserts = 1
				}
				if n := r.bq.Requests(eventsTable); n != wantInserts {
					t.Fatalf("%d insert requests, want %d", n, wantInserts)
				}
				if n := len(r.track.Calls()); n != 1 {
					t.Fatalf("%d Track calls, want 1", n)
				}
			})
		}
	}
}

// A dependency slower than the step timeout: the call is abandoned before
// the lease could end, the lease is released, and the redelivery makes the
// call again. The two calls never overlap, and while the first runs every
// other delivery finds the event busy.
func TestSlowDependency(t *testing.T) {
	for _, dep := range []string{"bigquery", "track"} {
		for _, kind := range ledgers() {
			t.Run(dep+"/"+string(kind), func(t *testing.T) {
				r := newRig(t, kind)
				r.p.StepTimeout = 2 * time.Second
				entered := make(chan struct{})
				var once sync.Once
				hold := func(ctx context.Context) {
					held := false
					once.Do(func() { held = true })
					if held {
						close(entered)
						<-ctx.Done() // slower than any timeout
					}
				}
				if dep == "bigquery" {
					r.bq.Hold = hold
				} else {
					r.track.Hold = hold
				}
				m := fixture(t, "events/email.bounced.json")
				done := make(chan error, 1)
				go func() { _, err := r.p.Process(context.Background(), m); done <- err }()
				<-entered
				for range 3 {
					if _, err := r.p.Process(context.Background(), m); !errors.Is(err, ledger.ErrBusy) {
						t.Fatalf("delivery while the first is in its call: %v, want busy", err)
					}
				}
				var re *RetryError
				if err := <-done; !errors.As(err, &re) {
					t.Fatalf("slow delivery: %v, want a retry", err)
				}
				// Released, but only after the margin: the abandoned call may
				// still be running at the far side.
				if _, err := r.p.Process(context.Background(), m); !errors.Is(err, ledger.ErrBusy) {
					t.Fatalf("delivery right after the abandoned call: %v, want busy for the margin", err)
				}
				waitFor(t, "the abandoned call to end at the fake", func() bool {
					if dep == "bigquery" {
						return r.bq.Requests(eventsTable) >= 1
					}
					return len(r.track.Calls()) >= 1
				})
				r.clock.Advance(DefaultLeaseMargin)
				if res := deliver(t, r.p, m); res.Outcome != OutcomeInserted || res.Attempt != 2 {
					t.Fatalf("redelivery: %+v", res)
				}
				wantInserts, wantCalls := 1, 1
				if dep == "bigquery" {
					wantInserts = 2
				} else {
					wantCalls = 2
				}
				if n := r.bq.Requests(eventsTable); n != wantInserts {
					t.Errorf("%d insert requests, want %d", n, wantInserts)
				}
				if n := len(r.bq.Rows(eventsTable)); n != 1 {
					t.Errorf("%d rows, want 1", n)
				}
				if n := len(r.track.Calls()); n != wantCalls {
					t.Errorf("%d Track calls, want %d", n, wantCalls)
				}
				if n := r.track.MaxInFlight(); n > 1 {
					t.Errorf("%d Track calls at once", n)
				}
			})
		}
	}
}

// A step is bounded by what is left of the lease less the margin; a lease
// that leaves nothing refuses every side effect rather than letting one
// outlive it. (Configuration refuses such a lease before it gets here.)
func TestLeaseShorterThanAStep(t *testing.T) {
	r := newRig(t, memoryLedger)
	r.p.Ledger = newLedger(t, memoryLedger, DefaultLeaseMargin, r.clock)
	_, err := r.p.Process(context.Background(), fixture(t, "events/email.bounced.json"))
	if !errors.Is(err, errLeaseShort) {
		t.Fatalf("err = %v, want the lease-too-short error", err)
	}
	if r.bq.Requests(eventsTable) != 0 || len(r.track.Calls()) != 0 {
		t.Fatal("a side effect ran under a lease shorter than its timeout")
	}
}

func TestConcurrentDeliveries(t *testing.T) {
	for _, kind := range ledgers() {
		for _, strict := range []bool{true, false} {
			t.Run(string(kind)+"/"+mode(strict), func(t *testing.T) {
				r := newRig(t, kind)
				r.p.RecordEachStep = strict
				m := fixture(t, "events/email.clicked.json")
				const n = 8
				var wg sync.WaitGroup
				var acked, busy atomic.Int64
				for range n {
					wg.Add(1)
					go func() {
						defer wg.Done()
						_, err := r.p.Process(context.Background(), m)
						switch {
						case err == nil:
							acked.Add(1)
						case errors.Is(err, ledger.ErrBusy):
							busy.Add(1)
						default:
							t.Errorf("unexpected error: %v", err)
						}
					}()
				}
				wg.Wait()
				if acked.Load()+busy.Load() != n || acked.Load() < 1 {
					t.Fatalf("acked %d, busy %d", acked.Load(), busy.Load())
				}
				// Redeliveries of the busy ones find the event done.
				for range busy.Load() {
					if res := deliver(t, r.p, m); res.Outcome != OutcomeDuplicate {
						t.Fatalf("redelivery: %+v", res)
					}
				}
				if rows, calls := len(r.bq.Rows(eventsTable)), len(r.track.Calls()); rows != 1 || calls != 1 {
					t.Fatalf("%d rows, %d Track calls; want 1 and 1", rows, calls)
				}
			})
		}
	}
}

// Deliveries of an unclaimed event at the same moment all find no record
// and all insert, with one insert ID: BigQuery keeps one row (modelled by
// the fake's dedupe window) and events_deduped collapses any that slip
// through. Every delivery is acked; later ones insert nothing.
func TestConcurrentDeliveriesWithoutClaim(t *testing.T) {
	for _, kind := range ledgers() {
		t.Run(string(kind), func(t *testing.T) {
			r := newRig(t, kind)
			r.bq.DedupeWindow = time.Minute
			m := fixture(t, "events/email.delivered.json")
			const n = 8
			var wg sync.WaitGroup
			var inserted atomic.Int64
			for range n {
				wg.Go(func() {
					res, err := r.p.Process(context.Background(), m)
					switch {
					case err != nil:
						t.Errorf("delivery: %v", err)
					case res.Outcome == OutcomeInserted:
						inserted.Add(1)
					case res.Outcome != OutcomeDuplicate:
						t.Errorf("outcome %q", res.Outcome)
					}
				})
			}
			wg.Wait()
			requests := r.bq.Requests(eventsTable)
			if inserted.Load() != 1 || requests < 1 || requests > n {
				t.Fatalf("%d deliveries stored the event, %d insert requests", inserted.Load(), requests)
			}
			if res := deliver(t, r.p, m); res.Outcome != OutcomeDuplicate {
				t.Fatalf("later delivery: %+v", res)
			}
			if got := r.bq.Requests(eventsTable); got != requests {
				t.Fatalf("a later delivery inserted again (%d requests, was %d)", got, requests)
			}
			if ids := r.bq.InsertIDs(eventsTable); len(r.bq.Rows(eventsTable)) != 1 || distinctStrings(ids) != 1 {
				t.Fatalf("%d rows, insert IDs %v", len(r.bq.Rows(eventsTable)), ids)
			}
		})
	}
}

func distinctStrings(s []string) int {
	seen := map[string]bool{}
	for _, v := range s {
		seen[v] = true
	}
	return len(seen)
}

func TestFailures(t *testing.T) {
	tests := []struct {
		name    string
		fixture string
		setup   func(r *rig)
		// first delivery
		wantRetry      bool
		wantRetryAfter time.Duration
		// after redelivery until acked
		wantOutcome  string
		wantRows     int
		wantRejected int
		wantCalls    int // requests the Track fake saw, failed ones included
	}{
		{"BigQuery 503 retried by the client", "events/email.delivered.json",
			func(r *rig) { r.bq.FailNext(1, 503) }, false, 0, OutcomeInserted, 1, 0, 0},
		{"BigQuery 404 is retryable, not dropped", "events/email.delivered.json",
			func(r *rig) { r.bq.FailNext(1, 404) }, true, 0, OutcomeInserted, 1, 0, 0},
		{"BigQuery insertErrors backendError", "events/email.delivered.json",
			func(r *rig) { r.bq.InsertErrorNext(1, "backendError") }, true, 0, OutcomeInserted, 1, 0, 0},
		{"BigQuery insertErrors invalid quarantines", "events/email.delivered.json",
			func(r *rig) { r.bq.InsertErrorNext(1, "invalid") }, false, 0, OutcomeRejected, 0, 1, 0},
		{"Track 429 with Retry-After", "events/email.bounced.json",
			func(r *rig) { r.track.FailNext(1, 429, "2") }, true, 2 * time.Second, OutcomeInserted, 1, 0, 2},
		{"Track 503", "events/email.spammed.json",
			func(r *rig) { r.track.FailNext(1, 503, "") }, true, 0, OutcomeInserted, 1, 0, 2},
		{"Track 400 is permanent", "events/email.opened.json",
			func(r *rig) { r.track.FailNext(1, 400, "") }, false, 0, OutcomeInserted + ":action_failed", 1, 0, 1},
		{"Track 401 (key revoked) is retried, not dropped", "events/email.bounced.json",
			func(r *rig) { r.track.FailNext(1, 401, "") }, true, 0, OutcomeInserted, 1, 0, 2},
		{"Track 403 is retried, not dropped", "events/email.spammed.json",
			func(r *rig) { r.track.FailNext(1, 403, "") }, true, 0, OutcomeInserted, 1, 0, 2},
		{"BigQuery no such field (schema change propagating) is retried", "events/email.delivered.json",
			func(r *rig) { r.bq.InsertErrorMessageNext(1, "invalid", "no such field: source.") }, true, 0, OutcomeInserted, 1, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRig(t, memoryLedger)
			tt.setup(r)
			m := fixture(t, tt.fixture)
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			res, err := r.p.Process(ctx, m)
			var re *RetryError
			if got := errors.As(err, &re); got != tt.wantRetry {
				t.Fatalf("first delivery: err = %v, want retry %v", err, tt.wantRetry)
			}
			if tt.wantRetry && re.RetryAfter != tt.wantRetryAfter {
				t.Fatalf("RetryAfter = %s, want %s", re.RetryAfter, tt.wantRetryAfter)
			}
			if !tt.wantRetry {
				if res.Outcome != tt.wantOutcome {
					t.Fatalf("outcome %q, want %q", res.Outcome, tt.wantOutcome)
				}
			} else if res := deliver(t, r.p, m); res.Outcome != tt.wantOutcome {
				t.Fatalf("redelivery outcome %q, want %q", res.Outcome, tt.wantOutcome)
			}
			if res := deliver(t, r.p, m); res.Outcome != OutcomeDuplicate {
				t.Fatalf("later delivery: %+v", res)
			}
			if got := len(r.bq.Rows(eventsTable)); got != tt.wantRows {
				t.Errorf("rows = %d, want %d", got, tt.wantRows)
			}
			if got := len(r.bq.Rows(rejTable)); got != tt.wantRejected {
				t.Errorf("rejected rows = %d, want %d", got, tt.wantRejected)
			}
			if got := len(r.track.Calls()); got != tt.wantCalls {
				t.Errorf("Track requests = %d, want %d", got, tt.wantCalls)
			}
		})
	}
}

func TestFirestoreUnavailable(t *testing.T) {
	ctx := context.Background()
	// Nothing listens on port 1: every RPC fails. The client prefers the
	// emulator variable to any endpoint option, so point that at it.
	t.Setenv("FIRESTORE_EMULATOR_HOST", "127.0.0.1:1")
	client, err := firestore.NewClient(ctx, project)
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	r := newRig(t, memoryLedger)
	r.p.Ledger = ledger.NewFirestore(client, "unreachable", time.Minute)
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	_, err = r.p.Process(ctx, fixture(t, "events/email.bounced.json"))
	var re *RetryError
	if !errors.As(err, &re) || re.Step != "claim" {
		t.Fatalf("err = %v, want a retry at claim", err)
	}
	if len(r.bq.Rows(eventsTable)) != 0 || len(r.track.Calls()) != 0 {
		t.Fatal("side effects happened without a claim")
	}
}

func TestNoPersonIsRecordedNotCalled(t *testing.T) {
	r := newRig(t, memoryLedger)
	body := []byte(`{"event_id":"01NOPERSON0000000000000001","object_type":"email","metric":"bounced","timestamp":1767225600,` +
		`"data":{"identifiers":{"id":null},"recipient":"x","subject":"s","failure_message":"550","delivery_id":"d"}}`)
	res := deliver(t, r.p, message("np", body))
	if res.Outcome == "" || len(r.track.Calls()) != 0 || len(r.bq.Rows(eventsTable)) != 1 {
		t.Fatalf("outcome %q, %d calls, %d rows", res.Outcome, len(r.track.Calls()), len(r.bq.Rows(eventsTable)))
	}
}

// BigQuery that keeps answering 503 must not hold a delivery for longer than
// the step timeout: the delivery fails and Pub/Sub redelivers later.
func TestStepTimeoutBoundsClientRetries(t *testing.T) {
	r := newRig(t, memoryLedger)
	r.p.StepTimeout = 1500 * time.Millisecond
	r.bq.FailNext(1000, 503)
	_, err := r.p.Process(context.Background(), fixture(t, "events/email.delivered.json"))
	var re *RetryError
	if !errors.As(err, &re) || re.Step != StepRow {
		t.Fatalf("err = %v, want a retry at the row step", err)
	}
	if n := r.bq.Requests(eventsTable); n < 2 {
		t.Fatalf("%d insert requests: the client's own retry did not run", n)
	}
}

// Edge inputs end in the same defined place on both ledgers — never in a
// retry loop: production limits the emulator and the memory ledger do not
// enforce are enforced before anything is written.
func TestEdgeInputs(t *testing.T) {
	html := strings.Repeat("<p>&nbsp;</p>", 6<<20/13) // ~6 MB that JSON-escapes to well over 10 MB
	bigHTML, _ := json.Marshal(map[string]any{"event_id": "01EDGEHTML00000000000000AA", "object_type": "email", "metric": "sent",
		"timestamp": 1767225600, "data": map[string]any{"content": html, "identifiers": map[string]any{"id": "u1"}}})
	cases := []struct {
		name        string
		body        []byte
		attrs       map[string]string
		wantOutcome string
		wantReason  string
		check       func(t *testing.T, r *rig)
	}{
		{"timestamp in milliseconds", []byte(`{"event_id":"01EDGEMS000000000000000000","object_type":"email","metric":"sent","timestamp":1767225600000,"data":{}}`),
			nil, OutcomeRejected, "row_invalid", nil},
		{"2000-byte event_id", []byte(`{"event_id":"` + strings.Repeat("e", 2000) + `","object_type":"email","metric":"sent","timestamp":1767225600,"data":{}}`),
			nil, OutcomeInserted, "", func(t *testing.T, r *rig) {
				if rows := r.bq.Rows(eventsTable); len(rows) != 1 || len(rows[0]["event_id"].(string)) != 2000 {
					t.Fatalf("rows %d", len(rows))
				}
			}},
		{"invalid UTF-8 event_id", []byte("{\"event_id\":\"bad\xff\xfeid\",\"object_type\":\"email\",\"metric\":\"sent\",\"timestamp\":1767225600,\"data\":{}}"),
			nil, OutcomeInserted, "", nil},
		{"6 MB of HTML", bigHTML, nil, OutcomeInserted, "", func(t *testing.T, r *rig) {
			rows := r.bq.Rows(eventsTable)
			if len(rows) != 1 || !strings.Contains(rows[0]["raw"].(string), warehouse.RawOmittedKey) || rows[0]["person_id"] != "u1" {
				t.Fatalf("%d rows; want the typed row with raw replaced by the omitted marker", len(rows))
			}
		}},
		{"huge body that is not an object", append([]byte(`"`), append([]byte(html), '"')...),
			map[string]string{webhook.AttrInvalid: webhook.InvalidNotObject}, OutcomeRejected, webhook.InvalidNotObject, func(t *testing.T, r *rig) {
				rej := r.bq.Rows(rejTable)
				if len(rej) != 1 || len(rej[0]["body"].(string)) > 64<<10 || !strings.Contains(rej[0]["reason"].(string), "truncated") {
					t.Fatalf("rejected rows %d; want one with a cut body", len(rej))
				}
			}},
	}
	for _, kind := range ledgers() {
		for _, tc := range cases {
			t.Run(string(kind)+"/"+tc.name, func(t *testing.T) {
				r := newRig(t, kind)
				m := message("edge", tc.body)
				for k, v := range tc.attrs {
					m.Attributes[k] = v
				}
				res, err := r.p.Process(context.Background(), m)
				if err != nil {
					t.Fatalf("first delivery: %v (an edge input must not be retried)", err)
				}
				if res.Outcome != tc.wantOutcome || res.Reason != tc.wantReason {
					t.Fatalf("outcome %q reason %q, want %q %q", res.Outcome, res.Reason, tc.wantOutcome, tc.wantReason)
				}
				if res := deliver(t, r.p, m); res.Outcome != OutcomeDuplicate {
					t.Fatalf("second delivery: %+v", res)
				}
				if tc.check != nil {
					tc.check(t, r)
				}
			})
		}
	}
}
