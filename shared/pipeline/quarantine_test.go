package pipeline

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/cioevents/cioevents/shared/ledger"
	"github.com/cioevents/cioevents/shared/privacy"
	"github.com/cioevents/cioevents/shared/signature"
	"github.com/cioevents/cioevents/shared/tombstone"
	"github.com/cioevents/cioevents/shared/webhook"
)

// keepAll is the CIO_PII policy that keeps every field: rejected_events
// then holds quarantined bodies, and an oversized body's prefix, in clear.
const keepAll = "email=keep,recipient=keep,subject=keep,href=keep,failure_message=keep,content=keep,headers=keep"

// received runs body through the real receiver (its light parse, its stub
// of an oversized body) and returns the message it publishes, as the
// processor gets it.
func received(t *testing.T, ws string, body []byte) Message {
	t.Helper()
	key := []byte("quarantine-test-signing-key")
	var got Message
	h, err := webhook.New(webhook.Options{
		Verifier:   &signature.Verifier{Keys: [][]byte{key}, MaxAge: signature.DefaultMaxAge, MaxAhead: signature.DefaultMaxAhead},
		Workspaces: []string{ws},
		Publisher: pubFunc(func(_ context.Context, data []byte, attrs map[string]string) (string, error) {
			got = Message{ID: "m", Data: data, Attributes: attrs, PublishTime: time.Now()}
			return "m", nil
		}),
		MaxBodyBytes: 2 << 10,
		Logger:       slog.New(slog.NewJSONHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	r := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(body))
	ts, sig := signature.Headers(key, time.Now(), body)
	r.Header.Set(signature.HeaderTimestamp, ts)
	r.Header.Set(signature.HeaderSignature, sig)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if w.Code != http.StatusOK || got.Data == nil {
		t.Fatalf("receiver: %d %s", w.Code, w.Body)
	}
	return got
}

type pubFunc func(ctx context.Context, data []byte, attrs map[string]string) (string, error)

func (f pubFunc) Publish(ctx context.Context, data []byte, attrs map[string]string) (string, error) {
	return f(ctx, data, attrs)
}

// The quarantine path obeys tombstones: a forgotten person's body that
// cannot become a row — without event_id, not JSON, oversized (its kept
// prefix) — is dropped and counted as forgotten instead of going to
// rejected_events, where a keep-all policy keeps it in clear. Everybody
// else's such bodies are still quarantined, never dropped; an ID
// tombstone holds only in its workspace.
func TestQuarantineObeysTombstones(t *testing.T) {
	ctx := context.Background()
	big := strings.Repeat("x", 4<<10) // over the receiver's 2 KiB limit
	for _, kind := range ledgers() {
		t.Run(string(kind), func(t *testing.T) {
			r := newRig(t, kind)
			pol, err := privacy.Parse(keepAll, nil)
			if err != nil {
				t.Fatal(err)
			}
			r.p.Warehouse = &privacy.Writer{Next: r.p.Warehouse, Policy: pol}
			store := ledger.NewMemory(time.Minute)
			h := tombstone.NewHasher([]byte("0123456789abcdef0123456789abcdef"))
			stones, err := tombstone.NewIn(h, "eu", []tombstone.Identifier{{Kind: tombstone.KindEmail, Value: "jane@example.com"},
				{Kind: tombstone.KindID, Value: "u_9001"}}, time.Now(), 0)
			if err != nil {
				t.Fatal(err)
			}
			if err := store.PutTombstones(ctx, stones); err != nil {
				t.Fatal(err)
			}
			set := &tombstone.Set{Store: store, Hasher: h}
			if err := set.Refresh(ctx); err != nil {
				t.Fatal(err)
			}
			r.p.Forgotten = set

			for _, tc := range []struct {
				name, ws, body string
				want           string // outcome
				reason         string
			}{
				{"no event_id", "us", `{"object_type":"email","metric":"sent","data":{"identifiers":{"email":"JANE@example.com"}}}`,
					OutcomeForgotten, webhook.InvalidNoEventID},
				{"no event_id, id only", "eu", `{"object_type":"sms","metric":"sent","data":{"identifiers":{"id":"u_9001 "}}}`,
					OutcomeForgotten, webhook.InvalidNoEventID},
				{"not JSON", "eu", `{"object_type":"push","data":{"customer_id":"u_9001"}, oops`, OutcomeForgotten, webhook.InvalidJSON},
				{"oversized", "us", `{"event_id":"01JQUARBIG0000000000000001","object_type":"email","metric":"sent",` +
					`"data":{"recipient":"jane@example.com","content":"` + big + `"}}`, OutcomeForgotten, "oversized"},
				{"oversized, another person", "us", `{"event_id":"01JQUARBIG0000000000000002","object_type":"email","metric":"sent",` +
					`"data":{"recipient":"sam@example.net","content":"` + big + `"}}`, OutcomeRejected, "oversized"},
				{"no event_id, another person", "eu", `{"object_type":"email","metric":"sent","data":{"identifiers":{"email":"sam@example.net"}}}`,
					OutcomeRejected, webhook.InvalidNoEventID},
				{"no event_id, the id in another workspace", "us", `{"object_type":"sms","metric":"sent","data":{"identifiers":{"id":"u_9001"}}}`,
					OutcomeRejected, webhook.InvalidNoEventID},
				// Events that parse: the same scope.
				{"event, the id in its workspace", "eu", `{"event_id":"01JQUARWS00000000000000001","object_type":"sms","metric":"sent",` +
					`"timestamp":1767225600,"data":{"identifiers":{"id":"u_9001"}}}`, OutcomeForgotten, ""},
				{"event, the id in another workspace", "us", `{"event_id":"01JQUARWS00000000000000002","object_type":"sms","metric":"sent",` +
					`"timestamp":1767225600,"data":{"identifiers":{"id":"u_9001"}}}`, OutcomeInserted, ""},
				{"event, the address in another workspace", "us", `{"event_id":"01JQUARWS00000000000000003","object_type":"email","metric":"sent",` +
					`"timestamp":1767225600,"data":{"identifiers":{"email":" jane@EXAMPLE.com"}}}`, OutcomeForgotten, ""},
			} {
				t.Run(tc.name, func(t *testing.T) {
					before := len(r.bq.Rows(rejTable))
					m := received(t, tc.ws, []byte(tc.body))
					res := deliver(t, r.p, m)
					if res.Outcome != tc.want || res.Reason != tc.reason {
						t.Errorf("outcome %s (%s), want %s (%s)", res.Outcome, res.Reason, tc.want, tc.reason)
					}
					added := len(r.bq.Rows(rejTable)) - before
					if want := map[string]int{OutcomeRejected: 1}[tc.want]; added != want {
						t.Errorf("%d rejected rows added, want %d", added, want)
					}
				})
			}
			rows, _ := json.Marshal(r.bq.Rows(rejTable))
			if strings.Contains(strings.ToLower(string(rows)), "jane") {
				t.Errorf("rejected_events holds the forgotten address: %s", rows)
			}
			if !strings.Contains(string(rows), "sam@example.net") {
				t.Error("the keep-all policy does not keep the other person's body in clear: the test proves nothing")
			}
		})
	}
}
