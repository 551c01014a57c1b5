package forget

import (
	"context"
	"encoding/json"
	"errors"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/bigquery"
	"cloud.google.com/go/firestore"
	"google.golang.org/api/option"

	"github.com/cioevents/cioevents/cmd/cioevents/internal/secretstore"
	"github.com/cioevents/cioevents/cmd/cioevents/internal/secretstore/secretstorefake"
	"github.com/cioevents/cioevents/shared/event"
	"github.com/cioevents/cioevents/shared/ledger"
	"github.com/cioevents/cioevents/shared/pipeline"
	"github.com/cioevents/cioevents/shared/privacy"
	"github.com/cioevents/cioevents/shared/tombstone"
	"github.com/cioevents/cioevents/shared/warehouse"
	"github.com/cioevents/cioevents/shared/warehouse/bqfake"
)

// clock is one settable time for the writer, the fake and forget.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// warehouseFake is a BigQuery fake with the events and rejected_events
// tables, a writer through pol into it, and a client for forget.
type warehouseFake struct {
	bq     *bqfake.Server
	w      *privacy.Writer
	client *bigquery.Client
	opts   []option.ClientOption
	clk    *clock
}

func newWarehouse(t *testing.T, pol *privacy.Policy, buffer time.Duration, more ...map[string]bigquery.Schema) *warehouseFake {
	t.Helper()
	ctx := context.Background()
	clk := &clock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	tables := map[string]bigquery.Schema{"d.events": warehouse.EventsSchema(), "d.rejected_events": warehouse.RejectedSchema()}
	for _, m := range more {
		maps.Copy(tables, m)
	}
	bq := bqfake.New(tables)
	t.Cleanup(bq.Close)
	bq.Now, bq.StreamingBuffer = clk.now, buffer
	bq.RequirePartitionFilter("d.events", "event_time")
	opts := []option.ClientOption{option.WithEndpoint(bq.URL() + "/bigquery/v2/"), option.WithoutAuthentication()}
	w, err := warehouse.NewBigQuery(ctx, "p", "d", "events", "rejected_events", opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	w.Now = clk.now
	client, err := bigquery.NewClient(ctx, "p", opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	return &warehouseFake{bq: bq, w: &privacy.Writer{Next: w, Policy: pol}, client: client, opts: opts, clk: clk}
}

func (f *warehouseFake) forgetter() *BigQuery {
	return &BigQuery{Client: f.client, Project: "p", Dataset: "d", Tables: Tables("events", "rejected_events"), Now: f.clk.now}
}

// delivery adds a row to the deliveries model, as its MERGE does.
func (f *warehouseFake) delivery(t *testing.T, ws, id string) {
	t.Helper()
	if err := f.client.Dataset("d").Table("deliveries").Inserter().Put(context.Background(),
		mapSaver{"workspace": ws, "delivery_id": id, "domain": "example.com"}); err != nil {
		t.Fatal(err)
	}
}

func (f *warehouseFake) insert(t *testing.T, r warehouse.Row) {
	t.Helper()
	if err := f.w.InsertEvent(context.Background(), r); err != nil {
		t.Fatal(err)
	}
}

// cloudFixture holds, for jane@example.com: a row inserted long ago, a row
// from before inserted_at existed, a row received long ago but inserted a
// few minutes ago (a late dead-letter replay), an old and a recent
// rejected row; and one row of somebody else.
func cloudFixture(t *testing.T, pol *privacy.Policy, buffer time.Duration) (*warehouseFake, *BigQuery) {
	t.Helper()
	ctx := context.Background()
	f := newWarehouse(t, pol, buffer)
	row := func(id, email string, received time.Time) warehouse.Row {
		ev, err := event.Parse([]byte(`{"event_id":"` + id + `","object_type":"email","metric":"delivered","timestamp":` +
			"1772000000" + `,"data":{"identifiers":{"email":"` + email + `"}}}`))
		if err != nil {
			t.Fatal(err)
		}
		return warehouse.FromEvent(ev, received, nil, "")
	}
	received := f.clk.now().Add(-3 * time.Hour)
	f.insert(t, row("old", "jane@example.com", received))
	f.insert(t, row("other", "john@example.com", received))
	if err := f.w.InsertRejected(ctx, warehouse.NewRejected(received, "no_event_id", "",
		[]byte(`{"data":{"identifiers":{"email":"jane@example.com"}}}`), nil, "r-old")); err != nil {
		t.Fatal(err)
	}
	// Before inserted_at: a row streamed without the column.
	pre, _ := pol.Row(row("pre-column", "jane@example.com", received))
	b, _ := json.Marshal(pre)
	var m map[string]bigquery.Value
	json.Unmarshal(b, &m)
	delete(m, "inserted_at")
	m["raw"] = string(pre.Raw)
	if err := f.client.Dataset("d").Table("events").Inserter().Put(ctx, mapSaver(m)); err != nil {
		t.Fatal(err)
	}
	f.clk.add(100 * time.Minute)
	f.insert(t, row("replayed", "jane@example.com", received)) // received 3 h ago, inserted now
	if err := f.w.InsertRejected(ctx, warehouse.NewRejected(f.clk.now(), "not_object", "",
		[]byte(`["jane@example.com"]`), nil, "r-new")); err != nil {
		t.Fatal(err)
	}
	if err := f.w.InsertRejected(ctx, warehouse.NewRejected(f.clk.now(), "no_event_id", "",
		[]byte(`{"data":{"identifiers":{"email":"jane@example.com"},"x":1}}`), nil, "r-new2")); err != nil {
		t.Fatal(err)
	}
	f.clk.add(5 * time.Minute)
	return f, f.forgetter()
}

type mapSaver map[string]bigquery.Value

func (m mapSaver) Save() (map[string]bigquery.Value, string, error) { return m, "", nil }

func eventIDs(bq *bqfake.Server) []string {
	var out []string
	for _, r := range bq.Rows("d.events") {
		out = append(out, r["event_id"].(string))
	}
	return out
}

func seed(t *testing.T, r Request, pol *privacy.Policy) *Identity {
	t.Helper()
	if err := r.Validate(); err != nil {
		t.Fatal(err)
	}
	return Seed(r, pol)
}

// TestBigQueryForgetByInsertTime: rows are settled by when they were
// inserted, not received; a row from before inserted_at counts as settled;
// recent events and rejected rows are counted as pending.
func TestBigQueryForgetByInsertTime(t *testing.T) {
	for _, spec := range []string{"", "email=hash"} {
		t.Run("CIO_PII="+spec, func(t *testing.T) {
			pol, err := privacy.Parse(spec, key)
			if err != nil {
				t.Fatal(err)
			}
			f, b := cloudFixture(t, pol, 30*time.Minute)
			s := seed(t, Request{Emails: []string{"Jane@Example.com"}}, pol)
			keys, err := b.Gather(context.Background(), s, 0)
			if err != nil {
				t.Fatal(err)
			}
			if s.Rows != 3 || !slices.Contains(keys, "old") || !slices.Contains(keys, "replayed") || !slices.Contains(keys, "pre-column") {
				t.Errorf("gathered %d rows, keys %v", s.Rows, keys)
			}
			res, err := b.Remove(context.Background(), s, false)
			if err != nil {
				t.Fatal(err)
			}
			if res.Rows["events"] != 2 || res.Pending != 1 || res.Rejected != 1 || res.RejectedPending != 1 {
				t.Errorf("result %+v: want 2 events rows removed, 1 pending, 1 rejected row removed, 1 pending", res)
			}
			if got := strings.Join(eventIDs(f.bq), ","); got != "other,replayed" {
				t.Errorf("left %q, want other,replayed", got)
			}
		})
	}
}

// TestBigQueryForgetStreamingBufferRefusal: BigQuery may keep rows in the
// buffer longer than forget's cutoff assumes; the refused DELETE is counted
// as pending and forget carries on to the rejected rows.
func TestBigQueryForgetStreamingBufferRefusal(t *testing.T) {
	pol, _ := privacy.Parse("", nil)
	f, b := cloudFixture(t, pol, 4*time.Hour)
	res, err := b.Remove(context.Background(), seed(t, Request{Emails: []string{"jane@example.com"}}, pol), false)
	if err != nil {
		t.Fatalf("forget stopped at the streaming buffer: %v", err)
	}
	if res.Rows["events"] != 0 || res.Pending != 3 || res.RejectedPending != 2 || res.Rejected != 0 {
		t.Errorf("result %+v: want nothing removed, 3 events and 2 rejected rows pending", res)
	}
	if f.bq.DMLStatements() != 2 {
		t.Errorf("%d DELETEs run, want 2 (events, then rejected after the first was refused)", f.bq.DMLStatements())
	}
	if len(f.bq.Rows("d.events")) != 4 {
		t.Errorf("%d rows left, want all 4", len(f.bq.Rows("d.events")))
	}
}

// TestConditionUsesOnlyGivenIdentifiers: a column is matched only against
// identifiers there are (an empty list would match every NULL-free row),
// IDs only in their workspace, and one more table is one more entry.
func TestConditionUsesOnlyGivenIdentifiers(t *testing.T) {
	pol, _ := privacy.Parse("email=hash", key)
	s := seed(t, Request{Emails: []string{"jane@example.com"}}, pol)
	ts := append(Tables("events", "rejected_events"),
		Table{Name: "people_model", Time: "sent_at", Emails: []string{"email"}, IDs: []string{"person_id"}, Workspace: "workspace"})
	for _, tb := range ts {
		var ps params
		c := s.condition(tb, &ps)
		if strings.Contains(c, "customer_id") || strings.Contains(c, "cio_id") || strings.Contains(c, "workspace") {
			t.Errorf("%s: an identifier not given is matched: %s", tb.Name, c)
		}
	}
	if len(s.Idents()) != 2 || !s.Idents()[1].hashed() {
		t.Errorf("hashed address not looked for: %v", s.Idents())
	}
	s = seed(t, Request{IDs: []string{"42"}, Workspace: "eu"}, pol)
	var ps params
	if c := s.condition(ts[3], &ps); !strings.Contains(c, "workspace = @") || strings.Contains(c, "IS NULL") ||
		!strings.Contains(c, "TRIM(person_id) IN UNNEST(@") || len(ps) != 2 || ps[0].Value.([]string)[0] != "42" {
		t.Errorf("people_model: %s", c)
	}
}

// cloudPeople are the local people, each with a delivery, so that a row's
// identity key is not its event_id.
func cloudPeople(t *testing.T, f *warehouseFake) {
	t.Helper()
	for _, p := range people {
		r := p.row(t)
		r.ReceivedAt = f.clk.now().Add(-3 * time.Hour)
		f.insert(t, r)
	}
}

// ledgerFixture writes the ledger documents dev or the processor writes
// for each row — by identity key, and the actions record — and, for 01JA,
// one under its event_id from before the identity key; and the key
// fingerprint the processor writes beside the tombstones.
func ledgerFixture(t *testing.T, fs *firestore.Client, coll string, fp []byte) (docs map[string][]string) {
	t.Helper()
	ctx := context.Background()
	docs = map[string][]string{}
	for _, p := range people {
		r := p.row(t)
		ids := []string{ledger.DocID(r.Key()), ledger.DocID(pipeline.ActionsKey(r.Key()))}
		if p.id == "01JA" {
			ids = append(ids, ledger.LegacyDocID(r.EventID))
		}
		for _, id := range ids {
			if _, err := fs.Collection(coll).Doc(id).Set(ctx, map[string]any{"state": "done"}); err != nil {
				t.Fatal(err)
			}
		}
		docs[p.id] = ids
	}
	processorFingerprint(t, fs, coll, fp)
	return docs
}

type cloudRun struct {
	f      *warehouseFake
	fs     *firestore.Client
	coll   string
	sm     *secretstorefake.Server
	out    strings.Builder
	slept  []time.Duration
	during func()
	// sleepErr ends the settle wait early, as Ctrl-C would.
	sleepErr error
}

func newCloudRun(t *testing.T, fsOpts ...option.ClientOption) *cloudRun {
	t.Helper()
	ctx := context.Background()
	pol, _ := privacy.Parse("email=hash", key)
	c := &cloudRun{f: newWarehouse(t, pol, 30*time.Minute), coll: "ledger_" + strings.NewReplacer("/", "_", " ", "_").Replace(t.Name()) + "_" + strconv.FormatInt(time.Now().UnixNano(), 36)}
	fs, err := firestore.NewClient(ctx, "forget-cloud", fsOpts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { fs.Close() })
	c.fs = fs
	sm, err := secretstorefake.New()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sm.Close)
	c.sm = sm
	return c
}

func (c *cloudRun) run(ctx context.Context, fsOpts []option.ClientOption, args ...string) error {
	c.out.Reset()
	env := map[string]string{privacy.EnvPolicy: "email=hash", "LEDGER_COLLECTION": c.coll}
	return Command(ctx, append(args, "--project", "forget-cloud", "--dataset", "d"), Env{
		Stdout: &c.out, Getenv: func(k string) string { return env[k] }, Now: c.f.clk.now,
		BigQueryOptions: c.f.opts, FirestoreOptions: fsOpts,
		Secrets: cloudSecrets(c),
		Sleep: func(ctx context.Context, d time.Duration) error {
			c.slept = append(c.slept, d)
			if c.sleepErr != nil {
				return c.sleepErr
			}
			c.f.clk.add(d)
			if c.during != nil {
				c.during()
			}
			return nil
		}})
}

func cloudSecrets(c *cloudRun) func(ctx context.Context, project string) (secretstore.Store, error) {
	return func(ctx context.Context, project string) (secretstore.Store, error) {
		return secretstore.New(ctx, project, c.sm.ClientOptions()...)
	}
}

func (c *cloudRun) docsLeft(t *testing.T) (docs []string, stones int) {
	t.Helper()
	all, err := c.fs.Collection(c.coll).Documents(context.Background()).GetAll()
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range all {
		switch {
		case strings.HasPrefix(d.Ref.ID, "_forgotten_") || strings.HasPrefix(d.Ref.ID, "_seq_"):
			stones++
			b, _ := json.Marshal(d.Data())
			if strings.Contains(d.Ref.ID+string(b), "jane") || strings.Contains(d.Ref.ID+string(b), "u_9001") {
				t.Errorf("tombstone %s %s holds an identifier", d.Ref.ID, b)
			}
		case strings.HasPrefix(d.Ref.ID, "_"):
		default:
			docs = append(docs, d.Ref.ID)
		}
	}
	if stones == 0 {
		stones = countTombstones(t, c.fs, c.coll)
	}
	return docs, stones
}

// TestCommandCloud runs forget against BigQuery (the fake), Firestore (the
// emulator) and Secret Manager (the fake): the key comes from the
// processor's secret; the person is gathered from the rows; the ledger
// documents go by identity key and are counted; the settle wait runs the
// second sweep itself, which finds the ID-only event processed in the
// window; that row is still in the streaming buffer, so forget exits
// ErrRerun with the time, and the rerun then finishes.
func TestCommandCloud(t *testing.T) {
	ctx := context.Background()
	c := newCloudRun(t)
	c.sm.AddSecret("projects/forget-cloud/secrets/"+DefaultPIIKeySecret, key)
	cloudPeople(t, c.f)
	docs := ledgerFixture(t, c.fs, c.coll, key)
	c.f.clk.add(2 * time.Hour)
	c.during = func() {
		c.f.insert(t, person{id: "01JW", object: "sms", pid: "u_9001", recipient: "+15550100"}.row(t))
	}
	err := c.run(ctx, nil, "--email", "jane@example.com")
	if !errors.Is(err, ErrRerun) {
		t.Fatalf("forget: %v, want ErrRerun (a row of the window is in the streaming buffer)\n%s", err, c.out.String())
	}
	out := c.out.String()
	for _, want := range []string{"id e_77 (workspace eu)", "cio_id c_1 (workspace default)",
		"removed 4 events rows, 0 rejected_events rows, 9 ledger documents; 5 tombstones",
		"1 events rows and 0 rejected rows were inserted in the last 1h30m0s",
		"run forget again after 2026-03-01 15:32:00 UTC"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if !slices.Equal(c.slept, []time.Duration{SettleWait}) {
		t.Errorf("slept %v, want one settle wait", c.slept)
	}
	if got := strings.Join(eventIDs(c.f.bq), ","); got != "01JD,01JE,01JG,01JW" {
		t.Errorf("rows left %s", got)
	}
	left, stones := c.docsLeft(t)
	want := slices.Concat(docs["01JD"], docs["01JE"], docs["01JG"])
	slices.Sort(left)
	slices.Sort(want)
	// Four identifiers and her address's stored hash (email=hash).
	if !slices.Equal(left, want) || stones != 5 {
		t.Errorf("ledger left %v (want %v), %d tombstones (want 5)", left, want, stones)
	}
	// The rerun, as printed: one command line per workspace.
	var reruns [][]string
	for _, l := range strings.Split(out, "\n") {
		if a, ok := strings.CutPrefix(l, "  cioevents forget "); ok {
			f := strings.Fields(a)
			reruns = append(reruns, f[:len(f)-4]) // less --project, --dataset
		}
	}
	wantRuns := [][]string{{"--email", "jane@example.com", "--id", "u_9001", "--cio-id", "c_1"}, {"--id", "e_77", "--workspace", "eu"}}
	if !slices.EqualFunc(reruns, wantRuns, slices.Equal) {
		t.Fatalf("rerun lines %q, want %q", reruns, wantRuns)
	}
	c.during = nil
	c.f.clk.add(StreamingBuffer)
	for i, args := range reruns {
		if err := c.run(ctx, nil, args...); err != nil {
			t.Fatalf("rerun %d: %v\n%s", i, err, c.out.String())
		}
		if i == 1 && !strings.Contains(c.out.String(), "already forgotten") {
			t.Errorf("the rerun in eu: %s", c.out.String())
		}
	}
	if got := strings.Join(eventIDs(c.f.bq), ","); got != "01JD,01JE,01JG" {
		t.Errorf("rows left after the rerun %s", got)
	}
}

// TestCommandCloudRefuses: a key other than the processor's, no
// fingerprint, a request matching nothing, and --settle=false each give a
// clear answer and the right error.
func TestCommandCloudRefuses(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name       string
		secret, fp []byte
		args       []string
		err        error
		out        []string
		stones     int
		sleepErr   error
	}{
		{"another key in the secret", []byte("another-key-another-key-another-"), key, []string{"--email", "jane@example.com"}, ErrKey,
			[]string{"cioevents-pii-key"}, 0, nil},
		{"no fingerprint", key, nil, []string{"--email", "jane@example.com"}, ErrKey, []string{"no key fingerprint"}, 0, nil},
		{"the secret overridden", []byte("another-key-another-key-another-"), key, []string{"--email", "jane@example.com", "--pii-key-secret", "right", "--settle=false"},
			ErrRerun, []string{"run forget again after 2026-03-01 14:02:00 UTC"}, 5, nil},
		{"a typo", key, key, []string{"--email", "jnae@example.com"}, ErrNoMatch, []string{"--preemptive"}, 0, nil},
		{"pre-emptive", key, key, []string{"--email", "new@example.com", "--preemptive"}, nil, []string{"removed 0 events rows"}, 2, nil}, // the address, and as email=hash stores it
		{"dry run", key, key, []string{"--id", "u_9001", "--dry-run"}, nil, []string{"dry run: would remove 4 events rows, 0 rejected_events rows, 9 ledger documents"}, 0, nil},
		{"the settle wait interrupted", key, key, []string{"--email", "jane@example.com"}, ErrRerun, []string{"run forget again after 2026-03-01T14:02:00Z"}, 5, context.Canceled},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newCloudRun(t)
			c.sleepErr = tc.sleepErr
			c.sm.AddSecret("projects/forget-cloud/secrets/"+DefaultPIIKeySecret, tc.secret)
			c.sm.AddSecret("projects/forget-cloud/secrets/right", key)
			cloudPeople(t, c.f)
			ledgerFixture(t, c.fs, c.coll, tc.fp)
			c.f.clk.add(2 * time.Hour)
			err := c.run(ctx, nil, tc.args...)
			if tc.err == nil && err != nil || tc.err != nil && !errors.Is(err, tc.err) {
				t.Fatalf("err %v, want %v\n%s", err, tc.err, c.out.String())
			}
			for _, s := range tc.out {
				if !strings.Contains(c.out.String()+errString(err), s) {
					t.Errorf("output lacks %q:\n%s%v", s, c.out.String(), err)
				}
			}
			if _, n := c.docsLeft(t); n != tc.stones {
				t.Errorf("%d tombstones, want %d", n, tc.stones)
			}
		})
	}
}

