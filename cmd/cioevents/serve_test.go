package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"cloud.google.com/go/bigquery"
	"cloud.google.com/go/pubsub/v2"
	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"github.com/GoogleCloudPlatform/functions-framework-go/funcframework"
	"github.com/GoogleCloudPlatform/functions-framework-go/functions"
	"google.golang.org/api/option"

	"github.com/cioevents/cioevents/functions/processor"
	"github.com/cioevents/cioevents/internal/testsupport/emulator"
	"github.com/cioevents/cioevents/shared/actions/trackfake"
	"github.com/cioevents/cioevents/shared/logging"
	"github.com/cioevents/cioevents/shared/signature"
	"github.com/cioevents/cioevents/shared/warehouse"
	"github.com/cioevents/cioevents/shared/warehouse/bqfake"
)

// The test binary doubles as the deployed processes: with childEnv set it
// runs one of them instead of the tests.
const (
	childEnv    = "CIOEVENTS_TEST_CHILD"
	childBQ     = "CIOEVENTS_TEST_BIGQUERY_URL"
	childTrack  = "CIOEVENTS_TEST_TRACK_URL"
	childPort   = "CIOEVENTS_TEST_PORT"
	localTarget = "ProcessEventLocal"
)

func TestMain(m *testing.M) {
	switch os.Getenv(childEnv) {
	case "serve":
		// Exactly `cioevents serve`, FUNCTION_TARGET from the environment.
		os.Args = []string{os.Args[0], "serve", "--addr", "127.0.0.1:" + os.Getenv(childPort)}
		main()
		os.Exit(0)
	case "processor":
		os.Exit(processorChild())
	}
	if err := emulator.Ensure(context.Background(), emulator.PubSub, emulator.Firestore); err != nil {
		fmt.Fprintln(os.Stderr, "FAIL:", err)
		os.Exit(1)
	}
	code := m.Run()
	emulator.StopAll()
	removeBinary() // main_test.go's built command
	os.Exit(code)
}

// processorChild serves ProcessEvent's handler as Cloud Functions does —
// functions-framework with FUNCTION_TARGET naming it, so it answers on every
// path — with only its BigQuery and Track clients pointed at the fakes,
// which the deployed entry point cannot be. Output routing is what the root
// package's init installed, as in a deployment.
func processorChild() int {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	p, err := processor.New(ctx, os.Getenv, processor.Overrides{
		BigQueryOptions: []option.ClientOption{option.WithEndpoint(os.Getenv(childBQ) + "/bigquery/v2/"),
			option.WithoutAuthentication()},
		TrackBaseURL: os.Getenv(childTrack),
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "processor child:", err)
		return 1
	}
	functions.CloudEvent(localTarget, processor.Handle(p))
	errc := make(chan error, 1)
	go func() { errc <- funcframework.StartHostPort("127.0.0.1", os.Getenv(childPort)) }()
	select {
	case err = <-errc:
		fmt.Fprintln(os.Stderr, "processor child:", err)
	case <-ctx.Done():
	}
	logging.FlushProcessOutput()
	if err != nil {
		return 1
	}
	return 0
}

// lockedBuffer collects a child's output.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

type child struct {
	url            string
	cmd            *exec.Cmd
	stdout, stderr lockedBuffer
}

