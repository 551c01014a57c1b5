// Package devstack runs the whole pipeline in one process for `cioevents
// dev` and for tests: the receiver's handler in front of a Pub/Sub topic and
// the processor consuming its subscription. Each Google service is the real
// client against the emulator when its *_EMULATOR_HOST is set, else a local
// stand-in (in-process pstest, in-memory ledger); rows, rejects and the
// Customer.io calls it would make go to NDJSON files.
package devstack

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"cloud.google.com/go/firestore"
	"cloud.google.com/go/pubsub/v2"
	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"cloud.google.com/go/pubsub/v2/pstest"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/cioevents/cioevents/shared/actions"
	"github.com/cioevents/cioevents/shared/config"
	"github.com/cioevents/cioevents/shared/ledger"
	"github.com/cioevents/cioevents/shared/pipeline"
	"github.com/cioevents/cioevents/shared/publish"
	"github.com/cioevents/cioevents/shared/signature"
	"github.com/cioevents/cioevents/shared/warehouse"
	"github.com/cioevents/cioevents/shared/webhook"
)

// Files the stack writes in its data directory.
const ActionsFile = "actions.ndjson"

// retryDelay stands in for the retry policy's minimum backoff.
const retryDelay = 250 * time.Millisecond

// Options configure Start. Zero values give the `cioevents dev` defaults.
type Options struct {
	Addr    string // listen address; default 127.0.0.1:8080 ("127.0.0.1:0" picks a port)
	DataDir string // default .cioevents
	Project string // default cioevents-dev
	Topic   string
	Sub     string
	// Keys are the signing keys (without commas); empty means
	// CIO_WEBHOOK_SIGNING_KEYS, and failing that one generated key.
	Keys [][]byte
	// Getenv reads the environment (emulator hosts, Track credentials,
	// policy); nil means os.Getenv.
	Getenv config.Getenv
	// Warehouse replaces the NDJSON files (tests use the BigQuery fake).
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
}

