package tfcheck_test

import (
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/cioevents/cioevents/internal/testsupport/tfcheck"
)

// schemaLock lists every column each table has had, in order, with its type
// and mode (docs/schema.md, Schema changes). After adding a column to a schema file,
// `go test ./internal/testsupport/tfcheck -run TestSchemaOnlyGrows -update`
// appends it; the lock is written only when the new schema passes.
var schemaLock = filepath.Join(moduleDir, "schema", "lock.json")

// currentSchemas reads every table schema file next to the lock.
func currentSchemas(t *testing.T) map[string][]tfcheck.LockedColumn {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join(moduleDir, "schema", "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]tfcheck.LockedColumn{}
	for _, p := range paths {
		if p == schemaLock {
			continue
		}
		raw, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		cols, err := tfcheck.LockColumns(raw)
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		out[strings.TrimSuffix(filepath.Base(p), ".json")] = cols
	}
	if len(out) == 0 {
		t.Fatal("no schema files")
	}
	return out
}

func TestSchemaOnlyGrows(t *testing.T) {
	current := currentSchemas(t)
	lock := map[string][]tfcheck.LockedColumn{}
	raw, err := os.ReadFile(schemaLock)
	switch {
	case err == nil:
		if err := json.Unmarshal(raw, &lock); err != nil {
			t.Fatalf("%s: %v", schemaLock, err)
		}
	case !os.IsNotExist(err) || !*update:
		t.Fatal(err)
	}
	for table, locked := range lock {
		cols, ok := current[table]
		if !ok {
			t.Errorf("table %s is locked but terraform/modules/cioevents/schema/%s.json is gone", table, table)
			continue
		}
		for _, p := range tfcheck.SchemaGrowth(locked, cols) {
			t.Errorf("terraform/modules/cioevents/schema/%s.json: %s", table, p)
		}
	}
	for table := range current {
		if _, ok := lock[table]; !ok && !*update {
			t.Errorf("table %s is not in terraform/modules/cioevents/schema/lock.json: run this test with -update", table)
		}
	}
	if *update && !t.Failed() {
		if err := os.WriteFile(schemaLock, lockJSON(t, current), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestSchemaGrowthRefusesWhatLosesOrRewritesData(t *testing.T) {
	col := func(name, typ, mode string) tfcheck.LockedColumn {
		return tfcheck.LockedColumn{Name: name, Type: typ, Mode: mode}
	}
	locked := []tfcheck.LockedColumn{
		col("event_id", "STRING", "REQUIRED"),
		col("event_time", "TIMESTAMP", "REQUIRED"),
		{Name: "data", Type: "RECORD", Mode: "NULLABLE", Fields: []tfcheck.LockedColumn{col("a", "STRING", "NULLABLE")}},
	}
	tests := []struct {
		name    string
		current []tfcheck.LockedColumn
		want    string // "" for a schema that only grows
	}{
		{"unchanged", locked, ""},
		{"NULLABLE column appended", append(append([]tfcheck.LockedColumn{}, locked...), col("inserted_at", "TIMESTAMP", "NULLABLE")), ""},
		{"column dropped", locked[:2], "column data (position 3) is gone"},
		{"column moved", []tfcheck.LockedColumn{locked[1], locked[0], locked[2]}, "position 1 is event_time, was event_id"},
		{"column retyped", []tfcheck.LockedColumn{col("event_id", "INTEGER", "REQUIRED"), locked[1], locked[2]}, "column event_id is REQUIRED INTEGER, was REQUIRED STRING"},
		{"column made REQUIRED", []tfcheck.LockedColumn{locked[0], locked[1], {Name: "data", Type: "RECORD", Mode: "REQUIRED", Fields: locked[2].Fields}}, "column data is REQUIRED RECORD, was NULLABLE RECORD"},
		{"REQUIRED column appended", append(append([]tfcheck.LockedColumn{}, locked...), col("source", "STRING", "REQUIRED")), "new column source is REQUIRED"},
		{"column inserted in the middle", []tfcheck.LockedColumn{locked[0], col("source", "STRING", "NULLABLE"), locked[1], locked[2]}, "position 2 is source, was event_time"},
		{"nested field dropped", []tfcheck.LockedColumn{locked[0], locked[1], {Name: "data", Type: "RECORD", Mode: "NULLABLE"}}, "column data.a (position 1) is gone"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ps := tfcheck.SchemaGrowth(locked, tt.current)
			if tt.want == "" {
				if len(ps) > 0 {
					t.Errorf("SchemaGrowth = %q, want none", ps)
				}
				return
			}
			if len(ps) == 0 || !strings.Contains(strings.Join(ps, "\n"), tt.want) {
				t.Errorf("SchemaGrowth = %q, want one containing %q", ps, tt.want)
			}
		})
	}
}

// The lock reads the files as BigQuery does: a missing mode is NULLABLE and
// INT64 is INTEGER, so respelling a column is not a change.
func TestLockColumnsNormalisesSpelling(t *testing.T) {
	a, err := tfcheck.LockColumns([]byte(`[{"name":"n","type":"INT64"}]`))
	if err != nil {
		t.Fatal(err)
	}
	b, err := tfcheck.LockColumns([]byte(`[{"name":"n","type":"INTEGER","mode":"NULLABLE","description":"x"}]`))
	if err != nil {
		t.Fatal(err)
	}
	if ps := tfcheck.SchemaGrowth(a, b); len(ps) > 0 {
		t.Errorf("respelt column reported: %q", ps)
	}
}

// lockJSON writes one column per line, so a new column is a one-line diff.
func lockJSON(t *testing.T, tables map[string][]tfcheck.LockedColumn) []byte {
	t.Helper()
	var b strings.Builder
	b.WriteString("{\n")
	names := slices.Sorted(maps.Keys(tables))
	for i, name := range names {
		fmt.Fprintf(&b, "  %q: [\n", name)
		for j, c := range tables[name] {
			line, err := json.Marshal(c)
			if err != nil {
				t.Fatal(err)
			}
			b.WriteString("    " + string(line))
			if j < len(tables[name])-1 {
				b.WriteString(",")
			}
			b.WriteString("\n")
		}
		b.WriteString("  ]")
		if i < len(names)-1 {
			b.WriteString(",")
		}
		b.WriteString("\n")
	}
	b.WriteString("}\n")
	return []byte(b.String())
}
