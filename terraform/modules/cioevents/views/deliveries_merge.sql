-- Generated from cmd/cioevents/internal/funnel (go test ./cmd/cioevents/internal/funnel -update); do not edit.
MERGE `${deliveries}` T
USING (
  SELECT
    workspace,
    delivery_id,
    DATE(COALESCE(sent_at, first_event_at)) AS send_day,
    channel,
    message_type,
    message_ref,
    campaign_id,
    broadcast_id,
    newsletter_id,
    transactional_message_id,
    action_id,
    journey_id,
    recipient_domain,
    CASE
        WHEN recipient_domain IN ('gmail.com', 'googlemail.com') THEN 'google'
        WHEN recipient_domain IN ('hotmail.be', 'hotmail.ca', 'hotmail.co.uk', 'hotmail.com', 'hotmail.com.ar', 'hotmail.com.br', 'hotmail.com.mx', 'hotmail.de', 'hotmail.es', 'hotmail.fr', 'hotmail.it', 'hotmail.nl', 'live.ca', 'live.co.uk', 'live.com', 'live.com.au', 'live.com.mx', 'live.de', 'live.fr', 'live.it', 'live.nl', 'msn.com', 'outlook.com', 'outlook.com.br', 'outlook.de', 'outlook.es', 'outlook.fr', 'outlook.it', 'passport.com', 'windowslive.com') THEN 'microsoft'
        WHEN recipient_domain IN ('aim.com', 'aol.co.uk', 'aol.com', 'aol.de', 'aol.fr', 'att.net', 'bellsouth.net', 'rocketmail.com', 'sbcglobal.net', 'verizon.net', 'yahoo.ca', 'yahoo.co.id', 'yahoo.co.in', 'yahoo.co.uk', 'yahoo.com', 'yahoo.com.ar', 'yahoo.com.au', 'yahoo.com.br', 'yahoo.com.mx', 'yahoo.de', 'yahoo.es', 'yahoo.fr', 'yahoo.it', 'ymail.com') THEN 'yahoo'
        WHEN recipient_domain IN ('icloud.com', 'mac.com', 'me.com') THEN 'apple'
        WHEN recipient_domain IN ('email.com', 'gmx.at', 'gmx.ch', 'gmx.co.uk', 'gmx.com', 'gmx.de', 'gmx.fr', 'gmx.net', 'mail.com', 'web.de') THEN 'gmx'
        WHEN recipient_domain IN ('magenta.de', 't-online.de') THEN 't-online'
        WHEN recipient_domain IN ('orange.fr', 'wanadoo.fr') THEN 'orange'
        WHEN recipient_domain IN ('free.fr') THEN 'free'
        WHEN recipient_domain IN ('neuf.fr', 'sfr.fr') THEN 'sfr'
        WHEN recipient_domain IN ('inwind.it', 'libero.it', 'virgilio.it') THEN 'libero'
        WHEN recipient_domain IN ('email.cz', 'seznam.cz') THEN 'seznam'
        WHEN recipient_domain IN ('o2.pl', 'wp.pl') THEN 'wp'
        WHEN recipient_domain IN ('onet.pl', 'op.pl') THEN 'onet'
        WHEN recipient_domain IN ('interia.pl') THEN 'interia'
        WHEN recipient_domain IN ('ya.ru', 'yandex.com', 'yandex.kz', 'yandex.ru', 'yandex.ua') THEN 'yandex'
        WHEN recipient_domain IN ('bk.ru', 'inbox.ru', 'list.ru', 'mail.ru') THEN 'mail.ru'
        WHEN recipient_domain IN ('foxmail.com', 'qq.com') THEN 'qq'
        WHEN recipient_domain IN ('126.com', '163.com', 'yeah.net') THEN 'netease'
        WHEN recipient_domain IN ('naver.com') THEN 'naver'
        WHEN recipient_domain IN ('daum.net', 'hanmail.net', 'kakao.com') THEN 'kakao'
        WHEN recipient_domain IN ('yahoo.co.jp') THEN 'yahoo-japan'
        WHEN recipient_domain IN ('bol.com.br', 'uol.com.br') THEN 'uol'
        WHEN recipient_domain IN ('rediffmail.com') THEN 'rediff'
        WHEN recipient_domain IN ('comcast.net') THEN 'comcast'
        WHEN recipient_domain IN ('charter.net', 'spectrum.net') THEN 'charter'
        WHEN recipient_domain IN ('cox.net') THEN 'cox'
        WHEN recipient_domain IN ('btinternet.com', 'btopenworld.com') THEN 'bt'
        WHEN recipient_domain IN ('sky.com') THEN 'sky'
        WHEN recipient_domain IN ('blueyonder.co.uk', 'ntlworld.com', 'virginmedia.com') THEN 'virgin-media'
        WHEN recipient_domain IN ('rogers.com', 'shaw.ca') THEN 'shaw-rogers'
        WHEN recipient_domain IN ('bigpond.com', 'bigpond.net.au', 'telstra.com') THEN 'telstra'
        WHEN recipient_domain IN ('pm.me', 'proton.me', 'protonmail.ch', 'protonmail.com') THEN 'proton'
        WHEN recipient_domain IN ('zoho.com', 'zohomail.com') THEN 'zoho'
        WHEN recipient_domain IS NOT NULL THEN 'other'
      END AS mailbox_provider,
    first_event_at,
    sent_at,
    delivered_at,
    first_opened_at,
    first_human_opened_at,
    first_clicked_at,
    first_human_clicked_at,
    converted_at,
    unsubscribed_at,
    bounced_at,
    spammed_at,
    failed_at,
    dropped_at,
    TIMESTAMP_DIFF(first_human_opened_at, delivered_at, SECOND) AS seconds_to_human_open,
    TIMESTAMP_DIFF(first_human_clicked_at, delivered_at, SECOND) AS seconds_to_human_click,
    REGEXP_EXTRACT(bounce_message, r'(?:^|[^0-9.])([245][0-9][0-9])(?:[^0-9.]|$)') AS smtp_code,
    REGEXP_EXTRACT(bounce_message, r'\b([245]\.[0-9]{1,3}\.[0-9]{1,3})\b') AS enhanced_status_code,
    CASE
        WHEN bounced_at IS NULL THEN NULL
        WHEN REGEXP_CONTAINS(COALESCE(bounce_message, ''), r'\b5\.1\.[0-9]{1,3}\b') THEN 'hard'
        WHEN REGEXP_CONTAINS(COALESCE(bounce_message, ''), r'\b(4\.[0-9]{1,3}\.[0-9]{1,3}|5\.2\.2)\b') THEN 'soft'
        WHEN REGEXP_CONTAINS(COALESCE(bounce_message, ''), r'\b5\.7\.[0-9]{1,3}\b') THEN 'blocked'
        WHEN REGEXP_CONTAINS(COALESCE(bounce_message, ''), r'\b5\.[0-9]{1,3}\.[0-9]{1,3}\b') THEN 'other'
        WHEN REGEXP_CONTAINS(COALESCE(bounce_message, ''), r'(^|[^0-9.])4[0-9][0-9]([^0-9.]|$)') THEN 'soft'
        WHEN REGEXP_CONTAINS(COALESCE(bounce_message, ''), r'(^|[^0-9.])5[0-9][0-9]([^0-9.]|$)') THEN 'other'
        ELSE 'unknown'
      END AS bounce_class,
    DATE(COALESCE(sent_at, first_event_at)) < DATE_SUB(CURRENT_DATE(), INTERVAL 30 DAY) AS settled
  FROM (
    SELECT
      COALESCE(workspace, 'default') AS workspace,
      delivery_id AS delivery_id,
      ARRAY_AGG(object_type IGNORE NULLS ORDER BY event_time, event_id LIMIT 1)[SAFE_OFFSET(0)] AS channel,
      ARRAY_AGG(CASE WHEN campaign_id IS NOT NULL THEN 'campaign' WHEN broadcast_id IS NOT NULL THEN 'broadcast' WHEN newsletter_id IS NOT NULL THEN 'newsletter' WHEN transactional_message_id IS NOT NULL THEN 'transactional' END IGNORE NULLS ORDER BY event_time, event_id LIMIT 1)[SAFE_OFFSET(0)] AS message_type,
      ARRAY_AGG(CASE WHEN campaign_id IS NOT NULL THEN CAST(campaign_id AS STRING) WHEN broadcast_id IS NOT NULL THEN CAST(broadcast_id AS STRING) WHEN newsletter_id IS NOT NULL THEN CAST(newsletter_id AS STRING) WHEN transactional_message_id IS NOT NULL THEN CAST(transactional_message_id AS STRING) END IGNORE NULLS ORDER BY event_time, event_id LIMIT 1)[SAFE_OFFSET(0)] AS message_ref,
      ARRAY_AGG(campaign_id IGNORE NULLS ORDER BY event_time, event_id LIMIT 1)[SAFE_OFFSET(0)] AS campaign_id,
      ARRAY_AGG(broadcast_id IGNORE NULLS ORDER BY event_time, event_id LIMIT 1)[SAFE_OFFSET(0)] AS broadcast_id,
      ARRAY_AGG(newsletter_id IGNORE NULLS ORDER BY event_time, event_id LIMIT 1)[SAFE_OFFSET(0)] AS newsletter_id,
      ARRAY_AGG(transactional_message_id IGNORE NULLS ORDER BY event_time, event_id LIMIT 1)[SAFE_OFFSET(0)] AS transactional_message_id,
      ARRAY_AGG(action_id IGNORE NULLS ORDER BY event_time, event_id LIMIT 1)[SAFE_OFFSET(0)] AS action_id,
      ARRAY_AGG(journey_id IGNORE NULLS ORDER BY event_time, event_id LIMIT 1)[SAFE_OFFSET(0)] AS journey_id,
      ARRAY_AGG(IF(object_type = 'email', LOWER(REGEXP_EXTRACT(COALESCE(recipient, email), r'@([^@]+)$')), NULL) IGNORE NULLS ORDER BY event_time, event_id LIMIT 1)[SAFE_OFFSET(0)] AS recipient_domain,
      MIN(event_time) AS first_event_at,
      MIN(IF(metric = 'sent', event_time, NULL)) AS sent_at,
      MIN(IF(metric = 'delivered', event_time, NULL)) AS delivered_at,
      MIN(IF(metric = 'opened', event_time, NULL)) AS first_opened_at,
      MIN(IF(metric = 'opened' AND proxied IS NOT TRUE AND prefetched IS NOT TRUE, event_time, NULL)) AS first_human_opened_at,
      MIN(IF(metric = 'clicked', event_time, NULL)) AS first_clicked_at,
      MIN(IF(metric = 'clicked' AND machine IS NOT TRUE, event_time, NULL)) AS first_human_clicked_at,
      MIN(IF(metric = 'converted', event_time, NULL)) AS converted_at,
      MIN(IF(metric = 'unsubscribed', event_time, NULL)) AS unsubscribed_at,
      MIN(IF(metric = 'bounced', event_time, NULL)) AS bounced_at,
      MIN(IF(metric = 'spammed', event_time, NULL)) AS spammed_at,
      MIN(IF(metric IN ('failed', 'undeliverable'), event_time, NULL)) AS failed_at,
      MIN(IF(metric = 'dropped', event_time, NULL)) AS dropped_at,
      ARRAY_AGG(IF(metric = 'bounced', COALESCE(failure_message, ''), NULL) IGNORE NULLS ORDER BY event_time, event_id LIMIT 1)[SAFE_OFFSET(0)] AS bounce_message
    FROM `${events_deduped}`
    WHERE event_time >= TIMESTAMP_SUB(@run_time, INTERVAL ${lookback_days} DAY)
      AND (source IS NULL OR source != 'probe')
      AND delivery_id IS NOT NULL
    GROUP BY COALESCE(workspace, 'default'), delivery_id
  )
) S
ON T.workspace = S.workspace AND T.delivery_id = S.delivery_id
WHEN MATCHED THEN UPDATE SET
  send_day = DATE(COALESCE(IF(T.sent_at IS NULL OR S.sent_at < T.sent_at, S.sent_at, T.sent_at), IF(T.first_event_at IS NULL OR S.first_event_at < T.first_event_at, S.first_event_at, T.first_event_at))),
  channel = IF(S.first_event_at < T.first_event_at, COALESCE(S.channel, T.channel), COALESCE(T.channel, S.channel)),
  message_type = IF(S.first_event_at < T.first_event_at, COALESCE(S.message_type, T.message_type), COALESCE(T.message_type, S.message_type)),
  message_ref = IF(S.first_event_at < T.first_event_at, COALESCE(S.message_ref, T.message_ref), COALESCE(T.message_ref, S.message_ref)),
  campaign_id = IF(S.first_event_at < T.first_event_at, COALESCE(S.campaign_id, T.campaign_id), COALESCE(T.campaign_id, S.campaign_id)),
  broadcast_id = IF(S.first_event_at < T.first_event_at, COALESCE(S.broadcast_id, T.broadcast_id), COALESCE(T.broadcast_id, S.broadcast_id)),
  newsletter_id = IF(S.first_event_at < T.first_event_at, COALESCE(S.newsletter_id, T.newsletter_id), COALESCE(T.newsletter_id, S.newsletter_id)),
  transactional_message_id = IF(S.first_event_at < T.first_event_at, COALESCE(S.transactional_message_id, T.transactional_message_id), COALESCE(T.transactional_message_id, S.transactional_message_id)),
  action_id = IF(S.first_event_at < T.first_event_at, COALESCE(S.action_id, T.action_id), COALESCE(T.action_id, S.action_id)),
  journey_id = IF(S.first_event_at < T.first_event_at, COALESCE(S.journey_id, T.journey_id), COALESCE(T.journey_id, S.journey_id)),
  recipient_domain = IF(S.first_event_at < T.first_event_at, COALESCE(S.recipient_domain, T.recipient_domain), COALESCE(T.recipient_domain, S.recipient_domain)),
  mailbox_provider = CASE
      WHEN IF(S.first_event_at < T.first_event_at, COALESCE(S.recipient_domain, T.recipient_domain), COALESCE(T.recipient_domain, S.recipient_domain)) IN ('gmail.com', 'googlemail.com') THEN 'google'
      WHEN IF(S.first_event_at < T.first_event_at, COALESCE(S.recipient_domain, T.recipient_domain), COALESCE(T.recipient_domain, S.recipient_domain)) IN ('hotmail.be', 'hotmail.ca', 'hotmail.co.uk', 'hotmail.com', 'hotmail.com.ar', 'hotmail.com.br', 'hotmail.com.mx', 'hotmail.de', 'hotmail.es', 'hotmail.fr', 'hotmail.it', 'hotmail.nl', 'live.ca', 'live.co.uk', 'live.com', 'live.com.au', 'live.com.mx', 'live.de', 'live.fr', 'live.it', 'live.nl', 'msn.com', 'outlook.com', 'outlook.com.br', 'outlook.de', 'outlook.es', 'outlook.fr', 'outlook.it', 'passport.com', 'windowslive.com') THEN 'microsoft'
      WHEN IF(S.first_event_at < T.first_event_at, COALESCE(S.recipient_domain, T.recipient_domain), COALESCE(T.recipient_domain, S.recipient_domain)) IN ('aim.com', 'aol.co.uk', 'aol.com', 'aol.de', 'aol.fr', 'att.net', 'bellsouth.net', 'rocketmail.com', 'sbcglobal.net', 'verizon.net', 'yahoo.ca', 'yahoo.co.id', 'yahoo.co.in', 'yahoo.co.uk', 'yahoo.com', 'yahoo.com.ar', 'yahoo.com.au', 'yahoo.com.br', 'yahoo.com.mx', 'yahoo.de', 'yahoo.es', 'yahoo.fr', 'yahoo.it', 'ymail.com') THEN 'yahoo'
      WHEN IF(S.first_event_at < T.first_event_at, COALESCE(S.recipient_domain, T.recipient_domain), COALESCE(T.recipient_domain, S.recipient_domain)) IN ('icloud.com', 'mac.com', 'me.com') THEN 'apple'
      WHEN IF(S.first_event_at < T.first_event_at, COALESCE(S.recipient_domain, T.recipient_domain), COALESCE(T.recipient_domain, S.recipient_domain)) IN ('email.com', 'gmx.at', 'gmx.ch', 'gmx.co.uk', 'gmx.com', 'gmx.de', 'gmx.fr', 'gmx.net', 'mail.com', 'web.de') THEN 'gmx'
      WHEN IF(S.first_event_at < T.first_event_at, COALESCE(S.recipient_domain, T.recipient_domain), COALESCE(T.recipient_domain, S.recipient_domain)) IN ('magenta.de', 't-online.de') THEN 't-online'
      WHEN IF(S.first_event_at < T.first_event_at, COALESCE(S.recipient_domain, T.recipient_domain), COALESCE(T.recipient_domain, S.recipient_domain)) IN ('orange.fr', 'wanadoo.fr') THEN 'orange'
      WHEN IF(S.first_event_at < T.first_event_at, COALESCE(S.recipient_domain, T.recipient_domain), COALESCE(T.recipient_domain, S.recipient_domain)) IN ('free.fr') THEN 'free'
      WHEN IF(S.first_event_at < T.first_event_at, COALESCE(S.recipient_domain, T.recipient_domain), COALESCE(T.recipient_domain, S.recipient_domain)) IN ('neuf.fr', 'sfr.fr') THEN 'sfr'
      WHEN IF(S.first_event_at < T.first_event_at, COALESCE(S.recipient_domain, T.recipient_domain), COALESCE(T.recipient_domain, S.recipient_domain)) IN ('inwind.it', 'libero.it', 'virgilio.it') THEN 'libero'
      WHEN IF(S.first_event_at < T.first_event_at, COALESCE(S.recipient_domain, T.recipient_domain), COALESCE(T.recipient_domain, S.recipient_domain)) IN ('email.cz', 'seznam.cz') THEN 'seznam'
      WHEN IF(S.first_event_at < T.first_event_at, COALESCE(S.recipient_domain, T.recipient_domain), COALESCE(T.recipient_domain, S.recipient_domain)) IN ('o2.pl', 'wp.pl') THEN 'wp'
      WHEN IF(S.first_event_at < T.first_event_at, COALESCE(S.recipient_domain, T.recipient_domain), COALESCE(T.recipient_domain, S.recipient_domain)) IN ('onet.pl', 'op.pl') THEN 'onet'
      WHEN IF(S.first_event_at < T.first_event_at, COALESCE(S.recipient_domain, T.recipient_domain), COALESCE(T.recipient_domain, S.recipient_domain)) IN ('interia.pl') THEN 'interia'
      WHEN IF(S.first_event_at < T.first_event_at, COALESCE(S.recipient_domain, T.recipient_domain), COALESCE(T.recipient_domain, S.recipient_domain)) IN ('ya.ru', 'yandex.com', 'yandex.kz', 'yandex.ru', 'yandex.ua') THEN 'yandex'
      WHEN IF(S.first_event_at < T.first_event_at, COALESCE(S.recipient_domain, T.recipient_domain), COALESCE(T.recipient_domain, S.recipient_domain)) IN ('bk.ru', 'inbox.ru', 'list.ru', 'mail.ru') THEN 'mail.ru'
      WHEN IF(S.first_event_at < T.first_event_at, COALESCE(S.recipient_domain, T.recipient_domain), COALESCE(T.recipient_domain, S.recipient_domain)) IN ('foxmail.com', 'qq.com') THEN 'qq'
      WHEN IF(S.first_event_at < T.first_event_at, COALESCE(S.recipient_domain, T.recipient_domain), COALESCE(T.recipient_domain, S.recipient_domain)) IN ('126.com', '163.com', 'yeah.net') THEN 'netease'
      WHEN IF(S.first_event_at < T.first_event_at, COALESCE(S.recipient_domain, T.recipient_domain), COALESCE(T.recipient_domain, S.recipient_domain)) IN ('naver.com') THEN 'naver'
      WHEN IF(S.first_event_at < T.first_event_at, COALESCE(S.recipient_domain, T.recipient_domain), COALESCE(T.recipient_domain, S.recipient_domain)) IN ('daum.net', 'hanmail.net', 'kakao.com') THEN 'kakao'
      WHEN IF(S.first_event_at < T.first_event_at, COALESCE(S.recipient_domain, T.recipient_domain), COALESCE(T.recipient_domain, S.recipient_domain)) IN ('yahoo.co.jp') THEN 'yahoo-japan'
      WHEN IF(S.first_event_at < T.first_event_at, COALESCE(S.recipient_domain, T.recipient_domain), COALESCE(T.recipient_domain, S.recipient_domain)) IN ('bol.com.br', 'uol.com.br') THEN 'uol'
      WHEN IF(S.first_event_at < T.first_event_at, COALESCE(S.recipient_domain, T.recipient_domain), COALESCE(T.recipient_domain, S.recipient_domain)) IN ('rediffmail.com') THEN 'rediff'
      WHEN IF(S.first_event_at < T.first_event_at, COALESCE(S.recipient_domain, T.recipient_domain), COALESCE(T.recipient_domain, S.recipient_domain)) IN ('comcast.net') THEN 'comcast'
      WHEN IF(S.first_event_at < T.first_event_at, COALESCE(S.recipient_domain, T.recipient_domain), COALESCE(T.recipient_domain, S.recipient_domain)) IN ('charter.net', 'spectrum.net') THEN 'charter'
      WHEN IF(S.first_event_at < T.first_event_at, COALESCE(S.recipient_domain, T.recipient_domain), COALESCE(T.recipient_domain, S.recipient_domain)) IN ('cox.net') THEN 'cox'
      WHEN IF(S.first_event_at < T.first_event_at, COALESCE(S.recipient_domain, T.recipient_domain), COALESCE(T.recipient_domain, S.recipient_domain)) IN ('btinternet.com', 'btopenworld.com') THEN 'bt'
      WHEN IF(S.first_event_at < T.first_event_at, COALESCE(S.recipient_domain, T.recipient_domain), COALESCE(T.recipient_domain, S.recipient_domain)) IN ('sky.com') THEN 'sky'
      WHEN IF(S.first_event_at < T.first_event_at, COALESCE(S.recipient_domain, T.recipient_domain), COALESCE(T.recipient_domain, S.recipient_domain)) IN ('blueyonder.co.uk', 'ntlworld.com', 'virginmedia.com') THEN 'virgin-media'
      WHEN IF(S.first_event_at < T.first_event_at, COALESCE(S.recipient_domain, T.recipient_domain), COALESCE(T.recipient_domain, S.recipient_domain)) IN ('rogers.com', 'shaw.ca') THEN 'shaw-rogers'
      WHEN IF(S.first_event_at < T.first_event_at, COALESCE(S.recipient_domain, T.recipient_domain), COALESCE(T.recipient_domain, S.recipient_domain)) IN ('bigpond.com', 'bigpond.net.au', 'telstra.com') THEN 'telstra'
      WHEN IF(S.first_event_at < T.first_event_at, COALESCE(S.recipient_domain, T.recipient_domain), COALESCE(T.recipient_domain, S.recipient_domain)) IN ('pm.me', 'proton.me', 'protonmail.ch', 'protonmail.com') THEN 'proton'
      WHEN IF(S.first_event_at < T.first_event_at, COALESCE(S.recipient_domain, T.recipient_domain), COALESCE(T.recipient_domain, S.recipient_domain)) IN ('zoho.com', 'zohomail.com') THEN 'zoho'
      WHEN IF(S.first_event_at < T.first_event_at, COALESCE(S.recipient_domain, T.recipient_domain), COALESCE(T.recipient_domain, S.recipient_domain)) IS NOT NULL THEN 'other'
    END,
  first_event_at = IF(T.first_event_at IS NULL OR S.first_event_at < T.first_event_at, S.first_event_at, T.first_event_at),
  sent_at = IF(T.sent_at IS NULL OR S.sent_at < T.sent_at, S.sent_at, T.sent_at),
  delivered_at = IF(T.delivered_at IS NULL OR S.delivered_at < T.delivered_at, S.delivered_at, T.delivered_at),
  first_opened_at = IF(T.first_opened_at IS NULL OR S.first_opened_at < T.first_opened_at, S.first_opened_at, T.first_opened_at),
  first_human_opened_at = IF(T.first_human_opened_at IS NULL OR S.first_human_opened_at < T.first_human_opened_at, S.first_human_opened_at, T.first_human_opened_at),
  first_clicked_at = IF(T.first_clicked_at IS NULL OR S.first_clicked_at < T.first_clicked_at, S.first_clicked_at, T.first_clicked_at),
  first_human_clicked_at = IF(T.first_human_clicked_at IS NULL OR S.first_human_clicked_at < T.first_human_clicked_at, S.first_human_clicked_at, T.first_human_clicked_at),
  converted_at = IF(T.converted_at IS NULL OR S.converted_at < T.converted_at, S.converted_at, T.converted_at),
  unsubscribed_at = IF(T.unsubscribed_at IS NULL OR S.unsubscribed_at < T.unsubscribed_at, S.unsubscribed_at, T.unsubscribed_at),
  bounced_at = IF(T.bounced_at IS NULL OR S.bounced_at < T.bounced_at, S.bounced_at, T.bounced_at),
  spammed_at = IF(T.spammed_at IS NULL OR S.spammed_at < T.spammed_at, S.spammed_at, T.spammed_at),
  failed_at = IF(T.failed_at IS NULL OR S.failed_at < T.failed_at, S.failed_at, T.failed_at),
  dropped_at = IF(T.dropped_at IS NULL OR S.dropped_at < T.dropped_at, S.dropped_at, T.dropped_at),
  seconds_to_human_open = TIMESTAMP_DIFF(IF(T.first_human_opened_at IS NULL OR S.first_human_opened_at < T.first_human_opened_at, S.first_human_opened_at, T.first_human_opened_at), IF(T.delivered_at IS NULL OR S.delivered_at < T.delivered_at, S.delivered_at, T.delivered_at), SECOND),
  seconds_to_human_click = TIMESTAMP_DIFF(IF(T.first_human_clicked_at IS NULL OR S.first_human_clicked_at < T.first_human_clicked_at, S.first_human_clicked_at, T.first_human_clicked_at), IF(T.delivered_at IS NULL OR S.delivered_at < T.delivered_at, S.delivered_at, T.delivered_at), SECOND),
  smtp_code = IF(T.bounced_at IS NULL OR S.bounced_at < T.bounced_at, S.smtp_code, T.smtp_code),
  enhanced_status_code = IF(T.bounced_at IS NULL OR S.bounced_at < T.bounced_at, S.enhanced_status_code, T.enhanced_status_code),
  bounce_class = IF(T.bounced_at IS NULL OR S.bounced_at < T.bounced_at, S.bounce_class, T.bounce_class),
  settled = DATE(COALESCE(IF(T.sent_at IS NULL OR S.sent_at < T.sent_at, S.sent_at, T.sent_at), IF(T.first_event_at IS NULL OR S.first_event_at < T.first_event_at, S.first_event_at, T.first_event_at))) < DATE_SUB(CURRENT_DATE(), INTERVAL 30 DAY)
