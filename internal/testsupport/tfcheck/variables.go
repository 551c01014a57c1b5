package tfcheck

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"
	"github.com/zclconf/go-cty/cty/function/stdlib"
	ctyjson "github.com/zclconf/go-cty/cty/json"
)

// Rule names of the offline evaluation, as reported in Problem.Rule.
const (
	RuleValidation = "validation"
	RuleOffline    = "offline-eval"
)

// Case is one entry of a variable table: values planned on top of the base,
// which Terraform must accept, or refuse with Error.
type Case struct {
	Name   string
	Where  string // file:line in the table
	Vars   cty.Value
	Refuse bool
	Error  string // for a refusal: text the refusing rule's message contains
}

// Table is a set of variable cases, read from one or more files:
//
//	base = { project_id = "my-project-id" }  # the variables without a default
//	accept "name" { vars = { ... } }
//	refuse "name" {
//	  vars  = { ... }
//	  error = "text of the rule's error_message"
//	}
//
// Values are HCL expressions with a few functions (range, join, format,
// upper, lower), so a 1025-character name need not be written out.
type Table struct {
	Base  map[string]cty.Value
	Cases []Case
}

var tableFuncs = map[string]function.Function{
	"range":  stdlib.RangeFunc,
	"join":   stdlib.JoinFunc,
	"format": stdlib.FormatFunc,
	"upper":  stdlib.UpperFunc,
	"lower":  stdlib.LowerFunc,
}

var tableSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{{Name: "base"}},
	Blocks: []hcl.BlockHeaderSchema{
		{Type: "accept", LabelNames: []string{"name"}},
		{Type: "refuse", LabelNames: []string{"name"}},
	},
}

// LoadTable reads and merges the table files at paths.
func LoadTable(paths ...string) (*Table, error) {
	t := &Table{Base: map[string]cty.Value{}}
	ctx := &hcl.EvalContext{Functions: tableFuncs}
	for _, path := range paths {
		src, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("tfcheck: read table: %w", err)
		}
		f, diags := hclsyntax.ParseConfig(src, path, hcl.InitialPos)
		if diags.HasErrors() {
			return nil, fmt.Errorf("%w: %s", ErrParse, diags.Error())
		}
		content, diags := f.Body.Content(tableSchema)
		if diags.HasErrors() {
			return nil, fmt.Errorf("%w: %s", ErrParse, diags.Error())
		}
		if a := content.Attributes["base"]; a != nil {
			v, diags := a.Expr.Value(ctx)
			if diags.HasErrors() || !v.Type().IsObjectType() {
				return nil, fmt.Errorf("%w: %s: base must be an object: %s", ErrParse, path, diags.Error())
			}
			for k, val := range v.AsValueMap() {
				t.Base[k] = val
			}
		}
		for _, b := range content.Blocks {
			c := Case{Name: b.Labels[0], Where: where(b.DefRange), Refuse: b.Type == "refuse"}
			want := []hcl.AttributeSchema{{Name: "vars", Required: true}}
			if c.Refuse {
				want = append(want, hcl.AttributeSchema{Name: "error", Required: true})
			}
			bc, diags := b.Body.Content(&hcl.BodySchema{Attributes: want})
			if diags.HasErrors() {
				return nil, fmt.Errorf("%w: %s", ErrParse, diags.Error())
			}
			c.Vars, diags = bc.Attributes["vars"].Expr.Value(ctx)
			if diags.HasErrors() || !c.Vars.Type().IsObjectType() || c.Vars.LengthInt() == 0 {
				return nil, fmt.Errorf("%w: %s %q: vars must be a non-empty object %s", ErrParse, c.Where, c.Name, diags.Error())
			}
			if c.Refuse {
				v, diags := bc.Attributes["error"].Expr.Value(ctx)
				if diags.HasErrors() || v.Type() != cty.String || v.AsString() == "" {
					return nil, fmt.Errorf("%w: %s %q: error must be a non-empty string", ErrParse, c.Where, c.Name)
				}
				c.Error = v.AsString()
			}
			t.Cases = append(t.Cases, c)
		}
	}
	return t, nil
}

