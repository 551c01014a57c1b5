// Package report prints the funnel and deliverability figures that
// cmd/cioevents/internal/funnel defines, from a local data dir (what `cioevents dev` writes)
// or from BigQuery, as a table, CSV, JSON or a self-contained HTML page.
package report

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"cloud.google.com/go/bigquery"
	"cloud.google.com/go/civil"
	"google.golang.org/api/iterator"

	"github.com/cioevents/cioevents/cmd/cioevents/internal/funnel"
	"github.com/cioevents/cioevents/cmd/cioevents/internal/names"
	"github.com/cioevents/cioevents/shared/warehouse"
)

// Source computes the figures of a query over the deliveries sent in a
// range, the clicks per link of one message, and the names of messages.
type Source interface {
	Figures(ctx context.Context, q funnel.Query, rg funnel.Range) ([]funnel.Result, error)
	// MessageTotal is the funnel of one message's deliveries.
	MessageTotal(ctx context.Context, m funnel.Message, rg funnel.Range) (funnel.Result, error)
	// Links are the message's clicks per link; delivered is its
	// MessageTotal's delivered count, the rates' denominator.
	Links(ctx context.Context, m funnel.Message, rg funnel.Range, delivered int64) ([]funnel.Link, error)
	Names(ctx context.Context) ([]names.Record, error)
}

// Local evaluates the queries in Go over rows read from a data dir.
type Local struct {
	Rows []warehouse.Row
	// Records are the names the data dir's names.ndjson holds.
	Records []names.Record

	deliveries []*funnel.Delivery
}

func (l *Local) model() []*funnel.Delivery {
	if l.deliveries == nil {
		l.deliveries = funnel.Deliveries(l.Rows, time.Now())
	}
	return l.deliveries
}

// LoadDir reads dir/events.ndjson through funnel.Dedupe, so it stands for
// events_deduped: the file holds one line per identity already
// (warehouse.File), but a file written before the identity may hold a
// backfilled row and a webhook row of one occurrence.
func LoadDir(dir string) (*Local, error) {
	f, err := os.Open(filepath.Join(dir, warehouse.EventsFile))
	if err != nil {
		return nil, fmt.Errorf("report: %w", err)
	}
	defer f.Close()
	var l Local
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 1<<20), 64<<20)
	for n := 1; sc.Scan(); n++ {
		var r warehouse.Row
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			return nil, fmt.Errorf("report: %s line %d: %w", warehouse.EventsFile, n, err)
		}
		l.Rows = append(l.Rows, r)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("report: %w", err)
	}
	l.Rows = funnel.Dedupe(l.Rows)
	if l.Records, err = names.ReadFile(filepath.Join(dir, names.File)); err != nil {
		return nil, fmt.Errorf("report: %w", err)
	}
	return &l, nil
}

// Figures implements Source.
func (l *Local) Figures(_ context.Context, q funnel.Query, rg funnel.Range) ([]funnel.Result, error) {
	return funnel.EvaluateDeliveries(l.model(), q, rg), nil
}

// MessageTotal implements Source.
func (l *Local) MessageTotal(_ context.Context, m funnel.Message, rg funnel.Range) (funnel.Result, error) {
	var ds []*funnel.Delivery
	for _, d := range l.model() {
		if d.Str("message_type") == m.Kind && d.Str("message_ref") == m.Ref {
			ds = append(ds, d)
		}
	}
	return funnel.EvaluateDeliveries(ds, funnel.Total, rg)[0], nil
}

// Links implements Source. EvaluateLinks counts delivered from the same
// model.
func (l *Local) Links(_ context.Context, m funnel.Message, rg funnel.Range, _ int64) ([]funnel.Link, error) {
	return funnel.EvaluateLinks(l.Rows, l.model(), m, rg), nil
}

// Names implements Source.
func (l *Local) Names(context.Context) ([]names.Record, error) { return l.Records, nil }

// BigQuery runs the generated SQL in BigQuery: only the aggregated rows come
// back, and the send_day filter reaches the deliveries table's partitions.
type BigQuery struct {
	Client *bigquery.Client
	// Table is "project.dataset.deliveries", Events
	// "project.dataset.events_deduped" (for --by link) and NamesTable
	// "project.dataset.message_names".
	Table, Events, NamesTable string
}

func (b *BigQuery) read(ctx context.Context, table, sql string, params []bigquery.QueryParameter, row func([]bigquery.Value) error) error {
	qq := b.Client.Query(sql)
	qq.Parameters = params
	it, err := qq.Read(ctx)
	if err != nil {
		return fmt.Errorf("report: query %s: %w", table, err)
	}
	for {
		var r []bigquery.Value
		err := it.Next(&r)
		if errors.Is(err, iterator.Done) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("report: read %s: %w", table, err)
		}
		if err := row(r); err != nil {
			return err
		}
	}
}

