package tfcheck_test

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cioevents/cioevents/functions/processor"
	"github.com/cioevents/cioevents/functions/receiver"
	"github.com/cioevents/cioevents/internal/testsupport/tfcheck"
	"github.com/cioevents/cioevents/shared/config"
)

// terraformDir is the repository's Terraform root configuration, the one
// `terraform apply` uses: backend, providers, env/ and the module call.
const terraformDir = "../../../terraform"

// moduleDir is the module that declares every resource; the root calls it.
const moduleDir = terraformDir + "/modules/cioevents"

// accessDoc holds the operators' access table, the list every IAM grant
// must be on.
const accessDoc = "../../../docs/reference.md"

// roleExcerpt holds, per predefined role the access table uses, the
// permissions Google's role reference lists for it that the table relies on.
const roleExcerpt = "testdata/roles.json"

// rules ties the check to the Go side (the registered entry point names and
// the variables each function's configuration reads), to the documented
// access table and to the role excerpt.
func rules() tfcheck.Rules {
	f, err := os.Open(accessDoc)
	if err != nil {
		panic(err)
	}
	defer f.Close()
	calls, err := tfcheck.ReadCallTable(f, "docs/reference.md")
	if err != nil {
		panic(err)
	}
	raw, err := os.ReadFile(roleExcerpt)
	if err != nil {
		panic(err)
	}
	var excerpt map[string]any
	if err := json.Unmarshal(raw, &excerpt); err != nil {
		panic(err)
	}
	roles := map[string][]string{}
	for role, perms := range excerpt {
		list, ok := perms.([]any)
		if !ok {
			continue // "_source"
		}
		for _, p := range list {
			roles[role] = append(roles[role], p.(string))
		}
	}
	return tfcheck.Rules{
		Env: map[string][]string{
			receiver.Name:  config.ReceiverVars(),
			processor.Name: config.ProcessorVars(),
		},
		Calls:           calls,
		AccessDoc:       "docs/reference.md",
		RolePermissions: roles,
	}
}

func TestRepositoryConfigurationPasses(t *testing.T) {
	m, err := tfcheck.Load(moduleDir)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range m.Check(rules()) {
		t.Error(p)
	}
	// A check over nothing passes too; make sure the rules had something to
	// bite on.
	for typ, want := range map[string]int{
		"google_cloudfunctions2_function": 2,
		"google_bigquery_table":           6, // views.tf: the reporting views, one for_each resource; deliveries.tf: deliveries; names.tf: message_names
		"google_pubsub_subscription":      2,
		"google_service_account":          7, // backfill.tf, probe.tf: created only when enabled; deliveries.tf: the MERGE's
	} {
		if got := len(m.Resources(typ)); got != want {
			t.Errorf("%d resources of type %s, want %d: %v", got, typ, want, m.Resources(typ))
		}
	}
}

// edit replaces old with new in one file of the copied module. old must occur
// exactly times times, so a test cannot go stale by editing nothing.
type edit struct {
	file, old, new string
	times          int
}

