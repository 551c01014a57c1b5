// Package webhook is the receiver's logic: authenticate a Customer.io
// reporting-webhook request and hand its raw body to Pub/Sub before saying
// yes.
//
// The status codes follow from how Customer.io delivers: one event per POST,
// a 4 s timeout, and any non-2xx holds back every later event — for a full
// hour after 400, 401, 404, 410, 429, 500 or 502. So an authentic request is
// answered 200 whenever its bytes are safe in Pub/Sub (odd bodies included:
// the processor quarantines them), 503 when they are not or when the
// instance already holds its budget of request bodies (retried, nothing
// lost), and 401 only when the request cannot be shown to be authentic.
package webhook

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"golang.org/x/sync/semaphore"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/cioevents/cioevents/shared/event"
	"github.com/cioevents/cioevents/shared/logging"
	"github.com/cioevents/cioevents/shared/publish"
	"github.com/cioevents/cioevents/shared/signature"
)

// Message attributes set on every published message.
const (
	AttrEventID    = "event_id"
	AttrObjectType = "object_type"
	AttrMetric     = "metric"
	AttrSignedAt   = "cio_timestamp" // X-CIO-Timestamp, unix seconds as sent
	AttrKeyIndex   = "key_index"     // which configured signing key matched
	AttrWorkspace  = "workspace"     // the matched key's workspace (shared/workspace)
	AttrReceivedAt = "received_at"   // RFC 3339 with nanoseconds
	AttrInvalid    = "invalid"       // why the processor must quarantine it
	AttrOversized  = "oversized"     // "true": data is a stub, not the body
	AttrUnknown    = "unknown_pair"  // "true": an object_type/metric not in the contract
	// AttrSource is set by the other sources of events (backfill, replay);
	// the receiver never sets it: absent means webhook.
	AttrSource = "source"
)

// Invalid reasons carried in AttrInvalid.
const (
	InvalidJSON      = "invalid_json" // not JSON at all: garbage, truncated, empty
	InvalidNotObject = "not_object"   // JSON, but not an object
	InvalidNoEventID = "no_event_id"
)

// StubPrefixBytes is how much of an oversized body its stub keeps.
const StubPrefixBytes = 64 << 10

// hardCap bounds how much of a body is read to check its signature. Cloud Run
// refuses requests above 32 MiB, so nothing authentic is larger.
const hardCap = 64 << 20

// DefaultBodyBudget is the default for Options.BodyBudget.
const DefaultBodyBudget = 64 << 20

// DefaultBudgetWait is the default for Options.BudgetWait: short, because
// Customer.io gives up after 4 s and the publish may need 3.5 of them.
const DefaultBudgetWait = 250 * time.Millisecond

// RetryAfter is the Retry-After sent with a 503 for a full budget.
const RetryAfter = "1"

// Options configure a Handler.
type Options struct {
	Verifier *signature.Verifier
	// Workspaces names the workspace of each of the Verifier's keys, by
	// index; the matched key's is published as AttrWorkspace. Nil publishes
	// none, which the processor reads as the default workspace.
	Workspaces     []string
	Publisher      publish.Publisher
	MaxBodyBytes   int64
	PublishTimeout time.Duration
	// BodyBudget bounds the request-body bytes the handler holds at once,
	// across all concurrent requests, from before the signature is known
	// until the answer. A request reserves what it will buffer — its
	// Content-Length, or only the stub prefix for a body over MaxBodyBytes,
	// which streams through the HMAC — and one that cannot get it within
	// BudgetWait is answered 503. Zero means DefaultBodyBudget; it must
	// exceed MaxBodyBytes.
	BodyBudget int64
	BudgetWait time.Duration
	Logger     *slog.Logger
	Project    string // for trace links in logs
	Now        func() time.Time
}

// Handler serves ReceiveWebhook.
type Handler struct {
	o      Options
	budget *semaphore.Weighted
}

