// Package connect is `cioevents connect`: it points Customer.io's reporting
// webhook at the deployed receiver through the App API and stores the
// webhook's signing key as a new version of the signing-keys secret, in an
// order no failure can turn into a live webhook the receiver cannot verify:
//
//  1. find the webhook posting to the receiver, or create it disabled (a
//     create is sent once; after a lost answer the list says whether it
//     exists, and a rerun adopts it);
//  2. store the key beside the keys already there (the receiver accepts any
//     of them), so whatever is live keeps verifying;
//  3. post a signed probe to the receiver: a 2xx proves it holds the key;
//  4. only then enable the webhook and set its event types.
//
// A webhook that was live before stays live throughout (disabling it might
// drop events); one that was not stays disabled until step 3 passes. It
// never prints or logs the key.
package connect

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"golang.org/x/term"

	"github.com/cioevents/cioevents/cmd/cioevents/internal/appapi"
	"github.com/cioevents/cioevents/cmd/cioevents/internal/cli"
	"github.com/cioevents/cioevents/cmd/cioevents/internal/secretstore"
	"github.com/cioevents/cioevents/cmd/cioevents/internal/tfoutput"
	"github.com/cioevents/cioevents/shared/config"
	"github.com/cioevents/cioevents/shared/event"
	"github.com/cioevents/cioevents/shared/signature"
	"github.com/cioevents/cioevents/shared/workspace"
)

// Usage is the command line, for the CLI's usage text.
const Usage = `connect [--url URL] [--events e1,e2] [--name N] [--dry-run] [--skip-key] [--signing-key-file F|-]
          [--workspace W] [--project P] [--secret S] [--tfvars F] [--app-api-url U] [--terraform-dir D]
                                                                      (CIO_APP_API_KEY, CIO_REGION)`

// DefaultSecret is the signing-keys secret of the default name_prefix.
const DefaultSecret = "cioevents-webhook-signing-keys"

// Env is what the command reads and writes besides its flags; zero values
// are the real ones.
type Env struct {
	Getenv config.Getenv
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
	// Terraform runs `terraform output -json` (tfoutput.Exec when nil).
	Terraform tfoutput.Runner
	// TerraformDir is where terraform/ is (default: tfoutput.FindDir from
	// the working directory).
	TerraformDir string
	// AppAPIURL and HTTPClient override the App API host and transport.
	AppAPIURL  string
	HTTPClient *http.Client
	// Receiver is the HTTP client of the signed probe that proves the
	// receiver holds the key (default: a 10 s timeout).
	Receiver *http.Client
	// Now is the clock of the probe's signature (time.Now when nil).
	Now func() time.Time
	// Secrets opens Secret Manager for a project (secretstore.New when nil).
	Secrets func(ctx context.Context, project string) (secretstore.Store, error)
	// ReadKey reads the key from a terminal without echo; nil uses
	// golang.org/x/term when Stdin is a terminal.
	ReadKey func() ([]byte, error)
}

func (e *Env) defaults() {
	if e.Getenv == nil {
		e.Getenv = os.Getenv
	}
	if e.Stdin == nil {
		e.Stdin = os.Stdin
	}
	if e.Stdout == nil {
		e.Stdout = os.Stdout
	}
	if e.Stderr == nil {
		e.Stderr = os.Stderr
	}
	if e.Receiver == nil {
		e.Receiver = &http.Client{Timeout: 10 * time.Second}
	}
	if e.Now == nil {
		e.Now = time.Now
	}
	if e.Secrets == nil {
		e.Secrets = func(ctx context.Context, project string) (secretstore.Store, error) {
			return secretstore.New(ctx, project)
		}
	}
	if e.ReadKey == nil {
		if f, ok := e.Stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
			e.ReadKey = func() ([]byte, error) {
				fmt.Fprint(e.Stderr, "Signing key (Customer.io → Integrations → Reporting webhooks → the webhook; not echoed): ")
				defer fmt.Fprintln(e.Stderr)
				return term.ReadPassword(int(f.Fd()))
			}
		}
	}
}