// TestDefaultSecretIsTerraforms: forget's default secret is the one
// Terraform creates for the processor's CIO_PII_KEY under the default
// name_prefix, so an operator of a default deployment names nothing.
func TestDefaultSecretIsTerraforms(t *testing.T) {
	// The root's files, or a module's when the root is a thin wrapper.
	read := func(name string) string {
		root := filepath.Join("..", "..", "..", "..", "terraform")
		mods, _ := filepath.Glob(filepath.Join(root, "modules", "*", name))
		var all string
		for _, p := range append([]string{filepath.Join(root, name)}, mods...) {
			if b, err := os.ReadFile(p); err == nil {
				all += string(b)
			}
		}
		if all == "" {
			t.Fatalf("no %s in terraform/", name)
		}
		return all
	}
	secret := regexp.MustCompile(`(?s)resource "google_secret_manager_secret" "pii_key" \{.*?secret_id\s*=\s*"\$\{var\.name_prefix\}(-[a-z-]+)"`).
		FindStringSubmatch(read("secrets.tf"))
	prefix := regexp.MustCompile(`(?s)variable "name_prefix" \{.*?default\s*=\s*"([a-z0-9-]+)"`).FindStringSubmatch(read("variables.tf"))
	if secret == nil || prefix == nil || prefix[1]+secret[1] != DefaultPIIKeySecret {
		t.Errorf("terraform's PII key secret is %v under the default prefix %v; forget's default is %s", secret, prefix, DefaultPIIKeySecret)
	}
	if !strings.Contains(read("functions.tf"), "google_secret_manager_secret.pii_key") {
		t.Errorf("the processor no longer mounts google_secret_manager_secret.pii_key")
	}
}