// ErrNoKeys is returned by New when no signing key is configured: an
// unverifiable receiver must not serve.
var ErrNoKeys = errors.New("webhook: no signing key configured; refusing to serve")

// New checks the options and returns a Handler.
func New(o Options) (*Handler, error) {
	if o.Verifier == nil || len(o.Verifier.Keys) == 0 {
		return nil, ErrNoKeys
	}
	if o.Workspaces != nil && len(o.Workspaces) != len(o.Verifier.Keys) {
		return nil, fmt.Errorf("webhook: %d workspaces for %d keys", len(o.Workspaces), len(o.Verifier.Keys))
	}
	if o.Publisher == nil {
		return nil, errors.New("webhook: no publisher")
	}
	if o.MaxBodyBytes <= 0 {
		return nil, errors.New("webhook: MaxBodyBytes must be positive")
	}
	if o.PublishTimeout <= 0 {
		o.PublishTimeout = 3 * time.Second
	}
	if o.BodyBudget <= 0 {
		o.BodyBudget = DefaultBodyBudget
	}
	if o.BodyBudget <= o.MaxBodyBytes {
		return nil, fmt.Errorf("webhook: BodyBudget (%d) must exceed MaxBodyBytes (%d), or no body at the limit could be read",
			o.BodyBudget, o.MaxBodyBytes)
	}
	if o.BudgetWait <= 0 {
		o.BudgetWait = DefaultBudgetWait
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Handler{o: o, budget: semaphore.NewWeighted(o.BodyBudget)}, nil
}

// outcome is what one request came to, for the answer and the log line.
type outcome struct {
	status   int
	reason   string // one line for the client; never a key or body
	category string // for logs and metrics
	eventID  string
	attrs    map[string]string
	size     int64
	keyIndex int
	skew     time.Duration
	altered  []string // attributes SafeAttributes had to shorten
	cause    string   // why a publish failed, redacted
}

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := h.o.Now()
	o := h.handle(r, start)
	h.log(r, o, start)
	w.Header().Set("Content-Type", "application/json")
	if o.status == http.StatusMethodNotAllowed {
		w.Header().Set("Allow", http.MethodPost)
	}
	if o.category == categoryBusy {
		w.Header().Set("Retry-After", RetryAfter)
	}
	w.WriteHeader(o.status)
	if o.status == http.StatusOK && plainJSON(o.eventID) {
		// What encoding/json writes for such an ID, without its encoder.
		var buf [128]byte
		out := append(buf[:0], `{"status":"accepted","event_id":"`...)
		out = append(out, o.eventID...)
		w.Write(append(out, "\"}\n"...))
		return
	}
	var body any
	if o.status == http.StatusOK {
		body = struct {
			Status  string `json:"status"`
			EventID string `json:"event_id"`
		}{"accepted", o.eventID}
	} else {
		body = map[string]string{"error": o.reason}
	}
	_ = json.NewEncoder(w).Encode(body)
}

// plainJSON reports whether s is short and needs no escaping in a JSON
// string as encoding/json writes it (which escapes <, > and &).
func plainJSON(s string) bool {
	if len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= utf8.RuneSelf || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			return false
		}
	}
	return true
}

// Canonical forms of the signature headers: http.Header.Get would
// otherwise canonicalise (and allocate) the key on every request.
var (
	headerTimestamp = http.CanonicalHeaderKey(signature.HeaderTimestamp)
	headerSignature = http.CanonicalHeaderKey(signature.HeaderSignature)
)

