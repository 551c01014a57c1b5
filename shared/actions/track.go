package actions

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	customerio "github.com/customerio/go-customerio/v3"
	"golang.org/x/time/rate"

	"github.com/cioevents/cioevents/shared/cioregion"
)

// Client makes the Track API call a Call describes.
type Client interface {
	Do(ctx context.Context, c Call) error
}

var (
	_ Client = (*Track)(nil)
	_ Client = (*DryRun)(nil)
)

// Defaults of TrackConfig.
const (
	DefaultRateLimit = 10 // req/s, well below the documented 100 req/s
	DefaultTimeout   = 10 * time.Second
	// maxRetryAfter caps what a server can ask for, so a bogus header
	// cannot park the instance for days.
	maxRetryAfter = time.Hour
)

// TrackConfig configures NewTrack.
type TrackConfig struct {
	SiteID string
	APIKey string
	// Region is "us" (default) or "eu"; it picks the Track host.
	Region string
	// BaseURL overrides the host, for tests and proxies.
	BaseURL string
	// HTTPClient defaults to a client with a 10 s timeout.
	HTTPClient *http.Client
	// RateLimit is the client-side limit in requests per second (default
	// 10), shared by identify and suppress; Burst defaults to 1.
	RateLimit float64
	Burst     int
}

// Track is the Customer.io Track API v1 client. Safe for concurrent use.
type Track struct {
	base   string
	siteID string
	apiKey string
	cio    *customerio.CustomerIO
	http   *http.Client
	lim    *rate.Limiter

	mu        sync.Mutex
	holdUntil time.Time // set by a 429 with Retry-After; every call waits

	// now and sleep are the clock, replaced in tests.
	now   func() time.Time
	sleep func(ctx context.Context, d time.Duration) error
}

// NewTrack validates cfg and returns a client. Errors never include the key.
func NewTrack(cfg TrackConfig) (*Track, error) {
	if strings.TrimSpace(cfg.SiteID) == "" {
		return nil, errors.New("actions: Customer.io site ID is empty")
	}
	if strings.TrimSpace(cfg.APIKey) == "" {
		return nil, errors.New("actions: Customer.io Track API key is empty")
	}
	base, err := baseURL(cfg.Region, cfg.BaseURL)
	if err != nil {
		return nil, err
	}
	if cfg.RateLimit < 0 || cfg.Burst < 0 {
		return nil, fmt.Errorf("actions: rate limit %g req/s and burst %d must not be negative", cfg.RateLimit, cfg.Burst)
	}
	limit, burst := cfg.RateLimit, cfg.Burst
	if limit == 0 {
		limit = DefaultRateLimit
	}
	if burst == 0 {
		burst = 1
	}
	hc := cfg.HTTPClient
	if hc == nil {
		hc = &http.Client{Timeout: DefaultTimeout}
	}
	cio := customerio.NewTrackClient(cfg.SiteID, cfg.APIKey,
		customerio.WithHTTPClient(headerCapture{hc}))
	cio.URL = base
	return &Track{
		base:   base,
		siteID: cfg.SiteID,
		apiKey: cfg.APIKey,
		cio:    cio,
		http:   hc,
		lim:    rate.NewLimiter(rate.Limit(limit), burst),
		now:    time.Now,
		sleep:  sleepCtx,
	}, nil
}

// baseURL picks the Track host: the override if set, else the region's.
func baseURL(region, override string) (string, error) {
	base, err := cioregion.BaseURL(region, override, customerio.Region.TrackURL)
	if err != nil {
		return "", fmt.Errorf("actions: %w", err)
	}
	return base, nil
}

// String keeps credentials out of %v.
func (t *Track) String() string { return "actions.Track(" + t.base + ")" }

// Do runs c against the Track API after the rate limiter admits it.
// It returns ErrNoPerson, a *RetryableError (wrapping ErrCredentials for a
// 401/403), an error wrapping ErrPermanent, or nil.
func (t *Track) Do(ctx context.Context, c Call) error {
	if c.Person == "" {
		return ErrNoPerson
	}
	if c.Kind != KindIdentify && c.Kind != KindSuppress {
		return fmt.Errorf("actions: %w: unknown action kind %q", ErrPermanent, c.Kind)
	}
	if err := t.wait(ctx); err != nil {
		return fmt.Errorf("actions: %s: %w", c.Kind, err)
	}
	var (
		status int
		header http.Header
		err    error
	)
	if c.Kind == KindIdentify {
		status, header, err = t.identify(ctx, c)
	} else {
		status, header, err = t.suppress(ctx, c)
	}
	if err != nil {
		if errors.Is(err, ErrPermanent) {
			return fmt.Errorf("actions: %s: %w", c.Kind, err)
		}
		return fmt.Errorf("actions: %s: %w", c.Kind, &RetryableError{Err: t.sanitize(err, c.Person)})
	}
	return t.classify(c.Kind, status, header)
}

func (t *Track) classify(kind Kind, status int, header http.Header) error {
	switch {
	case status >= 200 && status < 300:
		return nil
	case status == http.StatusTooManyRequests || status == http.StatusRequestTimeout || status >= 500:
		after := parseRetryAfter(header.Get("Retry-After"), t.now())
		if status == http.StatusTooManyRequests && after > 0 {
			t.hold(after)
		}
		return fmt.Errorf("actions: %s: %w", kind, &RetryableError{Status: status, RetryAfter: after})
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		return fmt.Errorf("actions: %s: %w", kind, &RetryableError{Status: status, Err: ErrCredentials})
	default:
		return fmt.Errorf("actions: %s: %w", kind, &StatusError{Status: status})
	}
}

