package backfill

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"cloud.google.com/go/bigquery"
	"cloud.google.com/go/firestore"
	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"
	"google.golang.org/api/option"

	"github.com/cioevents/cioevents/cmd/cioevents/internal/appapi"
	"github.com/cioevents/cioevents/cmd/cioevents/internal/cli"
	"github.com/cioevents/cioevents/cmd/cioevents/internal/datadir"
	"github.com/cioevents/cioevents/shared/actions"
	"github.com/cioevents/cioevents/shared/config"
	"github.com/cioevents/cioevents/shared/ledger"
	"github.com/cioevents/cioevents/shared/logging"
	"github.com/cioevents/cioevents/shared/pipeline"
	"github.com/cioevents/cioevents/shared/privacy"
	"github.com/cioevents/cioevents/shared/tombstone"
	"github.com/cioevents/cioevents/shared/warehouse"
	"github.com/cioevents/cioevents/shared/workspace"
)

// Environment variables the command reads besides the processor's own.
const (
	EnvAppAPIKey = "CIO_APP_API_KEY"
	// CheckpointFile is the default checkpoint name (in --data-dir locally).
	CheckpointFile = "backfill-checkpoint.json"
	// actionsFile is the dry-run actions file `cioevents dev` writes too.
	actionsFile = "actions.ndjson"
	// ledgerFile is `cioevents dev`'s ledger (devstack.LedgerFile), which also
	// holds the tombstones `forget --data-dir` leaves.
	ledgerFile = "ledger.db"
)

// Usage is the command's line in `cioevents` usage.
const Usage = `backfill --since DATE [--until DATE] [--type email|push|sms|...] [--workspace NAME] [--dry-run]
          [--data-dir D] [--app-api-url URL] [--apply-actions [--catch-up-actions]] [--checkpoint F]   (CIO_APP_API_KEY, CIO_REGION)`

// ErrUsage marks a command line that cannot run as given (the CLI exits 2).
var ErrUsage = cli.ErrUsage

// Env is what the command runs with; zero fields mean the process's own.
type Env struct {
	Stdout, Stderr io.Writer
	Getenv         config.Getenv
	// HTTPClient reaches the App API (tests: the fake's client).
	HTTPClient *http.Client
	// BigQueryOptions go to the BigQuery clients (tests: the fake).
	BigQueryOptions []option.ClientOption
	// TrackURL replaces the Track API host of --apply-actions (tests: the fake).
	TrackURL string
	Now      func() time.Time
	// Fault is passed to the processor (tests interrupt runs with it).
	Fault func(point string) error
}

