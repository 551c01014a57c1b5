package event

import (
	"bytes"
	"encoding/json"
	"strings"
)

// Salvage reads, best effort, the identifiers of the person a body that
// does not parse names: a body that is not valid JSON, or the kept prefix
// of an oversized one (cut anywhere, even inside a string). It walks the
// JSON tokens from the start and stops at the first it cannot read, keeping
// every identifier it passed at an event's own places — data.identifiers
// (email, id, cio_id), data.email_address, data.recipient,
// data.customer_id — with Parse's case-insensitive key matching. Nothing
// else of the Event is set. The quarantine path uses it to keep a forgotten
// person's bodies out of rejected_events; a body it reads nothing from
// yields an Event naming nobody.
func Salvage(raw []byte) *Event {
	ev := &Event{Raw: raw}
	d := &ev.Data
	targets := []struct {
		path []string
		to   *String
	}{
		{[]string{"data", "identifiers", "email"}, &d.Identifiers.Email},
		{[]string{"data", "identifiers", "id"}, &d.Identifiers.ID},
		{[]string{"data", "identifiers", "cio_id"}, &d.Identifiers.CioID},
		{[]string{"data", "email_address"}, &d.EmailAddress},
		{[]string{"data", "recipient"}, &d.Recipient},
		{[]string{"data", "customer_id"}, &d.CustomerID},
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var stack []frame // the open objects and arrays, outermost first
	for {
		tok, err := dec.Token()
		if err != nil {
			return ev // the end, or where the body stops being readable
		}
		n := len(stack)
		if n > 0 && stack[n-1].object && stack[n-1].wantKey {
			if k, ok := tok.(string); ok {
				stack[n-1].key, stack[n-1].wantKey = k, false
				continue
			}
			// '}' of an object (the decoder allows nothing else here)
			stack = valueDone(stack[:n-1])
			continue
		}
		switch tok {
		case json.Delim('{'):
			stack = append(stack, frame{object: true, wantKey: true})
			continue
		case json.Delim('['):
			stack = append(stack, frame{})
			continue
		case json.Delim(']'):
			stack = valueDone(stack[:n-1])
			continue
		}
		if n == 0 || !stack[n-1].object {
			continue // a scalar at the root or in an array: no identifier
		}
		var v string
		switch t := tok.(type) {
		case string:
			v = t
		case json.Number:
			v = t.String()
		}
		if v != "" {
			for _, tg := range targets {
				if at(stack, tg.path) {
					*tg.to = String{Value: v, Valid: true}
				}
			}
		}
		stack[n-1].wantKey = true
	}
}

// frame is one open JSON object (with the key being read) or array.
type frame struct {
	object, wantKey bool
	key             string
}

// valueDone notes that a value of the innermost open object ended.
func valueDone(stack []frame) []frame {
	if n := len(stack); n > 0 && stack[n-1].object {
		stack[n-1].wantKey = true
	}
	return stack
}

// at reports whether the open objects' keys are path (no array between).
func at(stack []frame, path []string) bool {
	if len(stack) != len(path) {
		return false
	}
	for i, f := range stack {
		if !f.object || !strings.EqualFold(f.key, path[i]) {
			return false
		}
	}
	return true
}
