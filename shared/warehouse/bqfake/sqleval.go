package bqfake

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"cloud.google.com/go/bigquery"
	"cloud.google.com/go/civil"
)

// Values in the evaluator are nil (NULL), string, int64, float64, bool,
// time.Time (TIMESTAMP, UTC), civil.Date, []any (ARRAY) and interval.

type interval struct {
	n    int64
	unit string
}

type relCol struct {
	qual, name string
	typ        bigquery.FieldType
}

type relation struct {
	cols []relCol
	rows [][]any
}

// AddSQLView defines view name ("dataset.view") by its GoogleSQL, which
// the evaluator runs whenever a statement reads the view.
func (s *Server) AddSQLView(name, sql string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.sqlViews == nil {
		s.sqlViews = map[string]string{}
	}
	s.sqlViews[name] = sql
}

// AddTable creates an empty table ("dataset.table"), as a Terraform
// google_bigquery_table would before the first MERGE.
func (s *Server) AddTable(name string, schema bigquery.Schema) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tables[name] = &table{schema: schema, ids: make(map[string]time.Time)}
}

type evalCtx struct {
	s      *Server
	params map[string]any
	now    time.Time
	depth  int
}

var errNoMatch = errors.New("no such column")

// tableKey is "dataset.table" of `project.dataset.table` or `dataset.table`.
func tableKey(name string) string {
	parts := strings.Split(name, ".")
	if len(parts) == 3 {
		parts = parts[1:]
	}
	return strings.Join(parts, ".")
}

// load reads a table or SQL view as a relation; the caller holds s.mu.
func (c *evalCtx) load(name, qual string) (*relation, error) {
	key := tableKey(name)
	if t := c.s.tables[key]; t != nil {
		rel := &relation{}
		for _, f := range t.schema {
			rel.cols = append(rel.cols, relCol{qual, f.Name, f.Type})
		}
		for _, st := range t.rows {
			row := make([]any, len(t.schema))
			for i, f := range t.schema {
				row[i] = typed(f, st.row[f.Name])
			}
			rel.rows = append(rel.rows, row)
		}
		return rel, nil
	}
	if sql, ok := c.s.sqlViews[key]; ok {
		if c.depth > 8 {
			return nil, fmt.Errorf("views nested too deeply at %s", name)
		}
		st, err := parseStatement(sql)
		if err != nil {
			return nil, fmt.Errorf("view %s: %w", name, err)
		}
		sel, ok := st.(*selectStmt)
		if !ok {
			return nil, fmt.Errorf("view %s is not a SELECT", name)
		}
		c.depth++
		rel, err := c.run(sel)
		c.depth--
		if err != nil {
			return nil, fmt.Errorf("view %s: %w", name, err)
		}
		for i := range rel.cols {
			rel.cols[i].qual = qual
		}
		return rel, nil
	}
	return nil, &notFound{name}
}

type notFound struct{ name string }

func (e *notFound) Error() string { return "Not found: Table " + e.name }

// typed converts a stored (JSON-checked) value to the evaluator's.
func typed(f *bigquery.FieldSchema, v any) any {
	if v == nil || f.Repeated || f.Type == bigquery.RecordFieldType {
		return v
	}
	switch f.Type {
	case bigquery.IntegerFieldType:
		switch x := v.(type) {
		case json.Number:
			n, _ := x.Int64()
			return n
		case string:
			n, _ := strconv.ParseInt(x, 10, 64)
			return n
		}
	case bigquery.FloatFieldType, bigquery.NumericFieldType:
		switch x := v.(type) {
		case json.Number:
			n, _ := x.Float64()
			return n
		case string:
			n, _ := strconv.ParseFloat(x, 64)
			return n
		}
	case bigquery.BooleanFieldType:
		switch x := v.(type) {
		case bool:
			return x
		case string:
			return x == "true"
		}
	case bigquery.TimestampFieldType:
		if t, ok := v.(time.Time); ok {
			return t.UTC()
		}
		if t, ok := timestampOf(v); ok {
			return t.UTC()
		}
	case bigquery.DateFieldType:
		if s, ok := v.(string); ok {
			d, err := civil.ParseDate(s)
			if err == nil {
				return d
			}
		}
	}
	if n, ok := v.(json.Number); ok {
		return n.String()
	}
	return v
}

// storedValue converts an evaluator value back to what insertAll would store.
func storedValue(v any) any {
	switch x := v.(type) {
	case int64:
		return json.Number(strconv.FormatInt(x, 10))
	case float64:
		return json.Number(strconv.FormatFloat(x, 'g', -1, 64))
	case time.Time:
		return x.UTC().Format(time.RFC3339Nano)
	case civil.Date:
		return x.String()
	}
	return v
}

// wire renders a value as jobs.query returns it.
func wire(v any) any {
	switch x := v.(type) {
	case nil:
		return nil
	case string:
		return x
	case int64:
		return strconv.FormatInt(x, 10)
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64)
	case bool:
		return strconv.FormatBool(x)
	case time.Time:
		return strconv.FormatInt(x.UnixMicro(), 10)
	case civil.Date:
		return x.String()
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = map[string]any{"v": wire(e)}
		}
		return out
	}
	return fmt.Sprint(v)
}

func typeOf(v any) bigquery.FieldType {
	switch v.(type) {
	case int64:
		return bigquery.IntegerFieldType
	case float64:
		return bigquery.FloatFieldType
	case bool:
		return bigquery.BooleanFieldType
	case time.Time:
		return bigquery.TimestampFieldType
	case civil.Date:
		return bigquery.DateFieldType
	}
	return bigquery.StringFieldType
}

// env is one row being evaluated, with its group when aggregating.
type env struct {
	rel   *relation
	row   []any
	group [][]any
	// outer is the enclosing row (MERGE's target beside its source).
	outer *env
}

