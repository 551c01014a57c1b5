package funnel

import (
	"fmt"
	"math/rand/v2"
	"sort"
	"testing"
	"time"

	"cloud.google.com/go/bigquery"

	"github.com/cioevents/cioevents/shared/warehouse"
)

// randomEvents makes deliveries with random stages at random delays (up to
// twelve days, across midnights), random flags, bounces with assorted SMTP
// replies, a campaign that changes on a later event, duplicates stored twice
// and backfilled copies (without the webhook's flags). backfill holds the
// copies, stored only at the end.
func randomEvents(seed uint64) (live, backfill []warehouse.Row) {
	r := rand.New(rand.NewPCG(seed, 25))
	pick := func(ss ...string) string { return ss[r.IntN(len(ss))] }
	bounces := []string{"550 5.1.1 <x@y>: user unknown", "452 4.2.2 mailbox full", "554 5.7.1 blocked", "550 5.2.1 disabled",
		"421 try later", "553 no such user", "rejected", ""}
	for i := range 25 {
		id := fmt.Sprintf("r%d-%02d", seed, i)
		t0 := at(r.IntN(4), r.IntN(24), r.IntN(60))
		opts := []func(*warehouse.Row){to(pick("a@gmail.com", "b@yahoo.com", "c@web.de", "hmac:1f@icloud.com", "d@corp.example", ""))}
		if r.IntN(4) == 0 {
			opts = append(opts, ws("eu"))
		}
		if r.IntN(5) == 0 {
			opts = append(opts, channel("sms"))
		}
		c := int64(31 + r.IntN(2))
		add := func(metric string, t time.Time, extra ...func(*warehouse.Row)) {
			e := wev(id, metric, t, append(append([]func(*warehouse.Row){campaign(c)}, opts...), extra...)...)
			live = append(live, e)
			if r.IntN(8) == 0 { // stored twice (a redelivery)
				again := e
				again.ReceivedAt = again.ReceivedAt.Add(time.Minute)
				live = append(live, again)
			}
			if r.IntN(6) == 0 { // also backfilled later
				b := e
				backfilled(&b)
				backfill = append(backfill, b)
			}
		}
		later := func(max time.Duration) time.Time {
			return t0.Add(time.Duration(r.Int64N(int64(max)))).Truncate(time.Second)
		}
		if r.IntN(5) > 0 {
			add("sent", t0)
		}
		if r.IntN(3) == 0 {
			c++ // later events name another campaign
		}
		if r.IntN(10) < 7 {
			add("delivered", later(time.Hour))
		}
		for range r.IntN(4) {
			var f []func(*warehouse.Row)
			if r.IntN(3) == 0 {
				f = append(f, proxied)
			}
			if r.IntN(4) == 0 {
				f = append(f, prefetched)
			}
			add("opened", later(12*24*time.Hour), f...)
		}
		for range r.IntN(3) {
			f := []func(*warehouse.Row){func(e *warehouse.Row) { e.LinkID = ptr(int64(1 + r.IntN(3))) }}
			if r.IntN(3) == 0 {
				f = append(f, machine)
			}
			add("clicked", later(12*24*time.Hour), f...)
		}
		for _, m := range []string{"bounced", "spammed", "failed", "dropped", "converted", "unsubscribed"} {
			if r.IntN(8) == 0 {
				add(m, later(48*time.Hour), failure(bounces[r.IntN(len(bounces))]))
			}
		}
	}
	return live, backfill
}

// TestRandomMatchesLocal: on random data, daily scheduled runs (lookback 3
// days, each run twice), then a backfill run, leave the table the Go model
// computes over all events at once; and every grouping, from bqfake and from
// Go, agrees, adds up to its total and keeps its rates within 0..1.
func TestRandomMatchesLocal(t *testing.T) {
	for seed := range uint64(3) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			w := newFakeWarehouse(t)
			live, backfill := randomEvents(seed)
			sort.SliceStable(live, func(i, j int) bool { return live[i].EventTime.Before(live[j].EventTime) })
			next := 0
			for day := 1; day <= 17; day++ {
				run := at(day, 0, 0)
				for next < len(live) && live[next].EventTime.Before(run) {
					w.insert(live[next])
					next++
				}
				w.merge(run)
			}
			w.insert(backfill...)
			w.merge(at(0, 0, 0))
			w.merge(at(0, 0, 0))
			all := append(append([]warehouse.Row{}, live...), backfill...)
			diffRows(t, "table", w.tableRows(), localRows(all, modelNow))

			ds := Deliveries(Dedupe(all), modelNow)
			from, until := at(-1, 0, 0), at(40, 0, 0)
			rg := Range{From: from, Until: until}
			params := []bigquery.QueryParameter{{Name: "from", Value: from}, {Name: "until", Value: until}}
			for _, by := range ByNames {
				q, _ := By(by)
				got := decodeResults(t, q, w.query(SQL(q, "`p.ds.deliveries`", RangeFilter), params...))
				want := EvaluateDeliveries(ds, q, rg)
				if fmt.Sprint(resultsText(got)) != fmt.Sprint(resultsText(want)) {
					t.Errorf("--by %s: bqfake\n%v\nlocal\n%v", by, resultsText(got), resultsText(want))
				}
				total := decodeResults(t, q.Scope(), w.query(SQL(q.Scope(), "`p.ds.deliveries`", RangeFilter), params...))[0]
				checkSums(t, by, q, got, total)
			}
		})
	}
}
