package webhook

import (
	"encoding/json"
	"strings"
	"testing"
)

// The accepted answer is written by hand for plain IDs; it must be the
// bytes encoding/json would write.
func TestPlainJSONMatchesEncoder(t *testing.T) {
	for _, id := range []string{"01JH6Z8Q3V4K2N7R9T5W1XAB3C", "a b", "a<b", "a&b", "a>b", `a"b`, `a\b`, "a\x7fb", "a\x1fb",
		"é", "\u2028", "\xff", strings.Repeat("x", 64), strings.Repeat("x", 65), ""} {
		want, _ := json.Marshal(id)
		if plainJSON(id) && string(want) != `"`+id+`"` {
			t.Errorf("plainJSON(%q) but encoding/json writes %s", id, want)
		}
	}
}
