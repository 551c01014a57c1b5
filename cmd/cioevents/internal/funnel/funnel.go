// Package funnel defines, once, the figures people read from the events
// table. The deliveries model (model.go) makes one row per delivery with the
// time of each stage (sent → delivered → opened → clicked → converted, by
// everyone and by humans only, and its failures); every figure counts those
// rows, grouped by a property of the delivery, on the delivery's send day.
// The BigQuery SQL (DeliveriesSQL, MergeSQL, SQL, ViewFiles), the local
// evaluation (Deliveries, Evaluate) and docs/models.md are all generated
// from the definitions here, so a figure means the same in the warehouse
// and in `cioevents report`.
//
// Two rules keep the figures adding up. A rate counts one set of deliveries:
// those that reached its denominator stage, and of them the ones that also
// reached its numerator stage, so no rate exceeds 100 %. And a delivery is
// in one group of any grouping (its send day, campaign, channel, domain,
// provider: one value per delivery, NULL shown as "(none)"), with all of its
// stages however late they came, so the groups add up to the total.
package funnel

// Stage is one figure of the funnel: the number of distinct deliveries
// (delivery_id) that had at least one event counting for it. A delivery
// opened five times counts once; so does one that bounced twice.
type Stage struct {
	Name string
	// At is the deliveries model's column holding when the delivery first
	// reached the stage.
	At string
	// Metrics are the event metrics that count.
	Metrics []string
	// Exclude names BOOLEAN columns: an event with any of them TRUE does
	// not count (Apple's Mail Privacy Protection prefetch, link scanners).
	Exclude []string
	Desc    string
}

// Stages lists every figure, in funnel order. Package variables that read
// it (stagesNamed) are initialized after it, so they copy At too.
var Stages = withAt([]Stage{
	{Name: "sent", Metrics: []string{"sent"}, Desc: "Deliveries sent."},
	{Name: "delivered", Metrics: []string{"delivered"}, Desc: "Deliveries accepted by the recipient's server or device."},
	{Name: "opened", Metrics: []string{"opened"}, Desc: "Deliveries opened at least once, by anyone or anything."},
	{Name: "human_opened", Metrics: []string{"opened"}, Exclude: []string{"proxied", "prefetched"},
		Desc: "Deliveries with an open that was neither proxied nor prefetched."},
	{Name: "clicked", Metrics: []string{"clicked"}, Desc: "Deliveries with at least one click."},
	{Name: "human_clicked", Metrics: []string{"clicked"}, Exclude: []string{"machine"},
		Desc: "Deliveries with a click not flagged as machine-generated."},
	{Name: "converted", Metrics: []string{"converted"}, Desc: "Deliveries credited with a conversion."},
	{Name: "unsubscribed", Metrics: []string{"unsubscribed"}, Desc: "Deliveries whose recipient unsubscribed through them."},
	{Name: "bounced", Metrics: []string{"bounced"}, Desc: "Deliveries that bounced."},
	{Name: "spammed", Metrics: []string{"spammed"}, Desc: "Deliveries marked as spam by the recipient."},
	{Name: "failed", Metrics: []string{"failed", "undeliverable"}, Desc: "Deliveries that could not be sent (failed or undeliverable)."},
	{Name: "dropped", Metrics: []string{"dropped"}, Desc: "Deliveries not sent because the address is suppressed."},
})

// withAt fills in each stage's At from its name.
func withAt(ss []Stage) []Stage {
	for i := range ss {
		ss[i].At = stageAt(ss[i].Name)
	}
	return ss
}

// Rate is, of the deliveries that reached stage Den, the share that also
// reached stage Num; NULL (nil) when none reached Den.
type Rate struct {
	Name, Num, Den string
	Desc           string
}

// Rates lists the ratios. Bounces are measured against what was sent, spam
// complaints against what was delivered: that is the complaint rate mailbox
// providers hold senders to (Gmail and Yahoo: under 0.3 %).
var Rates = []Rate{
	{Name: "delivery_rate", Num: "delivered", Den: "sent", Desc: "Of the deliveries sent, the share also delivered."},
	{Name: "human_open_rate", Num: "human_opened", Den: "delivered", Desc: "Of the deliveries delivered, the share also opened by a human."},
	{Name: "human_click_rate", Num: "human_clicked", Den: "delivered", Desc: "Of the deliveries delivered, the share also clicked by a human."},
	{Name: "conversion_rate", Num: "converted", Den: "delivered", Desc: "Of the deliveries delivered, the share also converted."},
	{Name: "bounce_rate", Num: "bounced", Den: "sent", Desc: "Of the deliveries sent, the share that also bounced."},
	{Name: "spam_rate", Num: "spammed", Den: "delivered", Desc: "Of the deliveries delivered, the share also marked as spam."},
	{Name: "unsubscribe_rate", Num: "unsubscribed", Den: "delivered", Desc: "Of the deliveries delivered, the share whose recipient also unsubscribed through them."},
}

