// Package publish puts accepted webhook bodies on the Pub/Sub topic.
package publish

import (
	"context"
	"fmt"
	"time"

	"cloud.google.com/go/pubsub/v2"
	"google.golang.org/api/option"
)

// Publisher publishes one message and returns only once Pub/Sub has
// accepted it (or failed), because the receiver may answer 2xx only then.
type Publisher interface {
	Publish(ctx context.Context, data []byte, attrs map[string]string) (id string, err error)
}

// Settings are the batching settings the receiver publishes with.
//
// Each webhook request waits for its own publish, and Customer.io delivers
// one event at a time per webhook, so a batching delay is paid in full by
// every request while buying almost no batching. A 1 ms delay keeps that cost
// negligible yet still lets requests that arrive together (a backlog being
// drained, several instances' worth of concurrency) share one RPC.
func Settings(timeout time.Duration) pubsub.PublishSettings {
	s := pubsub.DefaultPublishSettings
	s.DelayThreshold = time.Millisecond
	s.CountThreshold = 100
	s.ByteThreshold = 1e6
	s.Timeout = timeout
	return s
}

// PubSub publishes to a Pub/Sub topic with the official client. In dev and
// tests it talks to pstest or the emulator through the same code.
type PubSub struct {
	client    *pubsub.Client
	publisher *pubsub.Publisher
}

// NewPubSub connects to project's topic. The client honours
// PUBSUB_EMULATOR_HOST; opts can point it elsewhere (pstest).
func NewPubSub(ctx context.Context, project, topic string, timeout time.Duration, opts ...option.ClientOption) (*PubSub, error) {
	c, err := pubsub.NewClient(ctx, project, opts...)
	if err != nil {
		return nil, fmt.Errorf("publish: pubsub client: %w", err)
	}
	p := c.Publisher(topic)
	p.PublishSettings = Settings(timeout)
	return &PubSub{client: c, publisher: p}, nil
}

// Publish implements Publisher. Attributes are passed through SafeAttributes
// first (a no-op for ones already safe), so no caller can make production
// refuse a publish that the emulator accepted.
func (p *PubSub) Publish(ctx context.Context, data []byte, attrs map[string]string) (string, error) {
	attrs, _ = SafeAttributes(attrs)
	res := p.publisher.Publish(ctx, &pubsub.Message{Data: data, Attributes: attrs})
	id, err := res.Get(ctx)
	if err != nil {
		return "", fmt.Errorf("publish: %w", err)
	}
	return id, nil
}

// Close flushes pending messages and closes the client.
func (p *PubSub) Close() error {
	p.publisher.Stop()
	return p.client.Close()
}
