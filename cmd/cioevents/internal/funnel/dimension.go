package funnel

import (
	"strconv"
	"strings"

	"github.com/cioevents/cioevents/shared/warehouse"
	"github.com/cioevents/cioevents/shared/workspace"
)

// Dimension is one grouping column of a query over the deliveries model:
// the model column Col, shown as Name. Every column of the model is a
// property of the delivery, so each delivery is in one group and the
// groups add up to the total.
type Dimension struct {
	Name string
	Col  string
}

// SQL is the select item of d.
func (d Dimension) SQL() string {
	if d.Name == d.Col {
		return d.Col
	}
	return d.Col + " AS " + d.Name
}

// Of is d's value for one delivery ("" for NULL).
func (d Dimension) Of(dv *Delivery) string { return dv.Str(d.Col) }

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

// workspaceSQL is an event's workspace: never NULL, as a row from before
// the column came through a key that had no name, and an unnamed key's
// workspace is Default.
const workspaceSQL = "COALESCE(workspace, '" + workspace.Default + "')"

// The dimensions.
var (
	// Day is the send day: each delivery counts on the day it was sent.
	Day              = Dimension{Name: "day", Col: "send_day"}
	Workspace        = Dimension{Name: "workspace", Col: "workspace"}
	Channel          = Dimension{Name: "channel", Col: "channel"}
	MessageType      = Dimension{Name: "message_type", Col: "message_type"}
	MessageRef       = Dimension{Name: "message_ref", Col: "message_ref"}
	ActionID         = Dimension{Name: "action_id", Col: "action_id"}
	CampaignID       = Dimension{Name: "campaign_id", Col: "campaign_id"}
	BroadcastID      = Dimension{Name: "broadcast_id", Col: "broadcast_id"}
	NewsletterID     = Dimension{Name: "newsletter_id", Col: "newsletter_id"}
	Domain           = Dimension{Name: "domain", Col: "recipient_domain"}
	MailboxProviderD = Dimension{Name: "mailbox_provider", Col: "mailbox_provider"}
	BounceClassD     = Dimension{Name: "bounce_class", Col: "bounce_class"}
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
