package receiver

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"cloud.google.com/go/pubsub/v2"
	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"

	"github.com/cioevents/cioevents/internal/testsupport/emulator"
	"github.com/cioevents/cioevents/shared/publish"
	"github.com/cioevents/cioevents/shared/signature"
	"github.com/cioevents/cioevents/shared/webhook"
)

func TestMain(m *testing.M) { emulator.Main(m, emulator.PubSub) }

const project = "cioevents-receiver-test"

var seq atomic.Int64

// topicWithSub makes a fresh topic and pull subscription on the emulator.
func topicWithSub(t *testing.T) (topic string, sub *pubsub.Subscriber) {
	t.Helper()
	ctx := context.Background()
	c, err := pubsub.NewClient(ctx, project)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	n := seq.Add(1)
	topic = fmt.Sprintf("events-%d", n)
	tn := "projects/" + project + "/topics/" + topic
	if _, err := c.TopicAdminClient.CreateTopic(ctx, &pubsubpb.Topic{Name: tn}); err != nil {
		t.Fatal(err)
	}
	sn := fmt.Sprintf("projects/%s/subscriptions/processor-%d", project, n)
	if _, err := c.SubscriptionAdminClient.CreateSubscription(ctx, &pubsubpb.Subscription{Name: sn, Topic: tn, AckDeadlineSeconds: 10}); err != nil {
		t.Fatal(err)
	}
	return topic, c.Subscriber(sn)
}

func env(topic string, extra ...string) func(string) string {
	m := map[string]string{
		"CIO_WEBHOOK_SIGNING_KEYS": "old-key,shop=cio-test-signing-key",
		"GOOGLE_CLOUD_PROJECT":     project,
		"PUBSUB_TOPIC":             topic,
		"LOG_LEVEL":                "error",
	}
	for i := 0; i+1 < len(extra); i += 2 {
		m[extra[i]] = extra[i+1]
	}
	return func(k string) string { return m[k] }
}

func post(t *testing.T, url string, body []byte, key string) *http.Response {
	t.Helper()
	req, _ := signature.NewRequest(context.Background(), url, []byte(key), time.Now(), body)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp
}

// receive pulls until n messages arrived.
func receive(t *testing.T, sub *pubsub.Subscriber, n int) []*pubsub.Message {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var got []*pubsub.Message
	msgs := make(chan *pubsub.Message, 256)
	go sub.Receive(ctx, func(_ context.Context, m *pubsub.Message) { m.Ack(); msgs <- m })
	for len(got) < n {
		select {
		case m := <-msgs:
			got = append(got, m)
		case <-ctx.Done():
			t.Fatalf("received %d of %d messages", len(got), n)
		}
	}
	return got
}

// serveReceiver serves the receiver built from getenv.
func serveReceiver(t *testing.T, getenv func(string) string) *httptest.Server {
	t.Helper()
	h, err := New(context.Background(), getenv)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

// The published message is the posted body, byte for byte, with the
// attributes the processor relies on; refused requests publish nothing.
func TestPublishesExactBytesToEmulator(t *testing.T) {
	topic, sub := topicWithSub(t)
	srv := serveReceiver(t, env(topic))

	files, _ := filepath.Glob("../../testdata/*/*.json")
	if len(files) < 90 {
		t.Fatalf("only %d fixtures", len(files))
	}
	// Refused first: none of these may reach the topic.
	good, _ := os.ReadFile("../../testdata/events/email.bounced.json")
	if r := post(t, srv.URL, good, "wrong-key"); r.StatusCode != http.StatusUnauthorized {
		t.Fatalf("wrong key: %d", r.StatusCode)
	}
	req, _ := http.NewRequest(http.MethodGet, srv.URL, nil)
	if r, err := http.DefaultClient.Do(req); err != nil || r.StatusCode != http.StatusMethodNotAllowed {
		t.Fatalf("GET: %v %v", r, err)
	}
	posted := map[string][]byte{}
	for _, f := range files {
		body, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if r := post(t, srv.URL, body, "cio-test-signing-key"); r.StatusCode != http.StatusOK {
			t.Fatalf("%s: status %d", f, r.StatusCode)
		}
		posted[string(body)] = body
	}
	got := receive(t, sub, len(posted))
	for _, m := range got {
		if _, ok := posted[string(m.Data)]; !ok {
			t.Fatalf("published data matches no posted body: %.80q", m.Data)
		}
		delete(posted, string(m.Data))
		if m.Attributes[webhook.AttrKeyIndex] != "1" || m.Attributes[webhook.AttrWorkspace] != "shop" || m.Attributes[webhook.AttrSignedAt] == "" ||
			m.Attributes[webhook.AttrReceivedAt] == "" {
			t.Fatalf("attributes %v", m.Attributes)
		}
		if m.Attributes[webhook.AttrInvalid] == "" && m.Attributes[webhook.AttrEventID] == "" {
			t.Fatalf("valid event without event_id attribute: %v", m.Attributes)
		}
	}
	if len(posted) != 0 {
		t.Fatalf("%d bodies never published", len(posted))
	}
}

// With Pub/Sub unreachable the answer is 503 (retried), never 2xx. That it
// comes inside Customer.io's 4 s follows from the publish deadline, which
// shared/webhook's TestPublishDeadline checks without timing a request.
func TestUnreachablePubSubAnswers503(t *testing.T) {
	// Nothing listens on port 1.
	t.Setenv("PUBSUB_EMULATOR_HOST", "127.0.0.1:1")
	h, err := New(context.Background(), env("events-unreachable", "CIO_PUBLISH_TIMEOUT", "3s"))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()
	body, _ := os.ReadFile("../../testdata/events/email.bounced.json")
	if r := post(t, srv.URL, body, "cio-test-signing-key"); r.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("status %d, want 503", r.StatusCode)
	}
}

