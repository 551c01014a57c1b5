package pipeline

import (
	"strings"
	"testing"

	"github.com/cioevents/cioevents/shared/actions"
	"github.com/cioevents/cioevents/shared/event"
	"github.com/cioevents/cioevents/shared/warehouse"
)

// A doctor probe gets its row, marked source=probe, and never a Track call,
// even under a policy that acts on its very object_type.metric; the same body
// under an ordinary event_id does get the call, so the rule would fire.
func TestProbeNeverActs(t *testing.T) {
	r := newRig(t, memoryLedger)
	r.p.Policy = actions.Policy{event.ProbeObjectType + "." + event.ProbeMetric: {{Kind: actions.KindIdentify,
		Attributes: map[string]any{"probed": true}}}}
	body := func(id string) []byte {
		return []byte(`{"event_id":"` + id + `","object_type":"cioevents","metric":"probe","timestamp":` +
			"1767225600" + `,"data":{"identifiers":{"id":"u1","cio_id":"c1"}}}`)
	}
	probeID := event.ProbePrefix + "01TEST"
	deliver(t, r.p, message("m1", body(probeID)))
	if n := len(r.track.Calls()); n != 0 {
		t.Fatalf("a probe made %d Track calls", n)
	}
	deliver(t, r.p, message("m2", body("01JH6Z8Q3V4K2N7R9T5W1XAB3C")))
	if n := len(r.track.Calls()); n != 1 {
		t.Fatalf("the same body as an ordinary event made %d Track calls, want 1 (the policy must fire)", n)
	}
	rows := r.bq.Rows(eventsTable)
	if len(rows) != 2 {
		t.Fatalf("%d rows, want 2", len(rows))
	}
	for _, row := range rows {
		want := warehouse.SourceWebhook
		if strings.HasPrefix(row["event_id"].(string), event.ProbePrefix) {
			want = warehouse.SourceProbe
		}
		if row["source"] != want {
			t.Errorf("row %v has source %v, want %s", row["event_id"], row["source"], want)
		}
	}
}
