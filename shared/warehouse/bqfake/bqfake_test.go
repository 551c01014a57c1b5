package bqfake

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/bigquery"
	"google.golang.org/api/googleapi"
	"google.golang.org/api/option"
)

var testSchema = bigquery.Schema{
	{Name: "id", Type: bigquery.StringFieldType, Required: true},
	{Name: "n", Type: bigquery.IntegerFieldType},
	{Name: "f", Type: bigquery.FloatFieldType},
	{Name: "ok", Type: bigquery.BooleanFieldType},
	{Name: "at", Type: bigquery.TimestampFieldType},
	{Name: "day", Type: bigquery.DateFieldType},
	{Name: "doc", Type: bigquery.JSONFieldType},
	{Name: "bin", Type: bigquery.BytesFieldType},
	{Name: "tags", Type: bigquery.StringFieldType, Repeated: true},
	{Name: "rec", Type: bigquery.RecordFieldType, Schema: bigquery.Schema{
		{Name: "x", Type: bigquery.IntegerFieldType, Required: true},
	}},
}

const path = "/bigquery/v2/projects/p/datasets/ds/tables/t/insertAll"

type response struct {
	InsertErrors []struct {
		Index  int          `json:"index"`
		Errors []errorProto `json:"errors"`
	} `json:"insertErrors"`
	Error *struct {
		Code   int `json:"code"`
		Errors []struct {
			Reason string `json:"reason"`
		} `json:"errors"`
	} `json:"error"`
}

func post(t *testing.T, s *Server, p, body string) (int, response) {
	t.Helper()
	res, err := http.Post(s.URL()+p, "application/json", bytes.NewBufferString(body))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	var r response
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatalf("response %q: %v", b, err)
	}
	return res.StatusCode, r
}

// TestValidation sends one row per case; "" means the row is accepted,
// otherwise the insertError location it must get.
func TestValidation(t *testing.T) {
	tests := []struct {
		name string
		row  string
		loc  string
	}{
		{"minimal", `{"id":"a"}`, ""},
		{"all types", `{"id":"a","n":42,"f":1.5,"ok":true,"at":"2026-01-01T00:00:00.123456Z","day":"2026-01-01",` +
			`"doc":"{\"k\":[1,2]}","bin":"AAE=","tags":["x","y"],"rec":{"x":"7"}}`, ""},
		{"nulls in NULLABLE", `{"id":"a","n":null,"ok":null,"doc":null,"rec":null}`, ""},
		{"integer as numeric string", `{"id":"a","n":"-12"}`, ""},
		{"integer in exponent form", `{"id":"a","n":4.2e1}`, ""},
		{"timestamp canonical with zone", `{"id":"a","at":"2026-01-01 10:00:00.5 UTC"}`, ""},
		{"timestamp as epoch seconds", `{"id":"a","at":1767225600.25}`, ""},
		{"column names ignore case", `{"ID":"a"}`, ""},

		{"missing REQUIRED", `{"n":1}`, "id"},
		{"REQUIRED null", `{"id":null}`, "id"},
		{"unknown column", `{"id":"a","nope":1}`, "nope"},
		{"STRING given a number", `{"id":5}`, "id"},
		{"INTEGER given a fraction", `{"id":"a","n":4.5}`, "n"},
		{"INTEGER given text", `{"id":"a","n":"four"}`, "n"},
		{"INTEGER given a bool", `{"id":"a","n":true}`, "n"},
		{"INTEGER overflow", `{"id":"a","n":"99999999999999999999"}`, "n"},
		{"BOOLEAN given a string", `{"id":"a","ok":"true"}`, "ok"},
		{"TIMESTAMP garbage", `{"id":"a","at":"yesterday"}`, "at"},
		{"TIMESTAMP given a bool", `{"id":"a","at":false}`, "at"},
		{"JSON given an object", `{"id":"a","doc":{"k":1}}`, "doc"},
		{"JSON string not JSON", `{"id":"a","doc":"{oops"}`, "doc"},
		{"DATE wrong form", `{"id":"a","day":"01/02/2026"}`, "day"},
		{"BYTES not base64", `{"id":"a","bin":"***"}`, "bin"},
		{"REPEATED given a scalar", `{"id":"a","tags":"x"}`, "tags"},
		{"RECORD missing REQUIRED", `{"id":"a","rec":{}}`, "rec.x"},
		{"RECORD unknown field", `{"id":"a","rec":{"x":1,"y":2}}`, "rec.y"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := New(map[string]bigquery.Schema{"ds.t": testSchema})
			defer s.Close()
			status, res := post(t, s, path, `{"rows":[{"insertId":"r1","json":`+tt.row+`}]}`)
			if status != http.StatusOK {
				t.Fatalf("status %d", status)
			}
			if tt.loc == "" {
				if len(res.InsertErrors) != 0 || len(s.Rows("ds.t")) != 1 {
					t.Errorf("row refused: %+v", res.InsertErrors)
				}
				return
			}
			if len(res.InsertErrors) != 1 || len(res.InsertErrors[0].Errors) == 0 {
				t.Fatalf("insertErrors = %+v, want one at %s", res.InsertErrors, tt.loc)
			}
			e := res.InsertErrors[0].Errors[0]
			if e.Reason != "invalid" || e.Location != tt.loc {
				t.Errorf("error %+v, want invalid at %s", e, tt.loc)
			}
			if len(s.Rows("ds.t")) != 0 {
				t.Error("invalid row was stored")
			}
		})
	}
}

