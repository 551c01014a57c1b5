// Command cioevents runs, tests and operates the cioevents pipeline.
//
//	cioevents dev      the whole pipeline in one process, on local stand-ins
//	cioevents serve    the deployed functions under functions-framework
//	cioevents send     sign sample events and post them (test tool, load generator)
//	cioevents replay   move dead-lettered messages back to the main topic
//	cioevents schema   print the BigQuery schema JSON Terraform uses
//	cioevents backfill fill the warehouse from the App API, or reconcile it with --dry-run
//	cioevents report   funnel and deliverability figures, from the data dir or BigQuery
//	cioevents names    refresh the names of campaigns, broadcasts, newsletters and actions from the App API
//	cioevents forget   erase one person: tombstones, their rows, actions lines and ledger records
//	cioevents cost     count operations per event through both functions; $ per million events
//	cioevents connect  point Customer.io's reporting webhook here and store its signing key
//	cioevents doctor   prove the loop end to end: a checklist of dev or the deployment
//
// Exit status: 0 on success, 1 when the command ran and failed, 2 when it
// could not run as given: a usage error, a missing or invalid setting in the
// environment (cli.ErrConfig: serve without its configuration, dev with a bad
// CIO_ACTIONS, backfill without CIO_APP_API_KEY, ...), or a data directory
// another process (a running dev) holds; 3 when forget must be run again at
// the time it printed (docs/privacy.md).
// Every command reports its failure as one plain line on stderr,
// "cioevents: <command>: <what happened, what to change>". While they run,
// `dev` and `serve` write JSON log lines on their log stream (dev: stderr,
// its banner on stdout; serve: stdout, as Cloud Functions does).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"cloud.google.com/go/pubsub/v2"
	"github.com/GoogleCloudPlatform/functions-framework-go/funcframework"
	// The job image (internal/jobimage) is this binary on an empty base, with
	// no CA files: these roots are used when the system has none.
	_ "golang.org/x/crypto/x509roots/fallback"

	"github.com/cioevents/cioevents"
	// Imported first in effect (see the package): FUNCTION_TARGET concerns serve only.
	"github.com/cioevents/cioevents/cmd/cioevents/internal/backfill"
	"github.com/cioevents/cioevents/cmd/cioevents/internal/cli"
	"github.com/cioevents/cioevents/cmd/cioevents/internal/connect"
	"github.com/cioevents/cioevents/cmd/cioevents/internal/cost"
	"github.com/cioevents/cioevents/cmd/cioevents/internal/datadir"
	"github.com/cioevents/cioevents/cmd/cioevents/internal/devstack"
	"github.com/cioevents/cioevents/cmd/cioevents/internal/doctor"
	"github.com/cioevents/cioevents/cmd/cioevents/internal/forget"
	"github.com/cioevents/cioevents/cmd/cioevents/internal/names"
	"github.com/cioevents/cioevents/cmd/cioevents/internal/replay"
	"github.com/cioevents/cioevents/cmd/cioevents/internal/report"
	"github.com/cioevents/cioevents/cmd/cioevents/internal/sender"
	"github.com/cioevents/cioevents/cmd/cioevents/internal/servetarget"
	"github.com/cioevents/cioevents/functions/processor"
	"github.com/cioevents/cioevents/functions/receiver"
	"github.com/cioevents/cioevents/shared/config"
	"github.com/cioevents/cioevents/shared/logging"
	"github.com/cioevents/cioevents/shared/warehouse"
)

const usage = `usage: cioevents <command> [flags]

commands:
  dev     [--addr 127.0.0.1:8080] [--data-dir .cioevents] [--live] [--health-every 10s]
  serve   [--addr 127.0.0.1:8080]            (FUNCTION_TARGET=ReceiveWebhook|ProcessEvent)
  send    --url URL --key KEY [--event object_type.metric ... | --all | --file F ...] [-n N] [-c C] [--dup-rate R]
  replay  --project P --subscription DLQ_SUB --topic TOPIC [--max N] [--dry-run]
  schema  [--table events|rejected_events|message_names]
  ` + backfill.Usage + `
  ` + names.Usage + `
  ` + report.Usage + `
  ` + forget.Usage + `
  ` + cost.Usage + `
  ` + connect.Usage + `
  ` + doctor.Usage + `

Run 'cioevents <command> -h' for a command's flags.
`

