package report_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cioevents/cioevents/cmd/cioevents/internal/report"
	"github.com/cioevents/cioevents/shared/event"
	"github.com/cioevents/cioevents/shared/warehouse"
)

// fixture is what the expectations read from a webhook body, decoded here
// independently of shared/event, shared/warehouse and cmd/cioevents/internal/funnel.
type fixture struct {
	objectType, metric, delivery, campaign, domain string
	proxied, prefetched, machine                   bool
	// day is the delivery's send day (its first event's when it has no send).
	day string
}

func readFixtures(t *testing.T) ([]fixture, [][]byte) {
	t.Helper()
	var bodies [][]byte
	for _, dir := range []string{"events", "odd"} {
		files, err := filepath.Glob(filepath.Join("..", "..", "..", "..", "testdata", dir, "*.json"))
		if err != nil || len(files) == 0 {
			t.Fatalf("fixtures: %v %v", files, err)
		}
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			bodies = append(bodies, b)
			if filepath.Base(f) == "email.opened.json" {
				bodies = append(bodies, openVariants(t, b)...)
			}
		}
	}
	var out []fixture
	for _, b := range bodies {
		out = append(out, decodeFixture(t, b))
	}
	// A delivery counts on its send day: the day of its earliest send, else
	// of its earliest event (the fixtures' days are whole UTC dates, so the
	// earliest is the least).
	sendDay, firstDay := map[string]string{}, map[string]string{}
	for _, f := range out {
		if f.metric == "sent" && (sendDay[f.delivery] == "" || f.day < sendDay[f.delivery]) {
			sendDay[f.delivery] = f.day
		}
		if firstDay[f.delivery] == "" || f.day < firstDay[f.delivery] {
			firstDay[f.delivery] = f.day
		}
	}
	for i, f := range out {
		if f.delivery == "" {
			continue
		}
		if d := sendDay[f.delivery]; d != "" {
			out[i].day = d
		} else {
			out[i].day = firstDay[f.delivery]
		}
	}
	return out, bodies
}

// openVariants adds to the fixture (a proxied open) the two other kinds of
// open, each on its own delivery: a privacy prefetch and a human open.
func openVariants(t *testing.T, b []byte) [][]byte {
	var out [][]byte
	for i, flags := range []map[string]bool{
		{"proxied": false, "prefetched": true},
		{"proxied": false, "prefetched": false},
	} {
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatal(err)
		}
		m["event_id"] = fmt.Sprintf("%s-variant-%d", m["event_id"], i)
		data := m["data"].(map[string]any)
		data["delivery_id"] = fmt.Sprintf("variant-delivery-%d", i)
		for k, v := range flags {
			data[k] = v
		}
		v, _ := json.Marshal(m)
		out = append(out, v)
	}
	return out
}

func decodeFixture(t *testing.T, b []byte) fixture {
	var m struct {
		ObjectType     string `json:"object_type"`
		ObjectTypeType string `json:"object_type_type"`
		Metric         string
		Timestamp      int64
		Data           map[string]any
	}
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("%s: %v", b, err)
	}
	fx := fixture{objectType: m.ObjectType, metric: m.Metric,
		day: time.Unix(m.Timestamp, 0).UTC().Format("2006-01-02")}
	if fx.objectType == "" {
		fx.objectType = m.ObjectTypeType
	}
	str := func(k string) string {
		switch v := m.Data[k].(type) {
		case string:
			return v
		case float64:
			return strconv.FormatFloat(v, 'f', -1, 64)
		}
		return ""
	}
	fx.delivery, fx.campaign = str("delivery_id"), str("campaign_id")
	addr, isAddr := m.Data["recipient"].(string)
	if !isAddr {
		ids, _ := m.Data["identifiers"].(map[string]any)
		addr, _ = ids["email"].(string)
		if addr == "" {
			addr, _ = m.Data["email_address"].(string)
		}
	}
	if i := strings.LastIndex(addr, "@"); i >= 0 && i < len(addr)-1 {
		fx.domain = strings.ToLower(addr[i+1:])
	}
	fx.proxied, _ = m.Data["proxied"].(bool)
	fx.prefetched, _ = m.Data["prefetched"].(bool)
	fx.machine, _ = m.Data["machine"].(bool)
	return fx
}

