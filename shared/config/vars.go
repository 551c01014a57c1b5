package config

// Var is one environment variable of the deployed functions. Vars is the one
// list of them: docs/configuration.md is generated from it, and its tests
// hold it to what LoadReceiver and LoadProcessor read and default to.
type Var struct {
	Name string
	// Reader is "receiver", "processor", "both", or "local" (read by the
	// processor in local runs only; Terraform never sets it).
	Reader string
	// Default is the value an unset variable behaves as, written as it would
	// be set; empty when unset means something no value spells (see Unset).
	Default string
	// Unset says what an unset variable means when Default cannot.
	Unset string
	// Secret: Terraform mounts it from Secret Manager.
	Secret bool
	// Doc is one Markdown sentence or two: what it sets, its bounds, why.
	Doc string
}

// Vars lists every variable either function reads, in the order the
// reference shows them: receiver, processor, then the personal-data policy.
func Vars() []Var {
	return []Var{
		{Name: EnvSigningKeys, Reader: "receiver", Unset: "— (required)", Secret: true,
			Doc: "comma-separated signing keys, each `key` (workspace `default`) or `name=key` ([workspaces.md](workspaces.md)); " +
				"several keys allow a rotation without downtime ([http.md](http.md#signatures-and-the-timestamp-policy))"},
		{Name: EnvMaxAge, Reader: "receiver", Default: "192h",
			Doc: "oldest accepted `X-CIO-Timestamp` (1m–720h): Customer.io retries for 7 days, and the ledger (one entry per event identity), not the clock, stops replays"},
		{Name: EnvMaxAhead, Reader: "receiver", Default: "1h", Doc: "furthest-ahead accepted timestamp (1s–24h)"},
		{Name: EnvMaxBodyBytes, Reader: "receiver", Default: "1048576",
			Doc: "larger bodies are published as an `oversized` stub (1 KiB–9.9 MB). Content-bearing `*_sent` events weigh KB " +
				"to a few hundred KB (Gmail clips HTML past 102 KB), the rest ~1 KB: 1 MiB holds the largest plausible event " +
				"twice over, and a larger one is still accepted, as a stub"},
		{Name: EnvBodyBudget, Reader: "receiver", Default: "67108864",
			Doc: "request-body bytes one instance holds at once, authenticated or not; must exceed `CIO_MAX_BODY_BYTES` and " +
				"satisfy 64 MiB + 3 × budget ≤ `CIO_INSTANCE_MEMORY` (body, Pub/Sub request, its encoding)"},
		{Name: EnvInstanceMemory, Reader: "receiver", Default: DefaultInstanceMemory,
			Doc: "the instance's memory (as Cloud Run writes it, or bytes, 128Mi–32Gi), for that check"},
		{Name: EnvPublishTimeout, Reader: "receiver", Default: "3s",
			Doc: "publish budget before answering 503 (100ms–3.5s): Customer.io waits 4 s for an answer"},
		{Name: EnvTopic, Reader: "receiver", Default: DefaultTopic, Doc: "the Pub/Sub topic events are published to"},
		{Name: EnvProject, Reader: "both", Unset: "— (required)", Doc: "the Google Cloud project"},
		{Name: EnvLogLevel, Reader: "both", Default: "info", Doc: "`debug`, `info`, `warn` or `error`"},
		{Name: EnvFirestoreDB, Reader: "processor", Default: DefaultFirestoreDB, Doc: "the Firestore database of the ledger"},
		{Name: EnvLedgerColl, Reader: "processor", Default: DefaultCollection, Doc: "the ledger's collection"},
		{Name: EnvLedgerTTL, Reader: "processor", Default: "336h",
			Doc: "ledger entry lifetime after the event's arrival (192h–9600h): it must outlive Customer.io's 7 days of retries"},
		{Name: EnvLedgerLease, Reader: "processor", Default: "60s",
			Doc: "how long a delivery holds an event after its last write (5s–10m); at least `CIO_STEP_TIMEOUT` + " +
				"`LEDGER_TIMEOUT` + 5s. Terraform sets `2m` (`ledger_lease`, which must exceed the processor timeout)"},
		{Name: EnvStepTimeout, Reader: "processor", Default: "20s",
			Doc: "the longest one BigQuery insert or Track call may take (1s–5m)"},
		{Name: EnvLedgerTimeout, Reader: "processor", Default: "10s",
			Doc: "the longest one Firestore ledger call may take (1s–5m)"},
		{Name: EnvLedgerMode, Reader: "processor", Default: "lean",
			Doc: "`lean`: an event costs the ledger at most two writes; `strict`: one write per step, so a crash repeats only " +
				"the call that was in flight ([how-it-works.md](how-it-works.md#exactly-once))"},
		{Name: EnvDataset, Reader: "processor", Default: DefaultDataset, Doc: "the BigQuery dataset"},
		{Name: EnvTable, Reader: "processor", Default: DefaultTable, Doc: "one row per event ([schema.md](schema.md))"},
		{Name: EnvRejectedTable, Reader: "processor", Default: DefaultRejected, Doc: "what could not become a row"},
		{Name: EnvSiteID, Reader: "processor", Unset: "—", Secret: true,
			Doc: "the `default` workspace's Track API site ID; set together with `CIO_TRACK_API_KEY`"},
		{Name: EnvTrackAPIKey, Reader: "processor", Unset: "—", Secret: true,
			Doc: "the `default` workspace's Track API key. Without any Track credentials the processor starts only with " +
				"`CIO_ACTIONS_DRY_RUN=true` or `CIO_ACTIONS=none`"},
		{Name: EnvRegion, Reader: "processor", Default: "us", Doc: "`us` or `eu`: the Track API host"},
		{Name: EnvActions, Reader: "processor", Unset: "the default policy",
			Doc: "a JSON action policy, or `none` ([actions.md](actions.md))"},
		{Name: EnvAllowSuppress, Reader: "processor", Default: "false",
			Doc: "required for a policy with `suppress`, which deletes the person in Customer.io"},
		{Name: EnvDryRun, Reader: "processor", Default: "false",
			Doc: "log the calls (person hashed, values redacted) instead of making them"},
		{Name: EnvRateLimit, Reader: "processor", Default: "10",
			Doc: "Track API requests per second per instance (0–100], per workspace's credentials"},
		{Name: EnvWorkspaceCredentials, Reader: "processor", Unset: "—", Secret: true,
			Doc: "named workspaces' Track credentials, `name=site_id:api_key[:region],…`; mounted only with Terraform's " +
				"`workspaces` ([workspaces.md](workspaces.md))"},
		{Name: EnvWorkspaceActions, Reader: "processor", Unset: "`{}`",
			Doc: "named workspaces' policies, a JSON object of name to policy as `CIO_ACTIONS` takes it"},
		{Name: EnvPII, Reader: "processor", Default: "content=drop,headers=drop",
			Doc: "per field `keep`, `hash` or `drop` (and `strip-query` for `href`), applied to the columns and the raw JSON " +
				"before anything is written ([privacy.md](privacy.md)); read by `dev`, `backfill` and `forget` too"},
		{Name: EnvPIIKey, Reader: "processor", Unset: "—", Secret: true,
			Doc: "the HMAC key (≥ 16 bytes) of `hash` fields; a policy that hashes stops the processor at start-up without it"},
		{Name: EnvWarehouseDir, Reader: "local", Unset: "— (BigQuery)",
			Doc: "write rows as NDJSON files in this directory instead of BigQuery: local runs only (`cioevents serve`), " +
				"never set by Terraform"},
	}
}

// The personal-data policy's variables, read by shared/privacy (which names
// them too; a test holds the two equal). Listed here so the one reference
// shows every variable the processor reads.
const (
	EnvPII    = "CIO_PII"
	EnvPIIKey = "CIO_PII_KEY"
)
