package forget

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"cloud.google.com/go/bigquery"
	"cloud.google.com/go/firestore"
	"google.golang.org/api/googleapi"
	"google.golang.org/api/iterator"

	"github.com/cioevents/cioevents/shared/event"
	"github.com/cioevents/cioevents/shared/ledger"
	"github.com/cioevents/cioevents/shared/pipeline"
	"github.com/cioevents/cioevents/shared/tombstone"
	"github.com/cioevents/cioevents/shared/warehouse"
	"github.com/cioevents/cioevents/shared/workspace"
)

// StreamingBuffer is how long BigQuery may keep streamed rows where DML
// cannot reach them (typically minutes, at most about 90).
const StreamingBuffer = 90 * time.Minute

// Table is one BigQuery table that holds a person's rows, and the columns
// that name them. A column list left empty is not matched. Every
// materialized table of people's rows is one entry of BigQuery.Tables.
type Table struct {
	Name string
	// Time is the column the table's partition filter requires; forget
	// filters it over all time ("" : no filter required).
	Time string
	// Emails, IDs and CioIDs are the columns holding an address, a person
	// ID (id, customer_id) or a cio_id.
	Emails, IDs, CioIDs []string
	// Body is a quarantined body, matched by the identifiers' text in it.
	Body string
	// DeliveryIDs is a delivery_id column: the table's rows of the
	// person are those of the deliveries their events rows name (a model
	// that keeps no identifier of people, such as deliveries).
	DeliveryIDs string
	// Workspace scopes IDs (NULL is the default workspace); "" : the
	// table holds the default workspace only.
	Workspace string
	// InsertedAt is when a streamed row was inserted ("" : the table is
	// not streamed, so DML reaches every row at once).
	InsertedAt string
	// Optional: a deployment may lack the table (one from before it);
	// forget then passes it by.
	Optional bool
}

// notFound reports BigQuery's answer for a table that does not exist.
func notFound(err error) bool {
	var be *bigquery.Error
	var ge *googleapi.Error
	return errors.As(err, &be) && be.Reason == "notFound" || errors.As(err, &ge) && ge.Code == http.StatusNotFound
}

// Tables are the tables of a deployment, by their names. A materialized
// table of people's rows is one more entry.
func Tables(events, rejected string) []Table {
	return []Table{
		{Name: events, Time: "event_time", Emails: []string{"email", "recipient"}, IDs: []string{"person_id", "customer_id"},
			CioIDs: []string{"cio_id"}, Workspace: "workspace", InsertedAt: "inserted_at"},
		{Name: rejected, Body: "body", Workspace: "workspace", InsertedAt: "inserted_at"},
		// The deliveries model keeps no identifier of people: one row per
		// workspace and delivery, written by a scheduled MERGE (DML, so
		// no streaming buffer), absent from deployments before it.
		{Name: "deliveries", DeliveryIDs: "delivery_id", Workspace: "workspace", Optional: true},
	}
}

// BigQuery forgets a person in Tables; the first is the events table,
// whose rows give the person's identifiers and ledger keys.
type BigQuery struct {
	Client           *bigquery.Client
	Project, Dataset string
	Tables           []Table
	Now              func() time.Time
	// Log is every statement run, in order (what cioevents forget costs
	// in BigQuery: TestForgetCost).
	Log []string
}

func (b *BigQuery) now() time.Time {
	if b.Now != nil {
		return b.Now()
	}
	return time.Now()
}

func (b *BigQuery) ref(t Table) string { return "`" + b.Project + "." + b.Dataset + "." + t.Name + "`" }

// params names query parameters p0, p1, ...
type params []bigquery.QueryParameter

func (ps *params) add(v any) string {
	name := "p" + strconv.Itoa(len(*ps))
	*ps = append(*ps, bigquery.QueryParameter{Name: name, Value: v})
	return "@" + name
}

// wsCond is the SQL of a row in workspace ws ("" : every row), and false
// when t holds no row of ws. NULL is a row from before the column, which
// came through the unnamed key (the default workspace).
func wsCond(t Table, ws string, ps *params) (string, bool) {
	if t.Workspace == "" {
		return "", ws == workspace.Default
	}
	c := t.Workspace + " = " + ps.add(ws)
	if ws == workspace.Default {
		c = "(" + c + " OR " + t.Workspace + " IS NULL)"
	}
	return c, true
}

