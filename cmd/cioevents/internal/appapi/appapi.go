// Package appapi is a client of the Customer.io App API endpoints cioevents
// uses: /v1/reporting_webhooks for `connect` and `doctor` (webhooks.go), and
// for the backfill GET /v1/messages, the list of deliveries with the time each
// reached each metric. It pages with the start/next cursor, keeps every
// request within the API's 6-month window, stays under its 10 requests/s
// limit and honours 429 with Retry-After. A call that gets no answer says
// so on stderr every ProgressEvery and fails after DefaultBudget, naming the
// host (wait.go).
package appapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	customerio "github.com/customerio/go-customerio/v3"
	"golang.org/x/time/rate"

	"github.com/cioevents/cioevents/cmd/cioevents/internal/cli"
	"github.com/cioevents/cioevents/shared/cioregion"
	"github.com/cioevents/cioevents/shared/config"
	"github.com/cioevents/cioevents/shared/event"
)

// Limits of GET /v1/messages.
const (
	// MaxLimit is the largest page the API serves.
	MaxLimit = 1000
	// RateLimit is the documented limit of the App API in requests/s.
	RateLimit = 10
	// MaxWindow is the longest start_ts..end_ts span sent in one request.
	// The API answers at most 6 months and silently drops the older part
	// of a longer span; 180 days is shorter than any 6 calendar months.
	MaxWindow = 180 * 24 * time.Hour
)

// ErrUnauthorized means the key was refused: a wrong key, or a key of a
// workspace in the other region.
var ErrUnauthorized = errors.New("appapi: App API key refused (wrong key, or CIO_REGION does not match the workspace)")

// Config configures New.
type Config struct {
	// Key is the App API key (a bearer token).
	Key string
	// Region is "us" (default) or "eu"; it picks the host.
	Region string
	// BaseURL overrides the host, for the fake or a proxy.
	BaseURL string
	// HTTPClient defaults to a client with a 60 s timeout and dial, TLS and
	// response-header timeouts (see defaultHTTPClient).
	HTTPClient *http.Client
	// RateLimit in requests/s; default RateLimit.
	RateLimit float64
	// MaxAttempts bounds how often one page is requested on 429 or 5xx
	// (default 8).
	MaxAttempts int
	// Budget bounds how long one call waits for an answer, its retries
	// included (default DefaultBudget). Any answer restarts it, a 429 or a
	// 5xx too: a host that answers is reachable, and its Retry-After is
	// honoured however long.
	Budget time.Duration
	// Progress receives a line every ProgressEvery while a call waits for an
	// answer (default os.Stderr), "cioevents: <Command>: waiting for <host>
	// (4 s)…"; Command defaults to the command line's first word.
	Progress io.Writer
	Command  string
	// Clock times the progress lines and the budget (default the real
	// clock), so tests need not wait.
	Clock Clock
}

// Client lists deliveries. Safe for concurrent use.
type Client struct {
	base     string
	key      string
	http     *http.Client
	lim      *rate.Limiter
	attempts int
	sleep    func(context.Context, time.Duration) error
	wait     waiting
}

// New validates cfg. Errors never include the key; each is a setting the
// command cannot run with (cli.ErrConfig).
func New(cfg Config) (*Client, error) {
	c, err := build(cfg)
	return c, cli.Config(err)
}

func build(cfg Config) (*Client, error) {
	if strings.TrimSpace(cfg.Key) == "" {
		return nil, errors.New("appapi: App API key is empty")
	}
	if err := config.CheckSecret(EnvKey, cfg.Key); err != nil {
		return nil, fmt.Errorf("appapi: %w", err)
	}
	base, err := BaseURL(cfg.Region, cfg.BaseURL)
	if err != nil {
		return nil, err
	}
	hc := cfg.HTTPClient
	if hc == nil {
		hc = defaultHTTPClient()
	}
	limit := cfg.RateLimit
	if limit <= 0 {
		limit = RateLimit
	}
	attempts := cfg.MaxAttempts
	if attempts <= 0 {
		attempts = 8
	}
	w, err := newWaiting(cfg, base)
	if err != nil {
		return nil, err
	}
	return &Client{base: base, key: strings.TrimSpace(cfg.Key), http: hc, lim: rate.NewLimiter(rate.Limit(limit), 1),
		attempts: attempts, sleep: sleepCtx, wait: w}, nil
}

