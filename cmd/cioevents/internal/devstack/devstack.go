// Package devstack runs the whole pipeline in one process for `cioevents
// dev` and for tests: the receiver's handler in front of a Pub/Sub topic and
// the processor consuming its subscription. Each Google service is the real
// client against the emulator when its *_EMULATOR_HOST is set, else a
// durable local stand-in kept in the data directory (cmd/cioevents/internal/queue for
// Pub/Sub, ledger.Bolt for Firestore), so a restarted stack repeats no row
// and no action and loses no accepted event. Rows, rejects and the
// Customer.io calls a dry run would make go to NDJSON files there too.
package devstack

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"cloud.google.com/go/firestore"
	"cloud.google.com/go/pubsub/v2"
	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/cioevents/cioevents/cmd/cioevents/internal/cli"
	"github.com/cioevents/cioevents/cmd/cioevents/internal/datadir"
	"github.com/cioevents/cioevents/cmd/cioevents/internal/queue"
	"github.com/cioevents/cioevents/shared/actions"
	"github.com/cioevents/cioevents/shared/config"
	"github.com/cioevents/cioevents/shared/ledger"
	"github.com/cioevents/cioevents/shared/pipeline"
	"github.com/cioevents/cioevents/shared/privacy"
	"github.com/cioevents/cioevents/shared/publish"
	"github.com/cioevents/cioevents/shared/signature"
	"github.com/cioevents/cioevents/shared/tombstone"
	"github.com/cioevents/cioevents/shared/warehouse"
	"github.com/cioevents/cioevents/shared/webhook"
	"github.com/cioevents/cioevents/shared/workspace"
)

// Files the stack keeps in its data directory, besides the warehouse's.
// Every one of them is owner-only: they hold personal data or the key.
const (
	ActionsFile = "actions.ndjson" // dry-run Track calls
	KeyFile     = "signing-key"    // the generated signing key, reused by later runs
	LedgerFile  = "ledger.db"      // the bbolt ledger (without FIRESTORE_EMULATOR_HOST)
	QueueFile   = "queue.db"       // the bbolt queue (without PUBSUB_EMULATOR_HOST)
)

// Errors Start wraps, so a CLI can name the flag behind them.
var (
	ErrListen  = errors.New("cannot listen")
	ErrDataDir = errors.New("unusable data directory")
)

// retryDelay stands in for the retry policy's minimum backoff.
const retryDelay = 250 * time.Millisecond

// probeTimeout bounds the first call to an emulator that accepts
// connections. One that is not there fails at the dial, at once; one that
// listens may still be warming up on a busy machine (a fresh Firestore
// emulator under load took over 5 s), so it gets a minute before the start
// fails rather than hangs.
const probeTimeout = time.Minute

// Options configure Start. Zero values give the `cioevents dev` defaults.
type Options struct {
	Addr    string // listen address; default 127.0.0.1:8080 ("127.0.0.1:0" picks a port)
	DataDir string // default .cioevents
	Project string // default cioevents-dev
	Topic   string
	Sub     string
	// Keys are the signing keys (without commas); empty means
	// CIO_WEBHOOK_SIGNING_KEYS, then the key kept in DataDir, and failing
	// that a generated one, kept there for the next run.
	Keys [][]byte
	// Getenv reads the environment (emulator hosts, Track credentials,
	// policy); nil means os.Getenv.
	Getenv config.Getenv
	// Live makes real Track API calls when credentials are set; without it
	// actions are a dry run whatever the environment holds.
	Live bool
	// Warehouse replaces the NDJSON files (tests use the BigQuery fake);
	// rows reach it through the CIO_PII policy, as they would the files.
	Warehouse warehouse.Writer
	// Actions replaces the dry-run file or Track client.
	Actions actions.Client
	// Fault is passed to the processor (tests inject crashes with it).
	Fault func(point string) error
	// Concurrency is how many messages the processor works on at once.
	Concurrency int
	// LedgerCollection overrides LEDGER_COLLECTION.
	LedgerCollection string
	// LedgerLease overrides LEDGER_LEASE (how long a delivery holds an event).
	LedgerLease time.Duration
	Logger      *slog.Logger
	// TombstoneRefresh is how often the tombstones are re-read (default
	// tombstone.DefaultRefresh).
	TombstoneRefresh time.Duration
}

