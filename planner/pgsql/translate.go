package pgsql

import (
	"strconv"
	"strings"

	"github.com/streamsql/streamsql/sqlerr"
	"github.com/streamsql/streamsql/types"
)

// TableFunc is a function call in FROM (TUMBLE, HOP, SESSION,
// generate_series, unnest, ...). The translated SQL names it as the table
// Placeholder; Args is a SELECT list of its arguments in TiDB syntax.
type TableFunc struct {
	Placeholder string
	Name        string // lower case, schema stripped
	Args        string // "a, b, c" in translated syntax
	Pos         int    // 1-based character position in the source
}

// Translated is a query or DML statement mapped onto the TiDB grammar.
type Translated struct {
	SQL string
	// LimitParams[k] is the n of the $n that the k-th "?" stands for; a
	// negative -(j+1) stands for WithTies[j], the count of a FETCH FIRST
	// ... WITH TIES (a literal, or "$n").
	LimitParams []int
	WithTies    []string
	TableFuncs  []TableFunc
	// AliasColumns maps a FROM alias to the column names given in "AS x(a, b)".
	AliasColumns map[string][]string
	// ConflictTarget lists the columns of ON CONFLICT (...), if any.
	ConflictTarget []string
	OnConflict     string // "", "nothing", "update"
	// Returning is the RETURNING list of INSERT/UPDATE/DELETE, in
	// translated syntax ("" when absent).
	Returning string

	src  string
	segs []seg
}

// SourcePos maps a byte offset in SQL to a 1-based character position in
// the original text.
func (t *Translated) SourcePos(out int) int {
	best := 0
	for _, s := range t.segs {
		if s.out <= out {
			best = s.src
		} else {
			break
		}
	}
	return CharPos(t.src, best)
}

// Source returns the original text.
func (t *Translated) Source() string { return t.src }

type translator struct {
	src    string
	tr     *Translated
	nTVF   int
	limit  []int
	noFrom int // inside trim(... FROM ...): no FROM clause
}

func syntaxAt(src string, pos int) *sqlerr.Error {
	near := ""
	if pos < len(src) {
		toks, err := Lex(src[pos:])
		if err == nil && len(toks) > 0 && toks[0].Kind != TEOF {
			near = toks[0].Raw
		}
	}
	if near == "" {
		return sqlerr.Syntax(CharPos(src, pos), "syntax error at end of input")
	}
	return sqlerr.Syntax(CharPos(src, pos), "syntax error at or near %q", near)
}

// Translate maps one statement (tokens from Split) onto the TiDB grammar.
func Translate(src string, toks []Token) (*Translated, error) {
	ns, err := buildTree(src, toks)
	if err != nil {
		return nil, err
	}
	x := &translator{src: src, tr: &Translated{src: src, AliasColumns: map[string][]string{}}}
	ns, err = x.rewrite(ns, true)
	if err != nil {
		return nil, err
	}
	var w writer
	w.emitList(ns)
	x.tr.SQL = w.b.String()
	x.tr.segs = w.segs
	x.tr.LimitParams = x.limit
	return x.tr, nil
}

func (x *translator) errAt(n *node, format string, args ...any) *sqlerr.Error {
	return sqlerr.Syntax(CharPos(x.src, n.pos()), format, args...)
}

func (x *translator) unsupported(n *node, format string, args ...any) *sqlerr.Error {
	return sqlerr.Unsupported(format, args...).WithPosition(CharPos(x.src, n.pos()))
}

// rewrite rewrites one sibling list, children first.
func (x *translator) rewrite(ns []*node, stmtTop bool) ([]*node, error) {
	var err error
	if stmtTop {
		markStatementNames(ns)
	}
	// children first, except groups that are LIMIT/OFFSET arguments (handled below)
	for i, n := range ns {
		if n.kind == groupNode {
			if i > 0 && ns[i-1].isKw("operator") && n.isParen() {
				// OPERATOR(schema.op): simpleWords takes the operator out as it is
				continue
			}
			if i > 0 && (ns[i-1].isKw("trim") || ns[i-1].isKw("overlay")) && n.isParen() {
				// trim(BOTH x FROM y): its FROM starts no FROM clause
				x.noFrom++
				n.kids, err = x.rewrite(n.kids, false)
				x.noFrom--
			} else {
				n.kids, err = x.rewrite(n.kids, false)
			}
			if err != nil {
				return nil, err
			}
		}
	}
	if stmtTop && len(ns) > 0 && (ns[0].isKw("insert") || ns[0].isKw("update") || ns[0].isKw("delete")) {
		for i, n := range ns {
			if n.isKw("returning") {
				tail, err := x.rewrite(ns[i+1:], false)
				if err != nil {
					return nil, err
				}
				if len(tail) == 0 {
					return nil, x.errAt(n, "syntax error at end of input")
				}
				var w writer
				w.emitList(tail)
				x.tr.Returning = w.b.String()
				ns = ns[:i]
				break
			}
		}
	}
	if stmtTop || (len(ns) > 0 && ns[0].isKw("values") && !ns[0].name) {
		if len(ns) > 1 && ns[0].isKw("values") && !ns[0].name && ns[1].isParen() {
			if ns, err = x.values(ns); err != nil {
				return nil, err
			}
		}
	}
	steps := []func([]*node) ([]*node, error){
		x.simpleWords,
		x.typedLiterals,
		x.callForms,
		x.postfix,
		x.keywordForms,
		x.orderNulls,
		x.limitOffset,
		x.windowFrames,
		x.fromItems,
		x.onConflict,
	}
	for _, step := range steps {
		if ns, err = step(ns); err != nil {
			return nil, err
		}
	}
	return ns, nil
}

// FrameOffsetFunc carries a window frame's offset past the grammar, which
// takes a number or MySQL's INTERVAL expr unit only: an offset that is not a
// plain number (INTERVAL '1 day', 2 + 1, $1) is written
// INTERVAL __frame_offset(expr) MICROSECOND, and the binder unwraps it.
const FrameOffsetFunc = "__frame_offset"

// frameStarts reports whether ns[j] starts a window frame: ROWS, RANGE or
// GROUPS before BETWEEN, UNBOUNDED, CURRENT or an offset.
func frameStarts(ns []*node, j int) bool {
	if !(ns[j].isKw("rows") || ns[j].isKw("range") || ns[j].isKw("groups")) || j+1 >= len(ns) {
		return false
	}
	n := ns[j+1]
	return n.isKw("between") || n.isKw("unbounded") || n.isKw("current") || n.kind != leafNode || n.tok.Kind != TIdent || n.isKw("interval")
}

// windowFrames rewrites the offsets of the frames of window
// specifications, OVER (...) and WINDOW w AS (...).
func (x *translator) windowFrames(ns []*node) ([]*node, error) {
	for i, n := range ns {
		if !n.isParen() || i == 0 || !(ns[i-1].isKw("over") || ns[i-1].isKw("as")) {
			continue
		}
		kids := n.kids
		f := -1
		for j := range kids {
			if frameStarts(kids, j) {
				f = j
			}
		}
		if f < 0 {
			continue
		}
		out := append([]*node{}, kids[:f+1]...)
		seg := -1
		for j := f + 1; j < len(kids); j++ {
			k := kids[j]
			switch {
			case k.isKw("preceding") || k.isKw("following"):
				if seg >= 0 && !(j == seg+1 && kids[seg].isLeaf(TNumber) && strings.Trim(kids[seg].tok.Raw, "0123456789") == "") {
					wrapped := &node{kind: synthNode, tok: kids[seg].tok, pre: "INTERVAL " + FrameOffsetFunc + "(",
						kids: append([]*node{}, kids[seg:j]...), post: ") MICROSECOND"}
					out = append(out, wrapped)
				} else if seg >= 0 {
					out = append(out, kids[seg:j]...)
				}
				seg = -1
				out = append(out, k)
			case seg >= 0:
			case k.isKw("between") || k.isKw("and") || k.isKw("unbounded") || k.isKw("current") || k.isKw("row") || k.isKw("exclude"):
				out = append(out, k)
			default:
				seg = j
			}
		}
		if seg >= 0 {
			out = append(out, kids[seg:]...)
		}
		n.kids = out
	}
	return ns, nil
}

