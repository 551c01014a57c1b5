package doctor

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"github.com/cioevents/cioevents/cmd/cioevents/internal/cli"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"cloud.google.com/go/bigquery"
	"google.golang.org/api/option"

	"github.com/cioevents/cioevents/cmd/cioevents/internal/appapi"
	"github.com/cioevents/cioevents/cmd/cioevents/internal/cloudlogs"
	"github.com/cioevents/cioevents/cmd/cioevents/internal/cloudmetrics"
	"github.com/cioevents/cioevents/cmd/cioevents/internal/connect"
	"github.com/cioevents/cioevents/cmd/cioevents/internal/devstack"
	"github.com/cioevents/cioevents/cmd/cioevents/internal/secretstore"
	"github.com/cioevents/cioevents/cmd/cioevents/internal/tfoutput"
	"github.com/cioevents/cioevents/shared/config"
)

// Usage is the command line, for the CLI's usage text.
const Usage = `doctor  [--url U] [--key K] [--data-dir D] [--timeout 60s] [--json]                  (a running cioevents dev)
          --cloud [--project P] [--url U] [--key K] [--secret S] [...]      (a deployment; CIO_APP_API_KEY, CIO_REGION)`

// Env is what the command reads and writes besides its flags; zero values
// are the real ones. Tests point the Google clients at fakes.
type Env struct {
	Getenv       config.Getenv
	Stdout       io.Writer
	Stderr       io.Writer
	Terraform    tfoutput.Runner
	TerraformDir string
	// Receiver is the HTTP client of the probes.
	Receiver   *http.Client
	AppAPIURL  string
	AppAPIHTTP *http.Client
	// Google are extra options of every Google client (endpoint, no auth).
	BigQuery, SecretManager, Monitoring, Logging, PubSub []option.ClientOption
	// PollEvery overrides how often the probe's row is looked for.
	PollEvery time.Duration
}

func (e *Env) defaults() {
	if e.Getenv == nil {
		e.Getenv = os.Getenv
	}
	if e.Stdout == nil {
		e.Stdout = os.Stdout
	}
	if e.Stderr == nil {
		e.Stderr = os.Stderr
	}
}

// ErrUsage marks a mistake in the command line.
var ErrUsage = cli.ErrUsage

type flags struct {
	url, key, dataDir, project, dataset, table, sub, dlSub, topic, service, secret, tfDir string
	cloud, asJSON                                                                         bool
	timeout, maxAge                                                                       time.Duration
}

// Command runs `cioevents doctor`; it returns an error wrapping
// ErrChecksFailed when a check failed (exit status 1).
func Command(ctx context.Context, args []string, e Env) error {
	e.defaults()
	var f flags
	fl := newFlagSet(&f, e.Stderr)
	if err := fl.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return ErrUsage // the flag package said why
	}
	if fl.NArg() > 0 {
		return fmt.Errorf("%w: unexpected argument %q (every option is a --flag)", ErrUsage, fl.Arg(0))
	}
	if f.timeout <= 0 {
		return fmt.Errorf("%w: --timeout %s must be positive", ErrUsage, f.timeout)
	}
	var o Options
	var closers []func() error
	defer func() {
		for _, c := range closers {
			c()
		}
	}()
	var err error
	if f.cloud || f.project != "" {
		o, closers, err = cloudOptions(ctx, f, e)
	} else {
		o, err = localOptions(f, e)
	}
	if err != nil {
		return err
	}
	o.Timeout, o.HTTP, o.MaxUnackedAge = f.timeout, e.Receiver, f.maxAge
	if e.PollEvery > 0 {
		o.PollEvery = e.PollEvery
	}
	rep := Run(ctx, o)
	if f.asJSON {
		if err := rep.JSON(e.Stdout); err != nil {
			return err
		}
	} else {
		rep.Print(e.Stdout)
	}
	return failedCount(rep)
}