// defaultHTTPClient bounds each step of one attempt, so a host that takes
// the connection and never answers costs one attempt, not the whole budget.
func defaultHTTPClient() *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.DialContext = (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext
	t.TLSHandshakeTimeout = 10 * time.Second
	t.ResponseHeaderTimeout = 20 * time.Second
	return &http.Client{Transport: t, Timeout: 60 * time.Second}
}

// BaseURL is the App API host of region, or override when set.
func BaseURL(region, override string) (string, error) {
	base, err := cioregion.BaseURL(region, override, customerio.Region.APIURL)
	if err != nil {
		return "", fmt.Errorf("appapi: %w", err)
	}
	return base, nil
}

// String keeps the key out of %v.
func (c *Client) String() string { return "appapi.Client(" + c.base + ")" }

// Query selects deliveries. Zero fields are not sent.
type Query struct {
	// Type is the API's delivery type: email, webhook, twilio, whatsapp,
	// slack, push, in_app, live_notification.
	Type string
	// Metric keeps deliveries that reached it.
	Metric       string
	CampaignID   int64
	NewsletterID int64
	ActionID     int64
	// Start and End bound the delivery creation time; End-Start must not
	// exceed MaxWindow.
	Start, End time.Time
	// Limit is the page size, at most MaxLimit (default MaxLimit).
	Limit int
	// Cursor is the Next of the previous page; empty for the first page.
	Cursor string
}

// Page is one response.
type Page struct {
	Messages []Message
	// Next is the cursor of the following page; empty on the last page.
	Next string
}

// Message is one delivery as GET /v1/messages describes it.
type Message struct {
	ID                  string       `json:"id"`
	DeduplicateID       string       `json:"deduplicate_id"`
	Type                string       `json:"type"`
	Created             int64        `json:"created"`
	CustomerID          event.String `json:"customer_id"`
	CustomerIdentifiers struct {
		ID    event.String `json:"id"`
		Email event.String `json:"email"`
		CioID event.String `json:"cio_id"`
	} `json:"customer_identifiers"`
	Recipient      event.String `json:"recipient"`
	Subject        event.String `json:"subject"`
	FailureMessage event.String `json:"failure_message"`
	CampaignID     event.Int    `json:"campaign_id"`
	BroadcastID    event.Int    `json:"broadcast_id"`
	NewsletterID   event.Int    `json:"newsletter_id"`
	ActionID       event.Int    `json:"action_id"`
	ParentActionID event.Int    `json:"parent_action_id"`
	ContentID      event.Int    `json:"content_id"`
	TriggerEventID event.String `json:"trigger_event_id"`
	Forgotten      bool         `json:"forgotten"`
	// Metrics maps a metric to the unix time the delivery reached it; a
	// few keys (human_opened, prefetch_clicked, ...) are counts instead.
	Metrics map[string]int64 `json:"metrics"`

	// Raw is the delivery's JSON as the API sent it.
	Raw json.RawMessage `json:"-"`
}

// List fetches one page. It waits for the rate limiter, and retries 429
// (after Retry-After), 5xx and transport errors with backoff; other
// statuses fail at once.
func (c *Client) List(ctx context.Context, q Query) (Page, error) {
	u, err := c.url(q)
	if err != nil {
		return Page{}, err
	}
	var page Page
	err = c.retry(ctx, "GET /v1/messages", func(ctx context.Context) (time.Duration, error) {
		p, wait, err := c.get(ctx, u)
		page = p
		return wait, err
	})
	return page, err
}

// retry makes one call: once is an attempt, whose wait < 0 means do not
// retry, 0 back off, > 0 the server's Retry-After. It waits for the rate
// limiter before each attempt, retries up to c.attempts times, and gives up
// when the host leaves the call without an answer for the budget.
func (c *Client) retry(ctx context.Context, what string, once func(context.Context) (time.Duration, error)) error {
	w := c.wait.start(ctx, what)
	defer w.stop()
	var last error
	for attempt := 1; attempt <= c.attempts; attempt++ {
		if err := c.lim.Wait(w.ctx); err != nil {
			return w.err(err, last)
		}
		w.begin()
		wait, err := once(w.attemptCtx())
		if err == nil {
			return nil
		}
		if wait > 0 {
			w.answered() // only an answer carries a Retry-After
		}
		if wait < 0 {
			return w.err(err, last)
		}
		last = err
		if wait == 0 {
			wait = min(time.Duration(1<<min(attempt-1, 5))*time.Second, 30*time.Second)
		}
		if err := c.sleep(w.ctx, wait); err != nil {
			return w.err(err, last)
		}
	}
	return fmt.Errorf("appapi: gave up after %d attempts: %w", c.attempts, last)
}

