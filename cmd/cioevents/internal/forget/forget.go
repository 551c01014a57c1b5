// Package forget erases one person: it gathers every identifier the person
// has in the rows (addresses, IDs, cio_ids, until the set stops growing),
// leaves a tombstone per identifier in the ledger's store that keeps them
// out of later events, replays and backfills (shared/tombstone), and
// removes their rows, dry-run actions lines and ledger records — from the
// dev data dir or from BigQuery and Firestore. It refuses unless its key
// is the one the tombstones are checked with (docs/privacy.md).
package forget

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/cioevents/cioevents/cmd/cioevents/internal/devstack"
	"github.com/cioevents/cioevents/shared/pipeline"
	"github.com/cioevents/cioevents/shared/privacy"
	"github.com/cioevents/cioevents/shared/warehouse"
)

// Result says what was removed (or, in a dry run, would be).
type Result struct {
	// EventIDs are the removed events rows.
	EventIDs []string
	// keys are the ledger keys of the removed rows: the event_id, the
	// identity (warehouse.Row.Key) and the record of its deferred actions.
	keys []string
	// Rows counts removed rows per table (the events table's too).
	Rows     map[string]int
	Rejected int
	// Pending and RejectedPending count rows that may still be in
	// BigQuery's streaming buffer, which DML cannot touch yet.
	Pending, RejectedPending int
	// Ledger counts the ledger documents or records removed.
	Ledger int
	// Actions counts the dry-run actions lines removed (local only).
	Actions int
}

func (r Result) matched() int {
	return len(r.EventIDs) + r.Rejected + r.Pending + r.RejectedPending + r.Actions
}

// ledgerKeys are the keys the ledger may hold a row under: its identity
// (this release), the record of its deferred actions, and its event_id
// (releases before the identity key).
func ledgerKeys(r *warehouse.Row) []string {
	k := r.Key()
	out := []string{k, pipeline.ActionsKey(k)}
	if r.EventID != k {
		out = append(out, r.EventID)
	}
	return out
}

// gatherLocal grows s from the rows of events.ndjson in dir until it
// stops growing. The file is read once; the passes go over its rows.
func gatherLocal(dir string, s *Identity, max int) error {
	var all []warehouse.Row
	err := scan(filepath.Join(dir, warehouse.EventsFile), func(line []byte) error {
		var r warehouse.Row
		if err := json.Unmarshal(line, &r); err != nil {
			return err
		}
		all = append(all, r)
		return nil
	})
	if err != nil {
		return err
	}
	for {
		s.Rounds++
		grew, rows := false, 0
		for i := range all {
			if s.matches(&all[i]) {
				rows++
				if s.absorb(&all[i]) {
					grew = true
				}
			}
		}
		s.Rows = rows
		if err := s.tooMany(max); err != nil {
			return err
		}
		if !grew {
			return nil
		}
	}
}

// removeLocal removes the person's lines from dir's events, rejected and
// actions files (only counts them when dry), and returns what went.
func removeLocal(dir string, s *Identity, dry bool) (Result, error) {
	res := Result{Rows: map[string]int{}}
	removed := map[string]bool{}
	err := rewrite(filepath.Join(dir, warehouse.EventsFile), dry, func(line []byte) (bool, error) {
		var r warehouse.Row
		if err := json.Unmarshal(line, &r); err != nil {
			return false, err
		}
		if !s.matches(&r) {
			return false, nil
		}
		res.EventIDs = append(res.EventIDs, r.EventID)
		res.keys = append(res.keys, ledgerKeys(&r)...)
		removed[r.EventID] = true
		return true, nil
	})
	if err != nil {
		return res, err
	}
	res.Rows[warehouse.EventsFile] = len(res.EventIDs)
	needles := s.needles()
	err = rewrite(filepath.Join(dir, warehouse.RejectedFile), dry, func(line []byte) (bool, error) {
		var r warehouse.Rejected
		if err := json.Unmarshal(line, &r); err != nil {
			return false, err
		}
		ws := ""
		if r.Workspace != nil {
			ws = *r.Workspace
		}
		if matchBody(needles, []byte(r.Body), ws) {
			res.Rejected++
			return true, nil
		}
		return false, nil
	})
	if err != nil {
		return res, err
	}
	res.Rows[warehouse.RejectedFile] = res.Rejected
	// An actions line is the person's when it acts for a removed event, or
	// addresses one of their addresses (an ID in an actions line carries
	// no workspace, so IDs are matched through the event).
	persons := map[string]bool{}
	for _, i := range s.order {
		if i.Workspace == "" {
			persons[i.Value] = true
		}
	}
	addresses := map[string][][]byte{"": needles[""]}
	err = rewrite(filepath.Join(dir, devstack.ActionsFile), dry, func(line []byte) (bool, error) {
		var a struct {
			Person  string `json:"person"`
			EventID string `json:"event_id"`
		}
		if err := json.Unmarshal(line, &a); err != nil {
			return false, err
		}
		if removed[a.EventID] || persons[normEmail(a.Person)] || matchBody(addresses, line, "") {
			res.Actions++
			return true, nil
		}
		return false, nil
	})
	return res, err
}

// Local removes the person s names from dir's files without tombstones or
// ledger (LocalAll does it all, holding the directory).
func Local(dir string, p Person, pol *privacy.Policy) (Result, error) {
	r := Request{Emails: nonEmpty(p.Email), IDs: nonEmpty(p.ID), CioIDs: nonEmpty(p.CioID)}
	if err := r.Validate(); err != nil {
		return Result{}, err
	}
	s := Seed(r, pol)
	if err := gatherLocal(dir, s, 0); err != nil {
		return Result{}, err
	}
	return removeLocal(dir, s, false)
}

// Person is one identifier of each kind (the library form of Request).
type Person struct{ Email, ID, CioID string }

func nonEmpty(v string) []string {
	if v == "" {
		return nil
	}
	return []string{v}
}

// scan calls each for every non-blank line of path (none if it is absent).
func scan(path string, each func([]byte) error) error {
	in, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("forget: %w", err)
	}
	defer in.Close()
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 0, 1<<20), 64<<20)
	for n := 1; sc.Scan(); n++ {
		if len(strings.TrimSpace(sc.Text())) == 0 {
			continue
		}
		if err := each(sc.Bytes()); err != nil {
			return fmt.Errorf("forget: %s line %d: %w", filepath.Base(path), n, err)
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("forget: %w", err)
	}
	return nil
}

// rewrite keeps the lines drop says no to, through a temporary file renamed
// over the original, so a crash leaves one whole version. dry only asks.
func rewrite(path string, dry bool, drop func([]byte) (bool, error)) error {
	if dry {
		return scan(path, func(line []byte) error { _, err := drop(line); return err })
	}
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".forget-*")
	if err != nil {
		return fmt.Errorf("forget: %w", err)
	}
	defer os.Remove(tmp.Name())
	w := bufio.NewWriter(tmp)
	err = scan(path, func(line []byte) error {
		d, err := drop(line)
		if err != nil || d {
			return err
		}
		w.Write(line)
		return w.WriteByte('\n')
	})
	if err == nil {
		err = w.Flush()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("forget: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("forget: %w", err)
	}
	return nil
}