// prepare writes the provider-free copy of m and the base variables into
// scratch.
func prepare(bin string, m *Module, base map[string]cty.Value, scratch string) (Terraform, string, error) {
	dir := filepath.Join(scratch, "module")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return Terraform{}, "", fmt.Errorf("tfcheck: %w", err)
	}
	if err := m.ProviderFree(dir); err != nil {
		return Terraform{}, "", err
	}
	file := filepath.Join(scratch, "base.tfvars.json")
	if err := writeVars(file, base); err != nil {
		return Terraform{}, "", err
	}
	return Terraform{Bin: bin, Dir: dir}, file, nil
}

// writeVars writes vars as a .tfvars.json file.
func writeVars(path string, vars map[string]cty.Value) error {
	obj := cty.EmptyObjectVal
	if len(vars) > 0 {
		obj = cty.ObjectVal(vars)
	}
	b, err := ctyjson.Marshal(obj, obj.Type())
	if err != nil {
		return fmt.Errorf("tfcheck: encode variables: %w", err)
	}
	return os.WriteFile(path, b, 0o644)
}

// CheckVariables evaluates every validation rule of m without a provider: it
// plans a provider-free copy with the defaults (plus the table's base, which
// must supply exactly the variables without a default), with each of
// varFiles, and with every case of the table. A default, a var file or an
// accepted case that is refused, a refused case that is accepted or refused
// for another reason, and a validation rule with no case that trips it, or a
// validated variable with no accepted case, are problems. scratch is an empty
// directory the check may write to.
func CheckVariables(ctx context.Context, bin string, m *Module, t *Table, varFiles []string, scratch string) []Problem {
	var ps []Problem
	add := func(where, format string, args ...any) {
		ps = append(ps, Problem{Rule: RuleValidation, Where: where, Message: fmt.Sprintf(format, args...)})
	}
	for _, name := range m.Required() {
		if _, ok := t.Base[name]; !ok {
			add("table", "variable %s has no default, so the table's base must give it a value", name)
		}
	}
	for _, name := range sortedKeys(t.Base) {
		if b := m.variables[name]; b == nil {
			add("table", "base sets %s, which is not a declared variable", name)
		} else if attr(b, "default") != nil {
			add("table", "base sets %s, which has a default; the base supplies only required variables, so that defaults are what is checked", name)
		}
	}

	tf, base, err := prepare(bin, m, t.Base, scratch)
	if err != nil {
		add("scratch", "%v", err)
		return ps
	}

	type outcome struct {
		diags []Diagnostic
		err   error
	}
	type run struct {
		label string
		files []string
		c     *Case
	}
	runs := []run{{label: "the defaults", files: []string{base}}}
	for _, f := range varFiles {
		runs = append(runs, run{label: filepath.Base(f), files: []string{base, f}})
	}
	for i := range t.Cases {
		c := &t.Cases[i]
		path := filepath.Join(scratch, fmt.Sprintf("case%03d.tfvars.json", i))
		vars := c.Vars.AsValueMap()
		for name := range vars {
			if m.variables[name] == nil {
				add(c.Where, "%q sets %s, which is not a declared variable", c.Name, name)
			}
		}
		if err := writeVars(path, vars); err != nil {
			add(c.Where, "%v", err)
			continue
		}
		runs = append(runs, run{label: c.Name, files: []string{base, path}, c: c})
	}

	// Each plan is a separate process; two at a time keeps a shared 2-core
	// machine responsive.
	results := make([]outcome, len(runs))
	sem := make(chan struct{}, 2)
	var wg sync.WaitGroup
	for i, r := range runs {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			d, err := tf.Plan(ctx, r.files...)
			results[i] = outcome{d, err}
		}()
	}
	wg.Wait()

	tripped := map[string]bool{} // validation Where → some case refused by it
	accepted := map[string]bool{}
	for i, r := range runs {
		res := results[i]
		if res.err != nil {
			add("terraform", "%s: %v", r.label, res.err)
			continue
		}
		if r.c == nil || !r.c.Refuse {
			where := "table"
			if r.c != nil {
				where = r.c.Where
				if len(res.diags) == 0 {
					for name := range r.c.Vars.AsValueMap() {
						accepted[name] = true
					}
				}
			}
			for _, d := range res.diags {
				add(where, "%s: refused: %s", r.label, d)
			}
			continue
		}
		c := r.c
		switch {
		case len(res.diags) == 0:
			add(c.Where, "%q: accepted, want refused with %q", c.Name, c.Error)
		case len(res.diags) > 1:
			add(c.Where, "%q: %d errors, want exactly one (%q); got: %v", c.Name, len(res.diags), c.Error, res.diags)
		case res.diags[0].Summary != "Invalid value for variable" || res.diags[0].Rule() == "":
			add(c.Where, "%q: refused, but not by a validation rule: %s", c.Name, res.diags[0])
		case !strings.Contains(res.diags[0].Detail, c.Error):
			add(c.Where, "%q: refused with %q, want a message containing %q", c.Name, res.diags[0].Detail, c.Error)
		default:
			tripped[res.diags[0].Rule()] = true
		}
	}

	for _, v := range m.Validations() {
		if !tripped[v.Where] {
			add(v.Where, "the rule of variable %s (%s) has no refuse case in the table that it refuses", v.Variable, v.Message)
		}
	}
	validated := map[string]bool{}
	for _, v := range m.Validations() {
		validated[v.Variable] = true
	}
	for _, name := range sortedKeys(validated) {
		if !accepted[name] {
			add("table", "variable %s has validation rules but no accept case that sets it", name)
		}
	}
	sort.SliceStable(ps, func(i, j int) bool { return ps[i].Where < ps[j].Where })
	return ps
}

