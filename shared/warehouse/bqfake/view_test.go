package bqfake

import (
	"context"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/bigquery"
	"google.golang.org/api/option"
)

// A dry run of a view succeeds only when a filter on the partition column
// reaches the table: through a window partitioned by it, or from inside a
// view; a filter on a computed column or a window that does not partition by
// it stops there, as require_partition_filter does in BigQuery.
func TestDryRunThroughViews(t *testing.T) {
	s := New(map[string]bigquery.Schema{"ds.events": {
		{Name: "event_id", Type: bigquery.StringFieldType},
		{Name: "event_time", Type: bigquery.TimestampFieldType},
	}})
	defer s.Close()
	s.RequirePartitionFilter("ds.events", "event_time")
	s.AddView("ds.deduped", View{Base: "ds.events", PassThrough: []string{"event_time", "event_id"}})
	s.AddView("ds.deduped_by_id", View{Base: "ds.events", PassThrough: []string{"event_id"}})
	s.AddView("ds.daily", View{Base: "ds.deduped", Filters: []string{"event_time"}})
	s.AddView("ds.daily_by_id", View{Base: "ds.deduped_by_id", Filters: []string{"event_time"}})
	ctx := context.Background()
	c, err := bigquery.NewClient(ctx, "p", option.WithEndpoint(s.URL()+"/bigquery/v2/"), option.WithoutAuthentication())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for _, tc := range []struct {
		sql string
		ok  bool
	}{
		{"SELECT event_id FROM `p.ds.events` WHERE event_time >= @since", true},
		{"SELECT event_id FROM `p.ds.events`", false},
		{"SELECT event_id FROM `p.ds.deduped` WHERE event_time >= @since", true},
		{"SELECT event_id FROM `p.ds.deduped` WHERE event_id = @id", false},
		{"SELECT event_id FROM `p.ds.deduped_by_id` WHERE event_time >= @since", false},
		{"SELECT * FROM `p.ds.daily`", true},
		{"SELECT * FROM `p.ds.daily_by_id`", false},
	} {
		q := c.Query(tc.sql)
		q.DryRun = true
		q.Parameters = []bigquery.QueryParameter{{Name: "since", Value: time.Now()}, {Name: "id", Value: "x"}}
		_, err := q.Run(ctx)
		if (err == nil) != tc.ok {
			t.Errorf("%s: err = %v, want ok=%v", tc.sql, err, tc.ok)
		}
		if err != nil && !strings.Contains(err.Error(), "without a filter over column(s) 'event_time'") {
			t.Errorf("%s: %v, want BigQuery's partition filter error", tc.sql, err)
		}
	}
}
