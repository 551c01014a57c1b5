package backfill_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/firestore"

	"github.com/cioevents/cioevents/cmd/cioevents/internal/appapi"
	"github.com/cioevents/cioevents/cmd/cioevents/internal/appapi/appapifake"
	"github.com/cioevents/cioevents/cmd/cioevents/internal/backfill"
	"github.com/cioevents/cioevents/shared/actions"
	"github.com/cioevents/cioevents/shared/actions/trackfake"
	"github.com/cioevents/cioevents/shared/config"
	"github.com/cioevents/cioevents/shared/event"
	"github.com/cioevents/cioevents/shared/ledger"
	"github.com/cioevents/cioevents/shared/pipeline"
	"github.com/cioevents/cioevents/shared/warehouse"
	"github.com/cioevents/cioevents/shared/warehouse/bqfake"
	"github.com/cioevents/cioevents/shared/webhook"
)

// identityRig is one deployment: BigQuery (the fake), the Firestore
// emulator's ledger, the Track fake, the processor function's processor for
// webhooks and the backfill command's environment, sharing all of them.
type identityRig struct {
	fake    *appapifake.Server
	ds      []appapifake.Delivery
	bq      *bqfake.Server
	track   *trackfake.Server
	env     backfill.Env
	proc    *pipeline.Processor
	policy  actions.Policy
	hooks   []pipeline.Message // one webhook per pair
	expCall int                // Track calls one round of every pair's actions makes
}

func newIdentityRig(t *testing.T, seed uint64) *identityRig {
	t.Helper()
	r := &identityRig{}
	r.fake, r.ds = newFake(t, 40, seed)
	bq, bqOpts, w := newBigQuery(t)
	r.bq = bq
	r.track = trackfake.New("site", "key")
	t.Cleanup(r.track.Close)
	coll := fmt.Sprintf("identity_%d", time.Now().UnixNano())
	vars := map[string]string{
		backfill.EnvAppAPIKey: appKey, "GOOGLE_CLOUD_PROJECT": "proj", "LEDGER_COLLECTION": coll,
		"FIRESTORE_EMULATOR_HOST": os.Getenv("FIRESTORE_EMULATOR_HOST"),
		"CIO_SITE_ID":             "site", "CIO_TRACK_API_KEY": "key", "CIO_RATE_LIMIT": "100",
	}
	getenv := func(k string) string { return vars[k] }
	r.env = backfill.Env{TrackURL: r.track.URL(), BigQueryOptions: bqOpts, Getenv: getenv}

	cfg, err := config.LoadProcessor(getenv)
	if err != nil {
		t.Fatal(err)
	}
	if r.policy, err = actions.ParsePolicy(cfg.Actions, cfg.AllowSuppress); err != nil {
		t.Fatal(err)
	}
	client, err := actions.NewTrack(actions.TrackConfig{SiteID: "site", APIKey: "key", BaseURL: r.track.URL(), RateLimit: 100})
	if err != nil {
		t.Fatal(err)
	}
	fs, err := firestore.NewClient(context.Background(), "proj")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { fs.Close() })
	r.proc = &pipeline.Processor{Ledger: ledger.NewFirestore(fs, coll, cfg.LedgerLease), Warehouse: w,
		Actions: client, Policy: r.policy, TTL: cfg.LedgerTTL}

	// The webhooks of every pair the App API lists: the same delivery,
	// metric, time and person, under Customer.io's own event_id.
	for _, d := range r.ds {
		b, _ := json.Marshal(d)
		var m appapi.Message
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatal(err)
		}
		m.Raw = nil
		cands, err := backfill.Candidates(&m)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range cands {
			var body map[string]any
			if err := json.Unmarshal(c.Body, &body); err != nil {
				t.Fatal(err)
			}
			id := fmt.Sprintf("01WEBHOOK%017d", len(r.hooks))
			body["event_id"] = id
			delete(body, "app_api_delivery")
			raw, _ := json.Marshal(body)
			ev, err := event.Parse(raw)
			if err != nil {
				t.Fatal(err)
			}
			r.expCall += len(r.policy.Plan(ev))
			r.hooks = append(r.hooks, pipeline.Message{ID: "m-" + id, Data: raw, Attributes: map[string]string{
				webhook.AttrEventID: id, webhook.AttrObjectType: c.ObjectType, webhook.AttrMetric: c.Metric,
				webhook.AttrReceivedAt: clock().Format(time.RFC3339Nano)}})
		}
	}
	if r.expCall == 0 {
		t.Fatal("no pair the default policy acts on; pick another seed")
	}
	// One row of another delivery: the table a deployment has (the fake
	// cannot answer a reconciliation query that finds no row).
	ev, err := event.Parse([]byte(fmt.Sprintf(`{"event_id":"01OTHER","object_type":"email","metric":"sent","timestamp":%d,"data":{"delivery_id":"other"}}`,
		from.Add(time.Hour).Unix())))
	if err != nil {
		t.Fatal(err)
	}
	if err := w.InsertEvent(context.Background(), warehouse.FromEvent(ev, clock(), nil, "m")); err != nil {
		t.Fatal(err)
	}
	return r
}