func (e *env) lookup(qual, name string) (any, bigquery.FieldType, error) {
	for cur := e; cur != nil; cur = cur.outer {
		if cur.rel == nil {
			continue
		}
		for i, c := range cur.rel.cols {
			if strings.EqualFold(c.name, name) && (qual == "" || strings.EqualFold(c.qual, qual)) {
				if cur.row == nil {
					return nil, c.typ, nil
				}
				return cur.row[i], c.typ, nil
			}
		}
	}
	return nil, "", fmt.Errorf("%w: Unrecognized name: %s", errNoMatch, strings.TrimPrefix(qual+"."+name, "."))
}

var aggregates = map[string]bool{"COUNT": true, "COUNTIF": true, "SUM": true, "MIN": true, "MAX": true, "AVG": true,
	"LOGICAL_OR": true, "LOGICAL_AND": true, "ARRAY_AGG": true, "ANY_VALUE": true}

func hasAggregate(n *node) bool {
	if n == nil {
		return false
	}
	if n.op == "call" && aggregates[n.name] && !n.over {
		return true
	}
	for _, a := range n.args {
		if hasAggregate(a) {
			return true
		}
	}
	return hasAggregate(n.els)
}

func (c *evalCtx) fromRel(f fromItem) (*relation, error) {
	qual := f.alias
	if f.sub != nil {
		rel, err := c.run(f.sub)
		if err != nil {
			return nil, err
		}
		out := &relation{rows: rel.rows}
		for _, col := range rel.cols {
			out.cols = append(out.cols, relCol{qual, col.name, col.typ})
		}
		return out, nil
	}
	if qual == "" {
		parts := strings.Split(f.table, ".")
		qual = parts[len(parts)-1]
	}
	return c.load(f.table, qual)
}

func truth(v any) bool { b, ok := v.(bool); return ok && b }

// run evaluates a SELECT.
func (c *evalCtx) run(s *selectStmt) (*relation, error) {
	src := &relation{rows: [][]any{{}}}
	if s.from != nil {
		var err error
		if src, err = c.fromRel(*s.from); err != nil {
			return nil, err
		}
	}
	for _, j := range s.joins {
		right, err := c.fromRel(j.item)
		if err != nil {
			return nil, err
		}
		joined := &relation{cols: append(append([]relCol{}, src.cols...), right.cols...)}
		for _, l := range src.rows {
			hit := false
			for _, r := range right.rows {
				row := append(append([]any{}, l...), r...)
				v, err := c.eval(j.on, &env{rel: joined, row: row})
				if err != nil {
					return nil, err
				}
				if truth(v) {
					hit = true
					joined.rows = append(joined.rows, row)
				}
			}
			if !hit && j.left {
				joined.rows = append(joined.rows, append(append([]any{}, l...), make([]any, len(right.cols))...))
			}
		}
		src = joined
	}
	if s.from != nil && s.from.table != "" && c.depth == 0 {
		if t := c.s.tables[tableKey(s.from.table)]; t != nil && t.partitionFilter != "" && !mentions(s.where, t.partitionFilter) {
			return nil, bqErrorf("Cannot query over table '%s' without a filter over column(s) '%s' that can be used for partition elimination",
				s.from.table, t.partitionFilter)
		}
	}
	if s.where != nil {
		var keep [][]any
		for _, row := range src.rows {
			v, err := c.eval(s.where, &env{rel: src, row: row})
			if err != nil {
				return nil, err
			}
			if truth(v) {
				keep = append(keep, row)
			}
		}
		src = &relation{cols: src.cols, rows: keep}
	}
	// Window functions: computed per input row, then read as columns.
	for i, it := range s.items {
		if it.e == nil || it.e.op != "call" || !it.e.over {
			continue
		}
		vals, err := c.window(it.e, src)
		if err != nil {
			return nil, err
		}
		name := fmt.Sprintf("$window%d", i)
		src.cols = append(src.cols, relCol{"", name, bigquery.IntegerFieldType})
		for r := range src.rows {
			src.rows[r] = append(src.rows[r], vals[r])
		}
		s.items[i].e = &node{op: "col", name: name}
		if s.items[i].alias == "" {
			s.items[i].alias = fmt.Sprintf("f%d_", i)
		}
	}

	aggregate := len(s.groupBy) > 0
	for _, it := range s.items {
		if hasAggregate(it.e) {
			aggregate = true
		}
	}
	out := &relation{}
	// Output columns.
	for i, it := range s.items {
		if it.star {
			for _, col := range src.cols {
				if strings.HasPrefix(col.name, "$") || containsFold(it.except, col.name) || (it.qual != "" && !strings.EqualFold(col.qual, it.qual)) {
					continue
				}
				out.cols = append(out.cols, relCol{"", col.name, col.typ})
			}
			continue
		}
		name := it.alias
		typ := staticType(it.e, src)
		if name == "" {
			if it.e.op == "col" {
				name = it.e.name
			} else {
				name = fmt.Sprintf("f%d_", i)
			}
		}
		out.cols = append(out.cols, relCol{"", name, typ})
	}
	project := func(e *env) ([]any, error) {
		var row []any
		for _, it := range s.items {
			if it.star {
				for i, col := range src.cols {
					if strings.HasPrefix(col.name, "$") || containsFold(it.except, col.name) || (it.qual != "" && !strings.EqualFold(col.qual, it.qual)) {
						continue
					}
					row = append(row, e.row[i])
				}
				continue
			}
			v, err := c.eval(it.e, e)
			if err != nil {
				return nil, err
			}
			row = append(row, v)
		}
		return row, nil
	}
	if aggregate {
		if err := checkGrouped(s); err != nil {
			return nil, err
		}
		// GROUP BY a bare name means the select alias when there is one.
		keys := make([]*node, len(s.groupBy))
		for i, g := range s.groupBy {
			keys[i] = g
			if g.op == "col" && g.qual == "" {
				if _, _, err := (&env{rel: src}).lookup("", g.name); err != nil {
					for _, it := range s.items {
						if strings.EqualFold(it.alias, g.name) {
							keys[i] = it.e
						}
					}
				}
			}
		}
		groups := map[string]int{}
		var members [][][]any
		for _, row := range src.rows {
			var k []any
			for _, g := range keys {
				v, err := c.eval(g, &env{rel: src, row: row})
				if err != nil {
					return nil, err
				}
				k = append(k, wire(v))
			}
			kb, _ := json.Marshal(k)
			i, ok := groups[string(kb)]
			if !ok {
				i = len(members)
				groups[string(kb)] = i
				members = append(members, nil)
			}
			members[i] = append(members[i], row)
		}
		if len(s.groupBy) == 0 && len(members) == 0 {
			members = append(members, nil) // an ungrouped aggregate has one row
		}
		for _, m := range members {
			var first []any
			if len(m) > 0 {
				first = m[0]
			}
			e := &env{rel: src, row: first, group: m}
			if s.having != nil {
				v, err := c.eval(s.having, e)
				if err != nil {
					return nil, err
				}
				if !truth(v) {
					continue
				}
			}
			row, err := project(e)
			if err != nil {
				return nil, err
			}
			out.rows = append(out.rows, row)
		}
	} else {
		for _, r := range src.rows {
			row, err := project(&env{rel: src, row: r})
			if err != nil {
				return nil, err
			}
			out.rows = append(out.rows, row)
		}
	}
	if s.distinct {
		seen := map[string]bool{}
		var keep [][]any
		for _, r := range out.rows {
			w := make([]any, len(r))
			for i, v := range r {
				w[i] = wire(v)
			}
			k, _ := json.Marshal(w)
			if !seen[string(k)] {
				seen[string(k)] = true
				keep = append(keep, r)
			}
		}
		out.rows = keep
	}
	if len(s.orderBy) > 0 {
		var sortErr error
		sort.SliceStable(out.rows, func(i, j int) bool {
			for _, o := range s.orderBy {
				a, err1 := c.eval(o.e, &env{rel: out, row: out.rows[i]})
				b, err2 := c.eval(o.e, &env{rel: out, row: out.rows[j]})
				if err1 != nil || err2 != nil {
					sortErr = errors.Join(err1, err2)
					return false
				}
				if k := orderCmp(a, b); k != 0 {
					return (k < 0) != o.desc
				}
			}
			return false
		})
		if sortErr != nil {
			return nil, sortErr
		}
	}
	if s.limit > 0 && len(out.rows) > s.limit {
		out.rows = out.rows[:s.limit]
	}
	// A computed column's type comes from its values when the static
	// guess had none.
	for i := range out.cols {
		if out.cols[i].typ != "" {
			continue
		}
		out.cols[i].typ = bigquery.StringFieldType
		for _, r := range out.rows {
			if r[i] != nil {
				out.cols[i].typ = typeOf(r[i])
				break
			}
		}
	}
	return out, nil
}

