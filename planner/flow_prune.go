package planner

import (
	"maps"

	"github.com/streamsql/streamsql/engine/exec"
	"github.com/streamsql/streamsql/engine/expr"
)

// Column pruning for dataflow graphs: which columns of each stream a view
// reads, traced from the view's output down through every node to the
// scans. A stream's other columns are never decoded from its records
// (they arrive as NULLs, free to copy), as the fixed flow shapes do.

// colSet is a set of column indexes.
type colSet map[int]bool

// allOf is every column of n.
func allOf(n Node) colSet {
	s := colSet{}
	for i := range n.Columns() {
		s[i] = true
	}
	return s
}

// refs adds the columns the expressions read (shifted by -shift, only
// those in [0, width) when width > 0); false if it cannot see through one.
func (s colSet) refs(shift, width int, es ...expr.Expr) bool {
	for _, e := range es {
		if !expr.Refs(e, func(i int) {
			if i -= shift; i >= 0 && (width <= 0 || i < width) {
				s[i] = true
			}
		}) {
			return false
		}
	}
	return true
}

func sortExprs(keys []exec.SortKey) []expr.Expr {
	out := make([]expr.Expr, len(keys))
	for i, k := range keys {
		out[i] = k.E
	}
	return out
}

// neededByScan traces the columns need of n's output down to the scans
// below it, adding to out what each scan must provide. A node it cannot
// see through needs every column of its inputs.
func neededByScan(n Node, need colSet, out map[*ScanNode]colSet) {
	in := func(child Node, s colSet) { neededByScan(child, s, out) }
	all := func() {
		for _, c := range n.Children() {
			if c != nil {
				in(c, allOf(c))
			}
		}
	}
	switch x := n.(type) {
	case *ScanNode:
		s := out[x]
		if s == nil {
			s = colSet{}
			out[x] = s
		}
		for i := range need {
			s[i] = true
		}
	case *ProjectNode:
		s := colSet{}
		for j := range need {
			if j >= len(x.Exprs) || !s.refs(0, 0, x.Exprs[j]) {
				all()
				return
			}
		}
		in(x.In, s)
	case *FilterNode:
		s := maps.Clone(need)
		if !s.refs(0, 0, x.Pred) {
			all()
			return
		}
		in(x.In, s)
	case *WindowTVFNode:
		if x.Spec.Session {
			all()
			return
		}
		s := colSet{x.Spec.TimeCol: true}
		for j := range need {
			if j < len(x.In.Columns()) {
				s[j] = true
			}
		}
		in(x.In, s)
	case *AggNode:
		s := colSet{}
		ok := s.refs(0, 0, x.Keys...)
		for _, a := range x.Aggs {
			ok = ok && s.refs(0, 0, a.Arg, a.Sep) && s.refs(0, 0, sortExprs(a.Order)...)
		}
		if !ok {
			all()
			return
		}
		in(x.In, s)
	case *JoinNode:
		nL := len(x.Left.Columns())
		l, r := colSet{}, colSet{}
		for j := range need {
			if j < nL {
				l[j] = true
			} else {
				r[j-nL] = true
			}
		}
		ok := l.refs(0, 0, x.LeftKeys...) && r.refs(0, 0, x.RightKeys...) &&
			l.refs(0, nL, x.Residual) && r.refs(nL, 0, x.Residual)
		if x.AsOf != nil {
			l[x.AsOf.LeftTime], r[x.AsOf.RightTime] = true, true
		}
		if !ok {
			all()
			return
		}
		in(x.Left, l)
		in(x.Right, r)
	case *UnionNode:
		for _, c := range x.Inputs {
			s := maps.Clone(need)
			in(c, s)
		}
	case *WindowNode:
		s := colSet{}
		n := len(x.In.Columns())
		for j := range need {
			if j < n {
				s[j] = true
			}
		}
		ok := s.refs(0, 0, x.Partition...) && s.refs(0, 0, sortExprs(x.Order)...)
		for _, f := range x.Funcs {
			ok = ok && s.refs(0, 0, f.Arg)
		}
		if !ok {
			all()
			return
		}
		in(x.In, s)
	case *SortNode:
		s := maps.Clone(need)
		if !s.refs(0, 0, sortExprs(x.Keys)...) {
			all()
			return
		}
		in(x.In, s)
	case *LimitNode:
		s := maps.Clone(need)
		if !s.refs(0, 0, sortExprs(x.Ties)...) {
			all()
			return
		}
		in(x.In, s)
	default:
		// DISTINCT ON, INTERSECT and EXCEPT compare whole rows; anything
		// else is read whole too
		all()
	}
}

// pruneSources sets each stream source's keep mask: the columns its scans
// need, the watermark's column, and the position columns a failed row's
// report names.
func (p *graphPlan) pruneSources(root Node) {
	out := map[*ScanNode]colSet{}
	neededByScan(root, allOf(root), out)
	need := map[*graphSource]colSet{}
	for scan, s := range out {
		src := p.scans[scan]
		if src == nil || src.stream == nil {
			continue
		}
		if need[src] == nil {
			need[src] = colSet{}
		}
		for i := range s {
			need[src][i] = true
		}
	}
	for src, s := range need {
		width := len(src.ts)
		if width < 3 {
			continue
		}
		s[width-3], s[width-2] = true, true // _shard, _seq
		if src.wmCol >= 0 {
			s[src.wmCol] = true
		}
		if src.wmExpr != nil && !s.refs(0, 0, src.wmExpr) {
			continue
		}
		keep := make([]bool, width)
		all := true
		for i := range keep {
			keep[i] = s[i]
			all = all && keep[i]
		}
		if !all {
			src.keep = keep
		}
	}
}
