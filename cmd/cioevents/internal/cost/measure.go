package cost

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"cloud.google.com/go/bigquery"
	"cloud.google.com/go/pubsub/v2"
	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	cloudevent "github.com/cloudevents/sdk-go/v2/event"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/cioevents/cioevents/internal/testsupport/emulator"
	"github.com/cioevents/cioevents/internal/testsupport/opcount"
	"github.com/cioevents/cioevents/shared/actions/trackfake"
	"github.com/cioevents/cioevents/shared/config"
	"github.com/cioevents/cioevents/shared/signature"
	"github.com/cioevents/cioevents/shared/warehouse"
	"github.com/cioevents/cioevents/shared/warehouse/bqfake"
)

// Functions build the two deployed functions the way they are deployed,
// with the hooks a measurement needs. The functions packages provide them
// (see cmd/cioevents); this package cannot import them.
type Functions struct {
	Receiver  func(ctx context.Context, getenv config.Getenv, h ReceiverHooks) (http.Handler, error)
	Processor func(ctx context.Context, getenv config.Getenv, h ProcessorHooks) (func(context.Context, cloudevent.Event) error, error)
}

// ReceiverHooks are handed to Functions.Receiver.
type ReceiverHooks struct {
	PubSubOptions []option.ClientOption
	LogOutput     io.Writer
}

// ProcessorHooks are handed to Functions.Processor.
type ProcessorHooks struct {
	FirestoreOptions []option.ClientOption
	BigQueryOptions  []option.ClientOption
	TrackBaseURL     string
	TrackHTTPClient  *http.Client
	LogOutput        io.Writer
}

// Share is one kind of event in the mix and how many of every 100 events
// are of that kind.
type Share struct {
	Fixture string // under testdata/events
	Per100  int
}

// Mix is a large email broadcast as Customer.io reports it: every message
// is sent and delivered, a good part opened (machine opens included), a few
// clicked, bounced or reported as spam, with some push and SMS beside it.
// Opens, clicks, bounces and spam complaints carry a Track API action under
// the default policy.
var Mix = []Share{
	{"email.sent.json", 33},
	{"email.delivered.json", 32},
	{"email.opened.json", 20},
	{"email.clicked.json", 4},
	{"email.bounced.json", 2},
	{"email.spammed.json", 1},
	{"push.sent.json", 3},
	{"push.delivered.json", 3},
	{"sms.sent.json", 1},
	{"sms.delivered.json", 1},
}

// Options configure Measure.
type Options struct {
	// Events to send; a multiple of 100, so that every run of the same
	// mix has the same shares and the same counts per event.
	Events int
	Seed   uint64
	// Fixtures holds testdata/events (the repository's embedded fixtures).
	Fixtures fs.FS
	// Progress, if set, gets a line per phase.
	Progress io.Writer
	Now      func() time.Time
}

const (
	project    = "cioevents-cost"
	topic      = "cioevents-events"
	signingKey = "cost-measurement-key"
)

