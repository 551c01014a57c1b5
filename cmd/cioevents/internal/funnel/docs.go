package funnel

import (
	"fmt"
	"sort"
	"strings"
)

// ModelsDoc renders docs/models.md from the definitions in this package:
// the deliveries model's columns, the daily views' columns, the mailbox
// provider and bounce class tables, and how the tables join.
func ModelsDoc() string {
	var b strings.Builder
	w := func(format string, a ...any) { fmt.Fprintf(&b, format, a...) }
	w("<!-- Generated from cmd/cioevents/internal/funnel (go test ./cmd/cioevents/internal/funnel -update); do not edit. -->\n\n")
	w("# Models: deliveries, daily views, names\n\n")
	w("Every figure `cioevents report`, the HTML page and the BigQuery views show counts **deliveries** (one message to\n")
	w("one person) on their **send day**, with every later stage however many days later it came. An open after midnight,\n")
	w("a click ten days on, a backfilled event: each lands on the row of its delivery, and the delivery stays on the day it\n")
	w("was sent. So the days add up to the total, and each day's rates are the rates of that day's sends.\n\n")
	w("One definition in Go (`cmd/cioevents/internal/funnel`) gives the BigQuery SQL (`terraform/modules/cioevents/views/`),\n")
	w("the local evaluation behind `cioevents report --data-dir`, and this page. Tests run the generated SQL in bqfake and\n")
	w("the Go evaluation over the same events and compare them (`model_test.go`).\n\n")

	w("## Design: a table kept by a scheduled MERGE\n\n")
	w("`deliveries` is a table, partitioned by `send_day` and clustered by `workspace, channel, message_type,\n")
	w("message_ref`, not a view. A view would rebuild one row per delivery from raw events on every query: a 90-day\n")
	w("dashboard would scan 90 days of events (five or more events per delivery, plus the dedupe window) each time a tile\n")
	w("refreshes. The table holds one narrow row per delivery; a dashboard reads only the partitions of its days and the\n")
	w("columns it counts. docs/performance.md has the arithmetic.\n\n")
	w("A BigQuery scheduled query (`google_bigquery_data_transfer_config.deliveries_merge`, daily by default,\n")
	w("`deliveries_schedule`) runs `views/deliveries_merge.sql`:\n\n")
	w("1. the model over the events of the last `deliveries_lookback_days` (default 3) before `@run_time`, one row per\n")
	w("   delivery seen in that window;\n")
	w("2. `MERGE` into `deliveries`: a new delivery is inserted; a known one takes, column by column, the earlier of each\n")
	w("   stage time, the attributes of its earlier events, and the bounce fields of its earlier bounce. This fold is\n")
	w("   idempotent and order-free: running it twice, or over overlapping windows, changes nothing more, and a late\n")
	w("   event (an open ten days later) updates the row it belongs to;\n")
	w("3. `UPDATE ... SET settled = TRUE` for the rows whose send day passed %d days ago.\n\n", SettleDays)
	w("A backfill of days older than the lookback (`cioevents backfill --from ...`) needs a run whose window covers them:\n")
	w("schedule a backfill of the transfer config for those dates (its `@run_time` is then in the past, and the window\n")
	w("reaches from there to now). The nightly backfill's own window is within the lookback when `deliveries_lookback_days`\n")
	w("is at least its days.\n\n")

	w("## deliveries\n\n")
	w("One row per (workspace, delivery_id). Doctor probes are left out; events come through `events_deduped`, so a\n")
	w("duplicated or backfilled copy of an event is one event.\n\n")
	w("| column | type | how | meaning |\n|---|---|---|---|\n")
	how := map[ColKind]string{KindKey: "key", KindAttr: "earliest event that has one", KindFirst: "earliest event of the stage",
		KindBounce: "first bounce's failure_message", KindDerived: "from the columns above"}
	for _, c := range Model {
		h := how[c.Kind]
		if c.Kind == KindFirst && c.stage == "" {
			h = "earliest event"
		}
		w("| `%s` | %s | %s | %s |\n", c.Name, c.Type, h, c.Desc)
	}
	w("\nA stage's time is that of the first event counting for it (see the stages below). The row holds no person\n")
	w("identifier and no address: only the recipient's domain (below, Privacy).\n\n")

	w("## Stages and rates\n\n| stage | events that count | column |\n|---|---|---|\n")
	for _, s := range Stages {
		w("| `%s` | %s | `%s` |\n", s.Name, stage(s.Name).predicate(), s.At)
	}
	w("\n| rate | of the deliveries that reached | the share that also reached | meaning |\n|---|---|---|---|\n")
	for _, r := range Rates {
		w("| `%s` | `%s` | `%s` | %s |\n", r.Name, r.Den, r.Num, r.Desc)
	}
	w("\nA rate counts one set of deliveries, so it never exceeds 100 %%.\n\n")

	w("## Daily views\n\n")
	for _, v := range Views() {
		if v.Name != "delivery_funnel_daily" && v.Name != "deliverability_daily" {
			continue
		}
		q := FunnelDaily
		if v.Name == "deliverability_daily" {
			q = DeliverabilityDaily
		}
		w("### %s\n\n%s Reads `deliveries` by `send_day` (the last `views_lookback_days`).\n\n", v.Name, v.Desc)
		w("| column | meaning |\n|---|---|\n")
		for _, d := range q.Dims {
			w("| `%s` | `deliveries.%s`%s |\n", d.Name, d.Col, map[bool]string{true: " (the send day)", false: ""}[d.Name == "day"])
			if v.Name == "delivery_funnel_daily" && d.Name == "message_ref" {
				w("| `message_name` | `message_names.name` of (workspace, message_type, message_ref); NULL before a names refresh |\n")
			}
			if v.Name == "delivery_funnel_daily" && d.Name == "action_id" {
				w("| `action_name` | `message_names.name` of (workspace, 'action', action_id) |\n")
			}
		}
		for _, s := range q.Stages {
			w("| `%s` | %s |\n", s.Name, s.Desc)
		}
		for _, r := range q.Rates {
			w("| `%s` | %s |\n", r.Name, r.Desc)
		}
		w("\n")
	}
	w("`deliveries_named` is `deliveries` with `message_name` and `action_name` joined from `message_names` (the last\n")
	w("`views_lookback_days`); filter it on `send_day`. ")
	w("`person_engagement` stays per person over `events_deduped` (when each person was last delivered, opened and clicked).\n")
	w("Activity by the day an event happened is not a view: `cioevents report` and the views count cohorts only.\n\n")

	w("## Joins\n\n")
	w("- `deliveries` ↔ `events_deduped`: `deliveries.workspace = COALESCE(events_deduped.workspace, 'default') AND\n")
	w("  deliveries.delivery_id = events_deduped.delivery_id` (filter `events_deduped.event_time` from the first send day:\n")
	w("  no event of a delivery comes before its send).\n")
	w("- `deliveries` ↔ `message_names`: `message_names.workspace = deliveries.workspace AND message_names.kind =\n")
	w("  deliveries.message_type AND message_names.id = deliveries.message_ref`; for the action, `kind = 'action' AND id =\n")
	w("  CAST(deliveries.action_id AS STRING)`.\n")
	w("- The daily views already carry `workspace` and the message key, so they join `message_names` the same way (the\n")
	w("  funnel view has the names joined in).\n\n")

	w("## Links\n\n")
	w("`cioevents report --by link --message campaign:31` counts, per tracked link (`link_id`), the clicks of the message's\n")
	w("deliveries sent in the range: deliveries clicked, by a human (`machine` not set), clicks, the first click, and the\n")
	w("human click rate of the message's delivered deliveries. In BigQuery it joins `events_deduped` to `deliveries` (the\n")
	w("SQL is `LinkSQL`); `href` is the first click's URL as `CIO_PII` stored it (`href=strip-query` drops query strings).\n\n")

	w("## Mailbox providers\n\n")
	w("`mailbox_provider` looks the recipient's domain up in this committed table (`providers.go`); a domain outside it is\n")
	w("`other`. There is no MX lookup, on the event path or anywhere in the model: a company domain hosted by Google\n")
	w("Workspace or Microsoft 365 is `other`. Adding a domain is a reviewed change to the table, and the model's SQL and\n")
	w("this page follow from it.\n\n| provider | family | domains |\n|---|---|---|\n")
	for _, p := range Providers {
		ds := append([]string(nil), p.Domains...)
		sort.Strings(ds)
		w("| `%s` | %s | %s |\n", p.Name, p.Desc, strings.Join(ds, ", "))
	}

	w("\n## Bounce classes\n\n")
	w("From the first bounce's `failure_message`: the first rule whose pattern is found gives the class. The RFC 3463\n")
	w("enhanced status code (class.subject.detail) decides when present; the RFC 5321 reply code only when not.\n")
	w("`smtp_code` and `enhanced_status_code` keep the codes themselves; the message is not stored (it can hold the address).\n\n")
	w("| order | class | pattern (RE2) | meaning |\n|---|---|---|---|\n")
	for i, r := range BounceRules {
		w("| %d | `%s` | `%s` | %s |\n", i+1, r.Class, strings.ReplaceAll(r.Pattern, "|", `\|`), r.Desc)
	}
	w("| - | `%s` | | %s |\n\n", BounceUnknown, BounceUnknownDesc)

	w("## Privacy (CIO_PII)\n\n")
	w("- `deliveries` holds no email, recipient, person ID, subject, URL or failure text: only the recipient's domain, the\n")
	w("  provider, the message key and times. Under `CIO_PII` `email=hash`/`recipient=hash` the stored address is\n")
	w("  `hmac:<hex>@domain`: **a hashed address keeps its domain**, because deliverability per domain and provider is the\n")
	w("  point of the column, and a consumer domain (gmail.com) says nothing about a person. A small company's domain\n")
	w("  can; a deployment that must not keep it sets `recipient=drop` and `email=drop`, and the domain is then NULL.\n")
	w("- With `failure_message=hash` or `drop`, bounces classify as `unknown`.\n")
	w("- `cioevents forget` deletes, after the person's events, the person's rows of `deliveries` (by workspace and\n")
	w("  delivery_id of the events it deleted). A tombstoned person's events are never stored again, so no later MERGE can\n")
	w("  bring the rows back. `message_names` holds names of messages, not of people.\n")
	w("- Locally, `cioevents report --data-dir` computes the model from `events.ndjson` each run; nothing is materialized.\n\n")

	w("## Looker Studio\n\n")
	w("The Terraform output `looker_studio_url` (and the last line of `cioevents report` from BigQuery) is a Looker Studio\n")
	w("Linking API URL that creates a report with %s as BigQuery data sources. Nothing is created until you save it;\n", strings.Join(LookerTables, ", "))
	w("you need read access to the dataset.\n")
	return b.String()
}
