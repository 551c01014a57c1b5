// Package processor registers ProcessEvent, the private CloudEvent function
// fed by the Pub/Sub push subscription. The logic is in shared/pipeline; this
// package adapts CloudEvents to pipeline messages and wires the clients.
package processor

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"slices"
	"sync"
	"time"

	"cloud.google.com/go/firestore"
	"github.com/GoogleCloudPlatform/functions-framework-go/functions"
	cloudevent "github.com/cloudevents/sdk-go/v2/event"
	"google.golang.org/api/option"

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

// Name is the entry point (FUNCTION_TARGET) of the processor.
const Name = "ProcessEvent"

func init() {
	functions.CloudEvent(Name, ProcessEvent)
	if os.Getenv("FUNCTION_TARGET") == Name {
		if _, err := New(context.Background(), os.Getenv, Overrides{CheckOnly: true}); err != nil {
			logging.New(os.Stdout, "info").Error("processor refuses to start: invalid configuration", "error", err.Error())
			os.Exit(1)
		}
	}
}

// MessagePublishedData is the data of a google.cloud.pubsub.topic.v1.messagePublished
// CloudEvent; functions-framework gives plain push bodies the same shape.
type MessagePublishedData struct {
	Message struct {
		Data        []byte            `json:"data"`
		Attributes  map[string]string `json:"attributes"`
		MessageID   string            `json:"messageId"`
		PublishTime time.Time         `json:"publishTime"`
	} `json:"message"`
	Subscription string `json:"subscription"`
}

// Decode turns a CloudEvent into a pipeline message.
func Decode(e cloudevent.Event) (pipeline.Message, error) {
	var d MessagePublishedData
	if err := json.Unmarshal(e.Data(), &d); err != nil {
		return pipeline.Message{}, fmt.Errorf("processor: not a Pub/Sub messagePublished event: %w", err)
	}
	m := pipeline.Message{ID: d.Message.MessageID, Data: d.Message.Data, Attributes: d.Message.Attributes,
		PublishTime: d.Message.PublishTime}
	if m.ID == "" {
		m.ID = e.ID()
	}
	if m.PublishTime.IsZero() {
		m.PublishTime = e.Time()
	}
	if m.Attributes == nil {
		m.Attributes = map[string]string{}
	}
	return m, nil
}

// ProcessEvent is the CloudEvent entry point. A returned error makes Pub/Sub
// redeliver (and finally dead-letter) the message.
func ProcessEvent(ctx context.Context, e cloudevent.Event) error {
	p, err := get(ctx)
	if err != nil {
		return err
	}
	return Handle(p)(ctx, e)
}

// Handle adapts p to a CloudEvent function.
func Handle(p *pipeline.Processor) func(context.Context, cloudevent.Event) error {
	return func(ctx context.Context, e cloudevent.Event) error {
		m, err := Decode(e)
		if err != nil {
			// Redelivery cannot fix it, but dead-lettering keeps it; acking would not.
			return err
		}
		_, err = p.Process(ctx, m)
		return err
	}
}

var (
	mu   sync.Mutex
	proc *pipeline.Processor
)

func get(ctx context.Context) (*pipeline.Processor, error) {
	mu.Lock()
	defer mu.Unlock()
	if proc != nil {
		return proc, nil
	}
	p, err := New(context.WithoutCancel(ctx), os.Getenv, Overrides{})
	if err != nil {
		return nil, err
	}
	proc = p
	return p, nil
}

// Overrides point New's clients somewhere other than Google and Customer.io
// (tests: the BigQuery and Track fakes).
type Overrides struct {
	// CheckOnly validates the configuration and the action policy without
	// creating any client.
	CheckOnly       bool
	BigQueryOptions []option.ClientOption
	TrackBaseURL    string
	TrackHTTPClient *http.Client
	// FirestoreOptions and LogOutput let a measurement (cmd/cioevents/internal/cost) count
	// the ledger's RPCs and the bytes logged; LogOutput defaults to stdout.
	FirestoreOptions []option.ClientOption
	LogOutput        io.Writer
	// TombstoneRefresh is how often the tombstones are re-read (default
	// tombstone.DefaultRefresh).
	TombstoneRefresh time.Duration
}

