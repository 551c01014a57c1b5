package connect_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cioevents/cioevents/cmd/cioevents/internal/appapi"
	"github.com/cioevents/cioevents/cmd/cioevents/internal/appapi/appapifake"
	"github.com/cioevents/cioevents/cmd/cioevents/internal/connect"
	"github.com/cioevents/cioevents/cmd/cioevents/internal/secretstore"
	"github.com/cioevents/cioevents/cmd/cioevents/internal/secretstore/secretstorefake"
	"github.com/cioevents/cioevents/shared/config"
	"github.com/cioevents/cioevents/shared/signature"
)

const (
	deployed   = "https://cioevents-receiver-abc-uc.a.run.app"
	secretName = "projects/my-project/secrets/cioevents-webhook-signing-keys"
	theKey     = "c10-s1gning-k3y-0f-the-webhook"
)

type rig struct {
	api     *appapifake.Server
	sm      *secretstorefake.Server
	env     map[string]string
	stdin   string
	tfCalls int
	// apiHTTP is the App API's client (default: the fake's).
	apiHTTP *http.Client
	// smDown makes Secret Manager unreachable.
	smDown bool

	recv *httptest.Server
	mu   sync.Mutex
	// stale, when not nil, are the keys the receiver verifies with: an
	// instance started before the new version. Nil: it loads the secret's
	// latest version, as an instance starting now.
	stale []string
	// live lists every moment a webhook to the receiver was live while
	// the receiver did not accept its key.
	unverifiable []string
}

func newRig(t testing.TB) *rig {
	t.Helper()
	r := &rig{api: appapifake.New("app-key"), env: map[string]string{appapi.EnvKey: "app-key"}}
	t.Cleanup(r.api.Close)
	sm, err := secretstorefake.New()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sm.Close)
	r.sm = sm
	r.recv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		keys := r.receiverKeys()
		if _, err := signature.Verify(body, req.Header.Get(signature.HeaderTimestamp), req.Header.Get(signature.HeaderSignature), keys...); err != nil {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(r.recv.Close)
	// The invariant of every test: whenever the App API stores a live
	// webhook to the receiver, the receiver already verifies its key.
	r.api.OnChange(func(w appapifake.Webhook) {
		if w.Disabled || strings.TrimRight(w.Endpoint, "/") != deployed {
			return
		}
		for _, k := range r.receiverKeys() {
			if string(k) == theKey {
				return
			}
		}
		r.mu.Lock()
		r.unverifiable = append(r.unverifiable, fmt.Sprintf("webhook %d live", w.ID))
		r.mu.Unlock()
	})
	t.Cleanup(func() {
		r.mu.Lock()
		defer r.mu.Unlock()
		if len(r.unverifiable) > 0 {
			t.Errorf("a live webhook pointed at a receiver without its key: %v", r.unverifiable)
		}
	})
	return r
}

// receiverKeys are the keys the receiver verifies with now.
func (r *rig) receiverKeys() [][]byte {
	r.mu.Lock()
	stale := r.stale
	r.mu.Unlock()
	list := strings.Join(stale, ",")
	if stale == nil {
		if vs := r.sm.Versions(secretName); len(vs) > 0 {
			list = string(vs[len(vs)-1])
		}
	}
	keys, _ := config.ParseSigningKeys(list)
	var out [][]byte
	for _, k := range keys {
		out = append(out, k.Key)
	}
	return out
}

func (r *rig) setStale(keys []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.stale = keys
}

