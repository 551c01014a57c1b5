package tfcheck_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/cioevents/cioevents/internal/testsupport/tfcheck"
	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// terraformBin finds the terraform CLI. CI always has it (.ci/terraform-checks
// fails without it), so there a missing binary fails the test; elsewhere, such
// as Cloud Build's Go image, the test is skipped and the plan step there
// evaluates the same rules against the real provider.
func terraformBin(t *testing.T) string {
	t.Helper()
	bin, err := exec.LookPath("terraform")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("terraform CLI not found on PATH: %v", err)
		}
		t.Skipf("terraform CLI not found on PATH (set CI to make this a failure): %v", err)
	}
	return bin
}

func loadTable(t *testing.T) *tfcheck.Table {
	t.Helper()
	paths, err := filepath.Glob("testdata/variables/*.hcl")
	if err != nil || len(paths) == 0 {
		t.Fatalf("no variable tables under testdata/variables: %v", err)
	}
	tab, err := tfcheck.LoadTable(paths...)
	if err != nil {
		t.Fatal(err)
	}
	return tab
}

// envFiles are the committed per-environment variable files, which Cloud
// Build and a laptop both apply.
func envFiles(t *testing.T) []string {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join(terraformDir, "env", "*.tfvars"))
	if err != nil || len(paths) == 0 {
		t.Fatalf("no terraform/env/*.tfvars: %v", err)
	}
	for i, p := range paths {
		if paths[i], err = filepath.Abs(p); err != nil {
			t.Fatal(err)
		}
	}
	return paths
}

func TestVariableRules(t *testing.T) {
	bin := terraformBin(t)
	m, err := tfcheck.Load(moduleDir)
	if err != nil {
		t.Fatal(err)
	}
	tab := loadTable(t)
	if len(m.Validations()) < 30 {
		t.Fatalf("only %d validation rules found; the check has lost track of variables.tf", len(m.Validations()))
	}
	for _, p := range tfcheck.CheckVariables(context.Background(), bin, m, tab, envFiles(t), t.TempDir()) {
		t.Error(p)
	}
}

func TestOfflineExpressions(t *testing.T) {
	bin := terraformBin(t)
	m, err := tfcheck.Load(moduleDir)
	if err != nil {
		t.Fatal(err)
	}
	exprs := m.OfflineExpressions()
	// The check must have something to bite on: the duration locals and the
	// resource attributes computed from variables alone.
	var sources []string
	for _, e := range exprs {
		sources = append(sources, e.Source)
	}
	joined := strings.Join(sources, "\n")
	for _, want := range []string{"local.duration_unit_seconds", `"${var.receiver_memory_mib}Mi"`, `"${var.name_prefix}-receiver"`} {
		if !strings.Contains(joined, want) {
			t.Errorf("offline expressions do not include %s; got:\n%s", want, joined)
		}
	}
	for _, p := range tfcheck.CheckExpressions(context.Background(), bin, m, loadTable(t).Base, envFiles(t), t.TempDir()) {
		t.Error(p)
	}
}

// The check exists because a rule Terraform cannot compile refuses every
// value while fmt, tflint and trivy all pass; put the original mistake back
// and the check must see it.
func TestVariableRulesCatchUncompilableRegex(t *testing.T) {
	bin := terraformBin(t)
	dir := copyModule(t)
	applyEdit(t, dir, edit{"variables.tf", "can(regex(local.bigquery_id_pattern, var.bigquery_dataset))", `can(regex("^[A-Za-z_][A-Za-z0-9_]{0,1023}$", var.bigquery_dataset))`, 1})
	m, err := tfcheck.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	// The defaults alone show it; the full table would only add time.
	ps := tfcheck.CheckVariables(context.Background(), bin, m, &tfcheck.Table{Base: loadTable(t).Base}, nil, t.TempDir())
	var defaults bool
	for _, p := range ps {
		if strings.Contains(p.Message, "the defaults: refused") && strings.Contains(p.Message, "bigquery_dataset must be") {
			defaults = true
		}
	}
	if !defaults {
		t.Errorf("the defaults were not reported as refused by the bigquery_dataset rule; problems: %v", ps)
	}
}

func TestVariableRulesNeedATableEntry(t *testing.T) {
	bin := terraformBin(t)
	dir := copyModule(t)
	// A new variable with a rule, as another .tf file might add, and no
	// table entry for it.
	writeFile(t, filepath.Join(dir, "extra.tf"), `
variable "alert_threshold" {
  type    = number
  default = 5

  validation {
    condition     = var.alert_threshold > 0
    error_message = "alert_threshold must be positive."
  }
}
`)
	m, err := tfcheck.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	// Only the base: every other variable lacks entries too, which is
	// reported the same way and keeps this test to one plan.
	var refuse, accept bool
	for _, p := range tfcheck.CheckVariables(context.Background(), bin, m, &tfcheck.Table{Base: loadTable(t).Base}, nil, t.TempDir()) {
		switch {
		case strings.HasPrefix(p.Where, "extra.tf:") && strings.Contains(p.Message, "variable alert_threshold") && strings.Contains(p.Message, "no refuse case"):
			refuse = true
		case strings.Contains(p.Message, "variable alert_threshold has validation rules but no accept case"):
			accept = true
		case strings.Contains(p.Message, "refused"):
			t.Errorf("unexpected problem: %v", p)
		}
	}
	if !refuse || !accept {
		t.Errorf("missing table entry not reported (refuse case %v, accept case %v)", refuse, accept)
	}
}

