package funnel

import (
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/cioevents/cioevents/shared/warehouse"
)

// Range is [From, Until) on event_time; a zero bound is open.
type Range struct{ From, Until time.Time }

func (rg Range) has(t time.Time) bool {
	return (rg.From.IsZero() || !t.Before(rg.From)) && (rg.Until.IsZero() || t.Before(rg.Until))
}

// Result is one row of a query: dimension values ("" is NULL), stage counts
// and rates (nil where the denominator is 0), in q's column order.
type Result struct {
	Key    []string
	Counts []int64
	Rates  []*float64
}

// Evaluate computes q over rows (one per event, as events_deduped holds
// them) in Go, exactly as SQL(q) does in BigQuery: first one record per
// delivery (and per-event dimension value), then the groups over those
// records. Results are sorted by key.
func Evaluate(rows []warehouse.Row, q Query, rg Range) []Result {
	if len(q.Stages) > 64 {
		panic("funnel: more stages than a mask holds")
	}
	// delivery is what the inner query of SQL(q) returns per row: which
	// stages the delivery reached and its dimension values.
	type delivery struct {
		key []string
		// from is, per dimension, the event its value came from.
		fromTime []time.Time
		fromID   []string
		reached  uint64
	}
	deliveries := map[string]*delivery{}
	var order []string
	for i := range rows {
		r := &rows[i]
		if !rg.has(r.EventTime) || IsProbe(r) || r.DeliveryID == nil || (q.EmailOnly && r.ObjectType != "email") {
			continue
		}
		id := *r.DeliveryID
		for _, d := range q.Dims {
			if d.PerEvent {
				id += "\x00" + d.Of(r)
			}
		}
		dv := deliveries[id]
		if dv == nil {
			dv = &delivery{key: make([]string, len(q.Dims)), fromTime: make([]time.Time, len(q.Dims)), fromID: make([]string, len(q.Dims))}
			deliveries[id] = dv
			order = append(order, id)
		}
		for j, d := range q.Dims {
			v := d.Of(r)
			if v == "" {
				continue
			}
			earlier := dv.key[j] == "" || r.EventTime.Before(dv.fromTime[j]) ||
				(r.EventTime.Equal(dv.fromTime[j]) && r.EventID < dv.fromID[j])
			if d.PerEvent || earlier {
				dv.key[j], dv.fromTime[j], dv.fromID[j] = v, r.EventTime, r.EventID
			}
		}
		for j, s := range q.Stages {
			if s.Counts(r) {
				dv.reached |= 1 << j
			}
		}
	}

	idx := map[string]int{}
	for j, s := range q.Stages {
		idx[s.Name] = j
	}
	type group struct {
		key         []string
		counts, num []int64
	}
	groups := map[string]*group{}
	get := func(key []string) *group {
		k := strings.Join(key, "\x00")
		g := groups[k]
		if g == nil {
			g = &group{key: key, counts: make([]int64, len(q.Stages)), num: make([]int64, len(q.Rates))}
			groups[k] = g
		}
		return g
	}
	if len(q.Dims) == 0 {
		get(nil) // an ungrouped aggregate has one row, even over nothing
	}
	for _, id := range order {
		dv := deliveries[id]
		g := get(dv.key)
		for j := range q.Stages {
			if dv.reached&(1<<j) != 0 {
				g.counts[j]++
			}
		}
		for j, x := range q.Rates {
			both := uint64(1)<<idx[x.Num] | uint64(1)<<idx[x.Den]
			if dv.reached&both == both {
				g.num[j]++
			}
		}
	}
	out := make([]Result, 0, len(groups))
	for _, g := range groups {
		res := Result{Key: g.key, Counts: g.counts, Rates: make([]*float64, len(q.Rates))}
		for j, x := range q.Rates {
			if den := g.counts[idx[x.Den]]; den != 0 {
				v := float64(g.num[j]) / float64(den)
				res.Rates[j] = &v
			}
		}
		out = append(out, res)
	}
	SortResults(out)
	return out
}

// SortResults orders results by key, NULL first, numbers by value.
func SortResults(rs []Result) {
	sort.Slice(rs, func(i, j int) bool {
		a, b := rs[i].Key, rs[j].Key
		for k := range a {
			if a[k] == b[k] {
				continue
			}
			x, errx := strconv.ParseInt(a[k], 10, 64)
			y, erry := strconv.ParseInt(b[k], 10, 64)
			if errx == nil && erry == nil {
				return x < y
			}
			return a[k] < b[k]
		}
		return false
	})
}

// Person is one row of person_engagement.
type Person struct {
	Workspace, CioID, PersonID, Email string
	// Last holds, per Engagement stage, when it last happened (zero: never).
	Last []time.Time
}

// EvaluateEngagement computes view person_engagement in Go, sorted by
// workspace, then cio_id.
func EvaluateEngagement(rows []warehouse.Row, rg Range) []Person {
	type acc struct {
		p                   Person
		personAt, emailAt   time.Time
		hasPerson, hasEmail bool
	}
	m := map[string]*acc{}
	for i := range rows {
		r := &rows[i]
		if !rg.has(r.EventTime) || IsProbe(r) || r.CioID == nil {
			continue
		}
		ws := Workspace.Of(r)
		key := ws + "\x00" + *r.CioID
		a := m[key]
		if a == nil {
			a = &acc{p: Person{Workspace: ws, CioID: *r.CioID, Last: make([]time.Time, len(Engagement))}}
			m[key] = a
		}
		if r.PersonID != nil && (!a.hasPerson || r.EventTime.After(a.personAt)) {
			a.p.PersonID, a.personAt, a.hasPerson = *r.PersonID, r.EventTime, true
		}
		if r.Email != nil && (!a.hasEmail || r.EventTime.After(a.emailAt)) {
			a.p.Email, a.emailAt, a.hasEmail = *r.Email, r.EventTime, true
		}
		for j, s := range Engagement {
			if s.Counts(r) && r.EventTime.After(a.p.Last[j]) {
				a.p.Last[j] = r.EventTime
			}
		}
	}
	out := make([]Person, 0, len(m))
	for _, a := range m {
		out = append(out, a.p)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Workspace != out[j].Workspace {
			return out[i].Workspace < out[j].Workspace
		}
		return out[i].CioID < out[j].CioID
	})
	return out
}
