package planner

// Point reads of a materialized view: SELECT ... FROM v WHERE col = value
// looks the rows up in an index on col of the view's arrangement instead
// of copying every row of the view (flow.View.Lookup). An index is made
// the first time a query asks for one (from the rows there are then) and
// kept up to date with every change after.

import (
	"github.com/streamsql/streamsql/engine/expr"
	"github.com/streamsql/streamsql/types"
)

// pointLookup finds in a filter over a view a column compared for
// equality with a value that depends on no column (a constant or a
// parameter) of the same type, or both integers: the column and the value
// to look up (ok false when there is none). The filter still runs over
// what the lookup returns.
func pointLookup(ctx *expr.Ctx, pred expr.Expr, ts []types.T) (col int, d types.Datum, ok bool) {
	var conj []expr.Expr
	if l, isAnd := pred.(*expr.Logic); isAnd && !l.Or {
		conj = l.Args
	} else {
		conj = []expr.Expr{pred}
	}
	for _, e := range conj {
		c, isCmp := e.(*expr.Compare)
		if !isCmp || c.Op != expr.EQ {
			continue
		}
		for _, pair := range [2][2]expr.Expr{{c.L, c.R}, {c.R, c.L}} {
			ref, isCol := pair[0].(*expr.Col)
			if !isCol || ref.Idx >= len(ts) || !readsNoColumn(pair[1]) {
				continue
			}
			ct, vt := ts[ref.Idx], pair[1].Type()
			if ct.Name == "bpchar" || vt.Name == "bpchar" {
				continue // blank-padded: equal values can differ in their bytes
			}
			if !(ct.Kind == vt.Kind && ct.Kind != types.Array) && !(ct.Kind.IsInteger() && vt.Kind.IsInteger()) {
				continue
			}
			v, err := expr.EvalRow(ctx, pair[1])
			if err != nil {
				continue // the filter reports it
			}
			return ref.Idx, v, true
		}
	}
	return 0, types.Datum{}, false
}

// readsNoColumn reports whether e reads no column.
func readsNoColumn(e expr.Expr) bool {
	reads := false
	return expr.Refs(e, func(int) { reads = true }) && !reads
}
