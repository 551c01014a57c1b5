package names

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	"cloud.google.com/go/bigquery"
	"google.golang.org/api/option"

	"github.com/cioevents/cioevents/cmd/cioevents/internal/appapi"
	"github.com/cioevents/cioevents/cmd/cioevents/internal/appapi/appapifake"
	"github.com/cioevents/cioevents/cmd/cioevents/internal/cli"
	"github.com/cioevents/cioevents/shared/config"
	"github.com/cioevents/cioevents/shared/logging"
	"github.com/cioevents/cioevents/shared/privacy"
	"github.com/cioevents/cioevents/shared/workspace"
)

// Usage is the command's line in `cioevents` usage.
const Usage = `names refresh [--workspace NAME] [--data-dir D | --project P --dataset DS] [--app-api-url URL] [--sample]   (CIO_APP_API_KEY, CIO_REGION, CIO_PII)`

// Env is what the command runs with; zero fields mean the process's own.
type Env struct {
	Stdout, Stderr io.Writer
	Getenv         config.Getenv
	// HTTPClient reaches the App API (tests: the fake's client).
	HTTPClient *http.Client
	// BigQueryOptions go to the BigQuery client (tests: the fake).
	BigQueryOptions []option.ClientOption
	Now             func() time.Time
}

// Command runs `cioevents names <subcommand> args...`.
func Command(ctx context.Context, args []string, e Env) error {
	if len(args) == 0 || args[0] != "refresh" {
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "help") {
			fmt.Fprintln(orStderr(e.Stderr), "usage: cioevents "+Usage)
			return refresh(ctx, []string{"-h"}, e) // and the flags

		}
		sub := ""
		if len(args) > 0 {
			sub = fmt.Sprintf(" (not %q)", args[0])
		}
		return cli.Usagef("names", "the subcommand is refresh%s", sub)
	}
	return refresh(ctx, args[1:], e)
}

func orStderr(w io.Writer) io.Writer {
	if w == nil {
		return os.Stderr
	}
	return w
}

