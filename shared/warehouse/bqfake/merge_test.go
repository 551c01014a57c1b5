package bqfake

import (
	"context"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/bigquery"
	"google.golang.org/api/option"
)

var mergeSchema = bigquery.Schema{
	{Name: "k", Type: bigquery.StringFieldType, Required: true},
	{Name: "n", Type: bigquery.StringFieldType},
	{Name: "at", Type: bigquery.TimestampFieldType, Required: true},
}

type mergeRow struct {
	K  string              `bigquery:"k"`
	N  bigquery.NullString `bigquery:"n"`
	At time.Time           `bigquery:"at"`
}

const mergeSQL = "MERGE `p.ds.m` T USING UNNEST(@rows) S ON T.k = S.k " +
	"WHEN MATCHED AND T.at <= S.at THEN UPDATE SET n = S.n, at = S.at " +
	"WHEN NOT MATCHED THEN INSERT (k, n, at) VALUES (S.k, S.n, S.at)"

// The upsert: new keys are inserted, matched ones updated when the source is
// not older, repeating it changes nothing, and what BigQuery refuses fails.
func TestMerge(t *testing.T) {
	s := New(map[string]bigquery.Schema{"ds.m": mergeSchema, "ds.t": testSchema})
	defer s.Close()
	ctx := context.Background()
	c, err := bigquery.NewClient(ctx, "p", option.WithEndpoint(s.URL()+"/bigquery/v2/"), option.WithoutAuthentication())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	t1 := time.Date(2026, 12, 1, 3, 0, 0, 0, time.UTC)
	t2 := t1.Add(24 * time.Hour)
	name := func(s string) bigquery.NullString { return bigquery.NullString{StringVal: s, Valid: true} }
	merge := func(rows ...mergeRow) error {
		_, err := runJob(t, c, mergeSQL, bigquery.QueryParameter{Name: "rows", Value: rows})
		return err
	}
	if err := merge(mergeRow{"a", name("A1"), t1}, mergeRow{"b", bigquery.NullString{}, t1}); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := merge(mergeRow{"a", name("A2"), t2}, mergeRow{"c", name("C"), t2}); err != nil {
			t.Fatal(err)
		}
	}
	if err := merge(mergeRow{"a", name("stale"), t1}); err != nil { // older: no update
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, r := range s.Rows("ds.m") {
		n, _ := r["n"].(string)
		got[r["k"].(string)] = n + "@" + r["at"].(string)
	}
	want := map[string]string{"a": "A2@2026-12-02T03:00:00Z", "b": "@2026-12-01T03:00:00Z", "c": "C@2026-12-02T03:00:00Z"}
	if len(got) != len(want) {
		t.Errorf("rows %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("row %s = %q, want %q", k, got[k], v)
		}
	}
	// The merged rows are readable and deletable at once (not streamed).
	rows, err := runJob(t, c, "SELECT COUNT(*) FROM `p.ds.m` WHERE k = @k", bigquery.QueryParameter{Name: "k", Value: "a"})
	if err != nil || len(rows) != 1 || rows[0][0] != int64(1) {
		t.Errorf("count of a: %v, %v", rows, err)
	}

	for _, tt := range []struct {
		name, sql string
		rows      any
		want      string
	}{
		{"two source rows for one target row", mergeSQL, []mergeRow{{"a", name("x"), t2}, {"a", name("y"), t2}}, "at most one source row"},
		{"NULL into a REQUIRED column", mergeSQL, []struct {
			K  bigquery.NullString `bigquery:"k"`
			N  bigquery.NullString `bigquery:"n"`
			At time.Time           `bigquery:"at"`
		}{{bigquery.NullString{}, name("x"), t2}}, "cannot be null"},
		{"wrong field type", mergeSQL, []struct {
			K  int64               `bigquery:"k"`
			N  bigquery.NullString `bigquery:"n"`
			At time.Time           `bigquery:"at"`
		}{{1, name("x"), t2}}, "cannot be assigned"},
		{"unknown column", strings.Replace(mergeSQL, "SET n = S.n", "SET nope = S.n", 1), []mergeRow{{"z", name("x"), t2}}, "Unrecognized name"},
		{"missing field", strings.Replace(mergeSQL, "S.k", "S.key", 1), []mergeRow{{"z", name("x"), t2}}, "does not exist"},
		{"no such table", strings.Replace(mergeSQL, "p.ds.m", "p.ds.nope", 1), []mergeRow{{"z", name("x"), t2}}, "Not found"},
		{"other shape", "MERGE `p.ds.m` T USING `p.ds.t` S ON T.k = S.id WHEN MATCHED THEN DELETE", []mergeRow{}, "unsupported MERGE"},
	} {
		_, err := runJob(t, c, tt.sql, bigquery.QueryParameter{Name: "rows", Value: tt.rows})
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: %v, want an error saying %q", tt.name, err, tt.want)
		}
	}
	if n := len(s.Rows("ds.m")); n != 3 {
		t.Errorf("%d rows after failed statements, want 3 (nothing changed)", n)
	}
}
