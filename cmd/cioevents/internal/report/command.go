package report

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"cloud.google.com/go/bigquery"
	"google.golang.org/api/option"

	"github.com/cioevents/cioevents/cmd/cioevents/internal/cli"
	"github.com/cioevents/cioevents/cmd/cioevents/internal/funnel"
	"github.com/cioevents/cioevents/cmd/cioevents/internal/names"
	"github.com/cioevents/cioevents/shared/config"
)

// Usage is the command's line in `cioevents` usage.
const Usage = `report  [--data-dir D | --project P --dataset DS [--table deliveries]] [--from DATE] [--to DATE]
          [--by campaign|broadcast|newsletter|message|channel|day|domain|mailbox_provider|bounce_class|workspace]
          [--by link --message KIND:ID] [--format table|csv|json] [--wide | --columns C,...] [--html FILE|DIR]`

// Env is what the command runs with; zero fields mean the process's own.
type Env struct {
	Stdout io.Writer
	// Stderr gets the flags' help and what was written where.
	Stderr io.Writer
	Getenv config.Getenv
	// BigQueryOptions go to the BigQuery client (tests: a fake).
	BigQueryOptions []option.ClientOption
	Now             func() time.Time
}

// bigQueryDays is the default range of a BigQuery report: every day scanned
// is paid for, so the default stays small.
const bigQueryDays = 30

