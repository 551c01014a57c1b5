// Package config reads the functions' configuration from the environment and
// validates all of it at start, reporting one line per bad value, so a
// misconfigured deployment fails before it serves instead of at the first
// event.
package config

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/cioevents/cioevents/shared/workspace"
)

// Environment variable names. Terraform gives each function exactly the ones
// its Vars list names (a test checks this).
const (
	EnvSigningKeys     = "CIO_WEBHOOK_SIGNING_KEYS"
	EnvMaxAge          = "CIO_SIGNATURE_MAX_AGE"
	EnvMaxAhead        = "CIO_SIGNATURE_MAX_AHEAD"
	EnvMaxBodyBytes    = "CIO_MAX_BODY_BYTES"
	EnvBodyBudget      = "CIO_BODY_BUDGET_BYTES"
	EnvInstanceMemory  = "CIO_INSTANCE_MEMORY"
	EnvProject         = "GOOGLE_CLOUD_PROJECT"
	EnvTopic           = "PUBSUB_TOPIC"
	EnvPublishTimeout  = "CIO_PUBLISH_TIMEOUT"
	EnvLogLevel        = "LOG_LEVEL"
	EnvFirestoreDB     = "FIRESTORE_DATABASE"
	EnvLedgerColl      = "LEDGER_COLLECTION"
	EnvLedgerTTL       = "LEDGER_TTL"
	EnvLedgerLease     = "LEDGER_LEASE"
	EnvStepTimeout     = "CIO_STEP_TIMEOUT"
	EnvLedgerTimeout   = "LEDGER_TIMEOUT"
	EnvLedgerMode      = "LEDGER_MODE"
	EnvDataset         = "BIGQUERY_DATASET"
	EnvTable           = "BIGQUERY_TABLE"
	EnvRejectedTable   = "BIGQUERY_REJECTED_TABLE"
	EnvSiteID          = "CIO_SITE_ID"
	EnvTrackAPIKey     = "CIO_TRACK_API_KEY"
	EnvRegion          = "CIO_REGION"
	EnvActions         = "CIO_ACTIONS"
	EnvAllowSuppress   = "CIO_ACTIONS_ALLOW_SUPPRESS"
	EnvDryRun          = "CIO_ACTIONS_DRY_RUN"
	EnvRateLimit       = "CIO_RATE_LIMIT"
	DefaultTopic       = "cioevents-events"
	DefaultCollection  = "cioevents_ledger"
	DefaultDataset     = "cioevents"
	DefaultTable       = "events"
	DefaultRejected    = "rejected_events"
	DefaultFirestoreDB = "(default)"
)

// Named workspaces' Track credentials and policies (see shared/workspace).
const (
	// EnvWorkspaceCredentials (a secret) holds the Track API credentials of
	// named workspaces: "name=site_id:api_key[:region],…".
	EnvWorkspaceCredentials = "CIO_WORKSPACE_CREDENTIALS"
	// EnvWorkspaceActions holds the action policy of named workspaces: a
	// JSON object of name to policy (what CIO_ACTIONS takes, as a string or
	// as the policy object itself).
	EnvWorkspaceActions = "CIO_WORKSPACE_ACTIONS"
)

// EnvWarehouseDir is for running the processor locally (`cioevents serve`):
// rows go to NDJSON files in this directory instead of BigQuery. Terraform
// never sets it, so it is listed in LocalVars, not ProcessorVars.
const EnvWarehouseDir = "CIOEVENTS_WAREHOUSE_DIR"

// OptionalProcessorVars lists the variables the processor reads that
// Terraform gives only in some configurations: a secret mounted only when it
// is used (a mounted secret with no version fails the deploy).
func OptionalProcessorVars() []string { return []string{EnvWorkspaceCredentials} }

// LocalVars lists the variables read only for local runs.
func LocalVars() []string { return []string{EnvWarehouseDir} }

// Body limits.
//
// DefaultMaxBodyBytes: content-bearing *_sent events (full HTML email, push
// or SMS payloads) weigh KB to a few hundred KB — Gmail clips HTML past
// 102 KB, so senders stay well under it — and every other event is about
// 1 KB. 1 MiB holds the largest plausible one with room to spare; a larger
// authentic body is still answered 200 and published as an oversized stub
// (rejected_events), so a low limit loses nothing, while a high one lets each
// unauthenticated request claim more memory and makes BigQuery rows that
// approach its request limit. Pub/Sub would allow up to 10 MB with the
// attributes (maxPubSubData).
//
// DefaultBodyBudget: 64 max-size bodies at once, well inside the default
// 512 MiB instance (see memoryFits).
const (
	DefaultMaxBodyBytes   = 1 << 20
	DefaultBodyBudget     = 64 << 20
	DefaultInstanceMemory = "512Mi"
	maxPubSubData         = 9_900_000
)

