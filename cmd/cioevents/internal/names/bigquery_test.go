package names

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/bigquery"
	"google.golang.org/api/option"

	"github.com/cioevents/cioevents/shared/warehouse/bqfake"
)

func newBQ(t *testing.T) (*bqfake.Server, *BigQuery) {
	t.Helper()
	fake := bqfake.New(map[string]bigquery.Schema{"ds." + Table: Schema()})
	t.Cleanup(fake.Close)
	c, err := bigquery.NewClient(context.Background(), "p", option.WithEndpoint(fake.URL()+"/bigquery/v2/"),
		option.WithoutAuthentication())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return fake, &BigQuery{Client: c, Project: "p", Dataset: "ds"}
}

// The statement comes from the schema: every column, the key in ON.
func TestMergeSQL(t *testing.T) {
	sql := MergeSQL("p.ds.message_names")
	for _, want := range []string{
		"MERGE `p.ds.message_names` T", "USING UNNEST(@rows) S",
		"ON T.workspace = S.workspace AND T.kind = S.kind AND T.id = S.id",
		"WHEN MATCHED AND T.refreshed_at <= S.refreshed_at THEN UPDATE SET name = S.name, parent_id = S.parent_id, refreshed_at = S.refreshed_at",
		"INSERT (workspace, kind, id, name, parent_id, refreshed_at) VALUES (S.workspace, S.kind, S.id, S.name, S.parent_id, S.refreshed_at)",
	} {
		if !strings.Contains(sql, want) {
			t.Errorf("MERGE lacks %q:\n%s", want, sql)
		}
	}
}

// A refresh replaces a key's row, keeps the others (another workspace's,
// a deleted message's), and repeating it changes nothing; an older refresh
// does not overwrite a newer one.
func TestBigQueryMerge(t *testing.T) {
	fake, b := newBQ(t)
	ctx := context.Background()
	t1 := time.Date(2026, 12, 1, 3, 0, 0, 0, time.UTC)
	t2 := t1.Add(24 * time.Hour)
	first := []Record{
		{Workspace: "default", Kind: Campaign, ID: "42", Name: ptr("Welcome"), RefreshedAt: t1},
		{Workspace: "default", Kind: Action, ID: "117", Name: ptr("Day 3"), ParentID: ptr("42"), RefreshedAt: t1},
		{Workspace: "default", Kind: Campaign, ID: "7", Name: ptr("Deleted since"), RefreshedAt: t1},
		{Workspace: "eu", Kind: Campaign, ID: "42", Name: ptr("Bienvenue"), RefreshedAt: t1},
	}
	if n, err := b.Merge(ctx, first); err != nil || n != 4 {
		t.Fatalf("first merge: %d rows, %v", n, err)
	}
	second := []Record{
		{Workspace: "default", Kind: Campaign, ID: "42", Name: ptr("Welcome series"), RefreshedAt: t2},
		{Workspace: "default", Kind: Action, ID: "117", Name: nil, ParentID: ptr("42"), RefreshedAt: t2},
	}
	for range 2 {
		if _, err := b.Merge(ctx, second); err != nil {
			t.Fatal(err)
		}
	}
	stale := []Record{{Workspace: "default", Kind: Campaign, ID: "42", Name: ptr("old read"), RefreshedAt: t1}}
	if n, err := b.Merge(ctx, stale); err != nil || n != 0 {
		t.Fatalf("stale merge: %d rows, %v", n, err)
	}
	got := map[string]string{}
	for _, r := range fake.Rows("ds." + Table) {
		name, _ := r["name"].(string)
		parent, _ := r["parent_id"].(string)
		got[r["workspace"].(string)+"/"+r["kind"].(string)+"/"+r["id"].(string)] = name + "|" + parent + "|" + r["refreshed_at"].(string)
	}
	want := map[string]string{
		"default/campaign/42": "Welcome series||2026-12-02T03:00:00Z",
		"default/action/117":  "|42|2026-12-02T03:00:00Z",
		"default/campaign/7":  "Deleted since||2026-12-01T03:00:00Z",
		"eu/campaign/42":      "Bienvenue||2026-12-01T03:00:00Z",
	}
	if len(got) != len(want) {
		t.Errorf("rows %v", got)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
	if fake.DMLStatements() != 4 {
		t.Errorf("%d statements, want 4", fake.DMLStatements())
	}
}

// Batches: more records than MergeBatch take more statements, and all land.
func TestBigQueryMergeBatches(t *testing.T) {
	fake, b := newBQ(t)
	at := time.Date(2026, 12, 1, 3, 0, 0, 0, time.UTC)
	var rs []Record
	for i := range MergeBatch + 5 {
		rs = append(rs, Record{Workspace: "default", Kind: Action, ID: strings.Repeat("1", 1+i%3) + "-" + itoa(i), RefreshedAt: at})
	}
	if n, err := b.Merge(context.Background(), rs); err != nil || n != int64(len(rs)) {
		t.Fatalf("%d rows, %v", n, err)
	}
	if fake.DMLStatements() != 2 || len(fake.Rows("ds."+Table)) != len(rs) {
		t.Errorf("%d statements, %d rows", fake.DMLStatements(), len(fake.Rows("ds."+Table)))
	}
}

func itoa(i int) string { return strconv.Itoa(i) }
