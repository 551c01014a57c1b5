package pipeline

import (
	"bytes"
	"context"
	"testing"
)

// A row stored with its actions deferred (backfill without
// --apply-actions) gets them from the next delivery that acts — a webhook
// under another event_id, or ProcessActions — once; a row stored by a
// delivery that acted, or one the ledger does not know, is left alone; an
// event left claimed and unfinished is finished.
func TestDeferredActions(t *testing.T) {
	type step struct {
		do          string // "defer", "process", "actions", "crash-row"
		wantOutcome string
	}
	tests := []struct {
		name      string
		steps     []step
		wantRows  int
		wantCalls int
	}{
		{"deferred, then a webhook", []step{{"defer", OutcomeDeferred}, {"webhook", OutcomeInserted}, {"webhook", OutcomeDuplicate},
			{"actions", OutcomeDuplicate}}, 1, 1},
		{"deferred, then caught up", []step{{"defer", OutcomeDeferred}, {"actions", OutcomeInserted}, {"actions", OutcomeDuplicate},
			{"webhook", OutcomeDuplicate}}, 1, 1},
		{"acted, then caught up", []step{{"process", OutcomeInserted}, {"actions", OutcomeDuplicate}, {"webhook", OutcomeDuplicate}}, 1, 1},
		{"unknown to the ledger", []step{{"actions", OutcomeDuplicate}}, 0, 0},
		{"stopped between row and actions", []step{{"crash-row", ""}, {"actions", OutcomeInserted}, {"process", OutcomeDuplicate}}, 1, 1},
	}
	for _, kind := range ledgers() {
		for _, tc := range tests {
			t.Run(string(kind)+"/"+tc.name, func(t *testing.T) {
				r := newRig(t, kind)
				m := fixture(t, "events/email.bounced.json")
				// The same occurrence under Customer.io's other event_id: another source.
				other := message("other", bytes.Replace(m.Data, []byte(`"01JH6Z8Q3V4K2N7R9T5W1XAB3C"`), []byte(`"01JH6Z8Q3V4K2N7R9T5W1XOTHR"`), 1))
				if bytes.Equal(other.Data, m.Data) {
					t.Fatal("fixture's event_id changed")
				}
				for i, s := range tc.steps {
					var res Result
					var err error
					switch s.do {
					case "defer":
						r.p.DeferActions = true
						res, err = r.p.Process(context.Background(), m)
						r.p.DeferActions = false
					case "process":
						res, err = r.p.Process(context.Background(), m)
					case "webhook":
						res, err = r.p.Process(context.Background(), other)
					case "actions":
						res, err = r.p.ProcessActions(context.Background(), m)
					case "crash-row":
						r.crashOnceAt(StepRow)
						if _, err := r.p.Process(context.Background(), m); err == nil {
							t.Fatal("the injected crash did not surface")
						}
						r.expireLeases()
						continue
					}
					if err != nil || res.Outcome != s.wantOutcome {
						t.Fatalf("step %d (%s): %+v, %v; want %s", i, s.do, res, err, s.wantOutcome)
					}
				}
				if n := distinct(r.bq.Rows(eventsTable), "delivery_id"); n != tc.wantRows {
					t.Errorf("%d rows, want %d", n, tc.wantRows)
				}
				if n := len(r.track.Calls()); n != tc.wantCalls {
					t.Errorf("%d Track calls, want %d", n, tc.wantCalls)
				}
			})
		}
	}
}
