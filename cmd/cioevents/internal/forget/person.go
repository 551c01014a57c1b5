package forget

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/cioevents/cioevents/shared/privacy"
	"github.com/cioevents/cioevents/shared/tombstone"
	"github.com/cioevents/cioevents/shared/warehouse"
	"github.com/cioevents/cioevents/shared/workspace"
)

// Request is what the operator asked for: identifiers that all name one
// person, in Workspace (which scopes the IDs; addresses are global).
type Request struct {
	Workspace           string
	Emails, IDs, CioIDs []string
	Preemptive, DryRun  bool
	MaxIdentifiers      int
}

// ErrNoPerson is returned when no identifier is given.
var ErrNoPerson = errors.New("forget: give --email, --id or --cio-id")

// ErrNoMatch is returned when nothing matches the request and the operator
// did not ask for a pre-emptive tombstone: most often a typo, and a
// tombstone for a typo would drop a stranger's events for 400 days.
var ErrNoMatch = errors.New("forget: no row names this person")

// ErrTooMany is returned when the identifiers gathered from the rows grow
// past Request.MaxIdentifiers: an address or ID shared by many people
// (a test address, a role account) would otherwise chain to all of them.
var ErrTooMany = errors.New("forget: too many identifiers")

// Ident is one identifier of the person, normalised: an address trimmed
// and lower-cased, with no workspace (an address is the same person in
// every workspace); an ID or cio_id trimmed, in its workspace (workspaces
// number their people independently, so ID 42 in one is not 42 in another).
type Ident struct {
	Kind, Value, Workspace string
}

func (i Ident) String() string {
	if i.Kind == tombstone.KindEmail {
		return i.Kind + " " + i.Value
	}
	return i.Kind + " " + i.Value + " (workspace " + i.Workspace + ")"
}

// hashedPrefix leads an address the CIO_PII policy stored as a keyed hash
// (shared/privacy): forget matches it, and tombstones it as stored
// (tombstone.KindEmailHash), which the pipeline matches by hashing each
// address of an event the same way.
const hashedPrefix = "hmac:"

func (i Ident) hashed() bool {
	return i.Kind == tombstone.KindEmail && strings.HasPrefix(i.Value, hashedPrefix)
}

// normEmail and normID are the one normalisation of identifiers
// (tombstone.Normalize), used for tombstone keys, matching and deletion
// alike; "" for a blank value.
func normEmail(v string) string { n, _ := tombstone.Normalize(tombstone.KindEmail, v); return n }
func normID(v string) string    { n, _ := tombstone.Normalize(tombstone.KindID, v); return n }

// Identity is the set of a person's identifiers, in the order found.
type Identity struct {
	order []Ident
	has   map[Ident]bool
	// stored maps an address as the policy stores it (a hash) to the
	// address given, which is what the tombstone keys.
	stored map[string]string
	// Rows counts the rows the set matched when it stopped growing, and
	// Rounds the passes it took.
	Rows, Rounds int
	// deliveries are the delivery_ids of the person's events rows, by
	// workspace: a model keyed by delivery holds their rows by them.
	deliveries   map[string][]string
	seenDelivery map[[2]string]bool
}

// addDelivery records a delivery of the person's in workspace ws.
func (s *Identity) addDelivery(ws, id string) {
	ws = workspace.OrDefault(ws)
	if id == "" || s.seenDelivery[[2]string{ws, id}] {
		return
	}
	if s.deliveries == nil {
		s.deliveries, s.seenDelivery = map[string][]string{}, map[[2]string]bool{}
	}
	s.seenDelivery[[2]string{ws, id}] = true
	s.deliveries[ws] = append(s.deliveries[ws], id)
}

// deliveryWorkspaces are the workspaces of the person's deliveries, sorted.
func (s *Identity) deliveryWorkspaces() []string {
	var out []string
	for ws := range s.deliveries {
		out = append(out, ws)
	}
	slices.Sort(out)
	return out
}

func newIdentity() *Identity {
	return &Identity{has: map[Ident]bool{}, stored: map[string]string{}}
}

// add adds i, normalised, and reports whether it was new.
func (s *Identity) add(i Ident) bool {
	i = normal(i)
	if i.Value == "" || s.has[i] {
		return false
	}
	s.has[i] = true
	s.order = append(s.order, i)
	return true
}

// tooMany is ErrTooMany when the set has grown past max (0: no bound),
// for the local and the cloud gathering alike.
func (s *Identity) tooMany(max int) error {
	if max > 0 && s.Len() > max {
		return fmt.Errorf("%w: the rows link %d identifiers to this person (more than --max-identifiers %d); check them with --dry-run", ErrTooMany, s.Len(), max)
	}
	return nil
}

// Idents returns the identifiers in the order found: each one is
// tombstoned, an address found only hashed as stored under
// tombstone.KindEmailHash.
func (s *Identity) Idents() []Ident { return slices.Clone(s.order) }

// Len is the number of identifiers.
func (s *Identity) Len() int { return len(s.order) }

