package warehouse

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cioevents/cioevents/shared/event"
)

var (
	testReceived = time.Date(2026, 1, 1, 0, 5, 0, 123456789, time.FixedZone("CET", 3600))
	testSigned   = time.Date(2026, 1, 1, 0, 4, 59, 0, time.UTC)
)

func readFixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "events", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func rowFor(t testing.TB, name string) Row {
	t.Helper()
	ev, err := event.Parse(readFixture(t, name))
	if err != nil {
		t.Fatalf("Parse(%s): %v", name, err)
	}
	return FromEvent(ev, testReceived, &testSigned, "msg-"+name)
}

// deref renders a nullable column for comparison: "NULL" or the value.
func deref[T any](p *T) any {
	if p == nil {
		return "NULL"
	}
	return *p
}

func TestFromEvent(t *testing.T) {
	wantReceived := time.Date(2025, 12, 31, 23, 5, 0, 123456000, time.UTC)
	tests := []struct {
		file  string
		check func(t *testing.T, r Row)
	}{
		{"campaign_bounce.json", func(t *testing.T, r Row) {
			eq(t, "event_id", r.EventID, "01JH6Z8Q3V4K2N7R9T5W1XAB3C")
			eq(t, "object_type", r.ObjectType, "email")
			eq(t, "metric", r.Metric, "bounced")
			eq(t, "event_time", r.EventTime, time.Unix(1767225600, 0).UTC())
			eq(t, "known_pair", r.KnownPair, true)
			eq(t, "campaign_id", deref(r.CampaignID), any(int64(42)))
			eq(t, "action_id", deref(r.ActionID), any(int64(117)))
			eq(t, "person_id", deref(r.PersonID), any("u_9001"))
			eq(t, "cio_id", deref(r.CioID), any("a3f10e000042"))
			eq(t, "email", deref(r.Email), any("jane@example.com"))
			eq(t, "failure_message", deref(r.FailureMessage), any("550 5.1.1 The email account that you tried to reach does not exist."))
			eq(t, "journey_id", deref(r.JourneyID), any("01JH6Z7YB2QF0M3P6S8V4C2D1E"))
			eq(t, "href", deref(r.Href), any("NULL"))
			eq(t, "machine", deref(r.Machine), any("NULL"))
		}},
		{"transactional_click.json", func(t *testing.T, r Row) {
			eq(t, "person_id (id null)", deref(r.PersonID), any("NULL"))
			eq(t, "customer_id (empty, not null)", deref(r.CustomerID), any(""))
			eq(t, "transactional_message_id (integer)", deref(r.TransactionalMessageID), any("3"))
			eq(t, "link_id", deref(r.LinkID), any(int64(12)))
			eq(t, "machine", deref(r.Machine), any(true))
			eq(t, "href", deref(r.Href), any("https://app.example.com/reset?t=redacted&u=1"))
			eq(t, "campaign_id", deref(r.CampaignID), any("NULL"))
		}},
		{"lenient_ids.json", func(t *testing.T, r Row) {
			eq(t, "journey_id 15", deref(r.JourneyID), any("15"))
			eq(t, "campaign_id \"42\"", deref(r.CampaignID), any(int64(42)))
			eq(t, "action_id 4.2e1", deref(r.ActionID), any(int64(42)))
			eq(t, "parent_action_id \"\"", deref(r.ParentActionID), any("NULL"))
			eq(t, "person_id 9001", deref(r.PersonID), any("9001"))
			eq(t, "trigger_event_id null", deref(r.TriggerEventID), any("NULL"))
			eq(t, "newsletter_id null", deref(r.NewsletterID), any("NULL"))
			eq(t, "event_time from string timestamp", r.EventTime, time.Unix(1767232800, 0).UTC())
		}},
		{"email_address_fallback.json", func(t *testing.T, r Row) {
			eq(t, "email (identifiers.email empty)", deref(r.Email), any("jane@example.com"))
			eq(t, "known_pair", r.KnownPair, true)
		}},
		{"no_timestamp_typo.json", func(t *testing.T, r Row) {
			eq(t, "object_type from object_type_type", r.ObjectType, "email")
			eq(t, "event_time falls back to received_at", r.EventTime, wantReceived)
		}},
		{"zero_not_null.json", func(t *testing.T, r Row) {
			eq(t, "action_id 0", deref(r.ActionID), any(int64(0)))
			eq(t, "campaign_id null", deref(r.CampaignID), any("NULL"))
			eq(t, "delivery_id \"\"", deref(r.DeliveryID), any(""))
			eq(t, "proxied false", deref(r.Proxied), any(false))
			eq(t, "prefetched false", deref(r.Prefetched), any(false))
			eq(t, "synthetic null", deref(r.Synthetic), any("NULL"))
			eq(t, "machine absent", deref(r.Machine), any("NULL"))
		}},
		{"unknown_pair.json", func(t *testing.T, r Row) {
			eq(t, "known_pair", r.KnownPair, false)
			eq(t, "object_type", r.ObjectType, "carrier_pigeon")
		}},
	}
	for _, tt := range tests {
		t.Run(strings.TrimSuffix(tt.file, ".json"), func(t *testing.T) {
			raw := readFixture(t, tt.file)
			r := rowFor(t, tt.file)
			if err := r.Validate(); err != nil {
				t.Fatalf("Validate: %v", err)
			}
			eq(t, "received_at", r.ReceivedAt, wantReceived)
			eq(t, "signed_at", deref(r.SignedAt), any(testSigned))
			eq(t, "message_id", deref(r.MessageID), any("msg-"+tt.file))
			if !bytes.Equal(r.Raw, raw) {
				t.Errorf("raw differs from the body")
			}
			tt.check(t, r)
		})
	}
}

