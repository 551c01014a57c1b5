-- Generated from cmd/cioevents/internal/funnel (go test ./cmd/cioevents/internal/funnel -update); do not edit.
SELECT
  *,
  SAFE_DIVIDE(delivered, sent) AS delivery_rate,
  SAFE_DIVIDE(human_opened, delivered) AS human_open_rate,
  SAFE_DIVIDE(human_clicked, delivered) AS human_click_rate,
  SAFE_DIVIDE(converted, delivered) AS conversion_rate,
  SAFE_DIVIDE(bounced, sent) AS bounce_rate,
  SAFE_DIVIDE(spammed, delivered) AS spam_rate,
  SAFE_DIVIDE(unsubscribed, delivered) AS unsubscribe_rate
FROM (
  SELECT
    DATE(event_time) AS day,
    COALESCE(workspace, 'default') AS workspace,
    object_type AS object_type,
    CASE WHEN campaign_id IS NOT NULL THEN 'campaign' WHEN broadcast_id IS NOT NULL THEN 'broadcast' WHEN newsletter_id IS NOT NULL THEN 'newsletter' WHEN transactional_message_id IS NOT NULL THEN 'transactional' END AS message_type,
    CASE WHEN campaign_id IS NOT NULL THEN CAST(campaign_id AS STRING) WHEN broadcast_id IS NOT NULL THEN CAST(broadcast_id AS STRING) WHEN newsletter_id IS NOT NULL THEN CAST(newsletter_id AS STRING) WHEN transactional_message_id IS NOT NULL THEN CAST(transactional_message_id AS STRING) END AS message_ref,
    action_id AS action_id,
    COUNT(DISTINCT IF(metric = 'sent', delivery_id, NULL)) AS sent,
    COUNT(DISTINCT IF(metric = 'delivered', delivery_id, NULL)) AS delivered,
    COUNT(DISTINCT IF(metric = 'opened', delivery_id, NULL)) AS opened,
    COUNT(DISTINCT IF(metric = 'opened' AND proxied IS NOT TRUE AND prefetched IS NOT TRUE, delivery_id, NULL)) AS human_opened,
    COUNT(DISTINCT IF(metric = 'clicked', delivery_id, NULL)) AS clicked,
    COUNT(DISTINCT IF(metric = 'clicked' AND machine IS NOT TRUE, delivery_id, NULL)) AS human_clicked,
    COUNT(DISTINCT IF(metric = 'converted', delivery_id, NULL)) AS converted,
    COUNT(DISTINCT IF(metric = 'unsubscribed', delivery_id, NULL)) AS unsubscribed,
    COUNT(DISTINCT IF(metric = 'bounced', delivery_id, NULL)) AS bounced,
    COUNT(DISTINCT IF(metric = 'spammed', delivery_id, NULL)) AS spammed,
    COUNT(DISTINCT IF(metric IN ('failed', 'undeliverable'), delivery_id, NULL)) AS failed,
    COUNT(DISTINCT IF(metric = 'dropped', delivery_id, NULL)) AS dropped
  FROM `${events_deduped}`
  WHERE event_time >= TIMESTAMP_SUB(CURRENT_TIMESTAMP(), INTERVAL ${lookback_days} DAY)
    AND (source IS NULL OR source != 'probe')
    AND delivery_id IS NOT NULL
  GROUP BY day, COALESCE(workspace, 'default'), object_type, message_type, message_ref, action_id
)
