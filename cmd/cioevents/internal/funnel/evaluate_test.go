package funnel

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/cioevents/cioevents/shared/warehouse"
)

func ptr[T any](v T) *T { return &v }

var day1 = time.Date(2026, 1, 1, 10, 0, 0, 0, time.UTC)

// ev builds a row; opts tweak it.
func ev(delivery, objectType, metric string, at time.Time, opts ...func(*warehouse.Row)) warehouse.Row {
	r := warehouse.Row{EventID: delivery + metric + at.String(), ObjectType: objectType, Metric: metric, EventTime: at}
	if delivery != "" {
		r.DeliveryID = ptr(delivery)
	}
	for _, o := range opts {
		o(&r)
	}
	return r
}

func campaign(id int64) func(*warehouse.Row) {
	return func(r *warehouse.Row) { r.CampaignID = ptr(id) }
}
func to(addr string) func(*warehouse.Row) { return func(r *warehouse.Row) { r.Recipient = ptr(addr) } }
func set(f func(*warehouse.Row) **bool) func(*warehouse.Row) {
	return func(r *warehouse.Row) { *f(r) = ptr(true) }
}

var (
	proxied    = set(func(r *warehouse.Row) **bool { return &r.Proxied })
	prefetched = set(func(r *warehouse.Row) **bool { return &r.Prefetched })
	machine    = set(func(r *warehouse.Row) **bool { return &r.Machine })
)

func counts(q Query, res Result) map[string]int64 {
	m := map[string]int64{}
	for i, s := range q.Stages {
		if res.Counts[i] != 0 {
			m[s.Name] = res.Counts[i]
		}
	}
	return m
}

