package webhook

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cioevents/cioevents/shared/signature"
)

type published struct {
	data  []byte
	attrs map[string]string
}

// recorder is the local Publisher: it keeps what it was given, or fails.
type recorder struct {
	mu   sync.Mutex
	msgs []published
	err  error
	wait bool // block until the context ends, like an unreachable Pub/Sub
}

func (r *recorder) Publish(ctx context.Context, data []byte, attrs map[string]string) (string, error) {
	if r.wait {
		<-ctx.Done()
		return "", ctx.Err()
	}
	if r.err != nil {
		return "", r.err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.msgs = append(r.msgs, published{bytes.Clone(data), attrs})
	return strconv.Itoa(len(r.msgs)), nil
}

var (
	now  = time.Unix(1767225660, 0)
	key  = []byte("cio-test-signing-key")
	key2 = []byte("second-key")
)

func newHandler(t *testing.T, pub *recorder, logs io.Writer) *Handler {
	t.Helper()
	if logs == nil {
		logs = io.Discard
	}
	h, err := New(Options{
		Verifier:       &signature.Verifier{Keys: [][]byte{key2, key}, Now: func() time.Time { return now }},
		Workspaces:     []string{"shop", "default"},
		Publisher:      pub,
		MaxBodyBytes:   4096,
		PublishTimeout: 200 * time.Millisecond,
		Logger:         slog.New(slog.NewJSONHandler(logs, nil)),
		Now:            func() time.Time { return now },
	})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func signed(body []byte, ts string, k []byte) *http.Request {
	r := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set(signature.HeaderTimestamp, ts)
	r.Header.Set(signature.HeaderSignature, signature.Sign(k, ts, body))
	return r
}

func TestReceiverContract(t *testing.T) {
	good, err := os.ReadFile("../signature/testdata/vector2.json")
	if err != nil {
		t.Fatal(err)
	}
	ts := strconv.FormatInt(now.Unix(), 10)
	big := []byte(`{"event_id":"01BIGBIGBIGBIGBIGBIGBIGBIG1","object_type":"email","metric":"sent","data":{"content":"` +
		strings.Repeat("x", 10_000) + `"}}`)
	tests := []struct {
		name       string
		req        func() *http.Request
		pub        *recorder
		wantStatus int
		wantBody   string // substring of the answer
		wantAttrs  map[string]string
		wantData   []byte // nil: the posted body; "-": nothing published
	}{
		{"authentic event", func() *http.Request { return signed(good, ts, key) }, &recorder{}, 200,
			`"status":"accepted","event_id":"01JH6Z8Q3V4K2N7R9T5W1XAB3C"`,
			map[string]string{AttrEventID: "01JH6Z8Q3V4K2N7R9T5W1XAB3C", AttrObjectType: "email", AttrMetric: "bounced",
				AttrSignedAt: ts, AttrKeyIndex: "1", AttrWorkspace: "default"}, nil},
		{"second key", func() *http.Request { return signed(good, ts, key2) }, &recorder{}, 200, `"accepted"`,
			map[string]string{AttrKeyIndex: "0", AttrWorkspace: "shop"}, nil},
		{"not an object", func() *http.Request { return signed([]byte(`[1,2]`), ts, key) }, &recorder{}, 200,
			`"accepted"`, map[string]string{AttrInvalid: InvalidNotObject}, nil},
		{"bad JSON", func() *http.Request { return signed([]byte(`{"event_id":`), ts, key) }, &recorder{}, 200,
			`"accepted"`, map[string]string{AttrInvalid: InvalidJSON}, nil},
		{"garbage", func() *http.Request { return signed([]byte(`hello`), ts, key) }, &recorder{}, 200,
			`"accepted"`, map[string]string{AttrInvalid: InvalidJSON}, nil},
		{"no event_id", func() *http.Request { return signed([]byte(`{"metric":"sent"}`), ts, key) }, &recorder{}, 200,
			`"accepted"`, map[string]string{AttrInvalid: InvalidNoEventID, AttrMetric: "sent"}, nil},
		{"unknown pair", func() *http.Request {
			return signed([]byte(`{"event_id":"e9","object_type":"email","metric":"teleported","timestamp":1,"data":{}}`), ts, key)
		}, &recorder{}, 200, `"event_id":"e9"`, map[string]string{AttrUnknown: "true", AttrMetric: "teleported"}, nil},
		{"oversized", func() *http.Request { return signed(big, ts, key) }, &recorder{}, 200,
			`"event_id":"01BIGBIGBIGBIGBIGBIGBIGBIG1"`,
			map[string]string{AttrOversized: "true", AttrEventID: "01BIGBIGBIGBIGBIGBIGBIGBIG1"}, []byte("stub")},
		{"oversized with bad signature", func() *http.Request {
			r := signed(big, ts, key)
			r.Body = io.NopCloser(bytes.NewReader(append(bytes.Clone(big), ' ')))
			return r
		}, &recorder{}, 401, `mismatch`, nil, []byte("-")},
		{"missing signature", func() *http.Request {
			r := signed(good, ts, key)
			r.Header.Del(signature.HeaderSignature)
			return r
		}, &recorder{}, 401, `missing_signature`, nil, []byte("-")},
		{"empty timestamp", func() *http.Request {
			r := signed(good, ts, key)
			r.Header.Set(signature.HeaderTimestamp, "")
			return r
		}, &recorder{}, 401, `missing_timestamp`, nil, []byte("-")},
		{"non-hex signature", func() *http.Request {
			r := signed(good, ts, key)
			r.Header.Set(signature.HeaderSignature, strings.Repeat("g", 64))
			return r
		}, &recorder{}, 401, `malformed_signature`, nil, []byte("-")},
		{"wrong-length signature", func() *http.Request {
			r := signed(good, ts, key)
			r.Header.Set(signature.HeaderSignature, "abcd")
			return r
		}, &recorder{}, 401, `malformed_signature`, nil, []byte("-")},
		{"no key matches", func() *http.Request { return signed(good, ts, []byte("other")) }, &recorder{}, 401, `mismatch`, nil, []byte("-")},
		{"body-only signature", func() *http.Request {
			r := signed(good, ts, key)
			r.Header.Set(signature.HeaderSignature, "694f9b43c9d957b1ca55988fb9826f085ff7a36321980fb59d20d08b467ff12a")
			return r
		}, &recorder{}, 401, `mismatch`, nil, []byte("-")},
		{"non-integer timestamp", func() *http.Request { return signed(good, "1767225660.5", key) }, &recorder{}, 401,
			`malformed_timestamp`, nil, []byte("-")},
		{"older than 8 days", func() *http.Request {
			return signed(good, strconv.FormatInt(now.Add(-8*24*time.Hour-time.Minute).Unix(), 10), key)
		}, &recorder{}, 401, `too_old`, nil, []byte("-")},
		{"7 days old is a retry", func() *http.Request {
			return signed(good, strconv.FormatInt(now.Add(-7*24*time.Hour).Unix(), 10), key)
		}, &recorder{}, 200, `accepted`, nil, nil},
		{"more than 1 h ahead", func() *http.Request {
			return signed(good, strconv.FormatInt(now.Add(61*time.Minute).Unix(), 10), key)
		}, &recorder{}, 401, `too_new`, nil, []byte("-")},
		{"GET", func() *http.Request { return httptest.NewRequest(http.MethodGet, "/", nil) }, &recorder{}, 405, `POST`, nil, []byte("-")},
		{"PUT signed", func() *http.Request {
			r := signed(good, ts, key)
			r.Method = http.MethodPut
			return r
		}, &recorder{}, 405, `POST`, nil, []byte("-")},
		{"publish fails", func() *http.Request { return signed(good, ts, key) }, &recorder{err: errors.New("unavailable")}, 503,
			`retry`, nil, []byte("-")},
		{"publish times out", func() *http.Request { return signed(good, ts, key) }, &recorder{wait: true}, 503,
			`retry`, nil, []byte("-")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var logs bytes.Buffer
			h := newHandler(t, tt.pub, &logs)
			req := tt.req()
			var posted []byte
			if req.Body != nil {
				posted, _ = io.ReadAll(req.Body)
				req.Body = io.NopCloser(bytes.NewReader(posted))
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, req)
			if w.Code != tt.wantStatus {
				t.Fatalf("status = %d, want %d (%s)", w.Code, tt.wantStatus, w.Body)
			}
			if !strings.Contains(w.Body.String(), tt.wantBody) {
				t.Fatalf("body = %s, want it to contain %s", w.Body, tt.wantBody)
			}
			if strings.Count(strings.TrimSpace(w.Body.String()), "\n") != 0 {
				t.Fatalf("answer is not one line: %q", w.Body)
			}
			if w.Code == 405 && w.Header().Get("Allow") != "POST" {
				t.Fatalf("Allow = %q", w.Header().Get("Allow"))
			}
			switch string(tt.wantData) {
			case "-":
				if len(tt.pub.msgs) != 0 {
					t.Fatalf("published %d messages, want none", len(tt.pub.msgs))
				}
			case "stub":
				m := onlyMessage(t, tt.pub)
				var s Stub
				if err := json.Unmarshal(m.data, &s); err != nil || !s.Oversized || s.Size != int64(len(big)) ||
					len(s.SHA256) != 64 || s.Prefix != string(big[:4096]) && !strings.HasPrefix(string(big), s.Prefix) {
					t.Fatalf("stub = %+v (%v)", s, err)
				}
			default:
				m := onlyMessage(t, tt.pub)
				if !bytes.Equal(m.data, posted) {
					t.Fatalf("published data differs from the posted body")
				}
			}
			for k, v := range tt.wantAttrs {
				if got := onlyMessage(t, tt.pub).attrs[k]; got != v {
					t.Errorf("attribute %s = %q, want %q", k, got, v)
				}
			}
			for _, secret := range []string{string(key), string(key2), "jane@example.com", "xxxxxxxxxx"} {
				if strings.Contains(logs.String(), secret) {
					t.Fatalf("log leaks %q: %s", secret, logs.String())
				}
			}
			if !strings.Contains(logs.String(), `"outcome"`) {
				t.Fatalf("no log line: %q", logs.String())
			}
		})
	}
}

func onlyMessage(t *testing.T, r *recorder) published {
	t.Helper()
	if len(r.msgs) != 1 {
		t.Fatalf("published %d messages, want 1", len(r.msgs))
	}
	return r.msgs[0]
}

func TestNewRefusesWithoutKeys(t *testing.T) {
	_, err := New(Options{Verifier: &signature.Verifier{}, Publisher: &recorder{}, MaxBodyBytes: 1})
	if !errors.Is(err, ErrNoKeys) {
		t.Fatalf("err = %v, want ErrNoKeys", err)
	}
}