// run runs connect with args and returns stdout+stderr.
func (r *rig) run(t testing.TB, args ...string) (string, error) {
	t.Helper()
	var out bytes.Buffer
	apiHTTP := r.apiHTTP
	if apiHTTP == nil {
		apiHTTP = r.api.Client()
	}
	target, _ := url.Parse(r.recv.URL)
	err := connect.Command(context.Background(), args, connect.Env{
		Getenv: func(k string) string { return r.env[k] },
		Stdin:  strings.NewReader(r.stdin),
		Stdout: &out, Stderr: &out,
		Terraform: func(_ context.Context, dir string) ([]byte, error) {
			r.tfCalls++
			if filepath.Base(dir) != "terraform" || !filepath.IsAbs(dir) {
				t.Errorf("terraform ran in %s, want the repository's terraform/", dir)
			}
			return os.ReadFile("testdata/terraform-output.json")
		},
		HTTPClient: apiHTTP,
		// Every receiver URL reaches the test's receiver.
		Receiver: &http.Client{Transport: roundTripper(func(req *http.Request) (*http.Response, error) {
			req = req.Clone(req.Context())
			req.URL.Scheme, req.URL.Host = target.Scheme, target.Host
			return http.DefaultTransport.RoundTrip(req)
		})},
		Secrets: func(ctx context.Context, project string) (secretstore.Store, error) {
			if r.smDown {
				return nil, errors.New("secretmanager.googleapis.com: connection refused")
			}
			return secretstore.New(ctx, project, r.sm.ClientOptions()...)
		},
	})
	if strings.Contains(out.String(), theKey) || (err != nil && strings.Contains(err.Error(), theKey)) {
		t.Fatalf("connect printed the signing key:\n%s", out.String())
	}
	return out.String(), err
}

type roundTripper func(*http.Request) (*http.Response, error)

func (f roundTripper) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func (r *rig) webhookCalls(method string) int {
	n := 0
	for _, c := range r.api.Calls() {
		if c.Method == method && strings.HasPrefix(c.Path, "/v1/reporting_webhooks") {
			n++
		}
	}
	return n
}

func TestCreateThenNoOp(t *testing.T) {
	r := newRig(t)
	r.sm.AddSecret(secretName, []byte("placeholder"))
	r.stdin = theKey + "\n"
	out, err := r.run(t, "--signing-key-file", "-")
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	hooks := r.api.Webhooks()
	if len(hooks) != 1 || hooks[0].Endpoint != deployed || hooks[0].Disabled ||
		!slices.Equal(hooks[0].Events, appapi.WebhookEvents) {
		t.Fatalf("webhooks = %+v; want one enabled webhook to the terraform URL with every event type", hooks)
	}
	if r.tfCalls != 1 {
		t.Errorf("terraform output ran %d times, want 1", r.tfCalls)
	}
	vs := r.sm.Versions(secretName)
	if len(vs) != 2 || string(vs[1]) != theKey+",placeholder" {
		t.Errorf("secret versions %d, latest puts the key before the placeholder: %v", len(vs), len(vs) == 2 && string(vs[1]) == theKey+",placeholder")
	}
	if !strings.Contains(out, "webhook: created id 1 (disabled)") || !strings.Contains(out, "probe signed with the key was accepted") || !strings.Contains(out, "stored as version 2 of secret cioevents-webhook-signing-keys") {
		t.Errorf("output does not say what it did:\n%s", out)
	}

	// Rerun: nothing changes in Customer.io or Secret Manager.
	r.stdin = theKey + "\n"
	out, err = r.run(t, "--signing-key-file", "-")
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if n := r.webhookCalls(http.MethodPost) + r.webhookCalls(http.MethodPut); n != 2 {
		t.Errorf("%d create/update calls after a rerun, want the create (disabled) and the enable", n)
	}
	if len(r.sm.Versions(secretName)) != 2 {
		t.Errorf("a rerun with the same key added a version")
	}
	if !strings.Contains(out, "unchanged") || !strings.Contains(out, "no new version") {
		t.Errorf("rerun output:\n%s", out)
	}
}

// A webhook made by hand in the UI (disabled, some event types only) is
// updated in place, keeping its ID, name and options; other workspaces'
// keys stay in the secret, and a pinned version gets its exact line.
func TestUpdateInPlaceKeepsOtherWorkspaces(t *testing.T) {
	r := newRig(t)
	id := r.api.AddWebhook(appapifake.Webhook{Name: "made in the UI", Endpoint: deployed + "/", Disabled: true,
		WithContent: true, Events: []string{"email_sent", "email_bounced"}})
	r.sm.AddSecret(secretName, []byte("shop=SHOPKEY,oldkey,b2b=B2BKEY"))
	r.stdin = theKey
	out, err := r.run(t, "--signing-key-file", "-", "--tfvars", "testdata/prod.tfvars")
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	hooks := r.api.Webhooks()
	if len(hooks) != 1 || hooks[0].ID != id || hooks[0].Name != "made in the UI" || !hooks[0].WithContent ||
		hooks[0].Disabled || len(hooks[0].Events) != len(appapi.WebhookEvents) {
		t.Fatalf("webhooks = %+v; want webhook %d updated in place: enabled, every event, name and options kept", hooks, id)
	}
	for _, want := range []string{"enable it", "+ 70 event types", `change this line in testdata/prod.tfvars:
  signing_keys_version = "3"
to
  signing_keys_version = "2"`} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	vs := r.sm.Versions(secretName)
	if got := string(vs[len(vs)-1]); got != theKey+",shop=SHOPKEY,oldkey,b2b=B2BKEY" {
		t.Errorf("new version has the wrong entries (len %d); want the new default key first and every older entry kept", len(got))
	}
}