func TestEvaluate(t *testing.T) {
	rows := []warehouse.Row{
		// d1: sent, delivered, opened three times (one by a human), clicked by a scanner only.
		ev("d1", "email", "sent", day1, campaign(42), to("a@Gmail.com")),
		ev("d1", "email", "delivered", day1, campaign(42), to("a@Gmail.com")),
		ev("d1", "email", "opened", day1, campaign(42), to("a@Gmail.com"), proxied),
		ev("d1", "email", "opened", day1, campaign(42), to("a@Gmail.com"), prefetched),
		ev("d1", "email", "opened", day1, campaign(42), to("a@Gmail.com")),
		ev("d1", "email", "clicked", day1, campaign(42), to("a@Gmail.com"), machine),
		// d2: sent, bounced twice, spam complaint: each once.
		ev("d2", "email", "sent", day1, campaign(42), to("b@yahoo.com")),
		ev("d2", "email", "bounced", day1, campaign(42), to("b@yahoo.com")),
		ev("d2", "email", "bounced", day1, campaign(42), to("b@yahoo.com")),
		// d3: an sms of another campaign, next day, human click.
		ev("d3", "sms", "delivered", day1.Add(24*time.Hour), campaign(7)),
		ev("d3", "sms", "clicked", day1.Add(24*time.Hour), campaign(7)),
		// no campaign, failed as undeliverable.
		ev("d4", "email", "undeliverable", day1, to("c@gmail.com")),
		// no delivery: not a delivery, counted nowhere.
		ev("", "customer", "unsubscribed", day1),
		// outside the range.
		ev("d5", "email", "sent", day1.Add(-48*time.Hour), campaign(42)),
	}
	rg := Range{From: day1.Truncate(24 * time.Hour), Until: day1.Add(72 * time.Hour)}

	byCampaign, _ := By("campaign")
	got := Evaluate(rows, byCampaign, rg)
	if len(got) != 3 || !reflect.DeepEqual(got[0].Key, []string{""}) || !reflect.DeepEqual(got[1].Key, []string{"7"}) ||
		!reflect.DeepEqual(got[2].Key, []string{"42"}) {
		t.Fatalf("campaign keys: %+v, want (none), 7, 42", got)
	}
	if c, want := counts(byCampaign, got[0]), map[string]int64{"failed": 1}; !reflect.DeepEqual(c, want) {
		t.Errorf("no campaign: %v, want %v", c, want)
	}
	got = got[1:]
	if c, want := counts(byCampaign, got[1]), map[string]int64{"sent": 2, "delivered": 1, "opened": 1, "human_opened": 1,
		"clicked": 1, "bounced": 1}; !reflect.DeepEqual(c, want) {
		t.Errorf("campaign 42: %v, want %v", c, want)
	}
	if c, want := counts(byCampaign, got[0]), map[string]int64{"delivered": 1, "clicked": 1, "human_clicked": 1}; !reflect.DeepEqual(c, want) {
		t.Errorf("campaign 7: %v, want %v", c, want)
	}
	// rates: bounce 1/2, human open 1/1.
	rate := func(q Query, r Result, name string) *float64 {
		for i, x := range q.Rates {
			if x.Name == name {
				return r.Rates[i]
			}
		}
		t.Fatalf("no rate %s", name)
		return nil
	}
	if r := rate(byCampaign, got[1], "bounce_rate"); r == nil || *r != 0.5 {
		t.Errorf("bounce_rate %v, want 0.5", r)
	}
	if r := rate(byCampaign, got[0], "bounce_rate"); r != nil {
		t.Errorf("bounce_rate with nothing sent is %v, want NULL", *r)
	}

	total := Evaluate(rows, Total, rg)
	if c, want := counts(Total, total[0]), map[string]int64{"sent": 2, "delivered": 2, "opened": 1, "human_opened": 1,
		"clicked": 2, "human_clicked": 1, "bounced": 1, "failed": 1}; !reflect.DeepEqual(c, want) {
		t.Errorf("total: %v, want %v", c, want)
	}
	if empty := Evaluate(nil, Total, rg); len(empty) != 1 || empty[0].Counts[0] != 0 {
		t.Errorf("total over nothing: %+v, want one zero row", empty)
	}

	byDomain, _ := By("domain")
	var keys []string
	for _, r := range Evaluate(rows, byDomain, rg) {
		keys = append(keys, r.Key[0])
	}
	if want := []string{"gmail.com", "yahoo.com"}; !reflect.DeepEqual(keys, want) {
		t.Errorf("domains %v, want %v (lower-cased, email only)", keys, want)
	}

	daily := Evaluate(rows, FunnelDaily, rg)
	if len(daily) != 3 {
		t.Errorf("funnel daily: %d rows, want 3 (day1 campaign 42, day1 no message, day2 campaign 7): %+v", len(daily), daily)
	}
}

func TestEvaluateEngagement(t *testing.T) {
	cio := func(id, email string) func(*warehouse.Row) {
		return func(r *warehouse.Row) { r.CioID, r.Email = ptr(id), ptr(email) }
	}
	rows := []warehouse.Row{
		ev("d1", "email", "delivered", day1, cio("c1", "old@x.com")),
		ev("d1", "email", "opened", day1.Add(time.Hour), cio("c1", "new@x.com"), prefetched),
		ev("d2", "email", "clicked", day1.Add(2*time.Hour), cio("c1", "new@x.com")),
	}
	got := EvaluateEngagement(rows, Range{})
	if len(got) != 1 || got[0].Email != "new@x.com" {
		t.Fatalf("%+v", got)
	}
	want := []time.Time{day1, day1.Add(time.Hour), {}, day1.Add(2 * time.Hour), day1.Add(2 * time.Hour)}
	if !reflect.DeepEqual(got[0].Last, want) {
		t.Errorf("last %v, want %v", got[0].Last, want)
	}
}

func in(ws string) func(*warehouse.Row) { return func(r *warehouse.Row) { r.Workspace = ptr(ws) } }

