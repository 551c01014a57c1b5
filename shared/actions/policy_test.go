package actions_test

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/cioevents/cioevents/shared/actions"
	"github.com/cioevents/cioevents/shared/event"
)

func fixture(t testing.TB, name string) *event.Event {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	ev, err := event.Parse(raw)
	if err != nil {
		t.Fatalf("parse %s: %v", name, err)
	}
	return ev
}

func TestDefaultPolicyPlan(t *testing.T) {
	p := actions.DefaultPolicy()
	tests := []struct {
		fixture string
		want    []actions.Call
	}{
		{"email_bounced.json", []actions.Call{{
			Step: "action:0:identify", Kind: actions.KindIdentify, Person: "cio_d9c106000001",
			EventID: "01E4C4CT6YDC7Y5M7FE1GWWPQJ",
			Attributes: map[string]any{
				"_update": true, "email_bounced": true, "email_bounced_at": int64(1700000000),
				"email_bounce_reason": "550 5.1.1 mailbox does not exist",
			},
			Fields: map[string]string{"email_bounce_reason": "failure_message"},
		}}},
		// No timestamp and an empty failure_message: those attributes are
		// left out rather than overwritten with "" or 0.
		{"email_bounced_sparse.json", []actions.Call{{
			Step: "action:0:identify", Kind: actions.KindIdentify, Person: "42",
			EventID:    "01E4C4CT6YDC7Y5M7FE1GWWPQK",
			Attributes: map[string]any{"_update": true, "email_bounced": true},
		}}},
		{"email_spammed.json", []actions.Call{{
			Step: "action:0:identify", Kind: actions.KindIdentify, Person: "cio_d9c106000001",
			EventID: "01E4C4CT6YDC7Y5M7FE1GWWPQL",
			Attributes: map[string]any{
				"_update": true, "unsubscribed": true, "email_spam_complaint_at": int64(1700000100),
			},
		}}},
		{"email_opened.json", []actions.Call{{
			Step: "action:0:identify", Kind: actions.KindIdentify, Person: "42",
			EventID:    "01E4C4CT6YDC7Y5M7FE1GWWPQM",
			Attributes: map[string]any{"_update": true, "last_email_engaged_at": int64(1700000200)},
		}}},
		{"email_clicked.json", []actions.Call{{
			Step: "action:0:identify", Kind: actions.KindIdentify, Person: "ada@example.com",
			EventID:    "01E4C4CT6YDC7Y5M7FE1GWWPQN",
			Attributes: map[string]any{"_update": true, "last_email_engaged_at": int64(1700000300)},
		}}},
		{"email_delivered.json", nil},
		{"customer_unsubscribed.json", nil},
		{"push_bounced.json", nil},
	}
	for _, tt := range tests {
		t.Run(tt.fixture, func(t *testing.T) {
			got := p.Plan(fixture(t, tt.fixture))
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Plan:\n got %#v\nwant %#v", got, tt.want)
			}
		})
	}
}

// Every event the contract lists: identify with _update for the four
// defaults, nothing for the rest, suppress never.
func TestDefaultPolicyEveryPair(t *testing.T) {
	p := actions.DefaultPolicy()
	if err := p.Validate(false); err != nil {
		t.Fatalf("default policy invalid: %v", err)
	}
	if p.HasSuppress() {
		t.Fatal("default policy suppresses")
	}
	acting := map[string]bool{"email.bounced": true, "email.spammed": true, "email.opened": true, "email.clicked": true}
	for _, name := range event.Pairs() {
		ot, metric, _ := strings.Cut(name, ".")
		ev := &event.Event{EventID: "e1", ObjectType: ot, Metric: metric, Timestamp: 1700000000}
		ev.Data.Identifiers.ID = event.String{Value: "42", Valid: true}
		calls := p.Plan(ev)
		if !acting[name] {
			if calls != nil {
				t.Errorf("%s: want no calls, got %v", name, calls)
			}
			continue
		}
		if len(calls) != 1 || calls[0].Kind != actions.KindIdentify || calls[0].Attributes["_update"] != true {
			t.Errorf("%s: want one identify with _update true, got %#v", name, calls)
		}
	}
}

