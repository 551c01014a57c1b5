package funnel

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/bigquery"
	"cloud.google.com/go/civil"
	"google.golang.org/api/iterator"
	"google.golang.org/api/option"

	"github.com/cioevents/cioevents/cmd/cioevents/internal/names"
	"github.com/cioevents/cioevents/shared/warehouse"
	"github.com/cioevents/cioevents/shared/warehouse/bqfake"
)

// modelNow is CURRENT_TIMESTAMP in bqfake and now in Deliveries: the send
// day 2026-03-01 is settled, 2026-03-02 not yet.
var modelNow = time.Date(2026, 4, 1, 12, 0, 0, 0, time.UTC)

// warehouse is what the tests run the generated SQL in: bqfake holding
// events, the events_deduped view (DedupedSQL itself), the deliveries table
// and the daily views (their committed templates).
type fakeWarehouse struct {
	t      *testing.T
	srv    *bqfake.Server
	client *bigquery.Client
	writer *warehouse.BigQuery
	now    time.Time
}

const lookbackDays = 3

func template(sql string) string {
	return strings.NewReplacer(eventsVar, "p.ds.events", tableVar, "p.ds.events_deduped", namesVar, "p.ds.message_names",
		deliveriesVar, "p.ds.deliveries", lookbackVar, "400").Replace(sql)
}

func newFakeWarehouse(t *testing.T) *fakeWarehouse {
	t.Helper()
	srv := bqfake.New(map[string]bigquery.Schema{"ds.events": warehouse.EventsSchema(), "ds.rejected": warehouse.RejectedSchema()})
	t.Cleanup(srv.Close)
	fw := &fakeWarehouse{t: t, srv: srv, now: modelNow}
	srv.Now = func() time.Time { return fw.now }
	srv.AddSQLView("ds.events_deduped", template(DedupedSQL()))
	srv.AddTable("ds.deliveries", DeliveriesSchema())
	srv.AddTable("ds.message_names", names.Schema())
	for _, v := range Views() {
		srv.AddSQLView("ds."+v.Name, template(v.SQL))
	}
	opts := []option.ClientOption{option.WithEndpoint(srv.URL() + "/bigquery/v2/"), option.WithoutAuthentication()}
	client, err := bigquery.NewClient(t.Context(), "p", opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	w, err := warehouse.NewBigQuery(t.Context(), "p", "ds", "events", "rejected", opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	fw.client, fw.writer = client, w
	return fw
}

func (w *fakeWarehouse) insert(rows ...warehouse.Row) {
	w.t.Helper()
	for _, r := range rows {
		if err := w.writer.InsertEvent(w.t.Context(), r); err != nil {
			w.t.Fatal(err)
		}
	}
}

// query runs sql and returns its rows, each value as BigQuery's client
// decodes it.
func (w *fakeWarehouse) query(sql string, params ...bigquery.QueryParameter) [][]bigquery.Value {
	w.t.Helper()
	q := w.client.Query(sql)
	q.Parameters = params
	it, err := q.Read(context.Background())
	if err != nil {
		w.t.Fatalf("%v\n%s", err, sql)
	}
	var out [][]bigquery.Value
	for {
		var row []bigquery.Value
		err := it.Next(&row)
		if errors.Is(err, iterator.Done) {
			return out
		}
		if err != nil {
			w.t.Fatal(err)
		}
		out = append(out, row)
	}
}

// merge runs the committed scheduled query (the MERGE, then the settle
// UPDATE) as a run at runTime would.
func (w *fakeWarehouse) merge(runTime time.Time) {
	w.t.Helper()
	sql := strings.ReplaceAll(template(MergeTemplate()), "INTERVAL 400 DAY)\n", fmt.Sprintf("INTERVAL %d DAY)\n", lookbackDays))
	for _, stmt := range strings.Split(sql, ";\n") {
		if strings.TrimSpace(stmt) == "" {
			continue
		}
		q := w.client.Query(stmt)
		q.Parameters = []bigquery.QueryParameter{{Name: "run_time", Value: runTime}}
		job, err := q.Run(w.t.Context())
		if err != nil {
			w.t.Fatal(err)
		}
		st, err := job.Wait(w.t.Context())
		if err != nil {
			w.t.Fatal(err)
		}
		if st.Err() != nil {
			w.t.Fatalf("%v\n%s", st.Err(), stmt)
		}
	}
}

// text renders a value as both sides are compared.
func valueText(v any) string {
	switch x := v.(type) {
	case nil:
		return "NULL"
	case time.Time:
		return x.UTC().Format(time.RFC3339Nano)
	case civil.Date:
		return x.String()
	case json.Number:
		return x.String()
	}
	return fmt.Sprint(v)
}

// tableRows reads the deliveries table back, each row as column → text.
func (w *fakeWarehouse) tableRows() []map[string]string {
	rows := w.query("SELECT * FROM `p.ds.deliveries`")
	var out []map[string]string
	for _, r := range rows {
		m := map[string]string{}
		for i, c := range Model {
			m[c.Name] = valueText(r[i])
		}
		out = append(out, m)
	}
	sort.Slice(out, func(i, j int) bool {
		return out[i]["workspace"]+out[i]["delivery_id"] < out[j]["workspace"]+out[j]["delivery_id"]
	})
	return out
}

func localRows(rows []warehouse.Row, now time.Time) []map[string]string {
	var out []map[string]string
	for _, d := range Deliveries(Dedupe(rows), now) {
		m := map[string]string{}
		for _, c := range Model {
			m[c.Name] = valueText(d.Values[c.Name])
		}
		out = append(out, m)
	}
	return out
}

func diffRows(t *testing.T, what string, got, want []map[string]string) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s: %d rows, want %d:\n%v\n%v", what, len(got), len(want), got, want)
		return
	}
	for i := range got {
		for _, c := range Model {
			if got[i][c.Name] != want[i][c.Name] {
				t.Errorf("%s: delivery %s %s = %s, want %s", what, want[i]["delivery_id"], c.Name, got[i][c.Name], want[i][c.Name])
			}
		}
	}
}

