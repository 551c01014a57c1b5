package ledger

import (
	"path/filepath"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

func openBolt(tb testing.TB) *bolt.DB {
	tb.Helper()
	db, err := bolt.Open(filepath.Join(tb.TempDir(), "ledger.db"), 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	return db
}

// TestBoltSurvivesReopen: the point of the bolt ledger is that a restarted
// dev sees what the last run finished and what it left half done.
func TestBoltSurvivesReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ledger.db")
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := NewBolt(db, testLease)
	if err != nil {
		t.Fatal(err)
	}
	exp := time.Now().Add(9 * 24 * time.Hour)
	done := mustClaim(t, b, "ev-done", exp)
	must(t, "Record", b.Record(ctx, done, "row"))
	must(t, "Finish", b.Finish(ctx, done, "inserted"))
	half := mustClaim(t, b, "ev-half", exp)
	must(t, "Record", b.Record(ctx, half, "row"))
	db.Close()

	db, err = bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ck := &clock{t: time.Now()}
	b, err = NewBolt(db, testLease)
	if err != nil {
		t.Fatal(err)
	}
	b.Now = ck.Now
	_, err = b.Claim(ctx, "ev-done", exp)
	wantErr(t, "Claim of a finished event after reopen", err, ErrDuplicate)
	ck.Advance(testLease + time.Second)
	c := mustClaim(t, b, "ev-half", exp)
	if c.Attempt != 2 || !c.Done("row") {
		t.Fatalf("takeover after reopen: attempt %d, row done %v; want 2, true", c.Attempt, c.Done("row"))
	}
}

func TestBoltPurge(t *testing.T) {
	ck := &clock{t: t0}
	b, err := NewBolt(openBolt(t), testLease)
	if err != nil {
		t.Fatal(err)
	}
	b.Now = ck.Now
	for i, exp := range []time.Duration{time.Hour, 2 * time.Hour, 48 * time.Hour} {
		c := mustClaim(t, b, "ev-"+string(rune('a'+i)), t0.Add(exp))
		must(t, "Finish", b.Finish(ctx, c, "inserted"))
	}
	ck.Advance(2 * time.Hour)
	n, err := b.Purge(ctx)
	if err != nil || n != 2 {
		t.Fatalf("Purge = %d, %v; want 2 (expire_at at or before now)", n, err)
	}
	if _, ok, _ := b.snapshot("ev-c"); !ok {
		t.Fatal("Purge removed a live record")
	}
	_, err = b.Claim(ctx, "ev-c", t0.Add(72*time.Hour))
	wantErr(t, "Claim of the kept record", err, ErrDuplicate)
}
