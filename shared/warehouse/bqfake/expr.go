package bqfake

import (
	"regexp"
	"strings"
	"time"

	"cloud.google.com/go/bigquery"
)

// expr is a parsed WHERE clause of a query job (see jobs.go).
type expr struct {
	eval func(row map[string]any) bool
	// partition lists the TIMESTAMP columns a top-level conjunct bounds
	// from below, which is what lets BigQuery eliminate partitions.
	partition []string
}

func (e *expr) filters(col string) bool {
	for _, c := range e.partition {
		if strings.EqualFold(c, col) {
			return true
		}
	}
	return false
}

var tokenRE = regexp.MustCompile(`\s*(@[A-Za-z_][A-Za-z0-9_]*|'[^']*'|[A-Za-z_][A-Za-z0-9_]*|>=|<=|[()<>=,*]|[0-9]+)`)

type exprParser struct {
	toks   []string
	i      int
	fields map[string]*bigquery.FieldSchema
	params map[string]param
	err    *jobError
}

func parseExpr(s string, fields map[string]*bigquery.FieldSchema, params map[string]param) (*expr, *jobError) {
	p := &exprParser{fields: fields, params: params}
	rest := s
	for strings.TrimSpace(rest) != "" {
		m := tokenRE.FindStringSubmatchIndex(rest)
		if m == nil || m[0] != 0 {
			return nil, unsupported("cannot read %q", strings.TrimSpace(rest))
		}
		p.toks = append(p.toks, rest[m[2]:m[3]])
		rest = rest[m[1]:]
	}
	e := &expr{}
	f := p.or(e, true)
	if p.err == nil && p.i < len(p.toks) {
		p.fail("unexpected %q", p.toks[p.i])
	}
	if p.err != nil {
		return nil, p.err
	}
	e.eval = f
	return e, nil
}

func (p *exprParser) fail(format string, a ...any) {
	if p.err == nil {
		p.err = unsupported(format, a...)
	}
}

func (p *exprParser) peek() string {
	if p.i < len(p.toks) {
		return p.toks[p.i]
	}
	return ""
}

func (p *exprParser) is(word string) bool { return strings.EqualFold(p.peek(), word) }

func (p *exprParser) expect(word string) {
	if !p.is(word) {
		p.fail("expected %s at %q", word, p.peek())
		return
	}
	p.i++
}

type pred = func(map[string]any) bool

func never(map[string]any) bool { return false }

// or parses a disjunction; top is whether it is the whole clause (its
// conjuncts then count for partition elimination).
func (p *exprParser) or(e *expr, top bool) pred {
	terms := []pred{p.and(e, top)}
	for p.err == nil && p.is("OR") {
		p.i++
		terms = append(terms, p.and(e, false))
	}
	if len(terms) > 1 && top {
		e.partition = nil // a disjunction bounds nothing
	}
	return func(r map[string]any) bool {
		for _, t := range terms {
			if t(r) {
				return true
			}
		}
		return false
	}
}

func (p *exprParser) and(e *expr, top bool) pred {
	terms := []pred{p.not(e, top)}
	for p.err == nil && p.is("AND") {
		p.i++
		terms = append(terms, p.not(e, top))
	}
	return func(r map[string]any) bool {
		for _, t := range terms {
			if !t(r) {
				return false
			}
		}
		return true
	}
}

func (p *exprParser) not(e *expr, top bool) pred {
	if p.is("NOT") {
		p.i++
		inner := p.not(e, false)
		return func(r map[string]any) bool { return !inner(r) }
	}
	if p.is("(") {
		p.i++
		inner := p.or(e, false)
		p.expect(")")
		return inner
	}
	return p.atom(e, top)
}

// column reads a column name and returns its schema.
func (p *exprParser) column() *bigquery.FieldSchema {
	name := p.peek()
	p.i++
	f := p.fields[strings.ToLower(name)]
	if f == nil {
		if p.err == nil {
			p.err = &jobError{"invalidQuery", "Unrecognized name: " + name}
		}
		return &bigquery.FieldSchema{Name: name}
	}
	return f
}

