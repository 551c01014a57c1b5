package bqfake

import (
	"fmt"
	"maps"
	"regexp"
	"strconv"
	"strings"
	"time"

	"cloud.google.com/go/bigquery"
)

// Query jobs also run one MERGE shape, the upsert `cioevents names refresh`
// sends (an ARRAY<STRUCT> parameter as the source):
//
//	MERGE `project.dataset.table` T
//	USING UNNEST(@rows) S
//	ON T.a = S.a AND T.b = S.b ...
//	WHEN MATCHED [AND T.x <= S.x] THEN UPDATE SET c = S.c, ...
//	WHEN NOT MATCHED THEN INSERT (a, b, c, ...) VALUES (S.a, S.b, S.c, ...)
//
// As BigQuery does, it fails when a target row matches more than one source
// row, when a REQUIRED column would be NULL, when a struct field's type is
// not its column's, and when it would update a row still in the streaming
// buffer. Rows it inserts are not streamed, so DML reaches them at once.
// It is counted by DMLStatements.

type structType struct {
	Name string `json:"name"`
	Type struct {
		Type string `json:"type"`
	} `json:"type"`
}

type structValue struct {
	Value *string `json:"value"`
}

var (
	mergeJobRE = regexp.MustCompile(`(?is)^\s*MERGE\s`)
	mergeRE    = regexp.MustCompile(`(?is)^\s*MERGE\s+(?:INTO\s+)?` + "`([^`]+)`" +
		`\s+(?:AS\s+)?([A-Za-z_]\w*)\s+USING\s+UNNEST\(\s*@([A-Za-z_]\w*)\s*\)\s+(?:AS\s+)?([A-Za-z_]\w*)` +
		`\s+ON\s+(.+?)\s+WHEN\s+MATCHED(?:\s+AND\s+(.+?))?\s+THEN\s+UPDATE\s+SET\s+(.+?)` +
		`\s+WHEN\s+NOT\s+MATCHED(?:\s+BY\s+TARGET)?\s+THEN\s+INSERT\s*\(([^)]*)\)\s*VALUES\s*\(([^)]*)\)\s*;?\s*$`)
	qualRE = regexp.MustCompile(`^\s*([A-Za-z_]\w*)\.([A-Za-z_]\w*)\s*$`)
	condRE = regexp.MustCompile(`^\s*([A-Za-z_]\w*\.[A-Za-z_]\w*)\s*(<=|>=|<|>|=)\s*([A-Za-z_]\w*\.[A-Za-z_]\w*)\s*$`)
)

// paramTypes maps a parameter's scalar type to the column type it fills.
var paramTypes = map[string]bigquery.FieldType{
	"STRING": bigquery.StringFieldType, "TIMESTAMP": bigquery.TimestampFieldType,
	"INT64": bigquery.IntegerFieldType, "BOOL": bigquery.BooleanFieldType,
}

type mergeSide struct{ target, source string }

// mergePair names a target column and the source field it meets.
type mergePair struct{ target, source string }

// colRef resolves "X.col" to a side and a column name.
func (m mergeSide) colRef(s string) (side, col string, ok bool) {
	g := qualRE.FindStringSubmatch(s)
	if g == nil {
		return "", "", false
	}
	switch {
	case strings.EqualFold(g[1], m.target):
		return "T", g[2], true
	case strings.EqualFold(g[1], m.source):
		return "S", g[2], true
	}
	return "", "", false
}

