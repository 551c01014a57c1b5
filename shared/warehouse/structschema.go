package warehouse

import (
	"reflect"

	"cloud.google.com/go/bigquery"
)

// StructSchema derives a table's schema from a struct whose fields carry
// `bigquery` and `desc` tags, by the same rules as EventsSchema (NULLABLE is
// exactly "the Go value can be nil"). Tables other than events and
// rejected_events (e.g. the CLI's message_names) use it so that their Go type
// stays their one definition. A field without a tag or with a type no column
// takes is a programming error and panics, as for Row.
func StructSchema(t reflect.Type) bigquery.Schema { return schemaOf(mustColumns(t)) }