func rangeParams(rg funnel.Range, m *funnel.Message) []bigquery.QueryParameter {
	ps := []bigquery.QueryParameter{{Name: "from", Value: rg.From}, {Name: "until", Value: rg.Until}}
	if m != nil {
		ps = append(ps, bigquery.QueryParameter{Name: "kind", Value: m.Kind}, bigquery.QueryParameter{Name: "ref", Value: m.Ref})
	}
	return ps
}

// MessageTotal implements Source.
func (b *BigQuery) MessageTotal(ctx context.Context, m funnel.Message, rg funnel.Range) (funnel.Result, error) {
	var out []funnel.Result
	err := b.read(ctx, b.Table, funnel.SQL(funnel.Total, "`"+b.Table+"`", funnel.MessageFilter), rangeParams(rg, &m), func(row []bigquery.Value) error {
		res, err := decode(funnel.Total, row)
		out = append(out, res)
		return err
	})
	if err == nil && len(out) != 1 {
		err = fmt.Errorf("report: message total has %d rows, want 1", len(out))
	}
	if err != nil {
		return funnel.Result{}, err
	}
	return out[0], nil
}

// Links implements Source.
func (b *BigQuery) Links(ctx context.Context, m funnel.Message, rg funnel.Range, delivered int64) ([]funnel.Link, error) {
	var out []funnel.Link
	err := b.read(ctx, b.Events, funnel.LinkSQL("`"+b.Events+"`", "`"+b.Table+"`"), rangeParams(rg, &m), func(r []bigquery.Value) error {
		if len(r) != len(funnel.LinkColumns) {
			return fmt.Errorf("report: links: %d columns, want %d", len(r), len(funnel.LinkColumns))
		}
		s := func(v bigquery.Value) string { x, _ := v.(string); return x }
		n := func(v bigquery.Value) int64 { x, _ := v.(int64); return x }
		first, _ := r[7].(time.Time)
		out = append(out, funnel.LinkFromSQL(s(r[0]), s(r[1]), n(r[2]), n(r[3]), n(r[4]), n(r[5]), n(r[6]), first, delivered))
		return nil
	})
	funnel.SortLinks(out)
	return out, err
}

// Names implements Source: the names table is small (one row per message
// and action), so all of it comes back.
func (b *BigQuery) Names(ctx context.Context) ([]names.Record, error) {
	var out []names.Record
	err := b.read(ctx, b.NamesTable, "SELECT workspace, kind, id, name FROM `"+b.NamesTable+"`", nil, func(r []bigquery.Value) error {
		s := func(v bigquery.Value) string { x, _ := v.(string); return x }
		rec := names.Record{Workspace: s(r[0]), Kind: names.Kind(s(r[1])), ID: s(r[2])}
		if n, ok := r[3].(string); ok {
			rec.Name = &n
		}
		out = append(out, rec)
		return nil
	})
	return out, err
}

// Figures implements Source. BigQuery refuses a query without a filter on
// the partition column, so both bounds are required.
func (b *BigQuery) Figures(ctx context.Context, q funnel.Query, rg funnel.Range) ([]funnel.Result, error) {
	if rg.From.IsZero() || rg.Until.IsZero() {
		return nil, errors.New("report: a BigQuery report needs --from and --to")
	}
	var out []funnel.Result
	err := b.read(ctx, b.Table, funnel.SQL(q, "`"+b.Table+"`", funnel.RangeFilter), rangeParams(rg, nil), func(row []bigquery.Value) error {
		res, err := decode(q, row)
		out = append(out, res)
		return err
	})
	if err != nil {
		return nil, err
	}
	funnel.SortResults(out)
	return out, nil
}

// decode reads one result row: dimensions, then counts, then rates.
func decode(q funnel.Query, row []bigquery.Value) (funnel.Result, error) {
	nd, ns, nr := len(q.Dims), len(q.Stages), len(q.Rates)
	if len(row) != nd+ns+nr {
		return funnel.Result{}, fmt.Errorf("report: %d columns, want %d", len(row), nd+ns+nr)
	}
	res := funnel.Result{Key: make([]string, nd), Counts: make([]int64, ns), Rates: make([]*float64, nr)}
	for i := range nd {
		switch v := row[i].(type) {
		case nil:
		case string:
			res.Key[i] = v
		case int64:
			res.Key[i] = strconv.FormatInt(v, 10)
		case civil.Date:
			res.Key[i] = v.String()
		case time.Time:
			res.Key[i] = v.UTC().Format(time.RFC3339)
		default:
			return res, fmt.Errorf("report: column %s: unexpected %T", q.Dims[i].Name, v)
		}
	}
	for i := range ns {
		v, ok := row[nd+i].(int64)
		if !ok {
			return res, fmt.Errorf("report: column %s: unexpected %T", q.Stages[i].Name, row[nd+i])
		}
		res.Counts[i] = v
	}
	for i := range nr {
		switch v := row[nd+ns+i].(type) {
		case nil:
		case float64:
			res.Rates[i] = &v
		case *big.Rat:
			f, _ := v.Float64()
			res.Rates[i] = &f
		default:
			return res, fmt.Errorf("report: column %s: unexpected %T", q.Rates[i].Name, v)
		}
	}
	return res, nil
}
