package forget

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"cloud.google.com/go/bigquery"
	"cloud.google.com/go/firestore"
	bolt "go.etcd.io/bbolt"
	"google.golang.org/api/option"

	"github.com/cioevents/cioevents/cmd/cioevents/internal/cli"
	"github.com/cioevents/cioevents/cmd/cioevents/internal/datadir"
	"github.com/cioevents/cioevents/cmd/cioevents/internal/devstack"
	"github.com/cioevents/cioevents/cmd/cioevents/internal/secretstore"
	"github.com/cioevents/cioevents/shared/config"
	"github.com/cioevents/cioevents/shared/ledger"
	"github.com/cioevents/cioevents/shared/privacy"
	"github.com/cioevents/cioevents/shared/tombstone"
	"github.com/cioevents/cioevents/shared/warehouse"
	"github.com/cioevents/cioevents/shared/workspace"
)

// Usage is the command's line in `cioevents` usage.
const Usage = `forget  --email E --id ID --cio-id C (one or more, all naming ONE person) [--workspace W] [--dry-run] [--preemptive]
          [--data-dir D | --project P --dataset DS [--settle=false]]   (exit 3: run again at the time printed)`

// DefaultPIIKeySecret is the Secret Manager secret the processor mounts as
// CIO_PII_KEY with Terraform's default name_prefix (terraform/modules/cioevents/secrets.tf).
const DefaultPIIKeySecret = "cioevents-pii-key"

// SettleWait is how long the cloud forget waits before its second sweep:
// one refresh of the instances' tombstones, and a minute for an event an
// instance took before its refresh to be written.
const SettleWait = tombstone.DefaultRefresh + time.Minute

// ErrKey: forget's key is not the one the tombstones are checked with.
var ErrKey = errors.New("forget: not the key the tombstones are checked with")

// ErrRerun: forget did what it could now, and some of the person's rows
// can only be removed by running it again at the time it printed. The CLI
// exits 3.
var ErrRerun = errors.New("forget: not finished")

// Env is what the command runs with; zero fields mean the process's own.
type Env struct {
	Stdout           io.Writer
	Getenv           config.Getenv
	BigQueryOptions  []option.ClientOption
	FirestoreOptions []option.ClientOption
	// Secrets opens Secret Manager (secretstore.New when nil).
	Secrets func(ctx context.Context, project string) (secretstore.Store, error)
	Now     func() time.Time
	// Statements, when set, gets the BigQuery statements run (TestForgetCost).
	Statements func(sql []string)
	// Sleep waits d or until ctx ends (the settle wait; tests pass one that
	// advances their clock).
	Sleep func(ctx context.Context, d time.Duration) error
}

func (e *Env) defaults() {
	if e.Stdout == nil {
		e.Stdout = os.Stdout
	}
	if e.Getenv == nil {
		e.Getenv = os.Getenv
	}
	if e.Now == nil {
		e.Now = time.Now
	}
	if e.Sleep == nil {
		e.Sleep = func(ctx context.Context, d time.Duration) error {
			t := time.NewTimer(d)
			defer t.Stop()
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-t.C:
				return nil
			}
		}
	}
	if e.Secrets == nil {
		e.Secrets = func(ctx context.Context, project string) (secretstore.Store, error) {
			return secretstore.New(ctx, project)
		}
	}
}

// multi is a flag that may be given more than once.
type multi struct{ vs *[]string }

func (m multi) String() string {
	if m.vs == nil {
		return ""
	}
	return fmt.Sprint(*m.vs)
}
func (m multi) Set(v string) error { *m.vs = append(*m.vs, v); return nil }

type options struct {
	req                           Request
	dir, project, dataset, secret string
	events, rejected, coll, db    string
	lifetime                      time.Duration
	settle                        bool
}

