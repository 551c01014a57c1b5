package warehouse_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/bigquery"
	"google.golang.org/api/googleapi"
	"google.golang.org/api/option"

	"github.com/cioevents/cioevents/shared/event"
	"github.com/cioevents/cioevents/shared/warehouse"
	"github.com/cioevents/cioevents/shared/warehouse/bqfake"
)

const (
	eventsTable   = "cio.events"
	rejectedTable = "cio.rejected_events"
)

var received = time.Date(2026, 1, 1, 0, 5, 0, 0, time.UTC)

// newBQ starts a fake holding both tables and a writer pointed at it.
func newBQ(t *testing.T) (*warehouse.BigQuery, *bqfake.Server) {
	t.Helper()
	srv := bqfake.New(map[string]bigquery.Schema{
		eventsTable:   warehouse.EventsSchema(),
		rejectedTable: warehouse.RejectedSchema(),
	})
	t.Cleanup(srv.Close)
	w, err := warehouse.NewBigQuery(t.Context(), "proj-test", "cio", "events", "rejected_events",
		option.WithEndpoint(srv.URL()+"/bigquery/v2/"), option.WithoutAuthentication())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	return w, srv
}

func fixtureRow(t testing.TB, name string) warehouse.Row {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", "events", name))
	if err != nil {
		t.Fatal(err)
	}
	ev, err := event.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	signed := received.Add(-time.Second)
	return warehouse.FromEvent(ev, received, &signed, "1234567")
}

func TestBigQueryInsertEvent(t *testing.T) {
	w, srv := newBQ(t)
	srv.DedupeWindow = time.Minute
	ctx := t.Context()
	r := fixtureRow(t, "campaign_bounce.json")
	if err := w.InsertEvent(ctx, r); err != nil {
		t.Fatal(err)
	}
	// The same event again, as after a crash between insert and ledger
	// record: the same insert ID, which BigQuery's window dedupes.
	if err := w.InsertEvent(ctx, r); err != nil {
		t.Fatal(err)
	}
	rows := srv.Rows(eventsTable)
	if len(rows) != 1 {
		t.Fatalf("%d rows, want 1 (inside the dedupe window)", len(rows))
	}
	if ids := srv.InsertIDs(eventsTable); ids[0] != r.Key() || !strings.HasPrefix(ids[0], event.KeyPrefix) {
		t.Errorf("insertId = %q, want the delivery identity %q", ids[0], r.Key())
	}
	if n := srv.Requests(eventsTable); n != 2 {
		t.Errorf("%d requests, want 2", n)
	}

	got := rows[0]
	want := map[string]any{
		"event_id":    r.EventID,
		"object_type": "email",
		"event_time":  "2026-01-01T00:00:00Z",
		"received_at": "2026-01-01T00:05:00Z",
		"signed_at":   "2026-01-01T00:04:59Z",
		"known_pair":  true,
		"campaign_id": json.Number("42"),
		"email":       "jane@example.com",
		"message_id":  "1234567",
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %#v, want %#v", k, got[k], v)
		}
	}
	// NULL columns are not sent at all.
	for _, k := range []string{"href", "link_id", "machine", "broadcast_id"} {
		if v, ok := got[k]; ok {
			t.Errorf("%s = %#v, want it absent (NULL)", k, v)
		}
	}
	// The JSON column travels as a string holding the body.
	if raw, _ := got["raw"].(string); raw != string(r.Raw) {
		t.Errorf("raw = %#v, want the body as a string", got["raw"])
	}
}