// at is a time on 2026-03-01 plus days, hours and minutes.
func at(days, hours, minutes int) time.Time {
	return time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(days)*24*time.Hour + time.Duration(hours)*time.Hour + time.Duration(minutes)*time.Minute)
}

var fixtureN int

// wev is an events row as the receiver stores it.
func wev(delivery, metric string, when time.Time, opts ...func(*warehouse.Row)) warehouse.Row {
	fixtureN++
	r := warehouse.Row{EventID: fmt.Sprintf("ev%03d", fixtureN), ObjectType: "email", Metric: metric, EventTime: when,
		ReceivedAt: when.Add(time.Second), Raw: json.RawMessage(`{}`), Recipient: ptr("a@gmail.com")}
	if delivery != "" {
		r.DeliveryID = ptr(delivery)
	}
	for _, o := range opts {
		o(&r)
	}
	return r
}

func failure(msg string) func(*warehouse.Row) {
	return func(r *warehouse.Row) { r.FailureMessage = ptr(msg) }
}
func backfilled(r *warehouse.Row) {
	r.Source = ptr(warehouse.SourceBackfill)
	r.EventID = "backfill-" + r.EventID
	r.Proxied, r.Prefetched, r.Machine = nil, nil, nil
	r.ReceivedAt = r.ReceivedAt.Add(30 * 24 * time.Hour)
}
func channel(c string) func(*warehouse.Row) { return func(r *warehouse.Row) { r.ObjectType = c } }
func ws(name string) func(*warehouse.Row)   { return func(r *warehouse.Row) { r.Workspace = ptr(name) } }

// The scenario: what arrives at each scheduled run, in order.
type batch struct {
	name    string
	runTime time.Time
	rows    []warehouse.Row
}