func containsFold(list []string, s string) bool {
	for _, x := range list {
		if strings.EqualFold(x, s) {
			return true
		}
	}
	return false
}

// staticType is an expression's type when it can be told without values.
func staticType(n *node, rel *relation) bigquery.FieldType {
	switch n.op {
	case "col":
		if _, t, err := (&env{rel: rel}).lookup(n.qual, n.name); err == nil {
			return t
		}
	case "call":
		switch n.name {
		case "COUNT", "COUNTIF", "TIMESTAMP_DIFF", "DATE_DIFF", "ROW_NUMBER":
			return bigquery.IntegerFieldType
		case "SAFE_DIVIDE", "AVG":
			return bigquery.FloatFieldType
		case "LOGICAL_OR", "LOGICAL_AND", "REGEXP_CONTAINS", "STARTS_WITH":
			return bigquery.BooleanFieldType
		case "DATE", "CURRENT_DATE", "DATE_SUB", "DATE_ADD":
			return bigquery.DateFieldType
		case "TIMESTAMP", "CURRENT_TIMESTAMP", "TIMESTAMP_SUB", "TIMESTAMP_ADD":
			return bigquery.TimestampFieldType
		case "LOWER", "UPPER", "CONCAT", "REGEXP_EXTRACT", "TRIM":
			return bigquery.StringFieldType
		case "MIN", "MAX", "ANY_VALUE":
			if len(n.args) == 1 {
				return staticType(n.args[0], rel)
			}
		}
	case "index":
		if a := n.args[0]; a.op == "call" && a.name == "ARRAY_AGG" && len(a.args) == 1 {
			return staticType(a.args[0], rel)
		}
	case "cast":
		switch n.name {
		case "STRING":
			return bigquery.StringFieldType
		case "INT64":
			return bigquery.IntegerFieldType
		case "FLOAT64":
			return bigquery.FloatFieldType
		case "DATE":
			return bigquery.DateFieldType
		case "TIMESTAMP":
			return bigquery.TimestampFieldType
		}
	case "case":
		for i := 1; i < len(n.args); i += 2 {
			if t := staticType(n.args[i], rel); t != "" {
				return t
			}
		}
		if n.els != nil {
			return staticType(n.els, rel)
		}
	case "bin":
		switch n.name {
		case "=", "!=", "<", "<=", ">", ">=", "AND", "OR":
			return bigquery.BooleanFieldType
		}
	case "not", "isnull", "istrue", "in", "like":
		return bigquery.BooleanFieldType
	}
	if n.op == "call" && (n.name == "IF" || n.name == "COALESCE" || n.name == "IFNULL") {
		for _, a := range n.args[min(1, len(n.args)-1):] {
			if t := staticType(a, rel); t != "" {
				return t
			}
		}
	}
	return ""
}

// window computes ROW_NUMBER() OVER (PARTITION BY ... ORDER BY ...).
func (c *evalCtx) window(n *node, rel *relation) ([]any, error) {
	if n.name != "ROW_NUMBER" {
		return nil, fmt.Errorf("window function %s is not supported", n.name)
	}
	type item struct {
		i    int
		part string
		keys []any
	}
	items := make([]item, len(rel.rows))
	for i, row := range rel.rows {
		e := &env{rel: rel, row: row}
		var part []any
		for _, p := range n.partition {
			v, err := c.eval(p, e)
			if err != nil {
				return nil, err
			}
			part = append(part, wire(v))
		}
		pb, _ := json.Marshal(part)
		it := item{i: i, part: string(pb)}
		for _, o := range n.orderBy {
			v, err := c.eval(o.e, e)
			if err != nil {
				return nil, err
			}
			it.keys = append(it.keys, v)
		}
		items[i] = it
	}
	sort.SliceStable(items, func(a, b int) bool {
		if items[a].part != items[b].part {
			return items[a].part < items[b].part
		}
		for k, o := range n.orderBy {
			if x := orderCmp(items[a].keys[k], items[b].keys[k]); x != 0 {
				return (x < 0) != o.desc
			}
		}
		return false
	})
	out := make([]any, len(rel.rows))
	var n64 int64
	for k, it := range items {
		if k == 0 || items[k-1].part != it.part {
			n64 = 0
		}
		n64++
		out[it.i] = n64
	}
	return out, nil
}

