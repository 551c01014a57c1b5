// Package privacy applies the CIO_PII policy to warehouse rows before they
// are written: per field, keep it, replace it with a keyed hash (HMAC-SHA256,
// so equal values still join but a dictionary of addresses cannot reverse
// them without the key) or drop it — in the typed columns and in the raw
// JSON alike.
package privacy

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/url"
	"regexp"
	"strings"
	"sync"

	"github.com/cioevents/cioevents/shared/config"
	"github.com/cioevents/cioevents/shared/warehouse"
)

// Environment variables.
const (
	EnvPolicy = "CIO_PII"
	// EnvKey holds the HMAC key (from Secret Manager, as the signing keys).
	EnvKey = "CIO_PII_KEY"
)

// Action is what happens to a field.
type Action string

// Actions. StripQuery is for href only: the URL without its query string
// and fragment, where tracking tokens and addresses usually travel.
const (
	Keep       Action = "keep"
	Hash       Action = "hash"
	Drop       Action = "drop"
	StripQuery Action = "strip-query"
)

// Fields a policy names.
var Fields = []string{"email", "recipient", "subject", "href", "failure_message", "content", "headers"}

// Policy is one action per field.
type Policy struct {
	actions map[string]Action
	key     []byte
	// macs holds keyed HMAC states for reuse: keying one costs more than
	// hashing an address, and the pipeline hashes every event's addresses
	// for the tombstone check (StoredAddress).
	macs *sync.Pool
}

// Default keeps every field but message content and headers: a sent email's
// whole HTML body and headers are the most personal and the largest part of
// a row, and no figure or join needs them.
const Default = "content=drop,headers=drop"

// ErrPolicy wraps every error of Parse.
var ErrPolicy = errors.New("privacy: " + EnvPolicy)

// Parse reads a policy such as "email=hash,subject=drop,href=strip-query".
// Fields not named take Default's action; recipient, when not named, takes
// email's (for email it is the same address). hash needs a key.
func Parse(spec string, key []byte) (*Policy, error) {
	p := &Policy{actions: map[string]Action{}, key: key,
		macs: &sync.Pool{New: func() any { return hmac.New(sha256.New, key) }}}
	for _, f := range Fields {
		p.actions[f] = Keep
	}
	set := map[string]bool{}
	apply := func(s string, user bool) error {
		for _, item := range strings.Split(s, ",") {
			item = strings.TrimSpace(item)
			if item == "" {
				continue
			}
			f, as, ok := strings.Cut(item, "=")
			f, a := strings.TrimSpace(f), Action(strings.TrimSpace(as))
			if !ok {
				return fmt.Errorf("%w: %q is not field=action", ErrPolicy, item)
			}
			if _, known := p.actions[f]; !known {
				return fmt.Errorf("%w: unknown field %q (want one of %s)", ErrPolicy, f, strings.Join(Fields, ", "))
			}
			switch a {
			case Keep, Hash, Drop:
			case StripQuery:
				if f != "href" {
					return fmt.Errorf("%w: %s=%s: strip-query applies to href only", ErrPolicy, f, a)
				}
			default:
				return fmt.Errorf("%w: %s=%q: want keep, hash or drop", ErrPolicy, f, a)
			}
			p.actions[f] = a
			if user {
				set[f] = true
			}
		}
		return nil
	}
	if err := apply(Default, false); err != nil {
		return nil, err
	}
	if err := apply(spec, true); err != nil {
		return nil, err
	}
	if !set["recipient"] {
		p.actions["recipient"] = p.actions["email"]
	}
	for f, a := range p.actions {
		if a == Hash && len(key) < minKey {
			return nil, fmt.Errorf("%w: %s=hash needs %s, a secret of at least 16 bytes", ErrPolicy, f, EnvKey)
		}
	}
	return p, nil
}

// FromEnv reads CIO_PII and CIO_PII_KEY; a key wrapped in quotes is
// refused, as every secret is (config.CheckSecret).
func FromEnv(getenv func(string) string) (*Policy, error) {
	key := getenv(EnvKey)
	if err := config.CheckSecret(EnvKey, key); err != nil {
		return nil, err
	}
	return Parse(getenv(EnvPolicy), []byte(key))
}

// minKey is the shortest CIO_PII_KEY that hashes, in bytes.
const minKey = 16

// Action returns the action for field.
func (p *Policy) Action(field string) Action { return p.actions[field] }

// hash is "hmac:" and the first 128 bits of HMAC-SHA256 in hex. Addresses
// are trimmed and lower-cased first, so one person hashes one way, and an
// email address keeps its domain ("hmac:…@gmail.com"): deliverability per
// recipient domain is what the views report, and a domain alone names no
// one.
func (p *Policy) hash(field, v string) string {
	domain := ""
	if field == "email" || field == "recipient" {
		v = strings.ToLower(strings.TrimSpace(v))
		if i := strings.LastIndexByte(v, '@'); i > 0 && i < len(v)-1 {
			domain = v[i:]
		}
	}
	m := p.macs.Get().(hash.Hash)
	m.Reset()
	io.WriteString(m, v)
	var buf [sha256.Size]byte
	sum := m.Sum(buf[:0])
	p.macs.Put(m)
	return "hmac:" + hex.EncodeToString(sum[:16]) + domain
}