// Command runs `cioevents backfill args...`.
func Command(ctx context.Context, args []string, e Env) error {
	if e.Stdout == nil {
		e.Stdout = os.Stdout
	}
	if e.Stderr == nil {
		e.Stderr = os.Stderr
	}
	if e.Getenv == nil {
		e.Getenv = os.Getenv
	}
	if e.Now == nil {
		e.Now = time.Now
	}
	fl := flag.NewFlagSet("backfill", flag.ContinueOnError)
	fl.SetOutput(e.Stderr)
	since := fl.String("since", "", "first day (YYYY-MM-DD, RFC 3339, or a look-back such as 72h or 30d); required")
	until := fl.String("until", "", "last day, included (YYYY-MM-DD or RFC 3339); default now")
	typ := fl.String("type", "", "only this channel: email, push, sms (twilio), whatsapp, slack, webhook, in_app, ...")
	metric := fl.String("metric", "", "only deliveries that reached this metric")
	campaign := fl.Int64("campaign-id", 0, "only this campaign")
	newsletter := fl.Int64("newsletter-id", 0, "only this newsletter")
	action := fl.Int64("action-id", 0, "only this campaign action")
	dry := fl.Bool("dry-run", false, "write nothing; print per day, object_type and metric what Customer.io has, the warehouse has and is missing")
	dir := fl.String("data-dir", "", "store into this local data dir (what 'cioevents dev' writes) instead of BigQuery")
	apiURL := fl.String("app-api-url", "", "App API base URL instead of the CIO_REGION host (a fake or a proxy)")
	ws := fl.String("workspace", workspace.Default, "the workspace the App API key belongs to: rows carry it, and --apply-actions acts with its credentials and policy")
	apply := fl.Bool("apply-actions", false, "also apply the CIO_ACTIONS policy to backfilled events (off: old events may no longer be true); needs the workspace's Track credentials unless CIO_ACTIONS_DRY_RUN=true")
	catchUp := fl.Bool("catch-up-actions", false, "with --apply-actions: also act on pairs a backfill stored earlier without acting; the ledger skips any whose actions were made")
	cpPath := fl.String("checkpoint", "", "resume file (default: "+CheckpointFile+" in --data-dir, else in the working directory)")
	conc := fl.Int("concurrency", 64, "events stored at once (each waits on the ledger and the insert in turn)")
	apiRate := fl.Float64("app-api-rate", appapi.RateLimit, "App API requests/s (lower it to leave room for other App API users)")
	apiTimeout := fl.Duration("app-api-timeout", appapi.DefaultBudget, "give up on an App API call the host leaves this long without an answer, retries included")
	if err := cli.Parse(fl, args); err != nil {
		return err
	}
	if *since == "" {
		return cli.Usagef("backfill", "--since is required (YYYY-MM-DD, RFC 3339 or a look-back such as 30d)")
	}
	if !workspace.Valid(*ws) {
		return cli.Usagef("backfill", "--workspace %q: %s", *ws, workspace.Rule)
	}
	if *catchUp && !*apply {
		return fmt.Errorf("backfill: %w: --catch-up-actions needs --apply-actions", ErrUsage)
	}
	now := e.Now().UTC()
	from, err := parseTime(*since, now, false)
	if err != nil {
		return cli.Usagef("backfill", "--since: %v", err)
	}
	to := now.Truncate(time.Second)
	if *until != "" {
		if to, err = parseTime(*until, now, true); err != nil {
			return cli.Usagef("backfill", "--until: %v", err)
		}
	}
	if !from.Before(to) {
		return cli.Usagef("backfill", "--since must be before --until")
	}
	if *apiTimeout <= 0 {
		return cli.Usagef("backfill", "--app-api-timeout %s must be positive", *apiTimeout)
	}
	client, err := appapi.New(appapi.Config{Key: e.Getenv(EnvAppAPIKey), Region: e.Getenv(config.EnvRegion),
		BaseURL: *apiURL, HTTPClient: e.HTTPClient, RateLimit: *apiRate, Budget: *apiTimeout,
		Progress: e.Stderr, Command: "backfill"})
	if err != nil {
		return cli.Config(fmt.Errorf("%w (set %s)", err, EnvAppAPIKey))
	}
	o := Options{
		Lister: client, Since: from, Until: to, DryRun: *dry, Concurrency: *conc, Progress: e.Stderr, Now: e.Now,
		Query: appapi.Query{Type: APIType(*typ), Metric: *metric, CampaignID: *campaign, NewsletterID: *newsletter,
			ActionID: *action},
		Spec: fmt.Sprintf("since=%s until=%s type=%s metric=%s campaign=%d newsletter=%d action=%d", *since, *until,
			*typ, *metric, *campaign, *newsletter, *action),
		Checkpoint: *cpPath, Workspace: *ws, CatchUpActions: *catchUp,
	}
	if *catchUp {
		// A catch-up goes over stored pairs a plain run skipped: its own run.
		o.Spec += " catch-up-actions"
	}
	if *ws != workspace.Default {
		// Another workspace's checkpoint is another run; a default run's
		// spec stays as before, so its checkpoints still resume.
		o.Spec += " workspace=" + *ws
	}
	level := e.Getenv(config.EnvLogLevel)
	if level == "" {
		level = "warn" // one line per event at info would drown the progress
	}
	logger := logging.New(e.Stderr, level)
	var closers []func() error
	defer func() {
		for i := len(closers) - 1; i >= 0; i-- {
			closers[i]()
		}
	}()
	if *dir != "" {
		if o.Checkpoint == "" {
			o.Checkpoint = filepath.Join(*dir, CheckpointFile)
		}
		o.Index = FileIndex{Dir: *dir}
		if !*dry {
			if o.Processor, closers, err = local(*dir, *ws, *apply, e, logger); err != nil {
				return err
			}
		}
	} else {
		if o.Checkpoint == "" {
			o.Checkpoint = CheckpointFile
		}
		if o.Index, o.Processor, closers, err = cloud(ctx, *ws, *dry, *apply, e, logger); err != nil {
			return err
		}
	}
	if o.Processor != nil {
		o.Processor.Fault = e.Fault
	}
	rep, err := Run(ctx, o)
	// A dry run's result is its figures: those of a failed run would read
	// as the answer, so it prints none. A real run's counts say what was
	// stored before the failure, which holds.
	if !*dry || err == nil {
		printResult(e.Stdout, rep, *dry, *catchUp)
	}
	// One JSON line for the log-based alerting: a failure, or a nightly
	// reconciliation that found gaps.
	attrs := []any{"workspace", *ws, "pages", rep.Pages, "deliveries", rep.Deliveries, "events", rep.Events, "present", rep.Present,
		"added", rep.Added, "rejected", rep.Rejected, "dry_run", *dry}
	switch {
	case err != nil:
		logger.Error("backfill failed", append(attrs, "error", err.Error())...)
	case *dry && rep.Events > rep.Present:
		logger.Warn("backfill reconciliation: events missing from the warehouse", append(attrs, "missing", rep.Events-rep.Present)...)
	default:
		logger.Info("backfill finished", attrs...)
	}
	if err != nil && !*dry && o.Checkpoint != "" {
		return fmt.Errorf("%w; run the same command again to resume from %s", err, o.Checkpoint)
	}
	return err
}