func TestBrokenConfigurationFails(t *testing.T) {
	tests := []struct {
		name  string
		edits []edit
		rule  string
		want  string // substring of the expected problem's message
	}{
		{
			name:  "undeclared variable",
			edits: []edit{{"functions.tf", "var.receiver_max_instances", "var.receiver_max_instance", 1}},
			rule:  tfcheck.RuleReference, want: "var.receiver_max_instance is not declared",
		},
		{
			name:  "undeclared local",
			edits: []edit{{"functions.tf", "runtime         = local.go_runtime\n    entry_point     = \"ProcessEvent\"", "runtime         = local.go_rutime\n    entry_point     = \"ProcessEvent\"", 1}},
			rule:  tfcheck.RuleReference, want: "local.go_rutime is not declared",
		},
		{
			name:  "undeclared resource",
			edits: []edit{{"pubsub.tf", "dead_letter_topic     = google_pubsub_topic.dead_letter.id", "dead_letter_topic     = google_pubsub_topic.dead_leter.id", 1}},
			rule:  tfcheck.RuleReference, want: "resource google_pubsub_topic.dead_leter is not declared",
		},
		{
			name:  "undeclared data source",
			edits: []edit{{"functions.tf", "data.archive_file.source.output_md5", "data.archive_file.src.output_md5", 1}},
			rule:  tfcheck.RuleReference, want: "data.archive_file.src is not declared",
		},
		{
			name:  "bare unknown name",
			edits: []edit{{"functions.tf", "timeout_seconds = 30", "timeout_seconds = thirty", 1}},
			rule:  tfcheck.RuleReference, want: "thirty is not a known name",
		},
		{
			name: "push subscription without dead-letter policy",
			edits: []edit{{"pubsub.tf", `  dead_letter_policy {
    dead_letter_topic     = google_pubsub_topic.dead_letter.id
    max_delivery_attempts = var.max_delivery_attempts
  }
`, "", 1}},
			rule: tfcheck.RuleDeadLetter, want: "push subscription has no dead_letter_policy",
		},
		{
			name:  "delivery attempts below Pub/Sub's minimum",
			edits: []edit{{"pubsub.tf", "max_delivery_attempts = var.max_delivery_attempts", "max_delivery_attempts = 3", 1}},
			rule:  tfcheck.RuleDeadLetter, want: "max_delivery_attempts is 3",
		},
		{
			name:  "delivery attempts default above Pub/Sub's maximum",
			edits: []edit{{"variables.tf", "default     = 10\n\n  validation {\n    condition     = var.max_delivery_attempts", "default     = 101\n\n  validation {\n    condition     = var.max_delivery_attempts", 1}},
			rule:  tfcheck.RuleDeadLetter, want: "max_delivery_attempts is 101",
		},
		{
			name:  "dead-letter topic nobody reads",
			edits: []edit{{"pubsub.tf", "name    = \"${var.name_prefix}-events-dead-letter\"\n  topic   = google_pubsub_topic.dead_letter.id", "name    = \"${var.name_prefix}-events-dead-letter\"\n  topic   = google_pubsub_topic.events.id", 1}},
			rule:  tfcheck.RuleDeadLetter, want: "has no subscription, so dead letters are dropped",
		},
		{
			name:  "service agent cannot publish dead letters",
			edits: []edit{{"iam.tf", "topic   = google_pubsub_topic.dead_letter.name", "topic   = google_pubsub_topic.events.name", 1}},
			rule:  tfcheck.RuleDeadLetter, want: "gives roles/pubsub.publisher on google_pubsub_topic.dead_letter",
		},
		{
			name:  "service agent cannot forward from the subscription",
			edits: []edit{{"iam.tf", `role         = "roles/pubsub.subscriber"`, `role         = "roles/pubsub.viewer"`, 1}},
			rule:  tfcheck.RuleDeadLetter, want: "gives roles/pubsub.subscriber",
		},
		{
			name: "push without OIDC token",
			edits: []edit{{"pubsub.tf", `    oidc_token {
      service_account_email = google_service_account.push_invoker.email
      audience              = google_cloudfunctions2_function.processor.service_config[0].uri
    }
`, "", 1}},
			rule: tfcheck.RuleDeadLetter, want: "push_config has no oidc_token",
		},
		{
			name:  "table without deletion protection",
			edits: []edit{{"bigquery.tf", "  clustering = [\"object_type\", \"metric\", \"customer_id\"]\n\n  deletion_protection = true\n", "  clustering = [\"object_type\", \"metric\", \"customer_id\"]\n", 1}},
			rule:  tfcheck.RuleDeletionProtection, want: "google_bigquery_table.events: deletion_protection",
		},
		{
			name:  "view with deletion protection off",
			edits: []edit{{"bigquery.tf", "    })\n  }\n\n  deletion_protection = true", "    })\n  }\n\n  deletion_protection = false", 1}},
			rule:  tfcheck.RuleDeletionProtection, want: "google_bigquery_table.events_deduped: deletion_protection",
		},
		{
			name:  "table points at the other table's schema",
			edits: []edit{{"bigquery.tf", `schema = file("${path.module}/schema/events.json")`, `schema = file("${path.module}/schema/rejected_events.json")`, 1}},
			rule:  tfcheck.RuleSchema, want: "google_bigquery_table.events: schema differs from events.json",
		},
		{
			name:  "inline schema missing a column",
			edits: []edit{{"bigquery.tf", `schema = file("${path.module}/schema/rejected_events.json")`, `schema = jsonencode([for c in jsondecode(file("${path.module}/schema/rejected_events.json")) : c if c.name != "reason"])`, 1}},
			rule:  tfcheck.RuleSchema, want: "google_bigquery_table.rejected_events: schema differs from rejected_events.json",
		},
		{
			name:  "table without schema",
			edits: []edit{{"bigquery.tf", "  schema = file(\"${path.module}/schema/events.json\")\n", "", 1}},
			rule:  tfcheck.RuleSchema, want: "google_bigquery_table.events: has no schema",
		},
		{
			name:  "two functions share a service account",
			edits: []edit{{"functions.tf", "service_account_email = google_service_account.processor.email", "service_account_email = google_service_account.receiver.email", 1}},
			rule:  tfcheck.RuleServiceAccount, want: "runs several functions (processor, receiver)",
		},
		{
			name:  "function on the default service account",
			edits: []edit{{"functions.tf", "    service_account_email = google_service_account.receiver.email\n", "", 1}},
			rule:  tfcheck.RuleServiceAccount, want: "google_cloudfunctions2_function.receiver: service_config.service_account_email",
		},
		{
			name:  "function built by its runtime account",
			edits: []edit{{"functions.tf", "service_account = google_service_account.build.id\n\n    source {\n      storage_source {\n        bucket = google_storage_bucket.source.name\n        object = google_storage_bucket_object.source.name\n      }\n    }\n  }\n\n  service_config {\n    service_account_email = google_service_account.processor.email", "service_account = google_service_account.processor.id\n\n    source {\n      storage_source {\n        bucket = google_storage_bucket.source.name\n        object = google_storage_bucket_object.source.name\n      }\n    }\n  }\n\n  service_config {\n    service_account_email = google_service_account.processor.email", 1}},
			rule:  tfcheck.RuleServiceAccount, want: "is both the runtime account of processor and the build account of processor",
		},
		{
			name:  "processor not given a plain variable",
			edits: []edit{{"functions.tf", "      LEDGER_TTL                 = var.ledger_ttl\n", "", 1}},
			rule:  tfcheck.RuleEnv, want: "processor (ProcessEvent) is not given LEDGER_TTL",
		},
		{
			name:  "receiver not given its secret",
			edits: []edit{{"functions.tf", `key        = "CIO_WEBHOOK_SIGNING_KEYS"`, `key        = "CIO_WEBHOOK_SIGNING_KEY"`, 1}},
			rule:  tfcheck.RuleEnv, want: "receiver (ReceiveWebhook) is not given CIO_WEBHOOK_SIGNING_KEYS",
		},
		{
			name: "processor may edit the whole dataset",
			edits: []edit{{"iam.tf", `resource "google_bigquery_table_iam_member" "processor_inserts_events" {
  project    = var.project_id
  dataset_id = google_bigquery_dataset.events.dataset_id
  table_id   = google_bigquery_table.events.table_id
  role       = google_project_iam_custom_role.row_inserter.name`, `resource "google_bigquery_dataset_iam_member" "processor_inserts_events" {
  project    = var.project_id
  dataset_id = google_bigquery_dataset.events.dataset_id
  role       = "roles/bigquery.dataEditor"`, 1}, {"functions.tf", "google_bigquery_table_iam_member.processor_inserts_events", "google_bigquery_dataset_iam_member.processor_inserts_events", 1}},
			rule: tfcheck.RuleAccess, want: "grant not in the documented access table (docs/reference.md): processor | roles/bigquery.dataEditor | google_bigquery_dataset.events",
		},
		{
			name:  "processor's table role widened to dataEditor",
			edits: []edit{{"iam.tf", "  table_id   = google_bigquery_table.rejected_events.table_id\n  role       = google_project_iam_custom_role.row_inserter.name", "  table_id   = google_bigquery_table.rejected_events.table_id\n  role       = \"roles/bigquery.dataEditor\"", 1}},
			rule:  tfcheck.RuleAccess, want: "processor | roles/bigquery.dataEditor | google_bigquery_table.rejected_events",
		},
		{
			name:  "custom role given a read permission",
			edits: []edit{{"iam.tf", `permissions = ["bigquery.tables.get", "bigquery.tables.updateData"]`, `permissions = ["bigquery.tables.get", "bigquery.tables.getData", "bigquery.tables.updateData"]`, 1}},
			rule:  tfcheck.RuleAccess, want: "row_inserter has permissions [bigquery.tables.get bigquery.tables.getData bigquery.tables.updateData], but the calls in docs/reference.md it is granted for need [bigquery.tables.get bigquery.tables.updateData]",
		},
		{
			name:  "insertAll's table permission left out of the custom role",
			edits: []edit{{"iam.tf", `permissions = ["bigquery.tables.get", "bigquery.tables.updateData"]`, `permissions = ["bigquery.tables.updateData"]`, 1}},
			rule:  tfcheck.RuleAccess, want: "row_inserter has permissions [bigquery.tables.updateData], but the calls",
		},
		{
			name: "insertAll's dataset permission not granted to the processor",
			edits: []edit{{"iam.tf", `resource "google_bigquery_dataset_iam_member" "processor_looks_up_dataset" {
  project    = var.project_id
  dataset_id = google_bigquery_dataset.events.dataset_id
  role       = google_project_iam_custom_role.dataset_lookup.name
  member     = google_service_account.processor.member
}`, "", 1}, {"functions.tf", "    google_bigquery_dataset_iam_member.processor_looks_up_dataset,\n", "", 1}},
			rule: tfcheck.RuleAccess, want: "documented grant that the configuration does not make: processor | google_project_iam_custom_role.dataset_lookup | google_bigquery_dataset.events",
		},
		{
			name: "grant to the Pub/Sub service agent before it exists",
			edits: []edit{{"iam.tf", `  role               = "roles/iam.serviceAccountTokenCreator"
  member             = local.pubsub_service_agent

  depends_on = [google_project_service_identity.pubsub]`, `  role               = "roles/iam.serviceAccountTokenCreator"
  member             = local.pubsub_service_agent`, 1}},
			rule: tfcheck.RuleServiceAgent, want: "google_service_account_iam_member.pubsub_mints_push_tokens grants to the service agent local.pubsub_service_agent without depends_on",
		},
		{
			name: "ledger grant loses its condition",
			edits: []edit{{"iam.tf", `
  condition {
    title       = "cioevents ledger database only"
    description = "Limits the grant to the database named by var.firestore_database."
    expression  = "resource.name == \"projects/${var.project_id}/databases/${var.firestore_database}\""
  }
`, "", 1}},
			rule: tfcheck.RuleAccess, want: "processor | roles/datastore.user | project | condition=false",
		},
		{
			name: "documented grant removed from the configuration",
			edits: []edit{{"iam.tf", `resource "google_secret_manager_secret_iam_member" "processor_reads_api_key" {
  project   = var.project_id
  secret_id = google_secret_manager_secret.track_api_key.secret_id
  role      = "roles/secretmanager.secretAccessor"
  member    = google_service_account.processor.member
}`, "", 1}, {"functions.tf", "    google_secret_manager_secret_iam_member.processor_reads_api_key,\n", "", 1}},
			rule: tfcheck.RuleAccess, want: "documented grant that the configuration does not make: processor | roles/secretmanager.secretAccessor | google_secret_manager_secret.track_api_key",
		},
		{
			name: "authoritative binding",
			edits: []edit{{"iam.tf", `resource "google_pubsub_topic_iam_member" "receiver_publishes" {
  project = var.project_id
  topic   = google_pubsub_topic.events.name
  role    = "roles/pubsub.publisher"
  member  = google_service_account.receiver.member`, `resource "google_pubsub_topic_iam_binding" "receiver_publishes" {
  project = var.project_id
  topic   = google_pubsub_topic.events.name
  role    = "roles/pubsub.publisher"
  members = [google_service_account.receiver.member]`, 1}, {"functions.tf", "google_pubsub_topic_iam_member.receiver_publishes", "google_pubsub_topic_iam_binding.receiver_publishes", 1}},
			rule: tfcheck.RuleAccess, want: "google_pubsub_topic_iam_binding.receiver_publishes: authoritative IAM",
		},
		{
			name:  "push to the bare function URL",
			edits: []edit{{"pubsub.tf", `push_endpoint = "${google_cloudfunctions2_function.processor.service_config[0].uri}/projects/${var.project_id}/topics/${google_pubsub_topic.events.name}"`, `push_endpoint = google_cloudfunctions2_function.processor.service_config[0].uri`, 1}},
			rule:  tfcheck.RulePushEndpoint, want: "push_endpoint is {google_cloudfunctions2_function.processor.service_config[0].uri}; it must be",
		},
		{
			name:  "push path naming another topic",
			edits: []edit{{"pubsub.tf", `topics/${google_pubsub_topic.events.name}"`, `topics/${google_pubsub_topic.dead_letter.name}"`, 1}},
			rule:  tfcheck.RulePushEndpoint, want: "push_endpoint names topic dead_letter, but the subscription reads [events]",
		},
		{
			name:  "push path without the project",
			edits: []edit{{"pubsub.tf", `uri}/projects/${var.project_id}/topics/`, `uri}/topics/`, 1}},
			rule:  tfcheck.RulePushEndpoint, want: "it must be",
		},
		{
			name:  "entry point the checker has no list for",
			edits: []edit{{"functions.tf", `entry_point     = "ReceiveWebhook"`, `entry_point     = "Receive"`, 1}},
			rule:  tfcheck.RuleEnv, want: `entry point "Receive" has no list`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := copyModule(t)
			for _, e := range tt.edits {
				applyEdit(t, dir, e)
			}
			m, err := tfcheck.Load(dir)
			if err != nil {
				t.Fatal(err)
			}
			ps := m.Check(rules())
			for _, p := range ps {
				if p.Rule == tt.rule && strings.Contains(p.Message, tt.want) {
					return
				}
			}
			t.Errorf("no [%s] problem containing %q; got:", tt.rule, tt.want)
			for _, p := range ps {
				t.Log(p)
			}
		})
	}
}

