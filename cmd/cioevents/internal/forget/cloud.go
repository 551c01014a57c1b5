package forget

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"cloud.google.com/go/bigquery"
	"cloud.google.com/go/firestore"
	"google.golang.org/api/iterator"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/cioevents/cioevents/shared/ledger"
	"github.com/cioevents/cioevents/shared/privacy"
)

// StreamingBuffer is how long BigQuery may keep streamed rows where DML
// cannot reach them (typically minutes, at most about 90).
const StreamingBuffer = 90 * time.Minute

// BigQuery forgets a person in the events and rejected_events tables.
type BigQuery struct {
	Client                     *bigquery.Client
	Project, Dataset           string
	EventsTable, RejectedTable string
	Now                        func() time.Time
}

// minTime reaches every partition: the events table requires a filter on
// event_time, and this one keeps none out.
const minTime = "event_time >= TIMESTAMP '0001-01-01 00:00:00+00'"

// condition is the SQL matching the person's events rows, built only from
// the identifiers given (an empty customer_id must not match everyone
// deleted).
func (m matcher) condition() (string, []bigquery.QueryParameter) {
	var ors []string
	var ps []bigquery.QueryParameter
	if len(m.emails) > 0 {
		ors = append(ors, "LOWER(TRIM(email)) IN UNNEST(@emails)", "LOWER(TRIM(recipient)) IN UNNEST(@emails)")
		ps = append(ps, bigquery.QueryParameter{Name: "emails", Value: m.emails})
	}
	if m.id != "" {
		ors = append(ors, "person_id = @id", "customer_id = @id")
		ps = append(ps, bigquery.QueryParameter{Name: "id", Value: m.id})
	}
	if m.cioID != "" {
		ors = append(ors, "cio_id = @cio_id")
		ps = append(ps, bigquery.QueryParameter{Name: "cio_id", Value: m.cioID})
	}
	return "(" + strings.Join(ors, " OR ") + ")", ps
}

func (m matcher) bodyCondition() (string, []bigquery.QueryParameter) {
	var ors []string
	var ps []bigquery.QueryParameter
	add := func(expr string, n []byte) {
		name := "n" + strconv.Itoa(len(ps))
		ors = append(ors, "STRPOS("+expr+", @"+name+") > 0")
		ps = append(ps, bigquery.QueryParameter{Name: name, Value: string(n)})
	}
	for _, n := range m.emailNeedles {
		add("LOWER(body)", n)
	}
	for _, n := range m.idNeedles {
		add("body", n)
	}
	return "(" + strings.Join(ors, " OR ") + ")", ps
}

// settled is the SQL of a row out of the streaming buffer by now: inserted
// before the cutoff, or before inserted_at existed (NULL).
const settled = "(inserted_at IS NULL OR inserted_at < @cutoff)"

// Statements returns the SQL Forget runs, in order: the settled event IDs
// to remove, their deletion, the events rows still (maybe) in the
// streaming buffer, the rejected rows likewise, the settled rejected rows'
// deletion, and the count of those (when BigQuery refuses the deletion).
func (b *BigQuery) Statements(m matcher) []string {
	events := "`" + b.Project + "." + b.Dataset + "." + b.EventsTable + "`"
	rejected := "`" + b.Project + "." + b.Dataset + "." + b.RejectedTable + "`"
	cond, _ := m.condition()
	body, _ := m.bodyCondition()
	return []string{
		"SELECT event_id FROM " + events + " WHERE " + minTime + " AND " + settled + " AND " + cond,
		"DELETE FROM " + events + " WHERE " + minTime + " AND " + settled + " AND " + cond,
		"SELECT COUNT(*) FROM " + events + " WHERE " + minTime + " AND NOT " + settled + " AND " + cond,
		"SELECT COUNT(*) FROM " + rejected + " WHERE NOT " + settled + " AND " + body,
		"DELETE FROM " + rejected + " WHERE " + settled + " AND " + body,
		"SELECT COUNT(*) FROM " + rejected + " WHERE " + settled + " AND " + body,
	}
}

// inStreamingBuffer reports BigQuery's refusal of DML over rows streamed
// recently ("would affect rows in the streaming buffer"): the rows are
// pending, not an error.
func inStreamingBuffer(err error) bool {
	return err != nil && strings.Contains(err.Error(), "streaming buffer")
}

