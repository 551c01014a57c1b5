package warehouse

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"time"

	"cloud.google.com/go/bigquery"
)

// column is one struct field of Row or Rejected seen as a table column. The
// schema, the insertAll values and the drift tests all come from this one
// reading of the struct tags.
type column struct {
	name     string
	desc     string
	typ      bigquery.FieldType
	required bool
	index    int
}

var (
	eventsColumns   = mustColumns(reflect.TypeFor[Row]())
	rejectedColumns = mustColumns(reflect.TypeFor[Rejected]())
)

var (
	typeTime    = reflect.TypeFor[time.Time]()
	typeRawJSON = reflect.TypeFor[json.RawMessage]()
	typeAttrs   = reflect.TypeFor[map[string]string]()
)

// columnType maps a Go field type to its column. NULLABLE is exactly "the Go
// value can be nil" (a pointer or a map); json.RawMessage is the one slice and
// counts as REQUIRED, since Validate insists on a JSON object there.
func columnType(t reflect.Type) (bigquery.FieldType, bool, error) {
	required := true
	switch t {
	case typeRawJSON:
		return bigquery.JSONFieldType, true, nil
	case typeAttrs:
		return bigquery.JSONFieldType, false, nil
	}
	if t.Kind() == reflect.Pointer {
		t, required = t.Elem(), false
	}
	switch {
	case t == typeTime:
		return bigquery.TimestampFieldType, required, nil
	case t.Kind() == reflect.String:
		return bigquery.StringFieldType, required, nil
	case t.Kind() == reflect.Int64:
		return bigquery.IntegerFieldType, required, nil
	case t.Kind() == reflect.Bool:
		return bigquery.BooleanFieldType, required, nil
	}
	return "", false, fmt.Errorf("no column type for Go type %s", t)
}

func mustColumns(t reflect.Type) []column {
	cols := make([]column, 0, t.NumField())
	for i := range t.NumField() {
		f := t.Field(i)
		name := f.Tag.Get("bigquery")
		if name == "" || name == "-" {
			panic(fmt.Sprintf("warehouse: %s.%s has no bigquery tag", t.Name(), f.Name))
		}
		typ, required, err := columnType(f.Type)
		if err != nil {
			panic(fmt.Sprintf("warehouse: %s.%s: %v", t.Name(), f.Name, err))
		}
		cols = append(cols, column{name: name, desc: f.Tag.Get("desc"), typ: typ, required: required, index: i})
	}
	return cols
}

func schemaOf(cols []column) bigquery.Schema {
	s := make(bigquery.Schema, len(cols))
	for i, c := range cols {
		s[i] = &bigquery.FieldSchema{Name: c.name, Type: c.typ, Required: c.required, Description: c.desc}
	}
	return s
}

// EventsSchema is the schema of table `events`, derived from Row. Each call
// returns a fresh copy.
func EventsSchema() bigquery.Schema { return schemaOf(eventsColumns) }

// RejectedSchema is the schema of table `rejected_events`, derived from Rejected.
func RejectedSchema() bigquery.Schema { return schemaOf(rejectedColumns) }

// apiField is a TableFieldSchema as the BigQuery API and `bq show --schema`
// spell it. Mode is always written: Terraform's google_bigquery_table shows a
// permanent diff when a schema omits it.
type apiField struct {
	Name        string     `json:"name"`
	Type        string     `json:"type"`
	Mode        string     `json:"mode"`
	Description string     `json:"description,omitempty"`
	Fields      []apiField `json:"fields,omitempty"`
}

func apiFields(s bigquery.Schema) []apiField {
	out := make([]apiField, 0, len(s))
	for _, f := range s {
		mode := "NULLABLE"
		switch {
		case f.Repeated:
			mode = "REPEATED"
		case f.Required:
			mode = "REQUIRED"
		}
		out = append(out, apiField{
			Name: f.Name, Type: string(f.Type), Mode: mode, Description: f.Description,
			Fields: apiFields(f.Schema),
		})
	}
	return out
}

// SchemaJSON renders s as the BigQuery API's JSON schema array (the format of
// Terraform's google_bigquery_table.schema and `bq mk --schema`), indented,
// with a trailing newline.
func SchemaJSON(s bigquery.Schema) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(apiFields(s)); err != nil {
		return nil, fmt.Errorf("warehouse: encode schema: %w", err)
	}
	return buf.Bytes(), nil
}

// SchemaFiles returns the committed schema files by file name, as
// terraform/modules/cioevents/schema holds them.
func SchemaFiles() (map[string][]byte, error) {
	files := map[string]bigquery.Schema{
		"events.json":          EventsSchema(),
		"rejected_events.json": RejectedSchema(),
	}
	out := make(map[string][]byte, len(files))
	for name, s := range files {
		b, err := SchemaJSON(s)
		if err != nil {
			return nil, err
		}
		out[name] = b
	}
	return out, nil
}

// insertValues renders a Row or Rejected as the "json" object of an insertAll
// row. NULL columns are left out, as the official client does. TIMESTAMP goes
// as an RFC 3339 string and JSON columns as a string holding the JSON text,
// which is what the streaming API requires for the JSON type.
func insertValues(v reflect.Value, cols []column) (map[string]bigquery.Value, error) {
	m := make(map[string]bigquery.Value, len(cols))
	for _, c := range cols {
		f := v.Field(c.index)
		switch f.Kind() {
		case reflect.Pointer, reflect.Map:
			if f.IsNil() {
				continue
			}
		}
		if f.Kind() == reflect.Pointer {
			f = f.Elem()
		}
		switch x := f.Interface().(type) {
		case time.Time:
			m[c.name] = x.UTC().Format(timestampLayout)
		case json.RawMessage:
			m[c.name] = string(x)
		case map[string]string:
			b, err := json.Marshal(x)
			if err != nil {
				return nil, fmt.Errorf("column %s: %w", c.name, err)
			}
			m[c.name] = string(b)
		default:
			m[c.name] = x
		}
	}
	return m, nil
}

// timestampLayout is RFC 3339 at BigQuery's microsecond precision.
const timestampLayout = "2006-01-02T15:04:05.999999Z07:00"
