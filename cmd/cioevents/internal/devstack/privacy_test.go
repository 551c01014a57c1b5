package devstack

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/bigquery"
	"google.golang.org/api/option"

	"github.com/cioevents/cioevents/cmd/cioevents/internal/appapi/appapifake"
	"github.com/cioevents/cioevents/cmd/cioevents/internal/backfill"
	"github.com/cioevents/cioevents/shared/privacy"
	"github.com/cioevents/cioevents/shared/signature"
	"github.com/cioevents/cioevents/shared/warehouse"
	"github.com/cioevents/cioevents/shared/warehouse/bqfake"
)

// clear is the one value of each policy field every path below carries.
// Each is unique, so finding it anywhere means that field leaked. The
// failure message quotes the person's address as SMTP servers do.
var clear = map[string]string{
	"email":           "jane.marker@example.org",
	"recipient":       "rcpt.marker@example.net",
	"subject":         "Subject marker 7c1e",
	"href":            "https://shop.example.com/p?token=href-marker-91ab",
	"failure_message": "550 5.1.1 failure-marker-3d2f: mailbox unavailable",
	"content":         "<p>content-marker-5e0a</p>",
	"headers":         "header-marker-b7c4",
}

// quoted is the failure message as sent: it names the recipient's address.
var quoted = clear["failure_message"] + " <" + clear["email"] + ">"

// webhookBodies are the webhook paths: a normal event, an odd one (an
// unknown pair, extra fields), an oversized body (stubbed by the receiver),
// a body that is not JSON, and one without an event_id.
func webhookBodies(ts int64) map[string][]byte {
	data := func() map[string]any {
		return map[string]any{
			"identifiers":     map[string]any{"id": "u_marker", "email": clear["email"]},
			"delivery_id":     "d_marker",
			"recipient":       clear["recipient"],
			"subject":         clear["subject"],
			"href":            clear["href"],
			"failure_message": quoted,
			"content":         clear["content"],
			"headers":         map[string]any{"X-Marker": clear["headers"]},
		}
	}
	enc := func(v any) []byte { b, _ := json.Marshal(v); return b }
	big := data()
	big["content"] = clear["content"] + strings.Repeat("x", 4096)
	return map[string][]byte{
		"normal": enc(map[string]any{"event_id": "01JPRIVNORMAL000000000000A", "object_type": "email", "metric": "bounced",
			"timestamp": ts, "data": data()}),
		"odd": enc(map[string]any{"event_id": "01JPRIVODD0000000000000000", "object_type": "email", "metric": "teleported",
			"timestamp": ts, "extra": 1, "data": data()}),
		"oversized": enc(map[string]any{"event_id": "01JPRIVOVER000000000000000", "object_type": "email", "metric": "sent",
			"timestamp": ts, "data": big}),
		"invalid_json": []byte(`{"event_id": "01JPRIVBAD00000000000000000", "data": {"identifiers": {"email": "` +
			clear["email"] + `"}, "subject": "` + clear["subject"] + `", "failure_message": "` + quoted + `", "recipient": "` +
			clear["recipient"] + `", "href": "` + clear["href"] + `", "content": "` + clear["content"] +
			`", "headers": {"X": "` + clear["headers"] + `"}`),
		"no_event_id": enc(map[string]any{"object_type": "email", "metric": "bounced", "timestamp": ts, "data": data()}),
	}
}

// tee writes every row to two warehouses: the data dir's files and BigQuery
// (the fake), so one run checks both.
type tee struct{ a, b warehouse.Writer }

func (t tee) InsertEvent(ctx context.Context, r warehouse.Row) error {
	if err := t.a.InsertEvent(ctx, r); err != nil {
		return err
	}
	return t.b.InsertEvent(ctx, r)
}

func (t tee) InsertRejected(ctx context.Context, r warehouse.Rejected) error {
	if err := t.a.InsertRejected(ctx, r); err != nil {
		return err
	}
	return t.b.InsertRejected(ctx, r)
}