func (h *Handler) handle(r *http.Request, start time.Time) outcome {
	if r.Method != http.MethodPost {
		return outcome{status: http.StatusMethodNotAllowed, reason: "only POST is accepted", category: "method"}
	}
	timestamp := r.Header.Get(headerTimestamp)
	digest, err := h.o.Verifier.Start(timestamp, r.Header.Get(headerSignature))
	if err != nil {
		return unauthorized(err)
	}
	b, err := h.read(r, digest)
	defer h.budget.Release(b.reserved)
	switch {
	case errors.Is(err, errHardCap):
		return outcome{status: http.StatusUnauthorized, reason: "body too large to verify", category: "too_large_to_verify", size: b.size}
	case errors.Is(err, errBusy):
		// Not 429 (Customer.io waits an hour after one) and not a reset
		// connection (the same): 503 is retried on the normal backoff, and
		// nothing was accepted, so nothing is lost.
		return outcome{status: http.StatusServiceUnavailable, reason: "receiver busy; retry", category: categoryBusy, size: b.size}
	case err != nil:
		// The client likely went away; whatever it is, it is not a reason to
		// stall an authentic stream for an hour.
		return outcome{status: http.StatusServiceUnavailable, reason: "could not read the request body", category: "read_error", size: b.size}
	}
	verified, err := digest.Finish()
	if err != nil {
		return unauthorized(err)
	}
	o := outcome{keyIndex: verified.KeyIndex, skew: start.Sub(verified.Timestamp), size: b.size}
	attrs := map[string]string{
		AttrSignedAt:   timestamp,
		AttrKeyIndex:   strconv.Itoa(verified.KeyIndex),
		AttrReceivedAt: start.UTC().Format(time.RFC3339Nano),
	}
	if verified.KeyIndex < len(h.o.Workspaces) {
		attrs[AttrWorkspace] = h.o.Workspaces[verified.KeyIndex]
	}
	data := b.data
	if b.oversized {
		attrs[AttrOversized] = "true"
		id := scanEventID(b.data)
		if id != "" {
			attrs[AttrEventID] = id
		}
		data = stub(r, b.data, b.size, b.sum, id)
	} else {
		ev, err := event.ReadEnvelope(b.data)
		switch {
		case errors.Is(err, event.ErrInvalidJSON):
			attrs[AttrInvalid] = InvalidJSON
		case errors.Is(err, event.ErrNotObject):
			attrs[AttrInvalid] = InvalidNotObject
		case errors.Is(err, event.ErrNoEventID):
			attrs[AttrInvalid] = InvalidNoEventID
		}
		if ev.EventID != "" {
			attrs[AttrEventID] = ev.EventID
		}
		if ev.ObjectType != "" {
			attrs[AttrObjectType] = ev.ObjectType
		}
		if ev.Metric != "" {
			attrs[AttrMetric] = ev.Metric
		}
		if err == nil && !ev.Known() {
			attrs[AttrUnknown] = "true"
		}
	}
	// Values from the body can be any length and any bytes; production
	// Pub/Sub refuses the whole message for one bad attribute. The body
	// itself is published untouched, and the processor reads it.
	attrs, o.altered = publish.SafeAttributes(attrs)
	o.eventID = attrs[AttrEventID]
	o.attrs = attrs

	ctx, cancel := context.WithTimeout(r.Context(), h.o.PublishTimeout)
	defer cancel()
	if _, err := h.o.Publisher.Publish(ctx, data, attrs); err != nil {
		o.status, o.reason, o.category = http.StatusServiceUnavailable, "event not stored yet; retry", "publish_failed"
		if errors.Is(err, context.DeadlineExceeded) {
			o.category = "publish_timeout"
		}
		o.cause = publishCause(err, attrs)
		return o
	}
	o.status, o.category = http.StatusOK, "accepted"
	switch {
	case attrs[AttrOversized] != "":
		o.category = "accepted_oversized"
	case attrs[AttrInvalid] != "":
		o.category = "accepted_invalid"
	case attrs[AttrUnknown] != "":
		o.category = "accepted_unknown"
	}
	return o
}

func unauthorized(err error) outcome {
	return outcome{status: http.StatusUnauthorized, reason: "signature verification failed: " + signature.Category(err),
		category: signature.Category(err)}
}

const categoryBusy = "busy"

var (
	errHardCap = errors.New("webhook: body exceeds the verification cap")
	errBusy    = errors.New("webhook: body budget exhausted")
)

