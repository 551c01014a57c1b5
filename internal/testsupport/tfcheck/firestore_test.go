package tfcheck_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"

	"github.com/cioevents/cioevents/internal/testsupport/tfcheck"
)

// ledgerSource holds the struct the processor writes ledger documents with.
const ledgerSource = "../../../shared/ledger/firestore.go"

// ledgerDocFields returns the field names of every struct in ledgerSource
// that carries firestore tags: the fields a ledger document can have.
func ledgerDocFields(t *testing.T) []string {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), ledgerSource, nil, parser.SkipObjectResolution)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	ast.Inspect(f, func(n ast.Node) bool {
		st, ok := n.(*ast.StructType)
		if !ok {
			return true
		}
		for _, fld := range st.Fields.List {
			if fld.Tag == nil {
				continue
			}
			tag, err := strconv.Unquote(fld.Tag.Value)
			if err != nil {
				t.Fatal(err)
			}
			name, _, _ := strings.Cut(reflect.StructTag(tag).Get("firestore"), ",")
			if name == "" || name == "-" {
				continue
			}
			names = append(names, name)
		}
		return true
	})
	slices.Sort(names)
	return slices.Compact(names)
}

// ledgerIndexProblems lists every ledger document field the module does
// not exempt from indexing in the ledger collection, and checks the TTL
// policy on expire_at.
func ledgerIndexProblems(t *testing.T, dir string, fields []string) []string {
	t.Helper()
	m, err := tfcheck.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	expr, diags := hclsyntax.ParseExpression([]byte("var.ledger_collection"), "test", hcl.InitialPos)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	collection, err := m.Eval(expr)
	if err != nil {
		t.Fatal(err)
	}
	ff, err := m.FirestoreFields()
	if err != nil {
		t.Fatal(err)
	}
	byField := map[string][]tfcheck.FirestoreField{}
	for _, f := range ff {
		if f.Collection == collection.AsString() {
			byField[f.Field] = append(byField[f.Field], f)
		}
	}
	var problems []string
	for _, name := range fields {
		got := byField[name]
		switch {
		case len(got) == 0:
			problems = append(problems, name+": no google_firestore_field exempts it from indexing")
		case len(got) > 1:
			problems = append(problems, name+": more than one google_firestore_field; they would overwrite each other")
		case !got[0].Exempt:
			problems = append(problems, name+": google_firestore_field."+got[0].Resource+" has no empty index_config")
		}
		if wantTTL := name == "expire_at"; len(got) == 1 && got[0].TTL != wantTTL {
			problems = append(problems, name+": TTL policy "+strconv.FormatBool(got[0].TTL)+", want "+strconv.FormatBool(wantTTL))
		}
	}
	return problems
}

func TestLedgerFieldsAreNotIndexed(t *testing.T) {
	fields := ledgerDocFields(t)
	// A parser that found nothing would pass anything.
	for _, want := range []string{"event_id", "expire_at", "steps"} {
		if !slices.Contains(fields, want) {
			t.Fatalf("%s: found fields %v, missing %s; has the record struct moved?", ledgerSource, fields, want)
		}
	}
	for _, p := range ledgerIndexProblems(t, moduleDir, fields) {
		t.Error(p)
	}
}

func TestLedgerIndexCheckFails(t *testing.T) {
	fields := ledgerDocFields(t)
	tests := []struct {
		name string
		edit edit
		want string
	}{
		{"field left out", edit{"firestore.tf", `"lease_token", `, ``, 1}, "lease_token: no google_firestore_field"},
		{"index kept", edit{"firestore.tf", "  index_config {}\n", "  index_config {\n    indexes {\n      order = \"ASCENDING\"\n    }\n  }\n", 1},
			"created_at: google_firestore_field.ledger[\"created_at\"] has no empty index_config"},
		{"TTL lost", edit{"firestore.tf", `ledger_ttl_field = "expire_at"`, `ledger_ttl_field = "expires"`, 1}, "expire_at: TTL policy false"},
		{"wrong collection", edit{"firestore.tf", "collection = var.ledger_collection", `collection = "other"`, 1}, "event_id: no google_firestore_field"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := copyModule(t)
			applyEdit(t, dir, tt.edit)
			problems := ledgerIndexProblems(t, dir, fields)
			if !slices.ContainsFunc(problems, func(p string) bool { return strings.HasPrefix(p, tt.want) }) {
				t.Errorf("problems %q, want one starting %q", problems, tt.want)
			}
		})
	}
}
