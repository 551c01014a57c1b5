package webhook

import (
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cioevents/cioevents/shared/signature"
)

// floodBody is a request body of n bytes that costs the client no memory,
// and that stops at `at` bytes until release is closed, so a test can hold
// every request of a flood in the middle of its body at once.
type floodBody struct {
	n, sent int64
	at      int64
	arrived chan<- struct{}
	release <-chan struct{}
	waited  bool
	once    sync.Once // arrived is told once, by Read or by a request that ended early
}

func (b *floodBody) arrive() { b.once.Do(func() { b.arrived <- struct{}{} }) }

var pattern = bytes.Repeat([]byte(`{"event_id":"x","data":"0123456789abcdef"}`), 1024)

func (b *floodBody) Read(p []byte) (int, error) {
	if b.sent >= b.n {
		return 0, io.EOF
	}
	if !b.waited && b.sent >= b.at {
		b.waited = true
		b.arrive()
		<-b.release
	}
	limit := b.n - b.sent
	if !b.waited {
		limit = min(limit, b.at-b.sent)
	}
	n := copy(p[:min(int64(len(p)), limit)], pattern)
	b.sent += int64(n)
	return n, nil
}

// heap is the live heap after a full collection, and what was allocated in
// total so far.
func heap() (live, total uint64) {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc, m.TotalAlloc
}

