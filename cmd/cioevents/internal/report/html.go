package report

import (
	"fmt"
	"html/template"
	"io"
	"strconv"
	"strings"

	"github.com/cioevents/cioevents/cmd/cioevents/internal/funnel"
)

// pageTables are the page's narrow tables: the top messages by name, and
// email deliverability by mailbox provider and by bounce class.
func (r *Report) pageTables() []smallTable {
	q, _ := funnel.By("message")
	top := smallTable{ID: "top-messages", Caption: "Top messages by deliveries sent (" + r.ScopeText() + ")",
		Head: []string{"message", "name", "sent", "deliv", "deliv%", "h_open%", "h_click%"}}
	for _, g := range r.TopMessages {
		name := ""
		if len(g.Key) == 2 { // Names.Of answers "" on a nil Names
			name = r.Names.Of(g.Key[0], g.Key[1])
		}
		top.Rows = append(top.Rows, []cell{{Col: "message", Text: groupText(g.Key)}, {Col: "name", Text: name},
			{Col: "sent", Text: cellOf(q, g, "sent"), Num: true}, {Col: "delivered", Text: cellOf(q, g, "delivered"), Num: true},
			{Col: "delivery_rate", Text: cellOf(q, g, "delivery_rate"), Num: true},
			{Col: "human_open_rate", Text: cellOf(q, g, "human_open_rate"), Num: true},
			{Col: "human_click_rate", Text: cellOf(q, g, "human_click_rate"), Num: true}})
	}
	pq, _ := funnel.By("mailbox_provider")
	prov := smallTable{ID: "providers", Caption: "Email deliverability by mailbox provider",
		Head: []string{"provider", "sent", "deliv", "bounce", "spam", "deliv%", "bounce%", "spam%"}}
	for _, g := range r.Providers {
		prov.Rows = append(prov.Rows, []cell{{Col: "mailbox_provider", Text: keyText(g.Key[0])},
			{Col: "sent", Text: cellOf(pq, g, "sent"), Num: true}, {Col: "delivered", Text: cellOf(pq, g, "delivered"), Num: true},
			{Col: "bounced", Text: cellOf(pq, g, "bounced"), Num: true}, {Col: "spammed", Text: cellOf(pq, g, "spammed"), Num: true},
			{Col: "delivery_rate", Text: cellOf(pq, g, "delivery_rate"), Num: true},
			{Col: "bounce_rate", Text: cellOf(pq, g, "bounce_rate"), Num: true},
			{Col: "spam_rate", Text: cellOf(pq, g, "spam_rate"), Num: true}})
	}
	bq, _ := funnel.By("bounce_class")
	var bounced int64
	for _, g := range r.BounceClasses {
		if g.Key[0] != "" {
			bounced += g.Counts[stageIndex(bq, "bounced")]
		}
	}
	cls := smallTable{ID: "bounce-classes", Caption: "Email bounces by class (docs/models.md)",
		Head: []string{"bounce_class", "bounced", "share of bounces"}}
	for _, g := range r.BounceClasses {
		if g.Key[0] == "" {
			continue // not bounced
		}
		n := g.Counts[stageIndex(bq, "bounced")]
		share := float64(n) / float64(bounced)
		cls.Rows = append(cls.Rows, []cell{{Col: "bounce_class", Text: g.Key[0]},
			{Col: "bounced", Text: strconv.FormatInt(n, 10), Num: true}, {Col: "share", Text: formatRate(&share), Num: true}})
	}
	return []smallTable{top, prov, cls}
}

func stageIndex(q funnel.Query, name string) int {
	for i, s := range q.Stages {
		if s.Name == name {
			return i
		}
	}
	panic("report: no stage " + name)
}

// The HTML page is one file: styles inline, charts as inline SVG, no
// script, font, image or stylesheet from anywhere else, so it can be mailed
// or attached to a ticket and still show the same thing.

type bar struct {
	Label, Name string
	Value       int64
	Width       float64
	Y           int
}