func main() {
	if len(os.Args) < 2 {
		fmt.Fprint(os.Stderr, usage)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if os.Args[1] != "serve" {
		// Only serve runs the functions; the other commands print for people.
		logging.RestoreProcessOutput()
	}
	var err error
	switch cmd, args := os.Args[1], os.Args[2:]; cmd {
	case "dev":
		err = dev(ctx, args, os.Stdout, os.Stderr)
	case "serve":
		err = serve(ctx, args, os.Stderr)
	case "send":
		err = send(ctx, args, os.Stdout)
	case "replay":
		err = replayCmd(ctx, args, os.Stdout)
	case "schema":
		err = schema(args, os.Stdout)
	case "backfill":
		err = backfill.Command(ctx, args, backfill.Env{})
	case "report":
		err = report.Command(ctx, args, report.Env{})
	case "names":
		err = names.Command(ctx, args, names.Env{})
	case "forget":
		err = forget.Command(ctx, args, forget.Env{})
	case "cost":
		err = cost.Command(ctx, args, cost.Env{Functions: costFunctions(), Fixtures: cioevents.Fixtures})
	case "connect":
		err = connect.Command(ctx, args, connect.Env{})
	case "doctor":
		err = doctor.Command(ctx, args, doctor.Env{})
	case "-h", "--help", "help":
		fmt.Print(usage)
	default:
		fmt.Fprintf(os.Stderr, "cioevents: unknown command %q\n\n%s", cmd, usage)
		os.Exit(2)
	}
	os.Exit(exitCode(os.Args[1], cli.AsUsage(os.Args[1], err), logging.Stderr()))
}

// exitCode reports err of command cmd and maps it to the exit status.
func exitCode(cmd string, err error, stderr io.Writer) int {
	var ue usageError
	var cue *cli.UsageError
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, &cue):
		ue = usageError{cmd: cue.Cmd, msg: cue.Msg}
		fallthrough
	case errors.As(err, &ue):
		if ue.msg != "" {
			fmt.Fprintf(stderr, "%s (run 'cioevents %s -h' for usage)\n", failureLine(ue.cmd, errors.New(ue.msg)), ue.cmd)
		}
		return 2
	case errors.Is(err, forget.ErrRerun):
		// Done so far, and not finished: forget printed when to run again.
		fmt.Fprintln(stderr, failureLine(cmd, err))
		return 3
	case errors.Is(err, datadir.ErrHeld), errors.Is(err, cli.ErrConfig):
		// Not a failure of the command: it could not start as set up.
		fmt.Fprintln(stderr, failureLine(cmd, err))
		return 2
	}
	fmt.Fprintln(stderr, failureLine(cmd, err))
	return 1
}

// failureLine is err as one line, "cioevents: <cmd>: …": a multi-line error
// (several bad variables, a tool's output) has its lines joined.
func failureLine(cmd string, err error) string {
	var lines []string
	for _, l := range strings.Split(err.Error(), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			lines = append(lines, l)
		}
	}
	msg := strings.Join(lines, "; ")
	if !strings.HasPrefix(msg, cmd+": ") {
		msg = cmd + ": " + msg
	}
	return "cioevents: " + msg
}

// usageError is a mistake in the command line; msg is empty when the flag
// package already printed it.
type usageError struct{ cmd, msg string }

func (e usageError) Error() string { return "cioevents " + e.cmd + ": " + e.msg }

// parse parses a command's flags and refuses positional arguments, which no
// command takes: a stray word is a typo, not something to ignore.
func parse(fl *flag.FlagSet, args []string, stderr io.Writer) error {
	fl.SetOutput(stderr)
	if err := fl.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError{cmd: fl.Name()}
	}
	if fl.NArg() > 0 {
		return usageError{cmd: fl.Name(), msg: fmt.Sprintf("unexpected argument %q (every option is a --flag)", fl.Arg(0))}
	}
	return nil
}