func refresh(ctx context.Context, args []string, e Env) error {
	if e.Stdout == nil {
		e.Stdout = os.Stdout
	}
	e.Stderr = orStderr(e.Stderr)
	if e.Getenv == nil {
		e.Getenv = os.Getenv
	}
	if e.Now == nil {
		e.Now = time.Now
	}
	fl := flag.NewFlagSet("names refresh", flag.ContinueOnError)
	fl.SetOutput(e.Stderr)
	ws := fl.String("workspace", workspace.Default, "the workspace the App API key belongs to: its rows carry it")
	dir := fl.String("data-dir", "", "write <dir>/"+File+" (what 'cioevents dev' and 'report --data-dir' read) instead of BigQuery")
	project := fl.String("project", e.Getenv(config.EnvProject), "BigQuery project (default $"+config.EnvProject+")")
	dataset := fl.String("dataset", e.Getenv(config.EnvDataset), "BigQuery dataset holding table "+Table+" (default $"+config.EnvDataset+")")
	apiURL := fl.String("app-api-url", "", "App API base URL instead of the CIO_REGION host (a fake or a proxy)")
	apiRate := fl.Float64("app-api-rate", appapi.RateLimit, "App API requests/s (lower it to leave room for other App API users)")
	sample := fl.Bool("sample", false, "with --data-dir: read the names of the sample events (send --all) from a built-in App API fake on loopback; no key needed")
	if err := cli.Parse(fl, args); err != nil {
		return err
	}
	if !workspace.Valid(*ws) {
		return cli.Usagef("names", "--workspace %q: %s", *ws, workspace.Rule)
	}
	if *sample && (*dir == "" || *apiURL != "") {
		return cli.Usagef("names", "--sample writes the sample names into --data-dir only, and is its own App API (no --app-api-url)")
	}
	if *dir == "" && (*project == "" || *dataset == "") {
		return cli.Usagef("names", "give --data-dir, or --project and --dataset (or %s and %s)", config.EnvProject, config.EnvDataset)
	}
	pii, err := privacy.FromEnv(e.Getenv)
	if err != nil {
		return err
	}

	key := e.Getenv(appapi.EnvKey)
	if *sample {
		fake := appapifake.New("sample")
		defer fake.Close()
		fake.SetNames(appapifake.SampleCatalog(), e.Now())
		key, *apiURL = "sample", fake.URL()
	}
	// Every HTTP request the client makes passes here: the refresh's cost
	// in App API calls, retries included.
	hc := e.HTTPClient
	if hc == nil {
		hc = &http.Client{Timeout: 60 * time.Second}
	}
	counted := &countingTransport{next: hc.Transport}
	if counted.next == nil {
		counted.next = http.DefaultTransport
	}
	hcCopy := *hc
	hcCopy.Transport = counted
	client, err := appapi.New(appapi.Config{Key: key, Region: e.Getenv(config.EnvRegion), BaseURL: *apiURL,
		HTTPClient: &hcCopy, RateLimit: *apiRate})
	if err != nil {
		return fmt.Errorf("%w (set %s)", err, appapi.EnvKey)
	}

	level := e.Getenv(config.EnvLogLevel)
	if level == "" {
		level = "warn"
	}
	logger := logging.New(e.Stderr, level)
	fail := func(err error) error {
		logger.Error("names refresh failed", "workspace", *ws, "app_api_requests", counted.n.Load(), "error", err.Error())
		return err
	}

	now := e.Now()
	f, err := Fetch(ctx, client, *ws, now, pii.Text)
	if err != nil {
		return fail(err)
	}
	fmt.Fprintf(e.Stdout, "names refresh (workspace %s): %d campaigns, %d broadcasts, %d newsletters, %d transactional messages, %d actions, %d contents\n",
		*ws, f.Count[Campaign], f.Count[Broadcast], f.Count[Newsletter], f.Count[Transactional], f.Count[Action], f.Count[Content])
	fmt.Fprintf(e.Stdout, "App API calls: %d = %d lists + %d actions/contents calls (one per campaign, broadcast and newsletter that has any); %d HTTP requests with retries\n",
		f.Lists+f.Children, f.Lists, f.Children, counted.n.Load())
	if f.Gone > 0 {
		fmt.Fprintf(e.Stdout, "%d deleted while the refresh ran: their actions were not refreshed\n", f.Gone)
	}
	if f.Duplicates > 0 {
		fmt.Fprintf(e.Stdout, "%d IDs listed twice (the first kept)\n", f.Duplicates)
	}

	if *dir != "" {
		added, replaced, err := Merge(*dir, f.Records)
		if err != nil {
			return fail(err)
		}
		fmt.Fprintf(e.Stdout, "wrote %d names to %s: %d new, %d replaced\n", len(f.Records),
			filepath.Join(*dir, File), added, replaced)
	} else {
		bq, err := bigquery.NewClient(ctx, *project, e.BigQueryOptions...)
		if err != nil {
			return fail(fmt.Errorf("names: bigquery: %w", err))
		}
		defer bq.Close()
		changed, err := (&BigQuery{Client: bq, Project: *project, Dataset: *dataset}).Merge(ctx, f.Records)
		if err != nil {
			return fail(err)
		}
		fmt.Fprintf(e.Stdout, "merged %d names into %s.%s.%s: %d rows inserted or updated\n", len(f.Records),
			*project, *dataset, Table, changed)
	}
	logger.Info("names refresh finished", "workspace", *ws, "names", len(f.Records), "app_api_calls", f.Lists+f.Children,
		"app_api_requests", counted.n.Load(), "gone", f.Gone)
	return nil
}

// countingTransport counts the requests that leave the client.
type countingTransport struct {
	next http.RoundTripper
	n    atomic.Int64
}

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	c.n.Add(1)
	return c.next.RoundTrip(r)
}