// Forget removes the person's rows inserted more than StreamingBuffer ago
// and counts those it could not reach yet: rows inserted since, and rows
// BigQuery still refuses to delete (their ledger documents are kept until
// a later run deletes the rows).
func (b *BigQuery) Forget(ctx context.Context, p Person, pol *privacy.Policy) (Result, error) {
	if p.empty() {
		return Result{}, ErrNoPerson
	}
	now := time.Now
	if b.Now != nil {
		now = b.Now
	}
	m := newMatcher(p, pol)
	_, cps := m.condition()
	_, bps := m.bodyCondition()
	cutoff := bigquery.QueryParameter{Name: "cutoff", Value: now().Add(-StreamingBuffer)}
	st := b.Statements(m)
	var res Result
	run := func(sql string, ps []bigquery.QueryParameter, each func([]bigquery.Value)) (int64, error) {
		q := b.Client.Query(sql)
		q.Parameters = append([]bigquery.QueryParameter{cutoff}, ps...)
		job, err := q.Run(ctx)
		if err != nil {
			return 0, fmt.Errorf("forget: %w", err)
		}
		js, err := job.Wait(ctx)
		if err == nil {
			err = js.Err()
		}
		if err != nil {
			return 0, fmt.Errorf("forget: %w", err)
		}
		var affected int64
		if qs, ok := js.Statistics.Details.(*bigquery.QueryStatistics); ok {
			affected = qs.NumDMLAffectedRows
		}
		if each == nil {
			return affected, nil
		}
		it, err := job.Read(ctx)
		if err != nil {
			return 0, fmt.Errorf("forget: %w", err)
		}
		for {
			var row []bigquery.Value
			err := it.Next(&row)
			if errors.Is(err, iterator.Done) {
				return affected, nil
			}
			if err != nil {
				return 0, fmt.Errorf("forget: %w", err)
			}
			each(row)
		}
	}
	count := func(into *int) func([]bigquery.Value) {
		return func(r []bigquery.Value) {
			if n, ok := r[0].(int64); ok {
				*into += int(n)
			}
		}
	}
	if _, err := run(st[0], cps, func(r []bigquery.Value) {
		if s, ok := r[0].(string); ok {
			res.EventIDs = append(res.EventIDs, s)
		}
	}); err != nil {
		return res, err
	}
	if _, err := run(st[1], cps, nil); inStreamingBuffer(err) {
		res.Pending += len(res.EventIDs)
		res.EventIDs = nil
	} else if err != nil {
		return res, err
	}
	if _, err := run(st[2], cps, count(&res.Pending)); err != nil {
		return res, err
	}
	if _, err := run(st[3], bps, count(&res.RejectedPending)); err != nil {
		return res, err
	}
	n, err := run(st[4], bps, nil)
	if inStreamingBuffer(err) {
		_, err = run(st[5], bps, count(&res.RejectedPending))
		return res, err
	}
	res.Rejected = int(n)
	return res, err
}

// ledgerDocIDs are the ledger's own namings, current and legacy (tests
// write documents by them).
func ledgerDocIDs(eventID string) []string {
	ids := []string{ledger.DocID(eventID)}
	if legacy := ledger.LegacyDocID(eventID); legacy != ids[0] {
		ids = append(ids, legacy)
	}
	return ids
}

// Ledger deletes the ledger documents of eventIDs from coll, under the
// document IDs of this release and of releases before the key spreading.
// A deleted document no longer dedupes: should Customer.io deliver one of
// these events again, it would be stored again.
func Ledger(ctx context.Context, coll *firestore.CollectionRef, eventIDs []string) (int, error) {
	n := 0
	for _, id := range eventIDs {
		for _, docID := range ledgerDocIDs(id) {
			ref := coll.Doc(docID)
			if _, err := ref.Get(ctx); status.Code(err) == codes.NotFound {
				continue // absent already (expired by TTL, or never written)
			} else if err != nil {
				return n, fmt.Errorf("forget: ledger %s: %w", id, err)
			}
			if _, err := ref.Delete(ctx); err != nil {
				return n, fmt.Errorf("forget: ledger %s: %w", id, err)
			}
			n++
		}
	}
	return n, nil
}
