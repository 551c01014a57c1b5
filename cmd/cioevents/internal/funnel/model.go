package funnel

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"cloud.google.com/go/bigquery"
	"cloud.google.com/go/civil"

	"github.com/cioevents/cioevents/shared/warehouse"
	"github.com/cioevents/cioevents/shared/workspace"
)

// The deliveries model: one row per (workspace, delivery_id), with the time
// of each stage and what the delivery was. Every figure of the daily views
// and of `cioevents report` counts these rows, so a delivery counts on its
// send day with all of its later stages, however many days later they came.
//
// The model is defined once, below, as columns. Each column is spelled in
// GoogleSQL and in Go side by side; DeliveriesSQL, MergeSQL and the docs
// are generated from them, and Deliveries evaluates them in Go.

// ColKind says how a column is computed.
type ColKind int

// Column kinds.
const (
	// KindKey: the row's key.
	KindKey ColKind = iota
	// KindAttr: the value on the delivery's earliest event (event_time, then
	// event_id) that has one.
	KindAttr
	// KindFirst: when the delivery first reached a stage (or first had any event).
	KindFirst
	// KindBounce: read from the first bounce's failure message.
	KindBounce
	// KindDerived: a function of the other columns.
	KindDerived
)

// Column is one column of the deliveries model.
type Column struct {
	Name string
	// Type is the BigQuery type: STRING, INT64, TIMESTAMP, DATE, BOOL.
	Type string
	Kind ColKind
	Desc string

	// eventSQL / eventOf: KindKey and KindAttr, the value on one event.
	eventSQL string
	eventOf  func(r *warehouse.Row) any
	// stage: KindFirst ("" for first_event_at).
	stage string
	// derivedSQL renders a KindDerived or KindBounce column from references
	// to the others (ref maps a column name to an expression); derivedOf is
	// the same in Go.
	derivedSQL func(ref func(string) string) string
	derivedOf  func(d *Delivery) any
}

// SettleDays is how long after its send day a delivery is settled: no later
// event is expected (Customer.io reports opens and clicks for 30 days; a
// later one still updates the row, settled or not).
const SettleDays = 30

// bounceMessage is the hidden column the KindBounce columns read: the first
// bounce's failure_message (” when that bounce had none), never stored
// because it can hold the address (CIO_PII).
const bounceMessage = "bounce_message"

func i64(p *int64) any {
	if p == nil {
		return nil
	}
	return *p
}

func str(p *string) any {
	if p == nil {
		return nil
	}
	return *p
}

func nonEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// domainSQL is the recipient's domain on an email event.
const domainSQL = `IF(object_type = 'email', LOWER(REGEXP_EXTRACT(COALESCE(recipient, email), r'@([^@]+)$')), NULL)`

func stageAt(name string) string {
	switch name {
	case "opened", "human_opened", "clicked", "human_clicked":
		return "first_" + name + "_at"
	}
	return name + "_at"
}

