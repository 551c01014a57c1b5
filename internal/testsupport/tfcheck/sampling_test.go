package tfcheck_test

import (
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/cioevents/cioevents/internal/testsupport/logfilter"
	"github.com/cioevents/cioevents/internal/testsupport/tfcheck"
)

// withEventID returns a copy of entry whose jsonPayload.event_id is id.
func withEventID(entry map[string]any, id string) map[string]any {
	e := maps.Clone(entry)
	p := maps.Clone(entry["jsonPayload"].(map[string]any))
	p["event_id"] = id
	e["jsonPayload"] = p
	return e
}

// successOutcomes are the only outcomes whose lines may go unstored.
var successOutcomes = []string{"accepted", "inserted", "duplicate"}

// TestSampledSuccessLines sets log_sample_success to 0.1 and runs the
// exclusion filter Terraform builds over the lines both functions really
// write, each under 4,000 event IDs: only INFO success lines are ever
// dropped, about 90 % of them, the receiver and processor lines of one
// event together; and every log-based metric is project-scoped, so it still
// counts the dropped lines.
func TestSampledSuccessLines(t *testing.T) {
	dir := copyModule(t)
	applyEdit(t, dir, edit{"monitoring_variables.tf", "  default     = 1\n\n  validation {\n    condition     = var.log_sample_success",
		"  default     = 0.1\n\n  validation {\n    condition     = var.log_sample_success", 1})
	m, err := tfcheck.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if n, err := m.ResourceAttr("google_logging_project_exclusion", "sampled_success", "count"); err != nil || n.AsBigFloat().String() != "1" {
		t.Fatalf("exclusion count at 0.1 = %v (%v), want 1", n, err)
	}
	src, err := m.ResourceAttr("google_logging_project_exclusion", "sampled_success", "filter")
	if err != nil {
		t.Fatal(err)
	}
	f, err := logfilter.Parse(src.AsString())
	if err != nil {
		t.Fatal(err)
	}

	lines := slices.Concat(receiverLines(t), processorLines(t), outOfBandLines(t))
	const ids = 4000
	dropped := map[string]int{}
	fates := map[string]map[string]bool{} // event ID → line key → dropped
	for _, l := range lines {
		_, hasID := logfilter.Lookup(l.entry, "jsonPayload.event_id")
		n := 1
		if hasID {
			n = ids
		}
		for i := range n {
			e := l.entry
			id := fmt.Sprintf("01JDQ%021d", i)
			if hasID {
				e = withEventID(l.entry, id)
			}
			if !f.Match(e) {
				continue
			}
			dropped[l.key]++
			sev, _ := logfilter.Lookup(e, "severity")
			outcome, _ := logfilter.Lookup(e, "jsonPayload.outcome")
			if sev != "INFO" || !slices.Contains(successOutcomes, fmt.Sprint(outcome)) {
				t.Fatalf("%s (severity %v, outcome %v) is not stored: only INFO success lines may be sampled", l.key, sev, outcome)
			}
			if fates[id] == nil {
				fates[id] = map[string]bool{}
			}
			fates[id][l.key] = true
		}
	}
	for _, key := range []string{"accepted/webhook", "inserted/event", "duplicate/event"} {
		if got := float64(dropped[key]) / ids; math.Abs(got-0.9) > 0.03 {
			t.Errorf("%s: %.3f of the lines dropped, want about 0.9", key, got)
		}
	}
	for _, key := range []string{"accepted_unknown/webhook", "accepted_invalid/webhook", "rejected/event", "retry_row/event", "identify/action"} {
		if dropped[key] > 0 {
			t.Errorf("%s: %d lines dropped, want none", key, dropped[key])
		}
	}
	for id, keys := range fates {
		if keys["accepted/webhook"] != keys["inserted/event"] {
			t.Fatalf("event %s: receiver line dropped %v, processor line dropped %v: one event's lines must share a fate",
				id, keys["accepted/webhook"], keys["inserted/event"])
		}
	}

	// Exact metrics: a bucket-scoped metric sees only what is stored.
	for _, name := range m.Resources("google_logging_metric") {
		if _, err := m.ResourceAttr("google_logging_metric", name, "bucket_name"); err == nil {
			t.Errorf("google_logging_metric.%s is bucket-scoped: it would not count the sampled-out lines", name)
		}
	}
}

// TestSampledSuccessOffByDefault: at the default of 1 no exclusion exists.
func TestSampledSuccessOffByDefault(t *testing.T) {
	m, err := tfcheck.Load(moduleDir)
	if err != nil {
		t.Fatal(err)
	}
	n, err := m.ResourceAttr("google_logging_project_exclusion", "sampled_success", "count")
	if err != nil || n.AsBigFloat().String() != "0" {
		t.Fatalf("exclusion count at the default = %v (%v), want 0", n, err)
	}
}

// logLineBudget bounds every request's log line: at 50,000 events/s each
// byte of a line is ~4 GiB a day.
const logLineBudget = 512

// TestLogBytesPerOutcome measures the lines the real handlers write, per
// outcome (go test -run TestLogBytesPerOutcome -v ./internal/testsupport/tfcheck prints
// them), holds each to logLineBudget, and checks every request and
// delivery writes one line (plus one per Track API call). stored is the LogEntry as Cloud
// Logging keeps it, without the fields it adds itself (logName, insertId,
// receiveTimestamp, resource labels beyond the service name).
func TestLogBytesPerOutcome(t *testing.T) {
	lines := slices.Concat(receiverLines(t), processorLines(t))
	var b strings.Builder
	fmt.Fprintf(&b, "%-32s %6s %6s\n", "line", "stdout", "stored")
	for _, l := range lines {
		stored, err := json.Marshal(l.entry)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, "%-32s %6d %6d\n", l.key, l.size, len(stored))
		if l.size > logLineBudget {
			t.Errorf("%s: %d bytes, over the %d-byte budget", l.key, l.size, logLineBudget)
		}
	}
	t.Log("\n" + b.String())

	// One line per request or delivery, plus one per Track API call.
	perCase := map[string]map[string]int{}
	for _, l := range lines {
		c, msg, _ := strings.Cut(l.key, "/")
		if perCase[c] == nil {
			perCase[c] = map[string]int{}
		}
		perCase[c][msg]++
	}
	for c, n := range perCase {
		if n["webhook"]+n["event"] != 1 || len(n) > 1+min(n["action"], 1) {
			t.Errorf("case %s wrote %v, want one webhook or event line and one line per Track call", c, n)
		}
	}
}