// TestDeliveriesTableIsOneLine: a model that keeps no identifier of people
// (one row per workspace and delivery) is one more Table; forget removes
// the rows of the person's deliveries, in their workspace only. (The other
// tests' fakes have no deliveries table: an optional table is passed by.)
func TestDeliveriesTableIsOneLine(t *testing.T) {
	ctx := context.Background()
	pol, _ := privacy.Parse("email=hash", key)
	f := newWarehouse(t, pol, 30*time.Minute, map[string]bigquery.Schema{"d.deliveries": deliveriesSchema})
	cloudPeople(t, f)
	for _, d := range [][2]string{{"default", "d-01JA"}, {"default", "d-01JB"}, {"default", "d-01JD"}, {"eu", "d-01JE"},
		{"eu", "d-01JF"}, {"default", "d-01JF"}} {
		f.delivery(t, d[0], d[1])
	}
	f.clk.add(2 * time.Hour)
	b := f.forgetter()
	s := seed(t, Request{Emails: []string{"jane@example.com"}}, pol)
	if _, err := b.Gather(ctx, s, 0); err != nil {
		t.Fatal(err)
	}
	res, err := b.Remove(ctx, s, false)
	if err != nil {
		t.Fatal(err)
	}
	var left []string
	for _, r := range f.bq.Rows("d.deliveries") {
		left = append(left, r["workspace"].(string)+"/"+r["delivery_id"].(string))
	}
	if res.Rows["deliveries"] != 3 || strings.Join(left, ",") != "default/d-01JD,eu/d-01JE,default/d-01JF" {
		t.Errorf("removed %d deliveries rows, left %v; want 3 gone, and d-01JF of the default workspace kept", res.Rows["deliveries"], left)
	}
}