func (c *Client) url(q Query) (string, error) {
	if !q.Start.IsZero() && !q.End.IsZero() && q.End.Sub(q.Start) > MaxWindow {
		return "", fmt.Errorf("appapi: window %s..%s is longer than %s", q.Start.UTC().Format(time.RFC3339),
			q.End.UTC().Format(time.RFC3339), MaxWindow)
	}
	v := url.Values{}
	limit := q.Limit
	if limit <= 0 || limit > MaxLimit {
		limit = MaxLimit
	}
	v.Set("limit", strconv.Itoa(limit))
	set := func(k, s string) {
		if s != "" {
			v.Set(k, s)
		}
	}
	setInt := func(k string, n int64) {
		if n != 0 {
			v.Set(k, strconv.FormatInt(n, 10))
		}
	}
	set("start", q.Cursor)
	set("type", q.Type)
	set("metric", q.Metric)
	setInt("campaign_id", q.CampaignID)
	setInt("newsletter_id", q.NewsletterID)
	setInt("action_id", q.ActionID)
	if !q.Start.IsZero() {
		setInt("start_ts", q.Start.Unix())
	}
	if !q.End.IsZero() {
		setInt("end_ts", q.End.Unix())
	}
	return c.base + "/v1/messages?" + v.Encode(), nil
}

// get makes one request. wait < 0: do not retry; 0: back off; > 0: the
// server's Retry-After.
func (c *Client) get(ctx context.Context, u string) (Page, time.Duration, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return Page{}, -1, fmt.Errorf("appapi: %w", err)
	}
	req.Header.Set("Authorization", "Bearer "+c.key)
	req.Header.Set("Accept", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return Page{}, -1, ctx.Err()
		}
		// The URL holds no secret; the error text is safe.
		return Page{}, 0, fmt.Errorf("appapi: GET /v1/messages: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 256<<20))
	if err != nil {
		return Page{}, 0, fmt.Errorf("appapi: read response: %w", err)
	}
	switch {
	case resp.StatusCode == http.StatusOK:
	case resp.StatusCode == http.StatusTooManyRequests:
		return Page{}, max(parseRetryAfter(resp.Header.Get("Retry-After"), time.Now()), time.Second),
			errors.New("appapi: 429 Too Many Requests")
	case resp.StatusCode >= 500:
		return Page{}, 0, fmt.Errorf("appapi: HTTP %d", resp.StatusCode)
	case resp.StatusCode == http.StatusUnauthorized, resp.StatusCode == http.StatusForbidden:
		return Page{}, -1, fmt.Errorf("%w: HTTP %d", ErrUnauthorized, resp.StatusCode)
	default:
		return Page{}, -1, fmt.Errorf("appapi: HTTP %d: %.200s", resp.StatusCode, body)
	}
	page, err := decodePage(body)
	if err != nil {
		return Page{}, -1, err
	}
	return page, 0, nil
}

func decodePage(body []byte) (Page, error) {
	var wire struct {
		Messages []json.RawMessage `json:"messages"`
		Next     string            `json:"next"`
	}
	if err := json.Unmarshal(body, &wire); err != nil {
		return Page{}, fmt.Errorf("appapi: response is not a message list: %w", err)
	}
	p := Page{Next: wire.Next, Messages: make([]Message, len(wire.Messages))}
	for i, raw := range wire.Messages {
		m := &p.Messages[i]
		if err := json.Unmarshal(raw, m); err != nil {
			return Page{}, fmt.Errorf("appapi: message %d: %w", i, err)
		}
		if m.ID == "" {
			return Page{}, fmt.Errorf("appapi: message %d has no id", i)
		}
		m.Raw = raw
	}
	return p, nil
}

// Windows splits [start, end) into consecutive windows of at most MaxWindow,
// oldest first.
func Windows(start, end time.Time) [][2]time.Time {
	var out [][2]time.Time
	for s := start; s.Before(end); s = s.Add(MaxWindow) {
		out = append(out, [2]time.Time{s, minTime(s.Add(MaxWindow), end)})
	}
	return out
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// parseRetryAfter reads delay-seconds or an HTTP date, capped at an hour.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	var d time.Duration
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		d = time.Duration(min(secs, 3600)) * time.Second
	} else if at, err := http.ParseTime(v); err == nil {
		d = at.Sub(now)
	}
	return max(0, min(d, time.Hour))
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
