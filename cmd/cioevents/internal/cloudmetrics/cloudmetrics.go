// Package cloudmetrics reads the Pub/Sub subscription metrics `cioevents
// doctor` checks from Cloud Monitoring. Reader is the seam: Google is the
// real client, and cloudmetricsfake serves ListTimeSeries in process.
package cloudmetrics

import (
	"context"
	"errors"
	"fmt"
	"time"

	monitoring "cloud.google.com/go/monitoring/apiv3/v2"
	"cloud.google.com/go/monitoring/apiv3/v2/monitoringpb"
	"google.golang.org/api/iterator"
	"google.golang.org/api/option"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// Metric types of a Pub/Sub subscription.
const (
	OldestUnackedAge = "pubsub.googleapis.com/subscription/oldest_unacked_message_age" // seconds
	Undelivered      = "pubsub.googleapis.com/subscription/num_undelivered_messages"
)

// Window is how far back Latest looks: Pub/Sub samples these every 60 s and
// publishes them with a delay of a few minutes.
const Window = 10 * time.Minute

// ErrNoData means no point in Window: the subscription had no traffic yet,
// or the name is wrong.
var ErrNoData = errors.New("no data points")

// Reader reads subscription metrics.
type Reader interface {
	// Latest is the newest value of metricType for subscription.
	Latest(ctx context.Context, project, subscription, metricType string) (float64, error)
}

// Google is Reader over the Cloud Monitoring API.
type Google struct{ client *monitoring.MetricClient }

// New connects to Cloud Monitoring.
func New(ctx context.Context, opts ...option.ClientOption) (*Google, error) {
	c, err := monitoring.NewMetricClient(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("cloudmetrics: %w", err)
	}
	return &Google{client: c}, nil
}

// Close releases the connection.
func (g *Google) Close() error { return g.client.Close() }

// Filter is the ListTimeSeries filter of metricType on subscription.
func Filter(metricType, subscription string) string {
	return fmt.Sprintf(`metric.type = "%s" AND resource.type = "pubsub_subscription" AND resource.labels.subscription_id = "%s"`,
		metricType, subscription)
}

// Latest implements Reader.
func (g *Google) Latest(ctx context.Context, project, subscription, metricType string) (float64, error) {
	now := time.Now()
	it := g.client.ListTimeSeries(ctx, &monitoringpb.ListTimeSeriesRequest{
		Name:   "projects/" + project,
		Filter: Filter(metricType, subscription),
		Interval: &monitoringpb.TimeInterval{StartTime: timestamppb.New(now.Add(-Window)),
			EndTime: timestamppb.New(now)},
		View: monitoringpb.ListTimeSeriesRequest_FULL,
	})
	var newest *monitoringpb.Point
	for {
		ts, err := it.Next()
		if errors.Is(err, iterator.Done) {
			break
		}
		if err != nil {
			if status.Code(err) == codes.PermissionDenied {
				return 0, fmt.Errorf("cloudmetrics: %s: your credentials need monitoring.timeSeries.list (roles/monitoring.viewer): %w", subscription, err)
			}
			return 0, fmt.Errorf("cloudmetrics: %s: %w", subscription, err)
		}
		// Points come newest first.
		if p := ts.GetPoints(); len(p) > 0 && (newest == nil ||
			p[0].GetInterval().GetEndTime().AsTime().After(newest.GetInterval().GetEndTime().AsTime())) {
			newest = p[0]
		}
	}
	if newest == nil {
		return 0, fmt.Errorf("cloudmetrics: %s of %s: %w in the last %s", metricType, subscription, ErrNoData, Window)
	}
	v := newest.GetValue()
	if _, isInt := v.GetValue().(*monitoringpb.TypedValue_Int64Value); isInt {
		return float64(v.GetInt64Value()), nil
	}
	return v.GetDoubleValue(), nil
}
