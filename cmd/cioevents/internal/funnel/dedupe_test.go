package funnel

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cioevents/cioevents/shared/warehouse"
)

func TestDedupe(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	str := func(s string) *string { return &s }
	row := func(id, delivery, metric, source string, at time.Time, received int) warehouse.Row {
		r := warehouse.Row{EventID: id, Metric: metric, EventTime: at, ReceivedAt: t0.Add(time.Duration(received) * time.Hour)}
		if delivery != "" {
			r.DeliveryID = str(delivery)
		}
		if source != "" {
			r.Source = str(source)
		}
		return r
	}
	rows := []warehouse.Row{
		row("backfill-1", "D1", "bounced", "backfill", t0, 1),
		row("01WEBHOOK", "D1", "bounced", "webhook", t0, 2), // same occurrence: the webhook's row wins
		row("01CLICK1", "D1", "clicked", "webhook", t0, 1),
		row("01CLICK2", "D1", "clicked", "webhook", t0.Add(time.Minute), 1), // another click
		row("01CUST", "", "unsubscribed", "", t0, 1),
		row("01CUST", "", "unsubscribed", "", t0, 3), // a redelivery
		row("01OTHER", "", "unsubscribed", "", t0, 1),
	}
	got := Dedupe(rows)
	var ids []string
	for _, r := range got {
		ids = append(ids, r.EventID)
	}
	if want := "01WEBHOOK 01CLICK1 01CLICK2 01CUST 01OTHER"; strings.Join(ids, " ") != want {
		t.Errorf("kept %v, want %s", ids, want)
	}
	if !got[3].ReceivedAt.Equal(t0.Add(time.Hour)) {
		t.Errorf("kept the later redelivery of 01CUST")
	}
}

// events_deduped is created from its generated template, which reads the
// events table through the one placeholder bigquery.tf fills in.
func TestDedupedTerraform(t *testing.T) {
	tf, err := os.ReadFile(filepath.Join("..", "..", "..", "..", "terraform", "modules", "cioevents", "bigquery.tf"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(tf), `templatefile("${path.module}/views/`+DedupedFile+`"`) {
		t.Errorf("bigquery.tf does not create events_deduped from views/%s", DedupedFile)
	}
	rest := strings.ReplaceAll(DedupedSQL(), eventsVar, "")
	if strings.Contains(rest, "${") || strings.Contains(rest, "%{") {
		t.Errorf("events_deduped template uses a placeholder bigquery.tf does not fill")
	}
	for _, col := range []string{"event_time", "delivery_id", "metric", "event_id", "source", "received_at"} {
		if !strings.Contains(DedupedSQL(), col) {
			t.Errorf("events_deduped does not read %s", col)
		}
	}
}
