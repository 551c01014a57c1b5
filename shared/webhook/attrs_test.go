package webhook

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/cioevents/cioevents/shared/publish"
	"github.com/cioevents/cioevents/shared/signature"
)

// withinPubSubLimits fails t unless Pub/Sub in production would accept
// attrs: at most 100, keys ≤ 256 bytes, values ≤ 1,024 bytes, all UTF-8.
func withinPubSubLimits(t *testing.T, attrs map[string]string) {
	t.Helper()
	if len(attrs) > 100 {
		t.Fatalf("%d attributes", len(attrs))
	}
	for k, v := range attrs {
		if k == "" || len(k) > 256 || !utf8.ValidString(k) {
			t.Fatalf("attribute key %.40q breaks Pub/Sub's limits", k)
		}
		if len(v) > 1024 || !utf8.ValidString(v) {
			t.Fatalf("attribute %s: %d bytes, valid UTF-8 %v: breaks Pub/Sub's limits", k, len(v), utf8.ValidString(v))
		}
	}
}

// Hostile values in the body's envelope are accepted, the body is published
// byte for byte, and every attribute stays inside production limits.
func TestHostileAttributes(t *testing.T) {
	long := strings.Repeat("e", 2000)
	tests := []struct {
		name    string
		body    string
		max     int64
		altered string
		eventID string // the event_id attribute, when it must survive as is
	}{
		{"2,000-byte event_id", `{"event_id":"` + long + `","object_type":"email","metric":"sent","data":{}}`, 0, "event_id", ""},
		{"invalid UTF-8 event_id", "{\"event_id\":\"ev\xff\xfe\",\"object_type\":\"email\",\"metric\":\"sent\"}", 0, "", ""},
		{"numeric event_id", `{"event_id":12345678901234567890123,"object_type":"email","metric":"sent"}`, 0, "", ""},
		{"1,025-byte object_type", `{"event_id":"e1","object_type":"` + strings.Repeat("o", 1025) + `","metric":"sent"}`, 0, "object_type", "e1"},
		{"huge metric", `{"event_id":"e2","object_type":"email","metric":"` + strings.Repeat("m", 100_000) + `"}`, 0, "metric", "e2"},
		{"multi-byte metric", `{"event_id":"e3","object_type":"email","metric":"` + strings.Repeat("日", 500) + `"}`, 0, "metric", "e3"},
		{"escaped surrogate", `{"event_id":"\ud800x","object_type":"email","metric":"sent"}`, 0, "", ""},
		{"no event_id, long metric", `{"metric":"` + long + `"}`, 0, "metric", ""},
		{"oversized, invalid UTF-8 event_id", "{\"event_id\":\"big\xff\xfe\",\"data\":\"" + strings.Repeat("x", 10_000) + "\"}", 4096, "event_id", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pub := &recorder{}
			var logs bytes.Buffer
			h := newHandler(t, pub, &logs)
			h.o.MaxBodyBytes = 200_000
			if tt.max != 0 {
				h.o.MaxBodyBytes = tt.max
			}
			body := []byte(tt.body)
			w := httptest.NewRecorder()
			h.ServeHTTP(w, signed(body, strconv.FormatInt(now.Unix(), 10), key))
			if w.Code != http.StatusOK {
				t.Fatalf("status %d %s", w.Code, w.Body)
			}
			m := onlyMessage(t, pub)
			withinPubSubLimits(t, m.attrs)
			if tt.max == 0 && !bytes.Equal(m.data, body) {
				t.Fatal("published body differs from the posted one")
			}
			if tt.altered != "" && !strings.Contains(m.attrs[publish.AttrAltered], tt.altered) {
				t.Fatalf("%s = %q, want it to name %s", publish.AttrAltered, m.attrs[publish.AttrAltered], tt.altered)
			}
			if tt.eventID != "" && m.attrs[AttrEventID] != tt.eventID {
				t.Fatalf("event_id attribute %q, want %q", m.attrs[AttrEventID], tt.eventID)
			}
			// The answer and the log line are bounded too.
			if w.Body.Len() > 2048 {
				t.Fatalf("answer is %d bytes", w.Body.Len())
			}
			if logs.Len() > 8192 {
				t.Fatalf("log line is %d bytes", logs.Len())
			}
			if tt.altered != "" && !strings.Contains(logs.String(), `"attrs_altered"`) {
				t.Fatalf("log line does not say attributes were altered: %s", logs.String())
			}
		})
	}
}

