package tfcheck_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cioevents/cioevents/functions/processor"
	"github.com/cioevents/cioevents/internal/testsupport/logfilter"
	"github.com/cioevents/cioevents/internal/testsupport/tfcheck"
	"github.com/cioevents/cioevents/shared/actions"
	"github.com/cioevents/cioevents/shared/actions/trackfake"
	"github.com/cioevents/cioevents/shared/ledger"
	"github.com/cioevents/cioevents/shared/logging"
	"github.com/cioevents/cioevents/shared/pipeline"
	"github.com/cioevents/cioevents/shared/signature"
	"github.com/cioevents/cioevents/shared/warehouse"
	"github.com/cioevents/cioevents/shared/webhook"
)

// line is one JSON log line a function wrote, as Cloud Logging stores it.
// key is "<case>/<message>", e.g. "publish_failed/webhook".
type line struct {
	key   string
	entry map[string]any
	size  int // bytes written to stdout, newline included
}

// Services as the default name_prefix names them; TestLogMetricFilters
// checks the filters resolve to these.
var services = map[string]logfilter.Resource{
	"receiver":  {Type: "cloud_run_revision", Labels: map[string]string{"service_name": "cioevents-receiver", "revision_name": "cioevents-receiver-00001-abc"}},
	"processor": {Type: "cloud_run_revision", Labels: map[string]string{"service_name": "cioevents-processor", "revision_name": "cioevents-processor-00001-abc"}},
}

func collect(t *testing.T, service, name string, out []byte) []line {
	t.Helper()
	var ls []line
	for _, raw := range bytes.Split(bytes.TrimSpace(out), []byte("\n")) {
		if len(raw) == 0 {
			continue
		}
		e, err := logfilter.FromStdout(raw, services[service])
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		msg, _ := logfilter.Lookup(e, "jsonPayload.message")
		ls = append(ls, line{key: fmt.Sprintf("%s/%v", name, msg), entry: e, size: len(raw) + 1})
	}
	return ls
}

type pubFunc func(ctx context.Context, data []byte, attrs map[string]string) (string, error)

func (f pubFunc) Publish(ctx context.Context, data []byte, attrs map[string]string) (string, error) {
	return f(ctx, data, attrs)
}

var testKey = []byte("monitoring-test-signing-key")

func body(id, objectType, metric string, ts int64) []byte {
	return fmt.Appendf(nil, `{"event_id":%q,"object_type":%q,"metric":%q,"timestamp":%d,"data":{"customer_id":"42","identifiers":{"id":"42"},"recipient":"ada@example.com","failure_message":"550 5.1.1"}}`,
		id, objectType, metric, ts)
}

// receiverLines drives the receiver's handler through every outcome.
func receiverLines(t *testing.T) []line {
	t.Helper()
	now := time.Now()
	ok := pubFunc(func(context.Context, []byte, map[string]string) (string, error) { return "m1", nil })
	failing := pubFunc(func(context.Context, []byte, map[string]string) (string, error) {
		return "", errors.New("rpc error: code = PermissionDenied")
	})
	slow := pubFunc(func(context.Context, []byte, map[string]string) (string, error) {
		return "", fmt.Errorf("publish: %w", context.DeadlineExceeded)
	})
	signed := func(b []byte, key []byte, at time.Time) *http.Request {
		r := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(b))
		ts, sig := signature.Headers(key, at, b)
		r.Header.Set(signature.HeaderTimestamp, ts)
		r.Header.Set(signature.HeaderSignature, sig)
		return r
	}
	valid := body("ev-r1", "email", "delivered", now.Unix())
	cases := []struct {
		name string
		pub  pubFunc
		req  *http.Request
	}{
		{"accepted", ok, signed(valid, testKey, now)},
		{"accepted_unknown", ok, signed(body("ev-r2", "email", "teleported", now.Unix()), testKey, now)},
		{"accepted_invalid", ok, signed([]byte(`[1,2,3]`), testKey, now)},
		{"accepted_oversized", ok, signed(append(valid, bytes.Repeat([]byte(" "), 8<<10)...), testKey, now)},
		{"mismatch", ok, signed(valid, []byte("some-other-key"), now)},
		{"too_old", ok, signed(valid, testKey, now.Add(-10*24*time.Hour))},
		{"too_new", ok, signed(valid, testKey, now.Add(2*time.Hour))},
		{"missing_signature", ok, httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(valid))},
		{"method", ok, httptest.NewRequest(http.MethodGet, "/", nil)},
		{"publish_failed", failing, signed(valid, testKey, now)},
		{"publish_timeout", slow, signed(valid, testKey, now)},
	}
	var ls []line
	for _, c := range cases {
		var buf bytes.Buffer
		h, err := webhook.New(webhook.Options{
			Verifier:     &signature.Verifier{Keys: [][]byte{testKey}, MaxAge: signature.DefaultMaxAge, MaxAhead: signature.DefaultMaxAhead},
			Publisher:    c.pub,
			MaxBodyBytes: 4 << 10,
			Logger:       logging.New(&buf, "info"),
		})
		if err != nil {
			t.Fatal(err)
		}
		h.ServeHTTP(httptest.NewRecorder(), c.req)
		got := collect(t, "receiver", c.name, buf.Bytes())
		if len(got) != 1 {
			t.Fatalf("%s: %d log lines, want 1: %s", c.name, len(got), buf.String())
		}
		ls = append(ls, got...)
	}
	return ls
}

