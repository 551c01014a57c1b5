package config

import (
	"strings"
	"testing"
	"time"
)

func env(m map[string]string) Getenv { return func(k string) string { return m[k] } }

func TestLoadReceiver(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		wantErr []string // substrings, one per expected line
		check   func(t *testing.T, c Receiver)
	}{
		{"defaults", map[string]string{EnvSigningKeys: "k1", EnvProject: "p"}, nil, func(t *testing.T, c Receiver) {
			if c.MaxAge != 192*time.Hour || c.MaxAhead != time.Hour || c.Topic != DefaultTopic ||
				c.MaxBodyBytes != DefaultMaxBodyBytes || c.PublishTimeout != 3*time.Second || len(c.SigningKeys) != 1 {
				t.Fatalf("defaults = %+v", c)
			}
		}},
		{"two keys with spaces", map[string]string{EnvSigningKeys: " new , old ", EnvProject: "p"}, nil, func(t *testing.T, c Receiver) {
			if len(c.SigningKeys) != 2 || string(c.SigningKeys[0]) != "new" || string(c.SigningKeys[1]) != "old" {
				t.Fatalf("keys = %q", c.SigningKeys)
			}
		}},
		{"no key fails closed", map[string]string{EnvProject: "p"}, []string{EnvSigningKeys + ": is required"}, nil},
		{"stray comma", map[string]string{EnvSigningKeys: "a,,b", EnvProject: "p"}, []string{"key 2 is empty"}, nil},
		{"every bad value reported", map[string]string{
			EnvSigningKeys: "k", EnvMaxAge: "8 days", EnvMaxBodyBytes: "20000000", EnvPublishTimeout: "10s", EnvLogLevel: "loud",
		}, []string{EnvMaxAge, EnvMaxBodyBytes, EnvPublishTimeout, EnvLogLevel, EnvProject}, nil},
		{"memory defaults", map[string]string{EnvSigningKeys: "k", EnvProject: "p"}, nil, func(t *testing.T, c Receiver) {
			if c.MaxBodyBytes != 1<<20 || c.BodyBudget != 64<<20 || c.InstanceMemory != 512<<20 {
				t.Fatalf("body %d, budget %d, memory %d", c.MaxBodyBytes, c.BodyBudget, c.InstanceMemory)
			}
		}},
		{"memory units", map[string]string{EnvSigningKeys: "k", EnvProject: "p", EnvInstanceMemory: "2Gi",
			EnvBodyBudget: "536870912", EnvMaxBodyBytes: "9900000"}, nil, func(t *testing.T, c Receiver) {
			if c.InstanceMemory != 2<<30 || c.BodyBudget != 512<<20 || c.MaxBodyBytes != 9_900_000 {
				t.Fatalf("memory %d, budget %d, body %d", c.InstanceMemory, c.BodyBudget, c.MaxBodyBytes)
			}
		}},
		{"decimal units", map[string]string{EnvSigningKeys: "k", EnvProject: "p", EnvInstanceMemory: "1G"}, nil,
			func(t *testing.T, c Receiver) {
				if c.InstanceMemory != 1e9 {
					t.Fatalf("memory %d", c.InstanceMemory)
				}
			}},
		// 64 MiB + 3 × 160 MiB = 544 MiB > 512 MiB.
		{"budget beyond the instance", map[string]string{EnvSigningKeys: "k", EnvProject: "p", EnvBodyBudget: "167772160"},
			[]string{EnvBodyBudget + ": 167772160 bytes of bodies need"}, nil},
		{"budget fits a larger instance", map[string]string{EnvSigningKeys: "k", EnvProject: "p", EnvBodyBudget: "167772160",
			EnvInstanceMemory: "1Gi"}, nil, nil},
		{"budget not above the body limit", map[string]string{EnvSigningKeys: "k", EnvProject: "p", EnvBodyBudget: "2000000",
			EnvMaxBodyBytes: "2000000"}, []string{EnvBodyBudget + ": 2000000 must exceed"}, nil},
		{"bad memory", map[string]string{EnvSigningKeys: "k", EnvProject: "p", EnvInstanceMemory: "lots"},
			[]string{EnvInstanceMemory + `: "lots" is not a memory size`}, nil},
		{"memory too small", map[string]string{EnvSigningKeys: "k", EnvProject: "p", EnvInstanceMemory: "0G"},
			[]string{EnvInstanceMemory}, nil},
		{"memory overflow", map[string]string{EnvSigningKeys: "k", EnvProject: "p", EnvInstanceMemory: "9223372036854775807Gi"},
			[]string{EnvInstanceMemory}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := LoadReceiver(env(tt.env))
			checkErrLines(t, err, tt.wantErr)
			if err == nil && tt.check != nil {
				tt.check(t, c)
			}
		})
	}
}