// ErrUsage marks a mistake in the command line or the environment.
var ErrUsage = cli.ErrUsage

func usage(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrUsage, fmt.Sprintf(format, args...))
}

type options struct {
	url, name, events, keyFile, ws, project, secret, tfvars, appAPIURL, tfDir string
	dryRun, skipKey                                                           bool
}

// Command runs `cioevents connect`.
func Command(ctx context.Context, args []string, e Env) error {
	e.defaults()
	var o options
	fl := flag.NewFlagSet("connect", flag.ContinueOnError)
	fl.SetOutput(e.Stderr)
	fl.StringVar(&o.url, "url", "", "receiver URL (default: terraform output webhook_url)")
	fl.StringVar(&o.name, "name", "cioevents", "webhook name, for a webhook this creates")
	fl.StringVar(&o.events, "events", "", "comma-separated event types to subscribe (default: every type the App API offers)")
	fl.BoolVar(&o.dryRun, "dry-run", false, "print what would change, change nothing")
	fl.BoolVar(&o.skipKey, "skip-key", false, "only set up the webhook; store no signing key")
	fl.StringVar(&o.keyFile, "signing-key-file", "", "read the signing key from this file (- for stdin) instead of a prompt")
	fl.StringVar(&o.ws, "workspace", workspace.Default, "workspace the key belongs to (its name=key entry; default: the unnamed key)")
	fl.StringVar(&o.project, "project", "", "Google Cloud project (default: from terraform output events_table, then "+config.EnvProject+")")
	fl.StringVar(&o.secret, "secret", "", "signing-keys secret (default: terraform output signing_keys_secret, then "+DefaultSecret+")")
	fl.StringVar(&o.tfvars, "tfvars", "", "environment file with signing_keys_version (default: terraform/env/$ENV.tfvars)")
	fl.StringVar(&o.appAPIURL, "app-api-url", "", "App API base URL, for a proxy or a fake (default: the host of "+config.EnvRegion+")")
	fl.StringVar(&o.tfDir, "terraform-dir", "", "the Terraform root whose outputs describe the deployment (default: terraform/ of the repository holding the working directory)")
	if err := fl.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return ErrUsage // the flag package said why
	}
	if fl.NArg() > 0 {
		return usage("unexpected argument %q (every option is a --flag)", fl.Arg(0))
	}
	if !workspace.Valid(o.ws) {
		return usage("--workspace %q: %s", o.ws, workspace.Rule)
	}
	events, err := chooseEvents(o.events)
	if err != nil {
		return err
	}
	key := strings.TrimSpace(e.Getenv(appapi.EnvKey))
	if key == "" {
		return usage("%s is not set: create an App API key in Customer.io (Settings → API Credentials → App API keys) and export it", appapi.EnvKey)
	}
	// Why no terraform/ was found is said only if its outputs are needed.
	var noDir error
	if o.tfDir != "" {
		e.TerraformDir = o.tfDir
	} else if e.TerraformDir == "" {
		e.TerraformDir, noDir = tfoutput.FindDir(".")
	}
	if o.appAPIURL != "" {
		if _, err := appapi.BaseURL("", o.appAPIURL); err != nil {
			return usage("--app-api-url %q: %v", o.appAPIURL, err)
		}
		e.AppAPIURL = o.appAPIURL
	}
	var tf tfoutput.Outputs
	if o.url == "" || (!o.skipKey && (o.project == "" || o.secret == "")) {
		err = noDir
		if noDir == nil {
			tf, err = tfoutput.Read(ctx, e.Terraform, e.TerraformDir)
		}
		if err != nil && o.url == "" && errors.Is(err, tfoutput.ErrFailed) {
			return fmt.Errorf("connect: no --url, and the deployed URL could not be read: %w", err)
		}
		if err != nil && o.url == "" {
			return usage("no --url, and the deployed URL could not be read: %v", err)
		}
	}
	if o.url == "" {
		o.url = tf.WebhookURL
	}
	if o.url == "" {
		return usage("terraform output has no webhook_url: pass --url")
	}
	client, err := appapi.New(appapi.Config{Key: key, Region: e.Getenv(config.EnvRegion), BaseURL: e.AppAPIURL, HTTPClient: e.HTTPClient})
	if err != nil {
		return err
	}
	return run(ctx, client, o, events, tf, e)
}

