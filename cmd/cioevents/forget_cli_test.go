package main

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/cioevents/cioevents/cmd/cioevents/internal/appapi/appapifake"
	"github.com/cioevents/cioevents/cmd/cioevents/internal/forget"
	"github.com/cioevents/cioevents/shared/privacy"
)

// devProcess is `cioevents dev` running as a user runs it.
type devProcess struct {
	cmd    *exec.Cmd
	url    string
	mu     sync.Mutex
	stderr bytes.Buffer
	done   chan struct{}
}

func (d *devProcess) logs() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.stderr.String()
}

type lockedWriter struct{ d *devProcess }

func (w lockedWriter) Write(p []byte) (int, error) {
	w.d.mu.Lock()
	defer w.d.mu.Unlock()
	return w.d.stderr.Write(p)
}

func startDev(t *testing.T, env []string, dir string) *devProcess {
	t.Helper()
	d := &devProcess{done: make(chan struct{})}
	d.cmd = exec.Command(built(t), "dev", "--addr", "127.0.0.1:0", "--data-dir", dir)
	d.cmd.Dir = t.TempDir()
	d.cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}, env...)
	d.cmd.Stderr = lockedWriter{d}
	out, err := d.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	urls := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if u, ok := strings.CutPrefix(strings.TrimSpace(sc.Text()), "webhook URL"); ok {
				urls <- strings.TrimSpace(u)
			}
		}
		d.cmd.Wait()
		close(d.done)
	}()
	select {
	case d.url = <-urls:
	case <-d.done:
		t.Fatalf("dev exited: %s", d.logs())
	case <-time.After(2 * time.Minute):
		t.Fatalf("no banner: %s", d.logs())
	}
	t.Cleanup(func() { d.stop(t) })
	return d
}

func (d *devProcess) stop(t *testing.T) {
	t.Helper()
	select {
	case <-d.done:
		return
	default:
	}
	d.cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-d.done:
	case <-time.After(time.Minute):
		d.cmd.Process.Kill()
		t.Errorf("dev did not stop on SIGINT")
	}
}