// Stack is a running pipeline.
type Stack struct {
	URL       string
	Key       string // the first signing key, to print
	Generated bool   // the key was generated for this run
	PubSub    string // "pstest" or the emulator host
	Ledger    string // "memory" or the emulator host
	Actions   string // "dry-run: <file>" or "Customer.io Track API (<region>)"
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
	// dev reads the functions' own configuration, so it validates and
	// honours every variable exactly as a deployment would.
	env, generated := devEnv(o)
	rc, err := config.LoadReceiver(env)
	if err != nil {
		return nil, fmt.Errorf("devstack: %w", err)
	}
	pc, err := config.LoadProcessor(env)
	if err != nil {
		return nil, fmt.Errorf("devstack: %w", err)
	}
	o.Keys, s.Generated = rc.SigningKeys, generated
	if o.Topic == "" {
		o.Topic = rc.Topic
	}
	s.Key = string(o.Keys[0])
	if err := os.MkdirAll(o.DataDir, 0o755); err != nil {
		return nil, err
	}

	psOpts, err := s.pubsubOptions(o)
	if err != nil {
		return nil, err
	}
	client, err := pubsub.NewClient(ctx, o.Project, psOpts...)
	if err != nil {
		return nil, fmt.Errorf("devstack: pubsub: %w", err)
	}
	s.closers = append(s.closers, client.Close)
	if err := ensureTopicAndSub(ctx, client, o.Project, o.Topic, o.Sub); err != nil {
		return nil, err
	}
	pub, err := publish.NewPubSub(ctx, o.Project, o.Topic, rc.PublishTimeout, psOpts...)
	if err != nil {
		return nil, err
	}
	s.closers = append(s.closers, pub.Close)

	proc, err := s.processor(ctx, o, pc)
	if err != nil {
		return nil, err
	}
	h, err := webhook.New(webhook.Options{
		Verifier:       &signature.Verifier{Keys: o.Keys, MaxAge: rc.MaxAge, MaxAhead: rc.MaxAhead},
		Publisher:      pub,
		MaxBodyBytes:   rc.MaxBodyBytes,
		BodyBudget:     rc.BodyBudget,
		PublishTimeout: rc.PublishTimeout,
		Logger:         o.Logger,
	})
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", o.Addr)
	if err != nil {
		return nil, fmt.Errorf("devstack: listen: %w", err)
	}
	s.URL = "http://" + ln.Addr().String() + "/"
	s.srv = &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	go s.srv.Serve(ln)

	rctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	s.cancel = cancel
	sub := client.Subscriber(o.Sub)
	sub.ReceiveSettings.MaxOutstandingMessages = o.Concurrency
	// pstest hands each stream about one message per 10 ms tick, so one
	// stream would cap the dev pipeline near 100 events/s.
	sub.ReceiveSettings.NumGoroutines = 8
	go func() {
		s.done <- sub.Receive(rctx, func(ctx context.Context, m *pubsub.Message) {
			_, err := proc.Process(ctx, pipeline.Message{ID: m.ID, Data: m.Data, Attributes: m.Attributes, PublishTime: m.PublishTime})
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
	}()
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

func (s *Stack) pubsubOptions(o Options) ([]option.ClientOption, error) {
	if host := o.Getenv("PUBSUB_EMULATOR_HOST"); host != "" {
		s.PubSub = host
		return nil, nil // the client finds the emulator by itself
	}
	srv := pstest.NewServer()
	s.closers = append(s.closers, srv.Close)
	s.PubSub = "pstest (in-process)"
	return []option.ClientOption{
		option.WithEndpoint(srv.Addr),
		option.WithoutAuthentication(),
		option.WithGRPCDialOption(grpc.WithTransportCredentials(insecure.NewCredentials())),
	}, nil
}

// devEnv is the environment dev runs on: the real one, over dev's
// defaults — the project, a generated signing key when none is set, and a
// dry run when no Track credentials are set. Options.Keys, when given, win.
func devEnv(o Options) (env config.Getenv, generated bool) {
	keys := ""
	for i, k := range o.Keys {
		if i > 0 {
			keys += ","
		}
		keys += string(k)
	}
	if keys == "" && o.Getenv(config.EnvSigningKeys) == "" {
		b := make([]byte, 24)
		rand.Read(b)
		keys, generated = hex.EncodeToString(b), true
	}
	noCreds := o.Getenv(config.EnvSiteID) == "" && o.Getenv(config.EnvTrackAPIKey) == ""
	return func(k string) string {
		switch {
		case k == config.EnvSigningKeys && keys != "":
			return keys
		case o.Getenv(k) != "":
			return o.Getenv(k)
		case k == config.EnvProject:
			return o.Project
		case k == config.EnvDryRun && noCreds:
			return "true"
		}
		return ""
	}, generated
}

func (s *Stack) processor(ctx context.Context, o Options, cfg config.Processor) (*pipeline.Processor, error) {
	policy, err := actions.ParsePolicy(cfg.Actions, cfg.AllowSuppress)
	if err != nil {
		return nil, fmt.Errorf("devstack: %w", err)
	}
	p := &pipeline.Processor{
		Policy:        policy,
		TTL:           cfg.LedgerTTL,
		StepTimeout:   cfg.StepTimeout,
		LedgerTimeout: cfg.LedgerTimeout,
		Logger:        o.Logger,
		Fault:         o.Fault,
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
		p.Ledger = ledger.NewFirestore(fs, coll, lease)
		s.Ledger = "Firestore emulator at " + host
	} else {
		p.Ledger = ledger.NewMemory(lease)
		s.Ledger = "in memory"
	}
	if o.Warehouse != nil {
		p.Warehouse = o.Warehouse
	} else {
		f, err := warehouse.NewFile(o.DataDir)
		if err != nil {
			return nil, err
		}
		s.closers = append(s.closers, f.Close)
		p.Warehouse = f
	}
	switch {
	case o.Actions != nil:
		p.Actions, s.Actions = o.Actions, "supplied client"
	case !cfg.DryRun && cfg.HasTrackCredentials():
		t, err := actions.NewTrack(actions.TrackConfig{SiteID: cfg.SiteID, APIKey: cfg.TrackAPIKey,
			Region: cfg.Region, RateLimit: cfg.RateLimit})
		if err != nil {
			return nil, err
		}
		p.Actions, s.Actions = t, "Customer.io Track API (live calls)"
	default:
		path := filepath.Join(o.DataDir, ActionsFile)
		f, err := os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
		if err != nil {
			return nil, err
		}
		s.closers = append(s.closers, f.Close)
		p.Actions, s.Actions = actions.NewDryRun(f), "dry run → "+path
	}
	p.Actions = actions.Logged(p.Actions, o.Logger)
	return p, nil
}

func ensureTopicAndSub(ctx context.Context, c *pubsub.Client, project, topic, sub string) error {
	tn := "projects/" + project + "/topics/" + topic
	if _, err := c.TopicAdminClient.CreateTopic(ctx, &pubsubpb.Topic{Name: tn}); err != nil && status.Code(err) != codes.AlreadyExists {
		return fmt.Errorf("devstack: create topic: %w", err)
	}
	_, err := c.SubscriptionAdminClient.CreateSubscription(ctx, &pubsubpb.Subscription{
		Name: "projects/" + project + "/subscriptions/" + sub, Topic: tn, AckDeadlineSeconds: 60,
	})
	if err != nil && status.Code(err) != codes.AlreadyExists {
		return fmt.Errorf("devstack: create subscription: %w", err)
	}
	return nil
}

// Close stops the server and the processor and closes every client.
func (s *Stack) Close() error {
	var errs []error
	s.once.Do(func() {
		if s.srv != nil {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			errs = append(errs, s.srv.Shutdown(ctx))
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
