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
	for _, v := range append(append(ReceiverVars(), ProcessorVars()...), LocalVars()...) {
		listed[v] = true
	}
	for k := range seen {
		if !listed[k] {
			t.Errorf("%s is read but not listed in ReceiverVars/ProcessorVars/LocalVars", k)
		}
	}
}
