package event

import (
	"encoding/json"
	"strings"
	"time"
)

// A probe is an event `cioevents doctor` sends through the deployed pipeline
// to prove it end to end. It is recognised by its event_id, which is inside
// the signed body: only a holder of a signing key can make one, as with any
// event. Customer.io mints ULIDs (26 upper-case Crockford characters), so no
// real event_id starts with this lower-case, hyphenated prefix.
const ProbePrefix = "cioevents-probe-"

// Object type and metric of a probe: a pair the contract does not list, so a
// probe is stored (as every unknown pair is) and never matches an action rule.
const (
	ProbeObjectType = "cioevents"
	ProbeMetric     = "probe"
)

// IsProbe reports whether eventID is a probe's.
func IsProbe(eventID string) bool { return strings.HasPrefix(eventID, ProbePrefix) }

// IsProbe reports whether e is a probe.
func (e *Event) IsProbe() bool { return IsProbe(e.EventID) }

// ProbeBody is the body of a probe with the given id suffix, sent at t.
func ProbeBody(id string, t time.Time) []byte {
	b, _ := json.Marshal(map[string]any{
		"event_id":    ProbePrefix + id,
		"object_type": ProbeObjectType,
		"metric":      ProbeMetric,
		"timestamp":   t.Unix(),
		"data":        map[string]any{},
	})
	return b
}
