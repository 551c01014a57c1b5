package doctor

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"cloud.google.com/go/bigquery"
	"google.golang.org/api/iterator"

	"github.com/cioevents/cioevents/cmd/cioevents/internal/funnel"
	"github.com/cioevents/cioevents/shared/warehouse"
)

// LocalRows looks for the probe in the events file of a `cioevents dev`
// data dir.
type LocalRows struct{ Dir string }

// Where implements RowFinder.
func (l LocalRows) Where() string { return filepath.Join(l.Dir, warehouse.EventsFile) }

// FindProbe implements RowFinder.
func (l LocalRows) FindProbe(_ context.Context, eventID string, _ time.Time) (bool, string, error) {
	f, err := os.Open(l.Where())
	if errors.Is(err, fs.ErrNotExist) {
		return false, "", nil // no row written yet
	}
	if err != nil {
		return false, "", err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 1<<20), 64<<20)
	needle := `"event_id":"` + eventID + `"`
	for sc.Scan() {
		if !strings.Contains(sc.Text(), needle) {
			continue
		}
		var r struct {
			EventID string  `json:"event_id"`
			Source  *string `json:"source"`
		}
		if err := json.Unmarshal(sc.Bytes(), &r); err == nil && r.EventID == eventID {
			if r.Source == nil {
				return true, "", nil
			}
			return true, *r.Source, nil
		}
	}
	return false, "", sc.Err()
}

// BigQueryRows looks for the probe in the events table, with the partition
// filter the table requires.
type BigQueryRows struct {
	Client                  *bigquery.Client
	Project, Dataset, Table string
}

// Where implements RowFinder.
func (b BigQueryRows) Where() string { return b.Project + "." + b.Dataset + "." + b.Table }

// FindProbe implements RowFinder.
func (b BigQueryRows) FindProbe(ctx context.Context, eventID string, sentAt time.Time) (bool, string, error) {
	q := b.Client.Query("SELECT event_id, source FROM `" + b.Where() + "` WHERE event_time >= @since AND event_id = @id")
	// The probe's event_time is its body timestamp, in whole seconds.
	q.Parameters = []bigquery.QueryParameter{{Name: "since", Value: sentAt.Add(-time.Minute)}, {Name: "id", Value: eventID}}
	it, err := q.Read(ctx)
	if err != nil {
		return false, "", err
	}
	var row []bigquery.Value
	err = it.Next(&row)
	if errors.Is(err, iterator.Done) {
		return false, "", nil
	}
	if err != nil {
		return false, "", err
	}
	src, _ := row[1].(string)
	return true, src, nil
}

// BigQueryDryRun dry-runs queries in BigQuery.
type BigQueryDryRun struct{ Client *bigquery.Client }

// DryRun implements DryRunner.
func (b BigQueryDryRun) DryRun(ctx context.Context, sql string, since time.Time) error {
	q := b.Client.Query(sql)
	q.DryRun = true
	if strings.Contains(sql, "@since") {
		q.Parameters = []bigquery.QueryParameter{{Name: "since", Value: since}}
	}
	_, err := q.Run(ctx)
	return err
}

// Views are the queries the documentation gives for each view: events_deduped
// filtered on event_time, as the table requires; the reporting views as they
// are, since each filters event_time itself (views_lookback_days).
func Views(project, dataset, table string) []ViewQuery {
	ref := func(name string) string { return "`" + project + "." + dataset + "." + name + "`" }
	deduped := table + "_deduped"
	out := []ViewQuery{{Name: deduped, SQL: "SELECT event_id FROM " + ref(deduped) + " WHERE event_time >= @since"}}
	for _, v := range funnel.Views() {
		out = append(out, ViewQuery{Name: v.Name, SQL: "SELECT * FROM " + ref(v.Name)})
	}
	return out
}

// ErrChecksFailed is returned by Command when a check failed.
var ErrChecksFailed = errors.New("doctor: checks failed")

func failedCount(r Report) error {
	if r.OK {
		return nil
	}
	failed, unknown := r.counts()
	if unknown == 0 {
		return fmt.Errorf("%w: %d of %d", ErrChecksFailed, failed, len(r.Checks))
	}
	return fmt.Errorf("%w: %d of %d, and %d unknown", ErrChecksFailed, failed, len(r.Checks), unknown)
}