func eq[T comparable](t *testing.T, what string, got, want T) {
	t.Helper()
	if got != want {
		t.Errorf("%s = %v, want %v", what, got, want)
	}
}

func TestFromEventOptionalArgs(t *testing.T) {
	ev, err := event.Parse(readFixture(t, "campaign_bounce.json"))
	if err != nil {
		t.Fatal(err)
	}
	r := FromEvent(ev, testReceived, nil, "")
	if r.SignedAt != nil || r.MessageID != nil {
		t.Errorf("signed_at = %v, message_id = %v; want both NULL", r.SignedAt, r.MessageID)
	}
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	if v, ok := m["signed_at"]; !ok || v != nil {
		t.Errorf("JSON signed_at = %v (present %v), want an explicit null", v, ok)
	}
}

// TestFromEventGolden pins the whole NDJSON line of every local fixture.
// Regenerate with `go test ./shared/warehouse -update` and review the diff.
func TestFromEventGolden(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "events", "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no fixtures: %v", err)
	}
	for _, f := range files {
		name := filepath.Base(f)
		t.Run(strings.TrimSuffix(name, ".json"), func(t *testing.T) {
			line, err := encodeLine(rowFor(t, name))
			if err != nil {
				t.Fatal(err)
			}
			golden := filepath.Join("testdata", "golden", name)
			if *update {
				if err := os.MkdirAll(filepath.Dir(golden), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(golden, line, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test ./shared/warehouse -update)", err)
			}
			if !bytes.Equal(line, want) {
				t.Errorf("row line differs from %s:\n got %s\nwant %s", golden, line, want)
			}
		})
	}
}

