// Package bqfake is an HTTP fake of BigQuery's tabledata.insertAll (and of
// jobs.query for a small SQL subset, see query.go) for tests.
// The official Go client talks to it unchanged:
//
//	srv := bqfake.New(map[string]bigquery.Schema{"ds.events": schema})
//	defer srv.Close()
//	client, _ := bigquery.NewClient(ctx, "proj",
//		option.WithEndpoint(srv.URL()+"/bigquery/v2/"), option.WithoutAuthentication())
//
// Every row is checked against the table schema the way the service checks
// streamed JSON, so a test against the fake is a test of the wire format:
// unknown columns, missing REQUIRED columns and values of the wrong JSON type
// come back as insertErrors with reason "invalid". A request over BigQuery's
// 10 MB insertAll limit is refused with HTTP 400, as the service does.
//
// Every row is stored, however often its insertId was seen: BigQuery only
// dedupes best-effort, for about a minute, so a test that relied on the fake
// deduping forever would hide a repeated insert. Set DedupeWindow to model
// the service's window.
//
// The official client (v1.86) retries a request-level 5xx, backendError or
// rateLimitExceeded by itself, with jittered backoff from 1 s doubling to
// 32 s, until its context ends; FailNext(1, 503) therefore costs one extra
// request and still succeeds, while 4xx and insertErrors come back at once.
// Requests shows the count.
package bqfake

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"time"

	"cloud.google.com/go/bigquery"
)

// Server is a running fake. It is safe for concurrent use.
type Server struct {
	// DedupeWindow, when positive, drops a row whose insertId was stored
	// less than this long ago (on the Now clock). Zero stores every row.
	// Set it before the first request.
	DedupeWindow time.Duration
	// Now is the clock of DedupeWindow; nil means time.Now.
	Now func() time.Time
	// Hold, when set, is called with each insertAll request's context
	// before it is handled: a test blocks in it to model a slow BigQuery.
	// A request whose context ends while held stores nothing.
	Hold func(ctx context.Context)
	// StreamingBuffer, when positive, is how long a streamed row stays
	// where DML cannot reach it (on the Now clock): a DELETE that would
	// affect it fails, as BigQuery's does. Set it before the first request.
	StreamingBuffer time.Duration

	srv *httptest.Server

	mu           sync.Mutex
	tables       map[string]*table
	failN        int
	failStatus   int
	insertErrN   int
	insertErrRs  string
	insertErrMsg string
	queries      int
	views        map[string]View
	sqlViews     map[string]string
	dryRuns      int
	dml          int
	jobs         jobs
}

type table struct {
	schema   bigquery.Schema
	rows     []stored
	ids      map[string]time.Time // insertId → when last stored
	requests int
	// partitionFilter is the column every query must filter on ("": none).
	partitionFilter string
}

type stored struct {
	insertID string
	row      map[string]any
	at       time.Time // when stored, on the Now clock
}

// New starts a fake serving the given tables, keyed "dataset.table" (any
// project is accepted).
func New(tables map[string]bigquery.Schema) *Server {
	s := &Server{tables: make(map[string]*table, len(tables))}
	for name, schema := range tables {
		s.tables[name] = &table{schema: schema, ids: make(map[string]time.Time)}
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /bigquery/v2/projects/{project}/datasets/{dataset}/tables/{table}/insertAll", s.insertAll)
	mux.HandleFunc("POST /bigquery/v2/projects/{project}/queries", s.query)
	mux.HandleFunc("POST /bigquery/v2/projects/{project}/jobs", s.insertJob)
	mux.HandleFunc("GET /bigquery/v2/projects/{project}/jobs/{job}", s.getJob)
	mux.HandleFunc("GET /bigquery/v2/projects/{project}/queries/{job}", s.getQueryResults)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "notFound", "Not found: URL "+r.URL.Path)
	})
	s.srv = httptest.NewServer(mux)
	return s
}

// URL is the server's base URL; the client endpoint is URL()+"/bigquery/v2/".
func (s *Server) URL() string { return s.srv.URL }

// Close stops the server.
func (s *Server) Close() { s.srv.Close() }

// Rows returns the stored rows of table ("dataset.table") in insertion order,
// as the client sent them: numbers are json.Number, JSON columns are strings.
func (s *Server) Rows(name string) []map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.tables[name]
	if t == nil {
		return nil
	}
	out := make([]map[string]any, len(t.rows))
	for i, r := range t.rows {
		out[i] = r.row
	}
	return out
}

// InsertIDs returns the insertId of each stored row of table, in the order of
// Rows ("" for a row sent without one).
func (s *Server) InsertIDs(name string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.tables[name]
	if t == nil {
		return nil
	}
	out := make([]string, len(t.rows))
	for i, r := range t.rows {
		out[i] = r.insertID
	}
	return out
}