func TestVariableTableMismatchesAreReported(t *testing.T) {
	bin := terraformBin(t)
	m, err := tfcheck.Load(moduleDir)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "wrong.hcl")
	writeFile(t, path, `
base = { project_id = "my-project-id" }

refuse "accepted value listed as bad" {
  vars  = { log_level = "warn" }
  error = "log_level must be"
}

refuse "refused with another message" {
  vars  = { log_level = "loud" }
  error = "log_level must be quiet"
}

accept "refused value listed as good" {
  vars = { region = "moon" }
}
`)
	tab, err := tfcheck.LoadTable(path)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, p := range tfcheck.CheckVariables(context.Background(), bin, m, tab, nil, t.TempDir()) {
		got[p.Message] = true
	}
	for _, want := range []string{
		`"accepted value listed as bad": accepted, want refused`,
		`"refused with another message": refused with "log_level must be debug`,
		`refused value listed as good: refused: `,
	} {
		found := false
		for msg := range got {
			found = found || strings.Contains(msg, want)
		}
		if !found {
			t.Errorf("no problem containing %q", want)
		}
	}
}

// terraform/env/example.tfvars is what a new environment starts from; every variable
// of the module (variables.tf and the files that declare their own, such as
// backfill.tf) appears in it, set or commented out with its default, so
// nobody has to read the HCL to learn a setting exists.
func TestExampleEnvironmentNamesEveryVariable(t *testing.T) {
	example, err := os.ReadFile(filepath.Join(terraformDir, "env", "example.tfvars"))
	if err != nil {
		t.Fatal(err)
	}
	files, err := filepath.Glob(filepath.Join(moduleDir, "*.tf"))
	if err != nil {
		t.Fatal(err)
	}
	var vars []byte
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		vars = append(vars, b...)
	}
	names := regexp.MustCompile(`(?m)^variable "([a-z0-9_]+)"`).FindAllStringSubmatch(string(vars), -1)
	if len(names) < 30 {
		t.Fatalf("found only %d variables in variables.tf", len(names))
	}
	for _, n := range names {
		if !regexp.MustCompile(`(?m)^#?[ \t]*` + n[1] + `[ \t]+=`).Match(example) {
			t.Errorf("env/example.tfvars does not mention %s", n[1])
		}
	}
}

// The precondition that keeps laptop-only settings files out works on real
// files: evaluated by terraform console in a directory without them and with
// each kind.
func TestLaptopOnlySettingsFilesAreRefused(t *testing.T) {
	bin := terraformBin(t)
	src, err := os.ReadFile(filepath.Join(moduleDir, "apis.tf"))
	if err != nil {
		t.Fatal(err)
	}
	f, diags := hclsyntax.ParseConfig(src, "apis.tf", hcl.InitialPos)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	var cond string
	for _, b := range f.Body.(*hclsyntax.Body).Blocks {
		if b.Type != "data" || b.Labels[0] != "google_project" {
			continue
		}
		for _, l := range b.Body.Blocks {
			for _, p := range l.Body.Blocks {
				if a := p.Body.Attributes["condition"]; l.Type == "lifecycle" && p.Type == "precondition" && a != nil {
					cond = string(a.Expr.Range().SliceBytes(src))
				}
			}
		}
	}
	if cond == "" {
		t.Fatal("no precondition on data.google_project.this")
	}
	m, err := tfcheck.Load(moduleDir)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		file string
		want string
	}{
		{"", "true"},
		{"terraform.tfvars", "false"},
		{"terraform.tfvars.json", "false"},
		{"prod.auto.tfvars", "false"},
		{"env/prod.tfvars", "true"},
	} {
		dir := t.TempDir()
		if err := m.ProviderFree(dir); err != nil {
			t.Fatal(err)
		}
		if tt.file != "" {
			content := "# empty\n"
			if strings.HasSuffix(tt.file, ".json") {
				content = "{}"
			}
			writeFile(t, filepath.Join(dir, tt.file), content)
		}
		vars := filepath.Join(t.TempDir(), "base.tfvars")
		writeFile(t, vars, `project_id = "my-project-id"`+"\n")
		got, refused, err := tfcheck.Terraform{Bin: bin, Dir: dir}.Console(context.Background(), cond, vars)
		if err != nil || refused != "" {
			t.Fatalf("with %q: console: %v %s", tt.file, err, refused)
		}
		if got != tt.want {
			t.Errorf("with %q present the precondition is %s, want %s", tt.file, got, tt.want)
		}
	}
}