// failingWarehouse fails inserts with a transient error while fail is set.
type failingWarehouse struct {
	warehouse.Writer
	failEvent, failRejected bool
}

func (w *failingWarehouse) InsertEvent(ctx context.Context, r warehouse.Row) error {
	if w.failEvent {
		return errors.New("googleapi: Error 503: backendError")
	}
	return w.Writer.InsertEvent(ctx, r)
}

func (w *failingWarehouse) InsertRejected(ctx context.Context, r warehouse.Rejected) error {
	if w.failRejected {
		return errors.New("googleapi: Error 503: backendError")
	}
	return w.Writer.InsertRejected(ctx, r)
}

// Lags the processor lines must carry, from the fixed clock below.
const (
	wantLagReceived = 2000
	wantLagEvent    = 3600000
)

// processorLines drives the processor (memory ledger, NDJSON warehouse,
// Track client against trackfake) through every outcome.
func processorLines(t *testing.T) []line {
	t.Helper()
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	file, err := warehouse.NewFile(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { file.Close() })
	wh := &failingWarehouse{Writer: file}
	fake := trackfake.New("site", "key")
	t.Cleanup(fake.Close)
	track, err := actions.NewTrack(actions.TrackConfig{SiteID: "site", APIKey: "key", BaseURL: fake.URL(),
		HTTPClient: fake.Client(), RateLimit: 1000, Burst: 100})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	logger := logging.New(&buf, "info")
	var fault error
	led := ledger.NewMemory(time.Hour)
	led.Now = func() time.Time { return t0 }
	p := &pipeline.Processor{
		Ledger:    led,
		Warehouse: wh,
		Actions:   actions.Logged(track, logger),
		Policy:    actions.DefaultPolicy(),
		Logger:    logger,
		Now:       func() time.Time { return t0 },
		Fault: func(point string) error {
			if point == "claimed" {
				return fault
			}
			return nil
		},
	}
	// As deployed: every event acts through its workspace; "other" has no
	// credentials.
	p.Workspaces = actions.NewWorkspaces(map[string]actions.Client{"default": track}, nil, actions.DefaultPolicy(), logger)
	seq := 0
	msg := func(objectType, metric string, b []byte, extra map[string]string) pipeline.Message {
		seq++
		attrs := map[string]string{
			webhook.AttrObjectType: objectType, webhook.AttrMetric: metric,
			webhook.AttrReceivedAt: t0.Add(-wantLagReceived * time.Millisecond).Format(time.RFC3339Nano),
		}
		maps.Copy(attrs, extra)
		return pipeline.Message{ID: strconv.Itoa(seq), Data: b, Attributes: attrs, PublishTime: t0}
	}
	ts := t0.Add(-wantLagEvent * time.Millisecond).Unix()
	delivered := msg("email", "delivered", body("ev-p1", "email", "delivered", ts), nil)
	cases := []struct {
		name  string
		m     pipeline.Message
		setup func()
	}{
		{"inserted", delivered, nil},
		{"duplicate", delivered, nil},
		{"identify", msg("email", "bounced", body("ev-p2", "email", "bounced", ts), nil), nil},
		{"spammed", msg("email", "spammed", body("ev-p3", "email", "spammed", ts), nil), nil},
		{"sent", msg("email", "sent", body("ev-p4", "email", "sent", ts), nil), nil},
		{"no_timestamp", msg("email", "delivered", []byte(`{"event_id":"ev-p5","object_type":"email","metric":"delivered"}`), nil), nil},
		{"rejected", msg("", "", []byte(`[1,2,3]`), map[string]string{webhook.AttrInvalid: webhook.InvalidNotObject}), nil},
		{"retry_claimed", msg("email", "opened", body("ev-p6", "email", "opened", ts), nil), func() { fault = errors.New("crash") }},
		{"busy", msg("email", "opened", body("ev-p6", "email", "opened", ts), nil), func() { fault = nil }},
		{"retry_row", msg("email", "clicked", body("ev-p7", "email", "clicked", ts), nil), func() { wh.failEvent = true }},
		{"retry_rejected", msg("", "", []byte(`"just a string"`), map[string]string{webhook.AttrInvalid: webhook.InvalidNotObject}),
			func() { wh.failEvent, wh.failRejected = false, true }},
		{"track_401", msg("email", "bounced", body("ev-p8", "email", "bounced", ts), nil),
			func() { wh.failRejected = false; fake.FailNext(1, http.StatusUnauthorized, "") }},
		{"track_403", msg("email", "bounced", body("ev-p9", "email", "bounced", ts), nil),
			func() { fake.FailNext(1, http.StatusForbidden, "") }},
		{"track_429", msg("email", "bounced", body("ev-p10", "email", "bounced", ts), nil),
			func() { fake.FailNext(1, http.StatusTooManyRequests, "") }},
		{"track_500", msg("email", "bounced", body("ev-p11", "email", "bounced", ts), nil),
			func() { fake.FailNext(1, http.StatusInternalServerError, "") }},
		{"no_credentials", msg("email", "opened", body("ev-p12", "email", "opened", ts), map[string]string{webhook.AttrWorkspace: "other"}), nil},
	}
	var ls []line
	for _, c := range cases {
		if c.setup != nil {
			c.setup()
		}
		buf.Reset()
		p.Process(context.Background(), c.m)
		ls = append(ls, collect(t, "processor", c.name, buf.Bytes())...)
	}
	return ls
}