// TestCommandCloudHashedAddress: in the cloud, under email=hash, forget
// --id gathers the person's address from BigQuery only as stored (its
// hash) and tombstones that form in Firestore; a processor's set, which
// matches each address of an event also as the policy stores it, then
// drops an event that names her by address alone.
func TestCommandCloudHashedAddress(t *testing.T) {
	ctx := context.Background()
	c := newCloudRun(t)
	c.sm.AddSecret("projects/forget-cloud/secrets/"+DefaultPIIKeySecret, key)
	cloudPeople(t, c.f)
	ledgerFixture(t, c.fs, c.coll, key)
	c.f.clk.add(2 * time.Hour)
	if err := c.run(ctx, nil, "--id", "u_9001"); err != nil {
		t.Fatalf("forget --id: %v\n%s", err, c.out.String())
	}
	out := c.out.String()
	if !strings.Contains(out, "email hmac:") || !strings.Contains(out, "tombstoned in that form") || strings.Contains(out, "--email") {
		t.Errorf("output, want her stored address tombstoned and no --email note:\n%s", out)
	}
	pol, err := privacy.Parse("email=hash", key)
	if err != nil {
		t.Fatal(err)
	}
	jane, err := event.Parse([]byte(`{"event_id":"01JX","object_type":"email","metric":"delivered","data":{"identifiers":{"email":"Jane@example.com"}}}`))
	if err != nil {
		t.Fatal(err)
	}
	sam, err := event.Parse([]byte(`{"event_id":"01JY","object_type":"email","metric":"delivered","data":{"identifiers":{"email":"sam@example.net"}}}`))
	if err != nil {
		t.Fatal(err)
	}
	store := ledger.NewFirestore(c.fs, c.coll, 0)
	for _, tc := range []struct {
		name string
		h    tombstone.Hasher
		want bool
	}{
		{"the processor's set (the policy's address form)", tombstone.NewHasher(key).WithAddressForm(pol), true},
		{"a set without the address form", tombstone.NewHasher(key), false},
	} {
		set := &tombstone.Set{Store: store, Hasher: tc.h}
		if err := set.Refresh(ctx); err != nil {
			t.Fatal(err)
		}
		if got := set.Forgotten("", jane); got != tc.want {
			t.Errorf("%s: her address-only event forgotten %v, want %v", tc.name, got, tc.want)
		}
		if set.Forgotten("", sam) {
			t.Errorf("%s: another person's event is forgotten", tc.name)
		}
	}
}