// simpleWords: parameters, niladic functions, OPERATOR(...), COLLATE, ISNULL.
func (x *translator) simpleWords(ns []*node) ([]*node, error) {
	out := make([]*node, 0, len(ns))
	for i := 0; i < len(ns); i++ {
		n := ns[i]
		next := func(k int) *node {
			if i+k < len(ns) {
				return ns[i+k]
			}
			return nil
		}
		qualified := (i > 0 && ns[i-1].isPunct(".")) || (next(1) != nil && next(1).isPunct("."))
		switch {
		case n.isLeaf(TParam):
			v, err := strconv.Atoi(n.tok.Val)
			if err != nil || v < 1 {
				return nil, x.errAt(n, "there is no parameter %s", n.tok.Raw)
			}
			out = append(out, textNode(n.tok, "__param("+n.tok.Val+")"))
		case n.isKw("operator") && next(1) != nil && next(1).isParen():
			kids := next(1).kids
			if len(kids) == 0 || kids[len(kids)-1].kind != leafNode || kids[len(kids)-1].tok.Kind != TOp {
				return nil, x.errAt(n, "syntax error at or near \"OPERATOR\"")
			}
			out = append(out, &node{kind: leafNode, tok: kids[len(kids)-1].tok})
			i++
		case n.isKw("collate"):
			// COLLATE name: only the default collations are accepted; they change nothing.
			j := i + 1
			var name []string
			if j < len(ns) && (ns[j].isLeaf(TIdent) || ns[j].isLeaf(TQIdent)) {
				name = append(name, ns[j].tok.Val)
				j++
				if j+1 < len(ns) && ns[j].isPunct(".") && (ns[j+1].isLeaf(TIdent) || ns[j+1].isLeaf(TQIdent)) {
					name = append(name, ns[j+1].tok.Val)
					j += 2
				}
			}
			if len(name) == 0 {
				return nil, x.errAt(n, "syntax error at or near \"COLLATE\"")
			}
			last := name[len(name)-1]
			if last != "default" && last != "C" && last != "POSIX" && last != "ucs_basic" {
				return nil, x.unsupported(n, "collation %q is not supported", last)
			}
			i = j - 1
		case (n.isKw("true") || n.isKw("false")) && !qualified && !(i > 0 && (ns[i-1].isKw("is") || (ns[i-1].isKw("not") && i > 1 && ns[i-2].isKw("is")))):
			// MySQL reads TRUE as the integer 1
			lit := "'t'"
			if n.tok.Val == "false" {
				lit = "'f'"
			}
			out = append(out, textNode(n.tok, "__pgcast("+lit+", 'boolean')"))
		case n.isKw("isnull") && !qualified:
			out = append(out, textNode(n.tok, "is null"))
		case n.isKw("notnull") && !qualified:
			out = append(out, textNode(n.tok, "is not null"))
		case !qualified && n.kind == leafNode && n.tok.Kind == TIdent && !(next(1) != nil && next(1).isParen()):
			switch n.tok.Val {
			case "current_user", "session_user", "user", "current_role":
				out = append(out, textNode(n.tok, "current_user()"))
			case "current_catalog":
				out = append(out, textNode(n.tok, "current_database()"))
			case "current_schema":
				out = append(out, textNode(n.tok, "current_schema()"))
			default:
				out = append(out, n)
			}
		default:
			out = append(out, n)
		}
	}
	return out, nil
}

var typedLiteralTypes = map[string]string{
	"date": "date", "timestamp": "timestamp", "timestamptz": "timestamptz", "time": "time",
	"interval": "interval", "numeric": "numeric", "decimal": "numeric", "text": "text", "jsonb": "jsonb",
	"json": "jsonb", "bool": "boolean", "boolean": "boolean", "int": "integer", "integer": "integer",
	"int4": "integer", "int8": "bigint", "bigint": "bigint", "smallint": "smallint", "int2": "smallint",
	"real": "real", "float4": "real", "float8": "double precision", "bytea": "bytea", "varchar": "varchar",
	"uuid": "text", "inet": "text", "oid": "oid", "regclass": "regclass", "name": "name",
}

// typedLiterals: TYPE 'literal' and INTERVAL 'n' UNIT.
func (x *translator) typedLiterals(ns []*node) ([]*node, error) {
	out := make([]*node, 0, len(ns))
	for i := 0; i < len(ns); i++ {
		n := ns[i]
		if n.kind != leafNode || n.tok.Kind != TIdent || n.name || (i > 0 && ns[i-1].isPunct(".")) {
			out = append(out, n)
			continue
		}
		typ, ok := typedLiteralTypes[n.tok.Val]
		j := i + 1
		if n.tok.Val == "timestamp" || n.tok.Val == "time" {
			// TIMESTAMP WITH[OUT] TIME ZONE 'x'
			if j+2 < len(ns) && (ns[j].isKw("with") || ns[j].isKw("without")) && ns[j+1].isKw("time") && ns[j+2].isKw("zone") {
				if ns[j].isKw("with") {
					typ = n.tok.Val + "tz"
				}
				j += 3
			}
		}
		if n.tok.Val == "double" && j < len(ns) && ns[j].isKw("precision") {
			typ, ok = "double precision", true
			j++
		}
		if !ok || j >= len(ns) || !ns[j].isLeaf(TString) {
			if n.tok.Val == "interval" && j < len(ns) && ns[j].isParen() {
				return nil, x.unsupported(n, "INTERVAL(p) is not supported")
			}
			if n.tok.Val == "interval" && !(j < len(ns) && ns[j].isLeaf(TString)) {
				// a column named interval
				out = append(out, &node{kind: leafNode, tok: Token{Kind: TQIdent, Val: "interval", Raw: n.tok.Raw, Pos: n.tok.Pos}})
				continue
			}
			out = append(out, n)
			continue
		}
		lit := ns[j].tok.Val
		if typ == "interval" && j+1 < len(ns) && ns[j+1].kind == leafNode && ns[j+1].tok.Kind == TIdent {
			if _, isUnit := types.IntervalUnit(ns[j+1].tok.Val); isUnit {
				unit := ns[j+1].tok.Val
				j++
				// INTERVAL '1' DAY TO SECOND: the literal carries the fields
				if j+2 < len(ns) && ns[j+1].isKw("to") {
					j += 2
					unit = ""
				}
				if unit != "" && !strings.ContainsAny(strings.TrimSpace(lit), " :") {
					lit = lit + " " + unit
				}
			}
		}
		out = append(out, textNode(n.tok, "__pgcast("+quoteString(lit)+", "+quoteString(typ)+")"))
		i = j
	}
	return out, nil
}

