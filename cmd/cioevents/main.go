// Command cioevents runs, tests and operates the cioevents pipeline.
//
//	cioevents dev      the whole pipeline in one process, on local stand-ins
//	cioevents serve    the deployed functions under functions-framework
//	cioevents send     sign sample events and post them (test tool, load generator)
//	cioevents replay   move dead-lettered messages back to the main topic
//	cioevents schema   print the BigQuery schema JSON Terraform uses
//	cioevents backfill fill the warehouse from the App API, or reconcile it with --dry-run
//	cioevents report   funnel and deliverability figures, from the data dir or BigQuery
//	cioevents forget   remove one person's rows from the warehouse and their ledger documents
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"cloud.google.com/go/pubsub/v2"
	"github.com/GoogleCloudPlatform/functions-framework-go/funcframework"

	"github.com/cioevents/cioevents"
	"github.com/cioevents/cioevents/functions/processor"
	"github.com/cioevents/cioevents/functions/receiver"
	"github.com/cioevents/cioevents/shared/backfill"
	"github.com/cioevents/cioevents/shared/config"
	"github.com/cioevents/cioevents/shared/devstack"
	"github.com/cioevents/cioevents/shared/forget"
	"github.com/cioevents/cioevents/shared/logging"
	"github.com/cioevents/cioevents/shared/replay"
	"github.com/cioevents/cioevents/shared/report"
	"github.com/cioevents/cioevents/shared/sender"
	"github.com/cioevents/cioevents/shared/warehouse"
)

const usage = `usage: cioevents <command> [flags]

commands:
  dev     [--addr 127.0.0.1:8080] [--data-dir .cioevents] [--health-every 10s]
  serve   [--addr 127.0.0.1:8080]            (FUNCTION_TARGET=ReceiveWebhook|ProcessEvent)
  send    --url URL --key KEY [--event object_type.metric ... | --all | --file F ...] [-n N] [-c C] [--dup-rate R]
  replay  --project P --subscription DLQ_SUB --topic TOPIC [--max N] [--dry-run]
  schema  [--table events|rejected_events]
  ` + backfill.Usage + `
  ` + report.Usage + `
  ` + forget.Usage + `
`

func main() {
	if len(os.Args) < 2 {
		fmt.Fprint(os.Stderr, usage)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var err error
	switch cmd, args := os.Args[1], os.Args[2:]; cmd {
	case "dev":
		err = dev(ctx, args, os.Stdout)
	case "serve":
		err = serve(ctx, args)
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
	case "forget":
		err = forget.Command(ctx, args, forget.Env{})
	case "-h", "--help", "help":
		fmt.Print(usage)
	default:
		fmt.Fprintf(os.Stderr, "cioevents: unknown command %q\n\n%s", cmd, usage)
		os.Exit(2)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "cioevents:", err)
		os.Exit(1)
	}
}

