package backfill_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cioevents/cioevents/cmd/cioevents/internal/appapi/appapifake"
	"github.com/cioevents/cioevents/cmd/cioevents/internal/backfill"
	"github.com/cioevents/cioevents/cmd/cioevents/internal/devstack"
	"github.com/cioevents/cioevents/shared/signature"
	"github.com/cioevents/cioevents/shared/warehouse"
)

const appKey = "app-api-key"

var (
	from  = time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC)
	to    = time.Date(2025, 12, 1, 0, 0, 0, 0, time.UTC) // two App API windows
	clock = func() time.Time { return time.Date(2026, 1, 10, 12, 0, 0, 0, time.UTC) }
	span  = []string{"--since", "2025-03-01", "--until", "2025-11-30"}
)

func newFake(t testing.TB, n int, seed uint64) (*appapifake.Server, []appapifake.Delivery) {
	t.Helper()
	fake := appapifake.New(appKey)
	t.Cleanup(fake.Close)
	ds := appapifake.Generate(n, seed, from, to)
	fake.Add(ds...)
	return fake, ds
}

// pair is (delivery_id, metric) as text, for readable failures.
func pair(delivery, metric string) string { return delivery + " " + metric }

// wantPairs is every (delivery, metric time) the deliveries hold.
func wantPairs(ds []appapifake.Delivery) map[string]appapifake.Delivery {
	out := map[string]appapifake.Delivery{}
	for _, d := range ds {
		for m := range d.Metrics {
			if slices.Contains(backfill.Metrics, m) {
				out[pair(d.ID, m)] = d
			}
		}
	}
	return out
}

type result struct {
	stdout, stderr string
	err            error
}

func run(ctx context.Context, fake *appapifake.Server, env backfill.Env, args ...string) result {
	var out, errOut bytes.Buffer
	env.Stdout, env.Stderr = &out, &errOut
	if env.Getenv == nil {
		env.Getenv = func(k string) string {
			if k == backfill.EnvAppAPIKey {
				return appKey
			}
			return ""
		}
	}
	if env.Now == nil {
		env.Now = clock
	}
	if env.HTTPClient == nil {
		args = append([]string{"--app-api-url", fake.URL()}, args...)
	}
	err := backfill.Command(ctx, args, env)
	return result{out.String(), errOut.String(), err}
}

func readRows(t *testing.T, dir string) ([]warehouse.Row, []byte) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, warehouse.EventsFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		t.Fatal(err)
	}
	var rows []warehouse.Row
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var r warehouse.Row
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatal(err)
		}
		rows = append(rows, r)
	}
	return rows, b
}

// storeWebhooks runs `cioevents dev` on dir and posts signed webhooks for
// some metrics of every fourth delivery, as Customer.io would have before
// an outage. It returns the pairs stored.
func storeWebhooks(t *testing.T, dir string, ds []appapifake.Delivery) map[string]bool {
	t.Helper()
	key := []byte("dev-signing-key")
	s, err := devstack.Start(context.Background(), devstack.Options{Addr: "127.0.0.1:0", DataDir: dir,
		Keys: [][]byte{key}, Getenv: func(string) string { return "" }})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	sent := map[string]bool{}
	for i, d := range ds {
		if i%4 != 0 {
			continue
		}
		for _, m := range backfill.Metrics {
			ts, ok := d.Metrics[m]
			if !ok || m == "clicked" { // clicks are what this outage lost
				continue
			}
			body := fmt.Sprintf(`{"event_id":"01WEBHOOK%017d","object_type":%q,"metric":%q,"timestamp":%d,`+
				`"data":{"delivery_id":%q,"identifiers":{"id":%q}}}`, len(sent), backfill.ObjectType(d.Type), m, ts,
				d.ID, *d.CustomerID)
			req, _ := signature.NewRequest(context.Background(), s.URL, key, time.Now(), []byte(body))
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("webhook answered %d", resp.StatusCode)
			}
			sent[pair(d.ID, m)] = true
		}
	}
	// The processor consumes asynchronously; wait for every row.
	for deadline := time.Now().Add(2 * time.Minute); ; {
		if rows, _ := readRows(t, dir); len(rows) == len(sent) {
			break
		}
		if time.Now().After(deadline) {
			rows, _ := readRows(t, dir)
			t.Fatalf("dev stored %d of %d webhooks", len(rows), len(sent))
		}
		time.Sleep(50 * time.Millisecond)
	}
	return sent
}