// Requests counts the insertAll requests that reached table, failed ones
// included; it shows how often the client retried.
func (s *Server) Requests(name string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if t := s.tables[name]; t != nil {
		return t.requests
	}
	return 0
}

// FailNext makes the next n insertAll requests fail as a whole with HTTP
// status and BigQuery's error JSON (503 → backendError, 404 → notFound, ...).
func (s *Server) FailNext(n int, status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failN, s.failStatus = n, status
}

// InsertErrorNext makes the next n insertAll requests answer HTTP 200 with an
// insertError of reason for every row; nothing is stored.
func (s *Server) InsertErrorNext(n int, reason string) {
	s.InsertErrorMessageNext(n, reason, "fake insert error")
}

// InsertErrorMessageNext is InsertErrorNext with the error's message, e.g.
// "no such field: x." as a column added moments ago gets.
func (s *Server) InsertErrorMessageNext(n int, reason, message string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.insertErrN, s.insertErrRs, s.insertErrMsg = n, reason, message
}

type insertAllRequest struct {
	SkipInvalidRows     bool   `json:"skipInvalidRows"`
	IgnoreUnknownValues bool   `json:"ignoreUnknownValues"`
	TemplateSuffix      string `json:"templateSuffix"`
	Rows                []struct {
		InsertID string                     `json:"insertId"`
		JSON     map[string]json.RawMessage `json:"json"`
	} `json:"rows"`
}

type errorProto struct {
	Reason   string `json:"reason"`
	Location string `json:"location,omitempty"`
	Message  string `json:"message"`
}

type insertErrors struct {
	Index  int          `json:"index"`
	Errors []errorProto `json:"errors"`
}

// MaxRequestBytes is BigQuery's insertAll request size limit (10 MB).
const MaxRequestBytes = 10 << 20

func (s *Server) insertAll(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("dataset") + "." + r.PathValue("table")
	body, err := readBody(r)
	if err != nil {
		writeError(w, http.StatusBadRequest, "invalid", "cannot read request: "+err.Error())
		return
	}
	// Held after the body is read: only then does the server notice a client
	// that gave up and end the request's context.
	if s.Hold != nil {
		s.Hold(r.Context())
		if r.Context().Err() != nil {
			s.mu.Lock()
			if t := s.tables[name]; t != nil {
				t.requests++
			}
			s.mu.Unlock()
			return
		}
	}
	if len(body) > MaxRequestBytes {
		s.mu.Lock()
		if t := s.tables[name]; t != nil {
			t.requests++
		}
		s.mu.Unlock()
		writeError(w, http.StatusBadRequest, "invalid",
			fmt.Sprintf("Request payload size exceeds the limit: %d bytes.", MaxRequestBytes))
		return
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.tables[name]
	if t == nil {
		writeError(w, http.StatusNotFound, "notFound",
			fmt.Sprintf("Not found: Table %s:%s", r.PathValue("project"), name))
		return
	}
	t.requests++
	if s.failN > 0 {
		s.failN--
		writeError(w, s.failStatus, reasonFor(s.failStatus), "fake failure")
		return
	}

	var req insertAllRequest
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&req); err != nil {
		writeError(w, http.StatusBadRequest, "invalid", "Invalid JSON payload received. "+err.Error())
		return
	}
	if len(req.Rows) == 0 {
		writeError(w, http.StatusBadRequest, "invalid", "No rows present in the request.")
		return
	}
	if req.TemplateSuffix != "" {
		writeError(w, http.StatusBadRequest, "invalid", "bqfake: templateSuffix is not supported")
		return
	}

	var ierrs []insertErrors
	if s.insertErrN > 0 {
		s.insertErrN--
		for i := range req.Rows {
			ierrs = append(ierrs, insertErrors{Index: i, Errors: []errorProto{{Reason: s.insertErrRs, Message: s.insertErrMsg}}})
		}
		writeJSON(w, http.StatusOK, map[string]any{"kind": "bigquery#tableDataInsertAllResponse", "insertErrors": ierrs})
		return
	}

	rows := make([]map[string]any, len(req.Rows))
	bad := make(map[int]bool)
	for i, row := range req.Rows {
		if row.JSON == nil {
			ierrs = append(ierrs, insertErrors{Index: i, Errors: []errorProto{{Reason: "invalid", Message: "Row has no json object."}}})
			bad[i] = true
			continue
		}
		v, errs := checkRecord(t.schema, row.JSON, "", req.IgnoreUnknownValues)
		if len(errs) > 0 {
			ierrs = append(ierrs, insertErrors{Index: i, Errors: errs})
			bad[i] = true
			continue
		}
		rows[i] = v
	}
	if len(bad) > 0 && !req.SkipInvalidRows {
		// The service refuses the whole request; valid rows are "stopped".
		for i := range req.Rows {
			if !bad[i] {
				ierrs = append(ierrs, insertErrors{Index: i, Errors: []errorProto{{Reason: "stopped"}}})
			}
		}
		writeJSON(w, http.StatusOK, map[string]any{"kind": "bigquery#tableDataInsertAllResponse", "insertErrors": ierrs})
		return
	}
	for i, row := range req.Rows {
		if bad[i] {
			continue
		}
		if row.InsertID != "" && s.DedupeWindow > 0 {
			now := s.now()
			if seen, ok := t.ids[row.InsertID]; ok && now.Sub(seen) < s.DedupeWindow {
				continue
			}
			t.ids[row.InsertID] = now
		}
		t.rows = append(t.rows, stored{insertID: row.InsertID, row: rows[i], at: s.now()})
	}
	resp := map[string]any{"kind": "bigquery#tableDataInsertAllResponse"}
	if len(ierrs) > 0 {
		resp["insertErrors"] = ierrs
	}
	writeJSON(w, http.StatusOK, resp)
}

