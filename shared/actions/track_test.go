package actions_test

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/cioevents/cioevents/shared/actions"
	"github.com/cioevents/cioevents/shared/actions/trackfake"
)

const (
	siteID = "site0123"
	apiKey = "key-s3cr3t-abcdef"
)

func newTrack(t *testing.T, fake *trackfake.Server, key string) *actions.Track {
	t.Helper()
	tr, err := actions.NewTrack(actions.TrackConfig{
		SiteID: siteID, APIKey: key, BaseURL: fake.URL(), HTTPClient: fake.Client(),
		RateLimit: 1000, Burst: 100, // the limiter has its own test
	})
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

func identify(person string) actions.Call {
	return actions.Call{
		Step: "action:0:identify", Kind: actions.KindIdentify, Person: person,
		Attributes: map[string]any{"email_bounce_reason": "mailbox-full-secret-reason", "email_bounced": true},
	}
}

func suppress(person string) actions.Call {
	return actions.Call{Step: "action:0:suppress", Kind: actions.KindSuppress, Person: person}
}

func TestTrackSendsPlannedIdentify(t *testing.T) {
	fake := trackfake.New(siteID, apiKey)
	defer fake.Close()
	tr := newTrack(t, fake, apiKey)

	calls := actions.DefaultPolicy().Plan(fixture(t, "email_bounced.json"))
	for _, c := range calls {
		if err := tr.Do(context.Background(), c); err != nil {
			t.Fatalf("Do: %v", err)
		}
	}
	got := fake.Calls()
	if len(got) != 1 {
		t.Fatalf("fake saw %d calls, want 1", len(got))
	}
	c := got[0]
	if c.Method != http.MethodPut || c.Path != "/api/v1/customers/cio_d9c106000001" || c.Status != http.StatusOK {
		t.Errorf("got %s %s -> %d", c.Method, c.Path, c.Status)
	}
	body, _ := c.Body.(map[string]any)
	want := map[string]any{
		"_update": true, "email_bounced": true, "email_bounced_at": float64(1700000000),
		"email_bounce_reason": "550 5.1.1 mailbox does not exist",
	}
	if len(body) != len(want) {
		t.Errorf("body %v, want %v", body, want)
	}
	for k, v := range want {
		if body[k] != v {
			t.Errorf("body[%q] = %v, want %v", k, body[k], v)
		}
	}
}

func TestTrackPaths(t *testing.T) {
	fake := trackfake.New(siteID, apiKey)
	defer fake.Close()
	tr := newTrack(t, fake, apiKey)

	tests := []struct {
		call                 actions.Call
		method, path, person string
	}{
		{identify("42"), http.MethodPut, "/api/v1/customers/42", "42"},
		{identify("a+b@example.com"), http.MethodPut, "/api/v1/customers/a+b@example.com", "a+b@example.com"},
		{identify("x/y z"), http.MethodPut, "/api/v1/customers/x%2Fy%20z", "x/y z"},
		{suppress("cio_d9c1"), http.MethodPost, "/api/v1/customers/cio_d9c1/suppress", "cio_d9c1"},
		{suppress("x/y"), http.MethodPost, "/api/v1/customers/x%2Fy/suppress", "x/y"},
	}
	for i, tt := range tests {
		if err := tr.Do(context.Background(), tt.call); err != nil {
			t.Fatalf("%s %s: %v", tt.method, tt.path, err)
		}
		got := fake.Calls()[i]
		if got.Method != tt.method || got.Path != tt.path || got.Person != tt.person || got.Status != http.StatusOK {
			t.Errorf("got %s %s (person %q) -> %d, want %s %s (person %q)",
				got.Method, got.Path, got.Person, got.Status, tt.method, tt.path, tt.person)
		}
		if tt.call.Kind == actions.KindIdentify {
			// Even a Call built by hand without it gets _update: true.
			if body, _ := got.Body.(map[string]any); body["_update"] != true {
				t.Errorf("%s: body %v lacks _update: true", tt.path, got.Body)
			}
		}
	}
}

func TestTrackNoPerson(t *testing.T) {
	fake := trackfake.New(siteID, apiKey)
	defer fake.Close()
	tr := newTrack(t, fake, apiKey)
	for _, c := range []actions.Call{identify(""), suppress("")} {
		if err := tr.Do(context.Background(), c); !errors.Is(err, actions.ErrNoPerson) {
			t.Errorf("%s: err = %v, want ErrNoPerson", c.Kind, err)
		}
	}
	if n := len(fake.Calls()); n != 0 {
		t.Errorf("fake saw %d calls, want 0", n)
	}
}

func TestTrackStatuses(t *testing.T) {
	const person = "ada@example.com"
	retryDate := time.Now().Add(30 * time.Minute).UTC().Format(http.TimeFormat)
	tests := []struct {
		name       string
		status     int
		retryAfter string
		retryable  bool
		minAfter   time.Duration // RetryAfter bounds when retryable
		maxAfter   time.Duration
	}{
		{"429 with seconds", 429, "30", true, 30 * time.Second, 30 * time.Second},
		{"429 with date", 429, retryDate, true, 20 * time.Minute, 30 * time.Minute},
		{"429 without header", 429, "", true, 0, 0},
		{"503", 503, "", true, 0, 0},
		{"503 with seconds", 503, "5", true, 5 * time.Second, 5 * time.Second},
		{"500", 500, "", true, 0, 0},
		{"408", 408, "", true, 0, 0},
		{"400", 400, "", false, 0, 0},
		{"401", 401, "", true, 0, 0},
		{"403", 403, "", true, 0, 0},
		{"404", 404, "", false, 0, 0},
		{"422", 422, "", false, 0, 0},
	}
	for _, kind := range []actions.Call{identify(person), suppress(person)} {
		for _, tt := range tests {
			t.Run(string(kind.Kind)+" "+tt.name, func(t *testing.T) {
				fake := trackfake.New(siteID, apiKey)
				defer fake.Close()
				tr := newTrack(t, fake, apiKey)
				fake.FailNext(1, tt.status, tt.retryAfter)

				err := tr.Do(context.Background(), kind)
				if err == nil {
					t.Fatal("no error")
				}
				assertClean(t, err, person)
				after, retryable := actions.IsRetryable(err)
				if retryable != tt.retryable {
					t.Fatalf("retryable = %v, want %v (err %v)", retryable, tt.retryable, err)
				}
				if errors.Is(err, actions.ErrPermanent) == tt.retryable {
					t.Errorf("ErrPermanent = %v, want %v", !tt.retryable, !tt.retryable)
				}
				if after < tt.minAfter || after > tt.maxAfter {
					t.Errorf("RetryAfter = %v, want in [%v, %v]", after, tt.minAfter, tt.maxAfter)
				}
				var re *actions.RetryableError
				if tt.retryable && (!errors.As(err, &re) || re.Status != tt.status) {
					t.Errorf("RetryableError status = %+v, want %d", re, tt.status)
				}
				if !strings.Contains(err.Error(), string(kind.Kind)) {
					t.Errorf("error %q does not name the kind", err)
				}
			})
		}
	}
}

func TestTrackBadCredentials(t *testing.T) {
	fake := trackfake.New(siteID, apiKey)
	defer fake.Close()
	tr := newTrack(t, fake, "wrong-key-value")
	for _, c := range []actions.Call{identify("42"), suppress("42")} {
		err := tr.Do(context.Background(), c)
		// Retryable, so a revoked or rotated key loses no update: the
		// events dead-letter and are replayed once the key is fixed.
		_, retry := actions.IsRetryable(err)
		if !retry || !errors.Is(err, actions.ErrCredentials) || errors.Is(err, actions.ErrPermanent) || !strings.Contains(err.Error(), "401") {
			t.Errorf("%s: err = %v, want retryable 401 credentials error", c.Kind, err)
		}
		assertClean(t, err, "42")
		if strings.Contains(err.Error(), "wrong-key-value") {
			t.Errorf("error leaks the key: %v", err)
		}
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

type timeoutError struct{}

func (timeoutError) Error() string   { return "i/o timeout" }
func (timeoutError) Timeout() bool   { return true }
func (timeoutError) Temporary() bool { return true }

func TestTrackTransportErrors(t *testing.T) {
	const person = "ada@example.com"
	closed := trackfake.New(siteID, apiKey)
	closedURL := closed.URL()
	closed.Close()

	tests := []struct {
		name    string
		client  *http.Client
		base    string
		ctx     func() (context.Context, context.CancelFunc)
		wantErr error // errors.Is target, if any
	}{
		{"connection refused", &http.Client{}, closedURL, nil, nil},
		{"timeout", &http.Client{Transport: roundTripFunc(func(*http.Request) (*http.Response, error) {
			return nil, timeoutError{}
		})}, "https://track.example", nil, nil},
		// A transport whose error quotes the request: only redaction stops the leak.
		{"error quoting the URL", &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
			return nil, fmt.Errorf("proxy refused %s with %s", r.URL.Path, r.Header.Get("Authorization"))
		})}, "https://track.example", nil, nil},
		{"cancelled", &http.Client{}, "https://track.example", func() (context.Context, context.CancelFunc) {
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			return ctx, cancel
		}, context.Canceled},
	}
	for _, tt := range tests {
		for _, c := range []actions.Call{identify(person), suppress(person)} {
			t.Run(tt.name+" "+string(c.Kind), func(t *testing.T) {
				tr, err := actions.NewTrack(actions.TrackConfig{SiteID: siteID, APIKey: apiKey, BaseURL: tt.base, HTTPClient: tt.client})
				if err != nil {
					t.Fatal(err)
				}
				ctx := context.Background()
				if tt.ctx != nil {
					var cancel context.CancelFunc
					ctx, cancel = tt.ctx()
					defer cancel()
				}
				err = tr.Do(ctx, c)
				if _, ok := actions.IsRetryable(err); !ok {
					t.Fatalf("err = %v, want retryable", err)
				}
				if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
					t.Errorf("err = %v, want it to wrap %v", err, tt.wantErr)
				}
				assertClean(t, err, person)
			})
		}
	}
}

