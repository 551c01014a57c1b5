package appapi

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http/httptrace"
	"net/url"
	"os"
	"strings"
	"time"
)

// How long a call waits for an answer. Without a budget an unreachable host
// cost eight backed-off attempts, two minutes of silence, before the error.
// Both are below the promise (a line within 5 s, the end within 30 s of the
// command's start) by the time a process takes to start and to set up.
const (
	// DefaultBudget is the longest a call goes without an answer from the
	// host, its retries included, before it fails naming the host.
	DefaultBudget = 25 * time.Second
	// ProgressEvery is how often a call still waiting for an answer says so.
	ProgressEvery = 4 * time.Second
)

// ErrNoAnswer: the host did not answer within the budget (down, a wrong
// --app-api-url or CIO_REGION, or a network or proxy that drops the
// connection).
var ErrNoAnswer = errors.New("no answer")

// Clock starts timers; the real one is the time package's.
type Clock interface {
	// After returns a channel that receives once d has passed, and a
	// function that stops the timer.
	After(d time.Duration) (<-chan time.Time, func())
}

type realClock struct{}

func (realClock) After(d time.Duration) (<-chan time.Time, func()) {
	t := time.NewTimer(d)
	return t.C, func() { t.Stop() }
}

// waiting is what a Client knows about waiting: for how long, where to say
// so and for which host.
type waiting struct {
	budget time.Duration
	out    io.Writer
	prefix string // "cioevents: backfill: "
	host   string
	clock  Clock
}

func newWaiting(cfg Config, base string) (waiting, error) {
	u, err := url.Parse(base)
	if err != nil || u.Host == "" {
		return waiting{}, fmt.Errorf("appapi: base URL %q has no host", base)
	}
	w := waiting{budget: cfg.Budget, out: cfg.Progress, prefix: "cioevents: ", host: u.Host, clock: cfg.Clock}
	if w.budget <= 0 {
		w.budget = DefaultBudget
	}
	if w.out == nil {
		w.out = os.Stderr
	}
	cmd := cfg.Command
	if cmd == "" && len(os.Args) > 1 && !strings.HasPrefix(os.Args[1], "-") {
		// This package serves the cioevents command line alone, whose
		// first word is the command: a caller that does not name it
		// (connect, doctor) still gets "cioevents: connect: waiting…".
		cmd = os.Args[1]
	}
	if cmd != "" {
		w.prefix += cmd + ": "
	}
	if w.clock == nil {
		w.clock = realClock{}
	}
	return w, nil
}

// watch is one call's wait. Its clock runs from the start of an attempt
// until the host answers, across failed attempts and the sleeps between
// them; an answer stops it until the next attempt.
type watch struct {
	waiting
	what   string
	ctx    context.Context // cancelled, with a *noAnswer cause, when the budget is spent
	cancel context.CancelCauseFunc
	events chan bool // true: an attempt begins; false: the host answered
	exited chan struct{}
}

func (w waiting) start(ctx context.Context, what string) *watch {
	ctx, cancel := context.WithCancelCause(ctx)
	cw := &watch{waiting: w, what: what, ctx: ctx, cancel: cancel, events: make(chan bool), exited: make(chan struct{})}
	go cw.run()
	return cw
}

func (w *watch) run() {
	defer close(w.exited)
	var tick, spent <-chan time.Time
	stopTick, stopSpent := func() {}, func() {}
	defer func() { stopTick(); stopSpent() }()
	var waited time.Duration
	for {
		select {
		case <-w.ctx.Done():
			return
		case begin := <-w.events:
			switch {
			case begin && spent == nil:
				waited = 0
				tick, stopTick = w.clock.After(ProgressEvery)
				spent, stopSpent = w.clock.After(w.budget)
			case !begin && spent != nil:
				stopTick()
				stopSpent()
				tick, spent = nil, nil
			}
		case <-tick:
			waited += ProgressEvery
			fmt.Fprintf(w.out, "%swaiting for %s (%d s)…\n", w.prefix, w.host, int(waited/time.Second))
			tick, stopTick = w.clock.After(ProgressEvery)
		case <-spent:
			w.cancel(errSpent)
			return
		}
	}
}

// errSpent is the cause of a watch's context when the budget ran out.
var errSpent = errors.New("budget spent")

func (w *watch) send(begin bool) {
	select {
	case w.events <- begin:
	case <-w.exited:
	}
}

// begin starts the clock, unless it already runs.
func (w *watch) begin() { w.send(true) }

// answered stops the clock: the host is there.
func (w *watch) answered() { w.send(false) }

// attemptCtx is the context of one attempt: the first response byte
// counts as an answer, whatever its status.
func (w *watch) attemptCtx() context.Context {
	return httptrace.WithClientTrace(w.ctx, &httptrace.ClientTrace{GotFirstResponseByte: w.answered})
}

// stop ends the watch; no progress line follows it.
func (w *watch) stop() {
	w.cancel(nil)
	<-w.exited
}

// err is what the call returns for err, the error that ended it: the
// budget's error when the budget ended it, naming the host and the last
// failure.
func (w *watch) err(err, last error) error {
	if !errors.Is(context.Cause(w.ctx), errSpent) {
		return err
	}
	why := "no response"
	var ue *url.Error
	switch {
	case errors.As(last, &ue):
		why = ue.Err.Error() // the URL is the host's, named already
	case last != nil:
		why = last.Error()
	}
	return fmt.Errorf("appapi: %w from %s in %d s (%s: %s): is the host right and reachable?",
		ErrNoAnswer, w.host, int(w.budget/time.Second), w.what, why)
}