// workspaceOf is the workspace the test data dir gives a fixture's rows, by
// channel (a delivery has one): email is shop's, sms and push b2b's, the
// rest have none (NULL, as rows from before the column), so default's.
func workspaceOf(objectType string) string {
	switch objectType {
	case "email":
		return "shop"
	case "sms", "push":
		return "b2b"
	}
	return ""
}

// expected computes the figures by hand: per key, the distinct deliveries
// of each stage.
func expected(fxs []fixture, key func(fixture) (string, bool)) map[string]map[string]int64 {
	stages := map[string]func(fixture) bool{
		"sent":          func(f fixture) bool { return f.metric == "sent" },
		"delivered":     func(f fixture) bool { return f.metric == "delivered" },
		"opened":        func(f fixture) bool { return f.metric == "opened" },
		"human_opened":  func(f fixture) bool { return f.metric == "opened" && !f.proxied && !f.prefetched },
		"clicked":       func(f fixture) bool { return f.metric == "clicked" },
		"human_clicked": func(f fixture) bool { return f.metric == "clicked" && !f.machine },
		"converted":     func(f fixture) bool { return f.metric == "converted" },
		"unsubscribed":  func(f fixture) bool { return f.metric == "unsubscribed" },
		"bounced":       func(f fixture) bool { return f.metric == "bounced" },
		"spammed":       func(f fixture) bool { return f.metric == "spammed" },
		"failed":        func(f fixture) bool { return f.metric == "failed" || f.metric == "undeliverable" },
		"dropped":       func(f fixture) bool { return f.metric == "dropped" },
	}
	sets := map[string]map[string]map[string]bool{}
	for _, f := range fxs {
		k, ok := key(f)
		if !ok || f.delivery == "" {
			continue
		}
		if sets[k] == nil {
			sets[k] = map[string]map[string]bool{}
			for s := range stages {
				sets[k][s] = map[string]bool{}
			}
		}
		for s, hit := range stages {
			if hit(f) {
				sets[k][s][f.delivery] = true
			}
		}
	}
	out := map[string]map[string]int64{}
	for k, ss := range sets {
		out[k] = map[string]int64{}
		for s, d := range ss {
			out[k][s] = int64(len(d))
		}
	}
	return out
}

// expectedBoth counts by hand, per key, the deliveries that had both a num
// and a den event (stages that are one metric each): a rate's numerator.
func expectedBoth(fxs []fixture, key func(fixture) (string, bool), num, den string) map[string]int64 {
	has := map[string]map[string]map[string]bool{} // key, delivery, metric
	for _, f := range fxs {
		k, ok := key(f)
		if !ok || f.delivery == "" {
			continue
		}
		if has[k] == nil {
			has[k] = map[string]map[string]bool{}
		}
		if has[k][f.delivery] == nil {
			has[k][f.delivery] = map[string]bool{}
		}
		has[k][f.delivery][f.metric] = true
	}
	out := map[string]int64{}
	for k, ds := range has {
		for _, m := range ds {
			if m[num] && m[den] {
				out[k]++
			}
		}
	}
	return out
}

// writeDataDir stores every fixture the way `cioevents dev` does, plus a
// second event (new event_id, same delivery) for each: a delivery must
// still count once per stage. Rows carry workspaceOf's workspace.
func writeDataDir(t *testing.T, bodies [][]byte) string {
	t.Helper()
	dir := t.TempDir()
	f, err := warehouse.NewFile(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	now := time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC)
	for i, b := range bodies {
		for copyN := range 2 {
			body := b
			if copyN == 1 {
				var m map[string]any
				json.Unmarshal(b, &m)
				m["event_id"] = fmt.Sprintf("%s-again-%d", m["event_id"], i)
				body, _ = json.Marshal(m)
			}
			ev, err := event.Parse(body)
			if err != nil {
				t.Fatalf("fixture %d: %v", i, err)
			}
			row := warehouse.FromEvent(ev, now, nil, "")
			if ws := workspaceOf(decodeFixture(t, body).objectType); ws != "" {
				row.Workspace = &ws
			}
			if err := f.InsertEvent(context.Background(), row); err != nil {
				t.Fatal(err)
			}
		}
	}
	return dir
}

