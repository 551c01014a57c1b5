package doctor

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cioevents/cioevents/cmd/cioevents/internal/cloudlogs"
)

func TestExplain(t *testing.T) {
	at := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	line := func(sev string, kv ...string) cloudlogs.Entry {
		p := map[string]any{}
		for i := 0; i+1 < len(kv); i += 2 {
			p[kv[i]] = kv[i+1]
		}
		return cloudlogs.Entry{Time: at, Severity: sev, Payload: p}
	}
	for _, c := range []struct {
		name    string
		e       cloudlogs.Entry
		want    string // in the cause; "" means not an explanation
		runbook string
	}{
		{"insert 403", line("WARNING", "message", "event", "step", "row",
			"error", "retry at row: warehouse: insert into d.events (insert ID x): HTTP 403 accessDenied"),
			"lacks bigquery.tables.updateData", runbookInsert},
		{"table missing", line("WARNING", "message", "event", "step", "row",
			"error", "retry at row: warehouse: insert into d.events (insert ID x): HTTP 404 notFound"),
			"table or dataset is missing", runbookInsert},
		{"track key", line("ERROR", "message", "event", "cause", "track_credentials", "error", "401 from Track"),
			"refuses the Track API credentials", runbookTrack},
		{"ledger permission", line("WARNING", "message", "event", "step", "claim", "error", "rpc error: code = PermissionDenied"),
			"roles/datastore.user", runbookFunctions},
		{"an ordinary line", line("INFO", "message", "event", "outcome", "inserted"), "", ""},
		{"a warning without an error", line("WARNING", "message", "lease not released"), "", ""},
	} {
		cause, runbook, ok := Explain(c.e)
		if ok != (c.want != "") || !strings.Contains(cause, c.want) || runbook != c.runbook {
			t.Errorf("%s: Explain = %q, %q, %v; want a cause with %q and runbook %q", c.name, cause, runbook, ok, c.want, c.runbook)
		}
	}
}

// Every runbook a failure links exists, and so does the section it names.
func TestRunbooksExist(t *testing.T) {
	for _, rb := range []string{runbookFailsOpen, runbookReceiverDown, runbookProbeLost, runbookKey, runbookInsert,
		runbookViews, runbookBacklog, runbookDeadLetters, runbookCustomer, runbookTrack, runbookFunctions, runbookPubSub,
		runbookProbeUnknown, runbookViewsUnknown, runbookBacklogUnknown, runbookDLQUnknown, runbookCustomerUnknown,
		runbookPubSubUnknown} {
		path, anchor, _ := strings.Cut(rb, "#")
		b, err := os.ReadFile(filepath.Join("../../../..", path))
		if err != nil {
			t.Errorf("runbook %s: %v", rb, err)
			continue
		}
		if anchor == "" {
			continue
		}
		found := false
		for _, line := range strings.Split(string(b), "\n") {
			if h, ok := strings.CutPrefix(line, "## "); ok && strings.ReplaceAll(strings.ToLower(h), " ", "-") == anchor {
				found = true
			}
		}
		if !found {
			t.Errorf("runbook %s: no section %q", path, anchor)
		}
	}
}