func printResult(out io.Writer, rep Report, dry, catchUp bool) {
	if dry {
		rep.Recon.Print(out)
		fmt.Fprintln(out, "dry run: nothing was written")
	}
	resumed := ""
	if rep.Resumed {
		resumed = " (resumed from checkpoint)"
	}
	forgotten := ""
	if rep.Forgotten > 0 {
		forgotten = fmt.Sprintf(", %d forgotten (not stored)", rep.Forgotten)
	}
	fmt.Fprintf(out, "backfill%s: %d pages, %d deliveries, %d events: %d already stored, %d added, %d duplicate, %d rejected%s\n",
		resumed, rep.Pages, rep.Deliveries, rep.Events, rep.Present, rep.Added, rep.Duplicate, rep.Rejected, forgotten)
	if catchUp {
		fmt.Fprintf(out, "catch-up: actions made for %d stored pairs\n", rep.Acted)
	}
}

// local stores into dir as `cioevents dev` does: NDJSON rows, dev's own
// ledger file (so that dev, run on dir later, finds what backfill stored and
// acted on, and the other way round), and actions (if applied) into
// actions.ndjson as a dry run.
func local(dir, ws string, apply bool, e Env, logger *slog.Logger) (*pipeline.Processor, []func() error, error) {
	pii, err := privacy.FromEnv(e.Getenv)
	if err != nil {
		return nil, nil, cli.Config(err)
	}
	// The files and ledger are dev's: never written under a running dev.
	held, err := datadir.Acquire(dir, "cioevents backfill")
	if err != nil {
		return nil, nil, fmt.Errorf("backfill: %w", err)
	}
	closers := []func() error{held.Release}
	path := filepath.Join(dir, ledgerFile)
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 2 * time.Second})
	if errors.Is(err, bolterrors.ErrTimeout) {
		return nil, closers, fmt.Errorf("backfill: %s is locked by another process (stop the `cioevents dev` using this --data-dir first)", path)
	}
	if err != nil {
		return nil, closers, fmt.Errorf("backfill: %w", err)
	}
	closers = append(closers, db.Close)
	led, err := ledger.NewBolt(db, time.Minute)
	if err != nil {
		return nil, closers, err
	}
	// dev's ledger holds the tombstones `forget --data-dir` left.
	forgotten, err := startTombstones(context.Background(), led, pii, e, nil, "the "+privacy.EnvKey+" `cioevents dev` runs with on "+dir+
		" (its fingerprint is in "+filepath.Join(dir, tombstone.FingerprintFile)+")")
	if err != nil {
		return nil, closers, err
	}
	f, err := warehouse.NewFile(dir)
	if err != nil {
		return nil, closers, err
	}
	closers = append(closers, f.Close)
	// Without --apply-actions the rows are recorded as stored with their
	// actions deferred: dev, or a later --catch-up-actions, makes them.
	p := &pipeline.Processor{Ledger: led, Forgotten: forgotten, Warehouse: &privacy.Writer{Next: f, Policy: pii},
		Logger: logger, DeferActions: !apply}
	if apply {
		allow, _ := strconv.ParseBool(e.Getenv(config.EnvAllowSuppress))
		named, err := config.ParseWorkspaceActions(e.Getenv(config.EnvWorkspaceActions))
		if err != nil {
			return nil, closers, err
		}
		if p.Policy, err = actions.ParsePolicy(policyText(ws, e.Getenv(config.EnvActions), named), allow); err != nil {
			return nil, closers, err
		}
		af, err := os.OpenFile(filepath.Join(dir, actionsFile), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
		if err != nil {
			return nil, closers, err
		}
		closers = append(closers, af.Close)
		p.Actions = actions.NewDryRun(af).Policy(pii)
	}
	return p, closers, nil
}

