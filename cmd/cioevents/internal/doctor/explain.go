package doctor

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/cioevents/cioevents/cmd/cioevents/internal/cloudlogs"
)

// logLookback is how far before the probe the processor's lines are read: a
// lost permission fails every delivery, not only the probe's.
const logLookback = 15 * time.Minute

// explainFromLogs replaces "did not land" with what the processor's latest
// warning or error line says.
func explainFromLogs(ctx context.Context, o Options, sent time.Time, c *Check) {
	entries, err := o.Logs.Problems(ctx, o.Project, o.ProcessorService, sent.Add(-logLookback), 20)
	if err != nil {
		c.Cause += fmt.Sprintf(" (its logs could not be read: %v)", err)
		return
	}
	for _, e := range entries {
		cause, runbook, ok := Explain(e)
		if !ok {
			continue
		}
		c.Cause, c.Runbook = cause, runbook
		return
	}
	c.Cause += fmt.Sprintf(" (no WARNING or ERROR line from %s since %s)", o.ProcessorService, sent.Add(-logLookback).UTC().Format(time.RFC3339))
}

func field(e cloudlogs.Entry, k string) string {
	s, _ := e.Payload[k].(string)
	return s
}

// Explain turns one processor log line into a likely cause and runbook;
// ok is false for a line that says nothing about failing deliveries.
func Explain(e cloudlogs.Entry) (cause, runbook string, ok bool) {
	msg, errText, step := field(e, "message"), field(e, "error"), field(e, "step")
	if errText == "" && e.Severity != "ERROR" && e.Severity != "CRITICAL" {
		return "", "", false
	}
	quote := fmt.Sprintf("the processor logged at %s (%s)", e.Time.UTC().Format(time.RFC3339), e.Severity)
	if step != "" {
		quote += " at step " + step
	}
	quote += ": " + firstNonEmpty(errText, msg)
	insert := step == "row" || step == "rejected" || strings.Contains(errText, "warehouse: insert")
	switch {
	case insert && (strings.Contains(errText, "403") || strings.Contains(errText, "accessDenied")):
		return quote + " → BigQuery refuses the insert: the processor's service account lacks bigquery.tables.updateData on the events table " +
			"(roles/bigquery.dataEditor on the dataset; terraform apply restores the grant)", runbookInsert, true
	case insert && (strings.Contains(errText, "404") || strings.Contains(errText, "notFound")):
		return quote + " → the events table or dataset is missing or renamed: terraform apply restores it", runbookInsert, true
	case insert:
		return quote + " → BigQuery inserts fail", runbookInsert, true
	case field(e, "cause") == "track_credentials":
		return quote + " → Customer.io refuses the Track API credentials", runbookTrack, true
	case strings.Contains(errText, "PermissionDenied") || strings.Contains(errText, "permission"):
		return quote + " → the processor's service account lacks a permission it needs (Firestore: roles/datastore.user)", runbookFunctions, true
	}
	return quote, runbookFunctions, true
}

func firstNonEmpty(vs ...string) string {
	for _, v := range vs {
		if v != "" {
			return v
		}
	}
	return ""
}
