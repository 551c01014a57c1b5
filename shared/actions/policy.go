// Package actions decides which Customer.io Track API calls an event causes
// (the policy) and makes them (the Client).
//
// # Policy
//
// A policy maps "object_type.metric" to a list of rules. The default is:
//
//	email.bounced  identify email_bounced=true, email_bounced_at={{timestamp}}, email_bounce_reason={{failure_message}}
//	email.spammed  identify unsubscribed=true, email_spam_complaint_at={{timestamp}}
//	email.opened   identify last_email_engaged_at={{timestamp}}
//	email.clicked  identify last_email_engaged_at={{timestamp}}
//	anything else  nothing
//
// CIO_ACTIONS overrides it: empty means the default, "none" means no actions,
// anything else is a JSON object that replaces the default entirely:
//
//	{
//	  "email.bounced": [{"identify": {"email_bounced": true, "email_bounce_reason": "{{failure_message}}"}}],
//	  "email.spammed": [{"suppress": true}]
//	}
//
// Each rule is an object with exactly one key, the kind:
//
//   - "identify": a flat object of attributes. A value is a literal (boolean,
//     number or string) or a whole-string template taken from the event:
//     {{timestamp}} (event time, unix seconds), {{failure_message}},
//     {{recipient}}, {{href}}, {{subject}}, {{delivery_id}}, {{event_id}}.
//     A template whose value the event lacks sets no attribute, so a missing
//     field never blanks what Customer.io already has. "_update": true is
//     always sent, so a deleted person is never recreated; the policy cannot
//     set "_update" or the identifier attributes (id, email, cio_id,
//     anonymous_id, cio_relationships).
//   - "suppress": true. Suppress DELETES the person permanently and blocks the
//     identifier from being re-added; Customer.io cannot restore the profile.
//     A policy containing it is refused unless CIO_ACTIONS_ALLOW_SUPPRESS=true.
//     To stop email to a person use identify with "unsubscribed": true.
//
// Event names must be pairs the webhook contract lists (event.Known), so a
// typo fails at start instead of silently never matching.
//
// # Person
//
// A call addresses the person by "cio_" + identifiers.cio_id, else
// identifiers.id, else identifiers.email, else data.email_address (customer
// subscription events). With none of them the call has an empty Person and
// clients refuse it with ErrNoPerson; the processor records it as skipped.
package actions

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/cioevents/cioevents/shared/event"
)

// Kind is what a rule does to the person.
type Kind string

// The kinds of rule.
const (
	KindIdentify Kind = "identify"
	// KindSuppress deletes the person permanently; opt-in only.
	KindSuppress Kind = "suppress"
)

// ErrPolicy marks every error ParsePolicy and Validate return.
var ErrPolicy = errors.New("actions policy")

// Rule is one action taken for an event. Attributes is used by identify
// only; a string value equal to one of the templates ("{{timestamp}}", …) is
// filled from the event.
type Rule struct {
	Kind       Kind
	Attributes map[string]any
}

// Policy maps "object_type.metric" to the rules run for such an event.
// A nil or empty Policy does nothing.
type Policy map[string][]Rule

// DefaultPolicy returns the safe default: identify-only, always with
// _update: true, and never suppress.
func DefaultPolicy() Policy {
	engaged := func() []Rule {
		return []Rule{{Kind: KindIdentify, Attributes: map[string]any{
			"last_email_engaged_at": "{{timestamp}}",
		}}}
	}
	return Policy{
		"email.bounced": {{Kind: KindIdentify, Attributes: map[string]any{
			"email_bounced":       true,
			"email_bounced_at":    "{{timestamp}}",
			"email_bounce_reason": "{{failure_message}}",
		}}},
		"email.spammed": {{Kind: KindIdentify, Attributes: map[string]any{
			"unsubscribed":            true,
			"email_spam_complaint_at": "{{timestamp}}",
		}}},
		"email.opened":  engaged(),
		"email.clicked": engaged(),
	}
}

// templates lists the values a policy may take from an event. A value of
// false from ok means the event lacks it.
var templates = map[string]func(ev *event.Event) (any, bool){
	"{{timestamp}}": func(ev *event.Event) (any, bool) {
		return ev.Timestamp, ev.Timestamp != 0
	},
	"{{failure_message}}": func(ev *event.Event) (any, bool) { return str(ev.Data.FailureMessage) },
	"{{recipient}}":       func(ev *event.Event) (any, bool) { return str(ev.Data.Recipient) },
	"{{href}}":            func(ev *event.Event) (any, bool) { return str(ev.Data.Href) },
	"{{subject}}":         func(ev *event.Event) (any, bool) { return str(ev.Data.Subject) },
	"{{delivery_id}}":     func(ev *event.Event) (any, bool) { return str(ev.Data.DeliveryID) },
	"{{event_id}}": func(ev *event.Event) (any, bool) {
		return ev.EventID, ev.EventID != ""
	},
}

