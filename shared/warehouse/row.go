// Package warehouse stores one row per webhook event: in BigQuery in the
// cloud and in NDJSON files for `cioevents dev`. The Row and Rejected structs
// are the single definition of both tables; the BigQuery schema, the
// committed Terraform schema files and the NDJSON lines all derive from them.
package warehouse

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/cioevents/cioevents/shared/event"
)

// Row is one row of table `events`. Pointer fields are NULLABLE columns, so
// an absent field (NULL) stays distinct from an empty or zero one.
//
// The desc tag is the column description in the BigQuery schema.
type Row struct {
	EventID    string     `bigquery:"event_id" json:"event_id" desc:"Customer.io event_id (backfill-… for backfilled rows). An event's identity, and so its dedupe key, is (delivery_id, metric), plus event_time for metrics that repeat; event_id only without a delivery_id (docs/backfill.md)."`
	ObjectType string     `bigquery:"object_type" json:"object_type" desc:"Channel: email, push, sms, customer, ... (object_type_type if object_type is absent)."`
	Metric     string     `bigquery:"metric" json:"metric" desc:"What happened; meaningful only together with object_type."`
	EventTime  time.Time  `bigquery:"event_time" json:"event_time" desc:"When the event occurred (body timestamp); received_at if the body has none."`
	ReceivedAt time.Time  `bigquery:"received_at" json:"received_at" desc:"When the receiver accepted the webhook."`
	SignedAt   *time.Time `bigquery:"signed_at" json:"signed_at" desc:"X-CIO-Timestamp header of the delivery that was accepted."`
	KnownPair  bool       `bigquery:"known_pair" json:"known_pair" desc:"Whether object_type.metric is a pair the webhook contract lists."`

	DeliveryID             *string `bigquery:"delivery_id" json:"delivery_id" desc:"Message instance (data.delivery_id)."`
	CustomerID             *string `bigquery:"customer_id" json:"customer_id" desc:"Deprecated person ID (data.customer_id); blank for deleted people."`
	PersonID               *string `bigquery:"person_id" json:"person_id" desc:"Person ID (data.identifiers.id)."`
	CioID                  *string `bigquery:"cio_id" json:"cio_id" desc:"Canonical Customer.io person ID (data.identifiers.cio_id)."`
	Email                  *string `bigquery:"email" json:"email" desc:"Person email (data.identifiers.email, else data.email_address)."`
	Recipient              *string `bigquery:"recipient" json:"recipient" desc:"Channel address: email, phone, Slack channel or webhook URL (data.recipient)."`
	Subject                *string `bigquery:"subject" json:"subject" desc:"Email subject (data.subject)."`
	Href                   *string `bigquery:"href" json:"href" desc:"Clicked URL (data.href)."`
	FailureMessage         *string `bigquery:"failure_message" json:"failure_message" desc:"Free-text failure reason (data.failure_message)."`
	JourneyID              *string `bigquery:"journey_id" json:"journey_id" desc:"Journey ID (data.journey_id); integers are stored as text."`
	TransactionalMessageID *string `bigquery:"transactional_message_id" json:"transactional_message_id" desc:"Transactional message ID (data.transactional_message_id) as text."`
	TriggerEventID         *string `bigquery:"trigger_event_id" json:"trigger_event_id" desc:"Event that triggered the campaign (data.trigger_event_id)."`

	CampaignID     *int64 `bigquery:"campaign_id" json:"campaign_id" desc:"Campaign (data.campaign_id)."`
	BroadcastID    *int64 `bigquery:"broadcast_id" json:"broadcast_id" desc:"API-triggered broadcast (data.broadcast_id)."`
	NewsletterID   *int64 `bigquery:"newsletter_id" json:"newsletter_id" desc:"Newsletter (data.newsletter_id)."`
	ActionID       *int64 `bigquery:"action_id" json:"action_id" desc:"Workflow action (data.action_id)."`
	ParentActionID *int64 `bigquery:"parent_action_id" json:"parent_action_id" desc:"Parent workflow action, e.g. a split (data.parent_action_id)."`
	TriggerID      *int64 `bigquery:"trigger_id" json:"trigger_id" desc:"Trigger Broadcast API trigger (data.trigger_id)."`
	ContentID      *int64 `bigquery:"content_id" json:"content_id" desc:"Newsletter variant (data.content_id)."`
	LinkID         *int64 `bigquery:"link_id" json:"link_id" desc:"Tracked link (data.link_id)."`

	Machine    *bool `bigquery:"machine" json:"machine" desc:"Click flagged as machine-generated (data.machine)."`
	Proxied    *bool `bigquery:"proxied" json:"proxied" desc:"Open through a proxy (data.proxied)."`
	Prefetched *bool `bigquery:"prefetched" json:"prefetched" desc:"Open by prefetching, e.g. Apple MPP (data.prefetched)."`
	Synthetic  *bool `bigquery:"synthetic" json:"synthetic" desc:"Open inferred from a click (data.synthetic)."`

	// Raw is the body exactly as received; it must be a JSON object.
	Raw json.RawMessage `bigquery:"raw" json:"raw" desc:"The webhook body as received."`

	MessageID *string `bigquery:"message_id" json:"message_id" desc:"Pub/Sub message ID that carried the event."`

	// Source is NULLABLE because BigQuery can add only NULLABLE columns to
	// an existing table.
	Source *string `bigquery:"source" json:"source" desc:"Which source stored the event first (and so alone): webhook, backfill (from the App API by cioevents backfill) or replay. NULL: webhook, before the column existed."`

	// Workspace is NULLABLE for the same reason; the processor sets it.
	Workspace *string `bigquery:"workspace" json:"workspace" desc:"Customer.io workspace: the name of the signing key that verified the webhook (default for an unnamed key); for backfill rows, the workspace the backfill named. NULL: rows from before the column, which all came through unnamed keys (the views read them as default)."`

	// InsertedAt is set by the BigQuery writer: BigQuery refuses DML on
	// rows still in the streaming buffer, and whether a row may be there
	// depends on when it was inserted, not on when it was received.
	InsertedAt *time.Time `bigquery:"inserted_at" json:"inserted_at" desc:"When the row was streamed into BigQuery (cioevents forget waits for the streaming buffer by it). NULL: rows from before the column, and the local files."`
}