// and joins the conditions given, leaving out empty ones.
func and(conds ...string) string {
	var out []string
	for _, c := range conds {
		if c != "" {
			out = append(out, c)
		}
	}
	return strings.Join(out, " AND ")
}

// condition is the SQL of a row of t naming one of s's identifiers, built
// only from the identifiers and columns there are (an empty list must not
// match everyone); "" when there is nothing to match.
func (s *Identity) condition(t Table, ps *params) string {
	var emails []string
	ids, cios := map[string][]string{}, map[string][]string{}
	var wss []string
	for _, i := range s.order {
		switch i.Kind {
		case tombstone.KindEmail:
			emails = append(emails, i.Value)
			continue
		case tombstone.KindID:
			ids[i.Workspace] = append(ids[i.Workspace], i.Value)
		case tombstone.KindCioID:
			cios[i.Workspace] = append(cios[i.Workspace], i.Value)
		}
		if len(ids[i.Workspace])+len(cios[i.Workspace]) == 1 {
			wss = append(wss, i.Workspace)
		}
	}
	var ors []string
	if t.DeliveryIDs != "" {
		for _, ws := range s.deliveryWorkspaces() {
			if wc, ok := wsCond(t, ws, ps); ok {
				ors = append(ors, "("+and(wc, t.DeliveryIDs+" IN UNNEST("+ps.add(s.deliveries[ws])+")")+")")
			}
		}
		if len(ors) == 0 {
			return ""
		}
		return "(" + strings.Join(ors, " OR ") + ")"
	}
	needles := s.needles()
	if len(emails) > 0 {
		if t.Body != "" {
			for _, n := range needles[""] {
				ors = append(ors, "STRPOS(LOWER("+t.Body+"), "+ps.add(string(n))+") > 0")
			}
		} else if len(t.Emails) > 0 {
			p := ps.add(emails)
			for _, c := range t.Emails {
				ors = append(ors, "LOWER(TRIM("+c+")) IN UNNEST("+p+")")
			}
		}
	}
	for _, ws := range wss {
		var in []string
		if t.Body != "" {
			for _, n := range needles[ws] {
				in = append(in, "STRPOS("+t.Body+", "+ps.add(string(n))+") > 0")
			}
		}
		for _, kv := range []struct {
			cols []string
			vs   []string
		}{{t.IDs, ids[ws]}, {t.CioIDs, cios[ws]}} {
			if len(kv.vs) == 0 || len(kv.cols) == 0 {
				continue
			}
			p := ps.add(kv.vs)
			for _, c := range kv.cols {
				in = append(in, "TRIM("+c+") IN UNNEST("+p+")")
			}
		}
		if len(in) == 0 {
			continue
		}
		if wc, ok := wsCond(t, ws, ps); ok {
			ors = append(ors, "("+and(wc, "("+strings.Join(in, " OR ")+")")+")")
		}
	}
	if len(ors) == 0 {
		return ""
	}
	return "(" + strings.Join(ors, " OR ") + ")"
}

// allTime reaches every partition of a table whose partition filter is
// required, and keeps none out.
func allTime(t Table) string {
	if t.Time == "" {
		return ""
	}
	return t.Time + " >= TIMESTAMP '0001-01-01 00:00:00+00'"
}

// settled is the SQL of a row out of the streaming buffer by now: inserted
// before the cutoff, or before inserted_at existed (NULL).
func settled(t Table, ps *params, cutoff time.Time) string {
	if t.InsertedAt == "" {
		return ""
	}
	p := ps.add(cutoff)
	return "(" + t.InsertedAt + " IS NULL OR " + t.InsertedAt + " < " + p + ")"
}