// Stack is a running pipeline.
type Stack struct {
	URL       string
	Key       string // the first signing key, to print
	KeySource string // where Key came from, to print
	PubSub    string // what stands for Pub/Sub, to print
	Ledger    string // what stands for Firestore, to print
	Actions   string // what happens to Track calls, to print
	DataDir   string
	// Health counts the pipeline's log lines for `cioevents dev`'s summary.
	Health *Health

	srv     *http.Server
	cancel  context.CancelFunc
	done    chan error
	closers []func() error
	once    sync.Once
}

// Start builds and starts the stack; Close stops it.
func Start(ctx context.Context, o Options) (_ *Stack, err error) {
	o = withDefaults(o)
	s := &Stack{DataDir: o.DataDir, done: make(chan error, 1), Health: &Health{}}
	o.Logger = slog.New(s.Health.Handler(o.Logger.Handler()))
	defer func() {
		if err != nil {
			s.Close()
		}
	}()
	if err := makeDataDir(o.DataDir); err != nil {
		return nil, err
	}
	// Held for the stack's life: forget and backfill --data-dir refuse to
	// write under a running dev, which would lose what it accepts after.
	held, err := datadir.Acquire(o.DataDir, "cioevents dev at "+o.Addr)
	if errors.Is(err, datadir.ErrHeld) {
		return nil, err // names the holder; the directory itself is fine
	}
	if err != nil {
		return nil, fmt.Errorf("devstack: %w %s: %w", ErrDataDir, o.DataDir, err)
	}
	s.closers = append(s.closers, held.Release)
	keys, src, err := signingKeys(o)
	if err != nil {
		return nil, err
	}
	s.KeySource = src
	// dev reads the functions' own configuration, so it validates and
	// honours every variable exactly as a deployment would.
	env := devEnv(o, keys)
	rc, err := config.LoadReceiver(env)
	if err != nil {
		return nil, cli.Config(fmt.Errorf("devstack: %w", err))
	}
	pc, err := config.LoadProcessor(env)
	if err != nil {
		return nil, cli.Config(fmt.Errorf("devstack: %w", err))
	}
	if o.Live && !pc.HasTrackCredentials() && o.Actions == nil {
		return nil, cli.Config(fmt.Errorf("devstack: --live needs %s and %s; set both, or drop --live for a dry run",
			config.EnvSiteID, config.EnvTrackAPIKey))
	}
	o.Keys = rc.SigningKeys
	if o.Topic == "" {
		o.Topic = rc.Topic
	}
	s.Key = string(o.Keys[0])

	// Listen before anything is opened, so a taken port fails at once.
	ln, err := net.Listen("tcp", o.Addr)
	if err != nil {
		return nil, fmt.Errorf("devstack: %w %s: %w", ErrListen, o.Addr, err)
	}
	s.closers = append(s.closers, func() error {
		if err := ln.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
			return err
		}
		return nil
	})

	pub, consume, err := s.pubsub(ctx, o, rc)
	if err != nil {
		return nil, err
	}
	proc, err := s.processor(ctx, o, pc)
	if err != nil {
		return nil, err
	}
	h, err := webhook.New(webhook.Options{
		Verifier:       &signature.Verifier{Keys: o.Keys, MaxAge: rc.MaxAge, MaxAhead: rc.MaxAhead},
		Workspaces:     rc.KeyWorkspaces,
		Publisher:      pub,
		MaxBodyBytes:   rc.MaxBodyBytes,
		BodyBudget:     rc.BodyBudget,
		PublishTimeout: rc.PublishTimeout,
		Logger:         o.Logger,
	})
	if err != nil {
		return nil, err
	}
	s.URL = "http://" + ln.Addr().String() + "/"
	s.srv = &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second,
		ErrorLog: slog.NewLogLogger(o.Logger.Handler(), slog.LevelWarn)}
	go s.srv.Serve(ln)

	rctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	s.cancel = cancel
	go func() { s.done <- consume(rctx, proc) }()
	return s, nil
}

