package forget

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/bigquery"
	"cloud.google.com/go/firestore"
	"google.golang.org/api/option"

	"github.com/cioevents/cioevents/shared/event"
	"github.com/cioevents/cioevents/shared/ledger"
	"github.com/cioevents/cioevents/shared/privacy"
	"github.com/cioevents/cioevents/shared/warehouse"
	"github.com/cioevents/cioevents/shared/warehouse/bqfake"
)

// clock is one settable time for the writer, the fake and forget.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// cloudFixture is a BigQuery fake holding, for jane@example.com: a row
// inserted long ago, a row from before inserted_at existed, a row received
// long ago but inserted a few minutes ago (a late dead-letter replay), an
// old and a recent rejected row; and one row of somebody else.
func cloudFixture(t *testing.T, pol *privacy.Policy, buffer time.Duration) (*bqfake.Server, *BigQuery, *clock) {
	t.Helper()
	ctx := context.Background()
	clk := &clock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	bq := bqfake.New(map[string]bigquery.Schema{
		"d.events": warehouse.EventsSchema(), "d.rejected_events": warehouse.RejectedSchema()})
	t.Cleanup(bq.Close)
	bq.Now, bq.StreamingBuffer = clk.now, buffer
	bq.RequirePartitionFilter("d.events", "event_time")
	opts := []option.ClientOption{option.WithEndpoint(bq.URL() + "/bigquery/v2/"), option.WithoutAuthentication()}
	w, err := warehouse.NewBigQuery(ctx, "p", "d", "events", "rejected_events", opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	w.Now = clk.now
	pw := &privacy.Writer{Next: w, Policy: pol}
	row := func(id, email string, received time.Time) warehouse.Row {
		ev, err := event.Parse([]byte(`{"event_id":"` + id + `","object_type":"email","metric":"delivered","timestamp":` +
			"1772000000" + `,"data":{"identifiers":{"email":"` + email + `"}}}`))
		if err != nil {
			t.Fatal(err)
		}
		return warehouse.FromEvent(ev, received, nil, "")
	}
	received := clk.now().Add(-3 * time.Hour)
	insert := func(r warehouse.Row) {
		if err := pw.InsertEvent(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	insert(row("old", "jane@example.com", received))
	insert(row("other", "john@example.com", received))
	if err := pw.InsertRejected(ctx, warehouse.NewRejected(received, "no_event_id", "",
		[]byte(`{"data":{"identifiers":{"email":"jane@example.com"}}}`), nil, "r-old")); err != nil {
		t.Fatal(err)
	}
	// Before inserted_at: a row streamed without the column.
	client, err := bigquery.NewClient(ctx, "p", opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	pre, _ := pol.Row(row("pre-column", "jane@example.com", received))
	b, _ := json.Marshal(pre)
	var m map[string]bigquery.Value
	json.Unmarshal(b, &m)
	delete(m, "inserted_at")
	m["raw"] = string(pre.Raw)
	if err := client.Dataset("d").Table("events").Inserter().Put(ctx, mapSaver(m)); err != nil {
		t.Fatal(err)
	}
	clk.add(100 * time.Minute)
	insert(row("replayed", "jane@example.com", received)) // received 3 h ago, inserted now
	if err := pw.InsertRejected(ctx, warehouse.NewRejected(clk.now(), "not_object", "",
		[]byte(`["jane@example.com"]`), nil, "r-new")); err != nil {
		t.Fatal(err)
	}
	if err := pw.InsertRejected(ctx, warehouse.NewRejected(clk.now(), "no_event_id", "",
		[]byte(`{"data":{"identifiers":{"email":"jane@example.com"},"x":1}}`), nil, "r-new2")); err != nil {
		t.Fatal(err)
	}
	clk.add(5 * time.Minute)
	return bq, &BigQuery{Client: client, Project: "p", Dataset: "d", EventsTable: "events",
		RejectedTable: "rejected_events", Now: clk.now}, clk
}

type mapSaver map[string]bigquery.Value

func (m mapSaver) Save() (map[string]bigquery.Value, string, error) { return m, "", nil }

func eventIDs(bq *bqfake.Server) []string {
	var out []string
	for _, r := range bq.Rows("d.events") {
		out = append(out, r["event_id"].(string))
	}
	return out
}

// TestBigQueryForgetByInsertTime: rows are settled by when they were
// inserted, not received; a row from before inserted_at counts as settled;
// recent events and rejected rows are counted as pending.
func TestBigQueryForgetByInsertTime(t *testing.T) {
	for _, spec := range []string{"", "email=hash"} {
		t.Run("CIO_PII="+spec, func(t *testing.T) {
			pol, err := privacy.Parse(spec, key)
			if err != nil {
				t.Fatal(err)
			}
			bq, b, _ := cloudFixture(t, pol, 30*time.Minute)
			res, err := b.Forget(context.Background(), Person{Email: "Jane@Example.com"}, pol)
			if err != nil {
				t.Fatal(err)
			}
			if got := strings.Join(res.EventIDs, ","); got != "old,pre-column" {
				t.Errorf("removed %q, want old,pre-column", got)
			}
			if res.Pending != 1 || res.Rejected != 1 || res.RejectedPending != 1 {
				t.Errorf("result %+v: want 1 pending events row, 1 rejected row removed, 1 pending", res)
			}
			if got := strings.Join(eventIDs(bq), ","); got != "other,replayed" {
				t.Errorf("left %q, want other,replayed", got)
			}
		})
	}
}

// TestBigQueryForgetStreamingBufferRefusal: BigQuery may keep rows in the
// buffer longer than forget's cutoff assumes; the refused DELETE is counted
// as pending and forget carries on to the rejected rows.
func TestBigQueryForgetStreamingBufferRefusal(t *testing.T) {
	pol, _ := privacy.Parse("", nil)
	bq, b, _ := cloudFixture(t, pol, 4*time.Hour)
	res, err := b.Forget(context.Background(), Person{Email: "jane@example.com"}, pol)
	if err != nil {
		t.Fatalf("forget stopped at the streaming buffer: %v", err)
	}
	if len(res.EventIDs) != 0 || res.Pending != 3 || res.RejectedPending != 2 || res.Rejected != 0 {
		t.Errorf("result %+v: want nothing removed, 3 events and 2 rejected rows pending", res)
	}
	if bq.DMLStatements() != 2 {
		t.Errorf("%d DELETEs run, want 2 (events, then rejected after the first was refused)", bq.DMLStatements())
	}
	if len(bq.Rows("d.events")) != 4 {
		t.Errorf("%d rows left, want all 4", len(bq.Rows("d.events")))
	}
}

func TestStatementsUseOnlyGivenIdentifiers(t *testing.T) {
	pol, _ := privacy.Parse("email=hash", key)
	b := &BigQuery{Project: "p", Dataset: "d", EventsTable: "events", RejectedTable: "rejected_events"}
	st := b.Statements(newMatcher(Person{Email: "jane@example.com"}, pol))
	for _, s := range st {
		if strings.Contains(s, "customer_id") || strings.Contains(s, "cio_id") {
			t.Errorf("an identifier not given is matched (empty values would match others): %s", s)
		}
		if !strings.Contains(s, settled) {
			t.Errorf("statement does not split by insert time: %s", s)
		}
	}
	for _, s := range st[:3] {
		if !strings.Contains(s, minTime) {
			t.Errorf("no partition filter: %s", s)
		}
	}
	m := newMatcher(Person{Email: "jane@example.com"}, pol)
	if len(m.emails) != 2 || !strings.HasPrefix(m.emails[1], "hmac:") {
		t.Errorf("hashed address not looked for: %v", m.emails)
	}
}

// TestCommandCloud runs forget against BigQuery (the fake) and Firestore
// (the emulator): the tombstone is written with no clear identifier, the
// removed events' ledger documents go, and the pending rows are reported
// with when to run again.
func TestCommandCloud(t *testing.T) {
	ctx := context.Background()
	pol, _ := privacy.Parse("email=hash", key)
	bq, b, clk := cloudFixture(t, pol, 30*time.Minute)
	fs, err := firestore.NewClient(ctx, "forget-cloud")
	if err != nil {
		t.Fatal(err)
	}
	defer fs.Close()
	coll := "ledger_cmd_" + strings.ReplaceAll(t.Name(), "/", "_")
	for _, id := range []string{"old", "pre-column", "replayed", "other"} {
		if _, err := fs.Collection(coll).Doc(ledger.DocID(id)).Set(ctx, map[string]any{"event_id": id}); err != nil {
			t.Fatal(err)
		}
	}
	env := map[string]string{privacy.EnvPolicy: "email=hash", privacy.EnvKey: string(key), "GOOGLE_CLOUD_PROJECT": "forget-cloud",
		"BIGQUERY_DATASET": b.Dataset, "LEDGER_COLLECTION": coll}
	var out strings.Builder
	err = Command(ctx, []string{"--email", "jane@example.com", "--project", "forget-cloud", "--dataset", "d"}, Env{
		Stdout: &out, Getenv: func(k string) string { return env[k] }, Now: clk.now,
		BigQueryOptions: []option.ClientOption{option.WithEndpoint(bq.URL() + "/bigquery/v2/"), option.WithoutAuthentication()}})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "removed 2 events rows, 1 rejected rows, 2 ledger documents") ||
		!strings.Contains(out.String(), "1 events rows and 1 rejected rows were inserted in the last") ||
		!strings.Contains(out.String(), "run forget again after 2026-03-01 15:15") {
		t.Errorf("output:\n%s", out.String())
	}
	docs, err := fs.Collection(coll).Documents(ctx).GetAll()
	if err != nil {
		t.Fatal(err)
	}
	var stones, kept []string
	for _, d := range docs {
		if strings.HasPrefix(d.Ref.ID, "_forgotten_") {
			stones = append(stones, d.Ref.ID)
			b, _ := json.Marshal(d.Data())
			if strings.Contains(d.Ref.ID+string(b), "jane") || strings.Contains(d.Ref.ID+string(b), "example") {
				t.Errorf("tombstone %s %s holds the address", d.Ref.ID, b)
			}
			continue
		}
		kept = append(kept, d.Data()["event_id"].(string))
	}
	if len(stones) != 1 || strings.Join(kept, ",") != "other,replayed" && strings.Join(kept, ",") != "replayed,other" {
		t.Errorf("tombstones %v, ledger documents left %v (want one tombstone; other and the pending replayed)", stones, kept)
	}
}
