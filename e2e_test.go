package cioevents_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"cloud.google.com/go/bigquery"
	"cloud.google.com/go/pubsub/v2"
	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"github.com/GoogleCloudPlatform/functions-framework-go/funcframework"
	cloudevent "github.com/cloudevents/sdk-go/v2/event"
	"google.golang.org/api/option"

	"github.com/cioevents/cioevents/functions/processor"
	"github.com/cioevents/cioevents/internal/testsupport/emulator"
	"github.com/cioevents/cioevents/shared/actions"
	"github.com/cioevents/cioevents/shared/actions/trackfake"
	"github.com/cioevents/cioevents/shared/event"
	"github.com/cioevents/cioevents/shared/signature"
	"github.com/cioevents/cioevents/shared/warehouse"
	"github.com/cioevents/cioevents/shared/warehouse/bqfake"
)

func TestMain(m *testing.M) { emulator.Main(m, emulator.PubSub, emulator.Firestore) }

const (
	e2eProject = "cioevents-e2e"
	e2eKey     = "e2e-signing-key"
	// Two named workspaces: brand_b has its own Track credentials, brand_c
	// none.
	e2eKeyB = "e2e-signing-key-b"
	e2eKeyC = "e2e-signing-key-c"
)

// TestEndToEnd drives the deployed shape of the system: a signed POST to the
// real ReceiveWebhook served by functions-framework, the Pub/Sub emulator
// pushing to ProcessEvent's handler served by functions-framework (so the
// framework's own push-to-CloudEvent conversion runs), the Firestore emulator
// as the ledger, the BigQuery fake checking every row against the schema,
// and the Track API fake recording calls.
func TestEndToEnd(t *testing.T) {
	ctx := context.Background()
	topic := fmt.Sprintf("e2e-events-%d", time.Now().UnixNano())
	for k, v := range map[string]string{
		"CIO_WEBHOOK_SIGNING_KEYS": e2eKey + ",brand_b=" + e2eKeyB + ",brand_c=" + e2eKeyC, "GOOGLE_CLOUD_PROJECT": e2eProject, "PUBSUB_TOPIC": topic,
		"LOG_LEVEL": "error",
	} {
		t.Setenv(k, v)
	}

	bq := bqfake.New(map[string]bigquery.Schema{
		"cioevents.events": warehouse.EventsSchema(), "cioevents.rejected_events": warehouse.RejectedSchema()})
	defer bq.Close()
	track := trackfake.New("site", "track-key")
	defer track.Close()
	track.Accept("site-b", "track-key-b")
	coll := fmt.Sprintf("ledger_e2e_%d", time.Now().UnixNano())
	penv := map[string]string{"GOOGLE_CLOUD_PROJECT": e2eProject, "LEDGER_COLLECTION": coll, "CIO_SITE_ID": "site",
		"CIO_TRACK_API_KEY": "track-key", "CIO_RATE_LIMIT": "100", "LOG_LEVEL": "error",
		"CIO_WORKSPACE_CREDENTIALS": "brand_b=site-b:track-key-b",
		// A fresh emulator's first writes take seconds on a loaded machine;
		// the production ledger timeout is not what this test is about.
		"LEDGER_TIMEOUT": "1m", "LEDGER_LEASE": "2m"}
	p, err := processor.New(ctx, func(k string) string { return penv[k] }, processor.Overrides{
		BigQueryOptions: []option.ClientOption{option.WithEndpoint(bq.URL() + "/bigquery/v2/"), option.WithoutAuthentication()},
		TrackBaseURL:    track.URL(), TrackHTTPClient: track.Client(),
	})
	if err != nil {
		t.Fatal(err)
	}
	var acked atomic.Int64
	handle := processor.Handle(p)
	// The path a Terraform push endpoint carries: functions-framework reads
	// the topic from it (on any other path it prints a warning per message).
	path := "/projects/" + e2eProject + "/topics/" + topic
	err = funcframework.RegisterCloudEventFunctionContext(ctx, path, func(ctx context.Context, e cloudevent.Event) error {
		err := handle(ctx, e)
		if err == nil {
			acked.Add(1)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	base := startFramework(t)

	ps, err := pubsub.NewClient(ctx, e2eProject)
	if err != nil {
		t.Fatal(err)
	}
	defer ps.Close()
	tn := "projects/" + e2eProject + "/topics/" + topic
	if _, err := ps.TopicAdminClient.CreateTopic(ctx, &pubsubpb.Topic{Name: tn}); err != nil {
		t.Fatal(err)
	}
	if _, err := ps.SubscriptionAdminClient.CreateSubscription(ctx, &pubsubpb.Subscription{
		Name: "projects/" + e2eProject + "/subscriptions/" + topic + "-push", Topic: tn, AckDeadlineSeconds: 30,
		PushConfig: &pubsubpb.PushConfig{PushEndpoint: base + path},
	}); err != nil {
		t.Fatal(err)
	}

	var good, bad [][]byte
	for _, dir := range []string{"events", "odd", "malformed"} {
		files, _ := filepath.Glob(filepath.Join("testdata", dir, "*"))
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			if dir == "malformed" {
				bad = append(bad, b)
			} else {
				good = append(good, b)
			}
		}
	}
	all := append(append([][]byte{}, good...), bad...)
	post := func(key string, b []byte) {
		req, _ := signature.NewRequest(context.Background(), base+"/ReceiveWebhook", []byte(key), time.Now(), b)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("status %d", resp.StatusCode)
		}
	}
	// A bounce from each named workspace, in the third round.
	bounceB := []byte(`{"event_id":"01E2EBRANDB000000000000001","object_type":"email","metric":"bounced","timestamp":1767225600,` +
		`"data":{"identifiers":{"id":"person-b"},"recipient":"b@example.com","failure_message":"550"}}`)
	bounceC := []byte(`{"event_id":"01E2EBRANDC000000000000001","object_type":"email","metric":"bounced","timestamp":1767225600,` +
		`"data":{"identifiers":{"id":"person-c"},"recipient":"c@example.com","failure_message":"550"}}`)
	for round := 1; round <= 3; round++ {
		want := int64(round * len(all))
		if round == 3 {
			post(e2eKeyB, bounceB)
			post(e2eKeyC, bounceC)
			want = int64(2*len(all) + 2)
		} else {
			for _, b := range all {
				post(e2eKey, b)
			}
		}
		deadline := time.Now().Add(90 * time.Second)
		for acked.Load() < want {
			if time.Now().After(deadline) {
				t.Fatalf("round %d: %d of %d deliveries acked", round, acked.Load(), want)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}

	rows := bq.Rows("cioevents.events")
	if len(rows) != len(good)+2 {
		t.Fatalf("%d rows for %d events after sending each twice", len(rows), len(good)+2)
	}
	for _, row := range rows {
		want := "default"
		switch row["event_id"] {
		case "01E2EBRANDB000000000000001":
			want = "brand_b"
		case "01E2EBRANDC000000000000001":
			want = "brand_c"
		}
		if row["workspace"] != want {
			t.Fatalf("row %v: workspace %v, want %s", row["event_id"], row["workspace"], want)
		}
	}
	if n := len(bq.Rows("cioevents.rejected_events")); n != len(bad) {
		t.Fatalf("%d rejected rows for %d malformed bodies", n, len(bad))
	}
	wantCalls := 0
	for _, b := range good {
		ev, err := event.Parse(b)
		if err != nil {
			t.Fatal(err)
		}
		if len(actions.DefaultPolicy().Plan(ev)) > 0 && actions.Person(ev) != "" {
			wantCalls++
		}
	}
	calls := track.Calls()
	bySite := map[string]int{}
	for _, c := range calls {
		bySite[c.SiteID]++
	}
	// brand_b's bounce went out with brand_b's credentials; brand_c's, with
	// none to use, made no call.
	if len(calls) != wantCalls+1 || wantCalls == 0 || bySite["site"] != wantCalls || bySite["site-b"] != 1 {
		t.Fatalf("%d Track calls (%v), want %d with the default credentials and 1 with brand_b's", len(calls), bySite, wantCalls)
	}
	for _, c := range calls {
		if body, _ := c.Body.(map[string]any); c.Method != http.MethodPut || body["_update"] != true {
			t.Fatalf("Track call %s %s %v", c.Method, c.Path, c.Body)
		}
	}
}

var frameworkBase string

// startFramework serves every registered function (ReceiveWebhook,
// ProcessEvent and the ones tests register) on one free port, once per test
// binary: functions-framework has no way to stop.
func startFramework(t *testing.T) string {
	t.Helper()
	if frameworkBase != "" {
		return frameworkBase
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
	l.Close()
	go func() {
		if err := funcframework.StartHostPort("127.0.0.1", port); err != nil {
			panic(err)
		}
	}()
	base := "http://127.0.0.1:" + port
	for i := 0; ; i++ {
		if c, err := net.Dial("tcp", "127.0.0.1:"+port); err == nil {
			c.Close()
			break
		}
		if i > 200 {
			t.Fatal("functions-framework did not start")
		}
		time.Sleep(25 * time.Millisecond)
	}
	frameworkBase = base
	return base
}
