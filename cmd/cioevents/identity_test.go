package main

import (
	"context"
	"encoding/csv"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cioevents/cioevents/cmd/cioevents/internal/appapi/appapifake"
	"github.com/cioevents/cioevents/shared/signature"
)

// One delivery, as a new user would meet it: its bounce acted on by
// `backfill --apply-actions --data-dir D`, and the same delivery's webhooks
// sent to `dev` on D — in either order. Each (delivery, metric) is one row
// in events.ndjson and in `report`, and one dry-run Track call in
// actions.ndjson.
func TestBackfillAndDevShareOneIdentity(t *testing.T) {
	const appKey, signingKey = "app-key", "dev-signing-key"
	sent := time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC).Unix()
	times := map[string]int64{"sent": sent, "delivered": sent + 5, "bounced": sent + 9}
	id, email := "u_9001", "jane@example.com"
	fake := appapifake.New(appKey)
	defer fake.Close()
	fake.Add(appapifake.Delivery{ID: "RPILAgUBcRhIBqSfeiIwdIYJKxTY", Type: "email", Created: sent, CustomerID: &id,
		CustomerIdentifiers: &appapifake.Identifiers{ID: &id, Email: &email, CioID: "a3f10e000042"},
		Recipient:           &email, Metrics: times})

	backfillRun := func(t *testing.T, dir string, extra ...string) {
		t.Helper()
		args := append([]string{"backfill", "--data-dir", dir, "--apply-actions", "--app-api-url", fake.URL(),
			"--since", "2026-01-01", "--until", "2026-01-10"}, extra...)
		if r := run(t, []string{"CIO_APP_API_KEY=" + appKey}, args...); r.code != 0 {
			t.Fatalf("backfill: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
		}
	}
	webhooks := func(t *testing.T, dir string) {
		t.Helper()
		d := startDev(t, []string{"CIO_WEBHOOK_SIGNING_KEYS=" + signingKey, "LOG_LEVEL=info"}, dir)
		for i, metric := range []string{"sent", "delivered", "bounced"} {
			body := fmt.Sprintf(`{"event_id":"01JH6Z8Q3V4K2N7R9T5W1XAB%02d","object_type":"email","metric":%q,"timestamp":%d,`+
				`"data":{"action_id":117,"campaign_id":42,"delivery_id":"RPILAgUBcRhIBqSfeiIwdIYJKxTY","failure_message":"550 5.1.1",`+
				`"identifiers":{"cio_id":"a3f10e000042","email":%q,"id":%q},"recipient":%q,"subject":"Your statement"}}`,
				i, metric, times[metric], email, id, email)
			req, err := signature.NewRequest(context.Background(), d.url, []byte(signingKey), time.Now(), []byte(body))
			if err != nil {
				t.Fatal(err)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("webhook %s: %d", metric, resp.StatusCode)
			}
		}
		d.waitLog(t, `"message":"event"`, 3)
		d.stop(t)
	}
	check := func(t *testing.T, dir string) {
		t.Helper()
		rows := fileLines(t, filepath.Join(dir, "events.ndjson"))
		if len(rows) != 3 {
			t.Errorf("%d rows in events.ndjson, want 3 (sent, delivered, bounced):\n%s", len(rows), strings.Join(rows, "\n"))
		}
		acts := fileLines(t, filepath.Join(dir, "actions.ndjson"))
		if len(acts) != 1 || !strings.Contains(acts[0], "identify") {
			t.Errorf("%d Track calls in actions.ndjson, want the bounce's one identify:\n%s", len(acts), strings.Join(acts, "\n"))
		}
		r := run(t, nil, "report", "--data-dir", dir, "--by", "day", "--format", "csv")
		if r.code != 0 {
			t.Fatalf("report: exit %d\n%s", r.code, r.stderr)
		}
		recs, err := csv.NewReader(strings.NewReader(r.stdout)).ReadAll()
		if err != nil || len(recs) != 3 {
			t.Fatalf("report: %v\n%s", err, r.stdout)
		}
		for i, col := range recs[0] {
			if (col == "sent" || col == "delivered" || col == "bounced") && recs[1][i] != "1" {
				t.Errorf("report: %s = %s, want 1", col, recs[1][i])
			}
		}
	}

	t.Run("backfill then dev", func(t *testing.T) {
		dir := t.TempDir()
		backfillRun(t, dir)
		webhooks(t, dir)
		check(t, dir)
	})
	t.Run("dev then backfill", func(t *testing.T) {
		dir := t.TempDir()
		webhooks(t, dir)
		backfillRun(t, dir, "--catch-up-actions")
		check(t, dir)
	})
	t.Run("backfill without actions, catch-up, then dev", func(t *testing.T) {
		dir := t.TempDir()
		if r := run(t, []string{"CIO_APP_API_KEY=" + appKey}, "backfill", "--data-dir", dir, "--app-api-url", fake.URL(),
			"--since", "2026-01-01", "--until", "2026-01-10"); r.code != 0 {
			t.Fatalf("backfill: exit %d\n%s", r.code, r.stderr)
		}
		backfillRun(t, dir, "--catch-up-actions")
		backfillRun(t, dir, "--catch-up-actions")
		webhooks(t, dir)
		check(t, dir)
	})
}

// Without Track credentials --apply-actions is a usage error naming them.
func TestBackfillApplyActionsNeedsCredentials(t *testing.T) {
	r := run(t, []string{"CIO_APP_API_KEY=k", "GOOGLE_CLOUD_PROJECT=p", "CIO_SITE_ID=s", "CIO_TRACK_API_KEY=t"},
		"backfill", "--since", "2026-01-01", "--apply-actions", "--workspace", "shop")
	if r.code != 2 || !strings.Contains(r.stderr, "CIO_WORKSPACE_CREDENTIALS") {
		t.Fatalf("exit %d, want 2 naming CIO_WORKSPACE_CREDENTIALS:\n%s", r.code, r.stderr)
	}
}

func fileLines(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimSpace(string(b)), "\n")
}
