package tfcheck_test

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/cioevents/cioevents/internal/testsupport/tfcheck"
)

const deployDoc = "../../../docs/deploy.md"

// buildOnlyRoles are what Cloud Build's deployer needs beyond creating the
// resources: its own build logs (a user-specified build account must be
// able to write them; cloudbuild.yaml logs to Cloud Logging only).
var buildOnlyRoles = []string{"roles/logging.logWriter"}

// referenceBlock is the table of docs/reference.md's "Who runs Terraform".
func referenceBlock(types []string) string {
	roles, _ := tfcheck.DeployerRoles(types)
	users := tfcheck.RoleUsers(types)
	var b strings.Builder
	b.WriteString("| role | for |\n|---|---|\n")
	for _, r := range roles {
		var ts []string
		for _, t := range users[r] {
			ts = append(ts, "`"+t+"`")
		}
		fmt.Fprintf(&b, "| `%s` | %s |\n", r, strings.Join(ts, ", "))
	}
	return b.String()
}

// deployBlock is the first line of the deployer's gcloud loop in docs/deploy.md.
func deployBlock(types []string) string {
	roles, _ := tfcheck.DeployerRoles(types)
	roles = slices.Compact(slices.Sorted(slices.Values(append(roles, buildOnlyRoles...))))
	var b strings.Builder
	line := "for role in"
	for _, r := range roles {
		w := strings.TrimPrefix(r, "roles/")
		if len(line)+1+len(w) > 100 {
			b.WriteString(line + " \\\n")
			line = "   "
		}
		line += " " + w
	}
	b.WriteString(line + "; do\n")
	return b.String()
}

// block returns the text between a file's deployer-roles markers, or
// rewrites it with -update.
func block(t *testing.T, path, want string) string {
	t.Helper()
	return markedBlock(t, path, "deployer-roles", want)
}

// markedBlock returns the text between a file's <name>:begin and <name>:end
// marker lines, or rewrites it with -update.
func markedBlock(t *testing.T, path, name, want string) string {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	marked := regexp.MustCompile(`(?s)(` + name + `:begin[^\n]*\n)(.*?)([^\n]*` + name + `:end)`)
	m := marked.FindSubmatchIndex(raw)
	if m == nil {
		t.Fatalf("%s has no %s:begin/end markers", path, name)
	}
	got := string(raw[m[4]:m[5]])
	if *update && got != want {
		out := string(raw[:m[4]]) + want + string(raw[m[5]:])
		if err := os.WriteFile(path, []byte(out), 0o644); err != nil {
			t.Fatal(err)
		}
		return want
	}
	return got
}

// The deployer's roles are derived from the resource types in terraform/, so
// a new type cannot reach a deploy whose deployer lacks the role to create
// it: every type must be mapped, and the documented lists (the table in
// docs/reference.md, the gcloud loop that sets up Cloud Build's deployer in
// docs/deploy.md) must be the derived ones.
func TestDeployerRolesCoverEveryResourceType(t *testing.T) {
	m, err := tfcheck.Load(moduleDir)
	if err != nil {
		t.Fatal(err)
	}
	types := m.Types()
	_, unmapped := tfcheck.DeployerRoles(types)
	for _, u := range unmapped {
		t.Errorf("terraform/ declares %s, which tfcheck.CreatorRoles does not map: add the role that creates it", u)
	}
	// The map holds only types in use, so it reads as the deployer's reasons.
	for typ := range tfcheck.CreatorRoles {
		if !slices.Contains(types, typ) {
			t.Errorf("tfcheck.CreatorRoles maps %s, which terraform/ does not declare", typ)
		}
	}
	for _, f := range []struct{ path, want string }{
		{accessDoc, referenceBlock(types)},
		{deployDoc, deployBlock(types)},
	} {
		if got := block(t, f.path, f.want); got != f.want {
			t.Errorf("%s: the deployer roles are\n%s\nwant (the derived list; go test -update rewrites it)\n%s", filepath.Base(f.path), got, f.want)
		}
	}
}

func TestUnmappedResourceTypeFails(t *testing.T) {
	dir := copyModule(t)
	writeFile(t, filepath.Join(dir, "extra.tf"), "resource \"google_compute_network\" \"vpc\" {\n  name = \"vpc\"\n}\n")
	m, err := tfcheck.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	roles, unmapped := tfcheck.DeployerRoles(m.Types())
	if !slices.Equal(unmapped, []string{"google_compute_network"}) {
		t.Errorf("unmapped = %v, want [google_compute_network]", unmapped)
	}
	if len(roles) == 0 {
		t.Error("no roles derived for the mapped types")
	}
}

// The operators' grant commands in docs/deploy.md are generated from the
// operator rows of the access table, so a row added for a new command
// reaches the people who grant by hand.
func TestOperatorGrantsFollowTheAccessTable(t *testing.T) {
	m, err := tfcheck.Load(moduleDir)
	if err != nil {
		t.Fatal(err)
	}
	want, err := m.OperatorGrants(rules().Calls)
	if err != nil {
		t.Fatal(err)
	}
	// The grants the issue names must be there: connect's secret version
	// adder and accessor, doctor --cloud's viewers, the state bucket.
	for _, s := range []string{
		"gcloud secrets add-iam-policy-binding cioevents-webhook-signing-keys --member=\"$OPS\" --role=roles/secretmanager.secretVersionAdder",
		"gcloud secrets add-iam-policy-binding cioevents-webhook-signing-keys --member=\"$OPS\" --role=roles/secretmanager.secretAccessor",
		"--role=roles/monitoring.viewer --condition=None",
		"--role=roles/logging.viewer --condition=None",
		"gcloud storage buckets add-iam-policy-binding \"gs://$PROJECT_ID-tfstate\" --member=\"$OPS\" --role=roles/storage.objectViewer",
	} {
		if !strings.Contains(want, s) {
			t.Errorf("the generated grants lack %s:\n%s", s, want)
		}
	}
	if got := markedBlock(t, deployDoc, "operator-grants", want); got != want {
		t.Errorf("%s: the operator grants differ from the access table's operator rows; regenerate with go test ./internal/testsupport/tfcheck -run TestOperatorGrantsFollowTheAccessTable -update\ngot:\n%s\nwant:\n%s", deployDoc, got, want)
	}
}

// An operator row on a resource type without a grant command, or on a
// resource the module does not declare, fails the generator rather than
// printing a command that cannot work.
func TestOperatorGrantsRefuseWhatTheyCannotGrant(t *testing.T) {
	m, err := tfcheck.Load(moduleDir)
	if err != nil {
		t.Fatal(err)
	}
	for on, want := range map[string]string{
		"google_bigquery_table.events":    "no grant command",
		"google_pubsub_topic.nonexistent": "does not declare",
	} {
		calls := []tfcheck.Call{{Grant: tfcheck.Grant{Member: tfcheck.Operator, Role: "roles/bigquery.dataViewer", On: on}, Call: "x"}}
		if _, err := m.OperatorGrants(calls); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("on %s: err = %v, want one containing %q", on, err, want)
		}
	}
}