// callForms: CAST(x AS t), EXTRACT(f FROM x), ARRAY[...], ARRAY(SELECT ...),
// agg(...) FILTER (WHERE ...).
func (x *translator) callForms(ns []*node) ([]*node, error) {
	out := make([]*node, 0, len(ns))
	for i := 0; i < len(ns); i++ {
		n := ns[i]
		qualified := i > 0 && ns[i-1].isPunct(".")
		var arg *node
		if i+1 < len(ns) {
			arg = ns[i+1]
		}
		switch {
		case !qualified && n.isKw("cast") && arg != nil && arg.isParen():
			kids := arg.kids
			as := -1
			for k, c := range kids {
				if c.isKw("as") {
					as = k
				}
			}
			if as <= 0 || as == len(kids)-1 {
				return nil, x.errAt(arg, "syntax error at or near \"CAST\"")
			}
			tname, rest, err := x.typeName(kids[as+1:])
			if err != nil {
				return nil, err
			}
			if len(rest) > 0 {
				return nil, x.errAt(rest[0], "syntax error at or near %q", rest[0].tok.Raw)
			}
			out = append(out, synth(n.tok, "__pgcast(", kids[:as], ", "+quoteString(tname)+")"))
			i++
		case !qualified && (n.isKw("substring") || n.isKw("substr")) && arg != nil && arg.isParen() && hasTopWord(arg.kids, "from", "for", "similar"):
			// substring(s FROM a FOR b), substring(s FOR b), substring(s FROM a)
			// → __substring(s, a, b): a text a is a pattern (the binder decides)
			var str, from, length []*node
			cur := &str
			for _, k := range arg.kids {
				switch {
				case k.isKw("from"):
					cur = &from
				case k.isKw("for"):
					cur = &length
				case k.isKw("similar"):
					return nil, x.unsupported(k, "substring(... SIMILAR ...) is not supported")
				default:
					*cur = append(*cur, k)
				}
			}
			if len(str) == 0 {
				return nil, x.errAt(arg, "syntax error at or near \"substring\"")
			}
			if from == nil {
				from = []*node{textNode(arg.tok, "1")}
			}
			if length == nil {
				length = []*node{textNode(arg.tok, "null")}
			}
			args := append(append(append(append([]*node{}, str...), textNode(arg.tok, ",")), from...), textNode(arg.tok, ","))
			args = append(args, length...)
			out = append(out, synth(n.tok, "__substring(", args, ")"))
			i++
		case !qualified && n.isKw("extract") && arg != nil && arg.isParen():
			kids := arg.kids
			if len(kids) < 3 || !kids[1].isKw("from") || (kids[0].kind != leafNode) {
				return nil, x.errAt(arg, "syntax error at or near \"EXTRACT\"")
			}
			field := strings.ToLower(kids[0].tok.Val)
			out = append(out, synth(n.tok, "__extract("+quoteString(field)+",", kids[2:], ")"))
			i++
		case !qualified && n.isKw("array") && arg != nil && arg.isBracket():
			out = append(out, synth(n.tok, "__array(", arg.kids, ")"))
			i++
		case !qualified && n.isKw("array") && arg != nil && arg.isParen():
			out = append(out, synth(n.tok, "__array_subquery(", []*node{arg}, ")"))
			i++
		case n.isLeaf(TIdent) && !keywords[n.tok.Val] && arg != nil && arg.isParen() && len(arg.kids) > 1 && arg.kids[0].isKw("distinct") && !isTiDBAggregate(n.tok.Val):
			// agg(DISTINCT x, ...) for aggregates TiDB parses as plain calls
			kids := append([]*node{textNode(arg.kids[0].tok, "__distinct(),")}, arg.kids[1:]...)
			out = append(out, n, &node{kind: groupNode, tok: arg.tok, kids: kids, close: arg.close})
			i++
		case n.isLeaf(TIdent) && !keywords[n.tok.Val] && arg != nil && arg.isParen() && orderByAt(arg.kids) > 0:
			// agg(args ORDER BY k [DESC], ...) → agg(args, __order_by(k, 'desc', ...))
			at := orderByAt(arg.kids)
			var keys []*node
			for _, item := range splitTop(arg.kids[at+2:]) {
				dir := "'asc'"
				if len(item) > 1 && (item[len(item)-1].isKw("asc") || item[len(item)-1].isKw("desc")) {
					dir = "'" + item[len(item)-1].tok.Val + "'"
					item = item[:len(item)-1]
				}
				if len(item) == 0 {
					return nil, x.errAt(arg, "syntax error at or near \"ORDER\"")
				}
				if len(keys) > 0 {
					keys = append(keys, textNode(arg.tok, ","))
				}
				keys = append(keys, item...)
				keys = append(keys, textNode(arg.tok, ", "+dir))
			}
			args := append([]*node{}, arg.kids[:at]...)
			args = append(args, textNode(arg.tok, ","), synth(arg.tok, "__order_by(", keys, ")"))
			out = append(out, n, &node{kind: groupNode, tok: arg.tok, kids: args, close: arg.close})
			i++
		case n.isLeaf(TIdent) && arg != nil && arg.isParen() && i+3 < len(ns) && ns[i+2].isKw("filter") && ns[i+3].isParen():
			f := ns[i+3].kids
			if len(f) < 2 || !f[0].isKw("where") {
				return nil, x.errAt(ns[i+3], "syntax error at or near \"FILTER\"")
			}
			args := arg.kids
			cond := f[1:]
			prefix := ""
			if len(args) > 0 && args[0].isKw("distinct") {
				prefix = "distinct "
				args = args[1:]
			}
			if len(args) == 1 && args[0].isPunct("*") {
				args = []*node{textNode(args[0].tok, "1")}
			}
			if len(splitTop(args)) != 1 {
				return nil, x.unsupported(ns[i+2], "FILTER is supported for aggregates of one argument")
			}
			inner := []*node{synth(arg.tok, "case when", cond, "then"), synth(arg.tok, "", args, "end")}
			if prefix != "" {
				inner = append([]*node{textNode(arg.tok, prefix)}, inner...)
			}
			// a bracket group, so that the name stays a call (and OVER may follow)
			out = append(out, n, &node{kind: groupNode, tok: arg.tok, kids: inner, close: arg.close})
			i += 3
		default:
			out = append(out, n)
		}
	}
	return out, nil
}

// isTiDBAggregate reports whether the TiDB grammar parses name(DISTINCT ...)
// itself.
func isTiDBAggregate(name string) bool {
	switch name {
	case "count", "sum", "avg", "min", "max", "group_concat", "var_samp", "var_pop", "stddev_samp", "stddev_pop", "bit_and", "bit_or", "bit_xor", "approx_count_distinct":
		return true
	}
	return false
}

// orderByAt returns the index of a top-level ORDER BY inside a call's
// argument list, or -1.
func orderByAt(ns []*node) int {
	for i := 1; i+1 < len(ns); i++ {
		if ns[i].isKw("order") && ns[i+1].isKw("by") {
			return i
		}
	}
	return -1
}

