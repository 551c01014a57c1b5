package sender_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cioevents/cioevents/cmd/cioevents/internal/sender"
)

var (
	fixtures = os.DirFS("../../../../testdata")
	key      = []byte("cio-test-signing-key")
	fixedNow = time.Unix(1767225660, 0)
)

// receiver is a stand-in webhook endpoint that checks every request the way
// Customer.io's contract says a receiver must, with its own HMAC code rather
// than the signature package, and records what it accepted.
type receiver struct {
	t      *testing.T
	status func(body []byte) int // nil: 200 for every authentic request

	mu         sync.Mutex
	bodies     [][]byte
	timestamps map[string]int
	inflight   int
	maxFlight  int
	// With gateAt > 0, requests wait until gateAt of them are in flight, then
	// all proceed: it proves that many ran at once.
	gateAt   int
	gate     chan struct{}
	gateOnce sync.Once
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		rc.t.Errorf("read body: %v", err)
		return
	}
	rc.mu.Lock()
	rc.inflight++
	rc.maxFlight = max(rc.maxFlight, rc.inflight)
	open := rc.gateAt > 0 && rc.inflight >= rc.gateAt
	rc.mu.Unlock()
	defer func() {
		rc.mu.Lock()
		rc.inflight--
		rc.mu.Unlock()
	}()
	if rc.gateAt > 0 {
		if open {
			rc.gateOnce.Do(func() { close(rc.gate) })
		}
		select {
		case <-rc.gate:
		case <-r.Context().Done(): // the client gave up; do not hold the server
			return
		}
	}

	ts := r.Header.Get("X-CIO-Timestamp")
	mac := hmac.New(sha256.New, key)
	io.WriteString(mac, "v0:"+ts+":")
	mac.Write(body)
	want := hex.EncodeToString(mac.Sum(nil))
	switch {
	case r.Method != http.MethodPost:
		rc.t.Errorf("method %s", r.Method)
	case r.Header.Get("Content-Type") != "application/json":
		rc.t.Errorf("Content-Type %q", r.Header.Get("Content-Type"))
	case r.Header.Get("X-CIO-Signature") != want: // lowercase hex, exact
		rc.t.Errorf("signature %q, want %q", r.Header.Get("X-CIO-Signature"), want)
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	rc.mu.Lock()
	rc.bodies = append(rc.bodies, body)
	if rc.timestamps == nil {
		rc.timestamps = map[string]int{}
	}
	rc.timestamps[ts]++
	rc.mu.Unlock()
	code := http.StatusOK
	if rc.status != nil {
		code = rc.status(body)
	}
	w.WriteHeader(code)
	io.WriteString(w, `{"status":"accepted"}`)
}

func start(t *testing.T, rc *receiver) string {
	t.Helper()
	rc.t = t
	srv := httptest.NewServer(rc)
	t.Cleanup(srv.Close)
	return srv.URL
}

func opts(url string) sender.Options {
	return sender.Options{URL: url, Key: key, Fixtures: fixtures, Now: func() time.Time { return fixedNow }}
}

func readFixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := fs.ReadFile(fixtures, name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func eventID(body []byte) string {
	var v struct {
		EventID string `json:"event_id"`
	}
	if json.Unmarshal(body, &v) != nil {
		return ""
	}
	return v.EventID
}

func TestSendSelectedEvents(t *testing.T) {
	rc := &receiver{}
	o := opts(start(t, rc))
	o.Events = []string{"email.bounced", "push.delivered", "customer.unsubscribed"}
	rep, err := sender.Run(t.Context(), o)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Requests != 3 || rep.Status[200] != 3 || len(rep.Errors) != 0 || rep.Duplicates != 0 || !rep.OK() {
		t.Fatalf("report %+v", rep)
	}
	got := map[string]bool{}
	for _, b := range rc.bodies {
		got[string(b)] = true
	}
	for _, p := range o.Events {
		if !got[string(readFixture(t, "events/"+p+".json"))] {
			t.Errorf("%s was not sent byte for byte", p)
		}
	}
	// The timestamp header is the injected clock, in unix seconds.
	if rc.timestamps["1767225660"] != 3 {
		t.Errorf("timestamps %v, want 1767225660 on every request", rc.timestamps)
	}
}

func TestSignatureMatchesTestVector(t *testing.T) {
	// §1.4 vector 2: Example A signed at 1767225660 with cio-test-signing-key.
	var sig string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sig = r.Header.Get("X-CIO-Signature")
	}))
	defer srv.Close()
	o := opts(srv.URL)
	o.Events = []string{"email.bounced"}
	if _, err := sender.Run(t.Context(), o); err != nil {
		t.Fatal(err)
	}
	if want := "f8dab1ec8588ff181227c5789d5df5b3e42bf12fb815c12ae2be28ec117851fe"; sig != want {
		t.Errorf("X-CIO-Signature = %s, want %s", sig, want)
	}
}