type rateBar struct {
	Day, Name, Text string
	Value           float64
	X, Y, H         float64
	Color           string
}

type cell struct {
	Col, Text string
	Num       bool
}

// trendLine is one rate across the send days.
type trendLine struct {
	Name, Label, Color, Points string
	Dots                       []trendDot
}

type trendDot struct {
	Day, Text string
	Value     float64
	X, Y      float64
}

// smallTable is one of the page's narrow tables.
type smallTable struct {
	ID, Caption string
	Head        []string
	Rows        [][]cell
}

type page struct {
	Title, Range, By string
	Scope            string
	Notes            []string
	Funnel, Problems []bar
	FunnelH, ProbH   int
	Rates            []rateBar
	RatesW           float64
	Threshold        float64 // y of the 0.3 % line
	Top              string  // the rate at the top of the chart
	Days             []dayLabel
	Columns          []string
	Rows             [][]cell
	Trend            []trendLine
	TrendW           float64
	TrendDays        []dayLabel
	Tables           []smallTable
	Stages           []funnel.Stage
	Rates_           []funnel.Rate

	FunnelColor, ProblemColor, BounceColor, SpamColor string
}

type dayLabel struct {
	Day string
	X   float64
}

// The bar colours, one per chart, distinct so that a rendering can be
// measured by colour (see the browser test).
const (
	FunnelColor  = "#2e86c1"
	ProblemColor = "#e67e22"
	BounceColor  = "#c0392b"
	SpamColor    = "#8e44ad"
	// The trend's lines: delivery, human-open and human-click rates.
	DeliveryColor = "#16a085"
	OpenColor     = "#2c3e50"
	ClickColor    = "#d4ac0d"
)

// trendRates are the rates the trend draws, with their colours.
var trendRates = []struct{ name, label, color string }{
	{"delivery_rate", "delivered", DeliveryColor},
	{"human_open_rate", "opened by a human", OpenColor},
	{"human_click_rate", "clicked by a human", ClickColor},
}

const (
	chartW    = 640.0
	labelW    = 130.0
	rowH      = 26
	rateH     = 160.0
	rateTop   = 10.0
	slotW     = 80.0  // wide enough for a YYYY-MM-DD label under each day
	complaint = 0.003 // the complaint rate Gmail and Yahoo hold bulk senders under
)

func bars(q funnel.Query, res funnel.Result, names []string) ([]bar, int) {
	idx := map[string]int{}
	for i, s := range q.Stages {
		idx[s.Name] = i
	}
	var out []bar
	var top int64 = 1
	for _, n := range names {
		if v := res.Counts[idx[n]]; v > top {
			top = v
		}
	}
	for i, n := range names {
		v := res.Counts[idx[n]]
		out = append(out, bar{Label: label(n), Name: n, Value: v,
			Width: (chartW - labelW - 60) * float64(v) / float64(top), Y: i * rowH})
	}
	return out, len(names) * rowH
}

func label(stage string) string {
	switch stage {
	case "human_opened":
		return "opened by a human"
	case "human_clicked":
		return "clicked by a human"
	}
	return stage
}

func rateIndex(q funnel.Query, name string) int {
	for i, r := range q.Rates {
		if r.Name == name {
			return i
		}
	}
	panic("report: no rate " + name)
}