// outOfBandLines are what the functions write outside a request, which
// cannot be triggered in-process: the start-up refusal init logs (built here
// from the processor's real configuration error, logged as init logs it) and
// the plain-text lines a Go panic leaves on stderr, which Cloud Logging
// stores as textPayload without a severity.
func outOfBandLines(t *testing.T) []line {
	t.Helper()
	_, err := processor.New(context.Background(), func(k string) string {
		return map[string]string{"GOOGLE_CLOUD_PROJECT": "p", "LEDGER_TTL": "1h"}[k]
	}, processor.Overrides{CheckOnly: true})
	if err == nil {
		t.Fatal("a 1h LEDGER_TTL was accepted")
	}
	var buf bytes.Buffer
	logging.New(&buf, "info").Error("processor refuses to start: invalid configuration", "error", err.Error())
	ls := collect(t, "processor", "startup", buf.Bytes())
	for key, text := range map[string]string{
		"panic/text":      "panic: runtime error: invalid memory address or nil pointer dereference",
		"stacktrace/text": "goroutine 1 [running]:",
	} {
		ls = append(ls, line{key: key, entry: map[string]any{
			"resource":    map[string]any{"type": "cloud_run_revision", "labels": map[string]any{"service_name": "cioevents-processor"}},
			"textPayload": text,
			"severity":    "DEFAULT",
		}})
	}
	return ls
}

// metricWant is what one log-based metric must count: the lines it matches
// (every other captured line must not match) and, per line, label values.
// A value of "" means the label is absent from the line.
type metricWant map[string]map[string]string

