package doctor_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/bigquery"
	"cloud.google.com/go/pubsub/v2"
	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"google.golang.org/api/option"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/cioevents/cioevents/cmd/cioevents/internal/appapi"
	"github.com/cioevents/cioevents/cmd/cioevents/internal/appapi/appapifake"
	"github.com/cioevents/cioevents/cmd/cioevents/internal/cloudlogs/cloudlogsfake"
	"github.com/cioevents/cioevents/cmd/cioevents/internal/cloudmetrics"
	"github.com/cioevents/cioevents/cmd/cioevents/internal/cloudmetrics/cloudmetricsfake"
	"github.com/cioevents/cioevents/cmd/cioevents/internal/devstack"
	"github.com/cioevents/cioevents/cmd/cioevents/internal/doctor"
	"github.com/cioevents/cioevents/cmd/cioevents/internal/funnel"
	"github.com/cioevents/cioevents/cmd/cioevents/internal/secretstore/secretstorefake"
	"github.com/cioevents/cioevents/shared/signature"
	"github.com/cioevents/cioevents/shared/warehouse"
	"github.com/cioevents/cioevents/shared/warehouse/bqfake"
	"github.com/cioevents/cioevents/shared/webhook"
)

// noEnv keeps dev on its built-in stand-ins whatever the machine exports.
func noEnv(string) string { return "" }

