package tfcheck_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/cioevents/cioevents/internal/testsupport/tfcheck"
	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
)

// load parses each of dirs as a module, failing the test on an error.
func load(t *testing.T, dirs ...string) []*tfcheck.Module {
	t.Helper()
	out := make([]*tfcheck.Module, len(dirs))
	for i, d := range dirs {
		m, err := tfcheck.Load(d)
		if err != nil {
			t.Fatal(err)
		}
		out[i] = m
	}
	return out
}

// The root (terraform/) passes every variable and output of the module
// through, in files generated from the module; a variable added to the module
// without regenerating them fails here.
func TestRootPassesTheModuleThrough(t *testing.T) {
	module := load(t, moduleDir)[0]
	files, err := module.RootFiles()
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range slices.Sorted(func(yield func(string) bool) {
		for n := range files {
			if !yield(n) {
				return
			}
		}
	}) {
		path := filepath.Join(terraformDir, name)
		got, err := os.ReadFile(path)
		if err != nil && !*update {
			t.Fatal(err)
		}
		if bytes.Equal(got, files[name]) {
			continue
		}
		if *update {
			if err := os.WriteFile(path, files[name], 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		t.Errorf("terraform/%s differs from what the module generates; regenerate with: %s", name, tfcheck.RootRegen)
	}
	root := load(t, terraformDir)[0]
	for _, p := range append(tfcheck.RootProblems(root, module), tfcheck.CheckModuleCall(root, module, tfcheck.RootModuleName)...) {
		t.Error(p)
	}
	// Something to bite on: the root passes every variable on.
	if n := strings.Count(string(files["main.tf"]), "= var."); n < 60 {
		t.Errorf("the module call passes %d variables, want every one (more than 60)", n)
	}
}

// moved.tf takes a state from before the module across with no destroy: each
// block names a resource the module declares, and every resource the module
// declared at the move has one.
func TestRootMovesTheStateIntoTheModule(t *testing.T) {
	ms := load(t, moduleDir, terraformDir)
	module, root := ms[0], ms[1]
	for _, p := range tfcheck.CheckMoved(root, module) {
		t.Error(p)
	}
	// 80 resources were declared in terraform/ when they moved; a block
	// lost in an edit would leave its resource to be destroyed and created.
	if n := len(root.MovedBlocks()); n != 80 {
		t.Errorf("moved.tf has %d moved blocks, want the 80 resources terraform/ declared before the module", n)
	}
}

// The checks bite: a resource in the root, a provider or backend in the
// module, a moved block to the wrong place and a missing pass-through are
// each reported.
func TestRootProblemsAreReported(t *testing.T) {
	root := t.TempDir()
	mod := filepath.Join(root, "modules", "cioevents")
	writeFile(t, filepath.Join(mod, "main.tf"), `terraform {
  backend "gcs" {}
}
provider "google" {}
variable "a" {
  type = string
}
variable "required" {
  type = string
}
output "o" {
  value = 1
}
resource "google_pubsub_topic" "t" {
  name = var.a
}
`)
	writeFile(t, filepath.Join(root, "main.tf"), `module "cioevents" {
  source = "./modules/cioevents"
  a      = var.b
  zzz    = 1
}
output "p" {
  value = module.cioevents.p
}
resource "google_pubsub_topic" "u" {
  name = "u"
}
moved {
  from = google_pubsub_topic.t
  to   = module.cioevents.google_pubsub_topic.other
}
moved {
  from = google_pubsub_topic.u
  to   = module.cioevents.google_pubsub_topic.u
}
`)
	ms := load(t, root, mod)
	r, m := ms[0], ms[1]
	var got []string
	for _, p := range slices.Concat(tfcheck.RootProblems(r, m), tfcheck.CheckMoved(r, m), tfcheck.CheckModuleCall(r, m, "cioevents")) {
		got = append(got, p.String())
	}
	all := strings.Join(got, "\n")
	for _, want := range []string{
		"var.b is not declared",
		"the root declares google_pubsub_topic.u",
		"the module configures a provider",
		"the module has a backend block",
		"want module.cioevents.google_pubsub_topic.t",
		"moved to module.cioevents.google_pubsub_topic.u, which the module does not declare",
		"module.cioevents sets zzz, which the module does not declare",
		"module.cioevents does not set required, which has no default",
		"module.cioevents.p is not an output of the module",
	} {
		if !strings.Contains(all, want) {
			t.Errorf("no problem containing %q; got:\n%s", want, all)
		}
	}
}

// exampleDir calls the module from another configuration, with its own
// providers, as a platform team's estate would.
const exampleDir = terraformDir + "/examples/existing_estate"

// The example's module call is one terraform init would take: its source
// finds the module, every argument is a module variable, every required one
// is given and every output it reads exists.
func TestModuleExampleCallsTheModule(t *testing.T) {
	ms := load(t, moduleDir, exampleDir)
	module, ex := ms[0], ms[1]
	for _, p := range tfcheck.CheckModuleCall(ex, module, tfcheck.RootModuleName) {
		t.Error(p)
	}
	src, err := os.ReadFile(filepath.Join(exampleDir, "main.tf"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(src), `source = "../../modules/cioevents"`) {
		t.Errorf("the example does not call ../../modules/cioevents")
	}
	if _, err := os.Stat(filepath.Join(exampleDir, "../../modules/cioevents/versions.tf")); err != nil {
		t.Error(err)
	}
}

// The values the example passes obey the module's validation rules, as
// terraform plans them without a provider (.ci/terraform-checks runs this
// with the other variable rules).
func TestVariableRulesAcceptTheModuleExample(t *testing.T) {
	bin := terraformBin(t)
	ms := load(t, moduleDir, exampleDir)
	module, ex := ms[0], ms[1]
	vals, err := ex.CallValues(tfcheck.RootModuleName, map[string]cty.Value{"project_id": cty.StringVal("my-example-project")})
	if err != nil {
		t.Fatal(err)
	}
	if len(vals) < 5 {
		t.Fatalf("the example passes %d values; the check lost track of its module call", len(vals))
	}
	diags, err := tfcheck.PlanWith(context.Background(), bin, module, vals, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range diags {
		t.Errorf("the module refuses the example's values: %s", d)
	}
	// And it would refuse a bad one: the check can fail.
	vals["name_prefix"] = cty.StringVal("Bad_Prefix")
	diags, err = tfcheck.PlanWith(context.Background(), bin, module, vals, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if len(diags) == 0 {
		t.Error("a name_prefix the rules refuse was accepted")
	}
}

// stateAddress is a resource address as the docs hand it to terraform
// (-target=, state rm): in the root's state every resource is in the module.
var stateAddress = regexp.MustCompile(`(?:-target=|-replace=|state rm\s+|state show\s+)((?:module\.[a-z0-9_]+\.)?[a-z0-9_]+\.[a-z0-9_]+(?:\s+(?:module\.[a-z0-9_]+\.)?google_[a-z0-9_]+\.[a-z0-9_]+)*)`)

// The addresses the docs tell an operator to type name resources of the
// module as the root's state holds them (module.cioevents.<type>.<name>).
func TestDocsNameStateAddressesInTheModule(t *testing.T) {
	module := load(t, moduleDir)[0]
	docs, err := filepath.Glob("../../../docs/*.md")
	if err != nil {
		t.Fatal(err)
	}
	seen := 0
	for _, doc := range append(docs, "../../../README.md") {
		b, err := os.ReadFile(doc)
		if err != nil {
			t.Fatal(err)
		}
		text := strings.ReplaceAll(string(b), "`", " ")
		for _, m := range stateAddress.FindAllStringSubmatch(text, -1) {
			for _, addr := range strings.Fields(m[1]) {
				seen++
				name, ok := strings.CutPrefix(addr, "module."+tfcheck.RootModuleName+".")
				if !ok {
					t.Errorf("%s: %s is not an address of the root's state; want module.%s.%s", filepath.Base(doc), addr, tfcheck.RootModuleName, addr)
					continue
				}
				typ, n, _ := strings.Cut(name, ".")
				if !slices.Contains(module.Resources(typ), n) {
					t.Errorf("%s: %s: the module declares no %s", filepath.Base(doc), addr, name)
				}
			}
		}
	}
	if seen < 6 {
		t.Errorf("found %d state addresses in the docs; the check lost track of them", seen)
	}
}

// The committed Terraform tests (run by hand where the providers can be
// installed, never by CI) must not reach a real API: each mocks every
// provider the configuration uses and configures no real one.
func TestTerraformTestsUseOnlyMockProviders(t *testing.T) {
	var files []string
	err := filepath.WalkDir(terraformDir, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && d.Name() == ".terraform" {
			return filepath.SkipDir
		}
		if strings.HasSuffix(path, ".tftest.hcl") {
			files = append(files, path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 3 {
		t.Fatalf("found %d .tftest.hcl files, want the root's, the module's and the example's", len(files))
	}
	for _, f := range files {
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		file, diags := hclsyntax.ParseConfig(src, f, hcl.InitialPos)
		if diags.HasErrors() {
			t.Fatal(diags)
		}
		mocked := map[string]bool{}
		for _, b := range file.Body.(*hclsyntax.Body).Blocks {
			switch b.Type {
			case "mock_provider":
				mocked[b.Labels[0]] = true
			case "provider":
				t.Errorf("%s configures a real provider %q", f, b.Labels[0])
			}
		}
		for _, p := range []string{"google", "google-beta", "archive"} {
			if !mocked[p] {
				t.Errorf("%s does not mock the %s provider", f, p)
			}
		}
	}
}
