package tfcheck

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strings"
)

// ErrTerraform wraps a terraform run that produced no usable answer (the
// binary is missing, or its output could not be read), as opposed to one that
// answered with diagnostics.
var ErrTerraform = errors.New("tfcheck: terraform did not run")

// Terraform runs the terraform CLI in a provider-free module (see
// Module.ProviderFree). It never initialises a backend or installs a provider.
type Terraform struct {
	Bin string // path to the terraform binary
	Dir string // the provider-free module
}

// Diagnostic is one message of `terraform plan -json`.
type Diagnostic struct {
	Severity string
	Summary  string
	Detail   string
	Where    string // file:line of the subject, if any
}

func (d Diagnostic) String() string {
	return fmt.Sprintf("%s: %s: %s", d.Where, d.Summary, strings.ReplaceAll(d.Detail, "\n", " "))
}

// Rule returns file:line of the validation rule that refused a value, as
// Terraform names it in the detail, or "".
func (d Diagnostic) Rule() string {
	if m := ruleAt.FindStringSubmatch(d.Detail); m != nil {
		return m[1] + ":" + m[2]
	}
	return ""
}

var ruleAt = regexp.MustCompile(`validation rule at ([^:\s]+):(\d+),`)

func (tf Terraform) command(ctx context.Context, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, tf.Bin, args...)
	cmd.Dir = tf.Dir
	// Only what this run states: no TF_VAR_* of the caller, no version
	// check over the network, no CLI configuration that could name a mirror.
	env := []string{"CHECKPOINT_DISABLE=1", "TF_IN_AUTOMATION=1", "TF_INPUT=0", "TF_CLI_CONFIG_FILE=" + os.DevNull}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "TF_") && !strings.HasPrefix(kv, "CHECKPOINT_") {
			env = append(env, kv)
		}
	}
	cmd.Env = env
	return cmd
}

func varFileArgs(files []string) []string {
	var args []string
	for _, f := range files {
		args = append(args, "-var-file="+f)
	}
	return args
}

// Plan plans the module with the given variable files, in order, and returns
// the error diagnostics; none means every value was accepted.
func (tf Terraform) Plan(ctx context.Context, varFiles ...string) ([]Diagnostic, error) {
	args := append([]string{"plan", "-input=false", "-lock=false", "-json"}, varFileArgs(varFiles)...)
	var stdout, stderr bytes.Buffer
	cmd := tf.command(ctx, args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	runErr := cmd.Run()
	var exit *exec.ExitError
	if runErr != nil && !errors.As(runErr, &exit) {
		return nil, fmt.Errorf("%w: %v", ErrTerraform, runErr)
	}
	var diags []Diagnostic
	sc := bufio.NewScanner(&stdout)
	sc.Buffer(nil, 1<<24)
	for sc.Scan() {
		var line struct {
			Type       string `json:"type"`
			Diagnostic struct {
				Severity string `json:"severity"`
				Summary  string `json:"summary"`
				Detail   string `json:"detail"`
				Range    *struct {
					Filename string `json:"filename"`
					Start    struct {
						Line int `json:"line"`
					} `json:"start"`
				} `json:"range"`
			} `json:"diagnostic"`
		}
		if json.Unmarshal(sc.Bytes(), &line) != nil || line.Type != "diagnostic" || line.Diagnostic.Severity != "error" {
			continue
		}
		d := Diagnostic{Severity: line.Diagnostic.Severity, Summary: line.Diagnostic.Summary, Detail: line.Diagnostic.Detail}
		if r := line.Diagnostic.Range; r != nil {
			d.Where = fmt.Sprintf("%s:%d", r.Filename, r.Start.Line)
		}
		diags = append(diags, d)
	}
	if runErr != nil && len(diags) == 0 {
		return nil, fmt.Errorf("%w: plan failed without a diagnostic: %v: %s", ErrTerraform, runErr, stderr.String())
	}
	return diags, nil
}

// Console evaluates one expression with `terraform console` and returns what
// it printed, or the error output when Terraform refused it.
func (tf Terraform) Console(ctx context.Context, expr string, varFiles ...string) (out string, refused string, err error) {
	args := append([]string{"console", "-no-color"}, varFileArgs(varFiles)...)
	var stdout, stderr bytes.Buffer
	cmd := tf.command(ctx, args...)
	// Piped, the console prints only the result of the last line, so each
	// call evaluates exactly one line.
	cmd.Stdin = strings.NewReader(expr + "\n")
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	runErr := cmd.Run()
	var exit *exec.ExitError
	switch {
	case runErr == nil:
		return strings.TrimSpace(stdout.String()), "", nil
	case errors.As(runErr, &exit):
		return "", strings.TrimSpace(stderr.String() + stdout.String()), nil
	default:
		return "", "", fmt.Errorf("%w: %v", ErrTerraform, runErr)
	}
}
