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

	cloudevent "github.com/cloudevents/sdk-go/v2/event"

	"github.com/cioevents/cioevents/internal/testsupport/emulator"
	"github.com/cioevents/cioevents/shared/config"
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
