package funnel

import (
	"fmt"
	"sort"
	"strings"

	"github.com/cioevents/cioevents/shared/warehouse"
)

// Placeholders of the committed view templates; Terraform's templatefile
// fills them in (terraform/modules/cioevents/views.tf).
const (
	tableVar    = "${events_deduped}"
	lookbackVar = "${lookback_days}"
	// eventsVar is the events table in events_deduped's template
	// (terraform/modules/cioevents/bigquery.tf).
	eventsVar = "${events}"
	// deliveriesVar is the deliveries table (the model, materialized).
	deliveriesVar = "${deliveries}"
	// namesVar is table message_names (cmd/cioevents/internal/names).
	namesVar = "${message_names}"
)

func quoteList(ss []string) string {
	q := make([]string, len(ss))
	for i, s := range ss {
		q[i] = "'" + s + "'"
	}
	return strings.Join(q, ", ")
}

// notProbe leaves out `cioevents doctor` probes (Row.Source, IsProbe). A
// NULL source is an older webhook row, so it must pass.
var notProbe = "(source IS NULL OR source != '" + warehouse.SourceProbe + "')"

// IsProbe reports whether r is a `cioevents doctor` probe, which no figure
// counts: the Go reading of notProbe.
func IsProbe(r *warehouse.Row) bool { return r.Source != nil && *r.Source == warehouse.SourceProbe }

// predicate is the SQL condition under which an event counts for s.
func (s Stage) predicate() string {
	p := "metric IN (" + quoteList(s.Metrics) + ")"
	if len(s.Metrics) == 1 {
		p = "metric = '" + s.Metrics[0] + "'"
	}
	for _, c := range s.Exclude {
		p += " AND " + c + " IS NOT TRUE"
	}
	return p
}

// SQL renders q over the deliveries model in table (a backquoted reference)
// for the deliveries that filter (a condition on send_day, the partition
// column) selects: per group, how many deliveries reached each stage, and
// each rate among the deliveries of its denominator stage.
func SQL(q Query, table, filter string) string {
	var items, group []string
	for _, d := range q.Dims {
		items = append(items, d.SQL())
		group = append(group, d.Col)
	}
	at := map[string]string{}
	for _, s := range Stages {
		at[s.Name] = s.At + " IS NOT NULL"
	}
	for _, s := range q.Stages {
		items = append(items, "COUNTIF("+at[s.Name]+") AS "+s.Name)
	}
	for _, r := range q.Rates {
		items = append(items, fmt.Sprintf("SAFE_DIVIDE(COUNTIF(%s AND %s), COUNTIF(%s)) AS %s", at[r.Num], at[r.Den], at[r.Den], r.Name))
	}
	var b strings.Builder
	b.WriteString("SELECT\n  " + strings.Join(items, ",\n  ") + "\n")
	b.WriteString("FROM " + table + "\n")
	b.WriteString("WHERE " + filter + "\n")
	if q.EmailOnly {
		b.WriteString("  AND channel = 'email'\n")
	}
	if len(group) > 0 {
		b.WriteString("GROUP BY " + strings.Join(group, ", ") + "\n")
	}
	return b.String()
}

// NamedSQL is SQL(q) with the names of its message and action beside the
// IDs, from table names (message_names: workspace, kind, id, name), for the
// dimensions q has: message_name after message_ref, action_name after
// action_id. A message without a name row shows NULL.
func NamedSQL(q Query, table, filter, names string) string {
	has := map[string]bool{}
	for _, d := range q.Dims {
		has[d.Name] = true
	}
	if !has["workspace"] || (!has["message_ref"] && !has["action_id"]) {
		return SQL(q, table, filter)
	}
	var items []string
	var joins []string
	for _, d := range q.Dims {
		items = append(items, "f."+d.Name)
		switch d.Name {
		case "message_ref":
			items = append(items, "n.name AS message_name")
			joins = append(joins, messageNameJoin(names, "f"))
		case "action_id":
			items = append(items, "a.name AS action_name")
			joins = append(joins, actionNameJoin(names, "f"))
		}
	}
	for _, c := range q.Columns()[len(q.Dims):] {
		items = append(items, "f."+c)
	}
	return "SELECT\n  " + strings.Join(items, ",\n  ") + "\nFROM (\n" + indent(SQL(q, table, filter)) + ") f\n" + strings.Join(joins, "\n") + "\n"
}

// namedDeliveriesSQL is every column of the deliveries model, with the
// message's and the action's name from names beside them.
func namedDeliveriesSQL(deliveries, names, filter string) string {
	return "SELECT\n  d.*,\n  n.name AS message_name,\n  a.name AS action_name\nFROM " + deliveries + " d\n" +
		messageNameJoin(names, "d") + "\n" + actionNameJoin(names, "d") + "\n" +
		"WHERE " + filter + "\n"
}