// WriteHTML writes the page. Every chart and table on it counts the same
// events (r.Scope): all channels, or email only for --by domain.
func (r *Report) WriteHTML(w io.Writer) error {
	// The short headings the terminal table uses, so that the columns
	// fit the page without breaking words.
	cols := []string{r.By}
	if r.showNames() {
		cols = append(cols, "name")
	}
	for _, c := range DefaultColumns {
		if h, ok := shortHead[c]; ok {
			c = h
		}
		cols = append(cols, c)
	}
	p := page{Title: "Customer.io deliveries", Range: rangeText(r.Range), By: r.By, Scope: r.ScopeText(),
		Notes: r.Notes(), Columns: cols, Stages: r.Query.Stages, Rates_: r.Query.Rates,
		FunnelColor: FunnelColor, ProblemColor: ProblemColor, BounceColor: BounceColor, SpamColor: SpamColor}
	p.Funnel, p.FunnelH = bars(r.Scope, r.Total, []string{"sent", "delivered", "opened", "human_opened", "clicked", "human_clicked", "converted"})
	p.Problems, p.ProbH = bars(r.Scope, r.Total, []string{"bounced", "spammed", "unsubscribed", "failed", "dropped"})

	// Daily bounce and spam rates, scaled to the largest (at least 1 %).
	daily := funnel.DailyRates(r.Scope.EmailOnly)
	bi, si := rateIndex(daily, "bounce_rate"), rateIndex(daily, "spam_rate")
	top := 0.01
	for _, d := range r.Daily {
		for _, i := range []int{bi, si} {
			if v := d.Rates[i]; v != nil && *v > top {
				top = *v
			}
		}
	}
	y := func(v float64) float64 { return rateTop + rateH*(1-v/top) }
	p.Threshold = y(complaint)
	p.Top = formatRate(&top)
	for n, d := range r.Daily {
		x := 60 + float64(n)*slotW
		p.Days = append(p.Days, dayLabel{Day: d.Key[0], X: x + 23}) // under the day's two bars, x+6 to x+40
		for k, ri := range []int{bi, si} {
			name, color := "bounce_rate", BounceColor
			if k == 1 {
				name, color = "spam_rate", SpamColor
			}
			rb := rateBar{Day: d.Key[0], Name: name, X: x + 6 + float64(k)*18, Color: color, Text: "no data"}
			if v := d.Rates[ri]; v != nil {
				rb.Value, rb.Text = *v, formatRate(v)
				rb.Y, rb.H = y(*v), rateH*(*v/top)
			} else {
				rb.Y = y(0)
			}
			p.Rates = append(p.Rates, rb)
		}
	}
	p.RatesW = 60 + float64(len(r.Daily))*slotW + 40
	if p.RatesW < 300 {
		p.RatesW = 300
	}

	// The trend: each rate per send day, on a fixed 0..100 % scale.
	p.TrendW = 60 + float64(max(len(r.Daily), 1))*slotW + 40
	if p.TrendW < 300 {
		p.TrendW = 300
	}
	ty := func(v float64) float64 { return rateTop + rateH*(1-v) }
	for _, tr := range trendRates {
		ri := rateIndex(daily, tr.name)
		line := trendLine{Name: tr.name, Label: tr.label, Color: tr.color}
		var pts []string
		for n, d := range r.Daily {
			v := d.Rates[ri]
			if v == nil {
				continue // no denominator that day: no point, the line skips it
			}
			dot := trendDot{Day: d.Key[0], Value: *v, Text: formatRate(v), X: 60 + float64(n)*slotW + 23, Y: ty(*v)}
			line.Dots = append(line.Dots, dot)
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", dot.X, dot.Y))
		}
		line.Points = strings.Join(pts, " ")
		p.Trend = append(p.Trend, line)
	}
	for n, d := range r.Daily {
		p.TrendDays = append(p.TrendDays, dayLabel{Day: d.Key[0], X: 60 + float64(n)*slotW + 23})
	}
	p.Tables = r.pageTables()

	row := func(key []string, name string, res funnel.Result) []cell {
		cs := []cell{{Col: r.By, Text: groupText(key)}}
		if r.showNames() {
			cs = append(cs, cell{Col: "name", Text: name})
		}
		for _, c := range DefaultColumns {
			cs = append(cs, cell{Col: c, Text: cellOf(r.Query, res, c), Num: true})
		}
		return cs
	}
	for _, g := range r.Groups {
		p.Rows = append(p.Rows, row(g.Key, r.nameOf(g.Key), g))
	}
	total := make([]string, len(r.Query.Dims))
	total[0] = "total"
	p.Rows = append(p.Rows, row(total, "", r.Total))
	if err := pageTmpl.Execute(w, p); err != nil {
		return fmt.Errorf("report: html: %w", err)
	}
	return nil
}