// Campaign 42 of one workspace is not campaign 42 of another: the daily
// views keep them apart. A row from before the column is default's.
func TestDailyViewsKeepWorkspacesApart(t *testing.T) {
	rows := []warehouse.Row{
		ev("a1", "email", "delivered", day1, campaign(42), to("a@gmail.com"), in("shop")),
		ev("b1", "email", "delivered", day1, campaign(42), to("b@gmail.com"), in("b2b")),
		ev("b2", "email", "delivered", day1, campaign(42), to("c@gmail.com"), in("b2b")),
		ev("n1", "email", "delivered", day1, campaign(42), to("d@gmail.com")), // before the column: NULL
	}
	for _, q := range []Query{FunnelDaily, DeliverabilityDaily} {
		got := map[string]int64{}
		for _, r := range Evaluate(rows, q, Range{}) {
			got[r.Key[1]] = counts(q, r)["delivered"]
		}
		if want := map[string]int64{"shop": 1, "b2b": 2, "default": 1}; !reflect.DeepEqual(got, want) {
			t.Errorf("%v: delivered by workspace %v, want %v", q.Columns()[:2], got, want)
		}
	}
}

// Customer c1 of workspace shop is not customer c1 of b2b; a row from before
// the column (NULL) is default's, the same person as default's c1.
func TestEngagementPerWorkspace(t *testing.T) {
	cio := func(id string) func(*warehouse.Row) { return func(r *warehouse.Row) { r.CioID = ptr(id) } }
	rows := []warehouse.Row{
		ev("d1", "email", "opened", day1, cio("c1"), in("shop")),
		ev("d2", "email", "clicked", day1.Add(time.Hour), cio("c1"), in("b2b")),
		ev("d3", "email", "delivered", day1.Add(2*time.Hour), cio("c1")),
		ev("d4", "email", "delivered", day1.Add(3*time.Hour), cio("c1"), in("default")),
		ev("d5", "email", "opened", day1.Add(4*time.Hour), cio("c1")),
	}
	type person struct {
		ws                      string
		delivered, opened, clic time.Time
	}
	var got []person
	for _, p := range EvaluateEngagement(rows, Range{}) {
		if p.CioID != "c1" {
			t.Fatalf("cio_id %q", p.CioID)
		}
		got = append(got, person{p.Workspace, p.Last[0], p.Last[1], p.Last[3]})
	}
	want := []person{
		{ws: "b2b", clic: day1.Add(time.Hour)},
		{ws: "default", delivered: day1.Add(3 * time.Hour), opened: day1.Add(4 * time.Hour)},
		{ws: "shop", opened: day1},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v\nwant %+v", got, want)
	}
}

// A doctor probe never counts, even one shaped like a delivery of a person;
// webhook rows, including those from before the source column, do.
func TestProbesLeftOut(t *testing.T) {
	probe := func(r *warehouse.Row) { r.Source = ptr(warehouse.SourceProbe) }
	person := func(r *warehouse.Row) { r.CioID = ptr("c1") }
	rows := []warehouse.Row{
		ev("d1", "email", "sent", day1, person, probe),
		ev("d1", "email", "delivered", day1, person, probe),
		ev("d2", "email", "sent", day1),
		ev("d3", "email", "sent", day1, func(r *warehouse.Row) { r.Source = ptr(warehouse.SourceWebhook) }),
	}
	res := Evaluate(rows, Total, Range{})
	if got := counts(Total, res[0]); !reflect.DeepEqual(got, map[string]int64{"sent": 2}) {
		t.Errorf("Total = %v, want only the two webhook deliveries sent", got)
	}
	if got := EvaluateEngagement(rows, Range{}); len(got) != 0 {
		t.Errorf("person_engagement has %v; the only person is a probe's", got)
	}
	for name, sql := range map[string]string{"person_engagement": EngagementSQL("t", "TRUE"), "deliveries": DeliveriesSQL("t", "TRUE"),
		"MERGE": MergeTemplate()} {
		if !strings.Contains(sql, notProbe) {
			t.Errorf("%s does not leave probes out (%s)", name, notProbe)
		}
	}
}
