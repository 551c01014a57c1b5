package event

import "sort"

// metrics lists, per object_type, the metrics of the Customer.io reporting
// webhook contract (the OpenAPI spec's per-channel schemas plus the
// subscribable names that have no schema yet).
var metrics = map[string][]string{
	"customer": {"subscribed", "unsubscribed", "cio_subscription_preferences_changed"},
	"email": {"drafted", "attempted", "sent", "delivered", "opened", "clicked", "converted",
		"unsubscribed", "bounced", "dropped", "spammed", "failed", "undeliverable", "deferred",
		"cio_subscription_preferences_changed"},
	"push": {"drafted", "attempted", "sent", "delivered", "opened", "clicked", "converted",
		"bounced", "dropped", "failed", "undeliverable"},
	"sms": {"drafted", "attempted", "sent", "delivered", "clicked", "converted", "bounced",
		"failed", "undeliverable", "replied", "dropped"},
	"whatsapp": {"drafted", "attempted", "sent", "delivered", "opened", "clicked", "converted",
		"bounced", "dropped", "failed", "undeliverable", "replied"},
	"slack":   {"drafted", "attempted", "sent", "clicked", "failed", "undeliverable", "converted"},
	"webhook": {"drafted", "attempted", "sent", "clicked", "failed", "undeliverable", "converted"},
	"in_app":  {"drafted", "attempted", "sent", "opened", "clicked", "converted", "failed", "undeliverable"},
}

var known = func() map[string]bool {
	m := make(map[string]bool)
	for ot, ms := range metrics {
		for _, metric := range ms {
			m[ot+"."+metric] = true
		}
	}
	return m
}()

// Known reports whether objectType.metric is a pair the contract lists.
// Unknown pairs are still ordinary events; this only feeds counters.
func Known(objectType, metric string) bool { return known[objectType+"."+metric] }

// Pairs returns every known "object_type.metric", sorted.
func Pairs() []string {
	out := make([]string, 0, len(known))
	for k := range known {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