func TestLocalsAndMergeCountAsEnvironment(t *testing.T) {
	dir := copyModule(t)
	// Move the processor's variables into a local and merge it, as a later
	// refactor might; the check must still see every key.
	applyEdit(t, dir, edit{"functions.tf", "    environment_variables = {\n      GOOGLE_CLOUD_PROJECT       = var.project_id\n", "    environment_variables = merge(local.processor_project_env, {\n", 1})
	applyEdit(t, dir, edit{"functions.tf", "      LOG_LEVEL                  = var.log_level\n    }\n", "      LOG_LEVEL                  = var.log_level\n    })\n", 1})
	applyEdit(t, dir, edit{"functions.tf", "locals {\n  # go.mod", "locals {\n  processor_project_env = { GOOGLE_CLOUD_PROJECT = var.project_id }\n  # go.mod", 1})
	m, err := tfcheck.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range m.Check(rules()) {
		if p.Rule == tfcheck.RuleEnv || p.Rule == tfcheck.RuleReference {
			t.Error(p)
		}
	}
}

func TestDynamicBlockIteratorIsInScope(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "main.tf"), `
variable "rules" {
  type    = list(number)
  default = [30]
}

resource "google_storage_bucket" "b" {
  name = "b"
  dynamic "lifecycle_rule" {
    for_each = var.rules
    iterator = r
    content {
      condition {
        age = r.value
      }
    }
  }
  labels = { for k, v in { a = 1 } : k => tostring(v) }
}
`)
	m, err := tfcheck.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	// A module with no grants: the access table does not apply.
	r := rules()
	r.Calls = nil
	for _, p := range m.Check(r) {
		t.Error(p)
	}
}

