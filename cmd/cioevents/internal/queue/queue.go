// Package queue is the durable stand-in for a Pub/Sub topic with one
// subscription that `cioevents dev` runs on when no Pub/Sub emulator is
// configured. Messages are kept in a bbolt file until acked, so a message the
// receiver accepted (and answered 2xx for) survives a stop or a crash and is
// delivered after the restart; memory holds only the messages being worked
// on, however long the backlog on disk grows.
//
// In-process pstest would keep every message ever published in memory and
// lose the backlog on exit; the Pub/Sub emulator is a separate JVM. Delivery
// is at least once, like Pub/Sub's: the ledger makes it exactly once.
package queue

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/cioevents/cioevents/shared/groupcommit"
)

var bucket = []byte("messages")

// Message is one delivery.
type Message struct {
	ID          string
	Data        []byte
	Attributes  map[string]string
	PublishTime time.Time
	// Attempt counts deliveries in this process, from 1.
	Attempt int
}

// Queue is a durable FIFO queue in a bbolt database. It is safe for
// concurrent use; one Receive at a time consumes it.
type Queue struct {
	db    *bolt.DB
	group *groupcommit.Committer
	wake  chan struct{}
	now   func() time.Time
}

// New keeps the queue in db (its "messages" bucket), which the caller opens
// and closes.
func New(db *bolt.DB) (*Queue, error) {
	if err := db.Update(func(tx *bolt.Tx) error {
		_, err := tx.CreateBucketIfNotExists(bucket)
		return err
	}); err != nil {
		return nil, fmt.Errorf("queue: %w", err)
	}
	return &Queue{db: db, group: groupcommit.New(db), wake: make(chan struct{}, 1), now: time.Now}, nil
}

// Close stops the queue's writer; the caller closes db afterwards.
func (q *Queue) Close() error {
	q.group.Close()
	return nil
}

// Publish stores a message and returns its ID once it is on disk, so a
// caller may acknowledge its own sender then (publish.Publisher).
func (q *Queue) Publish(ctx context.Context, data []byte, attrs map[string]string) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", fmt.Errorf("queue: publish: %w", err)
	}
	val := encode(q.now(), data, attrs)
	var seq uint64
	// Concurrent publishers share a transaction and its fsync; fn may run
	// more than once, which only renumbers.
	err := q.group.Update(ctx, func(tx *bolt.Tx) error {
		b := tx.Bucket(bucket)
		n, err := b.NextSequence()
		if err != nil {
			return err
		}
		seq = n
		return b.Put(key(n), val)
	})
	if err != nil {
		return "", fmt.Errorf("queue: publish: %w", err)
	}
	select {
	case q.wake <- struct{}{}:
	default:
	}
	return strconv.FormatUint(seq, 10), nil
}

// Len returns the number of messages not yet acked.
func (q *Queue) Len() (int, error) {
	var n int
	err := q.db.View(func(tx *bolt.Tx) error {
		n = tx.Bucket(bucket).Stats().KeyN
		return nil
	})
	return n, err
}

// ReceiveOptions bound a Receive.
type ReceiveOptions struct {
	// Concurrency is how many handlers run at once (default 64).
	Concurrency int
	// MaxOutstanding bounds the messages in memory: being handled or
	// waiting for a redelivery (default 4 × Concurrency).
	MaxOutstanding int
	// MinBackoff and MaxBackoff bound the wait before a failed message is
	// delivered again, doubling per attempt (defaults 250 ms and 60 s, a
	// Pub/Sub retry policy's shape).
	MinBackoff, MaxBackoff time.Duration
}

