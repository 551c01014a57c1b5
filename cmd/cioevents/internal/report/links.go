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

// LinkReport is `report --by link --message kind:id`: the clicks on each
// tracked link by one message's deliveries sent in the range.
type LinkReport struct {
	Range   funnel.Range
	Message funnel.Message
	Name    string
	// Total is the message's funnel over the same deliveries.
	Total funnel.Result
	Links []funnel.Link
}

// BuildLinks runs the per-link queries against src.
func BuildLinks(ctx context.Context, src Source, m funnel.Message, rg funnel.Range) (*LinkReport, error) {
	r := &LinkReport{Range: rg, Message: m}
	var err error
	if r.Total, err = src.MessageTotal(ctx, m, rg); err != nil {
		return nil, err
	}
	if r.Links, err = src.Links(ctx, m, rg, r.Total.Counts[1]); err != nil {
		return nil, err
	}
	recs, err := src.Names(ctx)
	if err != nil {
		return nil, err
	}
	r.Name = NewNames(recs).Of(m.Kind, m.Ref)
	return r, nil
}

// linkHead are the table's and the CSV's columns.
var linkHead = []string{"link_id", "href", "clicked", "human_clicked", "clicks", "human_clicks", "human_click_rate", "first_click_at"}

func (r *LinkReport) title() string {
	t := "Clicks per link of " + r.Message.String()
	if r.Name != "" {
		t += " (" + r.Name + ")"
	}
	return t + ", deliveries sent " + rangeText(r.Range) + "."
}

// LinkNotes say what the columns count.
var LinkNotes = []string{
	"clicked counts the message's deliveries with a click on the link, human_clicked those with a",
	"click not flagged as a link scanner's; clicks and human_clicks count the clicks themselves.",
	"human_click_rate: of the message's deliveries delivered, the share with a human click on the link.",
	"A click counts for its delivery's send day, however many days later it came.",
}

func (r *LinkReport) cells(l funnel.Link) []string {
	return []string{keyText(l.LinkID), keyText(l.Href), strconv.FormatInt(l.Clicked, 10), strconv.FormatInt(l.HumanClicked, 10),
		strconv.FormatInt(l.Clicks, 10), strconv.FormatInt(l.HumanClicks, 10), formatRate(l.HumanClickRate),
		l.FirstClickAt.UTC().Format(time.RFC3339)}
}

// WriteTable prints the links, most human clicks first.
func (r *LinkReport) WriteTable(w io.Writer) error {
	fmt.Fprintln(w, r.title())
	fmt.Fprintf(w, "The message's deliveries: %d sent, %d delivered.\n", r.Total.Counts[0], r.Total.Counts[1])
	for _, n := range LinkNotes {
		fmt.Fprintln(w, n)
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(linkHead, "\t")+"\t")
	for _, l := range r.Links {
		c := r.cells(l)
		if n := []rune(c[1]); len(n) > 60 {
			c[1] = string(n[:59]) + "…"
		}
		fmt.Fprintln(tw, strings.Join(c, "\t")+"\t")
	}
	if len(r.Links) == 0 {
		fmt.Fprintln(tw, "(no clicks)\t")
	}
	return tw.Flush()
}

// WriteCSV prints one record per link; the rate is a fraction, empty when
// undefined.
func (r *LinkReport) WriteCSV(w io.Writer) error {
	cw := csv.NewWriter(w)
	cw.Write(linkHead)
	for _, l := range r.Links {
		c := r.cells(l)
		c[0], c[1], c[6] = l.LinkID, l.Href, ""
		if l.HumanClickRate != nil {
			c[6] = strconv.FormatFloat(*l.HumanClickRate, 'f', -1, 64)
		}
		cw.Write(c)
	}
	cw.Flush()
	return cw.Error()
}

// LinkJSON is the shape --by link --format json prints.
type LinkJSON struct {
	Message   string           `json:"message"`
	Name      *string          `json:"name"`
	Sent      int64            `json:"sent"`
	Delivered int64            `json:"delivered"`
	Notes     []string         `json:"notes"`
	Links     []map[string]any `json:"links"`
}

// WriteJSON prints the links as one JSON document.
func (r *LinkReport) WriteJSON(w io.Writer) error {
	out := LinkJSON{Message: r.Message.String(), Sent: r.Total.Counts[0], Delivered: r.Total.Counts[1], Notes: LinkNotes, Links: []map[string]any{}}
	if r.Name != "" {
		out.Name = &r.Name
	}
	for _, l := range r.Links {
		m := map[string]any{"link_id": nilIfEmpty(l.LinkID), "href": nilIfEmpty(l.Href), "clicked": l.Clicked,
			"human_clicked": l.HumanClicked, "clicks": l.Clicks, "human_clicks": l.HumanClicks,
			"human_click_rate": l.HumanClickRate, "first_click_at": l.FirstClickAt.UTC().Format(time.RFC3339)}
		out.Links = append(out.Links, m)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

func nilIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}
