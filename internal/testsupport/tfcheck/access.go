package tfcheck

import (
	"bufio"
	"fmt"
	"io"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
)

// Rule names of the access and push checks, as reported in Problem.Rule.
const (
	RuleAccess       = "access"
	RulePushEndpoint = "push-endpoint"
)

// Grant is one IAM grant: Member holds Role on On.
type Grant struct {
	// Member is the google_service_account's name (receiver), a literal
	// principal (allUsers), or the local that names one
	// (local.pubsub_service_agent).
	Member string
	// Role is a predefined role (roles/pubsub.publisher) or a custom role's
	// address (google_project_iam_custom_role.row_inserter).
	Role string
	// On is the address of the resource granted on, or "project".
	On        string
	Condition bool // narrowed by an IAM condition
	// Permissions of a custom role, sorted; nil for a predefined role.
	Permissions []string
	Where       string
}

func (g Grant) key() string {
	return fmt.Sprintf("%s | %s | %s | condition=%v | %s", g.Member, g.Role, g.On, g.Condition, strings.Join(g.Permissions, ","))
}

func (g Grant) String() string { return g.key() }

// Attributes that name the resource an IAM member resource grants on, most
// specific first (a table grant also names its dataset).
var targetAttrs = []string{"table_id", "topic", "subscription", "secret_id", "service_account_id", "name", "dataset_id", "bucket", "repository"}

// Grants returns every IAM grant of the module, expanding for_each over a
// literal set of roles. Authoritative bindings and policies are reported as
// problems by Check and left out here.
func (m *Module) Grants() []Grant {
	var out []Grant
	for key, b := range m.resources {
		typ, _, _ := strings.Cut(key, ".")
		if !strings.HasSuffix(typ, "_iam_member") {
			continue
		}
		g := Grant{Where: where(b.DefRange()), Member: m.member(exprOf(attr(b, "member"))), Condition: child(b, "condition") != nil}
		if typ == "google_project_iam_member" {
			g.On = "project"
		} else {
			for _, name := range targetAttrs {
				if a := attr(b, name); a != nil {
					if refs := resourceRefs(a.Expr); len(refs) > 0 {
						g.On = refs[0]
						break
					}
				}
			}
		}
		for _, role := range m.roles(b) {
			g := g
			g.Role = role
			if custom, ok := strings.CutPrefix(role, customPrefix); ok {
				g.Permissions = m.permissions(custom)
			}
			out = append(out, g)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].key() < out[j].key() })
	return out
}

// member names the principal of a member expression.
func (m *Module) member(expr hcl.Expression) string {
	if v, ok := literal(expr); ok && v.Type() == cty.String {
		return v.AsString()
	}
	if sas := refsTo(expr, "google_service_account"); len(sas) == 1 {
		return sas[0]
	}
	for _, t := range expr.Variables() {
		if t.RootName() == "local" {
			n, _ := attrName(t, 1)
			return "local." + n
		}
	}
	return "?"
}

// roles returns the role or roles an IAM member resource grants.
func (m *Module) roles(b *hclsyntax.Block) []string {
	expr := exprOf(attr(b, "role"))
	if v, ok := literal(expr); ok && v.Type() == cty.String {
		return []string{v.AsString()}
	}
	if c := refsTo(expr, "google_project_iam_custom_role"); len(c) == 1 {
		return []string{"google_project_iam_custom_role." + c[0]}
	}
	for _, t := range expr.Variables() {
		if t.RootName() != "each" {
			continue
		}
		// for_each over a literal collection of role names.
		fe := attr(b, "for_each")
		if fe == nil {
			break
		}
		set := fe.Expr
		if call, ok := set.(*hclsyntax.FunctionCallExpr); ok && call.Name == "toset" && len(call.Args) == 1 {
			set = call.Args[0]
		}
		v, ok := literal(set)
		if !ok || !v.CanIterateElements() {
			break
		}
		var roles []string
		for it := v.ElementIterator(); it.Next(); {
			_, e := it.Element()
			if e.Type() == cty.String {
				roles = append(roles, e.AsString())
			}
		}
		return roles
	}
	return []string{"?"}
}

