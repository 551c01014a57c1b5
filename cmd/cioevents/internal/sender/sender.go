// Package sender is the logic of `cioevents send`: it posts webhook bodies to
// a receiver signed exactly as Customer.io signs them, optionally as a load
// generator with concurrency and duplicate deliveries, and reports status
// counts and latency percentiles.
package sender

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"path"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/cioevents/cioevents/shared/event"
	"github.com/cioevents/cioevents/shared/signature"
)

// ErrOptions wraps every error about the options themselves, so a CLI can
// tell a usage mistake from a failed run.
var ErrOptions = errors.New("sender: invalid options")

// Fixture folders under Options.Fixtures (the repository's testdata tree).
const (
	DirEvents    = "events"
	DirOdd       = "odd"
	DirMalformed = "malformed"
	// DirFunnel holds deliveries that form funnels: each *.ndjson file
	// there holds one body per line (sent, delivered, opened, clicked over
	// days, a few bounces and complaints), in the order they happened.
	DirFunnel = "funnel"
)

// dupWindow bounds how far back a duplicate may reach, so a long run does not
// keep every body it sent; Customer.io's retries also follow their original
// closely.
const dupWindow = 1024

// Options configures Run.
type Options struct {
	URL string
	Key []byte // the webhook signing key, used as raw bytes

	// Body selection; the union of all three is sent. With none set, every
	// body under events/ is sent (each object_type × metric once).
	Events []string // "email.bounced": Fixtures' events/email.bounced.json
	All    bool     // every file under events/, odd/ and malformed/, and every line under funnel/
	Files  []string // raw files on disk, sent byte for byte

	// N is the number of requests in total; 0 sends each selected body once.
	// A larger N cycles through the bodies, giving every pass after the first
	// fresh event_ids so that only deliberate duplicates look like duplicates.
	N           int
	Concurrency int // workers; 0 means 1
	// DupRate is the fraction of requests, in [0, 1], that re-send a body
	// already sent (a duplicate delivery, re-signed with a fresh timestamp).
	DupRate float64

	Fixtures fs.FS        // needed for Events and All (and the default)
	Client   *http.Client // nil: a client sized for Concurrency
	// Now stamps X-CIO-Timestamp; nil means time.Now. Latencies and the run's
	// duration always use the real monotonic clock.
	Now func() time.Time
}

// body is one selected request body. When it has a readable, literally
// spelled event_id, idStart:idEnd locate the ID's characters so a later pass
// can swap in a fresh one without re-encoding the rest; deliveryEnd (-1:
// none) is where its delivery_id ends, which a later pass makes another
// delivery too, since the pipeline counts an occurrence by delivery and
// metric, not by event_id.
type body struct {
	name           string
	raw            []byte
	idStart, idEnd int
	// hasID: the body has an event_id, so sending it again unchanged is a
	// duplicate to the pipeline.
	hasID       bool
	deliveryEnd int
}

type job struct {
	raw []byte
	dup bool
}

type result struct {
	status  int
	err     error
	latency time.Duration
	dup     bool
}

// Run sends the selected bodies and reports what came back. A request that
// gets an answer of any status is counted, not treated as a failure of Run;
// Run returns an error only for bad options, unreadable bodies, or a ctx that
// ended first (then with the partial Report).
func Run(ctx context.Context, o Options) (*Report, error) {
	if err := validate(o); err != nil {
		return nil, err
	}
	bodies, err := load(o)
	if err != nil {
		return nil, err
	}
	n := o.N
	if n == 0 {
		n = len(bodies)
	}
	workers := max(o.Concurrency, 1)
	client := o.Client
	if client == nil {
		client = defaultClient(workers)
	}
	now := o.Now
	if now == nil {
		now = time.Now
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	jobs := make(chan job)
	results := make(chan result)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for j := range jobs {
				results <- send(ctx, client, o.URL, o.Key, now, j)
			}
		})
	}
	go func() {
		defer close(jobs)
		plan(ctx, bodies, n, o.DupRate, jobs)
	}()
	go func() {
		wg.Wait()
		close(results)
	}()

	rep := &Report{Status: map[int]int{}, Errors: map[string]int{}}
	start := time.Now()
	latencies := make([]time.Duration, 0, n)
	for r := range results {
		rep.Requests++
		if r.dup {
			rep.Duplicates++
		}
		if r.err != nil {
			rep.Errors[errorKey(r.err)]++
			continue
		}
		rep.Status[r.status]++
		latencies = append(latencies, r.latency)
	}
	rep.Duration = time.Since(start)
	rep.setPercentiles(latencies)
	if err := ctx.Err(); err != nil && rep.Requests < n {
		return rep, fmt.Errorf("sender: stopped after %d of %d requests: %w", rep.Requests, n, context.Cause(ctx))
	}
	return rep, nil
}

