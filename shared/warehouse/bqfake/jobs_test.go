package bqfake

import (
	"context"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/bigquery"
	"google.golang.org/api/option"
)

// runJob runs sql as Query.Run, Job.Wait and Job.Read do, and returns the
// rows or the job's error.
func runJob(t *testing.T, c *bigquery.Client, sql string, ps ...bigquery.QueryParameter) ([][]bigquery.Value, error) {
	t.Helper()
	ctx := context.Background()
	q := c.Query(sql)
	q.Parameters = ps
	job, err := q.Run(ctx)
	if err != nil {
		return nil, err
	}
	st, err := job.Wait(ctx)
	if err == nil {
		err = st.Err()
	}
	if err != nil {
		return nil, err
	}
	it, err := job.Read(ctx)
	if err != nil {
		return nil, err
	}
	var out [][]bigquery.Value
	for {
		var row []bigquery.Value
		if err := it.Next(&row); err != nil {
			return out, nil
		}
		out = append(out, row)
	}
}

// DML on rows streamed within StreamingBuffer is refused and deletes
// nothing; after it, the same statement deletes. Unsupported SQL fails the
// job instead of answering wrongly.
func TestJobsStreamingBuffer(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	s := New(map[string]bigquery.Schema{"ds.t": testSchema})
	defer s.Close()
	s.Now, s.StreamingBuffer = func() time.Time { return now }, 30*time.Minute
	ctx := context.Background()
	c, err := bigquery.NewClient(ctx, "p", option.WithEndpoint(s.URL()+"/bigquery/v2/"), option.WithoutAuthentication())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ins := c.Dataset("ds").Table("t").Inserter()
	for _, id := range []string{"Jane@x.org ", "sam@x.org"} {
		if err := ins.Put(ctx, &bigquery.ValuesSaver{Schema: testSchema[:1], Row: []bigquery.Value{id}}); err != nil {
			t.Fatal(err)
		}
	}
	emails := bigquery.QueryParameter{Name: "e", Value: []string{"jane@x.org"}}
	del := "DELETE FROM `p.ds.t` WHERE (LOWER(TRIM(id)) IN UNNEST(@e) OR at IS NOT NULL) AND NOT (n IS NOT NULL)"
	if _, err := runJob(t, c, del, emails); err == nil || !strings.Contains(err.Error(), "would affect rows in the streaming buffer") {
		t.Fatalf("DELETE in the buffer: %v", err)
	}
	now = now.Add(31 * time.Minute)
	if _, err := runJob(t, c, del, emails); err != nil {
		t.Fatal(err)
	}
	rows, err := runJob(t, c, "SELECT COUNT(*) FROM `p.ds.t` WHERE STRPOS(id, @n) > 0", bigquery.QueryParameter{Name: "n", Value: "@x.org"})
	if err != nil || len(rows) != 1 || rows[0][0] != int64(1) {
		t.Errorf("count after the delete: %v, %v; want 1", rows, err)
	}
	for _, sql := range []string{
		"DELETE FROM `p.ds.t` WHERE id LIKE 'j%'",
		"INSERT INTO `p.ds.t` (id) VALUES ('x')",
		"SELECT id FROM `p.ds.t` WHERE nope IS NULL",
	} {
		if _, err := runJob(t, c, sql); err == nil {
			t.Errorf("%s: no error", sql)
		}
	}
	if s.DMLStatements() != 3 {
		t.Errorf("%d DELETEs counted, want 3", s.DMLStatements())
	}
}
