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
	"net/url"
	"strings"

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
	p := &Policy{actions: map[string]Action{}, key: key}
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
		if a == Hash && len(key) < 16 {
			return nil, fmt.Errorf("%w: %s=hash needs %s, a secret of at least 16 bytes", ErrPolicy, f, EnvKey)
		}
	}
	return p, nil
}

// FromEnv reads CIO_PII and CIO_PII_KEY.
func FromEnv(getenv func(string) string) (*Policy, error) {
	return Parse(getenv(EnvPolicy), []byte(getenv(EnvKey)))
}

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
	m := hmac.New(sha256.New, p.key)
	m.Write([]byte(v))
	return "hmac:" + hex.EncodeToString(m.Sum(nil)[:16]) + domain
}

// value applies field's action to v; ok false means drop.
func (p *Policy) value(field, v string) (string, bool) {
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
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var body map[string]any
	if err := dec.Decode(&body); err != nil {
		return nil, err
	}
	data, _ := body["data"].(map[string]any)
	if data == nil {
		return raw, nil
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

// InsertRejected implements warehouse.Writer. A quarantined body that is a
// JSON object gets the policy too; anything else cannot be read field by
// field and is stored as received (say so in the README).
func (w *Writer) InsertRejected(ctx context.Context, r warehouse.Rejected) error {
	if b, err := w.Policy.Body([]byte(r.Body), ""); err == nil {
		r.Body = string(b)
	}
	return w.Next.InsertRejected(ctx, r)
}