// messageNameJoin joins names (as n) to the message of row alias t.
func messageNameJoin(names, t string) string {
	return "LEFT JOIN " + names + " n\n  ON n.workspace = " + t + ".workspace AND n.kind = " + t + ".message_type AND n.id = " + t + ".message_ref"
}

// actionNameJoin joins names (as a) to the action of row alias t.
func actionNameJoin(names, t string) string {
	return "LEFT JOIN " + names + " a\n  ON a.workspace = " + t + ".workspace AND a.kind = 'action' AND a.id = CAST(" + t + ".action_id AS STRING)"
}

// EngagementSQL renders view person_engagement.
func EngagementSQL(table, timeFilter string) string {
	items := []string{
		workspaceSQL + " AS workspace",
		"cio_id",
		"ARRAY_AGG(person_id IGNORE NULLS ORDER BY event_time DESC LIMIT 1)[SAFE_OFFSET(0)] AS person_id",
		"ARRAY_AGG(email IGNORE NULLS ORDER BY event_time DESC LIMIT 1)[SAFE_OFFSET(0)] AS email",
	}
	for _, s := range Engagement {
		items = append(items, "MAX(IF("+s.predicate()+", event_time, NULL)) AS last_"+s.Name+"_at")
	}
	return "SELECT\n  " + strings.Join(items, ",\n  ") + "\nFROM " + table + "\nWHERE " + timeFilter +
		"\n  AND " + notProbe + "\n  AND cio_id IS NOT NULL\nGROUP BY " + workspaceSQL + ", cio_id\n"
}

// View is one view Terraform creates from a committed template.
type View struct {
	Name, Desc string
	SQL        string
}

// lookback keeps a view's unfiltered query to the last lookback_days of
// partitions; a filter on day narrows it further.
const lookback = "event_time >= TIMESTAMP_SUB(CURRENT_TIMESTAMP(), INTERVAL " + lookbackVar + " DAY)"

// sendLookback is lookback for views over the deliveries table, whose
// partition column is send_day.
const sendLookback = "send_day >= DATE_SUB(CURRENT_DATE(), INTERVAL " + lookbackVar + " DAY)"

// mergeWindow is the events a scheduled run of the MERGE folds in: those of
// the last lookback_days before the run (@run_time, which a BigQuery
// scheduled query sets; a backfill run sets it in the past).
const mergeWindow = "event_time >= TIMESTAMP_SUB(@run_time, INTERVAL " + lookbackVar + " DAY)"

const header = "-- Generated from cmd/cioevents/internal/funnel (go test ./cmd/cioevents/internal/funnel -update); do not edit.\n"

// Views returns the views, by name order.
func Views() []View {
	table := "`" + tableVar + "`"
	deliveries := "`" + deliveriesVar + "`"
	vs := []View{
		{Name: "delivery_funnel_daily",
			Desc: "Funnel per send day, channel, message (campaign, broadcast, newsletter, transactional) and action: deliveries per stage, each on its send day with all its later stages.",
			SQL:  header + NamedSQL(FunnelDaily, deliveries, sendLookback, "`"+namesVar+"`")},
		{Name: "deliverability_daily",
			Desc: "Email deliverability per send day, mailbox provider and recipient domain: deliveries sent, delivered, bounced, spammed, dropped, failed, and the rates.",
			SQL:  header + SQL(DeliverabilityDaily, deliveries, sendLookback)},
		{Name: "deliveries_named",
			Desc: "The deliveries table with the names of each delivery's message and action beside their IDs; filter on send_day.",
			SQL:  header + namedDeliveriesSQL(deliveries, "`"+namesVar+"`", sendLookback)},
		{Name: "person_engagement",
			Desc: "Per person (workspace, cio_id): last delivered, opened and clicked, all and human only.",
			SQL:  header + EngagementSQL(table, lookback)},
	}
	sort.Slice(vs, func(i, j int) bool { return vs[i].Name < vs[j].Name })
	return vs
}

// MergeFile is the scheduled query's template: the MERGE that folds the last
// lookback_days of events into the deliveries table, then SettleSQL.
const MergeFile = "deliveries_merge.sql"

// MergeTemplate is MergeFile's text.
func MergeTemplate() string {
	return header + MergeSQL("`"+deliveriesVar+"`", "`"+tableVar+"`", mergeWindow) + ";\n\n" + SettleSQL("`"+deliveriesVar+"`") + ";\n"
}

// DedupedFile is events_deduped's template, beside the reporting views'.
const DedupedFile = "events_deduped.sql"

// ViewFiles returns the committed templates by file name (terraform/modules/cioevents/views).
func ViewFiles() map[string][]byte {
	out := map[string][]byte{DedupedFile: []byte(DedupedSQL()), MergeFile: []byte(MergeTemplate())}
	for _, v := range Views() {
		out[v.Name+".sql"] = []byte(v.SQL)
	}
	return out
}
