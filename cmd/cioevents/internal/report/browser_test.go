package report_test

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cioevents/cioevents/cmd/cioevents/internal/funnel"
	"github.com/cioevents/cioevents/cmd/cioevents/internal/report"
	"github.com/cioevents/cioevents/shared/warehouse"
)

// chromium is the browser CI installs (.ci/run) from Debian packages.
const chromium = "/usr/bin/chromium"

// browserRows makes deliveries whose funnel is 60 sent, 30 delivered, 20
// opened (15 by a human), 10 clicked (8 by a human), 5 converted; bounces
// of 10 in 40 sent on day one and 2 in 20 on day two.
func browserRows() []warehouse.Row {
	var rows []warehouse.Row
	day1 := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	add := func(n int, at time.Time, metric string, flag func(*warehouse.Row)) {
		for i := range n {
			id := fmt.Sprintf("d%d", i)
			if at.Day() == 2 {
				id = fmt.Sprintf("e%d", i)
			}
			r := warehouse.Row{EventID: id + metric + strconv.Itoa(len(rows)), DeliveryID: &id, ObjectType: "email",
				Metric: metric, EventTime: at}
			if flag != nil {
				flag(&r)
			}
			rows = append(rows, r)
		}
	}
	yes := true
	proxied := func(r *warehouse.Row) { r.Proxied = &yes }
	machine := func(r *warehouse.Row) { r.Machine = &yes }
	add(40, day1, "sent", nil)
	add(30, day1, "delivered", nil)
	add(15, day1, "opened", nil)
	add(20, day1, "opened", proxied) // d0..d19: 15 of them also human
	add(8, day1, "clicked", nil)
	add(10, day1, "clicked", machine)
	add(5, day1, "converted", nil)
	// bounces: the 10 deliveries d30..d39 of day one (sent, not delivered).
	for i := 30; i < 40; i++ {
		id := fmt.Sprintf("d%d", i)
		rows = append(rows, warehouse.Row{EventID: id + "b", DeliveryID: &id, ObjectType: "email", Metric: "bounced", EventTime: day1})
	}
	day2 := day1.Add(24 * time.Hour)
	add(20, day2, "sent", nil)
	for i := range 2 {
		id := fmt.Sprintf("e%d", i)
		rows = append(rows, warehouse.Row{EventID: id + "b", DeliveryID: &id, ObjectType: "email", Metric: "bounced", EventTime: day2})
	}
	return rows
}

func hexColor(t *testing.T, s string) color.RGBA {
	t.Helper()
	v, err := strconv.ParseUint(s[1:], 16, 32)
	if err != nil {
		t.Fatal(err)
	}
	return color.RGBA{uint8(v >> 16), uint8(v >> 8), uint8(v), 0xff}
}

func same(c color.Color, want color.RGBA) bool {
	r, g, b, _ := c.RGBA()
	return uint8(r>>8) == want.R && uint8(g>>8) == want.G && uint8(b>>8) == want.B
}

// horizontalBars returns, top to bottom, the length in pixels of each band
// of rows holding colour c: the longest run of c in the band.
func horizontalBars(img image.Image, c color.RGBA) []int {
	var out []int
	in := false
	bounds := img.Bounds()
	for y := bounds.Min.Y; y < bounds.Max.Y; y++ {
		longest, run := 0, 0
		for x := bounds.Min.X; x < bounds.Max.X; x++ {
			if same(img.At(x, y), c) {
				run++
				longest = max(longest, run)
			} else {
				run = 0
			}
		}
		switch {
		case longest > 0 && !in:
			out = append(out, longest)
			in = true
		case longest > 0:
			out[len(out)-1] = max(out[len(out)-1], longest)
		default:
			in = false
		}
	}
	return out
}

// verticalBars returns, left to right, the height of each band of columns
// holding colour c: the longest vertical run of c in the band.
func verticalBars(img image.Image, c color.RGBA) []int {
	var out []int
	in := false
	bounds := img.Bounds()
	for x := bounds.Min.X; x < bounds.Max.X; x++ {
		n, run := 0, 0
		for y := bounds.Min.Y; y < bounds.Max.Y; y++ {
			if same(img.At(x, y), c) {
				run++
				n = max(n, run)
			} else {
				run = 0
			}
		}
		switch {
		case n > 0 && !in:
			out = append(out, n)
			in = true
		case n > 0:
			out[len(out)-1] = max(out[len(out)-1], n)
		default:
			in = false
		}
	}
	return out
}

