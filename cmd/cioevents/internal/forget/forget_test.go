package forget

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/firestore"

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
	if err != nil {
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
			var out bytes.Buffer
			err = Command(context.Background(), []string{"--email", "Jane@Example.com", "--data-dir", dir},
				Env{Stdout: &out, Getenv: func(k string) string {
					return map[string]string{privacy.EnvPolicy: spec, privacy.EnvKey: string(key)}[k]
				}})
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(out.String(), "removed ") || strings.Contains(out.String(), "removed 0 events rows") {
				t.Errorf("output: %s", out.String())
			}
			ev := lines(t, filepath.Join(dir, warehouse.EventsFile))
			if len(ev) != total-naming {
				t.Errorf("%d rows left, want %d (%d named the person)", len(ev), total-naming, naming)
			}
			hashed, _ := pol.Stored("email", who)
			for _, l := range ev {
				if strings.Contains(strings.ToLower(l), who) || strings.Contains(l, hashed) || strings.Contains(l, "a3f10e000042") {
					t.Errorf("a row of the person is left: %.200s", l)
				}
			}
			rej := lines(t, filepath.Join(dir, warehouse.RejectedFile))
			if len(rej) != 1 || !strings.Contains(rej[0], `"message_id":"r2"`) {
				t.Errorf("rejected left: %v", rej)
			}
		})
	}
}

// TestLedger deletes the ledger documents of the forgotten events, on the
// Firestore emulator, and leaves the others.
func TestLedger(t *testing.T) {
	ctx := context.Background()
	fs, err := firestore.NewClient(ctx, "forget-test")
	if err != nil {
		t.Fatal(err)
	}
	defer fs.Close()
	coll := fs.Collection("ledger_" + strings.ReplaceAll(t.Name(), "/", "_"))
	// One event has a document under this release's ID and one under the
	// ID releases before the key spreading used; both go.
	docs := map[string]string{
		ledger.DocID("01JH6Z8Q3V4K2N7R9T5W1XAB3C"):       "01JH6Z8Q3V4K2N7R9T5W1XAB3C",
		ledger.LegacyDocID("01JH6Z8Q3V4K2N7R9T5W1XAB3C"): "01JH6Z8Q3V4K2N7R9T5W1XAB3C",
		ledger.DocID("keep-me"):                          "keep-me",
		ledger.LegacyDocID("keep-me"):                    "keep-me",
		ledger.DocID("weird/id"):                         "weird/id",
	}
	for docID, id := range docs {
		if _, err := coll.Doc(docID).Set(ctx, map[string]any{"event_id": id}); err != nil {
			t.Fatal(err)
		}
	}
	n, err := Ledger(ctx, coll, []string{"01JH6Z8Q3V4K2N7R9T5W1XAB3C", "weird/id", "never-written"})
	if err != nil || n != 3 {
		t.Fatalf("deleted %d, %v; want 3", n, err)
	}
	left, err := coll.Documents(ctx).GetAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(left) != 2 || left[0].Data()["event_id"] != "keep-me" || left[1].Data()["event_id"] != "keep-me" {
		t.Errorf("left %d docs", len(left))
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
