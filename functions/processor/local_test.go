package processor

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/firestore"
	cloudevent "github.com/cloudevents/sdk-go/v2/event"

	"github.com/cioevents/cioevents/internal/testsupport/emulator"
	"github.com/cioevents/cioevents/shared/config"
	"github.com/cioevents/cioevents/shared/ledger"
	"github.com/cioevents/cioevents/shared/pipeline"
	"github.com/cioevents/cioevents/shared/privacy"
	"github.com/cioevents/cioevents/shared/tombstone"
	"github.com/cioevents/cioevents/shared/warehouse"
)

func TestMain(m *testing.M) { emulator.Main(m, emulator.Firestore) }

// TestLocalWarehouseDir: the processor as `cioevents serve` runs it locally
// (Firestore emulator, CIOEVENTS_WAREHOUSE_DIR) lands a delivered event as a
// row in the NDJSON file, once however often it is delivered.
func TestLocalWarehouseDir(t *testing.T) {
	dir := t.TempDir()
	env := map[string]string{
		config.EnvProject:      "cioevents-local-test",
		config.EnvWarehouseDir: dir,
		config.EnvDryRun:       "true",
		config.EnvLedgerColl:   fmt.Sprintf("local_%d", time.Now().UnixNano()),
		config.EnvLogLevel:     "error",
	}
	p, err := New(context.Background(), func(k string) string { return env[k] }, Overrides{})
	if err != nil {
		t.Fatal(err)
	}
	body, err := os.ReadFile("../../testdata/events/email.bounced.json")
	if err != nil {
		t.Fatal(err)
	}
	var id struct {
		EventID string `json:"event_id"`
	}
	if err := json.Unmarshal(body, &id); err != nil || id.EventID == "" {
		t.Fatalf("fixture has no event_id: %v", err)
	}
	data, _ := json.Marshal(map[string]any{"message": map[string]any{"data": body, "messageId": "m-1",
		"attributes": map[string]string{"event_id": id.EventID}}})
	e := cloudevent.New()
	e.SetID("ce-1")
	e.SetSource("//pubsub.googleapis.com/projects/cioevents-local-test/topics/cioevents-events")
	e.SetType("google.cloud.pubsub.topic.v1.messagePublished")
	e.SetTime(time.Now())
	if err := e.SetData("application/json", data); err != nil {
		t.Fatal(err)
	}
	// Deliver as Pub/Sub does: again after a retryable failure (a cold
	// emulator connection on a busy machine), then once more as a duplicate.
	for range 10 {
		if err = Handle(p)(context.Background(), e); err == nil {
			break
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	if err := Handle(p)(context.Background(), e); err != nil {
		t.Fatalf("redelivery: %v", err)
	}
	rows, err := os.ReadFile(filepath.Join(dir, warehouse.EventsFile))
	if err != nil {
		t.Fatal(err)
	}
	if n := bytes.Count(rows, []byte("\n")); n != 1 || !strings.Contains(string(rows), id.EventID) {
		t.Fatalf("%d rows, want the one for %s:\n%.300s", n, id.EventID, rows)
	}
}

// TestColdStartReadsTombstones: an instance reads the tombstones `forget`
// left before it processes anything, and picks up a new one at its next
// refresh: neither person's event becomes a row.
func TestColdStartReadsTombstones(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	coll := fmt.Sprintf("tomb_%d", time.Now().UnixNano())
	env := map[string]string{config.EnvProject: "cioevents-local-test", config.EnvWarehouseDir: dir, config.EnvDryRun: "true",
		config.EnvLedgerColl: coll, config.EnvLogLevel: "error", privacy.EnvKey: "0123456789abcdef0123456789abcdef"}
	fs, err := firestore.NewClient(ctx, "cioevents-local-test")
	if err != nil {
		t.Fatal(err)
	}
	defer fs.Close()
	store := ledger.NewFirestore(fs, coll, time.Minute)
	h := tombstone.NewHasher([]byte(env[privacy.EnvKey]))
	if err := store.PutTombstones(ctx, tombstone.New(h, tombstone.Person{Email: "jane@example.com"}, time.Now(), 0)); err != nil {
		t.Fatal(err)
	}
	p, err := New(ctx, func(k string) string { return env[k] }, Overrides{TombstoneRefresh: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	deliver := func(body string) string {
		t.Helper()
		var res pipeline.Result
		for range 10 { // a cold emulator connection on a busy machine
			if res, err = p.Process(ctx, pipeline.Message{ID: "m", Data: []byte(body), Attributes: map[string]string{}}); err == nil {
				break
			}
		}
		if err != nil {
			t.Fatal(err)
		}
		return res.Outcome
	}
	ev := func(id, email string) string {
		return `{"event_id":"` + id + `","object_type":"email","metric":"delivered","timestamp":1767225600,` +
			`"data":{"identifiers":{"email":"` + email + `"}}}`
	}
	if got := deliver(ev("01JCOLD000000000000000000A", "jane@example.com")); got != pipeline.OutcomeForgotten {
		t.Errorf("jane, forgotten before the start: %s", got)
	}
	if err := store.PutTombstones(ctx, tombstone.New(h, tombstone.Person{Email: "sam@example.net"}, time.Now(), 0)); err != nil {
		t.Fatal(err)
	}
	if err := p.Forgotten.(*tombstone.Set).Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if got := deliver(ev("01JCOLD000000000000000000B", "sam@example.net")); got != pipeline.OutcomeForgotten {
		t.Errorf("sam, forgotten after the start: %s", got)
	}
	if got := deliver(ev("01JCOLD000000000000000000C", "ann@example.org")); got != pipeline.OutcomeInserted {
		t.Errorf("ann: %s", got)
	}
	rows, _ := os.ReadFile(filepath.Join(dir, warehouse.EventsFile))
	if n := bytes.Count(rows, []byte("\n")); n != 1 || !strings.Contains(string(rows), "01JCOLD000000000000000000C") {
		t.Errorf("%d rows, want ann's only:\n%.300s", n, rows)
	}
}

// TestKeyFingerprint: an instance writes its CIO_PII_KEY's fingerprint
// beside the tombstones when it starts; one started with another key logs
// one ERROR line (counted by function_errors) and still processes, with its
// own key, and leaves the stored fingerprint as it was.
func TestKeyFingerprint(t *testing.T) {
	ctx := context.Background()
	coll := fmt.Sprintf("key_%d", time.Now().UnixNano())
	right := "the processor's key, 32 bytes..."
	env := func(key string) func(string) string {
		m := map[string]string{config.EnvProject: "cioevents-local-test", config.EnvWarehouseDir: t.TempDir(), config.EnvDryRun: "true",
			config.EnvLedgerColl: coll, config.EnvLogLevel: "info", privacy.EnvKey: key}
		return func(k string) string { return m[k] }
	}
	var logs bytes.Buffer
	if _, err := New(ctx, env(right), Overrides{TombstoneRefresh: time.Hour, LogOutput: &logs}); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(logs.String(), `"severity":"ERROR"`) {
		t.Errorf("the first instance logged an error:\n%s", logs.String())
	}
	fs, err := firestore.NewClient(ctx, "cioevents-local-test")
	if err != nil {
		t.Fatal(err)
	}
	defer fs.Close()
	store := ledger.NewFirestore(fs, coll, time.Minute)
	want := tombstone.NewHasher([]byte(right)).Fingerprint()
	if fp, err := tombstone.ReadFingerprint(ctx, store); err != nil || fp != want {
		t.Fatalf("stored fingerprint %q, %v; want %s", fp, err, want)
	}

	logs.Reset()
	p, err := New(ctx, env("another key"), Overrides{TombstoneRefresh: time.Hour, LogOutput: &logs})
	if err != nil {
		t.Fatalf("another key stopped the processor: %v", err)
	}
	var errs []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(l), &m) == nil && m["severity"] == "ERROR" {
			errs = append(errs, m)
		}
	}
	if len(errs) != 1 || errs[0]["cause"] != "pii_key_mismatch" || errs[0]["stored_fingerprint"] != want {
		t.Errorf("ERROR lines %v, want one key mismatch naming the stored fingerprint", errs)
	}
	res, err := p.Process(ctx, pipeline.Message{ID: "m", Attributes: map[string]string{},
		Data: []byte(`{"event_id":"01JKEY0000000000000000000A","object_type":"email","metric":"delivered","timestamp":1767225600,"data":{}}`)})
	if err != nil || res.Outcome != pipeline.OutcomeInserted {
		t.Errorf("after the mismatch: %+v, %v", res, err)
	}
	if fp, err := tombstone.ReadFingerprint(ctx, store); err != nil || fp != want {
		t.Errorf("the stored fingerprint became %q (%v)", fp, err)
	}
}
