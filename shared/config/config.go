// Package config reads the functions' configuration from the environment and
// validates all of it at start, reporting one line per bad value, so a
// misconfigured deployment fails before it serves instead of at the first
// event.
package config

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
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

// EnvWarehouseDir is for running the processor locally (`cioevents serve`):
// rows go to NDJSON files in this directory instead of BigQuery. Terraform
// never sets it, so it is listed in LocalVars, not ProcessorVars.
const EnvWarehouseDir = "CIOEVENTS_WAREHOUSE_DIR"

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
		EnvTable, EnvRejectedTable, EnvSiteID, EnvTrackAPIKey, EnvRegion, EnvActions, EnvAllowSuppress, EnvDryRun, EnvRateLimit, EnvLogLevel}
}

// Receiver configures ReceiveWebhook.
type Receiver struct {
	SigningKeys    [][]byte
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
}

// HasTrackCredentials reports whether Track API calls can be made for real.
func (p Processor) HasTrackCredentials() bool { return p.SiteID != "" && p.TrackAPIKey != "" }

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
		SigningKeys:    parseKeys(r, get(EnvSigningKeys)),
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

func parseKeys(r *reader, v string) [][]byte {
	if strings.TrimSpace(v) == "" {
		r.fail(EnvSigningKeys, "is required: no signing key, so no request can be verified and the receiver will not serve")
		return nil
	}
	var keys [][]byte
	for i, k := range strings.Split(v, ",") {
		k = strings.TrimSpace(k)
		if k == "" {
			r.fail(EnvSigningKeys, "key %d is empty (stray comma?)", i+1)
			continue
		}
		keys = append(keys, []byte(k))
	}
	return keys
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
		SiteID:        strings.TrimSpace(get(EnvSiteID)),
		TrackAPIKey:   strings.TrimSpace(get(EnvTrackAPIKey)),
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
	if !c.DryRun && !c.HasTrackCredentials() && c.Actions != "none" {
		r.fail(EnvTrackAPIKey, "no Track API credentials: set %s and %s, or %s=true, or %s=none",
			EnvSiteID, EnvTrackAPIKey, EnvDryRun, EnvActions)
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