// messageKinds says which message a delivery belongs to, first match wins.
var messageKinds = []struct{ kind, column string }{
	{"campaign", "campaign_id"},
	{"broadcast", "broadcast_id"},
	{"newsletter", "newsletter_id"},
	{"transactional", "transactional_message_id"},
}

// Query is one grouping of the figures.
type Query struct {
	Dims []Dimension
	// EmailOnly keeps email events only (deliverability by domain).
	EmailOnly bool
	Stages    []Stage
	Rates     []Rate
}

// Scope is q's ungrouped total: the whole funnel over the same events.
func (q Query) Scope() Query {
	return Query{EmailOnly: q.EmailOnly, Stages: Stages, Rates: Rates}
}

// Columns names the result columns: dimensions, stages, rates.
func (q Query) Columns() []string {
	var out []string
	for _, d := range q.Dims {
		out = append(out, d.Name)
	}
	for _, s := range q.Stages {
		out = append(out, s.Name)
	}
	for _, r := range q.Rates {
		out = append(out, r.Name)
	}
	return out
}

func stagesNamed(names ...string) []Stage {
	var out []Stage
	for _, n := range names {
		out = append(out, stage(n))
	}
	return out
}

func stage(name string) Stage {
	for _, s := range Stages {
		if s.Name == name {
			return s
		}
	}
	panic("funnel: no stage " + name)
}

func ratesNamed(names ...string) []Rate {
	var out []Rate
	for _, n := range names {
		for _, r := range Rates {
			if r.Name == n {
				out = append(out, r)
			}
		}
	}
	if len(out) != len(names) {
		panic("funnel: unknown rate")
	}
	return out
}

// The queries of the views and of `cioevents report --by`.
var (
	// FunnelDaily is view delivery_funnel_daily. Campaign and other IDs
	// are per workspace, so the workspace is part of the key.
	FunnelDaily = Query{Dims: []Dimension{Day, Workspace, Channel, MessageType, MessageRef, ActionID}, Stages: Stages, Rates: Rates}
	// DeliverabilityDaily is view deliverability_daily.
	DeliverabilityDaily = Query{Dims: []Dimension{Day, Workspace, MailboxProviderD, Domain}, EmailOnly: true,
		Stages: stagesNamed("sent", "delivered", "bounced", "spammed", "dropped", "failed"),
		Rates:  ratesNamed("delivery_rate", "bounce_rate", "spam_rate")}
	// Total is the whole funnel without grouping.
	Total = Query{Stages: Stages, Rates: Rates}
)

// DailyRates is the whole funnel per send day (the report's trend), of
// email alone or of every channel, to match the table beside it.
func DailyRates(emailOnly bool) Query {
	return Query{Dims: []Dimension{Day}, EmailOnly: emailOnly, Stages: Stages, Rates: Rates}
}

// byDims are the groupings of --by that are one model column.
var byDims = []struct {
	name      string
	dim       Dimension
	emailOnly bool
}{
	{"campaign", CampaignID, false},
	{"broadcast", BroadcastID, false},
	{"newsletter", NewsletterID, false},
	{"message", MessageRef, false},
	{"channel", Channel, false},
	{"day", Day, false},
	{"domain", Domain, true},
	{"mailbox_provider", MailboxProviderD, true},
	{"bounce_class", BounceClassD, true},
	{"workspace", Workspace, false},
}

// By returns the report grouping named by --by.
func By(name string) (Query, bool) {
	for _, b := range byDims {
		if b.name == name {
			dims := []Dimension{b.dim}
			if name == "message" {
				dims = []Dimension{MessageType, MessageRef}
			}
			return Query{Dims: dims, EmailOnly: b.emailOnly, Stages: Stages, Rates: Rates}, true
		}
	}
	return Query{}, false
}

// ByNames lists what By accepts.
var ByNames = func() []string {
	var out []string
	for _, b := range byDims {
		out = append(out, b.name)
	}
	return out
}()

// Engagement is view person_engagement: per person, the last time each of
// these stages happened. A person is a cio_id within one workspace: the same
// ID in another workspace is someone else.
var Engagement = stagesNamed("delivered", "opened", "human_opened", "clicked", "human_clicked")