func withDefaults(o Options) Options {
	if o.Addr == "" {
		o.Addr = "127.0.0.1:8080"
	}
	if o.DataDir == "" {
		o.DataDir = ".cioevents"
	}
	if o.Project == "" {
		o.Project = "cioevents-dev"
	}
	if o.Sub == "" {
		o.Sub = "cioevents-processor"
	}
	if o.Getenv == nil {
		o.Getenv = os.Getenv
	}
	if o.Concurrency <= 0 {
		o.Concurrency = 64
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewJSONHandler(io.Discard, nil))
	}
	return o
}

func makeDataDir(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("devstack: %w %s: %w", ErrDataDir, dir, err)
	}
	// A writable directory, not merely an existing path.
	f, err := os.CreateTemp(dir, ".probe-*")
	if err != nil {
		return fmt.Errorf("devstack: %w %s: %w", ErrDataDir, dir, err)
	}
	f.Close()
	return os.Remove(f.Name())
}

// signingKeys picks the keys: Options.Keys, else the variable, else the key
// file in the data dir, else a new key written there.
func signingKeys(o Options) (keys, source string, err error) {
	if len(o.Keys) > 0 {
		var ks []string
		for _, k := range o.Keys {
			ks = append(ks, string(k))
		}
		return strings.Join(ks, ","), "given", nil
	}
	if v := o.Getenv(config.EnvSigningKeys); v != "" {
		return v, "from " + config.EnvSigningKeys, nil
	}
	path := filepath.Join(o.DataDir, KeyFile)
	b, err := os.ReadFile(path)
	if err == nil && strings.TrimSpace(string(b)) != "" {
		return strings.TrimSpace(string(b)), "kept in " + path + "; set " + config.EnvSigningKeys + " to choose one", nil
	}
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return "", "", fmt.Errorf("devstack: %w: signing key %s: %w", ErrDataDir, path, err)
	}
	var r [24]byte
	rand.Read(r[:])
	k := hex.EncodeToString(r[:])
	if err := os.WriteFile(path, []byte(k+"\n"), 0o600); err != nil {
		return "", "", fmt.Errorf("devstack: %w: signing key %s: %w", ErrDataDir, path, err)
	}
	return k, "generated and kept in " + path + "; set " + config.EnvSigningKeys + " to choose one", nil
}

// devEnv is the environment dev runs on: the real one, over dev's
// defaults — the project, the signing keys, and a dry run unless live.
func devEnv(o Options, keys string) config.Getenv {
	return func(k string) string {
		switch {
		case k == config.EnvSigningKeys:
			return keys
		case k == config.EnvDryRun && !o.Live:
			return "true"
		case o.Getenv(k) != "":
			return o.Getenv(k)
		case k == config.EnvProject:
			return o.Project
		}
		return ""
	}
}

// openBolt opens a bbolt file in the data dir, owner-only.
func (s *Stack) openBolt(o Options, name string) (*bolt.DB, error) {
	path := filepath.Join(o.DataDir, name)
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 2 * time.Second,
		// Rebuilt from the pages at open instead of rewritten at every commit.
		NoFreelistSync: true, FreelistType: bolt.FreelistMapType,
		// Committed pages are written to the file at once, so they survive
		// the process stopping or crashing; no fsync means a power cut or
		// kernel crash may lose or damage the file, as it may the rows
		// files, which are never fsynced either. An fsync per commit made
		// dev a third slower (1,050 → 1,540 events/s measured without).
		NoSync: true})
	if errors.Is(err, bolterrors.ErrTimeout) {
		return nil, fmt.Errorf("devstack: %w: %s is locked by another process (is another `cioevents dev` using this --data-dir?)", ErrDataDir, path)
	}
	if err != nil {
		return nil, fmt.Errorf("devstack: %w: %s: %w", ErrDataDir, path, err)
	}
	s.closers = append(s.closers, db.Close)
	return db, nil
}