func scenario() []batch {
	c31 := campaign(31)
	cross := []warehouse.Row{ // sent 23:50, opened and clicked after midnight
		wev("cross", "sent", at(0, 23, 50), c31),
		wev("cross", "delivered", at(0, 23, 51), c31),
		wev("cross", "opened", at(0, 23, 52), c31, proxied),
		wev("cross", "opened", at(1, 0, 10), c31),
		wev("cross", "clicked", at(1, 0, 11), c31, machine),
		wev("cross", "clicked", at(1, 0, 20), c31),
	}
	dup := wev("dup", "sent", at(1, 9, 0), campaign(32), to("x@hotmail.com"))
	redelivered := dup
	redelivered.ReceivedAt = redelivered.ReceivedAt.Add(time.Minute)
	first := []warehouse.Row{
		dup, redelivered, // the same event stored twice
		wev("dup", "delivered", at(1, 9, 1), campaign(32), to("x@hotmail.com")),
		wev("bounce1", "sent", at(1, 10, 0), c31, to("nobody@yahoo.com")),
		wev("bounce1", "bounced", at(1, 10, 1), c31, to("nobody@yahoo.com"), failure("550 5.1.1 <nobody@yahoo.com>: Recipient address rejected")),
		wev("bounce2", "sent", at(1, 10, 0), c31, to("full@icloud.com")),
		wev("bounce2", "bounced", at(1, 10, 2), c31, to("full@icloud.com"), failure("452 4.2.2 Mailbox full")),
		wev("bounce3", "sent", at(1, 10, 0), c31, to("hmac:9f2c@gmx.de")),
		wev("bounce3", "bounced", at(1, 10, 3), c31, to("hmac:9f2c@gmx.de"), failure("554 5.7.1 Service unavailable; client host blocked")),
		wev("bounce4", "sent", at(1, 10, 0), c31, to("who@example.com")),
		wev("bounce4", "bounced", at(1, 10, 4), c31, to("who@example.com")),
		wev("sms1", "sent", at(1, 11, 0), channel("sms"), to("+4915112345678"), ws("eu")),
		wev("sms1", "delivered", at(1, 11, 1), channel("sms"), to("+4915112345678"), ws("eu")),
		wev("nosend", "opened", at(2, 8, 0), c31), // no send event: counts on its first event's day
		wev("probe", "sent", at(2, 8, 0), func(r *warehouse.Row) { r.Source = ptr(warehouse.SourceProbe) }),
	}
	late := []warehouse.Row{ // ten days on
		wev("dup", "opened", at(11, 7, 0), campaign(32), to("x@hotmail.com")),
		wev("dup", "converted", at(11, 7, 5), campaign(32), to("x@hotmail.com")),
		wev("cross", "unsubscribed", at(11, 8, 0), c31),
	}
	// A backfill of days the scheduled runs already passed: a delivery
	// whose webhooks were lost, and copies of events the webhook stored.
	lost := []warehouse.Row{
		wev("lost", "sent", at(0, 12, 0), campaign(33), to("l@outlook.com")),
		wev("lost", "delivered", at(0, 12, 1), campaign(33), to("l@outlook.com")),
		wev("lost", "opened", at(0, 13, 0), campaign(33), to("l@outlook.com")),
	}
	var backfill []warehouse.Row
	for _, r := range lost {
		backfilled(&r)
		backfill = append(backfill, r)
	}
	for _, r := range cross[:3] { // the proxied open comes back without its flag
		backfilled(&r)
		backfill = append(backfill, r)
	}
	return []batch{
		{"first day", at(1, 0, 0), cross[:3]},
		{"cross midnight", at(2, 0, 0), cross[3:]},
		{"next days", at(3, 0, 0), first},
		{"late events", at(12, 0, 0), late},
		{"backfill", at(0, 0, 0), backfill}, // a backfill run: @run_time in the past
	}
}

