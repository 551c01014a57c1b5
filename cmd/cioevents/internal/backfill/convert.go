package backfill

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/cioevents/cioevents/cmd/cioevents/internal/appapi"
	"github.com/cioevents/cioevents/shared/event"
)

// Metrics are the keys of a delivery's metrics object that become events:
// each holds the time the delivery reached that metric. The other keys are
// skipped: created is not a webhook metric, and human_opened,
// prefetch_clicked and the like are counts, not times.
var Metrics = []string{"drafted", "attempted", "sent", "delivered", "opened", "clicked", "converted",
	"bounced", "spammed", "unsubscribed", "dropped", "failed", "undeliverable"}

// failureMetrics carry the delivery's failure_message, as their webhooks do.
var failureMetrics = []string{"bounced", "dropped", "failed", "undeliverable"}

// ObjectType is the webhook object_type of an App API delivery type. The
// API calls SMS deliveries twilio; other types keep their name.
func ObjectType(apiType string) string {
	if apiType == "twilio" {
		return "sms"
	}
	return apiType
}

// APIType is the App API type filter for an object_type or API type.
func APIType(t string) string {
	t = strings.ToLower(strings.TrimSpace(t))
	if t == "sms" {
		return "twilio"
	}
	return t
}

// Pair identifies one (delivery_id, metric): what reconciliation compares,
// since a webhook event and a backfilled one of the same pair have
// different event_ids.
type Pair [16]byte

// PairOf hashes (deliveryID, metric); the NUL cannot occur in either.
func PairOf(deliveryID, metric string) Pair {
	sum := sha256.Sum256([]byte(deliveryID + "\x00" + metric))
	return Pair(sum[:16])
}

// EventID is the deterministic event_id of a backfilled (delivery, metric):
// the same pair always gets the same ID, so the ledger and the insert ID
// dedupe a pair backfilled twice.
func EventID(deliveryID, metric string) string {
	p := PairOf(deliveryID, metric)
	return "backfill-" + hex.EncodeToString(p[:])
}

// Candidate is one event a delivery yields.
type Candidate struct {
	Pair       Pair
	EventID    string
	ObjectType string
	Metric     string
	Time       time.Time
	// Body is the webhook-shaped event body, what the pipeline parses.
	Body []byte
}

// body is an event of the webhook model. The delivery as the App API
// listed it rides along, so the row's raw column keeps what no column has
// (created, forgotten, the count metrics).
type body struct {
	EventID    string          `json:"event_id"`
	ObjectType string          `json:"object_type"`
	Metric     string          `json:"metric"`
	Timestamp  int64           `json:"timestamp"`
	Data       data            `json:"data"`
	Delivery   json.RawMessage `json:"app_api_delivery,omitempty"`
}

type data struct {
	Identifiers    identifiers  `json:"identifiers"`
	CustomerID     event.String `json:"customer_id,omitzero"`
	DeliveryID     string       `json:"delivery_id"`
	CampaignID     event.Int    `json:"campaign_id,omitzero"`
	BroadcastID    event.Int    `json:"broadcast_id,omitzero"`
	NewsletterID   event.Int    `json:"newsletter_id,omitzero"`
	ActionID       event.Int    `json:"action_id,omitzero"`
	ParentActionID event.Int    `json:"parent_action_id,omitzero"`
	ContentID      event.Int    `json:"content_id,omitzero"`
	TriggerEventID event.String `json:"trigger_event_id,omitzero"`
	Recipient      event.String `json:"recipient,omitzero"`
	Subject        event.String `json:"subject,omitzero"`
	FailureMessage event.String `json:"failure_message,omitzero"`
}

type identifiers struct {
	ID    event.String `json:"id,omitzero"`
	Email event.String `json:"email,omitzero"`
	CioID event.String `json:"cio_id,omitzero"`
}

// Candidates turns one delivery into its events, one per metric time it
// holds, in the order of Metrics.
func Candidates(m *appapi.Message) ([]Candidate, error) {
	d := data{
		Identifiers: identifiers{ID: m.CustomerIdentifiers.ID, Email: m.CustomerIdentifiers.Email,
			CioID: m.CustomerIdentifiers.CioID},
		CustomerID: m.CustomerID, DeliveryID: m.ID,
		CampaignID: m.CampaignID, BroadcastID: m.BroadcastID, NewsletterID: m.NewsletterID,
		ActionID: m.ActionID, ParentActionID: m.ParentActionID, ContentID: m.ContentID,
		TriggerEventID: m.TriggerEventID, Recipient: m.Recipient, Subject: m.Subject,
	}
	ot := ObjectType(m.Type)
	var out []Candidate
	for _, metric := range Metrics {
		ts, ok := m.Metrics[metric]
		if !ok || ts <= 0 {
			continue
		}
		b := body{EventID: EventID(m.ID, metric), ObjectType: ot, Metric: metric, Timestamp: ts, Data: d,
			Delivery: m.Raw}
		if !slices.Contains(failureMetrics, metric) {
			b.Data.FailureMessage = event.String{}
		} else {
			b.Data.FailureMessage = m.FailureMessage
		}
		raw, err := json.Marshal(b)
		if err != nil {
			return nil, fmt.Errorf("backfill: delivery %s: %w", m.ID, err)
		}
		out = append(out, Candidate{Pair: PairOf(m.ID, metric), EventID: b.EventID, ObjectType: ot, Metric: metric,
			Time: time.Unix(ts, 0).UTC(), Body: raw})
	}
	return out, nil
}
