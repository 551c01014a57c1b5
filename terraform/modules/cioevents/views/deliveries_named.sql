-- Generated from cmd/cioevents/internal/funnel (go test ./cmd/cioevents/internal/funnel -update); do not edit.
SELECT
  d.*,
  n.name AS message_name,
  a.name AS action_name
FROM `${deliveries}` d
LEFT JOIN `${message_names}` n
  ON n.workspace = d.workspace AND n.kind = d.message_type AND n.id = d.message_ref
LEFT JOIN `${message_names}` a
  ON a.workspace = d.workspace AND a.kind = 'action' AND a.id = CAST(d.action_id AS STRING)
WHERE send_day >= DATE_SUB(CURRENT_DATE(), INTERVAL ${lookback_days} DAY)
