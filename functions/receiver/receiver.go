// Package receiver registers ReceiveWebhook, the public HTTP function that
// takes Customer.io's reporting webhooks. The logic is in shared/webhook;
// this package only wires configuration and clients into it.
package receiver

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"sync"

	"github.com/GoogleCloudPlatform/functions-framework-go/functions"
	"google.golang.org/api/option"

	"github.com/cioevents/cioevents/shared/config"
	"github.com/cioevents/cioevents/shared/logging"
	"github.com/cioevents/cioevents/shared/publish"
	"github.com/cioevents/cioevents/shared/signature"
	"github.com/cioevents/cioevents/shared/webhook"
)

// Name is the entry point (FUNCTION_TARGET) of the receiver.
const Name = "ReceiveWebhook"

func init() {
	functions.HTTP(Name, ReceiveWebhook)
	// Cloud Functions builds one binary with both functions; only the
	// instance that serves this one must fail closed on its configuration.
	if os.Getenv("FUNCTION_TARGET") == Name {
		if _, err := config.LoadReceiver(os.Getenv); err != nil {
			logging.New(os.Stdout, "info").Error("receiver refuses to start: invalid configuration", "error", err.Error())
			os.Exit(1)
		}
	}
}

var (
	mu      sync.Mutex
	handler http.Handler
)

// ReceiveWebhook is the HTTP entry point.
func ReceiveWebhook(w http.ResponseWriter, r *http.Request) {
	h, err := get(r.Context())
	if err != nil {
		// Not a 500: Customer.io would pause the stream for an hour.
		logging.New(logging.Stdout(), "info").Error("receiver not ready", "error", err.Error())
		http.Error(w, `{"error":"receiver not ready"}`, http.StatusServiceUnavailable)
		return
	}
	h.ServeHTTP(w, r)
}

// get builds the handler on first use and keeps it for the instance's life;
// a failure is not cached, so the next request tries again.
func get(ctx context.Context) (http.Handler, error) {
	mu.Lock()
	defer mu.Unlock()
	if handler != nil {
		return handler, nil
	}
	h, err := New(context.WithoutCancel(ctx), os.Getenv)
	if err != nil {
		return nil, err
	}
	handler = h
	return h, nil
}

// New builds the receiver from the environment: validated configuration, one
// Pub/Sub client, JSON logs on the real stdout (unbuffered, past the
// filter that logging.RouteProcessOutput puts in front of the framework's
// prints).
func New(ctx context.Context, getenv config.Getenv) (http.Handler, error) {
	return NewWith(ctx, getenv, Overrides{})
}

// Overrides let a measurement watch New's clients (cmd/cioevents/internal/cost counts the
// bytes published and logged) without changing what they do.
type Overrides struct {
	PubSubOptions []option.ClientOption
	LogOutput     io.Writer // default: the real stdout
}

// NewWith is New with o applied.
func NewWith(ctx context.Context, getenv config.Getenv, o Overrides) (http.Handler, error) {
	cfg, err := config.LoadReceiver(getenv)
	if err != nil {
		return nil, fmt.Errorf("receiver configuration: %w", err)
	}
	pub, err := publish.NewPubSub(ctx, cfg.Project, cfg.Topic, cfg.PublishTimeout, o.PubSubOptions...)
	if err != nil {
		return nil, err
	}
	var logOut io.Writer = logging.Stdout()
	if o.LogOutput != nil {
		logOut = o.LogOutput
	}
	return webhook.New(webhook.Options{
		Verifier:       &signature.Verifier{Keys: cfg.SigningKeys, MaxAge: cfg.MaxAge, MaxAhead: cfg.MaxAhead},
		Workspaces:     cfg.KeyWorkspaces,
		Publisher:      pub,
		MaxBodyBytes:   cfg.MaxBodyBytes,
		BodyBudget:     cfg.BodyBudget,
		PublishTimeout: cfg.PublishTimeout,
		Logger:         logging.New(logOut, cfg.LogLevel),
		Project:        cfg.Project,
	})
}