// want lists, per google_logging_metric, the lines it counts. Written from
// what the functions are meant to log, so a renamed field or value fails.
var want = map[string]metricWant{
	"webhook_requests": {
		"accepted/webhook":           {"outcome": "accepted", "status": "200", "object_type": "email"},
		"accepted_unknown/webhook":   {"outcome": "accepted_unknown", "status": "200", "object_type": "email"},
		"accepted_invalid/webhook":   {"outcome": "accepted_invalid", "status": "200", "object_type": ""},
		"accepted_oversized/webhook": {"outcome": "accepted_oversized", "status": "200"},
		"mismatch/webhook":           {"outcome": "mismatch", "status": "401", "object_type": ""},
		"too_old/webhook":            {"outcome": "too_old", "status": "401"},
		"too_new/webhook":            {"outcome": "too_new", "status": "401"},
		"missing_signature/webhook":  {"outcome": "missing_signature", "status": "401"},
		"method/webhook":             {"outcome": "method", "status": "405"},
		"publish_failed/webhook":     {"outcome": "publish_failed", "status": "503", "object_type": "email"},
		"publish_timeout/webhook":    {"outcome": "publish_timeout", "status": "503"},
	},
	"processor_events": {
		"inserted/event":       {"outcome": "inserted", "object_type": "email", "metric": "delivered", "step": "", "reason": ""},
		"duplicate/event":      {"outcome": "duplicate", "metric": "delivered"},
		"identify/event":       {"outcome": "inserted", "metric": "bounced"},
		"spammed/event":        {"outcome": "inserted", "metric": "spammed"},
		"sent/event":           {"outcome": "inserted", "metric": "sent"},
		"no_timestamp/event":   {"outcome": "inserted", "metric": "delivered"},
		"rejected/event":       {"outcome": "rejected", "reason": "not_object"},
		"retry_claimed/event":  {"outcome": "retry", "step": "claimed"},
		"busy/event":           {"outcome": "busy"},
		"retry_row/event":      {"outcome": "retry", "step": "row", "metric": "clicked"},
		"retry_rejected/event": {"outcome": "retry", "step": "rejected", "reason": "not_object"},
		"track_401/event":      {"outcome": "retry", "step": "action:0:identify", "metric": "bounced"},
		"track_403/event":      {"outcome": "retry", "step": "action:0:identify"},
		"track_429/event":      {"outcome": "retry", "step": "action:0:identify"},
		"track_500/event":      {"outcome": "retry", "step": "action:0:identify"},
		"no_credentials/event": {"outcome": "inserted:action_failed", "metric": "opened"},
	},
	"action_calls": {
		"identify/action":       {"kind": "identify", "outcome": "applied", "status": "200", "status_class": "2xx"},
		"spammed/action":        {"kind": "identify", "outcome": "applied", "status": "200"},
		"track_401/action":      {"outcome": "retry", "status": "401", "status_class": "4xx"},
		"track_403/action":      {"outcome": "retry", "status": "403", "status_class": "4xx"},
		"track_429/action":      {"outcome": "retry", "status": "429", "status_class": "4xx"},
		"track_500/action":      {"outcome": "retry", "status": "500", "status_class": "5xx"},
		"no_credentials/action": {"outcome": "no_credentials", "status": "0", "status_class": "none"},
	},
	"function_errors": {
		"startup/processor refuses to start: invalid configuration": {"service": "cioevents-processor"},
		"panic/text": {"service": "cioevents-processor"},
	},
	"lag_received": {
		"inserted/event": {}, "identify/event": {}, "spammed/event": {}, "sent/event": {}, "no_timestamp/event": {},
		"no_credentials/event": {},
	},
	"lag_event": {
		"inserted/event": {}, "identify/event": {}, "spammed/event": {}, "sent/event": {}, "no_credentials/event": {},
	},
}