// send posts files to dev, signed with key, as `cioevents send` does.
func (d *devProcess) send(t *testing.T, key string, files ...string) {
	t.Helper()
	args := []string{"send", "--url", d.url, "--key", key}
	for _, f := range files {
		args = append(args, "--file", f)
	}
	if r := run(t, nil, args...); r.code != 0 {
		t.Fatalf("send: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}

// waitLog waits until dev's log holds n lines containing s.
func (d *devProcess) waitLog(t *testing.T, s string, n int) {
	t.Helper()
	for deadline := time.Now().Add(2 * time.Minute); strings.Count(d.logs(), s) < n; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no %d× %s in dev's log:\n%s", n, s, d.logs())
		}
	}
}

// TestForgetThroughTheCLI runs what a user runs — dev, send, forget
// --data-dir, backfill --data-dir, dev and send again — with
// CIO_PII=email=hash: forget refuses while dev runs (exit 2, naming it)
// and loses nothing; once dev is stopped it removes the person from every
// file and the ledger; the person's events arriving later by webhook or
// backfill are not stored again, nor are deliveries the App API marks
// forgotten; and the address is never written in clear.
func TestForgetThroughTheCLI(t *testing.T) {
	const (
		key  = "cli-signing-key"
		jane = "jane@example.com"
	)
	dir := t.TempDir()
	env := []string{"CIO_WEBHOOK_SIGNING_KEYS=" + key, "CIO_PII=email=hash", "CIO_PII_KEY=0123456789abcdef0123456789abcdef"}
	body := func(id, email string) string {
		p := filepath.Join(t.TempDir(), id+".json")
		b := `{"event_id":"` + id + `","object_type":"email","metric":"bounced","timestamp":` +
			"1767225600" + `,"data":{"delivery_id":"d` + id + `","identifiers":{"email":"` + email +
			`","id":"id-` + id + `"},"recipient":"` + email + `","failure_message":"550 no such user <` + email + `>"}}`
		if err := os.WriteFile(p, []byte(b), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}

	dev := startDev(t, env, dir)
	if r := run(t, nil, "send", "--url", dev.url, "--key", key, "--file", body("01JCLI0000000000000000000A", jane),
		"--file", body("01JCLI0000000000000000000B", "sam@example.net")); r.code != 0 {
		t.Fatalf("send: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	dev.waitLog(t, `"outcome":"inserted`, 2)

	// While dev runs: refused, naming it, and dev keeps every event.
	r := run(t, env, "forget", "--email", jane, "--data-dir", dir)
	if r.code != 2 || !strings.Contains(r.stderr, "cioevents dev") {
		t.Fatalf("forget beside dev: exit %d, want 2 naming dev\n%s%s", r.code, r.stdout, r.stderr)
	}
	if r := run(t, nil, "send", "--url", dev.url, "--key", key, "--file", body("01JCLI0000000000000000000C", "ann@example.org")); r.code != 0 {
		t.Fatalf("send: exit %d\n%s", r.code, r.stderr)
	}
	dev.waitLog(t, `"outcome":"inserted`, 3)
	dev.stop(t)
	if n := strings.Count(readFile(t, dir, "events.ndjson"), "\n"); n != 3 {
		t.Fatalf("%d rows after the refused forget, want 3", n)
	}

	r = run(t, env, "forget", "--email", "Jane@Example.com", "--data-dir", dir)
	if r.code != 0 || !strings.Contains(r.stdout, "removed 1 events rows") || !strings.Contains(r.stdout, "1 actions lines") ||
		!strings.Contains(r.stdout, "1 ledger records") || !strings.Contains(r.stdout, "tombstone") {
		t.Fatalf("forget: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}

	// The nightly backfill over those days: the App API lists Jane's
	// delivery again, and another person's that Customer.io forgot.
	fake := appapifake.New("app-key")
	defer fake.Close()
	now := time.Now().Add(-time.Hour).Unix()
	email, other := jane, "zed@example.com"
	fake.Add(appapifake.Delivery{ID: "dJane", Type: "email", Created: now, Recipient: &email,
		CustomerIdentifiers: &appapifake.Identifiers{Email: &email, CioID: "cioJ"}, Metrics: map[string]int64{"delivered": now}},
		appapifake.Delivery{ID: "dZed", Type: "email", Created: now, Recipient: &other, Forgotten: true,
			CustomerIdentifiers: &appapifake.Identifiers{Email: &other, CioID: "cioZ"}, Metrics: map[string]int64{"delivered": now}})
	r = run(t, append(env, "CIO_APP_API_KEY=app-key"), "backfill", "--data-dir", dir, "--since", "2d", "--app-api-url", fake.URL())
	if r.code != 0 || !strings.Contains(r.stdout, "0 added") || !strings.Contains(r.stdout, "2 forgotten") {
		t.Fatalf("backfill: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}

	// A Customer.io retry of Jane's event, and a new one, by webhook.
	dev = startDev(t, env, dir)
	if r := run(t, nil, "send", "--url", dev.url, "--key", key, "--file", body("01JCLI0000000000000000000A", jane),
		"--file", body("01JCLI0000000000000000000D", jane)); r.code != 0 {
		t.Fatalf("send: exit %d\n%s", r.code, r.stderr)
	}
	dev.waitLog(t, `"outcome":"forgotten"`, 2)
	dev.stop(t)

	files := readFile(t, dir, "events.ndjson") + readFile(t, dir, "rejected.ndjson") + readFile(t, dir, "actions.ndjson")
	if n := strings.Count(readFile(t, dir, "events.ndjson"), "\n"); n != 2 {
		t.Errorf("%d rows at the end, want 2 (sam, ann)", n)
	}
	for _, s := range []string{jane, "01JCLI0000000000000000000A", "01JCLI0000000000000000000D", "dJane", "zed@example.com"} {
		if strings.Contains(files, s) {
			t.Errorf("%s is written after forget", s)
		}
	}
	if strings.Contains(dev.logs(), jane) {
		t.Errorf("dev logged the address")
	}
	if !strings.Contains(readFile(t, dir, "events.ndjson"), "hmac:") {
		t.Errorf("the kept rows do not hold hashed addresses")
	}
}

func readFile(t *testing.T, dir, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return string(b)
}

// TestForgetAPersonThroughTheCLI runs the cases of issue 26 as an operator
// would, with dev and its data dir: forget refuses another key and a
// missing one (exit 1, naming where the key lives) and a typo (exit 1,
// naming --preemptive), writing nothing; forget --email then gathers the
// person's IDs from her rows and removes her ID-only rows too; and her
// later SMS, push and email events, naming her by any one identifier, are
// not stored again.
func TestForgetAPersonThroughTheCLI(t *testing.T) {
	const (
		key    = "cli-signing-key"
		piiKey = "0123456789abcdef0123456789abcdef"
	)
	dir := t.TempDir()
	env := []string{"CIO_WEBHOOK_SIGNING_KEYS=" + key, "CIO_PII=email=hash", "CIO_PII_KEY=" + piiKey}
	body := func(id, object, identifiers string) string {
		p := filepath.Join(t.TempDir(), id+".json")
		b := `{"event_id":"` + id + `","object_type":"` + object + `","metric":"delivered","timestamp":1767225600,` +
			`"data":{"delivery_id":"d` + id + `","identifiers":{` + identifiers + `}}}`
		if err := os.WriteFile(p, []byte(b), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	send := func(dev *devProcess, files ...string) { t.Helper(); dev.send(t, key, files...) }
	dev := startDev(t, env, dir)
	send(dev,
		body("01JP00000000000000000000EA", "email", `"email":"Jane@Example.com","id":"u_9001","cio_id":"c_1"`),
		body("01JP00000000000000000000SA", "sms", `"id":"u_9001"`),
		body("01JP00000000000000000000PA", "push", `"cio_id":"c_1"`),
		body("01JP00000000000000000000SM", "email", `"email":"sam@example.net","id":"u_2"`))
	dev.waitLog(t, `"outcome":"inserted`, 4)
	dev.stop(t)
	rows := func() int { return strings.Count(readFile(t, dir, "events.ndjson"), "\n") }

	for _, c := range []struct {
		name string
		env  []string
		args []string
		want []string
	}{
		{"another key", []string{"CIO_PII=email=hash", "CIO_PII_KEY=another-key-another-key-another-"}, []string{"--email", "jane@example.com"},
			[]string{"CIO_PII_KEY", dir, "fingerprint"}},
		{"no key", []string{"CIO_PII="}, []string{"--email", "jane@example.com"}, []string{"CIO_PII_KEY", dir}},
		{"a typo", env, []string{"--email", "jnae@example.com"}, []string{"no row names this person", "--preemptive"}},
	} {
		r := run(t, c.env, append([]string{"forget", "--data-dir", dir}, c.args...)...)
		if r.code != 1 || rows() != 4 {
			t.Fatalf("%s: exit %d with %d rows left, want 1 and all 4\n%s%s", c.name, r.code, rows(), r.stdout, r.stderr)
		}
		for _, w := range c.want {
			if !strings.Contains(r.stderr, w) {
				t.Errorf("%s: stderr lacks %q:\n%s", c.name, w, r.stderr)
			}
		}
	}

	r := run(t, env, "forget", "--data-dir", dir, "--email", " Jane@EXAMPLE.com")
	if r.code != 0 || !strings.Contains(r.stdout, "removed 3 events rows") || !strings.Contains(r.stdout, "id u_9001 (workspace default)") ||
		!strings.Contains(r.stdout, "cio_id c_1 (workspace default)") {
		t.Fatalf("forget: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if rows() != 1 {
		t.Fatalf("%d rows left, want Sam's", rows())
	}

	dev = startDev(t, env, dir)
	send(dev,
		body("01JP00000000000000000000SB", "sms", `"id":"u_9001"`),
		body("01JP00000000000000000000PB", "push", `"cio_id":"c_1"`),
		body("01JP00000000000000000000EB", "email", `"email":"jane@example.com"`),
		body("01JP00000000000000000000SN", "email", `"email":"sam@example.net","id":"u_2"`))
	dev.waitLog(t, `"outcome":"forgotten"`, 3)
	dev.waitLog(t, `"outcome":"inserted`, 1)
	dev.stop(t)
	files := readFile(t, dir, "events.ndjson") + readFile(t, dir, "rejected.ndjson") + readFile(t, dir, "actions.ndjson")
	for _, id := range []string{"SA", "PA", "EA", "SB", "PB", "EB", "u_9001", "c_1"} {
		if strings.Contains(files, "01JP00000000000000000000"+id) || strings.Contains(files, `"`+id+`"`) {
			t.Errorf("%s is written after forget", id)
		}
	}
	if rows() != 2 {
		t.Errorf("%d rows at the end, want Sam's two", rows())
	}
}

// TestForgetRerunExitsThree: a forget that must run again (its second
// sweep is due, or rows are in BigQuery's streaming buffer) exits 3, apart
// from a failure (1) and a usage error (2), and says why on stderr.
func TestForgetRerunExitsThree(t *testing.T) {
	var stderr bytes.Buffer
	err := fmt.Errorf("%w: run it again after 2026-03-01T15:32:00Z", forget.ErrRerun)
	if code := exitCode("forget", err, &stderr); code != 3 || !strings.Contains(stderr.String(), "run it again after") {
		t.Errorf("exit %d, stderr %q; want 3 with the time", code, stderr.String())
	}
	if code := exitCode("forget", forget.ErrNoMatch, &stderr); code != 1 {
		t.Errorf("no match: exit %d, want 1", code)
	}
}

// TestForgetWorkspaceScopeThroughTheCLI: IDs are per workspace. With dev
// verifying two workspaces' keys, forget --id 42 --workspace eu removes
// eu's person 42 only; afterwards eu's 42 is dropped and the default
// workspace's 42 is stored. An address is forgotten in every workspace.
func TestForgetWorkspaceScopeThroughTheCLI(t *testing.T) {
	const piiKey = "0123456789abcdef0123456789abcdef"
	dir := t.TempDir()
	env := []string{"CIO_WEBHOOK_SIGNING_KEYS=eu=k-eu,k-default", "CIO_PII_KEY=" + piiKey}
	body := func(id, identifiers string) string {
		p := filepath.Join(t.TempDir(), id+".json")
		b := `{"event_id":"` + id + `","object_type":"sms","metric":"delivered","timestamp":1767225600,` +
			`"data":{"delivery_id":"d` + id + `","identifiers":{` + identifiers + `}}}`
		if err := os.WriteFile(p, []byte(b), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	send := func(dev *devProcess, key string, files ...string) { t.Helper(); dev.send(t, key, files...) }
	dev := startDev(t, env, dir)
	send(dev, "k-eu", body("01JWS0000000000000000000E1", `"id":"42"`), body("01JWS0000000000000000000E2", `"id":"7","email":"ann@example.org"`))
	send(dev, "k-default", body("01JWS0000000000000000000D1", `"id":"42"`), body("01JWS0000000000000000000D2", `"id":"8","email":"Ann@example.org"`))
	dev.waitLog(t, `"outcome":"inserted`, 4)
	dev.stop(t)

	r := run(t, env, "forget", "--data-dir", dir, "--id", "42", "--workspace", "eu")
	if r.code != 0 || !strings.Contains(r.stdout, "removed 1 events rows") || !strings.Contains(r.stdout, "id 42 (workspace eu)") {
		t.Fatalf("forget --workspace eu: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = run(t, env, "forget", "--data-dir", dir, "--email", "ann@example.org")
	if r.code != 0 || !strings.Contains(r.stdout, "removed 2 events rows") || !strings.Contains(r.stdout, "id 7 (workspace eu)") ||
		!strings.Contains(r.stdout, "id 8 (workspace default)") {
		t.Fatalf("forget --email: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if rows := readFile(t, dir, "events.ndjson"); strings.Count(rows, "\n") != 1 || !strings.Contains(rows, "01JWS0000000000000000000D1") {
		t.Fatalf("rows left:\n%s", rows)
	}

	dev = startDev(t, env, dir)
	send(dev, "k-eu", body("01JWS0000000000000000000E3", `"id":"42"`), body("01JWS0000000000000000000E4", `"id":"7"`))
	send(dev, "k-default", body("01JWS0000000000000000000D3", `"id":"42"`), body("01JWS0000000000000000000D4", `"id":"8"`))
	dev.waitLog(t, `"outcome":"forgotten"`, 3)
	dev.waitLog(t, `"outcome":"inserted`, 1)
	dev.stop(t)
	rows := readFile(t, dir, "events.ndjson")
	if strings.Count(rows, "\n") != 2 || !strings.Contains(rows, "01JWS0000000000000000000D3") {
		t.Errorf("rows at the end, want the default workspace's 42 twice:\n%s", rows)
	}
}

// TestForgetHashedAddressThroughTheCLI: under CIO_PII email=hash, rows hold
// an address only as its hash, so `forget --id` finds the person's address
// only in that form. It tombstones that form (no "also give --email"
// note), and the person's later events that name them only by address are
// dropped as forgotten on every path dev and backfill take: a webhook
// event, a body without event_id (the quarantine path, which would keep
// it in rejected_events) and a delivery the App API lists.
func TestForgetHashedAddressThroughTheCLI(t *testing.T) {
	const (
		key  = "cli-signing-key"
		jane = "jane@example.com"
	)
	dir := t.TempDir()
	env := []string{"CIO_WEBHOOK_SIGNING_KEYS=" + key, "CIO_PII=email=hash", "CIO_PII_KEY=0123456789abcdef0123456789abcdef"}
	file := func(name, body string) string {
		p := filepath.Join(t.TempDir(), name+".json")
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	event := func(id, identifiers string) string {
		return file(id, `{"event_id":"`+id+`","object_type":"email","metric":"delivered","timestamp":1767225600,`+
			`"data":{"delivery_id":"d`+id+`","identifiers":{`+identifiers+`}}}`)
	}
	send := func(dev *devProcess, files ...string) { t.Helper(); dev.send(t, key, files...) }
	dev := startDev(t, env, dir)
	send(dev, event("01JH00000000000000000000JA", `"email":"Jane@Example.com","id":"u_9001"`),
		event("01JH00000000000000000000SA", `"email":"sam@example.net","id":"u_2"`))
	dev.waitLog(t, `"outcome":"inserted`, 2)
	dev.stop(t)
	if rows := readFile(t, dir, "events.ndjson"); strings.Contains(rows, jane) || !strings.Contains(rows, "hmac:") {
		t.Fatalf("rows do not hold the address hashed:\n%s", rows)
	}

	r := run(t, env, "forget", "--data-dir", dir, "--id", "u_9001")
	if r.code != 0 || !strings.Contains(r.stdout, "removed 1 events rows") || !strings.Contains(r.stdout, "email hmac:") ||
		!strings.Contains(r.stdout, "left 2 tombstones") || strings.Contains(r.stdout, "--email") {
		t.Fatalf("forget --id: exit %d, want 0, the stored address among 2 tombstones and no --email note\n%s%s", r.code, r.stdout, r.stderr)
	}

	dev = startDev(t, env, dir)
	send(dev,
		event("01JH00000000000000000000JB", `"email":"JANE@example.com"`),
		// No event_id: quarantined unless it names a forgotten person.
		file("no-id", `{"object_type":"email","metric":"bounced","timestamp":1767225600,"data":{"recipient":" jane@example.com"}}`),
		file("no-id-sam", `{"object_type":"email","metric":"bounced","timestamp":1767225600,"data":{"recipient":"sam@example.net"}}`),
		event("01JH00000000000000000000SB", `"email":"sam@example.net","id":"u_2"`))
	dev.waitLog(t, `"outcome":"forgotten"`, 2)
	dev.waitLog(t, `"outcome":"inserted`, 1)
	dev.waitLog(t, `"outcome":"rejected`, 1)
	dev.stop(t)

	// The nightly backfill: the App API lists a delivery of Jane's by
	// address, with a cio_id no row ever named.
	fake := appapifake.New("app-key")
	defer fake.Close()
	now := time.Now().Add(-time.Hour).Unix()
	email := jane
	fake.Add(appapifake.Delivery{ID: "dJaneNew", Type: "email", Created: now, Recipient: &email,
		CustomerIdentifiers: &appapifake.Identifiers{Email: &email, CioID: "cioNew"}, Metrics: map[string]int64{"delivered": now}})
	r = run(t, append(env, "CIO_APP_API_KEY=app-key"), "backfill", "--data-dir", dir, "--since", "2d", "--app-api-url", fake.URL())
	if r.code != 0 || !strings.Contains(r.stdout, "0 added") || !strings.Contains(r.stdout, "1 forgotten") {
		t.Fatalf("backfill: exit %d, want her delivery forgotten\n%s%s", r.code, r.stdout, r.stderr)
	}

	rows, rejected := readFile(t, dir, "events.ndjson"), readFile(t, dir, "rejected.ndjson")
	if strings.Count(rows, "\n") != 2 || strings.Contains(rows, "01JH00000000000000000000JB") || strings.Contains(rows, "dJaneNew") {
		t.Errorf("rows at the end, want Sam's two:\n%s", rows)
	}
	if strings.Count(rejected, "\n") != 1 || !strings.Contains(rejected, "sam@example.net") && !strings.Contains(rejected, "hmac:") {
		t.Errorf("rejected rows, want Sam's body only:\n%s", rejected)
	}
	pol, err := privacy.Parse("email=hash", []byte("0123456789abcdef0123456789abcdef"))
	if err != nil {
		t.Fatal(err)
	}
	hashed, _ := pol.Stored("email", jane)
	if all := rows + rejected + readFile(t, dir, "actions.ndjson"); strings.Contains(all, hashed) || strings.Contains(all, jane) {
		t.Errorf("Jane's address (%s) is written after forget", hashed)
	}
}
