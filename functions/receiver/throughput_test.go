package receiver

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/pubsub/v2"
	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"

	"github.com/cioevents/cioevents/shared/logging"
	"github.com/cioevents/cioevents/shared/publish"
	"github.com/cioevents/cioevents/shared/sender"
	"github.com/cioevents/cioevents/shared/signature"
	"github.com/cioevents/cioevents/shared/webhook"
)

// BenchmarkReceiverVsNull measures the receiver against a null receiver in
// one run: the same net/http server, the same Pub/Sub publisher (on the
// emulator) and the same load from `send`'s sender (32 workers, the 1.2 KB
// email.sent body, fresh event_ids), with runs interleaved so both see the
// same machine. The null receiver reads the body and publishes it, checking
// and logging nothing; the receiver logs its info line to a file, as it
// writes one to stdout when deployed. The figure that matters is the ratio.
//
//	go test -run '^$' -bench ReceiverVsNull -benchtime 1x ./functions/receiver
//
// THROUGHPUT_N (requests per run, default 20000) and THROUGHPUT_ROUNDS
// (default 3) size it.
func BenchmarkReceiverVsNull(b *testing.B) {
	n, rounds := envInt(b, "THROUGHPUT_N", 20000), envInt(b, "THROUGHPUT_ROUNDS", 3)
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
	servers := map[string]*httptest.Server{
		"receiver": httptest.NewServer(recv),
		"null":     httptest.NewServer(nullReceiver(pub, 9<<20, 3*time.Second)),
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
		run("receiver", n/4)
		run("null", n/4)
		total := map[string]float64{}
		var lines []string
		for round := range rounds {
			order := []string{"receiver", "null"}
			if round%2 == 1 {
				order = []string{"null", "receiver"}
			}
			for _, name := range order {
				rep := run(name, n)
				total[name] += rep.RequestsPerSecond()
				lines = append(lines, fmt.Sprintf("round %d %-8s %7.0f req/s  p50 %v  p99 %v", round+1, name,
					rep.RequestsPerSecond(), rep.P50, rep.P99))
			}
		}
		b.Log("\n" + strings.Join(lines, "\n"))
		b.ReportMetric(total["receiver"]/float64(rounds), "receiver-req/s")
		b.ReportMetric(total["null"]/float64(rounds), "null-req/s")
		b.ReportMetric(total["receiver"]/total["null"], "ratio")
	}
}

// nullReceiver is the floor under the receiver: read the body, publish it,
// answer 200; no signature, no parse, no log.
func nullReceiver(p publish.Publisher, maxBody int64, timeout time.Duration) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, maxBody))
		if err != nil {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), timeout)
		defer cancel()
		if _, err := p.Publish(ctx, body, nil); err != nil {
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
	topic := fmt.Sprintf("bench-%d", seq.Add(1))
	tn := "projects/" + project + "/topics/" + topic
	if _, err := c.TopicAdminClient.CreateTopic(ctx, &pubsubpb.Topic{Name: tn}); err != nil {
		b.Fatal(err)
	}
	return topic
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
