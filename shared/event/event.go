// Package event is the Customer.io reporting-webhook event model: one POST body
// is one event. Parsing is lenient where Customer.io's own spec is inconsistent
// (IDs as strings or numbers, object_type_type) and strict only about what the
// pipeline needs to work: a JSON object with an event_id.
package event

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"
	"unicode/utf8"
)

// Errors returned by Parse. A body that fails with any of them is still
// authentic; the pipeline quarantines it instead of dropping it.
var (
	// ErrInvalidJSON: the body is not JSON at all (garbage, truncated, empty).
	ErrInvalidJSON = errors.New("event: body is not valid JSON")
	// ErrNotObject: the body is JSON, but an array, string, number or null.
	ErrNotObject = errors.New("event: body is not a JSON object")
	ErrNoEventID = errors.New("event: body has no event_id")
)

// notObject tells a body that is JSON but not an object from one that is not
// JSON at all.
func notObject(trimmed []byte) error {
	if json.Valid(trimmed) {
		return ErrNotObject
	}
	return ErrInvalidJSON
}

// Event is one reporting-webhook event.
type Event struct {
	EventID    string `json:"event_id"`
	ObjectType string `json:"object_type"`
	Metric     string `json:"metric"`
	// Timestamp is when the event occurred (unix seconds), not when it was sent.
	Timestamp int64 `json:"timestamp"`
	Data      Data  `json:"data"`

	// Raw is the body exactly as received; it is what was signed.
	Raw []byte `json:"-"`
}

// Time returns when the event occurred, or the zero time if the body had none.
func (e *Event) Time() time.Time {
	if e.Timestamp == 0 {
		return time.Time{}
	}
	return time.Unix(e.Timestamp, 0).UTC()
}

// Name is the "object_type.metric" key used by fixtures, policies and logs.
func (e *Event) Name() string { return e.ObjectType + "." + e.Metric }

// Known reports whether the object_type/metric pair is one the contract lists.
func (e *Event) Known() bool { return Known(e.ObjectType, e.Metric) }

// Identifiers addresses the person an event is about.
type Identifiers struct {
	ID    String `json:"id"`
	Email String `json:"email"`
	CioID String `json:"cio_id"`
}

// Recipient is one device of a push event.
type Recipient struct {
	DeviceID       string `json:"device_id"`
	DevicePlatform string `json:"device_platform,omitempty"`
	FailureMessage string `json:"failure_message,omitempty"`
}

// Data holds the union of the data fields of every object_type × metric.
// Absent fields stay zero; pointer-like types (String, Int, *bool) tell absent
// from empty so the warehouse can write NULL.
type Data struct {
	Identifiers Identifiers `json:"identifiers"`

	CustomerID             String `json:"customer_id"`
	EmailAddress           String `json:"email_address"`
	DeliveryID             String `json:"delivery_id"`
	JourneyID              String `json:"journey_id"`
	TransactionalMessageID String `json:"transactional_message_id"`
	TriggerEventID         String `json:"trigger_event_id"`

	CampaignID     Int `json:"campaign_id"`
	BroadcastID    Int `json:"broadcast_id"`
	NewsletterID   Int `json:"newsletter_id"`
	ActionID       Int `json:"action_id"`
	ParentActionID Int `json:"parent_action_id"`
	TriggerID      Int `json:"trigger_id"`
	ContentID      Int `json:"content_id"`
	LinkID         Int `json:"link_id"`

	Recipient       String              `json:"recipient"`
	Recipients      []Recipient         `json:"recipients"`
	Subject         String              `json:"subject"`
	Href            String              `json:"href"`
	FailureMessage  String              `json:"failure_message"`
	Content         String              `json:"content"`
	To              String              `json:"to"`
	InboundEventID  String              `json:"inbound_event_id"`
	TrackedResponse String              `json:"tracked_response"`
	Headers         map[string][]string `json:"headers"`

	Machine    *bool `json:"machine"`
	Proxied    *bool `json:"proxied"`
	Prefetched *bool `json:"prefetched"`
	Synthetic  *bool `json:"synthetic"`
}