// typeName reads a type name from the front of ns and returns it as text.
func (x *translator) typeName(ns []*node) (string, []*node, error) {
	if len(ns) == 0 {
		return "", nil, sqlerr.Syntax(CharPos(x.src, len(x.src)), "syntax error at end of input")
	}
	var parts []string
	i := 0
	if ns[0].isLeaf(TQIdent) {
		if ns[0].tok.Val == "char" {
			parts = append(parts, `"char"`)
		} else {
			parts = append(parts, ns[0].tok.Val)
		}
		i = 1
	} else if ns[0].isLeaf(TIdent) {
		parts = append(parts, ns[0].tok.Val)
		i = 1
		if i+1 < len(ns) && ns[i].isPunct(".") && (ns[i+1].isLeaf(TIdent) || ns[i+1].isLeaf(TQIdent)) {
			parts = []string{ns[i+1].tok.Val}
			if ns[i+1].tok.Kind == TQIdent && ns[i+1].tok.Val == "char" {
				parts = []string{`"char"`}
			}
			i += 2
		}
		multi := map[string][]string{
			"double":    {"precision"},
			"character": {"varying"},
			"timestamp": {"with", "without", "time", "zone"},
			"time":      {"with", "without", "time", "zone"},
		}
		if follow, ok := multi[parts[0]]; ok {
			for i < len(ns) && ns[i].kind == leafNode && ns[i].tok.Kind == TIdent && contains(follow, ns[i].tok.Val) {
				parts = append(parts, ns[i].tok.Val)
				i++
			}
		}
	} else {
		return "", nil, x.errAt(ns[0], "syntax error at or near %q", ns[0].tok.Raw)
	}
	name := strings.Join(parts, " ")
	if i < len(ns) && ns[i].isParen() {
		var mods []string
		for _, k := range ns[i].kids {
			mods = append(mods, k.tok.Val)
		}
		name += "(" + strings.Join(mods, "") + ")"
		i++
	}
	for i < len(ns) && ns[i].isBracket() {
		name += "[]"
		i++
	}
	if _, err := types.Parse(name); err != nil {
		e := sqlerr.As(err)
		return "", nil, e.WithPosition(CharPos(x.src, ns[0].pos()))
	}
	return name, ns[i:], nil
}

func contains(xs []string, s string) bool {
	for _, x := range xs {
		if x == s {
			return true
		}
	}
	return false
}

// primaryStart returns the index where the primary expression ending at
// ns[end] starts, or -1 if ns[end] does not end a primary.
func primaryStart(ns []*node, end int) int {
	if end < 0 {
		return -1
	}
	n := ns[end]
	switch {
	case n.kind == synthNode:
		return end
	case n.isLeaf(TString), n.isLeaf(TNumber), n.isLeaf(TParam):
		return end
	case n.isLeaf(TIdent), n.isLeaf(TQIdent), n.isPunct("*") && end > 0 && ns[end-1].isPunct("."):
		if n.kind == leafNode && n.tok.Kind == TIdent && keywords[n.tok.Val] && !n.tok.Is("null") && !n.tok.Is("true") && !n.tok.Is("false") && !strings.HasPrefix(n.tok.Val, "current_") && !strings.HasPrefix(n.tok.Val, "local") {
			return -1
		}
		j := end
		for j >= 2 && ns[j-1].isPunct(".") && (ns[j-2].isLeaf(TIdent) || ns[j-2].isLeaf(TQIdent)) {
			j -= 2
		}
		return j
	case n.kind == groupNode:
		if n.isBracket() {
			return primaryStart(ns, end-1)
		}
		if end > 0 && (ns[end-1].isLeaf(TIdent) || ns[end-1].isLeaf(TQIdent)) && !(ns[end-1].kind == leafNode && keywords[ns[end-1].tok.Val] && ns[end-1].tok.Kind == TIdent && !leftParenCallee[ns[end-1].tok.Val]) {
			return primaryStart(ns, end-1)
		}
		return end
	}
	return -1
}

// words that are keywords but also call heads: left(...), right(...).
var leftParenCallee = map[string]bool{"left": true, "right": true, "any": true, "some": true, "all": true, "exists": true, "values": false}

// primaryEnd returns the index one past the primary starting at ns[start].
func primaryEnd(ns []*node, start int) int {
	if start >= len(ns) {
		return -1
	}
	n := ns[start]
	i := start
	switch {
	case n.kind == synthNode, n.isLeaf(TString), n.isLeaf(TNumber), n.isLeaf(TParam):
		i++
	case n.isParen():
		i++
	case n.isLeaf(TIdent) || n.isLeaf(TQIdent):
		if n.kind == leafNode && n.tok.Kind == TIdent && keywords[n.tok.Val] && !n.tok.Is("null") && !n.tok.Is("true") && !n.tok.Is("false") && !strings.HasPrefix(n.tok.Val, "current_") {
			return -1
		}
		i++
		for i+1 < len(ns) && ns[i].isPunct(".") && (ns[i+1].isLeaf(TIdent) || ns[i+1].isLeaf(TQIdent) || ns[i+1].isPunct("*")) {
			i += 2
		}
		if i < len(ns) && ns[i].isParen() {
			i++
		}
	case n.isPunct("-") || n.isPunct("+"):
		e := primaryEnd(ns, start+1)
		return e
	default:
		return -1
	}
	for i < len(ns) && ns[i].isBracket() {
		i++
	}
	return i
}