func dev(ctx context.Context, args []string, out io.Writer) error {
	fl := flag.NewFlagSet("dev", flag.ExitOnError)
	addr := fl.String("addr", "127.0.0.1:8080", "listen address")
	dir := fl.String("data-dir", ".cioevents", "where events.ndjson, rejected.ndjson and actions.ndjson go")
	every := fl.Duration("health-every", 10*time.Second, "print the health line this often when it changed (0: only at exit)")
	fl.Parse(args)
	s, err := devstack.Start(ctx, devstack.Options{Addr: *addr, DataDir: *dir,
		Logger: logging.New(os.Stderr, os.Getenv(config.EnvLogLevel))})
	if err != nil {
		return err
	}
	defer s.Close()
	keyNote := "from " + config.EnvSigningKeys
	if s.Generated {
		keyNote = "generated for this run; set " + config.EnvSigningKeys + " to choose one"
	}
	fmt.Fprintf(out, `cioevents dev is running
  webhook URL  %s
  signing key  %s (%s)
  Pub/Sub      %s
  ledger       %s
  rows         %s/%s, rejects %s/%s
  actions      %s

Send every sample event:
  go run ./cmd/cioevents send --url %s --key %s --all

A health line (accepted / refused / processed / lag) follows whenever it changes; Ctrl-C stops.
`, s.URL, s.Key, keyNote, s.PubSub, s.Ledger, s.DataDir, warehouse.EventsFile, s.DataDir, warehouse.RejectedFile,
		s.Actions, s.URL, s.Key)
	healthLines(ctx, s.Health, *every, out)
	fmt.Fprintln(out, "stopping")
	fmt.Fprintln(out, s.Health.Summary())
	return nil
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

func serve(ctx context.Context, args []string) error {
	fl := flag.NewFlagSet("serve", flag.ExitOnError)
	def := "127.0.0.1:8080"
	if p := os.Getenv("PORT"); p != "" {
		def = ":" + p
	}
	addr := fl.String("addr", def, "listen address (PORT is honoured as Cloud Run sets it)")
	fl.Parse(args)
	// A known FUNCTION_TARGET with a bad configuration never gets here: the
	// function's own init refuses to start, exactly as in a deployment.
	switch os.Getenv("FUNCTION_TARGET") {
	case receiver.Name, processor.Name:
	case "":
		fmt.Fprintf(os.Stderr, "FUNCTION_TARGET unset: serving /%s and /%s\n", receiver.Name, processor.Name)
	default:
		return fmt.Errorf("FUNCTION_TARGET=%q is neither %s nor %s", os.Getenv("FUNCTION_TARGET"), receiver.Name, processor.Name)
	}
	host, port, err := net.SplitHostPort(*addr)
	if err != nil {
		return fmt.Errorf("--addr: %w", err)
	}
	errc := make(chan error, 1)
	go func() { errc <- funcframework.StartHostPort(host, port) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
		return nil
	}
}

// multi collects a repeatable string flag.
type multi []string

func (m *multi) String() string     { return strings.Join(*m, ",") }
func (m *multi) Set(v string) error { *m = append(*m, v); return nil }

func send(ctx context.Context, args []string, out io.Writer) error {
	fl := flag.NewFlagSet("send", flag.ExitOnError)
	url := fl.String("url", "http://127.0.0.1:8080/", "receiver URL")
	key := fl.String("key", os.Getenv(config.EnvSigningKeys), "webhook signing key (default: first of "+config.EnvSigningKeys+")")
	var events, files multi
	fl.Var(&events, "event", "object_type.metric of a sample to send (repeatable)")
	fl.Var(&files, "file", "a raw body file to send (repeatable)")
	all := fl.Bool("all", false, "send every sample: events, odd and malformed")
	n := fl.Int("n", 0, "requests in total (default: each selected body once)")
	c := fl.Int("c", 1, "concurrent requests")
	dup := fl.Float64("dup-rate", 0, "fraction of requests that re-send an earlier body")
	fl.Parse(args)
	k, _, _ := strings.Cut(*key, ",")
	if strings.TrimSpace(k) == "" {
		return errors.New("send: --key is required")
	}
	fixtures, err := fs.Sub(cioevents.Fixtures, "testdata")
	if err != nil {
		return err
	}
	rep, err := sender.Run(ctx, sender.Options{URL: *url, Key: []byte(strings.TrimSpace(k)), Events: events, All: *all,
		Files: files, N: *n, Concurrency: *c, DupRate: *dup, Fixtures: fixtures})
	if err != nil {
		return err
	}
	rep.Print(out)
	if !rep.OK() {
		return errors.New("send: some requests were not answered 2xx")
	}
	return nil
}

func replayCmd(ctx context.Context, args []string, out io.Writer) error {
	fl := flag.NewFlagSet("replay", flag.ExitOnError)
	project := fl.String("project", os.Getenv(config.EnvProject), "Google Cloud project")
	sub := fl.String("subscription", "", "dead-letter subscription ID")
	topic := fl.String("topic", os.Getenv(config.EnvTopic), "main topic ID")
	maxN := fl.Int("max", 0, "move at most this many (0: all)")
	dry := fl.Bool("dry-run", false, "count the messages without moving them")
	fl.Parse(args)
	if *project == "" {
		return errors.New("replay: --project is required")
	}
	client, err := pubsub.NewClient(ctx, *project)
	if err != nil {
		return err
	}
	defer client.Close()
	rep, err := replay.Run(ctx, client, replay.Options{Subscription: *sub, Topic: *topic, Max: *maxN, DryRun: *dry})
	fmt.Fprintf(out, "seen %d, moved %d\n", rep.Seen, rep.Moved)
	return err
}

func schema(args []string, out io.Writer) error {
	fl := flag.NewFlagSet("schema", flag.ExitOnError)
	table := fl.String("table", "events", "events or rejected_events")
	fl.Parse(args)
	s := warehouse.EventsSchema()
	switch *table {
	case "events":
	case "rejected_events":
		s = warehouse.RejectedSchema()
	default:
		return fmt.Errorf("schema: unknown table %q", *table)
	}
	b, err := warehouse.SchemaJSON(s)
	if err != nil {
		return err
	}
	_, err = out.Write(b)
	return err
}
