package event

import (
	"strings"
	"testing"
	"time"
)

func TestKey(t *testing.T) {
	t0 := time.Unix(1767225600, 0)
	later := t0.Add(90 * time.Second)
	tests := []struct {
		name string
		a, b [4]any // eventID, deliveryID, metric, occurred
		same bool
	}{
		{"once-only metric: any event_id, any time", [4]any{"01A", "D1", "bounced", t0}, [4]any{"backfill-x", "D1", "bounced", later}, true},
		{"once-only metric of another delivery", [4]any{"01A", "D1", "bounced", t0}, [4]any{"01A", "D2", "bounced", t0}, false},
		{"another metric", [4]any{"01A", "D1", "sent", t0}, [4]any{"01A", "D1", "delivered", t0}, false},
		{"repeating metric, same second", [4]any{"01A", "D1", "clicked", t0}, [4]any{"backfill-x", "D1", "clicked", t0.Add(300 * time.Millisecond)}, true},
		{"repeating metric, another occurrence", [4]any{"01A", "D1", "clicked", t0}, [4]any{"01B", "D1", "clicked", later}, false},
		{"unknown metric repeats", [4]any{"01A", "D1", "deferred", t0}, [4]any{"01B", "D1", "deferred", later}, false},
		{"no delivery: event_id", [4]any{"01A", "", "unsubscribed", t0}, [4]any{"01A", "", "unsubscribed", later}, true},
		{"no delivery, other event_id", [4]any{"01A", "", "unsubscribed", t0}, [4]any{"01B", "", "unsubscribed", t0}, false},
	}
	key := func(v [4]any) string { return Key(v[0].(string), v[1].(string), v[2].(string), v[3].(time.Time)) }
	for _, tt := range tests {
		if got := key(tt.a) == key(tt.b); got != tt.same {
			t.Errorf("%s: same key = %v, want %v (%s, %s)", tt.name, got, tt.same, key(tt.a), key(tt.b))
		}
	}
	if k := Key("01A", "", "opened", t0); k != "01A" {
		t.Errorf("without delivery_id the key is %q, want the event_id", k)
	}
	if k := Key("01A", "RPIL/AgU+bw==", "opened", t0); !strings.HasPrefix(k, KeyPrefix) || len(k) != len(KeyPrefix)+32 ||
		strings.ContainsAny(k, "/+=") {
		t.Errorf("delivery key %q", k)
	}
}