func TestRowValidate(t *testing.T) {
	good := rowFor(t, "campaign_bounce.json")
	tests := []struct {
		name   string
		mutate func(r *Row)
		want   string // substring of the error; "" for valid
	}{
		{"valid", func(r *Row) {}, ""},
		{"no event_id", func(r *Row) { r.EventID = "" }, "event_id is empty"},
		{"zero event_time", func(r *Row) { r.EventTime = time.Time{} }, "event_time is not set"},
		{"zero received_at", func(r *Row) { r.ReceivedAt = time.Time{} }, "received_at is not set"},
		{"event_time past year 9999", func(r *Row) { r.EventTime = time.Unix(1e12, 0).UTC() }, "event_time year"},
		{"raw is an array", func(r *Row) { r.Raw = json.RawMessage(`[1]`) }, "raw is not a JSON object"},
		{"raw truncated", func(r *Row) { r.Raw = r.Raw[:len(r.Raw)-1] }, "raw is not a JSON object"},
		{"raw empty", func(r *Row) { r.Raw = nil }, "raw is not a JSON object"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := good
			tt.mutate(&r)
			err := r.Validate()
			if tt.want == "" {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Validate = %v, want error containing %q", err, tt.want)
			}
			if !IsPermanent(err) {
				t.Errorf("Validate error %v is not permanent", err)
			}
			if strings.Contains(err.Error(), "jane@example.com") {
				t.Errorf("error quotes the body: %v", err)
			}
		})
	}
}

func TestEncodeBody(t *testing.T) {
	tests := []struct {
		name string
		in   []byte
		want string
	}{
		{"json text", []byte(`{"a":"é"}`), `{"a":"é"}`},
		{"empty", nil, ""},
		{"invalid utf-8", []byte{'{', 0xff, 0xfe}, "base64:e//+"},
		{"text that looks encoded", []byte("base64:AAAA"), "base64:YmFzZTY0OkFBQUE="},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := EncodeBody(tt.in)
			if got != tt.want {
				t.Errorf("EncodeBody = %q, want %q", got, tt.want)
			}
			back, err := DecodeBody(got)
			if err != nil || !bytes.Equal(back, tt.in) {
				t.Errorf("DecodeBody = %q, %v; want %q", back, err, tt.in)
			}
		})
	}
}

func TestNewRejected(t *testing.T) {
	r := NewRejected(testReceived, "not_object", "", []byte{0xff}, map[string]string{"oversized": "true"}, "")
	if r.EventID != nil || r.MessageID != nil {
		t.Errorf("event_id %v, message_id %v: want NULL for empty", r.EventID, r.MessageID)
	}
	if r.Body != "base64:/w==" {
		t.Errorf("body = %q", r.Body)
	}
	if err := r.Validate(); err != nil {
		t.Fatal(err)
	}

	// The insert ID follows the event_id when known, else the body; never
	// the message ID, which a re-send or a replay changes.
	cases := []struct {
		name string
		a, b Rejected
		same bool
	}{
		{"same event_id, other message and body", NewRejected(testReceived, "oversized", "01X", []byte(`{}`), nil, "m1"),
			NewRejected(testReceived.Add(time.Hour), "row_invalid", "01X", []byte(`{"x":1}`), nil, "m2"), true},
		{"same body, other message", NewRejected(testReceived, "no_event_id", "", []byte(`{}`), nil, "m1"),
			NewRejected(testReceived, "no_event_id", "", []byte(`{}`), nil, "m2"), true},
		{"same message, other body", NewRejected(testReceived, "no_event_id", "", []byte(`{}`), nil, "m1"),
			NewRejected(testReceived, "no_event_id", "", []byte(`{"y":1}`), nil, "m1"), false},
		{"other event_id", NewRejected(testReceived, "oversized", "01X", []byte(`{}`), nil, "m1"),
			NewRejected(testReceived, "oversized", "01Y", []byte(`{}`), nil, "m1"), false},
		{"event_id that looks like a body", NewRejected(testReceived, "oversized", "{}", []byte(`x`), nil, ""),
			NewRejected(testReceived, "no_event_id", "", []byte(`{}`), nil, ""), false},
	}
	for _, tc := range cases {
		if got := tc.a.InsertID() == tc.b.InsertID(); got != tc.same {
			t.Errorf("%s: same insert ID = %v, want %v", tc.name, got, tc.same)
		}
	}

	bad := []struct {
		name string
		r    Rejected
	}{
		{"no reason", NewRejected(testReceived, "", "", nil, nil, "")},
		{"no time", NewRejected(time.Time{}, "x", "", nil, nil, "")},
		{"raw invalid utf-8 body", Rejected{ReceivedAt: testReceived, Reason: "x", Body: "\xff"}},
	}
	for _, tt := range bad {
		if err := tt.r.Validate(); !errors.Is(err, ErrPermanent) {
			t.Errorf("%s: Validate = %v, want ErrPermanent", tt.name, err)
		}
	}
}