// Command runs `cioevents forget args...`.
func Command(ctx context.Context, args []string, e Env) error {
	e.defaults()
	or := func(k, def string) string {
		if v := e.Getenv(k); v != "" {
			return v
		}
		return def
	}
	var o options
	fl := flag.NewFlagSet("forget", flag.ContinueOnError)
	fl.Var(multi{&o.req.Emails}, "email", "an address of the person (any case; repeatable)")
	fl.Var(multi{&o.req.IDs}, "id", "an ID of the person in --workspace (identifiers.id, customer_id; repeatable)")
	fl.Var(multi{&o.req.CioIDs}, "cio-id", "a cio_id of the person in --workspace (repeatable)")
	fl.StringVar(&o.req.Workspace, "workspace", "default", "the workspace of --id and --cio-id (IDs are per workspace; addresses are forgotten in every workspace)")
	fl.BoolVar(&o.req.DryRun, "dry-run", false, "print the person's identifiers and what would be removed; write nothing")
	fl.BoolVar(&o.req.Preemptive, "preemptive", false, "tombstone the identifiers even though no row names them (someone not seen yet)")
	fl.IntVar(&o.req.MaxIdentifiers, "max-identifiers", 50, "refuse when the rows link more identifiers than this to the person (a shared address)")
	fl.StringVar(&o.dir, "data-dir", "", "local data dir written by cioevents dev (refused while dev runs there)")
	fl.DurationVar(&o.lifetime, "tombstone-lifetime", tombstone.Lifetime, "how long the tombstone keeps the person out of later events, replays and backfills")
	fl.StringVar(&o.project, "project", e.Getenv(config.EnvProject), "Google Cloud project")
	fl.StringVar(&o.dataset, "dataset", e.Getenv(config.EnvDataset), "BigQuery dataset")
	fl.StringVar(&o.events, "table", or(config.EnvTable, config.DefaultTable), "events table")
	fl.StringVar(&o.rejected, "rejected-table", or(config.EnvRejectedTable, config.DefaultRejected), "rejected_events table")
	fl.StringVar(&o.coll, "ledger-collection", or(config.EnvLedgerColl, config.DefaultCollection), "Firestore ledger collection")
	fl.StringVar(&o.db, "firestore-database", or(config.EnvFirestoreDB, config.DefaultFirestoreDB), "Firestore database")
	fl.StringVar(&o.secret, "pii-key-secret", DefaultPIIKeySecret, "Secret Manager secret holding the processor's CIO_PII_KEY (cloud)")
	fl.BoolVar(&o.settle, "settle", true, "cloud: wait for every instance to load the tombstone, then sweep again; false: exit 3 and print when to run again")
	if err := cli.Parse(fl, args); err != nil {
		return err
	}
	if err := o.req.Validate(); err != nil {
		if errors.Is(err, ErrNoPerson) {
			return cli.Usagef("forget", "give --email, --id or --cio-id")
		}
		return cli.Usagef("forget", "%v", err)
	}
	if o.dir != "" {
		pol, err := privacy.FromEnv(e.Getenv)
		if err != nil {
			return cli.Config(err)
		}
		return local(ctx, o, pol, e)
	}
	if o.project == "" || o.dataset == "" {
		return cli.Usagef("forget", "give --data-dir, or --project and --dataset")
	}
	return cloud(ctx, o, e)
}

// keyError says which key forget has and where the right one lives.
func keyError(stored, ours, where string) error {
	if stored == "" {
		return fmt.Errorf("%w: no key fingerprint is stored beside the tombstones; %s", ErrKey, where)
	}
	return fmt.Errorf("%w: the stored key fingerprint is %s, this key's is %s; %s", ErrKey, stored, ours, where)
}