// Model is the deliveries model's columns, in table order.
var Model = func() []Column {
	cols := []Column{
		{Name: "workspace", Type: "STRING", Kind: KindKey, Desc: "Customer.io workspace (default for rows from an unnamed key).",
			eventSQL: workspaceSQL, eventOf: func(r *warehouse.Row) any { return workspace.OrDefault(text(r.Workspace)) }},
		{Name: "delivery_id", Type: "STRING", Kind: KindKey, Desc: "Customer.io delivery: one message to one person.",
			eventSQL: "delivery_id", eventOf: func(r *warehouse.Row) any { return str(r.DeliveryID) }},
		{Name: "send_day", Type: "DATE", Kind: KindDerived, Desc: "UTC day of the send (of the first event when there is no send event): the day every figure counts the delivery on. The partition column.",
			derivedSQL: func(ref func(string) string) string {
				return "DATE(COALESCE(" + ref("sent_at") + ", " + ref("first_event_at") + "))"
			},
			derivedOf: func(d *Delivery) any {
				t := d.time("sent_at")
				if t == nil {
					t = d.time("first_event_at")
				}
				return civil.DateOf(t.UTC())
			}},
		{Name: "channel", Type: "STRING", Kind: KindAttr, Desc: "object_type: email, push, sms, in_app, webhook, slack.",
			eventSQL: "object_type", eventOf: func(r *warehouse.Row) any { return nonEmpty(r.ObjectType) }},
		{Name: "message_type", Type: "STRING", Kind: KindAttr, Desc: "campaign, broadcast, newsletter or transactional: which ID message_ref is.",
			eventSQL: messageSQL(false), eventOf: func(r *warehouse.Row) any { k, _ := messageOf(r); return nonEmpty(k) }},
		{Name: "message_ref", Type: "STRING", Kind: KindAttr, Desc: "The message's ID as text, of the kind message_type says; with message_type, the key of message_names.",
			eventSQL: messageSQL(true), eventOf: func(r *warehouse.Row) any { _, id := messageOf(r); return nonEmpty(id) }},
		{Name: "campaign_id", Type: "INT64", Kind: KindAttr, Desc: "Campaign (data.campaign_id).",
			eventSQL: "campaign_id", eventOf: func(r *warehouse.Row) any { return i64(r.CampaignID) }},
		{Name: "broadcast_id", Type: "INT64", Kind: KindAttr, Desc: "API-triggered broadcast.",
			eventSQL: "broadcast_id", eventOf: func(r *warehouse.Row) any { return i64(r.BroadcastID) }},
		{Name: "newsletter_id", Type: "INT64", Kind: KindAttr, Desc: "Newsletter.",
			eventSQL: "newsletter_id", eventOf: func(r *warehouse.Row) any { return i64(r.NewsletterID) }},
		{Name: "transactional_message_id", Type: "STRING", Kind: KindAttr, Desc: "Transactional message.",
			eventSQL: "transactional_message_id", eventOf: func(r *warehouse.Row) any { return str(r.TransactionalMessageID) }},
		{Name: "action_id", Type: "INT64", Kind: KindAttr, Desc: "Workflow action of a campaign.",
			eventSQL: "action_id", eventOf: func(r *warehouse.Row) any { return i64(r.ActionID) }},
		{Name: "journey_id", Type: "STRING", Kind: KindAttr, Desc: "Journey (one person's run through a campaign).",
			eventSQL: "journey_id", eventOf: func(r *warehouse.Row) any { return str(r.JourneyID) }},
		{Name: "recipient_domain", Type: "STRING", Kind: KindAttr, Desc: "Email only: the part after the @ of the recipient (else the person's email), lower case. Kept under CIO_PII=hash, which hashes the local part only.",
			eventSQL: domainSQL, eventOf: func(r *warehouse.Row) any {
				if r.ObjectType != "email" {
					return nil
				}
				return nonEmpty(domainOf(r))
			}},
		{Name: "mailbox_provider", Type: "STRING", Kind: KindDerived, Desc: "Mailbox provider of recipient_domain from the committed table (docs/models.md); other outside it; NULL without a domain.",
			derivedSQL: func(ref func(string) string) string { return providerSQL(ref("recipient_domain")) },
			derivedOf: func(d *Delivery) any {
				s, _ := d.Values["recipient_domain"].(string)
				return nonEmpty(MailboxProvider(s))
			}},
		{Name: "first_event_at", Type: "TIMESTAMP", Kind: KindFirst, Desc: "The delivery's earliest event."},
	}
	for _, s := range Stages {
		cols = append(cols, Column{Name: stageAt(s.Name), Type: "TIMESTAMP", Kind: KindFirst, stage: s.Name,
			Desc: "First event counting as " + s.Name + ": " + s.Desc})
	}
	secs := func(to, name, what string) Column {
		return Column{Name: name, Type: "INT64", Kind: KindDerived,
			Desc: "Seconds from delivered_at to " + to + " (" + what + "); NULL unless both happened.",
			derivedSQL: func(ref func(string) string) string {
				return "TIMESTAMP_DIFF(" + ref(to) + ", " + ref("delivered_at") + ", SECOND)"
			},
			derivedOf: func(d *Delivery) any {
				a, b := d.time(to), d.time("delivered_at")
				if a == nil || b == nil {
					return nil
				}
				return int64(a.Sub(*b) / time.Second)
			}}
	}
	cols = append(cols,
		secs("first_human_opened_at", "seconds_to_human_open", "the first human open"),
		secs("first_human_clicked_at", "seconds_to_human_click", "the first human click"),
		Column{Name: "smtp_code", Type: "STRING", Kind: KindBounce, Desc: "The SMTP reply code (e.g. 550) in the first bounce's message.",
			derivedSQL: func(ref func(string) string) string {
				return "REGEXP_EXTRACT(" + ref(bounceMessage) + ", r'" + smtpCodePattern + "')"
			},
			derivedOf: func(d *Delivery) any { return nonEmpty(extract(smtpCodeRE, d.bounceMsg)) }},
		Column{Name: "enhanced_status_code", Type: "STRING", Kind: KindBounce, Desc: "The RFC 3463 enhanced status code (e.g. 5.1.1) in the first bounce's message.",
			derivedSQL: func(ref func(string) string) string {
				return "REGEXP_EXTRACT(" + ref(bounceMessage) + ", r'" + enhancedCodePattern + "')"
			},
			derivedOf: func(d *Delivery) any { return nonEmpty(extract(enhancedCodeRE, d.bounceMsg)) }},
		Column{Name: "bounce_class", Type: "STRING", Kind: KindBounce, Desc: "hard, soft, blocked, other or unknown (docs/models.md); NULL unless bounced.",
			derivedSQL: func(ref func(string) string) string { return bounceClassSQL(ref(bounceMessage), ref("bounced_at")) },
			derivedOf: func(d *Delivery) any {
				if d.time("bounced_at") == nil {
					return nil
				}
				return BounceClass(d.bounceMsg)
			}},
		Column{Name: "settled", Type: "BOOL", Kind: KindDerived, Desc: fmt.Sprintf("The send day is more than %d days ago: no later event is expected, the row's figures are final.", SettleDays),
			derivedSQL: func(ref func(string) string) string {
				return fmt.Sprintf("DATE(COALESCE(%s, %s)) < DATE_SUB(CURRENT_DATE(), INTERVAL %d DAY)", ref("sent_at"), ref("first_event_at"), SettleDays)
			},
			derivedOf: func(d *Delivery) any {
				day := d.Values["send_day"].(civil.Date)
				return day.Before(civil.DateOf(d.now.UTC()).AddDays(-SettleDays))
			}},
	)
	return cols
}()

