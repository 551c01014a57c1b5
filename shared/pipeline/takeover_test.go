package pipeline

import (
	"context"
	"testing"

	"github.com/cioevents/cioevents/shared/actions"
	"github.com/cioevents/cioevents/shared/warehouse"
	"github.com/cioevents/cioevents/shared/webhook"
)

// A strict-mode (LEDGER_MODE=strict) takeover keeps the recorded steps, so
// no order of webhook and backfill deliveries of one occurrence, with a
// crash between any two steps, makes a Track call twice: a backfill
// (DeferActions) that takes over a webhook's unfinished claim finishes the
// row's record with the actions deferred but keeps the action steps made
// under it, and whoever makes the deferred actions skips those. Against the
// Firestore emulator and bbolt (dev's ledger), and Memory.
func TestTakeoverKeepsRecordedSteps(t *testing.T) {
	ctx := context.Background()
	// Two calls, so a crash can fall between them.
	policy := actions.Policy{"email.bounced": {
		{Kind: actions.KindIdentify, Attributes: map[string]any{"email_bounced": true}},
		{Kind: actions.KindIdentify, Attributes: map[string]any{"email_bounced_at": "{{timestamp}}"}},
	}}
	type step struct {
		who   string // "webhook", "backfill", "catch-up" (backfill --catch-up-actions)
		crash string // the crash point of this delivery, "" for none
	}
	for _, tc := range []struct {
		name  string
		steps []step
	}{
		{"webhook first, crash between its actions; backfill takes over", []step{
			{"webhook", "action:0:identify"}, {"backfill", ""}, {"webhook", ""}, {"catch-up", ""}}},
		{"webhook first, crash after its last action; backfill takes over", []step{
			{"webhook", "action:1:identify"}, {"backfill", ""}, {"webhook", ""}, {"catch-up", ""}}},
		{"webhook first, crash between its actions; catch-up after backfill", []step{
			{"webhook", "action:0:identify"}, {"backfill", ""}, {"catch-up", ""}, {"webhook", ""}}},
		{"backfill first, crash after the row; webhook takes over and crashes; backfill takes over again", []step{
			{"backfill", "row"}, {"webhook", "action:0:identify"}, {"backfill", ""}, {"webhook", ""}, {"catch-up", ""}}},
		{"backfill first and done; webhook crashes between the deferred actions", []step{
			{"backfill", ""}, {"webhook", "actions:claimed"}, {"webhook", "action:0:identify"}, {"webhook", ""}, {"catch-up", ""}}},
	} {
		for _, kind := range []ledgerKind{firestoreLedger, boltLedger, memoryLedger} {
			t.Run(tc.name+"/"+string(kind), func(t *testing.T) {
				r := newRig(t, kind)
				r.p.RecordEachStep = true
				r.p.Policy = policy
				backfill := *r.p
				backfill.DeferActions = true
				m := fixture(t, "events/email.bounced.json")
				bm := m
				bm.Attributes = map[string]string{webhook.AttrSource: warehouse.SourceBackfill}
				for k, v := range m.Attributes {
					bm.Attributes[k] = v
				}
				for i, s := range tc.steps {
					if s.crash != "" {
						r.crashOnceAt(s.crash)
					}
					var err error
					switch s.who {
					case "webhook":
						_, err = r.p.Process(ctx, m)
					case "backfill":
						_, err = backfill.Process(ctx, bm)
					case "catch-up":
						_, err = backfill.ProcessActions(ctx, bm)
					}
					if (err != nil) != (s.crash != "") {
						t.Fatalf("step %d (%s, crash at %q): %v", i, s.who, s.crash, err)
					}
					if s.crash != "" {
						r.expireLeases() // the crashed holder's lease runs out
					}
				}
				calls := r.track.Calls()
				if len(calls) != 2 {
					t.Errorf("%d Track calls, want 2 (each action once)", len(calls))
				}
				if n := distinct(r.bq.Rows(eventsTable), "event_id"); n != 1 || len(r.bq.Rows(eventsTable)) > 2 {
					t.Errorf("%d rows of %d events, want the one", len(r.bq.Rows(eventsTable)), n)
				}
			})
		}
	}
}
