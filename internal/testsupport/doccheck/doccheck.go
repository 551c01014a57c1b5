// Package doccheck finds what breaks in the repository's Markdown as GitHub
// renders it (CommonMark with the GFM extensions, parsed by goldmark): a
// relative link to a file or anchor that does not exist, a table broken by a
// missing or an extra blank line, heading levels that skip or restart.
package doccheck

import (
	"bytes"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"unicode"

	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/ast"
	"github.com/yuin/goldmark/extension"
	east "github.com/yuin/goldmark/extension/ast"
	"github.com/yuin/goldmark/parser"
	"github.com/yuin/goldmark/text"
)

// Finding is one problem, at a line of a file (relative to the root).
type Finding struct {
	File   string
	Line   int
	Reason string
}

func (f Finding) String() string { return fmt.Sprintf("%s:%d: %s", f.File, f.Line, f.Reason) }

// skipDir names directories that hold no documentation of the repository:
// tools, caches, local state and what Terraform downloads.
func skipDir(name string) bool {
	return name != "." && (strings.HasPrefix(name, ".") || name == "node_modules")
}

// Files lists the *.md files under root, relative, sorted, leaving out the
// directories skip names (relative to root).
func Files(root string, skip ...string) ([]string, error) {
	var out []string
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if path != root && skipDir(d.Name()) {
				return filepath.SkipDir
			}
			for _, s := range skip {
				if path == filepath.Join(root, filepath.FromSlash(s)) {
					return filepath.SkipDir
				}
			}
			return nil
		}
		if strings.HasSuffix(d.Name(), ".md") {
			rel, err := filepath.Rel(root, path)
			if err != nil {
				return err
			}
			out = append(out, filepath.ToSlash(rel))
		}
		return nil
	})
	sort.Strings(out)
	return out, err
}

var md = goldmark.New(goldmark.WithExtensions(extension.GFM), goldmark.WithParserOptions(parser.WithAttribute()))

// doc is one parsed file.
type doc struct {
	src     []byte
	root    ast.Node
	anchors map[string]bool
}

// Check parses every *.md file under root (but those under skip) and
// returns the findings, ordered by file and line.
func Check(root string, skip ...string) ([]Finding, error) {
	files, err := Files(root, skip...)
	if err != nil {
		return nil, err
	}
	docs := map[string]*doc{}
	for _, f := range files {
		src, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(f)))
		if err != nil {
			return nil, err
		}
		d := &doc{src: src, root: md.Parser().Parse(text.NewReader(src))}
		d.anchors = anchors(d)
		docs[f] = d
	}
	var out []Finding
	for _, f := range files {
		d := docs[f]
		add := func(n ast.Node, format string, args ...any) {
			out = append(out, Finding{File: f, Line: lineOf(d.src, n), Reason: fmt.Sprintf(format, args...)})
		}
		out = append(out, headings(f, d)...)
		ast.Walk(d.root, func(n ast.Node, entering bool) (ast.WalkStatus, error) {
			if !entering {
				return ast.WalkContinue, nil
			}
			switch n := n.(type) {
			case *ast.Link:
				checkLink(root, f, string(n.Destination), docs, func(r string) { add(n, "%s", r) })
			case *ast.Image:
				checkLink(root, f, string(n.Destination), docs, func(r string) { add(n, "%s", r) })
			case *east.Table:
				tableRows(d, n, add)
			case *ast.Paragraph:
				if first := firstLine(d.src, n); looksLikeRow(first) {
					add(n, "table row outside a table: a blank line splits the table, or its header and delimiter rows are missing")
				}
			}
			return ast.WalkContinue, nil
		})
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].File != out[j].File {
			return out[i].File < out[j].File
		}
		return out[i].Line < out[j].Line
	})
	return out, nil
}

var scheme = regexp.MustCompile(`^[a-zA-Z][a-zA-Z0-9+.-]*:`)

// checkLink reports a relative destination whose file or anchor is missing.
func checkLink(root, from, dest string, docs map[string]*doc, report func(string)) {
	if dest == "" || scheme.MatchString(dest) || strings.HasPrefix(dest, "//") {
		return
	}
	path, frag, _ := strings.Cut(dest, "#")
	if p, err := url.PathUnescape(path); err == nil {
		path = p
	}
	path, _, _ = strings.Cut(path, "?")
	target := from
	if path != "" {
		if strings.HasPrefix(path, "/") {
			target = strings.TrimPrefix(path, "/")
		} else {
			target = filepath.ToSlash(filepath.Join(filepath.Dir(from), path))
		}
		if strings.HasPrefix(target, "../") {
			report(fmt.Sprintf("link %q leaves the repository", dest))
			return
		}
		if _, err := os.Stat(filepath.Join(root, filepath.FromSlash(target))); err != nil {
			report(fmt.Sprintf("link %q: no file %s", dest, target))
			return
		}
	}
	if frag == "" {
		return
	}
	d, ok := docs[target]
	if !ok {
		return // an anchor into a non-Markdown file (a line of code) is GitHub's business
	}
	if !d.anchors[strings.ToLower(frag)] {
		report(fmt.Sprintf("link %q: %s has no heading or anchor #%s", dest, target, frag))
	}
}

var htmlAnchor = regexp.MustCompile(`<a\s[^>]*(?:id|name)="([^"]+)"`)