// New builds the processor from the environment.
func New(ctx context.Context, getenv config.Getenv, o Overrides) (*pipeline.Processor, error) {
	cfg, err := config.LoadProcessor(getenv)
	policy, perr := actions.ParsePolicy(cfg.Actions, cfg.AllowSuppress)
	if perr != nil {
		perr = fmt.Errorf("%s: %w", config.EnvActions, perr)
	}
	policies, wperr := actions.ParseWorkspacePolicies(cfg.WorkspaceActions, cfg.AllowSuppress)
	if wperr != nil {
		wperr = fmt.Errorf("%s: %w", config.EnvWorkspaceActions, wperr)
	}
	pii, pierr := privacy.FromEnv(getenv)
	if err != nil || perr != nil || wperr != nil || pierr != nil {
		return nil, fmt.Errorf("processor configuration: %w", errors.Join(err, perr, wperr, pierr))
	}
	if o.CheckOnly {
		return nil, nil
	}
	fs, err := firestore.NewClientWithDatabase(ctx, cfg.Project, cfg.FirestoreDB, o.FirestoreOptions...)
	if err != nil {
		return nil, fmt.Errorf("processor: firestore: %w", err)
	}
	wh, err := newWarehouse(ctx, cfg, o)
	if err != nil {
		fs.Close()
		return nil, err
	}
	var logOut io.Writer = os.Stdout
	if o.LogOutput != nil {
		logOut = o.LogOutput
	}
	clients, err := actionsClients(cfg, o, logOut, []byte(getenv(privacy.EnvKey)))
	if err != nil {
		fs.Close()
		wh.Close()
		return nil, err
	}
	// Log lines carry their severity already: they go straight to the real
	// stdout, not through the filter RouteProcessOutput put on os.Stdout
	// for other output (the dry-run lines above need it).
	logger := logging.New(logging.Stdout(), cfg.LogLevel)
	if o.LogOutput != nil {
		logger = logging.New(o.LogOutput, cfg.LogLevel)
	}
	led := ledger.NewFirestore(fs, cfg.LedgerCollection, cfg.LedgerLease)
	// The tombstones `cioevents forget` left: the key's fingerprint written
	// beside them, then read whole once here (a cold start fails closed
	// rather than process a forgotten person), then only the new ones, once
	// a minute, for the instance's life. Another key's fingerprint is an
	// ERROR line, and the instance runs on with its own key. Addresses are
	// matched also as the policy stores them hashed (pii), which is all
	// forget finds of them in rows written under email=hash.
	forgotten := &tombstone.Set{Store: led, Hasher: tombstone.NewHasher([]byte(getenv(privacy.EnvKey))).WithAddressForm(pii), Logger: logger}
	if err := forgotten.Start(ctx); err != nil && !tombstone.IsKeyMismatch(err) {
		fs.Close()
		wh.Close()
		return nil, fmt.Errorf("processor: %w", err)
	}
	go forgotten.Run(context.WithoutCancel(ctx), o.TombstoneRefresh)
	return &pipeline.Processor{
		Ledger:         led,
		Forgotten:      forgotten,
		Warehouse:      &privacy.Writer{Next: wh, Policy: pii},
		Workspaces:     actions.NewWorkspaces(clients, policies, policy, logger),
		TTL:            cfg.LedgerTTL,
		StepTimeout:    cfg.StepTimeout,
		LedgerTimeout:  cfg.LedgerTimeout,
		RecordEachStep: cfg.RecordEachStep,
		Logger:         logger,
	}, nil
}

type closingWriter interface {
	warehouse.Writer
	Close() error
}

// newWarehouse is BigQuery, or NDJSON files when a local run asks for them
// (CIOEVENTS_WAREHOUSE_DIR).
func newWarehouse(ctx context.Context, cfg config.Processor, o Overrides) (closingWriter, error) {
	if cfg.WarehouseDir != "" {
		f, err := warehouse.NewFile(cfg.WarehouseDir)
		if err != nil {
			return nil, fmt.Errorf("processor: %s: %w", config.EnvWarehouseDir, err)
		}
		return f, nil
	}
	return warehouse.NewBigQuery(ctx, cfg.Project, cfg.Dataset, cfg.Table, cfg.RejectedTable, o.BigQueryOptions...)
}

// actionsClients are the Track clients of the workspaces with credentials
// (the default one: CIO_SITE_ID, CIO_TRACK_API_KEY; named ones:
// CIO_WORKSPACE_CREDENTIALS), or one dry run writing to dryRun for all of
// them and the default workspace when the configuration asks for it. A
// workspace without a client makes no call.
func actionsClients(cfg config.Processor, o Overrides, dryRun io.Writer, personKey []byte) (map[string]actions.Client, error) {
	clients := map[string]actions.Client{}
	if cfg.DryRun {
		dry := actions.NewRedactedDryRun(dryRun).PersonKey(personKey)
		clients[workspace.Default] = dry
		for name := range cfg.WorkspaceCredentials {
			clients[name] = dry
		}
		return clients, nil
	}
	for _, name := range append([]string{workspace.Default}, slices.Sorted(maps.Keys(cfg.WorkspaceCredentials))...) {
		creds, ok := cfg.Credentials(name)
		if !ok {
			continue
		}
		t, err := actions.NewTrack(actions.TrackConfig{SiteID: creds.SiteID, APIKey: creds.APIKey, Region: creds.Region,
			RateLimit: cfg.RateLimit, BaseURL: o.TrackBaseURL, HTTPClient: o.TrackHTTPClient})
		if err != nil {
			return nil, fmt.Errorf("processor: workspace %s: %w", name, err)
		}
		clients[name] = t
	}
	return clients, nil
}
