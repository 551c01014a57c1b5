package receiver

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"cloud.google.com/go/pubsub/v2"
	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"

	"github.com/cioevents/cioevents/shared/signature"
)

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkReceive sends signed 1 KB-class events through the receiver as
// deployed (New: verify, parse, publish to the Pub/Sub emulator, one log
// line), without the HTTP server, one at a time and with 12 in flight
// (receiver_concurrency). cpu-µs/req is this process's CPU per request —
// what an instance spends; the emulator runs in its own process.
//
//	go test -run '^$' -bench Receive -benchtime 5000x ./functions/receiver
func BenchmarkReceive(b *testing.B) {
	ctx := context.Background()
	c, err := pubsub.NewClient(ctx, project)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	body, err := os.ReadFile("../../testdata/events/email.delivered.json")
	if err != nil {
		b.Fatal(err)
	}
	for _, par := range []int{1, 12} {
		b.Run(fmt.Sprintf("inflight=%d", par), func(b *testing.B) {
			topic := fmt.Sprintf("bench-%d", seq.Add(1))
			if _, err := c.TopicAdminClient.CreateTopic(ctx, &pubsubpb.Topic{Name: "projects/" + project + "/topics/" + topic}); err != nil {
				b.Fatal(err)
			}
			devnull, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
			if err != nil {
				b.Fatal(err)
			}
			defer devnull.Close()
			stdout := os.Stdout
			os.Stdout = devnull // the log lines: written, not shown
			defer func() { os.Stdout = stdout }()
			h, err := New(ctx, env(topic, "LOG_LEVEL", "info"))
			if err != nil {
				b.Fatal(err)
			}
			send := func() time.Duration {
				ts, sig := signature.Headers([]byte("cio-test-signing-key"), time.Now(), body)
				r := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(body))
				r.Header.Set(signature.HeaderTimestamp, ts)
				r.Header.Set(signature.HeaderSignature, sig)
				w := httptest.NewRecorder()
				start := time.Now()
				h.ServeHTTP(w, r)
				if w.Code != http.StatusOK {
					b.Errorf("status %d", w.Code)
				}
				return time.Since(start)
			}
			send()
			var lat atomic.Int64
			cpu0 := cpuTime()
			b.ResetTimer()
			if par == 1 {
				for range b.N {
					lat.Add(int64(send()))
				}
			} else {
				b.SetParallelism(max(1, par/runtime.GOMAXPROCS(0)))
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						lat.Add(int64(send()))
					}
				})
			}
			b.StopTimer()
			b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/float64(b.N), "cpu-µs/req")
			b.ReportMetric(float64(lat.Load())/1e6/float64(b.N), "lat-ms/req")
		})
	}
}
