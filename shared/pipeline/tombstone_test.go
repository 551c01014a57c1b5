package pipeline

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"cloud.google.com/go/firestore"
	"google.golang.org/api/option"

	"github.com/cioevents/cioevents/internal/testsupport/opcount"
	"github.com/cioevents/cioevents/shared/ledger"
	"github.com/cioevents/cioevents/shared/tombstone"
)

// A forgotten person stays forgotten: after `forget` left its tombstone in
// the ledger's store (the Firestore emulator), a redelivery, a Customer.io
// retry or a replay of the person's event is dropped — no row, no Track
// call — at no Firestore operation per event (the set is in memory); the
// refresh that finds nothing new costs one read.
func TestForgottenPersonIsDropped(t *testing.T) {
	ctx := context.Background()
	r := newRig(t, firestoreLedger)
	counter := &opcount.Firestore{}
	conn, err := counter.Dial(os.Getenv("FIRESTORE_EMULATOR_HOST"))
	if err != nil {
		t.Fatal(err)
	}
	client, err := firestore.NewClient(ctx, project, option.WithGRPCConn(conn))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	f := ledger.NewFirestore(client, fmt.Sprintf("tomb_%d_%d", runStart, collSeq.Add(1)), testLease)
	r.p.Ledger = f
	h := tombstone.NewHasher([]byte("0123456789abcdef0123456789abcdef"))
	set := &tombstone.Set{Store: f, Hasher: h}
	if err := set.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	r.p.Forgotten = set

	// Before forget: the bounce is stored and acted on.
	bounce := fixture(t, "events/email.bounced.json")
	if res, err := r.p.Process(ctx, bounce); err != nil || res.Outcome != OutcomeInserted {
		t.Fatalf("before forget: %+v, %v", res, err)
	}
	rows, calls := len(r.bq.Rows(eventsTable)), len(r.track.Calls())

	// forget --email (in another case) — the tombstone of the address.
	if err := f.PutTombstones(ctx, tombstone.New(h, tombstone.Person{Email: " JANE@example.com"}, time.Now(), 0)); err != nil {
		t.Fatal(err)
	}
	counter.Reset()
	if res, err := r.p.Process(ctx, bounce); err != nil || res.Outcome != OutcomeDuplicate {
		t.Fatalf("before the refresh the ledger still dedupes: %+v, %v", res, err)
	}
	if err := set.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if set.Len() != 1 {
		t.Fatalf("set holds %d tombstones, want 1", set.Len())
	}
	counter.Reset()
	// A new event of the person (another event_id: a retry re-sent, a
	// replayed dead letter) and the same event once its ledger entry is gone.
	other := fixture(t, "events/email.opened.json")
	for _, m := range []Message{bounce, message("x", []byte(`{"event_id":"01JTOMBNEW0000000000000000","object_type":"email",`+
		`"metric":"delivered","timestamp":1767225600,"data":{"identifiers":{"email":"jane@example.com"}}}`))} {
		res, err := r.p.Process(ctx, m)
		if err != nil || res.Outcome != OutcomeForgotten {
			t.Errorf("event of the forgotten person: %+v, %v", res, err)
		}
	}
	if w, rd := take(counter); w != 0 || rd != 0 {
		t.Errorf("dropping cost %d writes, %d reads; want none", w, rd)
	}
	if len(r.bq.Rows(eventsTable)) != rows || len(r.track.Calls()) != calls {
		t.Errorf("rows %d → %d, Track calls %d → %d after forget", rows, len(r.bq.Rows(eventsTable)), calls, len(r.track.Calls()))
	}
	// Somebody else is untouched.
	if res, err := r.p.Process(ctx, other); err != nil || res.Outcome == OutcomeForgotten {
		t.Errorf("another person's event: %+v, %v", res, err)
	}
	counter.Reset()
	if err := set.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if w, rd := take(counter); w != 0 || rd > 1 {
		t.Errorf("a refresh with nothing new cost %d writes, %d reads; want at most 1 read", w, rd)
	}
}