// Measure drives o.Events events of the Mix through both functions' real
// code: each signed request through the receiver's handler, which publishes
// to the Pub/Sub emulator; each message pulled back, wrapped as the push
// CloudEvent and handed to the processor, whose ledger is on the Firestore
// emulator, whose rows go through the BigQuery client to bqfake and whose
// actions go through the Track client to trackfake. It starts the emulators
// when their *_EMULATOR_HOST is unset (call emulator.StopAll after).
func Measure(ctx context.Context, fns Functions, o Options) (Measurement, error) {
	if o.Now == nil {
		o.Now = time.Now
	}
	progress := func(format string, a ...any) {
		if o.Progress != nil {
			fmt.Fprintf(o.Progress, format+"\n", a...)
		}
	}
	bodies, err := events(o)
	if err != nil {
		return Measurement{}, err
	}
	// Starting the emulators' JVMs takes a while on a busy machine.
	progress("emulators: Pub/Sub and Firestore (started here unless PUBSUB_EMULATOR_HOST and FIRESTORE_EMULATOR_HOST are set)")
	if err := emulator.Ensure(ctx, emulator.PubSub, emulator.Firestore); err != nil {
		return Measurement{}, err
	}
	run := strconv.FormatInt(o.Now().UnixNano(), 36)
	sub := "cost-" + run

	admin, err := pubsub.NewClient(ctx, project)
	if err != nil {
		return Measurement{}, fmt.Errorf("cost: pubsub: %w", err)
	}
	defer admin.Close()
	if err := topicAndSub(ctx, admin, sub); err != nil {
		return Measurement{}, err
	}

	m := Measurement{Date: o.Now().UTC().Format("2006-01-02"), Events: o.Events, Seed: o.Seed}
	n := float64(o.Events)
	cpu := newCPUMeter()

	// Receiver.
	pc := &pubsubCounter{}
	rlog := &logCounter{}
	renv := map[string]string{
		config.EnvProject:     project,
		config.EnvTopic:       topic,
		config.EnvSigningKeys: signingKey,
	}
	h, err := fns.Receiver(ctx, getenv(renv), ReceiverHooks{
		PubSubOptions: []option.ClientOption{option.WithGRPCDialOption(grpc.WithChainUnaryInterceptor(pc.unary))},
		LogOutput:     rlog,
	})
	if err != nil {
		return Measurement{}, fmt.Errorf("cost: receiver: %w", err)
	}
	reqs := make([]*http.Request, len(bodies))
	for i, b := range bodies {
		reqs[i] = signedRequest(b, o.Now())
	}
	// A first request outside the measurement opens the connection, as a
	// warm instance has.
	if err := warm(h, bodies[0], o.Now()); err != nil {
		return Measurement{}, err
	}
	*pc, *rlog = pubsubCounter{}, logCounter{}
	progress("receiver: %d requests", len(reqs))
	start := cpu.start()
	for i, b := range bodies {
		// A 503 (a publish that timed out on a loaded machine) is retried,
		// as Customer.io retries it; the extra publish is counted.
		for attempt := 0; ; attempt++ {
			w := httptest.NewRecorder()
			h.ServeHTTP(w, reqs[i])
			if w.Code == http.StatusOK {
				break
			}
			if w.Code != http.StatusServiceUnavailable || attempt == 4 {
				return Measurement{}, fmt.Errorf("cost: receiver answered %d to event %d: %s", w.Code, i, w.Body)
			}
			m.Retries++
			reqs[i] = signedRequest(b, o.Now())
		}
	}
	m.Receiver.CPUMicros = cpu.stop(start) / n
	m.PublishRequests = float64(pc.requests.Load()) / n
	m.PublishBytes = float64(pc.bytes.Load()) / n
	m.PublishBillable = float64(pc.billable.Load()) / n
	m.Receiver.PublishCalls = m.PublishRequests
	lb, ll := rlog.counts()
	m.Receiver.LogBytes, m.Receiver.LogLines = float64(lb)/n, float64(ll)/n

	// What Pub/Sub pushes to the processor.
	progress("pulling %d messages", o.Events+1)
	ces, delivered, err := pull(ctx, admin, sub, o.Events+1)
	if err != nil {
		return Measurement{}, err
	}
	m.DeliveredBytes = float64(delivered) / float64(len(ces))
	m.DeliveryBillable = 0
	for _, d := range ces {
		m.DeliveryBillable += float64(max(d.bytes, minBillable))
	}
	m.DeliveryBillable /= float64(len(ces))

	// Processor.
	fc := &opcount.Firestore{}
	conn, err := fc.Dial(os.Getenv(emulator.Firestore.EnvVar()))
	if err != nil {
		return Measurement{}, fmt.Errorf("cost: %w", err)
	}
	defer conn.Close()
	var bq *bqfake.Server
	var track *trackfake.Server
	startFakes(func() {
		bq = bqfake.New(map[string]bigquery.Schema{
			config.DefaultDataset + "." + config.DefaultTable:    warehouse.EventsSchema(),
			config.DefaultDataset + "." + config.DefaultRejected: warehouse.RejectedSchema(),
		})
		track = trackfake.New("cost-site", "cost-key")
	})
	defer bq.Close()
	defer track.Close()
	bc := &bigQueryCounter{next: http.DefaultTransport}
	tc := &countingTransport{next: track.Client().Transport}
	plog := &logCounter{}
	penv := map[string]string{
		config.EnvProject:     project,
		config.EnvLedgerColl:  "cost_" + run,
		config.EnvSiteID:      "cost-site",
		config.EnvTrackAPIKey: "cost-key",
		// The Track fake answers at once; the production limit (10/s per
		// instance) would only make the run wait.
		config.EnvRateLimit: "100",
		// A slow emulator on a loaded machine must not turn a committed
		// claim into a timeout (and a busy event for a whole lease).
		config.EnvLedgerTimeout: "30s",
	}
	handle, err := fns.Processor(ctx, getenv(penv), ProcessorHooks{
		FirestoreOptions: []option.ClientOption{option.WithGRPCConn(conn)},
		BigQueryOptions: []option.ClientOption{option.WithEndpoint(bq.URL() + "/bigquery/v2/"),
			option.WithoutAuthentication(), option.WithHTTPClient(&http.Client{Transport: bc})},
		TrackBaseURL:    track.URL(),
		TrackHTTPClient: &http.Client{Transport: tc},
		LogOutput:       plog,
	})
	if err != nil {
		return Measurement{}, fmt.Errorf("cost: processor: %w", err)
	}
	// The warm-up message first, outside the measurement: it opens the
	// connections a warm instance holds.
	warmIdx := -1
	for i, d := range ces {
		if d.warm {
			warmIdx = i
			if _, err := deliver(ctx, handle, d.event); err != nil {
				return Measurement{}, err
			}
		}
	}
	fc.Reset()
	bc.requests.Store(0)
	bc.rows.Store(0)
	bc.bytes.Store(0)
	bc.billable.Store(0)
	tc.requests.Store(0)
	*plog = logCounter{}
	progress("processor: %d events", o.Events)
	var prof bytes.Buffer
	profiling := pprof.StartCPUProfile(&prof) == nil
	start = cpu.start()
	for i, d := range ces {
		if i == warmIdx {
			continue
		}
		retries, err := deliver(ctx, handle, d.event)
		if err != nil {
			return Measurement{}, err
		}
		m.Retries += retries
	}
	used := cpu.stop(start)
	if profiling {
		pprof.StopCPUProfile()
		fake, total, err := labelledCPU(prof.Bytes(), labelKey, labelFake)
		if err != nil {
			return m, err
		}
		if total > 0 {
			m.FakesCPUMicros = used * fake / total / n
			used -= used * fake / total
		}
	} else {
		progress("another CPU profile is running: the fakes' CPU time stays in the processor's")
	}
	m.Processor.CPUMicros = math.Round(used / n)
	m.Receiver.CPUMicros = math.Round(m.Receiver.CPUMicros)
	m.FakesCPUMicros = math.Round(m.FakesCPUMicros)
	m.FirestoreReads = float64(fc.Reads()) / n
	m.FirestoreWrites = float64(fc.Writes()) / n
	m.FirestoreDeletes = float64(fc.TTLDeletes()+fc.Deletes()) / n
	m.Processor.FirestoreCalls = float64(fc.RPCs()) / n
	m.BigQueryRows = float64(bc.rows.Load()) / n
	m.BigQueryBytes = float64(bc.bytes.Load()) / n
	m.BigQueryBillable = float64(bc.billable.Load()) / n
	m.Processor.BigQueryCalls = float64(bc.requests.Load()) / n
	m.TrackCalls = float64(tc.requests.Load()) / n
	m.Processor.TrackCalls = m.TrackCalls
	lb, ll = plog.counts()
	m.Processor.LogBytes, m.Processor.LogLines = float64(lb)/n, float64(ll)/n
	// A retried delivery may insert its row again (BigQuery's insert ID
	// dedupes it); none may be missing.
	if got := len(bq.Rows(config.DefaultDataset + "." + config.DefaultTable)); got < o.Events+1 {
		return m, fmt.Errorf("cost: %d rows reached BigQuery, want %d", got, o.Events+1)
	}
	return m, nil
}

