package report_test

import (
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/net/html"

	"github.com/cioevents/cioevents/cmd/cioevents/internal/report"
)

func attr(n *html.Node, key string) (string, bool) {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val, true
		}
	}
	return "", false
}

func walk(n *html.Node, f func(*html.Node)) {
	f(n)
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		walk(c, f)
	}
}

func text(n *html.Node) string {
	var b strings.Builder
	walk(n, func(c *html.Node) {
		if c.Type == html.TextNode {
			b.WriteString(c.Data)
		}
	})
	return strings.TrimSpace(b.String())
}

// TestHTML parses the page and checks the figures it shows against the
// fixtures, and that it needs nothing from elsewhere.
func TestHTML(t *testing.T) {
	fxs, bodies := readFixtures(t)
	dir := writeDataDir(t, bodies)
	for _, tt := range []struct {
		by, col string
		key     func(fixture) (string, bool)
	}{
		{"campaign", "campaign", func(f fixture) (string, bool) { return f.campaign, true }},
		{"workspace", "workspace", byWorkspace},
	} {
		t.Run(tt.by, func(t *testing.T) { checkHTML(t, fxs, dir, tt.by, tt.col, tt.key) })
	}
}

func checkHTML(t *testing.T, fxs []fixture, dir, by, keyCol string, key func(fixture) (string, bool)) {
	page := filepath.Join(t.TempDir(), "report.html")
	run(t, "--data-dir", dir, "--by", by, "--format", "csv", "--html", page)
	f, err := os.Open(page)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	doc, err := html.Parse(f)
	if err != nil {
		t.Fatal(err)
	}

	tot := expected(fxs, func(fixture) (string, bool) { return "total", true })["total"]
	groups := expected(fxs, key)
	if g, ok := groups[""]; ok {
		groups["(none)"] = g
		delete(groups, "")
	}
	groups["total"] = tot
	// The chart beside the table counts what the table counts: every channel.
	dayOf := func(f fixture) (string, bool) { return f.day, true }
	days := expected(fxs, dayOf)

	bars, rates, cells := map[string]string{}, map[string]string{}, 0
	walk(doc, func(n *html.Node) {
		if n.Type != html.ElementNode {
			return
		}
		switch n.Data {
		case "script", "link", "img", "iframe", "object", "embed", "base":
			t.Errorf("page has a <%s>: it must be self-contained", n.Data)
		}
		for _, a := range n.Attr {
			if a.Key == "src" || a.Key == "href" || a.Key == "xlink:href" || strings.Contains(a.Val, "url(") {
				t.Errorf("<%s %s=%q> refers to something outside the page", n.Data, a.Key, a.Val)
			}
		}
		if n.Data == "style" && (strings.Contains(text(n), "@import") || strings.Contains(text(n), "url(")) {
			t.Error("style loads something from elsewhere")
		}
		if s, ok := attr(n, "data-stage"); ok && n.Data == "g" {
			v, _ := attr(n, "data-value")
			bars[s] = v
			if !strings.Contains(text(n), v) {
				t.Errorf("bar %s does not show its value %s: %q", s, v, text(n))
			}
		}
		if r, ok := attr(n, "data-rate"); ok {
			d, _ := attr(n, "data-day")
			v, _ := attr(n, "data-value")
			rates[d+" "+r] = v
		}
		if n.Data == "tr" {
			var key string
			vals := map[string]string{}
			for c := n.FirstChild; c != nil; c = c.NextSibling {
				if col, ok := attr(c, "data-col"); ok {
					if col == keyCol || col == "total" {
						key = text(c)
					} else {
						vals[col] = text(c)
					}
				}
			}
			if key == "" {
				return
			}
			want, ok := groups[key]
			if !ok {
				t.Errorf("table row %q: no such %s", key, by)
				return
			}
			for s, w := range want {
				if !slices.Contains(report.DefaultColumns, s) {
					continue // the page's table shows the default columns
				}
				cells++
				if vals[s] != strconv.FormatInt(w, 10) {
					t.Errorf("table %s %s = %q, want %d", key, s, vals[s], w)
				}
			}
		}
	})
	shown := 0
	for _, s := range stageNames {
		if slices.Contains(report.DefaultColumns, s) {
			shown++
		}
	}
	if cells != len(groups)*shown {
		t.Errorf("checked %d table cells, want %d", cells, len(groups)*shown)
	}
	for _, s := range []string{"sent", "delivered", "opened", "human_opened", "clicked", "human_clicked", "converted",
		"bounced", "spammed", "unsubscribed", "failed", "dropped"} {
		if bars[s] != strconv.FormatInt(tot[s], 10) {
			t.Errorf("chart bar %s = %q, want %d", s, bars[s], tot[s])
		}
	}
	if len(days) == 0 {
		t.Fatal("no days in the fixtures")
	}
	for day, c := range days {
		for _, r := range []struct{ name, num, den string }{{"bounce_rate", "bounced", "sent"}, {"spam_rate", "spammed", "delivered"}} {
			want := "0"
			if c[r.den] > 0 {
				both := expectedBoth(fxs, dayOf, r.num, r.den)[day]
				want = strconv.FormatFloat(float64(both)/float64(c[r.den]), 'g', -1, 64)
			}
			if got := rates[day+" "+r.name]; got != want {
				t.Errorf("daily chart %s %s = %q, want %s", day, r.name, got, want)
			}
		}
	}
}
