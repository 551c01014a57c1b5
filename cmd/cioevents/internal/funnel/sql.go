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

// groupRef is how GROUP BY names d: by its alias, unless the alias is also a
// column of the table and d computes something else from it (workspace's
// COALESCE). Such a name is ambiguous in GROUP BY, and SQL dialects that
// take the column would put NULL and 'default' in two groups.
func (d Dimension) groupRef() string {
	if d.SQL != d.Name && isColumn(d.Name) {
		return d.SQL
	}
	return d.Name
}

func isColumn(name string) bool {
	for _, f := range warehouse.EventsSchema() {
		if f.Name == name {
			return true
		}
	}
	return false
}

// SQL renders q over table (a backquoted reference) for the rows that
// timeFilter (a condition on event_time, reaching the partition filter)
// selects. The inner query is one row per delivery (and per-event
// dimension value): which stages it reached and its dimension values; the
// outer one counts those rows per group, and each rate among the rows of
// its denominator stage.
func SQL(q Query, table, timeFilter string) string {
	var b strings.Builder
	var outer, inner, innerGroup, outerGroup []string
	innerGroup = append(innerGroup, "delivery_id")
	for _, d := range q.Dims {
		outer = append(outer, d.Name)
		outerGroup = append(outerGroup, d.Name)
		if d.PerEvent {
			inner = append(inner, d.SQL+" AS "+d.Name)
			innerGroup = append(innerGroup, d.groupRef())
			continue
		}
		inner = append(inner, "ARRAY_AGG("+d.SQL+" IGNORE NULLS ORDER BY event_time, event_id LIMIT 1)[SAFE_OFFSET(0)] AS "+d.Name)
	}
	for _, s := range q.Stages {
		inner = append(inner, "LOGICAL_OR("+s.predicate()+") AS "+s.Name)
		outer = append(outer, "COUNTIF("+s.Name+") AS "+s.Name)
	}
	for _, r := range q.Rates {
		outer = append(outer, fmt.Sprintf("SAFE_DIVIDE(COUNTIF(%s AND %s), COUNTIF(%s)) AS %s", r.Num, r.Den, r.Den, r.Name))
	}
	b.WriteString("SELECT\n  " + strings.Join(outer, ",\n  ") + "\n")
	b.WriteString("FROM (\n  SELECT\n    " + strings.Join(inner, ",\n    ") + "\n")
	b.WriteString("  FROM " + table + "\n")
	b.WriteString("  WHERE " + timeFilter + "\n")
	b.WriteString("    AND " + notProbe + "\n")
	b.WriteString("    AND delivery_id IS NOT NULL\n")
	if q.EmailOnly {
		b.WriteString("    AND object_type = 'email'\n")
	}
	b.WriteString("  GROUP BY " + strings.Join(innerGroup, ", ") + "\n)\n")
	if len(outerGroup) > 0 {
		b.WriteString("GROUP BY " + strings.Join(outerGroup, ", ") + "\n")
	}
	return b.String()
}

// EngagementSQL renders view person_engagement.
func EngagementSQL(table, timeFilter string) string {
	items := []string{
		Workspace.SQL + " AS " + Workspace.Name,
		"cio_id",
		"ARRAY_AGG(person_id IGNORE NULLS ORDER BY event_time DESC LIMIT 1)[SAFE_OFFSET(0)] AS person_id",
		"ARRAY_AGG(email IGNORE NULLS ORDER BY event_time DESC LIMIT 1)[SAFE_OFFSET(0)] AS email",
	}
	for _, s := range Engagement {
		items = append(items, "MAX(IF("+s.predicate()+", event_time, NULL)) AS last_"+s.Name+"_at")
	}
	return "SELECT\n  " + strings.Join(items, ",\n  ") + "\nFROM " + table + "\nWHERE " + timeFilter +
		"\n  AND " + notProbe + "\n  AND cio_id IS NOT NULL\nGROUP BY " + Workspace.groupRef() + ", cio_id\n"
}

// View is one view Terraform creates from a committed template.
type View struct {
	Name, Desc string
	SQL        string
}

// lookback keeps a view's unfiltered query to the last lookback_days of
// partitions; a filter on day narrows it further.
const lookback = "event_time >= TIMESTAMP_SUB(CURRENT_TIMESTAMP(), INTERVAL " + lookbackVar + " DAY)"

const header = "-- Generated from cmd/cioevents/internal/funnel (go test ./cmd/cioevents/internal/funnel -update); do not edit.\n"

// Views returns the views, by name order.
func Views() []View {
	table := "`" + tableVar + "`"
	vs := []View{
		{Name: "delivery_funnel_daily",
			Desc: "Funnel per day, channel, message (campaign, broadcast, newsletter, transactional) and action: distinct deliveries per stage.",
			SQL:  header + SQL(FunnelDaily, table, lookback)},
		{Name: "deliverability_daily",
			Desc: "Email deliverability per day and recipient domain: distinct deliveries sent, delivered, bounced, spammed, and the rates.",
			SQL:  header + SQL(DeliverabilityDaily, table, lookback)},
		{Name: "person_engagement",
			Desc: "Per person (workspace, cio_id): last delivered, opened and clicked, all and human only.",
			SQL:  header + EngagementSQL(table, lookback)},
	}
	sort.Slice(vs, func(i, j int) bool { return vs[i].Name < vs[j].Name })
	return vs
}

// DedupedFile is events_deduped's template, beside the reporting views'.
const DedupedFile = "events_deduped.sql"

// ViewFiles returns the committed templates by file name (terraform/modules/cioevents/views).
func ViewFiles() map[string][]byte {
	out := map[string][]byte{DedupedFile: []byte(DedupedSQL())}
	for _, v := range Views() {
		out[v.Name+".sql"] = []byte(v.SQL)
	}
	return out
}
