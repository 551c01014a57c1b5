package funnel

import (
	"strconv"
	"strings"
	"time"

	"github.com/cioevents/cioevents/shared/warehouse"
	"github.com/cioevents/cioevents/shared/workspace"
)

// Dimension is one grouping column, spelled twice side by side: as a
// GoogleSQL expression over events_deduped and as the same function of a
// warehouse.Row. "" in Go is NULL in SQL.
type Dimension struct {
	Name string
	SQL  string
	Of   func(r *warehouse.Row) string
	// PerEvent: the value belongs to each event (its day), so one delivery
	// can fall in several groups. Otherwise it is a property of the
	// delivery, taken from its earliest event (then lowest event_id) that
	// has one.
	PerEvent bool
}

func int64Text(p *int64) string {
	if p == nil {
		return ""
	}
	return strconv.FormatInt(*p, 10)
}

func text(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

// messageOf returns the kind and the ID of the message a row belongs to.
func messageOf(r *warehouse.Row) (kind, ref string) {
	for _, k := range messageKinds {
		var v string
		switch k.column {
		case "campaign_id":
			v = int64Text(r.CampaignID)
		case "broadcast_id":
			v = int64Text(r.BroadcastID)
		case "newsletter_id":
			v = int64Text(r.NewsletterID)
		case "transactional_message_id":
			if r.TransactionalMessageID != nil {
				return k.kind, *r.TransactionalMessageID
			}
		default:
			panic("funnel: no Go reading of " + k.column)
		}
		if v != "" {
			return k.kind, v
		}
	}
	return "", ""
}

// messageSQL is the CASE over messageKinds; ref selects the ID, else the kind.
func messageSQL(ref bool) string {
	var b strings.Builder
	b.WriteString("CASE")
	for _, k := range messageKinds {
		then := "'" + k.kind + "'"
		if ref {
			then = "CAST(" + k.column + " AS STRING)"
		}
		b.WriteString(" WHEN " + k.column + " IS NOT NULL THEN " + then)
	}
	b.WriteString(" END")
	return b.String()
}

// domainOf is the part after the last @ of the recipient (else the email),
// lower-cased; NULL when there is none.
func domainOf(r *warehouse.Row) string {
	addr := r.Recipient
	if addr == nil {
		addr = r.Email
	}
	if addr == nil {
		return ""
	}
	i := strings.LastIndexByte(*addr, '@')
	if i < 0 || i == len(*addr)-1 {
		return ""
	}
	return strings.ToLower((*addr)[i+1:])
}

// The dimensions.
var (
	Day = Dimension{Name: "day", SQL: "DATE(event_time)", PerEvent: true,
		Of: func(r *warehouse.Row) string { return r.EventTime.UTC().Format(time.DateOnly) }}
	ObjectType = Dimension{Name: "object_type", SQL: "object_type",
		Of: func(r *warehouse.Row) string { return r.ObjectType }}
	// Channel is object_type under the name the report shows.
	Channel = Dimension{Name: "channel", SQL: "object_type",
		Of: func(r *warehouse.Row) string { return r.ObjectType }}
	MessageType = Dimension{Name: "message_type", SQL: messageSQL(false),
		Of: func(r *warehouse.Row) string { k, _ := messageOf(r); return k }}
	MessageRef = Dimension{Name: "message_ref", SQL: messageSQL(true),
		Of: func(r *warehouse.Row) string { _, id := messageOf(r); return id }}
	ActionID = Dimension{Name: "action_id", SQL: "action_id",
		Of: func(r *warehouse.Row) string { return int64Text(r.ActionID) }}
	CampaignID = Dimension{Name: "campaign_id", SQL: "campaign_id",
		Of: func(r *warehouse.Row) string { return int64Text(r.CampaignID) }}
	BroadcastID = Dimension{Name: "broadcast_id", SQL: "broadcast_id",
		Of: func(r *warehouse.Row) string { return int64Text(r.BroadcastID) }}
	NewsletterID = Dimension{Name: "newsletter_id", SQL: "newsletter_id",
		Of: func(r *warehouse.Row) string { return int64Text(r.NewsletterID) }}
	// Workspace is never NULL: a row from before the column came through a
	// key that had no name, and an unnamed key's workspace is Default.
	Workspace = Dimension{Name: "workspace", SQL: "COALESCE(workspace, '" + workspace.Default + "')",
		Of: func(r *warehouse.Row) string { return workspace.OrDefault(text(r.Workspace)) }}
	Domain = Dimension{Name: "domain", SQL: `LOWER(REGEXP_EXTRACT(COALESCE(recipient, email), r'@([^@]+)$'))`,
		Of: domainOf}
)

// flagOf reads one of the BOOLEAN columns a Stage may exclude on.
func flagOf(r *warehouse.Row, column string) bool {
	var p *bool
	switch column {
	case "machine":
		p = r.Machine
	case "proxied":
		p = r.Proxied
	case "prefetched":
		p = r.Prefetched
	case "synthetic":
		p = r.Synthetic
	default:
		panic("funnel: no Go reading of " + column)
	}
	return p != nil && *p
}

// Counts reports whether the event r counts for stage s.
func (s Stage) Counts(r *warehouse.Row) bool {
	hit := false
	for _, m := range s.Metrics {
		if r.Metric == m {
			hit = true
		}
	}
	if !hit {
		return false
	}
	for _, c := range s.Exclude {
		if flagOf(r, c) {
			return false
		}
	}
	return true
}