// permissions returns the literal permissions of a custom role, sorted.
func (m *Module) permissions(name string) []string {
	b := m.resources["google_project_iam_custom_role."+name]
	if b == nil {
		return []string{"?"}
	}
	v, ok := literal(exprOf(attr(b, "permissions")))
	if !ok || !v.CanIterateElements() {
		return []string{"?"}
	}
	var out []string
	for it := v.ElementIterator(); it.Next(); {
		_, e := it.Element()
		if e.Type() == cty.String {
			out = append(out, e.AsString())
		}
	}
	sort.Strings(out)
	return out
}

// resourceRefs returns the type.name addresses of the managed resources expr
// refers to, in order.
func resourceRefs(expr hcl.Expression) []string {
	var out []string
	for _, t := range expr.Variables() {
		root := t.RootName()
		if builtinRoots[root] || root == "var" || root == "local" || root == "data" || root == "module" {
			continue
		}
		if n, ok := attrName(t, 1); ok {
			out = append(out, root+"."+n)
		}
	}
	return out
}

// Operator is the account of the access table's rows that Terraform does not
// grant: whoever runs cioevents commands, granted by hand (docs/deploy.md).
const Operator = "operator"

// customPrefix starts the role of a grant of a custom role of the module.
const customPrefix = "google_project_iam_custom_role."

// Call is one row of the documented access table: Member makes Call, which
// needs the permissions Needs; Role carries them and is granted on On.
type Call struct {
	Grant
	Call  string
	Needs []string // sorted
}

func (m *Module) checkAccess(r Rules) []Problem {
	var ps []Problem
	for _, key := range sortedKeys(m.resources) {
		typ, _, _ := strings.Cut(key, ".")
		if strings.HasSuffix(typ, "_iam_binding") || strings.HasSuffix(typ, "_iam_policy") {
			ps = append(ps, Problem{RuleAccess, where(m.resources[key].DefRange()),
				key + ": authoritative IAM (binding or policy) would remove grants made outside this module; use an _iam_member"})
		}
	}
	if r.Calls == nil {
		return ps
	}
	// A custom role holds what the calls granted it need, and nothing else.
	needed := map[string][]string{}
	for _, c := range r.Calls {
		if custom, ok := strings.CutPrefix(c.Role, customPrefix); ok {
			needed[custom] = append(needed[custom], c.Needs...)
		}
	}
	for name := range needed {
		needed[name] = slices.Compact(slices.Sorted(slices.Values(needed[name])))
	}
	for _, name := range m.Resources("google_project_iam_custom_role") {
		got := m.permissions(name)
		if want := needed[name]; !slices.Equal(got, want) {
			ps = append(ps, Problem{RuleAccess, where(m.resources[customPrefix+name].DefRange()),
				fmt.Sprintf("%s%s has permissions %v, but the calls in %s it is granted for need %v", customPrefix, name, got, r.AccessDoc, want)})
		}
	}
	documented := map[string]bool{}
	var grants []Grant
	for _, c := range r.Calls {
		ps = append(ps, checkRolePermissions(c, r.RolePermissions)...)
		if c.Member == Operator {
			if c.On != "project" && c.On != OnStateBucket && m.resources[c.On] == nil {
				ps = append(ps, Problem{RuleAccess, c.Where, fmt.Sprintf("operator grant on %s, which terraform/ does not declare", c.On)})
			}
			continue
		}
		g := c.Grant
		if custom, ok := strings.CutPrefix(g.Role, customPrefix); ok {
			g.Permissions = needed[custom]
		}
		if !documented[g.key()] {
			documented[g.key()] = true
			grants = append(grants, g)
		}
	}
	granted := map[string]bool{}
	for _, g := range m.Grants() {
		granted[g.key()] = true
		if !documented[g.key()] {
			ps = append(ps, Problem{RuleAccess, g.Where,
				fmt.Sprintf("grant not in the documented access table (%s): %s", r.AccessDoc, g)})
		}
	}
	for _, g := range grants {
		if !granted[g.key()] {
			ps = append(ps, Problem{RuleAccess, g.Where,
				fmt.Sprintf("documented grant that the configuration does not make: %s", g)})
		}
	}
	return ps
}

