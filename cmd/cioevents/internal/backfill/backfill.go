// Package backfill fills the warehouse from Customer.io's App API: every
// (delivery, metric time) GET /v1/messages lists becomes an event of the
// webhook model, and the pairs the warehouse lacks go through the same
// pipeline as webhooks (ledger, row, rejected path). It is what gives a new
// install its history and closes the gap an outage left, since Customer.io
// cannot redeliver webhooks older than its 7 days of retries.
package backfill

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/cioevents/cioevents/cmd/cioevents/internal/appapi"
	"github.com/cioevents/cioevents/shared/pipeline"
	"github.com/cioevents/cioevents/shared/warehouse"
	"github.com/cioevents/cioevents/shared/webhook"
	"github.com/cioevents/cioevents/shared/workspace"
)

// Lister lists deliveries; *appapi.Client is the real one.
type Lister interface {
	List(ctx context.Context, q appapi.Query) (appapi.Page, error)
}

// Options configure Run.
type Options struct {
	Lister Lister
	// Processor stores the events; unused in a dry run. Events reach it
	// with source backfill, which their rows and log lines carry.
	Processor *pipeline.Processor
	Index     Index
	// Since and Until bound the delivery creation time; Until defaults to now.
	Since, Until time.Time
	// Query carries the filters (Type, Metric, CampaignID, ...); its
	// window, limit and cursor are set by Run.
	Query  appapi.Query
	DryRun bool
	// CatchUpActions also runs the actions of pairs stored already by a
	// backfill alone (a run without --apply-actions, or one that failed
	// before acting): the ledger's record of each pair's actions makes
	// those already made a duplicate, never a second call.
	CatchUpActions bool
	// Workspace is the workspace the App API key belongs to (an App API
	// key reaches one workspace): every event is processed as that
	// workspace's, as if its signing key had verified it. Default:
	// workspace.Default. It never enters an event_id, so a pair has one ID
	// whichever workspace a run names.
	Workspace string
	// Checkpoint is the file that makes a run resumable; "" means none.
	// Spec names the run (its flags): a checkpoint of another spec is refused.
	Checkpoint string
	Spec       string
	// Concurrency is how many events are processed at once (default 16).
	Concurrency int
	// Progress receives a progress line every ProgressEvery (default 5 s).
	Progress      io.Writer
	ProgressEvery time.Duration
	Now           func() time.Time
	// MaxAttempts bounds retries of one event's retryable failures (default 8).
	MaxAttempts int
	sleep       func(context.Context, time.Duration) error
}

// Counts are a run's totals; a checkpoint keeps them across a restart.
type Counts struct {
	Pages      int `json:"pages"`
	Deliveries int `json:"deliveries"`
	// Events is every (delivery, metric) listed; Present of them were in the
	// warehouse already; Added were stored now (Duplicate: the ledger had
	// them; Rejected: quarantined).
	Events    int `json:"events"`
	Present   int `json:"present"`
	Added     int `json:"added"`
	Duplicate int `json:"duplicate"`
	Rejected  int `json:"rejected"`
	// Forgotten events were not stored: the App API marks their delivery
	// forgotten, or `cioevents forget` left a tombstone for the person.
	Forgotten int `json:"forgotten"`
	// Acted counts stored pairs whose actions a catch-up made now.
	Acted int `json:"acted,omitempty"`
}

// Report says what a run did.
type Report struct {
	Counts
	// Resumed is set when the run continued from a checkpoint.
	Resumed bool
	// Recon counts per day, object_type and metric.
	Recon Recon
}

// ErrCheckpointMismatch: the checkpoint file belongs to another run.
var ErrCheckpointMismatch = errors.New("backfill: the checkpoint belongs to a different backfill")

// Run pages through every window and stores the missing events (or, in a
// dry run, only counts them). After each page it saves a checkpoint, so a
// stopped run continues from the page it was on.
func Run(ctx context.Context, o Options) (Report, error) {
	o = withDefaults(o)
	rep := Report{Recon: Recon{}}
	if !workspace.Valid(o.Workspace) {
		return rep, errors.New("backfill: workspace: " + workspace.Rule)
	}
	cp := checkpoint{Spec: o.Spec, Since: o.Since, Until: o.Until}
	if !o.DryRun && o.Checkpoint != "" {
		old, ok, err := loadCheckpoint(o.Checkpoint)
		if err != nil {
			return rep, err
		}
		if ok {
			if old.Spec != o.Spec {
				return rep, fmt.Errorf("%w: %s is for %q, not %q; delete it to start over", ErrCheckpointMismatch,
					o.Checkpoint, old.Spec, o.Spec)
			}
			// The checkpoint's bounds win: a relative --since or a default
			// --until must not move under a resumed run.
			cp, rep.Resumed, rep.Counts = old, true, old.Counts
		}
	}
	// Metric times are never before the delivery's creation; a day of slack
	// costs little and covers clock skew between the two systems.
	have, err := o.Index.Pairs(ctx, cp.Since.Add(-24*time.Hour))
	if err != nil {
		return rep, err
	}
	prog := newProgress(o, cp)
	saved := cp.Cursor
	for _, w := range appapi.Windows(cp.Since, cp.Until) {
		if !cp.Window.IsZero() && w[0].Before(cp.Window) {
			continue // finished before the checkpoint
		}
		cursor := ""
		if w[0].Equal(cp.Window) {
			cursor = cp.Cursor
		}
		for {
			q := o.Query
			q.Start, q.End, q.Cursor, q.Limit = w[0], w[1], cursor, appapi.MaxLimit
			page, err := o.Lister.List(ctx, q)
			if err != nil {
				if saved != "" && cursor == saved && ctx.Err() == nil {
					err = fmt.Errorf("%w (resuming with a saved cursor: if the App API no longer accepts it, delete %s; "+
						"the restarted run re-lists but stores nothing twice)", err, o.Checkpoint)
				}
				return rep, err
			}
			oldest, err := o.page(ctx, page, have, &rep)
			if err != nil {
				return rep, err
			}
			rep.Pages++
			cursor = page.Next
			cp.Window, cp.Cursor = w[0], cursor
			if cursor == "" {
				cp.Window, cp.Cursor = w[1], ""
			}
			if !o.DryRun && o.Checkpoint != "" {
				cp.Counts = rep.Counts
				if err := cp.save(o.Checkpoint); err != nil {
					return rep, err
				}
			}
			prog.page(rep, w, oldest, cursor == "")
			if cursor == "" {
				break
			}
		}
	}
	prog.done(rep)
	if !o.DryRun && o.Checkpoint != "" {
		if err := removeCheckpoint(o.Checkpoint); err != nil {
			return rep, err
		}
	}
	return rep, nil
}

