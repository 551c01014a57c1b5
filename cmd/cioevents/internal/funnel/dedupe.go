package funnel

import (
	"time"

	"github.com/cioevents/cioevents/shared/warehouse"
)

// identitySQL groups rows as event.Key (shared/event) does, within one event_time: the
// delivery and metric, else the event_id. event_time is in the window's
// key anyway (below), which stands for the occurrence time of a repeating
// metric; for a once-only metric it means two rows of one occurrence whose
// times the sources disagree on stay two here — the ledger and the insert
// ID (both on event.Key, time-free for those metrics) keep the second from
// being stored at all.
const identitySQL = "IF(COALESCE(delivery_id, '') = '', CONCAT('event:', event_id), CONCAT('delivery:', delivery_id, ':', metric))"

// preferSQL orders the rows of one identity: a row from the webhook
// (richer: links, open and click flags, the signed body) before a
// backfilled one, then the first received. The ledger lets only the first
// source store a row; two rows exist only when both stored at once.
const preferSQL = "IF(source = 'backfill', 1, 0), received_at"

// DedupedSQL is view events_deduped over the events table (a template
// placeholder): one row per identity.
func DedupedSQL() string {
	return header + `SELECT * EXCEPT (identity_rank)
FROM (
  SELECT
    *,
    -- One row per identity (docs/backfill.md). event_time stays in the key so
    -- that a filter on event_time reaches the table's partitions through the
    -- window, as the table's partition filter requires.
    ROW_NUMBER() OVER (
      PARTITION BY event_time, ` + identitySQL + `
      ORDER BY ` + preferSQL + `
    ) AS identity_rank
  FROM ` + "`" + eventsVar + "`" + `
)
WHERE identity_rank = 1
`
}

// Dedupe keeps the rows events_deduped keeps, in their order: one per
// (event_time, identity), the webhook's before a backfilled one, then the
// first received. cioevents report reads a data dir through it.
func Dedupe(rows []warehouse.Row) []warehouse.Row {
	at := map[string]int{}
	var out []warehouse.Row
	for _, r := range rows {
		k := r.EventTime.UTC().Format(time.RFC3339Nano) + "\x00" + identity(r)
		i, ok := at[k]
		switch {
		case !ok:
			at[k] = len(out)
			out = append(out, r)
		case preferred(r, out[i]):
			out[i] = r
		}
	}
	return out
}

// identity is identitySQL in Go.
func identity(r warehouse.Row) string {
	if r.DeliveryID == nil || *r.DeliveryID == "" {
		return "event:" + r.EventID
	}
	return "delivery:" + *r.DeliveryID + ":" + r.Metric
}

// preferred is preferSQL in Go: whether a comes before b.
func preferred(a, b warehouse.Row) bool {
	ab, bb := isBackfill(a), isBackfill(b)
	if ab != bb {
		return !ab
	}
	return a.ReceivedAt.Before(b.ReceivedAt)
}

func isBackfill(r warehouse.Row) bool {
	return r.Source != nil && *r.Source == warehouse.SourceBackfill
}
