package warehouse_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cioevents/cioevents/shared/event"
	"github.com/cioevents/cioevents/shared/warehouse"
)

// repoFixtures is the shared fixture tree (testdata/README.md at the root).
var repoFixtures = filepath.Join("..", "..", "testdata")

func globFixtures(t *testing.T, dir string) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(repoFixtures, dir, "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// TestRepoFixtures sends every shared fixture through both writers: the
// events/ and odd/ bodies as events rows, the malformed/ ones as rejected
// rows. The BigQuery side goes through bqfake, so every row also passes the
// schema check of the wire format.
func TestRepoFixtures(t *testing.T) {
	if _, err := os.Stat(filepath.Join(repoFixtures, "events")); errors.Is(err, os.ErrNotExist) {
		t.Skip("no shared fixtures at ../../testdata/events")
	}
	bq, srv := newBQ(t)
	dir := t.TempDir()
	file := newFile(t, dir)
	ctx := t.Context()

	var wantEvents, wantRejected int
	for _, sub := range []string{"events", "odd"} {
		for _, path := range globFixtures(t, sub) {
			name := sub + "/" + filepath.Base(path)
			t.Run(name, func(t *testing.T) {
				raw, err := os.ReadFile(path)
				if err != nil {
					t.Fatal(err)
				}
				ev, err := event.Parse(raw)
				if err != nil {
					t.Fatalf("Parse: %v", err)
				}
				r := warehouse.FromEvent(ev, received, nil, "")
				if err := r.Validate(); err != nil {
					t.Fatal(err)
				}
				if r.EventID != ev.EventID || r.ObjectType != ev.ObjectType || r.Metric != ev.Metric || !bytes.Equal(r.Raw, raw) {
					t.Errorf("envelope columns or raw differ from the event")
				}
				if sub == "events" {
					stem := strings.TrimSuffix(filepath.Base(path), ".json")
					if ev.Name() != stem || !r.KnownPair {
						t.Errorf("pair %s (known %v), file %s", ev.Name(), r.KnownPair, stem)
					}
				}
				if err := bq.InsertEvent(ctx, r); err != nil {
					t.Errorf("BigQuery: %v", err)
				}
				if err := file.InsertEvent(ctx, r); err != nil {
					t.Errorf("File: %v", err)
				}
			})
			wantEvents++
		}
	}
	for _, path := range globFixtures(t, "malformed") {
		t.Run("malformed/"+filepath.Base(path), func(t *testing.T) {
			raw, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			ev, err := event.Parse(raw)
			if err == nil {
				t.Fatalf("Parse accepted a malformed body")
			}
			reason := "not_object"
			switch {
			case errors.Is(err, event.ErrNoEventID):
				reason = "no_event_id"
			case errors.Is(err, event.ErrInvalidJSON):
				reason = "invalid_json"
			}
			r := warehouse.NewRejected(received, reason, ev.EventID, raw, map[string]string{"fixture": filepath.Base(path)}, "")
			if err := bq.InsertRejected(ctx, r); err != nil {
				t.Errorf("BigQuery: %v", err)
			}
			if err := file.InsertRejected(ctx, r); err != nil {
				t.Errorf("File: %v", err)
			}
			if back, err := warehouse.DecodeBody(r.Body); err != nil || !bytes.Equal(back, raw) {
				t.Errorf("body does not decode back to the bytes received")
			}
		})
		wantRejected++
	}
	if wantEvents == 0 {
		t.Fatal("fixture directories exist but hold no events")
	}

	if n := len(srv.Rows(eventsTable)); n != wantEvents {
		t.Errorf("BigQuery events rows = %d, want %d (event_ids must be distinct)", n, wantEvents)
	}
	if n := len(srv.Rows(rejectedTable)); n != wantRejected {
		t.Errorf("BigQuery rejected rows = %d, want %d", n, wantRejected)
	}
	if n := len(readLines[warehouse.Row](t, dir, warehouse.EventsFile)); n != wantEvents {
		t.Errorf("file events lines = %d, want %d", n, wantEvents)
	}
	if n := len(readLines[warehouse.Rejected](t, dir, warehouse.RejectedFile)); n != wantRejected {
		t.Errorf("file rejected lines = %d, want %d", n, wantRejected)
	}
}