func TestLoadRejectsInvalidSyntax(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "main.tf"), "resource \"x\" \"y\" {\n  a = \n}\n")
	if _, err := tfcheck.Load(dir); !errors.Is(err, tfcheck.ErrParse) {
		t.Fatalf("Load = %v, want ErrParse", err)
	}
}

func TestLoadRejectsEmptyDirectory(t *testing.T) {
	if _, err := tfcheck.Load(t.TempDir()); err == nil {
		t.Fatal("Load of a directory without .tf files succeeded")
	}
}

// copyModule copies the .tf files and the schema folder of the repository's
// Terraform module into a temporary directory.
func copyModule(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for _, pattern := range []string{"*.tf", "schema/*.json"} {
		paths, err := filepath.Glob(filepath.Join(moduleDir, pattern))
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range paths {
			b, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			rel, err := filepath.Rel(moduleDir, p)
			if err != nil {
				t.Fatal(err)
			}
			writeFile(t, filepath.Join(dir, rel), string(b))
		}
	}
	return dir
}

func applyEdit(t *testing.T, dir string, e edit) {
	t.Helper()
	path := filepath.Join(dir, e.file)
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(b), e.old); n != e.times {
		t.Fatalf("%s: %q occurs %d times, want %d; the test no longer matches the configuration", e.file, e.old, n, e.times)
	}
	writeFile(t, path, strings.Replace(string(b), e.old, e.new, -1))
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// A row is held against its role: a predefined role must carry what the row
// says it needs (per the excerpt of Google's reference), and an operator row
// must name something the module declares.
func TestAccessRowsAreHeldAgainstTheirRoles(t *testing.T) {
	m, err := tfcheck.Load(moduleDir)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		change func(c *tfcheck.Call) bool // reports whether it changed c
		want   string
	}{
		{"permission the role lacks", func(c *tfcheck.Call) bool {
			if c.Member != "backfill" || c.Role != "roles/bigquery.jobUser" {
				return false
			}
			c.Needs = append(c.Needs, "bigquery.tables.delete")
			return true
		}, "roles/bigquery.jobUser does not carry bigquery.tables.delete"},
		{"role missing from the excerpt", func(c *tfcheck.Call) bool {
			if c.Member != tfcheck.Operator || c.Role != "roles/bigquery.jobUser" {
				return false
			}
			c.Role = "roles/bigquery.user"
			return true
		}, "roles/bigquery.user is not in the role excerpt"},
		{"operator grant on something undeclared", func(c *tfcheck.Call) bool {
			if c.Member != tfcheck.Operator || c.On != "google_pubsub_topic.events" {
				return false
			}
			c.On = "google_pubsub_topic.other"
			return true
		}, "operator grant on google_pubsub_topic.other"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := rules()
			changed := 0
			for i := range r.Calls {
				if tt.change(&r.Calls[i]) {
					changed++
				}
			}
			if changed != 1 {
				t.Fatalf("changed %d rows, want 1; the test no longer matches the table", changed)
			}
			for _, p := range m.Check(r) {
				if p.Rule == tfcheck.RuleAccess && strings.Contains(p.Message, tt.want) {
					return
				}
			}
			t.Errorf("no [access] problem containing %q", tt.want)
		})
	}
}