// run runs one statement and calls each for every row; it returns the rows
// a DML statement affected.
func (b *BigQuery) run(ctx context.Context, sql string, ps params, each func([]bigquery.Value) error) (int64, error) {
	q := b.Client.Query(sql)
	q.Parameters = ps
	b.Log = append(b.Log, sql)
	job, err := q.Run(ctx)
	if err != nil {
		return 0, fmt.Errorf("forget: %w", err)
	}
	js, err := job.Wait(ctx)
	if err == nil {
		err = js.Err()
	}
	if err != nil {
		return 0, fmt.Errorf("forget: %w", err)
	}
	var affected int64
	if qs, ok := js.Statistics.Details.(*bigquery.QueryStatistics); ok {
		affected = qs.NumDMLAffectedRows
	}
	if each == nil {
		return affected, nil
	}
	it, err := job.Read(ctx)
	if err != nil {
		return 0, fmt.Errorf("forget: %w", err)
	}
	for {
		var row []bigquery.Value
		err := it.Next(&row)
		if errors.Is(err, iterator.Done) {
			return affected, nil
		}
		if err != nil {
			return 0, fmt.Errorf("forget: %w", err)
		}
		if err := each(row); err != nil {
			return 0, err
		}
	}
}

func count(into *int) func([]bigquery.Value) error {
	return func(r []bigquery.Value) error {
		if n, ok := r[0].(int64); ok {
			*into += int(n)
		}
		return nil
	}
}

