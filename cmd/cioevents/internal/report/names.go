package report

import (
	"slices"
	"sort"
	"strings"

	"github.com/cioevents/cioevents/cmd/cioevents/internal/names"
)

// Names answers the name of a message by kind and ID for a report. A report
// groups by the ID alone, across workspaces, so a name is the one every
// workspace gives that ID; IDs that name different messages in different
// workspaces show all their names, " | " between them.
type Names struct {
	byKey map[string][]string
}

// NewNames indexes records.
func NewNames(recs []names.Record) *Names {
	n := &Names{byKey: map[string][]string{}}
	for _, r := range recs {
		if r.Name == nil || *r.Name == "" {
			continue
		}
		k := string(r.Kind) + "\x00" + r.ID
		if !slices.Contains(n.byKey[k], *r.Name) {
			n.byKey[k] = append(n.byKey[k], *r.Name)
			sort.Strings(n.byKey[k])
		}
	}
	return n
}

// Of returns the name of message kind/id, "" when unknown.
func (n *Names) Of(kind, id string) string {
	if n == nil || id == "" {
		return ""
	}
	return strings.Join(n.byKey[kind+"\x00"+id], " | ")
}