// checkRolePermissions reports a permission a row says its predefined role
// carries that the role excerpt does not list.
func checkRolePermissions(c Call, roles map[string][]string) []Problem {
	if roles == nil || strings.HasPrefix(c.Role, customPrefix) {
		return nil
	}
	perms, ok := roles[c.Role]
	if !ok {
		return []Problem{{RuleAccess, c.Where, fmt.Sprintf("%s is not in the role excerpt; add the permissions the calls rely on from Google's role reference", c.Role)}}
	}
	var ps []Problem
	for _, p := range c.Needs {
		if !slices.Contains(perms, p) {
			ps = append(ps, Problem{RuleAccess, c.Where, fmt.Sprintf("%s does not carry %s, which %q needs", c.Role, p, c.Call)})
		}
	}
	return ps
}

// ReadCallTable reads the access table of an operator document: the first
// Markdown table after a heading containing "Access", with the columns
// account, call, permissions, role, on. The account, role and on cells name
// one value in backquotes, the permissions cell one or more; an "on" cell
// that mentions "condition" marks a conditional grant.
func ReadCallTable(r io.Reader, name string) ([]Call, error) {
	var out []Call
	sc := bufio.NewScanner(r)
	in, started := false, false
	line := 0
	for sc.Scan() {
		line++
		text := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(text, "#") {
			if in && started {
				break
			}
			in = strings.Contains(text, "Access")
			continue
		}
		if !in || !strings.HasPrefix(text, "|") {
			if started && in {
				break
			}
			continue
		}
		started = true
		cells := strings.Split(strings.Trim(text, "|"), "|")
		if len(cells) < 5 || strings.Trim(cells[0], " -:") == "" || strings.TrimSpace(cells[0]) == "account" {
			continue
		}
		at := fmt.Sprintf("%s:%d", name, line)
		acct, perms, role, on := backquoted(cells[0]), backquoted(cells[2]), backquoted(cells[3]), backquoted(cells[4])
		call := strings.TrimSpace(cells[1])
		if len(acct) != 1 || call == "" || len(perms) == 0 || len(role) != 1 || len(on) != 1 {
			return nil, fmt.Errorf("tfcheck: %s: want `account` | call | `permission`... | `role` | `resource`", at)
		}
		out = append(out, Call{
			Grant: Grant{Member: acct[0], Role: role[0], On: on[0], Condition: strings.Contains(cells[4], "condition"), Where: at},
			Call:  call,
			Needs: slices.Sorted(slices.Values(perms)),
		})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("tfcheck: read %s: %w", name, err)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("tfcheck: %s has no access table", name)
	}
	return out, nil
}

var backquote = regexp.MustCompile("`([^`]+)`")

func backquoted(cell string) []string {
	var out []string
	for _, m := range backquote.FindAllStringSubmatch(cell, -1) {
		out = append(out, m[1])
	}
	return out
}

// --- push endpoint ------------------------------------------------------------

// pushShape is what a push endpoint must look like once its interpolations are
// written as {reference}: the function URL, then the path functions-framework
// reads the topic name from.
var pushShape = regexp.MustCompile(`^\{[^}]+\.uri\}/projects/\{(var\.project_id|data\.google_project\.[A-Za-z0-9_-]+\.project_id)\}/topics/\{google_pubsub_topic\.([A-Za-z0-9_-]+)\.name\}$`)

