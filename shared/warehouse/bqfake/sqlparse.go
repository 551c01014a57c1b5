package bqfake

import (
	"fmt"
	"strconv"
	"strings"
	"unicode"
)

// The fake also evaluates the GoogleSQL that cmd/cioevents/internal/funnel
// generates (the deliveries model, its MERGE, the daily views and the report
// queries): a parser (this file) and an evaluator (sqleval.go) for that
// subset. It is the subset those generators emit, not GoogleSQL: a query
// outside it fails with "bqfake: ...", never a wrong answer.
//
//	SELECT [DISTINCT] item, ... FROM from [[LEFT] JOIN from ON cond]
//	  [WHERE cond] [GROUP BY expr, ...] [HAVING cond] [ORDER BY expr [DESC], ...] [LIMIT n]
//	item: expr [AS alias] | [q.]* [EXCEPT (col, ...)]
//	from: `project.dataset.table` [[AS] alias] | (SELECT ...) [[AS] alias]
//	MERGE `t` [AS] T USING (SELECT ...) [AS] S ON cond
//	  WHEN MATCHED THEN UPDATE SET col = expr, ...
//	  WHEN NOT MATCHED THEN INSERT ROW | INSERT (col, ...) VALUES (expr, ...)
//	UPDATE `t` SET col = expr, ... WHERE cond
//
// Expressions: literals ('s', r's', 1, 1.5, TRUE, FALSE, NULL), columns
// (a.b), @params, AND OR NOT, = != <> < <= > >=, + - * /, IS [NOT] NULL|TRUE,
// [NOT] IN (list | SELECT), [NOT] LIKE, CASE WHEN, CAST(x AS type),
// INTERVAL n DAY, x[SAFE_OFFSET(n)], the functions in sqleval.go, aggregates
// (COUNT, COUNTIF, SUM, MIN, MAX, LOGICAL_OR, ARRAY_AGG(x [IGNORE NULLS]
// [ORDER BY ...] [LIMIT n])) and ROW_NUMBER() OVER (PARTITION BY ... ORDER BY ...).

type tok struct {
	kind byte // 'i' ident, 'q' quoted ident, 's' string, 'n' number, 'p' param, 'o' operator
	text string
}

func lex(src string) ([]tok, error) {
	var out []tok
	i := 0
	for i < len(src) {
		c := src[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '-' && i+1 < len(src) && src[i+1] == '-':
			for i < len(src) && src[i] != '\n' {
				i++
			}
		case c == '`':
			j := strings.IndexByte(src[i+1:], '`')
			if j < 0 {
				return nil, fmt.Errorf("unclosed `")
			}
			out = append(out, tok{'q', src[i+1 : i+1+j]})
			i += j + 2
		case c == '\'' || c == '"' || ((c == 'r' || c == 'R') && i+1 < len(src) && (src[i+1] == '\'' || src[i+1] == '"')):
			raw := c == 'r' || c == 'R'
			if raw {
				i++
			}
			q := src[i]
			var b strings.Builder
			j := i + 1
			for ; j < len(src) && src[j] != q; j++ {
				if src[j] == '\\' && !raw && j+1 < len(src) {
					j++
				}
				b.WriteByte(src[j])
			}
			if j >= len(src) {
				return nil, fmt.Errorf("unclosed string")
			}
			out = append(out, tok{'s', b.String()})
			i = j + 1
		case c == '@':
			j := i + 1
			for j < len(src) && (isWord(src[j])) {
				j++
			}
			out = append(out, tok{'p', src[i+1 : j]})
			i = j
		case c >= '0' && c <= '9':
			j := i
			for j < len(src) && (src[j] >= '0' && src[j] <= '9' || src[j] == '.') {
				j++
			}
			out = append(out, tok{'n', src[i:j]})
			i = j
		case isWord(c):
			j := i
			for j < len(src) && isWord(src[j]) {
				j++
			}
			out = append(out, tok{'i', src[i:j]})
			i = j
		default:
			for _, op := range []string{"<=", ">=", "!=", "<>", "||"} {
				if strings.HasPrefix(src[i:], op) {
					out = append(out, tok{'o', op})
					i += 2
					goto next
				}
			}
			if !strings.ContainsRune("()[],.=<>+-*/;", rune(c)) {
				return nil, fmt.Errorf("cannot read %q", src[i:min(len(src), i+10)])
			}
			out = append(out, tok{'o', string(c)})
			i++
		next:
		}
	}
	return out, nil
}