// orderCmp orders values as ORDER BY does: NULL first.
func orderCmp(a, b any) int {
	switch {
	case a == nil && b == nil:
		return 0
	case a == nil:
		return -1
	case b == nil:
		return 1
	}
	k, _ := compare(a, b)
	return k
}

// compare returns -1, 0 or 1; ok is false for NULL or values of kinds
// that do not compare.
func compare(a, b any) (int, bool) {
	if a == nil || b == nil {
		return 0, false
	}
	cmp := func(x, y float64) int {
		switch {
		case x < y:
			return -1
		case x > y:
			return 1
		}
		return 0
	}
	switch x := a.(type) {
	case int64:
		switch y := b.(type) {
		case int64: // exact, not through float64 (IDs beyond 2^53)
			switch {
			case x < y:
				return -1, true
			case x > y:
				return 1, true
			}
			return 0, true
		case float64:
			return cmp(float64(x), y), true
		}
	case float64:
		switch y := b.(type) {
		case int64:
			return cmp(x, float64(y)), true
		case float64:
			return cmp(x, y), true
		}
	case string:
		if y, ok := b.(string); ok {
			return strings.Compare(x, y), true
		}
	case bool:
		if y, ok := b.(bool); ok {
			switch {
			case x == y:
				return 0, true
			case !x:
				return -1, true
			}
			return 1, true
		}
	case time.Time:
		switch y := b.(type) {
		case time.Time:
			return x.Compare(y), true
		case civil.Date: // a DATE beside a TIMESTAMP is its midnight UTC
			return x.Compare(y.In(time.UTC)), true
		}
	case civil.Date:
		switch y := b.(type) {
		case civil.Date:
			return x.Compare(y), true
		case time.Time:
			return x.In(time.UTC).Compare(y), true
		}
	}
	return 0, false
}

var regexCache = map[string]*regexp.Regexp{}

func re(pattern string) (*regexp.Regexp, error) {
	if r, ok := regexCache[pattern]; ok {
		return r, nil
	}
	r, err := regexp.Compile(pattern)
	if err != nil {
		return nil, bqErrorf("Cannot parse regular expression: %v", err)
	}
	regexCache[pattern] = r
	return r, nil
}

func (c *evalCtx) evalArgs(args []*node, e *env) ([]any, error) {
	out := make([]any, len(args))
	for i, a := range args {
		v, err := c.eval(a, e)
		if err != nil {
			return nil, err
		}
		out[i] = v
	}
	return out, nil
}

func (c *evalCtx) eval(n *node, e *env) (any, error) {
	switch n.op {
	case "lit":
		return n.val, nil
	case "param":
		v, ok := c.params[n.name]
		if !ok {
			return nil, bqErrorf("Query parameter '%s' not found", n.name)
		}
		return v, nil
	case "col":
		v, _, err := e.lookup(n.qual, n.name)
		return v, err
	case "not":
		v, err := c.eval(n.args[0], e)
		if err != nil || v == nil {
			return nil, err
		}
		return !truth(v), nil
	case "neg":
		v, err := c.eval(n.args[0], e)
		switch x := v.(type) {
		case int64:
			return -x, err
		case float64:
			return -x, err
		}
		return nil, err
	case "isnull":
		v, err := c.eval(n.args[0], e)
		return (v == nil) != n.neg, err
	case "istrue":
		v, err := c.eval(n.args[0], e)
		return truth(v) != n.neg, err
	case "in":
		v, err := c.eval(n.args[0], e)
		if err != nil {
			return nil, err
		}
		list := n.args[1:]
		var vals []any
		if n.sub != nil {
			rel, err := c.run(n.sub)
			if err != nil {
				return nil, err
			}
			for _, r := range rel.rows {
				vals = append(vals, r[0])
			}
		} else if vals, err = c.evalArgs(list, e); err != nil {
			return nil, err
		}
		if v == nil {
			return nil, nil
		}
		sawNull := false
		for _, x := range vals {
			if k, ok := compare(v, x); ok && k == 0 {
				return !n.neg, nil
			}
			if x == nil {
				sawNull = true
			}
		}
		if sawNull {
			return nil, nil
		}
		return n.neg, nil
	case "like":
		a, err := c.evalArgs(n.args, e)
		if err != nil || a[0] == nil || a[1] == nil {
			return nil, err
		}
		pat := "^" + strings.NewReplacer("%", ".*", "_", ".").Replace(regexp.QuoteMeta(a[1].(string))) + "$"
		r, err := re("(?s)" + pat)
		if err != nil {
			return nil, err
		}
		return r.MatchString(a[0].(string)) != n.neg, nil
	case "case":
		for i := 0; i+1 < len(n.args); i += 2 {
			v, err := c.eval(n.args[i], e)
			if err != nil {
				return nil, err
			}
			if truth(v) {
				return c.eval(n.args[i+1], e)
			}
		}
		if n.els != nil {
			return c.eval(n.els, e)
		}
		return nil, nil
	case "interval":
		v, err := c.eval(n.args[0], e)
		k, ok := v.(int64)
		if err != nil || !ok {
			return nil, errors.Join(err, bqErrorf("INTERVAL needs a whole number"))
		}
		return interval{k, n.name}, nil
	case "cast":
		v, err := c.eval(n.args[0], e)
		if err != nil || v == nil {
			return nil, err
		}
		return castTo(v, n.name)
	case "index":
		v, err := c.eval(n.args[0], e)
		if err != nil || v == nil {
			return nil, err
		}
		arr, _ := v.([]any)
		k := n.val.(int)
		if n.name == "ORDINAL" || n.name == "SAFE_ORDINAL" {
			k--
		}
		if k < 0 || k >= len(arr) {
			if strings.HasPrefix(n.name, "SAFE_") {
				return nil, nil
			}
			return nil, bqErrorf("Array index %d is out of bounds", k)
		}
		return arr[k], nil
	case "bin":
		return c.binary(n, e)
	case "call":
		if aggregates[n.name] {
			return c.aggregate(n, e)
		}
		return c.call(n, e)
	}
	return nil, fmt.Errorf("unsupported expression %s", n.op)
}