// getenv reads env only, so nothing of the caller's environment (a
// LOG_LEVEL, say) changes what is counted: the rest is the defaults.
func getenv(env map[string]string) config.Getenv {
	return func(k string) string { return env[k] }
}

// events returns o.Events bodies of the Mix in a deterministic order (a
// shuffle of each block of 100 by o.Seed), each with its own event ID.
func events(o Options) ([][]byte, error) {
	if o.Events <= 0 || o.Events%100 != 0 {
		return nil, fmt.Errorf("cost: events must be a positive multiple of 100, not %d", o.Events)
	}
	var block []string
	for _, s := range Mix {
		for range s.Per100 {
			block = append(block, s.Fixture)
		}
	}
	if len(block) != 100 {
		return nil, fmt.Errorf("cost: the mix has %d events per 100", len(block))
	}
	fixtures := map[string][]byte{}
	for _, s := range Mix {
		b, err := fs.ReadFile(o.Fixtures, path.Join("testdata/events", s.Fixture))
		if err != nil {
			return nil, fmt.Errorf("cost: fixture: %w", err)
		}
		fixtures[s.Fixture] = b
	}
	rng := rand.New(rand.NewPCG(o.Seed, 100))
	base := time.Now()
	if o.Now != nil {
		base = o.Now()
	}
	out := make([][]byte, 0, o.Events)
	for i := 0; len(out) < o.Events; i++ {
		rng.Shuffle(len(block), func(a, b int) { block[a], block[b] = block[b], block[a] })
		for _, f := range block {
			b, err := withEventID(fixtures[f], ulid(base.Add(time.Duration(len(out))*time.Millisecond), rng))
			if err != nil {
				return nil, fmt.Errorf("cost: %s: %w", f, err)
			}
			out = append(out, b)
		}
	}
	return out, nil
}