// ModelColumn returns the column named name.
func ModelColumn(name string) Column {
	for _, c := range Model {
		if c.Name == name {
			return c
		}
	}
	panic("funnel: no model column " + name)
}

// Delivery is one row of the model: Values by column name, each nil (NULL),
// string, int64, time.Time, civil.Date or bool.
type Delivery struct {
	Values map[string]any

	bounceMsg string
	now       time.Time
	// from is, per KindAttr column, the event its value came from.
	fromTime  map[string]time.Time
	fromID    map[string]string
	bounceAt  time.Time
	bounceID  string
	hasBounce bool
}

func (d *Delivery) time(col string) *time.Time {
	t, ok := d.Values[col].(time.Time)
	if !ok {
		return nil
	}
	return &t
}

// Str returns column col as text ("" for NULL): what a grouping shows.
func (d *Delivery) Str(col string) string {
	switch v := d.Values[col].(type) {
	case nil:
		return ""
	case string:
		return v
	case int64:
		return fmt.Sprint(v)
	case civil.Date:
		return v.String()
	case time.Time:
		return v.UTC().Format(time.RFC3339Nano)
	case bool:
		return fmt.Sprint(v)
	}
	panic("funnel: unexpected value")
}

// Deliveries evaluates the model in Go over rows (one per event, as
// events_deduped holds them), now being CURRENT_TIMESTAMP for settled:
// what DeliveriesSQL computes in BigQuery. Sorted by workspace, delivery_id.
func Deliveries(rows []warehouse.Row, now time.Time) []*Delivery {
	byKey := map[string]*Delivery{}
	var out []*Delivery
	// The stage each first-time column counts, looked up once, not per row.
	stageOf := make([]Stage, len(Model))
	for j, c := range Model {
		if c.Kind == KindFirst && c.stage != "" {
			stageOf[j] = stage(c.stage)
		}
	}
	for i := range rows {
		r := &rows[i]
		if IsProbe(r) || r.DeliveryID == nil {
			continue
		}
		ws := workspace.OrDefault(text(r.Workspace))
		k := ws + "\x00" + *r.DeliveryID
		d := byKey[k]
		if d == nil {
			d = &Delivery{Values: map[string]any{"workspace": ws, "delivery_id": *r.DeliveryID}, now: now,
				fromTime: map[string]time.Time{}, fromID: map[string]string{}}
			byKey[k] = d
			out = append(out, d)
		}
		for j, c := range Model {
			switch c.Kind {
			case KindAttr:
				v := c.eventOf(r)
				if v == nil {
					continue
				}
				at, has := d.fromTime[c.Name]
				if !has || r.EventTime.Before(at) || (r.EventTime.Equal(at) && r.EventID < d.fromID[c.Name]) {
					d.Values[c.Name], d.fromTime[c.Name], d.fromID[c.Name] = v, r.EventTime, r.EventID
				}
			case KindFirst:
				if c.stage != "" && !stageOf[j].Counts(r) {
					continue
				}
				if t := d.time(c.Name); t == nil || r.EventTime.Before(*t) {
					d.Values[c.Name] = r.EventTime.UTC()
				}
			}
		}
		if r.Metric == "bounced" && (!d.hasBounce || r.EventTime.Before(d.bounceAt) || (r.EventTime.Equal(d.bounceAt) && r.EventID < d.bounceID)) {
			d.bounceMsg, d.bounceAt, d.bounceID, d.hasBounce = text(r.FailureMessage), r.EventTime, r.EventID, true
		}
	}
	for _, d := range out {
		for _, c := range Model {
			if c.Kind == KindDerived || c.Kind == KindBounce {
				d.Values[c.Name] = c.derivedOf(d)
			}
		}
		for _, c := range Model {
			if _, ok := d.Values[c.Name]; !ok {
				d.Values[c.Name] = nil
			}
		}
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Str("workspace") != b.Str("workspace") {
			return a.Str("workspace") < b.Str("workspace")
		}
		return a.Str("delivery_id") < b.Str("delivery_id")
	})
	return out
}

