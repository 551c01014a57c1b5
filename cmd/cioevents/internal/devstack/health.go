package devstack

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/cioevents/cioevents/shared/actions"
	"github.com/cioevents/cioevents/shared/pipeline"
)

// Health counts what the pipeline's log lines report — the very lines the
// production log-based metrics count (docs/logs.md) — so `cioevents dev`
// shows the picture the dashboard would, without Google Cloud.
type Health struct {
	mu   sync.Mutex
	sum  Summary
	lags []int64 // lag_received_ms of the last lagWindow inserted events
	next int
}

const lagWindow = 1024

// Summary is a snapshot of Health.
type Summary struct {
	Accepted     int // receiver answered 200
	Unauthorized int // 401: signature failures
	Unavailable  int // 503: not stored, Customer.io retries
	Processed    int // rows inserted (outcome inserted*)
	Duplicates   int
	Rejected     int // quarantined in rejected_events
	Forgotten    int // dropped: the person was forgotten (a tombstone)
	Retries      int // deliveries that failed and were retried (busy included)
	ActionsOK    int // Track calls applied or written to the dry run
	ActionsFail  int // permanent Track failures
	LagP50       time.Duration
	LagMax       time.Duration
}

// String is the one-line summary.
func (s Summary) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "health: accepted %d, refused %d (401), unavailable %d (503) | processed %d, duplicate %d, rejected %d, retried %d | actions %d ok, %d failed",
		s.Accepted, s.Unauthorized, s.Unavailable, s.Processed, s.Duplicates, s.Rejected, s.Retries, s.ActionsOK, s.ActionsFail)
	if s.Forgotten > 0 {
		fmt.Fprintf(&b, " | forgotten %d (not stored)", s.Forgotten)
	}
	if s.Processed > 0 {
		fmt.Fprintf(&b, " | lag p50 %s, max %s", s.LagP50, s.LagMax)
	}
	return b.String()
}

// Summary returns the counts so far.
func (h *Health) Summary() Summary {
	h.mu.Lock()
	defer h.mu.Unlock()
	s := h.sum
	if len(h.lags) > 0 {
		sorted := slices.Sorted(slices.Values(h.lags))
		s.LagP50 = time.Duration(sorted[len(sorted)/2]) * time.Millisecond
		s.LagMax = time.Duration(sorted[len(sorted)-1]) * time.Millisecond
	}
	return s
}

// Handler wraps next so that every record is counted, whatever next's
// level lets through.
func (h *Health) Handler(next slog.Handler) slog.Handler { return &healthHandler{h: h, next: next} }

type healthHandler struct {
	h    *Health
	next slog.Handler
}

func (hh *healthHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= slog.LevelInfo || hh.next.Enabled(ctx, l)
}

func (hh *healthHandler) Handle(ctx context.Context, r slog.Record) error {
	hh.h.observe(r)
	if hh.next.Enabled(ctx, r.Level) {
		return hh.next.Handle(ctx, r)
	}
	return nil
}

func (hh *healthHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return &healthHandler{h: hh.h, next: hh.next.WithAttrs(as)}
}

func (hh *healthHandler) WithGroup(name string) slog.Handler {
	return &healthHandler{h: hh.h, next: hh.next.WithGroup(name)}
}

func (h *Health) observe(r slog.Record) {
	var (
		status  int64
		outcome string
		lag     int64 = -1
	)
	r.Attrs(func(a slog.Attr) bool {
		switch a.Key {
		case "status":
			if a.Value.Kind() == slog.KindInt64 {
				status = a.Value.Int64()
			}
		case "outcome":
			outcome = a.Value.String()
		case "lag_received_ms":
			if a.Value.Kind() == slog.KindInt64 {
				lag = a.Value.Int64()
			}
		}
		return true
	})
	h.mu.Lock()
	defer h.mu.Unlock()
	s := &h.sum
	switch r.Message {
	case "webhook":
		switch {
		case status == 200:
			s.Accepted++
		case status == 401:
			s.Unauthorized++
		case status == 503:
			s.Unavailable++
		}
	case "event":
		switch {
		case strings.HasPrefix(outcome, pipeline.OutcomeInserted):
			s.Processed++
			if lag >= 0 {
				if len(h.lags) < lagWindow {
					h.lags = append(h.lags, lag)
				} else {
					h.lags[h.next] = lag
					h.next = (h.next + 1) % lagWindow
				}
			}
		case outcome == pipeline.OutcomeDuplicate:
			s.Duplicates++
		case outcome == pipeline.OutcomeRejected:
			s.Rejected++
		case outcome == pipeline.OutcomeForgotten:
			s.Forgotten++
		case outcome == "retry", outcome == "busy":
			s.Retries++
		}
	case "action":
		switch outcome {
		case actions.ActionApplied, actions.ActionDryRun:
			s.ActionsOK++
		case actions.ActionFailed:
			s.ActionsFail++
		}
	}
}