func dev(ctx context.Context, args []string, out, stderr io.Writer) error {
	fl := flag.NewFlagSet("dev", flag.ContinueOnError)
	addr := fl.String("addr", "127.0.0.1:8080", "listen address (127.0.0.1:0 picks a free port)")
	dir := fl.String("data-dir", ".cioevents", "where rows, dry-run actions, the ledger, the queue and the signing key are kept")
	live := fl.Bool("live", false, "make real Customer.io Track API calls with CIO_SITE_ID and CIO_TRACK_API_KEY (default: dry run)")
	every := fl.Duration("health-every", 10*time.Second, "print the health line this often when it changed (0: only at exit)")
	if err := parse(fl, args, stderr); err != nil {
		return err
	}
	log := logging.New(stderr, os.Getenv(config.EnvLogLevel))
	// Libraries that use the log package write JSON lines too.
	slog.SetDefault(log)
	if servetarget.Hidden != "" {
		log.Info("FUNCTION_TARGET is ignored by dev; it selects the function of `cioevents serve`",
			"function_target", servetarget.Hidden)
	}
	s, err := devstack.Start(ctx, devstack.Options{Addr: *addr, DataDir: *dir, Live: *live, Logger: log})
	if err != nil {
		return flagHint(err)
	}
	defer s.Close()
	inv := invokedAs(os.Args[0])
	fmt.Fprintf(out, `cioevents dev is running (JSON logs on stderr)
  webhook URL  %s
  signing key  %s (%s)
  Pub/Sub      %s
  ledger       %s
  rows         %s, rejects %s
  actions      %s

Send every sample event:
  %s send --url %s --key %s --all
then name their campaigns and messages, and report:
  %s names refresh --sample --data-dir %s
  %s report --data-dir %s

A health line (accepted / refused / processed / lag) follows whenever it changes; Ctrl-C stops.
State in %s survives a restart.
`, s.URL, s.Key, s.KeySource, s.PubSub, s.Ledger, s.DataDir+"/"+warehouse.EventsFile,
		s.DataDir+"/"+warehouse.RejectedFile, s.Actions, inv, s.URL, s.Key, inv, s.DataDir, inv, s.DataDir, s.DataDir)
	healthLines(ctx, s.Health, *every, out)
	fmt.Fprintln(out, "stopping")
	if err := s.Close(); err != nil {
		return err
	}
	fmt.Fprintln(out, s.Health.Summary())
	return nil
}

// invokedAs is how to run this binary again, as the banner prints it: the
// path it was started by, or `go run ./cmd/cioevents` when `go run` built it
// into a temporary go-build directory, which is gone once it exits.
func invokedAs(arg0 string) string {
	slash := filepath.ToSlash(arg0)
	if strings.Contains(slash, "/go-build") && filepath.Base(filepath.Dir(arg0)) == "exe" {
		return "go run ./cmd/cioevents"
	}
	if strings.ContainsAny(arg0, " \t'\"") {
		return "'" + strings.ReplaceAll(arg0, "'", `'\''`) + "'"
	}
	return arg0
}

// flagHint names the dev flag behind a start-up failure and how to fix it.
func flagHint(err error) error {
	switch {
	case errors.Is(err, devstack.ErrListen):
		return fmt.Errorf("%w; choose another address with --addr (127.0.0.1:0 picks a free port)", err)
	case errors.Is(err, devstack.ErrDataDir):
		return fmt.Errorf("%w; point --data-dir at a directory you can write", err)
	}
	return err
}

// healthLines prints the health summary every interval in which it changed,
// until ctx is done.
func healthLines(ctx context.Context, h *devstack.Health, every time.Duration, out io.Writer) {
	if every <= 0 {
		<-ctx.Done()
		return
	}
	t := time.NewTicker(every)
	defer t.Stop()
	var last devstack.Summary
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if sum := h.Summary(); sum != last {
				fmt.Fprintln(out, sum)
				last = sum
			}
		}
	}
}

