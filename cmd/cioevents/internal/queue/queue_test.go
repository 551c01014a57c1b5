package queue

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

func open(t *testing.T, path string) (*Queue, *bolt.DB) {
	t.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	q, err := New(db)
	if err != nil {
		t.Fatal(err)
	}
	return q, db
}

func publishN(t *testing.T, q *Queue, n int) {
	t.Helper()
	for i := range n {
		if _, err := q.Publish(context.Background(), []byte(fmt.Sprintf("body-%d", i)), map[string]string{"i": fmt.Sprint(i), "empty": ""}); err != nil {
			t.Fatal(err)
		}
	}
}

func TestRoundTripInOrder(t *testing.T) {
	q, db := open(t, filepath.Join(t.TempDir(), "q.db"))
	defer db.Close()
	publishN(t, q, 50)
	ctx, cancel := context.WithCancel(context.Background())
	var mu sync.Mutex
	var got []Message
	done := make(chan error)
	go func() {
		done <- q.Receive(ctx, ReceiveOptions{Concurrency: 1}, func(_ context.Context, m Message) error {
			mu.Lock()
			defer mu.Unlock()
			if got = append(got, m); len(got) == 50 {
				cancel()
			}
			return nil
		})
	}()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("Receive = %v, want context.Canceled", err)
	}
	for i, m := range got {
		if string(m.Data) != fmt.Sprintf("body-%d", i) || m.Attributes["i"] != fmt.Sprint(i) || m.Attempt != 1 {
			t.Fatalf("message %d = %+v", i, m)
		}
		if v, ok := m.Attributes["empty"]; !ok || v != "" {
			t.Fatalf("message %d lost its empty attribute: %v", i, m.Attributes)
		}
		if m.PublishTime.IsZero() || m.ID == "" {
			t.Fatalf("message %d has no ID or publish time: %+v", i, m)
		}
	}
	waitLen(t, q, 0)
}

func waitLen(t *testing.T, q *Queue, want int) {
	t.Helper()
	// Acks commit in batches after the handler returns.
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		n, err := q.Len()
		if err != nil {
			t.Fatal(err)
		}
		if n == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("Len = %d, want %d", n, want)
		}
	}
}

// TestUnackedSurviveReopen: what was published and not acked when the
// process stopped is delivered after a restart; what was acked is not.
func TestUnackedSurviveReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "q.db")
	q, db := open(t, path)
	publishN(t, q, 10)
	ctx, cancel := context.WithCancel(context.Background())
	var acked atomic.Int64
	done := make(chan error)
	go func() {
		done <- q.Receive(ctx, ReceiveOptions{Concurrency: 1}, func(ctx context.Context, m Message) error {
			if err := ctx.Err(); err != nil {
				return err // stopping: not acked
			}
			if acked.Add(1) == 4 {
				cancel()
			}
			return nil
		})
	}()
	<-done
	q.Close()
	db.Close()

	q, db = open(t, path)
	defer db.Close()
	n, err := q.Len()
	if err != nil {
		t.Fatal(err)
	}
	if n != 6 {
		t.Fatalf("after reopen Len = %d, want the 6 unacked", n)
	}
	var mu sync.Mutex
	seen := map[string]bool{}
	ctx, cancel = context.WithCancel(context.Background())
	go func() {
		done <- q.Receive(ctx, ReceiveOptions{}, func(_ context.Context, m Message) error {
			mu.Lock()
			defer mu.Unlock()
			seen[string(m.Data)] = true
			return nil
		})
	}()
	waitLen(t, q, 0)
	cancel()
	<-done
	for i := 4; i < 10; i++ {
		if !seen[fmt.Sprintf("body-%d", i)] {
			t.Errorf("body-%d was not redelivered after the restart", i)
		}
	}
}

func TestFailedMessageIsRedeliveredWithBackoff(t *testing.T) {
	q, db := open(t, filepath.Join(t.TempDir(), "q.db"))
	defer db.Close()
	publishN(t, q, 1)
	ctx, cancel := context.WithCancel(context.Background())
	var attempts []int
	var times []time.Time
	done := make(chan error)
	go func() {
		done <- q.Receive(ctx, ReceiveOptions{Concurrency: 1, MinBackoff: 20 * time.Millisecond}, func(_ context.Context, m Message) error {
			attempts = append(attempts, m.Attempt)
			times = append(times, time.Now())
			if m.Attempt < 3 {
				return errors.New("not yet")
			}
			cancel()
			return nil
		})
	}()
	<-done
	if fmt.Sprint(attempts) != "[1 2 3]" {
		t.Fatalf("attempts = %v, want [1 2 3]", attempts)
	}
	if gap := times[2].Sub(times[1]); gap < 40*time.Millisecond {
		t.Errorf("third attempt %v after the second, want ≥ 40ms (backoff doubles)", gap)
	}
}

// TestOutstandingIsBounded: however long the backlog, no more than
// MaxOutstanding messages are in memory, counting those waiting for a
// redelivery: with every first attempt failing, no more than MaxOutstanding
// distinct messages are taken before the first redelivery.
func TestOutstandingIsBounded(t *testing.T) {
	q, db := open(t, filepath.Join(t.TempDir(), "q.db"))
	defer db.Close()
	publishN(t, q, 300)
	const limit = 8
	ctx, cancel := context.WithCancel(context.Background())
	var mu sync.Mutex
	firsts, firstsBeforeRetry, inHand, peak := 0, -1, 0, 0
	done := make(chan error)
	go func() {
		done <- q.Receive(ctx, ReceiveOptions{Concurrency: 4, MaxOutstanding: limit, MinBackoff: 200 * time.Millisecond},
			func(_ context.Context, m Message) error {
				mu.Lock()
				inHand++
				peak = max(peak, inHand)
				if m.Attempt == 1 {
					firsts++
				} else if firstsBeforeRetry < 0 {
					firstsBeforeRetry = firsts
				}
				mu.Unlock()
				time.Sleep(time.Millisecond)
				mu.Lock()
				inHand--
				mu.Unlock()
				if m.Attempt == 1 {
					return errors.New("retry me") // holds its slot while it waits
				}
				return nil
			})
	}()
	waitLen(t, q, 0)
	cancel()
	<-done
	if firstsBeforeRetry > limit || firstsBeforeRetry < 1 {
		t.Errorf("%d messages taken before the first redelivery, want 1..%d (MaxOutstanding)", firstsBeforeRetry, limit)
	}
	if peak > 4 {
		t.Errorf("%d handlers ran at once, want ≤ Concurrency 4", peak)
	}
}

func TestBackoffCaps(t *testing.T) {
	o := ReceiveOptions{MinBackoff: time.Second, MaxBackoff: 5 * time.Second}
	for attempt, want := range map[int]time.Duration{1: time.Second, 2: 2 * time.Second, 3: 4 * time.Second, 4: 5 * time.Second, 40: 5 * time.Second} {
		if got := backoff(o, attempt); got != want {
			t.Errorf("backoff(attempt %d) = %v, want %v", attempt, got, want)
		}
	}
}

func TestDecodeRejectsTruncated(t *testing.T) {
	b := encode(time.Now(), []byte("data"), map[string]string{"k": "v"})
	for n := range 11 {
		if _, err := decode(b[:n]); err == nil {
			t.Errorf("decode of the first %d bytes succeeded", n)
		}
	}
}