func (c *evalCtx) binary(n *node, e *env) (any, error) {
	a, err := c.eval(n.args[0], e)
	if err != nil {
		return nil, err
	}
	switch n.name {
	case "AND":
		if a != nil && !truth(a) {
			return false, nil
		}
		b, err := c.eval(n.args[1], e)
		if err != nil {
			return nil, err
		}
		if b != nil && !truth(b) {
			return false, nil
		}
		if a == nil || b == nil {
			return nil, nil
		}
		return true, nil
	case "OR":
		if truth(a) {
			return true, nil
		}
		b, err := c.eval(n.args[1], e)
		if err != nil {
			return nil, err
		}
		if truth(b) {
			return true, nil
		}
		if a == nil || b == nil {
			return nil, nil
		}
		return false, nil
	}
	b, err := c.eval(n.args[1], e)
	if err != nil || a == nil || b == nil {
		return nil, err
	}
	switch n.name {
	case "=", "!=", "<", "<=", ">", ">=":
		k, ok := compare(a, b)
		if !ok {
			return nil, bqErrorf("No matching signature for operator %s for argument types %T, %T", n.name, a, b)
		}
		switch n.name {
		case "=":
			return k == 0, nil
		case "!=":
			return k != 0, nil
		case "<":
			return k < 0, nil
		case "<=":
			return k <= 0, nil
		case ">":
			return k > 0, nil
		}
		return k >= 0, nil
	case "||":
		return fmt.Sprint(a) + fmt.Sprint(b), nil
	}
	x, xi := a.(int64)
	y, yi := b.(int64)
	if xi && yi && n.name != "/" {
		switch n.name {
		case "+":
			return x + y, nil
		case "-":
			return x - y, nil
		case "*":
			return x * y, nil
		}
	}
	f, g := toFloat(a), toFloat(b)
	if math.IsNaN(f) || math.IsNaN(g) {
		return nil, bqErrorf("No matching signature for operator %s", n.name)
	}
	switch n.name {
	case "+":
		return f + g, nil
	case "-":
		return f - g, nil
	case "*":
		return f * g, nil
	}
	if g == 0 {
		return nil, errors.New("division by zero")
	}
	return f / g, nil
}

func toFloat(v any) float64 {
	switch x := v.(type) {
	case int64:
		return float64(x)
	case float64:
		return x
	}
	return math.NaN()
}

func castTo(v any, typ string) (any, error) {
	switch typ {
	case "STRING":
		switch x := v.(type) {
		case string:
			return x, nil
		case time.Time:
			return x.UTC().Format("2006-01-02 15:04:05.999999") + "+00", nil
		case []any:
			return nil, errors.New("cannot cast an ARRAY to STRING")
		}
		s := wire(v)
		return s, nil
	case "INT64":
		switch x := v.(type) {
		case int64:
			return x, nil
		case float64:
			return int64(math.Round(x)), nil
		case string:
			n, err := strconv.ParseInt(strings.TrimSpace(x), 10, 64)
			if err != nil {
				return nil, bqErrorf("Bad int64 value: %s", x)
			}
			return n, nil
		case bool:
			if x {
				return int64(1), nil
			}
			return int64(0), nil
		}
	case "FLOAT64":
		switch x := v.(type) {
		case int64:
			return float64(x), nil
		case float64:
			return x, nil
		case string:
			return strconv.ParseFloat(x, 64)
		}
	case "DATE":
		switch x := v.(type) {
		case civil.Date:
			return x, nil
		case time.Time:
			return civil.DateOf(x.UTC()), nil
		case string:
			return civil.ParseDate(x)
		}
	case "TIMESTAMP":
		switch x := v.(type) {
		case time.Time:
			return x, nil
		case civil.Date:
			return x.In(time.UTC), nil
		case string:
			if t, ok := parseTimestamp(x); ok {
				return t.UTC(), nil
			}
			return nil, bqErrorf("Invalid timestamp: '%s'", x)
		}
	case "BOOL":
		if b, ok := v.(bool); ok {
			return b, nil
		}
	}
	return nil, fmt.Errorf("bqfake: CAST(%T AS %s) is not supported", v, typ)
}

