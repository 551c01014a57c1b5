// Package forget removes one person's rows from the warehouse (the dev data
// dir or BigQuery) and the ledger documents of their events, and leaves a
// tombstone in the ledger's store that keeps the person out of later
// events, replays and backfills (shared/tombstone; docs/privacy.md).
package forget

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/cioevents/cioevents/cmd/cioevents/internal/datadir"
	"github.com/cioevents/cioevents/cmd/cioevents/internal/devstack"
	"github.com/cioevents/cioevents/shared/ledger"
	"github.com/cioevents/cioevents/shared/pipeline"
	"github.com/cioevents/cioevents/shared/privacy"
	"github.com/cioevents/cioevents/shared/warehouse"
)

// Person names whom to forget; at least one field is set.
type Person struct {
	Email, ID, CioID string
}

func (p Person) empty() bool { return p.Email == "" && p.ID == "" && p.CioID == "" }

// ErrNoPerson is returned when no identifier is given.
var ErrNoPerson = errors.New("forget: give --email, --id or --cio-id")

// matcher holds the values a row of the person carries, as stored: an
// address the policy hashes is looked for by its hash.
type matcher struct {
	emails []string // lower-cased, as written and as the policy stores it
	id     string
	cioID  string
	// JSON-quoted values to find in a quarantined body; addresses are
	// matched in any case, IDs exactly.
	emailNeedles, idNeedles [][]byte
}

func newMatcher(p Person, pol *privacy.Policy) matcher {
	m := matcher{id: p.ID, cioID: p.CioID}
	if e := strings.ToLower(strings.TrimSpace(p.Email)); e != "" {
		m.emails = append(m.emails, e)
		if s, ok := pol.Stored("email", e); ok && s != e {
			m.emails = append(m.emails, strings.ToLower(s))
		}
	}
	// A value is looked for as a JSON string, and as one inside a JSON
	// string (escaped quotes): the prefix of an oversized body's stub.
	quote := func(v string) [][]byte {
		q, _ := json.Marshal(v)
		qq, _ := json.Marshal(string(q))
		return [][]byte{q, qq[1 : len(qq)-1]}
	}
	for _, e := range m.emails {
		m.emailNeedles = append(m.emailNeedles, quote(e)...)
	}
	for _, v := range []string{p.ID, p.CioID} {
		if v != "" {
			m.idNeedles = append(m.idNeedles, quote(v)...)
		}
	}
	return m
}

func eq(p *string, v string) bool { return p != nil && v != "" && *p == v }

func eqFold(p *string, v string) bool {
	return p != nil && v != "" && strings.EqualFold(strings.TrimSpace(*p), v)
}

func (m matcher) row(r *warehouse.Row) bool {
	for _, e := range m.emails {
		if eqFold(r.Email, e) || eqFold(r.Recipient, e) {
			return true
		}
	}
	return eq(r.PersonID, m.id) || eq(r.CustomerID, m.id) || eq(r.CioID, m.cioID)
}

// body reports whether a quarantined body names the person: any of their
// values as a JSON string anywhere in it.
func (m matcher) body(b []byte) bool {
	lower := bytes.ToLower(b)
	for _, n := range m.emailNeedles {
		if bytes.Contains(lower, n) {
			return true
		}
	}
	for _, n := range m.idNeedles {
		if bytes.Contains(b, n) {
			return true
		}
	}
	return false
}

// Result says what was removed.
type Result struct {
	// EventIDs are the removed events rows (their ledger documents go too).
	EventIDs []string
	// keys are the ledger keys of the removed rows: their identity
	// (warehouse.Row.Key) and the record of their deferred actions.
	keys     []string
	Rejected int
	// Pending and RejectedPending count rows that may still be in
	// BigQuery's streaming buffer, which DML cannot touch yet: run forget
	// again later.
	Pending, RejectedPending int
	Ledger                   int
	// Actions counts the dry-run actions lines removed (local only).
	Actions int
}