// anchors lists what #fragment can name in d: GitHub's heading slugs and
// the ids of HTML anchors.
func anchors(d *doc) map[string]bool {
	out := map[string]bool{}
	seen := map[string]int{}
	ast.Walk(d.root, func(n ast.Node, entering bool) (ast.WalkStatus, error) {
		if h, ok := n.(*ast.Heading); ok && entering {
			s := Slug(plain(d.src, h))
			if k := seen[s]; k > 0 {
				out[fmt.Sprintf("%s-%d", s, k)] = true
			} else {
				out[s] = true
			}
			seen[s]++
			return ast.WalkSkipChildren, nil
		}
		return ast.WalkContinue, nil
	})
	for _, m := range htmlAnchor.FindAllSubmatch(d.src, -1) {
		out[strings.ToLower(string(m[1]))] = true
	}
	return out
}

// Slug is the anchor GitHub gives a heading: lower-cased, punctuation
// other than - and _ dropped, each space a hyphen.
func Slug(heading string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(strings.TrimSpace(heading)) {
		switch {
		case r == ' ':
			b.WriteRune('-')
		case r == '-' || r == '_' || unicode.IsLetter(r) || unicode.IsNumber(r) || unicode.Is(unicode.M, r):
			b.WriteRune(r)
		}
	}
	return b.String()
}

// plain is the text of n as GitHub slugs it: text and code spans, without
// the markup.
func plain(src []byte, n ast.Node) string {
	var b bytes.Buffer
	ast.Walk(n, func(c ast.Node, entering bool) (ast.WalkStatus, error) {
		if !entering {
			return ast.WalkContinue, nil
		}
		switch c := c.(type) {
		case *ast.Text:
			b.Write(c.Segment.Value(src))
			if c.SoftLineBreak() {
				b.WriteByte(' ')
			}
		case *ast.String:
			b.Write(c.Value)
		case *ast.RawHTML:
			return ast.WalkSkipChildren, nil
		}
		return ast.WalkContinue, nil
	})
	return b.String()
}

// headings checks that a file has one level-1 heading, first, and that no
// heading goes more than one level deeper than the one before it.
func headings(file string, d *doc) []Finding {
	var out []Finding
	prev, h1 := 0, 0
	ast.Walk(d.root, func(n ast.Node, entering bool) (ast.WalkStatus, error) {
		h, ok := n.(*ast.Heading)
		if !ok || !entering {
			return ast.WalkContinue, nil
		}
		line := lineOf(d.src, h)
		title := plain(d.src, h)
		switch {
		case prev == 0 && h.Level != 1:
			out = append(out, Finding{file, line, fmt.Sprintf("the first heading %q is level %d, want a level-1 title", title, h.Level)})
		case h.Level == 1 && h1 > 0:
			out = append(out, Finding{file, line, fmt.Sprintf("a second level-1 heading %q: a file has one title", title)})
		case prev > 0 && h.Level > prev+1:
			out = append(out, Finding{file, line, fmt.Sprintf("heading %q is level %d right under level %d: a level skipped", title, h.Level, prev)})
		}
		if h.Level == 1 {
			h1++
		}
		prev = h.Level
		return ast.WalkSkipChildren, nil
	})
	return out
}

// tableRows reports body rows written without a leading pipe under a header
// written with one: a sentence that the table swallowed because no blank
// line separates them.
func tableRows(d *doc, t *east.Table, add func(ast.Node, string, ...any)) {
	headerPiped := false
	for c := t.FirstChild(); c != nil; c = c.NextSibling() {
		line := lineText(d.src, lineOf(d.src, c))
		if _, ok := c.(*east.TableHeader); ok {
			headerPiped = strings.HasPrefix(strings.TrimSpace(line), "|")
			continue
		}
		if headerPiped && firstText(c) != nil && !strings.HasPrefix(strings.TrimSpace(line), "|") {
			add(c, "text swallowed into the table above as a row: put a blank line between the table and %q", clip(strings.TrimSpace(line)))
		}
	}
}

func clip(s string) string {
	if r := []rune(s); len(r) > 40 {
		return string(r[:40]) + "…"
	}
	return s
}

func looksLikeRow(line string) bool {
	l := strings.TrimSpace(line)
	return strings.HasPrefix(l, "|") && strings.HasSuffix(l, "|") && strings.Count(l, "|") >= 3
}

func firstLine(src []byte, n ast.Node) string {
	if n.Lines().Len() == 0 {
		return ""
	}
	s := n.Lines().At(0)
	return string(src[lineStart(src, s.Start):s.Stop])
}

// firstText is the first text node under n, nil if none.
func firstText(n ast.Node) *ast.Text {
	var out *ast.Text
	ast.Walk(n, func(c ast.Node, entering bool) (ast.WalkStatus, error) {
		if t, ok := c.(*ast.Text); ok && entering && out == nil {
			out = t
			return ast.WalkStop, nil
		}
		return ast.WalkContinue, nil
	})
	return out
}

// offset is a byte of the source that n (or its nearest block) covers.
func offset(n ast.Node) int {
	if t := firstText(n); t != nil {
		return t.Segment.Start
	}
	for p := n; p != nil; p = p.Parent() {
		if p.Type() == ast.TypeBlock && p.Lines().Len() > 0 {
			return p.Lines().At(0).Start
		}
	}
	return 0
}

func lineOf(src []byte, n ast.Node) int {
	return bytes.Count(src[:offset(n)], []byte("\n")) + 1
}

func lineStart(src []byte, off int) int {
	return bytes.LastIndexByte(src[:off], '\n') + 1
}

func lineText(src []byte, line int) string {
	lines := strings.Split(string(src), "\n")
	if line-1 < len(lines) {
		return lines[line-1]
	}
	return ""
}
