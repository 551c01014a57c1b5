package tfcheck

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// Validation is one validation block of an input variable.
type Validation struct {
	Variable string
	// Where is file:line of the block's "validation" keyword, the place
	// Terraform names when the rule refuses a value.
	Where   string
	Message string // error_message as written, unevaluated
}

// Validations returns every validation block, by variable name then line.
func (m *Module) Validations() []Validation {
	var out []Validation
	for _, name := range sortedKeys(m.variables) {
		for _, v := range children(m.variables[name], "validation") {
			msg := ""
			if a := attr(v, "error_message"); a != nil {
				msg = string(a.Expr.Range().SliceBytes(m.src[a.Expr.Range().Filename]))
			}
			out = append(out, Validation{Variable: name, Where: where(v.DefRange()), Message: msg})
		}
	}
	return out
}

// Variables returns the names of the declared input variables, sorted.
func (m *Module) Variables() []string { return sortedKeys(m.variables) }

// Required returns the variables without a default, sorted.
func (m *Module) Required() []string {
	var out []string
	for _, name := range sortedKeys(m.variables) {
		if attr(m.variables[name], "default") == nil {
			out = append(out, name)
		}
	}
	return out
}

// freeLocals returns the locals Terraform can evaluate without a provider:
// those that refer only to input variables and to other such locals. path.*
// is left out too, because the provider-free copy lives elsewhere.
func (m *Module) freeLocals() map[string]bool {
	free := map[string]bool{}
	for changed := true; changed; {
		changed = false
		for name, a := range m.locals {
			if !free[name] && m.onlyVarsAndLocals(a.Expr, free) {
				free[name] = true
				changed = true
			}
		}
	}
	return free
}

// onlyVarsAndLocals reports whether every reference in expr is a declared
// variable or one of the given locals.
func (m *Module) onlyVarsAndLocals(expr hcl.Expression, locals map[string]bool) bool {
	for _, t := range expr.Variables() {
		n, ok := attrName(t, 1)
		switch {
		case !ok:
			return false
		case t.RootName() == "var" && m.variables[n] != nil:
		case t.RootName() == "local" && locals[n]:
		default:
			return false
		}
	}
	return true
}

// ProviderFree writes into dir a copy of the module that `terraform plan`
// and `terraform console` evaluate without any provider or backend: each .tf
// file keeps its name and its line numbers, so Terraform's messages point at
// the real source, but everything except the variable blocks and the
// provider-free locals is blanked out.
func (m *Module) ProviderFree(dir string) error {
	free := m.freeLocals()
	blank := map[string][]hcl.Range{}
	for _, b := range m.blocks {
		file := b.Range().Filename
		switch b.Type {
		case "variable":
		case "locals":
			for name, a := range b.Body.Attributes {
				if !free[name] {
					blank[file] = append(blank[file], a.SrcRange)
				}
			}
		default:
			blank[file] = append(blank[file], b.Range())
		}
	}
	for path, src := range m.src {
		out := bytes.Clone(src)
		for _, r := range blank[path] {
			for i := r.Start.Byte; i < r.End.Byte && i < len(out); i++ {
				if out[i] != '\n' {
					out[i] = ' '
				}
			}
		}
		if err := os.WriteFile(filepath.Join(dir, filepath.Base(path)), out, 0o644); err != nil {
			return fmt.Errorf("tfcheck: write provider-free copy: %w", err)
		}
	}
	return nil
}

// Expression is an expression of the module that needs no provider to be
// evaluated, flattened onto one line for `terraform console`.
type Expression struct {
	Where  string // file:line
	Source string
}

// OfflineExpressions returns the provider-free locals (as local.NAME) and
// every attribute of a resource, data source, output, module or provider
// block that refers only to variables and provider-free locals. Literals and
// heredocs are left out: there is nothing to evaluate in the first, and the
// second cannot be written on one console line.
func (m *Module) OfflineExpressions() []Expression {
	free := m.freeLocals()
	var out []Expression
	for _, name := range sortedKeys(free) {
		out = append(out, Expression{Where: where(m.locals[name].SrcRange), Source: "local." + name})
	}
	var walk func(body *hclsyntax.Body)
	walk = func(body *hclsyntax.Body) {
		for _, name := range sortedKeys(body.Attributes) {
			a := body.Attributes[name]
			if len(a.Expr.Variables()) == 0 || !m.onlyVarsAndLocals(a.Expr, free) {
				continue
			}
			if line, ok := oneLine(m.src[a.Expr.Range().Filename], a.Expr.Range()); ok {
				out = append(out, Expression{Where: where(a.SrcRange), Source: line})
			}
		}
		for _, b := range body.Blocks {
			walk(b.Body)
		}
	}
	for _, b := range m.blocks {
		switch b.Type {
		case "resource", "data", "output", "module", "provider":
			walk(b.Body)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Where < out[j].Where })
	return out
}

// oneLine returns the expression at r with its newlines and comments turned
// into spaces; ok is false for a heredoc, whose newlines are content.
func oneLine(src []byte, r hcl.Range) (string, bool) {
	text := bytes.Clone(r.SliceBytes(src))
	toks, diags := hclsyntax.LexExpression(text, r.Filename, hcl.InitialPos)
	if diags.HasErrors() {
		return "", false
	}
	for _, t := range toks {
		switch t.Type {
		case hclsyntax.TokenOHeredoc:
			return "", false
		case hclsyntax.TokenNewline, hclsyntax.TokenComment:
			for i := t.Range.Start.Byte; i < t.Range.End.Byte; i++ {
				text[i] = ' '
			}
		}
	}
	return string(bytes.TrimSpace(text)), true
}