func (c *evalCtx) aggregate(n *node, e *env) (any, error) {
	var vals []any
	type keyed struct {
		v    any
		keys []any
	}
	var ks []keyed
	for _, row := range e.group {
		re := &env{rel: e.rel, row: row, outer: e.outer}
		if len(n.args) == 1 && n.args[0].op == "star" {
			vals = append(vals, true)
			continue
		}
		if len(n.args) != 1 {
			return nil, fmt.Errorf("%s takes one argument", n.name)
		}
		v, err := c.eval(n.args[0], re)
		if err != nil {
			return nil, err
		}
		if n.name == "ARRAY_AGG" {
			if v == nil && n.ignoreNulls {
				continue
			}
			k := keyed{v: v}
			for _, o := range n.orderBy {
				kv, err := c.eval(o.e, re)
				if err != nil {
					return nil, err
				}
				k.keys = append(k.keys, kv)
			}
			ks = append(ks, k)
			continue
		}
		vals = append(vals, v)
	}
	if n.distinct {
		seen := map[string]bool{}
		var keep []any
		for _, v := range vals {
			k, _ := json.Marshal(wire(v))
			if v != nil && !seen[string(k)] {
				seen[string(k)] = true
				keep = append(keep, v)
			}
		}
		vals = keep
	}
	switch n.name {
	case "COUNT":
		var k int64
		for _, v := range vals {
			if v != nil {
				k++
			}
		}
		return k, nil
	case "COUNTIF":
		var k int64
		for _, v := range vals {
			if truth(v) {
				k++
			}
		}
		return k, nil
	case "LOGICAL_OR", "LOGICAL_AND":
		var out any
		for _, v := range vals {
			if v == nil {
				continue
			}
			if out == nil {
				out = truth(v)
			} else if n.name == "LOGICAL_OR" {
				out = out.(bool) || truth(v)
			} else {
				out = out.(bool) && truth(v)
			}
		}
		return out, nil
	case "MIN", "MAX", "ANY_VALUE":
		var out any
		for _, v := range vals {
			if v == nil {
				continue
			}
			if out == nil {
				out = v
				continue
			}
			k, _ := compare(v, out)
			if (n.name == "MIN" && k < 0) || (n.name == "MAX" && k > 0) {
				out = v
			}
		}
		return out, nil
	case "SUM", "AVG":
		var sumI int64
		var sumF float64
		isF, any := false, false
		count := 0
		for _, v := range vals {
			switch x := v.(type) {
			case int64:
				sumI += x
				sumF += float64(x)
			case float64:
				isF = true
				sumF += x
			default:
				continue
			}
			any = true
			count++
		}
		if !any {
			return nil, nil
		}
		if n.name == "AVG" {
			return sumF / float64(count), nil
		}
		if isF {
			return sumF, nil
		}
		return sumI, nil
	case "ARRAY_AGG":
		sort.SliceStable(ks, func(a, b int) bool {
			for k, o := range n.orderBy {
				if x := orderCmp(ks[a].keys[k], ks[b].keys[k]); x != 0 {
					return (x < 0) != o.desc
				}
			}
			return false
		})
		out := []any{}
		for _, k := range ks {
			if n.limit > 0 && len(out) == n.limit {
				break
			}
			out = append(out, k.v)
		}
		return out, nil
	}
	return nil, fmt.Errorf("aggregate %s is not supported", n.name)
}

func (c *evalCtx) call(n *node, e *env) (any, error) {
	// Date-part arguments are names, not columns.
	unit := func(i int) string {
		if i < len(n.args) && n.args[i].op == "col" {
			return strings.ToUpper(n.args[i].name)
		}
		return ""
	}
	switch n.name {
	case "IF":
		if len(n.args) != 3 {
			return nil, bqErrorf("IF takes three arguments")
		}
		v, err := c.eval(n.args[0], e)
		if err != nil {
			return nil, err
		}
		if truth(v) {
			return c.eval(n.args[1], e)
		}
		return c.eval(n.args[2], e)
	case "COALESCE", "IFNULL":
		for _, a := range n.args {
			v, err := c.eval(a, e)
			if err != nil || v != nil {
				return v, err
			}
		}
		return nil, nil
	case "CURRENT_TIMESTAMP":
		return c.now, nil
	case "CURRENT_DATE":
		return civil.DateOf(c.now), nil
	case "TIMESTAMP_DIFF", "DATE_DIFF":
		a, err := c.evalArgs(n.args[:2], e)
		if err != nil || a[0] == nil || a[1] == nil {
			return nil, err
		}
		if n.name == "DATE_DIFF" {
			x, ok1 := a[0].(civil.Date)
			y, ok2 := a[1].(civil.Date)
			if !ok1 || !ok2 || unit(2) != "DAY" {
				return nil, errors.New("bqfake: DATE_DIFF(date, date, DAY) only")
			}
			return int64(x.DaysSince(y)), nil
		}
		x, ok1 := a[0].(time.Time)
		y, ok2 := a[1].(time.Time)
		if !ok1 || !ok2 {
			return nil, bqErrorf("TIMESTAMP_DIFF needs TIMESTAMPs")
		}
		d := x.Sub(y)
		switch unit(2) {
		case "SECOND":
			return int64(d / time.Second), nil
		case "MINUTE":
			return int64(d / time.Minute), nil
		case "HOUR":
			return int64(d / time.Hour), nil
		case "DAY":
			return int64(d / (24 * time.Hour)), nil
		}
		return nil, fmt.Errorf("bqfake: TIMESTAMP_DIFF unit %s", unit(2))
	}
	a, err := c.evalArgs(n.args, e)
	if err != nil {
		return nil, err
	}
	nullIn := false
	for _, v := range a {
		if v == nil {
			nullIn = true
		}
	}
	str := func(i int) string { s, _ := a[i].(string); return s }
	switch n.name {
	case "SAFE_DIVIDE":
		if nullIn {
			return nil, nil
		}
		x, y := toFloat(a[0]), toFloat(a[1])
		if y == 0 || math.IsNaN(x) || math.IsNaN(y) {
			return nil, nil
		}
		return x / y, nil
	case "GREATEST", "LEAST":
		if nullIn {
			return nil, nil
		}
		out := a[0]
		for _, v := range a[1:] {
			k, _ := compare(v, out)
			if (n.name == "GREATEST" && k > 0) || (n.name == "LEAST" && k < 0) {
				out = v
			}
		}
		return out, nil
	case "CONCAT":
		if nullIn {
			return nil, nil
		}
		var b strings.Builder
		for i := range a {
			b.WriteString(str(i))
		}
		return b.String(), nil
	}
	if nullIn {
		return nil, nil
	}
	switch n.name {
	case "DATE":
		return castTo(a[0], "DATE")
	case "TIMESTAMP":
		return castTo(a[0], "TIMESTAMP")
	case "LOWER":
		return strings.ToLower(str(0)), nil
	case "UPPER":
		return strings.ToUpper(str(0)), nil
	case "TRIM":
		return strings.TrimSpace(str(0)), nil
	case "LENGTH":
		return int64(len([]rune(str(0)))), nil
	case "STARTS_WITH":
		return strings.HasPrefix(str(0), str(1)), nil
	case "ENDS_WITH":
		return strings.HasSuffix(str(0), str(1)), nil
	case "STRPOS":
		return int64(strings.Index(str(0), str(1)) + 1), nil
	case "REGEXP_CONTAINS", "REGEXP_EXTRACT":
		r, err := re(str(1))
		if err != nil {
			return nil, err
		}
		if n.name == "REGEXP_CONTAINS" {
			return r.MatchString(str(0)), nil
		}
		if r.NumSubexp() > 1 {
			return nil, bqErrorf("Regular expressions passed into extraction functions must not have more than 1 capturing group")
		}
		m := r.FindStringSubmatch(str(0))
		if m == nil {
			return nil, nil
		}
		return m[len(m)-1], nil
	case "TIMESTAMP_SUB", "TIMESTAMP_ADD", "DATE_SUB", "DATE_ADD":
		iv, ok := a[1].(interval)
		if !ok {
			return nil, fmt.Errorf("%s needs an INTERVAL", n.name)
		}
		k := iv.n
		if strings.HasSuffix(n.name, "_SUB") {
			k = -k
		}
		if d, ok := a[0].(civil.Date); ok {
			if iv.unit != "DAY" {
				return nil, errors.New("bqfake: DATE arithmetic in DAYs only")
			}
			return d.AddDays(int(k)), nil
		}
		t, ok := a[0].(time.Time)
		if !ok {
			return nil, fmt.Errorf("%s needs a TIMESTAMP", n.name)
		}
		per := map[string]time.Duration{"DAY": 24 * time.Hour, "HOUR": time.Hour, "MINUTE": time.Minute, "SECOND": time.Second}[iv.unit]
		if per == 0 {
			return nil, fmt.Errorf("bqfake: INTERVAL unit %s", iv.unit)
		}
		return t.Add(time.Duration(k) * per), nil
	}
	return nil, fmt.Errorf("bqfake: function %s is not supported", n.name)
}