func validate(o Options) error {
	u, err := url.Parse(o.URL)
	switch {
	case o.URL == "":
		return fmt.Errorf("%w: no URL", ErrOptions)
	case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
		return fmt.Errorf("%w: URL %q is not an absolute http(s) URL", ErrOptions, o.URL)
	case len(o.Key) == 0:
		return fmt.Errorf("%w: no signing key", ErrOptions)
	case o.N < 0:
		return fmt.Errorf("%w: negative request count %d", ErrOptions, o.N)
	case o.Concurrency < 0:
		return fmt.Errorf("%w: negative concurrency %d", ErrOptions, o.Concurrency)
	case !(o.DupRate >= 0 && o.DupRate <= 1): // also catches NaN
		return fmt.Errorf("%w: duplicate rate %v is not within [0, 1]", ErrOptions, o.DupRate)
	case o.Fixtures == nil && (o.All || len(o.Events) > 0 || len(o.Files) == 0):
		return fmt.Errorf("%w: no fixture tree to read sample events from", ErrOptions)
	}
	return nil
}

// load reads the selected bodies in a stable order: events, all, files.
func load(o Options) ([]body, error) {
	var out []body
	add := func(name string, raw []byte) { out = append(out, newBody(name, raw)) }
	for _, pair := range o.Events {
		name := path.Join(DirEvents, pair+".json")
		raw, err := fs.ReadFile(o.Fixtures, name)
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("%w: no sample body for %q (want an object_type.metric pair such as email.bounced): %w", ErrOptions, pair, err)
		}
		if err != nil {
			return nil, fmt.Errorf("sender: read %s: %w", name, err)
		}
		add(name, raw)
	}
	dirs := []string{DirEvents, DirOdd, DirMalformed, DirFunnel}
	if !o.All {
		dirs = nil
		if len(o.Events) == 0 && len(o.Files) == 0 {
			dirs = []string{DirEvents}
		}
	}
	for _, dir := range dirs {
		entries, err := fs.ReadDir(o.Fixtures, dir)
		if err != nil {
			return nil, fmt.Errorf("sender: read fixture folder %s: %w", dir, err)
		}
		for _, e := range entries {
			if !e.Type().IsRegular() {
				continue
			}
			name := path.Join(dir, e.Name())
			raw, err := fs.ReadFile(o.Fixtures, name)
			if err != nil {
				return nil, fmt.Errorf("sender: read %s: %w", name, err)
			}
			if dir == DirFunnel {
				if path.Ext(name) != ".ndjson" {
					continue // its README
				}
				for i, line := range bytes.Split(raw, []byte("\n")) {
					if len(bytes.TrimSpace(line)) > 0 {
						add(name+":"+strconv.Itoa(i+1), line)
					}
				}
				continue
			}
			add(name, raw)
		}
	}
	for _, f := range o.Files {
		raw, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("sender: read body file: %w", err)
		}
		add(f, raw)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: no bodies selected", ErrOptions)
	}
	return out, nil
}

func newBody(name string, raw []byte) body {
	b := body{name: name, raw: raw, idStart: -1, idEnd: -1, deliveryEnd: -1}
	ev, err := event.Parse(raw)
	if err != nil {
		return b
	}
	b.hasID = ev.EventID != ""
	quoted, err := json.Marshal(ev.EventID)
	if err != nil {
		return b
	}
	// Only the literal compact spelling is rewritten; anything else is sent
	// unchanged on later passes (then a repeat is a duplicate to the receiver).
	needle := append([]byte(`"event_id":`), quoted...)
	if i := bytes.Index(raw, needle); i >= 0 {
		b.idStart = i + len(needle) - len(quoted) + 1
		b.idEnd = i + len(needle) - 1
	}
	if d := ev.Data.DeliveryID; d.Valid && d.Value != "" {
		q, err := json.Marshal(d.Value)
		if err == nil {
			needle := append([]byte(`"delivery_id":`), q...)
			if i := bytes.Index(raw, needle); i >= 0 {
				b.deliveryEnd = i + len(needle) - 1
			}
		}
	}
	return b
}

