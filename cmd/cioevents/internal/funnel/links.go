package funnel

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"cloud.google.com/go/civil"

	"github.com/cioevents/cioevents/shared/warehouse"
	"github.com/cioevents/cioevents/shared/workspace"
)

// Message names one message: its kind (a message_type) and ID (message_ref),
// as `cioevents report --message campaign:31` spells it.
type Message struct{ Kind, Ref string }

// ParseMessage reads kind:id.
func ParseMessage(s string) (Message, error) {
	kind, ref, ok := strings.Cut(s, ":")
	if !ok || ref == "" {
		return Message{}, fmt.Errorf("%q: want kind:id, e.g. campaign:31", s)
	}
	for _, k := range messageKinds {
		if k.kind == kind {
			return Message{kind, ref}, nil
		}
	}
	var kinds []string
	for _, k := range messageKinds {
		kinds = append(kinds, k.kind)
	}
	return Message{}, fmt.Errorf("%q: kind %q is not one of %s", s, kind, strings.Join(kinds, ", "))
}

func (m Message) String() string { return m.Kind + ":" + m.Ref }

// Link is one row of the per-link report of one message: the clicks on one
// tracked link by the message's deliveries sent in the range, however late
// the clicks came.
type Link struct {
	// LinkID is data.link_id as text ("" when the click had none).
	LinkID string
	// Href is the link's URL on its first click, as CIO_PII stored it.
	Href string
	// Clicked and HumanClicked count deliveries with a click (by a human:
	// not flagged machine); Clicks and HumanClicks count click events.
	Clicked, HumanClicked, Clicks, HumanClicks int64
	// HumanClickRate is, of the message's deliveries delivered, the share
	// with a human click on this link; nil when none was delivered.
	HumanClickRate *float64
	FirstClickAt   time.Time
}

// LinkColumns are the columns of LinkSQL, in order.
var LinkColumns = []string{"link_id", "href", "clicked", "human_clicked", "clicks", "human_clicks", "human_clicked_delivered", "first_click_at"}

// LinkSQL renders the per-link clicks of message m's deliveries sent in
// [@from, @until) (TIMESTAMP parameters; @kind and @ref name the message),
// over events (events_deduped) joined to deliveries. The clicks are read
// from @from on: none can come before its delivery's send.
func LinkSQL(events, deliveries string) string {
	human := "e.machine IS NOT TRUE"
	return `SELECT
  CAST(e.link_id AS STRING) AS link_id,
  ARRAY_AGG(e.href IGNORE NULLS ORDER BY e.event_time, e.event_id LIMIT 1)[SAFE_OFFSET(0)] AS href,
  COUNT(DISTINCT e.delivery_id) AS clicked,
  COUNT(DISTINCT IF(` + human + `, e.delivery_id, NULL)) AS human_clicked,
  COUNT(*) AS clicks,
  COUNTIF(` + human + `) AS human_clicks,
  COUNT(DISTINCT IF(` + human + ` AND d.delivered_at IS NOT NULL, e.delivery_id, NULL)) AS human_clicked_delivered,
  MIN(e.event_time) AS first_click_at
FROM ` + events + ` e
JOIN ` + deliveries + ` d
  ON d.workspace = COALESCE(e.workspace, '` + workspace.Default + `') AND d.delivery_id = e.delivery_id
WHERE e.event_time >= @from
  AND e.metric = 'clicked'
  AND (e.source IS NULL OR e.source != '` + warehouse.SourceProbe + `')
  AND ` + strings.ReplaceAll(RangeFilter, "send_day", "d.send_day") + `
  AND d.message_type = @kind AND d.message_ref = @ref
GROUP BY e.link_id
`
}

// MessageFilter narrows RangeFilter to message @kind/@ref: with Total, the
// message's funnel, whose delivered is the denominator of HumanClickRate.
const MessageFilter = RangeFilter + " AND message_type = @kind AND message_ref = @ref"

