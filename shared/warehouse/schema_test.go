package warehouse

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"cloud.google.com/go/bigquery"
)

var update = flag.Bool("update", false, "rewrite golden files and terraform/modules/cioevents/schema/*.json from the Go definitions")

// schemaDir is where Terraform reads the table schemas.
var schemaDir = filepath.Join("..", "..", "terraform", "modules", "cioevents", "schema")

// TestSchemaColumns pins the contract of docs/schema.md:
// column names, types and modes, in order. It fails when a struct field
// changes.
func TestSchemaColumns(t *testing.T) {
	tests := []struct {
		name   string
		schema bigquery.Schema
		want   []string
	}{
		{"events", EventsSchema(), []string{
			"event_id STRING REQUIRED", "object_type STRING REQUIRED", "metric STRING REQUIRED",
			"event_time TIMESTAMP REQUIRED", "received_at TIMESTAMP REQUIRED", "signed_at TIMESTAMP NULLABLE",
			"known_pair BOOLEAN REQUIRED",
			"delivery_id STRING NULLABLE", "customer_id STRING NULLABLE", "person_id STRING NULLABLE",
			"cio_id STRING NULLABLE", "email STRING NULLABLE", "recipient STRING NULLABLE", "subject STRING NULLABLE",
			"href STRING NULLABLE", "failure_message STRING NULLABLE", "journey_id STRING NULLABLE",
			"transactional_message_id STRING NULLABLE", "trigger_event_id STRING NULLABLE",
			"campaign_id INTEGER NULLABLE", "broadcast_id INTEGER NULLABLE", "newsletter_id INTEGER NULLABLE",
			"action_id INTEGER NULLABLE", "parent_action_id INTEGER NULLABLE", "trigger_id INTEGER NULLABLE",
			"content_id INTEGER NULLABLE", "link_id INTEGER NULLABLE",
			"machine BOOLEAN NULLABLE", "proxied BOOLEAN NULLABLE", "prefetched BOOLEAN NULLABLE", "synthetic BOOLEAN NULLABLE",
			"raw JSON REQUIRED", "message_id STRING NULLABLE", "source STRING NULLABLE", "workspace STRING NULLABLE",
			"inserted_at TIMESTAMP NULLABLE",
		}},
		{"rejected_events", RejectedSchema(), []string{
			"received_at TIMESTAMP REQUIRED", "reason STRING REQUIRED", "event_id STRING NULLABLE",
			"body STRING REQUIRED", "attributes JSON NULLABLE", "message_id STRING NULLABLE", "workspace STRING NULLABLE",
			"inserted_at TIMESTAMP NULLABLE",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, f := range tt.schema {
				mode := "NULLABLE"
				if f.Required {
					mode = "REQUIRED"
				}
				got = append(got, f.Name+" "+string(f.Type)+" "+mode)
				if f.Description == "" {
					t.Errorf("column %s has no description", f.Name)
				}
				if strings.Contains(f.Description, "\n") {
					t.Errorf("column %s: description is not one line", f.Name)
				}
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("columns:\n got %q\nwant %q", got, tt.want)
			}
		})
	}
}