// body is what read kept of a request body.
type body struct {
	data      []byte // the whole body, or its first StubPrefixBytes when oversized
	size      int64  // every byte received
	sum       []byte // sha256 of every byte, when oversized
	oversized bool   // data is not the whole body
	reserved  int64  // budget held for data; released when the request ends
}

// minGrow is the first buffer for a body of unknown length.
const minGrow = 64 << 10

// read streams the body through digest and a sha256, keeping at most
// MaxBodyBytes of it (the stub prefix when the body is larger). Buffers are
// sized from Content-Length, never grown past what is kept, and every byte
// kept is first reserved from the handler's budget, so no number of
// unauthenticated requests can hold more than BodyBudget.
func (h *Handler) read(r *http.Request, digest io.Writer) (b body, err error) {
	limit := h.o.MaxBodyBytes
	keep := limit + 1 // one past the limit tells an oversized body of unknown length
	size := r.ContentLength
	switch {
	case size > hardCap:
		return body{size: size}, errHardCap
	case size > limit:
		// Declared oversized: only the stub's prefix is worth holding.
		keep = min(StubPrefixBytes, keep)
		size = keep
	case size < 0:
		size = min(minGrow, keep)
	}
	// The budget is usually free: only a request that must wait pays for
	// the timer and context of the wait.
	var ctx context.Context
	cancel := context.CancelFunc(func() {})
	defer func() { cancel() }()
	reserve := func(n int64) error {
		if !h.budget.TryAcquire(n) {
			if ctx == nil {
				ctx, cancel = context.WithTimeout(r.Context(), h.o.BudgetWait)
			}
			if err := h.budget.Acquire(ctx, n); err != nil {
				return errBusy
			}
		}
		b.reserved += n
		return nil
	}
	if err := reserve(size); err != nil {
		return b, err
	}
	// Every byte goes to the digest as it is read. Until the body proves
	// oversized it is all in buf, so its sha256 (wanted only for a stub) is
	// started there and then rather than on every request.
	buf := make([]byte, 0, size)
	for int64(len(buf)) < keep {
		if len(buf) == cap(buf) {
			// Full at the declared length: the body should end here. Probe
			// with one byte rather than growing a buffer for nothing.
			var one [1]byte
			n, err := io.ReadFull(r.Body, one[:])
			digest.Write(one[:n])
			if err == io.EOF {
				b.data, b.size = buf, int64(len(buf))
				return b, nil
			}
			if err != nil {
				return b, err
			}
			grown := min(max(2*int64(cap(buf)), minGrow), keep)
			if err := reserve(grown - int64(cap(buf))); err != nil {
				return b, err
			}
			buf = append(make([]byte, 0, grown), buf...)
			buf = append(buf, one[:n]...)
			continue
		}
		n, err := r.Body.Read(buf[len(buf):cap(buf)])
		digest.Write(buf[len(buf) : len(buf)+n])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			b.data, b.size = buf, int64(len(buf))
			return b, nil
		}
		if err != nil {
			return b, err
		}
	}
	// As much as is kept: the rest only streams through the hashes.
	sha := sha256.New()
	sha.Write(buf)
	tee := io.TeeReader(r.Body, io.MultiWriter(digest, sha))
	rest, err := io.Copy(io.Discard, io.LimitReader(tee, hardCap-int64(len(buf))))
	b.data, b.size = buf, int64(len(buf))+rest
	b.oversized = b.size > limit || rest > 0
	if err != nil {
		return b, err
	}
	if b.size >= hardCap {
		return b, errHardCap
	}
	b.sum = sha.Sum(nil)
	return b, nil
}

// publishCause names why a publish failed without repeating anything from
// the request: the gRPC status code and its message, with every attribute
// value (event_id and friends) cut out, at most 300 bytes.
func publishCause(err error, attrs map[string]string) string {
	st, _ := status.FromError(err) // Unknown and err's text for a non-gRPC error
	code, msg := st.Code(), st.Message()
	if errors.Is(err, context.DeadlineExceeded) {
		code = codes.DeadlineExceeded
	}
	for _, v := range attrs {
		if len(v) >= 4 {
			msg = strings.ReplaceAll(msg, v, "[redacted]")
		}
	}
	if len(msg) > 300 {
		msg = strings.ToValidUTF8(msg[:300], "") + "…"
	}
	return code.String() + ": " + msg
}

