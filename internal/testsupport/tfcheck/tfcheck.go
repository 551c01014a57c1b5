// Package tfcheck checks the Terraform configuration offline. The google
// provider cannot be installed where CI runs, so `terraform validate` is not
// available; this package parses every .tf file with the HCL library and
// enforces the references and the project rules that, when broken, make a
// deployment fail or silently lose messages.
package tfcheck

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"
	"github.com/zclconf/go-cty/cty/function/stdlib"
)

// Rule names, as reported in Problem.Rule.
const (
	RuleReference          = "reference"
	RuleServiceAccount     = "service-account"
	RuleDeadLetter         = "dead-letter"
	RuleDeletionProtection = "deletion-protection"
	RuleSchema             = "schema"
	RuleEnv                = "env"
)

// ErrParse wraps every HCL syntax error Load reports.
var ErrParse = errors.New("tfcheck: parse error")

// Problem is one broken rule.
type Problem struct {
	Rule    string
	Where   string // file:line
	Message string
}

func (p Problem) String() string { return fmt.Sprintf("%s: [%s] %s", p.Where, p.Rule, p.Message) }

// Rules carries what the checks need from outside the Terraform directory.
type Rules struct {
	// Env maps a function entry point to the environment variables its Go
	// code reads; each function must be given all of them.
	Env map[string][]string
	// SchemaDir holds <resource name>.json for every google_bigquery_table
	// that is not a view. Empty means the schema folder of the module.
	SchemaDir string
	// Calls is the documented access table (ReadCallTable): every grant the
	// module makes must be needed by a call, every call's grant made, and
	// every custom role must hold exactly what its calls need. Nil skips the
	// comparison.
	Calls     []Call
	AccessDoc string // where Calls was read from, for messages
	// RolePermissions lists, per predefined role, the permissions it carries
	// (an excerpt of Google's role reference); a call whose role does not
	// carry what it needs is a problem. Nil skips the check.
	RolePermissions map[string][]string
}

// Module is a parsed Terraform root module.
type Module struct {
	Dir string

	blocks    []*hclsyntax.Block // top-level, in file order
	variables map[string]*hclsyntax.Block
	locals    map[string]*hclsyntax.Attribute
	resources map[string]*hclsyntax.Block // "type.name"
	data      map[string]*hclsyntax.Block // "type.name"
	modules   map[string]*hclsyntax.Block
	src       map[string][]byte // file path → contents, for ProviderFree
}

// Load parses every .tf file directly in dir.
func Load(dir string) (*Module, error) {
	paths, err := filepath.Glob(filepath.Join(dir, "*.tf"))
	if err != nil {
		return nil, fmt.Errorf("tfcheck: list %s: %w", dir, err)
	}
	if len(paths) == 0 {
		return nil, fmt.Errorf("tfcheck: no .tf files in %s", dir)
	}
	sort.Strings(paths)
	m := &Module{
		Dir:       dir,
		variables: map[string]*hclsyntax.Block{},
		locals:    map[string]*hclsyntax.Attribute{},
		resources: map[string]*hclsyntax.Block{},
		data:      map[string]*hclsyntax.Block{},
		modules:   map[string]*hclsyntax.Block{},
		src:       map[string][]byte{},
	}
	p := hclparse.NewParser()
	for _, path := range paths {
		f, diags := p.ParseHCLFile(path)
		if f != nil {
			m.src[path] = f.Bytes
		}
		if diags.HasErrors() {
			return nil, fmt.Errorf("%w: %s", ErrParse, diags.Error())
		}
		body, ok := f.Body.(*hclsyntax.Body)
		if !ok {
			return nil, fmt.Errorf("%w: %s is not native HCL syntax", ErrParse, path)
		}
		for _, b := range body.Blocks {
			m.blocks = append(m.blocks, b)
			switch {
			case b.Type == "variable" && len(b.Labels) == 1:
				m.variables[b.Labels[0]] = b
			case b.Type == "locals":
				for name, a := range b.Body.Attributes {
					m.locals[name] = a
				}
			case b.Type == "resource" && len(b.Labels) == 2:
				m.resources[b.Labels[0]+"."+b.Labels[1]] = b
			case b.Type == "data" && len(b.Labels) == 2:
				m.data[b.Labels[0]+"."+b.Labels[1]] = b
			case b.Type == "module" && len(b.Labels) == 1:
				m.modules[b.Labels[0]] = b
			}
		}
	}
	return m, nil
}

