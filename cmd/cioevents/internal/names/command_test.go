package names

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/bigquery"
	"google.golang.org/api/option"

	"github.com/cioevents/cioevents/cmd/cioevents/internal/appapi/appapifake"
	"github.com/cioevents/cioevents/cmd/cioevents/internal/cli"
	"github.com/cioevents/cioevents/shared/warehouse/bqfake"
)

var refreshedAt = time.Date(2026, 12, 7, 3, 30, 0, 0, time.UTC)

type run struct {
	stdout, stderr string
	err            error
}

func runCmd(t *testing.T, env map[string]string, e Env, args ...string) run {
	t.Helper()
	var out, errb bytes.Buffer
	e.Stdout, e.Stderr = &out, &errb
	e.Getenv = func(k string) string { return env[k] }
	if e.Now == nil {
		e.Now = func() time.Time { return refreshedAt }
	}
	if len(args) > 0 && args[0] == "refresh" {
		// The documented 10/s would make every test wait; the limiter
		// itself is the client's, tested there.
		args = append([]string{"refresh", "--app-api-rate", "1000"}, args[1:]...)
	}
	err := Command(context.Background(), args, e)
	return run{out.String(), errb.String(), err}
}

// catalogNames is how many names a catalog holds.
func catalogNames(c appapifake.Catalog) int {
	n := 0
	for _, ms := range [][]appapifake.Message{c.Campaigns, c.Broadcasts, c.Newsletters, c.Transactional} {
		for _, m := range ms {
			n += 1 + len(m.Actions)
		}
	}
	return n
}

func fakeAPI(t *testing.T) *appapifake.Server {
	t.Helper()
	f := appapifake.New("app-key")
	t.Cleanup(f.Close)
	f.SetNames(appapifake.SampleCatalog(), refreshedAt.Add(-48*time.Hour))
	return f
}

// A local refresh writes every name of the catalog into names.ndjson with
// the calls the formula gives, and a second one adds nothing.
func TestRefreshLocal(t *testing.T) {
	api := fakeAPI(t)
	dir := filepath.Join(t.TempDir(), "data")
	env := map[string]string{"CIO_APP_API_KEY": "app-key"}
	cat := appapifake.SampleCatalog()
	for round := 1; round <= 2; round++ {
		r := runCmd(t, env, Env{}, "refresh", "--data-dir", dir, "--app-api-url", api.URL())
		if r.err != nil {
			t.Fatalf("round %d: %v\n%s", round, r.err, r.stderr)
		}
		calls := "App API calls: " + strconv.Itoa(cat.Calls()) + " = 4 lists + " + strconv.Itoa(cat.Calls()-4)
		if !strings.Contains(r.stdout, calls) {
			t.Errorf("round %d: output lacks %q:\n%s", round, calls, r.stdout)
		}
		n := strconv.Itoa(catalogNames(cat))
		wantWrite := "wrote " + n + " names to " + filepath.Join(dir, File) + ": " + n + " new, 0 replaced"
		if round == 2 {
			wantWrite = "wrote " + n + " names to " + filepath.Join(dir, File) + ": 0 new, " + n + " replaced"
		}
		if !strings.Contains(r.stdout, wantWrite) {
			t.Errorf("round %d: output lacks %q:\n%s", round, wantWrite, r.stdout)
		}
	}
	if got := api.NamesCalls(); got != 2*cat.Calls() {
		t.Errorf("the fake saw %d calls, want %d", got, 2*cat.Calls())
	}
	ix, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		kind     Kind
		id, name string
	}{
		{Campaign, "42", "Onboarding: welcome series"}, {Action, "117", "Day 3: tips to get started"},
		{Broadcast, "14", "Black Friday preview"}, {Action, "301", "Black Friday email"},
		{Newsletter, "88", "December product newsletter"}, {Content, "4", "Deutsch"},
		{Transactional, "3", "Password reset"},
	} {
		if got, ok := ix.Lookup("default", tt.kind, tt.id); !ok || got != tt.name {
			t.Errorf("Lookup(%s %s) = %q, %v; want %q", tt.kind, tt.id, got, ok, tt.name)
		}
	}
	if r, _ := ix.Record("default", Content, "4"); r.ParentID == nil || *r.ParentID != "88" || !r.RefreshedAt.Equal(refreshedAt) {
		t.Errorf("content 4: %+v", r)
	}
}