func withDefaults(o Options) Options {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Until.IsZero() {
		o.Until = o.Now().UTC().Truncate(time.Second)
	}
	if o.Concurrency <= 0 {
		o.Concurrency = 16
	}
	if o.ProgressEvery <= 0 {
		o.ProgressEvery = 5 * time.Second
	}
	if o.MaxAttempts <= 0 {
		o.MaxAttempts = 8
	}
	o.Workspace = workspace.OrDefault(o.Workspace)
	if o.sleep == nil {
		o.sleep = sleepCtx
	}
	return o
}

// page handles one page and returns the oldest creation time on it.
func (o Options) page(ctx context.Context, page appapi.Page, have *Pairs, rep *Report) (time.Time, error) {
	var todo, catchUp []Candidate
	var oldest time.Time
	for i := range page.Messages {
		m := &page.Messages[i]
		rep.Deliveries++
		if c := time.Unix(m.Created, 0); oldest.IsZero() || c.Before(oldest) {
			oldest = c
		}
		cands, err := Candidates(m)
		if err != nil {
			return oldest, err
		}
		if m.Forgotten {
			// Customer.io erased the person: nothing of theirs is stored.
			rep.Events += len(cands)
			rep.Forgotten += len(cands)
			continue
		}
		for _, c := range cands {
			rep.Events++
			present := have.Has(c.Pair)
			rep.Recon.count(c, present)
			if present {
				rep.Present++
				if o.CatchUpActions && have.OnlyBackfilled(c.Pair) {
					catchUp = append(catchUp, c)
				}
				continue
			}
			// A delivery listed twice (at a window boundary) counts once.
			have.Add(c.Pair)
			todo = append(todo, c)
		}
	}
	if o.DryRun {
		return oldest, nil
	}
	if err := o.store(ctx, todo, rep, false); err != nil {
		return oldest, err
	}
	return oldest, o.store(ctx, catchUp, rep, true)
}

// store runs the candidates through the pipeline, Concurrency at a time;
// with actionsOnly, only their actions (their rows are stored).
func (o Options) store(ctx context.Context, todo []Candidate, rep *Report, actionsOnly bool) error {
	if len(todo) == 0 {
		return nil
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		mu       sync.Mutex
		firstErr error
		wg       sync.WaitGroup
	)
	next := make(chan Candidate)
	for range min(o.Concurrency, len(todo)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for c := range next {
				outcome, err := o.process(ctx, c, actionsOnly)
				mu.Lock()
				switch {
				case err != nil:
					if firstErr == nil {
						firstErr = err
					}
					cancel()
				case actionsOnly:
					if outcome != pipeline.OutcomeDuplicate {
						rep.Acted++
					}
				case outcome == pipeline.OutcomeDuplicate:
					rep.Duplicate++
				case outcome == pipeline.OutcomeRejected:
					rep.Rejected++
				case outcome == pipeline.OutcomeForgotten:
					rep.Forgotten++
				default:
					rep.Added++
				}
				mu.Unlock()
			}
		}()
	}
feed:
	for _, c := range todo {
		select {
		case next <- c:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	if firstErr == nil {
		firstErr = ctx.Err()
	}
	return firstErr
}

// process stores one event, retrying what a retry can fix, as Pub/Sub
// redelivery would for a webhook.
func (o Options) process(ctx context.Context, c Candidate, actionsOnly bool) (string, error) {
	m := pipeline.Message{Data: c.Body, Attributes: map[string]string{
		webhook.AttrEventID: c.EventID, webhook.AttrObjectType: c.ObjectType, webhook.AttrMetric: c.Metric,
		webhook.AttrReceivedAt: o.Now().UTC().Format(time.RFC3339Nano), webhook.AttrWorkspace: o.Workspace,
		webhook.AttrSource: warehouse.SourceBackfill,
	}}
	run := o.Processor.Process
	if actionsOnly {
		run = o.Processor.ProcessActions
	}
	var err error
	for attempt := 1; attempt <= o.MaxAttempts; attempt++ {
		var res pipeline.Result
		res, err = run(ctx, m)
		if err == nil {
			return res.Outcome, nil
		}
		if ctx.Err() != nil {
			return "", ctx.Err()
		}
		wait := min(time.Duration(1<<min(attempt-1, 5))*time.Second, 30*time.Second)
		if re := (*pipeline.RetryError)(nil); errors.As(err, &re) && re.RetryAfter > 0 {
			wait = re.RetryAfter
		}
		if err := o.sleep(ctx, wait); err != nil {
			return "", err
		}
	}
	return "", fmt.Errorf("backfill: event %s: gave up after %d attempts: %w", c.EventID, o.MaxAttempts, err)
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