// consumer runs the processor until ctx ends.
type consumer func(ctx context.Context, p *pipeline.Processor) error

func (s *Stack) pubsub(ctx context.Context, o Options, rc config.Receiver) (publish.Publisher, consumer, error) {
	host := o.Getenv("PUBSUB_EMULATOR_HOST")
	if host == "" {
		db, err := s.openBolt(o, QueueFile)
		if err != nil {
			return nil, nil, err
		}
		q, err := queue.New(db)
		if err != nil {
			return nil, nil, err
		}
		s.closers = append(s.closers, q.Close)
		backlog, _ := q.Len()
		s.PubSub = fmt.Sprintf("durable queue %s (%d waiting)", filepath.Join(o.DataDir, QueueFile), backlog)
		return q, func(ctx context.Context, p *pipeline.Processor) error {
			err := q.Receive(ctx, queue.ReceiveOptions{Concurrency: o.Concurrency, MinBackoff: retryDelay},
				func(ctx context.Context, m queue.Message) error {
					_, err := p.Process(ctx, pipeline.Message{ID: m.ID, Data: m.Data, Attributes: m.Attributes, PublishTime: m.PublishTime})
					return err
				})
			if errors.Is(err, context.Canceled) {
				return nil
			}
			return err
		}, nil
	}
	s.PubSub = "Pub/Sub emulator at " + host
	if err := probe(ctx, "PUBSUB_EMULATOR_HOST", host, "Pub/Sub", func(ctx context.Context) error {
		client, err := pubsub.NewClient(ctx, o.Project)
		if err != nil {
			return err
		}
		defer client.Close()
		return ensureTopicAndSub(ctx, client, o.Project, o.Topic, o.Sub)
	}); err != nil {
		return nil, nil, err
	}
	client, err := pubsub.NewClient(ctx, o.Project)
	if err != nil {
		return nil, nil, fmt.Errorf("devstack: pubsub: %w", err)
	}
	s.closers = append(s.closers, client.Close)
	pub, err := publish.NewPubSub(ctx, o.Project, o.Topic, rc.PublishTimeout)
	if err != nil {
		return nil, nil, err
	}
	s.closers = append(s.closers, pub.Close)
	return pub, func(ctx context.Context, p *pipeline.Processor) error {
		sub := client.Subscriber(o.Sub)
		sub.ReceiveSettings.MaxOutstandingMessages = o.Concurrency
		sub.ReceiveSettings.NumGoroutines = 8
		return sub.Receive(ctx, func(ctx context.Context, m *pubsub.Message) {
			_, err := p.Process(ctx, pipeline.Message{ID: m.ID, Data: m.Data, Attributes: m.Attributes, PublishTime: m.PublishTime})
			if err != nil {
				// A push subscription's retry policy backs off before
				// redelivering; a pull Nack redelivers at once, which would
				// spin on an event whose lease is still held.
				select {
				case <-time.After(retryDelay):
				case <-ctx.Done():
				}
				m.Nack()
				return
			}
			m.Ack()
		})
	}, nil
}

// probe makes a first call to an emulator named by variable within
// probeTimeout, and names the variable when nothing answers there.
func probe(ctx context.Context, variable, host, what string, call func(context.Context) error) error {
	fix := fmt.Sprintf("start the %s emulator there, or unset %s to use dev's built-in stand-in", what, variable)
	conn, err := net.DialTimeout("tcp", host, 2*time.Second)
	if err != nil {
		return fmt.Errorf("devstack: %s=%s: nothing listens there (%w); %s", variable, host, err, fix)
	}
	conn.Close()
	ctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	if err := call(ctx); err != nil {
		return fmt.Errorf("devstack: %s=%s: no %s emulator answered within %s (%w); %s", variable, host, what, probeTimeout, err, fix)
	}
	return nil
}