// totals reads the "total" line of the dry-run table.
func totals(t *testing.T, out string) (cio, wh, missing int) {
	t.Helper()
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) == 4 && f[0] == "total" {
			cio, _ = strconv.Atoi(f[1])
			wh, _ = strconv.Atoi(f[2])
			missing, _ = strconv.Atoi(f[3])
			return
		}
	}
	t.Fatalf("no total line in:\n%s", out)
	return
}

func TestBackfillAddsExactlyWhatWebhooksMissed(t *testing.T) {
	fake, ds := newFake(t, 1500, 11)
	want := wantPairs(ds)
	dir := t.TempDir()
	webhooks := storeWebhooks(t, dir, ds)
	_, before := readRows(t, dir)

	// --dry-run: the reconciliation, and nothing written.
	r := run(context.Background(), fake, backfill.Env{}, append([]string{"--dry-run", "--data-dir", dir}, span...)...)
	if r.err != nil {
		t.Fatalf("dry run: %v\n%s", r.err, r.stderr)
	}
	cio, wh, missing := totals(t, r.stdout)
	if cio != len(want) || wh != len(webhooks) || missing != len(want)-len(webhooks) {
		t.Errorf("dry run totals %d/%d/%d, want %d/%d/%d", cio, wh, missing, len(want), len(webhooks), len(want)-len(webhooks))
	}
	// One line checked against the deliveries themselves.
	var d0 appapifake.Delivery
	for _, d := range ds[4:] {
		if d.Type == "email" && d.Metrics["sent"] != 0 {
			d0 = d
			break
		}
	}
	day := time.Unix(d0.Metrics["sent"], 0).UTC().Format(time.DateOnly)
	var dayCIO, dayWH int
	for p, d := range want {
		if d.Type == "email" && strings.HasSuffix(p, " sent") && time.Unix(d.Metrics["sent"], 0).UTC().Format(time.DateOnly) == day {
			dayCIO++
			if webhooks[p] {
				dayWH++
			}
		}
	}
	wantLine := fmt.Sprintf("%s email sent %d %d %d", day, dayCIO, dayWH, dayCIO-dayWH)
	if !slices.ContainsFunc(strings.Split(r.stdout, "\n"), func(l string) bool { return strings.Join(strings.Fields(l), " ") == wantLine }) {
		t.Errorf("dry run has no line %q:\n%.2000s", wantLine, r.stdout)
	}
	if !strings.Contains(r.stderr, `"severity":"WARNING","message":"backfill reconciliation: events missing from the warehouse"`) ||
		!strings.Contains(r.stderr, fmt.Sprintf(`"missing":%d`, missing)) {
		t.Errorf("no warning log line for the gap:\n%s", r.stderr)
	}
	if _, after := readRows(t, dir); !bytes.Equal(before, after) {
		t.Error("the dry run wrote rows")
	}
	if _, err := os.Stat(filepath.Join(dir, backfill.CheckpointFile)); !errors.Is(err, os.ErrNotExist) {
		t.Error("the dry run left a checkpoint")
	}

	// The backfill adds exactly the missing pairs.
	r = run(context.Background(), fake, backfill.Env{}, append([]string{"--data-dir", dir}, span...)...)
	if r.err != nil {
		t.Fatalf("backfill: %v\n%s", r.err, r.stderr)
	}
	if !strings.Contains(r.stderr, "backfill: done") {
		t.Errorf("no progress line on stderr:\n%s", r.stderr)
	}
	rows, first := readRows(t, dir)
	got := map[string]int{}
	types := map[string]bool{}
	for _, row := range rows {
		p := pair(*row.DeliveryID, row.Metric)
		got[p]++
		types[row.ObjectType] = true
		src := *row.Source
		if webhooks[p] != (src == warehouse.SourceWebhook) || (src != warehouse.SourceWebhook && src != warehouse.SourceBackfill) {
			t.Errorf("%s: source %s, webhook-stored %v", p, src, webhooks[p])
		}
	}
	for p := range want {
		if got[p] != 1 {
			t.Errorf("%s: %d rows, want 1", p, got[p])
		}
	}
	if len(rows) != len(want) {
		t.Errorf("%d rows, want %d", len(rows), len(want))
	}
	for _, ot := range []string{"email", "sms", "push", "webhook", "slack", "whatsapp", "in_app", "live_notification"} {
		if !types[ot] {
			t.Errorf("no %s row (types %v)", ot, types)
		}
	}
	if !strings.Contains(r.stdout, fmt.Sprintf("%d added", len(want)-len(webhooks))) {
		t.Errorf("summary: %s", r.stdout)
	}

	// A second run adds nothing.
	calls := len(fake.Calls())
	r = run(context.Background(), fake, backfill.Env{}, append([]string{"--data-dir", dir}, span...)...)
	if r.err != nil {
		t.Fatal(r.err)
	}
	if _, second := readRows(t, dir); !bytes.Equal(first, second) {
		t.Error("the second run changed the rows")
	}
	if !strings.Contains(r.stdout, " 0 added") {
		t.Errorf("second run: %s", r.stdout)
	}
	t.Logf("%d App API requests a run for %d deliveries", len(fake.Calls())-calls, len(ds))
}