// Command runs `cioevents report args...`.
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
	fl := flag.NewFlagSet("report", flag.ContinueOnError)
	fl.SetOutput(e.Stderr)
	dir := fl.String("data-dir", "", "local data dir written by 'cioevents dev' (events.ndjson), e.g. .cioevents")
	project := fl.String("project", e.Getenv(config.EnvProject), "BigQuery project")
	dataset := fl.String("dataset", e.Getenv(config.EnvDataset), "BigQuery dataset")
	deduped := "events_deduped"
	if t := e.Getenv(config.EnvTable); t != "" {
		deduped = t + "_deduped" // as terraform/modules/cioevents/bigquery.tf names the view
	}
	table := fl.String("table", "deliveries", "the deliveries table (one row per delivery)")
	events := fl.String("events", deduped, "view with one row per event (--by link reads its clicks)")
	namesTable := fl.String("names-table", names.Table, "table of message names")
	from := fl.String("from", "", "first send day, YYYY-MM-DD (UTC; default: all local data, or 30 days before --to in BigQuery)")
	to := fl.String("to", "", "last send day, inclusive (default: today, UTC)")
	by := fl.String("by", "campaign", "group by "+strings.Join(funnel.ByNames, "|")+", or link (with --message)")
	message := fl.String("message", "", "--by link: the message, as KIND:ID (campaign, broadcast, newsletter or transactional), e.g. campaign:31")
	format := fl.String("format", "table", "table, csv or json")
	wide := fl.Bool("wide", false, "table: every stage and rate, under their full names (default: the columns that fit 100 characters)")
	columns := fl.String("columns", "", "table: these stages and rates, comma-separated, under their full names")
	htmlFile := fl.String("html", "", "also write a self-contained HTML page with charts to this file, or to report.html in this directory (e.g. .cioevents, which git ignores)")
	if err := cli.Parse(fl, args); err != nil {
		return err
	}
	var msg funnel.Message
	q, ok := funnel.By(*by)
	switch {
	case *by == "link":
		if *message == "" {
			return cli.Usagef("report", "--by link needs --message KIND:ID, e.g. --message campaign:31")
		}
		m, err := funnel.ParseMessage(*message)
		if err != nil {
			return cli.Usagef("report", "--message %v", err)
		}
		msg = m
		q = funnel.Total
		if *htmlFile != "" {
			return cli.Usagef("report", "--by link has no --html page")
		}
	case !ok:
		return cli.Usagef("report", "--by %q: want one of %s, link", *by, strings.Join(funnel.ByNames, ", "))
	case *message != "":
		return cli.Usagef("report", "--message goes with --by link")
	}
	switch *format {
	case "table", "csv", "json":
	default:
		return cli.Usagef("report", "--format %q: want table, csv or json", *format)
	}
	cols := Columns{Names: DefaultColumns, Short: true}
	switch {
	case *wide && *columns != "":
		return cli.Usagef("report", "--wide and --columns: give one")
	case *wide:
		cols = Columns{}
	case *columns != "":
		names, err := ParseColumns(q, *columns)
		if err != nil {
			return cli.Usagef("report", "--columns: %v", err)
		}
		cols = Columns{Names: names}
	}

	var rg funnel.Range
	day := func(flagName, s string) (time.Time, error) {
		t, err := time.Parse(time.DateOnly, s)
		if err != nil {
			return t, cli.Usagef("report", "--%s %q: want YYYY-MM-DD", flagName, s)
		}
		return t, nil
	}
	if *to != "" {
		t, err := day("to", *to)
		if err != nil {
			return err
		}
		rg.Until = t.AddDate(0, 0, 1)
	}
	if *from != "" {
		t, err := day("from", *from)
		if err != nil {
			return err
		}
		rg.From = t
	}

	var src Source
	looker := ""
	switch {
	case *dir != "":
		l, err := LoadDir(*dir)
		if err != nil {
			return err
		}
		src = l
	case *project != "" && *dataset != "":
		if rg.Until.IsZero() {
			rg.Until = e.Now().UTC().Truncate(24*time.Hour).AddDate(0, 0, 1)
		}
		if rg.From.IsZero() {
			rg.From = rg.Until.AddDate(0, 0, -bigQueryDays)
		}
		client, err := bigquery.NewClient(ctx, *project, e.BigQueryOptions...)
		if err != nil {
			return fmt.Errorf("report: %w", err)
		}
		defer client.Close()
		ds := *project + "." + *dataset + "."
		src = &BigQuery{Client: client, Table: ds + *table, Events: ds + *events, NamesTable: ds + *namesTable}
		looker = funnel.LookerStudioURL(*project, *dataset)
		// A few queries, each seconds long: say what is being waited for.
		fmt.Fprintf(e.Stderr, "report: querying %s.%s.%s, %s\n", *project, *dataset, *table, rangeText(rg))
	default:
		return cli.Usagef("report", "give --data-dir (what 'cioevents dev' writes, e.g. .cioevents), or --project and --dataset")
	}
	if !rg.From.IsZero() && !rg.Until.IsZero() && !rg.From.Before(rg.Until) {
		return cli.Usagef("report", "--from is after --to")
	}

	if *by == "link" {
		lr, err := BuildLinks(ctx, src, msg, rg)
		if err != nil {
			return err
		}
		switch *format {
		case "csv":
			return lr.WriteCSV(e.Stdout)
		case "json":
			return lr.WriteJSON(e.Stdout)
		}
		return lr.WriteTable(e.Stdout)
	}
	rep, err := Build(ctx, src, *by, rg, BuildOptions{Page: *htmlFile != ""})
	if err != nil {
		return err
	}
	rep.Looker = looker
	switch *format {
	case "csv":
		err = rep.WriteCSV(e.Stdout)
	case "json":
		err = rep.WriteJSON(e.Stdout)
	default:
		err = rep.WriteTable(e.Stdout, cols)
	}
	if err != nil {
		return err
	}
	if *htmlFile != "" {
		path := *htmlFile
		if fi, err := os.Stat(path); err == nil && fi.IsDir() {
			path = filepath.Join(path, HTMLFile)
		}
		f, err := os.Create(path)
		if err != nil {
			return fmt.Errorf("report: --html: %w", err)
		}
		if err := rep.WriteHTML(f); err != nil {
			f.Close()
			return err
		}
		if err := f.Close(); err != nil {
			return fmt.Errorf("report: --html: %w", err)
		}
		fmt.Fprintf(e.Stderr, "report: wrote %s\n", path)
	}
	return nil
}

// HTMLFile is the page's name when --html names a directory.
const HTMLFile = "report.html"
