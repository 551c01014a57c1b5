package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// readmeCounts are the numbers README.md's "What you will see" promises for
// `send --all` against a fresh `dev`.
type readmeCounts struct {
	requests, rows, rejected, actions int
}

// The README's sentences, with the number to read in each. A rewording
// that drops one fails the test rather than leaving a number unchecked.
var readmeCountPatterns = map[string]*regexp.Regexp{
	"requests": regexp.MustCompile(`\*\*(\d+)\*\*\s+requests`),
	"rows":     regexp.MustCompile("\\*\\*(\\d+)\\*\\*\\s+rows\\s+in\\s+`events\\.ndjson`"),
	"rejected": regexp.MustCompile("\\*\\*(\\d+)\\*\\*\\s+malformed\\s+samples\\s+in\\s+`rejected\\.ndjson`"),
	"actions":  regexp.MustCompile("\\*\\*(\\d+)\\*\\*\\s+Customer\\.io\\s+calls\\s+in\\s+`actions\\.ndjson`"),
}

func readReadmeCounts(t *testing.T) readmeCounts {
	t.Helper()
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	n := map[string]int{}
	for name, re := range readmeCountPatterns {
		ms := re.FindAllSubmatch(b, -1)
		if len(ms) != 1 {
			t.Fatalf("README.md: %d matches of %s, want exactly 1", len(ms), re)
		}
		n[name], _ = strconv.Atoi(string(ms[0][1]))
	}
	return readmeCounts{n["requests"], n["rows"], n["rejected"], n["actions"]}
}

var (
	sendLine   = regexp.MustCompile(`send --url (\S+) --key (\S+) --all`)
	healthLine = regexp.MustCompile(`health: accepted (\d+),.*\| processed (\d+), duplicate (\d+), rejected (\d+),`)
	sentLine   = regexp.MustCompile(`(?m)^requests\s+(\d+)\b`)
	statusLine = regexp.MustCompile(`(?m)^status\s+(.*)$`)
)

// TestReadmeCounts runs the README's first command and the `send --all` it
// prints, as a newcomer does, and holds the README's numbers to what send
// reports and what lands in the data dir; then sends everything again and
// checks that nothing is added, as the README says.
func TestReadmeCounts(t *testing.T) {
	want := readReadmeCounts(t)
	data := t.TempDir()
	dev := exec.Command(built(t), "dev", "--addr", "127.0.0.1:0", "--data-dir", data, "--health-every", "100ms")
	dev.Dir = t.TempDir()
	dev.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}
	var stdout, stderr lockedBuffer
	dev.Stdout, dev.Stderr = &stdout, &stderr
	if err := dev.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { dev.Wait(); close(exited) }()
	t.Cleanup(func() {
		dev.Process.Signal(syscall.SIGINT)
		select {
		case <-exited:
		case <-time.After(time.Minute):
			dev.Process.Kill()
			<-exited
		}
	})
	// Generous waits: nothing here measures speed, and a loaded machine may
	// take long to start a process or drain a queue.
	waitFor := func(what string, ok func() bool) {
		t.Helper()
		for deadline := time.Now().Add(3 * time.Minute); !ok(); time.Sleep(50 * time.Millisecond) {
			select {
			case <-exited:
				t.Fatalf("dev exited while waiting for %s:\nstdout: %s\nstderr: %s", what, stdout.String(), stderr.String())
			default:
			}
			if time.Now().After(deadline) {
				t.Fatalf("no %s:\nstdout: %s\nstderr: %s", what, stdout.String(), stderr.String())
			}
		}
	}
	var url, key string
	waitFor("send command in dev's banner", func() bool {
		m := sendLine.FindStringSubmatch(stdout.String())
		if m != nil {
			url, key = m[1], m[2]
		}
		return m != nil
	})
	// handled waits until dev has dealt with every request it accepted and
	// has accepted at least n.
	handled := func(n int) func() bool {
		return func() bool {
			ms := healthLine.FindAllStringSubmatch(stdout.String(), -1)
			if len(ms) == 0 {
				return false
			}
			v := make([]int, 4)
			for i := range v {
				v[i], _ = strconv.Atoi(ms[len(ms)-1][i+1])
			}
			return v[0] >= n && v[1]+v[2]+v[3] == v[0]
		}
	}

	for round := 1; round <= 2; round++ {
		r := run(t, nil, "send", "--url", url, "--key", key, "--all")
		if r.code != 0 {
			t.Fatalf("send --all, round %d: exit %d\n%s%s", round, r.code, r.stdout, r.stderr)
		}
		m := sentLine.FindStringSubmatch(r.stdout)
		if m == nil {
			t.Fatalf("send --all printed no request count:\n%s", r.stdout)
		}
		if sent, _ := strconv.Atoi(m[1]); sent != want.requests {
			t.Errorf("round %d: send --all posted %d requests; README.md says %d", round, sent, want.requests)
		}
		if s := statusLine.FindStringSubmatch(r.stdout); s == nil || strings.TrimSpace(s[1]) != "200×"+strconv.Itoa(want.requests) {
			t.Errorf("round %d: send --all statuses %q, want every request answered 200:\n%s", round, s, r.stdout)
		}
		waitFor("health line with every accepted event handled", handled(round*want.requests))

		got := readmeCounts{requests: want.requests, rows: lines(t, data, "events.ndjson"),
			rejected: lines(t, data, "rejected.ndjson"), actions: lines(t, data, "actions.ndjson")}
		if got != want {
			t.Errorf("round %d: the data dir holds %d rows, %d rejected, %d actions; README.md says %d, %d, %d",
				round, got.rows, got.rejected, got.actions, want.rows, want.rejected, want.actions)
		}
	}
}

// lines counts the non-empty lines of a file in dir; a missing file has none.
func lines(t *testing.T, dir, name string) int {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, name))
	if os.IsNotExist(err) {
		return 0
	}
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, l := range bytes.Split(b, []byte("\n")) {
		if len(bytes.TrimSpace(l)) > 0 {
			n++
		}
	}
	return n
}
