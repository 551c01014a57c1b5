-- Generated from cmd/cioevents/internal/funnel (go test ./cmd/cioevents/internal/funnel -update); do not edit.
SELECT
  send_day AS day,
  workspace,
  mailbox_provider,
  recipient_domain AS domain,
  COUNTIF(sent_at IS NOT NULL) AS sent,
  COUNTIF(delivered_at IS NOT NULL) AS delivered,
  COUNTIF(bounced_at IS NOT NULL) AS bounced,
  COUNTIF(spammed_at IS NOT NULL) AS spammed,
  COUNTIF(dropped_at IS NOT NULL) AS dropped,
  COUNTIF(failed_at IS NOT NULL) AS failed,
  SAFE_DIVIDE(COUNTIF(delivered_at IS NOT NULL AND sent_at IS NOT NULL), COUNTIF(sent_at IS NOT NULL)) AS delivery_rate,
  SAFE_DIVIDE(COUNTIF(bounced_at IS NOT NULL AND sent_at IS NOT NULL), COUNTIF(sent_at IS NOT NULL)) AS bounce_rate,
  SAFE_DIVIDE(COUNTIF(spammed_at IS NOT NULL AND delivered_at IS NOT NULL), COUNTIF(delivered_at IS NOT NULL)) AS spam_rate
FROM `${deliveries}`
WHERE send_day >= DATE_SUB(CURRENT_DATE(), INTERVAL ${lookback_days} DAY)
  AND channel = 'email'
GROUP BY send_day, workspace, mailbox_provider, recipient_domain
