package pipeline

import (
	"context"
	"fmt"
	"os"
	"testing"

	"cloud.google.com/go/firestore"
	"google.golang.org/api/option"

	"github.com/cioevents/cioevents/internal/testsupport/opcount"
	"github.com/cioevents/cioevents/shared/ledger"
)

// The ledger's cost per event, counted at the Firestore API: an event
// without actions (most events) costs one read and one write, an event
// with actions two writes; a duplicate delivery one read (a failed create
// is not billed). Strict mode pays a write per step on top.
func TestLedgerOperationsPerEvent(t *testing.T) {
	cases := []struct {
		fixture       string
		strict        bool
		writes, reads int64
	}{
		{"events/email.delivered.json", false, 1, 1},
		{"events/email.sent.json", false, 1, 1},
		{"events/email.bounced.json", false, 2, 0},
		{"events/email.opened.json", false, 2, 0},
		{"malformed/truncated.json", false, 1, 1},
		{"events/email.delivered.json", true, 3, 0},
		{"events/email.bounced.json", true, 4, 0},
	}
	for _, tc := range cases {
		t.Run(mode(tc.strict)+"/"+tc.fixture, func(t *testing.T) {
			r := newRig(t, firestoreLedger)
			counter := &opcount.Firestore{}
			conn, err := counter.Dial(os.Getenv("FIRESTORE_EMULATOR_HOST"))
			if err != nil {
				t.Fatal(err)
			}
			client, err := firestore.NewClient(context.Background(), project, option.WithGRPCConn(conn))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { client.Close() })
			f := ledger.NewFirestore(client, fmt.Sprintf("ops_%d_%d", runStart, collSeq.Add(1)), testLease)
			r.p.Ledger, r.p.RecordEachStep = f, tc.strict
			m := fixture(t, tc.fixture)
			if _, err := r.p.Process(context.Background(), m); err != nil {
				t.Fatal(err)
			}
			if w, rd := take(counter); w != tc.writes || rd != tc.reads {
				t.Errorf("first delivery: %d writes, %d reads; want %d and %d", w, rd, tc.writes, tc.reads)
			}
			res, err := r.p.Process(context.Background(), m)
			if err != nil || res.Outcome != OutcomeDuplicate {
				t.Fatalf("second delivery: %+v, %v", res, err)
			}
			// Lean mode reads first; a claim's create fails (unbilled) and
			// reads. Either way, one read.
			if w, rd := take(counter); w != 0 || rd != 1 {
				t.Errorf("duplicate delivery: %d writes, %d reads; want 0 and 1", w, rd)
			}
		})
	}
}

// take returns the writes and reads counted since the last take.
func take(c *opcount.Firestore) (writes, reads int64) {
	defer c.Reset()
	return c.Writes(), c.Reads()
}