// pass returns the body as sent on the given pass through the selection:
// pass 0 is the body itself, later passes carry event_id "<id>-<pass>" and
// delivery_id "<delivery>-<pass>".
func (b body) pass(n int) []byte {
	if n == 0 || b.idStart < 0 {
		return b.raw
	}
	suffix := "-" + strconv.Itoa(n)
	at := []int{b.idEnd}
	if b.deliveryEnd >= 0 {
		at = append(at, b.deliveryEnd)
		slices.Sort(at)
	}
	out := make([]byte, 0, len(b.raw)+len(at)*len(suffix))
	prev := 0
	for _, i := range at {
		out = append(out, b.raw[prev:i]...)
		out = append(out, suffix...)
		prev = i
	}
	return append(out, b.raw[prev:]...)
}

// plan emits n jobs. Duplicates are spread evenly, floor(n·rate) of them at
// most (none can precede the first fresh body), and pick pseudo-randomly from
// recent fresh bodies with a fixed seed, so a run is repeatable.
func plan(ctx context.Context, bodies []body, n int, rate float64, jobs chan<- job) {
	rng := rand.New(rand.NewPCG(0x5eed, uint64(n)))
	recent := make([][]byte, 0, min(n, dupWindow))
	fresh := 0
	for i := range n {
		if ctx.Err() != nil {
			return
		}
		var j job
		if isDup := int(float64(i+1)*rate) > int(float64(i)*rate); isDup && len(recent) > 0 {
			j = job{raw: recent[rng.IntN(len(recent))], dup: true}
		} else {
			b, n := bodies[fresh%len(bodies)], fresh/len(bodies)
			// A later pass of a body whose event_id could not be rewritten
			// repeats it: a duplicate, counted as the pipeline counts it.
			j = job{raw: b.pass(n), dup: n > 0 && b.hasID && b.idStart < 0}
			fresh++
			if len(recent) < dupWindow {
				recent = append(recent, j.raw)
			} else {
				recent[fresh%dupWindow] = j.raw
			}
		}
		select {
		case jobs <- j:
		case <-ctx.Done():
			return
		}
	}
}

func send(ctx context.Context, client *http.Client, target string, key []byte, now func() time.Time, j job) result {
	req, err := signature.NewRequest(ctx, target, key, now(), j.raw)
	if err != nil {
		return result{err: err, dup: j.dup}
	}
	req.Header.Set("User-Agent", "cioevents-send")
	start := time.Now()
	resp, err := client.Do(req)
	if err != nil {
		return result{err: err, dup: j.dup}
	}
	// Drain so the connection is reused and the latency covers the answer.
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	lat := time.Since(start)
	if err != nil {
		return result{err: fmt.Errorf("read response: %w", err), dup: j.dup}
	}
	return result{status: resp.StatusCode, latency: lat, dup: j.dup}
}

func defaultClient(workers int) *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	// The default keeps 2 idle connections per host; more workers than that
	// would open and close a connection per request and measure the churn.
	t.MaxIdleConnsPerHost = workers
	return &http.Client{Transport: t, Timeout: 30 * time.Second}
}

// errorKey groups transport errors for the report: the URL wrapper is dropped
// (it repeats the target on every line) and the rest is kept as is.
func errorKey(err error) string {
	if errors.Is(err, context.Canceled) {
		return "canceled"
	}
	if ue, ok := errors.AsType[*url.Error](err); ok {
		err = ue.Err
	}
	return err.Error()
}

// sortedKeys returns m's keys in order, for stable printing.
func sortedKeys[K interface{ ~int | ~string }, V any](m map[K]V) []K {
	keys := make([]K, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