// screenshot serves page on 127.0.0.1 and renders it with headless
// Chromium to a PNG.
func screenshot(t *testing.T, page []byte) image.Image {
	t.Helper()
	if _, err := os.Stat(chromium); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s: %v (.ci/run installs the chromium package; in CI the browser check must run)", chromium, err)
		}
		t.Skipf("%s: %v (apt-get install chromium to run the browser check)", chromium, err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Write(page)
	})}
	go srv.Serve(ln)
	defer srv.Close()

	dir := t.TempDir()
	out := filepath.Join(dir, "page.png")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
		"--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--hide-scrollbars", "--force-device-scale-factor=1", "--window-size=1100,1600",
		"--user-data-dir="+filepath.Join(dir, "profile"), "--screenshot="+out, "http://"+ln.Addr().String()+"/")
	cmd.Env = append(os.Environ(), "HOME="+dir)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("chromium: %v\n%s", err, stderr.String())
	}
	f, err := os.Open(out)
	if err != nil {
		t.Fatalf("no screenshot: %v\n%s", err, stderr.String())
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// TestHTMLInBrowser renders the page in a real browser and measures the
// bars: each is as long, relative to the longest, as its figure says.
func TestHTMLInBrowser(t *testing.T) {
	rep, err := report.Build(context.Background(), &report.Local{Rows: browserRows()}, "campaign", funnel.Range{}, report.BuildOptions{Page: true})
	if err != nil {
		t.Fatal(err)
	}
	var page bytes.Buffer
	if err := rep.WriteHTML(&page); err != nil {
		t.Fatal(err)
	}
	img := screenshot(t, page.Bytes())

	// Funnel: sent, delivered, opened, human_opened, clicked, human_clicked, converted.
	want := []float64{60, 30, 20, 15, 10, 8, 5}
	got := horizontalBars(img, hexColor(t, report.FunnelColor))
	if len(got) != len(want) {
		t.Fatalf("funnel: %d bars of %s on the page, want %d (%v)", len(got), report.FunnelColor, len(want), got)
	}
	for i := range want {
		if exp := float64(got[0]) * want[i] / want[0]; float64(got[i]) < exp-2 || float64(got[i]) > exp+2 {
			t.Errorf("funnel bar %d is %d px, want %.1f (%v of %v, the first %d px)", i, got[i], exp, want[i], want[0], got[0])
		}
	}
	if got[0] < 300 {
		t.Errorf("the longest funnel bar is %d px: too short to measure", got[0])
	}

	// What went wrong: bounced 12 (10 + 2), the longest; nothing else.
	if got := horizontalBars(img, hexColor(t, report.ProblemColor)); len(got) != 1 || got[0] < 300 {
		t.Errorf("problem bars %v, want one full-length bar (bounced)", got)
	}

	// Daily bounce rates: 10 of 40 sent, then 2 of 20: the second bar is
	// 0.1/0.25 of the first, which is the chart's full height.
	bounce := verticalBars(img, hexColor(t, report.BounceColor))
	// Bars are over 10 px; the legend's swatch is a small square.
	var bars []int
	for _, h := range bounce {
		if h > 10 {
			bars = append(bars, h)
		}
	}
	if len(bars) != 2 {
		t.Fatalf("daily bounce bars taller than 10 px: %v, want 2", bars)
	}
	if exp := float64(bars[0]) * 0.1 / 0.25; float64(bars[1]) < exp-2 || float64(bars[1]) > exp+2 {
		t.Errorf("day two's bounce bar is %d px, want %.1f (day one %d px at 25 %%, day two 10 %%)", bars[1], exp, bars[0])
	}
	for _, h := range verticalBars(img, hexColor(t, report.SpamColor)) {
		if h > 10 {
			t.Errorf("a spam bar %d px tall, want none (no complaints)", h)
		}
	}
}

// renderDOM loads page in headless Chromium at width px and returns the DOM
// after a measuring script (added to a copy of the page: the page itself has
// none) wrote, on <body>, how wide the document and each table are.
func renderDOM(t *testing.T, page []byte, width int) string {
	t.Helper()
	if _, err := os.Stat(chromium); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s: %v", chromium, err)
		}
		t.Skipf("%s: %v (apt-get install chromium to run the browser check)", chromium, err)
	}
	measure := `<script>
var b = document.body, out = [];
b.setAttribute("data-doc-width", document.documentElement.scrollWidth);
b.setAttribute("data-view-width", document.documentElement.clientWidth);
document.querySelectorAll("table, svg").forEach(function (e) {
  out.push((e.id || e.tagName) + ":" + Math.ceil(e.getBoundingClientRect().right));
});
b.setAttribute("data-rights", out.join(" "));
</script></body>`
	measured := bytes.Replace(page, []byte("</body>"), []byte(measure), 1)
	dir := t.TempDir()
	file := filepath.Join(dir, "page.html")
	if err := os.WriteFile(file, measured, 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync", "--hide-scrollbars",
		"--force-device-scale-factor=1", fmt.Sprintf("--window-size=%d,1200", width),
		"--user-data-dir="+filepath.Join(dir, "profile"), "--dump-dom", "file://"+file)
	cmd.Env = append(os.Environ(), "HOME="+dir)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("chromium: %v\n%s", err, stderr.String())
	}
	return stdout.String()
}