func str(s event.String) (any, bool) {
	if !s.Valid || strings.TrimSpace(s.Value) == "" {
		return nil, false
	}
	return s.Value, true
}

// forbidden are attributes a policy may not set: _update is forced on, and
// the identifiers would re-point or merge profiles from webhook data.
var forbidden = map[string]bool{
	"_update": true, "id": true, "email": true, "cio_id": true,
	"anonymous_id": true, "cio_relationships": true,
}

// ParsePolicy reads the CIO_ACTIONS value: "" is DefaultPolicy, "none" is
// the empty policy, anything else is the JSON form of the package comment.
// Suppress rules are an error unless allowSuppress.
func ParsePolicy(s string, allowSuppress bool) (Policy, error) {
	s = strings.TrimSpace(s)
	switch s {
	case "":
		return DefaultPolicy(), nil
	case "none":
		return Policy{}, nil
	}
	var raw map[string][]map[string]json.RawMessage
	dec := json.NewDecoder(strings.NewReader(s))
	if err := dec.Decode(&raw); err != nil {
		return nil, fmt.Errorf(`%w: not "", "none" or a JSON object of "object_type.metric": [rules]: %v`, ErrPolicy, err)
	}
	if raw == nil {
		return nil, fmt.Errorf(`%w: want a JSON object of "object_type.metric": [rules], got null`, ErrPolicy)
	}
	if dec.More() {
		return nil, fmt.Errorf("%w: trailing data after the JSON object", ErrPolicy)
	}
	p := make(Policy, len(raw))
	for _, name := range slices.Sorted(maps.Keys(raw)) {
		for i, obj := range raw[name] {
			r, err := parseRule(obj)
			if err != nil {
				return nil, fmt.Errorf("%w: %s rule %d: %v", ErrPolicy, name, i+1, err)
			}
			p[name] = append(p[name], r)
		}
		if p[name] == nil {
			p[name] = []Rule{}
		}
	}
	if err := p.Validate(allowSuppress); err != nil {
		return nil, err
	}
	return p, nil
}

func parseRule(obj map[string]json.RawMessage) (Rule, error) {
	if len(obj) != 1 {
		return Rule{}, fmt.Errorf(`want an object with exactly one key, "identify" or "suppress"; got %d keys`, len(obj))
	}
	for k, v := range obj {
		switch Kind(k) {
		case KindSuppress:
			var on bool
			if err := json.Unmarshal(v, &on); err != nil || !on {
				return Rule{}, errors.New(`suppress takes the value true`)
			}
			return Rule{Kind: KindSuppress}, nil
		case KindIdentify:
			attrs, err := parseAttributes(v)
			if err != nil {
				return Rule{}, err
			}
			return Rule{Kind: KindIdentify, Attributes: attrs}, nil
		default:
			return Rule{}, fmt.Errorf(`unknown action kind %q (want "identify" or "suppress")`, k)
		}
	}
	panic("unreachable")
}

func parseAttributes(v json.RawMessage) (map[string]any, error) {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(v, &raw); err != nil || raw == nil {
		return nil, errors.New("identify takes an object of attributes")
	}
	attrs := make(map[string]any, len(raw))
	for k, rv := range raw {
		dec := json.NewDecoder(bytes.NewReader(rv))
		dec.UseNumber()
		var val any
		if err := dec.Decode(&val); err != nil {
			return nil, fmt.Errorf("attribute %q: %v", k, err)
		}
		if n, ok := val.(json.Number); ok {
			// Keep integers integers so timestamps and counters do not
			// turn into 1.7e9 on the way to Customer.io.
			if i, err := strconv.ParseInt(n.String(), 10, 64); err == nil {
				val = i
			} else if f, err := n.Float64(); err == nil {
				val = f
			}
		}
		attrs[k] = val
	}
	return attrs, nil
}

// Validate reports the first problem with p as one line wrapping ErrPolicy:
// an unknown event name, an empty or reserved attribute, an unknown
// template, a value that is not a boolean, number or string, or a suppress
// rule when suppress is not allowed.
func (p Policy) Validate(allowSuppress bool) error {
	for _, name := range slices.Sorted(maps.Keys(p)) {
		if !validName(name) {
			return fmt.Errorf(`%w: unknown event %q (want a known "object_type.metric" such as "email.bounced")`, ErrPolicy, name)
		}
		for i, r := range p[name] {
			if err := r.validate(allowSuppress); err != nil {
				return fmt.Errorf("%w: %s rule %d: %v", ErrPolicy, name, i+1, err)
			}
		}
	}
	return nil
}

