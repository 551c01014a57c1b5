package report_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	"google.golang.org/api/option"

	"github.com/cioevents/cioevents/cmd/cioevents/internal/funnel"
	"github.com/cioevents/cioevents/cmd/cioevents/internal/report"
)

// bigQueryDouble answers jobs.query for the report's three queries the way
// BigQuery would answer the generated SQL: it recognises the SQL text, reads
// the @from/@until parameters and returns funnel.Evaluate's rows in the
// jobs.query wire format (typed schema, string cells, NULLs). It checks the
// transport: SQL and parameters sent, every column type decoded. The SQL's
// meaning in BigQuery itself cannot be run here (no BigQuery, and bqfake
// evaluates only plain SELECT ... WHERE); see docs/report.md.
type bigQueryDouble struct {
	t     *testing.T
	local *report.Local
	table string
	mu    sync.Mutex
	seen  []funnel.Range
}

func dimType(name string) string {
	switch name {
	case "day":
		return "DATE"
	case "campaign_id", "broadcast_id", "newsletter_id", "action_id":
		return "INTEGER"
	}
	return "STRING"
}

func (d *bigQueryDouble) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Query           string
		UseLegacySQL    *bool `json:"useLegacySql"`
		QueryParameters []struct {
			Name           string
			ParameterType  struct{ Type string }
			ParameterValue struct{ Value string }
		}
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil || req.UseLegacySQL == nil || *req.UseLegacySQL {
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	var rg funnel.Range
	for _, p := range req.QueryParameters {
		ts, err := time.Parse("2006-01-02 15:04:05.999999-07:00", p.ParameterValue.Value)
		if p.ParameterType.Type != "TIMESTAMP" || err != nil {
			d.t.Errorf("parameter %s: %+v (%v)", p.Name, p, err)
		}
		switch p.Name {
		case "from":
			rg.From = ts
		case "until":
			rg.Until = ts
		}
	}
	d.mu.Lock()
	d.seen = append(d.seen, rg)
	d.mu.Unlock()
	by, _ := funnel.By("campaign")
	var q *funnel.Query
	for _, c := range []funnel.Query{by, by.Scope(), funnel.DailyRates(by.EmailOnly)} {
		if req.Query == funnel.SQL(c, "`"+d.table+"`", "event_time >= @from AND event_time < @until") {
			q = &c
		}
	}
	if q == nil {
		d.t.Errorf("unexpected SQL:\n%s", req.Query)
		http.Error(w, "unexpected SQL", http.StatusBadRequest)
		return
	}
	var fields []map[string]string
	for _, dim := range q.Dims {
		fields = append(fields, map[string]string{"name": dim.Name, "type": dimType(dim.Name), "mode": "NULLABLE"})
	}
	for _, s := range q.Stages {
		fields = append(fields, map[string]string{"name": s.Name, "type": "INTEGER", "mode": "NULLABLE"})
	}
	for _, x := range q.Rates {
		fields = append(fields, map[string]string{"name": x.Name, "type": "FLOAT", "mode": "NULLABLE"})
	}
	res, _ := d.local.Figures(r.Context(), *q, rg)
	var rows []map[string]any
	for _, x := range res {
		var cells []map[string]any
		for _, k := range x.Key {
			var v any
			if k != "" {
				v = k
			}
			cells = append(cells, map[string]any{"v": v})
		}
		for _, c := range x.Counts {
			cells = append(cells, map[string]any{"v": strconv.FormatInt(c, 10)})
		}
		for _, p := range x.Rates {
			var v any
			if p != nil {
				v = strconv.FormatFloat(*p, 'g', -1, 64)
			}
			cells = append(cells, map[string]any{"v": v})
		}
		rows = append(rows, map[string]any{"f": cells})
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{
		"kind": "bigquery#queryResponse", "jobComplete": true,
		"jobReference": map[string]string{"projectId": "p", "jobId": "double", "location": "US"},
		"schema":       map[string]any{"fields": fields}, "rows": rows, "totalRows": strconv.Itoa(len(rows)),
	})
}

func TestBigQuerySourceMatchesLocal(t *testing.T) {
	_, bodies := readFixtures(t)
	dir := writeDataDir(t, bodies)
	local, err := report.LoadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	d := &bigQueryDouble{t: t, local: local, table: "p.ds.events_deduped"}
	srv := httptest.NewServer(d)
	defer srv.Close()
	env := report.Env{Getenv: func(string) string { return "" },
		BigQueryOptions: []option.ClientOption{option.WithEndpoint(srv.URL + "/bigquery/v2/"), option.WithoutAuthentication()},
		Now:             func() time.Time { return time.Date(2026, 1, 20, 15, 0, 0, 0, time.UTC) }}

	for _, format := range []string{"json", "table"} {
		var fromBQ bytes.Buffer
		env.Stdout = &fromBQ
		if err := report.Command(context.Background(), []string{"--project", "p", "--dataset", "ds", "--format", format,
			"--from", "2025-12-01", "--to", "2026-01-31"}, env); err != nil {
			t.Fatal(err)
		}
		fromDir := run(t, "--data-dir", dir, "--format", format, "--from", "2025-12-01", "--to", "2026-01-31")
		if fromBQ.String() != fromDir {
			t.Errorf("%s from BigQuery:\n%s\nfrom the data dir:\n%s", format, fromBQ.String(), fromDir)
		}
	}
	want := funnel.Range{From: time.Date(2025, 12, 1, 0, 0, 0, 0, time.UTC), Until: time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)}
	for _, rg := range d.seen {
		if !rg.From.Equal(want.From) || !rg.Until.Equal(want.Until) {
			t.Errorf("range sent %v, want %v", rg, want)
		}
	}

	// No range given: the last 30 days up to today, never an open range.
	d.seen = nil
	env.Stdout = &bytes.Buffer{}
	if err := report.Command(context.Background(), []string{"--project", "p", "--dataset", "ds"}, env); err != nil {
		t.Fatal(err)
	}
	want = funnel.Range{From: time.Date(2025, 12, 22, 0, 0, 0, 0, time.UTC), Until: time.Date(2026, 1, 21, 0, 0, 0, 0, time.UTC)}
	if len(d.seen) != 3 || !d.seen[0].From.Equal(want.From) || !d.seen[0].Until.Equal(want.Until) {
		t.Errorf("default range sent %v, want %v", d.seen, want)
	}
}