// TestHTMLFitsThePage: at a laptop's and at a narrow window's width, no
// table or chart reaches past the window (long names and many groups
// included), and the trend draws each rate per send day.
func TestHTMLFitsThePage(t *testing.T) {
	rows := browserRows()
	long := "A campaign whose name is far too long to fit any narrow column of a table"
	for i := range 12 {
		id := fmt.Sprintf("wide%d", i)
		c := int64(1000000 + i)
		rows = append(rows, warehouse.Row{EventID: id, DeliveryID: &id, ObjectType: "email", Metric: "sent", CampaignID: &c,
			Recipient: &long, EventTime: time.Date(2026, 3, 3+i, 9, 0, 0, 0, time.UTC)})
	}
	rep, err := report.Build(context.Background(), &report.Local{Rows: rows}, "campaign", funnel.Range{}, report.BuildOptions{Page: true})
	if err != nil {
		t.Fatal(err)
	}
	var page bytes.Buffer
	if err := rep.WriteHTML(&page); err != nil {
		t.Fatal(err)
	}
	for _, width := range []int{1100, 700} {
		dom := renderDOM(t, page.Bytes(), width)
		attr := func(name string) string {
			i := strings.Index(dom, name+`="`)
			if i < 0 {
				t.Fatalf("%d px: no %s in the rendered page", width, name)
			}
			rest := dom[i+len(name)+2:]
			return rest[:strings.IndexByte(rest, '"')]
		}
		doc, _ := strconv.Atoi(attr("data-doc-width"))
		view, _ := strconv.Atoi(attr("data-view-width"))
		if doc > view {
			t.Errorf("%d px window: the page is %d px wide, wider than the window's %d", width, doc, view)
		}
		for _, r := range strings.Fields(attr("data-rights")) {
			name, right, _ := strings.Cut(r, ":")
			if x, _ := strconv.Atoi(right); x > view {
				t.Errorf("%d px window: %s ends at %d px, past the window's %d", width, name, x, view)
			}
		}
		for _, id := range []string{"trend", "groups", "top-messages", "providers", "bounce-classes"} {
			if !strings.Contains(dom, `id="`+id+`"`) {
				t.Errorf("no #%s on the page", id)
			}
		}
	}
	// The trend: one dot per day with a denominator; day one delivered 30 of
	// 40 sent, day two none of 20.
	for _, want := range []string{`data-rate="delivery_rate"`, `data-day="2026-03-01" data-value="0.75"`, `data-day="2026-03-02" data-value="0"`} {
		if !bytes.Contains(page.Bytes(), []byte(want)) {
			t.Errorf("the trend lacks %s", want)
		}
	}
}