// webhooks delivers every webhook, each until Pub/Sub would ack it.
func (r *identityRig) webhooks(t *testing.T, workers int) {
	t.Helper()
	next := make(chan pipeline.Message)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for m := range next {
				for attempt := 0; ; attempt++ {
					_, err := r.proc.Process(context.Background(), m)
					if err == nil {
						break
					}
					if attempt > 200 {
						t.Errorf("webhook %s: %v", m.ID, err)
						break
					}
					time.Sleep(20 * time.Millisecond) // a busy event: redelivered later
				}
			}
		})
	}
	for _, m := range r.hooks {
		next <- m
	}
	close(next)
	wg.Wait()
}

func (r *identityRig) backfill(t *testing.T, args ...string) string {
	t.Helper()
	res := run(context.Background(), r.fake, r.env, append(append([]string{"--checkpoint", t.TempDir() + "/cp.json"}, args...), span...)...)
	if res.err != nil {
		t.Fatalf("backfill %v: %v\n%s", args, res.err, res.stderr)
	}
	return res.stdout
}

// check: one row per (delivery, metric) and one round of actions.
func (r *identityRig) check(t *testing.T, when string) {
	t.Helper()
	want := wantPairs(r.ds)
	got := map[string]int{}
	for _, row := range r.bq.Rows("cioevents.events") {
		if row["delivery_id"] != "other" {
			got[pair(row["delivery_id"].(string), row["metric"].(string))]++
		}
	}
	for p := range want {
		if got[p] != 1 {
			t.Errorf("%s: %s has %d rows, want 1", when, p, got[p])
		}
	}
	if len(got) != len(want) {
		t.Errorf("%s: rows of %d pairs, want %d", when, len(got), len(want))
	}
	if n := len(r.track.Calls()); n != r.expCall {
		t.Errorf("%s: %d Track calls, want %d (one round per pair)", when, n, r.expCall)
	}
}

func TestWebhookThenBackfill(t *testing.T) {
	r := newIdentityRig(t, 31)
	r.webhooks(t, 4)
	r.check(t, "webhooks")
	out := r.backfill(t, "--apply-actions", "--catch-up-actions")
	r.check(t, "then backfill")
	if !strings.Contains(out, " 0 added") {
		t.Errorf("backfill after the webhooks: %s", out)
	}
}

func TestBackfillThenWebhook(t *testing.T) {
	r := newIdentityRig(t, 31)
	r.backfill(t, "--apply-actions")
	r.check(t, "backfill")
	r.webhooks(t, 4)
	r.check(t, "then webhooks")
	for _, row := range r.bq.Rows("cioevents.events") {
		if row["delivery_id"] != "other" && row["source"] != warehouse.SourceBackfill {
			t.Fatalf("a row from %v: the first source's row stands", row["source"])
		}
	}
}

// A backfill that stored pairs without acting leaves their actions to the
// first source that acts: the late webhook here.
func TestBackfillWithoutActionsThenWebhook(t *testing.T) {
	r := newIdentityRig(t, 31)
	r.backfill(t)
	if n := len(r.track.Calls()); n != 0 {
		t.Fatalf("%d Track calls without --apply-actions", n)
	}
	r.webhooks(t, 4)
	r.check(t, "then webhooks")
}

// Pairs stored without their actions get them from an explicit rerun, once.
func TestCatchUpActions(t *testing.T) {
	r := newIdentityRig(t, 31)
	r.backfill(t)
	if out := r.backfill(t, "--apply-actions"); len(r.track.Calls()) != 0 {
		t.Fatalf("a plain rerun acted on stored pairs: %s", out)
	}
	out := r.backfill(t, "--apply-actions", "--catch-up-actions")
	r.check(t, "catch-up")
	r.backfill(t, "--apply-actions", "--catch-up-actions")
	r.check(t, "second catch-up")
	r.webhooks(t, 2)
	r.check(t, "then webhooks")
	_ = out
}

// Both sources at once: the backfill run and every webhook race for the
// same pairs. BigQuery's insert-ID dedupe (the fake's window) stands for
// the production table; the ledger alone keeps the actions to one round.
func TestBothSourcesAtOnce(t *testing.T) {
	r := newIdentityRig(t, 31)
	r.bq.DedupeWindow = time.Hour
	var wg sync.WaitGroup
	var res result
	wg.Go(func() {
		res = run(context.Background(), r.fake, r.env, append([]string{"--checkpoint", t.TempDir() + "/cp.json",
			"--apply-actions", "--concurrency", "8"}, span...)...)
	})
	wg.Go(func() { r.webhooks(t, 8) })
	wg.Wait()
	if res.err != nil {
		t.Fatalf("backfill: %v\n%s", res.err, res.stderr)
	}
	r.check(t, "both at once")
}

// --apply-actions for a workspace without Track credentials is refused
// (the CLI exits 2) and names what to set, instead of a quiet dry run that
// stored the pairs as done and never acted.
func TestApplyActionsWithoutCredentials(t *testing.T) {
	r := newIdentityRig(t, 31)
	res := run(context.Background(), r.fake, r.env, append([]string{"--checkpoint", t.TempDir() + "/cp.json",
		"--apply-actions", "--workspace", "shop"}, span...)...)
	if !errors.Is(res.err, backfill.ErrUsage) || !strings.Contains(res.err.Error(), "CIO_WORKSPACE_CREDENTIALS") {
		t.Fatalf("err = %v, want a usage error naming CIO_WORKSPACE_CREDENTIALS", res.err)
	}
	if n := len(r.bq.Rows("cioevents.events")); n != 1 {
		t.Errorf("%d rows stored by a refused run", n-1)
	}
}
