package cost

import (
	"fmt"
	"io"
	"math"
	"strings"

	"github.com/cioevents/cioevents/shared/tombstone"
)

// Measurement is what one run counted, per event (averages over Events).
type Measurement struct {
	Date   string `json:"date"`
	Events int    `json:"events"`
	Seed   uint64 `json:"seed"`
	// Retries are requests and deliveries that had to be repeated (a
	// timeout on a loaded machine); they add operations, so a run with
	// retries is noisier.
	Retries int `json:"retries"`

	Receiver  Function `json:"receiver"`
	Processor Function `json:"processor"`

	FirestoreReads   float64 `json:"firestore_reads"`
	FirestoreWrites  float64 `json:"firestore_writes"`
	FirestoreDeletes float64 `json:"firestore_ttl_deletes"`

	PublishRequests  float64 `json:"pubsub_publish_requests"`
	PublishBytes     float64 `json:"pubsub_publish_bytes"`
	PublishBillable  float64 `json:"pubsub_publish_billable_bytes"`
	DeliveredBytes   float64 `json:"pubsub_delivered_bytes"`
	DeliveryBillable float64 `json:"pubsub_delivered_billable_bytes"`

	BigQueryRows     float64 `json:"bigquery_rows"`
	BigQueryBytes    float64 `json:"bigquery_bytes"`
	BigQueryBillable float64 `json:"bigquery_billable_bytes"`

	TrackCalls float64 `json:"track_calls"`

	// FakesCPUMicros is the CPU time per event of the in-process BigQuery
	// and Track fakes, taken out of the processor's.
	FakesCPUMicros float64 `json:"fakes_cpu_us"`
}

// Function is one function's share, per event.
type Function struct {
	LogBytes float64 `json:"log_bytes"`
	LogLines float64 `json:"log_lines"`
	// CPUMicros is process CPU time (user + system) per event, idle
	// baseline and in-process fakes subtracted. Noisy: it depends on the
	// machine and its load.
	CPUMicros float64 `json:"cpu_us"`
	// Calls are the remote calls one event waits for, by service.
	FirestoreCalls float64 `json:"firestore_calls"`
	PublishCalls   float64 `json:"publish_calls"`
	BigQueryCalls  float64 `json:"bigquery_calls"`
	TrackCalls     float64 `json:"track_calls"`
}

// waitMS is the time one event spends waiting on remote calls, by l.
func (f Function) waitMS(l Latencies) float64 {
	return f.FirestoreCalls*l.FirestoreMS + f.PublishCalls*l.PublishMS + f.BigQueryCalls*l.BigQueryMS +
		f.TrackCalls*l.TrackMS
}

// Line is one item of the estimate, in USD per million events.
type Line struct {
	Item       string
	Arithmetic string
	USD        float64
}

