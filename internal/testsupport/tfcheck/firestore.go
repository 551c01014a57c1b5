package tfcheck

import (
	"fmt"
	"sort"

	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
)

// FirestoreField is one instance of a google_firestore_field resource (one
// per for_each key), with its expressions evaluated as Eval does.
type FirestoreField struct {
	Resource   string // "name" or "name[key]"
	Collection string
	Field      string
	// Exempt: an index_config block with no indexes, which turns off every
	// automatic single-field index of the field.
	Exempt bool
	// TTL: a ttl_config block, written or produced by a dynamic block.
	TTL bool
}

// FirestoreFields returns every google_firestore_field instance, sorted by
// collection and field.
func (m *Module) FirestoreFields() ([]FirestoreField, error) {
	var out []FirestoreField
	for _, name := range m.Resources("google_firestore_field") {
		b := m.resources["google_firestore_field."+name]
		keys := []cty.Value{cty.NilVal}
		if fe := attr(b, "for_each"); fe != nil {
			v, err := m.Eval(fe.Expr)
			if err != nil {
				return nil, fmt.Errorf("google_firestore_field.%s for_each: %w", name, err)
			}
			if !v.IsWhollyKnown() || !v.CanIterateElements() {
				return nil, fmt.Errorf("google_firestore_field.%s: for_each is not known without a provider", name)
			}
			keys = keys[:0]
			for it := v.ElementIterator(); it.Next(); {
				k, el := it.Element()
				if v.Type().IsSetType() {
					k = el
				}
				keys = append(keys, k)
			}
		}
		for _, each := range keys {
			f := FirestoreField{Resource: name}
			if !each.IsNull() {
				f.Resource = fmt.Sprintf("%s[%q]", name, each.AsString())
			}
			var err error
			if f.Collection, err = m.stringAttr(b, "collection", each); err != nil {
				return nil, fmt.Errorf("google_firestore_field.%s: %w", f.Resource, err)
			}
			if f.Field, err = m.stringAttr(b, "field", each); err != nil {
				return nil, fmt.Errorf("google_firestore_field.%s: %w", f.Resource, err)
			}
			if ic := child(b, "index_config"); ic != nil {
				f.Exempt = len(ic.Body.Blocks) == 0 && len(ic.Body.Attributes) == 0
			}
			if f.TTL, err = m.hasBlock(b, "ttl_config", each); err != nil {
				return nil, fmt.Errorf("google_firestore_field.%s: %w", f.Resource, err)
			}
			out = append(out, f)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Collection != out[j].Collection {
			return out[i].Collection < out[j].Collection
		}
		return out[i].Field < out[j].Field
	})
	return out, nil
}

func (m *Module) stringAttr(b *hclsyntax.Block, name string, each cty.Value) (string, error) {
	a := attr(b, name)
	if a == nil {
		return "", fmt.Errorf("no attribute %s", name)
	}
	v, err := m.evalEach(a.Expr, 0, each)
	if err != nil {
		return "", err
	}
	if !v.IsWhollyKnown() || v.IsNull() || v.Type() != cty.String {
		return "", fmt.Errorf("%s is not a string known without a provider", name)
	}
	return v.AsString(), nil
}

// hasBlock reports whether b has a typ block for this instance: written out,
// or from a dynamic block whose for_each is not empty.
func (m *Module) hasBlock(b *hclsyntax.Block, typ string, each cty.Value) (bool, error) {
	if child(b, typ) != nil {
		return true, nil
	}
	for _, d := range children(b, "dynamic") {
		if len(d.Labels) != 1 || d.Labels[0] != typ {
			continue
		}
		fe := attr(d, "for_each")
		if fe == nil {
			return false, fmt.Errorf("dynamic %q has no for_each", typ)
		}
		v, err := m.evalEach(fe.Expr, 0, each)
		if err != nil {
			return false, err
		}
		if !v.IsWhollyKnown() || !v.CanIterateElements() {
			return false, fmt.Errorf("dynamic %q: for_each is not known without a provider", typ)
		}
		return v.LengthInt() > 0, nil
	}
	return false, nil
}