// memoryFits reports whether an instance of memory bytes can hold budget
// bytes of request bodies: each budgeted byte may exist three times at once
// (the body, the Pub/Sub client's request message, its marshalled bytes)
// over a baseline of 64 MiB for the runtime, clients and per-connection
// buffers.
func memoryFits(budget, memory int64) bool { return 64<<20+3*budget <= memory }

// ReceiverVars lists every variable Receiver reads.
func ReceiverVars() []string {
	return []string{EnvSigningKeys, EnvMaxAge, EnvMaxAhead, EnvMaxBodyBytes, EnvBodyBudget, EnvInstanceMemory, EnvProject,
		EnvTopic, EnvPublishTimeout, EnvLogLevel}
}

// ProcessorVars lists every variable Processor reads.
func ProcessorVars() []string {
	return []string{EnvProject, EnvFirestoreDB, EnvLedgerColl, EnvLedgerTTL, EnvLedgerLease, EnvStepTimeout, EnvLedgerTimeout, EnvLedgerMode, EnvDataset,
		EnvTable, EnvRejectedTable, EnvSiteID, EnvTrackAPIKey, EnvRegion, EnvActions, EnvAllowSuppress, EnvDryRun, EnvRateLimit, EnvLogLevel,
		EnvWorkspaceActions}
}

// Receiver configures ReceiveWebhook.
type Receiver struct {
	SigningKeys [][]byte
	// KeyWorkspaces is the workspace of each signing key, by index.
	KeyWorkspaces  []string
	MaxAge         time.Duration
	MaxAhead       time.Duration
	MaxBodyBytes   int64
	BodyBudget     int64 // request-body bytes held at once across requests
	InstanceMemory int64 // bytes; what BodyBudget is checked against
	Project        string
	Topic          string
	PublishTimeout time.Duration
	LogLevel       string
}

// Processor configures ProcessEvent.
type Processor struct {
	Project          string
	FirestoreDB      string
	LedgerCollection string
	LedgerTTL        time.Duration
	LedgerLease      time.Duration
	StepTimeout      time.Duration
	LedgerTimeout    time.Duration
	// RecordEachStep: LEDGER_MODE=strict (see pipeline.Processor).
	RecordEachStep bool
	Dataset        string
	Table          string
	RejectedTable  string
	SiteID         string
	TrackAPIKey    string
	Region         string
	Actions        string
	AllowSuppress  bool
	DryRun         bool
	RateLimit      float64
	LogLevel       string
	WarehouseDir   string // local runs only: NDJSON rows instead of BigQuery
	// WorkspaceCredentials are the Track API credentials of named
	// workspaces; the default workspace's are SiteID and TrackAPIKey.
	WorkspaceCredentials map[string]TrackCredentials
	// WorkspaceActions is the policy text (as CIO_ACTIONS takes it) of named
	// workspaces; a workspace it does not list has Actions.
	WorkspaceActions map[string]string
}

// TrackCredentials are one workspace's Track API credentials.
type TrackCredentials struct {
	SiteID, APIKey, Region string
}

// HasTrackCredentials reports whether Track API calls can be made for real
// in the default workspace.
func (p Processor) HasTrackCredentials() bool { return p.SiteID != "" && p.TrackAPIKey != "" }

// Credentials returns the Track API credentials of workspace name; false
// when it has none.
func (p Processor) Credentials(name string) (TrackCredentials, bool) {
	if name == workspace.Default {
		return TrackCredentials{SiteID: p.SiteID, APIKey: p.TrackAPIKey, Region: p.Region}, p.HasTrackCredentials()
	}
	c, ok := p.WorkspaceCredentials[name]
	return c, ok
}

// Getenv looks a variable up; os.Getenv in production, a map in tests.
type Getenv func(string) string

// reader collects one error per bad variable instead of stopping at the first.
type reader struct {
	get  Getenv
	errs []error
}

func (r *reader) fail(name, format string, args ...any) {
	r.errs = append(r.errs, fmt.Errorf("%s: %s", name, fmt.Sprintf(format, args...)))
}

