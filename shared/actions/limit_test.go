package actions

import (
	"context"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/cioevents/cioevents/shared/actions/trackfake"
)

// fakeClock stands in for time: sleeping advances it and is recorded,
// so limiter behaviour is asserted without waiting on the wall clock.
type fakeClock struct {
	mu     sync.Mutex
	t      time.Time
	sleeps []time.Duration
	// log interleaves sleeps and requests, in order.
	log []string
}

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) sleep(_ context.Context, d time.Duration) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.sleeps = append(c.sleeps, d)
	c.log = append(c.log, "sleep "+d.String())
	c.t = c.t.Add(d)
	return nil
}

func (c *fakeClock) note(s string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.log = append(c.log, s)
}

func newFakeTrack(t *testing.T, fake *trackfake.Server, rateLimit float64, burst int) (*Track, *fakeClock) {
	t.Helper()
	clock := &fakeClock{t: time.Now()}
	hc := fake.Client()
	inner := hc.Transport
	hc.Transport = roundTrip(func(r *http.Request) (*http.Response, error) {
		clock.note("request")
		return inner.RoundTrip(r)
	})
	tr, err := NewTrack(TrackConfig{SiteID: "s", APIKey: "k", BaseURL: fake.URL(), HTTPClient: hc, RateLimit: rateLimit, Burst: burst})
	if err != nil {
		t.Fatal(err)
	}
	tr.now, tr.sleep = clock.now, clock.sleep
	return tr, clock
}

type roundTrip func(*http.Request) (*http.Response, error)

func (f roundTrip) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestRateLimiterSpacesCalls(t *testing.T) {
	tests := []struct {
		name       string
		rate       float64
		burst      int
		calls      int
		wantSleeps []time.Duration
	}{
		{"10/s burst 1", 10, 1, 4, []time.Duration{100 * time.Millisecond, 100 * time.Millisecond, 100 * time.Millisecond}},
		{"10/s burst 3", 10, 3, 5, []time.Duration{100 * time.Millisecond, 100 * time.Millisecond}},
		{"2/s burst 1", 2, 1, 3, []time.Duration{500 * time.Millisecond, 500 * time.Millisecond}},
		{"default 10/s", 0, 0, 2, []time.Duration{100 * time.Millisecond}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake := trackfake.New("s", "k")
			defer fake.Close()
			tr, clock := newFakeTrack(t, fake, tt.rate, tt.burst)
			for i := range tt.calls {
				// Alternate kinds: identify and suppress share one limiter.
				c := Call{Kind: KindIdentify, Person: "42", Attributes: map[string]any{"a": 1}}
				if i%2 == 1 {
					c = Call{Kind: KindSuppress, Person: "42"}
				}
				if err := tr.Do(context.Background(), c); err != nil {
					t.Fatal(err)
				}
			}
			if !slices.Equal(clock.sleeps, tt.wantSleeps) {
				t.Errorf("sleeps = %v, want %v", clock.sleeps, tt.wantSleeps)
			}
			if n := len(fake.Calls()); n != tt.calls {
				t.Errorf("fake saw %d calls, want %d", n, tt.calls)
			}
		})
	}
}

