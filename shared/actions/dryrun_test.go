package actions_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/cioevents/cioevents/shared/actions"
)

func TestDryRunLines(t *testing.T) {
	var buf bytes.Buffer
	d := actions.NewDryRun(&buf)
	calls := actions.DefaultPolicy().Plan(fixture(t, "email_spammed.json"))
	calls = append(calls, actions.Call{Step: "action:1:suppress", Kind: actions.KindSuppress, Person: "x/y"})
	for _, c := range calls {
		if err := d.Do(context.Background(), c); err != nil {
			t.Fatal(err)
		}
	}
	want := []map[string]any{
		{"step": "action:0:identify", "kind": "identify", "method": "PUT", "path": "/api/v1/customers/cio_d9c106000001",
			"person": "cio_d9c106000001", "event_id": "01E4C4CT6YDC7Y5M7FE1GWWPQL",
			"attributes": map[string]any{"_update": true, "unsubscribed": true, "email_spam_complaint_at": float64(1700000100)}},
		{"step": "action:1:suppress", "kind": "suppress", "method": "POST", "path": "/api/v1/customers/x%2Fy/suppress", "person": "x/y"},
	}
	lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
	if len(lines) != len(want) {
		t.Fatalf("got %d lines, want %d:\n%s", len(lines), len(want), buf.String())
	}
	for i, line := range lines {
		var got map[string]any
		if err := json.Unmarshal([]byte(line), &got); err != nil {
			t.Fatalf("line %d not JSON: %v", i, err)
		}
		if !reflect.DeepEqual(got, want[i]) {
			t.Errorf("line %d:\n got %v\nwant %v", i, got, want[i])
		}
	}
}

func TestDryRunRefuses(t *testing.T) {
	var buf bytes.Buffer
	d := actions.NewDryRun(&buf)
	tests := []struct {
		call actions.Call
		want error
	}{
		{actions.Call{Kind: actions.KindIdentify, Attributes: map[string]any{"a": 1}}, actions.ErrNoPerson},
		{actions.Call{Kind: "delete", Person: "42"}, actions.ErrPermanent},
		{actions.Call{Kind: actions.KindIdentify, Person: "42", Attributes: map[string]any{"a": make(chan int)}}, actions.ErrPermanent},
	}
	for _, tt := range tests {
		if err := d.Do(context.Background(), tt.call); !errors.Is(err, tt.want) {
			t.Errorf("%+v: err = %v, want %v", tt.call, err, tt.want)
		}
	}
	if buf.Len() != 0 {
		t.Errorf("wrote %q, want nothing", buf.String())
	}
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func TestDryRunWriteError(t *testing.T) {
	err := actions.NewDryRun(failingWriter{}).Do(context.Background(), actions.Call{Kind: actions.KindSuppress, Person: "42"})
	if err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Errorf("err = %v, want the write error", err)
	}
}

func TestDryRunConcurrent(t *testing.T) {
	var buf bytes.Buffer
	d := actions.NewDryRun(&buf)
	const n = 64
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			c := actions.Call{Kind: actions.KindIdentify, Person: fmt.Sprint(i), Attributes: map[string]any{"v": strings.Repeat("x", 512)}}
			if err := d.Do(context.Background(), c); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	seen := map[string]bool{}
	sc := bufio.NewScanner(&buf)
	for sc.Scan() {
		var line struct{ Person string }
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			t.Fatalf("interleaved line %q: %v", sc.Text(), err)
		}
		seen[line.Person] = true
	}
	if len(seen) != n {
		t.Errorf("got %d distinct lines, want %d", len(seen), n)
	}
}

func TestRedactedDryRunKeepsPeopleOutOfLogs(t *testing.T) {
	var buf bytes.Buffer
	d := actions.NewRedactedDryRun(&buf)
	c := actions.Call{Step: "action:0:identify", Kind: actions.KindIdentify, Person: "jane@example.com", EventID: "e1",
		Attributes: map[string]any{"email_bounce_reason": "550 jane@example.com unknown", "email_bounced": true}}
	if err := d.Do(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	if strings.Contains(out, "jane") || strings.Contains(out, "550") {
		t.Fatalf("redacted line leaks personal data: %s", out)
	}
	for _, want := range []string{`"email_bounce_reason":"[redacted]"`, `"_update":true`, `"person":"hmac:`, `"event_id":"e1"`} {
		if !strings.Contains(out, want) {
			t.Fatalf("line %s lacks %s", out, want)
		}
	}
	// An unkeyed hash of the address, which anyone can compute from a list
	// of addresses, must not appear.
	sum := sha256.Sum256([]byte("jane@example.com"))
	if strings.Contains(out, hex.EncodeToString(sum[:6])) {
		t.Errorf("person hash is not keyed: %s", out)
	}
}

// TestRedactedDryRunPersonKey: with CIO_PII_KEY every instance names a
// person the same way; without it, hashes are keyed per process.
func TestRedactedDryRunPersonKey(t *testing.T) {
	person := func(d *actions.DryRun, buf *bytes.Buffer) string {
		buf.Reset()
		if err := d.Do(context.Background(), actions.Call{Kind: actions.KindSuppress, Person: "u_9001"}); err != nil {
			t.Fatal(err)
		}
		var line struct{ Person string }
		json.Unmarshal(buf.Bytes(), &line)
		return line.Person
	}
	var b1, b2 bytes.Buffer
	key := []byte("a shared key of enough length")
	a := person(actions.NewRedactedDryRun(&b1).PersonKey(key), &b1)
	b := person(actions.NewRedactedDryRun(&b2).PersonKey(key), &b2)
	if a == "" || a != b {
		t.Errorf("same key: %q and %q", a, b)
	}
	if c := person(actions.NewRedactedDryRun(&b1), &b1); c == a {
		t.Errorf("per-process key gave the shared key's hash %q", c)
	}
}