// Values of Row.Source.
const (
	SourceWebhook  = "webhook"
	SourceBackfill = "backfill"
	SourceReplay   = "replay"
	// SourceProbe marks a `cioevents doctor` probe (event.IsProbe); the
	// views, `cioevents report` and the funnel leave such rows out.
	SourceProbe = "probe"
)

// Key is the row's identity (event.Key): what the ledger claims, the
// insert ID, and what events_deduped keeps one row of. It is a function of
// the columns alone, so a row read back from a file or a table has the same
// key as when it was written.
func (r Row) Key() string {
	d := ""
	if r.DeliveryID != nil {
		d = *r.DeliveryID
	}
	return event.Key(r.EventID, d, r.Metric, r.EventTime)
}

// FromEvent builds the row for ev. receivedAt is when the receiver accepted
// the webhook, signedAt the X-CIO-Timestamp (nil if unknown) and messageID the
// Pub/Sub message ID ("" if unknown).
func FromEvent(ev *event.Event, receivedAt time.Time, signedAt *time.Time, messageID string) Row {
	d := &ev.Data
	r := Row{
		EventID:    ev.EventID,
		ObjectType: ev.ObjectType,
		Metric:     ev.Metric,
		ReceivedAt: bqTime(receivedAt),
		KnownPair:  ev.Known(),

		DeliveryID:             d.DeliveryID.Ptr(),
		CustomerID:             d.CustomerID.Ptr(),
		PersonID:               d.Identifiers.ID.Ptr(),
		CioID:                  d.Identifiers.CioID.Ptr(),
		Email:                  firstString(d.Identifiers.Email, d.EmailAddress).Ptr(),
		Recipient:              d.Recipient.Ptr(),
		Subject:                d.Subject.Ptr(),
		Href:                   d.Href.Ptr(),
		FailureMessage:         d.FailureMessage.Ptr(),
		JourneyID:              d.JourneyID.Ptr(),
		TransactionalMessageID: d.TransactionalMessageID.Ptr(),
		TriggerEventID:         d.TriggerEventID.Ptr(),

		CampaignID:     d.CampaignID.Ptr(),
		BroadcastID:    d.BroadcastID.Ptr(),
		NewsletterID:   d.NewsletterID.Ptr(),
		ActionID:       d.ActionID.Ptr(),
		ParentActionID: d.ParentActionID.Ptr(),
		TriggerID:      d.TriggerID.Ptr(),
		ContentID:      d.ContentID.Ptr(),
		LinkID:         d.LinkID.Ptr(),

		Machine:    copyBool(d.Machine),
		Proxied:    copyBool(d.Proxied),
		Prefetched: copyBool(d.Prefetched),
		Synthetic:  copyBool(d.Synthetic),

		Raw:       json.RawMessage(ev.Raw),
		MessageID: optString(messageID),
		Source:    optString(SourceWebhook),
	}
	if ev.IsProbe() {
		r.Source = optString(SourceProbe)
	}
	// event_time partitions the table and keys events_deduped together with
	// event_id, so it must be the same for every delivery of an event: the
	// body's timestamp, else the time in a ULID event_id (Customer.io mints
	// ULIDs), and only failing both the arrival time.
	r.EventTime = r.ReceivedAt
	if t := ev.Time(); !t.IsZero() {
		r.EventTime = bqTime(t)
	} else if t, ok := ulidTime(ev.EventID); ok {
		r.EventTime = t
	}
	if signedAt != nil {
		t := bqTime(*signedAt)
		r.SignedAt = &t
	}
	return r
}

