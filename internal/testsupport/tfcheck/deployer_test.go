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

var marked = regexp.MustCompile(`(?s)(deployer-roles:begin[^\n]*\n)(.*?)([^\n]*deployer-roles:end)`)

// block returns the text between a file's deployer-roles markers, or
// rewrites it with -update.
func block(t *testing.T, path, want string) string {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	m := marked.FindSubmatchIndex(raw)
	if m == nil {
		t.Fatalf("%s has no deployer-roles:begin/end markers", path)
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
