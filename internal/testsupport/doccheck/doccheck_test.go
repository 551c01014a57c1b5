package doccheck

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

// badReadme and badGuide have one of each mistake, and things that look
// like mistakes but are not. They are written at test time, not kept as
// *.md files, so that no other check of the repository's Markdown reads them.
const badReadme = `# Bad

See [the guide](sub/guide.md), [its setup](sub/guide.md#set-up-the-cli), [a gone page](sub/gone.md),
[a missing part](sub/guide.md#nowhere), [here](#funnel-and-cioevents-report) and [nowhere](#nope).
An [outside link](https://example.com/x.md) and [an anchor](#an-html-anchor) count as fine.

## Funnel and ` + "`" + `cioevents report` + "`" + `

| flag | meaning |
|------|---------|
| ` + "`" + `--by` + "`" + ` | grouping |
This sentence has no blank line before it.

| a | b |
|---|---|
| 1 | 2 |

| 3 | 4 |

#### Too deep

<a id="an-html-anchor"></a>

# Second title
`

const badGuide = `## Guide

### Set up the CLI

[Back](../README.md#bad) and [up and out](../../../x.md).
`

// TestFindsEachKind runs the check over badReadme and badGuide.
func TestFindsEachKind(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	for name, text := range map[string]string{"README.md": badReadme, "sub/guide.md": badGuide} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := Check(dir)
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, f := range got {
		lines = append(lines, f.String())
	}
	want := []string{
		`README.md:3: link "sub/gone.md": no file sub/gone.md`,
		`README.md:4: link "sub/guide.md#nowhere": sub/guide.md has no heading or anchor #nowhere`,
		`README.md:4: link "#nope": README.md has no heading or anchor #nope`,
		`README.md:12: text swallowed into the table above as a row: put a blank line between the table and "This sentence has no blank line before i…"`,
		`README.md:18: table row outside a table: a blank line splits the table, or its header and delimiter rows are missing`,
		`README.md:20: heading "Too deep" is level 4 right under level 2: a level skipped`,
		`README.md:24: a second level-1 heading "Second title": a file has one title`,
		`sub/guide.md:1: the first heading "Guide" is level 2, want a level-1 title`,
		`sub/guide.md:5: link "../../../x.md" leaves the repository`,
	}
	if !reflect.DeepEqual(lines, want) {
		t.Errorf("findings:\n%s\nwant:\n%s", join(lines), join(want))
	}
}

func join(ss []string) string {
	out := ""
	for _, s := range ss {
		out += "  " + s + "\n"
	}
	return out
}

func TestSlug(t *testing.T) {
	for in, want := range map[string]string{
		"Funnel and deliverability: views and cioevents report": "funnel-and-deliverability-views-and-cioevents-report",
		"HTTP answers (2xx, 4xx, 5xx)":                          "http-answers-2xx-4xx-5xx",
		"Both functions under functions-framework, locally":     "both-functions-under-functions-framework-locally",
		"CIO_PII & hashing":                                     "cio_pii--hashing",
	} {
		if got := Slug(in); got != want {
			t.Errorf("Slug(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestRepositoryDocs is the CI check: every *.md of the repository.
func TestRepositoryDocs(t *testing.T) {
	root := filepath.Join("..", "..", "..")
	files, err := Files(root)
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 2 {
		t.Fatalf("found %v: not the repository root?", files)
	}
	got, err := Check(root)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range got {
		t.Error(f)
	}
}