// withEventID makes a fixture another event: a new event_id, and a new
// delivery_id of the same length, as each event of real traffic is another
// occurrence (the pipeline dedupes by delivery and metric, not event_id).
func withEventID(body []byte, id string) ([]byte, error) {
	var ev struct {
		EventID string `json:"event_id"`
		Data    struct {
			DeliveryID string `json:"delivery_id"`
		} `json:"data"`
	}
	if err := json.Unmarshal(body, &ev); err != nil || ev.EventID == "" {
		return nil, errors.New("fixture has no event_id")
	}
	out := bytes.Replace(body, []byte(`"`+ev.EventID+`"`), []byte(`"`+id+`"`), 1)
	if d := ev.Data.DeliveryID; d != "" {
		nd := strings.Repeat(id, len(d)/len(id)+1)[:len(d)]
		out = bytes.Replace(out, []byte(`"delivery_id":"`+d+`"`), []byte(`"delivery_id":"`+nd+`"`), 1)
	}
	return out, nil
}

// ulid is a time-ordered ID shaped like Customer.io's event IDs.
func ulid(t time.Time, rng *rand.Rand) string {
	const alphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
	var b [26]byte
	ms := uint64(t.UnixMilli())
	for i := 9; i >= 0; i-- {
		b[i] = alphabet[ms%32]
		ms /= 32
	}
	for i := 10; i < 26; i++ {
		b[i] = alphabet[rng.IntN(32)]
	}
	return string(b[:])
}

func topicAndSub(ctx context.Context, c *pubsub.Client, sub string) error {
	tn := "projects/" + project + "/topics/" + topic
	if _, err := c.TopicAdminClient.CreateTopic(ctx, &pubsubpb.Topic{Name: tn}); err != nil && !alreadyExists(err) {
		return fmt.Errorf("cost: create topic: %w", err)
	}
	if _, err := c.SubscriptionAdminClient.CreateSubscription(ctx, &pubsubpb.Subscription{
		Name: "projects/" + project + "/subscriptions/" + sub, Topic: tn, AckDeadlineSeconds: 600,
	}); err != nil {
		return fmt.Errorf("cost: create subscription: %w", err)
	}
	return nil
}

// warmEventID marks the warm-up request's body, so its message can be told apart.
const warmEventID = "00000000000000000000WARMUP"

func warm(h http.Handler, body []byte, now time.Time) error {
	b, err := withEventID(body, warmEventID)
	if err != nil {
		return err
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, signedRequest(b, now))
	if w.Code != http.StatusOK {
		return fmt.Errorf("cost: receiver answered %d to the warm-up request: %s", w.Code, w.Body)
	}
	return nil
}