func chooseEvents(list string) ([]string, error) {
	if strings.TrimSpace(list) == "" {
		return slices.Clone(appapi.WebhookEvents), nil
	}
	var out []string
	for _, ev := range strings.Split(list, ",") {
		ev = strings.TrimSpace(ev)
		if !slices.Contains(appapi.WebhookEvents, ev) {
			return nil, usage("--events: %q is not an event type of the App API (e.g. email_bounced; see docs/doctor.md)", ev)
		}
		if !slices.Contains(out, ev) {
			out = append(out, ev)
		}
	}
	return out, nil
}

// sameEndpoint compares URLs as Customer.io would post to them: a trailing
// slash is the same receiver.
func sameEndpoint(a, b string) bool { return strings.TrimRight(a, "/") == strings.TrimRight(b, "/") }

// FindWebhook returns the webhook posting to url, if any.
func FindWebhook(hooks []appapi.Webhook, url string) (appapi.Webhook, bool) {
	for _, h := range hooks {
		if sameEndpoint(h.Endpoint, url) {
			return h, true
		}
	}
	return appapi.Webhook{}, false
}

// Diff lists what differs between a webhook and the wanted one: a disabled
// webhook, missing and extra event types.
func Diff(have appapi.Webhook, want []string) (missing, extra []string, disabled bool) {
	for _, ev := range want {
		if !slices.Contains(have.Events, ev) {
			missing = append(missing, ev)
		}
	}
	for _, ev := range have.Events {
		if !slices.Contains(want, ev) {
			extra = append(extra, ev)
		}
	}
	return missing, extra, have.Disabled
}

// run does the four steps of the package comment.
func run(ctx context.Context, c *appapi.Client, o options, events []string, tf tfoutput.Outputs, e Env) error {
	out := e.Stdout
	hooks, err := c.Webhooks(ctx)
	if err != nil {
		return fmt.Errorf("connect: list reporting webhooks: %w", err)
	}
	have, found := FindWebhook(hooks, o.url)
	if o.dryRun {
		describe(out, have, found, o, events)
		if !o.skipKey {
			return storeKey(ctx, o, tf, e, nil)
		}
		return nil
	}
	if !found {
		fmt.Fprintf(out, "webhook: create %q → %s, disabled until the receiver holds its key, %d event types\n", o.name, o.url, len(events))
		if have, err = create(ctx, c, appapi.Webhook{Name: o.name, Endpoint: o.url, Events: events, Disabled: true}, out); err != nil {
			return err
		}
	}
	wasLive := !have.Disabled
	if o.skipKey {
		if !wasLive {
			if err := update(ctx, c, have, o, events, true, out); err != nil {
				return err
			}
			fmt.Fprintf(out, "webhook: id %d left disabled: rerun connect without --skip-key to store its key; it is enabled once the receiver accepts that key\n", have.ID)
			return nil
		}
		return update(ctx, c, have, o, events, false, out)
	}
	key, err := storeKeyRead(ctx, o, tf, e)
	if err != nil {
		if !wasLive {
			err = fmt.Errorf("%w (webhook %d left disabled)", err, have.ID)
		}
		return err
	}
	if err := receiverHolds(ctx, e, o.url, key); err != nil {
		if wasLive {
			return fmt.Errorf("connect: webhook %d is live but %v; its settings were left as they were", have.ID, err)
		}
		return fmt.Errorf("connect: webhook %d left disabled: %v; once it does, rerun connect to enable it", have.ID, err)
	}
	fmt.Fprintf(out, "receiver: a probe signed with the key was accepted at %s\n", o.url)
	return update(ctx, c, have, o, events, false, out)
}