// TestMergeMatchesLocal runs the committed MERGE in bqfake after each batch
// arrives, twice, and compares the table with the model evaluated in Go over
// all events at once: cross-midnight, late, backfilled, duplicated and
// probe events all give the same rows.
func TestMergeMatchesLocal(t *testing.T) {
	w := newFakeWarehouse(t)
	var all []warehouse.Row
	for _, b := range scenario() {
		w.insert(b.rows...)
		all = append(all, b.rows...)
		w.merge(b.runTime)
		once := w.tableRows()
		w.merge(b.runTime)
		if twice := w.tableRows(); !reflect.DeepEqual(once, twice) {
			t.Errorf("after %s: a second run changed the table:\n%v\n%v", b.name, once, twice)
		}
	}
	got := w.tableRows()
	diffRows(t, "merged table", got, localRows(all, modelNow))

	// The model as one query over all events (what a view would be) agrees.
	view := w.query(template(DeliveriesSQL("`"+tableVar+"`", "event_time >= TIMESTAMP '2000-01-01'")))
	var viewRows []map[string]string
	for _, r := range view {
		m := map[string]string{}
		for i, c := range Model {
			m[c.Name] = valueText(r[i])
		}
		viewRows = append(viewRows, m)
	}
	sort.Slice(viewRows, func(i, j int) bool {
		return viewRows[i]["workspace"]+viewRows[i]["delivery_id"] < viewRows[j]["workspace"]+viewRows[j]["delivery_id"]
	})
	diffRows(t, "one query", viewRows, localRows(all, modelNow))

	want := map[string]map[string]string{
		"cross":   {"send_day": "2026-03-01", "first_opened_at": "2026-03-01T23:52:00Z", "first_human_opened_at": "2026-03-02T00:10:00Z", "first_human_clicked_at": "2026-03-02T00:20:00Z", "seconds_to_human_open": "1140", "unsubscribed_at": "2026-03-12T08:00:00Z", "mailbox_provider": "google"},
		"dup":     {"send_day": "2026-03-02", "first_human_opened_at": "2026-03-12T07:00:00Z", "converted_at": "2026-03-12T07:05:00Z", "mailbox_provider": "microsoft"},
		"bounce2": {"bounce_class": "soft", "smtp_code": "452", "enhanced_status_code": "4.2.2", "mailbox_provider": "apple"},
		"bounce3": {"bounce_class": "blocked", "smtp_code": "554", "mailbox_provider": "gmx", "recipient_domain": "gmx.de"},
		"bounce4": {"bounce_class": "unknown", "smtp_code": "NULL", "mailbox_provider": "other"},
		"sms1":    {"workspace": "eu", "channel": "sms", "recipient_domain": "NULL", "mailbox_provider": "NULL", "bounce_class": "NULL"},
		"nosend":  {"send_day": "2026-03-03", "sent_at": "NULL"},
		"lost":    {"send_day": "2026-03-01", "sent_at": "2026-03-01T12:00:00Z", "message_ref": "33", "settled": "true"},
		"bounce1": {"bounce_class": "hard", "smtp_code": "550", "enhanced_status_code": "5.1.1", "mailbox_provider": "yahoo", "settled": "false"},
	}
	found := map[string]bool{}
	for _, r := range got {
		found[r["delivery_id"]] = true
		for col, v := range want[r["delivery_id"]] {
			if r[col] != v {
				t.Errorf("%s: %s = %s, want %s", r["delivery_id"], col, r[col], v)
			}
		}
	}
	for id := range want {
		if !found[id] {
			t.Errorf("no row for %s", id)
		}
	}
	if found["probe"] {
		t.Error("a doctor probe has a row")
	}

	// Days later, a run with no new events settles the rows whose send day
	// has passed SettleDays.
	w.now = modelNow.AddDate(0, 0, 10)
	w.merge(w.now)
	diffRows(t, "settled later", w.tableRows(), localRows(all, w.now))
	w.now = modelNow

	// Every grouping and the daily views: the same figures from the table
	// in bqfake and from the Go evaluation, and the groups add up.
	ds := Deliveries(Dedupe(all), modelNow)
	from, until := at(-1, 0, 0), at(30, 0, 0)
	rg := Range{From: from, Until: until}
	params := []bigquery.QueryParameter{{Name: "from", Value: from}, {Name: "until", Value: until}}
	for _, by := range ByNames {
		q, _ := By(by)
		got := decodeResults(t, q, w.query(SQL(q, "`p.ds.deliveries`", RangeFilter), params...))
		want := EvaluateDeliveries(ds, q, rg)
		if !reflect.DeepEqual(resultsText(got), resultsText(want)) {
			t.Errorf("--by %s: bqfake\n%v\nlocal\n%v", by, resultsText(got), resultsText(want))
		}
		checkSums(t, by, q, want, EvaluateDeliveries(ds, q.Scope(), rg)[0])
	}
	for _, v := range []struct {
		name string
		q    Query
	}{{"delivery_funnel_daily", FunnelDaily}, {"deliverability_daily", DeliverabilityDaily}} {
		got := decodeResults(t, v.q, w.query("SELECT "+strings.Join(v.q.Columns(), ", ")+" FROM `p.ds."+v.name+"`"))
		want := EvaluateDeliveries(ds, v.q, Range{From: modelNow.Truncate(24*time.Hour).AddDate(0, 0, -400)})
		if !reflect.DeepEqual(resultsText(got), resultsText(want)) {
			t.Errorf("view %s: bqfake\n%v\nlocal\n%v", v.name, resultsText(got), resultsText(want))
		}
	}
}