func (s *Stack) processor(ctx context.Context, o Options, cfg config.Processor) (*pipeline.Processor, error) {
	policy, err := actions.ParsePolicy(cfg.Actions, cfg.AllowSuppress)
	if err != nil {
		return nil, cli.Config(fmt.Errorf("devstack: %s: %w", config.EnvActions, err))
	}
	policies, err := actions.ParseWorkspacePolicies(cfg.WorkspaceActions, cfg.AllowSuppress)
	if err != nil {
		return nil, cli.Config(fmt.Errorf("devstack: %s: %w", config.EnvWorkspaceActions, err))
	}
	p := &pipeline.Processor{
		Policy:         policy,
		TTL:            cfg.LedgerTTL,
		StepTimeout:    cfg.StepTimeout,
		LedgerTimeout:  cfg.LedgerTimeout,
		RecordEachStep: cfg.RecordEachStep,
		Logger:         o.Logger,
		Fault:          o.Fault,
	}
	// The same CIO_PII policy as the deployed processor, so what dev
	// writes (rows and the actions file) is what production would.
	pii, err := privacy.FromEnv(o.Getenv)
	if err != nil {
		return nil, cli.Config(fmt.Errorf("devstack: %w", err))
	}
	lease, coll := cfg.LedgerLease, cfg.LedgerCollection
	if o.LedgerLease > 0 {
		lease = o.LedgerLease
	}
	if o.LedgerCollection != "" {
		coll = o.LedgerCollection
	}
	if host := o.Getenv("FIRESTORE_EMULATOR_HOST"); host != "" {
		fs, err := firestore.NewClient(ctx, o.Project)
		if err != nil {
			return nil, fmt.Errorf("devstack: firestore: %w", err)
		}
		s.closers = append(s.closers, fs.Close)
		if err := probe(ctx, "FIRESTORE_EMULATOR_HOST", host, "Firestore", func(ctx context.Context) error {
			_, err := fs.Collection(coll).Doc("probe").Get(ctx)
			if status.Code(err) == codes.NotFound {
				return nil
			}
			return err
		}); err != nil {
			return nil, err
		}
		p.Ledger = ledger.NewFirestore(fs, coll, lease)
		s.Ledger = "Firestore emulator at " + host
	} else {
		db, err := s.openBolt(o, LedgerFile)
		if err != nil {
			return nil, err
		}
		b, err := ledger.NewBolt(db, lease)
		if err != nil {
			return nil, err
		}
		s.closers = append(s.closers, b.Close)
		if n, err := b.Purge(ctx); err == nil && n > 0 {
			o.Logger.Info("ledger entries past expire_at removed", "count", n)
		}
		p.Ledger = b
		s.Ledger = "durable, " + filepath.Join(o.DataDir, LedgerFile)
	}
	if store, ok := p.Ledger.(ledger.Tombstones); ok {
		// As deployed: whom forget erased stays erased. The key's
		// fingerprint goes beside the tombstones and into the data dir,
		// where forget compares its own key with it.
		h := tombstone.NewHasher([]byte(o.Getenv(privacy.EnvKey))).WithAddressForm(pii)
		set := &tombstone.Set{Store: store, Hasher: h, Logger: o.Logger}
		if err := set.Start(ctx); err != nil && !tombstone.IsKeyMismatch(err) {
			return nil, fmt.Errorf("devstack: %w", err)
		}
		if err := tombstone.WriteFingerprintFile(o.DataDir, h); err != nil {
			return nil, fmt.Errorf("devstack: %w", err)
		}
		rctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
		s.closers = append(s.closers, func() error { cancel(); return nil })
		go set.Run(rctx, o.TombstoneRefresh)
		p.Forgotten = set
	}
	next := o.Warehouse
	if next == nil {
		f, err := warehouse.NewFile(o.DataDir)
		if err != nil {
			return nil, err
		}
		s.closers = append(s.closers, f.Close)
		next = f
	}
	p.Warehouse = &privacy.Writer{Next: next, Policy: pii}
	switch {
	case o.Actions != nil:
		p.Actions, s.Actions = o.Actions, "supplied client"
	case len(policy) == 0 && len(policies) == 0:
		// Nothing is planned, so nothing is written or sent either way.
		p.Actions = actions.NewDryRun(io.Discard)
		s.Actions = "none: the policy (" + config.EnvActions + ") plans no Customer.io calls"
	case !cfg.DryRun:
		t, err := actions.NewTrack(actions.TrackConfig{SiteID: cfg.SiteID, APIKey: cfg.TrackAPIKey,
			Region: cfg.Region, RateLimit: cfg.RateLimit})
		if err != nil {
			return nil, err
		}
		p.Actions = t
		s.Actions = fmt.Sprintf("LIVE (--live): real Customer.io Track API calls (%s region, ≤ %g/s)", cfg.Region, cfg.RateLimit)
	default:
		path := filepath.Join(o.DataDir, ActionsFile)
		// The lines name people and bounce reasons: owner-only.
		f, err := os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
		if err != nil {
			return nil, fmt.Errorf("devstack: %w: %w", ErrDataDir, err)
		}
		if err := f.Chmod(0o600); err != nil { // a file left by an older run
			f.Close()
			return nil, fmt.Errorf("devstack: %w: %w", ErrDataDir, err)
		}
		s.closers = append(s.closers, f.Close)
		p.Actions = actions.NewDryRun(f).Policy(pii)
		s.Actions = "dry run, nothing is sent: the calls the policy would make go to " + path + " (--live sends them)"
	}
	// Named workspaces act as the default one does (the same dry-run file,
	// or live with their own credentials); one without credentials makes
	// no call, as deployed.
	clients := map[string]actions.Client{workspace.Default: p.Actions}
	for _, name := range slices.Sorted(maps.Keys(cfg.WorkspaceCredentials)) {
		clients[name] = p.Actions
		if _, isTrack := p.Actions.(*actions.Track); isTrack {
			creds, _ := cfg.Credentials(name)
			t, err := actions.NewTrack(actions.TrackConfig{SiteID: creds.SiteID, APIKey: creds.APIKey,
				Region: creds.Region, RateLimit: cfg.RateLimit})
			if err != nil {
				return nil, fmt.Errorf("devstack: workspace %s: %w", name, err)
			}
			clients[name] = t
		}
	}
	p.Workspaces = actions.NewWorkspaces(clients, policies, policy, o.Logger)
	return p, nil
}