func TestPlanForcesUpdate(t *testing.T) {
	// A hand-built policy that bypassed Validate still cannot send
	// _update: false.
	p := actions.Policy{"email.opened": {{Kind: actions.KindIdentify, Attributes: map[string]any{"_update": false, "x": 1}}}}
	if err := p.Validate(false); err == nil {
		t.Error("Validate accepted _update")
	}
	calls := p.Plan(fixture(t, "email_opened.json"))
	if len(calls) != 1 || calls[0].Attributes["_update"] != true {
		t.Fatalf("_update not forced: %#v", calls)
	}
}

func TestPlanTemplates(t *testing.T) {
	p, err := actions.ParsePolicy(`{"email.bounced":[
		{"identify":{"a":"{{timestamp}}","b":"{{failure_message}}","c":"{{recipient}}","d":"{{href}}",
		             "e":"{{subject}}","f":"{{delivery_id}}","g":"{{event_id}}","n":3,"fl":1.5,"s":"lit","t":false}},
		{"suppress":true}]}`, true)
	if err != nil {
		t.Fatal(err)
	}
	calls := p.Plan(fixture(t, "email_bounced.json"))
	want := []actions.Call{
		{Step: "action:0:identify", Kind: actions.KindIdentify, Person: "cio_d9c106000001", EventID: "01E4C4CT6YDC7Y5M7FE1GWWPQJ",
			Attributes: map[string]any{
				"_update": true, "a": int64(1700000000), "b": "550 5.1.1 mailbox does not exist", "c": "ada@example.com",
				"e": "Hello", "f": "RPILAgUBcRhIBqSfeiIwdIYJKxTY", "g": "01E4C4CT6YDC7Y5M7FE1GWWPQJ",
				"n": int64(3), "fl": 1.5, "s": "lit", "t": false, // "d": no href in a bounce
			},
			Fields: map[string]string{"b": "failure_message", "c": "recipient", "e": "subject"}},
		{Step: "action:1:suppress", Kind: actions.KindSuppress, Person: "cio_d9c106000001", EventID: "01E4C4CT6YDC7Y5M7FE1GWWPQJ"},
	}
	if !reflect.DeepEqual(calls, want) {
		t.Errorf("Plan:\n got %#v\nwant %#v", calls, want)
	}
}

func TestPerson(t *testing.T) {
	s := func(v string) event.String { return event.String{Value: v, Valid: true} }
	tests := []struct {
		name string
		data event.Data
		want string
	}{
		{"cio_id first", event.Data{Identifiers: event.Identifiers{CioID: s("d9c1"), ID: s("42"), Email: s("a@x.io")}}, "cio_d9c1"},
		{"id next", event.Data{Identifiers: event.Identifiers{ID: s("42"), Email: s("a@x.io")}}, "42"},
		{"email next", event.Data{Identifiers: event.Identifiers{Email: s("a@x.io")}, EmailAddress: s("b@x.io")}, "a@x.io"},
		{"email_address last", event.Data{EmailAddress: s("b@x.io")}, "b@x.io"},
		{"blank values skipped", event.Data{Identifiers: event.Identifiers{CioID: s(""), ID: s("  ")}, EmailAddress: s("b@x.io")}, "b@x.io"},
		{"nobody", event.Data{Identifiers: event.Identifiers{ID: event.String{}}}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev := &event.Event{EventID: "e", ObjectType: "email", Metric: "bounced", Data: tt.data}
			if got := actions.Person(ev); got != tt.want {
				t.Errorf("Person = %q, want %q", got, tt.want)
			}
			calls := actions.DefaultPolicy().Plan(ev)
			if len(calls) != 1 || calls[0].Person != tt.want {
				t.Errorf("Plan person = %#v, want %q", calls, tt.want)
			}
		})
	}
}