// newFlagSet defines doctor's flags into f. The scheduled probe's job
// (terraform/modules/cioevents/probe.tf) passes some of them; a test holds
// the two together.
func newFlagSet(f *flags, stderr io.Writer) *flag.FlagSet {
	fl := flag.NewFlagSet("doctor", flag.ContinueOnError)
	fl.SetOutput(stderr)
	fl.StringVar(&f.url, "url", "", "receiver URL (dev: http://127.0.0.1:8080/; --cloud: terraform output webhook_url)")
	fl.StringVar(&f.key, "key", "", "signing key for the probe (dev: "+config.EnvSigningKeys+" or the key in the data dir; --cloud: the secret's latest version)")
	fl.StringVar(&f.dataDir, "data-dir", ".cioevents", "dev's data directory, where the probe's row must appear")
	fl.DurationVar(&f.timeout, "timeout", 60*time.Second, "how long to wait for the probe's row")
	fl.BoolVar(&f.asJSON, "json", false, "print the report as JSON")
	fl.BoolVar(&f.cloud, "cloud", false, "check the deployment (values from terraform output in terraform/ unless given)")
	fl.StringVar(&f.project, "project", "", "Google Cloud project (implies --cloud)")
	fl.StringVar(&f.dataset, "dataset", "", "BigQuery dataset (default: from terraform output events_table, else cioevents)")
	fl.StringVar(&f.table, "table", "", "events table (default: from terraform output events_table, else events)")
	fl.StringVar(&f.sub, "subscription", "", "the processor's push subscription (default: <prefix>-processor-push)")
	fl.StringVar(&f.topic, "topic", "", "the receiver's Pub/Sub topic (default: terraform output topic, else <prefix>-events)")
	fl.StringVar(&f.dlSub, "dead-letter-subscription", "", "dead-letter subscription (default: terraform output dead_letter_subscription)")
	fl.StringVar(&f.service, "processor-service", "", "the processor's Cloud Run service, whose logs explain a lost probe (default: <prefix>-processor)")
	fl.StringVar(&f.secret, "secret", "", "signing-keys secret (default: terraform output signing_keys_secret, else "+connect.DefaultSecret+")")
	fl.StringVar(&f.tfDir, "terraform-dir", "", "the Terraform root whose outputs describe the deployment (default: terraform/ of the repository holding the working directory)")
	fl.DurationVar(&f.maxAge, "max-unacked-age", 10*time.Minute, "oldest unacked message age that still passes")
	return fl
}

// localOptions checks a running `cioevents dev` with its defaults.
func localOptions(f flags, e Env) (Options, error) {
	o := Options{URL: firstOf(f.url, "http://127.0.0.1:8080/"), Rows: LocalRows{Dir: f.dataDir}, PollEvery: 100 * time.Millisecond,
		SkipViews:    "local: dev has no views (cioevents report evaluates the same definitions in Go)",
		SkipStuck:    "local: dev's health line shows its queue",
		SkipCustomer: "local: Customer.io cannot post to a local URL (doctor --cloud checks the webhook)"}
	switch {
	case f.key != "":
		o.Key, o.KeySource = firstKey(f.key), "given with --key"
	case e.Getenv(config.EnvSigningKeys) != "":
		o.Key, o.KeySource = firstKey(e.Getenv(config.EnvSigningKeys)), "from "+config.EnvSigningKeys
	default:
		path := filepath.Join(f.dataDir, devstack.KeyFile)
		b, err := os.ReadFile(path)
		if err != nil {
			return o, fmt.Errorf("%w: no --key, no %s, and no key kept by dev in %s (%v): pass the key `cioevents dev` printed",
				ErrUsage, config.EnvSigningKeys, path, err)
		}
		o.Key, o.KeySource = firstKey(strings.TrimSpace(string(b))), "kept by dev in "+path
	}
	return o, nil
}

// firstKey is the first key of a CIO_WEBHOOK_SIGNING_KEYS-style list,
// without its workspace name.
func firstKey(list string) []byte {
	keys, err := config.ParseSigningKeys(list)
	if err != nil || len(keys) == 0 {
		return []byte(strings.TrimSpace(list))
	}
	return keys[0].Key
}

func firstOf(vs ...string) string {
	for _, v := range vs {
		if v != "" {
			return v
		}
	}
	return ""
}

