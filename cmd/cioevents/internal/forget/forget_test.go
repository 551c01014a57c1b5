package forget

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/cioevents/cioevents/cmd/cioevents/internal/cli"
	"github.com/cioevents/cioevents/cmd/cioevents/internal/devstack"
	"github.com/cioevents/cioevents/internal/testsupport/emulator"
	"github.com/cioevents/cioevents/shared/event"
	"github.com/cioevents/cioevents/shared/ledger"
	"github.com/cioevents/cioevents/shared/privacy"
	"github.com/cioevents/cioevents/shared/warehouse"
)

func TestMain(m *testing.M) { emulator.Main(m, emulator.Firestore) }

var key = []byte("0123456789abcdef0123456789abcdef")

// store writes every fixture through the policy into a data dir and
// returns how many bodies name who (as a JSON string), counted on the
// fixtures themselves.
func store(t *testing.T, pol *privacy.Policy, who string) (dir string, naming int, total int) {
	t.Helper()
	dir = t.TempDir()
	f, err := warehouse.NewFile(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w := &privacy.Writer{Next: f, Policy: pol}
	for _, sub := range []string{"events", "odd"} {
		files, _ := filepath.Glob(filepath.Join("..", "..", "..", "..", "testdata", sub, "*.json"))
		for _, file := range files {
			b, _ := os.ReadFile(file)
			ev, err := event.Parse(b)
			if err != nil {
				t.Fatal(err)
			}
			if err := w.InsertEvent(context.Background(), warehouse.FromEvent(ev, time.Now(), nil, "")); err != nil {
				t.Fatal(err)
			}
			total++
			if bytes.Contains(bytes.ToLower(b), []byte(`"`+who+`"`)) {
				naming++
			}
		}
	}
	if err := w.InsertRejected(context.Background(), warehouse.NewRejected(time.Now(), "no_event_id", "",
		[]byte(`{"data":{"identifiers":{"email":"`+who+`"}}}`), nil, "r1")); err != nil {
		t.Fatal(err)
	}
	if err := w.InsertRejected(context.Background(), warehouse.NewRejected(time.Now(), "no_event_id", "",
		[]byte(`{"data":{"identifiers":{"email":"someone.else@example.com"}}}`), nil, "r2")); err != nil {
		t.Fatal(err)
	}
	return dir, naming, total
}

func lines(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	var out []string
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(nil, 1<<24)
	for sc.Scan() {
		out = append(out, sc.Text())
	}
	return out
}

// TestLocal forgets the fixtures' person by address: every row naming the
// address goes, and so does every row naming an ID those rows carry; no
// row left names an identifier of the set.
func TestLocal(t *testing.T) {
	for _, spec := range []string{"", "email=hash"} {
		t.Run("CIO_PII="+spec, func(t *testing.T) {
			pol, err := privacy.Parse(spec, key)
			if err != nil {
				t.Fatal(err)
			}
			const who = "jane@example.com"
			dir, naming, total := store(t, pol, who)
			if naming < 3 {
				t.Fatalf("only %d fixtures name %s", naming, who)
			}
			r := Request{Emails: []string{" Jane@Example.com"}}
			if err := r.Validate(); err != nil {
				t.Fatal(err)
			}
			s := Seed(r, pol)
			if err := gatherLocal(dir, s, 0); err != nil {
				t.Fatal(err)
			}
			res, err := removeLocal(dir, s, false)
			if err != nil {
				t.Fatal(err)
			}
			ev := lines(t, filepath.Join(dir, warehouse.EventsFile))
			if len(res.EventIDs) < naming || len(ev)+len(res.EventIDs) != total {
				t.Errorf("removed %d of %d rows, %d named the address", len(res.EventIDs), total, naming)
			}
			for _, l := range ev {
				var row warehouse.Row
				json.Unmarshal([]byte(l), &row)
				if s.matches(&row) || strings.Contains(strings.ToLower(l), who) {
					t.Errorf("a row of the person is left: %.200s", l)
				}
			}
			if s.Len() < 3 {
				t.Errorf("the set %v holds no ID of the person", s.Idents())
			}
			rej := lines(t, filepath.Join(dir, warehouse.RejectedFile))
			if len(rej) != 1 || !strings.Contains(rej[0], `"message_id":"r2"`) {
				t.Errorf("rejected left: %v", rej)
			}
		})
	}
}

// TestOversizedStub: the stub of an oversized body carries the body's start
// as one JSON string, where the address is escaped. A policy that keeps
// every field keeps that prefix, and forget finds the person in it; any
// other policy keeps no prefix at all.
func TestOversizedStub(t *testing.T) {
	stub, _ := json.Marshal(map[string]any{"oversized": true, "size": 2 << 20, "sha256": "ab",
		"prefix": `{"event_id":"01JBIG","data":{"identifiers":{"email":"jane@example.com"},"content":"<p>`, "prefix_encoding": "utf-8"})
	for _, spec := range []string{"content=keep,headers=keep", ""} {
		t.Run("CIO_PII="+spec, func(t *testing.T) {
			pol, err := privacy.Parse(spec, key)
			if err != nil {
				t.Fatal(err)
			}
			dir := t.TempDir()
			f, err := warehouse.NewFile(dir)
			if err != nil {
				t.Fatal(err)
			}
			w := &privacy.Writer{Next: f, Policy: pol}
			if err := w.InsertRejected(context.Background(), warehouse.NewRejected(time.Now(), "oversized", "01JBIG", stub, nil, "m1")); err != nil {
				t.Fatal(err)
			}
			f.Close()
			kept := strings.Contains(strings.Join(lines(t, filepath.Join(dir, warehouse.RejectedFile)), ""), "jane@example.com")
			if kept != (spec != "") {
				t.Fatalf("prefix kept: %v under %q", kept, spec)
			}
			res, err := Local(dir, Person{Email: "jane@example.com"}, pol)
			if err != nil {
				t.Fatal(err)
			}
			if kept && res.Rejected != 1 {
				t.Errorf("forget removed %d rejected rows, want the stub", res.Rejected)
			}
		})
	}
}

// person is one event body of the people in dataDir.
type person struct {
	id, ws, object, email, pid, cio, recipient string
}

func (p person) body() []byte {
	ids := map[string]string{}
	for k, v := range map[string]string{"email": p.email, "id": p.pid, "cio_id": p.cio} {
		if v != "" {
			ids[k] = v
		}
	}
	data := map[string]any{"identifiers": ids, "delivery_id": "d-" + p.id}
	if p.recipient != "" {
		data["recipient"] = p.recipient
	}
	b, _ := json.Marshal(map[string]any{"event_id": p.id, "object_type": p.object, "metric": "delivered",
		"timestamp": 1767225600, "data": data})
	return b
}

func (p person) row(t *testing.T) warehouse.Row {
	t.Helper()
	ev, err := event.Parse(p.body())
	if err != nil {
		t.Fatal(err)
	}
	r := warehouse.FromEvent(ev, time.Now(), nil, "")
	if p.ws != "" {
		r.Workspace = &p.ws
	}
	return r
}

// people: Jane (u_9001, c_1) by email, SMS and push, and in workspace eu
// by her address under eu's ID e_77; eu's own u_9001, someone else; the
// default workspace's e_77, someone else; and Sam.
var people = []person{
	{id: "01JA", object: "email", email: "Jane@Example.com", pid: "u_9001", cio: "c_1", recipient: "jane@example.com"},
	{id: "01JB", object: "sms", pid: "u_9001", cio: "c_1", recipient: "+15550100"},
	{id: "01JC", object: "push", cio: "c_1"},
	{id: "01JD", object: "email", email: "sam@example.net", pid: "u_2", cio: "c_2"},
	{id: "01JE", ws: "eu", object: "sms", pid: "u_9001", recipient: "+15550199"},
	{id: "01JF", ws: "eu", object: "email", email: "jane@example.com", pid: "e_77"},
	{id: "01JG", object: "in_app", pid: "e_77"},
}

// dataDir writes people as dev would: rows through the policy, their
// ledger records (identity and actions records), an actions line each,
// and dev's key fingerprint.
func dataDir(t *testing.T, pol *privacy.Policy, devKey []byte) string {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	f, err := warehouse.NewFile(dir)
	if err != nil {
		t.Fatal(err)
	}
	w := &privacy.Writer{Next: f, Policy: pol}
	db, err := bolt.Open(filepath.Join(dir, devstack.LedgerFile), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	l, err := ledger.NewBolt(db, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, p := range people {
		r := p.row(t)
		if err := w.InsertEvent(ctx, r); err != nil {
			t.Fatal(err)
		}
		for _, k := range ledgerKeys(&r) {
			if err := l.Put(ctx, k, time.Now().Add(time.Hour), "inserted"); err != nil {
				t.Fatal(err)
			}
		}
		actions = append(actions, `{"kind":"identify","person":"`+pol.Person(actionsPerson(p))+`","event_id":"`+p.id+`"}`)
	}
	f.Close()
	os.WriteFile(filepath.Join(dir, devstack.ActionsFile), []byte(strings.Join(actions, "\n")+"\n"), 0o600)
	devFingerprint(t, dir, db, devKey)
	db.Close()
	return dir
}

// actionsPerson is whom the actions address: the Track API's person.
func actionsPerson(p person) string {
	switch {
	case p.cio != "":
		return "cio_" + p.cio
	case p.pid != "":
		return p.pid
	}
	return p.email
}

func eventIDsIn(t *testing.T, dir string) []string {
	var out []string
	for _, l := range lines(t, filepath.Join(dir, warehouse.EventsFile)) {
		var r warehouse.Row
		json.Unmarshal([]byte(l), &r)
		out = append(out, r.EventID)
	}
	return out
}

func tombstonesIn(t *testing.T, dir string) int {
	t.Helper()
	db, err := bolt.Open(filepath.Join(dir, devstack.LedgerFile), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	return len(readBoltTombstones(t, db))
}

// TestCommandLocal runs forget on a data dir as an operator does, case by
// case of issue 26: the person is gathered from the rows, the workspace
// scopes IDs, typos and empty values are refused, a request matching
// nothing exits non-zero unless pre-emptive, and the key must be dev's.
func TestCommandLocal(t *testing.T) {
	type tc struct {
		name    string
		args    []string
		devKey  []byte // nil: no fingerprint in the data dir
		err     error  // errors.Is
		left    []string
		stones  int
		out     []string
		actions int
	}
	all := []string{"01JA", "01JB", "01JC", "01JD", "01JE", "01JF", "01JG"}
	hashPol, _ := privacy.Parse("email=hash", key)
	janeStored, _ := hashPol.Stored("email", "jane@example.com")
	for _, c := range []tc{
		{name: "an address is a person: her SMS, push and eu rows go", args: []string{"--email", " Jane@EXAMPLE.com "}, devKey: key,
			left: []string{"01JD", "01JE", "01JG"}, stones: 5, actions: 4,
			out: []string{"email jane@example.com", "id u_9001 (workspace default)", "cio_id c_1 (workspace default)", "id e_77 (workspace eu)",
				"removed 4 events rows, 0 rejected rows, 4 actions lines, 12 ledger records"}},
		// Her address is stored hashed (email=hash): its rows go, and it is
		// tombstoned as stored (TestForgetHashedAddressCLI holds the effect).
		{name: "an ID with a trailing space", args: []string{"--id", "u_9001 "}, devKey: key,
			left: []string{"01JD", "01JE", "01JG"}, stones: 4, actions: 4, out: []string{"tombstoned in that form"}},
		// An address as a row stores it, copied by the operator: tombstoned
		// as stored, never hashed again.
		{name: "an address as stored", args: []string{"--email", janeStored}, devKey: key,
			left: []string{"01JD", "01JE", "01JG"}, stones: 4, actions: 4, out: []string{"email " + janeStored + "   (as stored"}},
		{name: "an ID in another workspace is another person", args: []string{"--id", "u_9001", "--workspace", "eu"}, devKey: key,
			left: []string{"01JA", "01JB", "01JC", "01JD", "01JF", "01JG"}, stones: 1, actions: 1},
		{name: "email and id together name one person", args: []string{"--email", "sam@example.net", "--id", "u_2"}, devKey: key,
			left: []string{"01JA", "01JB", "01JC", "01JE", "01JF", "01JG"}, stones: 4, actions: 1},
		{name: "a typo matches nothing: refused, no tombstone", args: []string{"--email", "jnae@example.com"}, devKey: key,
			err: ErrNoMatch, left: all, out: []string{"--preemptive"}},
		{name: "pre-emptive", args: []string{"--email", "new@example.com", "--preemptive"}, devKey: key,
			left: all, stones: 2}, // the address, and as email=hash stores it
		{name: "dry run writes nothing", args: []string{"--cio-id", "c_1", "--dry-run"}, devKey: key,
			left: all, out: []string{"id e_77 (workspace eu)", "dry run: would remove 4 events rows, 0 rejected rows, 4 actions lines"}},
		{name: "more identifiers than allowed: refused, nothing written", args: []string{"--email", "jane@example.com", "--max-identifiers", "3"},
			devKey: key, err: ErrTooMany, left: all},
		{name: "another key", args: []string{"--email", "jane@example.com"}, devKey: []byte("another-key-another-key-another-"),
			err: ErrKey, left: all, out: nil},
		{name: "no key fingerprint", args: []string{"--email", "jane@example.com"}, err: ErrKey, left: all},
		{name: "empty --id", args: []string{"--id", "  "}, devKey: key, err: cli.ErrUsage, left: all},
		{name: "empty --email", args: []string{"--email="}, devKey: key, err: cli.ErrUsage, left: all},
		{name: "an ID given as --email", args: []string{"--email", "u_9001"}, devKey: key, err: cli.ErrUsage, left: all},
		{name: "a bad workspace", args: []string{"--id", "u_9001", "--workspace", "EU!"}, devKey: key, err: cli.ErrUsage, left: all},
	} {
		t.Run(c.name, func(t *testing.T) {
			pol, _ := privacy.Parse("email=hash", key)
			dir := dataDir(t, pol, c.devKey)
			var out bytes.Buffer
			env := map[string]string{privacy.EnvPolicy: "email=hash", privacy.EnvKey: string(key)}
			err := Command(context.Background(), append(c.args, "--data-dir", dir), Env{Stdout: &out,
				Getenv: func(k string) string { return env[k] }})
			var ue *cli.UsageError
			if c.err == nil && err != nil || c.err == cli.ErrUsage && !errors.As(err, &ue) ||
				c.err != nil && c.err != cli.ErrUsage && !errors.Is(err, c.err) {
				t.Fatalf("err %v, want %v\n%s", err, c.err, out.String())
			}
			if c.err == ErrKey && !strings.Contains(err.Error(), dir) {
				t.Errorf("the refusal does not say where the key lives: %v", err)
			}
			if got := eventIDsIn(t, dir); !slices.Equal(got, c.left) {
				t.Errorf("rows left %v, want %v\n%s", got, c.left, out.String())
			}
			if n := tombstonesIn(t, dir); n != c.stones {
				t.Errorf("%d tombstones, want %d", n, c.stones)
			}
			if n := len(all) - len(lines(t, filepath.Join(dir, devstack.ActionsFile))); n != c.actions {
				t.Errorf("%d actions lines removed, want %d", n, c.actions)
			}
			for _, s := range c.out {
				if !strings.Contains(out.String()+errString(err), s) {
					t.Errorf("output lacks %q:\n%s%v", s, out.String(), err)
				}
			}
			// The ledger keeps exactly the records of the rows left.
			db, err := bolt.Open(filepath.Join(dir, devstack.LedgerFile), 0o600, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			l, _ := ledger.NewBolt(db, time.Minute)
			for _, p := range people {
				r := p.row(t)
				want := slices.Contains(c.left, p.id)
				for _, k := range ledgerKeys(&r) {
					if got := l.Peek(context.Background(), k) != nil; got != want {
						t.Errorf("ledger record %s of %s kept: %v, want %v", k, p.id, got, want)
					}
				}
			}
		})
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// TestLocalKeepsOutIDOnlyEvents: after forget --email, the person's later
// SMS, push and in-app events, which name her only by id or cio_id, are
// forgotten by the tombstones forget left, in her workspace only.
func TestLocalKeepsOutIDOnlyEvents(t *testing.T) {
	pol, _ := privacy.Parse("", nil)
	dir := dataDir(t, pol, key)
	env := map[string]string{privacy.EnvKey: string(key)}
	var out bytes.Buffer
	if err := Command(context.Background(), []string{"--email", "jane@example.com", "--data-dir", dir},
		Env{Stdout: &out, Getenv: func(k string) string { return env[k] }}); err != nil {
		t.Fatal(err, out.String())
	}
	db, err := bolt.Open(filepath.Join(dir, devstack.LedgerFile), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	set := tombstoneSet(t, db, key)
	for _, c := range []struct {
		p    person
		want bool
	}{
		{person{id: "n1", object: "sms", pid: "u_9001", recipient: "+15550100"}, true},
		{person{id: "n2", object: "push", cio: "c_1"}, true},
		{person{id: "n3", object: "email", email: "JANE@example.com"}, true},
		{person{id: "n4", ws: "eu", object: "sms", email: "jane@example.com"}, true},
		{person{id: "n5", ws: "eu", object: "sms", pid: "e_77"}, true},
		{person{id: "n6", ws: "eu", object: "sms", pid: "u_9001"}, false},
		{person{id: "n7", object: "sms", pid: "e_77"}, false},
		{person{id: "n8", object: "email", email: "sam@example.net"}, false},
	} {
		ev, err := event.Parse(c.p.body())
		if err != nil {
			t.Fatal(err)
		}
		if got := forgotten(set, c.p.ws, ev); got != c.want {
			t.Errorf("%+v forgotten: %v, want %v", c.p, got, c.want)
		}
	}
}