// postfix: x::t, x[i], x AT TIME ZONE z, x -> k, x ->> k, x ~ re, x = ANY(arr).
func (x *translator) postfix(ns []*node) ([]*node, error) {
	out := make([]*node, 0, len(ns))
	for i := 0; i < len(ns); i++ {
		n := ns[i]
		takeLeft := func() ([]*node, error) {
			s := primaryStart(out, len(out)-1)
			if s < 0 {
				return nil, x.unsupported(n, "the left operand of %s must be a simple expression; add parentheses", strings.ToUpper(n.tok.Raw))
			}
			left := append([]*node{}, out[s:]...)
			out = out[:s]
			return left, nil
		}
		takeRight := func(from int) ([]*node, int, error) {
			e := primaryEnd(ns, from)
			if e < 0 {
				if from < len(ns) {
					return nil, 0, x.unsupported(ns[from], "the right operand of %s must be a simple expression; add parentheses", n.tok.Raw)
				}
				return nil, 0, sqlerr.Syntax(CharPos(x.src, len(x.src)), "syntax error at end of input")
			}
			// a right operand may itself be followed by ::type, [i]
			r := append([]*node{}, ns[from:e]...)
			for e+1 < len(ns) && ns[e].isPunct("::") {
				tname, rest, err := x.typeName(ns[e+1:])
				if err != nil {
					return nil, 0, err
				}
				r = []*node{synth(ns[e].tok, "__pgcast(", r, ", "+quoteString(tname)+")")}
				e = len(ns) - len(rest)
			}
			return r, e, nil
		}
		switch {
		case n.isPunct(".") && len(out) > 0 && out[len(out)-1].isParen() && i+1 < len(ns) && (ns[i+1].isLeaf(TIdent) || ns[i+1].isLeaf(TQIdent)):
			// (expr).field: a field of a composite value
			left := out[len(out)-1]
			out = out[:len(out)-1]
			out = append(out, synth(n.tok, "__field(", []*node{left}, ", "+quoteString(ns[i+1].tok.Val)+")"))
			i++
		case n.isPunct(".") && len(out) > 0 && out[len(out)-1].isParen() && i+1 < len(ns) && ns[i+1].isPunct("*"):
			return nil, x.unsupported(n, "(composite).* is not supported: name the fields")
		case n.isPunct("::"):
			left, err := takeLeft()
			if err != nil {
				return nil, err
			}
			tname, rest, err := x.typeName(ns[i+1:])
			if err != nil {
				return nil, err
			}
			out = append(out, synth(n.tok, "__pgcast(", left, ", "+quoteString(tname)+")"))
			i = len(ns) - len(rest) - 1
		case n.isBracket() && i > 0 && primaryStart(out, len(out)-1) >= 0 && !(len(out) > 0 && out[len(out)-1].isKw("array")):
			left, _ := takeLeft()
			if len(n.kids) > 0 {
				for _, k := range n.kids {
					if k.isPunct(":") {
						return nil, x.unsupported(n, "array slices are not supported")
					}
				}
			}
			out = append(out, synth(n.tok, "__subscript(", append(left, synth(n.tok, ",", n.kids, "")), ")"))
		case n.isKw("at") && i+2 < len(ns) && ns[i+1].isKw("time") && ns[i+2].isKw("zone"):
			left, err := takeLeft()
			if err != nil {
				return nil, err
			}
			right, e, err := takeRight(i + 3)
			if err != nil {
				return nil, err
			}
			out = append(out, synth(n.tok, "__at_time_zone(", append(left, synth(n.tok, ",", right, "")), ")"))
			i = e - 1
		case n.kind == leafNode && n.tok.Kind == TOp && jsonOps[n.tok.Val] != "":
			left, err := takeLeft()
			if err != nil {
				return nil, err
			}
			right, e, err := takeRight(i + 1)
			if err != nil {
				return nil, err
			}
			fn := jsonOps[n.tok.Val]
			out = append(out, synth(n.tok, fn+"(", append(left, synth(n.tok, ",", right, "")), ")"))
			i = e - 1
		case n.kind == leafNode && n.tok.Kind == TOp && (n.tok.Val == "~" || n.tok.Val == "~*" || n.tok.Val == "!~" || n.tok.Val == "!~*") && len(out) > 0 && primaryStart(out, len(out)-1) >= 0:
			left, err := takeLeft()
			if err != nil {
				return nil, err
			}
			right, e, err := takeRight(i + 1)
			if err != nil {
				return nil, err
			}
			flags := "''"
			if strings.HasSuffix(n.tok.Val, "*") {
				flags = "'i'"
			}
			call := synth(n.tok, "__regex_match(", append(left, synth(n.tok, ",", right, ", "+flags)), ")")
			if strings.HasPrefix(n.tok.Val, "!") {
				call = synth(n.tok, "not", []*node{call}, "")
			}
			out = append(out, call)
			i = e - 1
		case n.kind == leafNode && n.tok.Kind == TOp && bitOps[n.tok.Val] != "" && len(out) > 0 && primaryStart(out, len(out)-1) >= 0:
			// bitwise operators: MySQL ranks them differently from PostgreSQL
			// (& above |, # is its ^), so each becomes a call on its
			// operands, which take in the operators PostgreSQL ranks higher
			// (arithmetic, casts): 5 & 3 + 1 is 5 & (3 + 1)
			s := operandStart(out, len(out)-1)
			left := append([]*node{}, out[s:]...)
			out = out[:s]
			e := operandEnd(ns, i+1)
			if e < 0 {
				return nil, x.unsupported(n, "the right operand of %s must be an expression; add parentheses", n.tok.Raw)
			}
			right, err := x.postfix(ns[i+1 : e])
			if err != nil {
				return nil, err
			}
			out = append(out, synth(n.tok, bitOps[n.tok.Val]+"(", append(left, synth(n.tok, ",", right, "")), ")"))
			i = e - 1
		case n.kind == leafNode && n.tok.Kind == TOp && n.tok.Val == "~" && i+1 < len(ns) && (len(out) == 0 || primaryStart(out, len(out)-1) < 0 && !out[len(out)-1].isPunct(".")):
			// prefix ~: bitwise NOT (infix ~ is a regular expression match)
			right, e, err := takeRight(i + 1)
			if err != nil {
				return nil, err
			}
			out = append(out, synth(n.tok, "__bitnot(", right, ")"))
			i = e - 1
		case n.kind == leafNode && n.tok.Kind == TOp && n.tok.Val == "^" && len(out) > 0:
			// exponentiation (MySQL reads ^ as XOR)
			left, err := takeLeft()
			if err != nil {
				return nil, err
			}
			right, e, err := takeRight(i + 1)
			if err != nil {
				return nil, err
			}
			out = append(out, synth(n.tok, "__pow(", append(left, synth(n.tok, ",", right, "")), ")"))
			i = e - 1
		case n.kind == leafNode && n.tok.Kind == TOp && isCompareOp(n.tok.Val) && i+2 < len(ns) && (ns[i+1].isKw("any") || ns[i+1].isKw("some") || ns[i+1].isKw("all")) && ns[i+2].isParen() && !startsWithSelect(ns[i+2].kids):
			left, err := takeLeft()
			if err != nil {
				return nil, err
			}
			fn := "__any("
			if ns[i+1].isKw("all") {
				fn = "__all("
			}
			out = append(out, synth(n.tok, fn+quoteString(n.tok.Val)+",", append(left, synth(n.tok, ",", ns[i+2].kids, "")), ")"))
			i += 2
		default:
			out = append(out, n)
		}
	}
	return out, nil
}

// grammarOps are the operators that reach the grammar as they are, with
// PostgreSQL's meaning; the others are rewritten before (::, ->, ~, &, ||
// of jsonb, ...) or do not exist.
var grammarOps = map[string]bool{
	"+": true, "-": true, "*": true, "/": true, "%": true, "<": true, ">": true, "=": true,
	"<=": true, ">=": true, "<>": true, "!=": true, "||": true,
}

func isCompareOp(op string) bool {
	switch op {
	case "=", "<>", "!=", "<", "<=", ">", ">=":
		return true
	}
	return false
}

func startsWithSelect(ns []*node) bool {
	return len(ns) > 0 && (ns[0].isKw("select") || ns[0].isKw("with") || ns[0].isKw("values"))
}

