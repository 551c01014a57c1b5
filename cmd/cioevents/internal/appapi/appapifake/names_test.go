package appapifake

import (
	"encoding/json"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// fixturePaths maps each reference fixture to the path whose response it
// shows (the ID in a sub-resource path is the sample catalog's first).
var fixturePaths = map[string]string{
	"campaigns.json":           "/v1/campaigns",
	"campaign_actions.json":    "/v1/campaigns/42/actions",
	"broadcasts.json":          "/v1/broadcasts",
	"broadcast_actions.json":   "/v1/broadcasts/9/actions",
	"newsletters.json":         "/v1/newsletters",
	"newsletter_contents.json": "/v1/newsletters/88/contents",
	"transactional.json":       "/v1/transactional",
}

// TestRenderShapes holds the fake's responses to the reference's: the same
// list key and, for each item, the same fields.
func TestRenderShapes(t *testing.T) {
	got := Render(SampleCatalog(), time.Unix(1764547200, 0))
	for file, path := range fixturePaths {
		raw, err := os.ReadFile(filepath.Join("testdata", "responses", file))
		if err != nil {
			t.Fatal(err)
		}
		var want map[string][]map[string]any
		if err := json.Unmarshal(raw, &want); err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		body, ok := got[path]
		if !ok {
			t.Errorf("%s: the fake serves nothing at %s", file, path)
			continue
		}
		b, _ := json.Marshal(body)
		var have map[string][]map[string]any
		if err := json.Unmarshal(b, &have); err != nil {
			t.Fatalf("%s: rendered %s: %v", file, path, err)
		}
		for key, items := range want {
			if len(have[key]) == 0 {
				t.Errorf("%s: rendered %s has no %q items", file, path, key)
				continue
			}
			for _, item := range have[key] {
				if a, b := slices.Sorted(maps.Keys(items[0])), slices.Sorted(maps.Keys(item)); !slices.Equal(a, b) {
					t.Errorf("%s: rendered %s item fields\n %q\nwant\n %q", file, path, b, a)
				}
			}
		}
	}
}

// The calls a refresh makes: one list per kind, one actions call per
// parent that has actions.
func TestCatalogCalls(t *testing.T) {
	c := SampleCatalog()
	if got, want := c.Calls(), 4+len(c.Campaigns)+len(c.Broadcasts)+len(c.Newsletters); got != want {
		t.Errorf("Calls() = %d, want %d", got, want)
	}
	c.Campaigns = append(c.Campaigns, Message{ID: 1, Name: "draft without actions"})
	if got, want := c.Calls(), 4+len(c.Campaigns)-1+len(c.Broadcasts)+len(c.Newsletters); got != want {
		t.Errorf("with an action-less campaign: Calls() = %d, want %d", got, want)
	}
}
