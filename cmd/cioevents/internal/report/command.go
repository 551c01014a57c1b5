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
	"github.com/cioevents/cioevents/shared/config"
)

// Usage is the command's line in `cioevents` usage.
const Usage = `report  [--data-dir D | --project P --dataset DS [--table events_deduped]] [--from DATE] [--to DATE]
          [--by campaign|broadcast|newsletter|channel|day|domain|workspace] [--format table|csv|json]
          [--wide | --columns C,...] [--html FILE|DIR]`

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
	table := fl.String("table", deduped, "view with one row per event")
	from := fl.String("from", "", "first day, YYYY-MM-DD (UTC; default: all local data, or 30 days before --to in BigQuery)")
	to := fl.String("to", "", "last day, inclusive (default: today, UTC)")
	by := fl.String("by", "campaign", "group by "+strings.Join(funnel.ByNames, "|"))
	format := fl.String("format", "table", "table, csv or json")
	wide := fl.Bool("wide", false, "table: every stage and rate, under their full names (default: the columns that fit 100 characters)")
	columns := fl.String("columns", "", "table: these stages and rates, comma-separated, under their full names")
	htmlFile := fl.String("html", "", "also write a self-contained HTML page with charts to this file, or to report.html in this directory (e.g. .cioevents, which git ignores)")
	if err := cli.Parse(fl, args); err != nil {
		return err
	}
	q, ok := funnel.By(*by)
	if !ok {
		return cli.Usagef("report", "--by %q: want one of %s", *by, strings.Join(funnel.ByNames, ", "))
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
		src = &BigQuery{Client: client, Table: *project + "." + *dataset + "." + *table}
		// Three queries, each seconds long: say what is being waited for.
		fmt.Fprintf(e.Stderr, "report: querying %s.%s.%s, %s\n", *project, *dataset, *table, rangeText(rg))
	default:
		return cli.Usagef("report", "give --data-dir (what 'cioevents dev' writes, e.g. .cioevents), or --project and --dataset")
	}
	if !rg.From.IsZero() && !rg.Until.IsZero() && !rg.From.Before(rg.Until) {
		return cli.Usagef("report", "--from is after --to")
	}

	rep, err := Build(ctx, src, *by, rg)
	if err != nil {
		return err
	}
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