// Receive delivers messages in publish order to f until ctx ends. A nil
// error from f acks the message (deletes it); an error redelivers it after
// a backoff. Messages still unacked when ctx ends stay on disk for the next
// Receive. It returns ctx's error or a storage error.
func (q *Queue) Receive(ctx context.Context, o ReceiveOptions, f func(context.Context, Message) error) error {
	if o.Concurrency <= 0 {
		o.Concurrency = 64
	}
	if o.MaxOutstanding < o.Concurrency {
		o.MaxOutstanding = 4 * o.Concurrency
	}
	if o.MinBackoff <= 0 {
		o.MinBackoff = 250 * time.Millisecond
	}
	if o.MaxBackoff < o.MinBackoff {
		o.MaxBackoff = max(60*time.Second, o.MinBackoff)
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	slots := make(chan struct{}, o.MaxOutstanding)
	work := make(chan item)
	var wg sync.WaitGroup
	// work is never closed: a redelivery may still be on its way to it.
	for range o.Concurrency {
		wg.Go(func() {
			for {
				select {
				case it := <-work:
					q.handle(ctx, cancel, o, slots, work, &wg, it, f)
				case <-ctx.Done():
					return
				}
			}
		})
	}
	err := q.dispatch(ctx, slots, work)
	cancel(err)
	wg.Wait()
	if err := context.Cause(ctx); err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return ctx.Err()
}

type item struct {
	key []byte
	msg Message
}

// dispatch reads the backlog in key order, a page at a time, and hands each
// message to a worker once a slot is free.
func (q *Queue) dispatch(ctx context.Context, slots chan struct{}, work chan<- item) error {
	var after []byte
	for {
		page, err := q.page(after, cap(slots))
		if err != nil {
			return err
		}
		if len(page) == 0 {
			select {
			case <-q.wake:
				continue
			case <-ctx.Done():
				return nil
			}
		}
		for _, it := range page {
			select {
			case slots <- struct{}{}:
			case <-ctx.Done():
				return nil
			}
			select {
			case work <- it:
			case <-ctx.Done():
				return nil
			}
			after = it.key
		}
	}
}

func (q *Queue) page(after []byte, n int) ([]item, error) {
	var out []item
	err := q.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucket).Cursor()
		k, v := c.First()
		if after != nil {
			k, v = c.Seek(after)
			if k != nil && bytes.Equal(k, after) {
				k, v = c.Next()
			}
		}
		for ; k != nil && len(out) < n; k, v = c.Next() {
			m, err := decode(v)
			if err != nil {
				return fmt.Errorf("message %d: %w", binary.BigEndian.Uint64(k), err)
			}
			m.ID = strconv.FormatUint(binary.BigEndian.Uint64(k), 10)
			out = append(out, item{key: bytes.Clone(k), msg: m})
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("queue: read: %w", err)
	}
	return out, nil
}

func (q *Queue) handle(ctx context.Context, stop context.CancelCauseFunc, o ReceiveOptions, slots chan struct{},
	work chan item, wg *sync.WaitGroup, it item, f func(context.Context, Message) error) {
	it.msg.Attempt++
	if err := f(ctx, it.msg); err != nil {
		// Keep the slot while waiting: a failing message still counts
		// against the memory bound.
		wait := backoff(o, it.msg.Attempt)
		wg.Go(func() {
			t := time.NewTimer(wait)
			defer t.Stop()
			select {
			case <-t.C:
			case <-ctx.Done():
				<-slots
				return
			}
			select {
			case work <- it:
			case <-ctx.Done():
				<-slots
			}
		})
		return
	}
	// Not ctx: an ack must not be dropped because Receive is ending.
	err := q.group.Update(context.WithoutCancel(ctx), func(tx *bolt.Tx) error { return tx.Bucket(bucket).Delete(it.key) })
	<-slots
	if err != nil {
		stop(fmt.Errorf("queue: ack: %w", err))
	}
}

func backoff(o ReceiveOptions, attempt int) time.Duration {
	d := o.MinBackoff
	for i := 1; i < attempt && d < o.MaxBackoff; i++ {
		d *= 2
	}
	return min(d, o.MaxBackoff)
}

func key(seq uint64) []byte {
	var k [8]byte
	binary.BigEndian.PutUint64(k[:], seq)
	return k[:]
}

// encode lays a message out as: publish time (unix ns, 8 bytes), attribute
// count, each attribute as length-prefixed key and value, then the data.
func encode(t time.Time, data []byte, attrs map[string]string) []byte {
	b := make([]byte, 0, 8+len(data)+64*len(attrs))
	b = binary.BigEndian.AppendUint64(b, uint64(t.UnixNano()))
	b = binary.AppendUvarint(b, uint64(len(attrs)))
	for k, v := range attrs {
		b = binary.AppendUvarint(b, uint64(len(k)))
		b = append(b, k...)
		b = binary.AppendUvarint(b, uint64(len(v)))
		b = append(b, v...)
	}
	return append(b, data...)
}

var errCorrupt = errors.New("corrupt record")

func decode(b []byte) (Message, error) {
	if len(b) < 8 {
		return Message{}, errCorrupt
	}
	m := Message{PublishTime: time.Unix(0, int64(binary.BigEndian.Uint64(b))).UTC()}
	b = b[8:]
	n, w := binary.Uvarint(b)
	if w <= 0 || n > uint64(len(b)) {
		return Message{}, errCorrupt
	}
	b = b[w:]
	m.Attributes = make(map[string]string, n)
	str := func() (string, bool) {
		l, w := binary.Uvarint(b)
		if w <= 0 || l > uint64(len(b)-w) {
			return "", false
		}
		s := string(b[w : w+int(l)])
		b = b[w+int(l):]
		return s, true
	}
	for range n {
		k, ok1 := str()
		v, ok2 := str()
		if !ok1 || !ok2 {
			return Message{}, errCorrupt
		}
		m.Attributes[k] = v
	}
	// The page is only valid inside the transaction: copy.
	m.Data = bytes.Clone(b)
	return m, nil
}