// Gather grows s from the events table's rows until it stops growing, and
// returns the ledger keys of the rows it matched last. Each pass asks
// which workspaces the matched rows are in, then reads their bodies (raw)
// workspace by workspace: the body holds every identifier of the row and
// what its identity key is made of.
func (b *BigQuery) Gather(ctx context.Context, s *Identity, max int) ([]string, error) {
	t := b.Tables[0]
	var keys []string
	for {
		s.Rounds++
		var ps params
		cond := s.condition(t, &ps)
		if cond == "" {
			return nil, nil
		}
		where := " WHERE " + and(allTime(t), cond)
		wss := map[string]bool{}
		var order []string
		rows := 0
		_, err := b.run(ctx, "SELECT "+t.Workspace+" FROM "+b.ref(t)+where, ps, func(r []bigquery.Value) error {
			rows++
			ws, _ := r[0].(string)
			ws = workspace.OrDefault(ws)
			if !wss[ws] {
				wss[ws] = true
				order = append(order, ws)
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
		grew := false
		keys = keys[:0]
		for _, ws := range order {
			wps := append(params(nil), ps...)
			wc, _ := wsCond(t, ws, &wps)
			sql := "SELECT raw FROM " + b.ref(t) + " WHERE " + and(allTime(t), wc, cond)
			_, err := b.run(ctx, sql, wps, func(r []bigquery.Value) error {
				raw, _ := r[0].(string)
				ev, err := event.Parse([]byte(raw))
				if err != nil {
					// A stored row always parses; one that does not
					// still matched by its columns and is deleted.
					return nil
				}
				row := warehouse.FromEvent(ev, time.Time{}, nil, "")
				row.Workspace = &ws
				if !s.matches(&row) {
					return nil
				}
				keys = append(keys, ledgerKeys(&row)...)
				if row.DeliveryID != nil {
					s.addDelivery(ws, *row.DeliveryID)
				}
				if s.absorb(&row) {
					grew = true
				}
				return nil
			})
			if err != nil {
				return nil, err
			}
		}
		s.Rows = rows
		if err := s.tooMany(max); err != nil {
			return nil, err
		}
		if !grew {
			return keys, nil
		}
	}
}

// inStreamingBuffer reports BigQuery's refusal of DML over rows streamed
// recently ("would affect rows in the streaming buffer"): the rows are
// pending, not an error.
func inStreamingBuffer(err error) bool {
	return err != nil && strings.Contains(err.Error(), "streaming buffer")
}

// Remove deletes s's rows inserted more than StreamingBuffer ago from
// every table and counts those it could not reach yet: rows inserted
// since, and rows BigQuery still refuses to delete. Dry, it counts. After
// Gather, the events table's count is the rows its last pass matched
// (s.Rows, with the same condition), so a dry run does not count them
// again, and with none its DELETE is left out: it would read the whole
// table to remove nothing.
func (b *BigQuery) Remove(ctx context.Context, s *Identity, dry bool) (Result, error) {
	res := Result{Rows: map[string]int{}}
	cutoff := b.now().Add(-StreamingBuffer)
	for i, t := range b.Tables {
		if i == 0 && s.Rounds > 0 && (dry || s.Rows == 0) {
			res.Rows[t.Name] = s.Rows
			continue
		}
		var ps params
		cond := s.condition(t, &ps)
		if cond == "" {
			continue
		}
		from := " FROM " + b.ref(t) + " WHERE "
		var removed, pending int
		if dry {
			_, err := b.run(ctx, "SELECT COUNT(*)"+from+and(allTime(t), cond), ps, count(&removed))
			if t.Optional && notFound(err) {
				continue
			}
			if err != nil {
				return res, err
			}
		} else {
			if t.InsertedAt != "" {
				pps := append(params(nil), ps...)
				if _, err := b.run(ctx, "SELECT COUNT(*)"+from+and(allTime(t), "NOT "+settled(t, &pps, cutoff), cond), pps, count(&pending)); err != nil {
					return res, err
				}
			}
			dps := append(params(nil), ps...)
			where := from + and(allTime(t), settled(t, &dps, cutoff), cond)
			n, err := b.run(ctx, "DELETE"+where, dps, nil)
			switch {
			case inStreamingBuffer(err):
				if _, err := b.run(ctx, "SELECT COUNT(*)"+where, dps, count(&pending)); err != nil {
					return res, err
				}
			case t.Optional && notFound(err):
				continue
			case err != nil:
				return res, err
			default:
				removed = int(n)
			}
		}
		res.Rows[t.Name] = removed
		if i == 0 {
			res.Pending += pending
		} else {
			if t.Body != "" {
				res.Rejected += removed
			}
			res.RejectedPending += pending
		}
	}
	return res, nil
}

// ledgerDocIDs are the document IDs the ledger may hold keys under: the
// spread ID, and for an event_id the unspread one of releases before the
// spreading. Identity keys and actions records came after it, so they
// have only the spread ID.
func ledgerDocIDs(keys []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, k := range keys {
		ids := []string{ledger.DocID(k)}
		if !strings.HasPrefix(k, event.KeyPrefix) && !strings.HasPrefix(k, pipeline.ActionsKey("")) {
			ids = append(ids, ledger.LegacyDocID(k))
		}
		for _, id := range ids {
			if !seen[id] {
				seen[id] = true
				out = append(out, id)
			}
		}
	}
	return out
}

// ledgerChunk bounds one batch read (and one batch of deletes).
const ledgerChunk = 300

// Ledger deletes the ledger documents of keys (identity keys, their
// actions records and event IDs) from coll and returns how many there
// were: one batched read per chunk, and a delete for each document found.
// Dry, it only counts. A deleted document no longer dedupes: the
// tombstone is what keeps a redelivery of these events out.
func Ledger(ctx context.Context, fs *firestore.Client, coll string, keys []string, dry bool) (int, error) {
	ids := ledgerDocIDs(keys)
	c := fs.Collection(coll)
	n := 0
	var bw *firestore.BulkWriter
	if !dry {
		bw = fs.BulkWriter(ctx)
	}
	var jobs []*firestore.BulkWriterJob
	for len(ids) > 0 {
		chunk := ids[:min(ledgerChunk, len(ids))]
		ids = ids[len(chunk):]
		refs := make([]*firestore.DocumentRef, len(chunk))
		for i, id := range chunk {
			refs[i] = c.Doc(id)
		}
		snaps, err := fs.GetAll(ctx, refs)
		if err != nil {
			return n, fmt.Errorf("forget: ledger: %w", err)
		}
		for _, snap := range snaps {
			if !snap.Exists() {
				continue
			}
			n++
			if bw != nil {
				j, err := bw.Delete(snap.Ref)
				if err != nil {
					return n, fmt.Errorf("forget: ledger: %w", err)
				}
				jobs = append(jobs, j)
			}
		}
	}
	if bw != nil {
		bw.End()
		for _, j := range jobs {
			if _, err := j.Results(); err != nil {
				return n, fmt.Errorf("forget: ledger: %w", err)
			}
		}
	}
	return n, nil
}
