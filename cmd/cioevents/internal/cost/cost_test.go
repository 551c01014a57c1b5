package cost

import (
	"bytes"
	"context"
	"math"
	"os"
	"runtime/pprof"
	"strings"
	"testing"

	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"google.golang.org/grpc"
)

func TestPubSubCounterMinimum(t *testing.T) {
	c := &pubsubCounter{}
	invoke := func(_ context.Context, _ string, _, reply any, _ *grpc.ClientConn, _ ...grpc.CallOption) error {
		reply.(*pubsubpb.PublishResponse).MessageIds = []string{"12345", "67890"}
		return nil
	}
	small := &pubsubpb.PublishRequest{Messages: []*pubsubpb.PubsubMessage{{Data: []byte("abc"), Attributes: map[string]string{"k": "vv"}}}}
	_ = c.unary(context.Background(), "publish", small, &pubsubpb.PublishResponse{}, nil, invoke)
	// 3 data + 3 attribute + 20 timestamp + 5 ID = 31 bytes, billed 1,000.
	if c.bytes.Load() != 31 || c.billable.Load() != 1000 {
		t.Errorf("one small message: %d bytes, %d billed; want 31, 1000", c.bytes.Load(), c.billable.Load())
	}
	big := &pubsubpb.PublishRequest{Messages: []*pubsubpb.PubsubMessage{{Data: make([]byte, 700)}, {Data: make([]byte, 700)}}}
	_ = c.unary(context.Background(), "publish", big, &pubsubpb.PublishResponse{}, nil, invoke)
	// Two messages in one request: 2 × (700 + 20 + 5), above the minimum.
	if got := c.billable.Load() - 1000; got != 1450 {
		t.Errorf("two messages in one request billed %d, want 1450", got)
	}
	if c.requests.Load() != 2 || c.messages.Load() != 3 {
		t.Errorf("%d requests, %d messages; want 2, 3", c.requests.Load(), c.messages.Load())
	}
}

// settings8 is a deployment whose arithmetic is easy to follow by hand
// (processor concurrency 8, 512 MiB), whatever the defaults become.
var settings8 = Settings{FirestoreLocation: MultiRegion, ReceiverConcurrency: 12, ProcessorConcurrency: 8,
	ReceiverMemoryMiB: 512, ProcessorMemoryMiB: 512, ReceiverVCPU: 1, ProcessorVCPU: 1}

func TestEstimateArithmetic(t *testing.T) {
	// The hand-typed model this package replaced: three writes, one read
	// and one TTL delete per event cost $5.40, $0.60 and $0.20 in nam5.
	m := Measurement{FirestoreWrites: 3, FirestoreReads: 1, FirestoreDeletes: 1,
		PublishBillable: 1000, DeliveryBillable: 1000, BigQueryBillable: 3000,
		Receiver:  Function{LogBytes: 1 << 10, CPUMicros: 50_000, PublishCalls: 1},
		Processor: Function{LogBytes: 1 << 10, CPUMicros: 150_000, FirestoreCalls: 4}}
	lines, err := Estimate(m, ListPrices, AssumedLatencies, settings8)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]float64{
		"Function requests":       0.80,
		"Receiver instance time":  1.2 + 0.0625, // CPU-bound: 50,000 vCPU-s and 25,000 GiB-s
		"Processor instance time": 3.6 + 0.1875,
		"Firestore writes":        5.40,
		"Firestore reads":         0.60,
		"Firestore TTL deletes":   0.20,
		// 150,000 processor instance-s re-read the tombstones once a
		// minute: 2,500 reads.
		"Firestore tombstone refresh": 2500.0 / 100e3 * 0.06,
		"Pub/Sub throughput":          2e9 / (1 << 40) * 40,
		"BigQuery streaming inserts":  0.15,
		"Cloud Logging":               2e6 * 1024 / (1 << 30) * 0.5,
	}
	for _, l := range lines {
		if w, ok := want[l.Item]; !ok || math.Abs(l.USD-w) > 1e-9 {
			t.Errorf("%s: $%.6f, want $%.6f", l.Item, l.USD, w)
		}
		delete(want, l.Item)
	}
	for item := range want {
		t.Errorf("no line for %s", item)
	}
	reg := settings8
	reg.FirestoreLocation = Regional
	regional, _ := Estimate(m, ListPrices, AssumedLatencies, reg)
	if d := Total(lines) - Total(regional); math.Abs(d-3.1-0.00075) > 1e-9 {
		t.Errorf("regional Firestore saves $%.4f, want half of $6.2015", d)
	}
	if _, err := Estimate(m, ListPrices, AssumedLatencies, Settings{FirestoreLocation: "mars"}); err == nil {
		t.Error("an unpriced location was estimated")
	}
}

