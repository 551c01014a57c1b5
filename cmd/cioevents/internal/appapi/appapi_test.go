package appapi

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cioevents/cioevents/cmd/cioevents/internal/appapi/appapifake"
)

var (
	t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	t1 = time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC)
)

func newClient(t *testing.T, fake *appapifake.Server, cfg Config) *Client {
	t.Helper()
	if cfg.Key == "" {
		cfg.Key = "app-key"
	}
	if cfg.BaseURL == "" && cfg.HTTPClient == nil {
		cfg.BaseURL = fake.URL()
	}
	if cfg.RateLimit == 0 {
		cfg.RateLimit = 1000
	}
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var waits []time.Duration
	c.sleep = func(_ context.Context, d time.Duration) error { waits = append(waits, d); return nil }
	t.Cleanup(func() { t.Logf("client waited %v", waits) })
	return c
}

// listAll pages through q and returns the delivery IDs in order.
func listAll(t *testing.T, c *Client, q Query) []string {
	t.Helper()
	var ids []string
	for pages := 0; ; pages++ {
		p, err := c.List(context.Background(), q)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range p.Messages {
			ids = append(ids, m.ID)
		}
		if p.Next == "" {
			return ids
		}
		if pages > 1000 {
			t.Fatal("paging does not end")
		}
		q.Cursor = p.Next
	}
}

func TestPagingReturnsEveryDeliveryOnce(t *testing.T) {
	fake := appapifake.New("app-key")
	defer fake.Close()
	all := appapifake.Generate(2345, 1, t0, t1)
	fake.Add(all...)
	c := newClient(t, fake, Config{})

	ids := listAll(t, c, Query{Start: t0, End: t1, Limit: 1000})
	if len(ids) != len(all) {
		t.Fatalf("listed %d deliveries, want %d", len(ids), len(all))
	}
	seen := map[string]bool{}
	for _, id := range ids {
		if seen[id] {
			t.Fatalf("delivery %s listed twice", id)
		}
		seen[id] = true
	}
	calls := fake.Calls()
	if len(calls) != 3 {
		t.Errorf("%d requests for 2345 deliveries at 1000 a page, want 3", len(calls))
	}
	for _, call := range calls {
		if call.Query.Get("limit") != "1000" || call.Query.Get("start_ts") != "1767225600" || call.Query.Get("end_ts") != "1775001600" {
			t.Errorf("query %v", call.Query)
		}
	}
	if calls[0].Query.Has("start") || !calls[1].Query.Has("start") {
		t.Errorf("cursor: first %v, second %v", calls[0].Query, calls[1].Query)
	}
}

func TestFilters(t *testing.T) {
	fake := appapifake.New("app-key")
	defer fake.Close()
	all := appapifake.Generate(800, 2, t0, t1)
	fake.Add(all...)
	c := newClient(t, fake, Config{})

	count := func(keep func(d appapifake.Delivery) bool) int {
		n := 0
		for _, d := range all {
			if keep(d) {
				n++
			}
		}
		return n
	}
	tests := []struct {
		name string
		q    Query
		want int
	}{
		{"type", Query{Type: "twilio"}, count(func(d appapifake.Delivery) bool { return d.Type == "twilio" })},
		{"metric", Query{Metric: "opened"}, count(func(d appapifake.Delivery) bool { _, ok := d.Metrics["opened"]; return ok })},
		{"campaign", Query{CampaignID: 3}, count(func(d appapifake.Delivery) bool { return d.CampaignID != nil && *d.CampaignID == 3 })},
		{"newsletter", Query{NewsletterID: 2}, count(func(d appapifake.Delivery) bool { return d.NewsletterID != nil && *d.NewsletterID == 2 })},
		{"action", Query{ActionID: 120}, count(func(d appapifake.Delivery) bool { return d.ActionID != nil && *d.ActionID == 120 })},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.want == 0 {
				t.Fatal("the generated data has no delivery for this filter")
			}
			tt.q.Start, tt.q.End, tt.q.Limit = t0, t1, 100
			if got := len(listAll(t, c, tt.q)); got != tt.want {
				t.Errorf("listed %d, want %d", got, tt.want)
			}
		})
	}
}

// The API silently answers only the last 6 months of a longer span; the
// client refuses to ask for one, and the fake shows what would be lost.
func TestSixMonthRule(t *testing.T) {
	fake := appapifake.New("app-key")
	defer fake.Close()
	start, end := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	fake.Add(appapifake.Generate(500, 3, start, end)...)
	c := newClient(t, fake, Config{})

	if _, err := c.List(context.Background(), Query{Start: start, End: end}); err == nil {
		t.Fatal("a 12-month window was sent")
	}
	// Straight to the fake: 12 months asked, about 6 answered.
	resp, err := http.Get(fake.URL() + "/v1/messages?limit=1000&start_ts=1735689600&end_ts=1767225600")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("no bearer token: status %d, want 401", resp.StatusCode)
	}
	var inWindows int
	for _, w := range Windows(start, end) {
		if w[1].Sub(w[0]) > MaxWindow {
			t.Errorf("window %v longer than MaxWindow", w)
		}
		inWindows += len(listAll(t, c, Query{Start: w[0], End: w[1]}))
	}
	if inWindows < 500 {
		t.Errorf("windows listed %d of 500", inWindows)
	}
	u := fake.URL() + "/v1/messages?limit=1000&start_ts=1735689600&end_ts=1767225600"
	p, _, err := c.get(context.Background(), u)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(p.Messages); n >= 400 || n < 100 {
		t.Errorf("a 12-month span answered %d of 500 deliveries, want only the last 6 months' share", n)
	}
}

