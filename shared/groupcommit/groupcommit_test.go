package groupcommit

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"

	bolt "go.etcd.io/bbolt"
)

func openDB(t *testing.T) *bolt.DB {
	t.Helper()
	db, err := bolt.Open(filepath.Join(t.TempDir(), "g.db"), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.Update(func(tx *bolt.Tx) error { _, err := tx.CreateBucket([]byte("b")); return err }); err != nil {
		t.Fatal(err)
	}
	return db
}

// TestConcurrentCalls: every call's change lands and a failing call fails
// alone, though it shared a transaction with others.
func TestConcurrentCalls(t *testing.T) {
	db := openDB(t)
	c := New(db)
	defer c.Close()
	const n = 400
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			errs[i] = c.Update(context.Background(), func(tx *bolt.Tx) error {
				if i%100 == 7 {
					return fmt.Errorf("call %d refuses", i)
				}
				return tx.Bucket([]byte("b")).Put(binary.BigEndian.AppendUint64(nil, uint64(i)), []byte("v"))
			})
		})
	}
	wg.Wait()
	stored := 0
	db.View(func(tx *bolt.Tx) error { stored = tx.Bucket([]byte("b")).Stats().KeyN; return nil })
	for i, err := range errs {
		if (i%100 == 7) != (err != nil) {
			t.Errorf("call %d: err %v", i, err)
		}
	}
	if stored != n-4 {
		t.Errorf("%d keys stored, want %d", stored, n-4)
	}
}

func TestUpdateAfterClose(t *testing.T) {
	c := New(openDB(t))
	c.Close()
	c.Close() // idempotent
	if err := c.Update(context.Background(), func(*bolt.Tx) error { return nil }); !errors.Is(err, ErrClosed) {
		t.Fatalf("Update after Close = %v, want ErrClosed", err)
	}
}

func TestPanicIsAnError(t *testing.T) {
	c := New(openDB(t))
	defer c.Close()
	err := c.Update(context.Background(), func(*bolt.Tx) error { panic("boom") })
	if err == nil {
		t.Fatal("a panicking function reported success")
	}
	if err := c.Update(context.Background(), func(*bolt.Tx) error { return nil }); err != nil {
		t.Fatalf("committer dead after a panic: %v", err)
	}
}