func isWord(c byte) bool {
	return c == '_' || c < 128 && (unicode.IsLetter(rune(c)) || unicode.IsDigit(rune(c)))
}

// node is an expression.
type node struct {
	op   string // lit col param call case bin not neg isnull istrue in like index cast interval star
	val  any
	name string // column name, function name, operator, cast type, interval unit
	qual string // column qualifier
	args []*node
	neg  bool // NOT (IS NOT NULL, NOT IN, NOT LIKE)
	// call details
	distinct, ignoreNulls bool
	orderBy               []order
	limit                 int
	partition             []*node // OVER (PARTITION BY ...)
	over                  bool
	sub                   *selectStmt
	// case: args are cond, value pairs; els the ELSE
	els *node
}

type order struct {
	e    *node
	desc bool
}

type selItem struct {
	e      *node
	alias  string
	star   bool
	qual   string // q.* selects the columns of q alone
	except []string
}

type fromItem struct {
	table string
	sub   *selectStmt
	alias string
}

type join struct {
	left bool
	item fromItem
	on   *node
}

type selectStmt struct {
	distinct bool
	items    []selItem
	from     *fromItem
	joins    []join
	where    *node
	groupBy  []*node
	having   *node
	orderBy  []order
	limit    int
}

type assign struct {
	col string
	e   *node
}

type mergeStmt struct {
	target, tAlias string
	source         fromItem
	on             *node
	set            []assign
	insertRow      bool
	insertCols     []string
	insertVals     []*node
	hasMatched     bool
	hasNotMatched  bool
}

type updateStmt struct {
	target string
	set    []assign
	where  *node
}

type parser struct {
	t   []tok
	i   int
	err error
}

func (p *parser) fail(format string, a ...any) {
	if p.err == nil {
		p.err = fmt.Errorf(format, a...)
	}
	p.i = len(p.t)
}

func (p *parser) peek() tok {
	if p.i < len(p.t) {
		return p.t[p.i]
	}
	return tok{}
}

func (p *parser) peekAt(k int) tok {
	if p.i+k < len(p.t) {
		return p.t[p.i+k]
	}
	return tok{}
}

// is reports whether the next token is the keyword or operator w.
func (p *parser) is(w string) bool {
	t := p.peek()
	return (t.kind == 'i' || t.kind == 'o') && strings.EqualFold(t.text, w)
}

func (p *parser) accept(w string) bool {
	if p.is(w) {
		p.i++
		return true
	}
	return false
}

func (p *parser) expect(w string) {
	if !p.accept(w) {
		p.fail("expected %s at %q", w, p.peek().text)
	}
}

func (p *parser) ident() string {
	t := p.peek()
	if t.kind != 'i' && t.kind != 'q' {
		p.fail("expected a name at %q", t.text)
		return ""
	}
	p.i++
	return t.text
}

var reserved = map[string]bool{"FROM": true, "WHERE": true, "GROUP": true, "HAVING": true, "ORDER": true, "LIMIT": true,
	"LEFT": true, "JOIN": true, "ON": true, "WHEN": true, "USING": true, "AS": true, "INNER": true, "SET": true,
	"UNION": true, "THEN": true, "ELSE": true, "END": true, "AND": true, "OR": true}