// exec runs a parsed statement; the caller holds s.mu. A SELECT returns its
// relation; MERGE and UPDATE change the target and return nil.
func (c *evalCtx) exec(st any, stats map[string]any) (*relation, error) {
	switch x := st.(type) {
	case *selectStmt:
		stats["statementType"] = "SELECT"
		return c.run(x)
	case *mergeStmt:
		stats["statementType"] = "MERGE"
		return nil, c.merge(x, stats)
	case *updateStmt:
		stats["statementType"] = "UPDATE"
		return nil, c.update(x, stats)
	}
	return nil, errors.New("unsupported statement")
}

func (c *evalCtx) targetTable(name string) (*table, error) {
	t := c.s.tables[tableKey(name)]
	if t == nil {
		return nil, &notFound{name}
	}
	return t, nil
}

func (c *evalCtx) merge(m *mergeStmt, stats map[string]any) error {
	t, err := c.targetTable(m.target)
	if err != nil {
		return err
	}
	tq := m.tAlias
	if tq == "" {
		parts := strings.Split(m.target, ".")
		tq = parts[len(parts)-1]
	}
	target, err := c.load(m.target, tq)
	if err != nil {
		return err
	}
	source, err := c.fromRel(m.source)
	if err != nil {
		return err
	}
	both := &relation{cols: append(append([]relCol{}, target.cols...), source.cols...)}
	matchedTarget := map[int]bool{}
	var updates = map[int][]any{}
	var inserts [][]any
	for _, srow := range source.rows {
		hit := -1
		for ti, trow := range target.rows {
			v, err := c.eval(m.on, &env{rel: both, row: append(append([]any{}, trow...), srow...)})
			if err != nil {
				return err
			}
			if truth(v) {
				if hit >= 0 {
					return bqErrorf("UPDATE/MERGE must match at most one source row for each target row")
				}
				hit = ti
			}
		}
		if hit >= 0 {
			if matchedTarget[hit] {
				return bqErrorf("UPDATE/MERGE must match at most one source row for each target row")
			}
			matchedTarget[hit] = true
			if !m.hasMatched {
				continue
			}
			e := &env{rel: both, row: append(append([]any{}, target.rows[hit]...), srow...)}
			row := append([]any{}, target.rows[hit]...)
			for _, a := range m.set {
				i := colIndex(t.schema, a.col)
				if i < 0 {
					return bqErrorf("Unrecognized name: %s", a.col)
				}
				v, err := c.eval(a.e, e)
				if err != nil {
					return err
				}
				row[i] = v
			}
			updates[hit] = row
			continue
		}
		if !m.hasNotMatched {
			continue
		}
		row := make([]any, len(t.schema))
		if m.insertRow {
			for i, f := range t.schema {
				v, _, err := (&env{rel: source, row: srow}).lookup("", f.Name)
				if err != nil {
					return bqErrorf("INSERT ROW: source has no column %s", f.Name)
				}
				row[i] = v
			}
		} else {
			e := &env{rel: source, row: srow}
			for k, col := range m.insertCols {
				i := colIndex(t.schema, col)
				if i < 0 {
					return bqErrorf("Unrecognized name: %s", col)
				}
				v, err := c.eval(m.insertVals[k], e)
				if err != nil {
					return err
				}
				row[i] = v
			}
		}
		inserts = append(inserts, row)
	}
	now := c.s.now()
	for i, row := range updates {
		if c.s.StreamingBuffer > 0 && now.Sub(t.rows[i].at) < c.s.StreamingBuffer {
			return bqErrorf("UPDATE or DELETE statement over table %s would affect rows in the streaming buffer, which is not supported", m.target)
		}
		t.rows[i].row = storedRow(t.schema, row)
	}
	for _, row := range inserts {
		// DML rows are not in the streaming buffer.
		t.rows = append(t.rows, stored{row: storedRow(t.schema, row), at: now.Add(-c.s.StreamingBuffer)})
	}
	stats["numDmlAffectedRows"] = strconv.Itoa(len(updates) + len(inserts))
	c.s.dml++
	return nil
}

