package cites_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cioevents/cioevents/internal/testsupport/cites"
)

func TestRepositoryCitesOnlyExistingPaths(t *testing.T) {
	ds, err := cites.Find("../../..")
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range ds {
		t.Error(d)
	}
}

// A tree with planted dangling citations of every kind the check looks for,
// and text that only looks like paths, which it must leave alone.
func TestFindReportsPlantedCitations(t *testing.T) {
	root := t.TempDir()
	// The fixtures spell "/" as "|", so that the repository's own citation
	// check does not take the planted dangling paths for citations of ours.
	slash := strings.NewReplacer("|", "/").Replace
	write := func(rel, content string) {
		t.Helper()
		rel, content = slash(rel), slash(content)
		p := filepath.Join(root, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("docs|present.md", "# here\n")
	write("shared|thing|thing.go", `|| Package thing is described in docs|present.md and docs|absent.md; see
|| shared|thing and shared|gone| and DESIGN.md. Not paths: github.com|a|b,
|| roles|pubsub.publisher, projects|P|topics|T, https:||example.com|x|y.md,
|| 1,000 events|s, ${path.module}|schema|x.json, env|<name>.tfvars, terraform|*.tf.
package thing
`)
	write("shared|thing|testdata|events|a.json", "{}")
	write("shared|thing|thing_test.go", "package thing\n\n|| Reads events|a.json from testdata and events|b.json, which is missing.\n")
	write("terraform|main.tf", "# See docs|deploy.md.\nvariable \"x\" {\n  description = \"(docs|present.md, schema|events.json)\"\n}\n")
	write("terraform|schema|x.json", "[]")
	write("terraform|env|a.tfvars", "# terraform apply -var-file=env|a.tfvars, env|b.tfvars\n")
	write("cloudbuild.yaml", "# roles listed in docs|roles.md\nsteps: []\n")
	write("README.md", "Read [the guide](docs|present.md) and [setup](docs|setup.md#step-1),\n"+
		"written from |work|shared|reference|contract.md.\n\n```sh\ncp env|example.tfvars env|prod.tfvars   # commands are not citations\n```\n"+
		"Run `go test .|shared|thing|...` and `.|cmd|missing`.\n")
	write("docs|present.md", "Back to the [README](..|README.md) and [nowhere](..|NOWHERE.md).\n")

	ds, err := cites.Find(root)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, d := range ds {
		got = append(got, fmt.Sprintf("%s:%d %s", d.File, d.Line, d.Path))
	}
	want := []string{
		"README.md:1 docs|setup.md",
		"README.md:2 |work|shared|reference|contract.md",
		"README.md:7 .|cmd|missing",
		"cloudbuild.yaml:1 docs|roles.md",
		"docs|present.md:1 ..|NOWHERE.md",
		"shared|thing|thing.go:1 docs|absent.md",
		"shared|thing|thing.go:2 shared|gone",
		"shared|thing|thing.go:2 DESIGN.md",
		"shared|thing|thing_test.go:3 events|b.json",
		"terraform|env|a.tfvars:1 env|b.tfvars",
		"terraform|main.tf:1 docs|deploy.md",
		"terraform|main.tf:3 schema|events.json",
	}
	for i := range want {
		want[i] = slash(want[i])
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("dangling citations:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
