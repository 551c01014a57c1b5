package report_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/bigquery"
	"google.golang.org/api/option"

	"github.com/cioevents/cioevents/cmd/cioevents/internal/funnel"
	"github.com/cioevents/cioevents/cmd/cioevents/internal/names"
	"github.com/cioevents/cioevents/cmd/cioevents/internal/report"
	"github.com/cioevents/cioevents/shared/warehouse"
	"github.com/cioevents/cioevents/shared/warehouse/bqfake"
)

// bigQueryNow is BigQuery's clock in the test and the report's today.
var bigQueryNow = time.Date(2026, 1, 20, 15, 0, 0, 0, time.UTC)

// fakeBigQuery is bqfake holding what Terraform creates: the events table,
// events_deduped (its committed SQL), the deliveries table filled by the
// committed scheduled MERGE, message_names and the daily views. The report
// runs the generated SQL in it.
func fakeBigQuery(t *testing.T, dataDir string, recs []names.Record) []option.ClientOption {
	t.Helper()
	srv := bqfake.New(map[string]bigquery.Schema{"ds.events": warehouse.EventsSchema(), "ds.rejected": warehouse.RejectedSchema()})
	t.Cleanup(srv.Close)
	srv.Now = func() time.Time { return bigQueryNow }
	fill := strings.NewReplacer("${events}", "p.ds.events", "${events_deduped}", "p.ds.events_deduped",
		"${deliveries}", "p.ds.deliveries", "${message_names}", "p.ds.message_names", "${lookback_days}", "400").Replace
	srv.AddSQLView("ds.events_deduped", fill(funnel.DedupedSQL()))
	srv.AddTable("ds.deliveries", funnel.DeliveriesSchema())
	srv.AddTable("ds.message_names", names.Schema())
	opts := []option.ClientOption{option.WithEndpoint(srv.URL() + "/bigquery/v2/"), option.WithoutAuthentication()}

	// The events the data dir holds, as the processor streams them.
	w, err := warehouse.NewBigQuery(t.Context(), "p", "ds", "events", "rejected", opts...)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	b, err := os.ReadFile(filepath.Join(dataDir, warehouse.EventsFile))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range bytes.Split(bytes.TrimSpace(b), []byte("\n")) {
		var r warehouse.Row
		if err := json.Unmarshal(line, &r); err != nil {
			t.Fatal(err)
		}
		if err := w.InsertEvent(t.Context(), r); err != nil {
			t.Fatal(err)
		}
	}
	client, err := bigquery.NewClient(t.Context(), "p", opts...)
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	for _, rec := range recs {
		row := []bigquery.Value{rec.Workspace, string(rec.Kind), rec.ID, *rec.Name, nil, rec.RefreshedAt}
		if err := client.Dataset("ds").Table("message_names").Inserter().Put(t.Context(), &bigquery.ValuesSaver{Schema: names.Schema(), Row: row}); err != nil {
			t.Fatal(err)
		}
	}
	// One scheduled run whose window covers every event (a backfill run).
	for _, stmt := range strings.Split(fill(funnel.MergeTemplate()), ";\n") {
		if strings.TrimSpace(stmt) == "" {
			continue
		}
		q := client.Query(stmt)
		q.Parameters = []bigquery.QueryParameter{{Name: "run_time", Value: time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)}}
		job, err := q.Run(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if st, err := job.Wait(t.Context()); err != nil || st.Err() != nil {
			t.Fatalf("%v %v\n%s", err, st.Err(), stmt)
		}
	}
	return opts
}

// TestBigQuerySourceMatchesLocal: every grouping, --by link and the page
// read the same figures from BigQuery (the generated SQL run in bqfake over
// the MERGEd deliveries table) as from the data dir.
func TestBigQuerySourceMatchesLocal(t *testing.T) {
	_, bodies := readFixtures(t)
	dir := writeDataDir(t, bodies)
	recs := []names.Record{{Workspace: "shop", Kind: names.Campaign, ID: "42", Name: ptr("Welcome series"), RefreshedAt: bigQueryNow}}
	if _, _, err := names.Merge(dir, recs); err != nil {
		t.Fatal(err)
	}
	opts := fakeBigQuery(t, dir, recs)
	env := report.Env{Getenv: func(string) string { return "" }, BigQueryOptions: opts, Stderr: &bytes.Buffer{},
		Now: func() time.Time { return bigQueryNow }}

	rng := []string{"--from", "2025-12-01", "--to", "2026-01-31"}
	var cases [][]string
	for _, by := range funnel.ByNames {
		for _, format := range []string{"json", "csv"} {
			cases = append(cases, []string{"--by", by, "--format", format})
		}
	}
	cases = append(cases, []string{"--by", "campaign"}, []string{"--by", "link", "--message", "campaign:42", "--format", "json"},
		[]string{"--by", "link", "--message", "campaign:42"})
	sawName := false
	for _, c := range cases {
		var fromBQ bytes.Buffer
		env.Stdout = &fromBQ
		args := append(append([]string{"--project", "p", "--dataset", "ds"}, rng...), c...)
		if err := report.Command(context.Background(), args, env); err != nil {
			t.Fatalf("%v: %v", c, err)
		}
		fromDir := run(t, append(append([]string{"--data-dir", dir}, rng...), c...)...)
		got := fromBQ.String()
		if i := strings.Index(got, "Looker Studio report"); i >= 0 {
			if !strings.Contains(got[i:], funnel.LookerStudioURL("p", "ds")) {
				t.Errorf("%v: the Looker Studio line has no URL of p.ds", c)
			}
			got = got[:i]
		} else if len(c) == 2 {
			t.Errorf("%v: a table from BigQuery has no Looker Studio line", c)
		}
		if got != fromDir {
			t.Errorf("%v from BigQuery:\n%s\nfrom the data dir:\n%s", c, got, fromDir)
		}
		sawName = sawName || strings.Contains(got, "Welcome series")
	}
	if !sawName {
		t.Error("no report showed the name of campaign 42")
	}

	// No range given: the last 30 send days up to today, never an open range.
	var stderr bytes.Buffer
	env.Stdout, env.Stderr = &bytes.Buffer{}, &stderr
	if err := report.Command(context.Background(), []string{"--project", "p", "--dataset", "ds"}, env); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(stderr.String(), "2025-12-22 to 2026-01-20") {
		t.Errorf("default range: %s", stderr.String())
	}

	// The page, from BigQuery, shows what the data dir's page shows.
	pages := map[string]string{}
	for _, src := range [][]string{{"--project", "p", "--dataset", "ds"}, {"--data-dir", dir}} {
		page := filepath.Join(t.TempDir(), "report.html")
		env.Stdout = &bytes.Buffer{}
		if err := report.Command(context.Background(), append(append(src, rng...), "--html", page), env); err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(page)
		if err != nil {
			t.Fatal(err)
		}
		pages[src[0]] = string(b)
	}
	if pages["--project"] != pages["--data-dir"] {
		t.Errorf("the page from BigQuery differs from the data dir's")
	}
	if !strings.Contains(pages["--project"], "Welcome series") {
		t.Error("the page does not name campaign 42 among the top messages")
	}
}

func ptr[T any](v T) *T { return &v }