// StoredAddress is address v as email=hash stores it ("hmac:…@domain"),
// whatever the email action is now, and false without a key that can
// hash (Parse's minimum). The tombstone check matches each address of an
// event by it too (tombstone.AddressForm): a person whose rows held the
// address only hashed when forget ran stays forgotten, also after the
// policy changes from hash to keep.
func (p *Policy) StoredAddress(v string) (string, bool) {
	if p == nil || len(p.key) < minKey || strings.TrimSpace(v) == "" {
		return "", false
	}
	return p.hash("email", v), true
}

// value applies field's action to v; ok false means drop. Free text
// (subject, failure_message) kept in clear still gets the email rule for
// the addresses inside it: an SMTP failure message quotes the recipient.
func (p *Policy) value(field, v string) (string, bool) {
	out, ok := p.own(field, v)
	if ok && (field == "failure_message" || field == "subject") {
		out = p.Text(out)
	}
	return out, ok
}

func (p *Policy) own(field, v string) (string, bool) {
	switch p.actions[field] {
	case Hash:
		return p.hash(field, v), true
	case Drop:
		return "", false
	case StripQuery:
		u, err := url.Parse(v)
		if err != nil {
			return "", false // unreadable: nothing safe to keep
		}
		u.RawQuery, u.Fragment, u.RawFragment, u.ForceQuery = "", "", "", false
		return u.String(), true
	}
	return v, true
}

// address finds email addresses in free text: a local part and a dotted
// domain, the shape SMTP servers quote (<jane@example.com>, "jane@example.com").
var address = regexp.MustCompile(`[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)+`)

// addressRule is the rule an address inside free text follows: email's,
// or recipient's when email is kept (the two name the same address).
func (p *Policy) addressRule() string {
	if p.actions["email"] != Keep {
		return "email"
	}
	return "recipient"
}

// Text applies the email rule to every address inside free text v: a
// hashed address becomes its hash (as the email column holds it), a
// dropped one "[redacted]".
func (p *Policy) Text(v string) string {
	field := p.addressRule()
	if p.actions[field] == Keep || !strings.Contains(v, "@") {
		return v
	}
	return address.ReplaceAllStringFunc(v, func(a string) string {
		if out, ok := p.own(field, a); ok {
			return out
		}
		return "[redacted]"
	})
}

// Person is what a written copy (the dry-run actions file) holds for a
// Track person identifier: an address follows the email rule, an ID
// ("cio_…" or the workspace's own) is not a field the policy names and is
// kept, as the person_id and cio_id columns are.
func (p *Policy) Person(v string) string {
	if !strings.Contains(v, "@") {
		return v
	}
	if out, ok := p.own("email", v); ok {
		return out
	}
	return "[redacted]"
}

// Value applies field's action to v, as Stored does; for callers that
// hold one value of a named field (a dry-run attribute filled from it).
func (p *Policy) Value(field, v string) (string, bool) { return p.value(field, v) }

// Stored returns what the warehouse holds for value v of field under the
// policy, and false when the field is dropped (`cioevents forget` looks
// for a hashed address by its hash).
func (p *Policy) Stored(field, v string) (string, bool) { return p.value(field, v) }

func (p *Policy) column(field string, s *string) *string {
	if s == nil {
		return nil
	}
	v, ok := p.value(field, *s)
	if !ok {
		return nil
	}
	return &v
}

// untouched reports whether the policy changes nothing.
func (p *Policy) untouched() bool {
	for _, a := range p.actions {
		if a != Keep {
			return false
		}
	}
	return true
}

// Row applies the policy to r's columns and raw body.
func (p *Policy) Row(r warehouse.Row) (warehouse.Row, error) {
	if p.untouched() {
		return r, nil
	}
	r.Email = p.column("email", r.Email)
	r.Recipient = p.column("recipient", r.Recipient)
	r.Subject = p.column("subject", r.Subject)
	r.Href = p.column("href", r.Href)
	r.FailureMessage = p.column("failure_message", r.FailureMessage)
	raw, err := p.Body(r.Raw, r.Metric)
	if err != nil {
		return r, fmt.Errorf("privacy: event %q: %w", r.EventID, err)
	}
	r.Raw = raw
	return r, nil
}