// Resources returns the names of the resources of type typ, sorted.
func (m *Module) Resources(typ string) []string {
	var out []string
	for key := range m.resources {
		if t, name, _ := strings.Cut(key, "."); t == typ {
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out
}

// Check runs every rule and returns the problems, in a stable order.
func (m *Module) Check(r Rules) []Problem {
	var ps []Problem
	ps = append(ps, m.checkReferences()...)
	ps = append(ps, m.checkServiceAccounts()...)
	ps = append(ps, m.checkDeadLetters()...)
	ps = append(ps, m.checkTables(r)...)
	ps = append(ps, m.checkEnv(r)...)
	ps = append(ps, m.checkAccess(r)...)
	ps = append(ps, m.checkPushEndpoints()...)
	ps = append(ps, m.checkServiceAgents()...)
	sort.SliceStable(ps, func(i, j int) bool {
		if ps[i].Rule != ps[j].Rule {
			return ps[i].Rule < ps[j].Rule
		}
		return ps[i].Where < ps[j].Where
	})
	return ps
}

func where(rng hcl.Range) string {
	return fmt.Sprintf("%s:%d", filepath.Base(rng.Filename), rng.Start.Line)
}

// --- references --------------------------------------------------------------

// Names that are always in scope in a root module.
var builtinRoots = map[string]bool{
	"path": true, "terraform": true, "count": true, "each": true, "self": true,
}

func (m *Module) checkReferences() []Problem {
	var ps []Problem
	for _, b := range m.blocks {
		if b.Type == "terraform" {
			continue // settings only; nothing there refers to objects
		}
		if b.Type == "moved" {
			// from names an address that no longer exists, by design.
			if to := b.Body.Attributes["to"]; to != nil {
				ps = append(ps, m.walkRefs(&hclsyntax.Body{Attributes: hclsyntax.Attributes{"to": to}}, nil, false)...)
			}
			continue
		}
		ps = append(ps, m.walkRefs(b.Body, nil, b.Type == "variable")...)
	}
	return ps
}

// walkRefs checks every traversal in body; scoped holds the iterator names of
// enclosing dynamic blocks. A variable's type is a type expression, whose
// keywords (string, number, ...) are not references.
func (m *Module) walkRefs(body *hclsyntax.Body, scoped []string, isVariable bool) []Problem {
	var ps []Problem
	for name, a := range body.Attributes {
		if name == "ignore_changes" || (isVariable && name == "type") {
			continue // attribute names of the resource itself, not references
		}
		if name == "provider" && len(scoped) == 0 {
			continue // a provider configuration's name (google-beta), not an object
		}
		for _, t := range a.Expr.Variables() {
			if msg := m.resolve(t, scoped); msg != "" {
				ps = append(ps, Problem{Rule: RuleReference, Where: where(t.SourceRange()), Message: msg})
			}
		}
	}
	for _, b := range body.Blocks {
		inner := scoped
		if b.Type == "dynamic" && len(b.Labels) == 1 {
			it := b.Labels[0]
			if a, ok := b.Body.Attributes["iterator"]; ok {
				if kw := hcl.ExprAsKeyword(a.Expr); kw != "" {
					it = kw
				}
			}
			inner = append(slices.Clone(scoped), it)
		}
		ps = append(ps, m.walkRefs(b.Body, inner, false)...)
	}
	return ps
}

func attrName(t hcl.Traversal, i int) (string, bool) {
	if i >= len(t) {
		return "", false
	}
	a, ok := t[i].(hcl.TraverseAttr)
	return a.Name, ok
}

// resolve returns why t does not resolve, or "".
func (m *Module) resolve(t hcl.Traversal, scoped []string) string {
	root := t.RootName()
	switch {
	case builtinRoots[root] || slices.Contains(scoped, root):
		return ""
	case root == "var":
		if n, ok := attrName(t, 1); !ok || m.variables[n] == nil {
			return fmt.Sprintf("var.%s is not declared", n)
		}
	case root == "local":
		if n, ok := attrName(t, 1); !ok || m.locals[n] == nil {
			return fmt.Sprintf("local.%s is not declared", n)
		}
	case root == "module":
		if n, ok := attrName(t, 1); !ok || m.modules[n] == nil {
			return fmt.Sprintf("module.%s is not declared", n)
		}
	case root == "data":
		typ, ok1 := attrName(t, 1)
		n, ok2 := attrName(t, 2)
		if !ok1 || !ok2 || m.data[typ+"."+n] == nil {
			return fmt.Sprintf("data.%s.%s is not declared", typ, n)
		}
	default:
		n, ok := attrName(t, 1)
		if !ok {
			return fmt.Sprintf("%s is not a known name", root)
		}
		if m.resources[root+"."+n] == nil {
			return fmt.Sprintf("resource %s.%s is not declared", root, n)
		}
	}
	return ""
}

// --- helpers over blocks ------------------------------------------------------

func child(b *hclsyntax.Block, typ string) *hclsyntax.Block {
	if b == nil {
		return nil
	}
	for _, c := range b.Body.Blocks {
		if c.Type == typ {
			return c
		}
	}
	return nil
}

func children(b *hclsyntax.Block, typ string) []*hclsyntax.Block {
	var out []*hclsyntax.Block
	for _, c := range b.Body.Blocks {
		if c.Type == typ {
			out = append(out, c)
		}
	}
	return out
}

func attr(b *hclsyntax.Block, name string) *hclsyntax.Attribute {
	if b == nil {
		return nil
	}
	return b.Body.Attributes[name]
}

// refsTo returns the names of resources of type typ that expr refers to.
func refsTo(expr hcl.Expression, typ string) []string {
	var out []string
	for _, t := range expr.Variables() {
		if t.RootName() != typ {
			continue
		}
		if n, ok := attrName(t, 1); ok {
			out = append(out, n)
		}
	}
	return out
}

// typed returns the resources of type typ as name → block, sorted by name.
func (m *Module) typed(typ string) []named {
	var out []named
	for _, n := range m.Resources(typ) {
		out = append(out, named{n, m.resources[typ+"."+n]})
	}
	return out
}

type named struct {
	name  string
	block *hclsyntax.Block
}

// literal evaluates expr without variables or functions; ok is false for
// anything that is not a constant.
func literal(expr hcl.Expression) (cty.Value, bool) {
	v, diags := expr.Value(nil)
	if diags.HasErrors() || !v.IsWhollyKnown() || v.IsNull() {
		return cty.NilVal, false
	}
	return v, true
}

// --- service accounts -----------------------------------------------------------

const functionType = "google_cloudfunctions2_function"

func (m *Module) checkServiceAccounts() []Problem {
	var ps []Problem
	runtime := map[string][]string{} // service account → functions running as it
	build := map[string][]string{}
	for _, f := range m.typed(functionType) {
		sc := child(f.block, "service_config")
		sas := refsTo(exprOf(attr(sc, "service_account_email")), "google_service_account")
		if len(sas) != 1 {
			ps = append(ps, Problem{RuleServiceAccount, where(f.block.DefRange()),
				fmt.Sprintf("%s.%s: service_config.service_account_email must name its own google_service_account (the default compute account can do far too much)", functionType, f.name)})
		} else {
			runtime[sas[0]] = append(runtime[sas[0]], f.name)
		}
		bc := child(f.block, "build_config")
		bsas := refsTo(exprOf(attr(bc, "service_account")), "google_service_account")
		if len(bsas) != 1 {
			ps = append(ps, Problem{RuleServiceAccount, where(f.block.DefRange()),
				fmt.Sprintf("%s.%s: build_config.service_account must name a dedicated google_service_account (new projects cannot build with the default one)", functionType, f.name)})
		} else {
			build[bsas[0]] = append(build[bsas[0]], f.name)
		}
	}
	for _, sa := range sortedKeys(runtime) {
		fns := runtime[sa]
		at := "?"
		if b := m.resources["google_service_account."+sa]; b != nil {
			at = where(b.DefRange())
		}
		if len(fns) > 1 {
			ps = append(ps, Problem{RuleServiceAccount, at,
				fmt.Sprintf("google_service_account.%s runs several functions (%s); give each function its own", sa, strings.Join(fns, ", "))})
		}
		if b := build[sa]; len(b) > 0 {
			ps = append(ps, Problem{RuleServiceAccount, at,
				fmt.Sprintf("google_service_account.%s is both the runtime account of %s and the build account of %s", sa, strings.Join(fns, ", "), strings.Join(b, ", "))})
		}
	}
	return ps
}

func exprOf(a *hclsyntax.Attribute) hcl.Expression {
	if a == nil {
		return hcl.StaticExpr(cty.NullVal(cty.DynamicPseudoType), hcl.Range{})
	}
	return a.Expr
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// --- Pub/Sub dead-lettering -------------------------------------------------------

func (m *Module) checkDeadLetters() []Problem {
	var ps []Problem
	subs := m.typed("google_pubsub_subscription")
	for _, s := range subs {
		push := child(s.block, "push_config")
		if push == nil {
			continue
		}
		at := where(s.block.DefRange())
		id := "google_pubsub_subscription." + s.name
		if child(push, "oidc_token") == nil {
			ps = append(ps, Problem{RuleDeadLetter, at,
				id + ": push_config has no oidc_token, so the endpoint would have to be public"})
		}
		dlp := child(s.block, "dead_letter_policy")
		if dlp == nil {
			ps = append(ps, Problem{RuleDeadLetter, at,
				id + ": push subscription has no dead_letter_policy, so a poison message is retried until retention drops it"})
			continue
		}
		if a := attr(dlp, "max_delivery_attempts"); a != nil {
			if n, ok := m.number(a.Expr); ok && (n < 5 || n > 100) {
				ps = append(ps, Problem{RuleDeadLetter, where(a.SrcRange),
					fmt.Sprintf("%s: max_delivery_attempts is %g; Pub/Sub accepts 5-100", id, n)})
			}
		}
		topics := refsTo(exprOf(attr(dlp, "dead_letter_topic")), "google_pubsub_topic")
		if len(topics) != 1 {
			ps = append(ps, Problem{RuleDeadLetter, at,
				id + ": dead_letter_policy.dead_letter_topic must reference a google_pubsub_topic of this module"})
			continue
		}
		dlt := topics[0]
		drained := false
		for _, other := range subs {
			if slices.Contains(refsTo(exprOf(attr(other.block, "topic")), "google_pubsub_topic"), dlt) {
				drained = true
			}
		}
		if !drained {
			ps = append(ps, Problem{RuleDeadLetter, at,
				fmt.Sprintf("%s: dead-letter topic google_pubsub_topic.%s has no subscription, so dead letters are dropped", id, dlt)})
		}
		if !m.granted("google_pubsub_topic_iam_member", "topic", "google_pubsub_topic", dlt, "roles/pubsub.publisher") {
			ps = append(ps, Problem{RuleDeadLetter, at,
				fmt.Sprintf("%s: no google_pubsub_topic_iam_member gives roles/pubsub.publisher on google_pubsub_topic.%s (the Pub/Sub service agent needs it, or nothing is ever dead-lettered)", id, dlt)})
		}
		if !m.granted("google_pubsub_subscription_iam_member", "subscription", "google_pubsub_subscription", s.name, "roles/pubsub.subscriber") {
			ps = append(ps, Problem{RuleDeadLetter, at,
				fmt.Sprintf("%s: no google_pubsub_subscription_iam_member gives roles/pubsub.subscriber on it (the Pub/Sub service agent needs it, or nothing is ever dead-lettered)", id)})
		}
	}
	return ps
}

// granted reports whether some iamType resource whose targetAttr refers to
// targetType.target grants role.
func (m *Module) granted(iamType, targetAttr, targetType, target, role string) bool {
	for _, g := range m.typed(iamType) {
		if !slices.Contains(refsTo(exprOf(attr(g.block, targetAttr)), targetType), target) {
			continue
		}
		if v, ok := literal(exprOf(attr(g.block, "role"))); ok && v.Type() == cty.String && v.AsString() == role {
			return true
		}
	}
	return false
}

// number evaluates a constant, or a var.X reference by its default.
func (m *Module) number(expr hcl.Expression) (float64, bool) {
	if v, ok := literal(expr); ok && v.Type() == cty.Number {
		f, _ := v.AsBigFloat().Float64()
		return f, true
	}
	vars := expr.Variables()
	if len(vars) != 1 || vars[0].RootName() != "var" {
		return 0, false
	}
	n, _ := attrName(vars[0], 1)
	if v, ok := m.defaultOf(n); ok && v.Type() == cty.Number {
		f, _ := v.AsBigFloat().Float64()
		return f, true
	}
	return 0, false
}

// defaultOf is variable name's literal default, if it has one.
func (m *Module) defaultOf(name string) (cty.Value, bool) {
	if b := m.variables[name]; b != nil {
		if d := b.Body.Attributes["default"]; d != nil {
			return literal(d.Expr)
		}
	}
	return cty.NilVal, false
}

// --- BigQuery -------------------------------------------------------------------

func (m *Module) checkTables(r Rules) []Problem {
	var ps []Problem
	dir := r.SchemaDir
	if dir == "" {
		dir = filepath.Join(m.Dir, "schema")
	}
	for _, t := range m.typed("google_bigquery_table") {
		id := "google_bigquery_table." + t.name
		at := where(t.block.DefRange())
		dp := attr(t.block, "deletion_protection")
		if v, ok := literal(exprOf(dp)); !ok || !v.RawEquals(cty.True) {
			ps = append(ps, Problem{RuleDeletionProtection, at,
				id + ": deletion_protection must be set to true, so no apply can drop the event history"})
		}
		if child(t.block, "view") != nil || child(t.block, "materialized_view") != nil {
			continue
		}
		ps = append(ps, m.checkSchema(t, filepath.Join(dir, t.name+".json"))...)
	}
	return ps
}

func (m *Module) checkSchema(t named, wantPath string) []Problem {
	id := "google_bigquery_table." + t.name
	at := where(t.block.DefRange())
	fail := func(format string, args ...any) []Problem {
		return []Problem{{RuleSchema, at, id + ": " + fmt.Sprintf(format, args...)}}
	}
	want, err := os.ReadFile(wantPath)
	if err != nil {
		return fail("no schema file to compare with: %v", err)
	}
	a := attr(t.block, "schema")
	if a == nil {
		return fail("has no schema; it must be the one in %s", filepath.Base(wantPath))
	}
	v, diags := a.Expr.Value(m.evalContext())
	if diags.HasErrors() {
		return fail("schema cannot be evaluated offline: %s", diags.Error())
	}
	if v.Type() != cty.String || !v.IsKnown() || v.IsNull() {
		return fail("schema is not a JSON string")
	}
	got := v.AsString()
	if msg := schemaDiff([]byte(got), want); msg != "" {
		return fail("schema differs from %s: %s", filepath.Base(wantPath), msg)
	}
	return nil
}

// evalContext gives schema expressions what they use in practice: path.module,
// variable defaults, and the file/json functions.
func (m *Module) evalContext() *hcl.EvalContext {
	vars := map[string]cty.Value{}
	for name := range m.variables {
		if v, ok := m.defaultOf(name); ok {
			vars[name] = v
		}
	}
	// Terraform runs in the root module, so relative paths and path.module
	// both name this directory.
	dir, err := filepath.Abs(m.Dir)
	if err != nil {
		dir = m.Dir
	}
	file := function.New(&function.Spec{
		Params: []function.Parameter{{Name: "path", Type: cty.String}},
		Type:   function.StaticReturnType(cty.String),
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			p := args[0].AsString()
			if !filepath.IsAbs(p) {
				p = filepath.Join(dir, p)
			}
			b, err := os.ReadFile(p)
			if err != nil {
				return cty.NilVal, err
			}
			return cty.StringVal(string(b)), nil
		},
	})
	return &hcl.EvalContext{
		Variables: map[string]cty.Value{
			"path": cty.ObjectVal(map[string]cty.Value{"module": cty.StringVal(dir), "root": cty.StringVal(dir)}),
			"var":  cty.ObjectVal(vars),
		},
		Functions: map[string]function.Function{
			"file":       file,
			"jsonencode": stdlib.JSONEncodeFunc,
			"jsondecode": stdlib.JSONDecodeFunc,
		},
	}
}

// schemaField is a column as the BigQuery API spells it. Mode defaults to
// NULLABLE and type names have aliases, so both are normalised before
// comparing: the API treats those spellings as the same schema.
type schemaField struct {
	Name        string        `json:"name"`
	Type        string        `json:"type"`
	Mode        string        `json:"mode"`
	Description string        `json:"description"`
	Fields      []schemaField `json:"fields"`
}

var typeAliases = map[string]string{
	"INT64": "INTEGER", "FLOAT64": "FLOAT", "BOOL": "BOOLEAN", "STRUCT": "RECORD",
}

func normalise(fs []schemaField) {
	for i := range fs {
		fs[i].Type = strings.ToUpper(fs[i].Type)
		if a, ok := typeAliases[fs[i].Type]; ok {
			fs[i].Type = a
		}
		fs[i].Mode = strings.ToUpper(fs[i].Mode)
		if fs[i].Mode == "" {
			fs[i].Mode = "NULLABLE"
		}
		normalise(fs[i].Fields)
	}
}

// schemaDiff describes the first difference between two JSON schemas, or "".
func schemaDiff(got, want []byte) string {
	var g, w []schemaField
	if err := json.Unmarshal(got, &g); err != nil {
		return fmt.Sprintf("table schema is not a JSON column list: %v", err)
	}
	if err := json.Unmarshal(want, &w); err != nil {
		return fmt.Sprintf("schema file is not a JSON column list: %v", err)
	}
	normalise(g)
	normalise(w)
	for i := range max(len(g), len(w)) {
		switch {
		case i >= len(g):
			return fmt.Sprintf("column %q is missing", w[i].Name)
		case i >= len(w):
			return fmt.Sprintf("column %q is not in the file", g[i].Name)
		case !reflect.DeepEqual(g[i], w[i]):
			return fmt.Sprintf("column %d is %+v, want %+v", i+1, g[i], w[i])
		}
	}
	return ""
}

// --- function environment ------------------------------------------------------

func (m *Module) checkEnv(r Rules) []Problem {
	var ps []Problem
	for _, f := range m.typed(functionType) {
		id := functionType + "." + f.name
		at := where(f.block.DefRange())
		ep, ok := literal(exprOf(attr(child(f.block, "build_config"), "entry_point")))
		if !ok || ep.Type() != cty.String {
			ps = append(ps, Problem{RuleEnv, at, id + ": build_config.entry_point must be a literal string"})
			continue
		}
		want, ok := r.Env[ep.AsString()]
		if !ok {
			ps = append(ps, Problem{RuleEnv, at, fmt.Sprintf("%s: entry point %q has no list of environment variables to check", id, ep.AsString())})
			continue
		}
		given := map[string]bool{}
		sc := child(f.block, "service_config")
		if sc != nil {
			if a := attr(sc, "environment_variables"); a != nil {
				for _, k := range m.objectKeys(a.Expr, 0) {
					given[k] = true
				}
			}
			for _, s := range children(sc, "secret_environment_variables") {
				if v, ok := literal(exprOf(attr(s, "key"))); ok && v.Type() == cty.String {
					given[v.AsString()] = true
				}
			}
		}
		for _, name := range want {
			if !given[name] {
				ps = append(ps, Problem{RuleEnv, at, fmt.Sprintf("%s (%s) is not given %s, which its Go configuration reads", id, ep.AsString(), name)})
			}
		}
	}
	return ps
}

// objectKeys returns the keys of an object expression, following local
// references and merge() arguments.
func (m *Module) objectKeys(expr hcl.Expression, depth int) []string {
	if depth > 8 {
		return nil
	}
	switch e := expr.(type) {
	case *hclsyntax.ObjectConsExpr:
		var keys []string
		for _, item := range e.Items {
			if k := hcl.ExprAsKeyword(item.KeyExpr); k != "" {
				keys = append(keys, k)
			} else if v, ok := literal(item.KeyExpr); ok && v.Type() == cty.String {
				keys = append(keys, v.AsString())
			}
		}
		return keys
	case *hclsyntax.ScopeTraversalExpr:
		if e.Traversal.RootName() == "local" {
			if n, ok := attrName(e.Traversal, 1); ok && m.locals[n] != nil {
				return m.objectKeys(m.locals[n].Expr, depth+1)
			}
		}
	case *hclsyntax.FunctionCallExpr:
		if e.Name == "merge" {
			var keys []string
			for _, a := range e.Args {
				keys = append(keys, m.objectKeys(a, depth+1)...)
			}
			return keys
		}
	}
	return nil
}