func TestDryRunChangesNothing(t *testing.T) {
	r := newRig(t)
	r.api.AddWebhook(appapifake.Webhook{Name: "x", Endpoint: deployed, Events: []string{"email_sent", "sms_sent"}})
	out, err := r.run(t, "--dry-run", "--events", "email_sent,email_bounced")
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	for _, want := range []string{"would update id 1", "+ 1 event types: email_bounced", "- 1 event types: sms_sent",
		"would add a new version of secret cioevents-webhook-signing-keys in project my-project"} {
		if !strings.Contains(out, want) {
			t.Errorf("dry run output lacks %q:\n%s", want, out)
		}
	}
	if n := r.webhookCalls(http.MethodPost) + r.webhookCalls(http.MethodPut); n != 0 || len(r.sm.Calls()) != 0 {
		t.Errorf("dry run made %d webhook writes and %d Secret Manager calls", n, len(r.sm.Calls()))
	}
}

// CIO_REGION=eu talks to the EU host; the fake refuses the US host for an
// EU workspace as the API does.
func TestEUHost(t *testing.T) {
	r := newRig(t)
	r.api.SetRegion("eu")
	out, err := r.run(t, "--skip-key", "--url", "https://eu.example/hook")
	if !errors.Is(err, appapi.ErrUnauthorized) {
		t.Fatalf("US host for an EU workspace: %v\n%s", err, out)
	}
	r.env["CIO_REGION"] = "eu"
	if out, err := r.run(t, "--skip-key", "--url", "https://eu.example/hook"); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	calls := r.api.Calls()
	if last := calls[len(calls)-1]; last.Host != appapifake.HostEU || last.Method != http.MethodPost {
		t.Errorf("last call %s %s, want POST to %s", last.Method, last.Host, appapifake.HostEU)
	}
	if r.tfCalls != 0 {
		t.Errorf("terraform ran although --url was given")
	}
}

func TestThrottledThenCreated(t *testing.T) {
	r := newRig(t)
	r.api.FailNext(1, http.StatusTooManyRequests, "1")
	if out, err := r.run(t, "--skip-key"); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if len(r.api.Webhooks()) != 1 {
		t.Fatal("no webhook after a 429")
	}
}

func TestErrorsNameTheCause(t *testing.T) {
	for _, c := range []struct {
		name  string
		setup func(r *rig)
		args  []string
		want  string
	}{
		{"no App API key", func(r *rig) { delete(r.env, appapi.EnvKey) }, nil, "CIO_APP_API_KEY is not set"},
		{"wrong App API key", func(r *rig) { r.env[appapi.EnvKey] = "nope" }, []string{"--skip-key"}, "App API key refused"},
		{"unknown event type", nil, []string{"--events", "email_sent,email_deferrred"}, `"email_deferrred" is not an event type`},
		{"no add permission", func(r *rig) {
			r.sm.AddSecret(secretName, []byte("k"))
			r.sm.Deny("AddSecretVersion")
			r.stdin = theKey
		}, nil, "your credentials need secretmanager.versions.add"},
		{"secret not created", func(r *rig) { r.stdin = theKey }, nil, "cioevents-webhook-signing-keys: not found"},
		{"empty key", func(r *rig) { r.sm.AddSecret(secretName, []byte("k")) }, nil, "no signing key given"},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := newRig(t)
			if c.setup != nil {
				c.setup(r)
			}
			out, err := r.run(t, c.args...)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("err = %v, want it to say %q\n%s", err, c.want, out)
			}
		})
	}
}