func local(ctx context.Context, o options, pol *privacy.Policy, e Env) error {
	// A mistyped --data-dir must not read as "removed 0 rows".
	if _, err := os.Stat(filepath.Join(o.dir, warehouse.EventsFile)); err != nil {
		return fmt.Errorf("forget: --data-dir: %w", err)
	}
	held, err := datadir.Acquire(o.dir, "cioevents forget")
	if err != nil {
		return fmt.Errorf("forget: %w", err)
	}
	defer held.Release()
	db, err := bolt.Open(filepath.Join(o.dir, devstack.LedgerFile), 0o600, &bolt.Options{Timeout: 5 * time.Second})
	if err != nil {
		return fmt.Errorf("forget: %s: %w", devstack.LedgerFile, err)
	}
	defer db.Close()
	store := ledger.NewBoltTombstones(db)
	h := tombstone.NewHasher([]byte(e.Getenv(privacy.EnvKey)))
	if err := checkLocalKey(ctx, o.dir, store, h); err != nil {
		return err
	}
	s := Seed(o.req, pol)
	if err := gatherLocal(o.dir, s, o.req.MaxIdentifiers); err != nil {
		return err
	}
	// Counting first is needed for a dry run, and when no events row
	// matched (only a rejected body or an actions line may name the
	// person); else the removal below counts, as the cloud path does.
	var res Result
	counted := s.Rows == 0 || o.req.DryRun
	if counted {
		if res, err = removeLocal(o.dir, s, true); err != nil {
			return err
		}
	}
	s.print(e.Stdout)
	if counted && res.matched() == 0 && !o.req.Preemptive {
		return alreadyForgotten(ctx, store, h, s, e)
	}
	if o.req.DryRun {
		fmt.Fprintf(e.Stdout, "dry run: would remove %d events rows, %d rejected rows, %d actions lines from %s and leave %d tombstones\n",
			len(res.EventIDs), res.Rejected, res.Actions, o.dir, s.Len())
		return nil
	}
	stones, err := stonesFor(h, s, e.Now(), o.lifetime)
	if err != nil {
		return err
	}
	// The tombstones first, so that a crash part way still keeps the
	// person out of what dev processes next.
	if err := store.PutTombstones(ctx, stones); err != nil {
		return fmt.Errorf("forget: %w", err)
	}
	if res, err = removeLocal(o.dir, s, false); err != nil {
		return err
	}
	if res.Ledger, err = ledger.DeleteBolt(db, res.keys); err != nil {
		return err
	}
	fmt.Fprintf(e.Stdout, "removed %d events rows, %d rejected rows, %d actions lines, %d ledger records from %s; left %d tombstones (until %s)\n",
		len(res.EventIDs), res.Rejected, res.Actions, res.Ledger, o.dir, len(stones), e.Now().Add(lifetime(o.lifetime)).Format(time.DateOnly))
	return nil
}

func lifetime(d time.Duration) time.Duration {
	if d <= 0 {
		return tombstone.Lifetime
	}
	return d
}

// alreadyForgotten answers a request that matches no row: a rerun, when
// every identifier has its tombstone; else most likely a typo.
func alreadyForgotten(ctx context.Context, store ledger.Tombstones, h tombstone.Hasher, s *Identity, e Env) error {
	done, err := allTombstoned(ctx, store, h, s)
	if err != nil {
		return err
	}
	if !done {
		return noMatch(s)
	}
	fmt.Fprintln(e.Stdout, "already forgotten: every identifier has its tombstone, and no row names them")
	return nil
}

func noMatch(s *Identity) error {
	return fmt.Errorf("%w (%d identifiers looked for, printed above): check the spelling and --workspace; to tombstone someone not seen yet, run again with --preemptive", ErrNoMatch, s.Len())
}

