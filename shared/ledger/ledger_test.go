package ledger

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"cloud.google.com/go/firestore"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/cioevents/cioevents/internal/testsupport/emulator"
)

func TestMain(m *testing.M) { emulator.Main(m, emulator.Firestore) }

const (
	testProject = "cioevents-test"
	testLease   = 30 * time.Second
	// margin is how far before a lease's end the tests probe it: more than
	// any RPC takes on a busy machine.
	margin = 10 * time.Second
)

// t0 is where every test clock starts: now, because Firestore judges leases
// and expiry by its own clock, which the tests can only shift forward.
var t0 = time.Now().UTC().Truncate(time.Second)

// clock is a settable clock shared by a ledger and its test.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// stored is the part of a record the contract can see, in one shape for
// both implementations.
type stored struct {
	EventID    string
	State      string
	Attempt    int
	Lease      time.Duration // as written by the last holder; 0 once released
	LeaseToken string
	Steps      map[string]time.Time
	Outcome    string
	ExpireAt   time.Time
}

type env struct {
	l     Ledger
	clock *clock
	// raw returns the stored record of eventID, or false when absent.
	raw func(t *testing.T, eventID string) (stored, bool)
}

type impl struct {
	name string
	new  func(t *testing.T) env
}

var collSeq atomic.Int64

// runID keeps collections of separate runs apart on a long-lived emulator.
var runID = newToken()[:8]

func newFirestoreClient(tb testing.TB) *firestore.Client {
	tb.Helper()
	client, err := firestore.NewClient(context.Background(), testProject)
	if err != nil {
		tb.Fatalf("firestore client: %v", err)
	}
	tb.Cleanup(func() { client.Close() })
	return client
}

func uniqueCollection() string {
	return fmt.Sprintf("ledger-%s-%d", runID, collSeq.Add(1))
}

var impls = []impl{
	{"memory", func(t *testing.T) env {
		ck := &clock{t: t0}
		m := NewMemory(testLease)
		m.Now = ck.Now
		return env{l: m, clock: ck, raw: func(t *testing.T, id string) (stored, bool) {
			d, ok := m.snapshot(id)
			return stored{EventID: id, State: d.state, Attempt: d.attempt, Lease: d.leaseUntil.Sub(d.updatedAt),
				LeaseToken: d.token, Steps: d.steps, Outcome: d.outcome, ExpireAt: d.expireAt}, ok
		}}
	}},
	{"bolt", func(t *testing.T) env {
		ck := &clock{t: t0}
		b, err := NewBolt(openBolt(t), testLease)
		if err != nil {
			t.Fatal(err)
		}
		b.Now = ck.Now
		return env{l: b, clock: ck, raw: func(t *testing.T, id string) (stored, bool) {
			r, ok, err := b.snapshot(id)
			if err != nil {
				t.Fatal(err)
			}
			return stored{EventID: r.EventID, State: r.State, Attempt: r.Attempt, Lease: r.LeaseUntil.Sub(r.UpdatedAt),
				LeaseToken: r.LeaseToken, Steps: r.Steps, Outcome: r.Outcome, ExpireAt: r.ExpireAt}, ok
		}}
	}},
	{"firestore", func(t *testing.T) env {
		ck := &clock{t: t0}
		f := NewFirestore(newFirestoreClient(t), uniqueCollection(), testLease)
		f.Now = ck.Now
		f.shift = func() time.Duration { return ck.Now().Sub(t0) }
		return env{l: f, clock: ck, raw: func(t *testing.T, id string) (stored, bool) {
			r, ok := readRecord(t, f, id)
			return stored{EventID: r.EventID, State: r.State, Attempt: r.Attempt, Lease: time.Duration(r.LeaseMS) * time.Millisecond,
				LeaseToken: r.LeaseToken, Steps: r.Steps, Outcome: r.Outcome, ExpireAt: r.ExpireAt}, ok
		}}
	}},
}

