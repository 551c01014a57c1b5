package report

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/cioevents/cioevents/cmd/cioevents/internal/funnel"
)

// Report is everything one run shows.
type Report struct {
	Range funnel.Range
	By    string
	Query funnel.Query
	// Scope is the ungrouped query over the same deliveries as Query: all
	// channels, or email only for --by domain, mailbox_provider and
	// bounce_class.
	Scope funnel.Query
	// Groups are the figures per --by value; Total over the whole range and
	// scope. Each delivery is in one group, on its send day with all its
	// later stages, so the groups add up to Total.
	Groups []funnel.Result
	Total  funnel.Result
	// Daily is the funnel per send day in the same scope, for the HTML trend.
	Daily []funnel.Result
	// Names are the message names a grouping by message shows.
	Names *Names
	// For the HTML page (BuildOptions.Page): the messages with most
	// deliveries sent, and deliverability by mailbox provider and by bounce
	// class (email only).
	TopMessages, Providers, BounceClasses []funnel.Result
	// Looker is a Looker Studio report URL over the same tables, for a
	// report from BigQuery.
	Looker string
}

// BuildOptions choose what Build reads beyond the grouping.
type BuildOptions struct {
	// Page also reads what the HTML page shows.
	Page bool
}

// topMessages is how many messages the page lists.
const topMessages = 10

// Build runs the report's queries against src.
func Build(ctx context.Context, src Source, by string, rg funnel.Range, opts BuildOptions) (*Report, error) {
	q, ok := funnel.By(by)
	if !ok {
		return nil, fmt.Errorf("report: --by %q: want one of %s", by, strings.Join(funnel.ByNames, ", "))
	}
	r := &Report{Range: rg, By: by, Query: q, Scope: q.Scope()}
	var err error
	if r.Groups, err = src.Figures(ctx, q, rg); err != nil {
		return nil, err
	}
	total, err := src.Figures(ctx, r.Scope, rg)
	if err != nil {
		return nil, err
	}
	if len(total) != 1 {
		return nil, fmt.Errorf("report: total has %d rows, want 1", len(total))
	}
	r.Total = total[0]
	if r.Daily, err = src.Figures(ctx, funnel.DailyRates(q.EmailOnly), rg); err != nil {
		return nil, err
	}
	if r.hasNames() || opts.Page {
		recs, err := src.Names(ctx)
		if err != nil {
			return nil, err
		}
		r.Names = NewNames(recs)
	}
	if opts.Page {
		for _, x := range []struct {
			by  string
			out *[]funnel.Result
		}{{"message", &r.TopMessages}, {"mailbox_provider", &r.Providers}, {"bounce_class", &r.BounceClasses}} {
			bq, _ := funnel.By(x.by)
			if *x.out, err = src.Figures(ctx, bq, rg); err != nil {
				return nil, err
			}
		}
		sent := 0 // the stage index of sent
		sort.SliceStable(r.TopMessages, func(i, j int) bool {
			return r.TopMessages[i].Counts[sent] > r.TopMessages[j].Counts[sent]
		})
		if len(r.TopMessages) > topMessages {
			r.TopMessages = r.TopMessages[:topMessages]
		}
	}
	return r, nil
}

// nameKinds are the groupings whose key is a message ID of one kind.
var nameKinds = map[string]string{"campaign": "campaign", "broadcast": "broadcast", "newsletter": "newsletter"}

// hasNames reports whether the grouping's rows are messages, which have
// names.
func (r *Report) hasNames() bool {
	_, ok := nameKinds[r.By]
	return ok || r.By == "message"
}

// showNames reports whether the table shows a name column: a grouping by
// message with at least one name known.
func (r *Report) showNames() bool {
	if !r.hasNames() {
		return false
	}
	for _, g := range r.Groups {
		if r.nameOf(g.Key) != "" {
			return true
		}
	}
	return false
}

// nameOf is the name of a group's message ("" when unknown).
func (r *Report) nameOf(key []string) string {
	if r.Names == nil {
		return ""
	}
	if kind, ok := nameKinds[r.By]; ok {
		return r.Names.Of(kind, key[0])
	}
	if r.By == "message" && len(key) == 2 {
		return r.Names.Of(key[0], key[1])
	}
	return ""
}

func formatRate(p *float64) string {
	if p == nil {
		return "-"
	}
	return strconv.FormatFloat(*p*100, 'f', 1, 64) + "%"
}

// none is how a NULL group shows: deliveries without the property.
const none = "(none)"

func keyText(k string) string {
	if k == "" {
		return none
	}
	return k
}

// groupText is a group's key as one cell: kind:id for --by message.
func groupText(key []string) string {
	if len(key) == 2 && key[0] != "" {
		return key[0] + ":" + key[1]
	}
	if len(key) == 2 {
		return none
	}
	return keyText(key[0])
}