// syncBuffer is a log sink several goroutines write.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// TestPolicyOnEveryPath sends the same person's data down every path that
// writes — webhooks (normal, odd, oversized, invalid JSON, no event_id) with
// the dry-run actions file, backfill into the data dir with its actions,
// and the log lines of both — under every field × keep/hash/drop, and looks
// for the field's clear value in everything written: the data dir's files,
// the BigQuery fake's rows and the captured logs.
func TestPolicyOnEveryPath(t *testing.T) {
	key := "0123456789abcdef0123456789abcdef"
	ts := time.Now().Add(-time.Hour).Unix()
	// The default CIO_ACTIONS identifies bounced people with
	// email_bounce_reason={{failure_message}}: the actions file gets it.
	for _, field := range privacy.Fields {
		for _, action := range []privacy.Action{privacy.Keep, privacy.Hash, privacy.Drop} {
			spec := field + "=" + string(action)
			t.Run(spec, func(t *testing.T) {
				dir := t.TempDir()
				env := map[string]string{privacy.EnvPolicy: spec, privacy.EnvKey: key, "CIO_MAX_BODY_BYTES": "2048",
					"CIO_ACTIONS": `{"email.bounced":[{"identify":{"email_bounced":true,"reason":"{{failure_message}}",` +
						`"subject":"{{subject}}","href":"{{href}}","rcpt":"{{recipient}}"}}]}`}
				getenv := func(k string) string { return env[k] }
				bq := bqfake.New(map[string]bigquery.Schema{
					"ds.events": warehouse.EventsSchema(), "ds.rejected_events": warehouse.RejectedSchema()})
				defer bq.Close()
				bqw, err := warehouse.NewBigQuery(context.Background(), "p", "ds", "events", "rejected_events",
					option.WithEndpoint(bq.URL()+"/bigquery/v2/"), option.WithoutAuthentication())
				if err != nil {
					t.Fatal(err)
				}
				defer bqw.Close()
				files, err := warehouse.NewFile(dir)
				if err != nil {
					t.Fatal(err)
				}
				var logs syncBuffer
				o := &outcomes{counts: map[string]int{}}
				logger := slog.New(fanout{slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}), o})
				s, err := Start(context.Background(), Options{Addr: "127.0.0.1:0", DataDir: dir, Getenv: getenv,
					Logger: logger, Warehouse: tee{files, bqw}, Keys: [][]byte{[]byte("priv-key")}})
				if err != nil {
					t.Fatal(err)
				}
				bodies := webhookBodies(ts)
				for path, b := range bodies {
					req, err := signature.NewRequest(context.Background(), s.URL, []byte("priv-key"), time.Now(), b)
					if err != nil {
						t.Fatal(err)
					}
					resp, err := http.DefaultClient.Do(req)
					if err != nil {
						t.Fatal(err)
					}
					resp.Body.Close()
					if resp.StatusCode != http.StatusOK {
						t.Fatalf("%s: status %d", path, resp.StatusCode)
					}
				}
				o.wait(t, len(bodies))
				if err := s.Close(); err != nil {
					t.Fatal(err)
				}
				files.Close()

				fake := appapifake.New("app-key")
				defer fake.Close()
				fail, email, rcpt, subj := quoted, clear["email"], clear["recipient"], clear["subject"]
				fake.Add(appapifake.Delivery{ID: "bf_marker", Type: "email", Created: ts,
					CustomerIdentifiers: &appapifake.Identifiers{Email: &email, CioID: "cio_marker"},
					Recipient:           &rcpt, Subject: &subj, FailureMessage: &fail,
					Metrics: map[string]int64{"sent": ts, "bounced": ts + 1}})
				var out, errOut syncBuffer
				benv := func(k string) string {
					if k == backfill.EnvAppAPIKey {
						return "app-key"
					}
					if k == "LOG_LEVEL" {
						return "debug"
					}
					return env[k]
				}
				if err := backfill.Command(context.Background(), []string{"--app-api-url", fake.URL(), "--data-dir", dir,
					"--since", "2d", "--apply-actions"}, backfill.Env{Stdout: &out, Stderr: &errOut, Getenv: benv}); err != nil {
					t.Fatalf("backfill: %v\n%s", err, errOut.String())
				}

				var written strings.Builder
				entries, _ := os.ReadDir(dir)
				for _, e := range entries {
					if e.Name() == KeyFile || e.IsDir() || strings.HasSuffix(e.Name(), ".db") {
						continue // the key, and bbolt files (the queue holds messages until acked, as Pub/Sub does)
					}
					b, _ := os.ReadFile(filepath.Join(dir, e.Name()))
					fmt.Fprintf(&written, "== %s\n%s\n", e.Name(), b)
				}
				for _, table := range []string{"ds.events", "ds.rejected_events"} {
					b, _ := json.Marshal(bq.Rows(table))
					fmt.Fprintf(&written, "== bigquery %s\n%s\n", table, b)
				}
				fmt.Fprintf(&written, "== logs\n%s\n== backfill output\n%s\n%s\n", logs.String(), out.String(), errOut.String())
				all := written.String()
				if len(bq.Rows("ds.events")) == 0 || len(bq.Rows("ds.rejected_events")) < 3 {
					t.Fatalf("the paths wrote %d rows and %d rejected rows to BigQuery", len(bq.Rows("ds.events")),
						len(bq.Rows("ds.rejected_events")))
				}
				// JSON escapes < and > in some writers: look for the value
				// in both spellings.
				found := func(v string) bool {
					esc, _ := json.Marshal(v)
					return strings.Contains(all, v) || strings.Contains(all, strings.Trim(string(esc), `"`))
				}
				v := clear[field]
				if field == "href" && action == privacy.Keep {
					v = "token=href-marker-91ab"
				}
				switch {
				case action == privacy.Keep:
					if !found(v) {
						t.Errorf("%s kept, yet its value is nowhere", field)
					}
				default:
					for _, needle := range []string{v, strings.ToUpper(v[:1]) + v[1:]} {
						if i := strings.Index(all, needle); i >= 0 {
							t.Errorf("%s=%s: clear value %q written: …%s…", field, action, v, around(all, i))
						}
					}
					if field == "href" && strings.Contains(all, "href-marker-91ab") {
						t.Errorf("href=%s: the query token is written", action)
					}
				}
			})
		}
	}
}

func around(s string, i int) string {
	from, to := max(0, i-200), min(len(s), i+100)
	return s[from:to]
}

// fanout sends each record to several handlers.
type fanout []slog.Handler

func (f fanout) Enabled(context.Context, slog.Level) bool { return true }
func (f fanout) WithAttrs(a []slog.Attr) slog.Handler {
	out := make(fanout, len(f))
	for i, h := range f {
		out[i] = h.WithAttrs(a)
	}
	return out
}
func (f fanout) WithGroup(g string) slog.Handler {
	out := make(fanout, len(f))
	for i, h := range f {
		out[i] = h.WithGroup(g)
	}
	return out
}
func (f fanout) Handle(ctx context.Context, r slog.Record) error {
	for _, h := range f {
		if err := h.Handle(ctx, r.Clone()); err != nil {
			return err
		}
	}
	return nil
}