// CheckSecret refuses a secret whose value is wrapped in quotes, "abc" or
// 'abc': an env file that keeps quotes (docker --env-file does) hands them
// on, and a key taken with its quotes fails every signature or call far from
// the cause. Refused rather than unquoted: a quote can belong to a secret,
// so only the operator can tell, and the fix is one edit. The message names
// the variable, never the value.
func CheckSecret(name, v string) error {
	if q := quotedWith(v); q != "" {
		return fmt.Errorf("%s: %s", name, quotedMsg(q))
	}
	return nil
}

func quotedWith(v string) string {
	v = strings.TrimSpace(v)
	if len(v) >= 2 && (v[0] == '"' || v[0] == '\'') && v[len(v)-1] == v[0] {
		return v[:1]
	}
	return ""
}

func quotedMsg(q string) string {
	return "the value is wrapped in quotes (" + q + "…" + q + "), which would be taken as part of the secret: remove them"
}

// secret reads a secret variable, trimmed, refusing it wrapped in quotes.
func (r *reader) secret(name string) string {
	v := strings.TrimSpace(r.get(name))
	if err := CheckSecret(name, v); err != nil {
		r.errs = append(r.errs, err)
	}
	return v
}

func (r *reader) str(name, def string) string {
	if v := strings.TrimSpace(r.get(name)); v != "" {
		return v
	}
	return def
}

func (r *reader) duration(name string, def, lo, hi time.Duration) time.Duration {
	v := strings.TrimSpace(r.get(name))
	if v == "" {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		r.fail(name, "%q is not a duration such as 192h or 3s", v)
		return def
	}
	if d < lo || d > hi {
		r.fail(name, "%s is outside %s–%s", d, lo, hi)
		return def
	}
	return d
}

func (r *reader) integer(name string, def, lo, hi int64) int64 {
	v := strings.TrimSpace(r.get(name))
	if v == "" {
		return def
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		r.fail(name, "%q is not an integer", v)
		return def
	}
	if n < lo || n > hi {
		r.fail(name, "%d is outside %d–%d", n, lo, hi)
		return def
	}
	return n
}