func TestParsePolicy(t *testing.T) {
	tests := []struct {
		name          string
		in            string
		allowSuppress bool
		want          actions.Policy
	}{
		{"empty is default", "", false, actions.DefaultPolicy()},
		{"blank is default", "  \n", false, actions.DefaultPolicy()},
		{"none", "none", false, actions.Policy{}},
		{"identify", `{"email.bounced":[{"identify":{"email_bounced":true,"email_bounce_reason":"{{failure_message}}"}}]}`, false,
			actions.Policy{"email.bounced": {{Kind: actions.KindIdentify, Attributes: map[string]any{
				"email_bounced": true, "email_bounce_reason": "{{failure_message}}"}}}}},
		{"suppress allowed", `{"email.spammed":[{"suppress":true}]}`, true,
			actions.Policy{"email.spammed": {{Kind: actions.KindSuppress}}}},
		{"empty list", `{"email.opened":[]}`, false, actions.Policy{"email.opened": {}}},
		{"literal braces-free string", `{"email.opened":[{"identify":{"note":"plain text"}}]}`, false,
			actions.Policy{"email.opened": {{Kind: actions.KindIdentify, Attributes: map[string]any{"note": "plain text"}}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := actions.ParsePolicy(tt.in, tt.allowSuppress)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %#v\nwant %#v", got, tt.want)
			}
		})
	}
}

func TestParsePolicyErrors(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string // substring of the error
	}{
		{"bad json", `{"email.bounced":`, "not \"\", \"none\" or a JSON object"},
		{"not an object", `[1]`, "JSON object"},
		{"null", `null`, "got null"},
		{"trailing", `{} {}`, "trailing data"},
		{"unknown kind", `{"email.bounced":[{"delete":true}]}`, `unknown action kind "delete"`},
		{"two kinds", `{"email.bounced":[{"identify":{"a":1},"suppress":true}]}`, "exactly one key"},
		{"empty rule", `{"email.bounced":[{}]}`, "exactly one key"},
		{"unknown template", `{"email.bounced":[{"identify":{"a":"{{customer_id}}"}}]}`, `unknown template "{{customer_id}}"`},
		{"embedded template", `{"email.bounced":[{"identify":{"a":"at {{timestamp}}"}}]}`, "unknown template"},
		{"suppress not allowed", `{"email.spammed":[{"suppress":true}]}`, "DELETES the person permanently"},
		{"suppress false", `{"email.spammed":[{"suppress":false}]}`, "suppress takes the value true"},
		{"update override", `{"email.opened":[{"identify":{"_update":false}}]}`, `"_update" is always true`},
		{"identifier attribute", `{"email.opened":[{"identify":{"email":"{{recipient}}"}}]}`, `"email" is an identifier`},
		{"unknown event", `{"email.bounce":[{"identify":{"a":1}}]}`, `unknown event "email.bounce"`},
		{"no dot", `{"bounced":[{"identify":{"a":1}}]}`, `unknown event "bounced"`},
		{"empty identify", `{"email.opened":[{"identify":{}}]}`, "at least one attribute"},
		{"identify not object", `{"email.opened":[{"identify":true}]}`, "object of attributes"},
		{"null value", `{"email.opened":[{"identify":{"a":null}}]}`, "boolean, number or string"},
		{"array value", `{"email.opened":[{"identify":{"a":[1]}}]}`, "boolean, number or string"},
		{"object value", `{"email.opened":[{"identify":{"a":{"b":1}}}]}`, "boolean, number or string"},
		{"empty name", `{"email.opened":[{"identify":{"":1}}]}`, "empty attribute name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := actions.ParsePolicy(tt.in, false)
			if err == nil {
				t.Fatalf("no error; policy %#v", p)
			}
			if !errors.Is(err, actions.ErrPolicy) {
				t.Errorf("error does not wrap ErrPolicy: %v", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not contain %q", err, tt.want)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error is not one line: %q", err)
			}
		})
	}
}

func BenchmarkPlan(b *testing.B) {
	p := actions.DefaultPolicy()
	ev := fixture(b, "email_bounced.json")
	b.ReportAllocs()
	for b.Loop() {
		if len(p.Plan(ev)) != 1 {
			b.Fatal("no call")
		}
	}
}
