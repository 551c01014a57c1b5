package warehouse

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"time"

	"cloud.google.com/go/bigquery"
	"google.golang.org/api/googleapi"
	"google.golang.org/api/option"
)

// BigQuery streams rows with insertAll. It is safe for concurrent use.
//
// The client retries request errors it deems temporary (5xx, backendError,
// rateLimitExceeded) by itself, with backoff from 1 s, for as long as ctx
// allows: callers must pass a context with a deadline.
type BigQuery struct {
	client       *bigquery.Client
	events       *bigquery.Inserter
	rejected     *bigquery.Inserter
	eventsName   string
	rejectedName string
	// Now stamps inserted_at; nil means time.Now.
	Now func() time.Time
}

// insertedAt is the inserted_at of a row sent now.
func (b *BigQuery) insertedAt() *time.Time {
	now := time.Now
	if b.Now != nil {
		now = b.Now
	}
	t := bqTime(now())
	return &t
}

var _ Writer = (*BigQuery)(nil)

// NewBigQuery connects to dataset in project. opts go to bigquery.NewClient
// (tests pass option.WithEndpoint and option.WithoutAuthentication).
func NewBigQuery(ctx context.Context, project, dataset, eventsTable, rejectedTable string, opts ...option.ClientOption) (*BigQuery, error) {
	for name, v := range map[string]string{"project": project, "dataset": dataset, "events table": eventsTable, "rejected table": rejectedTable} {
		if v == "" {
			return nil, fmt.Errorf("warehouse: %s is empty", name)
		}
	}
	client, err := bigquery.NewClient(ctx, project, opts...)
	if err != nil {
		return nil, fmt.Errorf("warehouse: bigquery client: %w", err)
	}
	ds := client.Dataset(dataset)
	return &BigQuery{
		client:       client,
		events:       ds.Table(eventsTable).Inserter(),
		rejected:     ds.Table(rejectedTable).Inserter(),
		eventsName:   dataset + "." + eventsTable,
		rejectedName: dataset + "." + rejectedTable,
	}, nil
}

// Close releases the client.
func (b *BigQuery) Close() error { return b.client.Close() }

// InsertEvent streams r with insert ID = r.Key(), so a retried insert of
// the same event, or the same occurrence from another source, within
// BigQuery's dedupe window stores one row.
func (b *BigQuery) InsertEvent(ctx context.Context, r Row) error {
	if err := r.Validate(); err != nil {
		return err
	}
	r.InsertedAt = b.insertedAt()
	return b.put(ctx, b.events, b.eventsName, reflect.ValueOf(r), eventsColumns, r.Key())
}

// InsertRejected streams r with the stable insert ID r.InsertID().
func (b *BigQuery) InsertRejected(ctx context.Context, r Rejected) error {
	if err := r.Validate(); err != nil {
		return err
	}
	r.InsertedAt = b.insertedAt()
	return b.put(ctx, b.rejected, b.rejectedName, reflect.ValueOf(r), rejectedColumns, r.InsertID())
}

func (b *BigQuery) put(ctx context.Context, ins *bigquery.Inserter, table string, v reflect.Value, cols []column, insertID string) error {
	values, err := insertValues(v, cols)
	if err != nil {
		return &insertError{msg: fmt.Sprintf("warehouse: insert into %s (insert ID %s): %v", table, insertID, err), permanent: true, cause: err}
	}
	if err := ins.Put(ctx, &saver{values: values, insertID: insertID}); err != nil {
		return classify(err, table, insertID)
	}
	return nil
}

// saver hands pre-rendered values to the Inserter; the insert ID is what
// makes BigQuery's best-effort dedupe work, so it is never left random.
type saver struct {
	values   map[string]bigquery.Value
	insertID string
}

func (s *saver) Save() (map[string]bigquery.Value, string, error) { return s.values, s.insertID, nil }

// classify turns a client error into an insertError. Only a row-level
// "invalid" is permanent, and not when it names an unknown field. Request-level errors, including 400/403/404, stay
// retryable: they come from a wrong table, dataset or permission, and the fix
// is a deploy, after which the redelivered message must still get its row.
func classify(err error, table, insertID string) error {
	prefix := fmt.Sprintf("warehouse: insert into %s (insert ID %s)", table, insertID)

	var pme bigquery.PutMultiError
	if errors.As(err, &pme) {
		permanent := false
		var parts []string
		for _, row := range pme {
			for _, e := range row.Errors {
				var be *bigquery.Error
				if !errors.As(e, &be) {
					parts = append(parts, "unknown")
					continue
				}
				// "no such field" is what a row gets while a column added by a
				// schema change has not reached the streaming backend yet
				// (minutes): retry it rather than quarantine a good row.
				if be.Reason == "invalid" && !strings.Contains(be.Message, "no such field") {
					permanent = true
				}
				p := be.Reason
				if be.Location != "" {
					p += " at " + be.Location
				}
				parts = append(parts, p)
			}
		}
		return &insertError{msg: prefix + ": row rejected: " + strings.Join(parts, ", "), permanent: permanent, cause: err}
	}

	var detail string
	var gerr *googleapi.Error
	if errors.As(err, &gerr) {
		// Only status and reasons: the message and body can quote row values.
		detail = fmt.Sprintf("HTTP %d", gerr.Code)
		for _, e := range gerr.Errors {
			detail += " " + e.Reason
		}
		// The client retried until ctx ended; say so, as it explains the delay.
		for _, ctxErr := range []error{context.DeadlineExceeded, context.Canceled} {
			if errors.Is(err, ctxErr) {
				detail = ctxErr.Error() + "; last error: " + detail
			}
		}
	} else {
		detail = err.Error()
	}
	return &insertError{msg: prefix + ": " + detail, cause: err}
}
