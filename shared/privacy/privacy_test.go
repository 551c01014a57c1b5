package privacy_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/cioevents/cioevents/shared/event"
	"github.com/cioevents/cioevents/shared/privacy"
	"github.com/cioevents/cioevents/shared/warehouse"
)

var key = []byte("0123456789abcdef0123456789abcdef")

func TestParse(t *testing.T) {
	tests := []struct {
		spec    string
		key     []byte
		wantErr bool
		want    map[string]privacy.Action
	}{
		{"", nil, false, map[string]privacy.Action{"email": "keep", "recipient": "keep", "subject": "keep",
			"href": "keep", "failure_message": "keep", "content": "drop", "headers": "drop"}},
		{"email=hash, subject=drop", key, false, map[string]privacy.Action{"email": "hash", "recipient": "hash",
			"subject": "drop", "content": "drop"}},
		{"email=hash,recipient=keep,content=keep,href=strip-query", key, false, map[string]privacy.Action{
			"email": "hash", "recipient": "keep", "content": "keep", "href": "strip-query"}},
		{"email=hash", nil, true, nil},             // no key: fail closed
		{"email=hash", []byte("short"), true, nil}, // a guessable key
		{"phone=drop", nil, true, nil},
		{"subject=redact", nil, true, nil},
		{"subject=strip-query", nil, true, nil},
		{"subject", nil, true, nil},
	}
	for _, tt := range tests {
		p, err := privacy.Parse(tt.spec, tt.key)
		if tt.wantErr {
			if !errors.Is(err, privacy.ErrPolicy) {
				t.Errorf("%q: err %v, want ErrPolicy", tt.spec, err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%q: %v", tt.spec, err)
		}
		for f, a := range tt.want {
			if got := p.Action(f); got != a {
				t.Errorf("%q: %s = %s, want %s", tt.spec, f, got, a)
			}
		}
	}
}

var addrRE = regexp.MustCompile(`[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}`)

// TestNoAddressOrSubjectReachesTheWarehouse stores every fixture through
// the policy into the dev warehouse file and looks for any address or
// subject of the fixtures in what was written, typed columns and raw alike.
func TestNoAddressOrSubjectReachesTheWarehouse(t *testing.T) {
	p, err := privacy.Parse("email=hash,subject=drop", key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	f, err := warehouse.NewFile(dir)
	if err != nil {
		t.Fatal(err)
	}
	w := &privacy.Writer{Next: f, Policy: p}
	secrets := map[string]bool{}
	n := 0
	for _, sub := range []string{"events", "odd"} {
		files, _ := filepath.Glob(filepath.Join("..", "..", "testdata", sub, "*.json"))
		for _, file := range files {
			b, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			ev, err := event.Parse(b)
			if err != nil {
				t.Fatalf("%s: %v", file, err)
			}
			for _, a := range addrRE.FindAllString(string(b), -1) {
				secrets[strings.ToLower(a)] = true
			}
			var m struct{ Data struct{ Subject string } }
			json.Unmarshal(b, &m)
			if m.Data.Subject != "" {
				secrets[strings.ToLower(m.Data.Subject)] = true
			}
			if err := w.InsertEvent(context.Background(), warehouse.FromEvent(ev, time.Now(), nil, "m")); err != nil {
				t.Fatalf("%s: %v", file, err)
			}
			n++
		}
	}
	// A quarantined JSON body gets the policy too.
	if err := w.InsertRejected(context.Background(), warehouse.NewRejected(time.Now(), "no_event_id", "",
		[]byte(`{"data":{"identifiers":{"email":"jane@example.com"},"subject":"Your January statement"}}`), nil, "m2")); err != nil {
		t.Fatal(err)
	}
	f.Close()
	if n < 70 || len(secrets) < 10 {
		t.Fatalf("only %d fixtures, %d secrets: the test would prove little", n, len(secrets))
	}
	var all []byte
	for _, name := range []string{warehouse.EventsFile, warehouse.RejectedFile} {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, b...)
	}
	lower := strings.ToLower(string(all))
	// JSON escapes some characters; look for the escaped form too.
	for s := range secrets {
		esc, _ := json.Marshal(s)
		if strings.Contains(lower, s) || strings.Contains(lower, strings.Trim(string(esc), `"`)) {
			t.Errorf("%q reached the warehouse", s)
		}
	}

	// Hashes still join: every row of one person carries the same value,
	// the HMAC of the lower-cased address.
	sc := bufio.NewScanner(bytes.NewReader(all))
	sc.Buffer(nil, 1<<24)
	emails := map[string]map[string]bool{} // cio_id -> email column values
	for sc.Scan() {
		var r warehouse.Row
		if json.Unmarshal(sc.Bytes(), &r) != nil || r.CioID == nil || r.Email == nil {
			continue
		}
		if !strings.HasPrefix(*r.Email, "hmac:") || r.Subject != nil {
			t.Errorf("row %s: email %q, subject %v", r.EventID, *r.Email, r.Subject)
		}
		if emails[*r.CioID] == nil {
			emails[*r.CioID] = map[string]bool{}
		}
		emails[*r.CioID][*r.Email] = true
	}
	for cio, vs := range emails {
		if len(vs) != 1 {
			t.Errorf("person %s has %d email hashes %v: joins break", cio, len(vs), vs)
		}
	}
	if len(emails) < 5 {
		t.Errorf("only %d people checked", len(emails))
	}
	// The domain stays, so deliverability per domain still works.
	want, _ := p.Stored("email", "Jane@Example.com ")
	if !strings.HasPrefix(want, "hmac:") || !strings.HasSuffix(want, "@example.com") || strings.Contains(want, "jane") {
		t.Errorf("hashed address %q", want)
	}
}

func TestBody(t *testing.T) {
	body := []byte(`{"event_id":"e","metric":"clicked","data":{"big":12345678901234567890,"href":"https://app.example.com/billing?utm_source=cio&e=jane@example.com#x","identifiers":{"email":"Jane@Example.com "}}}`)
	p, _ := privacy.Parse("href=strip-query,email=hash", key)
	out, err := p.Body(body, "clicked")
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(out, &m); err != nil {
		t.Fatal(err)
	}
	data := m["data"].(map[string]any)
	if data["href"] != "https://app.example.com/billing" {
		t.Errorf("href %v", data["href"])
	}
	other, _ := privacy.Parse("email=hash", []byte("another key, as long as it must be"))
	h1 := data["identifiers"].(map[string]any)["email"]
	h2, _ := other.Body(body, "clicked")
	if h1 == nil || strings.Contains(string(h2), h1.(string)) {
		t.Errorf("hash %v does not depend on the key", h1)
	}
	if !bytes.Contains(out, []byte("12345678901234567890")) {
		t.Errorf("a large number lost digits: %s", out)
	}

	// The default changes nothing in a body without content or headers,
	// byte for byte, and keeps a preference change's content.
	def, _ := privacy.Parse("", nil)
	if out, _ := def.Body(body, "clicked"); !bytes.Equal(out, body) {
		t.Errorf("default policy changed %s", out)
	}
	prefs := []byte(`{"data":{"content":"{\"topics\":{\"topic_1\":false}}"}}`)
	if out, _ := def.Body(prefs, "cio_subscription_preferences_changed"); !bytes.Equal(out, prefs) {
		t.Errorf("preferences content dropped: %s", out)
	}
	sent := []byte(`{"data":{"content":"<html>Hi Priya</html>","headers":{"X-Campaign-Tag":["statements"]},"subject":"s"}}`)
	if out, _ := def.Body(sent, "sent"); bytes.Contains(out, []byte("Priya")) || bytes.Contains(out, []byte("statements")) {
		t.Errorf("default kept message content or headers: %s", out)
	}
}