func parseStatement(src string) (any, error) {
	toks, err := lex(src)
	if err != nil {
		return nil, err
	}
	for len(toks) > 0 && toks[len(toks)-1].text == ";" && toks[len(toks)-1].kind == 'o' {
		toks = toks[:len(toks)-1]
	}
	p := &parser{t: toks}
	var st any
	switch {
	case p.is("SELECT") || p.is("("):
		st = p.selectStmt()
	case p.accept("MERGE"):
		st = p.merge()
	case p.accept("UPDATE"):
		u := &updateStmt{target: p.ident()}
		p.expect("SET")
		u.set = p.assigns()
		p.expect("WHERE")
		u.where = p.expr()
		st = u
	default:
		return nil, fmt.Errorf("unsupported statement")
	}
	if p.err == nil && p.i < len(p.t) {
		p.fail("unexpected %q", p.peek().text)
	}
	return st, p.err
}

func (p *parser) assigns() []assign {
	var out []assign
	for {
		col := p.ident()
		if p.accept(".") { // T.col
			col = p.ident()
		}
		p.expect("=")
		out = append(out, assign{col, p.expr()})
		if !p.accept(",") {
			return out
		}
	}
}

func (p *parser) merge() *mergeStmt {
	p.accept("INTO")
	m := &mergeStmt{target: p.ident()}
	p.accept("AS")
	if !p.is("USING") {
		m.tAlias = p.ident()
	}
	p.expect("USING")
	m.source = p.fromItem()
	p.expect("ON")
	m.on = p.expr()
	for p.accept("WHEN") {
		if p.accept("NOT") {
			p.expect("MATCHED")
			p.expect("THEN")
			p.expect("INSERT")
			m.hasNotMatched = true
			if p.accept("ROW") {
				m.insertRow = true
				continue
			}
			p.expect("(")
			for {
				m.insertCols = append(m.insertCols, p.ident())
				if !p.accept(",") {
					break
				}
			}
			p.expect(")")
			p.expect("VALUES")
			p.expect("(")
			m.insertVals = p.exprList()
			p.expect(")")
			continue
		}
		p.expect("MATCHED")
		p.expect("THEN")
		p.expect("UPDATE")
		p.expect("SET")
		m.hasMatched = true
		m.set = p.assigns()
	}
	return m
}

func (p *parser) exprList() []*node {
	var out []*node
	for {
		out = append(out, p.expr())
		if !p.accept(",") {
			return out
		}
	}
}

func (p *parser) selectStmt() *selectStmt {
	if p.accept("(") {
		s := p.selectStmt()
		p.expect(")")
		return s
	}
	p.expect("SELECT")
	s := &selectStmt{}
	s.distinct = p.accept("DISTINCT")
	for {
		qual := ""
		if t := p.peek(); t.kind == 'i' && p.peekAt(1).text == "." && p.peekAt(2).text == "*" { // q.*
			qual = t.text
			p.i += 2
		}
		if p.accept("*") {
			it := selItem{star: true, qual: qual}
			if p.accept("EXCEPT") {
				p.expect("(")
				for {
					it.except = append(it.except, p.ident())
					if !p.accept(",") {
						break
					}
				}
				p.expect(")")
			}
			s.items = append(s.items, it)
		} else {
			it := selItem{e: p.expr()}
			if p.accept("AS") {
				it.alias = p.ident()
			} else if t := p.peek(); t.kind == 'i' && !reserved[strings.ToUpper(t.text)] {
				it.alias = p.ident()
			}
			s.items = append(s.items, it)
		}
		if !p.accept(",") {
			break
		}
	}
	if p.accept("FROM") {
		f := p.fromItem()
		s.from = &f
		for {
			left := p.accept("LEFT")
			if left {
				p.accept("OUTER")
			} else {
				p.accept("INNER")
			}
			if !p.accept("JOIN") {
				if left {
					p.fail("expected JOIN")
				}
				break
			}
			j := join{left: left, item: p.fromItem()}
			p.expect("ON")
			j.on = p.expr()
			s.joins = append(s.joins, j)
		}
	}
	if p.accept("WHERE") {
		s.where = p.expr()
	}
	if p.accept("GROUP") {
		p.expect("BY")
		s.groupBy = p.exprList()
	}
	if p.accept("HAVING") {
		s.having = p.expr()
	}
	if p.accept("ORDER") {
		p.expect("BY")
		s.orderBy = p.orders()
	}
	if p.accept("LIMIT") {
		s.limit = p.intLit()
	}
	return s
}

