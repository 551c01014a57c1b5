package event_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/cioevents/cioevents/shared/event"
)

// FuzzParse holds Parse to the promises the pipeline relies on for any body an
// authenticated sender could post: no panic, success only with an event_id,
// failures only with the two quarantine errors, the raw bytes kept as given,
// and the same result every time (a redelivery must produce the same row).
// The committed corpus is testdata/fuzz/FuzzParse; fixtures are added too.
func FuzzParse(f *testing.F) {
	for _, dir := range []string{"events", "odd", "malformed"} {
		for _, fx := range readFixtures(f, dir) {
			if len(fx.body) < 4096 {
				f.Add(fx.body)
			}
		}
	}
	for _, body := range envelopeCases {
		f.Add([]byte(body))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		in := bytes.Clone(body)
		ev, err := event.Parse(body)
		if ev == nil {
			t.Fatal("nil Event")
		}
		if !bytes.Equal(body, in) {
			t.Fatal("Parse modified its input")
		}
		if !bytes.Equal(ev.Raw, in) {
			t.Fatalf("Raw = %q, want the input", ev.Raw)
		}
		switch {
		case err == nil:
			if ev.EventID == "" {
				t.Fatal("nil error with an empty EventID")
			}
		case !errors.Is(err, event.ErrInvalidJSON) && !errors.Is(err, event.ErrNotObject) && !errors.Is(err, event.ErrNoEventID):
			t.Fatalf("error %v is none of ErrInvalidJSON, ErrNotObject, ErrNoEventID", err)
		}
		again, err2 := event.Parse(in)
		if (err == nil) != (err2 == nil) || !reflect.DeepEqual(ev, again) {
			t.Fatalf("Parse is not deterministic:\n%+v\n%+v", ev, again)
		}
		// The receiver's light parse must classify every body as Parse does,
		// or it would flag for quarantine what the processor could store.
		env, err3 := parseEnvelope(in)
		if class(err3) != class(err) || env.EventID != ev.EventID ||
			env.ObjectType != ev.ObjectType || env.Metric != ev.Metric || env.Timestamp != ev.Timestamp {
			t.Fatalf("ParseEnvelope disagrees with Parse: %+v (%v) vs %+v (%v)", env, err3, ev, err)
		}
	})
}

// envelopeCases are bodies at the edges of ParseEnvelope's own scanner:
// the JSON grammar, member order, key matching and value types.
var envelopeCases = []string{
	`{"event_id":"a","event_id":"b"}`,
	`{"event_id":"a","event_id":null}`,
	`{"event_id":"a","event_id":[1]}`,
	`{"event_id":"a","EVENT_ID":"b","Event_Id":7}`,
	`{"event_id":"a","metric":{"x":1},"object_type":true}`,
	`{"event_id":"a","timestamp":"17"}`,
	`{"event_id":"a","timestamp":1.5e3,"metric":"sent"}`,
	`{"event_id":"a","timestamp":-9223372036854775808}`,
	`{"event_id":"a","timestamp":9223372036854775808}`,
	`{"event_id":"a","timestamp":123456789012345678}`,
	`{"event_id":"a","timestamp":1234567890123456789}`,
	`{"event_id":"a","timestamp":-0}`,
	`{"event_id":1e2,"object_type_type":"email","metric":"sent"}`,
	`{"event_id":"a","object_type":"","object_type_type":"sms"}`,
	`{"event_id":"a\u0041\n","object_type":"em\"ail"}`,
	"{\"event_id\":\"\xff\xfe\",\"metric\":\"s\xc3\"}",
	`{"ev\u0065nt_id":"a"}`,
	`{"metrıc":"sent","event_id":"a"}`,
	`{"event_id":"a","data":{"a":[1,2,{"b":null}],"c":"\u00e9\/"}}`,
	`{"event_id":"a","x":01}`,
	`{"event_id":"a","x":1.}`,
	`{"event_id":"a","x":-}`,
	`{"event_id":"a","x":.5}`,
	`{"event_id":"a","x":1e}`,
	`{"event_id":"a","x":tru}`,
	`{"event_id":"a","x":nulll}`,
	"{\"event_id\":\"a\",\"x\":\"\x01\"}",
	`{"event_id":"a","x":"\q"}`,
	`{"event_id":"a","x":"\u12G4"}`,
	"{\"event_id\":\"a\",\"x\":\"\\u\x10\x11\x12\x13\"}",
	"{\"event_id\":\"a\",\"x\":\"\\u\x41\x46\x61\x66\"}",
	`{"event_id":"a",}`,
	`{"event_id":"a"}}`,
	`{"event_id":"a"} x`,
	"{\"event_id\":\"a\"}\v",
	"\u00a0{\"event_id\":\"a\"}\u0085",
	"{\v\"event_id\":\"a\"}",
	`{"event_id":"a","x":[` + strings.Repeat("[", 100) + strings.Repeat("]", 100) + `]}`,
	`{"event_id" "a"}`,
	`{event_id:"a"}`,
	`{}`,
	`{ }`,
	`{"data":{},"event_id":""}`,
}