// keywordForms: FULL JOIN, IS [NOT] DISTINCT FROM, DISTINCT ON, SIMILAR TO,
// RETURNING, BETWEEN SYMMETRIC.
func (x *translator) keywordForms(ns []*node) ([]*node, error) {
	out := make([]*node, 0, len(ns))
	for i := 0; i < len(ns); i++ {
		n := ns[i]
		at := func(k int) *node {
			if i+k < len(ns) {
				return ns[i+k]
			}
			return &node{kind: leafNode, tok: Token{Kind: TEOF}}
		}
		switch {
		case n.isKw("full") && (at(1).isKw("join") || (at(1).isKw("outer") && at(2).isKw("join"))):
			out = append(out, textNode(n.tok, "straight_join"))
			if at(1).isKw("outer") {
				i++
			}
			i++
		case n.isKw("asof") && (at(1).isKw("join") || (at(1).isKw("left") && (at(2).isKw("join") || (at(2).isKw("outer") && at(3).isKw("join"))))):
			// ASOF [LEFT [OUTER]] JOIN t ON cond  →  [LEFT] JOIN t ON __asof_join() AND (cond):
			// the binder finds the marker and makes it an as-of join
			k := i + 1
			for !ns[k].isKw("join") {
				if !ns[k].isKw("outer") {
					out = append(out, ns[k])
				}
				k++
			}
			out = append(out, ns[k])
			k++
			for k < len(ns) && !ns[k].isKw("on") && !joinClauseEnd(ns[k]) {
				out = append(out, ns[k])
				k++
			}
			if k >= len(ns) || !ns[k].isKw("on") {
				return nil, sqlerr.Syntax(CharPos(x.src, n.tok.Pos), "ASOF JOIN needs an ON condition with the time comparison")
			}
			out = append(out, ns[k], textNode(ns[k].tok, "__asof_join() and ("))
			k++
			end := k
			for end < len(ns) && !joinClauseEnd(ns[end]) {
				end++
			}
			cond, err := x.keywordForms(ns[k:end])
			if err != nil {
				return nil, err
			}
			out = append(out, cond...)
			out = append(out, textNode(ns[k-1].tok, ")"))
			i = end - 1
		case n.isKw("asof") && (at(1).isKw("right") || at(1).isKw("full") || at(1).isKw("cross") || at(1).isKw("natural") || at(1).isKw("inner")):
			return nil, sqlerr.Unsupported("ASOF JOIN is inner (ASOF JOIN) or left (ASOF LEFT JOIN)").WithPosition(CharPos(x.src, n.tok.Pos))
		case n.isKw("straight_join"):
			// a name in PostgreSQL
			out = append(out, &node{kind: leafNode, tok: Token{Kind: TQIdent, Val: n.tok.Val, Raw: n.tok.Raw, Pos: n.tok.Pos}})
		case n.isKw("is") && at(1).isKw("distinct") && at(2).isKw("from"):
			// a IS DISTINCT FROM b  →  a <=> b IS FALSE (the right operand is
			// complete before the next boolean or comparison boundary)
			j := i + 3
			for j < len(ns) && !exprBoundary(ns[j]) {
				j++
			}
			out = append(out, textNode(n.tok, "<=>"))
			out = append(out, ns[i+3:j]...)
			out = append(out, textNode(n.tok, "is false"))
			i = j - 1
		case n.isKw("is") && at(1).isKw("not") && at(2).isKw("distinct") && at(3).isKw("from"):
			j := i + 4
			for j < len(ns) && !exprBoundary(ns[j]) {
				j++
			}
			out = append(out, textNode(n.tok, "<=>"))
			out = append(out, ns[i+4:j]...)
			out = append(out, textNode(n.tok, "is true"))
			i = j - 1
		case n.isKw("distinct") && at(1).isKw("on") && at(2).isParen():
			// SELECT DISTINCT ON (k) ... → SELECT __distinct_on(k), ...
			out = append(out, synth(n.tok, "__distinct_on(", at(2).kids, "),"))
			i += 2
		case n.isKw("similar") && at(1).isKw("to"):
			return nil, x.unsupported(n, "SIMILAR TO is not supported; use LIKE or ~")
		case n.isKw("between") && at(1).isKw("symmetric"):
			return nil, x.unsupported(n, "BETWEEN SYMMETRIC is not supported")
		case n.isKw("lateral") && at(1).kind == leafNode && at(1).tok.Kind == TIdent && at(2).isParen():
			// LATERAL f(...): every function in FROM sees the items before it
		case n.isKw("lateral"):
			return nil, x.unsupported(n, "LATERAL subqueries are not supported")
		case n.isKw("tablesample"):
			return nil, x.unsupported(n, "TABLESAMPLE is not supported")
		case n.isKw("grouping") && at(1).isKw("sets"), n.isKw("rollup") && at(1).isParen(), n.isKw("cube") && at(1).isParen():
			return nil, x.unsupported(n, "GROUPING SETS, ROLLUP and CUBE are not supported")
		case n.kind == leafNode && n.tok.Kind == TOp && !grammarOps[n.tok.Val]:
			// an operator left over that the grammar would read otherwise
			// (%- as % and -, && as AND, ! as NOT, @ as a variable)
			return nil, sqlerr.New(sqlerr.UndefinedFunction, "operator does not exist: %s", n.tok.Val).WithPosition(CharPos(x.src, n.pos())).
				WithHint("No operator matches the given name and argument types. You might need to add explicit type casts.")
		default:
			out = append(out, n)
		}
	}
	return out, nil
}

// exprBoundary reports whether n ends an operand of a comparison.
func exprBoundary(n *node) bool {
	if n.kind != leafNode {
		return false
	}
	switch n.tok.Kind {
	case TPunct:
		return n.tok.Val == ","
	case TOp:
		return isCompareOp(n.tok.Val) || n.tok.Val == "<=>"
	case TIdent:
		switch n.tok.Val {
		case "and", "or", "not", "is", "then", "when", "else", "end", "as", "asc", "desc", "between", "in", "like", "ilike", "nulls":
			return true
		}
		return clauseWords[n.tok.Val]
	}
	return false
}

// orderNulls: ORDER BY x [ASC|DESC] NULLS FIRST|LAST → __nulls_first(x) ...
func (x *translator) orderNulls(ns []*node) ([]*node, error) {
	for i := 0; i+1 < len(ns); i++ {
		if !(ns[i].isKw("order") && ns[i+1].isKw("by")) {
			continue
		}
		start := i + 2
		end := start
		for end < len(ns) && !(ns[end].kind == leafNode && ns[end].tok.Kind == TIdent && (ns[end].tok.Val == "limit" || ns[end].tok.Val == "offset" || ns[end].tok.Val == "fetch" || ns[end].tok.Val == "for" || ns[end].tok.Val == "union" || ns[end].tok.Val == "intersect" || ns[end].tok.Val == "except" || ns[end].tok.Val == "emit")) && !frameStarts(ns, end) {
			end++
		}
		items := splitTop(ns[start:end])
		changed := false
		for k, it := range items {
			if len(it) >= 3 && it[len(it)-2].isKw("nulls") && (it[len(it)-1].isKw("first") || it[len(it)-1].isKw("last")) {
				which := it[len(it)-1].tok.Val
				body := it[:len(it)-2]
				dir := []*node{}
				if len(body) > 0 && (body[len(body)-1].isKw("asc") || body[len(body)-1].isKw("desc")) {
					dir = body[len(body)-1:]
					body = body[:len(body)-1]
				}
				items[k] = append([]*node{synth(it[0].tok, "__nulls_"+which+"(", body, ")")}, dir...)
				changed = true
			}
			for _, n := range it {
				if n.isKw("using") {
					return nil, x.unsupported(n, "ORDER BY ... USING is not supported")
				}
			}
		}
		if changed {
			var comma Token
			rebuilt := joinTop(items, comma)
			tail := append([]*node{}, ns[end:]...)
			ns = append(append(ns[:start:start], rebuilt...), tail...)
		}
	}
	return ns, nil
}