// signedRequest is body as Customer.io posts it, signed at now.
func signedRequest(body []byte, now time.Time) *http.Request {
	// The URL is a valid constant, so NewRequest cannot fail.
	r, _ := signature.NewRequest(context.Background(), "/", []byte(signingKey), now, body)
	return r
}

type delivery struct {
	event cloudevent.Event
	bytes int64
	warm  bool
}

// pull receives n messages and wraps each as the CloudEvent that a push
// subscription and functions-framework hand the processor, in publish order.
func pull(ctx context.Context, c *pubsub.Client, sub string, n int) ([]delivery, int64, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	var mu sync.Mutex
	seen := map[string]bool{}
	var got []*pubsub.Message
	s := c.Subscriber(sub)
	s.ReceiveSettings.MaxOutstandingMessages = 1000
	err := s.Receive(ctx, func(_ context.Context, m *pubsub.Message) {
		m.Ack()
		mu.Lock()
		defer mu.Unlock()
		// A redelivery, or the second publish of a retried request: the
		// ledger would make it a duplicate; one delivery per event is
		// what is measured.
		id := m.Attributes["event_id"]
		if seen[id] {
			return
		}
		seen[id] = true
		got = append(got, m)
		if len(got) == n {
			cancel()
		}
	})
	if len(got) < n {
		return nil, 0, fmt.Errorf("cost: pulled %d of %d messages: %v", len(got), n, err)
	}
	var total int64
	out := make([]delivery, 0, n)
	for _, m := range sortByEventID(got) {
		body, err := json.Marshal(map[string]any{
			"message": map[string]any{"data": m.Data, "attributes": m.Attributes, "messageId": m.ID,
				"publishTime": m.PublishTime},
			"subscription": "projects/" + project + "/subscriptions/" + sub,
		})
		if err != nil {
			return nil, 0, err
		}
		e := cloudevent.New()
		e.SetID(m.ID)
		e.SetSource("//pubsub.googleapis.com/projects/" + project + "/topics/" + topic)
		e.SetType("google.cloud.pubsub.topic.v1.messagePublished")
		e.SetTime(m.PublishTime)
		if err := e.SetData("application/json", body); err != nil {
			return nil, 0, err
		}
		b := messageBytes(m.Data, m.Attributes, m.ID)
		total += b
		out = append(out, delivery{event: e, bytes: b, warm: m.Attributes["event_id"] == warmEventID})
	}
	return out, total, nil
}

// sortByEventID orders messages as they were sent (event IDs are time-ordered).
func sortByEventID(ms []*pubsub.Message) []*pubsub.Message {
	out := append([]*pubsub.Message(nil), ms...)
	slices.SortFunc(out, func(a, b *pubsub.Message) int {
		return strings.Compare(a.Attributes["event_id"], b.Attributes["event_id"])
	})
	return out
}

// deliver hands e to the processor until it is acked, as Pub/Sub
// redelivers, and reports how many attempts failed.
func deliver(ctx context.Context, handle func(context.Context, cloudevent.Event) error, e cloudevent.Event) (int, error) {
	var err error
	for i := range 10 {
		if err = handle(ctx, e); err == nil {
			return i, nil
		}
	}
	return 10, fmt.Errorf("cost: processor kept failing on %s: %w", e.ID(), err)
}

// cpuMeter measures the process's CPU time (user + system) over a phase,
// less what the process burns idle over the same wall time.
type cpuMeter struct {
	idlePerSec float64 // µs of CPU per second of wall time, idle
}

func newCPUMeter() *cpuMeter {
	m := &cpuMeter{}
	c0, t0 := rusage(), time.Now()
	time.Sleep(500 * time.Millisecond)
	m.idlePerSec = (rusage() - c0) / time.Since(t0).Seconds()
	return m
}

type cpuStart struct {
	cpu  float64
	wall time.Time
}

func (m *cpuMeter) start() cpuStart { return cpuStart{rusage(), time.Now()} }

// stop returns the CPU µs spent since s.
func (m *cpuMeter) stop(s cpuStart) float64 {
	used := rusage() - s.cpu - m.idlePerSec*time.Since(s.wall).Seconds()
	return max(used, 0)
}

func rusage() float64 {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e3
}

func alreadyExists(err error) bool { return status.Code(err) == codes.AlreadyExists }
