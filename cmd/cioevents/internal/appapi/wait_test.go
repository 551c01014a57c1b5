package appapi

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cioevents/cioevents/cmd/cioevents/internal/appapi/appapifake"
	"github.com/cioevents/cioevents/cmd/cioevents/internal/cli"
)

// fakeClock hands every timer it starts to the test, which fires it.
type fakeClock struct {
	armed   chan *fakeTimer
	skipped []*fakeTimer // started, not yet asked for by next
}

type fakeTimer struct {
	d       time.Duration
	c       chan time.Time
	stopped atomic.Bool
}

func newFakeClock() *fakeClock { return &fakeClock{armed: make(chan *fakeTimer, 256)} }

func (f *fakeClock) After(d time.Duration) (<-chan time.Time, func()) {
	t := &fakeTimer{d: d, c: make(chan time.Time, 1)}
	f.armed <- t
	return t.c, func() { t.stopped.Store(true) }
}

// next is the earliest timer started for d that next has not returned.
func (f *fakeClock) next(t *testing.T, d time.Duration) *fakeTimer {
	t.Helper()
	for i, tm := range f.skipped {
		if tm.d == d {
			f.skipped = append(f.skipped[:i], f.skipped[i+1:]...)
			return tm
		}
	}
	// Not a deadline the code must meet: only how long a broken test hangs.
	giveUp := time.After(2 * time.Minute)
	for {
		select {
		case tm := <-f.armed:
			if tm.d == d {
				return tm
			}
			f.skipped = append(f.skipped, tm)
		case <-giveUp:
			t.Fatalf("no %s timer was started", d)
		}
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// closedPort is a loopback address nothing listens on: connecting is refused.
func closedPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// waitForever stands in for the backoff between attempts: the call waits
// until the budget ends it, so the test needs no real time.
func waitForever(ctx context.Context, _ time.Duration) error {
	<-ctx.Done()
	return ctx.Err()
}

// A host that is not there (a loopback port nobody listens on) and one that
// takes the connection and never answers: each call says it is waiting
// every ProgressEvery, and fails when the budget is spent, naming the host.
func TestNoAnswerShowsProgressThenFailsNamingTheHost(t *testing.T) {
	refusedAddr := closedPort(t)
	silent, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	accepted := make(chan struct{}, 16)
	var (
		mu   sync.Mutex
		held []net.Conn
	)
	go func() {
		for {
			c, err := silent.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			held = append(held, c) // held open, never answered
			mu.Unlock()
			accepted <- struct{}{}
		}
	}()
	defer func() {
		silent.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range held {
			c.Close()
		}
	}()
	// The budget is spent once the first attempt has failed (the call
	// sleeps before the next) or is in flight (the listener took it).
	sleeping := make(chan struct{}, 16)

	for _, tc := range []struct {
		name, addr string
		call       func(*Client) error
		why        string
		inFlight   chan struct{}
	}{
		{"unreachable port, backfill", refusedAddr, func(c *Client) error {
			_, err := c.List(context.Background(), Query{Start: t0, End: t1})
			return err
		}, "connection refused", sleeping},
		{"unreachable port, webhooks", refusedAddr, func(c *Client) error {
			_, err := c.Webhooks(context.Background())
			return err
		}, "connection refused", sleeping},
		{"accepts and never answers", silent.Addr().String(), func(c *Client) error {
			_, err := c.List(context.Background(), Query{Start: t0, End: t1})
			return err
		}, "no response", accepted},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clock := newFakeClock()
			var out syncBuffer
			c, err := New(Config{Key: "k", BaseURL: "http://" + tc.addr, Progress: &out, Command: "backfill", Clock: clock})
			if err != nil {
				t.Fatal(err)
			}
			c.sleep = func(ctx context.Context, d time.Duration) error {
				sleeping <- struct{}{}
				return waitForever(ctx, d)
			}
			errc := make(chan error, 1)
			go func() { errc <- tc.call(c) }()
			<-tc.inFlight

			budget := clock.next(t, DefaultBudget)
			for i := 1; i <= 2; i++ {
				clock.next(t, ProgressEvery).c <- time.Time{}
			}
			clock.next(t, ProgressEvery) // the third is started once the second line is out
			want := "cioevents: backfill: waiting for " + tc.addr + " (4 s)…\n" +
				"cioevents: backfill: waiting for " + tc.addr + " (8 s)…\n"
			if got := out.String(); got != want {
				t.Errorf("progress:\n%s\nwant:\n%s", got, want)
			}
			budget.c <- time.Time{}
			err = <-errc
			if !errors.Is(err, ErrNoAnswer) || !strings.Contains(err.Error(), tc.addr) ||
				!strings.Contains(err.Error(), tc.why) || strings.Contains(err.Error(), "\n") {
				t.Errorf("error %q: want one line, ErrNoAnswer naming %s and %q", err, tc.addr, tc.why)
			}
			if n := strings.Count(out.String(), "\n"); n != 2 {
				t.Errorf("%d progress lines after the call ended, want the 2 before", n)
			}
		})
	}
}