func cloud(ctx context.Context, o options, e Env) error {
	key, err := cloudKey(ctx, o, e)
	if err != nil {
		return err
	}
	if e.Getenv(privacy.EnvKey) != "" {
		fmt.Fprintf(e.Stdout, "note: %s in this shell is not used: the key is the processor's, from secret %s\n", privacy.EnvKey, o.secret)
	}
	h := tombstone.NewHasher(key)
	// The policy hashes with the processor's key too, so that a hashed
	// address is looked for as the processor stored it.
	pol, err := privacy.FromEnv(func(k string) string {
		if k == privacy.EnvKey {
			return string(key)
		}
		return e.Getenv(k)
	})
	if err != nil {
		return err
	}
	fs, err := firestore.NewClientWithDatabase(ctx, o.project, o.db, e.FirestoreOptions...)
	if err != nil {
		return fmt.Errorf("forget: firestore: %w", err)
	}
	defer fs.Close()
	store := ledger.NewFirestore(fs, o.coll, 0)
	if err := checkCloudKey(ctx, store, h, o); err != nil {
		return err
	}
	bq, err := bigquery.NewClient(ctx, o.project, e.BigQueryOptions...)
	if err != nil {
		return fmt.Errorf("forget: %w", err)
	}
	defer bq.Close()
	b := &BigQuery{Client: bq, Project: o.project, Dataset: o.dataset, Tables: Tables(o.events, o.rejected), Now: e.Now}
	if e.Statements != nil {
		defer func() { e.Statements(b.Log) }()
	}
	s := Seed(o.req, pol)
	keys, err := b.Gather(ctx, s, o.req.MaxIdentifiers)
	if err != nil {
		return err
	}
	s.print(e.Stdout)
	var total Result
	if s.Rows == 0 || o.req.DryRun {
		// Rows only a quarantined body names count as a match too.
		if total, err = b.Remove(ctx, s, true); err != nil {
			return err
		}
		if total.Ledger, err = Ledger(ctx, fs, o.coll, keys, true); err != nil {
			return err
		}
		if sum(total.Rows) == 0 && !o.req.Preemptive {
			// A rerun after the rows went: the tombstones show it is no
			// typo.
			return alreadyForgotten(ctx, store, h, s, e)
		}
	}
	if o.req.DryRun {
		fmt.Fprintf(e.Stdout, "dry run: would remove %s, %d ledger documents, and leave %d tombstones\n",
			rowsText(b.Tables, total.Rows), total.Ledger, s.Len())
		return nil
	}
	total = Result{Rows: map[string]int{}}
	tombstoned := map[Ident]bool{}
	sweep := func() error {
		fresh := newIdentity()
		fresh.stored = s.stored
		for _, i := range s.Idents() {
			if !tombstoned[i] {
				fresh.add(i)
				tombstoned[i] = true
			}
		}
		stones, err := stonesFor(h, fresh, e.Now(), o.lifetime)
		if err != nil {
			return err
		}
		// The tombstones before the deletions: from each instance's next
		// refresh on, nothing stores or acts on the person again.
		if err := store.PutTombstones(ctx, stones); err != nil {
			return fmt.Errorf("forget: %w", err)
		}
		res, err := b.Remove(ctx, s, false)
		if err != nil {
			return err
		}
		n, err := Ledger(ctx, fs, o.coll, keys, false)
		if err != nil {
			return err
		}
		for t, c := range res.Rows {
			total.Rows[t] += c
		}
		total.Ledger += n
		total.Pending, total.RejectedPending = res.Pending, res.RejectedPending
		return nil
	}
	if err := sweep(); err != nil {
		return err
	}
	rerun := time.Time{}
	if o.settle {
		fmt.Fprintf(e.Stdout, "waiting %v for every instance to load the tombstones, then sweeping again (--settle=false to skip)\n", SettleWait)
		if err := e.Sleep(ctx, SettleWait); err != nil {
			// Interrupted: what was done holds, and a rerun finishes.
			t := e.Now().Add(SettleWait).UTC().Format(time.RFC3339)
			fmt.Fprintf(e.Stdout, "the wait was interrupted (%v): run forget again after %s with the same identifiers\n", err, t)
			return fmt.Errorf("%w: run it again after %s", ErrRerun, t)
		}
		// Events taken in the window may name identifiers not seen yet.
		// The deliveries of the rows just removed are gone with them;
		// only those of rows still there are looked for again.
		s.deliveries, s.seenDelivery = nil, nil
		if keys, err = b.Gather(ctx, s, o.req.MaxIdentifiers); err != nil {
			return err
		}
		if err := sweep(); err != nil {
			return err
		}
	} else {
		rerun = e.Now().Add(SettleWait)
	}
	fmt.Fprintf(e.Stdout, "removed %s, %d ledger documents; %d tombstones (until %s)\n",
		rowsText(b.Tables, total.Rows), total.Ledger, len(tombstoned), e.Now().Add(lifetime(o.lifetime)).Format(time.DateOnly))
	if total.Pending+total.RejectedPending > 0 {
		fmt.Fprintf(e.Stdout, "%d events rows and %d rejected rows were inserted in the last %v and may still be in BigQuery's streaming buffer, which DML cannot reach\n",
			total.Pending, total.RejectedPending, StreamingBuffer)
		if t := e.Now().Add(StreamingBuffer); t.After(rerun) {
			rerun = t
		}
	}
	if !rerun.IsZero() {
		fmt.Fprintf(e.Stdout, "run forget again after %s (it removes the rows above; without --settle, those of events processed before every instance loaded the tombstones):\n",
			rerun.UTC().Format("2006-01-02 15:04:05 MST"))
		for _, args := range rerunArgs(s, o.req.Workspace) {
			fmt.Fprintf(e.Stdout, "  cioevents forget %s --project %s --dataset %s\n", strings.Join(args, " "), o.project, o.dataset)
		}
		return fmt.Errorf("%w: run it again after %s", ErrRerun, rerun.UTC().Format(time.RFC3339))
	}
	return nil
}

