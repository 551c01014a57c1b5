// Package logfilter evaluates the subset of the Cloud Logging query language
// (and of the Cloud Monitoring filter syntax, which shares its shape) that
// terraform/modules/cioevents/monitoring.tf uses, so tests can check each log-based metric and
// alert filter against the log lines the code really writes.
//
// Supported: comparisons `path OP value` with OP one of = != : =~ !~ < <= >
// >=, the presence test `path:*`, AND, OR, NOT (and a leading -), implicit
// AND between juxtaposed terms, parentheses, and the Monitoring value
// functions one_of, starts_with, ends_with, has_substring and
// monitoring.regex.full_match, and the Logging function sample(path,
// fraction) (see sampleNode). As in Cloud Logging, OR binds tighter than
// AND. Anything else is a parse error, so a filter this package cannot read
// fails the test instead of matching by accident.
package logfilter

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode"
)

// ErrSyntax wraps every parse error.
var ErrSyntax = errors.New("logfilter: syntax error")

// Filter is a parsed filter.
type Filter struct {
	src  string
	root node
}

// Parse reads a filter.
func Parse(src string) (*Filter, error) {
	toks, err := lex(src)
	if err != nil {
		return nil, err
	}
	p := &parser{toks: toks}
	root, err := p.and()
	if err != nil {
		return nil, err
	}
	if p.pos != len(p.toks) {
		return nil, fmt.Errorf("%w: unexpected %q in %q", ErrSyntax, p.toks[p.pos].text, src)
	}
	return &Filter{src: src, root: root}, nil
}

// String returns the filter as written.
func (f *Filter) String() string { return f.src }

// Match reports whether entry (a decoded JSON object: a LogEntry, or a time
// series as {"metric": {...}, "resource": {...}}) satisfies the filter.
func (f *Filter) Match(entry map[string]any) bool { return f.root.eval(entry) }

// Fields returns the paths the filter compares, sorted and without repeats.
func (f *Filter) Fields() []string {
	var out []string
	f.root.fields(&out)
	slices.Sort(out)
	return slices.Compact(out)
}

// Lookup returns the value at a dotted path of entry.
func Lookup(entry map[string]any, path string) (any, bool) {
	var cur any = entry
	for _, part := range strings.Split(path, ".") {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		if cur, ok = m[part]; !ok {
			return nil, false
		}
	}
	return cur, true
}

// --- evaluation -------------------------------------------------------------

type node interface {
	eval(map[string]any) bool
	fields(*[]string)
}

type andNode []node
type orNode []node
type notNode struct{ n node }

func (a andNode) eval(e map[string]any) bool {
	for _, n := range a {
		if !n.eval(e) {
			return false
		}
	}
	return true
}

func (o orNode) eval(e map[string]any) bool {
	for _, n := range o {
		if n.eval(e) {
			return true
		}
	}
	return false
}

func (n notNode) eval(e map[string]any) bool { return !n.n.eval(e) }

func (a andNode) fields(out *[]string) {
	for _, n := range a {
		n.fields(out)
	}
}

func (o orNode) fields(out *[]string) {
	for _, n := range o {
		n.fields(out)
	}
}

func (n notNode) fields(out *[]string) { n.n.fields(out) }

type cmpNode struct {
	path string
	op   string
	// value is the literal; fn and args are set for a function value.
	value string
	fn    string
	args  []string
	re    *regexp.Regexp
}

func (c *cmpNode) fields(out *[]string) { *out = append(*out, c.path) }

var severities = []string{"DEFAULT", "DEBUG", "INFO", "NOTICE", "WARNING", "ERROR", "CRITICAL", "ALERT", "EMERGENCY"}

func (c *cmpNode) eval(e map[string]any) bool {
	v, ok := Lookup(e, c.path)
	if c.op == ":" && c.value == "*" && c.fn == "" {
		return ok
	}
	if c.op == "!=" || c.op == "!~" {
		// A missing field is "not equal", as in Cloud Logging.
		return !ok || !c.test(v)
	}
	return ok && c.test(v)
}

// test applies a positive operator (= : =~ ordering; != and !~ negate =, =~).
func (c *cmpNode) test(v any) bool {
	got := text(v)
	if c.fn != "" {
		return c.call(got)
	}
	switch c.op {
	case "=", "!=":
		if f, ok := v.(float64); ok {
			n, err := strconv.ParseFloat(c.value, 64)
			return err == nil && n == f
		}
		return got == c.value
	case ":":
		if _, ok := v.(float64); ok {
			return got == c.value
		}
		return strings.Contains(strings.ToLower(got), strings.ToLower(c.value))
	case "=~", "!~":
		return c.re.MatchString(got)
	}
	// Ordering: severities by rank, numbers by value, else as text.
	var cmp int
	if c.path == "severity" {
		cmp = slices.Index(severities, strings.ToUpper(got)) - slices.Index(severities, strings.ToUpper(c.value))
	} else if f, ok := v.(float64); ok {
		n, err := strconv.ParseFloat(c.value, 64)
		if err != nil {
			return false
		}
		cmp = map[bool]int{true: -1, false: 1}[f < n]
		if f == n {
			cmp = 0
		}
	} else {
		cmp = strings.Compare(got, c.value)
	}
	switch c.op {
	case "<":
		return cmp < 0
	case "<=":
		return cmp <= 0
	case ">":
		return cmp > 0
	default: // ">="
		return cmp >= 0
	}
}

