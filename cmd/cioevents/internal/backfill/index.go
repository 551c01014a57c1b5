package backfill

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"cloud.google.com/go/bigquery"
	"google.golang.org/api/iterator"

	"github.com/cioevents/cioevents/shared/warehouse"
)

// Pairs is a set of (delivery_id, metric), each with the sources of its
// rows. 17 bytes a pair keep ten million pairs in about half a gigabyte.
type Pairs struct{ m map[Pair]uint8 }

// Which sources stored a pair's rows.
const (
	fromBackfill uint8 = 1 << iota
	fromOther          // webhook, replay, or a row from before the source column
)

// NewPairs returns an empty set.
func NewPairs() *Pairs { return &Pairs{m: make(map[Pair]uint8)} }

// Has reports whether p is in the set.
func (s *Pairs) Has(p Pair) bool { _, ok := s.m[p]; return ok }

// Add puts p in the set.
func (s *Pairs) Add(p Pair) { s.m[p] |= 0 }

// AddFrom puts p in the set as stored by source ("" for NULL).
func (s *Pairs) AddFrom(p Pair, source string) {
	if source == warehouse.SourceBackfill {
		s.m[p] |= fromBackfill
	} else {
		s.m[p] |= fromOther
	}
}

// OnlyBackfilled reports whether every row of p came from a backfill: the
// pairs whose actions a backfill run may have left undone. A webhook's or a
// replay's row went through the processor, which acts by its policy.
func (s *Pairs) OnlyBackfilled(p Pair) bool { return s.m[p] == fromBackfill }

// Len is the number of pairs.
func (s *Pairs) Len() int { return len(s.m) }

// Index tells which pairs the warehouse already holds.
type Index interface {
	// Pairs returns every (delivery_id, metric) of a row whose event_time
	// is at or after since, whatever its source.
	Pairs(ctx context.Context, since time.Time) (*Pairs, error)
}

// FileIndex reads the events.ndjson that `cioevents dev` and a local
// backfill write in Dir.
type FileIndex struct{ Dir string }

// Pairs implements Index. A missing file is an empty warehouse.
func (x FileIndex) Pairs(ctx context.Context, since time.Time) (*Pairs, error) {
	out := NewPairs()
	f, err := os.Open(filepath.Join(x.Dir, warehouse.EventsFile))
	if errors.Is(err, os.ErrNotExist) {
		return out, nil
	}
	if err != nil {
		return nil, fmt.Errorf("backfill: %w", err)
	}
	defer f.Close()
	br := bufio.NewReaderSize(f, 1<<20)
	for n := 1; ; n++ {
		line, err := br.ReadBytes('\n')
		if errors.Is(err, io.EOF) {
			// A partial last line is a row cut by a crash; the writer drops it too.
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("backfill: read %s: %w", warehouse.EventsFile, err)
		}
		if n%100_000 == 0 && ctx.Err() != nil {
			return nil, ctx.Err()
		}
		var r struct {
			DeliveryID *string   `json:"delivery_id"`
			Metric     string    `json:"metric"`
			EventTime  time.Time `json:"event_time"`
			Source     *string   `json:"source"`
		}
		if err := json.Unmarshal(line, &r); err != nil {
			// Not the line: it holds personal data.
			return nil, fmt.Errorf("backfill: %s line %d: %w", warehouse.EventsFile, n, err)
		}
		if r.DeliveryID != nil && *r.DeliveryID != "" && !r.EventTime.Before(since) {
			src := ""
			if r.Source != nil {
				src = *r.Source
			}
			out.AddFrom(PairOf(*r.DeliveryID, r.Metric), src)
		}
	}
}

// BigQueryIndex queries the events table. The event_time bound is also the
// partition filter the table requires, and keeps the scan to the days the
// backfill covers.
type BigQueryIndex struct {
	Client *bigquery.Client
	// Table is "project.dataset.table".
	Table string
}

// Pairs implements Index.
func (x BigQueryIndex) Pairs(ctx context.Context, since time.Time) (*Pairs, error) {
	q := x.Client.Query("SELECT DISTINCT delivery_id, metric, source FROM `" + x.Table + "`" +
		" WHERE event_time >= @since AND delivery_id IS NOT NULL")
	q.Parameters = []bigquery.QueryParameter{{Name: "since", Value: since.UTC()}}
	it, err := q.Read(ctx)
	if err != nil {
		return nil, fmt.Errorf("backfill: query %s: %w", x.Table, err)
	}
	out := NewPairs()
	for {
		var r struct {
			DeliveryID string              `bigquery:"delivery_id"`
			Metric     string              `bigquery:"metric"`
			Source     bigquery.NullString `bigquery:"source"`
		}
		err := it.Next(&r)
		if errors.Is(err, iterator.Done) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("backfill: read %s: %w", x.Table, err)
		}
		out.AddFrom(PairOf(r.DeliveryID, r.Metric), r.Source.StringVal)
	}
}
