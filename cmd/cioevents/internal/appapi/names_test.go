package appapi

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cioevents/cioevents/cmd/cioevents/internal/appapi/appapifake"
)

// The client decodes the reference's own response bodies.
func TestNamesFixtures(t *testing.T) {
	dir := filepath.Join("appapifake", "testdata", "responses")
	read := func(name string, v any) {
		t.Helper()
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(b, v); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
	var c struct{ Campaigns []Campaign }
	read("campaigns.json", &c)
	if len(c.Campaigns) != 1 || c.Campaigns[0].ID != 5 || c.Campaigns[0].Name != "Onboarding Campaign" ||
		c.Campaigns[0].Actions == nil || len(*c.Campaigns[0].Actions) != 1 {
		t.Errorf("campaigns: %+v", c.Campaigns)
	}
	var b struct{ Broadcasts []Broadcast }
	read("broadcasts.json", &b)
	if len(b.Broadcasts) != 1 || b.Broadcasts[0].Name != "basic" || len(*b.Broadcasts[0].Actions) != 3 {
		t.Errorf("broadcasts: %+v", b.Broadcasts)
	}
	var a struct{ Actions []Action }
	read("campaign_actions.json", &a)
	if len(a.Actions) != 1 || a.Actions[0].Name != "Opening Message" || *a.Actions[0].CampaignID != 5 {
		t.Errorf("campaign actions: %+v", a.Actions)
	}
	read("broadcast_actions.json", &a)
	if len(a.Actions) != 1 || *a.Actions[0].BroadcastID != 2 {
		t.Errorf("broadcast actions: %+v", a.Actions)
	}
	var n struct{ Newsletters []Newsletter }
	read("newsletters.json", &n)
	if len(n.Newsletters) != 1 || n.Newsletters[0].SentAt != nil || !slices.Equal(*n.Newsletters[0].ContentIDs, []int64{45, 90}) {
		t.Errorf("newsletters: %+v", n.Newsletters)
	}
	var ct struct{ Contents []Content }
	read("newsletter_contents.json", &ct)
	if len(ct.Contents) != 1 || ct.Contents[0].Name != "newsletter variant A" || *ct.Contents[0].NewsletterID != 128275 {
		t.Errorf("contents: %+v", ct.Contents)
	}
	var tm struct{ Messages []Transactional }
	read("transactional.json", &tm)
	if len(tm.Messages) != 1 || tm.Messages[0].Name != "password reset" {
		t.Errorf("transactional: %+v", tm.Messages)
	}
}

func namesFake(t *testing.T) (*appapifake.Server, *Client) {
	t.Helper()
	fake := appapifake.New("app-key")
	t.Cleanup(fake.Close)
	fake.SetNames(appapifake.SampleCatalog(), t0)
	return fake, newClient(t, fake, Config{})
}

func TestNamesEndpoints(t *testing.T) {
	_, c := namesFake(t)
	ctx := context.Background()
	cs, err := c.Campaigns(ctx)
	if err != nil || len(cs) != 4 || cs[0].ID != 42 || cs[0].Name != "Onboarding: welcome series" {
		t.Fatalf("campaigns %+v, %v", cs, err)
	}
	as, err := c.CampaignActions(ctx, 42)
	if err != nil || len(as) != 4 || as[1].ID != 117 || as[1].Name != "Day 3: tips to get started" || *as[1].CampaignID != 42 {
		t.Fatalf("actions %+v, %v", as, err)
	}
	bs, err := c.Broadcasts(ctx)
	if err != nil || len(bs) != 2 {
		t.Fatalf("broadcasts %+v, %v", bs, err)
	}
	ba, err := c.BroadcastActions(ctx, 14)
	if err != nil || len(ba) != 2 || *ba[0].BroadcastID != 14 {
		t.Fatalf("broadcast actions %+v, %v", ba, err)
	}
	ns, err := c.Newsletters(ctx)
	if err != nil || len(ns) != 3 || len(*ns[0].ContentIDs) != 2 {
		t.Fatalf("newsletters %+v, %v", ns, err)
	}
	cts, err := c.NewsletterContents(ctx, 88)
	if err != nil || len(cts) != 2 || cts[1].Name != "Deutsch" {
		t.Fatalf("contents %+v, %v", cts, err)
	}
	ts, err := c.TransactionalMessages(ctx)
	if err != nil || len(ts) != len(appapifake.SampleCatalog().Transactional) || ts[0].Name != "Password reset" {
		t.Fatalf("transactional %+v, %v", ts, err)
	}
	if _, err := c.CampaignActions(ctx, 999); !errors.Is(err, ErrNotFound) {
		t.Errorf("actions of a missing campaign: %v, want ErrNotFound", err)
	}
}

// The failures the real service has: each is retried until the list is
// whole, and a 404 or a refused key is not retried.
func TestNamesFailures(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name      string
		fail      func(*appapifake.Server)
		wantCalls int
	}{
		{"429 with Retry-After", func(f *appapifake.Server) { f.FailNext(2, http.StatusTooManyRequests, "3") }, 3},
		{"503", func(f *appapifake.Server) { f.FailNext(1, http.StatusServiceUnavailable, "") }, 2},
		{"lost response", func(f *appapifake.Server) { f.LoseNext(1) }, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake, c := namesFake(t)
			tt.fail(fake)
			cs, err := c.Campaigns(ctx)
			if err != nil || len(cs) != 4 {
				t.Fatalf("campaigns %d, %v", len(cs), err)
			}
			// A lost response on a reused connection may also be retried
			// by the transport itself: at least wantCalls reached the fake.
			if got := fake.NamesCalls(); got < tt.wantCalls {
				t.Errorf("%d calls, want %d", got, tt.wantCalls)
			}
		})
	}

	t.Run("timeout", func(t *testing.T) {
		fake := appapifake.New("app-key")
		t.Cleanup(fake.Close)
		fake.SetNames(appapifake.SampleCatalog(), t0)
		fake.StallNext(1)
		// The stalled request ends when the client's timeout fires, however
		// long that takes on a busy machine; then the retry is answered.
		c := newClient(t, fake, Config{HTTPClient: &http.Client{Timeout: 2 * time.Second}, BaseURL: fake.URL()})
		ts, err := c.TransactionalMessages(ctx)
		if err != nil || len(ts) != len(appapifake.SampleCatalog().Transactional) {
			t.Fatalf("after a timeout: %d, %v", len(ts), err)
		}
	})

	t.Run("404 is not retried", func(t *testing.T) {
		fake, c := namesFake(t)
		fake.DeleteNamed("/v1/broadcasts/14/actions")
		_, err := c.BroadcastActions(ctx, 14)
		if !errors.Is(err, ErrNotFound) {
			t.Fatalf("deleted broadcast: %v", err)
		}
		if fake.NamesCalls() != 1 {
			t.Errorf("%d calls for a 404", fake.NamesCalls())
		}
	})

	t.Run("wrong key", func(t *testing.T) {
		fake, _ := namesFake(t)
		c := newClient(t, fake, Config{Key: "other"})
		if _, err := c.Campaigns(ctx); !errors.Is(err, ErrUnauthorized) {
			t.Fatalf("wrong key: %v", err)
		}
	})

	t.Run("gives up", func(t *testing.T) {
		fake, _ := namesFake(t)
		c := newClient(t, fake, Config{MaxAttempts: 3})
		fake.FailNext(5, http.StatusBadGateway, "")
		if _, err := c.Newsletters(ctx); err == nil || !strings.Contains(err.Error(), "gave up after 3 attempts") {
			t.Fatalf("persistent 502: %v", err)
		}
	})
}

// A list that comes in pages is read whole, following `next` as `start`.
func TestNamesPaging(t *testing.T) {
	fake, c := namesFake(t)
	fake.PageNames(1)
	cs, err := c.Campaigns(context.Background())
	if err != nil || len(cs) != 4 {
		t.Fatalf("paged campaigns: %d, %v", len(cs), err)
	}
	var ids []int64
	for _, x := range cs {
		ids = append(ids, x.ID)
	}
	if !slices.Equal(ids, []int64{42, 57, 63, 104}) {
		t.Errorf("ids %v", ids)
	}
	if fake.NamesCalls() != 4 {
		t.Errorf("%d calls for 4 pages of 1", fake.NamesCalls())
	}
}

// A body without the list is an error, never an empty list.
func TestNamesUnexpectedBody(t *testing.T) {
	srv := http.NewServeMux()
	srv.HandleFunc("GET /v1/campaigns", func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte(`{"meta":{}}`)) })
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	c := newClient(t, nil, Config{BaseURL: ts.URL})
	if _, err := c.Campaigns(context.Background()); err == nil || !strings.Contains(err.Error(), `no "campaigns" list`) {
		t.Fatalf("body without the list: %v", err)
	}
}
