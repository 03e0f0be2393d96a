package pgsql

import (
	"strings"

	"github.com/streamsql/streamsql/sqlerr"
)

// The translator works on a tree of tokens: parentheses and brackets become
// groups, so that "the operand to the left of ::" or "the argument list of
// this call" are single nodes, and rewrites replace runs of sibling nodes with
// one synthetic node that emits new text around its children.

type nodeKind uint8

const (
	leafNode  nodeKind = iota
	groupNode          // ( kids ) or [ kids ]
	synthNode          // pre kids post
)

type node struct {
	kind  nodeKind
	tok   Token // the leaf token, the opening bracket, or the source anchor of a synthetic node
	kids  []*node
	close Token
	pre   string
	post  string
	// word forces a leaf word to be emitted verbatim (no quoting); name
	// forces it to be a quoted name (a keyword of the grammar used as a
	// name, as PostgreSQL allows).
	word, name bool
}

func (n *node) isLeaf(kind TokKind) bool { return n.kind == leafNode && n.tok.Kind == kind }
func (n *node) isKw(kw string) bool      { return n.kind == leafNode && n.tok.Is(kw) && !n.name }
func (n *node) isPunct(p string) bool    { return n.kind == leafNode && n.tok.IsPunct(p) }
func (n *node) isParen() bool            { return n.kind == groupNode && n.tok.Val == "(" }
func (n *node) isBracket() bool          { return n.kind == groupNode && n.tok.Val == "[" }

// pos is the source byte offset where the node starts.
func (n *node) pos() int {
	if n.kind == synthNode && len(n.kids) > 0 {
		return n.kids[0].pos()
	}
	return n.tok.Pos
}

func synth(anchor Token, pre string, kids []*node, post string) *node {
	return &node{kind: synthNode, tok: anchor, pre: pre, kids: kids, post: post}
}

func textNode(anchor Token, text string) *node {
	return &node{kind: synthNode, tok: anchor, pre: text}
}

// maxOperatorRun bounds a run of operators with no comma, bracket or
// boolean connective between them. No parse of a longer run is shallower
// than sqlerr.MaxExprDepth (operators of one precedence chain one level
// each; ten levels of precedence at most share the run), so it is refused
// before the grammar builds a tree of millions of nodes for it.
const maxOperatorRun = 10 * sqlerr.MaxExprDepth

// guardDepth refuses input whose expressions must nest deeper than
// sqlerr.MaxExprDepth: brackets and CASEs nested that deep, or a run of
// operators longer than maxOperatorRun. Every later pass recurses over
// the statement's structure, so this keeps them all within bounds.
func guardDepth(src string, toks []Token) error {
	nest := 0
	run := []int{0}   // operators in the current run, per bracket level
	cases := []int{0} // CASEs open, per bracket level
	for _, t := range toks {
		top := len(run) - 1
		switch t.Kind {
		case TPunct:
			switch t.Val {
			case "(", "[":
				nest++
				run, cases = append(run, 0), append(cases, 0)
			case ")", "]":
				if top > 0 {
					nest -= 1 + cases[top]
					run, cases = run[:top], cases[:top]
				}
			case ",", ";":
				run[top] = 0
			}
		case TOp:
			run[top]++
		case TIdent:
			switch t.Val {
			case "case":
				nest++
				cases[top]++
			case "end":
				if cases[top] > 0 {
					cases[top]--
					nest--
				}
				run[top] = 0
			case "not", "is", "like", "ilike", "in", "between", "similar", "at", "collate":
				run[top]++
			case "and", "or", "when", "then", "else", "select", "from", "where", "group", "having", "order", "by", "limit", "offset", "on", "join", "union", "intersect", "except", "values", "set", "as", "returning":
				run[top] = 0
			}
		}
		if nest > sqlerr.MaxExprDepth || run[len(run)-1] > maxOperatorRun {
			return sqlerr.TooDeep(CharPos(src, t.Pos))
		}
	}
	return nil
}

// buildTree groups tokens by brackets. toks must end with TEOF.
func buildTree(src string, toks []Token) ([]*node, error) {
	if err := guardDepth(src, toks); err != nil {
		return nil, err
	}
	var stack [][]*node
	var opens []Token
	cur := []*node{}
	for _, t := range toks {
		if t.Kind == TEOF {
			break
		}
		if t.Kind == TPunct && (t.Val == "(" || t.Val == "[") {
			stack = append(stack, cur)
			opens = append(opens, t)
			cur = []*node{}
			continue
		}
		if t.Kind == TPunct && (t.Val == ")" || t.Val == "]") {
			if len(stack) == 0 || (t.Val == ")") != (opens[len(opens)-1].Val == "(") {
				return nil, syntaxAt(src, t.Pos)
			}
			g := &node{kind: groupNode, tok: opens[len(opens)-1], kids: cur, close: t}
			cur = append(stack[len(stack)-1], g)
			stack = stack[:len(stack)-1]
			opens = opens[:len(opens)-1]
			continue
		}
		cur = append(cur, &node{kind: leafNode, tok: t})
	}
	if len(stack) > 0 {
		return nil, syntaxAt(src, len(src))
	}
	return cur, nil
}

