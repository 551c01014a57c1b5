-- Generated from cmd/cioevents/internal/funnel (go test ./cmd/cioevents/internal/funnel -update); do not edit.
SELECT
  *,
  SAFE_DIVIDE(delivered, sent) AS delivery_rate,
  SAFE_DIVIDE(bounced, sent) AS bounce_rate,
  SAFE_DIVIDE(spammed, delivered) AS spam_rate
FROM (
  SELECT
    DATE(event_time) AS day,
    COALESCE(workspace, 'default') AS workspace,
    LOWER(REGEXP_EXTRACT(COALESCE(recipient, email), r'@([^@]+)$')) AS domain,
    COUNT(DISTINCT IF(metric = 'sent', delivery_id, NULL)) AS sent,
    COUNT(DISTINCT IF(metric = 'delivered', delivery_id, NULL)) AS delivered,
    COUNT(DISTINCT IF(metric = 'bounced', delivery_id, NULL)) AS bounced,
    COUNT(DISTINCT IF(metric = 'spammed', delivery_id, NULL)) AS spammed,
    COUNT(DISTINCT IF(metric = 'dropped', delivery_id, NULL)) AS dropped,
    COUNT(DISTINCT IF(metric IN ('failed', 'undeliverable'), delivery_id, NULL)) AS failed
  FROM `${events_deduped}`
  WHERE event_time >= TIMESTAMP_SUB(CURRENT_TIMESTAMP(), INTERVAL ${lookback_days} DAY)
    AND (source IS NULL OR source != 'probe')
    AND delivery_id IS NOT NULL
    AND object_type = 'email'
  GROUP BY day, COALESCE(workspace, 'default'), domain
)
