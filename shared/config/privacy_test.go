package config_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/cioevents/cioevents/shared/config"
	"github.com/cioevents/cioevents/shared/privacy"
)

// shared/privacy reads the personal-data policy's variables, which the
// reference lists here: the names and the default are the same.
func TestPrivacyVars(t *testing.T) {
	if config.EnvPII != privacy.EnvPolicy || config.EnvPIIKey != privacy.EnvKey {
		t.Fatalf("EnvPII, EnvPIIKey = %s, %s; privacy reads %s, %s", config.EnvPII, config.EnvPIIKey, privacy.EnvPolicy, privacy.EnvKey)
	}
	for _, v := range config.Vars() {
		if v.Name == config.EnvPII && v.Default != privacy.Default {
			t.Errorf("%s: documented default %q, privacy.Default is %q", v.Name, v.Default, privacy.Default)
		}
	}
}

// load reads the configuration that reads name, as the deployed start does.
func load(name string, env map[string]string) error {
	get := func(k string) string { return env[k] }
	if name == config.EnvPIIKey {
		_, err := privacy.FromEnv(get)
		return err
	}
	_, rerr := config.LoadReceiver(get)
	_, perr := config.LoadProcessor(get)
	return errors.Join(rerr, perr)
}

// TestQuotedSecretsRefused: every secret the reference lists, and each key
// or credential within a list of them, is refused when its value kept the
// quotes of an env file, with a message naming the variable and not the
// value. A quote inside a value, or on one side only, is the value's own.
func TestQuotedSecretsRefused(t *testing.T) {
	base := map[string]string{config.EnvProject: "p", config.EnvSigningKeys: "k", config.EnvSiteID: "site",
		config.EnvTrackAPIKey: "key", config.EnvPIIKey: "a-key-of-16-bytes-or-more"}
	if err := load("", base); err != nil {
		t.Fatalf("base configuration: %v", err)
	}
	with := func(name, v string) map[string]string {
		env := map[string]string{name: v}
		for k, val := range base {
			if k != name {
				env[k] = val
			}
		}
		return env
	}
	secret := "s3cr3t-value-of-some-length"
	values := map[string]string{config.EnvWorkspaceCredentials: "brand_b=site:" + secret}
	secrets := 0
	for _, v := range config.Vars() {
		if !v.Secret {
			continue
		}
		secrets++
		plain := secret
		if values[v.Name] != "" {
			plain = values[v.Name]
		}
		if err := load(v.Name, with(v.Name, plain)); err != nil {
			t.Errorf("%s unquoted: %v", v.Name, err)
		}
		for _, q := range []string{`"`, `'`} {
			err := load(v.Name, with(v.Name, " "+q+plain+q+" "))
			if err == nil || !strings.Contains(err.Error(), v.Name+": the value is wrapped in quotes") ||
				strings.Contains(err.Error(), secret) {
				t.Errorf("%s=%s…%s: %v; want a refusal naming the variable, not the value", v.Name, q, q, err)
			}
		}
	}
	if secrets < 5 {
		t.Fatalf("%d secrets in Vars; the list lost its Secret marks", secrets)
	}
	for _, tc := range []struct {
		name, value, want string
	}{
		{config.EnvSigningKeys, `new,"` + secret + `"`, "key 2: the value is wrapped in quotes"},
		{config.EnvSigningKeys, `brand_b='` + secret + `'`, "key 1 (workspace brand_b): the value is wrapped in quotes"},
		{config.EnvWorkspaceCredentials, `brand_b=site:"` + secret + `"`, "entry 1 (workspace brand_b): the value is wrapped in quotes"},
		{config.EnvWorkspaceCredentials, `brand_b="site":` + secret, "entry 1 (workspace brand_b): the value is wrapped in quotes"},
	} {
		err := load(tc.name, with(tc.name, tc.value))
		if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), secret) {
			t.Errorf("%s=%s: %v; want %q", tc.name, tc.value, err, tc.want)
		}
	}
	for _, own := range []string{`ab"cd`, `"abcd`, `abcd'`, `'ab"`} {
		if err := load(config.EnvTrackAPIKey, with(config.EnvTrackAPIKey, own)); err != nil {
			t.Errorf("%s=%s (quotes of its own): %v", config.EnvTrackAPIKey, own, err)
		}
	}
}
