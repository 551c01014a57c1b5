package bqfake

import (
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"cloud.google.com/go/bigquery"
)

// The fake answers jobs.query (the client's fast path for Query.Read) for one
// small, honest subset of GoogleSQL, evaluated over the stored rows:
//
//	SELECT [DISTINCT] col, ... FROM `project.dataset.table`
//	WHERE cond AND cond ...     -- cond: col >= @ts | col = @string | col IS NOT NULL
//
// Columns are checked against the schema, @params must be given, and a table
// with a partition filter requirement (RequirePartitionFilter) refuses a query
// without a condition on that column, as BigQuery does. Any other query goes
// to the evaluator (sqlparse.go, sqleval.go), which answers the GoogleSQL the
// funnel generators emit and refuses the rest with a 400, never a wrong answer.
//
// Dry runs (jobs.insert with dryRun, see view.go) also accept SELECT * and
// views, and check the partition filter through the views.
var (
	selectRE = regexp.MustCompile(`(?is)^\s*SELECT\s+(DISTINCT\s+)?(.+?)\s+FROM\s+` + "`([^`]+)`" + `\s+WHERE\s+(.+?)\s*;?\s*$`)
	identRE  = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,299}$`)
	geRE     = regexp.MustCompile(`(?i)^([A-Za-z_][A-Za-z0-9_]{0,299})\s*>=\s*@([A-Za-z_][A-Za-z0-9_]{0,127})$`)
	eqRE     = regexp.MustCompile(`(?i)^([A-Za-z_][A-Za-z0-9_]{0,299})\s*=\s*@([A-Za-z_][A-Za-z0-9_]{0,127})$`)
	notNull  = regexp.MustCompile(`(?i)^([A-Za-z_][A-Za-z0-9_]{0,299})\s+IS\s+NOT\s+NULL$`)
	andRE    = regexp.MustCompile(`(?i)\s+AND\s+`)
)

// RequirePartitionFilter makes queries of table ("dataset.table") fail
// unless they filter on column, like require_partition_filter.
func (s *Server) RequirePartitionFilter(table, column string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if t := s.tables[table]; t != nil {
		t.partitionFilter = column
	}
}

// Queries counts the jobs.query requests received.
func (s *Server) Queries() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.queries
}

type queryRequest struct {
	Query           string `json:"query"`
	UseLegacySQL    *bool  `json:"useLegacySql"`
	QueryParameters []struct {
		Name          string `json:"name"`
		ParameterType struct {
			Type string `json:"type"`
		} `json:"parameterType"`
		ParameterValue struct {
			Value string `json:"value"`
		} `json:"parameterValue"`
	} `json:"queryParameters"`
}

type cond struct {
	col   string
	ge    *time.Time // col >= this
	eq    *string    // col = this (STRING); both nil means IS NOT NULL
	geRaw string
}

func (s *Server) query(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.queries++
	s.mu.Unlock()
	body, err := readBody(r)
	if err != nil {
		writeError(w, http.StatusBadRequest, "invalid", "cannot read request: "+err.Error())
		return
	}
	var req queryRequest
	if err := json.Unmarshal(body, &req); err != nil {
		writeError(w, http.StatusBadRequest, "invalid", "Invalid JSON payload received. "+err.Error())
		return
	}
	if req.UseLegacySQL == nil || *req.UseLegacySQL {
		writeError(w, http.StatusBadRequest, "invalidQuery", "bqfake: only GoogleSQL (useLegacySql: false) is supported")
		return
	}
	m := selectRE.FindStringSubmatch(req.Query)
	if m == nil || !simpleShape(m) {
		s.evaluateQuery(w, r, req)
		return
	}
	distinct, table := m[1] != "", m[3]
	var cols []string
	for _, c := range strings.Split(m[2], ",") {
		c = strings.TrimSpace(c)
		if !identRE.MatchString(c) {
			writeError(w, http.StatusBadRequest, "invalidQuery", "bqfake: unsupported select item "+strconv.Quote(c))
			return
		}
		cols = append(cols, c)
	}
	params, types := map[string]string{}, map[string]string{}
	for _, p := range req.QueryParameters {
		if p.ParameterType.Type != "TIMESTAMP" && p.ParameterType.Type != "STRING" {
			writeError(w, http.StatusBadRequest, "invalidQuery", "bqfake: only TIMESTAMP and STRING parameters are supported")
			return
		}
		params[p.Name], types[p.Name] = p.ParameterValue.Value, p.ParameterType.Type
	}
	var conds []cond
	for _, c := range andRE.Split(m[4], -1) {
		c = strings.TrimSpace(c)
		if e := eqRE.FindStringSubmatch(c); e != nil {
			v, ok := params[e[2]]
			if !ok || types[e[2]] != "STRING" {
				writeError(w, http.StatusBadRequest, "invalidQuery", "bqfake: = needs a STRING parameter '"+e[2]+"'")
				return
			}
			conds = append(conds, cond{col: e[1], eq: &v})
		} else if g := geRE.FindStringSubmatch(c); g != nil {
			v, ok := params[g[2]]
			if !ok {
				writeError(w, http.StatusBadRequest, "invalidQuery", "Query parameter '"+g[2]+"' not found")
				return
			}
			t, ok := parseTimestamp(v)
			if !ok {
				writeError(w, http.StatusBadRequest, "invalidQuery", "Invalid TIMESTAMP parameter "+g[2])
				return
			}
			conds = append(conds, cond{col: g[1], ge: &t, geRaw: v})
		} else if n := notNull.FindStringSubmatch(c); n != nil {
			conds = append(conds, cond{col: n[1]})
		} else {
			writeError(w, http.StatusBadRequest, "invalidQuery", "bqfake: unsupported condition "+strconv.Quote(c))
			return
		}
	}

	parts := strings.Split(table, ".")
	if len(parts) != 3 {
		writeError(w, http.StatusBadRequest, "invalidQuery", "bqfake: name the table as `project.dataset.table`")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.tables[parts[1]+"."+parts[2]]
	if t == nil {
		writeError(w, http.StatusNotFound, "notFound", "Not found: Table "+table)
		return
	}
	fields := map[string]*bigquery.FieldSchema{}
	for _, f := range t.schema {
		fields[strings.ToLower(f.Name)] = f
	}
	var outSchema []map[string]string
	for _, c := range cols {
		f := fields[strings.ToLower(c)]
		if f == nil {
			writeError(w, http.StatusBadRequest, "invalidQuery", "Unrecognized name: "+c)
			return
		}
		outSchema = append(outSchema, map[string]string{"name": f.Name, "type": string(f.Type), "mode": "NULLABLE"})
	}
	filtered := false
	for _, c := range conds {
		f := fields[strings.ToLower(c.col)]
		if f == nil {
			writeError(w, http.StatusBadRequest, "invalidQuery", "Unrecognized name: "+c.col)
			return
		}
		if c.eq != nil && f.Type != bigquery.StringFieldType {
			writeError(w, http.StatusBadRequest, "invalidQuery", "bqfake: = is supported on STRING columns only")
			return
		}
		if c.ge != nil && f.Type != bigquery.TimestampFieldType {
			writeError(w, http.StatusBadRequest, "invalidQuery", "bqfake: >= is supported on TIMESTAMP columns only")
			return
		}
		if c.ge != nil && strings.EqualFold(c.col, t.partitionFilter) {
			filtered = true
		}
	}
	if t.partitionFilter != "" && !filtered {
		writeError(w, http.StatusBadRequest, "invalidQuery", fmt.Sprintf(
			"Cannot query over table '%s' without a filter over column(s) '%s' that can be used for partition elimination",
			table, t.partitionFilter))
		return
	}

	// An empty result is [], not null: the client fetches the results again
	// (jobs.getQueryResults) when a response carries none.
	rows := []map[string]any{}
	seen := map[string]bool{}
	for _, st := range t.rows {
		if !matches(st.row, fields, conds) {
			continue
		}
		cells := make([]map[string]any, len(cols))
		for i, c := range cols {
			cells[i] = map[string]any{"v": cell(st.row[fields[strings.ToLower(c)].Name])}
		}
		if distinct {
			k, _ := json.Marshal(cells)
			if seen[string(k)] {
				continue
			}
			seen[string(k)] = true
		}
		rows = append(rows, map[string]any{"f": cells})
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"kind":         "bigquery#queryResponse",
		"jobComplete":  true,
		"jobReference": map[string]string{"projectId": r.PathValue("project"), "jobId": "bqfake-query", "location": "US"},
		"schema":       map[string]any{"fields": outSchema},
		"rows":         rows,
		"totalRows":    strconv.Itoa(len(rows)),
	})
}

func matches(row map[string]any, fields map[string]*bigquery.FieldSchema, conds []cond) bool {
	for _, c := range conds {
		v, ok := row[fields[strings.ToLower(c.col)].Name]
		if !ok || v == nil {
			return false
		}
		if c.eq != nil && v != *c.eq {
			return false
		}
		if c.ge != nil {
			t, ok := timestampOf(v)
			if !ok || t.Before(*c.ge) {
				return false
			}
		}
	}
	return true
}

// cell renders a stored value the way jobs.query returns it: as a string.
func cell(v any) any {
	switch x := v.(type) {
	case nil:
		return nil
	case string:
		return x
	case json.Number:
		return x.String()
	case bool:
		return strconv.FormatBool(x)
	default:
		b, _ := json.Marshal(x)
		return string(b)
	}
}

func timestampOf(v any) (time.Time, bool) {
	switch x := v.(type) {
	case string:
		return parseTimestamp(x)
	case json.Number:
		f, err := x.Float64()
		if err != nil {
			return time.Time{}, false
		}
		return time.UnixMicro(int64(f * 1e6)).UTC(), true
	}
	return time.Time{}, false
}

func parseTimestamp(s string) (time.Time, bool) {
	for _, layout := range append([]string{"2006-01-02 15:04:05.999999-07:00"}, timestampLayouts...) {
		if t, err := time.Parse(layout, s); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

// simpleShape reports whether a query matched by selectRE is the plain
// SELECT col, ... WHERE cond AND ... this file answers; anything else goes
// to the evaluator (sqleval.go).
func simpleShape(m []string) bool {
	for _, c := range strings.Split(m[2], ",") {
		if !identRE.MatchString(strings.TrimSpace(c)) {
			return false
		}
	}
	for _, c := range andRE.Split(m[4], -1) {
		c = strings.TrimSpace(c)
		if eqRE.MatchString(c) || geRE.MatchString(c) || notNull.MatchString(c) {
			continue
		}
		return false
	}
	return true
}

// evaluateQuery answers jobs.query through the evaluator.
func (s *Server) evaluateQuery(w http.ResponseWriter, r *http.Request, req queryRequest) {
	var ps []jobParam
	for _, p := range req.QueryParameters {
		v := p.ParameterValue.Value
		jp := jobParam{Name: p.Name}
		jp.ParameterType.Type = p.ParameterType.Type
		jp.ParameterValue.Value = &v
		ps = append(ps, jp)
	}
	s.mu.Lock()
	rel, jerr := s.evaluate(req.Query, ps, map[string]any{})
	s.mu.Unlock()
	if jerr != nil {
		status := http.StatusBadRequest
		if jerr.reason == "notFound" {
			status = http.StatusNotFound
		}
		writeError(w, status, jerr.reason, jerr.msg)
		return
	}
	var schema []map[string]string
	var rows [][]any
	if rel != nil {
		schema, rows = results(rel)
	}
	out := wireRows(rows)
	writeJSON(w, http.StatusOK, map[string]any{
		"kind":         "bigquery#queryResponse",
		"jobComplete":  true,
		"jobReference": map[string]string{"projectId": r.PathValue("project"), "jobId": "bqfake-query", "location": "US"},
		"schema":       map[string]any{"fields": schema},
		"rows":         out,
		"totalRows":    strconv.Itoa(len(out)),
	})
}