func TestRetriesHonourRetryAfter(t *testing.T) {
	fake := appapifake.New("app-key")
	defer fake.Close()
	fake.Add(appapifake.Generate(10, 4, t0, t1)...)
	c := newClient(t, fake, Config{})
	var waits []time.Duration
	c.sleep = func(_ context.Context, d time.Duration) error { waits = append(waits, d); return nil }

	fake.FailNext(2, http.StatusTooManyRequests, "7")
	p, err := c.List(context.Background(), Query{Start: t0, End: t1})
	if err != nil || len(p.Messages) != 10 {
		t.Fatalf("got %d messages, %v", len(p.Messages), err)
	}
	if !slices.Equal(waits, []time.Duration{7 * time.Second, 7 * time.Second}) {
		t.Errorf("waits %v, want 7s twice", waits)
	}

	waits = nil
	fake.FailNext(1, http.StatusBadGateway, "")
	if _, err := c.List(context.Background(), Query{Start: t0, End: t1}); err != nil {
		t.Fatal(err)
	}
	if len(waits) != 1 || waits[0] <= 0 {
		t.Errorf("5xx: waits %v, want one backoff", waits)
	}

	fake.FailNext(100, http.StatusTooManyRequests, "1")
	if _, err := c.List(context.Background(), Query{Start: t0, End: t1}); err == nil {
		t.Error("endless 429s: no error")
	}
	fake.FailNext(0, 0, "")

	fake.FailNext(1, http.StatusBadRequest, "")
	waits = nil
	if _, err := c.List(context.Background(), Query{Start: t0, End: t1}); err == nil || len(waits) != 0 {
		t.Errorf("400: err %v after waits %v, want an error at once", err, waits)
	}
}

func TestRegionHosts(t *testing.T) {
	fake := appapifake.New("app-key")
	defer fake.Close()
	fake.Add(appapifake.Generate(5, 5, t0, t1)...)
	fake.SetRegion("eu")

	eu := newClient(t, fake, Config{Region: "eu", HTTPClient: fake.Client()})
	if _, err := eu.List(context.Background(), Query{Start: t0, End: t1}); err != nil {
		t.Fatal(err)
	}
	us := newClient(t, fake, Config{Region: "us", HTTPClient: fake.Client()})
	_, err := us.List(context.Background(), Query{Start: t0, End: t1})
	if !errors.Is(err, ErrUnauthorized) {
		t.Errorf("EU workspace through the US host: %v, want ErrUnauthorized", err)
	}
	var hosts []string
	for _, c := range fake.Calls() {
		hosts = append(hosts, c.Host)
	}
	if !slices.Equal(hosts, []string{appapifake.HostEU, appapifake.HostUS}) {
		t.Errorf("hosts %v", hosts)
	}
	if _, err := New(Config{Key: "k", Region: "mars"}); err == nil {
		t.Error("region mars accepted")
	}
	if _, err := New(Config{Key: " "}); err == nil {
		t.Error("empty key accepted")
	}
	c, _ := New(Config{Key: "secret-key"})
	if s := c.String(); strings.Contains(s, "secret") {
		t.Errorf("String() shows the key: %s", s)
	}
}

// The client's limiter keeps a fake that throttles at the documented 10
// requests/s from ever answering 429.
func TestRateLimitKeepsUnderTheAPILimit(t *testing.T) {
	fake := appapifake.New("app-key")
	defer fake.Close()
	fake.Add(appapifake.Generate(30, 6, t0, t1)...)
	fake.Throttle(RateLimit)
	c, err := New(Config{Key: "app-key", BaseURL: fake.URL()})
	if err != nil {
		t.Fatal(err)
	}
	ids := 0
	q := Query{Start: t0, End: t1, Limit: 1}
	for {
		p, err := c.List(context.Background(), q)
		if err != nil {
			t.Fatal(err)
		}
		ids += len(p.Messages)
		if p.Next == "" {
			break
		}
		q.Cursor = p.Next
	}
	for _, call := range fake.Calls() {
		if call.Status == http.StatusTooManyRequests {
			t.Fatal("the fake answered 429: the client went over 10 requests/s")
		}
	}
	if ids != 30 {
		t.Errorf("listed %d of 30", ids)
	}

	// Without the limiter the same fake does throttle: the check can fail.
	fast := newClient(t, fake, Config{RateLimit: 10_000, MaxAttempts: 1})
	throttled := false
	for range 40 {
		if _, err := fast.List(context.Background(), Query{Start: t0, End: t1}); err != nil {
			throttled = true
			break
		}
	}
	if !throttled {
		t.Error("40 unthrottled requests never met a 429")
	}
}

func TestGenerateCoversEveryType(t *testing.T) {
	seen := map[string]bool{}
	for _, d := range appapifake.Generate(100, 7, t0, t1) {
		seen[d.Type] = true
		if d.Created < t0.Unix() || d.Created >= t1.Unix() {
			t.Errorf("created %d outside the span", d.Created)
		}
	}
	for _, typ := range appapifake.Types {
		if !seen[typ] {
			t.Errorf("no %s delivery", typ)
		}
	}
}