func (c *cmpNode) call(got string) bool {
	switch c.fn {
	case "one_of":
		return slices.Contains(c.args, got)
	case "starts_with":
		return strings.HasPrefix(got, c.args[0])
	case "ends_with":
		return strings.HasSuffix(got, c.args[0])
	case "has_substring":
		return strings.Contains(got, c.args[0])
	default: // monitoring.regex.full_match
		return c.re.MatchString(got)
	}
}

// text renders a JSON value as Cloud Logging compares it.
func text(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case bool:
		return strconv.FormatBool(x)
	case nil:
		return ""
	default:
		return fmt.Sprint(x)
	}
}

// --- lexing -------------------------------------------------------------------

type tokKind int

const (
	tWord tokKind = iota // path, keyword, bare value
	tString
	tOp
	tLParen
	tRParen
	tComma
)

type token struct {
	kind tokKind
	text string
}

func lex(src string) ([]token, error) {
	var toks []token
	rs := []rune(src)
	for i := 0; i < len(rs); {
		r := rs[i]
		switch {
		case unicode.IsSpace(r):
			i++
		case r == '(':
			toks = append(toks, token{tLParen, "("})
			i++
		case r == ')':
			toks = append(toks, token{tRParen, ")"})
			i++
		case r == ',':
			toks = append(toks, token{tComma, ","})
			i++
		case r == '"':
			var b strings.Builder
			j := i + 1
			for ; j < len(rs) && rs[j] != '"'; j++ {
				if rs[j] == '\\' && j+1 < len(rs) {
					j++
				}
				b.WriteRune(rs[j])
			}
			if j >= len(rs) {
				return nil, fmt.Errorf("%w: unterminated string in %q", ErrSyntax, src)
			}
			toks = append(toks, token{tString, b.String()})
			i = j + 1
		case strings.ContainsRune("=!:<>~", r):
			op := string(r)
			if i+1 < len(rs) && strings.ContainsRune("=~", rs[i+1]) && r != ':' {
				op += string(rs[i+1])
			}
			switch op {
			case "=", "!=", ":", "=~", "!~", "<", "<=", ">", ">=":
			default:
				return nil, fmt.Errorf("%w: operator %q in %q", ErrSyntax, op, src)
			}
			toks = append(toks, token{tOp, op})
			i += len([]rune(op))
		case r == '-' && (len(toks) == 0 || toks[len(toks)-1].kind != tOp):
			toks = append(toks, token{tWord, "NOT"})
			i++
		default:
			j := i
			for j < len(rs) && !unicode.IsSpace(rs[j]) && !strings.ContainsRune(`()",=!:<>~`, rs[j]) {
				j++
			}
			toks = append(toks, token{tWord, string(rs[i:j])})
			i = j
		}
	}
	return toks, nil
}

// --- parsing --------------------------------------------------------------------

type parser struct {
	toks []token
	pos  int
}

func (p *parser) peek() (token, bool) {
	if p.pos < len(p.toks) {
		return p.toks[p.pos], true
	}
	return token{}, false
}

func (p *parser) next() (token, error) {
	t, ok := p.peek()
	if !ok {
		return t, fmt.Errorf("%w: unexpected end", ErrSyntax)
	}
	p.pos++
	return t, nil
}

func (p *parser) and() (node, error) {
	var terms andNode
	for {
		t, ok := p.peek()
		if !ok || t.kind == tRParen {
			break
		}
		if t.kind == tWord && t.text == "AND" {
			if len(terms) == 0 {
				return nil, fmt.Errorf("%w: AND without a left side", ErrSyntax)
			}
			p.pos++
			continue
		}
		n, err := p.or()
		if err != nil {
			return nil, err
		}
		terms = append(terms, n)
	}
	if len(terms) == 0 {
		return nil, fmt.Errorf("%w: empty expression", ErrSyntax)
	}
	if len(terms) == 1 {
		return terms[0], nil
	}
	return terms, nil
}

func (p *parser) or() (node, error) {
	first, err := p.unary()
	if err != nil {
		return nil, err
	}
	terms := orNode{first}
	for {
		t, ok := p.peek()
		if !ok || t.kind != tWord || t.text != "OR" {
			break
		}
		p.pos++
		n, err := p.unary()
		if err != nil {
			return nil, err
		}
		terms = append(terms, n)
	}
	if len(terms) == 1 {
		return first, nil
	}
	return terms, nil
}

