package processor

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"cloud.google.com/go/bigquery"
	cloudevent "github.com/cloudevents/sdk-go/v2/event"
	"google.golang.org/api/option"

	"github.com/cioevents/cioevents/shared/config"
	"github.com/cioevents/cioevents/shared/warehouse"
	"github.com/cioevents/cioevents/shared/warehouse/bqfake"
)

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkProcessEvent delivers distinct email.delivered events through the
// processor as deployed (Handle: CloudEvent decode, Firestore ledger on the
// emulator, BigQuery client, one log line) one at a time, with 8 in flight
// (the former processor_concurrency) and with 80 (the present one). It
// reports one delivery's latency (lat-ms/event; ns/op is wall time per event
// across all of them), this process's CPU per event — what an instance
// spends; the emulator runs in its own process — and the peak heap.
// sink=bqfake counts the in-process BigQuery fake's CPU too (an upper
// bound); sink=file writes NDJSON instead of calling the BigQuery client (a
// lower bound). CIOEVENTS_BENCH_BODY_BYTES pads each event to about that
// size, to see what large events cost.
//
//	go test -run '^$' -bench ProcessEvent -benchtime 2000x ./functions/processor
func BenchmarkProcessEvent(b *testing.B) {
	body, err := os.ReadFile("../../testdata/events/email.delivered.json")
	if err != nil {
		b.Fatal(err)
	}
	var ev map[string]any
	if err := json.Unmarshal(body, &ev); err != nil {
		b.Fatal(err)
	}
	devnull, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		b.Fatal(err)
	}
	defer devnull.Close()
	big := os.Getenv("CIOEVENTS_BENCH_BODY_BYTES") // e.g. 1000000: pad data.content to about that size
	if n, _ := strconv.Atoi(big); n > 0 {
		data, _ := ev["data"].(map[string]any)
		if data == nil {
			data = map[string]any{}
			ev["data"] = data
		}
		data["content"] = strings.Repeat("<p>lorem ipsum dolor sit amet</p>", n/33)
	}
	for _, sink := range []string{"bqfake", "file"} {
		for _, par := range []int{1, 8, 80} {
			b.Run(fmt.Sprintf("sink=%s/inflight=%d", sink, par), func(b *testing.B) {
				env := map[string]string{
					config.EnvProject:    "cioevents-bench",
					config.EnvDryRun:     "true",
					config.EnvLedgerColl: fmt.Sprintf("bench_%d", time.Now().UnixNano()),
				}
				var o Overrides
				if sink == "file" {
					env[config.EnvWarehouseDir] = b.TempDir()
				} else {
					srv := bqfake.New(map[string]bigquery.Schema{
						"cioevents.events": warehouse.EventsSchema(), "cioevents.rejected_events": warehouse.RejectedSchema(),
					})
					defer srv.Close()
					o.BigQueryOptions = []option.ClientOption{option.WithEndpoint(srv.URL() + "/bigquery/v2/"), option.WithoutAuthentication()}
				}
				stdout := os.Stdout
				os.Stdout = devnull // the log lines: written, not shown
				defer func() { os.Stdout = stdout }()
				p, err := New(context.Background(), func(k string) string { return env[k] }, o)
				if err != nil {
					b.Fatal(err)
				}
				handle := Handle(p)
				var seq atomic.Int64
				deliver := func() time.Duration {
					n := seq.Add(1)
					m := map[string]any{}
					for k, v := range ev {
						m[k] = v
					}
					m["event_id"] = fmt.Sprintf("01JDQBENCH%016d", n)
					data, _ := json.Marshal(m)
					msg, _ := json.Marshal(map[string]any{"message": map[string]any{"data": data,
						"messageId": fmt.Sprint(n), "attributes": map[string]string{"object_type": "email", "metric": "delivered",
							"received_at": time.Now().Format(time.RFC3339Nano)}}})
					e := cloudevent.New()
					e.SetID(fmt.Sprint(n))
					e.SetSource("//pubsub.googleapis.com/projects/cioevents-bench/topics/cioevents-events")
					e.SetType("google.cloud.pubsub.topic.v1.messagePublished")
					e.SetTime(time.Now())
					if err := e.SetData("application/json", msg); err != nil {
						b.Fatal(err)
					}
					start := time.Now()
					var err error
					for range 5 { // a cold emulator connection on a busy machine
						if err = handle(context.Background(), e); err == nil {
							break
						}
					}
					if err != nil {
						b.Error(err)
					}
					return time.Since(start)
				}
				deliver() // warm the connections
				var lat atomic.Int64
				runtime.GC()
				var peak atomic.Uint64
				stop := make(chan struct{})
				sampled := make(chan struct{})
				go func() { // peak live heap, sampled: what memory must hold with par events in flight
					defer close(sampled)
					var ms runtime.MemStats
					for {
						select {
						case <-stop:
							return
						case <-time.After(5 * time.Millisecond):
						}
						runtime.ReadMemStats(&ms)
						if ms.HeapAlloc > peak.Load() {
							peak.Store(ms.HeapAlloc)
						}
					}
				}()
				cpu0 := cpuTime()
				b.ResetTimer()
				b.SetParallelism(max(1, par/runtime.GOMAXPROCS(0))) // RunParallel starts this × GOMAXPROCS goroutines
				if par == 1 {
					for range b.N {
						lat.Add(int64(deliver()))
					}
				} else {
					b.RunParallel(func(pb *testing.PB) {
						for pb.Next() {
							lat.Add(int64(deliver()))
						}
					})
				}
				b.StopTimer()
				cpu := cpuTime() - cpu0
				close(stop)
				<-sampled
				b.ReportMetric(float64(peak.Load())/(1<<20), "peak-heap-MiB")
				b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "cpu-µs/event")
				b.ReportMetric(float64(lat.Load())/1e6/float64(b.N), "lat-ms/event")
			})
		}
	}
}
