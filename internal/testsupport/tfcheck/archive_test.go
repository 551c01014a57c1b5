package tfcheck_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/cioevents/cioevents/internal/testsupport/tfcheck"
)

const repoRoot = "../../.."

// buildFiles are the files the functions' build reads, relative to the
// repository root: go.mod, go.sum, and the Go and embedded files of every
// package of this module the root package imports, for the platform Cloud
// Functions builds on. Also returned: the test files of those packages,
// which the build does not read.
func buildFiles(t *testing.T) (needed, tests []string) {
	t.Helper()
	cmd := exec.Command("go", "list", "-deps", "-json=Dir,Module,GoFiles,CgoFiles,EmbedFiles,TestGoFiles,XTestGoFiles", ".")
	cmd.Dir = repoRoot
	cmd.Env = append(os.Environ(), "GOOS=linux", "GOARCH=amd64")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	root, err := filepath.Abs(repoRoot)
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(bytes.NewReader(out))
	for dec.More() {
		var p struct {
			Dir                           string
			Module                        *struct{ Path string }
			GoFiles, CgoFiles, EmbedFiles []string
			TestGoFiles, XTestGoFiles     []string
		}
		if err := dec.Decode(&p); err != nil {
			t.Fatal(err)
		}
		if p.Module == nil || p.Module.Path != "github.com/cioevents/cioevents" {
			continue
		}
		rel, err := filepath.Rel(root, p.Dir)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range slices.Concat(p.GoFiles, p.CgoFiles, p.EmbedFiles) {
			needed = append(needed, filepath.ToSlash(filepath.Join(rel, f)))
		}
		for _, f := range slices.Concat(p.TestGoFiles, p.XTestGoFiles) {
			tests = append(tests, filepath.ToSlash(filepath.Join(rel, f)))
		}
	}
	needed = append(needed, "go.mod", "go.sum")
	slices.Sort(needed)
	return needed, tests
}

// strayFiles are what a working tree may hold besides the code: the CLI's
// default outputs (cioevents dev's and serve's data directories with rows,
// report --html, backfill's checkpoint), local secrets, state, scratch files
// beside the code and data beside the embedded samples.
var strayFiles = []string{
	".cioevents/events.ndjson",
	".cioevents-serve/events.ndjson",
	"report.html",
	"backfill-checkpoint.json",
	".env",
	"shared/warehouse/.env",
	"functions/processor/notes.txt",
	"testdata/export.ndjson",
	"terraform/tfplan.state",
	"cmd/cioevents/main.go",
}

// The function source zip is what archive_file's allow-list computes, as
// Terraform computes it: the allow-list's locals, copied as written into a
// throwaway module in terraform/modules/cioevents of a copy of the repository that holds
// the build's files, their tests and planted stray files, evaluated by
// `terraform console`. It must hold exactly the build's files.
func TestSourceArchiveLeavesStrayFilesOut(t *testing.T) {
	bin := terraformBin(t)
	m, err := tfcheck.Load(moduleDir)
	if err != nil {
		t.Fatal(err)
	}
	local, err := m.ArchiveAllowList("source")
	if err != nil {
		t.Fatal(err)
	}
	locals, err := m.LocalsSource(local)
	if err != nil {
		t.Fatal(err)
	}
	needed, tests := buildFiles(t)
	root := t.TempDir()
	for _, f := range slices.Concat(needed, tests) {
		b, err := os.ReadFile(filepath.Join(repoRoot, f))
		if err != nil {
			t.Fatal(err)
		}
		writeFile(t, filepath.Join(root, f), string(b))
	}
	for _, f := range strayFiles {
		writeFile(t, filepath.Join(root, f), "planted by TestSourceArchiveLeavesStrayFilesOut\n")
	}
	dir := filepath.Join(root, "terraform", "modules", "cioevents")
	writeFile(t, filepath.Join(dir, "allowlist.tf"), locals)
	tf := tfcheck.Terraform{Bin: bin, Dir: dir}
	out, refused, err := tf.Console(context.Background(), "jsonencode(sort(local."+local+"))")
	if err != nil || refused != "" {
		t.Fatalf("terraform console: %v %s", err, refused)
	}
	var literal string
	if err := json.Unmarshal([]byte(out), &literal); err != nil {
		t.Fatalf("console printed %s: %v", out, err)
	}
	var zipped []string
	if err := json.Unmarshal([]byte(literal), &zipped); err != nil {
		t.Fatalf("console printed %s: %v", literal, err)
	}
	for _, f := range strayFiles {
		if slices.Contains(zipped, f) {
			t.Errorf("the source zip would hold %s", f)
		}
	}
	for _, f := range tests {
		if slices.Contains(zipped, f) {
			t.Errorf("the source zip would hold the test file %s", f)
		}
	}
	if !slices.Equal(zipped, needed) {
		t.Errorf("the source zip holds\n%s\nthe build reads\n%s", strings.Join(zipped, "\n"), strings.Join(needed, "\n"))
	}
}

func TestSourceArchiveMustBeAnAllowList(t *testing.T) {
	m, err := tfcheck.Load(moduleDir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.ArchiveAllowList("source"); err != nil {
		t.Fatal(err)
	}
	dir := copyModule(t)
	applyEdit(t, dir, edit{"functions.tf", `  output_path = "${path.root}/.terraform/cioevents-source.zip"
`, `  output_path = "${path.root}/.terraform/cioevents-source.zip"
  source_dir  = "${path.module}/../../.."
  excludes    = [".git", "terraform"]
`, 1})
	broken, err := tfcheck.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := broken.ArchiveAllowList("source"); err == nil || !strings.Contains(err.Error(), "sets source_dir") {
		t.Errorf("a deny-list archive passed: %v", err)
	}
}

// Every path the CLI writes by default, and local secrets, are git-ignored,
// so that `git add -A` cannot commit rows with email addresses. Literal
// lines only: the paths are fixed names.
func TestCLIOutputsAreGitIgnored(t *testing.T) {
	f, err := os.Open(filepath.Join(repoRoot, ".gitignore"))
	if os.IsNotExist(err) {
		if _, gitErr := os.Stat(filepath.Join(repoRoot, ".git")); os.IsNotExist(gitErr) {
			// gcloud builds submit uploads neither .git nor .gitignore.
			t.Skip("not a git checkout: no .git and no .gitignore")
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	lines := map[string]bool{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		lines[strings.TrimSpace(sc.Text())] = true
	}
	for _, p := range []string{".cioevents/", ".cioevents-serve/", "report.html", "backfill-checkpoint.json", ".env"} {
		name := strings.TrimSuffix(p, "/")
		spellings := []string{name, "/" + name}
		if strings.HasSuffix(p, "/") {
			spellings = append(spellings, name+"/", "/"+name+"/")
		}
		if !slices.ContainsFunc(spellings, func(s string) bool { return lines[s] }) {
			t.Errorf(".gitignore does not ignore %s", p)
		}
	}
}
