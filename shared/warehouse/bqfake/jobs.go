package bqfake

import (
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"cloud.google.com/go/bigquery"
)

// Query jobs (jobs.insert, jobs.get, jobs.getQueryResults: the client's
// Query.Run, Job.Wait and Job.Read) run one more small subset, the
// statements `cioevents forget` sends, evaluated over the stored rows:
//
//	SELECT col | COUNT(*) FROM `project.dataset.table` WHERE expr
//	DELETE FROM `project.dataset.table` WHERE expr
//
// expr is built from AND, OR, NOT and parentheses over
//
//	col >= @p | col < @p | col >= TIMESTAMP 'literal'   (TIMESTAMP columns)
//	col IS NULL | col IS NOT NULL | col = @p
//	col IN UNNEST(@p) | LOWER(TRIM(col)) IN UNNEST(@p)
//	STRPOS(col, @p) > 0 | STRPOS(LOWER(col), @p) > 0
//
// A MERGE from a subquery, an UPDATE and any other SELECT go to the evaluator
// (sqlparse.go, sqleval.go; see evaluated). Anything else fails the job
// saying the fake does not support it.
//
// Like BigQuery, a DELETE that would affect a row streamed less than
// StreamingBuffer ago (on the Now clock) fails with "would affect rows in
// the streaming buffer" and deletes nothing. (BigQuery may refuse more:
// it judges by the partitions the statement reads; a caller must handle
// the error either way.)

// jobState is one finished query job.
type jobState struct {
	resource map[string]any
	schema   []map[string]string
	rows     [][]any
}

type jobs struct {
	mu   sync.Mutex
	byID map[string]*jobState
	n    int
}

// DMLStatements counts the DELETE statements run (failed ones too).
func (s *Server) DMLStatements() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.dml
}

type jobParam struct {
	Name          string `json:"name"`
	ParameterType struct {
		Type      string `json:"type"`
		ArrayType *struct {
			Type        string       `json:"type"`
			StructTypes []structType `json:"structTypes"` // ARRAY<STRUCT>, for MERGE (merge.go)
		} `json:"arrayType"`
	} `json:"parameterType"`
	ParameterValue struct {
		Value       *string `json:"value"`
		ArrayValues []struct {
			Value        string                 `json:"value"`
			StructValues map[string]structValue `json:"structValues"`
		} `json:"arrayValues"`
	} `json:"parameterValue"`
}

// param is a query parameter's value: a string, a time or a list of strings.
type param struct {
	typ  string
	s    string
	t    time.Time
	list []string
}

func (s *Server) insertJob(w http.ResponseWriter, r *http.Request) {
	body, err := readBody(r)
	if err != nil {
		writeError(w, http.StatusBadRequest, "invalid", "cannot read request: "+err.Error())
		return
	}
	var dry struct {
		Configuration struct {
			DryRun bool `json:"dryRun"`
		} `json:"configuration"`
	}
	if json.Unmarshal(body, &dry) == nil && dry.Configuration.DryRun {
		s.dryRunJob(w, r, body)
		return
	}
	var job map[string]any
	if err := json.Unmarshal(body, &job); err != nil {
		writeError(w, http.StatusBadRequest, "invalid", "Invalid JSON payload received. "+err.Error())
		return
	}
	var cfg struct {
		Configuration struct {
			Query *struct {
				Query           string     `json:"query"`
				UseLegacySQL    *bool      `json:"useLegacySql"`
				QueryParameters []jobParam `json:"queryParameters"`
			} `json:"query"`
		} `json:"configuration"`
		JobReference struct {
			JobID string `json:"jobId"`
		} `json:"jobReference"`
	}
	_ = json.Unmarshal(body, &cfg)
	q := cfg.Configuration.Query
	if q == nil {
		writeError(w, http.StatusBadRequest, "invalid", "bqfake: only query jobs are supported")
		return
	}
	st := &jobState{resource: job}
	id := cfg.JobReference.JobID
	s.jobs.mu.Lock()
	if s.jobs.byID == nil {
		s.jobs.byID = map[string]*jobState{}
	}
	if id == "" {
		s.jobs.n++
		id = "bqfake-job-" + strconv.Itoa(s.jobs.n)
	}
	s.jobs.mu.Unlock()
	ref, _ := job["jobReference"].(map[string]any)
	if ref == nil {
		ref = map[string]any{}
		job["jobReference"] = ref
	}
	ref["jobId"], ref["projectId"], ref["location"] = id, r.PathValue("project"), "US"

	stats := map[string]any{}
	if q.UseLegacySQL == nil || *q.UseLegacySQL {
		st.fail("invalidQuery", "bqfake: only GoogleSQL (useLegacySql: false) is supported")
	} else if err := s.runStatement(q.Query, q.QueryParameters, st, stats); err != nil {
		st.fail(err.reason, err.msg)
	}
	status, _ := job["status"].(map[string]any)
	if status == nil {
		status = map[string]any{}
		job["status"] = status
	}
	status["state"] = "DONE"
	job["statistics"] = map[string]any{"query": stats}
	s.jobs.mu.Lock()
	s.jobs.byID[id] = st
	s.jobs.mu.Unlock()
	writeJSON(w, http.StatusOK, job)
}

