package names

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the committed message_names schema file from Record")

// schemaFile is where Terraform reads the table's schema.
var schemaFile = filepath.Join("..", "..", "..", "..", "terraform", "schema", Table+".json")

func ptr(s string) *string { return &s }

// The contract other packages and Terraform rely on: column names, types
// and modes, in order, each with a one-line description.
func TestSchemaColumns(t *testing.T) {
	want := []string{
		"workspace STRING REQUIRED", "kind STRING REQUIRED", "id STRING REQUIRED",
		"name STRING NULLABLE", "parent_id STRING NULLABLE", "refreshed_at TIMESTAMP REQUIRED",
	}
	var got []string
	for _, f := range Schema() {
		mode := "NULLABLE"
		if f.Required {
			mode = "REQUIRED"
		}
		got = append(got, f.Name+" "+string(f.Type)+" "+mode)
		if f.Description == "" || strings.Contains(f.Description, "\n") {
			t.Errorf("column %s: description %q is not one line", f.Name, f.Description)
		}
	}
	if !slices.Equal(got, want) {
		t.Errorf("columns:\n got %q\nwant %q", got, want)
	}
	// The NDJSON store writes the same names as the table's columns.
	typ := reflect.TypeFor[Record]()
	for i, f := range Schema() {
		if j := typ.Field(i).Tag.Get("json"); j != f.Name {
			t.Errorf("%s: json tag %q, column %q", typ.Field(i).Name, j, f.Name)
		}
	}
}

