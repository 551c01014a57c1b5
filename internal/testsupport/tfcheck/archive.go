package tfcheck

import (
	"fmt"
	"slices"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// ArchiveAllowList checks that data.archive_file.<name> zips an allow-list,
// one dynamic "source" block over a local whose every element is a path
// (content file(…/<path>), filename <path>), and returns that local's name.
// A source_dir with excludes would be a deny-list: whatever else lies in the
// directory goes up.
func (m *Module) ArchiveAllowList(name string) (string, error) {
	id := "data.archive_file." + name
	b := m.data["archive_file."+name]
	if b == nil {
		return "", fmt.Errorf("tfcheck: %s is not declared", id)
	}
	for _, a := range []string{"source_dir", "source_file", "source_content", "excludes"} {
		if attr(b, a) != nil {
			return "", fmt.Errorf("tfcheck: %s sets %s; it must zip only the files of an allow-list, as dynamic \"source\" blocks", id, a)
		}
	}
	var dyn []*hclsyntax.Block
	for _, c := range children(b, "dynamic") {
		if len(c.Labels) == 1 && c.Labels[0] == "source" {
			dyn = append(dyn, c)
		}
	}
	if len(dyn) != 1 || len(children(b, "source")) > 0 {
		return "", fmt.Errorf("tfcheck: %s must have exactly one dynamic \"source\" block and no literal ones", id)
	}
	fe, ok := exprOf(attr(dyn[0], "for_each")).(*hclsyntax.ScopeTraversalExpr)
	local, named := "", false
	if ok && fe.Traversal.RootName() == "local" && len(fe.Traversal) == 2 {
		local, named = attrName(fe.Traversal, 1)
	}
	if !named || m.locals[local] == nil {
		return "", fmt.Errorf("tfcheck: %s: the dynamic source block must iterate a local (for_each = local.NAME)", id)
	}
	content := child(dyn[0], "content")
	fn, _ := exprOf(attr(content, "filename")).(*hclsyntax.ScopeTraversalExpr)
	if fn == nil || traversalString(fn.Traversal) != "source.value" {
		return "", fmt.Errorf("tfcheck: %s: each entry's filename must be source.value, the path as listed", id)
	}
	call, _ := exprOf(attr(content, "content")).(*hclsyntax.FunctionCallExpr)
	if call == nil || call.Name != "file" || !slices.ContainsFunc(call.Variables(), func(t hcl.Traversal) bool { return traversalString(t) == "source.value" }) {
		return "", fmt.Errorf("tfcheck: %s: each entry's content must be file() of source.value", id)
	}
	return local, nil
}

// LocalsSource returns a locals block holding the named locals and every
// local they use, as written, for a throwaway module that Terraform
// evaluates without the rest of the configuration. They may use only locals
// and path.module.
func (m *Module) LocalsSource(names ...string) (string, error) {
	need := map[string]bool{}
	var visit func(n string) error
	visit = func(n string) error {
		if need[n] {
			return nil
		}
		a := m.locals[n]
		if a == nil {
			return fmt.Errorf("tfcheck: local.%s is not declared", n)
		}
		need[n] = true
		for _, t := range a.Expr.Variables() {
			switch s := traversalString(t); {
			case t.RootName() == "local":
				dep, _ := attrName(t, 1)
				if err := visit(dep); err != nil {
					return err
				}
			case s == "path.module":
			default:
				return fmt.Errorf("tfcheck: local.%s uses %s; only locals and path.module can be evaluated on their own", n, s)
			}
		}
		return nil
	}
	for _, n := range names {
		if err := visit(n); err != nil {
			return "", err
		}
	}
	var b strings.Builder
	b.WriteString("locals {\n")
	for _, n := range sortedKeys(need) {
		a := m.locals[n]
		b.WriteString("  " + string(a.SrcRange.SliceBytes(m.src[a.SrcRange.Filename])) + "\n")
	}
	b.WriteString("}\n")
	return b.String(), nil
}
