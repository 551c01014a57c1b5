// Package cloudlogs reads a function's recent warning and error lines from
// Cloud Logging, so `cioevents doctor` can say why a probe did not land.
// Reader is the seam: Google is the real client, and cloudlogsfake serves
// ListLogEntries in process.
package cloudlogs

import (
	"context"
	"errors"
	"fmt"
	"time"

	logging "cloud.google.com/go/logging/apiv2"
	"cloud.google.com/go/logging/apiv2/loggingpb"
	"google.golang.org/api/iterator"
	"google.golang.org/api/option"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Entry is one log line: its severity and JSON payload.
type Entry struct {
	Time     time.Time
	Severity string
	Payload  map[string]any
}

// Reader lists log entries.
type Reader interface {
	// Problems returns up to max entries of Cloud Run service at WARNING or
	// above since the given time, newest first.
	Problems(ctx context.Context, project, service string, since time.Time, max int) ([]Entry, error)
}

// Google is Reader over the Cloud Logging API.
type Google struct{ client *logging.Client }

// New connects to Cloud Logging.
func New(ctx context.Context, opts ...option.ClientOption) (*Google, error) {
	c, err := logging.NewClient(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("cloudlogs: %w", err)
	}
	return &Google{client: c}, nil
}

// Close releases the connection.
func (g *Google) Close() error { return g.client.Close() }

// Filter selects service's lines at WARNING or above since t.
func Filter(service string, since time.Time) string {
	return fmt.Sprintf(`resource.type = "cloud_run_revision" AND resource.labels.service_name = "%s" AND severity >= WARNING AND timestamp >= "%s"`,
		service, since.UTC().Format(time.RFC3339))
}

// Problems implements Reader.
func (g *Google) Problems(ctx context.Context, project, service string, since time.Time, max int) ([]Entry, error) {
	it := g.client.ListLogEntries(ctx, &loggingpb.ListLogEntriesRequest{
		ResourceNames: []string{"projects/" + project}, Filter: Filter(service, since),
		OrderBy: "timestamp desc", PageSize: int32(max)})
	var out []Entry
	for len(out) < max {
		e, err := it.Next()
		if errors.Is(err, iterator.Done) {
			break
		}
		if err != nil {
			if status.Code(err) == codes.PermissionDenied {
				return nil, fmt.Errorf("cloudlogs: your credentials need logging.logEntries.list (roles/logging.viewer): %w", err)
			}
			return nil, fmt.Errorf("cloudlogs: %w", err)
		}
		ent := Entry{Time: e.GetTimestamp().AsTime(), Severity: e.GetSeverity().String()}
		if p := e.GetJsonPayload(); p != nil {
			ent.Payload = p.AsMap()
		} else if txt := e.GetTextPayload(); txt != "" {
			ent.Payload = map[string]any{"message": txt}
		}
		out = append(out, ent)
	}
	return out, nil
}
