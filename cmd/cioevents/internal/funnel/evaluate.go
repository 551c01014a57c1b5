package funnel

import (
	"sort"
	"strconv"
	"strings"
	"time"

	"cloud.google.com/go/civil"

	"github.com/cioevents/cioevents/shared/warehouse"
	"github.com/cioevents/cioevents/shared/workspace"
)

// Range is [From, Until) on the send day (From and Until are midnights,
// UTC); a zero bound is open.
type Range struct{ From, Until time.Time }

func (rg Range) has(t time.Time) bool {
	return (rg.From.IsZero() || !t.Before(rg.From)) && (rg.Until.IsZero() || t.Before(rg.Until))
}

// hasDay reports whether send day d is in rg.
func (rg Range) hasDay(d civil.Date) bool {
	return (rg.From.IsZero() || !d.Before(civil.DateOf(rg.From.UTC()))) &&
		(rg.Until.IsZero() || d.Before(civil.DateOf(rg.Until.UTC())))
}

// RangeFilter is the condition on send_day that selects rg's deliveries in
// SQL, from TIMESTAMP parameters @from and @until.
const RangeFilter = "send_day >= DATE(@from) AND send_day < DATE(@until)"

// Result is one row of a query: dimension values ("" is NULL), stage counts
// and rates (nil where the denominator is 0), in q's column order.
type Result struct {
	Key    []string
	Counts []int64
	Rates  []*float64
}

// Evaluate computes q over rows (one per event, as events_deduped holds
// them) in Go, exactly as SQL(q) does in BigQuery over the deliveries model:
// Deliveries, then EvaluateDeliveries.
func Evaluate(rows []warehouse.Row, q Query, rg Range) []Result {
	return EvaluateDeliveries(Deliveries(rows, time.Now()), q, rg)
}

// EvaluateDeliveries groups the deliveries sent in rg as SQL(q) does:
// per group, the deliveries that reached each stage, and each rate among
// those of its denominator stage. Results are sorted by key.
func EvaluateDeliveries(ds []*Delivery, q Query, rg Range) []Result {
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
	reached := func(d *Delivery, stage string) bool { return d.Values[stageAt(stage)] != nil }
	for _, d := range ds {
		if !rg.hasDay(d.Values["send_day"].(civil.Date)) || (q.EmailOnly && d.Values["channel"] != "email") {
			continue
		}
		key := make([]string, len(q.Dims))
		for i, dim := range q.Dims {
			key[i] = dim.Of(d)
		}
		g := get(key)
		for j, s := range q.Stages {
			if reached(d, s.Name) {
				g.counts[j]++
			}
		}
		for j, x := range q.Rates {
			if reached(d, x.Num) && reached(d, x.Den) {
				g.num[j]++
			}
		}
	}
	idx := map[string]int{}
	for j, s := range q.Stages {
		idx[s.Name] = j
	}
	out := make([]Result, 0, len(groups))
	for _, g := range groups {
		res := Result{Key: g.key, Counts: g.counts, Rates: make([]*float64, len(q.Rates))}
		for j, x := range q.Rates {
			den := int64(0)
			if i, ok := idx[x.Den]; ok {
				den = g.counts[i]
			} else {
				panic("funnel: rate " + x.Name + " without its denominator stage")
			}
			if den != 0 {
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
		ws := workspace.OrDefault(text(r.Workspace))
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
