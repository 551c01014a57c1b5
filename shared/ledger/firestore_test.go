package ledger

import (
	"errors"
	"testing"
	"time"

	"cloud.google.com/go/firestore"
)

// The TTL policy only deletes documents whose field is a real Timestamp; a
// string or number is silently ignored, so check the stored types.
func TestFirestoreStoredTypes(t *testing.T) {
	f := NewFirestore(newFirestoreClient(t), uniqueCollection(), testLease)
	exp := time.Now().Add(9 * 24 * time.Hour).Truncate(time.Microsecond)
	c := mustClaim(t, f, "a/b", exp)
	must(t, "Record", f.Record(ctx, c, "action:0:identify"))
	must(t, "Finish", f.Finish(ctx, c, "inserted"))

	snap, err := f.coll.Doc(DocID("a/b")).Get(ctx)
	must(t, "Get", err)
	data := snap.Data()
	for _, field := range []string{"expire_at", "created_at", "updated_at"} {
		if _, ok := data[field].(time.Time); !ok {
			t.Errorf("%s is %T, want a Timestamp (time.Time)", field, data[field])
		}
	}
	if got, _ := data["expire_at"].(time.Time); !got.Equal(exp) {
		t.Errorf("expire_at = %v, want %v", got, exp)
	}
	steps, ok := data["steps"].(map[string]any)
	if !ok {
		t.Fatalf("steps is %T, want a map", data["steps"])
	}
	if _, ok := steps["action:0:identify"].(time.Time); !ok || len(steps) != 1 {
		t.Errorf("steps = %v, want one Timestamp under the exact step name", steps)
	}
	for field, want := range map[string]any{"event_id": "a/b", "state": StateDone, "attempt": int64(1), "outcome": "inserted",
		"lease_ms": testLease.Milliseconds()} {
		if data[field] != want {
			t.Errorf("%s = %#v, want %#v", field, data[field], want)
		}
	}
	if len(data) != 10 {
		t.Errorf("document has %d fields, want 10: %v", len(data), data)
	}
}

// A failed write precondition is told apart by re-reading: only a different
// lease token (or a vanished document) means the lease is lost.
func TestFirestoreWriteConflicts(t *testing.T) {
	cases := []struct {
		name      string
		interfere func(t *testing.T, f *Firestore, ref *firestore.DocumentRef)
		want      error // nil: the write must succeed
	}{
		{"own earlier write", func(t *testing.T, _ *Firestore, ref *firestore.DocumentRef) {
			_, err := ref.Update(ctx, []firestore.Update{{Path: "updated_at", Value: time.Now()}})
			must(t, "interfere", err)
		}, nil},
		{"takeover", func(t *testing.T, _ *Firestore, ref *firestore.DocumentRef) {
			_, err := ref.Update(ctx, []firestore.Update{{Path: "lease_token", Value: "someone-else"}})
			must(t, "interfere", err)
		}, ErrLeaseLost},
		{"deleted by TTL", func(t *testing.T, _ *Firestore, ref *firestore.DocumentRef) {
			_, err := ref.Delete(ctx)
			must(t, "interfere", err)
		}, ErrLeaseLost},
		{"deleted and claimed again", func(t *testing.T, f *Firestore, ref *firestore.DocumentRef) {
			_, err := ref.Delete(ctx)
			must(t, "interfere", err)
			mustClaim(t, f, "ev-conflict", time.Now().Add(time.Hour))
		}, ErrLeaseLost},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := NewFirestore(newFirestoreClient(t), uniqueCollection(), testLease)
			c := mustClaim(t, f, "ev-conflict", time.Now().Add(time.Hour))
			tc.interfere(t, f, f.doc("ev-conflict"))
			for _, op := range []struct {
				name string
				do   func() error
			}{
				{"Record", func() error { return f.Record(ctx, c, "row") }},
				{"Finish", func() error { return f.Finish(ctx, c, "inserted") }},
			} {
				err := op.do()
				if tc.want == nil && err != nil || tc.want != nil && !errors.Is(err, tc.want) {
					t.Fatalf("%s: got %v, want %v", op.name, err, tc.want)
				}
			}
			if r, ok := readRecord(t, f, "ev-conflict"); tc.want == nil && (r.State != StateDone || r.Steps["row"].IsZero() || !ok) {
				t.Fatalf("stored %+v", r)
			}
		})
	}
}

// Instances whose clocks disagree still agree on the lease: it is judged by
// Firestore's clock. Before, a holder 61 s behind a 60 s lease was taken over
// at once by an instance whose clock ran ahead.
func TestFirestoreClockSkew(t *testing.T) {
	const lease = time.Minute
	client := newFirestoreClient(t)
	coll := uniqueCollection()
	for _, skew := range []time.Duration{61 * time.Second, time.Hour, -time.Hour, 30 * 24 * time.Hour} {
		t.Run(skew.String(), func(t *testing.T) {
			holder := NewFirestore(client, coll, lease)
			other := NewFirestore(client, coll, lease)
			other.Now = func() time.Time { return time.Now().Add(skew) }
			id := "ev-skew-" + skew.String()
			exp := time.Now().Add(9 * 24 * time.Hour)
			c := mustClaim(t, holder, id, exp)
			_, err := other.Claim(ctx, id, exp)
			wantErr(t, "Claim by a skewed instance", err, ErrBusy)
			must(t, "holder Record", holder.Record(ctx, c, "row"))
			must(t, "holder Finish", holder.Finish(ctx, c, "inserted"))
			_, err = other.Claim(ctx, id, exp)
			wantErr(t, "Claim by a skewed instance after Finish", err, ErrDuplicate)
		})
	}
	// A skewed holder still measures its own lease from its own clock.
	behind := NewFirestore(client, coll, lease)
	behind.Now = func() time.Time { return time.Now().Add(-time.Hour) }
	c := mustClaim(t, behind, "ev-skew-holder", time.Now().Add(9*24*time.Hour))
	if r := c.Remaining(); r <= 0 || r > lease {
		t.Fatalf("Remaining = %v for a holder an hour behind, want (0, %v]", r, lease)
	}
}
