package event_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/cioevents/cioevents/shared/event"
)

// fixtureRoot is the repository's shared fixture tree; the receiver, the
// processor and the send command read the same files.
const fixtureRoot = "../../testdata"

type fixture struct {
	name string // file name without .json
	body []byte
}

func readFixtures(t testing.TB, dir string) []fixture {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(fixtureRoot, dir))
	if err != nil {
		t.Fatal(err)
	}
	var out []fixture
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		b, err := os.ReadFile(filepath.Join(fixtureRoot, dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, fixture{name: strings.TrimSuffix(e.Name(), ".json"), body: b})
	}
	if len(out) == 0 {
		t.Fatalf("no fixtures in %s", dir)
	}
	return out
}

// present reports whether a data field the reference marks as required was
// set in the body. It names fields by their JSON keys so the table below reads
// like the reference.
func present(t *testing.T, d *event.Data, field string) bool {
	t.Helper()
	switch field {
	case "customer_id":
		return d.CustomerID.Valid
	case "email_address":
		return d.EmailAddress.Valid && d.EmailAddress.Value != ""
	case "identifiers":
		return d.Identifiers.ID.Valid || d.Identifiers.Email.Valid || d.Identifiers.CioID.Valid
	case "delivery_id":
		return d.DeliveryID.Valid && d.DeliveryID.Value != ""
	case "action_id":
		return d.ActionID.Valid
	case "recipient":
		return d.Recipient.Valid && d.Recipient.Value != ""
	case "recipients":
		if len(d.Recipients) == 0 {
			return false
		}
		for _, r := range d.Recipients {
			if r.DeviceID == "" {
				return false
			}
		}
		return true
	case "subject":
		return d.Subject.Valid && d.Subject.Value != ""
	case "href":
		return d.Href.Valid && d.Href.Value != ""
	case "link_id":
		return d.LinkID.Valid
	case "failure_message":
		return d.FailureMessage.Valid && d.FailureMessage.Value != ""
	case "content":
		return d.Content.Valid && d.Content.Value != ""
	case "headers":
		return len(d.Headers) > 0
	case "to":
		return d.To.Valid && d.To.Value != ""
	case "inbound_event_id":
		return d.InboundEventID.Valid && d.InboundEventID.Value != ""
	case "tracked_response":
		return d.TrackedResponse.Valid
	case "machine":
		return d.Machine != nil
	}
	t.Fatalf("test table names unknown field %q", field)
	return false
}

var (
	fm        = []string{"failure_message"}
	subscribe = []string{"customer_id", "email_address", "identifiers"}
)