func (p *parser) intLit() int {
	t := p.peek()
	n, err := strconv.Atoi(t.text)
	if t.kind != 'n' || err != nil {
		p.fail("expected a whole number at %q", t.text)
	}
	p.i++
	return n
}

func (p *parser) orders() []order {
	var out []order
	for {
		o := order{e: p.expr()}
		if p.accept("DESC") {
			o.desc = true
		} else {
			p.accept("ASC")
		}
		out = append(out, o)
		if !p.accept(",") {
			return out
		}
	}
}

func (p *parser) fromItem() fromItem {
	var f fromItem
	if p.is("(") {
		f.sub = p.selectStmt()
	} else {
		f.table = p.ident()
	}
	if p.accept("AS") {
		f.alias = p.ident()
	} else if t := p.peek(); (t.kind == 'i' || t.kind == 'q') && !reserved[strings.ToUpper(t.text)] {
		f.alias = p.ident()
	}
	return f
}

func (p *parser) expr() *node { return p.or() }

func (p *parser) or() *node {
	l := p.and()
	for p.accept("OR") {
		l = &node{op: "bin", name: "OR", args: []*node{l, p.and()}}
	}
	return l
}

func (p *parser) and() *node {
	l := p.not()
	for p.accept("AND") {
		l = &node{op: "bin", name: "AND", args: []*node{l, p.not()}}
	}
	return l
}

func (p *parser) not() *node {
	if p.accept("NOT") {
		return &node{op: "not", args: []*node{p.not()}}
	}
	return p.cmp()
}

func (p *parser) cmp() *node {
	l := p.add()
	for {
		switch {
		case p.accept("IS"):
			neg := p.accept("NOT")
			switch {
			case p.accept("NULL"):
				l = &node{op: "isnull", neg: neg, args: []*node{l}}
			case p.accept("TRUE"):
				l = &node{op: "istrue", neg: neg, args: []*node{l}}
			default:
				p.fail("unsupported IS at %q", p.peek().text)
				return l
			}
		case p.is("NOT") && (strings.EqualFold(p.peekAt(1).text, "IN") || strings.EqualFold(p.peekAt(1).text, "LIKE")):
			p.i++
			l = p.inOrLike(l, true)
		case p.is("IN") || p.is("LIKE"):
			l = p.inOrLike(l, false)
		case p.is("=") || p.is("!=") || p.is("<>") || p.is("<") || p.is("<=") || p.is(">") || p.is(">="):
			op := p.peek().text
			p.i++
			if op == "<>" {
				op = "!="
			}
			l = &node{op: "bin", name: op, args: []*node{l, p.add()}}
		case p.accept("BETWEEN"):
			lo := p.add()
			p.expect("AND")
			hi := p.add()
			l = &node{op: "bin", name: "AND", args: []*node{{op: "bin", name: ">=", args: []*node{l, lo}}, {op: "bin", name: "<=", args: []*node{l, hi}}}}
		default:
			return l
		}
	}
}

func (p *parser) inOrLike(l *node, neg bool) *node {
	if p.accept("LIKE") {
		return &node{op: "like", neg: neg, args: []*node{l, p.add()}}
	}
	p.expect("IN")
	p.expect("(")
	n := &node{op: "in", neg: neg, args: []*node{l}}
	if p.is("SELECT") {
		n.sub = p.selectStmt()
	} else {
		n.args = append(n.args, p.exprList()...)
	}
	p.expect(")")
	return n
}

func (p *parser) add() *node {
	l := p.mul()
	for p.is("+") || p.is("-") || p.is("||") {
		op := p.peek().text
		p.i++
		l = &node{op: "bin", name: op, args: []*node{l, p.mul()}}
	}
	return l
}

func (p *parser) mul() *node {
	l := p.unary()
	for p.is("*") || p.is("/") {
		op := p.peek().text
		p.i++
		l = &node{op: "bin", name: op, args: []*node{l, p.unary()}}
	}
	return l
}

