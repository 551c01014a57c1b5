-- Generated from cmd/cioevents/internal/funnel (go test ./cmd/cioevents/internal/funnel -update); do not edit.
SELECT
  f.day,
  f.workspace,
  f.channel,
  f.message_type,
  f.message_ref,
  n.name AS message_name,
  f.action_id,
  a.name AS action_name,
  f.sent,
  f.delivered,
  f.opened,
  f.human_opened,
  f.clicked,
  f.human_clicked,
  f.converted,
  f.unsubscribed,
  f.bounced,
  f.spammed,
  f.failed,
  f.dropped,
  f.delivery_rate,
  f.human_open_rate,
  f.human_click_rate,
  f.conversion_rate,
  f.bounce_rate,
  f.spam_rate,
  f.unsubscribe_rate
FROM (
  SELECT
    send_day AS day,
    workspace,
    channel,
    message_type,
    message_ref,
    action_id,
    COUNTIF(sent_at IS NOT NULL) AS sent,
    COUNTIF(delivered_at IS NOT NULL) AS delivered,
    COUNTIF(first_opened_at IS NOT NULL) AS opened,
    COUNTIF(first_human_opened_at IS NOT NULL) AS human_opened,
    COUNTIF(first_clicked_at IS NOT NULL) AS clicked,
    COUNTIF(first_human_clicked_at IS NOT NULL) AS human_clicked,
    COUNTIF(converted_at IS NOT NULL) AS converted,
    COUNTIF(unsubscribed_at IS NOT NULL) AS unsubscribed,
    COUNTIF(bounced_at IS NOT NULL) AS bounced,
    COUNTIF(spammed_at IS NOT NULL) AS spammed,
    COUNTIF(failed_at IS NOT NULL) AS failed,
    COUNTIF(dropped_at IS NOT NULL) AS dropped,
    SAFE_DIVIDE(COUNTIF(delivered_at IS NOT NULL AND sent_at IS NOT NULL), COUNTIF(sent_at IS NOT NULL)) AS delivery_rate,
    SAFE_DIVIDE(COUNTIF(first_human_opened_at IS NOT NULL AND delivered_at IS NOT NULL), COUNTIF(delivered_at IS NOT NULL)) AS human_open_rate,
    SAFE_DIVIDE(COUNTIF(first_human_clicked_at IS NOT NULL AND delivered_at IS NOT NULL), COUNTIF(delivered_at IS NOT NULL)) AS human_click_rate,
    SAFE_DIVIDE(COUNTIF(converted_at IS NOT NULL AND delivered_at IS NOT NULL), COUNTIF(delivered_at IS NOT NULL)) AS conversion_rate,
    SAFE_DIVIDE(COUNTIF(bounced_at IS NOT NULL AND sent_at IS NOT NULL), COUNTIF(sent_at IS NOT NULL)) AS bounce_rate,
    SAFE_DIVIDE(COUNTIF(spammed_at IS NOT NULL AND delivered_at IS NOT NULL), COUNTIF(delivered_at IS NOT NULL)) AS spam_rate,
    SAFE_DIVIDE(COUNTIF(unsubscribed_at IS NOT NULL AND delivered_at IS NOT NULL), COUNTIF(delivered_at IS NOT NULL)) AS unsubscribe_rate
  FROM `${deliveries}`
  WHERE send_day >= DATE_SUB(CURRENT_DATE(), INTERVAL ${lookback_days} DAY)
  GROUP BY send_day, workspace, channel, message_type, message_ref, action_id
) f
LEFT JOIN `${message_names}` n
  ON n.workspace = f.workspace AND n.kind = f.message_type AND n.id = f.message_ref
LEFT JOIN `${message_names}` a
  ON a.workspace = f.workspace AND a.kind = 'action' AND a.id = CAST(f.action_id AS STRING)