// cloud reads the processor's configuration and stores into BigQuery
// through the Firestore ledger, exactly as the processor function does.
// A dry run only queries BigQuery.
func cloud(ctx context.Context, ws string, dry, apply bool, e Env, logger *slog.Logger) (Index, *pipeline.Processor, []func() error, error) {
	getenv := e.Getenv
	if !apply {
		// Without actions no Track credentials are needed, and no
		// policy applies, not even a named workspace's.
		getenv = func(k string) string {
			switch k {
			case config.EnvActions:
				return "none"
			case config.EnvWorkspaceActions:
				return ""
			}
			return e.Getenv(k)
		}
	}
	cfg, err := config.LoadProcessor(getenv)
	if err != nil {
		return nil, nil, nil, cli.Config(fmt.Errorf("backfill configuration: %w", err))
	}
	policy, err := actions.ParsePolicy(policyText(ws, cfg.Actions, cfg.WorkspaceActions), cfg.AllowSuppress)
	if err != nil {
		return nil, nil, nil, err
	}
	if _, ok := cfg.Credentials(ws); apply && !dry && !cfg.DryRun && !ok &&
		policyText(ws, cfg.Actions, cfg.WorkspaceActions) != "none" {
		return nil, nil, nil, missingCredentials(ws)
	}
	var closers []func() error
	bq, err := bigquery.NewClient(ctx, cfg.Project, e.BigQueryOptions...)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("backfill: bigquery: %w", err)
	}
	closers = append(closers, bq.Close)
	index := BigQueryIndex{Client: bq, Table: cfg.Project + "." + cfg.Dataset + "." + cfg.Table}
	if dry {
		return index, nil, closers, nil
	}
	fs, err := firestore.NewClientWithDatabase(ctx, cfg.Project, cfg.FirestoreDB)
	if err != nil {
		return nil, nil, closers, fmt.Errorf("backfill: firestore: %w", err)
	}
	closers = append(closers, fs.Close)
	pii, err := privacy.FromEnv(e.Getenv)
	if err != nil {
		return nil, nil, closers, cli.Config(err)
	}
	w, err := warehouse.NewBigQuery(ctx, cfg.Project, cfg.Dataset, cfg.Table, cfg.RejectedTable, e.BigQueryOptions...)
	if err != nil {
		return nil, nil, closers, err
	}
	closers = append(closers, w.Close)
	led := ledger.NewFirestore(fs, cfg.LedgerCollection, cfg.LedgerLease)
	forgotten, err := startTombstones(ctx, led, pii, e, logger, "the Secret Manager secret the processor mounts as "+privacy.EnvKey+
		" (<name_prefix>-pii-key, terraform/modules/cioevents/secrets.tf)")
	if err != nil {
		return nil, nil, closers, err
	}
	rctx, cancel := context.WithCancel(ctx)
	closers = append(closers, func() error { cancel(); return nil })
	go forgotten.Run(rctx, 0)
	p := &pipeline.Processor{Ledger: led, Forgotten: forgotten,
		Warehouse: &privacy.Writer{Next: w, Policy: pii}, Policy: policy,
		TTL: cfg.LedgerTTL, StepTimeout: cfg.StepTimeout, LedgerTimeout: cfg.LedgerTimeout,
		RecordEachStep: cfg.RecordEachStep, Logger: logger, DeferActions: !apply}
	if apply {
		// The run's own workspace's credentials, never another's.
		creds, ok := cfg.Credentials(ws)
		if cfg.DryRun {
			p.Actions = actions.NewRedactedDryRun(e.Stderr).PersonKey([]byte(e.Getenv(privacy.EnvKey)))
		} else if !ok {
			// A quiet dry run here stored the pairs as done and made no
			// call; a rerun with credentials then skipped them.
			return nil, nil, closers, missingCredentials(ws)
		} else if p.Actions, err = actions.NewTrack(actions.TrackConfig{SiteID: creds.SiteID, APIKey: creds.APIKey,
			Region: creds.Region, BaseURL: e.TrackURL, RateLimit: cfg.RateLimit}); err != nil {
			return nil, nil, closers, err
		}
	}
	return index, p, closers, nil
}