// describe prints what a run would change.
func describe(out io.Writer, have appapi.Webhook, found bool, o options, events []string) {
	if !found {
		fmt.Fprintf(out, "webhook: would create %q → %s, disabled, %d event types; enabled once the receiver accepts its key\n", o.name, o.url, len(events))
		return
	}
	changes(out, "would update", "enable it (it is disabled) once the receiver accepts its key", have, o, events, false)
}

// changes prints how have differs from the webhook wanted (o.url, events,
// disabled or not) under "webhook: <verb> id …", or that it is unchanged;
// enable is the line for a disabled webhook to be enabled.
func changes(out io.Writer, verb, enable string, have appapi.Webhook, o options, events []string, disabled bool) (unchanged bool) {
	missing, extra, _ := Diff(have, events)
	if len(missing) == 0 && len(extra) == 0 && have.Disabled == disabled && have.Endpoint == o.url {
		state := "enabled"
		if disabled {
			state = "disabled"
		}
		fmt.Fprintf(out, "webhook: id %d %q → %s already %s with the %d event types; unchanged\n", have.ID, have.Name, o.url, state, len(events))
		return true
	}
	fmt.Fprintf(out, "webhook: %s id %d %q → %s:\n", verb, have.ID, have.Name, o.url)
	if have.Disabled && !disabled {
		fmt.Fprintln(out, "  "+enable)
	}
	if len(missing) > 0 {
		fmt.Fprintf(out, "  + %d event types: %s\n", len(missing), strings.Join(missing, ", "))
	}
	if len(extra) > 0 {
		fmt.Fprintf(out, "  - %d event types: %s\n", len(extra), strings.Join(extra, ", "))
	}
	if have.Endpoint != o.url {
		fmt.Fprintf(out, "  endpoint %s → %s\n", have.Endpoint, o.url)
	}
	return false
}

// create makes w once. A create is not idempotent, so after an answer that
// does not say whether it happened, the list does: a webhook to the endpoint
// is the one this made (or one made meanwhile, which is as good) and is
// adopted; none means nothing was made, and a rerun is safe either way.
func create(ctx context.Context, c *appapi.Client, w appapi.Webhook, out io.Writer) (appapi.Webhook, error) {
	made, err := c.CreateWebhook(ctx, w)
	if err == nil {
		fmt.Fprintf(out, "webhook: created id %d (disabled)\n", made.ID)
		return made, nil
	}
	if !errors.Is(err, appapi.ErrUncertain) {
		return made, fmt.Errorf("connect: create the reporting webhook: %w", err)
	}
	hooks, lerr := c.Webhooks(ctx)
	if lerr != nil {
		return made, fmt.Errorf("connect: create the reporting webhook: %w; and the list that would tell whether it exists failed too (%v): rerun connect, it adopts a webhook it made", err, lerr)
	}
	found, ok := FindWebhook(hooks, w.Endpoint)
	if !ok {
		return made, fmt.Errorf("connect: create the reporting webhook: %w; the list shows none to %s, so none was made: rerun connect", err, w.Endpoint)
	}
	fmt.Fprintf(out, "webhook: the create got no reliable answer (%v); the list shows id %d → %s, adopted\n", err, found.ID, found.Endpoint)
	return found, nil
}

// update sets have's endpoint and event types, disabled or enabled; it
// changes nothing when have already is so. Options and name are kept.
func update(ctx context.Context, c *appapi.Client, have appapi.Webhook, o options, events []string, disabled bool, out io.Writer) error {
	if changes(out, "update", "enable it", have, o, events, disabled) {
		return nil
	}
	have.Endpoint, have.Events, have.Disabled = o.url, events, disabled
	if _, err := c.UpdateWebhook(ctx, have); err != nil {
		return fmt.Errorf("connect: update reporting webhook %d: %w", have.ID, err)
	}
	fmt.Fprintf(out, "webhook: updated id %d\n", have.ID)
	return nil
}