func TestRateLimiterConcurrentCallersQueue(t *testing.T) {
	// The clock never moves, so every admitted call beyond the burst must
	// have reserved a later slot than the one before it.
	fake := trackfake.New("s", "k")
	defer fake.Close()
	tr, clock := newFakeTrack(t, fake, 10, 1)
	tr.sleep = func(_ context.Context, d time.Duration) error {
		clock.mu.Lock()
		defer clock.mu.Unlock()
		clock.sleeps = append(clock.sleeps, d)
		return nil
	}
	var wg sync.WaitGroup
	for range 5 {
		wg.Go(func() {
			if err := tr.Do(context.Background(), Call{Kind: KindSuppress, Person: "42"}); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	slices.Sort(clock.sleeps)
	want := []time.Duration{100 * time.Millisecond, 200 * time.Millisecond, 300 * time.Millisecond, 400 * time.Millisecond}
	if !slices.Equal(clock.sleeps, want) {
		t.Errorf("sleeps = %v, want %v", clock.sleeps, want)
	}
}

func TestTooManyRequestsHoldsEveryCaller(t *testing.T) {
	fake := trackfake.New("s", "k")
	defer fake.Close()
	tr, clock := newFakeTrack(t, fake, 1000, 100)

	fake.FailNext(1, http.StatusTooManyRequests, "7")
	err := tr.Do(context.Background(), Call{Kind: KindIdentify, Person: "42", Attributes: map[string]any{"a": 1}})
	if after, ok := IsRetryable(err); !ok || after != 7*time.Second {
		t.Fatalf("err = %v, want retryable after 7s", err)
	}
	// The next call, of the other kind, waits out the hold before it is sent.
	if err := tr.Do(context.Background(), Call{Kind: KindSuppress, Person: "42"}); err != nil {
		t.Fatal(err)
	}
	want := []string{"request", "sleep 7s", "request"}
	if !slices.Equal(clock.log, want) {
		t.Errorf("log = %v, want %v", clock.log, want)
	}

	// A hold longer than the caller's deadline fails at once, unsent.
	fake.FailNext(1, http.StatusTooManyRequests, "60")
	_ = tr.Do(context.Background(), Call{Kind: KindSuppress, Person: "42"})
	sent := len(fake.Calls())
	ctx, cancel := context.WithDeadline(context.Background(), clock.now().Add(time.Second))
	defer cancel()
	err = tr.Do(ctx, Call{Kind: KindSuppress, Person: "42"})
	if after, ok := IsRetryable(err); !ok || after != 60*time.Second {
		t.Errorf("err = %v, want retryable after 60s", err)
	}
	if n := len(fake.Calls()); n != sent {
		t.Errorf("call sent during the hold: %d calls, want %d", n, sent)
	}
}

func TestServiceUnavailableDoesNotHold(t *testing.T) {
	fake := trackfake.New("s", "k")
	defer fake.Close()
	tr, clock := newFakeTrack(t, fake, 1000, 100)
	fake.FailNext(1, http.StatusServiceUnavailable, "7")
	if _, ok := IsRetryable(tr.Do(context.Background(), Call{Kind: KindSuppress, Person: "42"})); !ok {
		t.Fatal("503 not retryable")
	}
	if err := tr.Do(context.Background(), Call{Kind: KindSuppress, Person: "42"}); err != nil {
		t.Fatal(err)
	}
	if len(clock.sleeps) != 0 {
		t.Errorf("sleeps = %v, want none", clock.sleeps)
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		in   string
		want time.Duration
	}{
		{"", 0},
		{"30", 30 * time.Second},
		{" 2 ", 2 * time.Second},
		{"0", 0},
		{"-5", 0},
		{"soon", 0},
		{"1.5", 0},
		{now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second},
		{now.Add(-time.Minute).Format(http.TimeFormat), 0},
		{"99999999999", maxRetryAfter},
		{now.Add(48 * time.Hour).Format(http.TimeFormat), maxRetryAfter},
	}
	for _, tt := range tests {
		if got := parseRetryAfter(tt.in, now); got != tt.want {
			t.Errorf("parseRetryAfter(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func TestRegionBaseURL(t *testing.T) {
	tests := []struct {
		region, override, want string
	}{
		{"", "", "https://track.customer.io"},
		{"us", "", "https://track.customer.io"},
		{"eu", "", "https://track-eu.customer.io"},
		{" EU ", "", "https://track-eu.customer.io"},
		{"eu", "http://127.0.0.1:9/", "http://127.0.0.1:9"},
	}
	for _, tt := range tests {
		tr, err := NewTrack(TrackConfig{SiteID: "s", APIKey: "k", Region: tt.region, BaseURL: tt.override})
		if err != nil {
			t.Fatalf("region %q: %v", tt.region, err)
		}
		// Identify goes through the SDK's URL, suppress through base: both must agree.
		if tr.base != tt.want || tr.cio.URL != tt.want {
			t.Errorf("region %q override %q: base %q, sdk %q, want %q", tt.region, tt.override, tr.base, tr.cio.URL, tt.want)
		}
	}
}

func TestDefaultHTTPClientHasTimeout(t *testing.T) {
	tr, err := NewTrack(TrackConfig{SiteID: "s", APIKey: "k"})
	if err != nil {
		t.Fatal(err)
	}
	if tr.http.Timeout != DefaultTimeout {
		t.Errorf("timeout = %v, want %v", tr.http.Timeout, DefaultTimeout)
	}
	if tr.lim.Limit() != DefaultRateLimit || tr.lim.Burst() != 1 {
		t.Errorf("limiter = %v/s burst %d, want %v/s burst 1", tr.lim.Limit(), tr.lim.Burst(), DefaultRateLimit)
	}
}