// identify goes through the SDK; only a 200 is a nil error there, so the
// status comes back out of *CustomerIOError. Its text holds the URL (the
// person) and the body, so it is never passed on.
func (t *Track) identify(ctx context.Context, c Call) (int, http.Header, error) {
	attrs := make(map[string]any, len(c.Attributes)+1)
	maps.Copy(attrs, c.Attributes)
	attrs["_update"] = true // without it Customer.io recreates deleted people
	if _, err := json.Marshal(attrs); err != nil {
		// The json error text can quote the offending value.
		return 0, nil, fmt.Errorf("%w: attributes are not JSON-encodable", ErrPermanent)
	}
	var header http.Header
	err := t.cio.IdentifyCtx(context.WithValue(ctx, headerKey{}, &header), c.Person, attrs)
	var cerr *customerio.CustomerIOError
	switch {
	case err == nil:
		return http.StatusOK, header, nil
	case errors.As(err, &cerr):
		return cerr.StatusCode(), header, nil
	default:
		return 0, nil, err
	}
}

// suppress is hand-written: the SDK has no suppress.
func (t *Track) suppress(ctx context.Context, c Call) (int, http.Header, error) {
	u := t.base + "/api/v1/customers/" + url.PathEscape(c.Person) + "/suppress"
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, nil)
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Authorization", "Basic "+t.basicAuth())
	req.Header.Set("User-Agent", t.cio.UserAgent)
	resp, err := t.http.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	// Drain so the connection is reused; the status is all that matters.
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, resp.Header, nil
}

// sanitize strips the person and credentials from a transport error: a
// *url.Error quotes the full URL, whose path is the person.
func (t *Track) sanitize(err error, person string) error {
	var uerr *url.Error
	if errors.As(err, &uerr) {
		err = &url.Error{Op: uerr.Op, URL: t.base + "/api/v1/customers/[person]", Err: uerr.Err}
	}
	return redact(err, t.apiKey, t.basicAuth(), person, url.PathEscape(person))
}

// basicAuth encodes the credentials as the SDK does (URL alphabet), so both
// calls authenticate alike.
func (t *Track) basicAuth() string {
	return base64.URLEncoding.EncodeToString([]byte(t.siteID + ":" + t.apiKey))
}

// wait blocks until any 429 hold has passed and the limiter admits one
// call. A wait that would outlast ctx's deadline fails at once as
// retryable, so a long Retry-After turns into redelivery, not a hung call.
func (t *Track) wait(ctx context.Context) error {
	for {
		t.mu.Lock()
		d := t.holdUntil.Sub(t.now())
		t.mu.Unlock()
		if d <= 0 {
			break
		}
		if beyondDeadline(ctx, t.now(), d) {
			//lint:ignore ST1005 the message starts with the name Customer.io, which is spelled with a capital
			return &RetryableError{RetryAfter: d, Err: errors.New("Customer.io asked to slow down")}
		}
		if err := t.sleep(ctx, d); err != nil {
			return &RetryableError{Err: err}
		}
	}
	now := t.now()
	r := t.lim.ReserveN(now, 1)
	d := r.DelayFrom(now)
	if d == 0 {
		return nil
	}
	if beyondDeadline(ctx, now, d) {
		r.CancelAt(now)
		return &RetryableError{RetryAfter: d, Err: errors.New("rate limit wait exceeds the deadline")}
	}
	if err := t.sleep(ctx, d); err != nil {
		r.CancelAt(t.now())
		return &RetryableError{Err: err}
	}
	return nil
}

// hold makes every call wait until d from now; it only ever extends.
func (t *Track) hold(d time.Duration) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if until := t.now().Add(d); until.After(t.holdUntil) {
		t.holdUntil = until
	}
}

func beyondDeadline(ctx context.Context, now time.Time, d time.Duration) bool {
	deadline, ok := ctx.Deadline()
	return ok && now.Add(d).After(deadline)
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	tm := time.NewTimer(d)
	defer tm.Stop()
	select {
	case <-tm.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// parseRetryAfter reads delay-seconds or an HTTP date; junk, past dates and
// negative values mean no delay. The result is capped at maxRetryAfter.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	var d time.Duration
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs >= int64(maxRetryAfter/time.Second) {
			return maxRetryAfter
		}
		d = time.Duration(secs) * time.Second
	} else if at, err := http.ParseTime(v); err == nil {
		d = at.Sub(now)
	}
	return max(0, min(d, maxRetryAfter))
}

// headerKey carries a *http.Header through the SDK, which hides responses.
type headerKey struct{}

// headerCapture is the SDK's HTTP client: it hands the response headers to
// the request's context so identify can honour Retry-After.
type headerCapture struct{ c *http.Client }

func (h headerCapture) Do(req *http.Request) (*http.Response, error) {
	resp, err := h.c.Do(req)
	if resp != nil {
		if p, ok := req.Context().Value(headerKey{}).(*http.Header); ok {
			*p = resp.Header
		}
	}
	return resp, err
}
