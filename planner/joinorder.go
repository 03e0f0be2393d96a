package planner

import (
	"github.com/streamsql/streamsql/engine/exec"
	"github.com/streamsql/streamsql/engine/expr"
)

// Joins written as a comma list (FROM a, b, c WHERE a.x = b.y AND ...) bind
// as cross products with the WHERE above them; built as written, nine
// catalog tables multiply into billions of rows (pgJDBC's getImportedKeys
// does exactly that). planInnerJoins reorders such a tree of inner joins:
// every condition that reads one table filters that table, and the tables
// are joined one at a time, each by the equalities that connect it to
// those joined so far (a hash join), so that a cross product is built only
// where no condition connects the rest. A projection puts the columns
// back in the order the query sees.

// joinLeaf is one input of a tree of inner joins: its columns are cols
// (indexes into the row of the whole tree as written).
type joinLeaf struct {
	node Node
	cols []int
}

// flattenInner collects the leaves of a tree of inner joins in column
// order and their ON conditions over the whole row; off is n's first
// column in that row.
func flattenInner(n Node, off int, leaves *[]joinLeaf, conds *[]expr.Expr) {
	j, ok := n.(*JoinNode)
	if !ok || j.Kind != exec.InnerJoin || j.AsOf != nil {
		w := len(n.Columns())
		cols := make([]int, w)
		for i := range cols {
			cols[i] = off + i
		}
		*leaves = append(*leaves, joinLeaf{node: n, cols: cols})
		return
	}
	nl := len(j.Left.Columns())
	flattenInner(j.Left, off, leaves, conds)
	flattenInner(j.Right, off+nl, leaves, conds)
	for k := range j.LeftKeys {
		*conds = append(*conds, &expr.Compare{Op: expr.EQ, L: shift(j.LeftKeys[k], off), R: shift(j.RightKeys[k], off+nl)})
	}
	if j.Residual != nil {
		*conds = append(*conds, conjuncts(shift(j.Residual, off))...)
	}
}

// hasCrossJoin reports whether a tree of inner joins holds a cross product
// (a join with no condition): a comma list.
func hasCrossJoin(n Node) bool {
	j, ok := n.(*JoinNode)
	if !ok || j.Kind != exec.InnerJoin || j.AsOf != nil {
		return false
	}
	return len(j.LeftKeys) == 0 && j.Residual == nil || hasCrossJoin(j.Left) || hasCrossJoin(j.Right)
}

// planInnerJoins places pred (a WHERE over n's columns) on the inner
// joins under n, reordering them (see above); ok is false when n is not
// such a tree, and the caller keeps it as it is.
func planInnerJoins(n Node, pred expr.Expr) (Node, bool) {
	if !hasCrossJoin(n) {
		return nil, false
	}
	var leaves []joinLeaf
	var conds []expr.Expr
	flattenInner(n, 0, &leaves, &conds)
	if pred != nil {
		conds = append(conds, conjuncts(pred)...)
	}
	owner := map[int]int{} // column → its leaf
	for li, l := range leaves {
		for _, c := range l.cols {
			owner[c] = li
		}
	}
	type cond struct {
		e      expr.Expr
		leaves map[int]bool // nil: unknown (it stays on top)
		used   bool
	}
	var cs []*cond
	for _, e := range conds {
		c := &cond{e: e, leaves: map[int]bool{}}
		if hasSubquery(e) || !expr.Refs(e, func(i int) { c.leaves[owner[i]] = true }) {
			c.leaves = nil
		}
		cs = append(cs, c)
	}
	// conditions on one table filter it
	filtered := make([]bool, len(leaves))
	for _, c := range cs {
		if c.leaves == nil || len(c.leaves) != 1 {
			continue
		}
		for li := range c.leaves {
			base := leaves[li].cols[0]
			leaves[li].node = &FilterNode{In: leaves[li].node, Pred: shift(c.e, -base)}
			filtered[li] = true
		}
		c.used = true
	}
	// join one table at a time: first one that is filtered, then always
	// one connected by an equality, a cross product only when none is
	start := 0
	for li := range leaves {
		if filtered[li] {
			start = li
			break
		}
	}
	cur := leaves[start]
	in := map[int]bool{start: true}
	covered := func(c *cond, extra int) bool {
		for li := range c.leaves {
			if !in[li] && li != extra {
				return false
			}
		}
		return true
	}
	for len(in) < len(leaves) {
		next := -1
	search:
		for _, c := range cs {
			if c.used || c.leaves == nil || len(c.leaves) < 2 {
				continue
			}
			for li := range c.leaves {
				if !in[li] && covered(c, li) && isEquality(c.e) {
					next = li
					break search
				}
			}
		}
		if next < 0 {
			for li := range leaves {
				if !in[li] {
					next = li
					break
				}
			}
		}
		right := leaves[next]
		// the joined row: cur's columns, then right's
		pos := map[int]int{}
		for i, c := range cur.cols {
			pos[c] = i
		}
		for i, c := range right.cols {
			pos[c] = len(cur.cols) + i
		}
		remap := func(e expr.Expr) expr.Expr {
			return mapCols(e, func(c *expr.Col) expr.Expr { return &expr.Col{Idx: pos[c.Idx], T: c.T, Name: c.Name} })
		}
		j := &JoinNode{Kind: exec.InnerJoin, Left: cur.node, Right: right.node,
			Cols: append(append([]Column{}, cur.node.Columns()...), right.node.Columns()...)}
		var residual []expr.Expr
		for _, c := range cs {
			if c.used || c.leaves == nil || !c.leaves[next] || !covered(c, next) {
				continue
			}
			c.used = true
			e := remap(c.e)
			if l, r, ok := splitEquality(e, len(cur.cols)); ok {
				j.LeftKeys, j.RightKeys = append(j.LeftKeys, l), append(j.RightKeys, r)
				continue
			}
			residual = append(residual, e)
		}
		if len(residual) > 0 {
			j.Residual = and(residual)
		}
		in[next] = true
		cur = joinLeaf{node: j, cols: append(append([]int{}, cur.cols...), right.cols...)}
	}
	// back to the columns' order as written, then what is left on top
	var out Node = cur.node
	if !inOrder(cur.cols) {
		at := make([]int, len(cur.cols))
		for i, c := range cur.cols {
			at[c] = i
		}
		cols := n.Columns()
		exprs := make([]expr.Expr, len(cols))
		for c := range cols {
			exprs[c] = &expr.Col{Idx: at[c], T: cols[c].Type, Name: cols[c].Name}
		}
		out = &ProjectNode{In: out, Exprs: exprs, Cols: cols}
	}
	var rest []expr.Expr
	for _, c := range cs {
		if !c.used {
			rest = append(rest, c.e)
		}
	}
	if len(rest) > 0 {
		out = &FilterNode{In: out, Pred: and(rest)}
	}
	return out, true
}

func inOrder(cols []int) bool {
	for i, c := range cols {
		if c != i {
			return false
		}
	}
	return true
}

func isEquality(e expr.Expr) bool {
	c, ok := e.(*expr.Compare)
	return ok && c.Op == expr.EQ
}
