package funnel

import (
	"reflect"
	"testing"
	"time"

	"github.com/cioevents/cioevents/shared/warehouse"
)

func rateOf(t *testing.T, q Query, r Result, name string) *float64 {
	t.Helper()
	for i, x := range q.Rates {
		if x.Name == name {
			return r.Rates[i]
		}
	}
	t.Fatalf("no rate %s", name)
	return nil
}

// checkAddsUp holds for any rows: every rate of every --by grouping is
// within 0..1, and the groups' counts add up to the total of its scope.
func checkAddsUp(t *testing.T, rows []warehouse.Row) {
	t.Helper()
	for _, by := range ByNames {
		q, _ := By(by)
		checkSums(t, by, q, Evaluate(rows, q, Range{}), Evaluate(rows, q.Scope(), Range{})[0])
	}
}

func TestEdgeCases(t *testing.T) {
	day2 := day1.Add(24 * time.Hour)
	tests := []struct {
		name string
		rows []warehouse.Row
		// q and the rates wanted in its only (or first) group; nil: NULL.
		by    string
		key   []string
		rates map[string]*float64
	}{
		{name: "no sends", by: "campaign", key: []string{"42"},
			rows: []warehouse.Row{
				ev("d1", "email", "delivered", day1, campaign(42)),
				ev("d1", "email", "opened", day1, campaign(42)),
				ev("d2", "email", "bounced", day1, campaign(42)),
			},
			rates: map[string]*float64{"delivery_rate": nil, "bounce_rate": nil, "human_open_rate": ptr(1.0)}},
		{name: "sends only in another channel", by: "domain", key: []string{"gmail.com"},
			rows: []warehouse.Row{
				ev("s1", "sms", "sent", day1),
				ev("s1", "sms", "delivered", day1),
				ev("e1", "email", "delivered", day1, to("a@gmail.com")),
				ev("e1", "email", "opened", day1, to("a@gmail.com")),
			},
			rates: map[string]*float64{"delivery_rate": nil, "human_open_rate": ptr(1.0)}},
		{name: "clicks without opens", by: "campaign", key: []string{"42"},
			rows: []warehouse.Row{
				ev("d1", "email", "sent", day1, campaign(42)),
				ev("d1", "email", "delivered", day1, campaign(42)),
				ev("d1", "email", "clicked", day1, campaign(42)),
				ev("d2", "email", "sent", day1, campaign(42)),
				ev("d2", "email", "delivered", day1, campaign(42)),
			},
			rates: map[string]*float64{"delivery_rate": ptr(1.0), "human_open_rate": ptr(0.0), "human_click_rate": ptr(0.5)}},
		{name: "more delivered than sent in range", by: "campaign", key: []string{"42"},
			rows: []warehouse.Row{
				ev("d1", "email", "sent", day1, campaign(42)),
				ev("d1", "email", "delivered", day1, campaign(42)),
				ev("d2", "email", "delivered", day1, campaign(42)), // sent before the range
				ev("d3", "email", "delivered", day1, campaign(42)),
			},
			rates: map[string]*float64{"delivery_rate": ptr(1.0)}},
		{name: "opens of deliveries not delivered in range", by: "workspace", key: []string{"default"},
			rows: []warehouse.Row{
				ev("d1", "email", "delivered", day1),
				ev("d2", "email", "opened", day1),
				ev("d3", "email", "opened", day1),
			},
			rates: map[string]*float64{"human_open_rate": ptr(0.0)}},
		{name: "failures without sends", by: "channel", key: []string{"email"},
			rows: []warehouse.Row{
				ev("d1", "email", "sent", day1),
				ev("d2", "email", "failed", day1),
				ev("d3", "email", "undeliverable", day1),
			},
			rates: map[string]*float64{"bounce_rate": ptr(0.0), "delivery_rate": ptr(0.0)}},
		{name: "a delivery's later event names another campaign", by: "campaign", key: []string{"7"},
			rows: []warehouse.Row{
				ev("d1", "email", "sent", day1, campaign(7)),
				ev("d1", "email", "bounced", day1.Add(time.Hour), campaign(8)),
			},
			rates: map[string]*float64{"bounce_rate": ptr(1.0)}},
		{name: "a delivery on two days counts on its send day", by: "day", key: []string{"2026-01-01"},
			rows: []warehouse.Row{
				ev("d1", "email", "sent", day1),
				ev("d1", "email", "delivered", day1),
				ev("d1", "email", "opened", day2),
			},
			rates: map[string]*float64{"delivery_rate": ptr(1.0), "human_open_rate": ptr(1.0)}},
		{name: "nothing", by: "campaign",
			rates: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkAddsUp(t, tt.rows)
			q, _ := By(tt.by)
			got := Evaluate(tt.rows, q, Range{})
			if tt.key == nil {
				if len(got) != 0 {
					t.Errorf("groups %+v, want none", got)
				}
				return
			}
			var g *Result
			for i := range got {
				if reflect.DeepEqual(got[i].Key, tt.key) {
					g = &got[i]
				}
			}
			if g == nil {
				t.Fatalf("no group %q in %+v", tt.key, got)
			}
			for name, want := range tt.rates {
				r := rateOf(t, q, *g, name)
				if (r == nil) != (want == nil) || (r != nil && *r != *want) {
					t.Errorf("%s = %v, want %v", name, deref(r), deref(want))
				}
			}
		})
	}
}

func deref(p *float64) any {
	if p == nil {
		return "NULL"
	}
	return *p
}

// A delivery whose events name two campaigns is in one group, the first
// event's; and on one day, its send day.
func TestOneGroupPerDelivery(t *testing.T) {
	rows := []warehouse.Row{
		ev("d1", "email", "sent", day1, campaign(7)),
		ev("d1", "email", "bounced", day1.Add(25*time.Hour), campaign(8)),
	}
	byCampaign, _ := By("campaign")
	got := Evaluate(rows, byCampaign, Range{})
	if len(got) != 1 || got[0].Key[0] != "7" || counts(byCampaign, got[0])["bounced"] != 1 {
		t.Errorf("by campaign %+v, want d1 in 7 only", got)
	}
	byDay, _ := By("day")
	if got := Evaluate(rows, byDay, Range{}); len(got) != 1 || got[0].Key[0] != "2026-01-01" {
		t.Errorf("by day %+v, want d1 on its send day only", got)
	}
}
