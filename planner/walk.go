package planner

import (
	"github.com/streamsql/streamsql/engine/expr"
)

// mapCols returns e with every column reference's index passed through f
// (nil from f keeps the reference). It is used to move expressions between
// the combined row of a join and one of its sides.
func mapCols(e expr.Expr, f func(c *expr.Col) expr.Expr) expr.Expr {
	switch x := e.(type) {
	case nil:
		return nil
	case *expr.Col:
		if r := f(x); r != nil {
			return r
		}
		return x
	case *expr.Arith:
		return &expr.Arith{Op: x.Op, L: mapCols(x.L, f), R: mapCols(x.R, f), T: x.T}
	case *expr.Compare:
		return &expr.Compare{Op: x.Op, L: mapCols(x.L, f), R: mapCols(x.R, f)}
	case *expr.Logic:
		return &expr.Logic{Or: x.Or, Args: mapList(x.Args, f)}
	case *expr.Not:
		return &expr.Not{E: mapCols(x.E, f)}
	case *expr.Neg:
		return &expr.Neg{E: mapCols(x.E, f)}
	case *expr.IsNull:
		return &expr.IsNull{E: mapCols(x.E, f), Not: x.Not}
	case *expr.IsBool:
		return &expr.IsBool{E: mapCols(x.E, f), What: x.What, Not: x.Not}
	case *expr.Cast:
		return &expr.Cast{E: mapCols(x.E, f), To: x.To, Explicit: x.Explicit}
	case *expr.Call:
		return &expr.Call{F: x.F, Args: mapList(x.Args, f), T: x.T}
	case *expr.Case:
		return &expr.Case{Whens: mapList(x.Whens, f), Thens: mapList(x.Thens, f), Else: mapCols(x.Else, f), T: x.T}
	case *expr.Coalesce:
		return &expr.Coalesce{Args: mapList(x.Args, f), T: x.T}
	case *expr.InList:
		return &expr.InList{E: mapCols(x.E, f), List: mapList(x.List, f), Not: x.Not}
	case *expr.FieldOf:
		return &expr.FieldOf{E: mapCols(x.E, f), Index: x.Index, Name: x.Name, T: x.T}
	case *subqueryExpr:
		c := *x
		c.outerArgs = mapList(x.outerArgs, f)
		return &c
	}
	return e
}

func mapList(es []expr.Expr, f func(c *expr.Col) expr.Expr) []expr.Expr {
	if es == nil {
		return nil
	}
	out := make([]expr.Expr, len(es))
	for i, e := range es {
		out[i] = mapCols(e, f)
	}
	return out
}

// colRange reports the smallest and largest column index e refers to
// (min = -1 when it refers to none) and whether it is volatile.
func colRange(e expr.Expr) (lo, hi int) {
	lo, hi = -1, -1
	mapCols(e, func(c *expr.Col) expr.Expr {
		if lo < 0 || c.Idx < lo {
			lo = c.Idx
		}
		if c.Idx > hi {
			hi = c.Idx
		}
		return nil
	})
	return lo, hi
}

// shift moves column references by d.
func shift(e expr.Expr, d int) expr.Expr {
	return mapCols(e, func(c *expr.Col) expr.Expr {
		return &expr.Col{Idx: c.Idx + d, T: c.T, Name: c.Name}
	})
}

// conjuncts splits an AND tree.
func conjuncts(e expr.Expr) []expr.Expr {
	if l, ok := e.(*expr.Logic); ok && !l.Or {
		var out []expr.Expr
		for _, a := range l.Args {
			out = append(out, conjuncts(a)...)
		}
		return out
	}
	return []expr.Expr{e}
}

// and joins conjuncts (nil for none).
func and(es []expr.Expr) expr.Expr {
	switch len(es) {
	case 0:
		return nil
	case 1:
		return es[0]
	}
	return &expr.Logic{Args: es}
}
