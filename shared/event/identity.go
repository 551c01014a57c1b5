package event

import (
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"time"
)

// The identity of "this thing happened to this delivery" is shared by every
// source of events — webhooks, cioevents backfill (the App API), replays —
// so that the ledger, the BigQuery insert ID, events_deduped, the funnel
// views and cioevents report all count one occurrence once, whichever
// source stored it first. docs/backfill.md states the rule for people.
//
// A webhook event_id cannot be that identity: the App API knows nothing of
// it, and a backfilled event has to be keyed from what the API lists — the
// delivery, the metric and one time per metric (the first occurrence).

// repeating are the metrics Customer.io can report more than once for one
// delivery: every open and click with "every time" Send Frequency
// (full_resolution), every failed attempt to hand a message over, every SMS
// or WhatsApp reply, every preference change made through one message. For
// them the occurrence time is part of the identity. Any metric not in
// onceOnly repeats too: treating a once-only metric as repeating can at
// worst keep two rows whose times the two sources disagree on, while the
// reverse would merge distinct happenings into one.
var onceOnly = map[string]bool{
	"drafted": true, "sent": true, "delivered": true, "converted": true, "unsubscribed": true,
	"bounced": true, "dropped": true, "spammed": true, "failed": true, "undeliverable": true,
}

// Repeats reports whether metric may occur more than once per delivery, so
// that its occurrence time is part of its identity.
func Repeats(metric string) bool { return !onceOnly[metric] }

// KeyPrefix starts every delivery identity; a Customer.io event_id (a ULID)
// or an old backfill ID (backfill-…) never does.
const KeyPrefix = "delivery-"

// Key is the identity of an event:
//
//   - with a delivery_id, and a metric that happens once per delivery:
//     (delivery_id, metric) — whatever time either source gives it;
//   - with a delivery_id, and a metric that repeats: (delivery_id, metric,
//     occurred in whole seconds) — the App API's one time per metric is its
//     first occurrence, and matches the webhook of that occurrence;
//   - without a delivery_id (customer events, malformed ones): the event_id.
//
// It is "delivery-" and 32 hex digits of a SHA-256, or the event_id itself:
// short enough for an insert ID and a Firestore document ID, and free of
// the delivery_id's base64 characters. object_type is not part of it: a
// delivery is on one channel, and the App API names channels differently
// (twilio for sms). Nor is the workspace, as in the event_id.
func Key(eventID, deliveryID, metric string, occurred time.Time) string {
	if deliveryID == "" {
		return eventID
	}
	s := deliveryID + "\x00" + metric
	if Repeats(metric) {
		s += "\x00" + strconv.FormatInt(occurred.Unix(), 10)
	}
	sum := sha256.Sum256([]byte(s))
	return KeyPrefix + hex.EncodeToString(sum[:16])
}