// Estimate turns m into dollars per million events at prices p and
// latencies l for the deployment s.
func Estimate(m Measurement, p Prices, l Latencies, s Settings) ([]Line, error) {
	fp, ok := p.Firestore[s.FirestoreLocation]
	if !ok {
		return nil, fmt.Errorf("cost: no Firestore prices for %q", s.FirestoreLocation)
	}
	const million = 1e6
	var lines []Line
	add := func(item, arith string, usd float64) { lines = append(lines, Line{item, arith, usd}) }

	var procInstMS float64
	add("Function requests", fmt.Sprintf("2 requests × $%.2f/M", p.RequestPerMillion), 2*p.RequestPerMillion)
	for _, fn := range []struct {
		name        string
		f           Function
		concurrency int
		memMiB      int
		vcpu        float64
	}{
		{"Receiver", m.Receiver, s.ReceiverConcurrency, s.ReceiverMemoryMiB, s.ReceiverVCPU},
		{"Processor", m.Processor, s.ProcessorConcurrency, s.ProcessorMemoryMiB, s.ProcessorVCPU},
	} {
		cpuMS := fn.f.CPUMicros / 1000 / fn.vcpu
		waitMS := fn.f.waitMS(l) / float64(fn.concurrency)
		instMS := math.Max(cpuMS, waitMS)
		why := "CPU-bound"
		if waitMS > cpuMS {
			why = fmt.Sprintf("waits %.0f ms ÷ concurrency %d", fn.f.waitMS(l), fn.concurrency)
		}
		if fn.name == "Processor" {
			procInstMS = instMS
		}
		sec := instMS / 1000 * million
		usd := sec*fn.vcpu*p.VCPUSecond + sec*float64(fn.memMiB)/1024*p.GiBSecond
		add(fn.name+" instance time",
			fmt.Sprintf("%.2f ms/event (%s; CPU %.2f ms) × (%g vCPU, %d MiB)", instMS, why, cpuMS, fn.vcpu, fn.memMiB), usd)
	}
	add("Firestore writes", fmt.Sprintf("%.2f/event × $%.3f/100k", m.FirestoreWrites, fp.Write), m.FirestoreWrites*10*fp.Write)
	add("Firestore reads", fmt.Sprintf("%.2f/event × $%.3f/100k", m.FirestoreReads, fp.Read), m.FirestoreReads*10*fp.Read)
	// Each processor instance re-reads the tombstones created since its
	// last read once per refresh interval: a single document read when
	// none are new, counted over the instance time a million events take
	// (instances kept idle by min_instances add as many per idle minute).
	refreshes := procInstMS / 1000 * million / tombstone.DefaultRefresh.Seconds()
	add("Firestore tombstone refresh", fmt.Sprintf("%.0f processor instance-s ÷ %v × 1 read × $%.3f/100k",
		procInstMS/1000*million, tombstone.DefaultRefresh, fp.Read), refreshes/100e3*fp.Read)
	add("Firestore TTL deletes", fmt.Sprintf("%.2f/event × $%.3f/100k", m.FirestoreDeletes, fp.Delete), m.FirestoreDeletes*10*fp.Delete)
	ps := (m.PublishBillable + m.DeliveryBillable) * million / (1 << 40) * p.PubSubPerTiB
	add("Pub/Sub throughput", fmt.Sprintf("(%.0f B publish + %.0f B push, billed) × $%g/TiB", m.PublishBillable, m.DeliveryBillable, p.PubSubPerTiB), ps)
	add("BigQuery streaming inserts", fmt.Sprintf("%.0f B/event billed (%.2f rows, ≥ 1 KB each) × $%.2f/200 MB",
		m.BigQueryBillable, m.BigQueryRows, p.StreamingPer200MB), m.BigQueryBillable*million/200e6*p.StreamingPer200MB)
	logB := m.Receiver.LogBytes + m.Processor.LogBytes
	add("Cloud Logging", fmt.Sprintf("(%.0f B receiver + %.0f B processor)/event × $%.2f/GiB",
		m.Receiver.LogBytes, m.Processor.LogBytes, p.LoggingPerGiB), logB*million/(1<<30)*p.LoggingPerGiB)
	return lines, nil
}

// Total sums lines.
func Total(lines []Line) float64 {
	var t float64
	for _, l := range lines {
		t += l.USD
	}
	return t
}

// WriteOperations prints the per-event counts of m as a Markdown table.
func WriteOperations(w io.Writer, m Measurement) {
	fmt.Fprintf(w, "| per event | receiver | processor |\n|---|---|---|\n")
	row := func(name, r, p string) { fmt.Fprintf(w, "| %s | %s | %s |\n", name, r, p) }
	row("Firestore reads / writes / TTL deletes", "—", fmt.Sprintf("%.2f / %.2f / %.2f", m.FirestoreReads, m.FirestoreWrites, m.FirestoreDeletes))
	row("Pub/Sub bytes (billed, 1,000 B minimum per request)", fmt.Sprintf("%.0f published (%.0f), %.2f requests", m.PublishBytes, m.PublishBillable, m.PublishRequests),
		fmt.Sprintf("%.0f pushed (%.0f)", m.DeliveredBytes, m.DeliveryBillable))
	row("BigQuery rows, bytes (billed, 1 KB minimum per row)", "—", fmt.Sprintf("%.2f, %.0f (%.0f)", m.BigQueryRows, m.BigQueryBytes, m.BigQueryBillable))
	row("Track API calls", "—", fmt.Sprintf("%.2f", m.TrackCalls))
	row("Log bytes (lines)", fmt.Sprintf("%.0f (%.2f)", m.Receiver.LogBytes, m.Receiver.LogLines), fmt.Sprintf("%.0f (%.2f)", m.Processor.LogBytes, m.Processor.LogLines))
	row("Remote calls waited for", fmt.Sprintf("%.2f publish", m.Receiver.PublishCalls),
		fmt.Sprintf("%.2f Firestore, %.2f BigQuery, %.2f Track", m.Processor.FirestoreCalls, m.Processor.BigQueryCalls, m.Processor.TrackCalls))
	row("CPU time (noisy)", fmt.Sprintf("%.0f µs", m.Receiver.CPUMicros),
		fmt.Sprintf("%.0f µs (the in-process fakes' %.0f µs taken out)", m.Processor.CPUMicros, m.FakesCPUMicros))
}

// WriteEstimate prints lines as a Markdown table with their total.
func WriteEstimate(w io.Writer, lines []Line) {
	fmt.Fprintf(w, "| item | arithmetic per event | USD per 1M events |\n|---|---|---|\n")
	for _, l := range lines {
		fmt.Fprintf(w, "| %s | %s | %.2f |\n", l.Item, strings.ReplaceAll(l.Arithmetic, "|", "\\|"), l.USD)
	}
	fmt.Fprintf(w, "| **Total** | | **%.2f** |\n", Total(lines))
}