func serve(ctx context.Context, args []string, stderr io.Writer) error {
	fl := flag.NewFlagSet("serve", flag.ContinueOnError)
	def := "127.0.0.1:8080"
	if p := os.Getenv("PORT"); p != "" {
		def = ":" + p
	}
	addr := fl.String("addr", def, "listen address (PORT is honoured as Cloud Run sets it)")
	if err := parse(fl, args, stderr); err != nil {
		return err
	}
	target := servetarget.Target()
	var names []string
	switch target {
	case receiver.Name, processor.Name:
		names = []string{target}
	case "":
		names = []string{receiver.Name, processor.Name}
	default:
		return cli.Config(fmt.Errorf("FUNCTION_TARGET=%q is neither %s nor %s; set one of them, or unset it to serve both",
			target, receiver.Name, processor.Name))
	}
	host, port, err := net.SplitHostPort(*addr)
	if err != nil {
		return usageError{cmd: "serve", msg: fmt.Sprintf("--addr %q: %v (want host:port, e.g. 127.0.0.1:8080)", *addr, err)}
	}
	// What a deployment's init refuses, serve refuses, whether it serves
	// one function or both: never an unconfigured function answering 503.
	for _, name := range names {
		if err := configured(ctx, name); err != nil {
			return err
		}
	}
	// functions-framework listens by itself and says nothing about it, so
	// the address is checked first to name the flag when it is taken.
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return fmt.Errorf("--addr %s: %w; choose another address with --addr or PORT", *addr, err)
	}
	ln.Close()
	// As deployed: every line the functions and functions-framework print
	// becomes one JSON object on stdout.
	if err := logging.RouteProcessOutput(); err != nil {
		return err
	}
	defer logging.FlushProcessOutput()
	log := logging.New(logging.Stdout(), os.Getenv(config.EnvLogLevel))
	slog.SetDefault(log)
	paths := map[string]string{}
	if target != "" {
		paths[target] = "/"
		// Hidden until now (servetarget), so no function's init exited
		// before this check; functions-framework reads it to serve one.
		if err := os.Setenv(servetarget.Env, target); err != nil {
			return err
		}
	} else {
		for _, name := range names {
			paths[name] = "/" + name
		}
	}
	for name, p := range paths {
		log.Info("serving", "function", name, "url", "http://"+displayHost(host)+":"+port+p)
	}
	errc := make(chan error, 1)
	go func() { errc <- funcframework.StartHostPort(host, port) }()
	select {
	case err := <-errc:
		return fmt.Errorf("--addr %s: %w", *addr, err)
	case <-ctx.Done():
		log.Info("stopping")
		return nil
	}
}

// configured checks function name's configuration as its init does in a
// deployment whose FUNCTION_TARGET names it.
func configured(ctx context.Context, name string) error {
	var err error
	switch name {
	case receiver.Name:
		_, err = config.LoadReceiver(os.Getenv)
	case processor.Name:
		_, err = processor.New(ctx, os.Getenv, processor.Overrides{CheckOnly: true})
	}
	if err != nil {
		return cli.Config(fmt.Errorf("%s refuses to start: invalid configuration: %w", name, err))
	}
	return nil
}

func displayHost(h string) string {
	switch h {
	case "", "0.0.0.0", "::":
		return "localhost"
	}
	if strings.Contains(h, ":") {
		return "[" + h + "]"
	}
	return h
}

// multi collects a repeatable string flag.
type multi []string

func (m *multi) String() string     { return strings.Join(*m, ",") }
func (m *multi) Set(v string) error { *m = append(*m, v); return nil }

