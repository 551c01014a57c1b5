package warehouse_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/cioevents/cioevents/shared/warehouse"
)

func newFile(t *testing.T, dir string) *warehouse.File {
	t.Helper()
	f, err := warehouse.NewFile(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

// readLines parses every line of dir/name back into T.
func readLines[T any](t *testing.T, dir, name string) []T {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		t.Fatal(err)
	}
	var out []T
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var v T
		if err := json.Unmarshal(sc.Bytes(), &v); err != nil {
			t.Fatalf("line %d does not parse: %v", len(out)+1, err)
		}
		out = append(out, v)
	}
	return out
}

func TestFileLinesParseBack(t *testing.T) {
	dir := t.TempDir()
	f := newFile(t, dir)
	ctx := t.Context()
	r := fixtureRow(t, "lenient_ids.json")
	if err := f.InsertEvent(ctx, r); err != nil {
		t.Fatal(err)
	}
	rej := warehouse.NewRejected(received, "not_object", "", []byte("\xff"), map[string]string{"a": "b"}, "m1")
	if err := f.InsertRejected(ctx, rej); err != nil {
		t.Fatal(err)
	}

	rows := readLines[warehouse.Row](t, dir, warehouse.EventsFile)
	if len(rows) != 1 {
		t.Fatalf("%d rows", len(rows))
	}
	got := rows[0]
	if got.EventID != r.EventID || !got.EventTime.Equal(r.EventTime) || !got.ReceivedAt.Equal(r.ReceivedAt) ||
		*got.JourneyID != "15" || *got.CampaignID != 42 || got.NewsletterID != nil {
		t.Errorf("row read back = %+v", got)
	}
	// raw is embedded as a JSON object (compacted), not a string, and keeps
	// its characters: no \u003c for '<'.
	lines := readLines[map[string]json.RawMessage](t, dir, warehouse.EventsFile)
	raw := lines[0]["raw"]
	if raw[0] != '{' || !bytes.Contains(raw, []byte("<b>News</b> & more")) {
		t.Errorf("raw = %s", raw)
	}
	var a, b any
	if json.Unmarshal(raw, &a) != nil || json.Unmarshal(r.Raw, &b) != nil || fmt.Sprint(a) != fmt.Sprint(b) {
		t.Errorf("raw does not hold the body's JSON value")
	}

	rejs := readLines[warehouse.Rejected](t, dir, warehouse.RejectedFile)
	if len(rejs) != 1 || rejs[0].Body != "base64:/w==" || rejs[0].Attributes["a"] != "b" || *rejs[0].MessageID != "m1" {
		t.Errorf("rejected read back = %+v", rejs)
	}
}

func TestFileDedupeAcrossReopen(t *testing.T) {
	dir := t.TempDir()
	ctx := t.Context()
	r1 := fixtureRow(t, "campaign_bounce.json")
	r2 := fixtureRow(t, "transactional_click.json")
	rej := warehouse.NewRejected(received, "no_event_id", "", []byte(`{}`), nil, "m9")

	f, err := warehouse.NewFile(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, err := range []error{f.InsertEvent(ctx, r1), f.InsertEvent(ctx, r1), f.InsertRejected(ctx, rej), f.InsertRejected(ctx, rej)} {
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.InsertEvent(ctx, r2); !errors.Is(err, os.ErrClosed) {
		t.Errorf("insert after Close = %v, want os.ErrClosed", err)
	}

	// A crash mid-write leaves a partial line; the reopen must drop it.
	ev, err := os.OpenFile(filepath.Join(dir, warehouse.EventsFile), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ev.WriteString(`{"event_id":"01PARTIAL","obj`); err != nil {
		t.Fatal(err)
	}
	ev.Close()

	f2 := newFile(t, dir)
	for _, err := range []error{f2.InsertEvent(ctx, r1), f2.InsertEvent(ctx, r2), f2.InsertRejected(ctx, rej)} {
		if err != nil {
			t.Fatal(err)
		}
	}
	rows := readLines[warehouse.Row](t, dir, warehouse.EventsFile)
	var ids []string
	for _, r := range rows {
		ids = append(ids, r.EventID)
	}
	if want := []string{r1.EventID, r2.EventID}; fmt.Sprint(ids) != fmt.Sprint(want) {
		t.Errorf("event_ids in file = %v, want %v", ids, want)
	}
	if n := len(readLines[warehouse.Rejected](t, dir, warehouse.RejectedFile)); n != 1 {
		t.Errorf("%d rejected lines, want 1", n)
	}
}

func TestFileCorruptLine(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, warehouse.EventsFile), []byte("{\"event_id\":\"a\"}\nnot json jane@example.com\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := warehouse.NewFile(dir)
	if err == nil || !strings.Contains(err.Error(), "line 2") {
		t.Fatalf("NewFile = %v, want an error naming line 2", err)
	}
	if strings.Contains(err.Error(), "jane@") {
		t.Errorf("error quotes the line: %v", err)
	}
}

func TestFileInvalidRow(t *testing.T) {
	dir := t.TempDir()
	f := newFile(t, dir)
	r := fixtureRow(t, "campaign_bounce.json")
	r.EventID = ""
	if err := f.InsertEvent(t.Context(), r); !warehouse.IsPermanent(err) {
		t.Errorf("InsertEvent = %v, want permanent", err)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, warehouse.EventsFile)); len(b) != 0 {
		t.Errorf("file holds %q", b)
	}
}

// TestFileConcurrent writes from many goroutines, each event twice; run with
// -race. Every line must be whole and every event_id present once.
func TestFileConcurrent(t *testing.T) {
	dir := t.TempDir()
	f := newFile(t, dir)
	base := fixtureRow(t, "campaign_bounce.json")
	const n = 200
	var wg sync.WaitGroup
	errs := make(chan error, 2*n)
	for i := range 2 * n {
		wg.Go(func() {
			r := base
			r.EventID = fmt.Sprintf("01CONCURRENT%06d", i%n)
			d := fmt.Sprintf("delivery%06d", i%n)
			r.DeliveryID = &d
			errs <- f.InsertEvent(t.Context(), r)
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	rows := readLines[warehouse.Row](t, dir, warehouse.EventsFile)
	seen := map[string]int{}
	for _, r := range rows {
		seen[r.EventID]++
	}
	if len(rows) != n || len(seen) != n {
		t.Errorf("%d lines, %d distinct event_ids; want %d of each", len(rows), len(seen), n)
	}
}
