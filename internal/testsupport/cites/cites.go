// Package cites finds repository paths that the repository's own text names
// but that do not exist: a doc cited from a Terraform description, a package
// named in a Go comment, a link in a Markdown file. Docs that code cites must
// exist; this is how that stays true.
package cites

import (
	"bufio"
	"bytes"
	"fmt"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
)

// Dangling is a cited path that does not resolve.
type Dangling struct {
	File string // relative to the root
	Line int
	Path string // as written
	Why  string
}

func (d Dangling) String() string {
	return fmt.Sprintf("%s:%d: %s (%s)", d.File, d.Line, d.Path, d.Why)
}

// Extensions that mark a token as a file name even when its first directory
// does not exist (a cited docs/ folder that was never created).
var fileExts = map[string]bool{
	".md": true, ".go": true, ".tf": true, ".tfvars": true, ".tfbackend": true, ".yaml": true,
	".yml": true, ".json": true, ".hcl": true, ".sh": true, ".mod": true, ".sum": true,
}

var (
	url = regexp.MustCompile(`[A-Za-z][A-Za-z0-9+.-]*://[^\s)>\]"'` + "`" + `]*`)
	// A relative path: ./ or ../ steps and a name, or at least two segments.
	multi = regexp.MustCompile(`(?:\.{1,2}/)+[A-Za-z0-9_.-]+(?:/[A-Za-z0-9_.-]+)*/?|[A-Za-z0-9_][A-Za-z0-9_.-]*(?:/[A-Za-z0-9_.-]+)+/?`)
	// A bare Markdown file name, such as README.md.
	single = regexp.MustCompile(`[A-Za-z0-9_][A-Za-z0-9_.-]*\.md\b`)
	// An absolute path to a document, which cannot be part of the repository.
	absolute = regexp.MustCompile(`(?:^|[\s(` + "`" + `'"])(/[A-Za-z0-9_.-]+(?:/[A-Za-z0-9_.-]+)*\.md)\b`)
)

// Find walks root and returns every dangling path cited in *.md, *.tf,
// *.tfvars, *.tfbackend and cloudbuild.yaml files and in Go comments. Fenced
// code blocks in Markdown are commands to type, not citations, and are
// skipped; hidden directories (.git, tool caches) are not walked.
func Find(root string) ([]Dangling, error) {
	var out []Dangling
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		if d.IsDir() {
			if path != root && strings.HasPrefix(name, ".") {
				return filepath.SkipDir
			}
			return nil
		}
		rel, err := filepath.Rel(root, path)
		if err != nil {
			return err
		}
		var lines map[int]string
		switch ext := filepath.Ext(name); {
		case ext == ".go":
			lines, err = goComments(path)
		case ext == ".md":
			lines, err = markdownProse(path)
		case ext == ".tf" || ext == ".tfvars" || ext == ".tfbackend" || name == "cloudbuild.yaml":
			lines, err = allLines(path)
		default:
			return nil
		}
		if err != nil {
			return err
		}
		out = append(out, check(root, rel, lines)...)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("cites: %w", err)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].File != out[j].File {
			return out[i].File < out[j].File
		}
		return out[i].Line < out[j].Line
	})
	return out, nil
}

func check(root, rel string, lines map[int]string) []Dangling {
	var out []Dangling
	dir := filepath.Dir(rel)
	nums := make([]int, 0, len(lines))
	for n := range lines {
		nums = append(nums, n)
	}
	sort.Ints(nums)
	for _, n := range nums {
		text := url.ReplaceAllStringFunc(lines[n], func(s string) string { return strings.Repeat(" ", len(s)) })
		for _, m := range absolute.FindAllStringSubmatch(text, -1) {
			out = append(out, Dangling{rel, n, m[1], "absolute path: cite a file in the repository, relative to it"})
		}
		seen := map[string]bool{}
		for _, loc := range multi.FindAllStringIndex(text, -1) {
			p := text[loc[0]:loc[1]]
			if !cited(text, loc[0], loc[1]) {
				continue
			}
			p = strings.TrimSuffix(strings.TrimSuffix(p, "/..."), "/")
			p = strings.TrimRight(p, ".") // the end of a sentence
			first, _, _ := strings.Cut(strings.TrimLeft(p, "./"), "/")
			looksLikeFile := fileExts[filepath.Ext(p)] || strings.HasPrefix(p, "./") || strings.HasPrefix(p, "../")
			if !looksLikeFile && !exists(root, dir, first) {
				continue // roles/x, projects/P, an import path: not a repository path
			}
			if last := p[strings.LastIndex(p, "/")+1:]; !looksLikeFile && len(last) == 1 {
				continue // a rate such as docs/s
			}
			seen[p] = true
			if !exists(root, dir, p) {
				out = append(out, Dangling{rel, n, p, "no such file or directory"})
			}
		}
		for _, loc := range single.FindAllStringIndex(text, -1) {
			p := text[loc[0]:loc[1]]
			if !cited(text, loc[0], loc[1]) || seen[p] || (loc[0] > 0 && text[loc[0]-1] == '/') {
				continue
			}
			if !exists(root, dir, p) {
				out = append(out, Dangling{rel, n, p, "no such file"})
			}
		}
	}
	return out
}

// cited reports whether text[i:j] stands alone as a path rather than being
// part of a larger token: an interpolation (${path.module}/x), a pattern
// (env/<name>.tfvars, terraform/*.tf), an e-mail or host name.
func cited(text string, i, j int) bool {
	if i > 0 {
		switch c := text[i-1]; {
		case c == '/' || c == '}' || c == '$' || c == '@' || c == '.' || c == '-' || c == '_' || c == ':' || c == '<' || c == '*':
			return false
		case c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9':
			return false
		}
	}
	if j < len(text) {
		switch text[j] {
		case '*', '<', '{', '$', '@', '>':
			return false
		}
	}
	return true
}

// exists resolves p against the citing file's directory and each directory
// above it up to the root (Terraform paths are relative to terraform/, Go
// paths to the module root), and against the testdata folder of each, which
// fixtures are named relative to.
func exists(root, dir, p string) bool {
	for d := dir; ; d = filepath.Dir(d) {
		for _, base := range []string{filepath.Join(root, d), filepath.Join(root, d, "testdata")} {
			if _, err := os.Stat(filepath.Join(base, filepath.FromSlash(p))); err == nil {
				return true
			}
		}
		if d == "." || d == "/" || d == "" {
			return false
		}
	}
}

func allLines(path string) (map[int]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	lines := map[int]string{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(nil, 1<<20)
	for n := 1; sc.Scan(); n++ {
		lines[n] = sc.Text()
	}
	return lines, sc.Err()
}

func markdownProse(path string) (map[int]string, error) {
	all, err := allLines(path)
	if err != nil {
		return nil, err
	}
	prose := map[int]string{}
	fenced := false
	for n := 1; n <= len(all); n++ {
		if strings.HasPrefix(strings.TrimSpace(all[n]), "```") {
			fenced = !fenced
			continue
		}
		if !fenced {
			prose[n] = all[n]
		}
	}
	return prose, nil
}

func goComments(path string) (map[int]string, error) {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, path, nil, parser.ParseComments)
	if err != nil {
		return nil, err
	}
	lines := map[int]string{}
	for _, g := range f.Comments {
		for _, c := range g.List {
			start := fset.Position(c.Pos()).Line
			for k, l := range strings.Split(c.Text, "\n") {
				lines[start+k] += " " + l
			}
		}
	}
	return lines, nil
}