// alertWant lists, per alert condition ("policy#i", "policy#i/denominator"),
// the lines whose time series the condition's filter selects.
var alertWant = map[string][]string{
	"signature_failures#0":          {"mismatch/webhook", "too_new/webhook", "too_old/webhook"},
	"receiver_unavailable#0":        {"publish_failed/webhook", "publish_timeout/webhook"},
	"silence#0":                     {"accepted/webhook", "accepted_invalid/webhook", "accepted_oversized/webhook", "accepted_unknown/webhook"},
	"track_credentials#0":           {"track_401/action", "track_403/action"},
	"track_rate_limited#0":          {"track_429/action"},
	"bigquery_insert_failures#0":    {"retry_rejected/event", "retry_row/event"},
	"rejected_events#0":             {"rejected/event"},
	"function_errors#0":             {"panic/text", "startup/processor refuses to start: invalid configuration"},
	"spam_complaints#0":             {"spammed/event"},
	"spam_complaints#0/denominator": {"inserted/event", "no_timestamp/event"},
	"spam_complaints#1":             {"inserted/event", "no_timestamp/event"},
	"bounces#0":                     {"identify/event"},
	"bounces#0/denominator":         {"sent/event"},
	"bounces#1":                     {"sent/event"},
	// Built-in Pub/Sub metrics: no log line is involved.
	"backlog#0":      nil,
	"dead_letters#0": nil,
}

// checkLines returns every way the metrics and alerts disagree with lines.
func checkLines(metrics []tfcheck.LogMetric, policies []tfcheck.AlertPolicy, lines []line) []string {
	var errs []string
	bad := func(format string, a ...any) { errs = append(errs, fmt.Sprintf(format, a...)) }
	series := map[string][]map[string]any{} // line key → time series it feeds
	seen := map[string]bool{}
	for _, lm := range metrics {
		w, ok := want[lm.Resource]
		if !ok {
			bad("google_logging_metric.%s has no expectations in this test", lm.Resource)
			continue
		}
		seen[lm.Resource] = true
		f, err := logfilter.Parse(lm.Filter)
		if err != nil {
			bad("%s filter: %v", lm.Resource, err)
			continue
		}
		matched := map[string]bool{}
		for _, l := range lines {
			if !f.Match(l.entry) {
				continue
			}
			matched[l.key] = true
			labels, ok := w[l.key]
			if !ok {
				bad("%s counts %s, which it should not", lm.Resource, l.key)
				continue
			}
			got := map[string]any{}
			for k, ex := range lm.LabelExtractor {
				v, _, err := logfilter.Extract(ex, l.entry)
				if err != nil {
					bad("%s label %s: %v", lm.Resource, k, err)
				}
				got[k] = v
			}
			for k, v := range labels {
				if got[k] != v {
					bad("%s on %s: label %s = %q, want %q", lm.Resource, l.key, k, got[k], v)
				}
			}
			if lm.ValueExtractor != "" {
				v, ok, err := logfilter.Extract(lm.ValueExtractor, l.entry)
				n, perr := strconv.ParseFloat(v, 64)
				wantLag := map[string]float64{"lag_received": wantLagReceived, "lag_event": wantLagEvent}[lm.Resource]
				if err != nil || !ok || perr != nil || n != wantLag {
					bad("%s on %s: value %q (%v), want %v", lm.Resource, l.key, v, err, wantLag)
				}
			}
			series[l.key] = append(series[l.key], map[string]any{
				"metric":   map[string]any{"type": "logging.googleapis.com/user/" + lm.Name, "label": got, "labels": got},
				"resource": map[string]any{"type": "cloud_run_revision"},
			})
		}
		for _, k := range slices.Sorted(maps.Keys(w)) {
			if !matched[k] {
				bad("%s does not count %s", lm.Resource, k)
			}
		}
	}
	for name := range want {
		if !seen[name] {
			bad("no google_logging_metric.%s", name)
		}
	}
	for _, ap := range policies {
		for i, c := range ap.Conditions {
			for _, part := range []struct{ suffix, filter string }{{"", c.Filter}, {"/denominator", c.DenominatorFilter}} {
				if part.filter == "" {
					continue
				}
				key := fmt.Sprintf("%s#%d%s", ap.Resource, i, part.suffix)
				expected, ok := alertWant[key]
				if !ok {
					bad("alert condition %s has no expectations in this test", key)
					continue
				}
				f, err := logfilter.Parse(part.filter)
				if err != nil {
					bad("%s: %v", key, err)
					continue
				}
				var got []string
				for _, k := range slices.Sorted(maps.Keys(series)) {
					for _, s := range series[k] {
						if f.Match(s) {
							got = append(got, k)
						}
					}
				}
				if !slices.Equal(got, expected) {
					bad("alert %s selects %v, want %v", key, got, expected)
				}
			}
		}
	}
	return errs
}

