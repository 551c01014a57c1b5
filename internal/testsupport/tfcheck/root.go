package tfcheck

import (
	"bytes"
	"fmt"
	"path/filepath"
	"slices"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/hashicorp/hcl/v2/hclwrite"
)

// The repository's root configuration (terraform/) holds no resources: it
// configures the backend and the providers and calls the module
// (terraform/modules/cioevents) with every variable, and shows every output.
// Those pass-through files are generated from the module, so a variable added
// to the module reaches `terraform apply` and env/<name>.tfvars, and the two
// cannot drift. The module keeps the validation rules; the root declares each
// variable with the module's description, type and default only.

// RootModuleName is the label of the root's module block: every address in
// the module is module.<RootModuleName>.<address> in the root's state.
const RootModuleName = "cioevents"

// RootModuleSource is where the root finds the module, relative to terraform/.
const RootModuleSource = "./modules/cioevents"

// RootRegen is the command that rewrites the generated root files.
const RootRegen = "go test ./internal/testsupport/tfcheck -run TestRootPassesTheModuleThrough -update"

// The attributes of a variable or output the root copies; validation blocks
// stay in the module.
var (
	rootVariableAttrs = []string{"description", "type", "default", "sensitive", "nullable", "ephemeral"}
	rootOutputAttrs   = []string{"description", "sensitive", "ephemeral"}
)

// RootFiles returns the generated files of the root configuration, by file
// name: main.tf (the module call), main_variables.tf and main_outputs.tf.
// (Not variables.tf and outputs.tf: those names are the module's, and a
// branch from before the move that edits them merges into the module.)
func (m *Module) RootFiles() (map[string][]byte, error) {
	header := "# Generated from the module (modules/cioevents) by\n#   " + RootRegen + "\n# Do not edit: change the module and regenerate.\n"
	var vars, call, outs bytes.Buffer
	vars.WriteString(header + "# Validation rules live in the module, which reports them with the same messages.\n")
	call.WriteString(header + `# The configuration that ` + "`terraform apply`" + ` uses (cloudbuild.yaml, docs/deploy.md):
# versions.tf holds the backend and the provider blocks, main_variables.tf and
# main_outputs.tf pass the module's through, moved.tf takes a state from
# before the module across, and every resource lives in the module.

module "` + RootModuleName + `" {
  source = "` + RootModuleSource + `"

`)
	outs.WriteString(header)
	for _, b := range m.blocks {
		switch {
		case b.Type == "variable" && len(b.Labels) == 1:
			name := b.Labels[0]
			fmt.Fprintf(&vars, "\nvariable %q {\n", name)
			if err := m.copyAttrs(&vars, b, rootVariableAttrs); err != nil {
				return nil, err
			}
			vars.WriteString("}\n")
			fmt.Fprintf(&call, "  %s = var.%s\n", name, name)
		case b.Type == "output" && len(b.Labels) == 1:
			name := b.Labels[0]
			fmt.Fprintf(&outs, "\noutput %q {\n", name)
			if err := m.copyAttrs(&outs, b, rootOutputAttrs); err != nil {
				return nil, err
			}
			fmt.Fprintf(&outs, "  value = module.%s.%s\n}\n", RootModuleName, name)
		}
	}
	call.WriteString("}\n")
	out := map[string][]byte{}
	for name, buf := range map[string]*bytes.Buffer{"main_variables.tf": &vars, "main.tf": &call, "main_outputs.tf": &outs} {
		src := buf.Bytes()
		if _, diags := hclwrite.ParseConfig(src, name, hcl.InitialPos); diags.HasErrors() {
			return nil, fmt.Errorf("tfcheck: generated %s does not parse: %s", name, diags.Error())
		}
		out[name] = hclwrite.Format(src)
	}
	return out, nil
}