// requiredData is, per object_type.metric, the data fields the reference
// (§3.3–3.4) marks as required, plus what the fixtures promise beyond that
// (email.sent carries content and headers). Pairs without a schema in the spec
// (email.deferred, sms.dropped, slack.converted, webhook.converted) list what
// their fixture was modelled on.
var requiredData = map[string][]string{
	"customer.subscribed":                           subscribe,
	"customer.unsubscribed":                         subscribe,
	"customer.cio_subscription_preferences_changed": append(slices.Clone(subscribe), "content"),

	"email.drafted":       {"recipient", "subject"},
	"email.attempted":     fm,
	"email.sent":          {"recipient", "subject", "content", "headers"},
	"email.delivered":     {"recipient", "subject"},
	"email.opened":        {"recipient"},
	"email.clicked":       {"recipient", "subject", "href", "link_id", "machine"},
	"email.converted":     {"recipient", "subject"},
	"email.unsubscribed":  {"recipient", "subject"},
	"email.bounced":       {"recipient", "subject", "failure_message"},
	"email.dropped":       {"recipient", "subject", "failure_message"},
	"email.spammed":       {"recipient", "subject"},
	"email.failed":        {"recipient", "subject", "failure_message"},
	"email.undeliverable": {"recipient", "subject", "failure_message"},
	"email.deferred":      {"recipient", "subject", "failure_message"},
	"email.cio_subscription_preferences_changed": append(slices.Clone(subscribe), "content"),

	"push.drafted":       nil,
	"push.attempted":     fm,
	"push.sent":          {"recipients", "content"},
	"push.delivered":     {"recipients"},
	"push.opened":        {"recipients"},
	"push.clicked":       {"recipients", "href", "link_id"},
	"push.converted":     {"recipients"},
	"push.bounced":       {"recipients"},
	"push.dropped":       {"recipients"},
	"push.failed":        fm,
	"push.undeliverable": fm,

	"sms.drafted":       nil,
	"sms.attempted":     fm,
	"sms.sent":          {"recipient", "content"},
	"sms.delivered":     {"recipient"},
	"sms.clicked":       {"recipient", "href", "link_id"},
	"sms.converted":     {"recipient"},
	"sms.bounced":       {"recipient", "failure_message"},
	"sms.failed":        fm,
	"sms.undeliverable": fm,
	"sms.replied":       {"recipient", "to", "inbound_event_id"},
	"sms.dropped":       {"recipient", "failure_message"},

	"whatsapp.drafted":       nil,
	"whatsapp.attempted":     fm,
	"whatsapp.sent":          {"recipient", "content"},
	"whatsapp.delivered":     {"recipient"},
	"whatsapp.opened":        {"recipient"},
	"whatsapp.clicked":       {"recipient", "href", "link_id"},
	"whatsapp.converted":     {"recipient"},
	"whatsapp.bounced":       {"recipient", "failure_message"},
	"whatsapp.dropped":       {"recipient", "failure_message"},
	"whatsapp.failed":        fm,
	"whatsapp.undeliverable": fm,
	"whatsapp.replied":       {"recipient", "to", "inbound_event_id"},

	"slack.drafted":       nil,
	"slack.attempted":     fm,
	"slack.sent":          {"recipient", "content"},
	"slack.clicked":       {"recipient", "href", "link_id"},
	"slack.failed":        fm,
	"slack.undeliverable": fm,
	"slack.converted":     {"recipient"},

	"webhook.drafted":       nil,
	"webhook.attempted":     fm,
	"webhook.sent":          {"recipient", "content"},
	"webhook.clicked":       {"recipient", "href", "link_id"},
	"webhook.failed":        fm,
	"webhook.undeliverable": fm,
	"webhook.converted":     {"recipient"},

	"in_app.drafted":       nil,
	"in_app.attempted":     fm,
	"in_app.sent":          {"recipient", "content"},
	"in_app.opened":        nil,
	"in_app.clicked":       {"recipient", "href", "link_id", "tracked_response"},
	"in_app.converted":     {"recipient"},
	"in_app.failed":        fm,
	"in_app.undeliverable": fm,
}

// origin names the §3.2 origin variant a message event's data carries, checking
// that variant's required fields; "" means none is complete.
func origin(d *event.Data) string {
	hasDelivery := d.DeliveryID.Valid && d.DeliveryID.Value != ""
	hasPerson := d.Identifiers.ID.Valid || d.Identifiers.Email.Valid || d.Identifiers.CioID.Valid
	if !hasDelivery || !hasPerson {
		return ""
	}
	switch {
	case d.TransactionalMessageID.Valid:
		return "transactional"
	case d.NewsletterID.Valid:
		return "newsletter"
	case d.TriggerID.Valid && d.BroadcastID.Valid && d.ActionID.Valid:
		return "broadcast"
	case d.CampaignID.Valid && d.ActionID.Valid:
		return "campaign"
	}
	return ""
}

func TestEventFixtures(t *testing.T) {
	seen := map[string]string{}
	variants := map[string]int{}
	for _, f := range readFixtures(t, "events") {
		t.Run(f.name, func(t *testing.T) {
			if len(f.body) == 0 || f.body[len(f.body)-1] == '\n' || bytes.ContainsAny(f.body, "\r\n") {
				t.Fatal("fixture must be one line with no trailing newline: its bytes are the signed body")
			}
			ev, err := event.Parse(f.body)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if !bytes.Equal(ev.Raw, f.body) {
				t.Error("Raw differs from the body")
			}
			if ev.Name() != f.name {
				t.Errorf("Name() = %q, want the file name %q", ev.Name(), f.name)
			}
			if !ev.Known() {
				t.Errorf("%s is not a known pair", ev.Name())
			}
			if ev.EventID == "" {
				t.Fatal("empty event_id")
			}
			if other, dup := seen[ev.EventID]; dup {
				t.Errorf("event_id %s also used by %s", ev.EventID, other)
			}
			seen[ev.EventID] = f.name
			// Around 2026-01-01: realistic, and inside any sane partition range.
			if ev.Timestamp < 1767225600 || ev.Timestamp > 1767225600+7*86400 {
				t.Errorf("timestamp %d is not around 1767225600", ev.Timestamp)
			}
			if !ev.Data.Identifiers.ID.Valid && !ev.Data.Identifiers.Email.Valid {
				t.Error("identifiers has neither id nor email")
			}

			fields, ok := requiredData[f.name]
			if !ok {
				t.Fatalf("no required-field entry for %s", f.name)
			}
			for _, field := range fields {
				if !present(t, &ev.Data, field) {
					t.Errorf("required data field %s is missing or empty", field)
				}
			}

			message := ev.ObjectType != "customer" || ev.Metric == "cio_subscription_preferences_changed"
			v := origin(&ev.Data)
			switch {
			case message && v == "":
				t.Error("message event without a complete origin variant (campaign, broadcast, newsletter, transactional)")
			case !message && v != "":
				t.Errorf("customer event carries a %s origin", v)
			case v == "transactional" && ev.ObjectType != "email" && ev.ObjectType != "push":
				t.Errorf("transactional origin exists only for email and push, not %s", ev.ObjectType)
			}
			variants[v]++
		})
	}
	for _, v := range []string{"campaign", "broadcast", "newsletter", "transactional"} {
		if variants[v] == 0 {
			t.Errorf("no fixture uses the %s origin variant", v)
		}
	}
}

