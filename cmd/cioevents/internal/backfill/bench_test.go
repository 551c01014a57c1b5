package backfill_test

import (
	"context"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/cioevents/cioevents/cmd/cioevents/internal/appapi"
	"github.com/cioevents/cioevents/cmd/cioevents/internal/appapi/appapifake"
	"github.com/cioevents/cioevents/cmd/cioevents/internal/backfill"
)

var addedRE = regexp.MustCompile(`(\d+) added`)

// BenchmarkBackfill100k backfills 100,000 deliveries from the fake into an
// empty local data dir through the whole command: paging, conversion,
// reconciliation, ledger, NDJSON rows. At the App API's 10 requests/s the
// 100 pages alone take 10 s; "unlimited" shows what everything else costs.
func BenchmarkBackfill100k(b *testing.B) {
	fake := appapifake.New(appKey)
	defer fake.Close()
	fake.Add(appapifake.Generate(100_000, 99, from, to)...)
	for _, bc := range []struct {
		name string
		rate float64
	}{{"api_limit_10rps", appapi.RateLimit}, {"unlimited", 1e6}} {
		b.Run(bc.name, func(b *testing.B) {
			var events int
			var elapsed time.Duration
			for b.Loop() {
				start := time.Now()
				r := run(context.Background(), fake, backfill.Env{}, append([]string{"--data-dir", b.TempDir(),
					"--app-api-rate", strconv.FormatFloat(bc.rate, 'f', -1, 64)}, span...)...)
				elapsed += time.Since(start)
				if r.err != nil {
					b.Fatal(r.err, r.stderr)
				}
				m := addedRE.FindStringSubmatch(r.stdout)
				if m == nil {
					b.Fatalf("no summary: %s", r.stdout)
				}
				n, _ := strconv.Atoi(m[1])
				events += n
			}
			b.ReportMetric(float64(events)/elapsed.Seconds(), "events/s")
			b.ReportMetric(float64(events)/float64(b.N), "events/run")
		})
	}
}
