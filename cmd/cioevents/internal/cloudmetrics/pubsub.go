package cloudmetrics

import (
	"context"
	"fmt"

	"cloud.google.com/go/pubsub/v2"
	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"google.golang.org/api/option"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Resources confirms Pub/Sub names exist, through the Pub/Sub admin API. A
// metric read for a name that does not exist answers "no data", the same
// as a quiet subscription: only the admin API tells them apart, so doctor
// asks it first.
type Resources interface {
	// Exists reports whether the topic (kind "topic") or subscription (kind
	// "subscription") id exists in project.
	Exists(ctx context.Context, project, kind, id string) (bool, error)
}

// PubSub is Resources over the Pub/Sub admin API; it honours
// PUBSUB_EMULATOR_HOST as every Pub/Sub client does.
type PubSub struct{ client *pubsub.Client }

// NewPubSub connects to Pub/Sub for project.
func NewPubSub(ctx context.Context, project string, opts ...option.ClientOption) (*PubSub, error) {
	c, err := pubsub.NewClient(ctx, project, opts...)
	if err != nil {
		return nil, fmt.Errorf("cloudmetrics: Pub/Sub: %w", err)
	}
	return &PubSub{client: c}, nil
}

// Close releases the connection.
func (p *PubSub) Close() error { return p.client.Close() }

// Exists implements Resources.
func (p *PubSub) Exists(ctx context.Context, project, kind, id string) (bool, error) {
	name := "projects/" + project + "/" + kind + "s/" + id
	var err error
	switch kind {
	case "topic":
		_, err = p.client.TopicAdminClient.GetTopic(ctx, &pubsubpb.GetTopicRequest{Topic: name})
	case "subscription":
		_, err = p.client.SubscriptionAdminClient.GetSubscription(ctx, &pubsubpb.GetSubscriptionRequest{Subscription: name})
	default:
		return false, fmt.Errorf("cloudmetrics: unknown kind %q", kind)
	}
	switch status.Code(err) {
	case codes.OK:
		return true, nil
	case codes.NotFound:
		return false, nil
	case codes.PermissionDenied:
		return false, fmt.Errorf("cloudmetrics: %s: your credentials need pubsub.%ss.get (roles/pubsub.viewer): %w", name, kind, err)
	default:
		return false, fmt.Errorf("cloudmetrics: %s: %w", name, err)
	}
}