func (p *parser) unary() (node, error) {
	t, err := p.next()
	if err != nil {
		return nil, err
	}
	switch {
	case t.kind == tWord && t.text == "NOT":
		n, err := p.unary()
		return notNode{n}, err
	case t.kind == tLParen:
		n, err := p.and()
		if err != nil {
			return nil, err
		}
		if t, err := p.next(); err != nil || t.kind != tRParen {
			return nil, fmt.Errorf("%w: missing )", ErrSyntax)
		}
		return n, nil
	case t.kind == tWord && t.text == "sample":
		if nt, ok := p.peek(); ok && nt.kind == tLParen {
			return p.sample()
		}
		return p.comparison(t.text)
	case t.kind == tWord && t.text != "AND" && t.text != "OR":
		return p.comparison(t.text)
	}
	return nil, fmt.Errorf("%w: unexpected %q", ErrSyntax, t.text)
}

func (p *parser) comparison(path string) (node, error) {
	op, err := p.next()
	if err != nil || op.kind != tOp {
		// A bare word is a global text search in Cloud Logging: not in
		// the subset, and never what a metric filter should do.
		return nil, fmt.Errorf("%w: %q is not followed by an operator", ErrSyntax, path)
	}
	c := &cmpNode{path: path, op: op.text}
	v, err := p.next()
	if err != nil {
		return nil, err
	}
	switch v.kind {
	case tString:
		c.value = v.text
	case tWord:
		if nt, ok := p.peek(); ok && nt.kind == tLParen {
			if err := p.function(c, v.text); err != nil {
				return nil, err
			}
			break
		}
		c.value = v.text
	default:
		return nil, fmt.Errorf("%w: %s %s needs a value", ErrSyntax, path, op.text)
	}
	if c.op == "=~" || c.op == "!~" || c.fn == "monitoring.regex.full_match" {
		pattern := c.value
		if c.fn != "" {
			pattern = "^(?:" + c.args[0] + ")$"
		}
		re, err := regexp.Compile(pattern)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrSyntax, err)
		}
		c.re = re
	}
	return c, nil
}

func (p *parser) function(c *cmpNode, name string) error {
	switch name {
	case "one_of", "starts_with", "ends_with", "has_substring", "monitoring.regex.full_match":
	default:
		return fmt.Errorf("%w: function %s is not supported", ErrSyntax, name)
	}
	if c.op != "=" {
		return fmt.Errorf("%w: %s must follow =", ErrSyntax, name)
	}
	p.pos++ // (
	for {
		t, err := p.next()
		if err != nil {
			return err
		}
		if t.kind != tString {
			return fmt.Errorf("%w: %s takes quoted strings", ErrSyntax, name)
		}
		c.args = append(c.args, t.text)
		if t, err = p.next(); err != nil {
			return err
		}
		if t.kind == tRParen {
			break
		}
		if t.kind != tComma {
			return fmt.Errorf("%w: %s arguments", ErrSyntax, name)
		}
	}
	if name != "one_of" && len(c.args) != 1 {
		return fmt.Errorf("%w: %s takes one argument", ErrSyntax, name)
	}
	c.fn = name
	return nil
}

// sampleNode is sample(path, fraction): true for a deterministic fraction of
// the values of path, false when the entry lacks it. Cloud Logging documents
// that the field's value alone decides whether an entry is in the sample;
// its hash is its own, so this one (SHA-256) shares its properties — same
// value, same answer, in any line and any filter with the same fraction —
// not its choices.
type sampleNode struct {
	path     string
	fraction float64
}

func (s sampleNode) eval(e map[string]any) bool {
	v, ok := Lookup(e, s.path)
	if !ok {
		return false
	}
	return SampleFraction(text(v)) < s.fraction
}

func (s sampleNode) fields(out *[]string) { *out = append(*out, s.path) }

// SampleFraction maps a value to [0, 1); sample(path, f) selects the values
// below f.
func SampleFraction(value string) float64 {
	sum := sha256.Sum256([]byte(value))
	return float64(binary.BigEndian.Uint64(sum[:8])>>11) / (1 << 53)
}

func (p *parser) sample() (node, error) {
	p.pos++ // (
	path, err := p.next()
	if err != nil || path.kind != tWord {
		return nil, fmt.Errorf("%w: sample takes a field path first", ErrSyntax)
	}
	if t, err := p.next(); err != nil || t.kind != tComma {
		return nil, fmt.Errorf("%w: sample(%s, fraction)", ErrSyntax, path.text)
	}
	num, err := p.next()
	if err != nil || num.kind != tWord {
		return nil, fmt.Errorf("%w: sample needs a fraction", ErrSyntax)
	}
	f, perr := strconv.ParseFloat(num.text, 64)
	if perr != nil || f < 0 || f > 1 {
		return nil, fmt.Errorf("%w: sample fraction %q is not between 0 and 1", ErrSyntax, num.text)
	}
	if t, err := p.next(); err != nil || t.kind != tRParen {
		return nil, fmt.Errorf("%w: sample(%s, %s) needs a )", ErrSyntax, path.text, num.text)
	}
	return sampleNode{path: path.text, fraction: f}, nil
}
