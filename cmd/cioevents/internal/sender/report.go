package sender

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
)

// Report is what a run did.
type Report struct {
	Requests   int            // requests attempted
	Duplicates int            // of those, repeating an event_id already sent in the run
	Status     map[int]int    // answered requests by HTTP status
	Errors     map[string]int // unanswered requests by transport error
	Duration   time.Duration  // wall time of the whole run

	// Latency percentiles (nearest rank) over answered requests, from just
	// before the request is written to the end of the response body.
	P50, P90, P99 time.Duration
}

// RequestsPerSecond is the achieved rate over the whole run.
func (r *Report) RequestsPerSecond() float64 {
	if r.Duration <= 0 {
		return 0
	}
	return float64(r.Requests) / r.Duration.Seconds()
}

// OK reports whether every request got a 2xx answer.
func (r *Report) OK() bool {
	ok := 0
	for code, n := range r.Status {
		if code >= 200 && code < 300 {
			ok += n
		}
	}
	return r.Requests > 0 && ok == r.Requests
}

// Print writes the report for a terminal; a write error is the writer's
// business (a closed stdout leaves nothing useful to do).
func (r *Report) Print(w io.Writer) {
	var b strings.Builder
	fmt.Fprintf(&b, "requests  %d in %v (%.1f req/s), %d duplicates (event_id sent before in this run)\n",
		r.Requests, r.Duration.Round(time.Millisecond), r.RequestsPerSecond(), r.Duplicates)
	b.WriteString("status   ")
	if len(r.Status) == 0 {
		b.WriteString(" none")
	}
	for _, code := range sortedKeys(r.Status) {
		fmt.Fprintf(&b, " %d×%d", code, r.Status[code])
	}
	b.WriteString("\n")
	for _, e := range sortedKeys(r.Errors) {
		fmt.Fprintf(&b, "error     %d× %s\n", r.Errors[e], e)
	}
	fmt.Fprintf(&b, "latency   p50 %v  p90 %v  p99 %v\n", round(r.P50), round(r.P90), round(r.P99))
	_, _ = io.WriteString(w, b.String())
}

func round(d time.Duration) time.Duration {
	switch {
	case d >= time.Second:
		return d.Round(time.Millisecond)
	case d >= time.Millisecond:
		return d.Round(10 * time.Microsecond)
	}
	return d.Round(time.Microsecond)
}

func (r *Report) setPercentiles(latencies []time.Duration) {
	slices.Sort(latencies)
	r.P50 = percentile(latencies, 50)
	r.P90 = percentile(latencies, 90)
	r.P99 = percentile(latencies, 99)
}

// percentile is the nearest-rank percentile p of sorted: the smallest value
// with at least p% of the values at or below it.
func percentile(sorted []time.Duration, p int) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := (p*len(sorted) + 99) / 100 // ceil(p/100 · n)
	return sorted[max(rank, 1)-1]
}