func TestRequestSemantics(t *testing.T) {
	s := New(map[string]bigquery.Schema{"ds.t": testSchema})
	defer s.Close()

	// One bad row stops the whole request; the good one is "stopped".
	_, res := post(t, s, path, `{"rows":[{"insertId":"a","json":{"id":"a"}},{"insertId":"b","json":{"id":1}}]}`)
	reasons := map[int]string{}
	for _, ie := range res.InsertErrors {
		reasons[ie.Index] = ie.Errors[0].Reason
	}
	if len(reasons) != 2 || reasons[0] != "stopped" || reasons[1] != "invalid" {
		t.Errorf("reasons by row = %v, want 0:stopped 1:invalid", reasons)
	}
	if n := len(s.Rows("ds.t")); n != 0 {
		t.Fatalf("%d rows stored after a refused request", n)
	}

	// skipInvalidRows stores the good ones.
	_, _ = post(t, s, path, `{"skipInvalidRows":true,"rows":[{"insertId":"a","json":{"id":"a"}},{"insertId":"b","json":{"id":1}}]}`)
	// ignoreUnknownValues drops unknown columns instead of refusing.
	_, res = post(t, s, path, `{"ignoreUnknownValues":true,"rows":[{"insertId":"c","json":{"id":"c","zzz":1}}]}`)
	if len(res.InsertErrors) != 0 {
		t.Errorf("ignoreUnknownValues: %+v", res.InsertErrors)
	}
	// Without a dedupe window every row is stored, repeated insertIds too.
	_, _ = post(t, s, path, `{"rows":[{"insertId":"a","json":{"id":"a2"}},{"insertId":"d","json":{"id":"d"}},{"insertId":"d","json":{"id":"d"}},{"json":{"id":"e"}},{"json":{"id":"e"}}]}`)

	var ids []string
	for _, r := range s.Rows("ds.t") {
		ids = append(ids, r["id"].(string))
	}
	if got, want := ids, []string{"a", "c", "a2", "d", "d", "e", "e"}; !equal(got, want) {
		t.Errorf("stored ids %v, want %v", got, want)
	}
	if _, ok := s.Rows("ds.t")[1]["zzz"]; ok {
		t.Error("unknown value was stored")
	}
	if got := s.InsertIDs("ds.t"); !equal(got, []string{"a", "c", "a", "d", "d", "", ""}) {
		t.Errorf("insert IDs %q", got)
	}
	if n := s.Requests("ds.t"); n != 4 {
		t.Errorf("%d requests, want 4", n)
	}
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestRequestErrors(t *testing.T) {
	s := New(map[string]bigquery.Schema{"ds.t": testSchema})
	defer s.Close()
	tests := []struct {
		name   string
		setup  func()
		path   string
		body   string
		status int
		reason string
	}{
		{"unknown table", func() {}, "/bigquery/v2/projects/p/datasets/ds/tables/nope/insertAll", `{"rows":[{"json":{"id":"a"}}]}`, 404, "notFound"},
		{"unknown route", func() {}, "/bigquery/v2/projects/p/datasets/ds/tables/t", ``, 404, "notFound"},
		{"bad JSON", func() {}, path, `{"rows":`, 400, "invalid"},
		{"no rows", func() {}, path, `{"rows":[]}`, 400, "invalid"},
		{"FailNext 503", func() { s.FailNext(1, 503) }, path, `{"rows":[{"json":{"id":"a"}}]}`, 503, "backendError"},
		{"FailNext 403", func() { s.FailNext(1, 403) }, path, `{"rows":[{"json":{"id":"a"}}]}`, 403, "accessDenied"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.setup()
			status, res := post(t, s, tt.path, tt.body)
			if status != tt.status || res.Error == nil || res.Error.Code != tt.status || res.Error.Errors[0].Reason != tt.reason {
				t.Errorf("status %d, error %+v; want %d %s", status, res.Error, tt.status, tt.reason)
			}
		})
	}
	// FailNext is used up: the next request succeeds.
	if status, res := post(t, s, path, `{"rows":[{"json":{"id":"a"}}]}`); status != 200 || len(res.InsertErrors) != 0 {
		t.Errorf("after FailNext: %d %+v", status, res)
	}
}