// LocalAll forgets p in dir, a data dir `cioevents dev` writes: the
// events, rejected and actions files, the records of the removed events in
// the ledger file, and leaves stones there. It holds the directory while
// it works and refuses (datadir.ErrHeld) while dev runs there, whose
// accepted events would go to the files this replaces.
func LocalAll(dir string, p Person, pol *privacy.Policy, stones []ledger.Tombstone) (Result, error) {
	if p.empty() {
		return Result{}, ErrNoPerson
	}
	held, err := datadir.Acquire(dir, "cioevents forget")
	if err != nil {
		return Result{}, fmt.Errorf("forget: %w", err)
	}
	defer held.Release()
	db, err := bolt.Open(filepath.Join(dir, devstack.LedgerFile), 0o600, &bolt.Options{Timeout: 5 * time.Second})
	if err != nil {
		return Result{}, fmt.Errorf("forget: %s: %w", devstack.LedgerFile, err)
	}
	defer db.Close()
	// The tombstone first, so that a crash part way still keeps the person
	// out of what dev processes next.
	if err := ledger.PutBoltTombstones(db, stones); err != nil {
		return Result{}, fmt.Errorf("forget: %w", err)
	}
	res, err := Local(dir, p, pol)
	if err != nil {
		return res, err
	}
	m := newMatcher(p, pol)
	removed := map[string]bool{}
	for _, id := range res.EventIDs {
		removed[id] = true
	}
	persons := map[string]bool{}
	for _, v := range []string{p.ID, pol.Person(p.ID)} {
		if v != "" {
			persons[v] = true
		}
	}
	if p.CioID != "" {
		persons["cio_"+p.CioID] = true
	}
	for _, e := range m.emails {
		persons[e] = true
		persons[strings.ToLower(pol.Person(e))] = true
	}
	err = rewrite(filepath.Join(dir, devstack.ActionsFile), func(line []byte) (bool, error) {
		var a struct {
			Person  string `json:"person"`
			EventID string `json:"event_id"`
		}
		if err := json.Unmarshal(line, &a); err != nil {
			return false, err
		}
		if removed[a.EventID] || persons[a.Person] || persons[strings.ToLower(a.Person)] || m.body(line) {
			res.Actions++
			return true, nil
		}
		return false, nil
	})
	if err != nil {
		return res, err
	}
	res.Ledger, err = ledger.DeleteBolt(db, append(slices.Clone(res.EventIDs), res.keys...))
	return res, err
}

// Local rewrites dir's events.ndjson and rejected.ndjson without the
// person's lines. LocalAll holds the directory around it.
func Local(dir string, p Person, pol *privacy.Policy) (Result, error) {
	if p.empty() {
		return Result{}, ErrNoPerson
	}
	m := newMatcher(p, pol)
	var res Result
	err := rewrite(filepath.Join(dir, warehouse.EventsFile), func(line []byte) (bool, error) {
		var r warehouse.Row
		if err := json.Unmarshal(line, &r); err != nil {
			return false, err
		}
		if m.row(&r) {
			res.EventIDs = append(res.EventIDs, r.EventID)
			res.keys = append(res.keys, r.Key(), pipeline.ActionsKey(r.Key()))
			return true, nil
		}
		return false, nil
	})
	if err != nil {
		return res, err
	}
	err = rewrite(filepath.Join(dir, warehouse.RejectedFile), func(line []byte) (bool, error) {
		var r warehouse.Rejected
		if err := json.Unmarshal(line, &r); err != nil {
			return false, err
		}
		if m.body([]byte(r.Body)) {
			res.Rejected++
			return true, nil
		}
		return false, nil
	})
	return res, err
}

// rewrite keeps the lines drop says no to, through a temporary file renamed
// over the original, so a crash leaves one whole version.
func rewrite(path string, drop func([]byte) (bool, error)) error {
	in, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("forget: %w", err)
	}
	defer in.Close()
	tmp, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".forget-*")
	if err != nil {
		return fmt.Errorf("forget: %w", err)
	}
	defer os.Remove(tmp.Name())
	w := bufio.NewWriter(tmp)
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 0, 1<<20), 64<<20)
	for n := 1; sc.Scan(); n++ {
		line := sc.Bytes()
		if len(strings.TrimSpace(string(line))) == 0 {
			continue
		}
		d, err := drop(line)
		if err != nil {
			tmp.Close()
			return fmt.Errorf("forget: %s line %d: %w", filepath.Base(path), n, err)
		}
		if !d {
			w.Write(line)
			w.WriteByte('\n')
		}
	}
	if err := sc.Err(); err != nil {
		tmp.Close()
		return fmt.Errorf("forget: %w", err)
	}
	if err := w.Flush(); err != nil {
		tmp.Close()
		return fmt.Errorf("forget: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("forget: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("forget: %w", err)
	}
	return nil
}