// memory reads a size as Cloud Run writes it ("512Mi", "2Gi", "1G") or as
// plain bytes.
func (r *reader) memory(name, def string) int64 {
	v := r.str(name, def)
	units := []struct {
		suffix string
		mult   int64
	}{{"Ki", 1 << 10}, {"Mi", 1 << 20}, {"Gi", 1 << 30}, {"k", 1e3}, {"M", 1e6}, {"G", 1e9}}
	num, mult := v, int64(1)
	for _, u := range units {
		if n, ok := strings.CutSuffix(v, u.suffix); ok {
			num, mult = n, u.mult
			break
		}
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n < 0 || n > 32<<30/mult || n*mult < 128<<20 {
		r.fail(name, "%q is not a memory size between 128Mi and 32Gi (such as 512Mi, 1Gi or bytes)", v)
		return 512 << 20
	}
	return n * mult
}

func (r *reader) boolean(name string, def bool) bool {
	v := strings.TrimSpace(r.get(name))
	if v == "" {
		return def
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		r.fail(name, "%q is not true or false", v)
		return def
	}
	return b
}

func (r *reader) logLevel() string {
	v := strings.ToLower(r.str(EnvLogLevel, "info"))
	switch v {
	case "debug", "info", "warn", "error":
	default:
		r.fail(EnvLogLevel, "%q is not one of debug, info, warn, error", v)
		v = "info"
	}
	return v
}

// LoadReceiver reads and validates the receiver's configuration. With no
// signing key it fails: an unverifiable receiver must not serve.
func LoadReceiver(get Getenv) (Receiver, error) {
	if get == nil {
		get = os.Getenv
	}
	r := &reader{get: get}
	c := Receiver{
		MaxAge:         r.duration(EnvMaxAge, 192*time.Hour, time.Minute, 30*24*time.Hour),
		MaxAhead:       r.duration(EnvMaxAhead, time.Hour, time.Second, 24*time.Hour),
		MaxBodyBytes:   r.integer(EnvMaxBodyBytes, DefaultMaxBodyBytes, 1024, maxPubSubData),
		BodyBudget:     r.integer(EnvBodyBudget, DefaultBodyBudget, 1<<20, 64<<30),
		InstanceMemory: r.memory(EnvInstanceMemory, DefaultInstanceMemory),
		Project:        r.str(EnvProject, ""),
		Topic:          r.str(EnvTopic, DefaultTopic),
		PublishTimeout: r.duration(EnvPublishTimeout, 3*time.Second, 100*time.Millisecond, 3500*time.Millisecond),
		LogLevel:       r.logLevel(),
	}
	keys, err := ParseSigningKeys(get(EnvSigningKeys))
	if err != nil {
		r.errs = append(r.errs, err)
	}
	for _, k := range keys {
		c.SigningKeys = append(c.SigningKeys, k.Key)
		c.KeyWorkspaces = append(c.KeyWorkspaces, k.Workspace)
	}
	if c.Project == "" {
		r.fail(EnvProject, "is required (the project that owns the topic)")
	}
	if c.BodyBudget <= c.MaxBodyBytes {
		r.fail(EnvBodyBudget, "%d must exceed %s (%d), or a body at the limit could never be read", c.BodyBudget,
			EnvMaxBodyBytes, c.MaxBodyBytes)
	}
	if !memoryFits(c.BodyBudget, c.InstanceMemory) {
		r.fail(EnvBodyBudget, "%d bytes of bodies need up to 64 MiB + 3 × %d = %d MiB, more than %s (%d MiB)",
			c.BodyBudget, c.BodyBudget, (64<<20+3*c.BodyBudget)>>20, EnvInstanceMemory, c.InstanceMemory>>20)
	}
	return c, errors.Join(r.errs...)
}

// SigningKey is one entry of CIO_WEBHOOK_SIGNING_KEYS.
type SigningKey struct {
	Workspace string // workspace.Default for an unnamed key
	Key       []byte
}

// ParseSigningKeys reads CIO_WEBHOOK_SIGNING_KEYS: comma-separated entries,
// each a key or name=key. The text before an entry's first "=" is its
// workspace name, so a key that itself contains "=" must be written with a
// name (default=<key>). Several keys may share a workspace (rotation); one
// key may not belong to two, since the matched key is what names the
// workspace. Errors name the entry by position, never quote a key.
func ParseSigningKeys(v string) ([]SigningKey, error) {
	if strings.TrimSpace(v) == "" {
		return nil, fmt.Errorf("%s: is required: no signing key, so no request can be verified and the receiver will not serve", EnvSigningKeys)
	}
	if err := CheckSecret(EnvSigningKeys, v); err != nil {
		return nil, err
	}
	var keys []SigningKey
	var errs []error
	fail := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", EnvSigningKeys, fmt.Sprintf(format, args...)))
	}
	owner := map[string]string{}
	for i, entry := range strings.Split(v, ",") {
		entry = strings.TrimSpace(entry)
		if entry == "" {
			fail("key %d is empty (stray comma?)", i+1)
			continue
		}
		if q := quotedWith(entry); q != "" {
			fail("key %d: %s", i+1, quotedMsg(q))
			continue
		}
		k := SigningKey{Workspace: workspace.Default, Key: []byte(entry)}
		if name, key, named := strings.Cut(entry, "="); named {
			name, key = strings.TrimSpace(name), strings.TrimSpace(key)
			q := quotedWith(key)
			switch {
			case !workspace.Valid(name):
				fail("key %d: the text before its first \"=\" is not a workspace name: %s; a key containing \"=\" must be written with its name (default=<key>)", i+1, workspace.Rule)
				continue
			case strings.Trim(key, "=") == "":
				// Not quoting name: "abc==" is a key, not workspace abc.
				fail("key %d is empty or only \"=\" after its name: a key containing \"=\" must be written with its name (default=<key>)", i+1)
				continue
			case q != "":
				fail("key %d (workspace %s): %s", i+1, name, quotedMsg(q))
				continue
			}
			k = SigningKey{Workspace: name, Key: []byte(key)}
		}
		if prev, ok := owner[string(k.Key)]; ok && prev != k.Workspace {
			fail("key %d (workspace %s) is also a key of workspace %s: a request it signs could not be told apart", i+1, k.Workspace, prev)
			continue
		}
		owner[string(k.Key)] = k.Workspace
		keys = append(keys, k)
	}
	return keys, errors.Join(errs...)
}

// LeaseMargin is the processor's lease margin (pipeline.DefaultLeaseMargin):
// how long before its lease ends a holder's call must have stopped.
const LeaseMargin = 5 * time.Second

