// Package names holds the names of a workspace's messages — campaigns,
// broadcasts, newsletters, transactional messages and their actions — as the
// App API gives them, so that views and `cioevents report` can show a name
// beside each ID the events carry.
//
// Record is the one definition: the BigQuery table `message_names`, its
// committed schema file and the local store `<data-dir>/names.ndjson` all come
// from it (a test fails on drift).
package names

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
	"time"

	"cloud.google.com/go/bigquery"

	"github.com/cioevents/cioevents/shared/warehouse"
)

// Table is the BigQuery table the names live in, in the events' dataset.
const Table = "message_names"

// File is the local store's name inside a data directory.
const File = "names.ndjson"

// Kind is what an ID names. The values are the ones the events' columns
// imply: campaign_id, broadcast_id, newsletter_id, transactional_message_id
// and action_id.
type Kind string

// The kinds, one per ID column of the events table.
const (
	Campaign      Kind = "campaign"
	Broadcast     Kind = "broadcast"
	Newsletter    Kind = "newsletter"
	Transactional Kind = "transactional"
	Action        Kind = "action"
)

// Kinds lists every kind, in the order a refresh reads them.
var Kinds = []Kind{Campaign, Broadcast, Newsletter, Transactional, Action}

// Valid reports whether k is one of Kinds.
func (k Kind) Valid() bool { return slices.Contains(Kinds, k) }

// Record is one row of message_names: the name of one message or action of a
// workspace, as of the last refresh. (Workspace, Kind, ID) is its key; a
// refresh replaces the row with that key.
type Record struct {
	Workspace   string    `json:"workspace" bigquery:"workspace" desc:"The cioevents workspace the ID belongs to (the events' workspace column)."`
	Kind        Kind      `json:"kind" bigquery:"kind" desc:"What the ID names: campaign, broadcast, newsletter, transactional or action."`
	ID          string    `json:"id" bigquery:"id" desc:"The Customer.io ID as text: joins campaign_id, broadcast_id, newsletter_id or action_id by CAST(... AS STRING), transactional_message_id as is."`
	Name        *string   `json:"name" bigquery:"name" desc:"The name shown in Customer.io; NULL when the App API gave none."`
	ParentID    *string   `json:"parent_id" bigquery:"parent_id" desc:"For an action, the ID of the campaign, broadcast or newsletter it belongs to (the action event's own campaign_id, broadcast_id or newsletter_id); NULL otherwise."`
	RefreshedAt time.Time `json:"refreshed_at" bigquery:"refreshed_at" desc:"When the refresh that wrote this row read it from the App API."`
}

// Key is the record's identity.
func (r Record) Key() Key { return Key{r.Workspace, r.Kind, r.ID} }

// Key identifies a record: one ID of one kind in one workspace.
type Key struct {
	Workspace string
	Kind      Kind
	ID        string
}

// Validate checks what the table's REQUIRED columns and the key need.
func (r Record) Validate() error {
	switch {
	case r.Workspace == "":
		return fmt.Errorf("names: record %s %q has no workspace", r.Kind, r.ID)
	case !r.Kind.Valid():
		return fmt.Errorf("names: record %q: kind %q is none of %v", r.ID, r.Kind, Kinds)
	case strings.TrimSpace(r.ID) == "":
		return fmt.Errorf("names: %s record has no id", r.Kind)
	case r.RefreshedAt.IsZero():
		return fmt.Errorf("names: record %s %q has no refreshed_at", r.Kind, r.ID)
	}
	return nil
}

// Schema is the schema of table message_names, derived from Record. Each
// call returns a fresh copy.
func Schema() bigquery.Schema { return warehouse.StructSchema(reflect.TypeFor[Record]()) }

// SchemaJSON is Schema as Terraform's schema file holds it.
func SchemaJSON() ([]byte, error) { return warehouse.SchemaJSON(Schema()) }

// Index answers name look-ups over a set of records. The zero Index (and a
// nil *Index) is empty.
type Index struct {
	m map[Key]Record
}

// NewIndex indexes records; a later record with the same key wins.
func NewIndex(records []Record) *Index {
	ix := &Index{m: make(map[Key]Record, len(records))}
	for _, r := range records {
		ix.m[r.Key()] = r
	}
	return ix
}

// Lookup returns the name of id of kind in workspace, and false when none is
// known (or the known record has no name).
func (ix *Index) Lookup(workspace string, kind Kind, id string) (string, bool) {
	if ix == nil {
		return "", false
	}
	r, ok := ix.m[Key{workspace, kind, id}]
	if !ok || r.Name == nil {
		return "", false
	}
	return *r.Name, true
}

// Record returns the whole record of a key.
func (ix *Index) Record(workspace string, kind Kind, id string) (Record, bool) {
	if ix == nil {
		return Record{}, false
	}
	r, ok := ix.m[Key{workspace, kind, id}]
	return r, ok
}

// Len is the number of records.
func (ix *Index) Len() int {
	if ix == nil {
		return 0
	}
	return len(ix.m)
}

// Records returns the records sorted by workspace, kind (in Kinds order) and
// ID (numerically when both are numbers), the order the store writes them.
func (ix *Index) Records() []Record {
	if ix == nil {
		return nil
	}
	out := make([]Record, 0, len(ix.m))
	for _, r := range ix.m {
		out = append(out, r)
	}
	slices.SortFunc(out, compare)
	return out
}

func compare(a, b Record) int {
	if c := strings.Compare(a.Workspace, b.Workspace); c != 0 {
		return c
	}
	if c := slices.Index(Kinds, a.Kind) - slices.Index(Kinds, b.Kind); c != 0 {
		return c
	}
	if len(a.ID) != len(b.ID) && isDigits(a.ID) && isDigits(b.ID) {
		return len(a.ID) - len(b.ID)
	}
	return strings.Compare(a.ID, b.ID)
}

func isDigits(s string) bool {
	return s != "" && strings.Trim(s, "0123456789") == ""
}
