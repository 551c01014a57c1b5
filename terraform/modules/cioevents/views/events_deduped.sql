-- Generated from cmd/cioevents/internal/funnel (go test ./cmd/cioevents/internal/funnel -update); do not edit.
SELECT * EXCEPT (identity_rank)
FROM (
  SELECT
    *,
    -- One row per identity (docs/backfill.md). event_time stays in the key so
    -- that a filter on event_time reaches the table's partitions through the
    -- window, as the table's partition filter requires.
    ROW_NUMBER() OVER (
      PARTITION BY event_time, IF(COALESCE(delivery_id, '') = '', CONCAT('event:', event_id), CONCAT('delivery:', delivery_id, ':', metric))
      ORDER BY IF(source = 'backfill', 1, 0), received_at
    ) AS identity_rank
  FROM `${events}`
)
WHERE identity_rank = 1