func loadMonitoring(t *testing.T) ([]tfcheck.LogMetric, []tfcheck.AlertPolicy) {
	t.Helper()
	m, err := tfcheck.Load(moduleDir)
	if err != nil {
		t.Fatal(err)
	}
	metrics, err := m.LogMetrics()
	if err != nil {
		t.Fatal(err)
	}
	policies, err := m.AlertPolicies()
	if err != nil {
		t.Fatal(err)
	}
	return metrics, policies
}

// TestLogMetricFilters drives the receiver and the processor through every
// outcome, feeds the lines they write to each metric's filter and extractors
// as Cloud Logging would, and each alert condition to the resulting series.
func TestLogMetricFilters(t *testing.T) {
	metrics, policies := loadMonitoring(t)
	lines := slices.Concat(receiverLines(t), processorLines(t), outOfBandLines(t))
	for _, e := range checkLines(metrics, policies, lines) {
		t.Error(e)
	}
	for _, ap := range policies {
		for _, c := range ap.Conditions {
			if strings.Contains(c.Filter, "pubsub_subscription") &&
				!strings.Contains(c.Filter, `subscription_id="cioevents-processor-push"`) &&
				!strings.Contains(c.Filter, `subscription_id="cioevents-events-dead-letter"`) {
				t.Errorf("%s: filter names no subscription of this module: %s", ap.Resource, c.Filter)
			}
		}
	}
}

// TestRenamedFieldBreaksMetrics renames, in every captured line, each field a
// metric reads, and checks the comparison above then fails: no field a
// metric depends on can be renamed in the code without a test failing.
func TestRenamedFieldBreaksMetrics(t *testing.T) {
	metrics, policies := loadMonitoring(t)
	lines := slices.Concat(receiverLines(t), processorLines(t), outOfBandLines(t))
	for _, field := range dependedOn(t, metrics) {
		top, sub, _ := strings.Cut(field, ".")
		renamed := make([]line, len(lines))
		for i, l := range lines {
			e := maps.Clone(l.entry)
			if inner, ok := e[top].(map[string]any); ok {
				inner = maps.Clone(inner)
				if v, ok := inner[sub]; ok {
					delete(inner, sub)
					inner[sub+"_renamed"] = v
				}
				e[top] = inner
			}
			renamed[i] = line{key: l.key, entry: e, size: l.size}
		}
		if errs := checkLines(metrics, policies, renamed); len(errs) == 0 {
			t.Errorf("renaming %s in the log lines breaks no metric", field)
		}
	}
}

// dependedOn returns every jsonPayload field a metric filters on or extracts.
func dependedOn(t *testing.T, metrics []tfcheck.LogMetric) []string {
	t.Helper()
	var fields []string
	for _, lm := range metrics {
		f, err := logfilter.Parse(lm.Filter)
		if err != nil {
			t.Fatal(err)
		}
		fields = append(fields, f.Fields()...)
		for _, ex := range lm.LabelExtractor {
			fields = append(fields, logfilter.ExtractorField(ex))
		}
		if lm.ValueExtractor != "" {
			fields = append(fields, logfilter.ExtractorField(lm.ValueExtractor))
		}
	}
	var out []string
	for _, f := range fields {
		if strings.HasPrefix(f, "jsonPayload.") {
			out = append(out, f)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// TestLogFieldsDocumented keeps docs/logs.md, the contract for anyone
// building on the logs, in step with what the metrics read.
func TestLogFieldsDocumented(t *testing.T) {
	metrics, _ := loadMonitoring(t)
	doc, err := os.ReadFile("../../../docs/logs.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range dependedOn(t, metrics) {
		name := strings.TrimPrefix(f, "jsonPayload.")
		if !strings.Contains(string(doc), "`"+name+"`") {
			t.Errorf("docs/logs.md does not document `%s`, which a metric reads", name)
		}
	}
	for _, lm := range metrics {
		if !strings.Contains(string(doc), lm.Resource) {
			t.Errorf("docs/logs.md does not name the metric %s", lm.Resource)
		}
	}
}