func TestMerge(t *testing.T) {
	for _, c := range []struct{ current, ws, key, want string }{
		{"", "default", "K", "K"},
		{"old", "default", "K", "K,old"},
		{"shop=S,old,default=older", "default", "K", "K,shop=S,old"},
		{"shop=S,old", "shop", "K", "shop=K,shop=S,old"},
		{"K", "default", "K", "K"},
		{"K2,K", "default", "K", "K2,K"},
		{"", "default", "a=b", "default=a=b"},
	} {
		got, _, _ := connect.Merge(c.current, c.ws, c.key)
		if got != c.want {
			t.Errorf("Merge(%q, %s, %s) = %q, want %q", c.current, c.ws, c.key, got, c.want)
		}
	}
}

// One webhook exists and is live; the secret's latest version holds the key.
func (r *rig) wantConnected(t *testing.T) {
	t.Helper()
	hooks := r.api.Webhooks()
	if len(hooks) != 1 || hooks[0].Disabled || hooks[0].Endpoint != deployed {
		t.Fatalf("webhooks = %+v; want exactly one, enabled, to %s", hooks, deployed)
	}
	vs := r.sm.Versions(secretName)
	if len(vs) == 0 || !strings.HasPrefix(string(vs[len(vs)-1]), theKey) {
		t.Fatalf("the secret's latest version does not start with the key")
	}
}

// An uncertain create (made, but the answer lost, late or a 5xx) is never
// sent again: connect lists the webhooks, adopts the one to the receiver
// and goes on. Each leaves exactly one webhook, live only after its key
// (the rig's OnChange checks every change).
func TestUncertainCreateIsAdopted(t *testing.T) {
	for _, c := range []struct {
		name  string
		fault appapifake.Fault
		say   string
	}{
		{"lost response", appapifake.LoseResponse, "EOF"},
		{"timeout", appapifake.Hang, "POST /v1/reporting_webhooks"},
		{"5xx after the create", appapifake.ErrorAfter, "HTTP 500"},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := newRig(t)
			r.sm.AddSecret(secretName, []byte("placeholder"))
			// The timeout only ends the fake's hang; no outcome depends on its length.
			r.apiHTTP = r.api.Client()
			r.apiHTTP.Timeout = 500 * time.Millisecond
			r.api.FailCall(appapifake.CallCreate, c.fault)
			r.stdin = theKey
			out, err := r.run(t, "--signing-key-file", "-")
			if err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			r.wantConnected(t)
			if n := r.webhookCalls(http.MethodPost); n != 1 {
				t.Errorf("%d creates, want 1", n)
			}
			if !strings.Contains(out, "no reliable answer") || !strings.Contains(out, "adopted") || !strings.Contains(out, c.say) {
				t.Errorf("output does not say the create's answer was lost and the webhook adopted:\n%s", out)
			}
		})
	}
}

// A create refused with a 5xx made nothing: the list shows none, connect
// says so and a rerun creates the one webhook.
func TestRefusedCreateThenRerun(t *testing.T) {
	r := newRig(t)
	r.sm.AddSecret(secretName, []byte("placeholder"))
	r.api.FailCall(appapifake.CallCreate, appapifake.Refuse)
	r.stdin = theKey
	out, err := r.run(t, "--signing-key-file", "-")
	if err == nil || !strings.Contains(err.Error(), "none was made: rerun connect") {
		t.Fatalf("err = %v, want it to say none was made\n%s", err, out)
	}
	if n := len(r.api.Webhooks()); n != 0 {
		t.Fatalf("%d webhooks after a refused create", n)
	}
	r.stdin = theKey
	if out, err := r.run(t, "--signing-key-file", "-"); err != nil {
		t.Fatalf("rerun: %v\n%s", err, out)
	}
	r.wantConnected(t)
}