// LoadProcessor reads and validates the processor's configuration. The action
// policy text is checked by the actions package, which owns its syntax.
func LoadProcessor(get Getenv) (Processor, error) {
	if get == nil {
		get = os.Getenv
	}
	r := &reader{get: get}
	c := Processor{
		Project:          r.str(EnvProject, ""),
		FirestoreDB:      r.str(EnvFirestoreDB, DefaultFirestoreDB),
		LedgerCollection: r.str(EnvLedgerColl, DefaultCollection),
		// Customer.io retries for 7 days, so a ledger entry must outlive that.
		LedgerTTL:     r.duration(EnvLedgerTTL, 14*24*time.Hour, 8*24*time.Hour, 400*24*time.Hour),
		LedgerLease:   r.duration(EnvLedgerLease, 60*time.Second, 5*time.Second, 10*time.Minute),
		StepTimeout:   r.duration(EnvStepTimeout, 20*time.Second, time.Second, 5*time.Minute),
		LedgerTimeout: r.duration(EnvLedgerTimeout, 10*time.Second, time.Second, 5*time.Minute),
		Dataset:       r.str(EnvDataset, DefaultDataset),
		Table:         r.str(EnvTable, DefaultTable),
		RejectedTable: r.str(EnvRejectedTable, DefaultRejected),
		SiteID:        r.secret(EnvSiteID),
		TrackAPIKey:   r.secret(EnvTrackAPIKey),
		Region:        strings.ToLower(r.str(EnvRegion, "us")),
		Actions:       strings.TrimSpace(get(EnvActions)),
		AllowSuppress: r.boolean(EnvAllowSuppress, false),
		DryRun:        r.boolean(EnvDryRun, false),
		LogLevel:      r.logLevel(),
		WarehouseDir:  strings.TrimSpace(get(EnvWarehouseDir)),
	}
	switch mode := r.str(EnvLedgerMode, "lean"); mode {
	case "lean":
	case "strict":
		c.RecordEachStep = true
	default:
		r.fail(EnvLedgerMode, "%q is neither lean nor strict", mode)
	}
	rate := strings.TrimSpace(get(EnvRateLimit))
	c.RateLimit = 10
	if rate != "" {
		f, err := strconv.ParseFloat(rate, 64)
		switch {
		case err != nil:
			r.fail(EnvRateLimit, "%q is not a number of requests per second", rate)
		case f <= 0 || f > 100:
			r.fail(EnvRateLimit, "%g is outside (0, 100] requests per second per instance", f)
		default:
			c.RateLimit = f
		}
	}
	if c.Project == "" {
		r.fail(EnvProject, "is required")
	}
	// One side effect must fit in a lease with room to renew it first and to
	// stop before another delivery may take over (see shared/pipeline).
	if min := c.StepTimeout + c.LedgerTimeout + LeaseMargin; c.LedgerLease < min {
		r.fail(EnvLedgerLease, "%s is too short for %s=%s and %s=%s: it must be at least %s (one step, one ledger call to renew the lease first, and %s to stop in time)",
			c.LedgerLease, EnvStepTimeout, c.StepTimeout, EnvLedgerTimeout, c.LedgerTimeout, min, LeaseMargin)
	}
	if c.Region != "us" && c.Region != "eu" {
		r.fail(EnvRegion, "%q is not us or eu", c.Region)
	}
	if (c.SiteID == "") != (c.TrackAPIKey == "") {
		r.fail(EnvTrackAPIKey, "%s and %s must be set together", EnvSiteID, EnvTrackAPIKey)
	}
	c.WorkspaceCredentials = parseWorkspaceCredentials(r, get(EnvWorkspaceCredentials), c.Region)
	c.WorkspaceActions = parseWorkspaceActions(r, get(EnvWorkspaceActions))
	if !c.DryRun && !c.HasTrackCredentials() && len(c.WorkspaceCredentials) == 0 && c.Actions != "none" {
		r.fail(EnvTrackAPIKey, "no Track API credentials: set %s and %s, or %s=true, or %s=none",
			EnvSiteID, EnvTrackAPIKey, EnvDryRun, EnvActions)
	}
	for _, name := range slices.Sorted(maps.Keys(c.WorkspaceActions)) {
		if _, ok := c.WorkspaceCredentials[name]; !ok && !c.DryRun && c.WorkspaceActions[name] != "none" {
			r.fail(EnvWorkspaceActions, "workspace %s has a policy but no Track API credentials in %s: add them, or make its policy \"none\"",
				name, EnvWorkspaceCredentials)
		}
	}
	for _, t := range []struct{ name, v string }{{EnvDataset, c.Dataset}, {EnvTable, c.Table}, {EnvRejectedTable, c.RejectedTable}} {
		if !bigQueryName(t.v) {
			r.fail(t.name, "%q is not a BigQuery name (letters, digits, underscore)", t.v)
		}
	}
	if strings.ContainsAny(c.LedgerCollection, "/") || c.LedgerCollection == "." || c.LedgerCollection == ".." {
		r.fail(EnvLedgerColl, "%q is not a Firestore collection ID", c.LedgerCollection)
	}
	return c, errors.Join(r.errs...)
}