// TestOfficialClient checks the fake against cloud.google.com/go/bigquery's
// own request and response handling.
func TestOfficialClient(t *testing.T) {
	s := New(map[string]bigquery.Schema{"ds.t": testSchema})
	defer s.Close()
	ctx := context.Background()
	client, err := bigquery.NewClient(ctx, "p", option.WithEndpoint(s.URL()+"/bigquery/v2/"), option.WithoutAuthentication())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	ins := client.Dataset("ds").Table("t").Inserter()

	row := &bigquery.ValuesSaver{Schema: bigquery.Schema{testSchema[0], testSchema[1]}, InsertID: "k1", Row: []bigquery.Value{"a", 1}}
	if err := ins.Put(ctx, row); err != nil {
		t.Fatal(err)
	}
	if got := s.Rows("ds.t"); len(got) != 1 || got[0]["n"] != json.Number("1") {
		t.Errorf("rows %v", got)
	}

	bad := &bigquery.ValuesSaver{Schema: bigquery.Schema{testSchema[0], testSchema[3]}, InsertID: "k2", Row: []bigquery.Value{"b", "yes"}}
	err = ins.Put(ctx, bad)
	var pme bigquery.PutMultiError
	if !errors.As(err, &pme) || pme[0].Errors[0].(*bigquery.Error).Location != "ok" {
		t.Errorf("Put = %v, want a PutMultiError at ok", err)
	}

	s.InsertErrorNext(1, "backendError")
	err = ins.Put(ctx, row)
	if !errors.As(err, &pme) || pme[0].Errors[0].(*bigquery.Error).Reason != "backendError" {
		t.Errorf("Put = %v, want a backendError insertError", err)
	}

	s.FailNext(1, 404)
	err = ins.Put(ctx, row)
	var gerr *googleapi.Error
	if !errors.As(err, &gerr) || gerr.Code != 404 {
		t.Errorf("Put = %v, want googleapi 404", err)
	}
}

// With a window, a repeated insertId is dropped inside it and stored again
// after it, as BigQuery's best-effort dedupe does.
func TestDedupeWindow(t *testing.T) {
	s := New(map[string]bigquery.Schema{"ds.t": testSchema})
	defer s.Close()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	s.DedupeWindow, s.Now = time.Minute, func() time.Time { return now }
	one := `{"rows":[{"insertId":"k","json":{"id":"k"}}]}`
	post(t, s, path, one)
	post(t, s, path, one)
	if n := len(s.Rows("ds.t")); n != 1 {
		t.Fatalf("%d rows inside the window, want 1", n)
	}
	now = now.Add(time.Minute)
	post(t, s, path, one)
	if n := len(s.Rows("ds.t")); n != 2 {
		t.Fatalf("%d rows after the window, want 2", n)
	}
	if n := s.Requests("ds.t"); n != 3 {
		t.Fatalf("%d requests, want 3", n)
	}
}

func TestRequestSizeLimit(t *testing.T) {
	s := New(map[string]bigquery.Schema{"ds.t": testSchema})
	defer s.Close()
	big := `{"rows":[{"json":{"id":"` + strings.Repeat("x", MaxRequestBytes) + `"}}]}`
	status, _ := post(t, s, path, big)
	if status != http.StatusBadRequest || len(s.Rows("ds.t")) != 0 || s.Requests("ds.t") != 1 {
		t.Fatalf("status %d, %d rows, %d requests; want 400, 0, 1", status, len(s.Rows("ds.t")), s.Requests("ds.t"))
	}
}