func (m *Module) checkPushEndpoints() []Problem {
	var ps []Problem
	for _, s := range m.typed("google_pubsub_subscription") {
		push := child(s.block, "push_config")
		if push == nil {
			continue
		}
		id := "google_pubsub_subscription." + s.name
		a := attr(push, "push_endpoint")
		if a == nil {
			ps = append(ps, Problem{RulePushEndpoint, where(push.DefRange()), id + ": push_config has no push_endpoint"})
			continue
		}
		shape := templateShape(a.Expr)
		match := pushShape.FindStringSubmatch(shape)
		topics := refsTo(exprOf(attr(s.block, "topic")), "google_pubsub_topic")
		switch {
		case match == nil:
			ps = append(ps, Problem{RulePushEndpoint, where(a.SrcRange),
				fmt.Sprintf("%s: push_endpoint is %s; it must be \"${<function>.service_config[0].uri}/projects/${var.project_id}/topics/${google_pubsub_topic.<topic>.name}\": functions-framework takes the topic from that path and prints a plain-text warning, not a JSON log line, on every push without it", id, shape)})
		case len(topics) != 1 || topics[0] != match[2]:
			ps = append(ps, Problem{RulePushEndpoint, where(a.SrcRange),
				fmt.Sprintf("%s: push_endpoint names topic %s, but the subscription reads %v", id, match[2], topics)})
		}
	}
	return ps
}

// templateShape renders expr with literal text as is and every interpolation
// as {reference}.
func templateShape(expr hcl.Expression) string {
	parts := []hclsyntax.Expression{}
	switch e := expr.(type) {
	case *hclsyntax.TemplateExpr:
		parts = e.Parts
	case *hclsyntax.TemplateWrapExpr:
		parts = append(parts, e.Wrapped)
	case hclsyntax.Expression:
		parts = append(parts, e)
	}
	var b strings.Builder
	for _, p := range parts {
		if lit, ok := p.(*hclsyntax.LiteralValueExpr); ok && lit.Val.Type() == cty.String {
			b.WriteString(lit.Val.AsString())
			continue
		}
		st, ok := p.(*hclsyntax.ScopeTraversalExpr)
		if !ok {
			b.WriteString("{?}")
			continue
		}
		b.WriteString("{" + traversalString(st.Traversal) + "}")
	}
	return b.String()
}

func traversalString(t hcl.Traversal) string {
	var b strings.Builder
	for _, step := range t {
		switch s := step.(type) {
		case hcl.TraverseRoot:
			b.WriteString(s.Name)
		case hcl.TraverseAttr:
			b.WriteString("." + s.Name)
		case hcl.TraverseIndex:
			if s.Key.Type() == cty.Number {
				b.WriteString("[" + s.Key.AsBigFloat().String() + "]")
			} else {
				b.WriteString("[?]")
			}
		default:
			b.WriteString("?")
		}
	}
	return b.String()
}

// --- service agents -------------------------------------------------------------

// RuleServiceAgent names the check that grants to a Google service agent wait
// for the agent to exist.
const RuleServiceAgent = "service-agent"

// checkServiceAgents reports an IAM grant to a service agent (a local naming
// a service-…@gcp-sa-… account) that does not depend on a
// google_project_service_identity: on a new project the agent may not exist
// yet when the grant is made, and the apply fails.
func (m *Module) checkServiceAgents() []Problem {
	var ps []Problem
	for _, key := range sortedKeys(m.resources) {
		typ, _, _ := strings.Cut(key, ".")
		if !strings.HasSuffix(typ, "_iam_member") {
			continue
		}
		b := m.resources[key]
		member := m.member(exprOf(attr(b, "member")))
		name, ok := strings.CutPrefix(member, "local.")
		if !ok || m.locals[name] == nil {
			continue
		}
		l := m.locals[name]
		if !strings.Contains(string(l.Expr.Range().SliceBytes(m.src[l.Expr.Range().Filename])), "@gcp-sa-") {
			continue
		}
		if len(refsTo(exprOf(attr(b, "depends_on")), "google_project_service_identity")) == 0 {
			ps = append(ps, Problem{RuleServiceAgent, where(b.DefRange()),
				fmt.Sprintf("%s grants to the service agent %s without depends_on a google_project_service_identity; on a new project the agent may not exist yet", key, member)})
		}
	}
	return ps
}