// missingCredentials is the usage error of --apply-actions for a workspace
// without Track credentials, naming what to set.
func missingCredentials(ws string) error {
	if ws == workspace.Default {
		return fmt.Errorf("backfill: %w: --apply-actions needs %s and %s (or %s=true for a dry run of the actions)",
			ErrUsage, config.EnvSiteID, config.EnvTrackAPIKey, config.EnvDryRun)
	}
	return fmt.Errorf("backfill: %w: --apply-actions --workspace %s needs workspace %s's Track credentials in %s (or %s=true for a dry run of the actions)",
		ErrUsage, ws, ws, config.EnvWorkspaceCredentials, config.EnvDryRun)
}

// policyText is workspace ws's action policy: its entry in
// CIO_WORKSPACE_ACTIONS (named), else CIO_ACTIONS (def).
func policyText(ws, def string, named map[string]string) string {
	if t, ok := named[ws]; ok {
		return t
	}
	return def
}

// parseTime reads a date (UTC midnight; with endOfDay, the next midnight so
// the day is included), an RFC 3339 time, or a look-back such as 72h or 30d.
func parseTime(s string, now time.Time, endOfDay bool) (time.Time, error) {
	s = strings.TrimSpace(s)
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		if endOfDay {
			t = t.AddDate(0, 0, 1)
		}
		return t, nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t.UTC(), nil
	}
	if days, ok := strings.CutSuffix(s, "d"); ok {
		if n, err := strconv.Atoi(days); err == nil && n > 0 {
			return now.AddDate(0, 0, -n).Truncate(time.Second), nil
		}
	}
	if d, err := time.ParseDuration(s); err == nil && d > 0 {
		return now.Add(-d).Truncate(time.Second), nil
	}
	return time.Time{}, fmt.Errorf("%q is not a date, an RFC 3339 time or a look-back", s)
}

// startTombstones loads the tombstones in store, hashed with CIO_PII_KEY
// in pii's address form, as the processor does; where names the right key
// for keyRefusal.
func startTombstones(ctx context.Context, store ledger.Tombstones, pii *privacy.Policy, e Env, logger *slog.Logger, where string) (*tombstone.Set, error) {
	s := &tombstone.Set{Store: store, Hasher: tombstone.NewHasher([]byte(e.Getenv(privacy.EnvKey))).WithAddressForm(pii), Logger: logger}
	if err := s.Start(ctx); err != nil {
		return nil, keyRefusal(err, where)
	}
	return s, nil
}

// keyRefusal is Start's error for backfill. Another key's fingerprint
// beside the tombstones refuses the run (exit 1), naming where the right
// key lives: its hashes would match no forgotten person, so it would bring
// them back. The processor, which must not stop, only logs it.
func keyRefusal(err error, where string) error {
	var m *tombstone.KeyMismatchError
	if errors.As(err, &m) {
		return fmt.Errorf("backfill: refused: %s differs from the key the tombstones were written with (fingerprint %s, yours %s), "+
			"so forgotten people would come back: use %s", privacy.EnvKey, m.Stored, m.Ours, where)
	}
	return fmt.Errorf("backfill: %w", err)
}