WHEN NOT MATCHED THEN INSERT (workspace, delivery_id, send_day, channel, message_type, message_ref, campaign_id, broadcast_id, newsletter_id, transactional_message_id, action_id, journey_id, recipient_domain, mailbox_provider, first_event_at, sent_at, delivered_at, first_opened_at, first_human_opened_at, first_clicked_at, first_human_clicked_at, converted_at, unsubscribed_at, bounced_at, spammed_at, failed_at, dropped_at, seconds_to_human_open, seconds_to_human_click, smtp_code, enhanced_status_code, bounce_class, settled)
  VALUES (S.workspace, S.delivery_id, S.send_day, S.channel, S.message_type, S.message_ref, S.campaign_id, S.broadcast_id, S.newsletter_id, S.transactional_message_id, S.action_id, S.journey_id, S.recipient_domain, S.mailbox_provider, S.first_event_at, S.sent_at, S.delivered_at, S.first_opened_at, S.first_human_opened_at, S.first_clicked_at, S.first_human_clicked_at, S.converted_at, S.unsubscribed_at, S.bounced_at, S.spammed_at, S.failed_at, S.dropped_at, S.seconds_to_human_open, S.seconds_to_human_click, S.smtp_code, S.enhanced_status_code, S.bounce_class, S.settled)
;

UPDATE `${deliveries}` SET settled = TRUE
WHERE settled IS NOT TRUE AND send_day < DATE_SUB(CURRENT_DATE(), INTERVAL 30 DAY)
;