func TestBigQueryInsertRejected(t *testing.T) {
	w, srv := newBQ(t)
	srv.DedupeWindow = time.Minute
	ctx := t.Context()
	attrs := map[string]string{"oversized": "true", "event_id": "01X"}
	r := warehouse.NewRejected(received, "oversized", "01X", []byte("\xff\xfe not utf-8"), attrs, "m-42")
	for range 2 {
		if err := w.InsertRejected(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	rows := srv.Rows(rejectedTable)
	if len(rows) != 1 {
		t.Fatalf("%d rows, want 1", len(rows))
	}
	if id := srv.InsertIDs(rejectedTable)[0]; id != r.InsertID() || r.InsertID() != warehouse.NewRejected(received.Add(time.Hour), "other", "01X", nil, nil, "m-43").InsertID() {
		t.Errorf("insertId = %q, want %q", id, r.InsertID())
	}
	if body := rows[0]["body"].(string); !strings.HasPrefix(body, warehouse.Base64Prefix) {
		t.Errorf("body = %q, want base64", body)
	}
	var gotAttrs map[string]string
	if err := json.Unmarshal([]byte(rows[0]["attributes"].(string)), &gotAttrs); err != nil || gotAttrs["oversized"] != "true" {
		t.Errorf("attributes = %#v (%v)", rows[0]["attributes"], err)
	}

	// No attributes: NULL, not "null" text.
	r2 := warehouse.NewRejected(received, "not_object", "", []byte(`[1]`), nil, "")
	if err := w.InsertRejected(ctx, r2); err != nil {
		t.Fatal(err)
	}
	rows = srv.Rows(rejectedTable)
	if _, ok := rows[1]["attributes"]; ok {
		t.Errorf("attributes = %#v, want absent", rows[1]["attributes"])
	}
}

func TestBigQueryErrors(t *testing.T) {
	tests := []struct {
		name      string
		setup     func(srv *bqfake.Server)
		timeout   time.Duration
		permanent bool
		status    int // the googleapi status inside the error, 0 if none
		msg       string
		requests  int // insertAll requests the client made, 0 to not check
	}{
		{"insertErrors invalid", func(s *bqfake.Server) { s.InsertErrorNext(1, "invalid") }, 0, true, 0, "invalid", 1},
		{"insertErrors backendError", func(s *bqfake.Server) { s.InsertErrorNext(1, "backendError") }, 0, false, 0, "backendError", 1},
		{"insertErrors timeout", func(s *bqfake.Server) { s.InsertErrorNext(1, "timeout") }, 0, false, 0, "timeout", 1},
		{"insertErrors stopped", func(s *bqfake.Server) { s.InsertErrorNext(1, "stopped") }, 0, false, 0, "stopped", 1},
		// Not retried by the client: a misconfiguration to fix, then redeliver.
		{"404 notFound", func(s *bqfake.Server) { s.FailNext(1, 404) }, 0, false, 404, "HTTP 404 notFound", 1},
		{"403 accessDenied", func(s *bqfake.Server) { s.FailNext(1, 403) }, 0, false, 403, "HTTP 403 accessDenied", 1},
		{"400 invalid request", func(s *bqfake.Server) { s.FailNext(1, 400) }, 0, false, 400, "HTTP 400 invalid", 1},
		// The client retries 503 itself until the context ends.
		{"503 backendError until deadline", func(s *bqfake.Server) { s.FailNext(1000, 503) }, 1500 * time.Millisecond, false, 503, "HTTP 503 backendError", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w, srv := newBQ(t)
			tt.setup(srv)
			ctx := t.Context()
			if tt.timeout > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, tt.timeout)
				defer cancel()
			}
			r := fixtureRow(t, "campaign_bounce.json")
			err := w.InsertEvent(ctx, r)
			if err == nil {
				t.Fatal("InsertEvent succeeded")
			}
			if got := warehouse.IsPermanent(err); got != tt.permanent {
				t.Errorf("IsPermanent(%v) = %v, want %v", err, got, tt.permanent)
			}
			if !strings.Contains(err.Error(), tt.msg) || !strings.Contains(err.Error(), r.Key()) {
				t.Errorf("error %q lacks %q or the insert ID", err, tt.msg)
			}
			if strings.Contains(err.Error(), "jane@example.com") || strings.Contains(err.Error(), "statement") {
				t.Errorf("error quotes the row: %q", err)
			}
			var gerr *googleapi.Error
			if tt.status != 0 && (!errors.As(err, &gerr) || gerr.Code != tt.status) {
				t.Errorf("errors.As googleapi.Error: %v, want code %d", gerr, tt.status)
			}
			if tt.requests != 0 && srv.Requests(eventsTable) != tt.requests {
				t.Errorf("%d requests, want %d", srv.Requests(eventsTable), tt.requests)
			}
			if len(srv.Rows(eventsTable)) != 0 {
				t.Error("a row was stored")
			}
			t.Logf("%d request(s); error: %v", srv.Requests(eventsTable), err)
		})
	}
}

