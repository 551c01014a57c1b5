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
	"github.com/cioevents/cioevents/shared/warehouse"
)

// Source computes the figures of a query over a range of event_time.
type Source interface {
	Figures(ctx context.Context, q funnel.Query, rg funnel.Range) ([]funnel.Result, error)
}

// Local evaluates the queries in Go over rows read from a data dir.
type Local struct{ Rows []warehouse.Row }

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
	return &l, nil
}

// Figures implements Source.
func (l *Local) Figures(_ context.Context, q funnel.Query, rg funnel.Range) ([]funnel.Result, error) {
	return funnel.Evaluate(l.Rows, q, rg), nil
}

// BigQuery runs the generated SQL in BigQuery: only the aggregated rows come
// back, and the time filter reaches events' partition filter.
type BigQuery struct {
	Client *bigquery.Client
	// Table is "project.dataset.events_deduped".
	Table string
}

// rangeFilter is the condition every report query filters on.
const rangeFilter = "event_time >= @from AND event_time < @until"

// Figures implements Source. BigQuery refuses a query without a filter on
// the partition column, so both bounds are required.
func (b *BigQuery) Figures(ctx context.Context, q funnel.Query, rg funnel.Range) ([]funnel.Result, error) {
	if rg.From.IsZero() || rg.Until.IsZero() {
		return nil, errors.New("report: a BigQuery report needs --from and --to")
	}
	qq := b.Client.Query(funnel.SQL(q, "`"+b.Table+"`", rangeFilter))
	qq.Parameters = []bigquery.QueryParameter{{Name: "from", Value: rg.From}, {Name: "until", Value: rg.Until}}
	it, err := qq.Read(ctx)
	if err != nil {
		return nil, fmt.Errorf("report: query %s: %w", b.Table, err)
	}
	var out []funnel.Result
	for {
		var row []bigquery.Value
		err := it.Next(&row)
		if errors.Is(err, iterator.Done) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("report: read %s: %w", b.Table, err)
		}
		res, err := decode(q, row)
		if err != nil {
			return nil, err
		}
		out = append(out, res)
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