var eventIDPattern = regexp.MustCompile(`"event_id"\s*:\s*"([^"\\]{1,256})"`)

func scanEventID(b []byte) string {
	if len(b) > StubPrefixBytes {
		b = b[:StubPrefixBytes]
	}
	if m := eventIDPattern.FindSubmatch(b); m != nil {
		return string(m[1])
	}
	return ""
}

// Stub is what is published instead of a body that does not fit a message.
type Stub struct {
	Oversized bool                `json:"oversized"`
	Size      int64               `json:"size"`
	SHA256    string              `json:"sha256"`
	Headers   map[string][]string `json:"headers"`
	Prefix    string              `json:"prefix"`
	Encoding  string              `json:"prefix_encoding"` // "utf-8" or "base64"
	EventID   string              `json:"event_id,omitempty"`
}

func stub(r *http.Request, body []byte, size int64, sum []byte, eventID string) []byte {
	prefix := body
	if len(prefix) > StubPrefixBytes {
		prefix = prefix[:StubPrefixBytes]
	}
	s := Stub{Oversized: true, Size: size, SHA256: hex.EncodeToString(sum), Headers: map[string][]string{},
		EventID: eventID}
	for _, k := range []string{"Content-Type", "User-Agent", signature.HeaderTimestamp, "Content-Length"} {
		if v := r.Header.Values(k); len(v) > 0 {
			s.Headers[k] = v
		}
	}
	// Cut back to a rune boundary so a UTF-8 body stays readable text.
	for i := 0; i < 3 && len(prefix) > 0 && !utf8.Valid(prefix); i++ {
		prefix = prefix[:len(prefix)-1]
	}
	if utf8.Valid(prefix) {
		s.Prefix, s.Encoding = string(prefix), "utf-8"
	} else {
		s.Prefix, s.Encoding = base64.StdEncoding.EncodeToString(body[:min(len(body), StubPrefixBytes)]), "base64"
	}
	b, err := json.Marshal(s)
	if err != nil {
		panic(fmt.Sprintf("webhook: marshal stub: %v", err)) // only strings and numbers: cannot fail
	}
	return b
}

func (h *Handler) log(r *http.Request, o outcome, start time.Time) {
	level := slog.LevelInfo
	switch {
	case o.status == http.StatusUnauthorized:
		level = slog.LevelWarn
	case o.status >= 500:
		level = slog.LevelError
	}
	// Room for every attribute below, so the line costs one allocation.
	attrs := append(make([]slog.Attr, 0, 12),
		slog.Int("status", o.status),
		slog.String("outcome", o.category),
		slog.Int64("bytes", o.size),
		slog.Float64("latency_ms", float64(h.o.Now().Sub(start).Microseconds())/1000))
	if o.attrs != nil {
		attrs = append(attrs,
			slog.String("event_id", o.eventID),
			slog.String("object_type", o.attrs[AttrObjectType]),
			slog.String("metric", o.attrs[AttrMetric]),
			slog.Int("key_index", o.keyIndex),
			slog.String("workspace", o.attrs[AttrWorkspace]),
			// Skew shows in production whether retries carry fresh timestamps.
			slog.Int64("skew_s", int64(o.skew/time.Second)))
	}
	if len(o.altered) > 0 {
		attrs = append(attrs, slog.String("attrs_altered", strings.Join(o.altered, ",")))
	}
	if o.cause != "" {
		attrs = append(attrs, slog.String("cause", o.cause))
	}
	if t := logging.Trace(h.o.Project, r.Header); t.Key != "" {
		attrs = append(attrs, t)
	}
	h.o.Logger.LogAttrs(r.Context(), level, "webhook", attrs...)
}