// The cloud refresh MERGEs into message_names; repeating it changes nothing.
func TestRefreshBigQuery(t *testing.T) {
	api := fakeAPI(t)
	bq := bqfake.New(map[string]bigquery.Schema{"ds." + Table: Schema()})
	t.Cleanup(bq.Close)
	e := Env{BigQueryOptions: []option.ClientOption{option.WithEndpoint(bq.URL() + "/bigquery/v2/"), option.WithoutAuthentication()}}
	env := map[string]string{"CIO_APP_API_KEY": "app-key", "GOOGLE_CLOUD_PROJECT": "p", "BIGQUERY_DATASET": "ds"}
	r := runCmd(t, env, e, "refresh", "--app-api-url", api.URL())
	n := strconv.Itoa(catalogNames(appapifake.SampleCatalog()))
	if r.err != nil || !strings.Contains(r.stdout, "merged "+n+" names into p.ds.message_names: "+n+" rows inserted or updated") {
		t.Fatalf("%v\n%s%s", r.err, r.stdout, r.stderr)
	}
	rows := bq.Rows("ds." + Table)
	r = runCmd(t, env, e, "refresh", "--app-api-url", api.URL(), "--workspace", "shop")
	if r.err != nil {
		t.Fatal(r.err)
	}
	// Same read time: a repeat of the default workspace's refresh matches
	// every row and changes none of its values.
	r = runCmd(t, env, e, "refresh", "--app-api-url", api.URL())
	if r.err != nil {
		t.Fatal(r.err)
	}
	all := bq.Rows("ds." + Table)
	if len(all) != 2*len(rows) {
		t.Errorf("%d rows after both workspaces, want %d", len(all), 2*len(rows))
	}
	for i, row := range rows {
		if all[i]["name"] != row["name"] || all[i]["refreshed_at"] != row["refreshed_at"] {
			t.Errorf("row %d changed: %v -> %v", i, row, all[i])
		}
	}
}

// --sample needs no key and no network but loopback.
func TestRefreshSample(t *testing.T) {
	dir := t.TempDir()
	r := runCmd(t, map[string]string{}, Env{}, "refresh", "--sample", "--data-dir", dir)
	if r.err != nil {
		t.Fatalf("%v\n%s", r.err, r.stderr)
	}
	ix, err := Load(dir)
	if err != nil || ix.Len() != catalogNames(appapifake.SampleCatalog()) {
		t.Fatalf("%d names, %v", ix.Len(), err)
	}
}

// CIO_PII: an address typed into a name follows the email rule.
func TestRefreshPII(t *testing.T) {
	api := fakeAPI(t)
	c := appapifake.SampleCatalog()
	c.Transactional = append(c.Transactional, appapifake.Message{ID: 99, Name: "Escalation to jane.doe@example.com"})
	api.SetNames(c, refreshedAt)
	dir := t.TempDir()
	env := map[string]string{"CIO_APP_API_KEY": "app-key", "CIO_PII": "email=drop"}
	if r := runCmd(t, env, Env{}, "refresh", "--data-dir", dir, "--app-api-url", api.URL()); r.err != nil {
		t.Fatal(r.err)
	}
	b, _ := os.ReadFile(filepath.Join(dir, File))
	if bytes.Contains(b, []byte("jane.doe")) {
		t.Errorf("a dropped address is in names.ndjson:\n%s", b)
	}
	ix, _ := Load(dir)
	if n, _ := ix.Lookup("default", Transactional, "99"); !strings.HasPrefix(n, "Escalation to ") {
		t.Errorf("name %q", n)
	}
}

// The failures: a deleted parent is not fatal; an App API that keeps failing
// fails the refresh with one JSON error line and writes nothing.
func TestRefreshFailures(t *testing.T) {
	api := fakeAPI(t)
	api.DeleteNamed("/v1/campaigns/57/actions")
	dir := t.TempDir()
	env := map[string]string{"CIO_APP_API_KEY": "app-key"}
	r := runCmd(t, env, Env{}, "refresh", "--data-dir", dir, "--app-api-url", api.URL())
	if r.err != nil || !strings.Contains(r.stdout, "1 deleted while the refresh ran") {
		t.Fatalf("deleted campaign: %v\n%s", r.err, r.stdout)
	}
	if ix, _ := Load(dir); ix.Len() != catalogNames(appapifake.SampleCatalog())-2 {
		t.Errorf("%d names, want all but campaign 57's two actions", ix.Len())
	}

	dir2 := t.TempDir()
	api.FailNext(1000, http.StatusInternalServerError, "")
	// Retries back off for real here (seconds); a refused key fails at once
	// instead, which is what this half checks.
	r = runCmd(t, map[string]string{"CIO_APP_API_KEY": "wrong"}, Env{}, "refresh", "--data-dir", dir2, "--app-api-url", api.URL())
	if r.err == nil || !strings.Contains(r.stderr, `"names refresh failed"`) || !strings.Contains(r.stderr, `"severity":"ERROR"`) {
		t.Fatalf("refused key: %v\nstderr: %s", r.err, r.stderr)
	}
	if _, err := os.Stat(filepath.Join(dir2, File)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a failed refresh wrote %s: %v", File, err)
	}
}

func TestUsage(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want string
	}{
		{nil, "subcommand is refresh"},
		{[]string{"update"}, `not "update"`},
		{[]string{"refresh"}, "--data-dir, or --project and --dataset"},
		{[]string{"refresh", "--data-dir", "d", "--workspace", "Bad Name"}, "--workspace"},
		{[]string{"refresh", "--sample"}, "--sample"},
		{[]string{"refresh", "--data-dir", "d", "extra"}, "unexpected argument"},
	} {
		r := runCmd(t, map[string]string{}, Env{}, tt.args...)
		var ue *cli.UsageError
		if !errors.As(r.err, &ue) || !strings.Contains(ue.Msg, tt.want) {
			t.Errorf("%q: %v, want a usage error saying %q", tt.args, r.err, tt.want)
		}
	}
}