// limitOffset: LIMIT ALL, OFFSET before LIMIT, FETCH FIRST n ROWS ONLY,
// $n in LIMIT/OFFSET.
func (x *translator) limitOffset(ns []*node) ([]*node, error) {
	var limit, offset []*node
	first := -1
	var out []*node
	for i := 0; i < len(ns); i++ {
		n := ns[i]
		switch {
		case n.isKw("limit"), n.isKw("offset"):
			if first < 0 {
				first = len(out)
			}
			j := i + 1
			for j < len(ns) && !(ns[j].kind == leafNode && ns[j].tok.Kind == TIdent && (ns[j].tok.Val == "limit" || ns[j].tok.Val == "offset" || ns[j].tok.Val == "fetch" || ns[j].tok.Val == "for" || ns[j].tok.Val == "row" || ns[j].tok.Val == "rows")) && !ns[j].isPunct(";") {
				j++
			}
			val := ns[i+1 : j]
			if len(val) == 0 {
				return nil, x.errAt(n, "syntax error at or near %q", strings.ToUpper(n.tok.Val))
			}
			if n.isKw("limit") {
				if len(val) == 1 && val[0].isKw("all") {
					val = nil
				}
				limit = val
				if val == nil {
					limit = []*node{}
				}
			} else {
				offset = val
			}
			for j < len(ns) && (ns[j].isKw("row") || ns[j].isKw("rows")) {
				j++
			}
			i = j - 1
		case n.isKw("fetch") && i+1 < len(ns) && (ns[i+1].isKw("first") || ns[i+1].isKw("next")):
			if first < 0 {
				first = len(out)
			}
			j := i + 2
			var val []*node
			for j < len(ns) && !ns[j].isKw("row") && !ns[j].isKw("rows") {
				val = append(val, ns[j])
				j++
			}
			if len(val) == 0 {
				val = []*node{textNode(n.tok, "1")}
			}
			j++ // ROW(S)
			if j < len(ns) && ns[j].isKw("only") {
				j++
			} else if j+1 < len(ns) && ns[j].isKw("with") && ns[j+1].isKw("ties") {
				// the count rides on a "?" of its own, which the binder
				// reads as the count of a LIMIT WITH TIES
				before := len(x.limit)
				v := x.limitValue(val)
				count := ""
				if len(x.limit) > before {
					count = "$" + strconv.Itoa(x.limit[before])
					x.limit = x.limit[:before]
				} else {
					var w writer
					w.emitList(v)
					count = strings.TrimSpace(w.b.String())
				}
				x.limit = append(x.limit, -(len(x.tr.WithTies) + 1))
				x.tr.WithTies = append(x.tr.WithTies, count)
				val = []*node{textNode(n.tok, "?")}
				j += 2
			}
			limit = val
			i = j - 1
		default:
			out = append(out, n)
		}
	}
	if first < 0 {
		return ns, nil
	}
	var clause []*node
	if len(limit) > 0 || offset != nil {
		if len(limit) == 0 {
			limit = []*node{textNode(ns[0].tok, "18446744073709551615")}
		}
		clause = append(clause, textNode(ns[0].tok, "limit"))
		clause = append(clause, x.limitValue(limit)...)
		if offset != nil {
			clause = append(clause, textNode(ns[0].tok, "offset"))
			clause = append(clause, x.limitValue(offset)...)
		}
	}
	res := append([]*node{}, out[:first]...)
	res = append(res, clause...)
	return append(res, out[first:]...), nil
}

// limitValue maps $n in LIMIT/OFFSET onto "?" (the only marker TiDB allows there).
func (x *translator) limitValue(v []*node) []*node {
	if len(v) == 1 && v[0].kind == synthNode && strings.HasPrefix(v[0].pre, "__param(") {
		n, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(v[0].pre, "__param("), ")"))
		x.limit = append(x.limit, n)
		return []*node{textNode(v[0].tok, "?")}
	}
	if len(v) == 1 && v[0].isParen() && len(v[0].kids) == 1 {
		return x.limitValue(v[0].kids)
	}
	return v
}

// values: VALUES (a, b), (c, d) → SELECT a AS column1, b AS column2 UNION ALL SELECT c, d.
func (x *translator) values(ns []*node) ([]*node, error) {
	var out []*node
	i := 1
	row := 0
	width := -1
	for i < len(ns) && ns[i].isParen() {
		cols := splitTop(ns[i].kids)
		if width >= 0 && len(cols) != width {
			return nil, x.errAt(ns[i], "VALUES lists must all be the same length")
		}
		width = len(cols)
		if row > 0 {
			out = append(out, textNode(ns[i].tok, "union all"))
		}
		out = append(out, textNode(ns[i].tok, "select"))
		for k, c := range cols {
			if k > 0 {
				out = append(out, textNode(ns[i].tok, ","))
			}
			out = append(out, c...)
			if row == 0 {
				out = append(out, textNode(ns[i].tok, "as "+quoteIdent("column"+strconv.Itoa(k+1))))
			}
		}
		row++
		i++
		if i < len(ns) && ns[i].isPunct(",") {
			i++
			continue
		}
		break
	}
	if row == 0 {
		return nil, x.errAt(ns[0], "syntax error at or near \"VALUES\"")
	}
	rest := ns[i:]
	if len(rest) > 0 {
		// VALUES ... ORDER BY/LIMIT applies to the whole list
		return append([]*node{textNode(ns[0].tok, "select * from"), synth(ns[0].tok, "(", out, ") as \"*VALUES*\"")}, rest...), nil
	}
	return out, nil
}

// fromItems: table functions in FROM and alias column lists.
func (x *translator) fromItems(ns []*node) ([]*node, error) {
	if x.noFrom > 0 {
		return ns, nil
	}
	out := make([]*node, 0, len(ns))
	inFrom := false
	expectItem := false
	for i := 0; i < len(ns); i++ {
		n := ns[i]
		if n.kind == leafNode && n.tok.Kind == TIdent {
			switch n.tok.Val {
			case "from":
				inFrom, expectItem = true, true
				out = append(out, n)
				continue
			case "join", "straight_join":
				expectItem = inFrom
				out = append(out, n)
				continue
			case "where", "group", "having", "order", "limit", "union", "intersect", "except", "window", "on", "using", "emit", "offset", "for", "set":
				inFrom, expectItem = false, false
			}
		}
		if n.kind == synthNode && n.pre == "straight_join" {
			expectItem = inFrom
			out = append(out, n)
			continue
		}
		if inFrom && n.isPunct(",") {
			expectItem = true
			out = append(out, n)
			continue
		}
		if !expectItem {
			out = append(out, n)
			continue
		}
		expectItem = false
		// the item: name[.name] [(args)] | (subquery) ; then [AS] alias [(cols)]
		j := i
		if n.isParen() {
			j++
		} else if n.isLeaf(TIdent) || n.isLeaf(TQIdent) {
			j++
			for j+1 < len(ns) && ns[j].isPunct(".") && (ns[j+1].isLeaf(TIdent) || ns[j+1].isLeaf(TQIdent)) {
				j += 2
			}
			if j < len(ns) && ns[j].isParen() {
				// table function
				name := ns[j-1].tok.Val
				var w writer
				w.emitList(ns[j].kids)
				x.nTVF++
				ph := "__tvf" + strconv.Itoa(x.nTVF)
				x.tr.TableFuncs = append(x.tr.TableFuncs, TableFunc{Placeholder: ph, Name: name, Args: w.b.String(), Pos: CharPos(x.src, n.pos())})
				out = append(out, textNode(n.tok, quoteIdent(ph)))
				i = j
				j++
				goto alias
			}
		} else {
			out = append(out, n)
			continue
		}
		out = append(out, ns[i:j]...)
		i = j - 1
	alias:
		// optional alias and column list
		k := i + 1
		if k < len(ns) && ns[k].isKw("as") {
			k++
		}
		if k < len(ns) && (ns[k].isLeaf(TQIdent) || (ns[k].isLeaf(TIdent) && !clauseWords[ns[k].tok.Val] && !keywords[ns[k].tok.Val])) {
			alias := ns[k].tok.Val
			if k+1 < len(ns) && ns[k+1].isParen() {
				var cols []string
				for _, c := range splitTop(ns[k+1].kids) {
					if len(c) != 1 || !(c[0].isLeaf(TIdent) || c[0].isLeaf(TQIdent)) {
						return nil, x.errAt(ns[k+1], "syntax error in column alias list")
					}
					cols = append(cols, c[0].tok.Val)
				}
				x.tr.AliasColumns[alias] = cols
				out = append(out, ns[i+1:k+1]...)
				i = k + 1
				continue
			}
			out = append(out, ns[i+1:k+1]...)
			i = k
		}
	}
	return out, nil
}

