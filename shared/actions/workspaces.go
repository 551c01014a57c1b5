package actions

import (
	"context"
	"errors"
	"log/slog"
)

// ErrNoCredentials is returned for a call in a workspace that has no Track
// API credentials. Nothing was sent: an event is acted on only with its own
// workspace's credentials, never another's.
var ErrNoCredentials = errors.New("actions: the event's workspace has no Track API credentials, call not made")

// noCredentials is the client of a workspace without credentials.
type noCredentials struct{}

func (noCredentials) Do(context.Context, Call) error { return ErrNoCredentials }

// Workspace is what one workspace's events are acted on with.
type Workspace struct {
	Client Client // nil: no Track credentials, so every call is refused with ErrNoCredentials
	Policy Policy
}

// Workspaces routes each event to its own workspace's client and policy.
// Every client it returns writes the "action" log lines (Logged) with the
// workspace's name. Safe for concurrent use.
type Workspaces struct {
	named    map[string]Workspace
	fallback Policy
	logger   *slog.Logger
}

// NewWorkspaces returns the routing for named (each client wrapped in
// Logged); fallback is the policy of a workspace named does not list
// (CIO_ACTIONS), which has no credentials.
func NewWorkspaces(named map[string]Workspace, fallback Policy, logger *slog.Logger) *Workspaces {
	w := &Workspaces{named: make(map[string]Workspace, len(named)), fallback: fallback, logger: logger}
	for name, ws := range named {
		if ws.Client == nil {
			ws.Client = noCredentials{}
		}
		ws.Client = Logged(ws.Client, logger.With(slog.String("workspace", name)))
		w.named[name] = ws
	}
	return w
}

// Lookup returns the client and policy of workspace name. An unknown
// workspace gets the fallback policy and a client that makes no call
// (ErrNoCredentials, logged as outcome no_credentials).
func (w *Workspaces) Lookup(name string) (Client, Policy) {
	if ws, ok := w.named[name]; ok {
		return ws.Client, ws.Policy
	}
	return Logged(noCredentials{}, w.logger.With(slog.String("workspace", name))), w.fallback
}
