-- Generated from cmd/cioevents/internal/funnel (go test ./cmd/cioevents/internal/funnel -update); do not edit.
SELECT
  day,
  workspace,
  object_type,
  message_type,
  message_ref,
  action_id,
  COUNTIF(sent) AS sent,
  COUNTIF(delivered) AS delivered,
  COUNTIF(opened) AS opened,
  COUNTIF(human_opened) AS human_opened,
  COUNTIF(clicked) AS clicked,
  COUNTIF(human_clicked) AS human_clicked,
  COUNTIF(converted) AS converted,
  COUNTIF(unsubscribed) AS unsubscribed,
  COUNTIF(bounced) AS bounced,
  COUNTIF(spammed) AS spammed,
  COUNTIF(failed) AS failed,
  COUNTIF(dropped) AS dropped,
  SAFE_DIVIDE(COUNTIF(delivered AND sent), COUNTIF(sent)) AS delivery_rate,
  SAFE_DIVIDE(COUNTIF(human_opened AND delivered), COUNTIF(delivered)) AS human_open_rate,
  SAFE_DIVIDE(COUNTIF(human_clicked AND delivered), COUNTIF(delivered)) AS human_click_rate,
  SAFE_DIVIDE(COUNTIF(converted AND delivered), COUNTIF(delivered)) AS conversion_rate,
  SAFE_DIVIDE(COUNTIF(bounced AND sent), COUNTIF(sent)) AS bounce_rate,
  SAFE_DIVIDE(COUNTIF(spammed AND delivered), COUNTIF(delivered)) AS spam_rate,
  SAFE_DIVIDE(COUNTIF(unsubscribed AND delivered), COUNTIF(delivered)) AS unsubscribe_rate
FROM (
  SELECT
    DATE(event_time) AS day,
    ARRAY_AGG(COALESCE(workspace, 'default') IGNORE NULLS ORDER BY event_time, event_id LIMIT 1)[SAFE_OFFSET(0)] AS workspace,
    ARRAY_AGG(object_type IGNORE NULLS ORDER BY event_time, event_id LIMIT 1)[SAFE_OFFSET(0)] AS object_type,
    ARRAY_AGG(CASE WHEN campaign_id IS NOT NULL THEN 'campaign' WHEN broadcast_id IS NOT NULL THEN 'broadcast' WHEN newsletter_id IS NOT NULL THEN 'newsletter' WHEN transactional_message_id IS NOT NULL THEN 'transactional' END IGNORE NULLS ORDER BY event_time, event_id LIMIT 1)[SAFE_OFFSET(0)] AS message_type,
    ARRAY_AGG(CASE WHEN campaign_id IS NOT NULL THEN CAST(campaign_id AS STRING) WHEN broadcast_id IS NOT NULL THEN CAST(broadcast_id AS STRING) WHEN newsletter_id IS NOT NULL THEN CAST(newsletter_id AS STRING) WHEN transactional_message_id IS NOT NULL THEN CAST(transactional_message_id AS STRING) END IGNORE NULLS ORDER BY event_time, event_id LIMIT 1)[SAFE_OFFSET(0)] AS message_ref,
    ARRAY_AGG(action_id IGNORE NULLS ORDER BY event_time, event_id LIMIT 1)[SAFE_OFFSET(0)] AS action_id,
    LOGICAL_OR(metric = 'sent') AS sent,
    LOGICAL_OR(metric = 'delivered') AS delivered,
    LOGICAL_OR(metric = 'opened') AS opened,
    LOGICAL_OR(metric = 'opened' AND proxied IS NOT TRUE AND prefetched IS NOT TRUE) AS human_opened,
    LOGICAL_OR(metric = 'clicked') AS clicked,
    LOGICAL_OR(metric = 'clicked' AND machine IS NOT TRUE) AS human_clicked,
    LOGICAL_OR(metric = 'converted') AS converted,
    LOGICAL_OR(metric = 'unsubscribed') AS unsubscribed,
    LOGICAL_OR(metric = 'bounced') AS bounced,
    LOGICAL_OR(metric = 'spammed') AS spammed,
    LOGICAL_OR(metric IN ('failed', 'undeliverable')) AS failed,
    LOGICAL_OR(metric = 'dropped') AS dropped
  FROM `${events_deduped}`
  WHERE event_time >= TIMESTAMP_SUB(CURRENT_TIMESTAMP(), INTERVAL ${lookback_days} DAY)
    AND (source IS NULL OR source != 'probe')
    AND delivery_id IS NOT NULL
  GROUP BY delivery_id, day
)
GROUP BY day, workspace, object_type, message_type, message_ref, action_id