func run(t *testing.T, args ...string) string {
	t.Helper()
	var out bytes.Buffer
	if err := report.Command(context.Background(), args, report.Env{Stdout: &out, Stderr: io.Discard, Getenv: func(string) string { return "" }}); err != nil {
		t.Fatalf("report %v: %v", args, err)
	}
	return out.String()
}

var stageNames = []string{"sent", "delivered", "opened", "human_opened", "clicked", "human_clicked", "converted",
	"unsubscribed", "bounced", "spammed", "failed", "dropped"}

func counts(m map[string]any) map[string]int64 {
	out := map[string]int64{}
	for _, s := range stageNames {
		out[s] = int64(m[s].(float64))
	}
	return out
}

// byWorkspace keys a fixture by its rows' workspace; no workspace is default.
func byWorkspace(f fixture) (string, bool) {
	if ws := workspaceOf(f.objectType); ws != "" {
		return ws, true
	}
	return "default", true
}

func TestReportMatchesFixtures(t *testing.T) {
	fxs, bodies := readFixtures(t)
	dir := writeDataDir(t, bodies)
	all := func(fixture) (string, bool) { return "total", true }

	email := func(f fixture) (string, bool) { return "total", f.objectType == "email" }

	// Every delivery of the fixtures has one campaign, channel, domain and
	// workspace on all its events, so grouping by them partitions it.
	tests := []struct {
		by, col string
		key     func(fixture) (string, bool)
		scope   func(fixture) (string, bool)
	}{
		{"campaign", "campaign_id", func(f fixture) (string, bool) { return f.campaign, true }, all},
		{"channel", "channel", func(f fixture) (string, bool) { return f.objectType, true }, all},
		{"day", "day", func(f fixture) (string, bool) { return f.day, true }, all},
		{"domain", "domain", func(f fixture) (string, bool) { return f.domain, f.objectType == "email" }, email},
		{"workspace", "workspace", byWorkspace, all},
	}
	for _, tt := range tests {
		t.Run(tt.by, func(t *testing.T) {
			want := expected(fxs, tt.key)
			var got report.JSON
			if err := json.Unmarshal([]byte(run(t, "--data-dir", dir, "--by", tt.by, "--format", "json")), &got); err != nil {
				t.Fatal(err)
			}
			gotGroups := map[string]map[string]int64{}
			sum := map[string]int64{}
			for _, g := range got.Groups {
				k, _ := g[tt.col].(string) // null: the "(none)" group
				gotGroups[k] = counts(g)
				for s, n := range counts(g) {
					sum[s] += n
				}
				checkRates(t, tt.by, g)
			}
			if !reflect.DeepEqual(gotGroups, want) {
				t.Errorf("groups\n got %v\nwant %v", gotGroups, want)
			}
			wantTotal := expected(fxs, tt.scope)["total"]
			if tot := counts(got.Total); !reflect.DeepEqual(tot, wantTotal) {
				t.Errorf("total %v, want %v", tot, wantTotal)
			}
			checkRates(t, tt.by, got.Total)
			if !got.GroupsAddUp {
				t.Errorf("groups_add_up %v for --by %s", got.GroupsAddUp, tt.by)
			}
			if got.GroupsAddUp && !reflect.DeepEqual(sum, wantTotal) {
				t.Errorf("groups add up to %v, total %v", sum, wantTotal)
			}
			if wantScope := map[bool]string{true: "email only", false: "all channels"}[tt.by == "domain"]; got.Scope != wantScope {
				t.Errorf("scope %q, want %q", got.Scope, wantScope)
			}
			if len(got.Rates) == 0 {
				t.Errorf("json says nothing about what each rate counts")
			}
		})
	}

	// Fixtures must exercise what the definitions tell apart.
	tot := expected(fxs, all)["total"]
	if tot["opened"] != tot["human_opened"]+2 || tot["clicked"] == tot["human_clicked"] || tot["bounced"] == 0 || tot["spammed"] == 0 {
		t.Fatalf("fixtures do not tell human from proxied and prefetched opens and machine clicks, or have no bounce/complaint: %v", tot)
	}
	// The catalog forms deliveries as Customer.io reports them
	// (testdata/README.md): a send's later stages share its delivery_id, so
	// the first report on the sample data shows delivery and open rates; a
	// delivery is either delivered or bounced, failed or dropped.
	for _, p := range [][2]string{{"delivered", "sent"}, {"opened", "delivered"}, {"clicked", "delivered"}} {
		if n := expectedBoth(fxs, all, p[0], p[1])["total"]; n == 0 {
			t.Errorf("no fixture delivery is both %s and %s: the sample report would show a 0 %% rate", p[1], p[0])
		}
	}
	for _, m := range []string{"bounced", "failed", "dropped", "undeliverable"} {
		if n := expectedBoth(fxs, all, m, "delivered")["total"]; n != 0 {
			t.Errorf("%d fixture deliveries are both delivered and %s", n, m)
		}
	}

	if ws := expected(fxs, byWorkspace); ws["shop"] == nil || ws["b2b"] == nil || ws["default"] == nil {
		t.Fatalf("fixtures do not fill two named workspaces and default: %v", ws)
	}

	for _, tt := range []struct {
		by  string
		key func(fixture) (string, bool)
	}{{tests[0].by, tests[0].key}, {tests[4].by, tests[4].key}} {
		t.Run("csv "+tt.by, func(t *testing.T) {
			recs, err := csv.NewReader(strings.NewReader(run(t, "--data-dir", dir, "--by", tt.by, "--format", "csv"))).ReadAll()
			if err != nil {
				t.Fatal(err)
			}
			want := expected(fxs, tt.key)
			want["total"] = tot
			if len(recs)-1 != len(want) {
				t.Fatalf("%d records, want %d", len(recs)-1, len(want))
			}
			for _, rec := range recs[1:] {
				if rec[0] == "" {
					rec[0] = "" // the "(none)" group, NULL in CSV
				}
				if _, ok := want[rec[0]]; !ok {
					t.Errorf("csv: no such %s %q", tt.by, rec[0])
				}
				for i, s := range stageNames {
					if rec[1+i] != strconv.FormatInt(want[rec[0]][s], 10) {
						t.Errorf("csv %s %s = %s, want %d (header %s)", rec[0], s, rec[1+i], want[rec[0]][s], recs[0][1+i])
					}
				}
			}
		})
	}

	t.Run("table --wide", func(t *testing.T) {
		head, rows := table(t, run(t, "--data-dir", dir, "--by", "campaign", "--wide"))
		last := strings.Fields(rows[len(rows)-1])
		if !reflect.DeepEqual(strings.Fields(head)[1:1+len(stageNames)], stageNames) || last[0] != "total" {
			t.Fatalf("table:\n%s\n%s", head, strings.Join(rows, "\n"))
		}
		for i, s := range stageNames {
			if last[1+i] != strconv.FormatInt(tot[s], 10) {
				t.Errorf("total %s = %s, want %d", s, last[1+i], tot[s])
			}
		}
	})

	for _, by := range []string{"campaign", "channel", "day", "domain", "workspace"} {
		t.Run("table "+by, func(t *testing.T) {
			out := run(t, "--data-dir", dir, "--by", by)
			for i, l := range strings.Split(out, "\n") {
				if n := len([]rune(l)); n > 100 {
					t.Errorf("line %d is %d characters, over 100: %q", i+1, n, l)
				}
			}
			for _, want := range map[string][]string{
				"campaign": {"(none)", "add up to the total"},
				"day":      {"Each delivery is on one send day", "add up to the total"},
				"domain":   {"email only", "Email deliveries only"},
			}[by] {
				if !strings.Contains(out, want) {
					t.Errorf("--by %s: output lacks %q:\n%s", by, want, out)
				}
			}
			if !strings.Contains(out, "Of the deliveries sent, the share also delivered") {
				t.Errorf("--by %s: the table does not say what delivery_rate counts:\n%s", by, out)
			}
		})
	}

	t.Run("table --columns", func(t *testing.T) {
		head, rows := table(t, run(t, "--data-dir", dir, "--by", "workspace", "--columns", "converted,conversion_rate"))
		if got := strings.Fields(head); !reflect.DeepEqual(got, []string{"workspace", "converted", "conversion_rate"}) {
			t.Errorf("head %q", got)
		}
		if last := strings.Fields(rows[len(rows)-1]); last[1] != strconv.FormatInt(tot["converted"], 10) {
			t.Errorf("total %q, converted %d", last, tot["converted"])
		}
	})

	t.Run("range", func(t *testing.T) {
		days := map[string]bool{}
		for _, f := range fxs {
			days[f.day] = true
		}
		var ds []string
		for d := range days {
			ds = append(ds, d)
		}
		sort.Strings(ds)
		last := ds[len(ds)-1]
		var got report.JSON
		json.Unmarshal([]byte(run(t, "--data-dir", dir, "--from", last, "--to", last, "--format", "json")), &got)
		want := expected(fxs, func(f fixture) (string, bool) { return "total", f.day == last })["total"]
		if tot := counts(got.Total); !reflect.DeepEqual(tot, want) {
			t.Errorf("%s only: %v, want %v", last, tot, want)
		}
	})
}