func (s *Server) runMerge(sql string, ps []jobParam, stats map[string]any) *jobError {
	stats["statementType"] = "MERGE"
	g := mergeRE.FindStringSubmatch(sql)
	if g == nil {
		return unsupported("unsupported MERGE shape (see merge.go)")
	}
	table, side := g[1], mergeSide{target: g[2], source: g[4]}
	var p *jobParam
	for i := range ps {
		if ps[i].Name == g[3] {
			p = &ps[i]
		}
	}
	if p == nil {
		return &jobError{"invalidQuery", "Query parameter '" + g[3] + "' not found"}
	}
	at := p.ParameterType.ArrayType
	if p.ParameterType.Type != "ARRAY" || at == nil || at.Type != "STRUCT" {
		return unsupported("the MERGE source must be an ARRAY<STRUCT> parameter")
	}
	fieldType := map[string]bigquery.FieldType{}
	for _, f := range at.StructTypes {
		t, ok := paramTypes[f.Type.Type]
		if !ok {
			return unsupported("%s struct fields are not supported", f.Type.Type)
		}
		fieldType[strings.ToLower(f.Name)] = t
	}
	parts := strings.Split(table, ".")
	if len(parts) != 3 {
		return unsupported("name the table as `project.dataset.table`")
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	s.dml++
	t := s.tables[parts[1]+"."+parts[2]]
	if t == nil {
		return &jobError{"notFound", "Not found: Table " + table}
	}
	cols := map[string]*bigquery.FieldSchema{}
	for _, f := range t.schema {
		cols[strings.ToLower(f.Name)] = f
	}
	// check resolves one side's column and, for the source, checks its type
	// against the target column it meets.
	check := func(sd, col string, against *bigquery.FieldSchema) *jobError {
		switch sd {
		case "T":
			if cols[strings.ToLower(col)] == nil {
				return &jobError{"invalidQuery", "Unrecognized name: " + col}
			}
		case "S":
			ft, ok := fieldType[strings.ToLower(col)]
			if !ok {
				return &jobError{"invalidQuery", "Field name " + col + " does not exist in STRUCT"}
			}
			if against != nil && ft != against.Type {
				return &jobError{"invalidQuery", fmt.Sprintf("Value of type %s cannot be assigned to %s, which has type %s",
					ft, against.Name, against.Type)}
			}
		}
		return nil
	}

	var on []mergePair
	for _, c := range andRE.Split(g[5], -1) {
		m := condRE.FindStringSubmatch(c)
		if m == nil || m[2] != "=" {
			return unsupported("ON must be T.col = S.col joined by AND, not %q", c)
		}
		s1, c1, ok1 := side.colRef(m[1])
		s2, c2, ok2 := side.colRef(m[3])
		if !ok1 || !ok2 || s1 == s2 {
			return unsupported("ON must compare a target column with a source field: %q", c)
		}
		if s1 == "S" {
			c1, c2 = c2, c1
		}
		if err := check("T", c1, nil); err != nil {
			return err
		}
		if err := check("S", c2, cols[strings.ToLower(c1)]); err != nil {
			return err
		}
		on = append(on, mergePair{strings.ToLower(c1), strings.ToLower(c2)})
	}
	var when func(target, source map[string]any) bool
	if g[6] != "" {
		m := condRE.FindStringSubmatch(g[6])
		if m == nil {
			return unsupported("WHEN MATCHED AND must be one comparison of a target column and a source field")
		}
		s1, c1, ok1 := side.colRef(m[1])
		s2, c2, ok2 := side.colRef(m[3])
		if !ok1 || !ok2 || s1 == s2 {
			return unsupported("WHEN MATCHED AND must compare a target column with a source field")
		}
		op := m[2]
		if s1 == "S" {
			c1, c2 = c2, c1
			op = map[string]string{"<": ">", ">": "<", "<=": ">=", ">=": "<=", "=": "="}[op]
		}
		f := cols[strings.ToLower(c1)]
		if err := check("T", c1, nil); err != nil {
			return err
		}
		if err := check("S", c2, f); err != nil {
			return err
		}
		tc, sc := f.Name, strings.ToLower(c2)
		when = func(target, source map[string]any) bool {
			c, ok := compareCells(f, target[tc], source[sc])
			if !ok {
				return false // NULL compares as unknown: no update
			}
			return map[string]bool{"<": c < 0, "<=": c <= 0, ">": c > 0, ">=": c >= 0, "=": c == 0}[op]
		}
	}
	var set []mergePair
	for _, a := range strings.Split(g[7], ",") {
		lhs, rhs, ok := strings.Cut(a, "=")
		if !ok {
			return unsupported("SET must be col = S.col, not %q", a)
		}
		col := strings.TrimSpace(lhs)
		if i := strings.LastIndex(col, "."); i >= 0 {
			col = col[i+1:]
		}
		sd, src, ok := side.colRef(rhs)
		if !ok || sd != "S" {
			return unsupported("SET must take a source field, not %q", rhs)
		}
		if err := check("T", col, nil); err != nil {
			return err
		}
		if err := check("S", src, cols[strings.ToLower(col)]); err != nil {
			return err
		}
		set = append(set, mergePair{strings.ToLower(col), strings.ToLower(src)})
	}
	insCols, insVals := strings.Split(g[8], ","), strings.Split(g[9], ",")
	if len(insCols) != len(insVals) {
		return &jobError{"invalidQuery", "Inserted row has wrong column count; Has " + strconv.Itoa(len(insVals)) +
			", expected " + strconv.Itoa(len(insCols))}
	}
	var ins []mergePair
	for i, c := range insCols {
		c = strings.TrimSpace(c)
		sd, src, ok := side.colRef(insVals[i])
		if !ok || sd != "S" {
			return unsupported("VALUES must list source fields, not %q", insVals[i])
		}
		if err := check("T", c, nil); err != nil {
			return err
		}
		if err := check("S", src, cols[strings.ToLower(c)]); err != nil {
			return err
		}
		ins = append(ins, mergePair{strings.ToLower(c), strings.ToLower(src)})
	}
	for _, f := range t.schema {
		if f.Required && !containsTarget(ins, strings.ToLower(f.Name)) {
			return &jobError{"invalidQuery", "Required field " + f.Name + " cannot be null"}
		}
	}

	// The source rows, keyed by lower-case field name.
	var source []map[string]any
	for _, v := range p.ParameterValue.ArrayValues {
		row := map[string]any{}
		for name, sv := range v.StructValues {
			if sv.Value != nil {
				row[strings.ToLower(name)] = *sv.Value
			}
		}
		source = append(source, row)
	}
	// Each target row may match one source row at most; decide everything
	// before changing anything, as the statement is atomic.
	now := s.now()
	matched := make([]int, len(source)) // source row → target row index, or -1
	hitBy := map[int]int{}
	for i, src := range source {
		matched[i] = -1
		for j, r := range t.rows {
			if mergeMatch(on, cols, r.row, src) {
				if _, dup := hitBy[j]; dup {
					return &jobError{"invalidQuery", "UPDATE/MERGE must match at most one source row for each target row"}
				}
				hitBy[j] = i
				matched[i] = j
				break
			}
		}
	}
	var newRows []stored
	updates := map[int]map[string]any{}
	for i, src := range source {
		if j := matched[i]; j >= 0 {
			if when != nil && !when(t.rows[j].row, src) {
				continue
			}
			if s.StreamingBuffer > 0 && !t.rows[j].at.IsZero() && now.Sub(t.rows[j].at) < s.StreamingBuffer {
				return &jobError{"invalidQuery", fmt.Sprintf("UPDATE or DELETE statement over table %s would affect rows in the streaming buffer, which is not supported", table)}
			}
			row := maps.Clone(t.rows[j].row)
			for _, a := range set {
				setCell(row, cols[a.target], src[a.source])
			}
			updates[j] = row
			continue
		}
		row := map[string]any{}
		for _, a := range ins {
			f := cols[a.target]
			if src[a.source] == nil {
				if f.Required {
					return &jobError{"invalidQuery", "Required field " + f.Name + " cannot be null"}
				}
				continue
			}
			setCell(row, f, src[a.source])
		}
		newRows = append(newRows, stored{row: row}) // at zero: never in the streaming buffer
	}
	for j, row := range updates {
		t.rows[j].row = row
	}
	t.rows = append(t.rows, newRows...)
	stats["numDmlAffectedRows"] = strconv.Itoa(len(updates) + len(newRows))
	return nil
}

func containsTarget(ps []mergePair, col string) bool {
	for _, p := range ps {
		if p.target == col {
			return true
		}
	}
	return false
}

// mergeMatch is the ON condition: every pair equal and not NULL.
func mergeMatch(on []mergePair, cols map[string]*bigquery.FieldSchema, target, source map[string]any) bool {
	for _, p := range on {
		f := cols[p.target]
		c, ok := compareCells(f, target[f.Name], source[p.source])
		if !ok || c != 0 {
			return false
		}
	}
	return true
}

// compareCells compares a stored cell with a parameter's text as the
// evaluator compares values of column f's type; ok is false when either is
// NULL.
func compareCells(f *bigquery.FieldSchema, stored, param any) (int, bool) {
	return compare(typed(f, stored), typed(f, param))
}

// setCell stores a parameter's text as insertAll would have stored the
// column: TIMESTAMP in RFC 3339 UTC, the rest as sent.
func setCell(row map[string]any, f *bigquery.FieldSchema, v any) {
	if v == nil {
		delete(row, f.Name)
		return
	}
	if f.Type == bigquery.TimestampFieldType {
		if t, ok := parseTimestamp(v.(string)); ok {
			v = t.UTC().Format(time.RFC3339Nano)
		}
	}
	row[f.Name] = v
}
