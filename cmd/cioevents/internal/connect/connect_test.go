package connect_test

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/cioevents/cioevents/cmd/cioevents/internal/appapi"
	"github.com/cioevents/cioevents/cmd/cioevents/internal/appapi/appapifake"
	"github.com/cioevents/cioevents/cmd/cioevents/internal/connect"
	"github.com/cioevents/cioevents/cmd/cioevents/internal/secretstore"
	"github.com/cioevents/cioevents/cmd/cioevents/internal/secretstore/secretstorefake"
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
}

func newRig(t *testing.T) *rig {
	t.Helper()
	r := &rig{api: appapifake.New("app-key"), env: map[string]string{appapi.EnvKey: "app-key"}}
	t.Cleanup(r.api.Close)
	sm, err := secretstorefake.New()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sm.Close)
	r.sm = sm
	return r
}

// run runs connect with args and returns stdout+stderr.
func (r *rig) run(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var out bytes.Buffer
	err := connect.Command(context.Background(), args, connect.Env{
		Getenv: func(k string) string { return r.env[k] },
		Stdin:  strings.NewReader(r.stdin),
		Stdout: &out, Stderr: &out,
		Terraform: func(_ context.Context, dir string) ([]byte, error) {
			r.tfCalls++
			if dir != "terraform" {
				t.Errorf("terraform ran in %s", dir)
			}
			return os.ReadFile("testdata/terraform-output.json")
		},
		HTTPClient: r.api.Client(),
		Secrets: func(ctx context.Context, project string) (secretstore.Store, error) {
			return secretstore.New(ctx, project, r.sm.ClientOptions()...)
		},
	})
	if strings.Contains(out.String(), theKey) {
		t.Fatalf("connect printed the signing key:\n%s", out.String())
	}
	return out.String(), err
}

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
	if len(vs) != 2 || string(vs[1]) != theKey {
		t.Errorf("secret versions %d, latest replaces the placeholder with the key: %v", len(vs), len(vs) == 2 && string(vs[1]) == theKey)
	}
	if !strings.Contains(out, "webhook: created id 1") || !strings.Contains(out, "stored as version 2 of secret cioevents-webhook-signing-keys") {
		t.Errorf("output does not say what it did:\n%s", out)
	}

	// Rerun: nothing changes in Customer.io or Secret Manager.
	r.stdin = theKey + "\n"
	out, err = r.run(t, "--signing-key-file", "-")
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if n := r.webhookCalls(http.MethodPost) + r.webhookCalls(http.MethodPut); n != 1 {
		t.Errorf("%d create/update calls after a rerun, want the one create", n)
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
	for _, want := range []string{"enable it (it is disabled)", "+ 70 event types", `change this line in testdata/prod.tfvars:
  signing_keys_version = "3"
to
  signing_keys_version = "2"`} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	vs := r.sm.Versions(secretName)
	if got := string(vs[len(vs)-1]); got != theKey+",shop=SHOPKEY,b2b=B2BKEY" {
		t.Errorf("new version has the wrong entries (len %d); want the new default key first and shop, b2b kept", len(got))
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
		{"old", "default", "K", "K"},
		{"shop=S,old,default=older", "default", "K", "K,shop=S"},
		{"shop=S,old", "shop", "K", "shop=K,old"},
		{"K", "default", "K", "K"},
		{"", "default", "a=b", "default=a=b"},
	} {
		got, _, _ := connect.Merge(c.current, c.ws, c.key)
		if got != c.want {
			t.Errorf("Merge(%q, %s, %s) = %q, want %q", c.current, c.ws, c.key, got, c.want)
		}
	}
}