func send(ctx context.Context, args []string, out io.Writer) error {
	fl := flag.NewFlagSet("send", flag.ContinueOnError)
	url := fl.String("url", "http://127.0.0.1:8080/", "receiver URL")
	key := fl.String("key", os.Getenv(config.EnvSigningKeys), "webhook signing key (default: first of "+config.EnvSigningKeys+")")
	var events, files multi
	fl.Var(&events, "event", "object_type.metric of a sample to send (repeatable)")
	fl.Var(&files, "file", "a raw body file to send (repeatable)")
	all := fl.Bool("all", false, "send every sample: events, odd, malformed and the funnel deliveries")
	n := fl.Int("n", 0, "requests in total (default: each selected body once)")
	c := fl.Int("c", 1, "concurrent requests")
	dup := fl.Float64("dup-rate", 0, "fraction of requests that re-send an earlier body")
	if err := parse(fl, args, os.Stderr); err != nil {
		return err
	}
	if strings.TrimSpace(*key) == "" {
		return usageError{cmd: "send", msg: "--key is required: pass the key `cioevents dev` printed, or set " + config.EnvSigningKeys}
	}
	// The first key, without its workspace name if it has one.
	keys, err := config.ParseSigningKeys(*key)
	if err != nil {
		return usageError{cmd: "send", msg: "--key: " + err.Error()}
	}
	k := string(keys[0].Key)
	fixtures, err := fs.Sub(cioevents.Fixtures, "testdata")
	if err != nil {
		return err
	}
	rep, err := sender.Run(ctx, sender.Options{URL: *url, Key: []byte(k), Events: events, All: *all,
		Files: files, N: *n, Concurrency: *c, DupRate: *dup, Fixtures: fixtures})
	if errors.Is(err, sender.ErrOptions) {
		return usageError{cmd: "send", msg: err.Error()}
	}
	if err != nil {
		return err
	}
	if len(rep.Status) == 0 {
		// Not one answer: a rate and latencies would only mislead.
		why := "no answer"
		for e := range rep.Errors {
			why = e
		}
		return fmt.Errorf("send: no receiver answered at --url %s (%s); start `cioevents dev` or fix --url", *url, why)
	}
	rep.Print(out)
	if rep.Status[401] > 0 {
		return fmt.Errorf("send: %d requests got 401: --key is not one of the receiver's signing keys (use the key `cioevents dev` printed)", rep.Status[401])
	}
	if !rep.OK() {
		return errors.New("send: some requests were not answered 2xx")
	}
	return nil
}

func replayCmd(ctx context.Context, args []string, out io.Writer) error {
	fl := flag.NewFlagSet("replay", flag.ContinueOnError)
	project := fl.String("project", os.Getenv(config.EnvProject), "Google Cloud project (default: "+config.EnvProject+")")
	sub := fl.String("subscription", "", "dead-letter subscription ID")
	topic := fl.String("topic", os.Getenv(config.EnvTopic), "main topic ID (default: "+config.EnvTopic+")")
	maxN := fl.Int("max", 0, "move at most this many (0: all)")
	dry := fl.Bool("dry-run", false, "count the messages without moving them")
	if err := parse(fl, args, os.Stderr); err != nil {
		return err
	}
	var missing []string
	if *project == "" {
		missing = append(missing, "--project (or "+config.EnvProject+")")
	}
	if *sub == "" {
		missing = append(missing, "--subscription")
	}
	if *topic == "" {
		missing = append(missing, "--topic (or "+config.EnvTopic+")")
	}
	if len(missing) > 0 {
		return usageError{cmd: "replay", msg: strings.Join(missing, ", ") + " required"}
	}
	if *maxN < 0 {
		return usageError{cmd: "replay", msg: fmt.Sprintf("--max %d is negative (0 moves all)", *maxN)}
	}
	client, err := pubsub.NewClient(ctx, *project)
	if err != nil {
		return fmt.Errorf("replay: Pub/Sub client for --project %s: %w", *project, err)
	}
	defer client.Close()
	rep, err := replay.Run(ctx, client, replay.Options{Subscription: *sub, Topic: *topic, Max: *maxN, DryRun: *dry})
	fmt.Fprintf(out, "seen %d, moved %d\n", rep.Seen, rep.Moved)
	return err
}

func schema(args []string, out io.Writer) error {
	fl := flag.NewFlagSet("schema", flag.ContinueOnError)
	table := fl.String("table", "events", "events, rejected_events or "+names.Table)
	if err := parse(fl, args, os.Stderr); err != nil {
		return err
	}
	s := warehouse.EventsSchema()
	switch *table {
	case "events":
	case "rejected_events":
		s = warehouse.RejectedSchema()
	case names.Table:
		s = names.Schema()
	default:
		return usageError{cmd: "schema", msg: fmt.Sprintf("--table %q is none of events, rejected_events, %s", *table, names.Table)}
	}
	b, err := warehouse.SchemaJSON(s)
	if err != nil {
		return err
	}
	_, err = out.Write(b)
	return err
}