func TestInstanceTimeIsTheWaitWhenCallsDominate(t *testing.T) {
	// 4 Firestore calls (60 ms) + 1 BigQuery (40 ms) shared by 8 requests:
	// 12.5 ms per event, more than 1 ms of CPU.
	m := Measurement{Processor: Function{CPUMicros: 1000, FirestoreCalls: 4, BigQueryCalls: 1}}
	lines, _ := Estimate(m, ListPrices, AssumedLatencies, settings8)
	for _, l := range lines {
		if l.Item == "Processor instance time" {
			want := 12.5 / 1000 * 1e6 * (ListPrices.VCPUSecond + 0.5*ListPrices.GiBSecond)
			if math.Abs(l.USD-want) > 1e-9 || !strings.Contains(l.Arithmetic, "÷ concurrency 8") {
				t.Errorf("%s = $%.4f (%s), want $%.4f", l.Item, l.USD, l.Arithmetic, want)
			}
		}
	}
}

func TestLabelledCPU(t *testing.T) {
	var buf bytes.Buffer
	if err := pprof.StartCPUProfile(&buf); err != nil {
		t.Skipf("a CPU profile is already running (go test -cpuprofile): %v", err)
	}
	// Burn CPU under the label until the profile must hold samples of it:
	// 300 ms of this goroutine's CPU time, however long that takes.
	start := rusage()
	pprof.Do(context.Background(), pprof.Labels(labelKey, labelFake), func(context.Context) {
		x := 0
		for rusage()-start < 300_000 {
			for i := range 100_000 {
				x += i
			}
		}
		_ = x
	})
	pprof.StopCPUProfile()
	fake, total, err := labelledCPU(buf.Bytes(), labelKey, labelFake)
	if err != nil {
		t.Fatal(err)
	}
	if fake <= 0 || fake > total {
		t.Errorf("labelled %.0f µs of %.0f µs", fake, total)
	}
	if other, _, _ := labelledCPU(buf.Bytes(), labelKey, "other"); other != 0 {
		t.Errorf("%.0f µs under a label no goroutine had", other)
	}
}

func TestEventsRepeatTheMixEvery100(t *testing.T) {
	o := Options{Events: 300, Seed: 1, Fixtures: os.DirFS("../../../..")}
	a, err := events(o)
	if err != nil {
		t.Fatal(err)
	}
	counts := make([]map[string]int, 3)
	ids := map[string]bool{}
	for i, b := range a {
		if counts[i/100] == nil {
			counts[i/100] = map[string]int{}
		}
		s := string(b)
		for _, sh := range Mix {
			kind := strings.TrimSuffix(sh.Fixture, ".json")
			parts := strings.SplitN(kind, ".", 2)
			if strings.Contains(s, `"object_type":"`+parts[0]+`"`) && strings.Contains(s, `"metric":"`+parts[1]+`"`) {
				counts[i/100][sh.Fixture]++
			}
		}
		id := s[strings.Index(s, `"event_id":"`)+12:][:26]
		if ids[id] {
			t.Fatalf("event ID %s repeated", id)
		}
		ids[id] = true
	}
	for blk, c := range counts {
		for _, sh := range Mix {
			if c[sh.Fixture] != sh.Per100 {
				t.Errorf("block %d: %d of %s, want %d", blk, c[sh.Fixture], sh.Fixture, sh.Per100)
			}
		}
	}
	if _, err := events(Options{Events: 150, Fixtures: o.Fixtures}); err == nil {
		t.Error("150 events accepted; the mix needs multiples of 100")
	}
}

// The probe's monthly cost: run-proportional items scale with the number
// of runs, the fixed ones (the Scheduler job, the alert's conditions) do not.
func TestProbeMonthlyScalesWithRuns(t *testing.T) {
	m := Measurement{Events: 100, FirestoreWrites: 3, FirestoreReads: 1, FirestoreDeletes: 1, BigQueryRows: 1, BigQueryBillable: 1024}
	m.Receiver.CPUMicros, m.Processor.CPUMicros = 100, 300
	at15, err := ProbeMonthly(m, 15, AssumedProbeRun, ProbeListPrices)
	if err != nil {
		t.Fatal(err)
	}
	at5, err := ProbeMonthly(m, 5, AssumedProbeRun, ProbeListPrices)
	if err != nil {
		t.Fatal(err)
	}
	fixed := map[string]bool{"Cloud Scheduler": true, "Alert policy": true}
	for i := range at15 {
		want := at15[i].USD * 3
		if fixed[at15[i].Item] {
			want = at15[i].USD
		}
		if math.Abs(at5[i].USD-want) > 1e-9 {
			t.Errorf("%s: $%.4f every 5 min, want $%.4f", at15[i].Item, at5[i].USD, want)
		}
	}
	// 2,920 runs of 20 s at 1 vCPU and 0.5 GiB.
	if got, want := at15[0].USD, 2920*20*(0.000018+0.5*0.000002); math.Abs(got-want) > 1e-9 {
		t.Errorf("Cloud Run job: $%.4f, want $%.4f", got, want)
	}
}