// EvaluateLinks is LinkSQL in Go over rows (one per event, as events_deduped
// holds them), with delivered the message's deliveries delivered in rg.
// Sorted by human clicks, most first, then link_id.
func EvaluateLinks(rows []warehouse.Row, ds []*Delivery, m Message, rg Range) []Link {
	type key struct{ ws, id string }
	cohort := map[key]*Delivery{}
	for _, d := range ds {
		if d.Values["message_type"] == m.Kind && d.Values["message_ref"] == m.Ref && rg.hasDay(dayOf(d)) {
			cohort[key{d.Str("workspace"), d.Str("delivery_id")}] = d
		}
	}
	type acc struct {
		Link
		hrefAt                   time.Time
		hrefID                   string
		clicked, human, humanDel map[key]bool
	}
	links := map[string]*acc{}
	var order []string
	for i := range rows {
		r := &rows[i]
		if r.Metric != "clicked" || r.DeliveryID == nil || IsProbe(r) || (!rg.From.IsZero() && r.EventTime.Before(rg.From)) {
			continue
		}
		k := key{workspace.OrDefault(text(r.Workspace)), *r.DeliveryID}
		d := cohort[k]
		if d == nil {
			continue
		}
		id := int64Text(r.LinkID)
		a := links[id]
		if a == nil {
			a = &acc{Link: Link{LinkID: id}, clicked: map[key]bool{}, human: map[key]bool{}, humanDel: map[key]bool{}}
			links[id] = a
			order = append(order, id)
		}
		a.Clicks++
		a.clicked[k] = true
		if !flagOf(r, "machine") {
			a.HumanClicks++
			a.human[k] = true
			if d.Values["delivered_at"] != nil {
				a.humanDel[k] = true
			}
		}
		if a.FirstClickAt.IsZero() || r.EventTime.Before(a.FirstClickAt) {
			a.FirstClickAt = r.EventTime.UTC()
		}
		if r.Href != nil && (a.hrefID == "" || r.EventTime.Before(a.hrefAt) || (r.EventTime.Equal(a.hrefAt) && r.EventID < a.hrefID)) {
			a.Href, a.hrefAt, a.hrefID = *r.Href, r.EventTime, r.EventID
		}
	}
	var delivered int64
	for _, d := range cohort {
		if d.Values["delivered_at"] != nil {
			delivered++
		}
	}
	out := make([]Link, 0, len(order))
	for _, id := range order {
		a := links[id]
		a.Clicked, a.HumanClicked = int64(len(a.clicked)), int64(len(a.human))
		a.HumanClickRate = linkRate(int64(len(a.humanDel)), delivered)
		out = append(out, a.Link)
	}
	SortLinks(out)
	return out
}

func dayOf(d *Delivery) civil.Date { return d.Values["send_day"].(civil.Date) }

// linkRate is num/den, nil when den is 0.
func linkRate(num, den int64) *float64 {
	if den == 0 {
		return nil
	}
	v := float64(num) / float64(den)
	return &v
}

// LinkFromSQL builds a Link from one LinkSQL row's values (link_id and href
// "" for NULL) and the message's delivered count.
func LinkFromSQL(linkID, href string, clicked, human, clicks, humanClicks, humanDelivered int64, first time.Time, delivered int64) Link {
	return Link{LinkID: linkID, Href: href, Clicked: clicked, HumanClicked: human, Clicks: clicks, HumanClicks: humanClicks,
		HumanClickRate: linkRate(humanDelivered, delivered), FirstClickAt: first.UTC()}
}

// SortLinks orders links by human clicks, most first, then by link_id.
func SortLinks(ls []Link) {
	sort.Slice(ls, func(i, j int) bool {
		if ls[i].HumanClicked != ls[j].HumanClicked {
			return ls[i].HumanClicked > ls[j].HumanClicked
		}
		x, errx := strconv.ParseInt(ls[i].LinkID, 10, 64)
		y, erry := strconv.ParseInt(ls[j].LinkID, 10, 64)
		if errx == nil && erry == nil {
			return x < y
		}
		return ls[i].LinkID < ls[j].LinkID
	})
}