// copyAttrs writes the named attributes of b, as written in the module.
func (m *Module) copyAttrs(w *bytes.Buffer, b *hclsyntax.Block, names []string) error {
	for _, n := range names {
		a := b.Body.Attributes[n]
		if a == nil {
			continue
		}
		src, ok := m.src[a.Expr.Range().Filename]
		if !ok {
			return fmt.Errorf("tfcheck: no source for %s", a.Expr.Range().Filename)
		}
		fmt.Fprintf(w, "  %s = %s\n", n, a.Expr.Range().SliceBytes(src))
	}
	return nil
}

// Moved is one moved block: a state address before and after.
type Moved struct {
	From, To string
	Where    string
}

// MovedBlocks returns the moved blocks of the module, in file order.
func (m *Module) MovedBlocks() []Moved {
	var out []Moved
	for _, b := range m.blocks {
		if b.Type != "moved" {
			continue
		}
		mv := Moved{Where: where(b.DefRange())}
		for name, p := range map[string]*string{"from": &mv.From, "to": &mv.To} {
			if a := b.Body.Attributes[name]; a != nil {
				if t, diags := hcl.AbsTraversalForExpr(a.Expr); !diags.HasErrors() {
					*p = traversalString(t)
				}
			}
		}
		out = append(out, mv)
	}
	return out
}

// CheckMoved holds root's moved blocks to what a state from before the
// module needs: each takes a resource of the root to the same resource in
// module.<RootModuleName>, which the module declares, once; the root itself
// declares no resource that a moved block would take away.
func CheckMoved(root, module *Module) []Problem {
	var ps []Problem
	seen := map[string]bool{}
	for _, mv := range root.MovedBlocks() {
		want := "module." + RootModuleName + "." + mv.From
		switch {
		case mv.From == "" || mv.To == "":
			ps = append(ps, Problem{RuleReference, mv.Where, "moved block without a from and a to address"})
		case mv.To != want:
			ps = append(ps, Problem{RuleReference, mv.Where, fmt.Sprintf("moved from %s to %s, want %s (the same resource in the module)", mv.From, mv.To, want)})
		case module.resources[mv.From] == nil:
			ps = append(ps, Problem{RuleReference, mv.Where, fmt.Sprintf("moved to %s, which the module does not declare", mv.To)})
		case root.resources[mv.From] != nil:
			ps = append(ps, Problem{RuleReference, mv.Where, fmt.Sprintf("moved from %s, which the root still declares", mv.From)})
		case seen[mv.From]:
			ps = append(ps, Problem{RuleReference, mv.Where, fmt.Sprintf("%s is moved twice", mv.From)})
		}
		seen[mv.From] = true
	}
	return ps
}

// RootProblems checks that root is a thin root: no resources or data sources
// of its own, one module block calling the module, and the module has no
// backend or provider configuration.
func RootProblems(root, module *Module) []Problem {
	ps := root.checkReferences()
	for _, key := range sortedKeys(root.resources) {
		ps = append(ps, Problem{RuleReference, where(root.resources[key].DefRange()), fmt.Sprintf("the root declares %s; resources belong in the module (%s)", key, RootModuleSource)})
	}
	for _, key := range sortedKeys(root.data) {
		ps = append(ps, Problem{RuleReference, where(root.data[key].DefRange()), fmt.Sprintf("the root declares data.%s; data sources belong in the module (%s)", key, RootModuleSource)})
	}
	if names := sortedKeys(root.modules); !slices.Equal(names, []string{RootModuleName}) {
		ps = append(ps, Problem{RuleReference, filepath.Base(root.Dir), fmt.Sprintf("the root calls modules %v, want exactly %q", names, RootModuleName)})
	}
	for _, b := range module.blocks {
		switch {
		case b.Type == "provider":
			ps = append(ps, Problem{RuleReference, where(b.DefRange()), "the module configures a provider; the calling configuration does"})
		case b.Type == "terraform":
			for _, c := range b.Body.Blocks {
				if c.Type == "backend" || c.Type == "cloud" {
					ps = append(ps, Problem{RuleReference, where(c.DefRange()), "the module has a " + c.Type + " block; the calling configuration does"})
				}
			}
		}
	}
	return ps
}