func ensureTopicAndSub(ctx context.Context, c *pubsub.Client, project, topic, sub string) error {
	tn := "projects/" + project + "/topics/" + topic
	if _, err := c.TopicAdminClient.CreateTopic(ctx, &pubsubpb.Topic{Name: tn}); err != nil && status.Code(err) != codes.AlreadyExists {
		return fmt.Errorf("create topic: %w", err)
	}
	_, err := c.SubscriptionAdminClient.CreateSubscription(ctx, &pubsubpb.Subscription{
		Name: "projects/" + project + "/subscriptions/" + sub, Topic: tn, AckDeadlineSeconds: 60,
	})
	if err != nil && status.Code(err) != codes.AlreadyExists {
		return fmt.Errorf("create subscription: %w", err)
	}
	return nil
}

// Close stops the server and the processor and closes every client. Work in
// flight is abandoned, not lost: unacked messages are delivered again by the
// next run, and the ledger skips what was already done.
func (s *Stack) Close() error {
	var errs []error
	s.once.Do(func() {
		if s.srv != nil {
			// net/http counts a connection that never sent a request as
			// busy for its first 5 s, so a sender's spare connection can
			// hold Shutdown that long: wait past it, then force. A request
			// cut by the force got no 2xx and is re-sent by its sender.
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			if err := s.srv.Shutdown(ctx); errors.Is(err, context.DeadlineExceeded) {
				errs = append(errs, s.srv.Close())
			} else {
				errs = append(errs, err)
			}
			cancel()
		}
		if s.cancel != nil {
			s.cancel()
			if err := <-s.done; err != nil && !errors.Is(err, context.Canceled) {
				errs = append(errs, err)
			}
		}
		for i := len(s.closers) - 1; i >= 0; i-- {
			errs = append(errs, s.closers[i]())
		}
	})
	return errors.Join(errs...)
}
