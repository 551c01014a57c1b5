package sender

import (
	"testing"
	"time"
)

func TestPercentile(t *testing.T) {
	ms := func(vs ...int) []time.Duration {
		out := make([]time.Duration, len(vs))
		for i, v := range vs {
			out[i] = time.Duration(v) * time.Millisecond
		}
		return out
	}
	hundred := make([]int, 100)
	for i := range hundred {
		hundred[i] = i + 1
	}
	tests := []struct {
		name          string
		sorted        []time.Duration
		p50, p90, p99 time.Duration
	}{
		{"empty", nil, 0, 0, 0},
		{"one", ms(7), 7 * time.Millisecond, 7 * time.Millisecond, 7 * time.Millisecond},
		{"two", ms(1, 9), 1 * time.Millisecond, 9 * time.Millisecond, 9 * time.Millisecond},
		{"ten", ms(1, 2, 3, 4, 5, 6, 7, 8, 9, 10), 5 * time.Millisecond, 9 * time.Millisecond, 10 * time.Millisecond},
		{"hundred", ms(hundred...), 50 * time.Millisecond, 90 * time.Millisecond, 99 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := [3]time.Duration{percentile(tt.sorted, 50), percentile(tt.sorted, 90), percentile(tt.sorted, 99)}
			if want := [3]time.Duration{tt.p50, tt.p90, tt.p99}; got != want {
				t.Errorf("p50/p90/p99 = %v, want %v", got, want)
			}
		})
	}
}

func TestSetPercentilesSorts(t *testing.T) {
	var r Report
	r.setPercentiles([]time.Duration{9, 1, 5, 3, 7, 2, 8, 4, 6, 10})
	if r.P50 != 5 || r.P90 != 9 || r.P99 != 10 {
		t.Errorf("P50/P90/P99 = %v/%v/%v, want 5/9/10", r.P50, r.P90, r.P99)
	}
}

func TestBodyPass(t *testing.T) {
	raw := []byte(`{"event_id":"01ABC","data":{"note":"event_id"}}`)
	b := newBody("x", raw)
	if got := string(b.pass(0)); got != string(raw) {
		t.Errorf("pass 0 = %s", got)
	}
	if got, want := string(b.pass(12)), `{"event_id":"01ABC-12","data":{"note":"event_id"}}`; got != want {
		t.Errorf("pass 12 = %s, want %s", got, want)
	}
	if string(raw) != `{"event_id":"01ABC","data":{"note":"event_id"}}` {
		t.Error("pass modified the original body")
	}
	// Bodies whose event_id cannot be rewritten literally are resent as is.
	for _, raw := range []string{`[1]`, `{}`, `{ "event_id" : "01ABC" }`, `{"event_id":42}`} {
		if got := string(newBody("x", []byte(raw)).pass(3)); got != raw {
			t.Errorf("pass 3 of %s = %s", raw, got)
		}
	}
}

func TestRequestsPerSecondAndOK(t *testing.T) {
	r := Report{Requests: 50, Duration: 2 * time.Second, Status: map[int]int{200: 40, 204: 10}}
	if got := r.RequestsPerSecond(); got != 25 {
		t.Errorf("RequestsPerSecond = %v", got)
	}
	if !r.OK() {
		t.Error("OK() = false with only 2xx")
	}
	r.Status[503] = 1
	r.Requests++
	if r.OK() {
		t.Error("OK() = true with a 503")
	}
	if (&Report{}).OK() || (&Report{}).RequestsPerSecond() != 0 {
		t.Error("empty report")
	}
}
