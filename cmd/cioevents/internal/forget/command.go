package forget

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"cloud.google.com/go/bigquery"
	"cloud.google.com/go/firestore"
	"google.golang.org/api/option"

	"github.com/cioevents/cioevents/cmd/cioevents/internal/cli"
	"github.com/cioevents/cioevents/shared/config"
	"github.com/cioevents/cioevents/shared/ledger"
	"github.com/cioevents/cioevents/shared/privacy"
	"github.com/cioevents/cioevents/shared/tombstone"
	"github.com/cioevents/cioevents/shared/warehouse"
)

// Usage is the command's line in `cioevents` usage.
const Usage = `forget  --email E | --id ID | --cio-id C  [--data-dir D | --project P --dataset DS]   (CIO_PII, CIO_PII_KEY)`

// Env is what the command runs with; zero fields mean the process's own.
type Env struct {
	Stdout          io.Writer
	Getenv          config.Getenv
	BigQueryOptions []option.ClientOption
	Now             func() time.Time
}

// Command runs `cioevents forget args...`.
func Command(ctx context.Context, args []string, e Env) error {
	if e.Stdout == nil {
		e.Stdout = os.Stdout
	}
	if e.Getenv == nil {
		e.Getenv = os.Getenv
	}
	if e.Now == nil {
		e.Now = time.Now
	}
	or := func(k, def string) string {
		if v := e.Getenv(k); v != "" {
			return v
		}
		return def
	}
	fl := flag.NewFlagSet("forget", flag.ContinueOnError)
	var p Person
	fl.StringVar(&p.Email, "email", "", "the person's email address")
	fl.StringVar(&p.ID, "id", "", "the person's ID (identifiers.id, customer_id)")
	fl.StringVar(&p.CioID, "cio-id", "", "the person's cio_id")
	dir := fl.String("data-dir", "", "local data dir written by cioevents dev (refused while dev runs there)")
	lifetime := fl.Duration("tombstone-lifetime", tombstone.Lifetime, "how long the tombstone keeps the person out of later events, replays and backfills")
	project := fl.String("project", e.Getenv(config.EnvProject), "Google Cloud project")
	dataset := fl.String("dataset", e.Getenv(config.EnvDataset), "BigQuery dataset")
	events := fl.String("table", or(config.EnvTable, config.DefaultTable), "events table")
	rejected := fl.String("rejected-table", or(config.EnvRejectedTable, config.DefaultRejected), "rejected_events table")
	coll := fl.String("ledger-collection", or(config.EnvLedgerColl, config.DefaultCollection), "Firestore ledger collection")
	db := fl.String("firestore-database", or(config.EnvFirestoreDB, config.DefaultFirestoreDB), "Firestore database")
	if err := cli.Parse(fl, args); err != nil {
		return err
	}
	if p.empty() {
		return cli.Usagef("forget", "give --email, --id or --cio-id")
	}
	pol, err := privacy.FromEnv(e.Getenv)
	if err != nil {
		return cli.Config(err)
	}
	secret := []byte(e.Getenv(privacy.EnvKey))
	stones := tombstone.New(tombstone.NewHasher(secret), tombstone.Person(p), e.Now(), *lifetime)
	if len(secret) == 0 {
		fmt.Fprintf(e.Stdout, "note: %s is not set, so the tombstone holds unkeyed hashes of the identifiers (a guessed address can be confirmed); set it, the same as the processor's, to key them\n", privacy.EnvKey)
	}
	if *dir != "" {
		// A mistyped --data-dir must not read as "removed 0 rows".
		if _, err := os.Stat(filepath.Join(*dir, warehouse.EventsFile)); err != nil {
			return fmt.Errorf("forget: --data-dir: %w", err)
		}
		res, err := LocalAll(*dir, p, pol, stones)
		if err != nil {
			return err
		}
		fmt.Fprintf(e.Stdout, "removed %d events rows, %d rejected rows, %d actions lines, %d ledger records from %s; left a tombstone (until %s)\n",
			len(res.EventIDs), res.Rejected, res.Actions, res.Ledger, *dir, stones[0].ExpireAt.Format(time.DateOnly))
		printIDs(e.Stdout, res.EventIDs)
		return nil
	}
	if *project == "" || *dataset == "" {
		return cli.Usagef("forget", "give --data-dir, or --project and --dataset")
	}
	fs, err := firestore.NewClientWithDatabase(ctx, *project, *db)
	if err != nil {
		return fmt.Errorf("forget: firestore: %w", err)
	}
	defer fs.Close()
	// The tombstone first: from each instance's next refresh (a minute)
	// on, nothing stores or acts on the person again, so nothing can
	// arrive behind the deletions below.
	if err := ledger.NewFirestore(fs, *coll, 0).PutTombstones(ctx, stones); err != nil {
		return fmt.Errorf("forget: %w", err)
	}
	bq, err := bigquery.NewClient(ctx, *project, e.BigQueryOptions...)
	if err != nil {
		return fmt.Errorf("forget: %w", err)
	}
	defer bq.Close()
	b := &BigQuery{Client: bq, Project: *project, Dataset: *dataset, EventsTable: *events, RejectedTable: *rejected, Now: e.Now}
	res, err := b.Forget(ctx, p, pol)
	if err != nil {
		return err
	}
	res.Ledger, err = Ledger(ctx, fs.Collection(*coll), res.EventIDs)
	fmt.Fprintf(e.Stdout, "removed %d events rows, %d rejected rows, %d ledger documents; left a tombstone (until %s)\n",
		len(res.EventIDs), res.Rejected, res.Ledger, stones[0].ExpireAt.Format(time.DateOnly))
	printIDs(e.Stdout, res.EventIDs)
	if res.Pending+res.RejectedPending > 0 {
		fmt.Fprintf(e.Stdout, "%d events rows and %d rejected rows were inserted in the last %v and may still be in BigQuery's streaming buffer, which DML cannot reach: run forget again after %s\n",
			res.Pending, res.RejectedPending, StreamingBuffer, e.Now().Add(StreamingBuffer).UTC().Format("2006-01-02 15:04 MST"))
	}
	return err
}

func printIDs(w io.Writer, ids []string) {
	for _, id := range ids {
		fmt.Fprintln(w, "  event_id", id)
	}
}