// startChild runs the test binary as a deployed function and waits until
// it accepts connections.
func startChild(t *testing.T, mode string, env map[string]string) *child {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
	l.Close()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	c := &child{url: "http://127.0.0.1:" + port}
	c.cmd = exec.Command(exe)
	c.cmd.Env = append(os.Environ(), childEnv+"="+mode, childPort+"="+port)
	for k, v := range env {
		c.cmd.Env = append(c.cmd.Env, k+"="+v)
	}
	c.cmd.Stdout, c.cmd.Stderr = &c.stdout, &c.stderr
	if err := c.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.stop() })
	// Generous: a loaded machine may take long to start a process, and
	// nothing here measures speed.
	for deadline := time.Now().Add(2 * time.Minute); ; {
		if conn, err := net.Dial("tcp", "127.0.0.1:"+port); err == nil {
			conn.Close()
			return c
		}
		if c.cmd.ProcessState != nil || time.Now().After(deadline) {
			t.Fatalf("%s did not start:\nstdout: %s\nstderr: %s", mode, c.stdout.String(), c.stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// stop ends the child as Cloud Run does, with SIGTERM, and waits for it.
func (c *child) stop() {
	if c.cmd.ProcessState != nil {
		return
	}
	c.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { c.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(time.Minute):
		c.cmd.Process.Kill()
		<-done
	}
}

// jsonOnly fails t unless every line of out is exactly one JSON object with
// a string severity; it returns the lines decoded.
func jsonOnly(t *testing.T, name, out string) []map[string]any {
	t.Helper()
	var lines []map[string]any
	for i, l := range strings.SplitAfter(out, "\n") {
		if l == "" {
			continue
		}
		var m map[string]any
		dec := json.NewDecoder(strings.NewReader(l))
		if err := dec.Decode(&m); err != nil || dec.More() || !strings.HasSuffix(l, "\n") {
			t.Errorf("%s line %d is not exactly one JSON object: %.300q", name, i+1, l)
			continue
		}
		if s, ok := m["severity"].(string); !ok || s == "" {
			t.Errorf("%s line %d has no severity: %.300q", name, i+1, l)
			continue
		}
		lines = append(lines, m)
	}
	return lines
}

// TestDeployedFunctionsLogOnlyJSON runs both functions as deployed — the
// receiver as `cioevents serve` with FUNCTION_TARGET=ReceiveWebhook, the
// processor under functions-framework with FUNCTION_TARGET naming it, both
// with K_SERVICE set as Cloud Run sets it and LOG_LEVEL=debug — drives them
// with signed webhooks and Pub/Sub push bodies posted to the
// /projects/P/topics/T path the push subscription uses (and, once, to the
// bare URL that made functions-framework print its warning), and checks
// that every line either process writes is one JSON object with a severity.
func TestDeployedFunctionsLogOnlyJSON(t *testing.T) {
	ctx := context.Background()
	const project, key = "cioevents-serve-test", "serve-signing-key"
	topic := fmt.Sprintf("serve-events-%d", time.Now().UnixNano())

	ps, err := pubsub.NewClient(ctx, project)
	if err != nil {
		t.Fatal(err)
	}
	defer ps.Close()
	topicName := "projects/" + project + "/topics/" + topic
	if _, err := ps.TopicAdminClient.CreateTopic(ctx, &pubsubpb.Topic{Name: topicName}); err != nil {
		t.Fatal(err)
	}
	subName := "projects/" + project + "/subscriptions/" + topic + "-pull"
	if _, err := ps.SubscriptionAdminClient.CreateSubscription(ctx, &pubsubpb.Subscription{Name: subName, Topic: topicName,
		AckDeadlineSeconds: 60}); err != nil {
		t.Fatal(err)
	}
	bq := bqfake.New(map[string]bigquery.Schema{
		"cioevents.events": warehouse.EventsSchema(), "cioevents.rejected_events": warehouse.RejectedSchema()})
	defer bq.Close()
	track := trackfake.New("site", "track-key")
	defer track.Close()

	recv := startChild(t, "serve", map[string]string{
		"FUNCTION_TARGET": "ReceiveWebhook", "K_SERVICE": "cioevents-receiver", "LOG_LEVEL": "debug",
		"CIO_WEBHOOK_SIGNING_KEYS": key, "GOOGLE_CLOUD_PROJECT": project, "PUBSUB_TOPIC": topic,
	})
	proc := startChild(t, "processor", map[string]string{
		"FUNCTION_TARGET": localTarget, "K_SERVICE": "cioevents-processor", "LOG_LEVEL": "debug",
		"GOOGLE_CLOUD_PROJECT": project, "LEDGER_COLLECTION": "ledger_" + topic, "CIO_SITE_ID": "site",
		"CIO_TRACK_API_KEY": "track-key", "CIO_RATE_LIMIT": "100", childBQ: bq.URL(), childTrack: track.URL(),
	})

	// The receiver: two authentic events (one with a 2,000-byte event_id),
	// a forged one, a GET.
	bounce, err := os.ReadFile("../../testdata/events/email.bounced.json")
	if err != nil {
		t.Fatal(err)
	}
	var env map[string]any
	delivered, _ := os.ReadFile("../../testdata/events/email.delivered.json")
	if err := json.Unmarshal(delivered, &env); err != nil {
		t.Fatal(err)
	}
	longID := strings.Repeat("L", 2000)
	env["event_id"] = longID
	long, _ := json.Marshal(env)
	send := func(body []byte, k string) int {
		req, _ := signature.NewRequest(context.Background(), recv.url, []byte(k), time.Now(), body)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	for _, c := range []struct {
		body []byte
		key  string
		want int
	}{{bounce, key, 200}, {long, key, 200}, {bounce, "forged", 401}} {
		if got := send(c.body, c.key); got != c.want {
			t.Fatalf("POST: %d, want %d", got, c.want)
		}
	}
	if resp, err := http.Get(recv.url); err != nil || resp.StatusCode != http.StatusMethodNotAllowed {
		t.Fatalf("GET: %v %v", resp, err)
	}

	// What the receiver published, as the push subscription would deliver it.
	var pushed [][]byte
	pullCtx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	var mu sync.Mutex
	err = ps.Subscriber(subName).Receive(pullCtx, func(_ context.Context, m *pubsub.Message) {
		m.Ack()
		b, _ := json.Marshal(map[string]any{
			"message": map[string]any{"data": m.Data, "attributes": m.Attributes, "messageId": m.ID,
				"publishTime": m.PublishTime.Format(time.RFC3339Nano)},
			"subscription": subName,
		})
		mu.Lock()
		defer mu.Unlock()
		if pushed = append(pushed, b); len(pushed) == 2 {
			cancel()
		}
	})
	if len(pushed) != 2 {
		t.Fatalf("pulled %d of 2 messages (%v)", len(pushed), err)
	}

	// The processor: each message at the path Terraform's push endpoint
	// carries, one again (a duplicate), one at the bare URL (the framework's
	// warning), and a body that is not a push at all (its error on stderr).
	push := func(path string, body []byte) int {
		resp, err := http.Post(proc.url+path, "application/json", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	pushPath := "/" + topicName
	for i, b := range append(pushed, pushed[0]) {
		if s := push(pushPath, b); s/100 != 2 {
			t.Fatalf("push %d: status %d", i, s)
		}
	}
	if s := push("/", pushed[1]); s/100 != 2 {
		t.Fatalf("push to the bare URL: status %d", s)
	}
	if s := push(pushPath, []byte(`{"message":{"data":"not base64!"},"subscription":"s"}`)); s/100 == 2 {
		t.Fatalf("malformed push: status %d", s)
	}

	recv.stop()
	proc.stop()

	// The long event landed, keyed by its full event_id from the body.
	ids := map[string]bool{}
	for _, r := range bq.Rows("cioevents.events") {
		ids[fmt.Sprint(r["event_id"])] = true
	}
	if len(ids) != 2 || !ids[longID] {
		t.Errorf("rows for %d events; the 2,000-byte event_id landed: %v", len(ids), ids[longID])
	}

	outcomes := map[string]int{}
	var warned bool
	for name, out := range map[string]string{
		"receiver stdout": recv.stdout.String(), "receiver stderr": recv.stderr.String(),
		"processor stdout": proc.stdout.String(), "processor stderr": proc.stderr.String(),
	} {
		if strings.Contains(out, key) || strings.Contains(out, "track-key") {
			t.Errorf("%s leaks a key", name)
		}
		for _, l := range jsonOnly(t, name, out) {
			if o, ok := l["outcome"].(string); ok {
				outcomes[strings.Fields(name)[0]+" "+o]++
			}
			if msg, _ := l["message"].(string); strings.HasPrefix(msg, "WARNING: failed to extract Pub/Sub topic") {
				warned = true
			}
		}
	}
	t.Logf("outcomes: %v", outcomes)
	// The lines checked above are the ones that matter: make sure they were
	// there to check.
	for _, want := range []string{"receiver accepted", "receiver mismatch", "receiver method", "processor inserted",
		"processor duplicate"} {
		if outcomes[want] == 0 {
			t.Errorf("no %q line in the output", want)
		}
	}
	if !warned {
		t.Error("the framework's bare-URL warning never showed up as its own JSON line")
	}
	if !strings.Contains(proc.stderr.String(), "[redacted]") || strings.Contains(proc.stderr.String(), "not base64!") {
		t.Errorf("the malformed push should leave one redacted line on the processor's stderr: %q", proc.stderr.String())
	}
}