// receiverHolds posts a probe signed with key to url: a 2xx proves the
// receiver verifies with key, a 401 that it does not (yet). The probe is
// an ordinary probe event (shared/event/probe.go): no figure counts it.
func receiverHolds(ctx context.Context, e Env, url, key string) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	now := e.Now()
	var id [10]byte
	rand.Read(id[:])
	req, err := signature.NewRequest(ctx, url, []byte(key), now, event.ProbeBody("connect-"+hex.EncodeToString(id[:]), now))
	if err != nil {
		return fmt.Errorf("the key could not be checked at %s: %v", url, err)
	}
	resp, err := e.Receiver.Do(req)
	if err != nil {
		return fmt.Errorf("the receiver at %s did not answer a probe signed with the key (%v)", url, err)
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
	resp.Body.Close()
	switch {
	case resp.StatusCode/100 == 2:
		return nil
	case resp.StatusCode == http.StatusUnauthorized:
		return fmt.Errorf("the receiver at %s answers 401 to a probe signed with the key: it has not loaded the new secret version yet (see above)", url)
	default:
		return fmt.Errorf("the receiver at %s answered %d to a probe signed with the key", url, resp.StatusCode)
	}
}

// storeKeyRead stores the key (storeKey) after reading it.
func storeKeyRead(ctx context.Context, o options, tf tfoutput.Outputs, e Env) (string, error) {
	key, err := readKey(o.keyFile, e)
	if err != nil {
		return "", err
	}
	return key, storeKey(ctx, o, tf, e, &key)
}

// storeKey adds key to the signing-keys secret as a new version (nil key:
// the dry run, which says what it would do).
func storeKey(ctx context.Context, o options, tf tfoutput.Outputs, e Env, key *string) error {
	project := firstOf(o.project, tf.Project, e.Getenv(config.EnvProject))
	secret := firstOf(o.secret, tf.SigningKeysSecret, DefaultSecret)
	if project == "" {
		return usage("no Google Cloud project: pass --project, set %s, or run from the repository after terraform apply", config.EnvProject)
	}
	if key == nil {
		fmt.Fprintf(e.Stdout, "signing key: would add a new version of secret %s in project %s (workspace %s)\n", secret, project, o.ws)
		return nil
	}
	store, err := e.Secrets(ctx, project)
	if err != nil {
		return fmt.Errorf("connect: Secret Manager: %w", err)
	}
	if c, ok := store.(io.Closer); ok {
		defer c.Close()
	}
	current, _, err := store.Access(ctx, secret, "latest")
	if err != nil && !errors.Is(err, secretstore.ErrNotFound) {
		return fmt.Errorf("connect: %w", err)
	}
	if errors.Is(err, secretstore.ErrNotFound) {
		// A secret without versions is what terraform leaves; a missing
		// secret fails the add below, naming it.
		current = nil
	}
	next, kept, same := Merge(string(current), o.ws, *key)
	if same {
		fmt.Fprintf(e.Stdout, "signing key: secret %s already holds this key for workspace %s; no new version\n", secret, o.ws)
		return nil
	}
	if _, err := config.ParseSigningKeys(next); err != nil {
		return fmt.Errorf("connect: the secret would not be a valid key list: %w", err)
	}
	version, err := store.Add(ctx, secret, []byte(next))
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	fmt.Fprintf(e.Stdout, "signing key: stored as version %s of secret %s (workspace %s", version, secret, o.ws)
	if len(kept) > 0 {
		fmt.Fprintf(e.Stdout, "; kept the keys of %s", strings.Join(kept, ", "))
	}
	fmt.Fprintln(e.Stdout, ")")
	pickup(e, o.tfvars, version)
	return nil
}