// The daily funnel view shows each message's and action's name beside its
// ID, from message_names, in the message's workspace only.
func TestFunnelViewNames(t *testing.T) {
	w := newFakeWarehouse(t)
	w.insert(scenario()[0].rows...)
	w.insert(wev("act", "sent", at(0, 9, 0), campaign(31), func(r *warehouse.Row) { r.ActionID = ptr(int64(7)) }))
	w.merge(at(1, 0, 0))
	ins := w.client.Dataset("ds").Table("message_names").Inserter()
	for _, r := range []names.Record{
		{Workspace: "default", Kind: names.Campaign, ID: "31", Name: ptr("Welcome series"), RefreshedAt: modelNow},
		{Workspace: "eu", Kind: names.Campaign, ID: "31", Name: ptr("Someone else's 31"), RefreshedAt: modelNow},
		{Workspace: "default", Kind: names.Action, ID: "7", Name: ptr("Day 1 email"), ParentID: ptr("31"), RefreshedAt: modelNow},
	} {
		row := map[string]bigquery.Value{"workspace": r.Workspace, "kind": string(r.Kind), "id": r.ID, "name": *r.Name, "refreshed_at": r.RefreshedAt}
		if r.ParentID != nil {
			row["parent_id"] = *r.ParentID
		}
		if err := ins.Put(t.Context(), &bigquery.ValuesSaver{Schema: names.Schema(), Row: rowOf(names.Schema(), row)}); err != nil {
			t.Fatal(err)
		}
	}
	got := w.query("SELECT message_ref, message_name, action_id, action_name, sent FROM `p.ds.delivery_funnel_daily`")
	want := [][]bigquery.Value{{"31", "Welcome series", nil, nil, int64(1)}, {"31", "Welcome series", int64(7), "Day 1 email", int64(1)}}
	sort.Slice(got, func(i, j int) bool { return got[i][2] == nil })
	if !reflect.DeepEqual(got, want) {
		t.Errorf("delivery_funnel_daily: got %v, want %v", got, want)
	}
	got = w.query("SELECT delivery_id, message_name, action_name FROM `p.ds.deliveries_named` ORDER BY delivery_id")
	want = [][]bigquery.Value{{"act", "Welcome series", "Day 1 email"}, {"cross", "Welcome series", nil}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("deliveries_named: got %v, want %v", got, want)
	}
	if n := len(w.query("SELECT * FROM `p.ds.deliveries_named`")[0]); n != len(Model)+2 {
		t.Errorf("deliveries_named has %d columns, want the model's %d and two names", n, len(Model))
	}
}

// checkSums: groups add up to the total, and every rate is within 0..1.
func checkSums(t *testing.T, by string, q Query, groups []Result, total Result) {
	t.Helper()
	sum := make([]int64, len(q.Stages))
	for _, g := range groups {
		for i, c := range g.Counts {
			sum[i] += c
		}
		for i, r := range g.Rates {
			if r != nil && (*r < 0 || *r > 1) {
				t.Errorf("--by %s %q: %s = %v", by, g.Key, q.Rates[i].Name, *r)
			}
		}
	}
	if !reflect.DeepEqual(sum, total.Counts) {
		t.Errorf("--by %s: groups add up to %v, total %v", by, sum, total.Counts)
	}
}

func resultsText(rs []Result) []string {
	var out []string
	for _, r := range rs {
		s := strings.Join(r.Key, "|") + ":"
		for _, c := range r.Counts {
			s += " " + strconv.FormatInt(c, 10)
		}
		for _, p := range r.Rates {
			if p == nil {
				s += " -"
			} else {
				s += " " + strconv.FormatFloat(*p, 'f', 6, 64)
			}
		}
		out = append(out, s)
	}
	return out
}

func decodeResults(t *testing.T, q Query, rows [][]bigquery.Value) []Result {
	t.Helper()
	var out []Result
	nd, ns := len(q.Dims), len(q.Stages)
	for _, row := range rows {
		res := Result{}
		for i := range nd {
			if row[i] == nil {
				res.Key = append(res.Key, "")
			} else {
				res.Key = append(res.Key, valueText(row[i]))
			}
		}
		for i := range ns {
			res.Counts = append(res.Counts, row[nd+i].(int64))
		}
		for i := range q.Rates {
			if v, ok := row[nd+ns+i].(float64); ok {
				res.Rates = append(res.Rates, &v)
			} else {
				res.Rates = append(res.Rates, nil)
			}
		}
		out = append(out, res)
	}
	SortResults(out)
	return out
}

func rowOf(schema bigquery.Schema, m map[string]bigquery.Value) []bigquery.Value {
	out := make([]bigquery.Value, len(schema))
	for i, f := range schema {
		out[i] = m[f.Name]
	}
	return out
}