// CheckExpressions evaluates every provider-free local and expression of m
// (Module.OfflineExpressions) with `terraform console`, once with the
// defaults and once with each of varFiles; base supplies the required
// variables as in CheckVariables. An expression Terraform refuses is a
// problem. scratch is an empty directory the check may write to.
func CheckExpressions(ctx context.Context, bin string, m *Module, base map[string]cty.Value, varFiles []string, scratch string) []Problem {
	var ps []Problem
	add := func(where, format string, args ...any) {
		ps = append(ps, Problem{Rule: RuleOffline, Where: where, Message: fmt.Sprintf(format, args...)})
	}
	tf, baseFile, err := prepare(bin, m, base, scratch)
	if err != nil {
		add("scratch", "%v", err)
		return ps
	}
	exprs := m.OfflineExpressions()
	if len(exprs) == 0 {
		return ps
	}
	// One console call per variable set evaluates all of them as one object;
	// only when that fails is each evaluated alone, to name the culprit.
	var all strings.Builder
	all.WriteString("jsonencode({")
	for i, e := range exprs {
		fmt.Fprintf(&all, "e%d = (%s), ", i, e.Source)
	}
	all.WriteString("})")
	sets := [][]string{{baseFile}}
	for _, f := range varFiles {
		sets = append(sets, []string{baseFile, f})
	}
	for _, files := range sets {
		label := "the defaults"
		if len(files) > 1 {
			label = filepath.Base(files[1])
		}
		_, refused, err := tf.Console(ctx, all.String(), files...)
		if err != nil {
			add("terraform", "%s: %v", label, err)
			continue
		}
		if refused == "" {
			continue
		}
		found := false
		for _, e := range exprs {
			_, why, err := tf.Console(ctx, e.Source, files...)
			if err != nil {
				add("terraform", "%s: %v", label, err)
				break
			}
			if why != "" {
				found = true
				add(e.Where, "with %s, terraform console refuses %s: %s", label, e.Source, why)
			}
		}
		if !found {
			add("terraform", "with %s, terraform console refuses the combined expressions: %s", label, refused)
		}
	}
	return ps
}
