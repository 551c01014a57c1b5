-- Generated from cmd/cioevents/internal/funnel (go test ./cmd/cioevents/internal/funnel -update); do not edit.
SELECT
  day,
  workspace,
  domain,
  COUNTIF(sent) AS sent,
  COUNTIF(delivered) AS delivered,
  COUNTIF(bounced) AS bounced,
  COUNTIF(spammed) AS spammed,
  COUNTIF(dropped) AS dropped,
  COUNTIF(failed) AS failed,
  SAFE_DIVIDE(COUNTIF(delivered AND sent), COUNTIF(sent)) AS delivery_rate,
  SAFE_DIVIDE(COUNTIF(bounced AND sent), COUNTIF(sent)) AS bounce_rate,
  SAFE_DIVIDE(COUNTIF(spammed AND delivered), COUNTIF(delivered)) AS spam_rate
FROM (
  SELECT
    DATE(event_time) AS day,
    ARRAY_AGG(COALESCE(workspace, 'default') IGNORE NULLS ORDER BY event_time, event_id LIMIT 1)[SAFE_OFFSET(0)] AS workspace,
    ARRAY_AGG(LOWER(REGEXP_EXTRACT(COALESCE(recipient, email), r'@([^@]+)$')) IGNORE NULLS ORDER BY event_time, event_id LIMIT 1)[SAFE_OFFSET(0)] AS domain,
    LOGICAL_OR(metric = 'sent') AS sent,
    LOGICAL_OR(metric = 'delivered') AS delivered,
    LOGICAL_OR(metric = 'bounced') AS bounced,
    LOGICAL_OR(metric = 'spammed') AS spammed,
    LOGICAL_OR(metric = 'dropped') AS dropped,
    LOGICAL_OR(metric IN ('failed', 'undeliverable')) AS failed
  FROM `${events_deduped}`
  WHERE event_time >= TIMESTAMP_SUB(CURRENT_TIMESTAMP(), INTERVAL ${lookback_days} DAY)
    AND (source IS NULL OR source != 'probe')
    AND delivery_id IS NOT NULL
    AND object_type = 'email'
  GROUP BY delivery_id, day
)
GROUP BY day, workspace, domain
