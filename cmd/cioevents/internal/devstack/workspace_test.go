package devstack

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cioevents/cioevents/shared/signature"
	"github.com/cioevents/cioevents/shared/warehouse"
)

// dev reads named keys and per-workspace credentials as a deployment does:
// its rows carry the workspace, and only workspaces with credentials write
// dry-run calls.
func TestDevRowsCarryTheWorkspace(t *testing.T) {
	dir := t.TempDir()
	env := map[string]string{
		"CIO_WEBHOOK_SIGNING_KEYS":  "shop=k-shop,b2b=k-b2b,k-default",
		"CIO_WORKSPACE_CREDENTIALS": "shop=site-shop:key-shop",
	}
	o := &outcomes{counts: map[string]int{}}
	s, err := Start(context.Background(), Options{Addr: "127.0.0.1:0", DataDir: dir, Logger: slog.New(o),
		Getenv: func(k string) string { return env[k] }})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for i, key := range []string{"k-shop", "k-b2b", "k-default"} {
		body := []byte(fmt.Sprintf(`{"event_id":"01DEVWS00000000000000000%02d","object_type":"email","metric":"bounced",`+
			`"timestamp":1767225600,"data":{"identifiers":{"id":"p%d"},"recipient":"x@example.com"}}`, i, i))
		req, _ := signature.NewRequest(context.Background(), s.URL, []byte(key), time.Now(), body)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("key %s: status %d", key, resp.StatusCode)
		}
	}
	o.wait(t, 3)
	s.Close()

	got := map[string]string{}
	for _, l := range lines(t, filepath.Join(dir, warehouse.EventsFile)) {
		var row warehouse.Row
		if err := json.Unmarshal([]byte(l), &row); err != nil {
			t.Fatal(err)
		}
		if row.Workspace == nil {
			t.Fatalf("row %s has no workspace", row.EventID)
		}
		got[row.EventID] = *row.Workspace
	}
	want := map[string]string{"01DEVWS0000000000000000000": "shop", "01DEVWS0000000000000000001": "b2b",
		"01DEVWS0000000000000000002": "default"}
	for id, ws := range want {
		if got[id] != ws {
			t.Errorf("row %s: workspace %q, want %q (rows %v)", id, got[id], ws, got)
		}
	}
	calls := lines(t, filepath.Join(dir, ActionsFile))
	if len(calls) != 2 || strings.Contains(strings.Join(calls, "\n"), "01DEVWS0000000000000000001") {
		t.Errorf("dry-run calls: want shop's and default's, none for b2b (no credentials):\n%s", strings.Join(calls, "\n"))
	}
}