func validName(name string) bool {
	ot, metric, ok := strings.Cut(name, ".")
	return ok && event.Known(ot, metric)
}

func (r Rule) validate(allowSuppress bool) error {
	switch r.Kind {
	case KindSuppress:
		if !allowSuppress {
			return errors.New("suppress DELETES the person permanently in Customer.io (use identify with \"unsubscribed\": true to stop email); set CIO_ACTIONS_ALLOW_SUPPRESS=true only if that is intended")
		}
		if len(r.Attributes) > 0 {
			return errors.New("suppress takes no attributes")
		}
		return nil
	case KindIdentify:
	default:
		return fmt.Errorf(`unknown action kind %q (want "identify" or "suppress")`, r.Kind)
	}
	if len(r.Attributes) == 0 {
		return errors.New("identify needs at least one attribute")
	}
	for _, k := range slices.Sorted(maps.Keys(r.Attributes)) {
		if strings.TrimSpace(k) == "" {
			return errors.New("empty attribute name")
		}
		if forbidden[k] {
			if k == "_update" {
				return errors.New(`attribute "_update" is always true and cannot be set`)
			}
			return fmt.Errorf("attribute %q is an identifier and cannot be set by a policy", k)
		}
		switch v := r.Attributes[k].(type) {
		case bool, int, int64, float64, json.Number:
		case string:
			if strings.Contains(v, "{{") || strings.Contains(v, "}}") {
				if _, ok := templates[v]; !ok {
					return fmt.Errorf("attribute %q: unknown template %q (want one of %s)", k, v, strings.Join(slices.Sorted(maps.Keys(templates)), ", "))
				}
			}
		default:
			return fmt.Errorf("attribute %q: value must be a boolean, number or string, got %T", k, v)
		}
	}
	return nil
}

// HasSuppress reports whether any rule of p suppresses (deletes) people.
func (p Policy) HasSuppress() bool {
	for _, rules := range p {
		for _, r := range rules {
			if r.Kind == KindSuppress {
				return true
			}
		}
	}
	return false
}

// Call is one Track API call the policy asks for.
type Call struct {
	// Step names the call for the ledger: "action:<i>:<kind>", i being the
	// rule's index for the event's name. Stable while the policy is.
	Step string
	Kind Kind
	// Person is the path identifier; "" means the event names nobody and
	// the call must not be made (clients return ErrNoPerson).
	Person string
	// Attributes are the identify attributes, "_update": true included.
	Attributes map[string]any
	// EventID is the event that caused the call, for dry-run output.
	EventID string
	// Fields names the CIO_PII field each templated attribute was filled
	// from ("failure_message" for "{{failure_message}}"), so a copy of the
	// call that is written down follows that field's CIO_PII rule.
	Fields map[string]string
}

// personal are the templates whose values are fields CIO_PII names.
var personal = map[string]bool{"failure_message": true, "recipient": true, "href": true, "subject": true}

// Plan returns the calls p asks for ev, in rule order; nil if none.
func (p Policy) Plan(ev *event.Event) []Call {
	rules := p[ev.Name()]
	if len(rules) == 0 {
		return nil
	}
	person := Person(ev)
	calls := make([]Call, 0, len(rules))
	for i, r := range rules {
		c := Call{
			Step:    fmt.Sprintf("action:%d:%s", i, r.Kind),
			Kind:    r.Kind,
			Person:  person,
			EventID: ev.EventID,
		}
		if r.Kind == KindIdentify {
			c.Attributes = make(map[string]any, len(r.Attributes)+1)
			for k, v := range r.Attributes {
				if s, ok := v.(string); ok {
					if fill, ok := templates[s]; ok {
						if v, ok = fill(ev); !ok {
							continue
						}
						if f := strings.Trim(s, "{}"); personal[f] {
							if c.Fields == nil {
								c.Fields = map[string]string{}
							}
							c.Fields[k] = f
						}
					}
				}
				c.Attributes[k] = v
			}
			c.Attributes["_update"] = true
		}
		calls = append(calls, c)
	}
	return calls
}

// Person returns the Track API path identifier for the person ev is about,
// or "" if ev names nobody. See the package comment for the order.
func Person(ev *event.Event) string {
	ids := ev.Data.Identifiers
	if v, ok := str(ids.CioID); ok {
		return "cio_" + v.(string)
	}
	for _, s := range []event.String{ids.ID, ids.Email, ev.Data.EmailAddress} {
		if v, ok := str(s); ok {
			return v.(string)
		}
	}
	return ""
}
