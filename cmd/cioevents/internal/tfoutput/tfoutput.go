// Package tfoutput reads what `connect` and `doctor` need to know about a
// deployment from `terraform output -json` in terraform/, so a user who just
// applied need not copy URLs and names by hand. FindDir finds terraform/
// from any directory of the repository, and a failing terraform is reported
// in one line: its error summary and what to run.
package tfoutput

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
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
	if errors.Is(err, exec.ErrNotFound) {
		return nil, errors.New("terraform is not installed here (not on PATH): install it, or pass the values as flags")
	}
	if err != nil {
		return nil, Failure(dir, stderr.String(), err)
	}
	return out, nil
}

// ansi matches terminal colour and style sequences.
var ansi = regexp.MustCompile("\x1b\\[[0-9;]*[A-Za-z]")

// Summary is the first "Error: ..." line of terraform's stderr, without
// colour or the box drawn around diagnostics; else its first line.
func Summary(stderr string) string {
	first := ""
	for _, l := range strings.Split(ansi.ReplaceAllString(stderr, ""), "\n") {
		l = strings.TrimSpace(strings.TrimLeft(l, "│╷╵ \t"))
		if strings.HasPrefix(l, "Error: ") {
			return l
		}
		if first == "" {
			first = l
		}
	}
	return first
}

// Failure is the one-line error of a failed `terraform output` in dir: the
// summary of stderr and what to run about it.
func Failure(dir, stderr string, err error) error {
	sum := Summary(stderr)
	if sum == "" {
		sum = err.Error()
	}
	low := strings.ToLower(sum)
	var todo string
	switch {
	case strings.Contains(low, "init"), strings.Contains(low, "not installed"), strings.Contains(low, "required providers"):
		todo = fmt.Sprintf("run `terraform -chdir=%s init`, then retry", dir)
	case strings.Contains(low, "credentials"), strings.Contains(low, "oauth2"), strings.Contains(low, "token"):
		todo = "run `gcloud auth application-default login`, then retry"
	default:
		todo = fmt.Sprintf("run `terraform -chdir=%s output` for the whole message", dir)
	}
	return fmt.Errorf("%w in %s: %s; %s (or pass the values as flags)", ErrFailed, dir, sum, todo)
}

// ErrFailed marks a terraform that ran and failed: not a mistake in the
// command line, so a command reports it as a failure (exit 1).
var ErrFailed = errors.New("terraform output failed")

// FindDir is the terraform/ of the repository holding start: the nearest
// directory at or above start with a terraform/ that holds a Terraform
// root (*.tf files), so connect and doctor work from anywhere inside the
// repository, terraform/ itself included.
func FindDir(start string) (string, error) {
	abs, err := filepath.Abs(start)
	if err != nil {
		return "", err
	}
	for d := abs; ; d = filepath.Dir(d) {
		tf := filepath.Join(d, "terraform")
		if m, _ := filepath.Glob(filepath.Join(tf, "*.tf")); len(m) > 0 {
			if st, err := os.Stat(tf); err == nil && st.IsDir() {
				return tf, nil
			}
		}
		if filepath.Dir(d) == d {
			return "", fmt.Errorf("%w in %s or any directory above it: run from the cioevents repository, or pass --terraform-dir", ErrNoDir, abs)
		}
	}
}

// ErrNoDir means FindDir found no terraform/.
var ErrNoDir = errors.New("no terraform/ directory with a Terraform configuration")

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