// baseSQL is the inner query: per delivery, its key, attributes, first
// times and the first bounce's message, over the events window selects.
func baseSQL(events, window string) string {
	var items []string
	for _, c := range Model {
		switch c.Kind {
		case KindKey:
			items = append(items, c.eventSQL+" AS "+c.Name)
		case KindAttr:
			items = append(items, "ARRAY_AGG("+c.eventSQL+" IGNORE NULLS ORDER BY event_time, event_id LIMIT 1)[SAFE_OFFSET(0)] AS "+c.Name)
		case KindFirst:
			if c.stage == "" {
				items = append(items, "MIN(event_time) AS "+c.Name)
			} else {
				items = append(items, "MIN(IF("+stage(c.stage).predicate()+", event_time, NULL)) AS "+c.Name)
			}
		}
	}
	items = append(items, "ARRAY_AGG(IF(metric = 'bounced', COALESCE(failure_message, ''), NULL) IGNORE NULLS ORDER BY event_time, event_id LIMIT 1)[SAFE_OFFSET(0)] AS "+bounceMessage)
	return "SELECT\n    " + strings.Join(items, ",\n    ") + "\n  FROM " + events +
		"\n  WHERE " + window + "\n    AND " + notProbe + "\n    AND delivery_id IS NOT NULL" +
		"\n  GROUP BY " + workspaceSQL + ", delivery_id"
}