// A failure between the steps leaves the one webhook disabled, never live
// without its key, and a rerun finishes the job with that same webhook.
func TestFailureBetweenSteps(t *testing.T) {
	for _, c := range []struct {
		name   string
		break_ func(r *rig)
		mend   func(r *rig)
		want   string
	}{
		{"list after a lost create fails", func(r *rig) {
			r.api.FailCall(appapifake.CallCreate, appapifake.LoseResponse)
			r.api.FailCall(appapifake.CallList, appapifake.Pass, appapifake.Forbid)
		}, nil, "rerun connect, it adopts a webhook it made"},
		{"Secret Manager down after the create", func(r *rig) { r.smDown = true }, func(r *rig) { r.smDown = false },
			"connection refused (webhook 1 left disabled)"},
		{"receiver has not loaded the key", func(r *rig) { r.setStale([]string{"placeholder"}) }, func(r *rig) { r.setStale(nil) },
			"answers 401 to a probe signed with the key"},
		{"enable fails", func(r *rig) {
			r.api.FailCall(appapifake.CallUpdate, appapifake.Forbid)
		}, nil, "update reporting webhook 1"},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := newRig(t)
			r.sm.AddSecret(secretName, []byte("placeholder"))
			c.break_(r)
			r.stdin = theKey
			out, err := r.run(t, "--signing-key-file", "-")
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want it to say %q\n%s", err, c.want, out)
			}
			if hooks := r.api.Webhooks(); len(hooks) > 1 || (len(hooks) == 1 && !hooks[0].Disabled) {
				t.Fatalf("after the failure: %+v; want at most one webhook, disabled", hooks)
			}
			if c.mend != nil {
				c.mend(r)
			}
			r.stdin = theKey
			if out, err := r.run(t, "--signing-key-file", "-"); err != nil {
				t.Fatalf("rerun: %v\n%s", err, out)
			}
			r.wantConnected(t)
		})
	}
}

// A webhook that is already live is never disabled, and is left as it was
// when the receiver does not accept the key given.
func TestLiveWebhookStaysAsItWas(t *testing.T) {
	r := newRig(t)
	r.sm.AddSecret(secretName, []byte(theKey))
	id := r.api.AddWebhook(appapifake.Webhook{Name: "live", Endpoint: deployed, Events: []string{"email_sent"}})
	r.setStale([]string{"an-older-key"})
	r.api.OnChange(nil)
	r.stdin = "a-new-key-of-the-webhook"
	out, err := r.run(t, "--signing-key-file", "-")
	if err == nil || !strings.Contains(err.Error(), "is live but") {
		t.Fatalf("err = %v\n%s", err, out)
	}
	hooks := r.api.Webhooks()
	if len(hooks) != 1 || hooks[0].ID != id || hooks[0].Disabled || len(hooks[0].Events) != 1 {
		t.Fatalf("webhooks = %+v; want the live one untouched", hooks)
	}
	vs := r.sm.Versions(secretName)
	if got := string(vs[len(vs)-1]); got != "a-new-key-of-the-webhook,"+theKey {
		t.Errorf("latest version keeps %d entries; want the new key first and the older one kept", strings.Count(got, ",")+1)
	}
}

// BenchmarkConnect is one first connect against the fakes: list, create
// (disabled), store the key, the signed probe, enable. Three App API calls
// under its 10 requests/s limit make most of it (about 0.2 s).
func BenchmarkConnect(b *testing.B) {
	for b.Loop() {
		b.StopTimer()
		r := newRig(b)
		r.sm.AddSecret(secretName, []byte("placeholder"))
		r.stdin = theKey
		b.StartTimer()
		if out, err := r.run(b, "--signing-key-file", "-"); err != nil {
			b.Fatalf("%v\n%s", err, out)
		}
	}
}

// A key pasted with its quotes is refused before it is stored or a webhook goes live: the
// receiver refuses a quoted key at start (config.CheckSecret), so storing it
// would stop the receiver serving.
func TestQuotedKeyRefusedBeforeAnyChange(t *testing.T) {
	r := newRig(t)
	r.sm.AddSecret(secretName, []byte("placeholder"))
	r.stdin = `"` + theKey + `"` + "\n"
	out, err := r.run(t, "--signing-key-file", "-")
	if err == nil || !strings.Contains(err.Error(), "wrapped in quotes") {
		t.Fatalf("err = %v, want a refusal of the quoted key\n%s", err, out)
	}
	// The key is pasted after the webhook exists, disabled, for a rerun to
	// adopt: a refused key must leave it disabled.
	for _, h := range r.api.Webhooks() {
		if !h.Disabled {
			t.Errorf("webhook %+v is live after a refused key", h)
		}
	}
	if n := len(r.sm.Versions(secretName)); n != 1 {
		t.Errorf("%d secret versions after a refused key, want the placeholder only", n)
	}
}