func readRecord(t *testing.T, f *Firestore, id string) (record, bool) {
	t.Helper()
	snap, err := f.doc(id).Get(context.Background())
	if status.Code(err) == codes.NotFound {
		return record{}, false
	}
	if err != nil {
		t.Fatalf("read %s: %v", DocID(id), err)
	}
	var r record
	if err := snap.DataTo(&r); err != nil {
		t.Fatalf("decode %s: %v", DocID(id), err)
	}
	return r, true
}

func mustClaim(t *testing.T, l Ledger, id string, expireAt time.Time) *Claim {
	t.Helper()
	c, err := l.Claim(context.Background(), id, expireAt)
	if err != nil {
		t.Fatalf("Claim(%.40q): %v", id, err)
	}
	return c
}

func must(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

func wantErr(t *testing.T, what string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("%s: got %v, want %v", what, err, want)
	}
}

func stepNames(m map[string]time.Time) string {
	var s []string
	for k := range m {
		s = append(s, k)
	}
	return fmt.Sprint(len(s), s)
}

// oddIDs are event_ids Firestore would refuse or mangle as document IDs.
var oddIDs = []struct{ name, id string }{
	{"slash", "a/b"},
	{"dot", "."},
	{"dotdot", ".."},
	{"reserved", "__x__"},
	{"long", strings.Repeat("x", 2000)},
	{"unicode", "événement-✓-日本"},
	{"looks hashed", hashedPrefix + strings.Repeat("0", 64)},
	{"spaces and dots", " a.b c "},
	{"invalid utf8", "bad\xff\xfeid"},
	{"empty", ""},
}

var ctx = context.Background()

