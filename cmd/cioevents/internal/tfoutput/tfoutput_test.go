package tfoutput

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// terraform's coloured, boxed, multi-line diagnostic becomes one line: the
// "Error: ..." summary, and what to run.
func TestFailureIsOneLine(t *testing.T) {
	stderr, err := os.ReadFile("testdata/backend-init.stderr")
	if err != nil {
		t.Fatal(err)
	}
	got := Failure("/repo/terraform", string(stderr), errors.New("exit status 1")).Error()
	want := "terraform output failed in /repo/terraform: Error: Backend initialization required, please run \"terraform init\"; " +
		"run `terraform -chdir=/repo/terraform init`, then retry (or pass the values as flags)"
	if got != want {
		t.Errorf("got  %q\nwant %q", got, want)
	}
	if Summary("no diagnostic here\nsecond") != "no diagnostic here" {
		t.Error("without an Error: line, the first line is the summary")
	}
}

// From the repository root, from terraform/ and from a directory deep inside
// the repository, FindDir finds the repository's terraform/.
func TestFindDir(t *testing.T) {
	root := t.TempDir()
	tf := filepath.Join(root, "terraform")
	deep := filepath.Join(root, "terraform", "modules", "cioevents")
	other := filepath.Join(root, "cmd", "x")
	for _, d := range []string{deep, other} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(tf, "main.tf"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, start := range []string{root, tf, deep, other} {
		got, err := FindDir(start)
		if err != nil || got != tf {
			t.Errorf("FindDir(%s) = %q, %v; want %s", start, got, err, tf)
		}
	}
	if _, err := FindDir(t.TempDir()); !errors.Is(err, ErrNoDir) || !strings.Contains(err.Error(), "--terraform-dir") {
		t.Errorf("outside a repository: %v, want ErrNoDir naming --terraform-dir", err)
	}
}
