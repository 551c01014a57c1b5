package bqfake

import (
	"context"
	"reflect"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/bigquery"
	"cloud.google.com/go/civil"
	"google.golang.org/api/option"
)

// The evaluator answers grouped, joined and windowed SELECTs, a MERGE from a
// subquery (twice gives the same table) and an UPDATE, and refuses what
// BigQuery refuses.
func TestEvaluator(t *testing.T) {
	schema := bigquery.Schema{{Name: "id", Type: bigquery.StringFieldType}, {Name: "n", Type: bigquery.IntegerFieldType},
		{Name: "at", Type: bigquery.TimestampFieldType}}
	s := New(map[string]bigquery.Schema{"ds.t": schema,
		"ds.names": {{Name: "id", Type: bigquery.StringFieldType}, {Name: "name", Type: bigquery.StringFieldType}}})
	defer s.Close()
	s.AddTable("ds.sums", bigquery.Schema{{Name: "id", Type: bigquery.StringFieldType}, {Name: "total", Type: bigquery.IntegerFieldType},
		{Name: "day", Type: bigquery.DateFieldType}, {Name: "done", Type: bigquery.BooleanFieldType}})
	s.AddSQLView("ds.latest", "SELECT * EXCEPT (rk) FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY id ORDER BY at DESC) AS rk FROM `p.ds.t`) WHERE rk = 1")
	ctx := context.Background()
	c, err := bigquery.NewClient(ctx, "p", option.WithEndpoint(s.URL()+"/bigquery/v2/"), option.WithoutAuthentication())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	t0 := time.Date(2026, 1, 1, 23, 0, 0, 0, time.UTC)
	for i, r := range [][]bigquery.Value{{"a", 1, t0}, {"a", 2, t0.Add(2 * time.Hour)}, {"b", 5, t0}, {nil, 7, t0}} {
		if err := c.Dataset("ds").Table("t").Inserter().Put(ctx, &bigquery.ValuesSaver{Schema: schema, Row: r, InsertID: string(rune('a' + i))}); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.Dataset("ds").Table("names").Inserter().Put(ctx, &bigquery.ValuesSaver{Schema: bigquery.Schema{{Name: "id", Type: bigquery.StringFieldType}, {Name: "name", Type: bigquery.StringFieldType}}, Row: []bigquery.Value{"a", "Alpha"}}); err != nil {
		t.Fatal(err)
	}
	check := func(sql string, want [][]bigquery.Value, ps ...bigquery.QueryParameter) {
		t.Helper()
		got, err := runJob(t, c, sql, ps...)
		if err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s:\n got %v\nwant %v", sql, got, want)
		}
	}
	check("SELECT t.id, n.name, SUM(t.n) AS total, COUNTIF(t.n > 1) AS big, MIN(DATE(t.at)) AS day FROM `p.ds.t` t "+
		"LEFT JOIN `p.ds.names` n ON n.id = t.id WHERE t.at >= @from GROUP BY t.id, n.name ORDER BY total DESC",
		[][]bigquery.Value{{nil, nil, int64(7), int64(1), civil.Date{Year: 2026, Month: 1, Day: 1}},
			{"b", nil, int64(5), int64(1), civil.Date{Year: 2026, Month: 1, Day: 1}},
			{"a", "Alpha", int64(3), int64(1), civil.Date{Year: 2026, Month: 1, Day: 1}}},
		bigquery.QueryParameter{Name: "from", Value: t0})
	check("SELECT id, n FROM `p.ds.latest` WHERE id IS NOT NULL ORDER BY id", [][]bigquery.Value{{"a", int64(2)}, {"b", int64(5)}})
	check("SELECT ARRAY_AGG(n IGNORE NULLS ORDER BY at DESC, n LIMIT 1)[SAFE_OFFSET(0)] AS last, SAFE_DIVIDE(1, 0) AS none FROM `p.ds.t`",
		[][]bigquery.Value{{int64(2), nil}})

	merge := "MERGE `p.ds.sums` T USING (SELECT id, SUM(n) AS total, DATE(MIN(at)) AS day FROM `p.ds.t` WHERE id IS NOT NULL GROUP BY id) S " +
		"ON T.id = S.id WHEN MATCHED THEN UPDATE SET total = IF(S.total > T.total, S.total, T.total) " +
		"WHEN NOT MATCHED THEN INSERT (id, total, day, done) VALUES (S.id, S.total, S.day, FALSE)"
	for range 2 {
		if _, err := runJob(t, c, merge); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := runJob(t, c, "UPDATE `p.ds.sums` SET done = TRUE WHERE total > 4"); err != nil {
		t.Fatal(err)
	}
	check("SELECT id, total, done FROM `p.ds.sums` ORDER BY id", [][]bigquery.Value{{"a", int64(3), false}, {"b", int64(5), true}})

	for sql, want := range map[string]string{
		"SELECT id, SUM(n) FROM `p.ds.t`":                        "neither grouped nor aggregated",
		"SELECT NOPE(id) FROM `p.ds.t`":                          "function NOPE is not supported",
		"SELECT REGEXP_EXTRACT(id, r'(a)(b)') FROM `p.ds.t`":     "more than 1 capturing group",
		"SELECT id FROM `p.ds.missing`":                          "Not found",
		"SELECT id, n FROM `p.ds.t` WHERE n = 'x'":               "No matching signature",
		"MERGE `p.ds.sums` T USING (SELECT 'a' AS id UNION ALL)": "bqfake",
	} {
		if _, err := runJob(t, c, sql); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want an error with %q", sql, err, want)
		}
	}
}

// INT64 values compare exactly, not through float64, so IDs past 2^53 that
// differ do not match (MERGE's ON in merge.go compares through compare).
func TestCompareInt64Exact(t *testing.T) {
	const big = int64(1) << 53
	if c, ok := compare(big+1, big); !ok || c != 1 {
		t.Errorf("compare(2^53+1, 2^53) = %d, %v; want 1, true", c, ok)
	}
	if c, ok := compare(big, big+1); !ok || c != -1 {
		t.Errorf("compare(2^53, 2^53+1) = %d, %v; want -1, true", c, ok)
	}
}