// TestStructsMatchSchema checks each struct field against its column: the
// json and bigquery names agree, NULLABLE is exactly "can be nil", and the Go
// type is the one that column type takes. Then it checks the two renderings
// (NDJSON line, insertAll values) use exactly the schema's names.
func TestStructsMatchSchema(t *testing.T) {
	goTypes := map[bigquery.FieldType][]reflect.Type{
		bigquery.StringFieldType:    {reflect.TypeFor[string]()},
		bigquery.IntegerFieldType:   {reflect.TypeFor[int64]()},
		bigquery.BooleanFieldType:   {reflect.TypeFor[bool]()},
		bigquery.TimestampFieldType: {typeTime},
		bigquery.JSONFieldType:      {typeRawJSON, typeAttrs},
	}
	full := rowFor(t, "campaign_bounce.json")
	tests := []struct {
		name   string
		typ    reflect.Type
		schema bigquery.Schema
		value  any
	}{
		{"Row", reflect.TypeFor[Row](), EventsSchema(), full},
		{"Rejected", reflect.TypeFor[Rejected](), RejectedSchema(),
			NewRejected(testReceived, "no_event_id", "e1", []byte(`{}`), map[string]string{"k": "v"}, "m1")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.typ.NumField() != len(tt.schema) {
				t.Fatalf("%d fields, %d columns", tt.typ.NumField(), len(tt.schema))
			}
			var names []string
			for i, col := range tt.schema {
				f := tt.typ.Field(i)
				names = append(names, col.Name)
				if j := f.Tag.Get("json"); j != col.Name {
					t.Errorf("%s: json tag %q, column %q", f.Name, j, col.Name)
				}
				if b := f.Tag.Get("bigquery"); b != col.Name {
					t.Errorf("%s: bigquery tag %q, column %q", f.Name, b, col.Name)
				}
				nilable := f.Type.Kind() == reflect.Pointer || f.Type.Kind() == reflect.Map
				if nilable == col.Required {
					t.Errorf("%s (%s): column REQUIRED=%v", f.Name, f.Type, col.Required)
				}
				base := f.Type
				if base.Kind() == reflect.Pointer {
					base = base.Elem()
				}
				if !slices.Contains(goTypes[col.Type], base) {
					t.Errorf("%s: Go type %s cannot hold %s", f.Name, f.Type, col.Type)
				}
			}

			b, err := json.Marshal(tt.value)
			if err != nil {
				t.Fatal(err)
			}
			var line map[string]json.RawMessage
			if err := json.Unmarshal(b, &line); err != nil {
				t.Fatal(err)
			}
			if got := sortedKeys(line); !slices.Equal(got, sorted(names)) {
				t.Errorf("NDJSON keys %q, want %q", got, sorted(names))
			}

			values, err := insertValues(reflect.ValueOf(tt.value), mustColumns(tt.typ))
			if err != nil {
				t.Fatal(err)
			}
			for k := range values {
				if !slices.Contains(names, k) {
					t.Errorf("insertAll value %q is not a column", k)
				}
			}
		})
	}
}

func sortedKeys[V any](m map[string]V) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	return sorted(ks)
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

// TestCommittedSchemaFiles fails when terraform/modules/cioevents/schema/*.json no longer
// match the Go definition.
func TestCommittedSchemaFiles(t *testing.T) {
	files, err := SchemaFiles()
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range files {
		path := filepath.Join(schemaDir, name)
		if *update {
			if err := os.WriteFile(path, want, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		got, err := os.ReadFile(path)
		if err != nil {
			t.Errorf("%v; regenerate with: go test ./shared/warehouse -update", err)
			continue
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s differs from the Go definition (warehouse.Row/Rejected); regenerate with:\n"+
				"\tgo test ./shared/warehouse -update   (or: go run ./cmd/cioevents schema)", path)
		}
	}
}

func TestSchemaJSON(t *testing.T) {
	s := bigquery.Schema{
		{Name: "a", Type: bigquery.StringFieldType, Required: true, Description: "x <y> & z"},
		{Name: "b", Type: bigquery.IntegerFieldType},
		{Name: "c", Type: bigquery.RecordFieldType, Repeated: true, Schema: bigquery.Schema{
			{Name: "d", Type: bigquery.BooleanFieldType},
		}},
	}
	got, err := SchemaJSON(s)
	if err != nil {
		t.Fatal(err)
	}
	want := `[
  {
    "name": "a",
    "type": "STRING",
    "mode": "REQUIRED",
    "description": "x <y> & z"
  },
  {
    "name": "b",
    "type": "INTEGER",
    "mode": "NULLABLE"
  },
  {
    "name": "c",
    "type": "RECORD",
    "mode": "REPEATED",
    "fields": [
      {
        "name": "d",
        "type": "BOOLEAN",
        "mode": "NULLABLE"
      }
    ]
  }
]
`
	if string(got) != want {
		t.Errorf("SchemaJSON:\n%s\nwant:\n%s", got, want)
	}
	// The client library must read it back as the same schema.
	back, err := bigquery.SchemaFromJSON(got)
	if err != nil {
		t.Fatal(err)
	}
	if len(back) != 3 || !back[0].Required || back[1].Required || !back[2].Repeated || back[2].Schema[0].Name != "d" {
		t.Errorf("SchemaFromJSON round trip lost modes: %+v", back)
	}
}
