package logfilter_test

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"testing"

	"github.com/cioevents/cioevents/internal/testsupport/logfilter"
)

func entry(t *testing.T, line string) map[string]any {
	t.Helper()
	e, err := logfilter.FromStdout([]byte(line), logfilter.Resource{Type: "cloud_run_revision",
		Labels: map[string]string{"service_name": "cioevents-receiver"}})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func TestMatch(t *testing.T) {
	const line = `{"time":"2026-01-01T00:00:00Z","severity":"WARNING","message":"webhook","status":401,"outcome":"mismatch","latency_ms":0.5,"unknown_pair":true}`
	tests := []struct {
		filter string
		want   bool
	}{
		{`jsonPayload.message="webhook"`, true},
		{`jsonPayload.message = "event"`, false},
		{`resource.type="cloud_run_revision" AND resource.labels.service_name="cioevents-receiver"`, true},
		{`resource.labels.service_name="cioevents-processor"`, false},
		{`jsonPayload.status=401`, true},
		{`jsonPayload.status="401"`, true},
		{`jsonPayload.status=503`, false},
		{`jsonPayload.status>=400 AND jsonPayload.status<500`, true},
		{`jsonPayload.latency_ms > 1`, false},
		{`jsonPayload.outcome:"MISM"`, true},
		{`jsonPayload.outcome=~"^(mismatch|too_old)$"`, true},
		{`jsonPayload.outcome!~"^too_"`, true},
		{`jsonPayload.outcome!="mismatch"`, false},
		{`jsonPayload.missing!="x"`, true},
		{`jsonPayload.missing="x"`, false},
		{`jsonPayload.status:*`, true},
		{`jsonPayload.lag_ms:*`, false},
		{`NOT jsonPayload.lag_ms:*`, true},
		{`-jsonPayload.lag_ms:*`, true},
		{`jsonPayload.unknown_pair=true`, true},
		{`severity>=WARNING`, true},
		{`severity>=ERROR`, false},
		{`jsonPayload.severity:*`, false}, // moved to the entry
		{`jsonPayload.time:*`, false},
		// OR binds tighter than AND.
		{`jsonPayload.message="event" AND jsonPayload.status=401 OR jsonPayload.status=503`, false},
		{`jsonPayload.message="webhook" AND jsonPayload.status=503 OR jsonPayload.status=401`, true},
		{`(jsonPayload.message="event" AND jsonPayload.status=401) OR jsonPayload.status=401`, true},
		{`jsonPayload.message="webhook" jsonPayload.status=401`, true}, // implicit AND
		{`jsonPayload.outcome=one_of("too_old", "mismatch")`, true},
		{`jsonPayload.outcome=starts_with("mis")`, true},
		{`jsonPayload.outcome=ends_with("mis")`, false},
		{`jsonPayload.outcome=has_substring("sma")`, true},
		{`jsonPayload.outcome=monitoring.regex.full_match("mis.*")`, true},
		{`jsonPayload.outcome=monitoring.regex.full_match("mis")`, false},
	}
	e := entry(t, line)
	for _, tt := range tests {
		f, err := logfilter.Parse(tt.filter)
		if err != nil {
			t.Errorf("Parse(%s): %v", tt.filter, err)
			continue
		}
		if got := f.Match(e); got != tt.want {
			t.Errorf("%s: Match = %v, want %v", tt.filter, got, tt.want)
		}
	}
}

func TestParseRejects(t *testing.T) {
	for _, f := range []string{
		``,
		`webhook`, // global text search is outside the subset
		`jsonPayload.message=`,
		`jsonPayload.message="unterminated`,
		`(jsonPayload.message="webhook"`,
		`jsonPayload.outcome=one_of(mismatch)`,
		`jsonPayload.outcome=sample("x")`,
		`jsonPayload.outcome=~"("`,
		`AND jsonPayload.status=401`,
		`jsonPayload.status=>401`,
		`sample(jsonPayload.event_id)`,
		`sample(jsonPayload.event_id, 1.5)`,
		`sample(jsonPayload.event_id, x)`,
		`sample("event_id", 0.5)`,
	} {
		if _, err := logfilter.Parse(f); !errors.Is(err, logfilter.ErrSyntax) {
			t.Errorf("Parse(%q) = %v, want ErrSyntax", f, err)
		}
	}
}

func TestFields(t *testing.T) {
	f, err := logfilter.Parse(`jsonPayload.b="x" AND (jsonPayload.a:* OR NOT jsonPayload.b=1)`)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := f.Fields(), []string{"jsonPayload.a", "jsonPayload.b"}; !slices.Equal(got, want) {
		t.Errorf("Fields = %v, want %v", got, want)
	}
}

func TestExtract(t *testing.T) {
	e := entry(t, `{"message":"event","outcome":"inserted:action_failed","lag_ms":1234,"step":"action:0:identify"}`)
	tests := []struct {
		extractor string
		want      string
		ok        bool
	}{
		{`EXTRACT(jsonPayload.outcome)`, "inserted:action_failed", true},
		{`EXTRACT(jsonPayload.lag_ms)`, "1234", true},
		{`EXTRACT(jsonPayload.nothing)`, "", false},
		{`REGEXP_EXTRACT(jsonPayload.step, "^action:[0-9]+:(.*)$")`, "identify", true},
		{`REGEXP_EXTRACT(jsonPayload.outcome, "^(dup.*)$")`, "", false},
	}
	for _, tt := range tests {
		got, ok, err := logfilter.Extract(tt.extractor, e)
		if err != nil || got != tt.want || ok != tt.ok {
			t.Errorf("Extract(%s) = %q, %v, %v; want %q, %v", tt.extractor, got, ok, err, tt.want, tt.ok)
		}
	}
	if _, _, err := logfilter.Extract(`jsonPayload.outcome`, e); !errors.Is(err, logfilter.ErrSyntax) {
		t.Errorf("bare path: err = %v, want ErrSyntax", err)
	}
	if got := logfilter.ExtractorField(`REGEXP_EXTRACT(jsonPayload.step, "(x)")`); got != "jsonPayload.step" {
		t.Errorf("ExtractorField = %q", got)
	}
}

// TestSample: the same value gets the same answer in every line, the
// fraction selected is the one asked for, and a line without the field is
// never in the sample.
func TestSample(t *testing.T) {
	f, err := logfilter.Parse(`jsonPayload.message="webhook" AND sample(jsonPayload.event_id, 0.25)`)
	if err != nil {
		t.Fatal(err)
	}
	g, err := logfilter.Parse(`sample(jsonPayload.event_id, 0.25)`)
	if err != nil {
		t.Fatal(err)
	}
	const n = 20000
	in := 0
	for i := range n {
		id := fmt.Sprintf("01JD%022d", i)
		a := entry(t, `{"severity":"INFO","message":"webhook","event_id":"`+id+`"}`)
		b := entry(t, `{"severity":"INFO","message":"event","outcome":"inserted","event_id":"`+id+`"}`)
		if f.Match(a) {
			in++
		}
		if f.Match(a) != g.Match(b) {
			t.Fatalf("%s: the two lines of one event sampled differently", id)
		}
	}
	if got := float64(in) / n; math.Abs(got-0.25) > 0.015 {
		t.Errorf("sample(…, 0.25) selected %.3f of %d values", got, n)
	}
	if g.Match(entry(t, `{"severity":"INFO","message":"webhook"}`)) {
		t.Error("a line without the field is in the sample")
	}
	for _, frac := range []string{"0", "1"} {
		h, err := logfilter.Parse(`sample(jsonPayload.event_id, ` + frac + `)`)
		if err != nil {
			t.Fatal(err)
		}
		if got := h.Match(entry(t, `{"event_id":"x"}`)); got != (frac == "1") {
			t.Errorf("sample(…, %s) = %v", frac, got)
		}
	}
}
