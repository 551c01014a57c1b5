// Package groupcommit shares bbolt write transactions between concurrent
// callers: one goroutine commits, and each transaction takes every change
// that queued up while the previous one was committing. A busy caller thus
// pays for about one commit (and one fsync), not for the queue of commits
// before it, and no timer delays a lone caller — unlike bbolt's Batch, whose
// fixed delay is paid by every call and whose batches still queue on the
// writer lock one behind another.
package groupcommit

import (
	"context"
	"errors"
	"fmt"
	"sync"

	bolt "go.etcd.io/bbolt"
)

// maxGroup bounds one transaction, so a huge backlog of calls still commits
// in steps.
const maxGroup = 1024

// ErrClosed is returned by Update after Close.
var ErrClosed = errors.New("groupcommit: closed")

// Committer runs functions in shared write transactions on one database.
type Committer struct {
	db     *bolt.DB
	calls  chan call
	mu     sync.RWMutex // guards closed against a send on calls
	closed bool
	done   chan struct{}
}

type call struct {
	fn  func(*bolt.Tx) error
	err chan error
}

// New starts a committer on db; Close stops it (db stays open).
func New(db *bolt.DB) *Committer {
	c := &Committer{db: db, calls: make(chan call, maxGroup), done: make(chan struct{})}
	go c.loop()
	return c
}

// Update runs fn in a write transaction, possibly together with other
// callers' functions, and returns once that transaction committed. fn may
// run more than once (when another function of its group fails, each is
// retried alone), so it must derive everything from the transaction it is
// given. ctx bounds the wait to be queued, not the commit.
func (c *Committer) Update(ctx context.Context, fn func(*bolt.Tx) error) error {
	cl := call{fn: fn, err: make(chan error, 1)}
	c.mu.RLock()
	if c.closed {
		c.mu.RUnlock()
		return ErrClosed
	}
	select {
	case c.calls <- cl:
	case <-ctx.Done():
		c.mu.RUnlock()
		return ctx.Err()
	}
	c.mu.RUnlock()
	return <-cl.err
}

func (c *Committer) loop() {
	defer close(c.done)
	group := make([]call, 0, maxGroup)
	for first := range c.calls {
		group = append(group[:0], first)
	drain:
		for len(group) < maxGroup {
			select {
			case cl, ok := <-c.calls:
				if !ok {
					break drain
				}
				group = append(group, cl)
			default:
				break drain
			}
		}
		err := c.db.Update(func(tx *bolt.Tx) error {
			for _, cl := range group {
				if err := safely(cl.fn, tx); err != nil {
					return err
				}
			}
			return nil
		})
		if err == nil {
			for _, cl := range group {
				cl.err <- nil
			}
			continue
		}
		// One function failed and rolled the group back: run each alone,
		// so it fails by itself and the others commit.
		for _, cl := range group {
			cl.err <- c.db.Update(func(tx *bolt.Tx) error { return safely(cl.fn, tx) })
		}
	}
}

func safely(fn func(*bolt.Tx) error, tx *bolt.Tx) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("groupcommit: panic: %v", p)
		}
	}()
	return fn(tx)
}

// Close commits what is queued and stops the committer.
func (c *Committer) Close() {
	c.mu.Lock()
	if !c.closed {
		c.closed = true
		close(c.calls)
	}
	c.mu.Unlock()
	<-c.done
}