// A host that answers, even 429 and 5xx, is reachable: each answer stops
// the clock, so a long Retry-After is honoured and no progress is printed.
func TestAnswersRestartTheBudget(t *testing.T) {
	fake := appapifake.New("app-key")
	defer fake.Close()
	fake.Add(appapifake.Generate(5, 3, t0, t1)...)
	clock := newFakeClock()
	var out syncBuffer
	c := newClient(t, fake, Config{Clock: clock, Progress: &out})
	fake.FailNext(2, http.StatusTooManyRequests, "90")
	p, err := c.List(context.Background(), Query{Start: t0, End: t1})
	if err != nil || len(p.Messages) != 5 {
		t.Fatalf("got %d messages, %v", len(p.Messages), err)
	}
	fake.FailNext(1, http.StatusBadGateway, "")
	if _, err := c.Webhooks(context.Background()); err != nil {
		t.Fatal(err)
	}
	budgets := 0
	for len(clock.armed) > 0 {
		clock.skipped = append(clock.skipped, <-clock.armed)
	}
	for _, tm := range clock.skipped {
		if !tm.stopped.Load() {
			t.Errorf("a %s timer still runs after the call", tm.d)
		}
		if tm.d == DefaultBudget {
			budgets++
		}
	}
	if budgets != 5 {
		t.Errorf("the budget started %d times, want 5: once per attempt, each after an answer", budgets)
	}
	if out.String() != "" {
		t.Errorf("progress printed for a host that answered: %q", out.String())
	}
}

// A budget set in Config replaces the default, and without a Command the
// line still says who is waiting.
func TestBudgetAndProgressConfig(t *testing.T) {
	addr := closedPort(t)
	clock := newFakeClock()
	var out syncBuffer
	c, err := New(Config{Key: "k", BaseURL: "http://" + addr, Progress: &out, Clock: clock, Budget: 7 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	c.sleep = waitForever
	errc := make(chan error, 1)
	go func() { _, err := c.Webhooks(context.Background()); errc <- err }()
	budget := clock.next(t, 7*time.Second)
	clock.next(t, ProgressEvery).c <- time.Time{}
	clock.next(t, ProgressEvery)
	budget.c <- time.Time{}
	if err := <-errc; !errors.Is(err, ErrNoAnswer) || !strings.Contains(err.Error(), "in 7 s") {
		t.Errorf("error %v, want ErrNoAnswer after 7 s", err)
	}
	if want := "cioevents: waiting for " + addr + " (4 s)…\n"; out.String() != want {
		t.Errorf("progress %q, want %q", out.String(), want)
	}
}

// The App API key follows the rule of every secret: quotes an env file kept
// are refused, naming the variable, as a setting (exit 2 in the CLI).
func TestQuotedKeyRefused(t *testing.T) {
	for _, key := range []string{`"app-key"`, `'app-key'`} {
		_, err := New(Config{Key: key})
		if err == nil || !strings.Contains(err.Error(), EnvKey+": the value is wrapped in quotes") ||
			strings.Contains(err.Error(), "app-key") || !errors.Is(err, cli.ErrConfig) {
			t.Errorf("key %s: %v", key, err)
		}
	}
}
