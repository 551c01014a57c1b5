package forget

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/bigquery"
	"google.golang.org/api/option"

	"github.com/cioevents/cioevents/shared/privacy"
)

// jobsDouble answers jobs.insert, jobs.get and jobs.getQueryResults the way
// BigQuery does for the four statements Forget runs, with the answers a
// table holding the person's rows would give. It checks what is sent (SQL,
// parameters and their types); the statements' meaning in BigQuery cannot
// be run here.
type jobsDouble struct {
	t    *testing.T
	want []string
	mu   sync.Mutex
	jobs map[string]map[string]any // id -> job resource
	sent []map[string]any          // query configurations, in order
}

func (d *jobsDouble) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	d.mu.Lock()
	defer d.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	path := strings.TrimPrefix(r.URL.Path, "/bigquery/v2/projects/p/")
	switch {
	case r.Method == http.MethodPost && path == "jobs":
		var job map[string]any
		json.NewDecoder(r.Body).Decode(&job)
		q := job["configuration"].(map[string]any)["query"].(map[string]any)
		n := len(d.sent)
		d.sent = append(d.sent, q)
		if n >= len(d.want) || q["query"] != d.want[n] {
			d.t.Errorf("statement %d:\n%v\nwant\n%v", n, q["query"], d.want[min(n, len(d.want)-1)])
		}
		ref := job["jobReference"].(map[string]any)
		id := ref["jobId"].(string)
		ref["location"] = "US"
		stats := map[string]any{"statementType": "SELECT"}
		if affected, dml := map[int]string{1: "3", 3: "1"}[n]; dml {
			stats = map[string]any{"statementType": "DELETE", "numDmlAffectedRows": affected}
		}
		job["status"] = map[string]any{"state": "DONE"}
		job["statistics"] = map[string]any{"query": stats}
		job["x-n"] = n
		d.jobs[id] = job
		json.NewEncoder(w).Encode(job)
	case r.Method == http.MethodGet && strings.HasPrefix(path, "jobs/"):
		json.NewEncoder(w).Encode(d.jobs[strings.TrimPrefix(path, "jobs/")])
	case r.Method == http.MethodGet && strings.HasPrefix(path, "queries/"):
		job := d.jobs[strings.TrimPrefix(path, "queries/")]
		res := map[string]any{"jobComplete": true, "jobReference": job["jobReference"], "totalRows": "0",
			"schema": map[string]any{"fields": []map[string]string{{"name": "f0_", "type": "INTEGER"}}}}
		switch job["x-n"] {
		case 0:
			res["schema"] = map[string]any{"fields": []map[string]string{{"name": "event_id", "type": "STRING"}}}
			res["rows"] = []map[string]any{{"f": []map[string]any{{"v": "e1"}}}, {"f": []map[string]any{{"v": "e2"}}}, {"f": []map[string]any{{"v": "e3"}}}}
			res["totalRows"] = "3"
		case 2:
			res["rows"] = []map[string]any{{"f": []map[string]any{{"v": "2"}}}}
			res["totalRows"] = "1"
		}
		json.NewEncoder(w).Encode(res)
	default:
		d.t.Errorf("unexpected %s %s", r.Method, r.URL.Path)
		http.Error(w, "{}", http.StatusNotFound)
	}
}

func TestBigQueryForget(t *testing.T) {
	pol, _ := privacy.Parse("email=hash", key)
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	b := &BigQuery{Project: "p", Dataset: "d", EventsTable: "events", RejectedTable: "rejected_events",
		Now: func() time.Time { return now }}
	p := Person{Email: "Jane@Example.com", ID: "u_9001"}
	d := &jobsDouble{t: t, want: b.Statements(newMatcher(p, pol)), jobs: map[string]map[string]any{}}
	srv := httptest.NewServer(d)
	defer srv.Close()
	client, err := bigquery.NewClient(context.Background(), "p", option.WithEndpoint(srv.URL+"/bigquery/v2/"),
		option.WithoutAuthentication())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	b.Client = client
	res, err := b.Forget(context.Background(), p, pol)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(res.EventIDs, ",") != "e1,e2,e3" || res.Pending != 2 || res.Rejected != 1 {
		t.Errorf("result %+v", res)
	}
	if len(d.sent) != 4 {
		t.Fatalf("%d statements sent, want 4", len(d.sent))
	}
	params := map[string]any{}
	for _, q := range d.sent[:1] {
		if q["useLegacySql"] != false {
			t.Errorf("legacy SQL: %v", q["useLegacySql"])
		}
		for _, x := range q["queryParameters"].([]any) {
			m := x.(map[string]any)
			params[m["name"].(string)] = m
		}
	}
	b2, _ := json.Marshal(params)
	hashed, _ := pol.Stored("email", "jane@example.com")
	for _, want := range []string{`"cutoff"`, `"2026-03-01 10:30:00`, `"TIMESTAMP"`, `"ARRAY"`, `"jane@example.com"`, hashed, `"u_9001"`} {
		if !strings.Contains(string(b2), want) {
			t.Errorf("parameters %s lack %s", b2, want)
		}
	}
}