func (s *Server) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

func readBody(r *http.Request) ([]byte, error) {
	var rd io.Reader = r.Body
	if r.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			return nil, err
		}
		defer zr.Close()
		rd = zr
	}
	return io.ReadAll(rd)
}

// reasonFor gives the reason BigQuery puts in a request-level error.
func reasonFor(status int) string {
	switch status {
	case http.StatusBadRequest:
		return "invalid"
	case http.StatusUnauthorized:
		return "unauthorized"
	case http.StatusForbidden:
		return "accessDenied"
	case http.StatusNotFound:
		return "notFound"
	case http.StatusConflict:
		return "duplicate"
	case http.StatusTooManyRequests:
		return "rateLimitExceeded"
	case http.StatusInternalServerError, http.StatusServiceUnavailable:
		return "backendError"
	}
	return "unknown"
}

func writeError(w http.ResponseWriter, status int, reason, msg string) {
	writeJSON(w, status, map[string]any{"error": map[string]any{
		"code":    status,
		"message": msg,
		"errors":  []map[string]string{{"message": msg, "domain": "global", "reason": reason}},
		"status":  http.StatusText(status),
	}})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// checkRecord validates one JSON object against schema. prefix is the
// location of the record ("" at the top, "parent." inside a RECORD).
func checkRecord(schema bigquery.Schema, obj map[string]json.RawMessage, prefix string, ignoreUnknown bool) (map[string]any, []errorProto) {
	out := make(map[string]any, len(obj))
	var errs []errorProto
	byName := make(map[string]*bigquery.FieldSchema, len(schema))
	for _, f := range schema {
		// Column names are case-insensitive in BigQuery.
		byName[strings.ToLower(f.Name)] = f
	}
	for k, raw := range obj {
		f := byName[strings.ToLower(k)]
		if f == nil {
			if !ignoreUnknown {
				errs = append(errs, invalid(prefix+k, "no such field: "+prefix+k+"."))
			}
			continue
		}
		v, err := checkField(f, raw, prefix, ignoreUnknown)
		if err != nil {
			errs = append(errs, err...)
			continue
		}
		if v != nil {
			out[f.Name] = v
		}
	}
	for _, f := range schema {
		if !f.Required {
			continue
		}
		if _, ok := out[f.Name]; !ok && !hasError(errs, prefix+f.Name) {
			errs = append(errs, invalid(prefix+f.Name, "Missing required field: "+prefix+f.Name+"."))
		}
	}
	return out, errs
}

func hasError(errs []errorProto, loc string) bool {
	for _, e := range errs {
		if e.Location == loc {
			return true
		}
	}
	return false
}

func invalid(loc, msg string) errorProto {
	return errorProto{Reason: "invalid", Location: loc, Message: msg}
}

func isNull(raw json.RawMessage) bool {
	return len(bytes.TrimSpace(raw)) == 0 || string(bytes.TrimSpace(raw)) == "null"
}

func checkField(f *bigquery.FieldSchema, raw json.RawMessage, prefix string, ignoreUnknown bool) (any, []errorProto) {
	loc := prefix + f.Name
	if isNull(raw) {
		return nil, nil // a REQUIRED column left NULL is reported by checkRecord
	}
	if !f.Repeated {
		v, err := checkValue(f, raw, loc, ignoreUnknown)
		return v, err
	}
	var elems []json.RawMessage
	if err := json.Unmarshal(raw, &elems); err != nil {
		return nil, []errorProto{invalid(loc, "Array specified for non-repeated field or non-array for repeated field: "+loc+".")}
	}
	out := make([]any, 0, len(elems))
	for _, e := range elems {
		if isNull(e) {
			return nil, []errorProto{invalid(loc, "Null value in repeated field: "+loc+".")}
		}
		v, err := checkValue(f, e, loc, ignoreUnknown)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}

func checkValue(f *bigquery.FieldSchema, raw json.RawMessage, loc string, ignoreUnknown bool) (any, []errorProto) {
	bad := func(what string) (any, []errorProto) {
		return nil, []errorProto{invalid(loc, fmt.Sprintf("Cannot convert value to %s: %s.", f.Type, what))}
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return bad("not JSON")
	}
	switch f.Type {
	case bigquery.RecordFieldType:
		var obj map[string]json.RawMessage
		if err := json.Unmarshal(raw, &obj); err != nil {
			return bad("not an object")
		}
		return checkRecord(f.Schema, obj, loc+".", ignoreUnknown)
	case bigquery.StringFieldType:
		if _, ok := v.(string); !ok {
			return bad("not a string")
		}
	case bigquery.BytesFieldType:
		s, ok := v.(string)
		if !ok {
			return bad("not a string")
		}
		if _, err := base64.StdEncoding.DecodeString(s); err != nil {
			return bad("not base64")
		}
	case bigquery.IntegerFieldType:
		if !isInt64(v) {
			return bad("not an integer")
		}
	case bigquery.FloatFieldType, bigquery.NumericFieldType, bigquery.BigNumericFieldType:
		if !isNumber(v) {
			return bad("not a number")
		}
	case bigquery.BooleanFieldType:
		if _, ok := v.(bool); !ok {
			return bad("not a boolean")
		}
	case bigquery.TimestampFieldType:
		if !isTimestamp(v) {
			return bad("not a timestamp")
		}
	case bigquery.DateFieldType:
		s, ok := v.(string)
		if !ok {
			return bad("not a string")
		}
		if _, err := time.Parse("2006-01-02", s); err != nil {
			return bad("not a date")
		}
	case bigquery.JSONFieldType:
		// The streaming API wants the JSON text as a string; an embedded
		// object is refused.
		s, ok := v.(string)
		if !ok {
			return bad("JSON column value must be a string holding JSON")
		}
		if !json.Valid([]byte(s)) {
			return bad("not valid JSON text")
		}
	default:
		// TIME, DATETIME, GEOGRAPHY, INTERVAL, RANGE: text forms only; the
		// fake does not parse them further.
		if _, ok := v.(string); !ok {
			return bad("not a string")
		}
	}
	return v, nil
}

func isInt64(v any) bool {
	var text string
	switch x := v.(type) {
	case json.Number:
		text = x.String()
	case string:
		text = strings.TrimSpace(x)
	default:
		return false
	}
	if _, err := strconv.ParseInt(text, 10, 64); err == nil {
		return true
	}
	// 4.2e1 is an integer too; 4.5 is not.
	f, err := strconv.ParseFloat(text, 64)
	return err == nil && f == math.Trunc(f) && math.Abs(f) <= math.MaxInt64
}

func isNumber(v any) bool {
	switch x := v.(type) {
	case json.Number:
		return true
	case string:
		_, err := strconv.ParseFloat(strings.TrimSpace(x), 64)
		return err == nil
	}
	return false
}

// timestampLayouts are the text forms of a TIMESTAMP that streaming accepts:
// canonical ("2026-01-01 00:00:00[.ffffff][ UTC|+hh:mm]"), RFC 3339, and a
// bare date.
var timestampLayouts = []string{
	time.RFC3339Nano,
	"2006-01-02T15:04:05.999999999",
	"2006-01-02 15:04:05.999999999Z07:00",
	"2006-01-02 15:04:05.999999999 Z07:00",
	"2006-01-02 15:04:05.999999999",
	"2006-01-02 15:04:05.999999999 UTC",
	"2006-01-02",
}

var (
	minTS = time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC)
	maxTS = time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC)
)

func isTimestamp(v any) bool {
	switch x := v.(type) {
	case json.Number:
		// Seconds since the epoch, fractions allowed.
		f, err := x.Float64()
		return err == nil && f >= float64(minTS.Unix()) && f <= float64(maxTS.Unix())
	case string:
		for _, layout := range timestampLayouts {
			if t, err := time.Parse(layout, x); err == nil {
				return !t.Before(minTS) && !t.After(maxTS)
			}
		}
	}
	return false
}
