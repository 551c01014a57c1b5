package doctor

import (
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
