package main

import (
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// commands lists every command; TestEveryCommandLine covers each.
var commands = []string{"dev", "serve", "send", "replay", "schema", "backfill", "report", "forget", "cost"}

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
	nothing := "http://" + ln.Addr().String() + "/"
	ln.Close()

	type tc struct {
		name string
		args []string
		code int
		want []string // in stderr
	}
	var cases []tc
	for _, c := range commands {
		cases = append(cases,
			tc{c + " -h", []string{c, "-h"}, 0, []string{"Usage of " + c}},
			tc{c + " unknown flag", []string{c, "--bogus"}, 2, []string{"-bogus", "Usage of " + c}},
			tc{c + " stray argument", []string{c, "oops"}, 2, []string{`unexpected argument "oops"`, "cioevents " + c + " -h"}},
		)
	}
	cases = append(cases, []tc{
		{"no command", nil, 2, []string{"usage: cioevents"}},
		{"unknown command", []string{"reprot"}, 2, []string{`unknown command "reprot"`}},
		{"send without a key", []string{"send", "--all"}, 2, []string{"--key"}},
		{"send bad duplicate rate", []string{"send", "--key", "k", "--all", "--dup-rate", "2"}, 2, []string{"duplicate rate"}},
		{"send to nothing", []string{"send", "--key", "k", "--event", "email.sent", "--url", nothing}, 1, []string{"--url"}},
		{"replay without flags", []string{"replay"}, 2, []string{"--project", "--subscription", "--topic"}},
		{"schema unknown table", []string{"schema", "--table", "x"}, 2, []string{"--table"}},
		{"backfill without --since", []string{"backfill"}, 2, []string{"--since is required"}},
		{"backfill bad --since", []string{"backfill", "--since", "yesterday"}, 2, []string{"--since"}},
		{"backfill --since after --until", []string{"backfill", "--since", "2026-02-01", "--until", "2026-01-01"}, 2, []string{"--since", "--until"}},
		{"backfill bad workspace", []string{"backfill", "--since", "1d", "--workspace", "Bad Name"}, 2, []string{"--workspace"}},
		{"backfill without App API key", []string{"backfill", "--since", "1d", "--data-dir", empty}, 1, []string{"CIO_APP_API_KEY"}},
		{"report without a source", []string{"report"}, 2, []string{"--data-dir", "--project"}},
		{"report bad --by", []string{"report", "--data-dir", data, "--by", "person"}, 2, []string{"--by", "campaign"}},
		{"report bad --format", []string{"report", "--data-dir", data, "--format", "xml"}, 2, []string{"--format"}},
		{"report bad --columns", []string{"report", "--data-dir", data, "--columns", "sent,nope"}, 2, []string{"--columns", "nope"}},
		{"report --wide and --columns", []string{"report", "--data-dir", data, "--wide", "--columns", "sent"}, 2, []string{"--wide", "--columns"}},
		{"report bad --from", []string{"report", "--data-dir", data, "--from", "2026-13-01"}, 2, []string{"--from"}},
		{"report --from after --to", []string{"report", "--data-dir", data, "--from", "2026-02-01", "--to", "2026-01-01"}, 2, []string{"--from", "--to"}},
		{"report data dir without events", []string{"report", "--data-dir", empty}, 1, []string{"events.ndjson"}},
		{"report", []string{"report", "--data-dir", data}, 0, nil},
		{"report --by mailbox_provider", []string{"report", "--data-dir", data, "--by", "mailbox_provider"}, 0, nil},
		{"report --by bounce_class", []string{"report", "--data-dir", data, "--by", "bounce_class"}, 0, nil},
		{"report --by link", []string{"report", "--data-dir", data, "--by", "link", "--message", "campaign:31"}, 0, nil},
		{"report --by link without --message", []string{"report", "--data-dir", data, "--by", "link"}, 2, []string{"--message"}},
		{"report bad --message", []string{"report", "--data-dir", data, "--by", "link", "--message", "person:1"}, 2, []string{"--message", "campaign"}},
		{"report --message without --by link", []string{"report", "--data-dir", data, "--message", "campaign:31"}, 2, []string{"--by link"}},
		{"forget without a person", []string{"forget", "--data-dir", data}, 2, []string{"--email", "--id", "--cio-id"}},
		{"forget without a source", []string{"forget", "--email", "a@example.com"}, 2, []string{"--data-dir", "--project"}},
		{"forget data dir without events", []string{"forget", "--email", "a@example.com", "--data-dir", empty}, 1, []string{"--data-dir"}},
	}...)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := run(t, nil, c.args...)
			if r.code != c.code {
				t.Errorf("exit %d, want %d\nstdout: %s\nstderr: %s", r.code, c.code, r.stdout, r.stderr)
			}
			for _, w := range c.want {
				if !strings.Contains(r.stderr, w) {
					t.Errorf("stderr lacks %q:\n%s", w, r.stderr)
				}
			}
			if c.code == 2 && strings.Contains(r.stderr, "cioevents: ") && !strings.Contains(r.stderr, "-h") {
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