func TestEveryPairHasAFixture(t *testing.T) {
	files := map[string]bool{}
	for _, f := range readFixtures(t, "events") {
		files[f.name] = true
		if !slices.Contains(event.Pairs(), f.name) {
			t.Errorf("events/%s.json is not a pair of event.Pairs()", f.name)
		}
	}
	for _, p := range event.Pairs() {
		if !files[p] {
			t.Errorf("pair %s has no fixture events/%s.json", p, p)
		}
		if _, ok := requiredData[p]; !ok {
			t.Errorf("pair %s has no required-field entry in this test", p)
		}
	}
	if got := len(event.Pairs()); got != 74 {
		t.Errorf("event.Pairs() has %d pairs, the reference lists 74", got)
	}
}

func TestOddFixtures(t *testing.T) {
	checks := map[string]func(t *testing.T, ev *event.Event){
		"unknown_metric": func(t *testing.T, ev *event.Event) {
			if ev.Name() != "email.teleported" || ev.Known() {
				t.Errorf("Name() = %q, Known() = %v; want email.teleported, false", ev.Name(), ev.Known())
			}
			if !ev.Data.Recipient.Valid || !ev.Data.CampaignID.Valid {
				t.Error("known data fields of an unknown pair were not read")
			}
		},
		"unknown_object_type": func(t *testing.T, ev *event.Event) {
			if ev.ObjectType != "voice" || ev.Known() {
				t.Errorf("ObjectType = %q, Known() = %v; want voice, false", ev.ObjectType, ev.Known())
			}
		},
		"object_type_type": func(t *testing.T, ev *event.Event) {
			if ev.ObjectType != "customer" {
				t.Errorf("ObjectType = %q; object_type_type was not read", ev.ObjectType)
			}
			if ev.Name() != "customer.cio_subscription_preferences_changed" || !ev.Known() {
				t.Errorf("Name() = %q, Known() = %v", ev.Name(), ev.Known())
			}
		},
		"journey_id_integer": func(t *testing.T, ev *event.Event) {
			if got := ev.Data.JourneyID; got != (event.String{Value: "15", Valid: true}) {
				t.Errorf("JourneyID = %+v, want \"15\"", got)
			}
		},
		"numeric_string_ids": func(t *testing.T, ev *event.Event) {
			want := map[string]event.Int{"campaign_id": {Value: 42, Valid: true}, "action_id": {Value: 117, Valid: true}, "link_id": {Value: 12, Valid: true}}
			got := map[string]event.Int{"campaign_id": ev.Data.CampaignID, "action_id": ev.Data.ActionID, "link_id": ev.Data.LinkID}
			for k, w := range want {
				if got[k] != w {
					t.Errorf("%s = %+v, want %+v", k, got[k], w)
				}
			}
		},
		"null_campaign_id": func(t *testing.T, ev *event.Event) {
			if ev.Data.CampaignID.Valid || ev.Data.CampaignID.Ptr() != nil {
				t.Errorf("CampaignID = %+v, want absent (NULL)", ev.Data.CampaignID)
			}
			if !ev.Data.ActionID.Valid {
				t.Error("a null campaign_id blanked its neighbours")
			}
		},
		"id_only_identifiers": func(t *testing.T, ev *event.Event) {
			id := ev.Data.Identifiers
			if !id.ID.Valid || id.ID.Value == "" || id.Email.Valid || id.CioID.Valid {
				t.Errorf("Identifiers = %+v, want only id", id)
			}
		},
		"null_person_id": func(t *testing.T, ev *event.Event) {
			id := ev.Data.Identifiers
			if id.ID.Valid || !id.Email.Valid || !id.CioID.Valid {
				t.Errorf("Identifiers = %+v, want id null, email and cio_id set", id)
			}
			if got := ev.Data.CustomerID; got != (event.String{Value: "", Valid: true}) {
				t.Errorf("CustomerID = %+v, want present but blank", got)
			}
			if got := ev.Data.TransactionalMessageID.Value; got != "9" {
				t.Errorf("TransactionalMessageID = %q, want \"9\"", got)
			}
		},
		"extra_fields": func(t *testing.T, ev *event.Event) {
			if !ev.Known() || !ev.Data.NewsletterID.Valid || !ev.Data.Subject.Valid {
				t.Error("unknown fields disturbed the known ones")
			}
			if !bytes.Contains(ev.Raw, []byte(`"workspace_id"`)) {
				t.Error("Raw lost the unknown field")
			}
		},
		"unicode": func(t *testing.T, ev *event.Event) {
			if !strings.Contains(ev.Data.Subject.Value, "🎉") || !strings.Contains(ev.Data.Subject.Value, "限时优惠") {
				t.Errorf("Subject = %q, non-ASCII text lost", ev.Data.Subject.Value)
			}
			if ev.Data.Recipient.Value != "zoë.müller@example.de" {
				t.Errorf("Recipient = %q", ev.Data.Recipient.Value)
			}
		},
		"large_email_sent": func(t *testing.T, ev *event.Event) {
			if len(ev.Raw) < 100*1024 {
				t.Errorf("fixture is %d bytes, want at least 100 KiB", len(ev.Raw))
			}
			if n := len(ev.Data.Content.Value); n < 99*1024 {
				t.Errorf("Content is %d bytes, want the whole HTML", n)
			}
			if ev.Name() != "email.sent" {
				t.Errorf("Name() = %q", ev.Name())
			}
		},
	}
	seen := map[string]bool{}
	for _, f := range readFixtures(t, "events") {
		ev, err := event.Parse(f.body)
		if err != nil {
			t.Fatal(err)
		}
		seen[ev.EventID] = true
	}
	for _, f := range readFixtures(t, "odd") {
		t.Run(f.name, func(t *testing.T) {
			check, ok := checks[f.name]
			if !ok {
				t.Fatalf("odd/%s.json has no check in this test", f.name)
			}
			delete(checks, f.name)
			ev, err := event.Parse(f.body)
			if err != nil {
				t.Fatalf("Parse: %v (odd bodies must still become rows)", err)
			}
			if !bytes.Equal(ev.Raw, f.body) {
				t.Error("Raw differs from the body")
			}
			if ev.EventID == "" || ev.Metric == "" || ev.Timestamp == 0 {
				t.Errorf("envelope not read: %q %q %d", ev.EventID, ev.Metric, ev.Timestamp)
			}
			if seen[ev.EventID] {
				t.Errorf("event_id %s is used by another fixture", ev.EventID)
			}
			seen[ev.EventID] = true
			check(t, ev)
		})
	}
	for name := range checks {
		t.Errorf("odd/%s.json is missing", name)
	}
}

func TestMalformedFixtures(t *testing.T) {
	want := map[string]error{
		"array":          event.ErrNotObject,
		"string":         event.ErrNotObject,
		"null":           event.ErrNotObject,
		"empty":          event.ErrInvalidJSON,
		"truncated":      event.ErrInvalidJSON,
		"no_event_id":    event.ErrNoEventID,
		"empty_object":   event.ErrNoEventID,
		"empty_event_id": event.ErrNoEventID,
		"null_event_id":  event.ErrNoEventID,
	}
	for _, f := range readFixtures(t, "malformed") {
		t.Run(f.name, func(t *testing.T) {
			wantErr, ok := want[f.name]
			if !ok {
				t.Fatalf("malformed/%s.json has no expectation in this test", f.name)
			}
			delete(want, f.name)
			ev, err := event.Parse(f.body)
			if !errors.Is(err, wantErr) {
				t.Fatalf("Parse error = %v, want %v", err, wantErr)
			}
			// The rejected table stores the body as received.
			if ev == nil || !bytes.Equal(ev.Raw, f.body) {
				t.Error("Raw not kept byte-identical")
			}
		})
	}
	for name := range want {
		t.Errorf("malformed/%s.json is missing", name)
	}
}
