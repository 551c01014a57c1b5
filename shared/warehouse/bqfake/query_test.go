package bqfake

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"cloud.google.com/go/bigquery"
	"google.golang.org/api/googleapi"
	"google.golang.org/api/iterator"
	"google.golang.org/api/option"
)

func TestQuerySubset(t *testing.T) {
	s := New(map[string]bigquery.Schema{"ds.t": {
		{Name: "id", Type: bigquery.StringFieldType},
		{Name: "kind", Type: bigquery.StringFieldType},
		{Name: "at", Type: bigquery.TimestampFieldType, Required: true},
	}})
	defer s.Close()
	s.RequirePartitionFilter("ds.t", "at")
	ctx := context.Background()
	c, err := bigquery.NewClient(ctx, "p", option.WithEndpoint(s.URL()+"/bigquery/v2/"), option.WithoutAuthentication())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	ins := c.Dataset("ds").Table("t").Inserter()
	for i, r := range []map[string]bigquery.Value{
		{"id": "a", "kind": "x", "at": t0},
		{"id": "a", "kind": "x", "at": t0.Add(time.Hour)},  // a duplicate pair, later
		{"id": "b", "kind": "y", "at": t0.Add(-time.Hour)}, // before the bound
		{"kind": "z", "at": t0.Add(2 * time.Hour)},         // NULL id
		{"id": "c", "kind": "y", "at": t0.Add(3 * time.Hour)},
	} {
		if err := ins.Put(ctx, &bigquery.ValuesSaver{Schema: bigquery.Schema{
			{Name: "id", Type: bigquery.StringFieldType}, {Name: "kind", Type: bigquery.StringFieldType},
			{Name: "at", Type: bigquery.TimestampFieldType}}, InsertID: string(rune('0' + i)),
			Row: []bigquery.Value{r["id"], r["kind"], r["at"]}}); err != nil {
			t.Fatal(err)
		}
	}
	read := func(sql string) ([]string, error) {
		q := c.Query(sql)
		q.Parameters = []bigquery.QueryParameter{{Name: "since", Value: t0}}
		it, err := q.Read(ctx)
		if err != nil {
			return nil, err
		}
		var out []string
		for {
			var row []bigquery.Value
			err := it.Next(&row)
			if errors.Is(err, iterator.Done) {
				return out, nil
			}
			if err != nil {
				return nil, err
			}
			out = append(out, row[0].(string)+"/"+row[1].(string))
		}
	}
	got, err := read("SELECT DISTINCT id, kind FROM `p.ds.t` WHERE at >= @since AND id IS NOT NULL")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, []string{"a/x", "c/y"}) {
		t.Errorf("DISTINCT: %v", got)
	}
	got, err = read("SELECT id, kind FROM `p.ds.t` WHERE at >= @since AND id IS NOT NULL")
	if err != nil || len(got) != 3 {
		t.Errorf("without DISTINCT: %v, %v", got, err)
	}
	for _, bad := range []string{
		"SELECT id, kind FROM `p.ds.t` WHERE id IS NOT NULL",                     // no partition filter
		"SELECT id, nope FROM `p.ds.t` WHERE at >= @since",                       // unknown column
		"SELECT id, kind FROM `p.ds.t` WHERE at >= @until",                       // unknown parameter
		"SELECT id, kind FROM `p.ds.t` WHERE at >= @since AND SOUNDEX(id) = 'a'", // unsupported function
		"SELECT COUNT(*) AS n, kind FROM `p.ds.t` WHERE at >= @since",            // kind neither grouped nor aggregated
		"SELECT id, kind FROM `p.ds.missing` WHERE at >= @since",                 // no such table
	} {
		_, err := read(bad)
		var gerr *googleapi.Error
		if !errors.As(err, &gerr) || gerr.Code/100 != 4 {
			t.Errorf("%s: %v, want a 4xx", bad, err)
		}
	}
	if n := s.Queries(); n != 8 {
		t.Errorf("Queries() = %d, want 8", n)
	}
}