// rangeText describes the range with --to inclusive, as the flags say it.
func rangeText(rg funnel.Range) string {
	from, to := "the beginning", "now"
	if !rg.From.IsZero() {
		from = rg.From.Format(time.DateOnly)
	}
	if !rg.Until.IsZero() {
		to = rg.Until.Add(-time.Nanosecond).Format(time.DateOnly)
	}
	return from + " to " + to
}

// ScopeText names the events a report counts.
func (r *Report) ScopeText() string {
	if r.Scope.EmailOnly {
		return "email only"
	}
	return "all channels"
}

// Notes says, in lines of at most 100 characters, what a row counts and
// why the rows add up to the total.
func (r *Report) Notes() []string {
	out := []string{"Each figure counts deliveries (one message to one person), each once per stage, on the day",
		"it was sent (its first event's day when no send was seen) with all of its later stages, however",
		"many days later they came: the range picks deliveries by send day."}
	switch {
	case r.Scope.EmailOnly:
		out = append(out, "Email deliveries only: the "+r.By+" is a property of email alone. Each delivery is in one",
			r.By+" ("+none+": it has none), so the rows add up to the email total.")
	case r.By == "day":
		out = append(out, "Each delivery is on one send day, so the days add up to the total.")
	default:
		out = append(out, "Each delivery is in one "+r.By+" (its first event's; "+none+": it has none), so the rows",
			"add up to the total.")
	}
	return append(out, "A rate counts, of the deliveries that reached its second stage, those that also reached",
		"its first, so it never exceeds 100 %.")
}

// Columns chooses the table's columns (stage and rate names) and headings.
type Columns struct {
	Names []string
	// Short uses the compact headings and shortens long keys, to fit 100
	// columns.
	Short bool
}

// DefaultColumns fit a 100-column terminal; --wide shows all of them.
var DefaultColumns = []string{"sent", "delivered", "human_opened", "human_clicked", "bounced", "failed",
	"delivery_rate", "human_open_rate", "human_click_rate", "bounce_rate"}

var shortHead = map[string]string{
	"delivered": "deliv", "human_opened": "h_open", "human_clicked": "h_click", "bounced": "bounce", "failed": "fail",
	"delivery_rate": "deliv%", "human_open_rate": "h_open%", "human_click_rate": "h_click%", "bounce_rate": "bounce%",
}

// maxKey is the widest key the short table shows whole.
const maxKey = 18

// ParseColumns checks a --columns list against q's stages and rates.
func ParseColumns(q funnel.Query, list string) ([]string, error) {
	known := map[string]bool{}
	for _, c := range q.Columns()[len(q.Dims):] {
		known[c] = true
	}
	var out []string
	for _, c := range strings.Split(list, ",") {
		c = strings.TrimSpace(c)
		if !known[c] {
			return nil, fmt.Errorf("unknown column %q; want some of %s", c, strings.Join(q.Columns()[len(q.Dims):], ","))
		}
		out = append(out, c)
	}
	return out, nil
}

// cellOf returns the text of column name in res.
func cellOf(q funnel.Query, res funnel.Result, name string) string {
	for i, s := range q.Stages {
		if s.Name == name {
			return strconv.FormatInt(res.Counts[i], 10)
		}
	}
	for i, x := range q.Rates {
		if x.Name == name {
			return formatRate(res.Rates[i])
		}
	}
	panic("report: no column " + name)
}

