-- Generated from cmd/cioevents/internal/funnel (go test ./cmd/cioevents/internal/funnel -update); do not edit.
SELECT
  COALESCE(workspace, 'default') AS workspace,
  cio_id,
  ARRAY_AGG(person_id IGNORE NULLS ORDER BY event_time DESC LIMIT 1)[SAFE_OFFSET(0)] AS person_id,
  ARRAY_AGG(email IGNORE NULLS ORDER BY event_time DESC LIMIT 1)[SAFE_OFFSET(0)] AS email,
  MAX(IF(metric = 'delivered', event_time, NULL)) AS last_delivered_at,
  MAX(IF(metric = 'opened', event_time, NULL)) AS last_opened_at,
  MAX(IF(metric = 'opened' AND proxied IS NOT TRUE AND prefetched IS NOT TRUE, event_time, NULL)) AS last_human_opened_at,
  MAX(IF(metric = 'clicked', event_time, NULL)) AS last_clicked_at,
  MAX(IF(metric = 'clicked' AND machine IS NOT TRUE, event_time, NULL)) AS last_human_clicked_at
FROM `${events_deduped}`
WHERE event_time >= TIMESTAMP_SUB(CURRENT_TIMESTAMP(), INTERVAL ${lookback_days} DAY)
  AND (source IS NULL OR source != 'probe')
  AND cio_id IS NOT NULL
GROUP BY COALESCE(workspace, 'default'), cio_id