func (st *jobState) fail(reason, msg string) {
	e := map[string]any{"reason": reason, "message": msg}
	st.resource["status"] = map[string]any{"state": "DONE", "errorResult": e, "errors": []any{e}}
}

func (s *Server) getJob(w http.ResponseWriter, r *http.Request) {
	s.jobs.mu.Lock()
	st := s.jobs.byID[r.PathValue("job")]
	s.jobs.mu.Unlock()
	if st == nil {
		writeError(w, http.StatusNotFound, "notFound", "Not found: Job "+r.PathValue("job"))
		return
	}
	writeJSON(w, http.StatusOK, st.resource)
}

func (s *Server) getQueryResults(w http.ResponseWriter, r *http.Request) {
	s.jobs.mu.Lock()
	st := s.jobs.byID[r.PathValue("job")]
	s.jobs.mu.Unlock()
	if st == nil {
		writeError(w, http.StatusNotFound, "notFound", "Not found: Job "+r.PathValue("job"))
		return
	}
	rows := wireRows(st.rows)
	schema := st.schema
	if schema == nil {
		schema = []map[string]string{}
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"kind": "bigquery#getQueryResultsResponse", "jobComplete": true, "jobReference": st.resource["jobReference"],
		"schema": map[string]any{"fields": schema}, "rows": rows, "totalRows": strconv.Itoa(len(rows)),
	})
}

// wireRows renders result rows as the API's {"f": [{"v": ...}]} list; an
// empty result is [], not null, as the client re-fetches on a missing list.
func wireRows(rows [][]any) []map[string]any {
	out := make([]map[string]any, 0, len(rows))
	for _, row := range rows {
		cells := make([]map[string]any, len(row))
		for i, v := range row {
			cells[i] = map[string]any{"v": v}
		}
		out = append(out, map[string]any{"f": cells})
	}
	return out
}

type jobError struct{ reason, msg string }

func unsupported(format string, a ...any) *jobError {
	return &jobError{"invalidQuery", "bqfake: " + fmt.Sprintf(format, a...)}
}

var (
	selectJobRE = regexp.MustCompile(`(?is)^\s*SELECT\s+(COUNT\(\*\)|[A-Za-z_][A-Za-z0-9_]*)\s+FROM\s+` + "`([^`]+)`" + `\s+WHERE\s+(.+?)\s*;?\s*$`)
	deleteJobRE = regexp.MustCompile(`(?is)^\s*DELETE\s+FROM\s+` + "`([^`]+)`" + `\s+WHERE\s+(.+?)\s*;?\s*$`)
)