// contract is the behaviour both implementations must share.
var contract = []struct {
	name string
	run  func(t *testing.T, e env)
}{
	{"new claim", func(t *testing.T, e env) {
		exp := t0.Add(9 * 24 * time.Hour)
		c := mustClaim(t, e.l, "01JDXK5Z8M3V7Q2W4E6R8T0Y1U", exp)
		if c.EventID != "01JDXK5Z8M3V7Q2W4E6R8T0Y1U" || c.Attempt != 1 || c.Done("row") || c.Remaining() != testLease {
			t.Fatalf("claim = %+v, Done(row)=%v; want attempt 1, nothing done", c, c.Done("row"))
		}
		r, ok := e.raw(t, c.EventID)
		if !ok {
			t.Fatal("no record stored")
		}
		if r.EventID != c.EventID || r.State != StateProcessing || r.Attempt != 1 || r.LeaseToken == "" ||
			r.Lease != testLease || !r.ExpireAt.Equal(exp) || len(r.Steps) != 0 || r.Outcome != "" {
			t.Fatalf("stored %+v", r)
		}
	}},
	{"duplicate after finish", func(t *testing.T, e env) {
		exp := t0.Add(9 * 24 * time.Hour)
		c := mustClaim(t, e.l, "ev-dup", exp)
		must(t, "Record", e.l.Record(ctx, c, "row"))
		must(t, "Finish", e.l.Finish(ctx, c, "inserted"))
		_, err := e.l.Claim(ctx, "ev-dup", exp)
		wantErr(t, "Claim after Finish", err, ErrDuplicate)
		e.clock.Advance(10 * testLease) // a lease expiry changes nothing once done
		_, err = e.l.Claim(ctx, "ev-dup", exp)
		wantErr(t, "Claim after Finish and lease expiry", err, ErrDuplicate)
		r, _ := e.raw(t, "ev-dup")
		if r.State != StateDone || r.Outcome != "inserted" || r.Attempt != 1 || r.Steps["row"].IsZero() {
			t.Fatalf("stored %+v", r)
		}
	}},
	{"busy while leased, taken over at expiry", func(t *testing.T, e env) {
		exp := t0.Add(9 * 24 * time.Hour)
		mustClaim(t, e.l, "ev-busy", exp)
		_, err := e.l.Claim(ctx, "ev-busy", exp)
		wantErr(t, "second Claim", err, ErrBusy)
		// Firestore adds the real time between write and read to the shifted
		// clock, so "just before" keeps a margin a loaded machine cannot eat.
		e.clock.Advance(testLease - margin)
		_, err = e.l.Claim(ctx, "ev-busy", exp)
		wantErr(t, "Claim before lease end", err, ErrBusy)
		e.clock.Advance(margin)
		c := mustClaim(t, e.l, "ev-busy", exp)
		if c.Attempt != 2 {
			t.Fatalf("attempt = %d, want 2", c.Attempt)
		}
		_, err = e.l.Claim(ctx, "ev-busy", exp)
		wantErr(t, "Claim during new lease", err, ErrBusy)
	}},
	{"takeover keeps steps", func(t *testing.T, e env) {
		exp := t0.Add(9 * 24 * time.Hour)
		c1 := mustClaim(t, e.l, "ev-take", exp)
		must(t, "Record row", e.l.Record(ctx, c1, "row"))
		must(t, "Record action", e.l.Record(ctx, c1, "action:0:identify"))
		if !c1.Done("row") || !c1.Done("action:0:identify") {
			t.Fatal("claim does not see its own steps")
		}
		e.clock.Advance(testLease + time.Second)
		c2 := mustClaim(t, e.l, "ev-take", exp.Add(time.Hour))
		if c2.Attempt != 2 || !c2.Done("row") || !c2.Done("action:0:identify") || c2.Done("action:1:track") {
			t.Fatalf("takeover claim attempt=%d row=%v a0=%v a1=%v", c2.Attempt,
				c2.Done("row"), c2.Done("action:0:identify"), c2.Done("action:1:track"))
		}
		must(t, "Record a1", e.l.Record(ctx, c2, "action:1:track"))
		must(t, "Finish", e.l.Finish(ctx, c2, "inserted"))
		r, _ := e.raw(t, "ev-take")
		if r.Attempt != 2 || r.State != StateDone || len(r.Steps) != 3 || !r.ExpireAt.Equal(exp.Add(time.Hour)) {
			t.Fatalf("stored %+v (steps %s)", r, stepNames(r.Steps))
		}
	}},
	{"record and finish after takeover lose the lease", func(t *testing.T, e env) {
		exp := t0.Add(9 * 24 * time.Hour)
		c1 := mustClaim(t, e.l, "ev-lost", exp)
		e.clock.Advance(testLease)
		c2 := mustClaim(t, e.l, "ev-lost", exp)
		wantErr(t, "old Record", e.l.Record(ctx, c1, "row"), ErrLeaseLost)
		wantErr(t, "old Finish", e.l.Finish(ctx, c1, "inserted"), ErrLeaseLost)
		if c1.Done("row") {
			t.Fatal("rejected step marked done in the old claim")
		}
		must(t, "new Record", e.l.Record(ctx, c2, "row"))
		must(t, "new Finish", e.l.Finish(ctx, c2, "inserted"))
		wantErr(t, "old Record after Finish", e.l.Record(ctx, c1, "action:0:x"), ErrLeaseLost)
		r, _ := e.raw(t, "ev-lost")
		if r.State != StateDone || len(r.Steps) != 1 {
			t.Fatalf("stored %+v (steps %s)", r, stepNames(r.Steps))
		}
	}},
	{"extend and record renew the lease", func(t *testing.T, e env) {
		exp := t0.Add(9 * 24 * time.Hour)
		c := mustClaim(t, e.l, "ev-extend", exp)
		e.clock.Advance(testLease - margin)
		if got := c.Remaining(); got != margin {
			t.Fatalf("Remaining = %v after %v, want %v", got, testLease-margin, margin)
		}
		must(t, "Extend", e.l.Extend(ctx, c))
		if got := c.Remaining(); got != testLease {
			t.Fatalf("Remaining after Extend = %v, want %v", got, testLease)
		}
		e.clock.Advance(testLease - margin) // past the first lease, inside the renewed one
		_, err := e.l.Claim(ctx, "ev-extend", exp)
		wantErr(t, "Claim inside the extended lease", err, ErrBusy)
		must(t, "Record", e.l.Record(ctx, c, "row"))
		e.clock.Advance(testLease - margin)
		_, err = e.l.Claim(ctx, "ev-extend", exp)
		wantErr(t, "Claim inside the lease renewed by Record", err, ErrBusy)
		e.clock.Advance(margin)
		if c.Remaining() != 0 {
			t.Fatalf("Remaining = %v at lease end, want 0", c.Remaining())
		}
		c2 := mustClaim(t, e.l, "ev-extend", exp)
		if c2.Attempt != 2 || !c2.Done("row") {
			t.Fatalf("takeover attempt=%d row=%v", c2.Attempt, c2.Done("row"))
		}
		wantErr(t, "old Extend", e.l.Extend(ctx, c), ErrLeaseLost)
	}},
	{"release hands the event over at once", func(t *testing.T, e env) {
		exp := t0.Add(9 * 24 * time.Hour)
		c1 := mustClaim(t, e.l, "ev-release", exp)
		must(t, "Record", e.l.Record(ctx, c1, "row"))
		must(t, "Release", e.l.Release(ctx, c1, 0))
		if c1.Remaining() != 0 {
			t.Fatalf("Remaining after Release = %v", c1.Remaining())
		}
		if r, _ := e.raw(t, "ev-release"); r.Lease != 0 || r.State != StateProcessing {
			t.Fatalf("stored after Release %+v", r)
		}
		c2 := mustClaim(t, e.l, "ev-release", exp) // no clock advance
		if c2.Attempt != 2 || !c2.Done("row") {
			t.Fatalf("claim after release attempt=%d row=%v", c2.Attempt, c2.Done("row"))
		}
		wantErr(t, "Record through a released claim", e.l.Record(ctx, c1, "action:0:x"), ErrLeaseLost)
		wantErr(t, "Finish through a released claim", e.l.Finish(ctx, c1, "inserted"), ErrLeaseLost)
		wantErr(t, "Release after takeover", e.l.Release(ctx, c1, 0), ErrLeaseLost)
		_, err := e.l.Claim(ctx, "ev-release", exp)
		wantErr(t, "Claim during the new lease", err, ErrBusy)
		must(t, "Finish", e.l.Finish(ctx, c2, "inserted"))
	}},
	{"release after a margin", func(t *testing.T, e env) {
		exp := t0.Add(9 * 24 * time.Hour)
		c1 := mustClaim(t, e.l, "ev-release-later", exp)
		must(t, "Release", e.l.Release(ctx, c1, margin))
		if c1.Remaining() != 0 {
			t.Fatalf("Remaining after Release = %v", c1.Remaining())
		}
		_, err := e.l.Claim(ctx, "ev-release-later", exp)
		wantErr(t, "Claim inside the release margin", err, ErrBusy)
		e.clock.Advance(margin)
		if c2 := mustClaim(t, e.l, "ev-release-later", exp); c2.Attempt != 2 {
			t.Fatalf("attempt = %d, want 2", c2.Attempt)
		}
	}},
	{"expired expire_at counts as absent", func(t *testing.T, e env) {
		for _, finish := range []bool{true, false} {
			id := fmt.Sprintf("ev-expired-%v", finish)
			c1 := mustClaim(t, e.l, id, e.clock.Now().Add(time.Second)) // lease outlives expire_at
			must(t, "Record", e.l.Record(ctx, c1, "row"))
			if finish {
				must(t, "Finish", e.l.Finish(ctx, c1, "inserted"))
			}
			e.clock.Advance(time.Second)
			exp := e.clock.Now().Add(9 * 24 * time.Hour)
			c2 := mustClaim(t, e.l, id, exp)
			if c2.Attempt != 1 || c2.Done("row") {
				t.Fatalf("finish=%v: claim attempt=%d row=%v, want a fresh claim", finish, c2.Attempt, c2.Done("row"))
			}
			r, _ := e.raw(t, id)
			if r.State != StateProcessing || r.Attempt != 1 || len(r.Steps) != 0 || r.Outcome != "" || !r.ExpireAt.Equal(exp) {
				t.Fatalf("finish=%v: stored %+v", finish, r)
			}
			wantErr(t, "old Record", e.l.Record(ctx, c1, "row"), ErrLeaseLost)
		}
	}},
	{"odd event ids round-trip", func(t *testing.T, e env) {
		exp := t0.Add(9 * 24 * time.Hour)
		for _, tc := range oddIDs {
			t.Run(tc.name, func(t *testing.T) {
				c := mustClaim(t, e.l, tc.id, exp)
				if c.EventID != tc.id {
					t.Fatalf("claim EventID = %.40q", c.EventID)
				}
				must(t, "Record", e.l.Record(ctx, c, "row"))
				must(t, "Finish", e.l.Finish(ctx, c, "inserted"))
				_, err := e.l.Claim(ctx, tc.id, exp)
				wantErr(t, "second Claim", err, ErrDuplicate)
				r, ok := e.raw(t, tc.id)
				if !ok || r.EventID != strings.ToValidUTF8(tc.id, "\uFFFD") && r.EventID != tc.id || r.State != StateDone {
					t.Fatalf("stored %.60q state %q", r.EventID, r.State)
				}
			})
		}
		// Every odd ID got its own record: none shadowed another.
		for _, tc := range oddIDs {
			if _, ok := e.raw(t, tc.id); !ok {
				t.Fatalf("%s: record missing", tc.name)
			}
		}
	}},
	{"concurrent claims: exactly one wins", func(t *testing.T, e env) {
		const n = 8
		exp := t0.Add(9 * 24 * time.Hour)
		wins, errs := claimConcurrently(e.l, "ev-race", exp, n)
		if wins != 1 {
			t.Fatalf("%d winners, want 1 (errors %v)", wins, errs)
		}
		for _, err := range errs {
			if !errors.Is(err, ErrBusy) && !errors.Is(err, ErrDuplicate) {
				t.Fatalf("loser error %v, want ErrBusy/ErrDuplicate", err)
			}
		}
	}},
	{"concurrent takeovers: exactly one wins", func(t *testing.T, e env) {
		const n = 4 // small: every loser re-reads the one contended document
		exp := t0.Add(9 * 24 * time.Hour)
		mustClaim(t, e.l, "ev-race-take", exp)
		e.clock.Advance(testLease)
		wins, errs := claimConcurrently(e.l, "ev-race-take", exp, n)
		if wins != 1 {
			t.Fatalf("%d winners, want 1 (errors %v)", wins, errs)
		}
		for _, err := range errs {
			wantErr(t, "loser", err, ErrBusy)
		}
		if r, _ := e.raw(t, "ev-race-take"); r.Attempt != 2 {
			t.Fatalf("attempt = %d, want 2", r.Attempt)
		}
	}},
	{"concurrent records through one claim", func(t *testing.T, e env) {
		c := mustClaim(t, e.l, "ev-steps", t0.Add(9*24*time.Hour))
		steps := []string{"row", "action:0:identify", "action:1:track", "action:2:a.b/c"}
		var wg sync.WaitGroup
		errs := make([]error, len(steps))
		for i, s := range steps {
			wg.Go(func() { errs[i] = e.l.Record(ctx, c, s) })
		}
		wg.Wait()
		must(t, "Record", errors.Join(errs...))
		r, _ := e.raw(t, "ev-steps")
		for _, s := range steps {
			if !c.Done(s) || r.Steps[s].IsZero() {
				t.Fatalf("step %q: Done=%v stored=%v (steps %s)", s, c.Done(s), r.Steps[s], stepNames(r.Steps))
			}
		}
	}},
	{"cancelled context is a plain error", func(t *testing.T, e env) {
		// The caller treats non-sentinel errors as retryable; a transport
		// failure must never pass for a duplicate or a lost lease.
		exp := t0.Add(time.Hour)
		c := mustClaim(t, e.l, "ev-cancel", exp)
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		_, claimErr := e.l.Claim(cctx, "ev-cancel", exp)
		for name, err := range map[string]error{
			"Claim":  claimErr,
			"Record": e.l.Record(cctx, c, "row"),
			"Finish": e.l.Finish(cctx, c, "inserted"),
			"Extend": e.l.Extend(cctx, c),
		} {
			if err == nil || errors.Is(err, ErrBusy) || errors.Is(err, ErrDuplicate) || errors.Is(err, ErrLeaseLost) {
				t.Errorf("%s with a cancelled context: %v", name, err)
			}
		}
		if c.Done("row") {
			t.Error("failed Record marked the step done")
		}
		must(t, "Record after", e.l.Record(ctx, c, "row"))
	}},
	{"bad arguments are plain errors", func(t *testing.T, e env) {
		_, err := e.l.Claim(ctx, "ev-zero", time.Time{})
		if err == nil || errors.Is(err, ErrBusy) || errors.Is(err, ErrDuplicate) {
			t.Fatalf("Claim with zero expireAt: %v", err)
		}
		c := mustClaim(t, e.l, "ev-args", t0.Add(time.Hour))
		if err := e.l.Record(ctx, c, ""); err == nil || errors.Is(err, ErrLeaseLost) {
			t.Fatalf("Record empty step: %v", err)
		}
		if err := e.l.Record(ctx, nil, "row"); err == nil {
			t.Fatal("Record nil claim: no error")
		}
		if err := e.l.Finish(ctx, nil, "x"); err == nil {
			t.Fatal("Finish nil claim: no error")
		}
		if err := e.l.Extend(ctx, nil); err == nil {
			t.Fatal("Extend nil claim: no error")
		}
		if err := e.l.Release(ctx, nil, 0); err == nil {
			t.Fatal("Release nil claim: no error")
		}
	}},
	{"deferred steps ride on the next write", func(t *testing.T, e env) {
		exp := t0.Add(9 * 24 * time.Hour)
		c := mustClaim(t, e.l, "ev-defer", exp)
		c.Defer("row")
		c.Defer("action:0:identify")
		if !c.Done("row") || !c.Done("action:0:identify") {
			t.Fatal("a deferred step is not done for its own claim")
		}
		if r, _ := e.raw(t, "ev-defer"); len(r.Steps) != 0 {
			t.Fatalf("Defer wrote: stored steps %s", stepNames(r.Steps))
		}
		must(t, "Finish", e.l.Finish(ctx, c, "inserted"))
		r, _ := e.raw(t, "ev-defer")
		if r.State != StateDone || r.Steps["row"].IsZero() || r.Steps["action:0:identify"].IsZero() {
			t.Fatalf("after Finish: state %s, steps %s", r.State, stepNames(r.Steps))
		}
	}},
	{"a crash forgets deferred steps, a release keeps them", func(t *testing.T, e env) {
		exp := t0.Add(9 * 24 * time.Hour)
		crashed := mustClaim(t, e.l, "ev-crash", exp)
		crashed.Defer("row")
		released := mustClaim(t, e.l, "ev-release", exp)
		released.Defer("row")
		must(t, "Release", e.l.Release(ctx, released, 0))
		e.clock.Advance(testLease + time.Second)
		if c := mustClaim(t, e.l, "ev-crash", exp); c.Done("row") {
			t.Fatal("a step deferred by a holder that never wrote again was stored")
		}
		if c := mustClaim(t, e.l, "ev-release", exp); !c.Done("row") {
			t.Fatal("the release did not store the deferred step")
		}
	}},
	{"peek reads without writing", func(t *testing.T, e env) {
		exp := t0.Add(9 * 24 * time.Hour)
		must(t, "Peek absent", e.l.Peek(ctx, "ev-peek"))
		if _, ok := e.raw(t, "ev-peek"); ok {
			t.Fatal("Peek created a record")
		}
		mustClaim(t, e.l, "ev-peek", exp)
		wantErr(t, "Peek while leased", e.l.Peek(ctx, "ev-peek"), ErrBusy)
		e.clock.Advance(testLease + time.Second)
		wantErr(t, "Peek after the lease ran out", e.l.Peek(ctx, "ev-peek"), ErrUnfinished)
		c := mustClaim(t, e.l, "ev-peek", exp)
		must(t, "Release", e.l.Release(ctx, c, 0))
		wantErr(t, "Peek after release", e.l.Peek(ctx, "ev-peek"), ErrUnfinished)
		c = mustClaim(t, e.l, "ev-peek", exp)
		must(t, "Finish", e.l.Finish(ctx, c, "inserted"))
		wantErr(t, "Peek after finish", e.l.Peek(ctx, "ev-peek"), ErrDuplicate)
		if r, _ := e.raw(t, "ev-peek"); r.Attempt != 3 || r.State != StateDone {
			t.Fatalf("Peek changed the record: %+v", r)
		}
	}},
	{"put stores a finished event once", func(t *testing.T, e env) {
		exp := t0.Add(9 * 24 * time.Hour)
		must(t, "Put", e.l.Put(ctx, "ev-put", exp, "inserted"))
		wantErr(t, "second Put", e.l.Put(ctx, "ev-put", exp, "inserted"), ErrDuplicate)
		wantErr(t, "Peek after Put", e.l.Peek(ctx, "ev-put"), ErrDuplicate)
		_, err := e.l.Claim(ctx, "ev-put", exp)
		wantErr(t, "Claim after Put", err, ErrDuplicate)
		r, ok := e.raw(t, "ev-put")
		if !ok || r.State != StateDone || r.Outcome != "inserted" || !r.ExpireAt.Equal(exp) {
			t.Fatalf("stored %+v", r)
		}
		// A claimed event is not finished by a Put that raced it.
		mustClaim(t, e.l, "ev-put-claimed", exp)
		wantErr(t, "Put over a claim", e.l.Put(ctx, "ev-put-claimed", exp, "inserted"), ErrDuplicate)
		if r, _ := e.raw(t, "ev-put-claimed"); r.State != StateProcessing {
			t.Fatalf("Put changed a claimed record: %+v", r)
		}
		if err := e.l.Put(ctx, "ev-put-zero", time.Time{}, "inserted"); err == nil {
			t.Fatal("Put with a zero expiry: no error")
		}
	}},
	{"put replaces an expired record", func(t *testing.T, e env) {
		exp := t0.Add(time.Hour)
		must(t, "Put", e.l.Put(ctx, "ev-put-old", exp, "inserted"))
		e.clock.Advance(2 * time.Hour)
		must(t, "Peek past expiry", e.l.Peek(ctx, "ev-put-old"))
		later := t0.Add(9 * 24 * time.Hour)
		must(t, "Put past expiry", e.l.Put(ctx, "ev-put-old", later, "rejected"))
		if r, _ := e.raw(t, "ev-put-old"); r.Outcome != "rejected" || !r.ExpireAt.Equal(later) {
			t.Fatalf("stored %+v", r)
		}
	}},
	{"a done record's outcome comes back with the duplicate", func(t *testing.T, e env) {
		exp := t0.Add(time.Hour)
		must(t, "Put", e.l.Put(ctx, "ev-done-put", exp, "inserted:actions_deferred"))
		c := mustClaim(t, e.l, "ev-done-claim", exp)
		must(t, "Finish", e.l.Finish(ctx, c, "inserted:action_failed"))
		for id, want := range map[string]string{"ev-done-put": "inserted:actions_deferred", "ev-done-claim": "inserted:action_failed"} {
			_, err := e.l.Claim(ctx, id, exp)
			if got, ok := DoneOutcome(err); !ok || got != want || !errors.Is(err, ErrDuplicate) {
				t.Errorf("Claim %s: %v, outcome %q; want a duplicate with %q", id, err, got, want)
			}
			err = e.l.Peek(ctx, id)
			if got, ok := DoneOutcome(err); !ok || got != want || !errors.Is(err, ErrDuplicate) {
				t.Errorf("Peek %s: %v, outcome %q; want a duplicate with %q", id, err, got, want)
			}
		}
	}},
}

func claimConcurrently(l Ledger, id string, exp time.Time, n int) (wins int, errs []error) {
	var wg sync.WaitGroup
	res := make([]error, n)
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			_, res[i] = l.Claim(ctx, id, exp)
		})
	}
	close(start)
	wg.Wait()
	for _, err := range res {
		if err == nil {
			wins++
		} else {
			errs = append(errs, err)
		}
	}
	return wins, errs
}

func TestContract(t *testing.T) {
	for _, im := range impls {
		t.Run(im.name, func(t *testing.T) {
			for _, tc := range contract {
				t.Run(tc.name, func(t *testing.T) { tc.run(t, im.new(t)) })
			}
		})
	}
}