// DeliveriesSQL is the model over events (a backquoted events_deduped) for
// the events window selects: one row per delivery, every column of Model.
func DeliveriesSQL(events, window string) string {
	var items []string
	for _, c := range Model {
		switch c.Kind {
		case KindDerived, KindBounce:
			items = append(items, c.derivedSQL(func(s string) string { return s })+" AS "+c.Name)
		default:
			items = append(items, c.Name)
		}
	}
	return "SELECT\n  " + strings.Join(items, ",\n  ") + "\nFROM (\n  " + baseSQL(events, window) + "\n)\n"
}

// combine is how MergeSQL folds a column of the window's row (S) into the
// stored one (T), so that merging any windows, in any order, any number of
// times, gives the row of all their events together.
func combine(c Column) string {
	t, s := "T."+c.Name, "S."+c.Name
	switch c.Kind {
	case KindFirst: // the earlier time
		return "IF(" + t + " IS NULL OR " + s + " < " + t + ", " + s + ", " + t + ")"
	case KindAttr: // the earlier row's value, else the other's
		return "IF(S.first_event_at < T.first_event_at, COALESCE(" + s + ", " + t + "), COALESCE(" + t + ", " + s + "))"
	case KindBounce: // from the earlier bounce
		return "IF(T.bounced_at IS NULL OR S.bounced_at < T.bounced_at, " + s + ", " + t + ")"
	case KindDerived:
		return c.derivedSQL(func(name string) string { return combine(ModelColumn(name)) })
	}
	return t
}

// MergeSQL folds the deliveries of the events in window (a condition on
// event_time) into the deliveries table: a new delivery is inserted, a known
// one takes the earlier of each time and the attributes of its earlier
// events. Running it twice, or over overlapping windows, changes nothing
// more; a late event (an open ten days on, a backfill) updates its row when
// a run's window covers its event_time.
func MergeSQL(deliveries, events, window string) string {
	var set, cols []string
	for _, c := range Model {
		cols = append(cols, c.Name)
		if c.Kind == KindKey {
			continue
		}
		set = append(set, c.Name+" = "+combine(c))
	}
	return "MERGE " + deliveries + " T\nUSING (\n" + indent(DeliveriesSQL(events, window)) + ") S\n" +
		"ON T.workspace = S.workspace AND T.delivery_id = S.delivery_id\n" +
		"WHEN MATCHED THEN UPDATE SET\n  " + strings.Join(set, ",\n  ") + "\n" +
		"WHEN NOT MATCHED THEN INSERT (" + strings.Join(cols, ", ") + ")\n  VALUES (S." + strings.Join(cols, ", S.") + ")\n"
}

// SettleSQL marks the rows whose send day has moved past SettleDays since
// the last run (the MERGE sets settled on the rows it writes).
func SettleSQL(deliveries string) string {
	return fmt.Sprintf("UPDATE %s SET settled = TRUE\nWHERE settled IS NOT TRUE AND send_day < DATE_SUB(CURRENT_DATE(), INTERVAL %d DAY)\n", deliveries, SettleDays)
}

func indent(s string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	for i, l := range lines {
		lines[i] = "  " + l
	}
	return strings.Join(lines, "\n") + "\n"
}

// DeliveriesSchema is the deliveries table's schema, from Model.
func DeliveriesSchema() bigquery.Schema {
	var out bigquery.Schema
	for _, c := range Model {
		f := &bigquery.FieldSchema{Name: c.Name, Description: c.Desc, Required: c.Kind == KindKey || c.Name == "send_day" || c.Name == "first_event_at"}
		switch c.Type {
		case "STRING":
			f.Type = bigquery.StringFieldType
		case "INT64":
			f.Type = bigquery.IntegerFieldType
		case "TIMESTAMP":
			f.Type = bigquery.TimestampFieldType
		case "DATE":
			f.Type = bigquery.DateFieldType
		case "BOOL":
			f.Type = bigquery.BooleanFieldType
		default:
			panic("funnel: type " + c.Type)
		}
		out = append(out, f)
	}
	return out
}