func (c *evalCtx) update(u *updateStmt, stats map[string]any) error {
	t, err := c.targetTable(u.target)
	if err != nil {
		return err
	}
	parts := strings.Split(u.target, ".")
	rel, err := c.load(u.target, parts[len(parts)-1])
	if err != nil {
		return err
	}
	n := 0
	for i, row := range rel.rows {
		e := &env{rel: rel, row: row}
		v, err := c.eval(u.where, e)
		if err != nil {
			return err
		}
		if !truth(v) {
			continue
		}
		nrow := append([]any{}, row...)
		for _, a := range u.set {
			k := colIndex(t.schema, a.col)
			if k < 0 {
				return bqErrorf("Unrecognized name: %s", a.col)
			}
			if nrow[k], err = c.eval(a.e, e); err != nil {
				return err
			}
		}
		t.rows[i].row = storedRow(t.schema, nrow)
		n++
	}
	stats["numDmlAffectedRows"] = strconv.Itoa(n)
	c.s.dml++
	return nil
}

func colIndex(schema bigquery.Schema, name string) int {
	for i, f := range schema {
		if strings.EqualFold(f.Name, name) {
			return i
		}
	}
	return -1
}

func storedRow(schema bigquery.Schema, row []any) map[string]any {
	out := make(map[string]any, len(schema))
	for i, f := range schema {
		if row[i] != nil {
			out[f.Name] = storedValue(row[i])
		}
	}
	return out
}

// convertParams reads query parameters into evaluator values.
func convertParams(ps []jobParam) (map[string]any, error) {
	out := map[string]any{}
	for _, p := range ps {
		var raw string
		if p.ParameterValue.Value != nil {
			raw = *p.ParameterValue.Value
		} else if p.ParameterType.Type != "ARRAY" {
			out[p.Name] = nil
			continue
		}
		switch p.ParameterType.Type {
		case "STRING":
			out[p.Name] = raw
		case "INT64":
			n, err := strconv.ParseInt(raw, 10, 64)
			if err != nil {
				return nil, err
			}
			out[p.Name] = n
		case "FLOAT64":
			f, err := strconv.ParseFloat(raw, 64)
			if err != nil {
				return nil, err
			}
			out[p.Name] = f
		case "BOOL":
			out[p.Name] = raw == "true"
		case "TIMESTAMP":
			t, ok := parseTimestamp(raw)
			if !ok {
				return nil, bqErrorf("Invalid TIMESTAMP parameter %s", p.Name)
			}
			out[p.Name] = t.UTC()
		case "DATE":
			d, err := civil.ParseDate(raw)
			if err != nil {
				return nil, err
			}
			out[p.Name] = d
		default:
			return nil, fmt.Errorf("bqfake: %s parameters are not supported by the evaluator", p.ParameterType.Type)
		}
	}
	return out, nil
}

// evaluate parses and runs sql; the caller holds s.mu.
func (s *Server) evaluate(sql string, ps []jobParam, stats map[string]any) (*relation, *jobError) {
	st, err := parseStatement(sql)
	if err != nil {
		return nil, unsupported("%v", err)
	}
	params, err := convertParams(ps)
	if err != nil {
		return nil, &jobError{"invalidQuery", err.Error()}
	}
	c := &evalCtx{s: s, params: params, now: s.now().UTC()}
	rel, err := c.exec(st, stats)
	if err != nil {
		var nf *notFound
		if errors.As(err, &nf) {
			return nil, &jobError{"notFound", err.Error()}
		}
		return nil, &jobError{"invalidQuery", err.Error()}
	}
	return rel, nil
}

// results renders a relation as jobs.query's schema and rows.
func results(rel *relation) ([]map[string]string, [][]any) {
	schema := []map[string]string{}
	for _, c := range rel.cols {
		schema = append(schema, map[string]string{"name": c.name, "type": string(c.typ), "mode": "NULLABLE"})
	}
	rows := [][]any{}
	for _, r := range rel.rows {
		out := make([]any, len(r))
		for i, v := range r {
			out[i] = wire(v)
		}
		rows = append(rows, out)
	}
	return schema, rows
}

// mentions reports whether e reads column col.
func mentions(e *node, col string) bool {
	if e == nil {
		return false
	}
	if e.op == "col" && strings.EqualFold(e.name, col) {
		return true
	}
	for _, a := range e.args {
		if mentions(a, col) {
			return true
		}
	}
	return mentions(e.els, col)
}

// checkGrouped refuses, as BigQuery does, a select item that reads a
// column outside an aggregate when the column is not grouped by.
func checkGrouped(s *selectStmt) error {
	grouped := map[string]bool{}
	for _, g := range s.groupBy {
		if g.op == "col" {
			grouped[strings.ToLower(g.name)] = true
		}
	}
	var bare func(n *node) string
	bare = func(n *node) string {
		if n == nil || (n.op == "call" && aggregates[n.name] && !n.over) {
			return ""
		}
		if n.op == "col" && !grouped[strings.ToLower(n.name)] {
			return n.name
		}
		for _, a := range n.args {
			if c := bare(a); c != "" {
				return c
			}
		}
		return bare(n.els)
	}
	for _, it := range s.items {
		if it.star {
			return bqErrorf("SELECT * in an aggregate query")
		}
		if grouped[strings.ToLower(it.alias)] {
			continue
		}
		if c := bare(it.e); c != "" && !groupedExpr(s, it.e) {
			return bqErrorf("SELECT list expression references column %s which is neither grouped nor aggregated", c)
		}
	}
	return nil
}

// groupedExpr reports whether e is itself one of the GROUP BY expressions.
func groupedExpr(s *selectStmt, e *node) bool {
	for _, g := range s.groupBy {
		if nodeKey(g) == nodeKey(e) {
			return true
		}
	}
	return false
}

// nodeKey renders an expression canonically, to compare two of them.
func nodeKey(n *node) string {
	if n == nil {
		return "_"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s|%v|%s|%s|%v(", n.op, n.val, strings.ToLower(n.name), strings.ToLower(n.qual), n.neg)
	for _, a := range n.args {
		b.WriteString(nodeKey(a) + ",")
	}
	b.WriteString(nodeKey(n.els) + ")")
	return b.String()
}

// bqError is an error worded as BigQuery words it (capitalized, as the
// service's messages are).
type bqError string

func (e bqError) Error() string { return string(e) }

func bqErrorf(format string, a ...any) error { return bqError(fmt.Sprintf(format, a...)) }