// Seed starts the set from the request. An address is also looked for as
// the policy stores it (its hash under email=hash).
func Seed(r Request, pol *privacy.Policy) *Identity {
	s := newIdentity()
	ws := workspace.OrDefault(r.Workspace)
	for _, e := range r.Emails {
		e = normEmail(e)
		s.add(Ident{Kind: tombstone.KindEmail, Value: e})
		if strings.HasPrefix(e, hashedPrefix) {
			continue // given as stored (copied from a row): no hash of a hash
		}
		for _, field := range []string{"email", "recipient"} {
			if st, ok := pol.Stored(field, e); ok && normEmail(st) != e {
				s.stored[normEmail(st)] = e
				s.add(Ident{Kind: tombstone.KindEmail, Value: st})
			}
		}
	}
	for _, v := range r.IDs {
		s.add(Ident{Kind: tombstone.KindID, Value: v, Workspace: ws})
	}
	for _, v := range r.CioIDs {
		s.add(Ident{Kind: tombstone.KindCioID, Value: v, Workspace: ws})
	}
	return s
}

// Validate normalises r and refuses what cannot name a person: no
// identifier, an empty one (a blank flag, or only spaces), an address
// without "@", a workspace name no key can have.
func (r *Request) Validate() error {
	if len(r.Emails)+len(r.IDs)+len(r.CioIDs) == 0 {
		return ErrNoPerson
	}
	r.Workspace = workspace.OrDefault(strings.TrimSpace(r.Workspace))
	if !workspace.Valid(r.Workspace) {
		return fmt.Errorf("--workspace %q: %s", r.Workspace, workspace.Rule)
	}
	for _, f := range []struct {
		flag string
		vs   []string
		norm func(string) string
	}{{"--email", r.Emails, normEmail}, {"--id", r.IDs, normID}, {"--cio-id", r.CioIDs, normID}} {
		for i, v := range f.vs {
			n := f.norm(v)
			if n == "" {
				return fmt.Errorf("%s is empty: give the value, or leave the flag out", f.flag)
			}
			if f.flag == "--email" && !strings.Contains(n, "@") {
				return fmt.Errorf("--email %q is not an address (an ID goes in --id or --cio-id)", v)
			}
			f.vs[i] = n
		}
	}
	return nil
}

// rowIdents are the identifiers an events row carries, as stored.
func rowIdents(r *warehouse.Row) []Ident {
	ws := ""
	if r.Workspace != nil {
		ws = *r.Workspace
	}
	var out []Ident
	add := func(kind string, p *string) {
		if p != nil {
			out = append(out, Ident{Kind: kind, Value: *p, Workspace: ws})
		}
	}
	add(tombstone.KindEmail, r.Email)
	if r.Recipient != nil && strings.Contains(*r.Recipient, "@") {
		add(tombstone.KindEmail, r.Recipient)
	}
	add(tombstone.KindID, r.PersonID)
	add(tombstone.KindID, r.CustomerID)
	add(tombstone.KindCioID, r.CioID)
	return out
}

// normal returns i as the set holds it.
func normal(i Ident) Ident {
	if i.Kind == tombstone.KindEmail {
		return Ident{Kind: i.Kind, Value: normEmail(i.Value)}
	}
	return Ident{Kind: i.Kind, Value: normID(i.Value), Workspace: workspace.OrDefault(i.Workspace)}
}

// matches reports whether the row names one of the set's identifiers.
func (s *Identity) matches(r *warehouse.Row) bool {
	for _, i := range rowIdents(r) {
		if s.has[normal(i)] {
			return true
		}
	}
	return false
}

// absorb adds the row's identifiers and reports whether any was new.
func (s *Identity) absorb(r *warehouse.Row) bool {
	grew := false
	for _, i := range rowIdents(r) {
		if s.add(i) {
			grew = true
		}
	}
	return grew
}

// print writes the set, one identifier a line, marking the addresses
// found as the policy stores them.
func (s *Identity) print(w io.Writer) {
	fmt.Fprintf(w, "the person (%d identifiers, from %d rows in %d passes):\n", s.Len(), s.Rows, s.Rounds)
	for _, i := range s.order {
		note := ""
		switch {
		case i.hashed() && s.stored[i.Value] != "":
			note = "   (as stored: the hash of the address above)"
		case i.hashed():
			note = "   (as stored: hashed by " + privacy.EnvPolicy + "; tombstoned in that form, which events naming the address match)"
		}
		fmt.Fprintf(w, "  %s%s\n", i, note)
	}
}

// needles are the JSON-quoted values to find in a quarantined body, per
// workspace ("" for addresses, which match in any workspace and any case):
// as a JSON string, and escaped inside one (an oversized body's kept
// prefix).
func (s *Identity) needles() map[string][][]byte {
	quote := func(v string) [][]byte {
		q, _ := json.Marshal(v)
		qq, _ := json.Marshal(string(q))
		return [][]byte{q, qq[1 : len(qq)-1]}
	}
	out := map[string][][]byte{}
	for _, i := range s.order {
		out[i.Workspace] = append(out[i.Workspace], quote(i.Value)...)
	}
	return out
}

// matchBody reports whether a quarantined body of workspace ws names the
// person: an address in any case, an ID of ws exactly.
func matchBody(needles map[string][][]byte, body []byte, ws string) bool {
	lower := []byte(strings.ToLower(string(body)))
	for _, n := range needles[""] {
		if bytes.Contains(lower, n) {
			return true
		}
	}
	for _, n := range needles[workspace.OrDefault(ws)] {
		if bytes.Contains(body, n) {
			return true
		}
	}
	return false
}
