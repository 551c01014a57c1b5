package actions

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"strings"
	"sync"
)

// DryRun is a Client that writes the calls it would make, one JSON line
// each, instead of making them. Safe for concurrent use. Its output names
// people by design (it is the dev pipeline's actions.ndjson); keep it out
// of logs.
type DryRun struct {
	mu     sync.Mutex
	w      io.Writer
	redact bool
	key    []byte // keys the redacted person hash
	policy Redactor
}

// Redactor is the CIO_PII policy (*privacy.Policy) as a dry run applies
// it to the lines it writes.
type Redactor interface {
	// Person is what is written for a person identifier.
	Person(v string) string
	// Value is what is written for a value of a named field; false: drop it.
	Value(field, v string) (string, bool)
	// Text is what is written for free text of no named field.
	Text(v string) string
}

// Policy makes the lines follow r (the person, and each attribute by the
// field it was filled from): the file is one more copy the policy covers.
func (d *DryRun) Policy(r Redactor) *DryRun {
	d.policy = r
	return d
}

// NewDryRun returns a DryRun writing to w.
func NewDryRun(w io.Writer) *DryRun { return &DryRun{w: w} }

// NewRedactedDryRun returns a DryRun whose lines may go to logs: the person
// is replaced by a short keyed hash (enough to tell people apart) and
// attribute values by "[redacted]", keeping only which attributes would be
// set. The hash is keyed because a plain hash of an email address or an ID
// is reversed by hashing a list of candidates; the key is random per
// process unless PersonKey sets one (CIO_PII_KEY, stable across instances).
func NewRedactedDryRun(w io.Writer) *DryRun {
	key := make([]byte, 32)
	rand.Read(key) // never fails (crypto/rand)
	return &DryRun{w: w, redact: true, key: key}
}

// PersonKey sets the key of the redacted person hash, if key is not empty.
func (d *DryRun) PersonKey(key []byte) *DryRun {
	if len(key) > 0 {
		d.key = key
	}
	return d
}

// dryLine is one line of DryRun output.
type dryLine struct {
	Step       string         `json:"step,omitempty"`
	Kind       Kind           `json:"kind"`
	Method     string         `json:"method"`
	Path       string         `json:"path"`
	Person     string         `json:"person"`
	Attributes map[string]any `json:"attributes,omitempty"`
	EventID    string         `json:"event_id,omitempty"`
}

// Do writes the line for c. It refuses what Track would refuse: no person
// (ErrNoPerson) and unknown kinds or unencodable attributes (ErrPermanent).
func (d *DryRun) Do(_ context.Context, c Call) error {
	if c.Person == "" {
		return ErrNoPerson
	}
	line := dryLine{Step: c.Step, Kind: c.Kind, Person: c.Person, EventID: c.EventID}
	path := "/api/v1/customers/" + url.PathEscape(c.Person)
	switch c.Kind {
	case KindIdentify:
		line.Method, line.Path = http.MethodPut, path
		line.Attributes = make(map[string]any, len(c.Attributes)+1)
		maps.Copy(line.Attributes, c.Attributes)
		line.Attributes["_update"] = true
	case KindSuppress:
		line.Method, line.Path = http.MethodPost, path+"/suppress"
	default:
		return fmt.Errorf("actions: %w: unknown action kind %q", ErrPermanent, c.Kind)
	}
	if d.policy != nil && !d.redact {
		person := d.policy.Person(c.Person)
		line.Path = strings.Replace(line.Path, url.PathEscape(c.Person), url.PathEscape(person), 1)
		line.Person = person
		for k, v := range line.Attributes {
			s, ok := v.(string)
			if !ok {
				continue
			}
			if f := c.Fields[k]; f != "" {
				if out, keep := d.policy.Value(f, s); keep {
					line.Attributes[k] = out
				} else {
					delete(line.Attributes, k)
				}
			} else {
				line.Attributes[k] = d.policy.Text(s)
			}
		}
	}
	if d.redact {
		m := hmac.New(sha256.New, d.key)
		m.Write([]byte(c.Person))
		line.Person = "hmac:" + hex.EncodeToString(m.Sum(nil)[:6])
		line.Path = strings.Replace(line.Path, url.PathEscape(c.Person), line.Person, 1)
		for k := range line.Attributes {
			if k != "_update" {
				line.Attributes[k] = "[redacted]"
			}
		}
	}
	b, err := json.Marshal(line)
	if err != nil {
		return fmt.Errorf("actions: %s: %w: attributes are not JSON-encodable", c.Kind, ErrPermanent)
	}
	b = append(b, '\n')
	d.mu.Lock()
	defer d.mu.Unlock()
	if _, err := d.w.Write(b); err != nil {
		return fmt.Errorf("actions: dry run: write: %w", err)
	}
	return nil
}