func TestSigningKeyWorkspaces(t *testing.T) {
	tests := []struct {
		name, keys string
		want       []string // workspace:key
		wantErr    []string
	}{
		{"unnamed keys are the default workspace", "k1,k2", []string{"default:k1", "default:k2"}, nil},
		{"named keys, two for one workspace (rotation)", " shop = new , shop=old, b2b-eu=k3 ,k4",
			[]string{"shop:new", "shop:old", "b2b-eu:k3", "default:k4"}, nil},
		{"default written out", "default=k1", []string{"default:k1"}, nil},
		{"a named key may contain '='", "shop=abc==", []string{"shop:abc=="}, nil},
		{"uppercase name", "Shop=k1", nil, []string{"key 1: the text before its first"}},
		{"name with a dot", "k0,shop.eu=k1", nil, []string{"key 2: the text before its first"}},
		{"name too long", "a234567890123456789012345678901=k", nil, []string{"key 1: the text before"}},
		{"unnamed key with padding", "abc==", nil, []string{"key 1 is empty or only \"=\" after its name"}},
		{"empty named key", "shop=", nil, []string{"key 1 is empty"}},
		{"one key, two workspaces", "a=k1,b=k1", nil, []string{"key 2 (workspace b) is also a key of workspace a"}},
		{"one key, twice in one workspace", "a=k1,a=k1", []string{"a:k1", "a:k1"}, nil},
		{"every bad entry reported", "A=k1,,b=", nil, []string{"key 1", "key 2 is empty", "key 3"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := LoadReceiver(env(map[string]string{EnvSigningKeys: tt.keys, EnvProject: "p"}))
			checkErrLines(t, err, tt.wantErr)
			if err != nil {
				if strings.Contains(err.Error(), "k1") || strings.Contains(err.Error(), "abc") {
					t.Fatalf("error quotes a key: %v", err)
				}
				return
			}
			var got []string
			for i, k := range c.SigningKeys {
				got = append(got, c.KeyWorkspaces[i]+":"+string(k))
			}
			if strings.Join(got, " ") != strings.Join(tt.want, " ") {
				t.Fatalf("keys = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestWorkspaceCredentialsAndPolicies(t *testing.T) {
	base := func(kv ...string) map[string]string {
		m := map[string]string{EnvProject: "p", EnvSiteID: "site", EnvTrackAPIKey: "secret"}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	c, err := LoadProcessor(env(base(EnvRegion, "eu",
		EnvWorkspaceCredentials, " shop = s1:secret1 , b2b=s2:secret2:US",
		EnvWorkspaceActions, `{"shop": "none", "b2b": {"email.bounced": [{"identify": {"email_bounced": true}}]}}`)))
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]TrackCredentials{
		"default": {"site", "secret", "eu"}, "shop": {"s1", "secret1", "eu"}, "b2b": {"s2", "secret2", "us"}} {
		if got, ok := c.Credentials(name); !ok || got != want {
			t.Errorf("Credentials(%s) = %+v, %v; want %+v", name, got, ok, want)
		}
	}
	if _, ok := c.Credentials("other"); ok {
		t.Error("a workspace without credentials has some")
	}
	if c.WorkspaceActions["shop"] != "none" || !strings.HasPrefix(c.WorkspaceActions["b2b"], `{"email.bounced"`) {
		t.Errorf("policies = %q", c.WorkspaceActions)
	}

	// Only named workspaces have credentials: the default one may act with none.
	if _, err := LoadProcessor(env(map[string]string{EnvProject: "p", EnvWorkspaceCredentials: "shop=s1:k1"})); err != nil {
		t.Fatalf("named credentials only: %v", err)
	}
	for _, tt := range []struct {
		name    string
		env     map[string]string
		wantErr []string
	}{
		{"no site id", base(EnvWorkspaceCredentials, "shop=:k1"), []string{EnvWorkspaceCredentials + ": entry 1 is not"}},
		{"no separator", base(EnvWorkspaceCredentials, "shop=s1k1"), []string{"entry 1 is not"}},
		{"no name", base(EnvWorkspaceCredentials, "s1:k1"), []string{"entry 1 is not"}},
		{"bad name", base(EnvWorkspaceCredentials, "ok=s:k,Shop=s1:k1"), []string{"entry 2: a workspace name is"}},
		{"default named", base(EnvWorkspaceCredentials, "default=s1:k1"), []string{"credentials are CIO_SITE_ID"}},
		{"listed twice", base(EnvWorkspaceCredentials, "shop=s1:k1,shop=s2:k2"), []string{"workspace shop is listed twice"}},
		{"bad region", base(EnvWorkspaceCredentials, "shop=s1:k1:ap"), []string{"region is not us or eu"}},
		{"policies not an object", base(EnvWorkspaceActions, `["shop"]`), []string{EnvWorkspaceActions + ": is not a JSON object"}},
		{"policy for a bad name", base(EnvWorkspaceActions, `{"Shop": "none"}`), []string{`"Shop": a workspace name`}},
		{"policy for default", base(EnvWorkspaceActions, `{"default": "none"}`), []string{"policy is CIO_ACTIONS"}},
		{"policy without credentials", base(EnvWorkspaceActions, `{"shop": ""}`),
			[]string{"workspace shop has a policy but no Track API credentials"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := LoadProcessor(env(tt.env))
			checkErrLines(t, err, tt.wantErr)
			if strings.Contains(err.Error(), "k1") || strings.Contains(err.Error(), "secret") {
				t.Fatalf("error quotes a key: %v", err)
			}
		})
	}
	// A policy without credentials is fine when it acts on nothing or in a dry run.
	for _, e := range []map[string]string{base(EnvWorkspaceActions, `{"shop": "none"}`),
		base(EnvWorkspaceActions, `{"shop": ""}`, EnvDryRun, "true")} {
		if _, err := LoadProcessor(env(e)); err != nil {
			t.Errorf("%v: %v", e, err)
		}
	}
}

func TestLoadProcessor(t *testing.T) {
	base := func(kv ...string) map[string]string {
		m := map[string]string{EnvProject: "p", EnvSiteID: "site", EnvTrackAPIKey: "secret"}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	tests := []struct {
		name    string
		env     map[string]string
		wantErr []string
	}{
		{"defaults", base(), nil},
		{"dry run without credentials", map[string]string{EnvProject: "p", EnvDryRun: "true"}, nil},
		{"actions none without credentials", map[string]string{EnvProject: "p", EnvActions: "none"}, nil},
		{"no credentials, not dry run", map[string]string{EnvProject: "p"}, []string{"no Track API credentials"}},
		{"half credentials", map[string]string{EnvProject: "p", EnvSiteID: "s", EnvDryRun: "true"}, []string{"must be set together"}},
		{"ttl shorter than retry window", base(EnvLedgerTTL, "72h"), []string{EnvLedgerTTL}},
		{"bad region, rate, table, bool", base(EnvRegion, "ap", EnvRateLimit, "500", EnvTable, "ev-ents", EnvDryRun, "maybe"),
			[]string{EnvRegion, EnvRateLimit, EnvTable, EnvDryRun}},
		{"collection with slash", base(EnvLedgerColl, "a/b"), []string{EnvLedgerColl}},
		{"lease shorter than a step", base(EnvLedgerLease, "30s"), []string{EnvLedgerLease + ": 30s is too short"}},
		{"longer ledger timeout needs a longer lease", base(EnvLedgerTimeout, "1m"), []string{EnvLedgerLease + ": 1m0s is too short"}},
		{"lease just long enough", base(EnvLedgerLease, "35s"), nil},
		{"longer step needs a longer lease", base(EnvStepTimeout, "1m"), []string{EnvLedgerLease + ": 1m0s is too short"}},
		{"longer step with a longer lease", base(EnvStepTimeout, "1m", EnvLedgerLease, "2m"), nil},
		{"step timeout out of range", base(EnvStepTimeout, "10m"), []string{EnvStepTimeout}},
		{"strict ledger", base(EnvLedgerMode, "strict"), nil},
		{"unknown ledger mode", base(EnvLedgerMode, "fast"), []string{EnvLedgerMode + `: "fast" is neither lean nor strict`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := LoadProcessor(env(tt.env))
			checkErrLines(t, err, tt.wantErr)
			if err == nil && (c.LedgerTTL < 8*24*time.Hour || c.RateLimit != 10 || c.Region != "us" ||
				c.RecordEachStep != (tt.env[EnvLedgerMode] == "strict")) {
				t.Fatalf("defaults = %+v", c)
			}
		})
	}
}

func checkErrLines(t *testing.T, err error, want []string) {
	t.Helper()
	if len(want) == 0 {
		if err != nil {
			t.Fatalf("unexpected error: %v", err)
		}
		return
	}
	if err == nil {
		t.Fatalf("no error, want %q", want)
	}
	lines := strings.Split(err.Error(), "\n")
	if len(lines) != len(want) {
		t.Fatalf("got %d error lines, want %d:\n%v", len(lines), len(want), err)
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error lacks %q:\n%v", w, err)
		}
	}
	if strings.Contains(err.Error(), "secret") {
		t.Fatalf("error leaks a secret value: %v", err)
	}
}

func TestVarsCoverEveryLookup(t *testing.T) {
	seen := map[string]bool{}
	spy := func(k string) string { seen[k] = true; return "" }
	LoadReceiver(spy)
	LoadProcessor(spy)
	listed := map[string]bool{}
	for _, v := range append(append(append(ReceiverVars(), ProcessorVars()...), OptionalProcessorVars()...), LocalVars()...) {
		listed[v] = true
	}
	for k := range seen {
		if !listed[k] {
			t.Errorf("%s is read but not listed in ReceiverVars/ProcessorVars/OptionalProcessorVars/LocalVars", k)
		}
	}
}