// rerunArgs are the command lines that name every identifier of s a
// tombstone names: one per workspace of its IDs, the addresses with the
// first.
func rerunArgs(s *Identity, ws string) [][]string {
	byWS := map[string][]string{}
	order := []string{ws}
	for _, i := range s.Idents() {
		if i.hashed() && s.stored[i.Value] != "" {
			continue // the address given covers its hash
		}
		w := i.Workspace
		if w == "" {
			w = ws
		}
		if _, ok := byWS[w]; !ok && w != ws {
			order = append(order, w)
		}
		flag := map[string]string{tombstone.KindEmail: "--email", tombstone.KindID: "--id", tombstone.KindCioID: "--cio-id"}[i.Kind]
		byWS[w] = append(byWS[w], flag, shellQuote(i.Value))
	}
	var out [][]string
	for _, w := range order {
		if len(byWS[w]) == 0 {
			continue
		}
		args := byWS[w]
		if w != workspace.Default {
			args = append(args, "--workspace", w)
		}
		out = append(out, args)
	}
	return out
}

// shellQuote quotes v for a POSIX shell when it needs it.
func shellQuote(v string) string {
	if v != "" && strings.IndexFunc(v, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("@._-+:/", r))
	}) < 0 {
		return v
	}
	return "'" + strings.ReplaceAll(v, "'", `'\''`) + "'"
}

func sum(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

// rowsText says how many rows went from each table, leaving out an
// optional table the deployment lacks.
func rowsText(ts []Table, rows map[string]int) string {
	var out []string
	for _, t := range ts {
		if n, ok := rows[t.Name]; ok || !t.Optional {
			out = append(out, fmt.Sprintf("%d %s rows", n, t.Name))
		}
	}
	return strings.Join(out, ", ")
}

// cloudKey reads CIO_PII_KEY from the secret the processor mounts. A
// policy that hashes nothing has no such secret, and tombstones are then
// keyed without a key (the fingerprint check says whether that is so).
func cloudKey(ctx context.Context, o options, e Env) ([]byte, error) {
	sm, err := e.Secrets(ctx, o.project)
	if err != nil {
		return nil, fmt.Errorf("forget: %w", err)
	}
	if c, ok := sm.(io.Closer); ok {
		defer c.Close()
	}
	key, _, err := sm.Access(ctx, o.secret, "latest")
	if errors.Is(err, secretstore.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("forget: the processor's %s: %w", privacy.EnvKey, err)
	}
	return key, nil
}
