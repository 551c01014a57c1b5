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

// The client's list of event types is the API's enum, which the fake
// enforces: a name the API does not know would be refused with 400.
func TestWebhookEventsAreTheAPIEnum(t *testing.T) {
	if !slices.Equal(slices.Sorted(slices.Values(WebhookEvents)), slices.Sorted(slices.Values(appapifake.EventTypes))) {
		t.Fatalf("WebhookEvents differs from the API enum:\n%v\n%v", WebhookEvents, appapifake.EventTypes)
	}
}

func TestWebhooksRoundTrip(t *testing.T) {
	ctx := context.Background()
	fake := appapifake.New("app-key")
	defer fake.Close()
	c := newClient(t, fake, Config{})

	created, err := c.CreateWebhook(ctx, Webhook{Name: "cioevents", Endpoint: "https://a.example/", Events: WebhookEvents})
	if err != nil {
		t.Fatal(err)
	}
	if created.ID == 0 || created.Type != "webhook" {
		t.Fatalf("created %+v: want an ID and type webhook", created)
	}
	created.Disabled = true
	created.Events = []string{"email_sent"}
	if _, err := c.UpdateWebhook(ctx, created); err != nil {
		t.Fatal(err)
	}
	list, err := c.Webhooks(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 || !list[0].Disabled || !slices.Equal(list[0].Events, []string{"email_sent"}) {
		t.Fatalf("list = %+v, want the one webhook, updated in place", list)
	}

	_, err = c.UpdateWebhook(ctx, Webhook{ID: 999, Name: "x", Endpoint: "https://a.example/", Events: []string{"email_sent"}})
	if !errors.Is(err, ErrNotFound) {
		t.Errorf("update of a deleted webhook: %v, want ErrNotFound", err)
	}
	_, err = c.CreateWebhook(ctx, Webhook{Name: "x", Endpoint: "https://a.example/", Events: []string{"email_deferrred"}})
	if err == nil || !strings.Contains(err.Error(), "HTTP 400") {
		t.Errorf("unknown event type: %v, want HTTP 400", err)
	}
}

func TestWebhooksErrors(t *testing.T) {
	ctx := context.Background()
	fake := appapifake.New("app-key")
	defer fake.Close()

	bad := newClient(t, fake, Config{Key: "wrong"})
	if _, err := bad.Webhooks(ctx); !errors.Is(err, ErrUnauthorized) {
		t.Errorf("wrong key: %v, want ErrUnauthorized", err)
	}

	c := newClient(t, fake, Config{})
	var waits []time.Duration
	c.sleep = func(_ context.Context, d time.Duration) error { waits = append(waits, d); return nil }
	fake.FailNext(2, http.StatusTooManyRequests, "7")
	if _, err := c.Webhooks(ctx); err != nil {
		t.Fatalf("after two 429s: %v", err)
	}
	if !slices.Equal(waits, []time.Duration{7 * time.Second, 7 * time.Second}) {
		t.Errorf("waited %v, want Retry-After (7 s) twice", waits)
	}
	var n int
	for _, call := range fake.Calls() {
		if call.Path == "/v1/reporting_webhooks" && call.Status != http.StatusUnauthorized {
			n++
		}
	}
	if n != 3 {
		t.Errorf("%d list calls, want 3 (two throttled, one answered)", n)
	}
}

// The region picks the host, and a key is valid in its own region only.
func TestWebhooksRegionHost(t *testing.T) {
	ctx := context.Background()
	fake := appapifake.New("app-key")
	defer fake.Close()
	fake.SetRegion("eu")
	us := newClient(t, fake, Config{HTTPClient: fake.Client()})
	if _, err := us.Webhooks(ctx); !errors.Is(err, ErrUnauthorized) {
		t.Errorf("US host for an EU workspace: %v, want ErrUnauthorized", err)
	}
	eu := newClient(t, fake, Config{Region: "eu", HTTPClient: fake.Client()})
	if _, err := eu.Webhooks(ctx); err != nil {
		t.Fatal(err)
	}
	calls := fake.Calls()
	if got := calls[len(calls)-1].Host; got != appapifake.HostEU {
		t.Errorf("EU client called %s, want %s", got, appapifake.HostEU)
	}
}

// A create whose outcome is unknown is never sent again: each fault of the
// fake makes (or not) the webhook and leaves the client unable to tell, so
// the client says so (ErrUncertain) after exactly one POST. A 429, refused
// before any work, is retried.
func TestCreateIsNotRetriedAfterAnUncertainOutcome(t *testing.T) {
	for _, c := range []struct {
		name    string
		fault   appapifake.Fault
		created int
	}{
		{"5xx before the work", appapifake.Refuse, 0},
		{"5xx after the work", appapifake.ErrorAfter, 1},
		{"lost response", appapifake.LoseResponse, 1},
		{"timeout", appapifake.Hang, 1},
	} {
		t.Run(c.name, func(t *testing.T) {
			fake := appapifake.New("app-key")
			defer fake.Close()
			// The timeout only ends the hang; no outcome depends on its length.
			cl := newClient(t, fake, Config{HTTPClient: &http.Client{Timeout: 200 * time.Millisecond}, BaseURL: fake.URL()})
			fake.FailCall(appapifake.CallCreate, c.fault)
			_, err := cl.CreateWebhook(context.Background(), Webhook{Name: "n", Endpoint: "https://a.example/", Events: []string{"email_sent"}})
			if !errors.Is(err, ErrUncertain) {
				t.Fatalf("err = %v, want ErrUncertain", err)
			}
			posts := 0
			for _, call := range fake.Calls() {
				if call.Method == http.MethodPost {
					posts++
				}
			}
			if posts != 1 || len(fake.Webhooks()) != c.created {
				t.Errorf("%d POSTs and %d webhooks, want 1 POST and %d", posts, len(fake.Webhooks()), c.created)
			}
		})
	}
	fake := appapifake.New("app-key")
	defer fake.Close()
	cl := newClient(t, fake, Config{})
	fake.FailNext(1, http.StatusTooManyRequests, "1")
	if _, err := cl.CreateWebhook(context.Background(), Webhook{Name: "n", Endpoint: "https://a.example/", Events: []string{"email_sent"}}); err != nil {
		t.Fatalf("after a 429: %v", err)
	}
	if n := len(fake.Webhooks()); n != 1 {
		t.Errorf("%d webhooks after a 429 and a retry, want 1", n)
	}
}