// WriteTable prints notes, an aligned table with a total line last, and
// what each rate counts.
func (r *Report) WriteTable(w io.Writer, cols Columns) error {
	if cols.Names == nil {
		cols.Names = r.Query.Columns()[len(r.Query.Dims):]
	}
	fmt.Fprintf(w, "Deliveries by %s, %s, %s.\n", r.By, rangeText(r.Range), r.ScopeText())
	for _, n := range r.Notes() {
		fmt.Fprintln(w, n)
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	head := []string{r.By}
	if r.showNames() {
		head = append(head, "name")
	}
	for _, c := range cols.Names {
		if h, ok := shortHead[c]; ok && cols.Short {
			c = h
		}
		head = append(head, c)
	}
	fmt.Fprintln(tw, strings.Join(head, "\t")+"\t")
	short := func(s string) string {
		if n := []rune(s); cols.Short && len(n) > maxKey {
			return string(n[:maxKey-1]) + "…"
		}
		return s
	}
	line := func(key, name string, res funnel.Result) {
		cells := []string{short(key)}
		if r.showNames() {
			cells = append(cells, short(name))
		}
		for _, c := range cols.Names {
			cells = append(cells, cellOf(r.Query, res, c))
		}
		fmt.Fprintln(tw, strings.Join(cells, "\t")+"\t")
	}
	for _, g := range r.Groups {
		line(groupText(g.Key), r.nameOf(g.Key), g)
	}
	line("total", "", r.Total)
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(w)
	var abbrev []string
	for _, c := range cols.Names {
		for _, x := range r.Query.Rates {
			if x.Name == c {
				h := c
				if cols.Short {
					h = shortHead[c]
				}
				fmt.Fprintf(w, "%-9s %s\n", h, x.Desc)
			}
		}
		if h, ok := shortHead[c]; ok && cols.Short && !strings.HasSuffix(h, "%") {
			abbrev = append(abbrev, h+" = "+c)
		}
	}
	if len(abbrev) > 0 {
		fmt.Fprintln(w, strings.Join(abbrev, ", ")+";")
		fmt.Fprintln(w, "h_ = by a human (not a mail proxy, privacy prefetch or link scanner).")
		fmt.Fprintln(w, "Every column: --wide; some: --columns sent,converted,...")
	}
	if r.Looker != "" {
		fmt.Fprintln(w, "Looker Studio report over the deliveries table and the daily views:")
		fmt.Fprintln(w, r.Looker)
	}
	return nil
}

// WriteCSV prints a header and one record per group; rates are fractions,
// empty when undefined. The total is the last record, keyed "total".
func (r *Report) WriteCSV(w io.Writer) error {
	cw := csv.NewWriter(w)
	head := r.Query.Columns()
	if r.hasNames() {
		head = append(head, "name") // last, so the figures' columns stay where they were
	}
	cw.Write(head)
	rec := func(key []string, name string, res funnel.Result) {
		var cells []string
		cells = append(cells, key...)
		for _, c := range res.Counts {
			cells = append(cells, strconv.FormatInt(c, 10))
		}
		for _, p := range res.Rates {
			s := ""
			if p != nil {
				s = strconv.FormatFloat(*p, 'f', -1, 64)
			}
			cells = append(cells, s)
		}
		if r.hasNames() {
			cells = append(cells, name)
		}
		cw.Write(cells)
	}
	for _, g := range r.Groups {
		rec(g.Key, r.nameOf(g.Key), g)
	}
	total := make([]string, len(r.Query.Dims))
	total[0] = "total"
	rec(total, "", r.Total)
	cw.Flush()
	return cw.Error()
}

// object renders one result as a JSON object keyed by column name; a NULL
// dimension is null.
func object(q funnel.Query, res funnel.Result, withKey bool) map[string]any {
	m := map[string]any{}
	if withKey {
		for i, d := range q.Dims {
			if res.Key[i] == "" {
				m[d.Name] = nil
			} else {
				m[d.Name] = res.Key[i]
			}
		}
	}
	for i, s := range q.Stages {
		m[s.Name] = res.Counts[i]
	}
	for i, x := range q.Rates {
		m[x.Name] = res.Rates[i]
	}
	return m
}

// JSON is the shape --format json prints.
type JSON struct {
	From *string `json:"from"`
	To   *string `json:"to"`
	By   string  `json:"by"`
	// Scope is "all channels" or "email only" (--by domain,
	// mailbox_provider, bounce_class).
	Scope string `json:"scope"`
	// Cohort says what the range selects: deliveries by send day.
	Cohort string `json:"cohort"`
	// GroupsAddUp: each delivery is in one group, so the groups' counts
	// add up to the total's.
	GroupsAddUp bool              `json:"groups_add_up"`
	Notes       []string          `json:"notes"`
	Rates       map[string]string `json:"rates"`
	Groups      []map[string]any  `json:"groups"`
	Total       map[string]any    `json:"total"`
}

// WriteJSON prints the report as one JSON document.
func (r *Report) WriteJSON(w io.Writer) error {
	out := JSON{By: r.By, Scope: r.ScopeText(), Cohort: "send_day", GroupsAddUp: true, Notes: r.Notes(),
		Rates: map[string]string{}, Groups: []map[string]any{}, Total: object(r.Scope, r.Total, false)}
	for _, x := range r.Query.Rates {
		out.Rates[x.Name] = x.Desc
	}
	if !r.Range.From.IsZero() {
		s := r.Range.From.Format(time.DateOnly)
		out.From = &s
	}
	if !r.Range.Until.IsZero() {
		s := r.Range.Until.Add(-time.Nanosecond).Format(time.DateOnly)
		out.To = &s
	}
	for _, g := range r.Groups {
		o := object(r.Query, g, true)
		if r.hasNames() {
			if n := r.nameOf(g.Key); n != "" {
				o["name"] = n
			} else {
				o["name"] = nil
			}
		}
		out.Groups = append(out.Groups, o)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}
