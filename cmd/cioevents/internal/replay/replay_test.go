package replay

import (
	"context"
	"fmt"
	"testing"
	"time"

	"cloud.google.com/go/pubsub/v2"
	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"cloud.google.com/go/pubsub/v2/pstest"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

const project = "cioevents-replay-test"

func setup(t *testing.T) *pubsub.Client {
	t.Helper()
	ctx := context.Background()
	srv := pstest.NewServer()
	t.Cleanup(func() { srv.Close() })
	c, err := pubsub.NewClient(ctx, project, option.WithEndpoint(srv.Addr), option.WithoutAuthentication(),
		option.WithGRPCDialOption(grpc.WithTransportCredentials(insecure.NewCredentials())))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	for _, name := range []string{"cioevents-events", "cioevents-dead-letter"} {
		tn := "projects/" + project + "/topics/" + name
		if _, err := c.TopicAdminClient.CreateTopic(ctx, &pubsubpb.Topic{Name: tn}); err != nil {
			t.Fatal(err)
		}
		if _, err := c.SubscriptionAdminClient.CreateSubscription(ctx, &pubsubpb.Subscription{
			Name: "projects/" + project + "/subscriptions/" + name + "-sub", Topic: tn, AckDeadlineSeconds: 10}); err != nil {
			t.Fatal(err)
		}
	}
	dlq := c.Publisher("cioevents-dead-letter")
	defer dlq.Stop()
	for i := range 3 {
		_, err := dlq.Publish(ctx, &pubsub.Message{Data: []byte(fmt.Sprintf(`{"event_id":"e%d"}`, i)),
			Attributes: map[string]string{"event_id": fmt.Sprintf("e%d", i), "CloudPubSubDeadLetterSourceDeliveryCount": "10"}}).Get(ctx)
		if err != nil {
			t.Fatal(err)
		}
	}
	return c
}

func drain(t *testing.T, c *pubsub.Client, sub string, want int) []*pubsub.Message {
	t.Helper()
	// Generous: a nacked message may wait out its ack deadline on a busy machine.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	got := make(chan *pubsub.Message, 16)
	go c.Subscriber(sub).Receive(ctx, func(_ context.Context, m *pubsub.Message) { m.Ack(); got <- m })
	var out []*pubsub.Message
	for len(out) < want {
		select {
		case m := <-got:
			out = append(out, m)
		case <-ctx.Done():
			t.Fatalf("got %d of %d messages on %s", len(out), want, sub)
		}
	}
	return out
}

func TestReplayMovesAndStripsDeadLetterAttributes(t *testing.T) {
	c := setup(t)
	rep, err := Run(context.Background(), c, Options{Subscription: "cioevents-dead-letter-sub", Topic: "cioevents-events",
		Idle: 5 * time.Second})
	if err != nil || rep.Moved != 3 {
		t.Fatalf("Run = %+v, %v", rep, err)
	}
	for _, m := range drain(t, c, "cioevents-events-sub", 3) {
		if m.Attributes["event_id"] == "" || m.Attributes["CloudPubSubDeadLetterSourceDeliveryCount"] != "" {
			t.Fatalf("attributes %v", m.Attributes)
		}
	}
}

func TestReplayDryRunMovesNothing(t *testing.T) {
	c := setup(t)
	rep, err := Run(context.Background(), c, Options{Subscription: "cioevents-dead-letter-sub", Topic: "cioevents-events",
		DryRun: true, Idle: 5 * time.Second})
	if err != nil || rep.Moved != 0 || rep.Seen != 3 {
		t.Fatalf("Run = %+v, %v", rep, err)
	}
	// Still on the dead-letter subscription.
	drain(t, c, "cioevents-dead-letter-sub", 3)
}
