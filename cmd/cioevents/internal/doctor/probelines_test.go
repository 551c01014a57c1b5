package doctor

import (
	"bytes"
	"flag"
	"os"
	"testing"
)

var update = flag.Bool("update", false, "rewrite "+ProbeLinesFile)

// ProbeLinesFile holds the lines `doctor --cloud --json` writes for a run
// with a passing, a failed, a critical, an unknown and a skipped check. The
// scheduled probe's log-based metric and alert are checked against it
// (internal/testsupport/tfcheck), which cannot import this package.
const ProbeLinesFile = "testdata/probe-lines.ndjson"

// TestProbeLines keeps ProbeLinesFile what Report.JSON writes, with the real
// check names; `go test ./cmd/cioevents/internal/doctor -run ProbeLines
// -update` rewrites it.
func TestProbeLines(t *testing.T) {
	rep := Report{Checks: []Check{
		{Name: nameClosed, Status: Critical, Measured: "fails open: an unsigned POST got 200", Runbook: runbookFailsOpen},
		{Name: nameProbe, Status: Unknown, Measured: "accepted 200 in 80 ms; could not look for its row in p.cioevents.events: 403",
			Cause: "doctor's credentials cannot query the table, so whether the probe landed is not known", Runbook: runbookProbeUnknown},
		{Name: nameViews + " events_deduped", Status: Pass, Measured: "dry run with its partition filter succeeded"},
		{Name: namePubSub, Status: Fail, Measured: "subscription cioevents-processor-push does not exist in project p", Runbook: runbookPubSub},
		{Name: nameStuck, Status: Unknown, Measured: "no oldest_unacked_message_age data for cioevents-processor-push in the last 10m0s, and the subscription was not confirmed to exist", Runbook: runbookBacklogUnknown},
		{Name: nameDLQ, Status: Fail, Measured: "3 messages waiting in cioevents-events-dead-letter", Runbook: runbookDeadLetters},
		{Name: nameCustomer, Status: Skip, Measured: "CIO_APP_API_KEY is not set"},
	}}
	rep.OK = false
	var b bytes.Buffer
	if err := rep.JSON(&b); err != nil {
		t.Fatal(err)
	}
	if *update {
		if err := os.WriteFile(ProbeLinesFile, b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(ProbeLinesFile)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, b.Bytes()) {
		t.Errorf("%s differs from what doctor writes; rerun with -update:\n%s", ProbeLinesFile, b.String())
	}
}