func firstOf(vs ...string) string {
	for _, v := range vs {
		if strings.TrimSpace(v) != "" {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// readKey reads the signing key from --signing-key-file, else a no-echo
// terminal prompt, else stdin.
func readKey(file string, e Env) (string, error) {
	var b []byte
	var err error
	switch {
	case file == "-":
		b, err = io.ReadAll(io.LimitReader(e.Stdin, 64<<10))
	case file != "":
		b, err = os.ReadFile(file)
	case e.ReadKey != nil:
		b, err = e.ReadKey()
	default:
		b, err = bufio.NewReader(io.LimitReader(e.Stdin, 64<<10)).ReadBytes('\n')
		if errors.Is(err, io.EOF) {
			err = nil
		}
	}
	if err != nil {
		return "", fmt.Errorf("connect: read the signing key: %w", err)
	}
	k := strings.TrimSpace(string(b))
	switch {
	case k == "":
		return "", usage("no signing key given: copy it from Customer.io (Integrations → Reporting webhooks → the webhook) and paste it at the prompt, or pass --signing-key-file")
	case strings.ContainsAny(k, ", \t\n"):
		return "", usage("the signing key contains a comma or a space; a Customer.io signing key has neither (copied more than the key?)")
	}
	// The receiver refuses a quoted key at start (config.CheckSecret), so
	// storing one would take it down: refuse it here by the same rule.
	if err := config.CheckSecret("the signing key", k); err != nil {
		return "", usage("%v", err)
	}
	return k, nil
}

// Merge puts key first in the comma-separated list current and keeps every
// entry already there: the receiver accepts a request signed by any of them,
// so a webhook still signing with an older key of the workspace keeps being
// verified until it signs with key. The workspace keeps at most one older
// key (the newest), so rotations do not pile keys up. same is true when the
// workspace already has key; then current is kept as it is. kept names the
// workspaces whose entries were kept.
func Merge(current, ws, key string) (next string, kept []string, same bool) {
	entry := key
	if ws != workspace.Default || strings.Contains(key, "=") {
		entry = ws + "=" + key
	}
	out := []string{entry}
	older := 0
	for _, e := range strings.Split(current, ",") {
		e = strings.TrimSpace(e)
		if e == "" {
			continue
		}
		name, k := workspace.Default, e
		if n, v, named := strings.Cut(e, "="); named && workspace.Valid(strings.TrimSpace(n)) {
			name, k = strings.TrimSpace(n), strings.TrimSpace(v)
		}
		if name == ws {
			if k == key {
				return strings.TrimSpace(current), nil, true
			}
			if older++; older > 1 {
				continue
			}
		}
		out = append(out, e)
		if name != ws && !slices.Contains(kept, name) {
			kept = append(kept, name)
		}
	}
	return strings.Join(out, ","), kept, false
}

var versionLine = regexp.MustCompile(`(?m)^\s*signing_keys_version\s*=\s*"([^"]*)".*$`)

// pickup says how the receiver loads the new version: a pinned
// signing_keys_version must change (the exact line), "latest" reaches
// instances as they start.
func pickup(e Env, tfvars, version string) {
	out := e.Stdout
	if tfvars == "" && e.Getenv("ENV") != "" {
		tfvars = filepath.Join(e.TerraformDir, "env", e.Getenv("ENV")+".tfvars")
	}
	pinned := ""
	if tfvars != "" {
		if b, err := os.ReadFile(tfvars); err == nil {
			if m := versionLine.FindStringSubmatch(string(b)); m != nil {
				pinned = m[1]
			}
		} else {
			fmt.Fprintf(out, "(could not read %s: %v)\n", tfvars, err)
		}
	}
	switch {
	case pinned != "" && pinned != "latest":
		fmt.Fprintf(out, `The receiver is pinned to version %s. To load version %s, change this line in %s:
  signing_keys_version = "%s"
to
  signing_keys_version = "%s"
then commit and apply (terraform apply -var-file=%s); every receiver instance restarts with the new key.
`, pinned, version, tfvars, pinned, version, tfvars)
	case tfvars != "":
		fmt.Fprintf(out, `%s uses signing_keys_version = "latest": receiver instances that start from now on load version %s;
running ones keep the old key until they are replaced. To switch every instance now, add
  signing_keys_version = "%s"
to %s, commit and apply.
`, tfvars, version, version, tfvars)
	default:
		fmt.Fprintf(out, `If signing_keys_version is "latest" (the default), receiver instances that start from now on load version %s
and running ones keep the old key until replaced. If your environment file pins it, set
  signing_keys_version = "%s"
there, commit and apply. (Pass --tfvars terraform/env/<env>.tfvars, or set ENV, to be told which.)
`, version, version)
	}
}
