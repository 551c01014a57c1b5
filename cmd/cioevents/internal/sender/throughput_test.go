//go:build unix

package sender_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"cloud.google.com/go/pubsub/v2"
	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"

	"github.com/cioevents/cioevents/cmd/cioevents/internal/sender"
	"github.com/cioevents/cioevents/internal/testsupport/emulator"
	"github.com/cioevents/cioevents/shared/logging"
	"github.com/cioevents/cioevents/shared/publish"
	"github.com/cioevents/cioevents/shared/signature"
	"github.com/cioevents/cioevents/shared/webhook"
)

// project names the emulator project the benchmark publishes in.
const project = "cioevents-throughput-bench"

// The benchmark publishes through the Pub/Sub emulator.
func TestMain(m *testing.M) { emulator.Main(m, emulator.PubSub) }

// BenchmarkReceiverVsNull measures the receiver against a null receiver in
// one run: the same net/http server, the same Pub/Sub publisher (on the
// emulator) and the same load from `send`'s sender (32 workers, the 1.2 KB
// email.sent body, fresh event_ids), with runs interleaved so both see the
// same machine. The null receiver reads the body and publishes it, checking
// and logging nothing; the receiver logs its info line to a file, as it
// writes one to stdout when deployed. The figure that matters is the ratio.
//
//	go test -run '^$' -bench ReceiverVsNull -benchtime 1x ./cmd/cioevents/internal/sender
//
// THROUGHPUT_N (requests per run, default 5000) and THROUGHPUT_ROUNDS
// (default 8) size it: short runs, many times over, let both variants see
// the same neighbours on a shared machine.
func BenchmarkReceiverVsNull(b *testing.B) {
	n, rounds := envInt(b, "THROUGHPUT_N", 5000), envInt(b, "THROUGHPUT_ROUNDS", 8)
	const keyText = "cio-test-signing-key"
	topic := benchTopic(b)
	ctx := context.Background()
	pub, err := publish.NewPubSub(ctx, project, topic, 3*time.Second)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { pub.Close() })
	logFile, err := os.Create(filepath.Join(b.TempDir(), "receiver.log"))
	if err != nil {
		b.Fatal(err)
	}
	defer logFile.Close()
	recv, err := webhook.New(webhook.Options{
		Verifier:     &signature.Verifier{Keys: [][]byte{[]byte("old-key"), []byte(keyText)}},
		Publisher:    pub,
		MaxBodyBytes: 9 << 20, PublishTimeout: 3 * time.Second,
		Logger: logging.New(logFile, "info"), Project: project,
	})
	if err != nil {
		b.Fatal(err)
	}
	quiet, err := webhook.New(webhook.Options{
		Verifier:     &signature.Verifier{Keys: [][]byte{[]byte("old-key"), []byte(keyText)}},
		Publisher:    pub,
		MaxBodyBytes: 9 << 20, PublishTimeout: 3 * time.Second,
		Logger: logging.New(io.Discard, "info"), Project: project,
	})
	if err != nil {
		b.Fatal(err)
	}
	// Two diagnostic variants say where a gap comes from: the receiver
	// with its log line formatted but not written, and the null receiver
	// publishing attributes like the receiver's.
	servers := map[string]*httptest.Server{
		"receiver":       httptest.NewServer(recv),
		"null":           httptest.NewServer(nullReceiver(pub, 9<<20, 3*time.Second, false)),
		"receiver-nolog": httptest.NewServer(quiet),
		"null+attrs":     httptest.NewServer(nullReceiver(pub, 9<<20, 3*time.Second, true)),
	}
	for _, s := range servers {
		defer s.Close()
	}
	run := func(name string, n int) *sender.Report {
		rep, err := sender.Run(ctx, sender.Options{URL: servers[name].URL, Key: []byte(keyText),
			Events: []string{"email.sent"}, N: n, Concurrency: 32, Fixtures: os.DirFS("../../testdata")})
		if err != nil {
			b.Fatal(err)
		}
		if !rep.OK() {
			b.Fatalf("%s: not every request was accepted: %v %v", name, rep.Status, rep.Errors)
		}
		return rep
	}
	for b.Loop() {
		// Warm both: connections, the publisher's streams, the JIT of the
		// emulator.
		names := []string{"receiver", "null", "receiver-nolog", "null+attrs"}
		for _, name := range names {
			run(name, n/4)
		}
		total := map[string]float64{}
		// CPU of this process (sender, server, publisher client) per
		// request: unlike the rates, it hardly depends on the neighbours.
		// The emulator's own CPU is not in it.
		cpuTotal := map[string]time.Duration{}
		var lines []string
		var ratios []float64
		for round := range rounds {
			order := slices.Clone(names)
			if round%2 == 1 {
				slices.Reverse(order)
			}
			line := fmt.Sprintf("round %d:", round+1)
			rate := map[string]float64{}
			for _, name := range order {
				cpu := processCPU()
				rep := run(name, n)
				perReq := (processCPU() - cpu) / time.Duration(n)
				cpuTotal[name] += perReq
				rate[name] = rep.RequestsPerSecond()
				total[name] += rate[name]
				line += fmt.Sprintf("  %s %.0f/s p50 %v p99 %v cpu %v;", name, rate[name],
					rep.P50.Round(10*time.Microsecond), rep.P99.Round(100*time.Microsecond), perReq.Round(time.Microsecond))
			}
			ratios = append(ratios, rate["receiver"]/rate["null"])
			lines = append(lines, line+fmt.Sprintf("  ratio %.2f", rate["receiver"]/rate["null"]))
		}
		// Benchmark logs keep only their first lines: one per round.
		b.Log("\n" + strings.Join(lines, "\n"))
		slices.Sort(ratios)
		b.ReportMetric(ratios[len(ratios)/2], "median-ratio")
		b.ReportMetric(total["receiver"]/float64(rounds), "receiver-req/s")
		b.ReportMetric(total["null"]/float64(rounds), "null-req/s")
		b.ReportMetric(total["receiver"]/total["null"], "ratio")
		for _, name := range names {
			b.ReportMetric(float64(cpuTotal[name].Microseconds())/float64(rounds), name+"-cpu-µs/req")
		}
		b.ReportMetric(total["receiver-nolog"]/float64(rounds), "receiver-nolog-req/s")
		b.ReportMetric(total["null+attrs"]/float64(rounds), "null+attrs-req/s")
	}
}