func (p *parser) unary() *node {
	if p.accept("-") {
		return &node{op: "neg", args: []*node{p.unary()}}
	}
	return p.postfix()
}

func (p *parser) postfix() *node {
	e := p.primary()
	for p.accept("[") {
		fn := strings.ToUpper(p.ident())
		p.expect("(")
		k := p.intLit()
		p.expect(")")
		p.expect("]")
		e = &node{op: "index", name: fn, val: k, args: []*node{e}}
	}
	return e
}

func (p *parser) primary() *node {
	t := p.peek()
	switch t.kind {
	case 's':
		p.i++
		return &node{op: "lit", val: t.text}
	case 'n':
		p.i++
		if strings.Contains(t.text, ".") {
			f, err := strconv.ParseFloat(t.text, 64)
			if err != nil {
				p.fail("bad number %q", t.text)
			}
			return &node{op: "lit", val: f}
		}
		n, err := strconv.ParseInt(t.text, 10, 64)
		if err != nil {
			p.fail("bad number %q", t.text)
		}
		return &node{op: "lit", val: n}
	case 'p':
		p.i++
		return &node{op: "param", name: t.text}
	case 'o':
		if p.accept("(") {
			if p.is("SELECT") {
				p.fail("scalar subqueries are not supported")
			}
			e := p.expr()
			p.expect(")")
			return e
		}
		p.fail("unexpected %q", t.text)
		return &node{op: "lit"}
	case 'q':
		p.i++
		return &node{op: "col", name: t.text}
	}
	up := strings.ToUpper(t.text)
	switch up {
	case "NULL":
		p.i++
		return &node{op: "lit"}
	case "TRUE", "FALSE":
		p.i++
		return &node{op: "lit", val: up == "TRUE"}
	case "CASE":
		p.i++
		n := &node{op: "case"}
		for p.accept("WHEN") {
			c := p.expr()
			p.expect("THEN")
			n.args = append(n.args, c, p.expr())
		}
		if p.accept("ELSE") {
			n.els = p.expr()
		}
		p.expect("END")
		return n
	case "CAST", "SAFE_CAST":
		p.i++
		p.expect("(")
		e := p.expr()
		p.expect("AS")
		typ := strings.ToUpper(p.ident())
		p.expect(")")
		return &node{op: "cast", name: typ, args: []*node{e}}
	case "INTERVAL":
		p.i++
		e := p.add()
		return &node{op: "interval", name: strings.ToUpper(p.ident()), args: []*node{e}}
	case "TIMESTAMP", "DATE":
		if p.peekAt(1).kind == 's' { // TIMESTAMP 'literal'
			p.i += 2
			return &node{op: "cast", name: up, args: []*node{{op: "lit", val: p.t[p.i-1].text}}}
		}
	}
	if t.kind != 'i' {
		p.fail("unexpected %q", t.text)
		return &node{op: "lit"}
	}
	p.i++
	if p.accept("(") {
		n := &node{op: "call", name: up}
		if p.accept("*") {
			n.args = []*node{{op: "star"}}
		} else if !p.is(")") {
			n.distinct = p.accept("DISTINCT")
			n.args = p.exprList()
			if p.accept("IGNORE") {
				p.expect("NULLS")
				n.ignoreNulls = true
			}
			if p.accept("ORDER") {
				p.expect("BY")
				n.orderBy = p.orders()
			}
			if p.accept("LIMIT") {
				n.limit = p.intLit()
			}
		}
		p.expect(")")
		if p.accept("OVER") {
			n.over = true
			p.expect("(")
			if p.accept("PARTITION") {
				p.expect("BY")
				n.partition = p.exprList()
			}
			if p.accept("ORDER") {
				p.expect("BY")
				n.orderBy = p.orders()
			}
			p.expect(")")
		}
		return n
	}
	if p.accept(".") {
		return &node{op: "col", qual: t.text, name: p.ident()}
	}
	return &node{op: "col", name: t.text}
}
