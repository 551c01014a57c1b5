package main

import (
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/cioevents/cioevents/cmd/cioevents/internal/appapi/appapifake"
	"github.com/cioevents/cioevents/cmd/cioevents/internal/datadir"
)

// commands lists every command; TestEveryCommandLine covers each.
var commands = []string{"dev", "serve", "send", "replay", "schema", "backfill", "report", "forget", "cost", "connect", "doctor"}

// flagLine is how the flag package prints a flag: "  -name" and, for a flag
// with a value, the value's type or the name the usage text backquotes.
var flagLine = regexp.MustCompile(`^  -([a-z0-9-]+)(?: ([^\t]+))?(?:\t.*)?$`)

// valueNames are the names the flag package gives values by type; any
// other word after a flag comes from backquotes in its usage text, which
// the flag package takes for the value's name.
var valueNames = map[string]bool{"string": true, "int": true, "uint": true, "int64": true, "uint64": true,
	"float": true, "duration": true, "value": true}

// TestEveryCommandLine checks exit status and message of each command, as
// the package documentation says: a usage mistake exits 2 and names the
// flag; a command that ran and failed exits 1 and says what to change; -h
// exits 0 and lists the flags readably.
func TestEveryCommandLine(t *testing.T) {
	empty := t.TempDir()
	data := t.TempDir()
	if err := os.WriteFile(filepath.Join(data, "events.ndjson"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	// A data dir held as a running dev holds it: this process takes the
	// lock the commands it runs must respect.
	held := t.TempDir()
	if err := os.WriteFile(filepath.Join(held, "events.ndjson"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	lock, err := datadir.Acquire(held, "cioevents dev at 127.0.0.1:8080")
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Release()
	inUse := "data directory " + held + " is in use by cioevents dev at 127.0.0.1:8080 (pid " + strconv.Itoa(os.Getpid()) + ", since "

	nothingHost := ln.Addr().String()
	nothing := "http://" + nothingHost + "/"
	ln.Close()

	type tc struct {
		name string
		args []string
		code int
		want []string // in stderr
		env  []string
		// line: the failure is one plain line, "cioevents: <cmd>: …", on
		// stderr (JSON log lines aside); no result on stdout.
		line bool
	}
	// where a case runs, when not in an empty directory with no extra
	// environment.
	type place struct {
		dir string
		env []string
	}
	where := map[string]place{}
	var cases []tc
	// terraformCases: connect and doctor find terraform/ from anywhere in a
	// repository, take --terraform-dir, and report terraform's failure in
	// one line. A fake terraform on PATH answers as terraform does before
	// `terraform init`.
	terraformCases := func(t *testing.T) []tc {
		repo := t.TempDir()
		deep := filepath.Join(repo, "terraform", "modules", "cioevents")
		bin := filepath.Join(repo, "bin")
		for _, d := range []string{deep, bin} {
			if err := os.MkdirAll(d, 0o755); err != nil {
				t.Fatal(err)
			}
		}
		stderr, err := filepath.Abs("internal/tfoutput/testdata/backend-init.stderr")
		if err != nil {
			t.Fatal(err)
		}
		script := "#!/bin/sh\necho \"$PWD\" >> " + filepath.Join(bin, "ran-in") + "\ncat " + stderr + " >&2\nexit 1\n"
		for name, body := range map[string]string{"terraform/main.tf": "", "go.mod": "module x\n", "bin/terraform": script} {
			if err := os.WriteFile(filepath.Join(repo, name), []byte(body), 0o755); err != nil {
				t.Fatal(err)
			}
		}
		env := []string{"PATH=" + bin + ":" + os.Getenv("PATH"), "CIO_APP_API_KEY=k"}
		summary := `Error: Backend initialization required, please run "terraform init"; run ` + "`terraform -chdir=" + filepath.Join(repo, "terraform") + " init`"
		api := appapifake.New("k")
		t.Cleanup(api.Close)
		where["connect --app-api-url reaches that host"] = place{empty, env}
		where["connect in terraform/modules: terraform's error in one line"] = place{deep, env}
		where["doctor --cloud in a subdirectory"] = place{bin, env}
		for _, n := range []string{"connect --terraform-dir", "connect outside a repository", "connect --app-api-url is a URL"} {
			where[n] = place{empty, env}
		}
		return []tc{
			{"connect in terraform/modules: terraform's error in one line", []string{"connect"}, 1,
				[]string{"deployed URL could not be read: terraform output failed in " + filepath.Join(repo, "terraform") + ": " + summary}, nil, false},
			{"connect --terraform-dir", []string{"connect", "--terraform-dir", filepath.Join(repo, "terraform")}, 1, []string{summary}, nil, false},
			{"connect outside a repository", []string{"connect"}, 2, []string{"no terraform/ directory", "--terraform-dir"}, nil, false},
			{"doctor --cloud in a subdirectory", []string{"doctor", "--cloud"}, 2,
				[]string{"doctor: terraform output failed in " + filepath.Join(repo, "terraform") + ": " + summary, "no project"}, nil, false},
			{"connect --app-api-url is a URL", []string{"connect", "--url", "https://r.example", "--skip-key", "--app-api-url", "api.example"}, 2,
				[]string{`--app-api-url "api.example"`}, nil, false},
			// Without network, only the fake can answer: exit 0 is the fake's.
			{"connect --app-api-url reaches that host", []string{"connect", "--url", "https://r.example", "--skip-key", "--app-api-url", api.URL()}, 0, nil, nil, false},
		}
	}
	for _, c := range commands {
		cases = append(cases,
			tc{c + " -h", []string{c, "-h"}, 0, []string{"Usage of " + c}, nil, false},
			tc{c + " unknown flag", []string{c, "--bogus"}, 2, []string{"-bogus", "Usage of " + c}, nil, false},
			tc{c + " stray argument", []string{c, "oops"}, 2, []string{`unexpected argument "oops"`, "cioevents " + c + " -h"}, nil, false},
		)
	}
	cases = append(cases, []tc{
		{"no command", nil, 2, []string{"usage: cioevents"}, nil, false},
		{"unknown command", []string{"reprot"}, 2, []string{`unknown command "reprot"`}, nil, false},
		{"send without a key", []string{"send", "--all"}, 2, []string{"--key"}, nil, false},
		{"send bad duplicate rate", []string{"send", "--key", "k", "--all", "--dup-rate", "2"}, 2, []string{"duplicate rate"}, nil, false},
		{"send to nothing", []string{"send", "--key", "k", "--event", "email.sent", "--url", nothing}, 1, []string{"--url"}, nil, false},
		{"replay without flags", []string{"replay"}, 2, []string{"--project", "--subscription", "--topic"}, nil, false},
		{"schema unknown table", []string{"schema", "--table", "x"}, 2, []string{"--table"}, nil, false},
		{"backfill without --since", []string{"backfill"}, 2, []string{"--since is required"}, nil, false},
		{"backfill bad --since", []string{"backfill", "--since", "yesterday"}, 2, []string{"--since"}, nil, false},
		{"backfill --since after --until", []string{"backfill", "--since", "2026-02-01", "--until", "2026-01-01"}, 2, []string{"--since", "--until"}, nil, false},
		{"backfill bad workspace", []string{"backfill", "--since", "1d", "--workspace", "Bad Name"}, 2, []string{"--workspace"}, nil, false},
		{"backfill without App API key", []string{"backfill", "--since", "1d", "--data-dir", empty}, 2, []string{"CIO_APP_API_KEY"}, nil, true},
		{"backfill quoted App API key", []string{"backfill", "--since", "1d", "--data-dir", empty}, 2,
			[]string{"CIO_APP_API_KEY: the value is wrapped in quotes"}, []string{`CIO_APP_API_KEY="app-key"`}, true},
		{"backfill --dry-run, App API unreachable", []string{"backfill", "--since", "1d", "--data-dir", data, "--dry-run",
			"--app-api-url", nothing, "--app-api-timeout", "1s"}, 1, []string{"no answer from " + nothingHost}, []string{"CIO_APP_API_KEY=app-key"}, true},
		{"backfill bad --app-api-timeout", []string{"backfill", "--since", "1d", "--app-api-timeout", "0s"}, 2, []string{"--app-api-timeout"}, nil, false},
		{"report without a source", []string{"report"}, 2, []string{"--data-dir", "--project"}, nil, false},
		{"report bad --by", []string{"report", "--data-dir", data, "--by", "person"}, 2, []string{"--by", "campaign"}, nil, false},
		{"report bad --format", []string{"report", "--data-dir", data, "--format", "xml"}, 2, []string{"--format"}, nil, false},
		{"report bad --columns", []string{"report", "--data-dir", data, "--columns", "sent,nope"}, 2, []string{"--columns", "nope"}, nil, false},
		{"report --wide and --columns", []string{"report", "--data-dir", data, "--wide", "--columns", "sent"}, 2, []string{"--wide", "--columns"}, nil, false},
		{"report bad --from", []string{"report", "--data-dir", data, "--from", "2026-13-01"}, 2, []string{"--from"}, nil, false},
		{"report --from after --to", []string{"report", "--data-dir", data, "--from", "2026-02-01", "--to", "2026-01-01"}, 2, []string{"--from", "--to"}, nil, false},
		{"report data dir without events", []string{"report", "--data-dir", empty}, 1, []string{"events.ndjson"}, nil, false},
		{"report", []string{"report", "--data-dir", data}, 0, nil, nil, false},
		{"forget without a person", []string{"forget", "--data-dir", data}, 2, []string{"--email", "--id", "--cio-id"}, nil, false},
		{"forget without a source", []string{"forget", "--email", "a@example.com"}, 2, []string{"--data-dir", "--project"}, nil, false},
		{"forget data dir without events", []string{"forget", "--email", "a@example.com", "--data-dir", empty}, 1, []string{"--data-dir"}, nil, false},
		{"forget quoted CIO_PII_KEY", []string{"forget", "--email", "a@example.com", "--data-dir", data}, 2,
			[]string{"CIO_PII_KEY: the value is wrapped in quotes"}, []string{"CIO_PII_KEY='a-key-of-16-bytes-or-more'"}, true},
		{"send quoted signing key", []string{"send", "--all", "--url", nothing}, 2,
			[]string{"CIO_WEBHOOK_SIGNING_KEYS: the value is wrapped in quotes"}, []string{`CIO_WEBHOOK_SIGNING_KEYS="abc"`}, false},
		{"dev quoted signing key", []string{"dev", "--addr", "127.0.0.1:0", "--data-dir", t.TempDir()}, 2,
			[]string{"CIO_WEBHOOK_SIGNING_KEYS: the value is wrapped in quotes"}, []string{`CIO_WEBHOOK_SIGNING_KEYS="abc"`}, true},
		{"dev bad policy", []string{"dev", "--addr", "127.0.0.1:0", "--data-dir", t.TempDir()}, 2,
			[]string{"CIO_ACTIONS"}, []string{"CIO_ACTIONS={"}, true},
		{"dev --live without Track credentials", []string{"dev", "--addr", "127.0.0.1:0", "--data-dir", t.TempDir(), "--live"}, 2,
			[]string{"CIO_TRACK_API_KEY"}, nil, true},
		{"dev data dir is a file", []string{"dev", "--addr", "127.0.0.1:0", "--data-dir", filepath.Join(data, "events.ndjson")}, 1,
			[]string{"--data-dir"}, nil, true},
		{"dev data dir in use", []string{"dev", "--addr", "127.0.0.1:0", "--data-dir", held}, 2, []string{"cioevents: dev: " + inUse}, nil, true},
		{"forget data dir in use", []string{"forget", "--email", "a@example.com", "--data-dir", held}, 2,
			[]string{"cioevents: forget: " + inUse}, []string{"CIO_PII_KEY=a-key-of-16-bytes-or-more"}, true},
		{"backfill data dir in use", []string{"backfill", "--since", "1d", "--data-dir", held, "--app-api-url", nothing}, 2,
			[]string{"cioevents: backfill: " + inUse}, []string{"CIO_APP_API_KEY=app-key"}, true},
		{"serve without configuration", []string{"serve", "--addr", "127.0.0.1:0"}, 2,
			[]string{"ReceiveWebhook refuses to start", "CIO_WEBHOOK_SIGNING_KEYS", "GOOGLE_CLOUD_PROJECT"}, nil, true},
		{"serve FUNCTION_TARGET=ReceiveWebhook without configuration", []string{"serve", "--addr", "127.0.0.1:0"}, 2,
			[]string{"ReceiveWebhook refuses to start", "CIO_WEBHOOK_SIGNING_KEYS"}, []string{"FUNCTION_TARGET=ReceiveWebhook"}, true},
		{"serve FUNCTION_TARGET=ProcessEvent without configuration", []string{"serve", "--addr", "127.0.0.1:0"}, 2,
			[]string{"ProcessEvent refuses to start", "GOOGLE_CLOUD_PROJECT"}, []string{"FUNCTION_TARGET=ProcessEvent"}, true},
		{"serve the processor without its configuration", []string{"serve", "--addr", "127.0.0.1:0"}, 2,
			[]string{"ProcessEvent refuses to start", "CIO_TRACK_API_KEY"},
			[]string{"CIO_WEBHOOK_SIGNING_KEYS=k", "GOOGLE_CLOUD_PROJECT=p"}, true},
		{"serve unknown FUNCTION_TARGET", []string{"serve", "--addr", "127.0.0.1:0"}, 2,
			[]string{`FUNCTION_TARGET="Receive"`}, []string{"FUNCTION_TARGET=Receive"}, true},
		{"forget blank --id", []string{"forget", "--id", "  ", "--data-dir", data}, 2, []string{"--id is empty"}, nil, false},
		{"forget an ID as --email", []string{"forget", "--email", "u_9001", "--data-dir", data}, 2, []string{"--email", "not an address"}, nil, false},
		{"forget bad --workspace", []string{"forget", "--id", "42", "--workspace", "Bad Name", "--data-dir", data}, 2, []string{"--workspace"}, nil, false},
		{"forget a data dir dev never keyed", []string{"forget", "--email", "a@example.com", "--data-dir", data}, 1, []string{"CIO_PII_KEY", "no key fingerprint"}, nil, false},
		{"names -h", []string{"names", "-h"}, 0, []string{"names refresh"}, nil, false},
		{"names refresh -h", []string{"names", "refresh", "-h"}, 0, []string{"Usage of names refresh", "-data-dir", "-app-api-url"}, nil, false},
		{"names without refresh", []string{"names"}, 2, []string{"refresh", "cioevents names -h"}, nil, false},
		{"names unknown subcommand", []string{"names", "update"}, 2, []string{`not "update"`}, nil, false},
		{"names refresh unknown flag", []string{"names", "refresh", "--bogus"}, 2, []string{"-bogus"}, nil, false},
		{"names refresh stray argument", []string{"names", "refresh", "--data-dir", empty, "oops"}, 2, []string{`unexpected argument "oops"`}, nil, false},
		{"names refresh without a destination", []string{"names", "refresh"}, 2, []string{"--data-dir", "--project"}, nil, false},
		{"names refresh bad workspace", []string{"names", "refresh", "--data-dir", empty, "--workspace", "Bad Name"}, 2, []string{"--workspace"}, nil, false},
		{"names refresh --sample without --data-dir", []string{"names", "refresh", "--sample"}, 2, []string{"--sample"}, nil, false},
		{"names refresh without App API key", []string{"names", "refresh", "--data-dir", empty}, 2, []string{"CIO_APP_API_KEY"}, nil, true},
		{"names refresh --sample", []string{"names", "refresh", "--sample", "--data-dir", filepath.Join(empty, "names")}, 0, nil, nil, false},
		{"report --by mailbox_provider", []string{"report", "--data-dir", data, "--by", "mailbox_provider"}, 0, nil, nil, false},
		{"report --by bounce_class", []string{"report", "--data-dir", data, "--by", "bounce_class"}, 0, nil, nil, false},
		{"report --by link", []string{"report", "--data-dir", data, "--by", "link", "--message", "campaign:31"}, 0, nil, nil, false},
		{"report --by link without --message", []string{"report", "--data-dir", data, "--by", "link"}, 2, []string{"--message"}, nil, false},
		{"report bad --message", []string{"report", "--data-dir", data, "--by", "link", "--message", "person:1"}, 2, []string{"--message", "campaign"}, nil, false},
		{"report --message without --by link", []string{"report", "--data-dir", data, "--message", "campaign:31"}, 2, []string{"--by link"}, nil, false},
	}...)
	cases = append(cases, terraformCases(t)...)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := where[c.name]
			r := runIn(t, p.dir, append(append([]string{}, p.env...), c.env...), c.args...)
			if r.code != c.code {
				t.Errorf("exit %d, want %d\nstdout: %s\nstderr: %s", r.code, c.code, r.stdout, r.stderr)
			}
			for _, w := range c.want {
				if !strings.Contains(r.stderr, w) {
					t.Errorf("stderr lacks %q:\n%s", w, r.stderr)
				}
			}
			if strings.Contains(c.name, "in one line") && strings.Contains(strings.TrimSpace(r.stderr), "\n") {
				t.Errorf("stderr is more than one line:\n%s", r.stderr)
			}
			if strings.Contains(r.stderr, "\x1b[") || strings.Contains(r.stderr, "Reason: Initial configuration") {
				t.Errorf("terraform's coloured, multi-line diagnostic got through:\n%s", r.stderr)
			}
			if c.line {
				var plain []string
				for _, l := range strings.Split(strings.TrimSpace(r.stderr), "\n") {
					if !json.Valid([]byte(l)) {
						plain = append(plain, l)
					}
				}
				if len(plain) != 1 || !strings.HasPrefix(plain[0], "cioevents: "+c.args[0]+": ") {
					t.Errorf("want one plain line \"cioevents: %s: …\" besides JSON log lines; stderr:\n%s", c.args[0], r.stderr)
				}
				if r.stdout != "" {
					t.Errorf("printed a result before failing: %s", r.stdout)
				}
			}
			if c.code == 2 && !c.line && strings.Contains(r.stderr, "cioevents: ") && !strings.Contains(r.stderr, "-h") {
				t.Errorf("a usage mistake reported as a failure:\n%s", r.stderr)
			}
			if len(c.args) == 2 && c.args[1] == "-h" {
				flags := 0
				for _, l := range strings.Split(r.stderr, "\n") {
					m := flagLine.FindStringSubmatch(l)
					if m == nil {
						continue
					}
					flags++
					if m[2] != "" && !valueNames[m[2]] {
						t.Errorf("-h shows %q: a backquoted word in the usage of -%s became its value name", strings.TrimSpace(l), m[1])
					}
				}
				if flags == 0 {
					t.Errorf("-h lists no flags:\n%s", r.stderr)
				}
			}
		})
	}
}