// nullReceiver is the floor under the receiver: read the body, publish it,
// answer 200; no signature, no parse, no log. With attrs it publishes six
// attributes of the sizes the receiver sets.
func nullReceiver(p publish.Publisher, maxBody int64, timeout time.Duration, attrs bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, maxBody))
		if err != nil {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), timeout)
		defer cancel()
		var a map[string]string
		if attrs {
			a = map[string]string{webhook.AttrEventID: "01KDVF77VRCFWM0YBW1PSSP579", webhook.AttrObjectType: "email",
				webhook.AttrMetric: "sent", webhook.AttrSignedAt: "1767227236", webhook.AttrKeyIndex: "1",
				webhook.AttrReceivedAt: time.Now().UTC().Format(time.RFC3339Nano)}
		}
		if _, err := p.Publish(ctx, body, a); err != nil {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusOK)
	})
}

// benchTopic makes a topic without subscriptions, so the emulator keeps
// nothing that is published to it.
func benchTopic(b *testing.B) string {
	ctx := context.Background()
	c, err := pubsub.NewClient(ctx, project)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	topic := fmt.Sprintf("bench-%d", time.Now().UnixNano())
	tn := "projects/" + project + "/topics/" + topic
	if _, err := c.TopicAdminClient.CreateTopic(ctx, &pubsubpb.Topic{Name: tn}); err != nil {
		b.Fatal(err)
	}
	return topic
}

// processCPU is the user and system CPU time this process has used.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func envInt(b *testing.B, name string, def int) int {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	var n int
	if _, err := fmt.Sscan(v, &n); err != nil || n <= 0 {
		b.Fatalf("%s=%q: want a positive integer", name, v)
	}
	return n
}