// BenchmarkFromEventMarshal measures the per-event cost of building a row
// and rendering its NDJSON line for a ~1 KB body.
func BenchmarkFromEventMarshal(b *testing.B) {
	raw := []byte(`{"event_id":"01JH6Z8Q3V4K2N7R9T5W1XAB3C","object_type":"email","metric":"clicked","timestamp":1767225600,` +
		`"data":{"action_id":117,"campaign_id":42,"parent_action_id":7,"customer_id":"u_9001","delivery_id":"RPILAgUBcRhIBqSfeiIwdIYJKxTY",` +
		`"identifiers":{"cio_id":"a3f10e000042","email":"jane@example.com","id":"u_9001"},"journey_id":"01JH6Z7YB2QF0M3P6S8V4C2D1E",` +
		`"trigger_event_id":"01JH6Z7YB2QF0M3P6S8V4C2D1F","recipient":"jane@example.com","subject":"Your January statement is ready to view online",` +
		`"href":"https://app.example.com/statements/2026/01?utm_source=customerio&utm_medium=email&utm_campaign=statement&utm_content=button",` +
		`"link_id":12,"machine":false,` +
		`"headers":{"X-Campaign-Tag":["statement"],"X-Env":["prod"]},` +
		`"content":"` + strings.Repeat("lorem ipsum ", 30) + `"}}`)
	if len(raw) < 900 || len(raw) > 1100 {
		b.Fatalf("body is %d bytes, want about 1 KB", len(raw))
	}
	ev, err := event.Parse(raw)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	for b.Loop() {
		r := FromEvent(ev, testReceived, &testSigned, "1234567890")
		if _, err := json.Marshal(r); err != nil {
			b.Fatal(err)
		}
	}
}

func TestULIDTime(t *testing.T) {
	tests := []struct {
		id   string
		want time.Time
		ok   bool
	}{
		{"01KDVE07W3H7W9Z4S6QSD7XZRD", time.UnixMilli(1767225958275).UTC(), true},
		{"00000000000000000000000000", time.UnixMilli(0).UTC(), true},
		{"7ZZZZZZZZZZZZZZZZZZZZZZZZZ", time.Time{}, false}, // year 10889: beyond BigQuery
		{"01JHW0NOTIMESTAMP000000003", time.Time{}, false}, // O and I are not Crockford
		{"01kdve07w3h7w9z4s6qsd7xzrd", time.Time{}, false},
		{"8ZZZZZZZZZZZZZZZZZZZZZZZZZ", time.Time{}, false}, // overflows 48 bits
		{"0123", time.Time{}, false},
		{"", time.Time{}, false},
	}
	for _, tt := range tests {
		got, ok := ulidTime(tt.id)
		if ok != tt.ok || !got.Equal(tt.want) {
			t.Errorf("ulidTime(%q) = %v, %v; want %v, %v", tt.id, got, ok, tt.want, tt.ok)
		}
	}
	// Two deliveries of a timestamp-less event get the same event_time.
	ev, err := event.Parse([]byte(`{"event_id":"01KDVE07W3H7W9Z4S6QSD7XZRD","object_type":"email","metric":"sent","data":{}}`))
	if err != nil {
		t.Fatal(err)
	}
	a, b := FromEvent(ev, testReceived, nil, "m1"), FromEvent(ev, testReceived.Add(time.Hour), nil, "m2")
	if !a.EventTime.Equal(b.EventTime) || !a.EventTime.Equal(time.UnixMilli(1767225958275).UTC()) {
		t.Fatalf("event_time %v and %v, want both from the ULID", a.EventTime, b.EventTime)
	}
}