func (s *Server) runStatement(sql string, ps []jobParam, st *jobState, stats map[string]any) *jobError {
	if evaluated(sql) {
		return s.evaluateStatement(sql, ps, st, stats)
	}
	if mergeJobRE.MatchString(sql) {
		return s.runMerge(sql, ps, stats)
	}
	params := map[string]param{}
	for _, p := range ps {
		v := param{typ: p.ParameterType.Type}
		switch v.typ {
		case "STRING":
			if p.ParameterValue.Value != nil {
				v.s = *p.ParameterValue.Value
			}
		case "TIMESTAMP":
			if p.ParameterValue.Value == nil {
				return unsupported("NULL TIMESTAMP parameter %s", p.Name)
			}
			t, ok := parseTimestamp(*p.ParameterValue.Value)
			if !ok {
				return &jobError{"invalidQuery", "Invalid TIMESTAMP parameter " + p.Name}
			}
			v.t = t
		case "ARRAY":
			if p.ParameterType.ArrayType == nil || p.ParameterType.ArrayType.Type != "STRING" {
				return unsupported("only ARRAY<STRING> parameters are supported")
			}
			for _, a := range p.ParameterValue.ArrayValues {
				v.list = append(v.list, a.Value)
			}
		default:
			return unsupported("%s parameters are not supported", v.typ)
		}
		params[p.Name] = v
	}
	var table, where, what string
	del := false
	if m := selectJobRE.FindStringSubmatch(sql); m != nil {
		what, table, where = m[1], m[2], m[3]
		stats["statementType"] = "SELECT"
	} else if m := deleteJobRE.FindStringSubmatch(sql); m != nil {
		table, where, del = m[1], m[2], true
		stats["statementType"] = "DELETE"
	} else {
		return unsupported("unsupported statement shape")
	}
	parts := strings.Split(table, ".")
	if len(parts) != 3 {
		return unsupported("name the table as `project.dataset.table`")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if del {
		s.dml++
	}
	t := s.tables[parts[1]+"."+parts[2]]
	if t == nil {
		return &jobError{"notFound", "Not found: Table " + table}
	}
	fields := map[string]*bigquery.FieldSchema{}
	for _, f := range t.schema {
		fields[strings.ToLower(f.Name)] = f
	}
	e, err := parseExpr(where, fields, params)
	if err != nil {
		return err
	}
	if t.partitionFilter != "" && !e.filters(t.partitionFilter) {
		return &jobError{"invalidQuery", fmt.Sprintf(
			"Cannot query over table '%s' without a filter over column(s) '%s' that can be used for partition elimination",
			table, t.partitionFilter)}
	}
	var hit []int
	for i, r := range t.rows {
		if e.eval(r.row) {
			hit = append(hit, i)
		}
	}
	if del {
		now := s.now()
		for _, i := range hit {
			if s.StreamingBuffer > 0 && now.Sub(t.rows[i].at) < s.StreamingBuffer {
				return &jobError{"invalidQuery", fmt.Sprintf("UPDATE or DELETE statement over table %s would affect rows in the streaming buffer, which is not supported", table)}
			}
		}
		keep := t.rows[:0:0]
		j := 0
		for i, r := range t.rows {
			if j < len(hit) && hit[j] == i {
				j++
				continue
			}
			keep = append(keep, r)
		}
		t.rows = keep
		stats["numDmlAffectedRows"] = strconv.Itoa(len(hit))
		return nil
	}
	if strings.EqualFold(what, "COUNT(*)") {
		st.schema = []map[string]string{{"name": "f0_", "type": "INTEGER", "mode": "NULLABLE"}}
		st.rows = [][]any{{strconv.Itoa(len(hit))}}
		return nil
	}
	f := fields[strings.ToLower(what)]
	if f == nil {
		return &jobError{"invalidQuery", "Unrecognized name: " + what}
	}
	st.schema = []map[string]string{{"name": f.Name, "type": string(f.Type), "mode": "NULLABLE"}}
	for _, i := range hit {
		st.rows = append(st.rows, []any{cell(t.rows[i].row[f.Name])})
	}
	return nil
}

var (
	mergeSelectRE = regexp.MustCompile(`(?is)^\s*MERGE\s.*\sUSING\s*\(`)
	updateRE      = regexp.MustCompile(`(?is)^\s*UPDATE\s`)
	selectAnyRE   = regexp.MustCompile(`(?is)^\s*\(?\s*SELECT\s`)
	// leadingComments are the -- lines a generated statement starts with.
	leadingComments = regexp.MustCompile(`^(\s*--[^\n]*\n)+`)
)

// evaluated reports whether sql is for the evaluator (sqleval.go) rather
// than the subset above: a MERGE from a subquery, an UPDATE, or a SELECT of
// another shape than selectJobRE's.
func evaluated(sql string) bool {
	sql = leadingComments.ReplaceAllString(sql, "")
	return mergeSelectRE.MatchString(sql) || updateRE.MatchString(sql) ||
		(selectAnyRE.MatchString(sql) && !selectJobRE.MatchString(sql))
}

func (s *Server) evaluateStatement(sql string, ps []jobParam, st *jobState, stats map[string]any) *jobError {
	s.mu.Lock()
	defer s.mu.Unlock()
	rel, err := s.evaluate(sql, ps, stats)
	if err != nil {
		return err
	}
	if rel != nil {
		st.schema, st.rows = results(rel)
	}
	return nil
}