func TestSendAllFolders(t *testing.T) {
	rc := &receiver{}
	o := opts(start(t, rc))
	o.All = true
	o.Concurrency = 4
	rep, err := sender.Run(t.Context(), o)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{} // body → file
	for _, dir := range []string{"events", "odd", "malformed"} {
		entries, err := fs.ReadDir(fixtures, dir)
		if err != nil {
			t.Fatal(err)
		}
		if len(entries) == 0 {
			t.Fatalf("no fixtures in %s", dir)
		}
		for _, e := range entries {
			want[string(readFixture(t, path.Join(dir, e.Name())))] = path.Join(dir, e.Name())
		}
	}
	// funnel/ holds one body per line.
	lines := bytes.Split(bytes.TrimSpace(readFixture(t, path.Join(sender.DirFunnel, "deliveries.ndjson"))), []byte("\n"))
	if len(lines) < 100 {
		t.Fatalf("%d funnel bodies, want the whole sample", len(lines))
	}
	for i, l := range lines {
		want[string(l)] = fmt.Sprintf("%s/deliveries.ndjson:%d", sender.DirFunnel, i+1)
	}
	if rep.Requests != len(want) || rep.Status[200] != len(want) {
		t.Errorf("sent %d (%v), want %d", rep.Requests, rep.Status, len(want))
	}
	for _, b := range rc.bodies {
		delete(want, string(b))
	}
	for _, f := range want {
		t.Errorf("%s was not sent", f)
	}
}

func TestDefaultSendsEveryPairOnce(t *testing.T) {
	rc := &receiver{}
	rep, err := sender.Run(t.Context(), opts(start(t, rc)))
	if err != nil {
		t.Fatal(err)
	}
	entries, err := fs.ReadDir(fixtures, "events")
	if err != nil {
		t.Fatal(err)
	}
	if rep.Requests != len(entries) || len(rc.bodies) != len(entries) {
		t.Errorf("sent %d, received %d, want %d (events/ only)", rep.Requests, len(rc.bodies), len(entries))
	}
}

func TestStatusAndErrorCounts(t *testing.T) {
	rc := &receiver{status: func(body []byte) int {
		switch {
		case bytes.Contains(body, []byte(`"object_type":"sms"`)):
			return http.StatusServiceUnavailable
		case bytes.Contains(body, []byte(`"object_type":"slack"`)):
			return http.StatusUnauthorized
		}
		return http.StatusOK
	}}
	o := opts(start(t, rc))
	o.Concurrency = 3
	rep, err := sender.Run(t.Context(), o)
	if err != nil {
		t.Fatal(err)
	}
	entries, _ := fs.ReadDir(fixtures, "events")
	count := func(prefix string) int {
		n := 0
		for _, e := range entries {
			if strings.HasPrefix(e.Name(), prefix+".") {
				n++
			}
		}
		return n
	}
	want := map[int]int{503: count("sms"), 401: count("slack")}
	want[200] = len(entries) - want[503] - want[401]
	if len(rep.Status) != 3 || rep.Status[200] != want[200] || rep.Status[503] != want[503] || rep.Status[401] != want[401] {
		t.Errorf("Status = %v, want %v", rep.Status, want)
	}
	if rep.OK() {
		t.Error("OK() with 401s and 503s")
	}
	var out bytes.Buffer
	rep.Print(&out)
	for _, s := range []string{"401×", "503×", "p50", "p99", "req/s"} {
		if !strings.Contains(out.String(), s) {
			t.Errorf("Print output lacks %q:\n%s", s, out.String())
		}
	}
}

