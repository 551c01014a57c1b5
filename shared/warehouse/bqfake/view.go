package bqfake

import (
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"
)

// View models what matters of a view for require_partition_filter: which
// columns its own SQL filters its base on, and which columns of an outer
// filter reach its base. BigQuery pushes a filter on a window's PARTITION BY
// column below the window, and not one on another column; a filter on a
// column a view computes (DATE(event_time) AS day, GROUP BY) does not reach
// the base either. A query of a view over a table with a partition filter
// requirement fails, as in BigQuery, unless a filter on the partition column
// reaches the table through every view in between.
type View struct {
	// Base is the table or view it reads, "dataset.name".
	Base string
	// Filters are the base columns the view's own WHERE filters on.
	Filters []string
	// PassThrough are the columns whose outer filter reaches Base.
	PassThrough []string
}

// AddView defines view name ("dataset.view") for dry runs.
func (s *Server) AddView(name string, v View) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.views == nil {
		s.views = map[string]View{}
	}
	s.views[name] = v
}

// DryRuns counts the dry-run jobs received.
func (s *Server) DryRuns() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.dryRuns
}

var (
	dryRunRE  = regexp.MustCompile(`(?is)^\s*SELECT\s+.+?\s+FROM\s+` + "`([^`]+)`" + `(?:\s+WHERE\s+(.+?))?\s*;?\s*$`)
	condColRE = regexp.MustCompile(`(?i)^([A-Za-z_][A-Za-z0-9_]{0,299})\s*(>=|<=|<|>|=|BETWEEN|IS\s+NOT\s+NULL)`)
)

// dryRunJob answers jobs.insert for a dry-run query: it checks the names
// and the partition filter and reports 0 bytes.
func (s *Server) dryRunJob(w http.ResponseWriter, r *http.Request, body []byte) {
	var job struct {
		JobReference  json.RawMessage `json:"jobReference"`
		Configuration struct {
			DryRun bool `json:"dryRun"`
			Query  *struct {
				Query        string `json:"query"`
				UseLegacySQL *bool  `json:"useLegacySql"`
			} `json:"query"`
		} `json:"configuration"`
	}
	if err := json.Unmarshal(body, &job); err != nil {
		writeError(w, http.StatusBadRequest, "invalid", "Invalid JSON payload received. "+err.Error())
		return
	}
	q := job.Configuration.Query
	if q == nil {
		writeError(w, http.StatusBadRequest, "invalid", "bqfake: only query jobs are supported")
		return
	}
	if q.UseLegacySQL == nil || *q.UseLegacySQL {
		writeError(w, http.StatusBadRequest, "invalidQuery", "bqfake: only GoogleSQL (useLegacySql: false) is supported")
		return
	}
	s.mu.Lock()
	s.dryRuns++
	s.mu.Unlock()
	m := dryRunRE.FindStringSubmatch(q.Query)
	if m == nil {
		writeError(w, http.StatusBadRequest, "invalidQuery", "bqfake: unsupported query shape")
		return
	}
	var filtered []string
	if m[2] != "" {
		for _, c := range andRE.Split(m[2], -1) {
			cm := condColRE.FindStringSubmatch(strings.TrimSpace(c))
			if cm == nil {
				writeError(w, http.StatusBadRequest, "invalidQuery", "bqfake: unsupported condition "+c)
				return
			}
			filtered = append(filtered, strings.ToLower(cm[1]))
		}
	}
	if status, reason, msg := s.checkPartition(m[1], filtered); status != 0 {
		writeError(w, status, reason, msg)
		return
	}
	ref := job.JobReference
	if len(ref) == 0 {
		ref = json.RawMessage(`{"projectId":"` + r.PathValue("project") + `"}`)
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"kind": "bigquery#job", "jobReference": ref, "configuration": map[string]any{"dryRun": true},
		"status":     map[string]any{"state": "DONE"},
		"statistics": map[string]any{"totalBytesProcessed": "0", "query": map[string]any{"totalBytesProcessed": "0"}},
	})
}

// checkPartition walks from name (`project.dataset.name`) through views to
// the table, carrying the filtered columns that reach each level.
func (s *Server) checkPartition(full string, filtered []string) (int, string, string) {
	parts := strings.Split(full, ".")
	if len(parts) != 3 {
		return http.StatusBadRequest, "invalidQuery", "bqfake: name the table as `project.dataset.table`"
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	name := parts[1] + "." + parts[2]
	for depth := 0; ; depth++ {
		if depth > 16 {
			return http.StatusBadRequest, "invalidQuery", "bqfake: views nest too deep"
		}
		if v, ok := s.views[name]; ok {
			var next []string
			for _, c := range filtered {
				if slices.ContainsFunc(v.PassThrough, func(p string) bool { return strings.EqualFold(p, c) }) {
					next = append(next, c)
				}
			}
			for _, c := range v.Filters {
				next = append(next, strings.ToLower(c))
			}
			name, filtered = v.Base, next
			continue
		}
		t := s.tables[name]
		if t == nil {
			return http.StatusNotFound, "notFound", "Not found: Table " + parts[0] + ":" + name
		}
		if t.partitionFilter != "" && !slices.Contains(filtered, strings.ToLower(t.partitionFilter)) {
			return http.StatusBadRequest, "invalidQuery", fmt.Sprintf(
				"Cannot query over table '%s.%s' without a filter over column(s) '%s' that can be used for partition elimination",
				parts[0], name, t.partitionFilter)
		}
		return 0, "", ""
	}
}