var pageTmpl = template.Must(template.New("page").Parse(`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{{.Title}}: {{.Range}}</title>
<style>
body{font-family:system-ui,-apple-system,"Segoe UI",Helvetica,Arial,sans-serif;margin:2em;color:#222;max-width:72em}
h1{font-size:1.5em}h2{font-size:1.15em;margin-top:2em}svg{max-width:100%;height:auto}
table{border-collapse:collapse;font-size:.85em;width:100%;table-layout:fixed}th,td{padding:.25em .5em;border-bottom:1px solid #ddd;overflow-wrap:anywhere}
th{text-align:left;vertical-align:bottom}caption{text-align:left;font-weight:bold;padding:.5em 0}table.small{margin-top:1.5em}
td.num{text-align:right;font-variant-numeric:tabular-nums}tr.total td{font-weight:bold}
svg text{font-size:12px;fill:#222}.note{color:#555;font-size:.9em}dt{font-weight:bold}dd{margin:0 0 .4em 1.5em}
</style>
</head>
<body>
<h1>{{.Title}}: {{.Range}}, {{.Scope}}</h1>
<p class="note">Every figure counts <em>deliveries</em> (one message sent to one person): a delivery opened five
times counts once as opened. "By a human" leaves out opens that a mail proxy or a privacy prefetch made (such as
Apple Mail Privacy Protection) and clicks that a link scanner made. Every chart and table here counts
<strong id="scope">{{.Scope}}</strong>.</p>

<h2>Funnel ({{.Scope}})</h2>
<svg id="funnel" xmlns="http://www.w3.org/2000/svg" width="640" height="{{.FunnelH}}" role="img" aria-label="Funnel">
{{range .Funnel}}<g data-stage="{{.Name}}" data-value="{{.Value}}" transform="translate(0,{{.Y}})"><title>{{.Label}}: {{.Value}}</title>
<text x="0" y="17">{{.Label}}</text><rect x="130" y="4" width="{{printf "%.1f" .Width}}" height="18" fill="{{$.FunnelColor}}"></rect>
<text x="{{printf "%.1f" .Width}}" dx="136" y="17">{{.Value}}</text></g>
{{end}}</svg>

<h2>What went wrong ({{.Scope}})</h2>
<svg id="problems" xmlns="http://www.w3.org/2000/svg" width="640" height="{{.ProbH}}" role="img" aria-label="Bounces, complaints, unsubscribes, failures and drops">
{{range .Problems}}<g data-stage="{{.Name}}" data-value="{{.Value}}" transform="translate(0,{{.Y}})"><title>{{.Label}}: {{.Value}}</title>
<text x="0" y="17">{{.Label}}</text><rect x="130" y="4" width="{{printf "%.1f" .Width}}" height="18" fill="{{$.ProblemColor}}"></rect>
<text x="{{printf "%.1f" .Width}}" dx="136" y="17">{{.Value}}</text></g>
{{end}}</svg>

<h2>Rates by send day ({{.Scope}})</h2>
<p class="note">Each delivery counts on the day it was sent, with its opens and clicks however many days later they
came: <span style="color:{{(index .Trend 0).Color}}">&#9632;</span> delivered (of those sent),
<span style="color:{{(index .Trend 1).Color}}">&#9632;</span> opened by a human and
<span style="color:{{(index .Trend 2).Color}}">&#9632;</span> clicked by a human (of those delivered). Recent days
still grow as opens and clicks arrive.</p>
<svg id="trend" xmlns="http://www.w3.org/2000/svg" width="{{printf "%.0f" .TrendW}}" height="200" role="img" aria-label="Delivery, human open and human click rates by send day">
<line x1="60" x2="60" y1="10" y2="170" stroke="#888"></line><line x1="60" x2="{{printf "%.0f" .TrendW}}" y1="170" y2="170" stroke="#888"></line>
<text x="56" y="14" text-anchor="end">100 %</text><text x="56" y="174" text-anchor="end">0</text>
{{range .Trend}}<g data-rate="{{.Name}}"><polyline points="{{.Points}}" fill="none" stroke="{{.Color}}" stroke-width="2"></polyline>
{{$c := .Color}}{{$n := .Label}}{{range .Dots}}<circle data-day="{{.Day}}" data-value="{{.Value}}" cx="{{printf "%.1f" .X}}" cy="{{printf "%.1f" .Y}}" r="4" fill="{{$c}}"><title>{{.Day}} {{$n}}: {{.Text}}</title></circle>{{end}}</g>
{{end}}{{range .TrendDays}}<text x="{{printf "%.1f" .X}}" y="190" text-anchor="middle">{{.Day}}</text>
{{end}}</svg>

<h2>Bounces and complaints per day ({{.Scope}})</h2>
<p class="note">Per day: <span style="color:{{.BounceColor}}">&#9632;</span> bounce rate (of the deliveries sent that
day, the share that bounced) and <span style="color:{{.SpamColor}}">&#9632;</span> spam-complaint rate (of those
delivered, the share marked as spam); hover a bar for its value. The dashed line is 0.3 %, the complaint rate Gmail
and Yahoo require bulk email senders to stay under.</p>
<svg id="daily" xmlns="http://www.w3.org/2000/svg" width="{{printf "%.0f" .RatesW}}" height="200" role="img" aria-label="Daily bounce and spam rates">
<line x1="60" x2="{{printf "%.0f" .RatesW}}" y1="{{printf "%.1f" .Threshold}}" y2="{{printf "%.1f" .Threshold}}" stroke="#888" stroke-dasharray="4 3"></line>
<text x="{{printf "%.0f" .RatesW}}" y="{{printf "%.1f" .Threshold}}" dy="-3" text-anchor="end">0.3 %</text>
<line x1="60" x2="60" y1="10" y2="170" stroke="#888"></line>
<text x="56" y="14" text-anchor="end">{{.Top}}</text><text x="56" y="174" text-anchor="end">0</text>
{{range .Rates}}<rect data-day="{{.Day}}" data-rate="{{.Name}}" data-value="{{.Value}}" x="{{printf "%.1f" .X}}" y="{{printf "%.1f" .Y}}" width="16" height="{{printf "%.1f" .H}}" fill="{{.Color}}"><title>{{.Day}} {{.Name}}: {{.Text}}</title></rect>
{{end}}{{range .Days}}<text x="{{printf "%.1f" .X}}" y="190" text-anchor="middle">{{.Day}}</text>
{{end}}</svg>

<h2>By {{.By}} ({{.Scope}}; every column: cioevents report --wide)</h2>
<p class="note">{{range .Notes}}{{.}} {{end}}</p>
<table id="groups">
<thead><tr>{{range .Columns}}<th>{{.}}</th>{{end}}</tr></thead>
<tbody>
{{range $i, $r := .Rows}}<tr>{{range $r}}<td data-col="{{.Col}}"{{if .Num}} class="num"{{end}}>{{.Text}}</td>{{end}}</tr>
{{end}}</tbody>
</table>

{{range .Tables}}<table id="{{.ID}}" class="small">
<caption>{{.Caption}}</caption>
<thead><tr>{{range .Head}}<th>{{.}}</th>{{end}}</tr></thead>
<tbody>
{{range $r := .Rows}}<tr>{{range $r}}<td data-col="{{.Col}}"{{if .Num}} class="num"{{end}}>{{.Text}}</td>{{end}}</tr>
{{else}}<tr><td>none in range</td></tr>
{{end}}</tbody>
</table>
{{end}}
<p class="note">deliv = delivered, h_open = opened by a human, h_click = clicked by a human, % = the rate (below).</p>

<h2>What the columns mean</h2>
<dl>
{{range .Stages}}<dt>{{.Name}}</dt><dd>{{.Desc}}</dd>
{{end}}{{range .Rates_}}<dt>{{.Name}}</dt><dd>{{.Desc}}</dd>
{{end}}</dl>
</body>
</html>
`))
