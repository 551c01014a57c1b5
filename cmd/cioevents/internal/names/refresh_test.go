package names

import (
	"context"
	"testing"

	"github.com/cioevents/cioevents/cmd/cioevents/internal/appapi"
	"github.com/cioevents/cioevents/cmd/cioevents/internal/appapi/appapifake"
)

// Fetch asks for actions only where the list shows some, keeps the first of
// an ID listed twice, and makes exactly the calls the formula says.
func TestFetch(t *testing.T) {
	api := fakeAPI(t)
	c := appapifake.SampleCatalog()
	c.Campaigns = append(c.Campaigns,
		appapifake.Message{ID: 500, Name: "Draft, no actions yet"},
		appapifake.Message{ID: 501, Name: "Copy of onboarding", Actions: []appapifake.Message{{ID: 116, Name: "Welcome email (copy)"}}})
	c.Newsletters = append(c.Newsletters, appapifake.Message{ID: 600, Name: "Unsent draft"})
	api.SetNames(c, refreshedAt)
	client, err := appapi.New(appapi.Config{Key: "app-key", BaseURL: api.URL(), RateLimit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	f, err := Fetch(context.Background(), client, "default", refreshedAt, nil)
	if err != nil {
		t.Fatal(err)
	}
	if f.Lists+f.Children != c.Calls() || api.NamesCalls() != c.Calls() {
		t.Errorf("%d + %d calls counted, %d made; the formula says %d", f.Lists, f.Children, api.NamesCalls(), c.Calls())
	}
	if f.Duplicates != 1 {
		t.Errorf("%d duplicates, want 1 (action 116 under campaigns 42 and 501)", f.Duplicates)
	}
	ix := NewIndex(f.Records)
	if n, _ := ix.Lookup("default", Action, "116"); n != "Welcome email" {
		t.Errorf("action 116 = %q, want the first listing's name", n)
	}
	if n, _ := ix.Lookup("default", Campaign, "500"); n != "Draft, no actions yet" {
		t.Errorf("campaign 500 = %q", n)
	}
	if f.Count[Newsletter] != 4 || f.Count[Campaign] != 6 {
		t.Errorf("counts %v", f.Count)
	}
}
