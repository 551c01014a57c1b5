package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// The built command, for the behaviours only a whole process shows (init
// order, exit status, what reaches which stream). Built on first use; the
// directory is removed by TestMain.
var (
	buildOnce sync.Once
	binDir    string
	binary    string
	buildErr  error
)

func built(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		if binDir, buildErr = os.MkdirTemp("", "cioevents-cmd"); buildErr != nil {
			return
		}
		binary = filepath.Join(binDir, "cioevents")
		if out, err := exec.Command("go", "build", "-o", binary, ".").CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("build: %w\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binary
}

func removeBinary() {
	if binDir != "" {
		os.RemoveAll(binDir)
	}
}

type result struct {
	code           int
	stdout, stderr string
}

// run runs the binary with env on top of a clean environment (no emulator
// hosts, keys or targets leak in from the test's own).
func run(t *testing.T, env []string, args ...string) result {
	t.Helper()
	return runIn(t, "", env, args...)
}

// runIn runs the command in dir (an empty directory when "").
func runIn(t *testing.T, dir string, env []string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, built(t), args...)
	cmd.Dir = dir
	if dir == "" {
		cmd.Dir = t.TempDir()
	}
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}, env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("run %v: %v", args, err)
	}
	return result{code, out.String(), errb.String()}
}

func TestUsageErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		want []string // in stderr
	}{
		{"stray argument to schema", []string{"schema", "events"}, []string{`unexpected argument "events"`}},
		{"unknown table", []string{"schema", "--table", "evnts"}, []string{"--table", "events", "rejected_events"}},
		{"unknown flag", []string{"dev", "--dta-dir", "x"}, []string{"dta-dir", "Usage of dev", "-data-dir"}},
		{"stray argument to dev", []string{"dev", "now"}, []string{`unexpected argument "now"`}},
		{"replay names every missing flag before any credential", []string{"replay"},
			[]string{"--project", "--subscription", "--topic", "required"}},
		{"replay negative max", []string{"replay", "--project", "p", "--subscription", "s", "--topic", "t", "--max", "-1"},
			[]string{"--max"}},
		{"send without a key", []string{"send", "--all"}, []string{"--key is required", "CIO_WEBHOOK_SIGNING_KEYS"}},
		{"send bad URL", []string{"send", "--key", "k", "--url", "localhost:8080"}, []string{"URL"}},
		{"unknown command", []string{"devv"}, []string{`unknown command "devv"`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := run(t, nil, tc.args...)
			if r.code != 2 {
				t.Errorf("exit %d, want 2 (usage)\nstderr: %s", r.code, r.stderr)
			}
			for _, w := range tc.want {
				if !strings.Contains(r.stderr, w) {
					t.Errorf("stderr lacks %q:\n%s", w, r.stderr)
				}
			}
			if strings.Contains(r.stdout, "seen 0") {
				t.Errorf("printed a result for a usage error: %s", r.stdout)
			}
		})
	}
}

func TestHelpExitsZero(t *testing.T) {
	if r := run(t, nil, "schema", "-h"); r.code != 0 || !strings.Contains(r.stderr, "-table") {
		t.Fatalf("schema -h: exit %d, stderr %q", r.code, r.stderr)
	}
}

// TestFunctionTargetOnlyConcernsServe: an exported FUNCTION_TARGET does not
// reach the functions' init in other commands, and serve refuses to start a
// misconfigured function, as a deployment does, whether FUNCTION_TARGET
// names it or serve would run both: exit 2 and one line naming the
// function, nothing served.
func TestFunctionTargetOnlyConcernsServe(t *testing.T) {
	for _, target := range []string{"ReceiveWebhook", "ProcessEvent", ""} {
		r := run(t, []string{"FUNCTION_TARGET=" + target}, "schema")
		if r.code != 0 || !json.Valid([]byte(r.stdout)) {
			t.Errorf("FUNCTION_TARGET=%s schema: exit %d, stdout %.80q, stderr %s", target, r.code, r.stdout, r.stderr)
		}
		r = run(t, []string{"FUNCTION_TARGET=" + target}, "serve", "--addr", "127.0.0.1:0")
		want := "cioevents: serve: " + target + " refuses to start: invalid configuration: "
		if target == "" {
			want = "cioevents: serve: ReceiveWebhook refuses to start: invalid configuration: "
		}
		if r.code != 2 || !strings.HasPrefix(r.stderr, want) || strings.Count(r.stderr, "\n") != 1 || r.stdout != "" {
			t.Errorf("FUNCTION_TARGET=%s serve without configuration: exit %d, want 2 and one line %q…\nstdout %s\nstderr %s",
				target, r.code, want, r.stdout, r.stderr)
		}
	}
}

// lastPlainLine is the only line of s that is not a JSON log line; "" when
// there is none or more than one.
func lastPlainLine(s string) string {
	var plain []string
	for _, l := range strings.Split(strings.TrimSpace(s), "\n") {
		if l != "" && !json.Valid([]byte(l)) {
			plain = append(plain, l)
		}
	}
	if len(plain) != 1 {
		return ""
	}
	return plain[0]
}