// envelope mirrors Event for decoding, adding the spec's object_type_type typo
// and a lenient event_id and timestamp.
type envelope struct {
	EventID        String          `json:"event_id"`
	ObjectType     String          `json:"object_type"`
	ObjectTypeType String          `json:"object_type_type"`
	Metric         String          `json:"metric"`
	Timestamp      Int             `json:"timestamp"`
	Data           json.RawMessage `json:"data"`
}

// Parse decodes one webhook body. The returned Event keeps raw as Raw.
//
// A body that is a JSON object with an event_id parses even when its data
// fields have unexpected types: those fields are left zero (the raw body keeps
// them), because an odd field must not cost the event its row. Parse returns
// ErrInvalidJSON, ErrNotObject or ErrNoEventID (possibly with a partial
// Event) otherwise.
func Parse(raw []byte) (*Event, error) { return parse(raw, true) }

// Envelope is what ReadEnvelope reads of an event.
type Envelope struct {
	EventID    string
	ObjectType string
	Metric     string
	Timestamp  int64
}

// Known reports whether the object_type/metric pair is one the contract lists.
func (e Envelope) Known() bool { return Known(e.ObjectType, e.Metric) }

// ReadEnvelope is Parse without decoding data: the event_id, object_type,
// metric and timestamp, and the same errors. It is the receiver's light
// parse, which must stay cheap for every body, large or small.
func ReadEnvelope(raw []byte) (Envelope, error) {
	trimmed := bytes.TrimSpace(raw)
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return Envelope{}, notObject(trimmed)
	}
	env, ok := scanEnvelope(trimmed)
	if !ok {
		ev, err := parse(raw, false)
		return Envelope{EventID: ev.EventID, ObjectType: ev.ObjectType, Metric: ev.Metric, Timestamp: ev.Timestamp}, err
	}
	if env.EventID == "" {
		return env, ErrNoEventID
	}
	return env, nil
}

func parse(raw []byte, withData bool) (*Event, error) {
	ev := &Event{Raw: raw}
	trimmed := bytes.TrimSpace(raw)
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return ev, notObject(trimmed)
	}
	var env envelope
	if err := json.Unmarshal(trimmed, &env); err != nil {
		var syn *json.SyntaxError
		if errors.As(err, &syn) || !json.Valid(trimmed) {
			return ev, fmt.Errorf("%w: %v", ErrInvalidJSON, err)
		}
		// Valid JSON object, but a field had a type we cannot read (say an
		// array as event_id): decode the envelope field by field instead.
		env = envelope{}
		decodeEach(trimmed, &env)
	}
	ev.EventID = env.EventID.Value
	ev.ObjectType = env.ObjectType.Value
	if ev.ObjectType == "" {
		ev.ObjectType = env.ObjectTypeType.Value
	}
	ev.Metric = env.Metric.Value
	ev.Timestamp = env.Timestamp.Value
	if withData && len(env.Data) > 0 && env.Data[0] == '{' {
		if err := json.Unmarshal(env.Data, &ev.Data); err != nil {
			ev.Data = Data{}
			decodeEach(env.Data, &ev.Data)
		}
	}
	if ev.EventID == "" {
		return ev, ErrNoEventID
	}
	return ev, nil
}

// decodeEach decodes the members of the JSON object b into v one at a time,
// so that a member of an unexpected type leaves only its own field zero. It
// walks the members in document order and lets encoding/json match each key,
// so where a whole-object decode would succeed it gives the same result
// (case-folded keys, last duplicate wins); a map walk would make the outcome
// depend on iteration order and a redelivery could produce a different row.
func decodeEach(b []byte, v any) {
	dec := json.NewDecoder(bytes.NewReader(b))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return
		}
		key, ok := tok.(string)
		if !ok {
			return
		}
		var val json.RawMessage
		if err := dec.Decode(&val); err != nil {
			return
		}
		one, err := json.Marshal(map[string]json.RawMessage{key: val})
		if err != nil {
			continue
		}
		_ = json.Unmarshal(one, v) // a member of the wrong type stays zero
	}
}