func TestTransportErrorsAreCounted(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Drop the connection without an answer.
		conn, _, err := http.NewResponseController(w).Hijack()
		if err == nil {
			conn.Close()
		}
	}))
	defer srv.Close()
	o := opts(srv.URL)
	o.Events = []string{"email.opened"}
	o.N = 5
	rep, err := sender.Run(t.Context(), o)
	if err != nil {
		t.Fatal(err)
	}
	total := 0
	for _, n := range rep.Errors {
		total += n
	}
	if rep.Requests != 5 || total != 5 || len(rep.Status) != 0 || rep.OK() {
		t.Errorf("report %+v", rep)
	}
	var out bytes.Buffer
	rep.Print(&out)
	if !strings.Contains(out.String(), "error") {
		t.Errorf("Print output does not show the errors:\n%s", out.String())
	}
}

func TestCyclingGivesFreshEventIDs(t *testing.T) {
	rc := &receiver{}
	o := opts(start(t, rc))
	o.Events = []string{"email.bounced", "sms.sent", "in_app.clicked"}
	o.N = 8
	rep, err := sender.Run(t.Context(), o)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Requests != 8 || len(rc.bodies) != 8 || rep.Duplicates != 0 {
		t.Fatalf("report %+v, received %d", rep, len(rc.bodies))
	}
	ids := map[string]bool{}
	for _, b := range rc.bodies {
		id := eventID(b)
		if id == "" || ids[id] {
			t.Errorf("event_id %q empty or repeated without a duplicate rate", id)
		}
		ids[id] = true
	}
	// Later passes differ from the fixture only in the event_id and the
	// delivery_id: another occurrence, not a duplicate of the first.
	orig := readFixture(t, "events/email.bounced.json")
	second := bytes.Replace(orig, []byte(`"01JH6Z8Q3V4K2N7R9T5W1XAB3C"`), []byte(`"01JH6Z8Q3V4K2N7R9T5W1XAB3C-1"`), 1)
	second = bytes.Replace(second, []byte(`"delivery_id":"RPILAgUBcRhIBqSfeiIwdIYJKxTY"`), []byte(`"delivery_id":"RPILAgUBcRhIBqSfeiIwdIYJKxTY-1"`), 1)
	found := false
	for _, b := range rc.bodies {
		found = found || bytes.Equal(b, second)
	}
	if !found {
		t.Error("second pass of email.bounced is not the fixture with event_id and delivery_id …-1")
	}
}

func TestDupRateSendsDuplicates(t *testing.T) {
	rc := &receiver{}
	o := opts(start(t, rc))
	o.All = true
	o.N = 40
	o.DupRate = 0.25
	o.Concurrency = 2
	rep, err := sender.Run(t.Context(), o)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Requests != 40 || rep.Duplicates != 10 || rep.Status[200] != 40 {
		t.Fatalf("report %+v, want 40 requests of which 10 duplicates", rep)
	}
	// Every duplicate is a byte-identical re-send of a body sent in the run;
	// there are no other repeats.
	seen := map[string]int{}
	for _, b := range rc.bodies {
		seen[string(b)]++
	}
	repeats := 0
	for _, n := range seen {
		repeats += n - 1
	}
	if repeats != rep.Duplicates {
		t.Errorf("receiver saw %d repeated bodies, report says %d duplicates", repeats, rep.Duplicates)
	}
}