// TestUnauthenticatedFloodHoldsLittleMemory is the flood from issue 7: 40
// concurrent 30 MiB bodies with well-formed headers and a wrong signature,
// against the handler with the default limits, over loopback HTTP. Every
// request is held half-way through its body while the heap is measured, so
// the measurement sees all 40 in flight however slow the machine is.
func TestUnauthenticatedFloodHoldsLittleMemory(t *testing.T) {
	const (
		clients = 40
		size    = 30 << 20
	)
	pub := &recorder{}
	h, err := New(Options{
		Verifier:     &signature.Verifier{Keys: [][]byte{key}},
		Publisher:    pub,
		MaxBodyBytes: 1 << 20, // the default CIO_MAX_BODY_BYTES
		Logger:       slog.New(slog.NewJSONHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()
	client := &http.Client{Transport: &http.Transport{MaxConnsPerHost: clients, MaxIdleConnsPerHost: clients}}
	defer client.CloseIdleConnections()

	liveBefore, totalBefore := heap()
	arrived := make(chan struct{}, clients)
	release := make(chan struct{})
	statuses := make(chan string, clients)
	var wg sync.WaitGroup
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			body := &floodBody{n: size, at: size / 2, arrived: arrived, release: release}
			req, _ := http.NewRequest(http.MethodPost, srv.URL, body)
			req.ContentLength = size
			req.Header.Set(signature.HeaderTimestamp, strconv.FormatInt(time.Now().Unix(), 10))
			req.Header.Set(signature.HeaderSignature, strings.Repeat("ab", 32))
			resp, err := client.Do(req)
			// A request that ended before its midpoint must not leave the
			// test waiting for it; its status says what happened.
			body.arrive()
			if err != nil {
				statuses <- err.Error()
				return
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusUnauthorized {
				statuses <- strconv.Itoa(resp.StatusCode) + " " + strings.TrimSpace(string(b))
				return
			}
			statuses <- strconv.Itoa(resp.StatusCode)
		}()
	}
	for range clients {
		<-arrived
	}
	// Every client has sent 15 MiB; the server has read all but what sits
	// in socket buffers. This is the peak the old receiver reached.
	liveHeld, _ := heap()
	close(release)
	wg.Wait()
	close(statuses)
	_, totalAfter := heap()
	for s := range statuses {
		if s != "401" {
			t.Errorf("got %s, want 401 for every request", s)
		}
	}
	if len(pub.msgs) != 0 {
		t.Fatalf("published %d messages from unauthenticated requests", len(pub.msgs))
	}
	held := int64(liveHeld) - int64(liveBefore)
	allocated := totalAfter - totalBefore
	t.Logf("%d × %d MiB in flight: live heap %+.1f MiB at the midpoint; %.1f MiB allocated in all (%.0f KiB per request)",
		clients, size>>20, float64(held)/(1<<20), float64(allocated)/(1<<20), float64(allocated)/clients/1024)
	// Only the 64 KiB stub prefix of each body may be held (2.5 MiB for 40)
	// plus connection buffers; the old receiver held 40 × 16 MiB.
	if held > 16<<20 {
		t.Errorf("live heap grew %d MiB with %d requests in flight, want < 16 MiB", held>>20, clients)
	}
	if allocated > 64<<20 {
		t.Errorf("the flood allocated %d MiB, want < 64 MiB: bodies are being buffered", allocated>>20)
	}
}

// gatedBody yields data, pausing after the first gate bytes (closing
// started) until release is closed.
type gatedBody struct {
	data     []byte
	gate     int
	started  chan struct{}
	release  chan struct{}
	sent     int
	released bool
}

func (b *gatedBody) Read(p []byte) (int, error) {
	if b.sent == b.gate && !b.released {
		close(b.started)
		<-b.release
		b.released = true
	}
	if b.sent == len(b.data) {
		return 0, io.EOF
	}
	end := len(b.data)
	if !b.released {
		end = b.gate
	}
	n := copy(p, b.data[b.sent:end])
	b.sent += n
	return n, nil
}

// A request whose body does not fit the budget waits briefly, then gets 503
// with Retry-After (Customer.io retries on its normal backoff, not after an
// hour), and every reservation is returned when requests end.
func TestBodyBudget(t *testing.T) {
	pub := &recorder{}
	var logs bytes.Buffer
	h, err := New(Options{
		Verifier:     &signature.Verifier{Keys: [][]byte{key}, Now: func() time.Time { return now }},
		Publisher:    pub,
		MaxBodyBytes: 4096,
		BodyBudget:   6000,
		BudgetWait:   time.Millisecond, // the first request is blocked, so no wait could succeed
		Logger:       slog.New(slog.NewJSONHandler(&logs, nil)),
		Now:          func() time.Time { return now },
	})
	if err != nil {
		t.Fatal(err)
	}
	ts := strconv.FormatInt(now.Unix(), 10)
	body := append([]byte(`{"event_id":"budget-1","object_type":"email","metric":"sent"}`), bytes.Repeat([]byte{' '}, 3000)...)

	// A: an authentic 3,062-byte body, stuck after its first 100 bytes.
	a := signed(body, ts, key)
	blocked := &gatedBody{data: body, gate: 100, started: make(chan struct{}), release: make(chan struct{})}
	a.Body = io.NopCloser(blocked)
	aDone := make(chan *httptest.ResponseRecorder)
	go func() {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, a)
		aDone <- w
	}()
	<-blocked.started

	// B needs 3,062 bytes too; only 2,938 are free.
	w := httptest.NewRecorder()
	h.ServeHTTP(w, signed(body, ts, key))
	if w.Code != http.StatusServiceUnavailable || w.Header().Get("Retry-After") != RetryAfter ||
		!strings.Contains(w.Body.String(), "busy") {
		t.Fatalf("over budget: %d %q Retry-After=%q", w.Code, w.Body, w.Header().Get("Retry-After"))
	}
	if !strings.Contains(logs.String(), `"outcome":"busy"`) {
		t.Fatalf("no busy log line: %s", logs.String())
	}
	// A small body still fits beside A.
	small := []byte(`{"event_id":"budget-2","object_type":"email","metric":"sent"}`)
	if w := httptest.NewRecorder(); func() int { h.ServeHTTP(w, signed(small, ts, key)); return w.Code }() != http.StatusOK {
		t.Fatalf("small body beside a held one: %d %s", w.Code, w.Body)
	}
	// A declared-oversized body holds only the stub prefix (capped at
	// MaxBodyBytes+1 here), which does not fit either: 503, not 401.
	big := signed(bytes.Repeat([]byte{'x'}, 20000), ts, key)
	if w := httptest.NewRecorder(); func() int { h.ServeHTTP(w, big); return w.Code }() != http.StatusServiceUnavailable {
		t.Fatalf("oversized over budget: %d %s", w.Code, w.Body)
	}

	close(blocked.release)
	if w := <-aDone; w.Code != http.StatusOK {
		t.Fatalf("held request: %d %s", w.Code, w.Body)
	}
	// Everything was given back: the whole budget can be taken again.
	if !h.budget.TryAcquire(6000) {
		t.Fatal("budget leaked")
	}
	h.budget.Release(6000)
	w = httptest.NewRecorder()
	h.ServeHTTP(w, signed(body, ts, key))
	if w.Code != http.StatusOK {
		t.Fatalf("after release: %d %s", w.Code, w.Body)
	}
	if len(pub.msgs) != 3 || !bytes.Equal(pub.msgs[0].data, small) || !bytes.Equal(pub.msgs[1].data, body) {
		t.Fatalf("published %d messages", len(pub.msgs))
	}
}

// Buffers follow Content-Length, whatever it says: a body shorter than
// declared is read whole, a body of unknown length grows in steps, and a
// longer one (impossible over net/http, possible for a caller) is still
// verified over every byte.
func TestReadSizes(t *testing.T) {
	ts := strconv.FormatInt(now.Unix(), 10)
	small := []byte(`{"event_id":"sizes","object_type":"email","metric":"sent"}`)
	large := append([]byte(`{"event_id":"sizes-large","object_type":"email","metric":"sent","data":"`),
		append(bytes.Repeat([]byte{'y'}, 200_000), `"}`...)...)
	tests := []struct {
		name          string
		body          []byte
		contentLength int64
		max           int64
		oversized     bool
	}{
		{"exact", small, int64(len(small)), 4096, false},
		{"unknown length", small, -1, 4096, false},
		{"unknown length, large", large, -1, 300_000, false},
		{"unknown length, oversized", large, -1, 100_000, true},
		{"declared oversized", large, int64(len(large)), 100_000, true},
		{"declared at the limit", large, int64(len(large)), int64(len(large)), false},
		{"one past the limit", large, int64(len(large)), int64(len(large)) - 1, true},
		{"declared short", large, 10, 300_000, false},
		{"declared long", small, 4000, 4096, false},
		{"empty", []byte{}, 0, 4096, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pub := &recorder{}
			h, err := New(Options{Verifier: &signature.Verifier{Keys: [][]byte{key}, Now: func() time.Time { return now }},
				Publisher: pub, MaxBodyBytes: tt.max, Logger: slog.New(slog.NewJSONHandler(io.Discard, nil))})
			if err != nil {
				t.Fatal(err)
			}
			r := signed(tt.body, ts, key)
			r.Body = io.NopCloser(bytes.NewReader(tt.body))
			r.ContentLength = tt.contentLength
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != http.StatusOK {
				t.Fatalf("status %d %s", w.Code, w.Body)
			}
			m := onlyMessage(t, pub)
			if got := m.attrs[AttrOversized] == "true"; got != tt.oversized {
				t.Fatalf("oversized = %v, want %v", got, tt.oversized)
			}
			if !tt.oversized && !bytes.Equal(m.data, tt.body) {
				t.Fatalf("published %d bytes, posted %d", len(m.data), len(tt.body))
			}
			if tt.oversized && !strings.Contains(string(m.data), fmt.Sprintf(`"size":%d`, len(tt.body))) {
				t.Fatalf("stub does not record the size: %.200s", m.data)
			}
			if !h.budget.TryAcquire(h.o.BodyBudget) {
				t.Fatal("budget not returned")
			}
		})
	}
}

// A body declared larger than anything Cloud Run forwards is refused
// before a byte of it is read.
func TestDeclaredBeyondHardCap(t *testing.T) {
	h := newHandler(t, &recorder{}, nil)
	r := signed([]byte("{}"), strconv.FormatInt(now.Unix(), 10), key)
	r.ContentLength = hardCap + 1
	r.Body = io.NopCloser(readerFunc(func([]byte) (int, error) { t.Fatal("body read"); return 0, nil }))
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if w.Code != http.StatusUnauthorized || !strings.Contains(w.Body.String(), "too large") {
		t.Fatalf("%d %s", w.Code, w.Body)
	}
}

type readerFunc func([]byte) (int, error)

func (f readerFunc) Read(p []byte) (int, error) { return f(p) }