func TestRefusesWithoutKey(t *testing.T) {
	_, err := New(context.Background(), env("t", "CIO_WEBHOOK_SIGNING_KEYS", ""))
	if err == nil {
		t.Fatal("receiver built without a signing key")
	}
}

// A key whose workspace name breaks the pattern is a configuration error,
// not an unnamed key: the receiver does not serve.
func TestRefusesBadWorkspaceName(t *testing.T) {
	for _, keys := range []string{"Shop=k1", "shop.eu=k1,k2", "a=k1,b=k1"} {
		if _, err := New(context.Background(), env("t", "CIO_WEBHOOK_SIGNING_KEYS", keys)); err == nil {
			t.Errorf("receiver built with keys %q", keys)
		}
	}
}

func TestRefusesToStartWithoutKey(t *testing.T) {
	if os.Getenv("CIOEVENTS_CHILD") == "1" {
		return // the child's init has already decided
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, "-test.run=^TestRefusesToStartWithoutKey$")
	cmd.Env = append(os.Environ(), "CIOEVENTS_CHILD=1", "FUNCTION_TARGET="+Name, "CIO_WEBHOOK_SIGNING_KEYS=",
		"GOOGLE_CLOUD_PROJECT=p")
	out, err := cmd.CombinedOutput()
	if err == nil || !bytes.Contains(out, []byte("refuses to start")) || !bytes.Contains(out, []byte("CIO_WEBHOOK_SIGNING_KEYS")) {
		t.Fatalf("child exited with %v:\n%s", err, out)
	}
	if bytes.Contains(out, []byte(strconv.Quote("cio-test-signing-key"))) {
		t.Fatal("start-up log leaks a key")
	}
}

// An envelope whose values break Pub/Sub's attribute limits (the emulator
// would accept them; production would refuse every publish) is accepted, and
// its body reaches the topic untouched.
func TestLongEventIDReachesTopic(t *testing.T) {
	topic, sub := topicWithSub(t)
	srv := serveReceiver(t, env(topic))
	body := []byte(`{"event_id":"` + strings.Repeat("e", 2000) + `","object_type":"email","metric":"` +
		strings.Repeat("m", 1500) + `","timestamp":1767225600,"data":{}}`)
	if r := post(t, srv.URL, body, "cio-test-signing-key"); r.StatusCode != http.StatusOK {
		t.Fatalf("status %d", r.StatusCode)
	}
	m := receive(t, sub, 1)[0]
	if !bytes.Equal(m.Data, body) {
		t.Fatal("published body differs from the posted one")
	}
	if !publish.WithinLimits(m.Attributes) || m.Attributes[publish.AttrAltered] != "event_id,metric" {
		t.Fatalf("attributes: %d bytes of event_id, altered %q", len(m.Attributes[webhook.AttrEventID]),
			m.Attributes[publish.AttrAltered])
	}
}
