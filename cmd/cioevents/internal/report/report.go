package report

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
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
	// Groups are the figures per --by value; Total over the whole range
	// (distinct deliveries, so not the sum of the groups).
	Groups []funnel.Result
	Total  funnel.Result
	// Daily is email deliverability per day, for the HTML chart.
	Daily []funnel.Result
}

// Build runs the report's queries against src.
func Build(ctx context.Context, src Source, by string, rg funnel.Range) (*Report, error) {
	q, ok := funnel.By(by)
	if !ok {
		return nil, fmt.Errorf("report: --by %q: want one of %s", by, strings.Join(funnel.ByNames, ", "))
	}
	r := &Report{Range: rg, By: by, Query: q}
	var err error
	if r.Groups, err = src.Figures(ctx, q, rg); err != nil {
		return nil, err
	}
	total, err := src.Figures(ctx, funnel.Total, rg)
	if err != nil {
		return nil, err
	}
	if len(total) != 1 {
		return nil, fmt.Errorf("report: total has %d rows, want 1", len(total))
	}
	r.Total = total[0]
	if r.Daily, err = src.Figures(ctx, funnel.DailyRates, rg); err != nil {
		return nil, err
	}
	return r, nil
}

func formatRate(p *float64) string {
	if p == nil {
		return "-"
	}
	return strconv.FormatFloat(*p*100, 'f', 1, 64) + "%"
}

func keyText(k string) string {
	if k == "" {
		return "(none)"
	}
	return k
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

// WriteTable prints an aligned table, a total line last.
func (r *Report) WriteTable(w io.Writer) error {
	fmt.Fprintf(w, "Deliveries by %s, %s (each delivery counted once per stage; rates in %%)\n\n", r.By, rangeText(r.Range))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, strings.Join(r.Query.Columns(), "\t")+"\t")
	line := func(key []string, res funnel.Result) {
		var cells []string
		for _, k := range key {
			cells = append(cells, keyText(k))
		}
		for _, c := range res.Counts {
			cells = append(cells, strconv.FormatInt(c, 10))
		}
		for _, p := range res.Rates {
			cells = append(cells, formatRate(p))
		}
		fmt.Fprintln(tw, strings.Join(cells, "\t")+"\t")
	}
	for _, g := range r.Groups {
		line(g.Key, g)
	}
	line([]string{"total"}, r.Total)
	return tw.Flush()
}

// WriteCSV prints a header and one record per group; rates are fractions,
// empty when undefined. The total is the last record, keyed "total".
func (r *Report) WriteCSV(w io.Writer) error {
	cw := csv.NewWriter(w)
	cw.Write(r.Query.Columns())
	rec := func(key []string, res funnel.Result) {
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
		cw.Write(cells)
	}
	for _, g := range r.Groups {
		rec(g.Key, g)
	}
	rec([]string{"total"}, r.Total)
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
	From   *string          `json:"from"`
	To     *string          `json:"to"`
	By     string           `json:"by"`
	Groups []map[string]any `json:"groups"`
	Total  map[string]any   `json:"total"`
}

// WriteJSON prints the report as one JSON document.
func (r *Report) WriteJSON(w io.Writer) error {
	out := JSON{By: r.By, Groups: []map[string]any{}, Total: object(funnel.Total, r.Total, false)}
	if !r.Range.From.IsZero() {
		s := r.Range.From.Format(time.DateOnly)
		out.From = &s
	}
	if !r.Range.Until.IsZero() {
		s := r.Range.Until.Add(-time.Nanosecond).Format(time.DateOnly)
		out.To = &s
	}
	for _, g := range r.Groups {
		out.Groups = append(out.Groups, object(r.Query, g, true))
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}
