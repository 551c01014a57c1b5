package backfill

import (
	"cmp"
	"fmt"
	"io"
	"slices"
	"text/tabwriter"
	"time"
)

// ReconKey is one line of the reconciliation: a UTC day of the metric time.
type ReconKey struct {
	Day        string
	ObjectType string
	Metric     string
}

// ReconCount compares Customer.io with the warehouse for one key.
type ReconCount struct {
	// CustomerIO is how many (delivery, metric) pairs the App API lists;
	// Warehouse how many of those the warehouse holds.
	CustomerIO int
	Warehouse  int
}

// Missing is what a backfill would add.
func (c ReconCount) Missing() int { return c.CustomerIO - c.Warehouse }

// Recon is the reconciliation of a run.
type Recon map[ReconKey]*ReconCount

func (r Recon) count(c Candidate, present bool) {
	k := ReconKey{Day: c.Time.Format(time.DateOnly), ObjectType: c.ObjectType, Metric: c.Metric}
	n := r[k]
	if n == nil {
		n = &ReconCount{}
		r[k] = n
	}
	n.CustomerIO++
	if present {
		n.Warehouse++
	}
}

// Keys returns the keys by day, object_type and metric.
func (r Recon) Keys() []ReconKey {
	keys := make([]ReconKey, 0, len(r))
	for k := range r {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b ReconKey) int {
		return cmp.Or(cmp.Compare(a.Day, b.Day), cmp.Compare(a.ObjectType, b.ObjectType), cmp.Compare(a.Metric, b.Metric))
	})
	return keys
}

// Print writes the reconciliation table and its totals.
func (r Recon) Print(w io.Writer) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "day\tobject_type\tmetric\tcustomer.io\twarehouse\tmissing\t")
	var total ReconCount
	for _, k := range r.Keys() {
		c := r[k]
		total.CustomerIO += c.CustomerIO
		total.Warehouse += c.Warehouse
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%d\t\n", k.Day, k.ObjectType, k.Metric, c.CustomerIO, c.Warehouse, c.Missing())
	}
	fmt.Fprintf(tw, "total\t\t\t%d\t%d\t%d\t\n", total.CustomerIO, total.Warehouse, total.Missing())
	tw.Flush()
}

// progress prints one line per ProgressEvery: pages, deliveries, events,
// the rate of this process and an ETA. The ETA reads progress off the
// creation time of the oldest delivery seen, as the API lists newest first.
type progress struct {
	w            io.Writer
	every        time.Duration
	now          func() time.Time
	start, last  time.Time
	since, until time.Time
	// startFrac and startEvents are where a resumed run began, so the rate
	// and ETA count this process's work only.
	startFrac   float64
	startEvents int
}

func newProgress(o Options, cp checkpoint) *progress {
	p := &progress{w: o.Progress, every: o.ProgressEvery, now: o.Now, since: cp.Since, until: cp.Until}
	p.start = p.now()
	p.last = p.start
	if !cp.Window.IsZero() {
		p.startFrac = p.frac(cp.Window, cp.Window, cp.Window)
		p.startEvents = cp.Events
	}
	return p
}

// frac is the share of [since, until) done when the current window
// [wStart, …) has been read back to oldest. Windows go oldest first and
// each is read newest first.
func (p *progress) frac(wStart, wEnd, oldest time.Time) float64 {
	total := p.until.Sub(p.since).Seconds()
	if total <= 0 {
		return 1
	}
	done := wStart.Sub(p.since).Seconds() + wEnd.Sub(oldest).Seconds()
	return min(max(done/total, 0), 1)
}

func (p *progress) page(r Report, w [2]time.Time, oldest time.Time, windowDone bool) {
	if p.w == nil {
		return
	}
	now := p.now()
	if now.Sub(p.last) < p.every {
		return
	}
	p.last = now
	if windowDone || oldest.IsZero() {
		oldest = w[0]
	}
	f := p.frac(w[0], w[1], oldest)
	p.line(r, now, f, fmt.Sprintf("window %s..%s", w[0].Format(time.DateOnly), w[1].Format(time.DateOnly)))
}

func (p *progress) done(r Report) {
	if p.w != nil {
		p.line(r, p.now(), 1, "done")
	}
}

func (p *progress) line(r Report, now time.Time, f float64, where string) {
	elapsed := now.Sub(p.start)
	rate := 0.0
	if s := elapsed.Seconds(); s > 0 {
		rate = float64(r.Events-p.startEvents) / s
	}
	eta := "?"
	if run := (f - p.startFrac) / (1 - p.startFrac); run > 0 && p.startFrac < 1 {
		eta = (time.Duration(float64(elapsed) * (1 - run) / run)).Round(time.Second).String()
	}
	fmt.Fprintf(p.w, "backfill: %s  pages %d  deliveries %d  events %d (present %d, added %d)  %.0f events/s  %.0f%%  ETA %s\n",
		where, r.Pages, r.Deliveries, r.Events, r.Present, r.Added, rate, f*100, eta)
}
