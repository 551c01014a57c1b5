// Package webhook is the receiver's logic: authenticate a Customer.io
// reporting-webhook request and hand its raw body to Pub/Sub before saying
// yes.
//
// The status codes follow from how Customer.io delivers: one event per POST,
// a 4 s timeout, and any non-2xx holds back every later event — for a full
// hour after 400, 401, 404, 410, 429, 500 or 502. So an authentic request is
// answered 200 whenever its bytes are safe in Pub/Sub (odd bodies included:
// the processor quarantines them), 503 when they are not (retried, nothing
// lost), and 401 only when the request cannot be shown to be authentic.
package webhook

import (
	"bytes"
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
	"time"
	"unicode/utf8"

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
	AttrReceivedAt = "received_at"   // RFC 3339 with nanoseconds
	AttrInvalid    = "invalid"       // why the processor must quarantine it
	AttrOversized  = "oversized"     // "true": data is a stub, not the body
	AttrUnknown    = "unknown_pair"  // "true": an object_type/metric not in the contract
)

// Invalid reasons carried in AttrInvalid.
const (
	InvalidNotObject = "not_object"
	InvalidNoEventID = "no_event_id"
)

// StubPrefixBytes is how much of an oversized body its stub keeps.
const StubPrefixBytes = 64 << 10

// hardCap bounds how much of a body is read to check its signature. Cloud Run
// refuses requests above 32 MiB, so nothing authentic is larger.
const hardCap = 64 << 20

// Options configure a Handler.
type Options struct {
	Verifier       *signature.Verifier
	Publisher      publish.Publisher
	MaxBodyBytes   int64
	PublishTimeout time.Duration
	Logger         *slog.Logger
	Project        string // for trace links in logs
	Now            func() time.Time
}

// Handler serves ReceiveWebhook.
type Handler struct {
	o Options
}

// ErrNoKeys is returned by New when no signing key is configured: an
// unverifiable receiver must not serve.
var ErrNoKeys = errors.New("webhook: no signing key configured; refusing to serve")

// New checks the options and returns a Handler.
func New(o Options) (*Handler, error) {
	if o.Verifier == nil || len(o.Verifier.Keys) == 0 {
		return nil, ErrNoKeys
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
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Handler{o: o}, nil
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
	w.WriteHeader(o.status)
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

func (h *Handler) handle(r *http.Request, start time.Time) outcome {
	if r.Method != http.MethodPost {
		return outcome{status: http.StatusMethodNotAllowed, reason: "only POST is accepted", category: "method"}
	}
	digest, err := h.o.Verifier.Start(r.Header.Get(signature.HeaderTimestamp), r.Header.Get(signature.HeaderSignature))
	if err != nil {
		return unauthorized(err)
	}
	body, size, sum, err := h.read(r.Body, digest)
	switch {
	case errors.Is(err, errHardCap):
		return outcome{status: http.StatusUnauthorized, reason: "body too large to verify", category: "too_large_to_verify", size: size}
	case err != nil:
		// The client likely went away; whatever it is, it is not a reason to
		// stall an authentic stream for an hour.
		return outcome{status: http.StatusServiceUnavailable, reason: "could not read the request body", category: "read_error", size: size}
	}
	verified, err := digest.Finish()
	if err != nil {
		return unauthorized(err)
	}
	o := outcome{keyIndex: verified.KeyIndex, skew: start.Sub(verified.Timestamp), size: size}
	attrs := map[string]string{
		AttrSignedAt:   r.Header.Get(signature.HeaderTimestamp),
		AttrKeyIndex:   strconv.Itoa(verified.KeyIndex),
		AttrReceivedAt: start.UTC().Format(time.RFC3339Nano),
	}
	data := body
	if size > h.o.MaxBodyBytes {
		attrs[AttrOversized] = "true"
		id := scanEventID(body)
		if id != "" {
			attrs[AttrEventID] = id
		}
		data = stub(r, body, size, sum, id)
	} else {
		ev, err := event.ParseEnvelope(body)
		switch {
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
	o.eventID = attrs[AttrEventID]
	o.attrs = attrs

	ctx, cancel := context.WithTimeout(r.Context(), h.o.PublishTimeout)
	defer cancel()
	if _, err := h.o.Publisher.Publish(ctx, data, attrs); err != nil {
		o.status, o.reason, o.category = http.StatusServiceUnavailable, "event not stored yet; retry", "publish_failed"
		if errors.Is(err, context.DeadlineExceeded) {
			o.category = "publish_timeout"
		}
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

var errHardCap = errors.New("webhook: body exceeds the verification cap")

// read returns the body (at most MaxBodyBytes of it), its full size and
// sha256, having written every byte to the digest.
func (h *Handler) read(r io.Reader, digest io.Writer) (body []byte, size int64, sum []byte, err error) {
	sha := sha256.New()
	var buf bytes.Buffer
	tee := io.TeeReader(r, io.MultiWriter(digest, sha))
	n, err := io.Copy(&buf, io.LimitReader(tee, h.o.MaxBodyBytes+1))
	if err != nil {
		return nil, n, nil, err
	}
	size = n
	if n > h.o.MaxBodyBytes {
		// Keep only the stub's prefix; the rest is hashed as it streams past.
		rest, err := io.Copy(io.Discard, io.LimitReader(tee, hardCap-n))
		size += rest
		if err != nil {
			return nil, size, nil, err
		}
		if size >= hardCap {
			return nil, size, nil, errHardCap
		}
	}
	return buf.Bytes(), size, sha.Sum(nil), nil
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
	attrs := []slog.Attr{
		slog.Int("status", o.status),
		slog.String("outcome", o.category),
		slog.Int64("bytes", o.size),
		slog.Float64("latency_ms", float64(h.o.Now().Sub(start).Microseconds())/1000),
	}
	if o.attrs != nil {
		attrs = append(attrs,
			slog.String("event_id", o.eventID),
			slog.String("object_type", o.attrs[AttrObjectType]),
			slog.String("metric", o.attrs[AttrMetric]),
			slog.Int("key_index", o.keyIndex),
			// Skew shows in production whether retries carry fresh timestamps.
			slog.Int64("skew_s", int64(o.skew/time.Second)))
	}
	if t := logging.Trace(h.o.Project, r.Header); t.Key != "" {
		attrs = append(attrs, t)
	}
	h.o.Logger.LogAttrs(r.Context(), level, "webhook", attrs...)
}
