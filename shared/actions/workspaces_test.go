package actions_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/cioevents/cioevents/shared/actions"
	"github.com/cioevents/cioevents/shared/actions/trackfake"
	"github.com/cioevents/cioevents/shared/logging"
)

// Each workspace's calls go out with its own credentials and policy; a
// workspace without credentials, listed or not, makes no call at all and
// says so in one counted line.
func TestWorkspacesActOnlyInTheirOwn(t *testing.T) {
	fake := trackfake.New("site-a", "key-a")
	defer fake.Close()
	fake.Accept("site-b", "key-b")
	track := func(site, key string) actions.Client {
		tr, err := actions.NewTrack(actions.TrackConfig{SiteID: site, APIKey: key, BaseURL: fake.URL(),
			HTTPClient: fake.Client(), RateLimit: 1000, Burst: 100})
		if err != nil {
			t.Fatal(err)
		}
		return tr
	}
	bounced := fixture(t, "email_bounced.json")
	policies, err := actions.ParseWorkspacePolicies(map[string]string{
		"b": `{"email.bounced": [{"identify": {"b_only": true}}]}`,
		"c": "", // the default policy, but no credentials
	}, false)
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	ws := actions.NewWorkspaces(map[string]actions.Client{"default": track("site-a", "key-a"), "b": track("site-b", "key-b")},
		policies, actions.DefaultPolicy(), logging.New(&logs, "info"))

	do := func(name string) error {
		client, policy := ws.Lookup(name)
		var errs []error
		for _, call := range policy.Plan(bounced) {
			errs = append(errs, client.Do(context.Background(), call))
		}
		if len(errs) == 0 {
			t.Fatalf("workspace %s planned nothing", name)
		}
		return errors.Join(errs...)
	}
	if err := do("default"); err != nil {
		t.Fatal(err)
	}
	if err := do("b"); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"c", "unlisted"} {
		if err := do(name); !errors.Is(err, actions.ErrNoCredentials) {
			t.Fatalf("workspace %s: %v, want ErrNoCredentials", name, err)
		}
	}

	calls := fake.Calls()
	if len(calls) != 2 {
		t.Fatalf("%d Track calls, want 2 (default and b): %+v", len(calls), calls)
	}
	if calls[0].SiteID != "site-a" || calls[0].Body.(map[string]any)["email_bounced"] != true {
		t.Errorf("default's call: %+v", calls[0])
	}
	if calls[1].SiteID != "site-b" || calls[1].Body.(map[string]any)["b_only"] != true {
		t.Errorf("b's call: %+v", calls[1])
	}

	var got []string
	sc := bufio.NewScanner(&logs)
	for sc.Scan() {
		var line map[string]any
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			t.Fatalf("not a JSON line: %s", sc.Text())
		}
		got = append(got, line["workspace"].(string)+" "+line["outcome"].(string)+" "+line["severity"].(string))
	}
	want := []string{"default applied INFO", "b applied INFO", "c no_credentials WARNING", "unlisted no_credentials WARNING"}
	if len(got) != len(want) {
		t.Fatalf("action lines %q, want %q", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("line %d: %q, want %q", i, got[i], want[i])
		}
	}
}

func TestParseWorkspacePoliciesNamesTheWorkspace(t *testing.T) {
	_, err := actions.ParseWorkspacePolicies(map[string]string{"ok": "none", "shop": `{"email.spammed": [{"suppress": true}]}`}, false)
	if !errors.Is(err, actions.ErrPolicy) || !strings.Contains(err.Error(), "workspace shop: ") {
		t.Fatalf("err = %v", err)
	}
}