func TestParseEnvelopeAgreesWithParse(t *testing.T) {
	cases := slices.Clone(envelopeCases)
	// Every byte that ends a run of plain string content, at every offset
	// of the scanner's eight-byte words, in a key and in a value.
	for pos := range 18 {
		for _, x := range []string{`\"`, `\\`, `\n`, `\u00e9`, "\x01", "\x1f", " ", "\x7f", "\x80", "\xff", `"`} {
			s := strings.Repeat("a", pos) + x + strings.Repeat("b", 9)
			cases = append(cases, `{"event_id":"`+s+`","metric":"sent"}`, `{"`+s+`":1,"event_id":"e"}`)
		}
	}
	for _, body := range cases {
		ev, err := event.Parse([]byte(body))
		env, err2 := parseEnvelope([]byte(body))
		if class(err2) != class(err) || env.EventID != ev.EventID || env.ObjectType != ev.ObjectType ||
			env.Metric != ev.Metric || env.Timestamp != ev.Timestamp || !bytes.Equal(env.Raw, []byte(body)) {
			t.Errorf("%q: ParseEnvelope = %+v (%v), Parse = %+v (%v)", body, env, err2, ev, err)
		}
	}
}

func class(err error) string {
	switch {
	case err == nil:
		return "ok"
	case errors.Is(err, event.ErrInvalidJSON):
		return "invalid_json"
	case errors.Is(err, event.ErrNotObject):
		return "not_object"
	case errors.Is(err, event.ErrNoEventID):
		return "no_event_id"
	}
	return err.Error()
}

func TestParseDeterministicWithCaseFoldedKeys(t *testing.T) {
	// encoding/json matches keys case-insensitively and the last one wins.
	// When a bad field sends Parse down its field-by-field path, that path
	// must agree, or a redelivery could produce a different row.
	body := []byte(`{"event_id":"01A","data":{"link_id":"x","subject":"first","Subject":"last"}}`)
	for range 50 {
		ev, err := event.Parse(body)
		if err != nil {
			t.Fatal(err)
		}
		if got := ev.Data.Subject.Value; got != "last" {
			t.Fatalf("Subject = %q, want %q (document order, last wins)", got, "last")
		}
	}
	ev, err := event.Parse([]byte(`{"event_id":["x"],"Event_ID":"01A"}`))
	if err != nil || ev.EventID != "01A" {
		t.Errorf("EventID = %q, err = %v; want the readable case-folded key", ev.EventID, err)
	}
}

func BenchmarkParse(b *testing.B)         { benchParse(b, event.Parse) }
func BenchmarkParseEnvelope(b *testing.B) { benchParse(b, parseEnvelope) }

func benchParse(b *testing.B, parse func([]byte) (*event.Event, error)) {
	for _, bc := range []struct{ name, file string }{
		{"1KB", "events/email.sent.json"},
		{"100KB", "odd/large_email_sent.json"},
	} {
		body, err := os.ReadFile(filepath.Join(fixtureRoot, bc.file))
		if err != nil {
			b.Fatal(err)
		}
		b.Run(bc.name, func(b *testing.B) {
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := parse(body); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// parseEnvelope is ReadEnvelope in Parse's shape, so the two compare field
// by field: the event_id, object_type, metric and timestamp, and the same
// errors; Data is left zero.
func parseEnvelope(raw []byte) (*event.Event, error) {
	env, err := event.ReadEnvelope(raw)
	return &event.Event{EventID: env.EventID, ObjectType: env.ObjectType, Metric: env.Metric, Timestamp: env.Timestamp,
		Raw: raw}, err
}
