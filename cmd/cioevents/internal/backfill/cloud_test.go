package backfill_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/bigquery"
	"google.golang.org/api/option"

	"github.com/cioevents/cioevents/cmd/cioevents/internal/backfill"
	"github.com/cioevents/cioevents/internal/testsupport/emulator"
	"github.com/cioevents/cioevents/shared/actions/trackfake"
	"github.com/cioevents/cioevents/shared/event"
	"github.com/cioevents/cioevents/shared/warehouse"
	"github.com/cioevents/cioevents/shared/warehouse/bqfake"
)

func TestMain(m *testing.M) { emulator.Main(m, emulator.Firestore) }

// newBigQuery starts the BigQuery fake with the two tables, events
// requiring its partition filter as deployed, and a writer into it.
func newBigQuery(t *testing.T) (*bqfake.Server, []option.ClientOption, *warehouse.BigQuery) {
	t.Helper()
	bq := bqfake.New(map[string]bigquery.Schema{
		"cioevents.events": warehouse.EventsSchema(), "cioevents.rejected_events": warehouse.RejectedSchema()})
	t.Cleanup(bq.Close)
	bq.RequirePartitionFilter("cioevents.events", "event_time")
	opts := []option.ClientOption{option.WithEndpoint(bq.URL() + "/bigquery/v2/"), option.WithoutAuthentication()}
	w, err := warehouse.NewBigQuery(context.Background(), "proj", "cioevents", "events", "rejected_events", opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	return bq, opts, w
}

// TestProductionPath runs the command as the Cloud Run job does: the
// reconciliation query against BigQuery (the fake, which enforces the
// table's partition filter), the Firestore emulator as the ledger, and rows
// streamed into BigQuery and checked against the schema.
func TestProductionPath(t *testing.T) {
	fake, ds := newFake(t, 500, 21)
	want := wantPairs(ds)
	bq, bqOpts, w := newBigQuery(t)

	// Webhooks stored some pairs before the outage.
	webhooks := map[string]bool{}
	for i, d := range ds {
		ts, ok := d.Metrics["sent"]
		if i%3 != 0 || !ok {
			continue
		}
		body := fmt.Sprintf(`{"event_id":"01WEBHOOK%017d","object_type":%q,"metric":"sent","timestamp":%d,"data":{"delivery_id":%q}}`,
			i, backfill.ObjectType(d.Type), ts, d.ID)
		ev, err := event.Parse([]byte(body))
		if err != nil {
			t.Fatal(err)
		}
		if err := w.InsertEvent(context.Background(), warehouse.FromEvent(ev, clock(), nil, "m")); err != nil {
			t.Fatal(err)
		}
		webhooks[pair(d.ID, "sent")] = true
	}

	env := backfill.Env{BigQueryOptions: bqOpts, Getenv: func(k string) string {
		return map[string]string{
			backfill.EnvAppAPIKey: appKey, "GOOGLE_CLOUD_PROJECT": "proj",
			"LEDGER_COLLECTION":       fmt.Sprintf("backfill_test_%d", time.Now().UnixNano()),
			"FIRESTORE_EMULATOR_HOST": os.Getenv("FIRESTORE_EMULATOR_HOST"),
		}[k]
	}}
	dir := t.TempDir() // the checkpoint's directory
	args := append([]string{"--checkpoint", dir + "/cp.json"}, span...)

	r := run(context.Background(), fake, env, append([]string{"--dry-run"}, args...)...)
	if r.err != nil {
		t.Fatalf("dry run: %v\n%s", r.err, r.stderr)
	}
	if cio, wh, missing := totals(t, r.stdout); cio != len(want) || wh != len(webhooks) || missing != cio-wh {
		t.Errorf("dry run totals %d/%d/%d, want %d/%d/%d", cio, wh, missing, len(want), len(webhooks), len(want)-len(webhooks))
	}
	if n := len(bq.Rows("cioevents.events")); n != len(webhooks) {
		t.Errorf("the dry run wrote: %d rows", n)
	}

	r = run(context.Background(), fake, env, args...)
	if r.err != nil {
		t.Fatalf("backfill: %v\n%s", r.err, r.stderr)
	}
	got := map[string]int{}
	for _, row := range bq.Rows("cioevents.events") {
		p := pair(row["delivery_id"].(string), row["metric"].(string))
		got[p]++
		if src := row["source"]; (src == warehouse.SourceWebhook) != webhooks[p] || (src != warehouse.SourceWebhook && src != warehouse.SourceBackfill) {
			t.Errorf("%s: source %v", p, src)
		}
	}
	for p := range want {
		if got[p] != 1 {
			t.Errorf("%s: %d rows, want 1", p, got[p])
		}
	}
	if n := len(bq.Rows("cioevents.events")); n != len(want) {
		t.Errorf("%d rows, want %d", n, len(want))
	}

	r = run(context.Background(), fake, env, args...)
	if r.err != nil || !strings.Contains(r.stdout, " 0 added") {
		t.Errorf("second run: %v %s", r.err, r.stdout)
	}
	if n := len(bq.Rows("cioevents.events")); n != len(want) {
		t.Errorf("second run: %d rows, want %d", n, len(want))
	}
	if q := bq.Queries(); q != 3 {
		t.Errorf("%d reconciliation queries for three runs, want 3", q)
	}
}

// With --apply-actions, a run for workspace shop acts with shop's Track
// credentials (CIO_WORKSPACE_CREDENTIALS), never the default workspace's,
// and its rows say shop.
func TestApplyActionsInTheRunsWorkspace(t *testing.T) {
	fake, _ := newFake(t, 60, 22)
	track := trackfake.New("site-shop", "key-shop")
	defer track.Close()
	track.Accept("site-default", "key-default")
	bq, bqOpts, w := newBigQuery(t)
	// One webhook row of another delivery: the table a deployment has (the
	// fake cannot answer a reconciliation query that finds no row).
	ev, err := event.Parse([]byte(fmt.Sprintf(`{"event_id":"01WEBHOOK","object_type":"email","metric":"sent","timestamp":%d,"data":{"delivery_id":"other"}}`,
		from.Add(time.Hour).Unix())))
	if err != nil {
		t.Fatal(err)
	}
	if err := w.InsertEvent(context.Background(), warehouse.FromEvent(ev, clock(), nil, "m")); err != nil {
		t.Fatal(err)
	}
	env := backfill.Env{TrackURL: track.URL(), BigQueryOptions: bqOpts,
		Getenv: func(k string) string {
			return map[string]string{
				backfill.EnvAppAPIKey: appKey, "GOOGLE_CLOUD_PROJECT": "proj",
				"LEDGER_COLLECTION":         fmt.Sprintf("backfill_ws_test_%d", time.Now().UnixNano()),
				"FIRESTORE_EMULATOR_HOST":   os.Getenv("FIRESTORE_EMULATOR_HOST"),
				"CIO_SITE_ID":               "site-default",
				"CIO_TRACK_API_KEY":         "key-default",
				"CIO_WORKSPACE_CREDENTIALS": "shop=site-shop:key-shop",
				"CIO_RATE_LIMIT":            "100",
			}[k]
		}}
	args := append([]string{"--checkpoint", t.TempDir() + "/cp.json", "--apply-actions", "--workspace", "shop"}, span...)
	if r := run(context.Background(), fake, env, args...); r.err != nil {
		t.Fatalf("backfill: %v\n%s", r.err, r.stderr)
	}
	calls := track.Calls()
	if len(calls) == 0 {
		t.Fatal("no Track call (the default policy identifies on email opens, clicks and bounces)")
	}
	for _, c := range calls {
		if c.SiteID != "site-shop" || c.Status != 200 {
			t.Errorf("%s %s with site %s: %d, want shop's credentials", c.Method, c.Path, c.SiteID, c.Status)
		}
	}
	rows := bq.Rows("cioevents.events")
	if len(rows) < 2 {
		t.Fatal("no backfilled rows")
	}
	for _, row := range rows {
		if row["delivery_id"] != "other" && row["workspace"] != "shop" {
			t.Errorf("%v %v: workspace %v, want shop", row["delivery_id"], row["metric"], row["workspace"])
		}
	}
}