// TestDevFailsFastNamingTheCause: a dead emulator host, a taken port, a
// data dir that is a file and a bad setting each stop dev at once with the
// variable or flag to fix, as one plain line on stderr, like every command:
// exit 1 for what failed, 2 for a setting it cannot run with.
func TestDevFailsFastNamingTheCause(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	file := filepath.Join(t.TempDir(), "a-file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		env  []string
		args []string
		want string
		code int
	}{
		{"pubsub emulator host", []string{"PUBSUB_EMULATOR_HOST=127.0.0.1:1"}, nil, "PUBSUB_EMULATOR_HOST=127.0.0.1:1", 1},
		{"firestore emulator host", []string{"FIRESTORE_EMULATOR_HOST=127.0.0.1:1"}, nil, "FIRESTORE_EMULATOR_HOST=127.0.0.1:1", 1},
		{"port taken", nil, []string{"--addr", ln.Addr().String()}, "--addr", 1},
		{"data dir is a file", nil, []string{"--data-dir", file}, "--data-dir", 1},
		{"bad policy", []string{"CIO_ACTIONS={"}, nil, "CIO_ACTIONS", 2},
		{"live without credentials", nil, []string{"--live"}, "CIO_TRACK_API_KEY", 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"dev", "--addr", "127.0.0.1:0", "--data-dir", t.TempDir()}, tc.args...)
			r := run(t, tc.env, args...)
			if r.code != tc.code || !strings.Contains(r.stderr, tc.want) {
				t.Fatalf("exit %d, want %d with %q in stderr:\n%s", r.code, tc.code, tc.want, r.stderr)
			}
			if last := lastPlainLine(r.stderr); !strings.HasPrefix(last, "cioevents: dev: ") || !strings.Contains(last, tc.want) {
				t.Errorf("the failure is not one plain line \"cioevents: dev: …\" naming %s:\n%s", tc.want, r.stderr)
			}
			if strings.Contains(r.stdout, "is running") {
				t.Errorf("printed the banner although it failed: %s", r.stdout)
			}
		})
	}
}

func TestSendToNothingNamesURL(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	r := run(t, nil, "send", "--url", "http://"+addr+"/", "--key", "k", "--event", "email.bounced")
	if r.code != 1 || !strings.Contains(r.stderr, "--url") || strings.Contains(r.stdout, "req/s") {
		t.Fatalf("exit %d\nstdout %s\nstderr %s", r.code, r.stdout, r.stderr)
	}
}

// TestRunningDev: the banner's send command is this binary as invoked, and
// works from another directory; while dev runs, every command that would
// write its data dir refuses the same way: exit 2, one line naming the
// holder and nothing else.
func TestRunningDev(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, built(t), "dev", "--addr", "127.0.0.1:0", "--data-dir", dir, "--health-every", "0")
	cmd.Dir = t.TempDir()
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		cmd.Process.Signal(os.Interrupt)
		cmd.Wait()
	}()
	sc := bufio.NewScanner(stdout)
	var sendLine string
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), "Send every sample event") && sc.Scan() {
			sendLine = strings.TrimSpace(sc.Text())
			break
		}
	}
	go io.Copy(io.Discard, stdout)
	if !strings.HasPrefix(sendLine, built(t)+" send --url http://127.0.0.1:") || !strings.HasSuffix(sendLine, " --all") {
		t.Fatalf("banner's send line %q; want %s send --url … --all\nstderr: %s", sendLine, built(t), stderr.String())
	}
	args := strings.Fields(sendLine)
	if r := run(t, nil, args[1:]...); r.code != 0 {
		t.Errorf("the banner's command %q: exit %d\n%s%s", sendLine, r.code, r.stdout, r.stderr)
	}

	holder := regexp.MustCompile(`^cioevents: (dev|forget|backfill): data directory ` + regexp.QuoteMeta(dir) +
		` is in use by cioevents dev at 127\.0\.0\.1:0 \(pid ` + strconv.Itoa(cmd.Process.Pid) + `, since [0-9TZ:-]+\)$`)
	for _, args := range [][]string{
		{"dev", "--addr", "127.0.0.1:0", "--data-dir", dir},
		{"forget", "--email", "a@example.com", "--data-dir", dir},
		{"backfill", "--since", "1d", "--data-dir", dir, "--app-api-url", "http://127.0.0.1:1"},
	} {
		r := run(t, []string{"CIO_APP_API_KEY=app-key"}, args...)
		if line := lastPlainLine(r.stderr); r.code != 2 || !holder.MatchString(line) {
			t.Errorf("%s beside a running dev: exit %d, want 2 and one line matching %s\nstderr: %s", args[0], r.code, holder, r.stderr)
		}
	}
}

func TestInvokedAs(t *testing.T) {
	for _, tc := range []struct{ arg0, want string }{
		{"/tmp/go-build1234/b001/exe/cioevents", "go run ./cmd/cioevents"},
		{"/home/me/.cache/tmp/go-build99/b001/exe/cioevents", "go run ./cmd/cioevents"},
		{"cioevents", "cioevents"},
		{"./cioevents", "./cioevents"},
		{"/usr/local/bin/cioevents", "/usr/local/bin/cioevents"},
		{"/home/me/go/bin/cioevents", "/home/me/go/bin/cioevents"},
		{"/opt/my tools/cioevents", "'/opt/my tools/cioevents'"},
	} {
		if got := invokedAs(tc.arg0); got != tc.want {
			t.Errorf("invokedAs(%q) = %q, want %q", tc.arg0, got, tc.want)
		}
	}
}