// parseWorkspaceCredentials reads "name=site_id:api_key[:region],…".
// Errors name the entry by position and never quote it: it holds a key.
func parseWorkspaceCredentials(r *reader, v, defaultRegion string) map[string]TrackCredentials {
	if strings.TrimSpace(v) == "" {
		return nil
	}
	if err := CheckSecret(EnvWorkspaceCredentials, v); err != nil {
		r.errs = append(r.errs, err)
		return nil
	}
	out := map[string]TrackCredentials{}
	for i, entry := range strings.Split(v, ",") {
		name, creds, ok := strings.Cut(strings.TrimSpace(entry), "=")
		name = strings.TrimSpace(name)
		parts := strings.Split(creds, ":")
		for j := range parts {
			parts[j] = strings.TrimSpace(parts[j])
		}
		switch {
		case !ok || len(parts) < 2 || len(parts) > 3 || parts[0] == "" || parts[1] == "":
			r.fail(EnvWorkspaceCredentials, "entry %d is not name=site_id:api_key or name=site_id:api_key:region", i+1)
			continue
		case !workspace.Valid(name):
			r.fail(EnvWorkspaceCredentials, "entry %d: %s", i+1, workspace.Rule)
			continue
		case name == workspace.Default:
			r.fail(EnvWorkspaceCredentials, "entry %d: the %s workspace's credentials are %s and %s", i+1, workspace.Default, EnvSiteID, EnvTrackAPIKey)
			continue
		}
		if _, dup := out[name]; dup {
			r.fail(EnvWorkspaceCredentials, "entry %d: workspace %s is listed twice", i+1, name)
			continue
		}
		if q := quotedWith(parts[0]) + quotedWith(parts[1]); q != "" {
			r.fail(EnvWorkspaceCredentials, "entry %d (workspace %s): %s", i+1, name, quotedMsg(q[:1]))
			continue
		}
		c := TrackCredentials{SiteID: parts[0], APIKey: parts[1], Region: defaultRegion}
		if len(parts) == 3 {
			c.Region = strings.ToLower(parts[2])
		}
		if c.Region != "us" && c.Region != "eu" {
			r.fail(EnvWorkspaceCredentials, "entry %d (workspace %s): region is not us or eu", i+1, name)
			continue
		}
		out[name] = c
	}
	return out
}

// ParseWorkspaceActions reads a CIO_WORKSPACE_ACTIONS value as
// LoadProcessor does, for a command that needs no other processor setting.
func ParseWorkspaceActions(v string) (map[string]string, error) {
	r := &reader{}
	m := parseWorkspaceActions(r, v)
	return m, errors.Join(r.errs...)
}

// parseWorkspaceActions reads a JSON object of workspace name to policy: a
// string (as CIO_ACTIONS takes it) or the policy object itself, returned as
// its JSON text. The actions package checks each policy.
func parseWorkspaceActions(r *reader, v string) map[string]string {
	if strings.TrimSpace(v) == "" {
		return nil
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal([]byte(v), &raw); err != nil || raw == nil {
		r.fail(EnvWorkspaceActions, `is not a JSON object of workspace name to policy, such as {"brand_b": "none"}`)
		return nil
	}
	out := make(map[string]string, len(raw))
	for _, name := range slices.Sorted(maps.Keys(raw)) {
		switch {
		case !workspace.Valid(name):
			r.fail(EnvWorkspaceActions, "%q: %s", name, workspace.Rule)
			continue
		case name == workspace.Default:
			r.fail(EnvWorkspaceActions, "the %s workspace's policy is %s", workspace.Default, EnvActions)
			continue
		}
		var text string
		if err := json.Unmarshal(raw[name], &text); err != nil {
			text = string(raw[name]) // the policy object
		}
		out[name] = strings.TrimSpace(text)
	}
	return out
}

func bigQueryName(s string) bool {
	if s == "" || len(s) > 1024 {
		return false
	}
	for _, c := range s {
		if !(c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}