// text parses col, LOWER(text) or TRIM(text): a STRING value of the row.
func (p *exprParser) text() func(map[string]any) (string, bool) {
	for _, fn := range []struct {
		name string
		f    func(string) string
	}{{"LOWER", strings.ToLower}, {"TRIM", strings.TrimSpace}} {
		if p.is(fn.name) {
			p.i++
			p.expect("(")
			inner := p.text()
			p.expect(")")
			return func(r map[string]any) (string, bool) {
				v, ok := inner(r)
				return fn.f(v), ok
			}
		}
	}
	f := p.column()
	if f.Type != bigquery.StringFieldType {
		p.fail("string functions on %s columns are not supported", f.Type)
	}
	return func(r map[string]any) (string, bool) {
		v, ok := r[f.Name].(string)
		return v, ok
	}
}

func (p *exprParser) param(typ string) param {
	name := strings.TrimPrefix(p.peek(), "@")
	if !strings.HasPrefix(p.peek(), "@") {
		p.fail("expected a parameter at %q", p.peek())
	}
	p.i++
	v, ok := p.params[name]
	if !ok {
		if p.err == nil {
			p.err = &jobError{"invalidQuery", "Query parameter '" + name + "' not found"}
		}
		return param{}
	}
	if v.typ != typ {
		p.fail("parameter %s is %s, want %s", name, v.typ, typ)
	}
	return v
}

func (p *exprParser) atom(e *expr, top bool) pred {
	if p.is("STRPOS") {
		p.i++
		p.expect("(")
		val := p.text()
		p.expect(",")
		needle := p.param("STRING").s
		p.expect(")")
		p.expect(">")
		p.expect("0")
		return func(r map[string]any) bool {
			v, ok := val(r)
			return ok && strings.Contains(v, needle)
		}
	}
	if p.is("LOWER") || p.is("TRIM") {
		val := p.text()
		return p.in(val)
	}
	start := p.i
	f := p.column()
	switch {
	case p.is("IS"):
		p.i++
		not := false
		if p.is("NOT") {
			p.i++
			not = true
		}
		p.expect("NULL")
		return func(r map[string]any) bool { return (r[f.Name] == nil) != not }
	case p.is("IN"):
		p.i = start
		return p.in(p.text())
	case p.is("="):
		p.i++
		want := p.param("STRING").s
		return func(r map[string]any) bool { v, ok := r[f.Name].(string); return ok && v == want }
	case p.is(">=") || p.is("<"):
		op := p.peek()
		p.i++
		if f.Type != bigquery.TimestampFieldType {
			p.fail("%s is supported on TIMESTAMP columns only", op)
			return never
		}
		var bound time.Time
		if p.is("TIMESTAMP") {
			p.i++
			lit := strings.Trim(p.peek(), "'")
			p.i++
			t, ok := parseTimestamp(lit)
			if !ok {
				t, ok = parseTimestamp(lit + ":00")
			}
			if !ok {
				p.fail("cannot read TIMESTAMP %q", lit)
			}
			bound = t
		} else {
			bound = p.param("TIMESTAMP").t
		}
		if op == ">=" && top {
			e.partition = append(e.partition, f.Name)
		}
		return func(r map[string]any) bool {
			t, ok := timestampOf(r[f.Name])
			if !ok {
				return false
			}
			if op == ">=" {
				return !t.Before(bound)
			}
			return t.Before(bound)
		}
	}
	p.fail("unsupported condition at %q", p.peek())
	return never
}

func (p *exprParser) in(val func(map[string]any) (string, bool)) pred {
	p.expect("IN")
	p.expect("UNNEST")
	p.expect("(")
	list := p.param("ARRAY").list
	p.expect(")")
	return func(r map[string]any) bool {
		v, ok := val(r)
		if !ok {
			return false
		}
		for _, w := range list {
			if v == w {
				return true
			}
		}
		return false
	}
}
