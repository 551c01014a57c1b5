package names

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"time"

	"cloud.google.com/go/bigquery"
)

// MergeBatch is the most records one MERGE statement carries. Each
// statement is one DML job (BigQuery queues at most 20 per table, runs 2 at
// once); 1,000 names are about 150 KB of parameters, far under a request's
// limit, so a workspace of a few thousand names is a handful of statements.
const MergeBatch = 1000

// BigQuery writes records into table message_names with MERGE: a record
// replaces the row of its (workspace, kind, id) unless that row was
// refreshed later, and any other row stays. Nothing is streamed, so a
// refresh never meets the streaming buffer and can repeat at once.
type BigQuery struct {
	Client           *bigquery.Client
	Project, Dataset string
	// Table defaults to Table.
	Table string
}

// MergeSQL is the statement, generated from Schema: the key columns
// match, every other column is set from the source.
func MergeSQL(table string) string {
	var on, set, cols, vals []string
	for _, f := range Schema() {
		cols = append(cols, f.Name)
		vals = append(vals, "S."+f.Name)
		switch f.Name {
		case "workspace", "kind", "id":
			on = append(on, "T."+f.Name+" = S."+f.Name)
		default:
			set = append(set, f.Name+" = S."+f.Name)
		}
	}
	return "MERGE `" + table + "` T\nUSING UNNEST(@rows) S\nON " + strings.Join(on, " AND ") +
		"\nWHEN MATCHED AND T.refreshed_at <= S.refreshed_at THEN UPDATE SET " + strings.Join(set, ", ") +
		"\nWHEN NOT MATCHED THEN INSERT (" + strings.Join(cols, ", ") + ") VALUES (" + strings.Join(vals, ", ") + ")"
}

// Merge writes records in batches of MergeBatch and returns the rows the
// statements changed (inserted or updated). A failed batch stops it; the
// batches before it hold, and a rerun writes the same rows again.
func (b *BigQuery) Merge(ctx context.Context, records []Record) (int64, error) {
	table := b.Table
	if table == "" {
		table = Table
	}
	sql := MergeSQL(b.Project + "." + b.Dataset + "." + table)
	var changed int64
	for start := 0; start < len(records); start += MergeBatch {
		batch := records[start:min(start+MergeBatch, len(records))]
		rows, err := paramRows(batch)
		if err != nil {
			return changed, err
		}
		q := b.Client.Query(sql)
		q.Parameters = []bigquery.QueryParameter{{Name: "rows", Value: rows}}
		job, err := q.Run(ctx)
		if err != nil {
			return changed, fmt.Errorf("names: MERGE into %s: %w", table, err)
		}
		st, err := job.Wait(ctx)
		if err == nil {
			err = st.Err()
		}
		if err != nil {
			return changed, fmt.Errorf("names: MERGE into %s: %w", table, err)
		}
		if qs, ok := st.Statistics.Details.(*bigquery.QueryStatistics); ok {
			changed += qs.NumDMLAffectedRows
		}
	}
	return changed, nil
}

// paramRows renders records as an ARRAY<STRUCT> parameter whose fields are
// Schema's columns, read from Record by the same field order Schema comes
// from, so the parameter cannot drift from the table.
func paramRows(records []Record) (*bigquery.QueryParameterValue, error) {
	schema := Schema()
	st := &bigquery.StandardSQLStructType{}
	for _, f := range schema {
		kind := "STRING"
		if f.Type == bigquery.TimestampFieldType {
			kind = "TIMESTAMP"
		}
		st.Fields = append(st.Fields, &bigquery.StandardSQLField{Name: f.Name, Type: &bigquery.StandardSQLDataType{TypeKind: kind}})
	}
	elem := &bigquery.StandardSQLDataType{TypeKind: "STRUCT", StructType: st}
	out := &bigquery.QueryParameterValue{Type: bigquery.StandardSQLDataType{TypeKind: "ARRAY", ArrayElementType: elem}}
	for _, r := range records {
		if err := r.Validate(); err != nil {
			return nil, err
		}
		v := reflect.ValueOf(r)
		sv := map[string]bigquery.QueryParameterValue{}
		for i, f := range schema {
			fv := v.Field(i)
			var val any
			switch x := fv.Interface().(type) {
			case *string:
				if x == nil {
					val = bigquery.NullString{}
				} else {
					val = *x
				}
			case Kind:
				val = string(x)
			case string:
				val = x
			case time.Time:
				val = x
			default:
				return nil, fmt.Errorf("names: column %s: no parameter for %T", f.Name, x)
			}
			sv[f.Name] = bigquery.QueryParameterValue{Value: val, Type: *st.Fields[i].Type}
		}
		out.ArrayValue = append(out.ArrayValue, bigquery.QueryParameterValue{Type: *elem, StructValue: sv})
	}
	return out, nil
}

// key renders a record's key for messages.
func (k Key) String() string { return k.Workspace + "/" + string(k.Kind) + "/" + k.ID }
