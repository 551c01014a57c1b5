// Package tfoutput reads what `connect` and `doctor` need to know about a
// deployment from `terraform output -json` in terraform/, so a user who just
// applied need not copy URLs and names by hand.
package tfoutput

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"strings"
)

// Runner runs `terraform output -json` in dir and returns its stdout.
type Runner func(ctx context.Context, dir string) ([]byte, error)

// Exec is the Runner that runs the terraform binary.
func Exec(ctx context.Context, dir string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, "terraform", "output", "-json")
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("terraform output -json in %s: %w: %s", dir, err, strings.TrimSpace(stderr.String()))
	}
	return out, nil
}

// Outputs are the values read; empty when the output is absent.
type Outputs struct {
	WebhookURL        string
	SigningKeysSecret string
	// Project, Dataset and Table come from output events_table.
	Project, Dataset, Table string
	// DeadLetterSubscription is the dead-letter pull subscription's ID.
	DeadLetterSubscription string
	// Topic is the main topic's ID.
	Topic string
}

// ErrNoState means terraform answered but holds no outputs: not applied
// here, or another working directory.
var ErrNoState = errors.New("terraform has no outputs here (run terraform apply, or pass the values as flags)")

// Read runs run in dir and decodes the outputs cioevents uses.
func Read(ctx context.Context, run Runner, dir string) (Outputs, error) {
	if run == nil {
		run = Exec
	}
	b, err := run(ctx, dir)
	if err != nil {
		return Outputs{}, err
	}
	var raw map[string]struct {
		Value json.RawMessage `json:"value"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return Outputs{}, fmt.Errorf("terraform output -json: %w", err)
	}
	if len(raw) == 0 {
		return Outputs{}, ErrNoState
	}
	str := func(name string) string {
		var s string
		if v, ok := raw[name]; ok {
			json.Unmarshal(v.Value, &s)
		}
		return s
	}
	o := Outputs{WebhookURL: str("webhook_url"), SigningKeysSecret: str("signing_keys_secret"),
		DeadLetterSubscription: last(str("dead_letter_subscription")), Topic: last(str("topic"))}
	if parts := strings.Split(str("events_table"), "."); len(parts) == 3 {
		o.Project, o.Dataset, o.Table = parts[0], parts[1], parts[2]
	}
	return o, nil
}

// last is the ID in a resource name (projects/p/subscriptions/ID) or ID.
func last(s string) string { return s[strings.LastIndex(s, "/")+1:] }