// TestBigQueryRetries503 shows the client's own retry: one 503 backendError,
// then success, lands the row with two requests and no error.
func TestBigQueryRetries503(t *testing.T) {
	w, srv := newBQ(t)
	srv.FailNext(1, 503)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if err := w.InsertEvent(ctx, fixtureRow(t, "transactional_click.json")); err != nil {
		t.Fatal(err)
	}
	if n, rows := srv.Requests(eventsTable), len(srv.Rows(eventsTable)); n != 2 || rows != 1 {
		t.Errorf("%d requests, %d rows; want 2 and 1", n, rows)
	}
}

func TestBigQueryInvalidRowNeverSent(t *testing.T) {
	w, srv := newBQ(t)
	r := fixtureRow(t, "campaign_bounce.json")
	r.Raw = json.RawMessage(`not json`)
	if err := w.InsertEvent(t.Context(), r); !warehouse.IsPermanent(err) {
		t.Fatalf("InsertEvent = %v, want permanent", err)
	}
	if err := w.InsertRejected(t.Context(), warehouse.Rejected{ReceivedAt: received}); !warehouse.IsPermanent(err) {
		t.Fatalf("InsertRejected without reason = %v, want permanent", err)
	}
	if srv.Requests(eventsTable)+srv.Requests(rejectedTable) != 0 {
		t.Error("an invalid row reached BigQuery")
	}
}

// TestBigQuerySchemaMismatch stands for a deployed table whose schema
// disagrees with the Go definition: the fake refuses the row like BigQuery,
// and the writer reports it with the column named — as permanent when the
// row itself is wrong for the column, as retryable when the column is
// missing ("no such field"), which is what a row meets while a column that
// `terraform apply` just added reaches the streaming backend, and what an
// apply still to come will fix.
func TestBigQuerySchemaMismatch(t *testing.T) {
	tests := []struct {
		name      string
		alter     func(s bigquery.Schema)
		column    string
		permanent bool
	}{
		{"campaign_id is BOOLEAN", func(s bigquery.Schema) { field(s, "campaign_id").Type = bigquery.BooleanFieldType }, "campaign_id", true},
		{"known_pair is STRING", func(s bigquery.Schema) { field(s, "known_pair").Type = bigquery.StringFieldType }, "known_pair", true},
		{"href is REQUIRED", func(s bigquery.Schema) { field(s, "href").Required = true }, "href", true},
		{"email column missing", func(s bigquery.Schema) { field(s, "email").Name = "email_address" }, "email", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			schema := warehouse.EventsSchema()
			tt.alter(schema)
			srv := bqfake.New(map[string]bigquery.Schema{eventsTable: schema})
			defer srv.Close()
			w, err := warehouse.NewBigQuery(t.Context(), "p", "cio", "events", "rejected_events",
				option.WithEndpoint(srv.URL()+"/bigquery/v2/"), option.WithoutAuthentication())
			if err != nil {
				t.Fatal(err)
			}
			defer w.Close()
			err = w.InsertEvent(t.Context(), fixtureRow(t, "campaign_bounce.json"))
			if err == nil || warehouse.IsPermanent(err) != tt.permanent || !strings.Contains(err.Error(), "invalid at "+tt.column) {
				t.Errorf("InsertEvent = %v, want invalid at %s, permanent %v", err, tt.column, tt.permanent)
			}
		})
	}
}

func field(s bigquery.Schema, name string) *bigquery.FieldSchema {
	for _, f := range s {
		if f.Name == name {
			return f
		}
	}
	panic("no column " + name)
}

func TestNewBigQueryArgs(t *testing.T) {
	_, err := warehouse.NewBigQuery(t.Context(), "p", "", "events", "rejected", option.WithoutAuthentication())
	if err == nil || !strings.Contains(err.Error(), "dataset") {
		t.Errorf("NewBigQuery with no dataset = %v", err)
	}
}