// Body applies the policy to a webhook body. metric tells message content
// from a subscription-preferences change, whose data.content is the
// person's topic choices, not a message, and is kept. A body that changes is
// re-encoded (keys sorted, numbers exact); one that does not is returned as
// it came.
func (p *Policy) Body(raw []byte, metric string) ([]byte, error) {
	if p.untouched() {
		return raw, nil
	}
	body, err := decodeObject(raw)
	if err != nil {
		return nil, err
	}
	data, _ := body["data"].(map[string]any)
	// Backfill's rows carry the App API delivery they came from, which names
	// the same person with the same fields.
	delivery, _ := body["app_api_delivery"].(map[string]any)
	if data == nil && delivery == nil {
		return raw, nil
	}
	if data == nil {
		data = map[string]any{}
	}
	changed := false
	edit := func(m map[string]any, key, field string) {
		v, present := m[key]
		if !present || v == nil {
			return
		}
		if s, isString := v.(string); isString {
			if out, ok := p.value(field, s); !ok {
				delete(m, key)
			} else if out != s {
				m[key] = out
			} else {
				return
			}
			changed = true
			return
		}
		// Not a string (headers, structured content): keep or drop whole;
		// hashing its JSON text keeps it joinable.
		switch p.actions[field] {
		case Drop, StripQuery:
			delete(m, key)
			changed = true
		case Hash:
			b, _ := json.Marshal(v)
			m[key] = p.hash(field, string(b))
			changed = true
		}
	}
	if ids, ok := data["identifiers"].(map[string]any); ok {
		edit(ids, "email", "email")
	}
	edit(data, "email_address", "email")
	edit(data, "recipient", "recipient")
	edit(data, "subject", "subject")
	edit(data, "href", "href")
	edit(data, "failure_message", "failure_message")
	if metric != "cio_subscription_preferences_changed" {
		edit(data, "content", "content")
	}
	edit(data, "headers", "headers")
	if delivery != nil {
		if ids, ok := delivery["customer_identifiers"].(map[string]any); ok {
			edit(ids, "email", "email")
		}
		for _, f := range []string{"recipient", "subject", "href", "failure_message", "content", "headers"} {
			edit(delivery, f, f)
		}
	}
	if !changed {
		return raw, nil
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(body); err != nil {
		return nil, err
	}
	return bytes.TrimRight(buf.Bytes(), "\n"), nil
}

// Writer applies a policy to every row before the next Writer stores it.
type Writer struct {
	Next   warehouse.Writer
	Policy *Policy
}

var _ warehouse.Writer = (*Writer)(nil)

// InsertEvent implements warehouse.Writer.
func (w *Writer) InsertEvent(ctx context.Context, r warehouse.Row) error {
	r, err := w.Policy.Row(r)
	if err != nil {
		return fmt.Errorf("%w: %w", warehouse.ErrPermanent, err)
	}
	return w.Next.InsertEvent(ctx, r)
}

// InsertRejected implements warehouse.Writer: the body gets RejectedBody.
func (w *Writer) InsertRejected(ctx context.Context, r warehouse.Rejected) error {
	r.Body = w.Policy.RejectedBody(r.Body)
	return w.Next.InsertRejected(ctx, r)
}

// decodeObject reads raw as one JSON object and nothing after it.
func decodeObject(raw []byte) (map[string]any, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var body map[string]any
	if err := dec.Decode(&body); err != nil {
		return nil, err
	}
	if body == nil {
		return nil, errors.New("not a JSON object")
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("data after the JSON object")
	}
	return body, nil
}

// RejectedBody is what rejected_events keeps of a quarantined body (a
// Rejected.Body, base64-prefixed when not UTF-8):
//   - a JSON object gets the policy as an events row's raw does;
//   - the receiver's stub of an oversized body keeps its metadata (size,
//     sha256, event_id, the request's headers), and its prefix — the
//     body's first bytes, which may hold any field — only under a policy
//     that keeps every field;
//   - anything else cannot be read field by field: under a policy that
//     changes anything, only its size and SHA-256 are kept.
func (p *Policy) RejectedBody(body string) string {
	if p.untouched() {
		return body
	}
	raw, err := warehouse.DecodeBody(body)
	if err != nil {
		raw = []byte(body)
	}
	obj, err := decodeObject(raw)
	if err != nil {
		return p.summary(raw, "not a JSON object")
	}
	if over, _ := obj["oversized"].(bool); over {
		if _, has := obj["prefix"]; has {
			delete(obj, "prefix")
			delete(obj, "prefix_encoding")
			obj["prefix_removed"] = "by " + EnvPolicy
		}
		return encode(obj)
	}
	out, err := p.Body(raw, "")
	if err != nil {
		return p.summary(raw, err.Error())
	}
	return string(out)
}

// summary stands for a body the policy cannot read field by field.
func (p *Policy) summary(raw []byte, why string) string {
	sum := sha256.Sum256(raw)
	return encode(map[string]any{"redacted": "by " + EnvPolicy + ": " + why, "size": len(raw),
		"sha256": hex.EncodeToString(sum[:])})
}

func encode(v any) string {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v) // maps of JSON values: cannot fail
	return strings.TrimRight(buf.String(), "\n")
}
