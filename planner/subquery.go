package planner

import (
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/pingcap/tidb/pkg/parser/ast"
	"github.com/streamsql/streamsql/engine/exec"
	"github.com/streamsql/streamsql/engine/expr"
	"github.com/streamsql/streamsql/sqlerr"
	"github.com/streamsql/streamsql/types"
)

type subMode uint8

const (
	subScalar subMode = iota
	subExists
	subAny
	subAll
	subArray
)

// subqueryExpr is a subquery used as an expression. An uncorrelated one is
// run once per statement; a correlated one once per outer row, with the
// outer row pushed on the evaluation context.
type subqueryExpr struct {
	mode       subMode
	plan       Node
	db         *DB
	lhs        expr.Expr
	cmp        string
	t          types.T
	correlated bool
	outerArgs  []expr.Expr
}

func (s *subqueryExpr) Type() types.T { return s.t }
func (s *subqueryExpr) String() string {
	return fmt.Sprintf("subquery(%s)", Explain(s.plan)[0])
}

func (s *subqueryExpr) run(ctx *expr.Ctx) ([]types.Datum, error) {
	op, err := build(ctx, s.db, s.plan)
	if err != nil {
		return nil, err
	}
	batches, err := exec.Drain(ctx, op)
	if err != nil {
		return nil, err
	}
	var out []types.Datum
	for _, b := range batches {
		for i := 0; i < int(b.NumRows()); i++ {
			out = append(out, types.DatumAt(b.Column(0), i))
			if s.mode == subExists {
				break
			}
		}
		b.Release()
	}
	return out, nil
}

func (s *subqueryExpr) resultFor(ctx *expr.Ctx, vals []types.Datum, lhs types.Datum) (types.Datum, error) {
	switch s.mode {
	case subScalar:
		if len(vals) > 1 {
			return types.Datum{}, sqlerr.New(sqlerr.CardinalityViolation, "more than one row returned by a subquery used as an expression")
		}
		if len(vals) == 0 {
			return types.NullDatum, nil
		}
		return vals[0], nil
	case subExists:
		return types.DBool(len(vals) > 0), nil
	case subArray:
		elems := make([]*string, len(vals))
		et := s.plan.Columns()[0].Type
		for i, v := range vals {
			if !v.Null {
				t := types.FormatText(et, v, ctx.Loc)
				elems[i] = &t
			}
		}
		return types.DText(types.FormatArray(elems)), nil
	}
	if lhs.Null {
		if len(vals) == 0 {
			return types.DBool(s.mode == subAll), nil
		}
		return types.NullDatum, nil
	}
	t := s.lhs.Type()
	sawNull := false
	for _, v := range vals {
		if v.Null {
			sawNull = true
			continue
		}
		ok := expr.CompareByName(s.cmp, types.Compare(t, lhs, v))
		if ok && s.mode == subAny {
			return types.DBool(true), nil
		}
		if !ok && s.mode == subAll {
			return types.DBool(false), nil
		}
	}
	if sawNull {
		return types.NullDatum, nil
	}
	return types.DBool(s.mode == subAll), nil
}

func (s *subqueryExpr) Eval(ctx *expr.Ctx, b arrow.RecordBatch) (expr.Value, error) {
	n := int(b.NumRows())
	var lhs expr.Value
	if s.lhs != nil {
		var err error
		if lhs, err = s.lhs.Eval(ctx, b); err != nil {
			return expr.Value{}, err
		}
		defer lhs.Release()
	}
	if !s.correlated {
		var vals []types.Datum
		if ctx.Memo == nil {
			ctx.Memo = map[any]any{}
		}
		if v, ok := ctx.Memo[s]; ok {
			vals = v.([]types.Datum)
		} else {
			var err error
			if vals, err = s.run(ctx); err != nil {
				return expr.Value{}, err
			}
			ctx.Memo[s] = vals
		}
		if s.lhs == nil {
			d, err := s.resultFor(ctx, vals, types.Datum{})
			return expr.Scalar(d), err
		}
		out := make([]types.Datum, n)
		for i := 0; i < n; i++ {
			d, err := s.resultFor(ctx, vals, lhs.At(i))
			if err != nil {
				return expr.Value{}, err
			}
			out[i] = d
		}
		return expr.Value{Arr: types.ArrayFromDatums(ctx.Mem, s.t, out)}, nil
	}
	out := make([]types.Datum, n)
	row := make([]types.Datum, b.NumCols())
	for i := 0; i < n; i++ {
		for c := range row {
			row[c] = types.DatumAt(b.Column(c), i)
		}
		ctx.Outer = append(ctx.Outer, append([]types.Datum(nil), row...))
		vals, err := s.run(ctx)
		ctx.Outer = ctx.Outer[:len(ctx.Outer)-1]
		if err != nil {
			return expr.Value{}, err
		}
		var l types.Datum
		if s.lhs != nil {
			l = lhs.At(i)
		}
		if out[i], err = s.resultFor(ctx, vals, l); err != nil {
			return expr.Value{}, err
		}
	}
	return expr.Value{Arr: types.ArrayFromDatums(ctx.Mem, s.t, out)}, nil
}

// subquery binds a subquery expression.
func (b *binder) subquery(x *ast.SubqueryExpr, sc *scope, mode subMode, lhs expr.Expr, cmp string) (expr.Expr, error) {
	savedCorr := b.correlated
	b.correlated = 0
	b.depth++
	savedAgg, savedWin := b.agg, b.win
	b.agg, b.win = nil, nil
	outer := sc
	if savedAgg != nil && savedAgg.active {
		outer = savedAgg.pre
	}
	plan, err := b.query(x.Query, outer)
	b.agg, b.win = savedAgg, savedWin
	b.depth--
	corr := b.correlated
	b.correlated = max(savedCorr, corr-1)
	if err != nil {
		return nil, err
	}
	cols := plan.Columns()
	if mode != subExists && len(cols) != 1 {
		return nil, sqlerr.New(sqlerr.SyntaxError, "subquery must return only one column")
	}
	s := &subqueryExpr{mode: mode, plan: plan, db: b.s.db, cmp: cmp, correlated: corr > 0}
	switch mode {
	case subScalar:
		s.t = cols[0].Type
		if s.t.Kind == types.Unknown {
			s.t = types.TText
		}
	case subArray:
		s.t = types.ArrayOf(cols[0].Type)
	default:
		s.t = types.TBool
	}
	if lhs != nil {
		ct := cols[0].Type
		l, _, err := b.unify(lhs, &expr.Const{D: types.NullDatum, T: ct}, cmp)
		if err != nil {
			return nil, err
		}
		lt := l.Type()
		if !(lt.SameKind(ct) || (lt.Kind.IsInteger() && ct.Kind.IsInteger()) || ct.Kind == types.Unknown) {
			return nil, sqlerr.New(sqlerr.UndefinedFunction, "operator does not exist: %s %s %s", lhs.Type(), cmp, ct)
		}
		s.lhs = l
	}
	return s, nil
}