func TestTrackUnencodable(t *testing.T) {
	fake := trackfake.New(siteID, apiKey)
	defer fake.Close()
	tr := newTrack(t, fake, apiKey)
	c := identify("42")
	c.Attributes["bad"] = make(chan int)
	if err := tr.Do(context.Background(), c); !errors.Is(err, actions.ErrPermanent) {
		t.Errorf("err = %v, want permanent", err)
	}
	c = actions.Call{Kind: "delete", Person: "42"}
	if err := tr.Do(context.Background(), c); !errors.Is(err, actions.ErrPermanent) {
		t.Errorf("unknown kind: err = %v, want permanent", err)
	}
	if n := len(fake.Calls()); n != 0 {
		t.Errorf("fake saw %d calls, want 0", n)
	}
}

func TestNewTrackErrors(t *testing.T) {
	tests := []struct {
		name string
		cfg  actions.TrackConfig
		want string
	}{
		{"no site", actions.TrackConfig{APIKey: apiKey}, "site ID"},
		{"no key", actions.TrackConfig{SiteID: siteID}, "API key"},
		{"bad region", actions.TrackConfig{SiteID: siteID, APIKey: apiKey, Region: "ap"}, `region "ap"`},
		{"bad base", actions.TrackConfig{SiteID: siteID, APIKey: apiKey, BaseURL: "track.customer.io"}, "base URL"},
		{"credentials in base", actions.TrackConfig{SiteID: siteID, APIKey: apiKey, BaseURL: "https://u:" + apiKey + "@h"}, "base URL"},
		{"negative rate", actions.TrackConfig{SiteID: siteID, APIKey: apiKey, RateLimit: -1}, "negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := actions.NewTrack(tt.cfg)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want it to mention %q", err, tt.want)
			}
			if strings.Contains(err.Error(), apiKey) {
				t.Errorf("error leaks the key: %v", err)
			}
		})
	}
}

// assertClean fails if err's text carries the person, the key or an
// attribute value.
func assertClean(t *testing.T, err error, person string) {
	t.Helper()
	auth := base64.URLEncoding.EncodeToString([]byte(siteID + ":" + apiKey))
	for _, secret := range []string{person, apiKey, auth, "mailbox-full-secret-reason"} {
		if strings.Contains(err.Error(), secret) {
			t.Errorf("error %q leaks %q", err, secret)
		}
	}
}

func BenchmarkTrackIdentify(b *testing.B) {
	fake := trackfake.New(siteID, apiKey)
	defer fake.Close()
	tr, err := actions.NewTrack(actions.TrackConfig{
		SiteID: siteID, APIKey: apiKey, BaseURL: fake.URL(), HTTPClient: fake.Client(), RateLimit: 1e9, Burst: 1,
	})
	if err != nil {
		b.Fatal(err)
	}
	c := identify("cio_d9c106000001")
	b.ReportAllocs()
	for b.Loop() {
		if err := tr.Do(context.Background(), c); err != nil {
			b.Fatal(err)
		}
	}
}