// splitTop splits nodes at top-level commas.
func splitTop(ns []*node) [][]*node {
	var out [][]*node
	start := 0
	for i, n := range ns {
		if n.isPunct(",") {
			out = append(out, ns[start:i])
			start = i + 1
		}
	}
	if len(ns) > 0 {
		out = append(out, ns[start:])
	}
	return out
}

// joinTop rebuilds a list from comma-separated parts.
func joinTop(parts [][]*node, comma Token) []*node {
	var out []*node
	for i, p := range parts {
		if i > 0 {
			out = append(out, &node{kind: leafNode, tok: Token{Kind: TPunct, Val: ",", Raw: ",", Pos: comma.Pos}})
		}
		out = append(out, p...)
	}
	return out
}

// writer accumulates output text and remembers which source offset each
// emitted piece came from, to map parser error offsets back.
type writer struct {
	b    strings.Builder
	segs []seg
	// glue suppresses the space before the next piece: MySQL reads
	// "count (" as a name, not a call, unless the parenthesis touches it.
	glue  bool
	depth int // brackets open around the piece being written
	// window: writing the kids of a window specification, OVER (...) or
	// WINDOW w AS (...), where ROWS and RANGE start a frame
	window bool
}

type seg struct{ out, src int }

func (w *writer) put(s string, src int) {
	if w.b.Len() > 0 && !w.glue {
		w.b.WriteByte(' ')
	}
	w.glue = false
	w.segs = append(w.segs, seg{out: w.b.Len(), src: src})
	w.b.WriteString(s)
}

func quoteIdent(s string) string {
	return `"` + strings.ReplaceAll(s, `"`, `""`) + `"`
}

func quoteString(s string) string {
	return "'" + strings.ReplaceAll(s, "'", "''") + "'"
}

func (w *writer) emitList(ns []*node) {
	for i, n := range ns {
		var next *node
		if i+1 < len(ns) {
			next = ns[i+1]
		}
		var prev *node
		if i > 0 {
			prev = ns[i-1]
		}
		w.emit(n, prev, next)
	}
}

func (w *writer) emit(n *node, prev, next *node) {
	switch n.kind {
	case groupNode:
		if n.tok.Val == "(" && prev != nil && prev.kind == leafNode && (prev.tok.Kind == TIdent || prev.tok.Kind == TQIdent) {
			w.glue = true
		}
		w.put(n.tok.Val, n.tok.Pos)
		saved := w.window
		w.window = prev != nil && (prev.isKw("over") || prev.isKw("as") && !startsWithSelect(n.kids) && n.tok.Val == "(")
		w.depth++
		w.emitList(n.kids)
		w.depth--
		w.window = saved
		w.put(n.close.Val, n.close.Pos)
	case synthNode:
		if n.pre != "" {
			w.put(n.pre, n.tok.Pos)
		}
		w.emitList(n.kids)
		if n.post != "" {
			w.put(n.post, n.tok.Pos)
		}
	default:
		t := n.tok
		switch t.Kind {
		case TIdent:
			callee := next != nil && next.isParen()
			qualified := (next != nil && next.isPunct(".")) || (prev != nil && prev.isPunct("."))
			switch {
			case n.word:
				w.put(t.Val, t.Pos)
			case n.name, qualified, prev != nil && prev.isKw("as") && !callee:
				n.name = true
				w.put(quoteIdent(t.Val), t.Pos)
			case callee && calleeRenames[t.Val] != "":
				w.put(calleeRenames[t.Val], t.Pos)
			case callee || keywords[t.Val] && keywordHere(t.Val, prev, next, w.depth == 0, w.window):
				w.put(t.Val, t.Pos)
			default:
				n.name = true
				w.put(quoteIdent(t.Val), t.Pos)
			}
		case TQIdent:
			w.put(quoteIdent(t.Val), t.Pos)
		case TString:
			w.put(quoteString(t.Val), t.Pos)
		case TNumber:
			if strings.ContainsAny(t.Raw, "eE") || len(t.Val) > 60 {
				// numeric in PostgreSQL, of any size; the grammar would
				// read a double, or fail past 65 digits
				w.put("__pgcast("+quoteString(t.Val)+", 'numeric')", t.Pos)
				break
			}
			w.put(t.Val, t.Pos)
		default:
			w.put(t.Val, t.Pos)
		}
	}
}