// onConflict: INSERT ... ON CONFLICT [(cols)] DO NOTHING | DO UPDATE SET ...
func (x *translator) onConflict(ns []*node) ([]*node, error) {
	if len(ns) == 0 || !ns[0].isKw("insert") {
		return ns, nil
	}
	for i := 0; i+1 < len(ns); i++ {
		if !(ns[i].isKw("on") && ns[i+1].isKw("conflict")) {
			continue
		}
		j := i + 2
		if j < len(ns) && ns[j].isParen() {
			for _, c := range splitTop(ns[j].kids) {
				if len(c) != 1 {
					return nil, x.unsupported(ns[j], "ON CONFLICT supports a list of column names only")
				}
				x.tr.ConflictTarget = append(x.tr.ConflictTarget, c[0].tok.Val)
			}
			j++
		} else if j+1 < len(ns) && ns[j].isKw("on") && ns[j+1].isKw("constraint") {
			j += 3
		}
		if j+1 >= len(ns) || !ns[j].isKw("do") {
			return nil, x.errAt(ns[i], "syntax error at or near \"ON CONFLICT\"")
		}
		if ns[j+1].isKw("nothing") {
			x.tr.OnConflict = "nothing"
			if j+2 < len(ns) {
				return nil, x.errAt(ns[j+2], "syntax error at or near %q", ns[j+2].tok.Raw)
			}
			head := append([]*node{ns[0], textNode(ns[0].tok, "ignore")}, ns[1:i]...)
			return head, nil
		}
		if ns[j+1].isKw("update") && j+2 < len(ns) && ns[j+2].isKw("set") {
			x.tr.OnConflict = "update"
			for _, n := range ns[j+3:] {
				if n.isKw("where") {
					return nil, x.unsupported(n, "ON CONFLICT DO UPDATE ... WHERE is not supported")
				}
			}
			res := append([]*node{}, ns[:i]...)
			res = append(res, textNode(ns[i].tok, "on duplicate key update"))
			return append(res, ns[j+3:]...), nil
		}
		return nil, x.errAt(ns[j], "syntax error at or near \"DO\"")
	}
	return ns, nil
}

// joinClauseEnd: where a join's ON condition ends at its level.
func joinClauseEnd(n *node) bool {
	if n.kind != leafNode {
		return false
	}
	if n.tok.Kind == TEOF || n.tok.IsPunct(";") || n.tok.IsPunct(",") {
		return true
	}
	for _, kw := range []string{"join", "inner", "left", "right", "full", "cross", "natural", "asof", "where", "group", "having", "window", "order", "limit", "offset", "fetch", "union", "intersect", "except", "returning", "for", "on"} {
		if n.isKw(kw) {
			return true
		}
	}
	return false
}

// markStatementNames marks, in an INSERT or UPDATE, the words that can
// only be names — the target table, its alias, the column list, the
// columns assigned — and UPDATE's SET as the keyword, so that words the
// grammar reserves (an "update" column, a "set" table) work there.
func markStatementNames(ns []*node) {
	if len(ns) == 0 {
		return
	}
	nameAt := func(i int) int {
		// a possibly qualified name starting at i; the index after it
		if i >= len(ns) || !(ns[i].isLeaf(TIdent) || ns[i].isLeaf(TQIdent)) {
			return i
		}
		ns[i].name = ns[i].isLeaf(TIdent)
		i++
		for i+1 < len(ns) && ns[i].isPunct(".") && (ns[i+1].isLeaf(TIdent) || ns[i+1].isLeaf(TQIdent)) {
			ns[i+1].name = ns[i+1].isLeaf(TIdent)
			i += 2
		}
		return i
	}
	switch {
	case ns[0].isKw("insert") && len(ns) > 2 && ns[1].isKw("into"):
		i := nameAt(2)
		if i < len(ns) && ns[i].isKw("as") {
			i = nameAt(i + 1)
		}
		if i < len(ns) && ns[i].isParen() {
			for _, item := range splitTop(ns[i].kids) {
				if len(item) == 1 && item[0].isLeaf(TIdent) {
					item[0].name = true
				}
			}
		}
	case ns[0].isKw("update"):
		i := 1
		if i < len(ns) && ns[i].isKw("only") {
			i++
		}
		i = nameAt(i)
		if i < len(ns) && ns[i].isKw("as") {
			i++
		}
		if i < len(ns) && !ns[i].isKw("set") && ns[i].isLeaf(TIdent) {
			ns[i].name = true // the alias
			i++
		}
		if i >= len(ns) || !ns[i].isKw("set") {
			return
		}
		ns[i].word = true
		// the assignments, up to FROM, WHERE or RETURNING: a name before each =
		depth := 0
		for k := i + 1; k < len(ns); k++ {
			n := ns[k]
			if n.isKw("from") || n.isKw("where") || n.isKw("returning") {
				return
			}
			if n.isKw("case") {
				depth++
			} else if n.isKw("end") && depth > 0 {
				depth--
			}
			if depth == 0 && n.isLeaf(TIdent) && k+1 < len(ns) && ns[k+1].isPunct("=") && (ns[k-1].isPunct(",") || ns[k-1] == ns[i]) {
				n.name = true
			}
		}
	}
}

// hasTopWord reports whether one of the words appears among ns (not
// inside brackets).
func hasTopWord(ns []*node, words ...string) bool {
	for _, n := range ns {
		for _, w := range words {
			if n.isKw(w) {
				return true
			}
		}
	}
	return false
}

// bitOps are PostgreSQL's bitwise operators and the functions they become.
var bitOps = map[string]string{"&": "__bitand", "|": "__bitor", "#": "__bitxor", "<<": "__shl", ">>": "__shr"}

// isArith reports whether n is an operator PostgreSQL ranks above its
// "other" operators (the bitwise ones, ||, JSON's): + - * / %.
func isArith(n *node) bool {
	if n.kind != leafNode || n.tok.Kind != TOp {
		return false
	}
	switch n.tok.Val {
	case "+", "-", "*", "/", "%":
		return true
	}
	return false
}

// operandStart is where the operand ending at ns[end] starts when it may
// hold arithmetic (a + b * -c); end must end a primary.
func operandStart(ns []*node, end int) int {
	s := primaryStart(ns, end)
	for s > 0 && isArith(ns[s-1]) {
		if s >= 2 {
			if p := primaryStart(ns, s-2); p >= 0 {
				s = p
				continue
			}
		}
		s-- // a sign
	}
	return s
}

// operandEnd is one past the operand starting at ns[from] when it may
// hold arithmetic and casts, or -1.
func operandEnd(ns []*node, from int) int {
	i := from
	for {
		for i < len(ns) && (ns[i].isPunct("-") || ns[i].isPunct("+") || ns[i].isPunct("~")) {
			i++ // signs (and bitwise NOT)
		}
		e := primaryEnd(ns, i)
		if e < 0 {
			return -1
		}
		for e+1 < len(ns) && ns[e].isPunct("::") {
			e += 2 // a cast: its type name, maybe with modifiers and []
			for e < len(ns) && (ns[e].isParen() || ns[e].isBracket() || ns[e].isLeaf(TIdent) && (ns[e].tok.Val == "precision" || ns[e].tok.Val == "varying" || ns[e].tok.Val == "with" || ns[e].tok.Val == "without" || ns[e].tok.Val == "time" || ns[e].tok.Val == "zone")) {
				e++
			}
		}
		if e < len(ns) && isArith(ns[e]) {
			i = e + 1
			continue
		}
		return e
	}
}

// jsonOps are the JSON (and array containment) operators and the
// functions they become.
var jsonOps = map[string]string{"->": "__json_get", "->>": "__json_get_text", "#>": "__json_path", "#>>": "__json_path_text",
	"@>": "__json_contains", "<@": "__json_contained", "?": "__json_has_key", "?|": "__json_has_any", "?&": "__json_has_all",
	"#-": "__json_delete_path"}
