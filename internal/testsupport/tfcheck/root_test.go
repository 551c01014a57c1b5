package tfcheck_test

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/cioevents/cioevents/internal/testsupport/tfcheck"
)

// The root (terraform/) passes every variable and output of the module
// through, in files generated from the module; a variable added to the module
// without regenerating them fails here.
func TestRootPassesTheModuleThrough(t *testing.T) {
	module, err := tfcheck.Load(moduleDir)
	if err != nil {
		t.Fatal(err)
	}
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
	root, err := tfcheck.Load(terraformDir)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range tfcheck.RootProblems(root, module) {
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
	module, err := tfcheck.Load(moduleDir)
	if err != nil {
		t.Fatal(err)
	}
	root, err := tfcheck.Load(terraformDir)
	if err != nil {
		t.Fatal(err)
	}
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
resource "google_pubsub_topic" "t" {
  name = var.a
}
`)
	writeFile(t, filepath.Join(root, "main.tf"), `module "cioevents" {
  source = "./modules/cioevents"
  a      = var.b
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
	r, err := tfcheck.Load(root)
	if err != nil {
		t.Fatal(err)
	}
	m, err := tfcheck.Load(mod)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range append(tfcheck.RootProblems(r, m), tfcheck.CheckMoved(r, m)...) {
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
	} {
		if !strings.Contains(all, want) {
			t.Errorf("no problem containing %q; got:\n%s", want, all)
		}
	}
}