// firstString prefers a non-empty value, then any present one, so an empty
// identifiers.email does not hide a real email_address.
func firstString(vs ...event.String) event.String {
	for _, v := range vs {
		if v.Valid && v.Value != "" {
			return v
		}
	}
	for _, v := range vs {
		if v.Valid {
			return v
		}
	}
	return event.String{}
}

func copyBool(b *bool) *bool {
	if b == nil {
		return nil
	}
	v := *b
	return &v
}

func optString(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// bqTime drops what a BigQuery TIMESTAMP cannot hold (sub-microsecond digits,
// the zone) so the NDJSON file and the table show the same value.
func bqTime(t time.Time) time.Time {
	if t.IsZero() {
		return t
	}
	return t.UTC().Truncate(time.Microsecond)
}

// BigQuery TIMESTAMP range.
var (
	minTimestamp = time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC)
	maxTimestamp = time.Date(9999, 12, 31, 23, 59, 59, 999999000, time.UTC)
)

func checkTime(col string, t time.Time) error {
	if t.IsZero() {
		return fmt.Errorf("%s is not set", col)
	}
	if t.Before(minTimestamp) || t.After(maxTimestamp) {
		return fmt.Errorf("%s year %d is outside the BigQuery TIMESTAMP range", col, t.Year())
	}
	return nil
}

// Validate reports why BigQuery would refuse the row. Its errors wrap
// ErrPermanent: sending the same row again cannot help.
func (r Row) Validate() error {
	var errs []error
	if r.EventID == "" {
		errs = append(errs, errors.New("event_id is empty"))
	}
	errs = append(errs, checkTime("event_time", r.EventTime), checkTime("received_at", r.ReceivedAt))
	if r.SignedAt != nil {
		errs = append(errs, checkTime("signed_at", *r.SignedAt))
	}
	if t := bytes.TrimSpace(r.Raw); len(t) == 0 || t[0] != '{' || !json.Valid(t) {
		errs = append(errs, errors.New("raw is not a JSON object"))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("%w: events row %q: %w", ErrPermanent, r.EventID, err)
	}
	return nil
}

