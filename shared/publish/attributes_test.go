package publish

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// within fails t unless every key and value is inside Pub/Sub's production
// limits, checked directly rather than through the code under test.
func within(t *testing.T, attrs map[string]string) {
	t.Helper()
	if len(attrs) > MaxAttributes {
		t.Fatalf("%d attributes", len(attrs))
	}
	for k, v := range attrs {
		if k == "" || len(k) > MaxAttributeKeyBytes || !utf8.ValidString(k) || strings.HasPrefix(strings.ToLower(k), "goog") {
			t.Fatalf("key %.40q (%d bytes) breaks the limits", k, len(k))
		}
		if len(v) > MaxAttributeValueBytes || !utf8.ValidString(v) {
			t.Fatalf("value of %s (%d bytes, valid UTF-8 %v) breaks the limits", k, len(v), utf8.ValidString(v))
		}
	}
}

func TestSafeAttributes(t *testing.T) {
	long := strings.Repeat("e", 2000)
	tests := []struct {
		name        string
		in          map[string]string
		wantAltered string
		check       func(t *testing.T, out map[string]string)
	}{
		{"safe values kept exactly", map[string]string{"event_id": "01JH6Z8Q3V4K2N7R9T5W1XAB3C", "metric": "sent",
			"empty": "", "max": strings.Repeat("m", 1024), "text": "événement ✓"}, "", func(t *testing.T, out map[string]string) {
			if out["max"] != strings.Repeat("m", 1024) || out["text"] != "événement ✓" || out["empty"] != "" {
				t.Fatalf("changed a safe value: %v", out)
			}
		}},
		{"2,000-byte event_id", map[string]string{"event_id": long, "metric": "sent"}, "event_id",
			func(t *testing.T, out map[string]string) {
				if !strings.HasPrefix(out["event_id"], strings.Repeat("e", 900)) || !strings.Contains(out["event_id"], hashMark) {
					t.Fatalf("event_id = %.60q…", out["event_id"])
				}
				if out["metric"] != "sent" {
					t.Fatalf("metric = %q", out["metric"])
				}
			}},
		{"1,025 bytes", map[string]string{"metric": strings.Repeat("m", 1025)}, "metric", nil},
		{"invalid UTF-8", map[string]string{"event_id": "ev\xff\xfe1", "object_type": "email"}, "event_id",
			func(t *testing.T, out map[string]string) {
				if !strings.HasPrefix(out["event_id"], "ev\uFFFD1"+hashMark) {
					t.Fatalf("event_id = %q", out["event_id"])
				}
			}},
		{"multi-byte runes cut on a boundary", map[string]string{"metric": strings.Repeat("日", 700)}, "metric", nil},
		{"4-byte runes straddling the cut", map[string]string{"metric": "a" + strings.Repeat("😀", 400)}, "metric", nil},
		{"invalid bytes only", map[string]string{"object_type": strings.Repeat("\xff", 5000)}, "object_type", nil},
		{"truncated rune at the end", map[string]string{"metric": "ok\xe6\x97"}, "metric", nil},
		{"bad keys", map[string]string{strings.Repeat("k", 257): "v", "goog_reserved": "v", "\xff": "v", "": "v"},
			"", func(t *testing.T, out map[string]string) {
				if len(strings.Split(out[AttrAltered], ",")) != 4 {
					t.Fatalf("altered = %q, want 4 keys", out[AttrAltered])
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, altered := SafeAttributes(tt.in)
			within(t, out)
			if tt.wantAltered != "" && strings.Join(altered, ",") != tt.wantAltered {
				t.Fatalf("altered = %v, want %s", altered, tt.wantAltered)
			}
			if out[AttrAltered] != strings.Join(altered, ",") {
				t.Fatalf("%s = %q, altered = %v", AttrAltered, out[AttrAltered], altered)
			}
			if !WithinLimits(out) {
				t.Fatal("WithinLimits says no to SafeAttributes' output")
			}
			again, more := SafeAttributes(out)
			if len(more) != 0 || len(again) != len(out) {
				t.Fatalf("not idempotent: altered %v on the second pass", more)
			}
			if tt.check != nil {
				tt.check(t, out)
			}
		})
	}
}

// Two originals that share their first kilobyte stay distinct.
func TestSafeValueKeepsIdentity(t *testing.T) {
	a, b := strings.Repeat("x", 1500)+"a", strings.Repeat("x", 1500)+"b"
	if SafeValue(a) == SafeValue(b) {
		t.Fatal("different long values collapsed to one attribute value")
	}
	if again := SafeValue(a); SafeValue(a) != again {
		t.Fatal("not deterministic")
	}
}

func TestTooManyAttributes(t *testing.T) {
	in := map[string]string{"event_id": strings.Repeat("e", 2000)}
	for i := range 120 {
		in["k"+strings.Repeat("0", i%3)+string(rune('a'+i%26))+strings.Repeat("z", i/26)] = "v"
	}
	out, _ := SafeAttributes(in)
	within(t, out)
	if out[AttrAltered] == "" {
		t.Fatal("the altered flag was dropped to make room")
	}
}

func FuzzSafeAttributes(f *testing.F) {
	f.Add("event_id", "01JH6Z8Q3V4K2N7R9T5W1XAB3C", "metric", "sent")
	f.Add("event_id", strings.Repeat("e", 2000), "object_type", "\xff\xfe")
	f.Add("goog", "x", strings.Repeat("k", 300), strings.Repeat("日", 400))
	f.Add("", "", "a", "ok\xe6\x97")
	f.Fuzz(func(t *testing.T, k1, v1, k2, v2 string) {
		in := map[string]string{k1: v1, k2: v2, "metric": v1 + v2}
		out, _ := SafeAttributes(in)
		within(t, out)
		for k, v := range in {
			if utf8.ValidString(v) && len(v) <= MaxAttributeValueBytes && safeKey(k) == k && out[k] != v {
				t.Fatalf("safe %q=%.40q was changed to %.40q", k, v, out[k])
			}
		}
	})
}
