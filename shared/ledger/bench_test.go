package ledger

import (
	"fmt"
	"sync/atomic"
	"testing"
	"time"
)

// benchParallelism is goroutines per GOMAXPROCS in the parallel benchmarks,
// roughly the concurrency of a processor instance.
const benchParallelism = 8

// warmUps is how many events go through the emulator before timing: its
// first thousands of RPCs pay for JVM start-up and JIT, which is not the
// steady state (with 50, whichever benchmark ran first looked 3× slower).
const warmUps = 3000

func benchLedgers(b *testing.B) []struct {
	name string
	l    Ledger
} {
	f := NewFirestore(newFirestoreClient(b), uniqueCollection(), testLease)
	exp := time.Now().Add(9 * 24 * time.Hour)
	for i := range warmUps {
		lifecycle(b, f, fmt.Sprint("warm-", i), exp)
	}
	return []struct {
		name string
		l    Ledger
	}{
		{"memory", NewMemory(testLease)},
		{"firestore", f},
	}
}

// lifecycles are the ledger calls of one event as the processor makes them.
var lifecycles = []struct {
	name string
	run  func(b *testing.B, l Ledger, id string, exp time.Time)
}{
	// Lean, no actions (most events): Peek, then Put — one read, one write.
	{"unclaimed", func(b *testing.B, l Ledger, id string, exp time.Time) {
		if err := l.Peek(ctx, id); err != nil {
			b.Fatal(err)
		}
		if err := l.Put(ctx, id, exp, "inserted"); err != nil {
			b.Fatal(err)
		}
	}},
	// Lean, with actions: Claim, the steps deferred, Finish — two writes.
	{"claimed", func(b *testing.B, l Ledger, id string, exp time.Time) {
		c, err := l.Claim(ctx, id, exp)
		if err != nil {
			b.Fatal(err)
		}
		c.Defer("row")
		c.Defer("action:0:identify")
		if err := l.Finish(ctx, c, "inserted"); err != nil {
			b.Fatal(err)
		}
	}},
	// Strict, one action: Claim, Record ×2, Finish — four writes.
	{"strict", func(b *testing.B, l Ledger, id string, exp time.Time) {
		c, err := l.Claim(ctx, id, exp)
		if err != nil {
			b.Fatal(err)
		}
		for _, step := range []string{"row", "action:0:identify"} {
			if err := l.Record(ctx, c, step); err != nil {
				b.Fatal(err)
			}
		}
		if err := l.Finish(ctx, c, "inserted"); err != nil {
			b.Fatal(err)
		}
	}},
}

func lifecycle(b *testing.B, l Ledger, id string, exp time.Time) { lifecycles[1].run(b, l, id, exp) }

// BenchmarkLifecycle is the ledger cost of one event, per lifecycle. Run it
// beside BenchmarkFirestoreCreate (go test -bench 'Lifecycle|Create'): the
// ratio of their rates is what docs/performance.md reports.
func BenchmarkLifecycle(b *testing.B) {
	exp := time.Now().Add(9 * 24 * time.Hour)
	for _, bl := range benchLedgers(b) {
		for _, lc := range lifecycles {
			b.Run(bl.name+"/"+lc.name, func(b *testing.B) {
				prefix := "bench-" + newToken()[:8] + "-"
				i := 0
				for b.Loop() {
					i++
					lc.run(b, bl.l, prefix+fmt.Sprint(i), exp)
				}
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
			})
			b.Run(bl.name+"/"+lc.name+"-parallel", func(b *testing.B) {
				prefix := "bench-" + newToken()[:8] + "-"
				var seq atomic.Int64
				b.SetParallelism(benchParallelism)
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						lc.run(b, bl.l, prefix+fmt.Sprint(seq.Add(1)), exp)
					}
				})
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
			})
		}
	}
}

// BenchmarkFirestoreCreate is the raw create-if-absent rate, the ceiling the
// soak report compares pipeline throughput with.
func BenchmarkFirestoreCreate(b *testing.B) {
	coll := newFirestoreClient(b).Collection(uniqueCollection())
	exp := time.Now().Add(9 * 24 * time.Hour)
	doc := func(i int64) record {
		now := time.Now()
		return record{EventID: fmt.Sprint(i), State: StateProcessing, Attempt: 1, LeaseMS: testLease.Milliseconds(),
			LeaseToken: newToken(), Steps: map[string]time.Time{}, CreatedAt: now, UpdatedAt: now, ExpireAt: exp}
	}
	for i := range int64(warmUps) {
		if _, err := coll.Doc(fmt.Sprint("warm-", i)).Create(ctx, doc(i)); err != nil {
			b.Fatal(err)
		}
	}
	b.Run("sequential", func(b *testing.B) {
		prefix := "raw-" + newToken()[:8] + "-"
		var i int64
		for b.Loop() {
			i++
			if _, err := coll.Doc(prefix+fmt.Sprint(i)).Create(ctx, doc(i)); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "docs/s")
	})
	b.Run("parallel", func(b *testing.B) {
		prefix := "raw-" + newToken()[:8] + "-"
		var seq atomic.Int64
		b.SetParallelism(benchParallelism)
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				i := seq.Add(1)
				if _, err := coll.Doc(prefix+fmt.Sprint(i)).Create(ctx, doc(i)); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "docs/s")
	})
}