// Rejected is one row of table `rejected_events`: an authentic message the
// processor could not turn into an events row.
type Rejected struct {
	ReceivedAt time.Time         `bigquery:"received_at" json:"received_at" desc:"When the message was rejected, or when the receiver accepted it if known."`
	Reason     string            `bigquery:"reason" json:"reason" desc:"Why the message has no events row, e.g. invalid_json, not_object, no_event_id, oversized."`
	EventID    *string           `bigquery:"event_id" json:"event_id" desc:"event_id, if one could be read."`
	Body       string            `bigquery:"body" json:"body" desc:"The body as received; base64 with a base64: prefix if it is not valid UTF-8."`
	Attributes map[string]string `bigquery:"attributes" json:"attributes" desc:"Pub/Sub message attributes as a JSON object."`
	MessageID  *string           `bigquery:"message_id" json:"message_id" desc:"Pub/Sub message ID."`
	Workspace  *string           `bigquery:"workspace" json:"workspace" desc:"Customer.io workspace of the signing key that verified the webhook. NULL: rows from before the column."`
	InsertedAt *time.Time        `bigquery:"inserted_at" json:"inserted_at" desc:"When the row was streamed into BigQuery (cioevents forget waits for the streaming buffer by it). NULL: rows from before the column, and the local files."`
}

// Base64Prefix marks a Rejected.Body that holds base64 of the received bytes.
const Base64Prefix = "base64:"

// NewRejected builds a rejected row. eventID and messageID may be empty
// (stored as NULL); attributes may be nil (NULL).
func NewRejected(receivedAt time.Time, reason, eventID string, body []byte, attributes map[string]string, messageID string) Rejected {
	return Rejected{
		ReceivedAt: bqTime(receivedAt),
		Reason:     reason,
		EventID:    optString(eventID),
		Body:       EncodeBody(body),
		Attributes: attributes,
		MessageID:  optString(messageID),
	}
}

// EncodeBody returns body as a STRING column value: the text itself when it is
// valid UTF-8, else Base64Prefix + base64. A text that itself starts with the
// prefix is encoded too, so the column can always be decoded unambiguously.
func EncodeBody(body []byte) string {
	if utf8.Valid(body) && !bytes.HasPrefix(body, []byte(Base64Prefix)) {
		return string(body)
	}
	return Base64Prefix + base64.StdEncoding.EncodeToString(body)
}

// DecodeBody inverts EncodeBody.
func DecodeBody(s string) ([]byte, error) {
	if b64, ok := strings.CutPrefix(s, Base64Prefix); ok {
		return base64.StdEncoding.DecodeString(b64)
	}
	return []byte(s), nil
}

// InsertID is the stable streaming insert ID of r: derived from the event_id
// when there is one, else from the body — never from the Pub/Sub message ID,
// which a re-send by Customer.io or a dead-letter replay changes. It is the
// same key the processor claims the rejection under in the ledger.
func (r Rejected) InsertID() string {
	var h [sha256.Size]byte
	if r.EventID != nil && *r.EventID != "" {
		h = sha256.Sum256([]byte("event_id:" + *r.EventID))
	} else {
		h = sha256.Sum256([]byte("body:" + r.Body))
	}
	return hex.EncodeToString(h[:])
}

// Validate reports why BigQuery would refuse the row; errors wrap ErrPermanent.
func (r Rejected) Validate() error {
	var errs []error
	errs = append(errs, checkTime("received_at", r.ReceivedAt))
	if r.Reason == "" {
		errs = append(errs, errors.New("reason is empty"))
	}
	if !utf8.ValidString(r.Body) {
		errs = append(errs, errors.New("body is not valid UTF-8 (use EncodeBody)"))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("%w: rejected_events row: %w", ErrPermanent, err)
	}
	return nil
}

// crockford is the ULID alphabet; ulidTime accepts nothing else.
const crockford = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

// ulidTime is the millisecond time in the first ten characters of a ULID,
// if id is one and the time is one BigQuery can store.
func ulidTime(id string) (time.Time, bool) {
	if len(id) != 26 {
		return time.Time{}, false
	}
	var ms uint64
	for i := 0; i < len(id); i++ {
		v := strings.IndexByte(crockford, id[i])
		if v < 0 {
			return time.Time{}, false
		}
		if i < 10 {
			ms = ms<<5 | uint64(v)
		}
	}
	if ms >= 1<<48 {
		return time.Time{}, false
	}
	t := time.UnixMilli(int64(ms)).UTC()
	if checkTime("event_time", t) != nil {
		return time.Time{}, false
	}
	return t, true
}
