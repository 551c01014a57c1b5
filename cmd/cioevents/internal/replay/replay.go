// Package replay moves dead-lettered messages back onto the main topic once
// whatever made them fail is fixed. Each message is acked on the dead-letter
// subscription only after the main topic accepted its copy, so a crash
// mid-replay duplicates at worst (the ledger absorbs that), never loses.
package replay

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"cloud.google.com/go/pubsub/v2"

	"github.com/cioevents/cioevents/shared/warehouse"
	"github.com/cioevents/cioevents/shared/webhook"
)

// Options configure Run.
type Options struct {
	Subscription string // dead-letter subscription ID
	Topic        string // main topic ID
	Max          int    // stop after this many messages; 0 means all
	DryRun       bool   // count and nack instead of moving
	// Idle ends the run when no message arrived for this long (default 5 s).
	Idle time.Duration
}

// Report counts what happened.
type Report struct {
	Moved, Seen int
}

// Run replays with client until the subscription is idle or Max is reached.
func Run(ctx context.Context, client *pubsub.Client, o Options) (Report, error) {
	if o.Subscription == "" || o.Topic == "" {
		return Report{}, errors.New("replay: subscription and topic are required")
	}
	if o.Idle <= 0 {
		o.Idle = 5 * time.Second
	}
	pub := client.Publisher(o.Topic)
	defer pub.Stop()
	sub := client.Subscriber(o.Subscription)
	sub.ReceiveSettings.MaxOutstandingMessages = 32

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var seen, moved atomic.Int64
	var mu sync.Mutex
	var firstErr error
	counted := map[string]bool{}
	last := make(chan struct{}, 1)
	go func() {
		t := time.NewTimer(o.Idle)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-last:
				t.Reset(o.Idle)
			case <-t.C:
				cancel()
				return
			}
		}
	}()
	active := func() {
		select {
		case last <- struct{}{}:
		default:
		}
	}
	err := sub.Receive(ctx, func(ctx context.Context, m *pubsub.Message) {
		if !o.DryRun {
			active()
		}
		n := seen.Add(1)
		if o.Max > 0 && n > int64(o.Max) {
			m.Nack()
			cancel()
			return
		}
		if o.DryRun {
			m.Nack()
			mu.Lock()
			again := counted[m.ID]
			counted[m.ID] = true
			mu.Unlock()
			// Nacked messages keep coming back; only a message not counted
			// yet keeps the run going. (Stopping at the first one to come
			// back missed messages still on their way.)
			if !again {
				active()
			}
			return
		}
		attrs := map[string]string{}
		for k, v := range m.Attributes {
			// Pub/Sub adds these when dead-lettering; a replayed message starts afresh.
			if !strings.HasPrefix(k, "CloudPubSubDeadLetter") {
				attrs[k] = v
			}
		}
		attrs[webhook.AttrSource] = warehouse.SourceReplay
		if _, err := pub.Publish(ctx, &pubsub.Message{Data: m.Data, Attributes: attrs}).Get(ctx); err != nil {
			m.Nack()
			mu.Lock()
			if firstErr == nil {
				firstErr = fmt.Errorf("replay: publish: %w", err)
			}
			mu.Unlock()
			cancel()
			return
		}
		m.Ack()
		moved.Add(1)
	})
	r := Report{Moved: int(moved.Load()), Seen: int(seen.Load())}
	if o.DryRun {
		r.Seen = len(counted)
	}
	if o.Max > 0 && r.Seen > o.Max {
		r.Seen = o.Max
	}
	if firstErr != nil {
		return r, firstErr
	}
	if err != nil && !errors.Is(err, context.Canceled) {
		return r, err
	}
	return r, nil
}
