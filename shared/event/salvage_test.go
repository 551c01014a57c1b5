package event

import (
	"strings"
	"testing"
)

// Salvage finds an event's identifiers in bodies Parse refuses, and only
// at an event's own places.
func TestSalvage(t *testing.T) {
	full := `{"event_id":"01J","object_type":"email","metric":"sent","data":{"content":"` + strings.Repeat("x", 100) +
		`","identifiers":{"email":"Jane@example.com","id":"u_9","cio_id":"c9"},"customer_id":42,"email_address":"jane@example.com","recipient":"jane@example.com"}}`
	for _, tc := range []struct {
		name, body                                string
		email, id, cioID, customerID, addr, recip string
	}{
		{"whole event", full, "Jane@example.com", "u_9", "c9", "42", "jane@example.com", "jane@example.com"},
		{"no event_id", `{"data":{"identifiers":{"email":"jane@example.com"}}}`, "jane@example.com", "", "", "", "", ""},
		{"cut inside data", full[:strings.Index(full, `"cio_id"`)+3], "Jane@example.com", "u_9", "", "", "", ""},
		{"cut inside a value", full[:strings.Index(full, `Jane@`)+3], "", "", "", "", "", ""},
		{"garbage after", `{"data":{"customer_id":"u_1"}} trailing`, "", "", "", "u_1", "", ""},
		{"invalid later", `{"data":{"email_address":"a@b.c", "x": nope}}`, "", "", "", "", "a@b.c", ""},
		{"keys in any case", `{"DATA":{"Identifiers":{"Email":"a@b.c"}}}`, "a@b.c", "", "", "", "", ""},
		{"elsewhere is not an identifier", `{"identifiers":{"email":"a@b.c"},"data":{"x":{"identifiers":{"id":"1"}},"recipients":[{"email_address":"a@b.c"}]}}`, "", "", "", "", "", ""},
		{"in an array", `[{"data":{"identifiers":{"email":"a@b.c"}}}]`, "", "", "", "", "", ""},
		{"not json", `event_id=1&email=a@b.c`, "", "", "", "", "", ""},
		{"empty", ``, "", "", "", "", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := Salvage([]byte(tc.body)).Data
			for _, c := range []struct {
				field string
				got   String
				want  string
			}{
				{"identifiers.email", d.Identifiers.Email, tc.email}, {"identifiers.id", d.Identifiers.ID, tc.id},
				{"identifiers.cio_id", d.Identifiers.CioID, tc.cioID}, {"customer_id", d.CustomerID, tc.customerID},
				{"email_address", d.EmailAddress, tc.addr}, {"recipient", d.Recipient, tc.recip},
			} {
				if c.got.Value != c.want || c.got.Valid != (c.want != "") {
					t.Errorf("%s = %+v, want %q", c.field, c.got, c.want)
				}
			}
		})
	}
}
