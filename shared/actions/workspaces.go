package actions

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
)

// ErrNoCredentials is returned for a call in a workspace that has no Track
// API credentials. Nothing was sent: an event is acted on only with its own
// workspace's credentials, never another's.
var ErrNoCredentials = errors.New("actions: the event's workspace has no Track API credentials, call not made")

// noCredentials is the client of a workspace without credentials.
type noCredentials struct{}

func (noCredentials) Do(context.Context, Call) error { return ErrNoCredentials }

// Workspaces routes each event to its own workspace's client and policy.
// Every client it returns writes the "action" log lines (Logged) with the
// workspace's name. Safe for concurrent use.
type Workspaces struct {
	clients  map[string]Client
	policies map[string]Policy
	fallback Policy
	logger   *slog.Logger
}

// NewWorkspaces returns the routing: clients[name] acts for workspace name
// (each wrapped in Logged; a workspace without one has no credentials), and
// policies[name] is its policy, fallback (CIO_ACTIONS) when absent.
func NewWorkspaces(clients map[string]Client, policies map[string]Policy, fallback Policy, logger *slog.Logger) *Workspaces {
	w := &Workspaces{clients: make(map[string]Client, len(clients)), policies: policies, fallback: fallback, logger: logger}
	for name, c := range clients {
		if c != nil {
			w.clients[name] = Logged(c, logger.With(slog.String("workspace", name)))
		}
	}
	// A workspace known by its policy but without credentials gets its
	// refusing client once, not per event.
	for name := range policies {
		if _, ok := w.clients[name]; !ok {
			w.clients[name] = w.noCredentials(name)
		}
	}
	return w
}

func (w *Workspaces) noCredentials(name string) Client {
	return Logged(noCredentials{}, w.logger.With(slog.String("workspace", name)))
}

// Lookup returns the client and policy of workspace name. A workspace
// without credentials gets a client that makes no call: ErrNoCredentials,
// logged as outcome no_credentials.
func (w *Workspaces) Lookup(name string) (Client, Policy) {
	policy, ok := w.policies[name]
	if !ok {
		policy = w.fallback
	}
	if c, ok := w.clients[name]; ok {
		return c, policy
	}
	return w.noCredentials(name), policy
}

// ParseWorkspacePolicies parses each workspace's policy text as
// ParsePolicy does; errors name the workspace.
func ParseWorkspacePolicies(texts map[string]string, allowSuppress bool) (map[string]Policy, error) {
	out := make(map[string]Policy, len(texts))
	var errs []error
	for _, name := range slices.Sorted(maps.Keys(texts)) {
		p, err := ParsePolicy(texts[name], allowSuppress)
		if err != nil {
			errs = append(errs, fmt.Errorf("workspace %s: %w", name, err))
			continue
		}
		out[name] = p
	}
	return out, errors.Join(errs...)
}