// startDev runs the whole local pipeline, as `cioevents dev` does.
func startDev(t testing.TB, o devstack.Options) *devstack.Stack {
	t.Helper()
	o.Addr = "127.0.0.1:0"
	if o.DataDir == "" {
		o.DataDir = t.TempDir()
	}
	if o.Getenv == nil {
		o.Getenv = noEnv
	}
	s, err := devstack.Start(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func run(t testing.TB, e doctor.Env, args ...string) (string, error) {
	t.Helper()
	var out, stderr bytes.Buffer
	e.Stdout, e.Stderr = &out, &stderr
	if e.Getenv == nil {
		e.Getenv = noEnv
	}
	err := doctor.Command(context.Background(), args, e)
	t.Logf("doctor %s:\n%s%s", strings.Join(args, " "), out.String(), stderr.String())
	return out.String(), err
}

// hasLine asserts that out has a line matching re.
func hasLine(t testing.TB, out, re string) {
	t.Helper()
	if !regexp.MustCompile(`(?m)` + re).MatchString(out) {
		t.Errorf("no line matching %q in:\n%s", re, out)
	}
}

func TestHealthyDev(t *testing.T) {
	s := startDev(t, devstack.Options{})
	start := time.Now()
	// No --key: doctor reads the key dev generated and kept in its data dir.
	out, err := run(t, doctor.Env{}, "--url", s.URL, "--data-dir", s.DataDir)
	took := time.Since(start)
	if err != nil {
		t.Fatalf("doctor on a healthy dev: %v", err)
	}
	t.Logf("doctor wall time on a healthy dev pipeline: %s", took)
	hasLine(t, out, `^\[ok\]\s+fails closed: unsigned POST → 401, GET → 405$`)
	hasLine(t, out, `^\[ok\]\s+signed probe: accepted 200 in \d+ ms; row in .*events.ndjson after \d+ ms end to end$`)
	hasLine(t, out, `^all checks passed$`)

	// The probe's row is marked, and dev's dry run planned no Track call.
	rows, err := os.ReadFile(filepath.Join(s.DataDir, warehouse.EventsFile))
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(rows), `"source":"probe"`); n != 1 {
		t.Errorf("%d rows marked source=probe, want the one probe", n)
	}
	if b, _ := os.ReadFile(filepath.Join(s.DataDir, devstack.ActionsFile)); len(b) != 0 {
		t.Errorf("the probe planned Customer.io calls: %s", b)
	}
}

func TestJSON(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()
	out, err := run(t, doctor.Env{}, "--url", srv.URL, "--key", "k", "--data-dir", t.TempDir(), "--json", "--timeout", "1s")
	if !errors.Is(err, doctor.ErrChecksFailed) {
		t.Fatalf("err = %v, want ErrChecksFailed", err)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	var first doctor.Line
	var last struct {
		Severity, Message string
		OK                bool
		Failed, Checks    int
	}
	if err := json.Unmarshal([]byte(lines[0]), &first); err != nil {
		t.Fatalf("--json line is not JSON: %v\n%s", err, out)
	}
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &last); err != nil {
		t.Fatalf("--json line is not JSON: %v\n%s", err, out)
	}
	if first.Status != doctor.Critical || first.Severity != "CRITICAL" || first.Message != doctor.LogMessage || first.Runbook == "" {
		t.Errorf("first line = %+v; want a CRITICAL check with its runbook", first)
	}
	if last.OK || last.Severity != "ERROR" || last.Message != doctor.LogRunMessage || last.Checks != len(lines)-1 || last.Failed == 0 {
		t.Errorf("last line = %+v; want the run's failed summary after one line per check", last)
	}
}

func TestFailOpenReceiver(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()
	out, err := run(t, doctor.Env{}, "--url", srv.URL, "--key", "k", "--data-dir", t.TempDir(), "--timeout", "1s")
	if !errors.Is(err, doctor.ErrChecksFailed) {
		t.Fatalf("err = %v", err)
	}
	hasLine(t, out, `^\[CRITICAL\] fails closed: fails open: an unsigned POST got 200$`)
	hasLine(t, out, `runbook: docs/runbooks/doctor/fails-open.md$`)
}

func TestWrongKey(t *testing.T) {
	s := startDev(t, devstack.Options{})
	out, err := run(t, doctor.Env{}, "--url", s.URL, "--key", "not-the-key", "--data-dir", s.DataDir)
	if !errors.Is(err, doctor.ErrChecksFailed) {
		t.Fatalf("err = %v", err)
	}
	hasLine(t, out, `^\[ok\]\s+fails closed`)
	hasLine(t, out, `^\[FAIL\]\s+signed probe: key mismatch: the receiver answered 401 to a probe signed with the key given with --key$`)
	hasLine(t, out, `runbook: docs/runbooks/signature-failures.md$`)
}

func TestReceiverDown(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + ln.Addr().String() + "/"
	ln.Close()
	out, err := run(t, doctor.Env{}, "--url", url, "--key", "k", "--data-dir", t.TempDir())
	if !errors.Is(err, doctor.ErrChecksFailed) {
		t.Fatalf("err = %v", err)
	}
	hasLine(t, out, `^\[FAIL\]\s+fails closed: no answer from `+regexp.QuoteMeta(url)+`: .*connection refused`)
	hasLine(t, out, `^\[skip\]\s+signed probe: receiver down; no probe sent$`)
	hasLine(t, out, `runbook: docs/runbooks/doctor/probe.md#the-receiver-does-not-answer$`)
}

// discard accepts every publish and nothing ever consumes it: a receiver
// whose processor is not running at all, so the probe cannot land however
// long doctor waits.
type discard struct{}

func (discard) Publish(context.Context, []byte, map[string]string) (string, error) { return "1", nil }

func TestProcessorStopped(t *testing.T) {
	h, err := webhook.New(webhook.Options{Verifier: &signature.Verifier{Keys: [][]byte{[]byte("k")}}, Publisher: discard{},
		MaxBodyBytes: 1 << 20, Logger: slog.New(slog.NewJSONHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()
	dir := t.TempDir()
	out, err := run(t, doctor.Env{}, "--url", srv.URL, "--key", "k", "--data-dir", dir, "--timeout", "1s")
	if !errors.Is(err, doctor.ErrChecksFailed) {
		t.Fatalf("err = %v", err)
	}
	hasLine(t, out, `^\[FAIL\]\s+signed probe: accepted 200 in \d+ ms, but no row in `+regexp.QuoteMeta(filepath.Join(dir, "events.ndjson"))+` within 1s$`)
	hasLine(t, out, `likely cause: the processor is not running`)
}

// cloud is a deployment on fakes: the real receiver and processor (dev's
// stack) writing through the official BigQuery client into bqfake, with the
// processor's log lines forwarded to the Cloud Logging fake, Secret Manager,
// Monitoring and the App API fakes beside.
type cloud struct {
	stack   *devstack.Stack
	bq      *bqfake.Server
	sm      *secretstorefake.Server
	metrics *cloudmetricsfake.Server
	logs    *cloudlogsfake.Server
	api     *appapifake.Server
	env     doctor.Env
}

const (
	project = "my-project"
	dlSub   = "cioevents-events-dead-letter"
	key     = "cloud-signing-key"
)

// committedViews defines the views in bqfake as the repository defines them:
// events_deduped passes through its window the columns it partitions by
// (terraform/modules/cioevents/bigquery.tf), and each reporting view filters event_time itself
// (funnel.Views, the committed SQL).
func committedViews(t testing.TB, bq *bqfake.Server) {
	t.Helper()
	sql, err := os.ReadFile("../../../../terraform/modules/cioevents/views/events_deduped.sql")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?s)PARTITION BY (.+?)\s+ORDER BY`).FindSubmatch(sql)
	if m == nil {
		t.Fatal("terraform/modules/cioevents/views/events_deduped.sql: no window")
	}
	// Only a plain column of the window's PARTITION BY lets an outer
	// filter through; an expression over columns does not.
	var pass []string
	for _, c := range topLevelItems(string(m[1])) {
		if regexp.MustCompile(`^\w+$`).MatchString(c) {
			pass = append(pass, c)
		}
	}
	bq.AddView("cioevents.events_deduped", bqfake.View{Base: "cioevents.events", PassThrough: pass})
	for _, v := range funnel.Views() {
		f := regexp.MustCompile(`WHERE (\w+) >=`).FindStringSubmatch(v.SQL)
		if f == nil {
			t.Fatalf("view %s filters nothing", v.Name)
		}
		bq.AddView("cioevents."+v.Name, bqfake.View{Base: viewBase(v), Filters: []string{f[1]}})
	}
}

// viewBase is the table a reporting view reads: the deliveries table (the
// daily views) or events_deduped.
func viewBase(v funnel.View) string {
	if strings.Contains(v.SQL, "${deliveries}") {
		return "cioevents.deliveries"
	}
	return "cioevents.events_deduped"
}

// topLevelItems splits a comma-separated SQL list, leaving the commas
// inside parentheses alone.
func topLevelItems(list string) []string {
	var items []string
	depth, start := 0, 0
	for i, r := range list {
		switch r {
		case '(':
			depth++
		case ')':
			depth--
		case ',':
			if depth == 0 {
				items = append(items, strings.TrimSpace(list[start:i]))
				start = i + 1
			}
		}
	}
	return append(items, strings.TrimSpace(list[start:]))
}

// logForwarder turns the stack's JSON log lines into Cloud Logging entries
// of the processor's service, as Cloud Run would.
type logForwarder struct {
	mu   sync.Mutex
	logs *cloudlogsfake.Server
	buf  bytes.Buffer
}

func (f *logForwarder) Write(p []byte) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.buf.Write(p)
	for {
		line, err := f.buf.ReadBytes('\n')
		if err != nil {
			f.buf.Write(line)
			return len(p), nil
		}
		var m map[string]any
		if json.Unmarshal(line, &m) != nil {
			continue
		}
		sev, _ := m["level"].(string)
		if sev == "WARN" {
			sev = "WARNING"
		}
		delete(m, "level")
		delete(m, "time")
		m["message"] = m["msg"]
		delete(m, "msg")
		f.logs.Add("cioevents-processor", time.Now(), sev, m)
	}
}

func newCloud(t testing.TB) *cloud {
	t.Helper()
	ctx := context.Background()
	c := &cloud{bq: bqfake.New(map[string]bigquery.Schema{
		"cioevents.events": warehouse.EventsSchema(), "cioevents.rejected_events": warehouse.RejectedSchema(),
		"cioevents.deliveries": funnel.DeliveriesSchema()}),
		api: appapifake.New("app-key")}
	t.Cleanup(c.bq.Close)
	t.Cleanup(c.api.Close)
	c.bq.RequirePartitionFilter("cioevents.events", "event_time")
	var err error
	if c.sm, err = secretstorefake.New(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.sm.Close)
	c.sm.AddSecret("projects/"+project+"/secrets/cioevents-webhook-signing-keys", []byte("stale"), []byte(key+",shop=other"))
	if c.metrics, err = cloudmetricsfake.New(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.metrics.Close)
	if c.logs, err = cloudlogsfake.New(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.logs.Close)
	bqOpts := []option.ClientOption{option.WithEndpoint(c.bq.URL() + "/bigquery/v2/"), option.WithoutAuthentication()}
	wh, err := warehouse.NewBigQuery(ctx, project, "cioevents", "events", "rejected_events", bqOpts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { wh.Close() })
	fwd := &logForwarder{logs: c.logs}
	c.stack = startDev(t, devstack.Options{Keys: [][]byte{[]byte(key)}, Warehouse: wh,
		Logger: slog.New(slog.NewJSONHandler(fwd, nil))})
	c.api.AddWebhook(appapifake.Webhook{Name: "cioevents", Endpoint: c.stack.URL, Events: appapi.WebhookEvents})
	pubsubNames(t, "cioevents-events", "cioevents-processor-push", dlSub)
	c.metrics.Set(cloudmetrics.OldestUnackedAge, "cioevents-processor-push", 4)
	c.metrics.Set(cloudmetrics.Undelivered, dlSub, 0)
	c.env = doctor.Env{
		Getenv:        func(k string) string { return map[string]string{appapi.EnvKey: "app-key"}[k] },
		Terraform:     func(context.Context, string) ([]byte, error) { return []byte(`{}`), nil },
		AppAPIURL:     c.api.URL(),
		BigQuery:      bqOpts,
		PollEvery:     50 * time.Millisecond,
		SecretManager: c.sm.ClientOptions(), Monitoring: c.metrics.ClientOptions(), Logging: c.logs.ClientOptions(),
	}
	return c
}

// pubsubNames makes the topic and the subscriptions exist in the Pub/Sub
// emulator (PUBSUB_EMULATOR_HOST), as terraform apply would; the emulator
// outlives the test, so names already there are fine.
func pubsubNames(t testing.TB, topic string, subs ...string) {
	t.Helper()
	ctx := context.Background()
	ps, err := pubsub.NewClient(ctx, project)
	if err != nil {
		t.Fatal(err)
	}
	defer ps.Close()
	tn := "projects/" + project + "/topics/" + topic
	if _, err := ps.TopicAdminClient.CreateTopic(ctx, &pubsubpb.Topic{Name: tn}); err != nil && status.Code(err) != codes.AlreadyExists {
		t.Fatal(err)
	}
	for _, s := range subs {
		_, err := ps.SubscriptionAdminClient.CreateSubscription(ctx, &pubsubpb.Subscription{Name: "projects/" + project + "/subscriptions/" + s, Topic: tn})
		if err != nil && status.Code(err) != codes.AlreadyExists {
			t.Fatal(err)
		}
	}
}

func (c *cloud) run(t testing.TB, extra ...string) (string, error) {
	t.Helper()
	args := append([]string{"--project", project, "--url", c.stack.URL, "--dead-letter-subscription", dlSub}, extra...)
	return run(t, c.env, args...)
}

func TestCloudHealthy(t *testing.T) {
	c := newCloud(t)
	committedViews(t, c.bq)
	out, err := c.run(t)
	if err != nil {
		t.Fatalf("doctor on a healthy deployment: %v", err)
	}
	hasLine(t, out, `^\[ok\]\s+signed probe: accepted 200 in \d+ ms; row in my-project.cioevents.events after \d+ ms end to end$`)
	for _, v := range []string{"events_deduped", "delivery_funnel_daily", "deliverability_daily", "deliveries_named", "person_engagement"} {
		hasLine(t, out, `^\[ok\]\s+view `+v+`: dry run with its partition filter succeeded$`)
	}
	hasLine(t, out, `^\[ok\]\s+Pub/Sub names: topic cioevents-events, subscription cioevents-processor-push, subscription cioevents-events-dead-letter exist in project my-project$`)
	hasLine(t, out, `^\[ok\]\s+nothing stuck: oldest unacked message in cioevents-processor-push is 4s old \(threshold 10m0s\)$`)
	hasLine(t, out, `^\[ok\]\s+dead letters: 0 messages waiting in cioevents-events-dead-letter$`)
	hasLine(t, out, `^\[ok\]\s+Customer.io webhook: webhook 1 "cioevents" → \S+ enabled with all 72 event types$`)
	if c.bq.DryRuns() != 1+len(funnel.Views()) {
		t.Errorf("%d dry runs, want one per view", c.bq.DryRuns())
	}
}

func TestDeadLettersWaiting(t *testing.T) {
	c := newCloud(t)
	committedViews(t, c.bq)
	c.metrics.Set(cloudmetrics.Undelivered, dlSub, 3)
	out, err := c.run(t)
	if !errors.Is(err, doctor.ErrChecksFailed) {
		t.Fatalf("err = %v", err)
	}
	hasLine(t, out, `^\[FAIL\]\s+dead letters: 3 messages waiting in cioevents-events-dead-letter$`)
	hasLine(t, out, `runbook: docs/runbooks/dead-letters.md$`)
}

func TestWebhookDisabledOrMissingTypes(t *testing.T) {
	c := newCloud(t)
	committedViews(t, c.bq)
	hooks := c.api.Webhooks()
	c.api.SetWebhooks(nil)
	c.api.AddWebhook(appapifake.Webhook{ID: hooks[0].ID, Name: "cioevents", Endpoint: c.stack.URL, Disabled: true,
		Events: appapi.WebhookEvents[:70]})
	out, err := c.run(t)
	if !errors.Is(err, doctor.ErrChecksFailed) {
		t.Fatalf("err = %v", err)
	}
	hasLine(t, out, `^\[FAIL\]\s+Customer.io webhook: webhook \d+ "cioevents" → \S+ is disabled; missing 2 event types: webhook_failed, webhook_undeliverable$`)
	hasLine(t, out, `runbook: docs/runbooks/doctor/customerio-webhook.md$`)
}

// BigQuery does not document that a filter on event_time reaches the table
// through events_deduped's window; if it did not, every view query would
// fail. doctor must say so on day one.
func TestViewWithoutPartitionFilter(t *testing.T) {
	c := newCloud(t)
	c.bq.AddView("cioevents.events_deduped", bqfake.View{Base: "cioevents.events", PassThrough: []string{"event_id"}})
	for _, v := range funnel.Views() {
		c.bq.AddView("cioevents."+v.Name, bqfake.View{Base: viewBase(v), Filters: []string{"event_time"}})
	}
	out, err := c.run(t)
	if !errors.Is(err, doctor.ErrChecksFailed) {
		t.Fatalf("err = %v", err)
	}
	// The daily views read the deliveries table, which has no such requirement.
	for _, v := range []string{"events_deduped", "person_engagement"} {
		hasLine(t, out, `^\[FAIL\]\s+view `+v+`: dry run failed: .*without a filter over column\(s\) 'event_time' that can be used for partition elimination`)
	}
	hasLine(t, out, `likely cause: the view's filter on event_time does not reach the table's partition filter`)
	hasLine(t, out, `runbook: docs/runbooks/doctor/views.md$`)
}

// Every insert is refused with 403, as when the processor's service account
// lost its grant: the probe never lands, and doctor reads the processor's
// own log line (the real one, forwarded to the Cloud Logging fake) to name
// the permission instead of saying "timed out".
func TestInsertPermissionDenied(t *testing.T) {
	c := newCloud(t)
	committedViews(t, c.bq)
	c.bq.FailNext(1<<30, http.StatusForbidden)
	out, err := c.run(t, "--timeout", "2s")
	if !errors.Is(err, doctor.ErrChecksFailed) {
		t.Fatalf("err = %v", err)
	}
	hasLine(t, out, `^\[FAIL\]\s+signed probe: accepted 200 in \d+ ms, but no row in my-project.cioevents.events within 2s$`)
	hasLine(t, out, `likely cause: the processor logged at \S+ \(WARNING\) at step row: retry at row: warehouse: insert into cioevents.events \(insert ID cioevents-probe-\w+\): HTTP 403 accessDenied → BigQuery refuses the insert: the processor's service account lacks bigquery.tables.updateData`)
	hasLine(t, out, `runbook: docs/runbooks/bigquery-insert-failures.md$`)
}

// A guessed subscription name reads as "no data" in Cloud Monitoring, like a
// quiet subscription; doctor asks the Pub/Sub admin API first, fails naming
// it, and does not call its backlog ok.
func TestWrongSubscriptionName(t *testing.T) {
	c := newCloud(t)
	committedViews(t, c.bq)
	out, err := c.run(t, "--subscription", "cioevents-procesor-push")
	if !errors.Is(err, doctor.ErrChecksFailed) {
		t.Fatalf("err = %v, want ErrChecksFailed\n%s", err, out)
	}
	hasLine(t, out, `^\[FAIL\]\s+Pub/Sub names: subscription cioevents-procesor-push does not exist in project my-project$`)
	hasLine(t, out, `^\[unknown\]\s+nothing stuck: no oldest_unacked_message_age data for cioevents-procesor-push in the last 10m0s, and the subscription was not confirmed to exist$`)
	hasLine(t, out, `runbook: docs/runbooks/doctor/pubsub.md$`)
	hasLine(t, out, `^1 of \d+ checks failed, 1 unknown \(unknown is not passed\)$`)
}

// A subscription confirmed to exist with no backlog point has nothing
// waiting (Pub/Sub writes no point then), and doctor says that is why it
// passed.
func TestQuietSubscriptionPassesSayingWhy(t *testing.T) {
	c := newCloud(t)
	committedViews(t, c.bq)
	pubsubNames(t, "cioevents-events", "cioevents-quiet-push")
	out, err := c.run(t, "--subscription", "cioevents-quiet-push")
	if err != nil {
		t.Fatalf("err = %v\n%s", err, out)
	}
	hasLine(t, out, `^\[ok\]\s+nothing stuck: nothing waiting in cioevents-quiet-push: it exists \(confirmed through the Pub/Sub admin API\) and has no oldest_unacked_message_age point in the last 10m0s, which Pub/Sub leaves out while no message waits$`)
}

// BenchmarkCloudDoctor is one `doctor --cloud` of a healthy deployment on
// the fakes and the Pub/Sub emulator: the probe through the real receiver
// and processor into bqfake, four view dry runs, the Pub/Sub names, two
// metrics and the webhook list.
func BenchmarkCloudDoctor(b *testing.B) {
	c := newCloud(b)
	committedViews(b, c.bq)
	for b.Loop() {
		if out, err := c.run(b); err != nil {
			b.Fatalf("%v\n%s", err, out)
		}
	}
}