// TestCommittedSchemaFile fails when Terraform's schema file no longer
// matches Record.
func TestCommittedSchemaFile(t *testing.T) {
	want, err := SchemaJSON()
	if err != nil {
		t.Fatal(err)
	}
	if *update {
		if err := os.WriteFile(schemaFile, want, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(schemaFile)
	if err != nil {
		t.Fatalf("%v; regenerate with: go test ./cmd/cioevents/internal/names -update", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from names.Record; regenerate with: go test ./cmd/cioevents/internal/names -update", schemaFile)
	}
}

func TestValidate(t *testing.T) {
	at := time.Date(2026, 12, 1, 3, 0, 0, 0, time.UTC)
	good := Record{Workspace: "default", Kind: Campaign, ID: "31", Name: ptr("Welcome"), RefreshedAt: at}
	if err := good.Validate(); err != nil {
		t.Fatal(err)
	}
	for name, r := range map[string]Record{
		"no workspace":    {Kind: Campaign, ID: "31", RefreshedAt: at},
		"unknown kind":    {Workspace: "default", Kind: "segment", ID: "31", RefreshedAt: at},
		"no id":           {Workspace: "default", Kind: Campaign, ID: " ", RefreshedAt: at},
		"no refreshed_at": {Workspace: "default", Kind: Campaign, ID: "31"},
	} {
		if err := r.Validate(); err == nil {
			t.Errorf("%s: valid", name)
		}
	}
}

// A refresh replaces the row of a key, keeps the others, is idempotent, and
// leaves a file only its owner can read.
func TestStore(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	ix, err := Load(dir)
	if err != nil || ix.Len() != 0 {
		t.Fatalf("missing file: %v, %d records", err, ix.Len())
	}
	if _, ok := ix.Lookup("default", Campaign, "31"); ok {
		t.Fatal("empty index knows a name")
	}
	t1 := time.Date(2026, 12, 1, 3, 0, 0, 0, time.UTC)
	t2 := t1.Add(24 * time.Hour)
	first := []Record{
		{Workspace: "default", Kind: Campaign, ID: "31", Name: ptr("Welcome series"), RefreshedAt: t1},
		{Workspace: "default", Kind: Action, ID: "105", Name: ptr("Welcome email"), ParentID: ptr("31"), RefreshedAt: t1},
		{Workspace: "default", Kind: Transactional, ID: "3", Name: nil, RefreshedAt: t1},
		{Workspace: "eu", Kind: Campaign, ID: "31", Name: ptr("Bienvenue"), RefreshedAt: t1},
	}
	if added, replaced, err := Merge(dir, first); err != nil || added != 4 || replaced != 0 {
		t.Fatalf("first merge: %d added, %d replaced, %v", added, replaced, err)
	}
	second := []Record{
		{Workspace: "default", Kind: Campaign, ID: "31", Name: ptr("Welcome series (2027)"), RefreshedAt: t2},
		{Workspace: "default", Kind: Broadcast, ID: "7", Name: ptr("Black Friday"), RefreshedAt: t2},
	}
	for range 2 {
		if _, _, err := Merge(dir, second); err != nil {
			t.Fatal(err)
		}
	}
	ix, err = Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if ix.Len() != 5 {
		t.Errorf("%d records, want 5", ix.Len())
	}
	for _, tt := range []struct {
		ws   string
		kind Kind
		id   string
		want string
		ok   bool
	}{
		{"default", Campaign, "31", "Welcome series (2027)", true},
		{"eu", Campaign, "31", "Bienvenue", true},
		{"default", Action, "105", "Welcome email", true},
		{"default", Broadcast, "7", "Black Friday", true},
		{"default", Transactional, "3", "", false}, // known, nameless
		{"default", Broadcast, "31", "", false},    // another kind
		{"other", Campaign, "31", "", false},
	} {
		if got, ok := ix.Lookup(tt.ws, tt.kind, tt.id); got != tt.want || ok != tt.ok {
			t.Errorf("Lookup(%s, %s, %s) = %q, %v; want %q, %v", tt.ws, tt.kind, tt.id, got, ok, tt.want, tt.ok)
		}
	}
	if r, _ := ix.Record("default", Action, "105"); r.ParentID == nil || *r.ParentID != "31" {
		t.Errorf("action's parent %v", r.ParentID)
	}

	before, err := os.ReadFile(filepath.Join(dir, File))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := Merge(dir, second); err != nil {
		t.Fatal(err)
	}
	after, _ := os.ReadFile(filepath.Join(dir, File))
	if !bytes.Equal(before, after) {
		t.Error("a repeated refresh changed the file")
	}
	// Lines are the table's rows: exactly its columns, nulls written.
	var line map[string]json.RawMessage
	if err := json.Unmarshal(bytes.SplitN(after, []byte("\n"), 2)[0], &line); err != nil {
		t.Fatal(err)
	}
	if len(line) != len(Schema()) {
		t.Errorf("line has %d keys, schema %d columns", len(line), len(Schema()))
	}
	if runtime.GOOS != "windows" {
		fi, err := os.Stat(filepath.Join(dir, File))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("names.ndjson mode %v, want 0600", fi.Mode().Perm())
		}
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("data dir holds %d entries, want names.ndjson only (no temporary file left)", len(entries))
	}
}

func TestReadFileRejects(t *testing.T) {
	dir := t.TempDir()
	for name, body := range map[string]string{
		"not json":      "{\n",
		"unknown field": `{"workspace":"default","kind":"campaign","id":"1","name":"x","parent_id":null,"refreshed_at":"2026-12-01T00:00:00Z","email":"a@b.c"}` + "\n",
		"bad kind":      `{"workspace":"default","kind":"segment","id":"1","name":"x","parent_id":null,"refreshed_at":"2026-12-01T00:00:00Z"}` + "\n",
	} {
		p := filepath.Join(dir, strings.ReplaceAll(name, " ", "_"))
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := ReadFile(p); err == nil {
			t.Errorf("%s: read without error", name)
		}
	}
}

// Records come out in a stable order: workspace, kind, numeric ID.
func TestRecordsOrder(t *testing.T) {
	at := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	ix := NewIndex([]Record{
		{Workspace: "b", Kind: Campaign, ID: "1", RefreshedAt: at},
		{Workspace: "a", Kind: Action, ID: "2", RefreshedAt: at},
		{Workspace: "a", Kind: Campaign, ID: "10", RefreshedAt: at},
		{Workspace: "a", Kind: Campaign, ID: "9", RefreshedAt: at},
	})
	var got []string
	for _, r := range ix.Records() {
		got = append(got, r.Workspace+"/"+string(r.Kind)+"/"+r.ID)
	}
	want := []string{"a/campaign/9", "a/campaign/10", "a/action/2", "b/campaign/1"}
	if !slices.Equal(got, want) {
		t.Errorf("order %q, want %q", got, want)
	}
}