// calleeRenames are functions whose MySQL meaning differs from
// PostgreSQL's: TiDB turns || into concat() (PostgreSQL's concat skips
// NULLs), mod() into the % operator, stddev and variance into the
// population statistics (PostgreSQL's are the sample ones).
var calleeRenames = map[string]string{
	"concat": "__concat", "mod": "__mod", "stddev": "__stddev", "variance": "__variance", "std": "__stddev",
	// TiDB's own sequence syntax: NEXTVAL(name)
	"nextval": "__nextval", "setval": "__setval", "currval": "__currval", "lastval": "__lastval",
	// keywords of TiDB's grammar that are plain functions in PostgreSQL
	"cardinality": "__cardinality", "div": "__div",
}

// keywordHere reports whether a word of keywords is used as a keyword
// where it stands, judging by its neighbours. The TiDB grammar reserves
// words that PostgreSQL lets a query use as names (a column "by", a table
// "range"): those are keywords only in their own constructs and names
// everywhere else; the others are always keywords.
func keywordHere(word string, prev, next *node, top, window bool) bool {
	is := func(n *node, kw string) bool { return n != nil && n.isKw(kw) && !n.name }
	switch word {
	case "by":
		return is(prev, "group") || is(prev, "order") || is(prev, "partition")
	case "partition":
		return is(next, "by")
	case "over":
		// fn(...) OVER (...) | fn(...) OVER window_name
		return prev != nil && (prev.kind == groupNode || prev.kind == synthNode) && next != nil &&
			(next.isParen() || next.isLeaf(TQIdent) || next.isLeaf(TIdent) && !keywords[next.tok.Val] && !clauseWords[next.tok.Val])
	case "rows", "range", "groups":
		// a window frame: ROWS BETWEEN, ROWS UNBOUNDED, ROWS CURRENT, ROWS 3 PRECEDING
		return window && (is(next, "between") || is(next, "unbounded") || is(next, "current") || next != nil && (next.isLeaf(TNumber) || next.kind == synthNode))
	case "between":
		return prev != nil && (endsOperand(prev) || is(prev, "not") || window && (is(prev, "rows") || is(prev, "range") || is(prev, "groups")))
	case "exists":
		return next != nil && next.isParen()
	case "row":
		return next != nil && next.isParen() || window && is(prev, "current")
	case "values":
		return next != nil && next.isParen() || is(prev, "default")
	case "recursive":
		return is(prev, "with")
	case "insert", "delete":
		// the start of the statement (also after a WITH clause)
		return top && (prev == nil || prev.kind == groupNode && (is(next, "into") || is(next, "from")))
	case "update":
		// an UPDATE statement (also after a WITH clause), FOR [NO KEY] UPDATE
		return top && (prev == nil || prev.kind == groupNode) || is(prev, "for") || is(prev, "key")
	case "set":
		// SET of an UPDATE is marked as a word (updateNames)
		return false
	}
	return true
}

// endsOperand reports whether n can end an operand (so that BETWEEN after
// it is the operator).
func endsOperand(n *node) bool {
	switch {
	case n.kind == groupNode || n.kind == synthNode:
		return true
	case n.kind != leafNode:
		return false
	case n.tok.Kind == TQIdent || n.tok.Kind == TString || n.tok.Kind == TNumber || n.name:
		return true
	case n.tok.Kind == TIdent:
		return !notOperandEnd[n.tok.Val]
	}
	return false
}

// notOperandEnd are the words after which an operator cannot follow:
// they introduce or join operands (the other words of keywords, like
// null, end or current, can end one).
var notOperandEnd = map[string]bool{}

func init() {
	for _, k := range strings.Fields(`all and any as asc between both by case collate cross default desc
		distinct else except exists for from full group having ilike in inner insert intersect into is
		join leading left like limit natural not offset on or order outer over partition range recursive
		right row rows select set some then trailing union update using values when where window with
		interval ignore duplicate straight_join regexp separator`) {
		notOperandEnd[k] = true
	}
}

// keywords are the words emitted bare; every other unquoted word is a name
// and is emitted quoted, so that MySQL-reserved words that PostgreSQL allows
// as names (key, status, range, rank ...) stay names.
var keywords = map[string]bool{}

func init() {
	for _, k := range strings.Fields(`all and any as asc between both by case collate cross
		current_date current_time current_timestamp localtime localtimestamp default delete desc distinct
		else end escape except exists false for from full group having ilike in inner insert intersect
		into is join leading left like limit natural not null offset on or order outer over partition
		preceding following unbounded current row rows range groups recursive right select set some then
		trailing true union update using values when where window with unknown interval
		ignore duplicate straight_join regexp separator`) {
		keywords[k] = true
	}
}

// clauseWords end an expression or a FROM item.
var clauseWords = map[string]bool{}

func init() {
	for _, k := range strings.Fields(`from where group having order limit offset fetch union
		intersect except window for on using join inner left right full cross natural into values
		returning set emit`) {
		clauseWords[k] = true
	}
}
