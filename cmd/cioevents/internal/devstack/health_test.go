package devstack_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/cioevents/cioevents/cmd/cioevents/internal/devstack"
	"github.com/cioevents/cioevents/shared/signature"
)

// TestHealthCountsWhatThePipelineLogs runs the dev stack on its local
// stand-ins (pstest, memory ledger, NDJSON files, dry run) and checks the
// health line against what was sent.
func TestHealthCountsWhatThePipelineLogs(t *testing.T) {
	key := []byte("health-test-key")
	s, err := devstack.Start(context.Background(), devstack.Options{
		Addr:    "127.0.0.1:0",
		DataDir: t.TempDir(),
		Keys:    [][]byte{key},
		Getenv:  func(string) string { return "" }, // no emulators, no Track credentials
	})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()

	body := []byte(`{"event_id":"ev-health-1","object_type":"email","metric":"bounced","timestamp":1767225600,` +
		`"data":{"customer_id":"42","identifiers":{"id":"42"},"recipient":"ada@example.com","failure_message":"550"}}`)
	post := func(k []byte) int {
		req, err := signature.NewRequest(context.Background(), s.URL, k, time.Now(), body)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	for i, want := range []int{200, 200, 401} {
		k := key
		if want == 401 {
			k = []byte("wrong-key")
		}
		if got := post(k); got != want {
			t.Fatalf("request %d: status %d, want %d", i, got, want)
		}
	}
	// Both accepted copies reach the processor; wait for it (no deadline but
	// the test's own: a busy machine may be slow, never wrong).
	var sum devstack.Summary
	for sum = s.Health.Summary(); sum.Processed+sum.Duplicates < 2; sum = s.Health.Summary() {
		time.Sleep(10 * time.Millisecond)
	}
	// The second copy may arrive while the first holds the event (busy,
	// retried once), so Retries is 0 or 1.
	want := devstack.Summary{Accepted: 2, Unauthorized: 1, Processed: 1, Duplicates: 1, ActionsOK: 1,
		Retries: min(sum.Retries, 1), LagP50: sum.LagP50, LagMax: sum.LagMax}
	if sum != want {
		t.Errorf("summary = %+v, want %+v", sum, want)
	}
	if sum.LagMax < sum.LagP50 || sum.LagP50 < 0 {
		t.Errorf("lag p50 %s, max %s", sum.LagP50, sum.LagMax)
	}
	line := sum.String()
	for _, w := range []string{"accepted 2", "refused 1 (401)", "processed 1", "duplicate 1", "actions 1 ok", "lag p50"} {
		if !strings.Contains(line, w) {
			t.Errorf("health line %q lacks %q", line, w)
		}
	}
}