func FuzzHandlerAttributes(f *testing.F) {
	f.Add("01JH6Z8Q3V4K2N7R9T5W1XAB3C", "email", "sent", false)
	f.Add(strings.Repeat("e", 2000), "email", "sent", false)
	f.Add("ev\xff\xfe", strings.Repeat("o", 1025), "\xe6\x97", true)
	f.Add(`\ud800`, `\"`, strings.Repeat("日", 400), false)
	ts := strconv.FormatInt(now.Unix(), 10)
	f.Fuzz(func(t *testing.T, id, objectType, metric string, oversized bool) {
		pub := &recorder{}
		h := newHandler(t, pub, nil)
		h.o.MaxBodyBytes = 1 << 20
		pad := ""
		if oversized {
			h.o.MaxBodyBytes = 1024
			pad = strings.Repeat("x", 2048)
		}
		// Raw bytes, not json.Marshal: the receiver must cope with whatever
		// arrives, invalid UTF-8 and broken escapes included.
		body := []byte(`{"event_id":"` + id + `","object_type":"` + objectType + `","metric":"` + metric + `","data":"` + pad + `"}`)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, signed(body, ts, key))
		if w.Code != http.StatusOK {
			t.Fatalf("status %d %s", w.Code, w.Body)
		}
		m := onlyMessage(t, pub)
		withinPubSubLimits(t, m.attrs)
		if !oversized && !bytes.Equal(m.data, body) {
			t.Fatal("published body differs from the posted one")
		}
	})
}

// publish_failed names its cause — the gRPC code and message — without the
// event's values, the key or the body.
func TestPublishFailedLogsCause(t *testing.T) {
	tests := []struct {
		name, want string
		err        error
	}{
		{"missing topic", "NotFound: Resource not found (resource=cioevents-events).",
			status.Error(codes.NotFound, "Resource not found (resource=cioevents-events).")},
		{"missing grant", "PermissionDenied: User not authorized to perform this action.",
			status.Error(codes.PermissionDenied, "User not authorized to perform this action.")},
		{"message echoes the event", "InvalidArgument: bad attribute [redacted]",
			status.Error(codes.InvalidArgument, "bad attribute 01JH6Z8Q3V4K2N7R9T5W1XAB3C")},
	}
	good := []byte(`{"event_id":"01JH6Z8Q3V4K2N7R9T5W1XAB3C","object_type":"email","metric":"bounced","data":{"email":"jane@example.com"}}`)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var logs bytes.Buffer
			h := newHandler(t, &recorder{err: tt.err}, &logs)
			w := httptest.NewRecorder()
			h.ServeHTTP(w, signed(good, strconv.FormatInt(now.Unix(), 10), key))
			if w.Code != http.StatusServiceUnavailable {
				t.Fatalf("status %d", w.Code)
			}
			var line map[string]any
			if err := json.Unmarshal(logs.Bytes(), &line); err != nil {
				t.Fatalf("log is not one JSON line: %q", logs.String())
			}
			if line["outcome"] != "publish_failed" || line["cause"] != tt.want {
				t.Fatalf("outcome %v, cause %q, want %q", line["outcome"], line["cause"], tt.want)
			}
			if strings.Contains(line["cause"].(string), "01JH6Z8Q") || strings.Contains(logs.String(), "jane@") ||
				strings.Contains(logs.String(), string(key)) {
				t.Fatalf("log leaks: %s", logs.String())
			}
		})
	}
}

// The publish gets exactly PublishTimeout from when the handler starts it:
// the answer comes inside Customer.io's 4 s however slow Pub/Sub is. Checked
// on the deadline itself, not by timing the request.
func TestPublishDeadline(t *testing.T) {
	var got time.Time
	pub := publisherFunc(func(ctx context.Context, _ []byte, _ map[string]string) (string, error) {
		got, _ = ctx.Deadline()
		return "1", nil
	})
	h, err := New(Options{Verifier: &signature.Verifier{Keys: [][]byte{key}}, Publisher: pub, MaxBodyBytes: 4096,
		PublishTimeout: 3 * time.Second, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	before := time.Now()
	w := httptest.NewRecorder()
	h.ServeHTTP(w, signed([]byte(`{"event_id":"d1"}`), strconv.FormatInt(before.Unix(), 10), key))
	after := time.Now()
	if w.Code != http.StatusOK {
		t.Fatalf("status %d", w.Code)
	}
	if got.Before(before.Add(3*time.Second)) || got.After(after.Add(3*time.Second)) {
		t.Fatalf("publish deadline %s after the request started, want 3s", got.Sub(before))
	}
}

type publisherFunc func(context.Context, []byte, map[string]string) (string, error)

func (f publisherFunc) Publish(ctx context.Context, data []byte, attrs map[string]string) (string, error) {
	return f(ctx, data, attrs)
}