// A body whose event_id is not spelled compactly cannot be given a fresh one
// on a later pass: each repeat is a duplicate to the pipeline, and to send.
func TestUnrewritableRepeatIsDuplicate(t *testing.T) {
	rc := &receiver{}
	o := opts(start(t, rc))
	f := filepath.Join(t.TempDir(), "spaced.json")
	if err := os.WriteFile(f, []byte(`{"event_id" : "01SPACED", "object_type":"email","metric":"sent","timestamp":1767225600,"data":{}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	o.Files = []string{f}
	o.N = 3
	rep, err := sender.Run(t.Context(), o)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Requests != 3 || rep.Duplicates != 2 {
		t.Fatalf("report %+v, want 3 requests of which 2 duplicates (one event_id sent three times)", rep)
	}
}

func TestDupRateOne(t *testing.T) {
	rc := &receiver{}
	o := opts(start(t, rc))
	o.Events = []string{"email.spammed"}
	o.N = 4
	o.DupRate = 1
	rep, err := sender.Run(t.Context(), o)
	if err != nil {
		t.Fatal(err)
	}
	// The first request has nothing to duplicate, so it is the original.
	if rep.Duplicates != 3 || len(rc.bodies) != 4 {
		t.Fatalf("report %+v", rep)
	}
	for _, b := range rc.bodies {
		if !bytes.Equal(b, rc.bodies[0]) {
			t.Error("a duplicate differs from the original")
		}
	}
}

func TestConcurrency(t *testing.T) {
	const workers = 4
	rc := &receiver{gateAt: workers, gate: make(chan struct{})}
	url := start(t, rc)
	// If Run used fewer workers the gate would never open; the deadline turns
	// that hang into a failure.
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	o := opts(url)
	o.Events = []string{"email.delivered"}
	o.N = 12
	o.Concurrency = workers
	rep, err := sender.Run(ctx, o)
	if err != nil {
		t.Fatalf("run: %v (max in flight %d)", err, rc.maxFlight)
	}
	if rc.maxFlight != workers || rep.Status[200] != 12 {
		t.Errorf("max in flight %d, want %d; report %+v", rc.maxFlight, workers, rep)
	}
}

func TestFiles(t *testing.T) {
	dir := t.TempDir()
	a := []byte(`{"event_id":"01LOCAL","object_type":"email","metric":"opened","timestamp":1767225600,"data":{}}`)
	b := []byte("not json at all\n")
	pa, pb := filepath.Join(dir, "a.json"), filepath.Join(dir, "b.txt")
	if err := os.WriteFile(pa, a, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(pb, b, 0o600); err != nil {
		t.Fatal(err)
	}
	rc := &receiver{}
	o := opts(start(t, rc))
	o.Fixtures = nil // raw files need no fixture tree
	o.Files = []string{pa, pb}
	if _, err := sender.Run(t.Context(), o); err != nil {
		t.Fatal(err)
	}
	if len(rc.bodies) != 2 || !bytes.Equal(rc.bodies[0], a) && !bytes.Equal(rc.bodies[1], a) ||
		!bytes.Equal(rc.bodies[0], b) && !bytes.Equal(rc.bodies[1], b) {
		t.Errorf("received %q", rc.bodies)
	}
}

func TestOptionErrors(t *testing.T) {
	good := opts("http://127.0.0.1:1")
	tests := []struct {
		name   string
		mutate func(o *sender.Options)
		want   error
	}{
		{"no url", func(o *sender.Options) { o.URL = "" }, sender.ErrOptions},
		{"relative url", func(o *sender.Options) { o.URL = "/hook" }, sender.ErrOptions},
		{"ftp url", func(o *sender.Options) { o.URL = "ftp://example.com/" }, sender.ErrOptions},
		{"no key", func(o *sender.Options) { o.Key = nil }, sender.ErrOptions},
		{"negative n", func(o *sender.Options) { o.N = -1 }, sender.ErrOptions},
		{"negative c", func(o *sender.Options) { o.Concurrency = -2 }, sender.ErrOptions},
		{"dup rate above 1", func(o *sender.Options) { o.DupRate = 1.5 }, sender.ErrOptions},
		{"negative dup rate", func(o *sender.Options) { o.DupRate = -0.1 }, sender.ErrOptions},
		{"no fixtures", func(o *sender.Options) { o.Fixtures = nil }, sender.ErrOptions},
		{"unknown event", func(o *sender.Options) { o.Events = []string{"email.teleported"} }, fs.ErrNotExist},
		{"missing file", func(o *sender.Options) { o.Files = []string{filepath.Join(t.TempDir(), "nope")} }, fs.ErrNotExist},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := good
			tt.mutate(&o)
			rep, err := sender.Run(t.Context(), o)
			if !errors.Is(err, tt.want) || rep != nil {
				t.Errorf("Run = %v, %v; want %v before any request", rep, err, tt.want)
			}
		})
	}
}

func TestCanceledContext(t *testing.T) {
	rc := &receiver{}
	o := opts(start(t, rc))
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	rep, err := sender.Run(ctx, o)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if rep == nil || len(rc.bodies) != 0 || rep.Status[200] != 0 {
		t.Errorf("report %+v after %d deliveries; want a partial report and none delivered", rep, len(rc.bodies))
	}
}
