package tfcheck

import (
	"encoding/json"
	"fmt"
)

// LockedColumn is a column as the schema lock records it: what must never
// change once rows exist.
type LockedColumn struct {
	Name   string         `json:"name"`
	Type   string         `json:"type"`
	Mode   string         `json:"mode"`
	Fields []LockedColumn `json:"fields,omitempty"`
}

// LockColumns reads a BigQuery JSON schema into lock columns, with types and
// modes normalised as the API treats them (INT64 is INTEGER, no mode is
// NULLABLE).
func LockColumns(schema []byte) ([]LockedColumn, error) {
	var fs []schemaField
	if err := json.Unmarshal(schema, &fs); err != nil {
		return nil, fmt.Errorf("tfcheck: schema is not a JSON column list: %w", err)
	}
	normalise(fs)
	return lockOf(fs), nil
}

func lockOf(fs []schemaField) []LockedColumn {
	var out []LockedColumn
	for _, f := range fs {
		out = append(out, LockedColumn{Name: f.Name, Type: f.Type, Mode: f.Mode, Fields: lockOf(f.Fields)})
	}
	return out
}

// SchemaGrowth lists how current breaks the rule that a schema only grows:
// every locked column is still there, in its place, with its type and mode
// (nested fields alike), and every column after them is NULLABLE. The google
// provider drops a removed top-level column in place, losing its data, and
// replaces the table for the other changes, which deletion_protection
// refuses (docs/schema.md, Schema changes); BigQuery itself adds only NULLABLE or
// REPEATED columns to a table with rows, and this project adds NULLABLE ones.
func SchemaGrowth(locked, current []LockedColumn) []string {
	return growth("", locked, current)
}

func growth(prefix string, locked, current []LockedColumn) []string {
	var out []string
	for i, l := range locked {
		name := prefix + l.Name
		switch {
		case i >= len(current):
			out = append(out, fmt.Sprintf("column %s (position %d) is gone: applying that drops its data", name, i+1))
			continue
		case current[i].Name != l.Name:
			out = append(out, fmt.Sprintf("position %d is %s, was %s: locked columns keep their names and places", i+1, prefix+current[i].Name, name))
			continue
		case current[i].Type != l.Type || current[i].Mode != l.Mode:
			out = append(out, fmt.Sprintf("column %s is %s %s, was %s %s", name, current[i].Mode, current[i].Type, l.Mode, l.Type))
		}
		out = append(out, growth(name+".", l.Fields, current[i].Fields)...)
	}
	for i := len(locked); i < len(current); i++ {
		if current[i].Mode != "NULLABLE" {
			out = append(out, fmt.Sprintf("new column %s is %s; new columns must be NULLABLE", prefix+current[i].Name, current[i].Mode))
		}
	}
	return out
}