// String is a JSON value read as a string: "42", 42 and 4.2e1 all give text;
// null and absence give Valid == false.
type String struct {
	Value string
	Valid bool
}

// UnmarshalJSON accepts strings, numbers and booleans.
func (s *String) UnmarshalJSON(b []byte) error {
	*s = String{}
	b = bytes.TrimSpace(b)
	switch {
	case len(b) == 0 || bytes.Equal(b, []byte("null")):
		return nil
	case b[0] == '"':
		v, err := unquote(b)
		if err != nil {
			return err
		}
		s.Value = v
	case b[0] == 't' || b[0] == 'f':
		var v bool
		if err := json.Unmarshal(b, &v); err != nil {
			return err
		}
		s.Value = strconv.FormatBool(v)
	default:
		var n json.Number
		if err := json.Unmarshal(b, &n); err != nil {
			return fmt.Errorf("event: want a string or number, got %.20s", b)
		}
		s.Value = n.String()
	}
	s.Valid = true
	return nil
}

// MarshalJSON writes the string, or null when not valid.
func (s String) MarshalJSON() ([]byte, error) {
	if !s.Valid {
		return []byte("null"), nil
	}
	return json.Marshal(s.Value)
}

// Ptr returns nil when the value was absent or null.
func (s String) Ptr() *string {
	if !s.Valid {
		return nil
	}
	v := s.Value
	return &v
}

// Int is a JSON integer that may arrive as a number or a numeric string.
type Int struct {
	Value int64
	Valid bool
}

// UnmarshalJSON accepts 42, "42" and 42.0; other values are an error.
func (n *Int) UnmarshalJSON(b []byte) error {
	*n = Int{}
	b = bytes.TrimSpace(b)
	if len(b) == 0 || bytes.Equal(b, []byte("null")) {
		return nil
	}
	text := string(b)
	if b[0] == '"' {
		var err error
		if text, err = unquote(b); err != nil {
			return err
		}
		if text == "" {
			return nil
		}
	}
	v, err := strconv.ParseInt(text, 10, 64)
	if err != nil {
		f, ferr := strconv.ParseFloat(text, 64)
		// The range check comes first: converting an out-of-range float to
		// int64 is implementation-defined (amd64 wraps, arm64 saturates).
		if ferr != nil || f < -(1<<63) || f >= 1<<63 || f != float64(int64(f)) {
			return fmt.Errorf("event: want an integer, got %.20s", b)
		}
		v = int64(f)
	}
	n.Value, n.Valid = v, true
	return nil
}

// MarshalJSON writes the number, or null when not valid.
func (n Int) MarshalJSON() ([]byte, error) {
	if !n.Valid {
		return []byte("null"), nil
	}
	return strconv.AppendInt(nil, n.Value, 10), nil
}

// Ptr returns nil when the value was absent or null.
func (n Int) Ptr() *int64 {
	if !n.Valid {
		return nil
	}
	v := n.Value
	return &v
}

// unquote decodes a JSON string. Strings without escapes — nearly all IDs
// and most text — are cut out directly instead of being validated and
// copied again by encoding/json, which already validated the whole body.
func unquote(b []byte) (string, error) {
	if len(b) >= 2 && b[0] == '"' && b[len(b)-1] == '"' {
		inner := b[1 : len(b)-1]
		plain := utf8.Valid(inner)
		for _, c := range inner {
			if c == '\\' || c == '"' || c < 0x20 {
				plain = false
				break
			}
		}
		if plain {
			return string(inner), nil
		}
	}
	var v string
	err := json.Unmarshal(b, &v)
	return v, err
}