func TestBackfilledRowCarriesTheDelivery(t *testing.T) {
	fake := appapifake.New(appKey)
	defer fake.Close()
	str := func(s string) *string { return &s }
	num := func(n int64) *int64 { return &n }
	created := time.Date(2025, 6, 1, 10, 0, 0, 0, time.UTC).Unix()
	fake.Add(appapifake.Delivery{
		ID: "dgOq6QWq6QUBAAF4_CGoeVX7mFkDbRFu7ek=", Type: "twilio", Created: created,
		CustomerID:          str("42"),
		CustomerIdentifiers: &appapifake.Identifiers{ID: str("42"), Email: str("p@example.com"), CioID: "a3000001"},
		Recipient:           str("+15550001111"), FailureMessage: str("carrier rejected"),
		CampaignID: num(5), ActionID: num(96), ParentActionID: num(95), TriggerEventID: str("01TRIGGER"),
		Metrics: map[string]int64{"created": created, "sent": created + 5, "failed": created + 9, "human_clicked": 1},
	}, appapifake.Delivery{
		ID: "nl-1", Type: "email", Created: created, Subject: str("Hello"), NewsletterID: num(10), ContentID: num(2),
		BroadcastID: nil, Metrics: map[string]int64{"sent": created},
	}, appapifake.Delivery{
		// A metric time BigQuery cannot hold: quarantined, not dropped.
		ID: "odd-1", Type: "push", Created: created, Metrics: map[string]int64{"sent": 253402300800},
	})
	dir := t.TempDir()
	r := run(context.Background(), fake, backfill.Env{}, append([]string{"--data-dir", dir}, span...)...)
	if r.err != nil {
		t.Fatal(r.err)
	}
	if !strings.Contains(r.stdout, "1 rejected") {
		t.Errorf("summary: %s", r.stdout)
	}
	rejected, err := os.ReadFile(filepath.Join(dir, warehouse.RejectedFile))
	if err != nil || !bytes.Contains(rejected, []byte(backfill.EventID("odd-1", "sent"))) || !bytes.Contains(rejected, []byte("row_invalid")) {
		t.Errorf("rejected.ndjson: %s %v", rejected, err)
	}
	rows, _ := readRows(t, dir)
	byPair := map[string]warehouse.Row{}
	for _, r := range rows {
		byPair[pair(*r.DeliveryID, r.Metric)] = r
	}
	if len(rows) != 3 {
		t.Fatalf("%d rows, want sent+failed of the SMS and sent of the email: %v", len(rows), byPair)
	}
	failed := byPair[pair("dgOq6QWq6QUBAAF4_CGoeVX7mFkDbRFu7ek=", "failed")]
	checks := []struct {
		name      string
		got, want any
	}{
		{"object_type", failed.ObjectType, "sms"},
		{"event_id", failed.EventID, backfill.EventID("dgOq6QWq6QUBAAF4_CGoeVX7mFkDbRFu7ek=", "failed")},
		{"event_time", failed.EventTime.Unix(), created + 9},
		{"received_at", failed.ReceivedAt, clock()},
		{"known_pair", failed.KnownPair, true},
		{"person_id", *failed.PersonID, "42"},
		{"customer_id", *failed.CustomerID, "42"},
		{"cio_id", *failed.CioID, "a3000001"},
		{"email", *failed.Email, "p@example.com"},
		{"recipient", *failed.Recipient, "+15550001111"},
		{"failure_message", *failed.FailureMessage, "carrier rejected"},
		{"campaign_id", *failed.CampaignID, int64(5)},
		{"action_id", *failed.ActionID, int64(96)},
		{"parent_action_id", *failed.ParentActionID, int64(95)},
		{"trigger_event_id", *failed.TriggerEventID, "01TRIGGER"},
		{"newsletter_id", failed.NewsletterID == nil, true},
		{"source", *failed.Source, warehouse.SourceBackfill},
		{"workspace", *failed.Workspace, "default"},
		{"message_id", failed.MessageID == nil, true},
		{"sent has no failure_message", byPair[pair("dgOq6QWq6QUBAAF4_CGoeVX7mFkDbRFu7ek=", "sent")].FailureMessage == nil, true},
		{"email newsletter_id", *byPair[pair("nl-1", "sent")].NewsletterID, int64(10)},
		{"email content_id", *byPair[pair("nl-1", "sent")].ContentID, int64(2)},
		{"email subject", *byPair[pair("nl-1", "sent")].Subject, "Hello"},
		{"email broadcast_id", byPair[pair("nl-1", "sent")].BroadcastID == nil, true},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
	var raw struct {
		Delivery map[string]any `json:"app_api_delivery"`
	}
	if err := json.Unmarshal(failed.Raw, &raw); err != nil || raw.Delivery["id"] != "dgOq6QWq6QUBAAF4_CGoeVX7mFkDbRFu7ek=" {
		t.Errorf("raw does not keep the delivery: %s", failed.Raw)
	}
}

func TestInterruptedBackfillResumesToTheSameRows(t *testing.T) {
	fake, _ := newFake(t, 2200, 12)
	full := t.TempDir()
	if r := run(context.Background(), fake, backfill.Env{}, append([]string{"--data-dir", full}, span...)...); r.err != nil {
		t.Fatal(r.err)
	}
	fullCalls := len(fake.Calls())
	wantRows, wantBytes := readRows(t, full)

	// Stop the run in the middle of a page, as Ctrl-C would.
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var rows atomic.Int64
	stop := func(point string) error {
		if point == "row" && rows.Add(1) == int64(len(wantRows)/2) {
			cancel()
		}
		return nil
	}
	r := run(ctx, fake, backfill.Env{Fault: stop}, append([]string{"--data-dir", dir}, span...)...)
	if !errors.Is(r.err, context.Canceled) {
		t.Fatalf("interrupted run: %v", r.err)
	}
	if _, err := os.Stat(filepath.Join(dir, backfill.CheckpointFile)); err != nil {
		t.Fatalf("no checkpoint after the interruption: %v", err)
	}
	partial, _ := readRows(t, dir)
	if len(partial) == 0 || len(partial) >= len(wantRows) {
		t.Fatalf("interrupted run stored %d of %d rows", len(partial), len(wantRows))
	}

	before := len(fake.Calls())
	r = run(context.Background(), fake, backfill.Env{}, append([]string{"--data-dir", dir}, span...)...)
	if r.err != nil {
		t.Fatal(r.err)
	}
	if !strings.Contains(r.stdout, "resumed from checkpoint") {
		t.Errorf("not resumed: %s", r.stdout)
	}
	if first := fake.Calls()[before]; !first.Query.Has("start") {
		t.Errorf("the resumed run began without the saved cursor: %v", first.Query)
	}
	resumedCalls := len(fake.Calls()) - before
	firstCalls := before - fullCalls
	if firstCalls+resumedCalls > fullCalls+1 {
		t.Errorf("interrupted+resumed made %d+%d requests, an uninterrupted run %d: pages were redone",
			firstCalls, resumedCalls, fullCalls)
	}
	if _, err := os.Stat(filepath.Join(dir, backfill.CheckpointFile)); !errors.Is(err, os.ErrNotExist) {
		t.Error("the finished run left its checkpoint")
	}
	_, gotBytes := readRows(t, dir)
	if !bytes.Equal(sortedLines(gotBytes), sortedLines(wantBytes)) {
		t.Errorf("resumed rows differ from an uninterrupted run's (%d vs %d bytes)", len(gotBytes), len(wantBytes))
	}

	// A checkpoint of another run is refused rather than misapplied.
	cp := filepath.Join(t.TempDir(), "cp.json")
	ctx, cancel = context.WithCancel(context.Background())
	defer cancel()
	rows.Store(0)
	run(ctx, fake, backfill.Env{Fault: stop}, append([]string{"--data-dir", t.TempDir(), "--checkpoint", cp}, span...)...)
	r = run(context.Background(), fake, backfill.Env{}, "--data-dir", t.TempDir(), "--checkpoint", cp, "--since", "2025-04-01")
	if !errors.Is(r.err, backfill.ErrCheckpointMismatch) {
		t.Errorf("foreign checkpoint: %v", r.err)
	}
}

func sortedLines(b []byte) []byte {
	lines := bytes.Split(bytes.TrimSpace(b), []byte("\n"))
	slices.SortFunc(lines, bytes.Compare)
	return bytes.Join(lines, []byte("\n"))
}

func TestEURegionRetriesAndTypeFilter(t *testing.T) {
	fake, ds := newFake(t, 400, 13)
	fake.SetRegion("eu")
	fake.FailNext(1, http.StatusTooManyRequests, "1")
	env := backfill.Env{HTTPClient: fake.Client(), Getenv: func(k string) string {
		return map[string]string{backfill.EnvAppAPIKey: appKey, "CIO_REGION": "eu"}[k]
	}}
	dir := t.TempDir()
	r := run(context.Background(), fake, env, append([]string{"--data-dir", dir, "--type", "sms"}, span...)...)
	if r.err != nil {
		t.Fatal(r.err)
	}
	var throttled int
	for _, c := range fake.Calls() {
		if c.Host != appapifake.HostEU {
			t.Errorf("request to %s, want %s", c.Host, appapifake.HostEU)
		}
		if c.Status == http.StatusTooManyRequests {
			throttled++
		}
		if c.Query.Get("type") != "twilio" {
			t.Errorf("type filter %q, want twilio", c.Query.Get("type"))
		}
	}
	if throttled != 1 {
		t.Errorf("%d throttled requests, want the one programmed", throttled)
	}
	var sms []appapifake.Delivery
	for _, d := range ds {
		if d.Type == "twilio" {
			sms = append(sms, d)
		}
	}
	if rows, _ := readRows(t, dir); len(rows) != len(wantPairs(sms)) {
		t.Errorf("%d rows, want %d (the SMS deliveries' pairs)", len(rows), len(wantPairs(sms)))
	}

	env.Getenv = func(k string) string {
		return map[string]string{backfill.EnvAppAPIKey: appKey, "CIO_REGION": "us"}[k]
	}
	if r := run(context.Background(), fake, env, append([]string{"--data-dir", t.TempDir()}, span...)...); r.err == nil {
		t.Error("a US-region run against an EU workspace succeeded")
	}
}

// Actions stay off unless asked for: a months-old bounce may have been
// fixed since, and suppressing or flagging the person now would be wrong.
func TestActionsOnlyWithApplyActions(t *testing.T) {
	fake, _ := newFake(t, 600, 14)
	actionsIn := func(dir string) int {
		b, err := os.ReadFile(filepath.Join(dir, "actions.ndjson"))
		if errors.Is(err, os.ErrNotExist) {
			return 0
		}
		if err != nil {
			t.Fatal(err)
		}
		return bytes.Count(b, []byte("\n"))
	}
	off, on := t.TempDir(), t.TempDir()
	if r := run(context.Background(), fake, backfill.Env{}, append([]string{"--data-dir", off}, span...)...); r.err != nil {
		t.Fatal(r.err)
	}
	if r := run(context.Background(), fake, backfill.Env{}, append([]string{"--data-dir", on, "--apply-actions"}, span...)...); r.err != nil {
		t.Fatal(r.err)
	}
	if n := actionsIn(off); n != 0 {
		t.Errorf("%d actions without --apply-actions", n)
	}
	if n := actionsIn(on); n == 0 {
		t.Error("no actions with --apply-actions (the default policy identifies on email opens, clicks, bounces)")
	}
}

// An App API key belongs to one workspace: --workspace labels the rows and
// picks the policy, and leaves the event IDs, so reconciliation and the
// ledger see the same pairs whichever workspace a run names.
func TestWorkspace(t *testing.T) {
	fake, ds := newFake(t, 300, 16)
	want := wantPairs(ds)
	plain, shop := t.TempDir(), t.TempDir()
	if r := run(context.Background(), fake, backfill.Env{}, append([]string{"--data-dir", plain}, span...)...); r.err != nil {
		t.Fatal(r.err)
	}
	if r := run(context.Background(), fake, backfill.Env{}, append([]string{"--data-dir", shop, "--workspace", "shop"}, span...)...); r.err != nil {
		t.Fatal(r.err)
	}
	plainRows, _ := readRows(t, plain)
	shopRows, _ := readRows(t, shop)
	ids := map[string]string{}
	for _, r := range plainRows {
		if *r.Workspace != "default" {
			t.Errorf("%s: workspace %s without --workspace, want default", r.EventID, *r.Workspace)
		}
		ids[r.EventID] = pair(*r.DeliveryID, r.Metric)
	}
	for _, r := range shopRows {
		p := pair(*r.DeliveryID, r.Metric)
		if *r.Workspace != "shop" {
			t.Errorf("%s: workspace %s, want shop", p, *r.Workspace)
		}
		if r.EventID != backfill.EventID(*r.DeliveryID, r.Metric) || ids[r.EventID] != p {
			t.Errorf("%s: event_id %s depends on the workspace", p, r.EventID)
		}
	}
	if len(shopRows) != len(want) || len(plainRows) != len(want) {
		t.Errorf("%d and %d rows, want %d", len(shopRows), len(plainRows), len(want))
	}
	// Another workspace's run over the same rows finds every pair stored.
	if r := run(context.Background(), fake, backfill.Env{}, append([]string{"--data-dir", shop, "--workspace", "b2b"}, span...)...); r.err != nil ||
		!strings.Contains(r.stdout, " 0 added") {
		t.Errorf("second run: %v %s", r.err, r.stdout)
	}

	// --apply-actions acts by the workspace's own policy (CIO_WORKSPACE_ACTIONS), else CIO_ACTIONS.
	env := backfill.Env{Getenv: func(k string) string {
		return map[string]string{backfill.EnvAppAPIKey: appKey, "CIO_WORKSPACE_ACTIONS": `{"shop":"none"}`}[k]
	}}
	for ws, wantActions := range map[string]bool{"shop": false, "b2b": true} {
		dir := t.TempDir()
		if r := run(context.Background(), fake, env, append([]string{"--data-dir", dir, "--workspace", ws, "--apply-actions"}, span...)...); r.err != nil {
			t.Fatal(r.err)
		}
		b, _ := os.ReadFile(filepath.Join(dir, "actions.ndjson"))
		if got := len(b) > 0; got != wantActions {
			t.Errorf("workspace %s: actions %v, want %v (policy none for shop only)", ws, got, wantActions)
		}
	}

	// A checkpoint of one workspace's run (stopped in its second window,
	// after the first saved it) does not resume another's.
	cp := filepath.Join(t.TempDir(), "cp.json")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var n atomic.Int64
	stop := func(point string) error {
		if point == "row" && n.Add(1) == int64(len(want)*3/4) {
			cancel()
		}
		return nil
	}
	dir := t.TempDir()
	if r := run(ctx, fake, backfill.Env{Fault: stop}, append([]string{"--data-dir", dir, "--checkpoint", cp, "--workspace", "shop"}, span...)...); !errors.Is(r.err, context.Canceled) {
		t.Fatalf("interrupted run: %v", r.err)
	}
	if _, err := os.Stat(cp); err != nil {
		t.Fatalf("no checkpoint after the interruption: %v", err)
	}
	r := run(context.Background(), fake, backfill.Env{}, append([]string{"--data-dir", dir, "--checkpoint", cp, "--workspace", "b2b"}, span...)...)
	if !errors.Is(r.err, backfill.ErrCheckpointMismatch) {
		t.Errorf("b2b run on shop's checkpoint: %v", r.err)
	}
}

func TestFlags(t *testing.T) {
	fake, _ := newFake(t, 1, 15)
	for _, args := range [][]string{
		{},
		{"--since", "yesterday"},
		{"--since", "2025-05-01", "--until", "2025-04-01"},
		{"--since", "30d", "--workspace", "Shop"},
		{"--since", "30d", "--workspace", ""},
		{"--since", "30d", "--workspace", "shop=key"},
	} {
		if r := run(context.Background(), fake, backfill.Env{}, append([]string{"--data-dir", t.TempDir()}, args...)...); r.err == nil {
			t.Errorf("%v accepted", args)
		}
	}
	r := run(context.Background(), fake, backfill.Env{Getenv: func(string) string { return "" }}, "--since", "30d", "--dry-run",
		"--data-dir", t.TempDir())
	if r.err == nil || !strings.Contains(r.err.Error(), backfill.EnvAppAPIKey) {
		t.Errorf("no App API key: %v", r.err)
	}
}

// A dry run prints its figures only when it finished: the zero table of a
// run the App API failed would read as "nothing is missing".
func TestDryRunPrintsNoResultWhenItFails(t *testing.T) {
	fake, _ := newFake(t, 20, 16)
	dir := t.TempDir()
	fake.FailNext(1, http.StatusBadRequest, "")
	r := run(context.Background(), fake, backfill.Env{}, "--since", "30d", "--dry-run", "--data-dir", dir)
	if r.err == nil || r.stdout != "" {
		t.Errorf("failed dry run: err %v, stdout %q; want an error and no result", r.err, r.stdout)
	}
	r = run(context.Background(), fake, backfill.Env{}, "--since", "30d", "--dry-run", "--data-dir", dir)
	if r.err != nil || !strings.Contains(r.stdout, "dry run: nothing was written") {
		t.Errorf("dry run: err %v, stdout %q; want the result", r.err, r.stdout)
	}
	if r := run(context.Background(), fake, backfill.Env{}, "--since", "30d", "--app-api-timeout", "0s"); r.err == nil ||
		!strings.Contains(r.err.Error(), "--app-api-timeout") {
		t.Errorf("--app-api-timeout 0s: %v", r.err)
	}
}
