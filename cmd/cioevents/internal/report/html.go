package report

import (
	"fmt"
	"html/template"
	"io"
	"strconv"

	"github.com/cioevents/cioevents/cmd/cioevents/internal/funnel"
)

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
)

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
	p := page{Title: "Customer.io deliveries", Range: rangeText(r.Range), By: r.By, Scope: r.ScopeText(),
		Notes: r.Notes(), Columns: r.Query.Columns(), Stages: r.Query.Stages, Rates_: r.Query.Rates,
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

	row := func(key []string, res funnel.Result) []cell {
		var cs []cell
		for i, k := range key {
			col := "total"
			if i < len(r.Query.Dims) {
				col = r.Query.Dims[i].Name
			}
			cs = append(cs, cell{Col: col, Text: keyText(k)})
		}
		for i, c := range res.Counts {
			cs = append(cs, cell{Col: r.Query.Stages[i].Name, Text: strconv.FormatInt(c, 10), Num: true})
		}
		for i, x := range res.Rates {
			cs = append(cs, cell{Col: r.Query.Rates[i].Name, Text: formatRate(x), Num: true})
		}
		return cs
	}
	for _, g := range r.Groups {
		p.Rows = append(p.Rows, row(g.Key, g))
	}
	p.Rows = append(p.Rows, row([]string{"total"}, r.Total))
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
h1{font-size:1.5em}h2{font-size:1.15em;margin-top:2em}
table{border-collapse:collapse;font-size:.85em}th,td{padding:.25em .6em;border-bottom:1px solid #ddd}
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

<h2>By {{.By}} ({{.Scope}})</h2>
<p class="note">{{range .Notes}}{{.}} {{end}}</p>
<table id="groups">
<thead><tr>{{range .Columns}}<th>{{.}}</th>{{end}}</tr></thead>
<tbody>
{{range $i, $r := .Rows}}<tr>{{range $r}}<td data-col="{{.Col}}"{{if .Num}} class="num"{{end}}>{{.Text}}</td>{{end}}</tr>
{{end}}</tbody>
</table>

<h2>What the columns mean</h2>
<dl>
{{range .Stages}}<dt>{{.Name}}</dt><dd>{{.Desc}}</dd>
{{end}}{{range .Rates_}}<dt>{{.Name}}</dt><dd>{{.Desc}}</dd>
{{end}}</dl>
</body>
</html>
`))
