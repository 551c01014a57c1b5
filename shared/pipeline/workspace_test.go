package pipeline

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"github.com/cioevents/cioevents/shared/actions"
	"github.com/cioevents/cioevents/shared/logging"
	"github.com/cioevents/cioevents/shared/webhook"
)

// Each event is acted on with its own workspace's credentials and recorded
// with its workspace; one from a workspace without credentials still gets
// its row, makes no Track call and leaves a counted line.
func TestEventsActInTheirOwnWorkspace(t *testing.T) {
	r := newRig(t, memoryLedger)
	r.track.Accept("site-b", "key-b")
	trackB, err := actions.NewTrack(actions.TrackConfig{SiteID: "site-b", APIKey: "key-b", BaseURL: r.track.URL(),
		HTTPClient: r.track.Client(), RateLimit: 1000, Burst: 100})
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	r.p.Workspaces = actions.NewWorkspaces(map[string]actions.Client{"default": r.p.Actions, "b": trackB}, nil,
		actions.DefaultPolicy(), logging.New(&logs, "info"))

	bounce := func(id, ws string) Message {
		body := fmt.Sprintf(`{"event_id":"%s","object_type":"email","metric":"bounced","timestamp":1767225600,`+
			`"data":{"identifiers":{"id":"person-%s"},"recipient":"x@example.com","failure_message":"550"}}`, id, id)
		m := message(id, []byte(body))
		if ws != "" {
			m.Attributes[webhook.AttrWorkspace] = ws
		}
		return m
	}
	for _, m := range []Message{bounce("01WSB000000000000000000001", "b"), bounce("01WSD000000000000000000002", ""),
		bounce("01WSC000000000000000000003", "c")} {
		res := deliver(t, r.p, m)
		want := OutcomeInserted
		if m.Attributes[webhook.AttrWorkspace] == "c" {
			want = OutcomeInserted + ":action_failed"
		}
		if res.Outcome != want {
			t.Errorf("%s: outcome %q, want %q", m.ID, res.Outcome, want)
		}
	}
	bad := message("bad", []byte(`[1]`))
	bad.Attributes[webhook.AttrWorkspace] = "b"
	if res := deliver(t, r.p, bad); res.Outcome != OutcomeRejected {
		t.Fatalf("outcome %q", res.Outcome)
	}

	got := map[string]string{}
	for _, row := range r.bq.Rows(eventsTable) {
		got[row["event_id"].(string)], _ = row["workspace"].(string)
	}
	for id, ws := range map[string]string{"01WSB000000000000000000001": "b", "01WSD000000000000000000002": "default",
		"01WSC000000000000000000003": "c"} {
		if got[id] != ws {
			t.Errorf("row %s: workspace %q, want %q", id, got[id], ws)
		}
	}
	if rej := r.bq.Rows(rejTable); len(rej) != 1 || rej[0]["workspace"] != "b" {
		t.Errorf("rejected rows %v", rej)
	}
	sites := map[string]string{}
	for _, c := range r.track.Calls() {
		sites[c.Person] = c.SiteID
	}
	if len(r.track.Calls()) != 2 || sites["person-01WSB000000000000000000001"] != "site-b" ||
		sites["person-01WSD000000000000000000002"] != "site" {
		t.Errorf("Track calls by person → site: %v", sites)
	}
	if !strings.Contains(logs.String(), `"outcome":"no_credentials"`) || !strings.Contains(logs.String(), `"workspace":"c"`) {
		t.Errorf("no counted line for the workspace without credentials:\n%s", logs.String())
	}
}