// table returns the header and the rows of a printed table (the lines from
// the header to the total), checking they are aligned.
func table(t *testing.T, out string) (string, []string) {
	t.Helper()
	lines := strings.Split(out, "\n")
	start := -1
	for i, l := range lines {
		if start < 0 && i > 0 && lines[i-1] == "" && l != "" {
			start = i
		}
		if start >= 0 && strings.HasPrefix(strings.TrimSpace(l), "total ") {
			rows := lines[start+1 : i+1]
			for _, r := range rows {
				if len([]rune(r)) != len([]rune(lines[start])) {
					t.Errorf("line %q not aligned with the header %q", r, lines[start])
				}
			}
			return lines[start], rows
		}
	}
	t.Fatalf("no table in:\n%s", out)
	return "", nil
}

// checkRates: every rate is a share, 0..1 or null.
func checkRates(t *testing.T, by string, m map[string]any) {
	t.Helper()
	for _, r := range []string{"delivery_rate", "human_open_rate", "human_click_rate", "conversion_rate", "bounce_rate",
		"spam_rate", "unsubscribe_rate"} {
		v, ok := m[r]
		if !ok {
			t.Errorf("--by %s: no %s in %v", by, r, m)
			continue
		}
		if f, isNum := v.(float64); v != nil && (!isNum || f < 0 || f > 1) {
			t.Errorf("--by %s: %s = %v, not a share of 0..1 (%v)", by, r, v, m)
		}
	}
}

func TestCommandErrors(t *testing.T) {
	for _, args := range [][]string{
		{},
		{"--data-dir", t.TempDir()},
		{"--data-dir", ".", "--by", "person"},
		{"--data-dir", ".", "--format", "xml"},
		{"--data-dir", ".", "--from", "2026-13-01"},
		{"--data-dir", ".", "--from", "2026-02-01", "--to", "2026-01-01"},
	} {
		err := report.Command(context.Background(), args, report.Env{Stdout: &bytes.Buffer{}, Getenv: func(string) string { return "" }})
		if err == nil {
			t.Errorf("report %v: no error", args)
		}
	}
}