// TestLinksMatchLocal: the per-link SQL in bqfake and EvaluateLinks agree,
// clicks after midnight and days later count for the send day's cohort,
// and a machine click is not a human one.
func TestLinksMatchLocal(t *testing.T) {
	w := newFakeWarehouse(t)
	link := func(id int64, href string) func(*warehouse.Row) {
		return func(r *warehouse.Row) { r.LinkID, r.Href = ptr(id), ptr(href) }
	}
	c31 := campaign(31)
	rows := []warehouse.Row{
		wev("a", "sent", at(0, 23, 0), c31), wev("a", "delivered", at(0, 23, 1), c31),
		wev("a", "clicked", at(1, 0, 5), c31, link(1, "https://shop.example/sale")),
		wev("a", "clicked", at(1, 0, 6), c31, link(1, "https://shop.example/sale")),
		wev("a", "clicked", at(8, 9, 0), c31, link(2, "https://shop.example/help")),
		wev("b", "sent", at(0, 10, 0), c31), wev("b", "delivered", at(0, 10, 1), c31),
		wev("b", "clicked", at(0, 10, 2), c31, link(1, "https://shop.example/sale"), machine),
		wev("c", "sent", at(0, 10, 0), c31), // not delivered, clicked anyway
		wev("c", "clicked", at(0, 11, 0), c31, link(1, "https://shop.example/sale")),
		wev("other", "sent", at(0, 10, 0), campaign(32)), wev("other", "delivered", at(0, 10, 0), campaign(32)),
		wev("other", "clicked", at(0, 10, 5), campaign(32), link(1, "https://shop.example/sale")),
		wev("late", "sent", at(3, 10, 0), c31), // sent after the range
		wev("late", "clicked", at(3, 10, 5), c31, link(1, "https://shop.example/sale")),
	}
	w.insert(rows...)
	w.merge(at(0, 0, 0))
	m := Message{"campaign", "31"}
	from, until := at(0, 0, 0), at(2, 0, 0)
	rg := Range{From: from, Until: until}
	params := []bigquery.QueryParameter{{Name: "from", Value: from}, {Name: "until", Value: until},
		{Name: "kind", Value: m.Kind}, {Name: "ref", Value: m.Ref}}
	total := decodeResults(t, Total, w.query(SQL(Total, "`p.ds.deliveries`", MessageFilter), params...))[0]
	delivered := total.Counts[1]
	var got []Link
	for _, r := range w.query(LinkSQL("`p.ds.events_deduped`", "`p.ds.deliveries`"), params...) {
		s := func(v bigquery.Value) string {
			if v == nil {
				return ""
			}
			return v.(string)
		}
		got = append(got, LinkFromSQL(s(r[0]), s(r[1]), r[2].(int64), r[3].(int64), r[4].(int64), r[5].(int64), r[6].(int64), r[7].(time.Time), delivered))
	}
	SortLinks(got)
	want := EvaluateLinks(Dedupe(rows), Deliveries(Dedupe(rows), modelNow), m, rg)
	if fmt.Sprintf("%+v", linkText(got)) != fmt.Sprintf("%+v", linkText(want)) {
		t.Errorf("bqfake %+v\nlocal %+v", linkText(got), linkText(want))
	}
	wantText := []string{
		"1 https://shop.example/sale clicked=3 human=2 clicks=4 humanClicks=3 rate=0.50 first=2026-03-01T10:02:00Z",
		"2 https://shop.example/help clicked=1 human=1 clicks=1 humanClicks=1 rate=0.50 first=2026-03-09T09:00:00Z",
	}
	if !reflect.DeepEqual(linkText(want), wantText) {
		t.Errorf("links %v, want %v", linkText(want), wantText)
	}
}

func linkText(ls []Link) []string {
	var out []string
	for _, l := range ls {
		rate := "-"
		if l.HumanClickRate != nil {
			rate = strconv.FormatFloat(*l.HumanClickRate, 'f', 2, 64)
		}
		out = append(out, fmt.Sprintf("%s %s clicked=%d human=%d clicks=%d humanClicks=%d rate=%s first=%s", l.LinkID, l.Href,
			l.Clicked, l.HumanClicked, l.Clicks, l.HumanClicks, rate, l.FirstClickAt.Format(time.RFC3339)))
	}
	return out
}