// cloudOptions builds the checks of a deployment: flags first, then
// terraform output, then the default names of terraform/.
func cloudOptions(ctx context.Context, f flags, e Env) (Options, []func() error, error) {
	var closers []func() error
	needTF := f.url == "" || f.project == "" || f.dlSub == "" || (f.key == "" && f.secret == "")
	var tf tfoutput.Outputs
	if needTF {
		dir, err := firstOf(f.tfDir, e.TerraformDir), error(nil)
		if dir == "" {
			dir, err = tfoutput.FindDir(".")
		}
		if err == nil {
			tf, err = tfoutput.Read(ctx, e.Terraform, dir)
		}
		if err != nil {
			fmt.Fprintf(e.Stderr, "doctor: %v; using flags and default names\n", err)
		}
	}
	project := firstOf(f.project, tf.Project, e.Getenv(config.EnvProject))
	if project == "" {
		return Options{}, nil, fmt.Errorf("%w: no project: pass --project, or run from the repository after terraform apply", ErrUsage)
	}
	o := Options{URL: firstOf(f.url, tf.WebhookURL), Project: project, PollEvery: 2 * time.Second}
	if o.URL == "" {
		return o, nil, fmt.Errorf("%w: no receiver URL: pass --url (terraform output webhook_url)", ErrUsage)
	}
	dataset, table := firstOf(f.dataset, tf.Dataset, "cioevents"), firstOf(f.table, tf.Table, "events")
	o.DeadLetterSubscription = firstOf(f.dlSub, tf.DeadLetterSubscription, "cioevents-events-dead-letter")
	prefix := strings.TrimSuffix(o.DeadLetterSubscription, "-events-dead-letter")
	o.Subscription = firstOf(f.sub, prefix+"-processor-push")
	o.ProcessorService = firstOf(f.service, prefix+"-processor")
	o.Topic = firstOf(f.topic, tf.Topic, prefix+"-events")

	bq, err := bigquery.NewClient(ctx, project, e.BigQuery...)
	if err != nil {
		return o, closers, fmt.Errorf("doctor: BigQuery: %w", err)
	}
	closers = append(closers, bq.Close)
	o.Rows = BigQueryRows{Client: bq, Project: project, Dataset: dataset, Table: table}
	o.DryRun, o.Views = BigQueryDryRun{Client: bq}, Views(project, dataset, table)

	if f.key != "" {
		o.Key, o.KeySource = firstKey(f.key), "given with --key"
	} else {
		secret := firstOf(f.secret, tf.SigningKeysSecret, connect.DefaultSecret)
		sm, err := secretstore.New(ctx, project, e.SecretManager...)
		if err != nil {
			return o, closers, err
		}
		closers = append(closers, sm.Close)
		data, version, err := sm.Access(ctx, secret, "latest")
		if err != nil {
			return o, closers, fmt.Errorf("doctor: the probe's key: %w (or pass --key)", err)
		}
		o.Key, o.KeySource = firstKey(string(data)), fmt.Sprintf("in version %s of secret %s", version, secret)
	}
	if m, err := cloudmetrics.New(ctx, e.Monitoring...); err != nil {
		o.MetricsErr = err
	} else {
		closers = append(closers, m.Close)
		o.Metrics = m
	}
	if ps, err := cloudmetrics.NewPubSub(ctx, project, e.PubSub...); err != nil {
		o.ResourcesErr = err
	} else {
		closers = append(closers, ps.Close)
		o.Resources = ps
	}
	if l, err := cloudlogs.New(ctx, e.Logging...); err == nil {
		closers = append(closers, l.Close)
		o.Logs = l
	}
	if key := e.Getenv(appapi.EnvKey); key != "" {
		c, err := appapi.New(appapi.Config{Key: key, Region: e.Getenv(config.EnvRegion), BaseURL: e.AppAPIURL, HTTPClient: e.AppAPIHTTP})
		if err != nil {
			return o, closers, err
		}
		o.Webhooks = c
	} else {
		o.SkipCustomer = appapi.EnvKey + " is not set (export it to check the webhook in Customer.io)"
	}
	return o, closers, nil
}
