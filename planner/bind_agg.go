package planner

import (
	"fmt"
	"math"
	"strings"

	"github.com/pingcap/tidb/pkg/parser/ast"
	driver "github.com/pingcap/tidb/pkg/parser/test_driver"
	"github.com/streamsql/streamsql/engine/exec"
	"github.com/streamsql/streamsql/engine/expr"
	"github.com/streamsql/streamsql/planner/pgsql"
	"github.com/streamsql/streamsql/sqlerr"
	"github.com/streamsql/streamsql/types"
)

// aggBinding binds expressions above a GROUP BY: group keys become
// references to the key columns of the aggregate's output, aggregate calls
// become references to its aggregate columns, and any other column of the
// input is an error (42803).
type aggBinding struct {
	active bool
	pre    *scope
	keys   []expr.Expr
	keyStr []string
	aggs   []exec.AggSpec
	aggStr []string
	// keySize is the size of the largest key as written (astSize): an
	// expression much larger cannot be one of the keys, so it is not bound
	// again to compare — which, done at every level of a deep expression,
	// would cost the square of its depth.
	keySize int
}

// astSize counts the nodes of an expression, parentheses aside, up to
// limit (it stops looking past it and returns limit + 1).
func astSize(n ast.Node, limit int) int {
	c := &sizeCounter{limit: limit}
	n.Accept(c)
	return c.n
}

type sizeCounter struct{ n, limit int }

func (c *sizeCounter) Enter(n ast.Node) (ast.Node, bool) {
	if _, paren := n.(*ast.ParenthesesExpr); !paren {
		c.n++
	}
	return n, c.n > c.limit
}

func (c *sizeCounter) Leave(n ast.Node) (ast.Node, bool) { return n, true }

func aggCallOf(n ast.ExprNode) (name string, args []ast.ExprNode, distinct bool, ok bool) {
	switch x := n.(type) {
	case *ast.AggregateFuncExpr:
		return x.F, x.Args, x.Distinct, true
	case *ast.FuncCallExpr:
		if isAggName(x.FnName.L) && x.Schema.L == "" || x.Schema.L == "pg_catalog" && isAggName(x.FnName.L) {
			return x.FnName.L, x.Args, false, true
		}
	}
	return "", nil, false, false
}

func (a *aggBinding) lookup(b *binder, n ast.ExprNode, sc *scope) (expr.Expr, bool, error) {
	if !a.active {
		return nil, false, nil
	}
	if name, args, distinct, ok := aggCallOf(n); ok {
		e, err := a.addAgg(b, n, name, args, distinct)
		return e, true, err
	}
	switch n.(type) {
	case *ast.ParenthesesExpr:
		return nil, false, nil
	}
	if len(a.keys) == 0 {
		if c, ok := n.(*ast.ColumnNameExpr); ok {
			// a reference to an outer query's column is fine
			saved := b.agg
			b.agg = nil
			e, err := b.resolveColumn(a.pre, c.Name)
			b.agg = saved
			if err == nil {
				if _, outer := e.(*expr.OuterCol); outer {
					return e, true, nil
				}
			}
		}
		return nil, false, nil
	}
	if limit := 4*a.keySize + 16; astSize(n, limit) > limit {
		return nil, false, nil
	}
	saved := b.agg
	b.agg = nil
	savedCorr := b.correlated
	e, err := b.bindExpr(n, a.pre)
	b.agg = saved
	if err != nil {
		b.correlated = savedCorr
		return nil, false, nil
	}
	if _, outer := e.(*expr.OuterCol); outer {
		return e, true, nil
	}
	b.correlated = savedCorr
	s := e.String()
	for i, k := range a.keyStr {
		if k == s {
			return &expr.Col{Idx: i, T: a.keys[i].Type(), Name: s}, true, nil
		}
	}
	return nil, false, nil
}

func (a *aggBinding) addAgg(b *binder, n ast.ExprNode, name string, args []ast.ExprNode, distinct bool) (expr.Expr, error) {
	saved := b.agg
	b.agg = nil
	defer func() { b.agg = saved }()
	kind := aggKinds[name]
	if len(args) > 0 {
		if f, ok := args[0].(*ast.FuncCallExpr); ok && f.FnName.L == "__distinct" {
			distinct, args = true, args[1:]
		}
	}
	spec := exec.AggSpec{Kind: kind, Distinct: distinct}
	// agg(x ORDER BY k) arrives as agg(x, __order_by(k, 'dir', ...))
	if len(args) > 0 {
		if f, ok := args[len(args)-1].(*ast.FuncCallExpr); ok && f.FnName.L == "__order_by" {
			args = args[:len(args)-1]
			for k := 0; k+1 < len(f.Args); k += 2 {
				e, err := b.bindExpr(f.Args[k], a.pre)
				if err != nil {
					return nil, err
				}
				desc := false
				if v, ok := f.Args[k+1].(*driver.ValueExpr); ok {
					desc = v.Datum.GetString() == "desc"
				}
				spec.Order = append(spec.Order, exec.SortKey{E: e, Desc: desc, NullsFirst: desc})
			}
			if kind != exec.AggStringAgg && kind != exec.AggArrayAgg && kind != exec.AggJSONAgg && kind != exec.AggJSONBAgg {
				spec.Order = nil // the order of inputs does not change other aggregates
			}
		}
	}
	if name == "count" && (len(args) == 0 || isStar(args[0])) {
		spec.Kind = exec.AggCountStar
	} else {
		if len(args) == 0 {
			return nil, sqlerr.New(sqlerr.UndefinedFunction, "function %s() does not exist", name)
		}
		arg, err := b.bindExpr(args[0], a.pre)
		if err != nil {
			return nil, err
		}
		if containsAgg(args[0]) {
			return nil, sqlerr.New(sqlerr.GroupingError, "aggregate function calls cannot be nested")
		}
		switch kind {
		case exec.AggStringAgg:
			if arg, err = b.coerce(arg, types.TText); err != nil {
				return nil, err
			}
			var sep expr.Expr = &expr.Const{D: types.DText(","), T: types.TText}
			if len(args) > 1 {
				if sep, err = b.bindExpr(args[1], a.pre); err != nil {
					return nil, err
				}
				if sep, err = b.coerce(sep, types.TText); err != nil {
					return nil, err
				}
			} else if name == "string_agg" {
				return nil, sqlerr.New(sqlerr.UndefinedFunction, "function string_agg(%s) does not exist", arg.Type())
			}
			spec.Sep = sep
		case exec.AggBoolAnd, exec.AggBoolOr:
			if arg, err = b.boolean(arg, name); err != nil {
				return nil, err
			}
		case exec.AggSum, exec.AggAvg, exec.AggVarSamp, exec.AggVarPop, exec.AggStddevSamp, exec.AggStddevPop:
			if arg.Type().Kind == types.Unknown {
				if arg, err = b.coerce(arg, types.TFloat64); err != nil {
					return nil, err
				}
			}
			if !arg.Type().Kind.IsNumeric() && arg.Type().Kind != types.Interval {
				return nil, sqlerr.New(sqlerr.UndefinedFunction, "function %s(%s) does not exist", name, arg.Type())
			}
			if arg.Type().Kind == types.Oid {
				arg = &expr.Cast{E: arg, To: types.TInt64}
			}
		case exec.AggMin, exec.AggMax:
			if arg.Type().Kind == types.Unknown {
				if arg, err = b.coerce(arg, types.TText); err != nil {
					return nil, err
				}
			}
		}
		spec.Arg = arg
		// DISTINCT deduplicates by sorting in PostgreSQL: the parts come out in order
		if distinct && spec.Order == nil && (kind == exec.AggStringAgg || kind == exec.AggArrayAgg || kind == exec.AggJSONAgg || kind == exec.AggJSONBAgg) {
			spec.Order = []exec.SortKey{{E: arg}}
		}
	}
	t, err := exec.AggResultType(spec.Kind, argType(spec.Arg))
	if err != nil {
		return nil, sqlerr.New(sqlerr.UndefinedFunction, "function %s(%s) does not exist", name, argType(spec.Arg))
	}
	spec.T = t
	key := aggKey(spec)
	for i, s := range a.aggStr {
		if s == key {
			return &expr.Col{Idx: len(a.keys) + i, T: t, Name: name}, nil
		}
	}
	a.aggs = append(a.aggs, spec)
	a.aggStr = append(a.aggStr, key)
	return &expr.Col{Idx: len(a.keys) + len(a.aggs) - 1, T: t, Name: name}, nil
}

func argType(e expr.Expr) types.T {
	if e == nil {
		return types.TInt64
	}
	return e.Type()
}

func aggKey(s exec.AggSpec) string {
	k := string(rune('A'+s.Kind)) + "|"
	if s.Distinct {
		k += "D|"
	}
	if s.Arg != nil {
		k += s.Arg.String()
	}
	if s.Sep != nil {
		k += "|" + s.Sep.String()
	}
	for _, o := range s.Order {
		k += "|o" + o.E.String()
		if o.Desc {
			k += " desc"
		}
	}
	return k
}

func isStar(n ast.ExprNode) bool {
	if v, ok := n.(interface{ GetValue() any }); ok {
		_ = v
	}
	switch x := n.(type) {
	case *ast.ColumnNameExpr:
		return x.Name.Name.L == "*"
	}
	return false
}

// containsAgg reports whether n has an aggregate call outside subqueries.
func containsAgg(n ast.Node) bool {
	v := &aggFinder{}
	n.Accept(v)
	return v.found
}

type aggFinder struct{ found bool }

func (v *aggFinder) Enter(n ast.Node) (ast.Node, bool) {
	switch x := n.(type) {
	case *ast.SubqueryExpr, *ast.WindowFuncExpr:
		return n, true
	case *ast.AggregateFuncExpr:
		v.found = true
		return n, true
	case *ast.FuncCallExpr:
		if _, _, _, ok := aggCallOf(x); ok {
			v.found = true
			return n, true
		}
	}
	return n, false
}
func (v *aggFinder) Leave(n ast.Node) (ast.Node, bool) { return n, true }

// containsWindow reports whether n has a window function outside subqueries.
func containsWindow(n ast.Node) bool {
	v := &winFinder{}
	n.Accept(v)
	return v.found
}

type winFinder struct{ found bool }

func (v *winFinder) Enter(n ast.Node) (ast.Node, bool) {
	switch n.(type) {
	case *ast.SubqueryExpr:
		return n, true
	case *ast.WindowFuncExpr:
		v.found = true
		return n, true
	}
	return n, false
}
func (v *winFinder) Leave(n ast.Node) (ast.Node, bool) { return n, true }

// winBinding collects the window functions of a select list, grouped by
// window (PARTITION BY and ORDER BY); each group becomes one WindowNode.
// The k-th function registered is column base+k until the plan is built.
type winBinding struct {
	base   int
	groups []*winGroup
	n      int
	// named are the windows of the WINDOW clause
	named map[string]*ast.WindowSpec
}

// define takes the windows of a WINDOW clause.
func (w *winBinding) define(specs []ast.WindowSpec) error {
	for i := range specs {
		name := specs[i].Name.L
		if w.named == nil {
			w.named = map[string]*ast.WindowSpec{}
		}
		if w.named[name] != nil {
			return sqlerr.New(sqlerr.WindowingError, "window \"%s\" is already defined", name)
		}
		w.named[name] = &specs[i]
	}
	return nil
}

// resolve returns the window spec names: OVER w is the window w;
// OVER (w ORDER BY ...) and WINDOW w2 AS (w ...) copy w's PARTITION BY
// and ORDER BY and add what w lacks, as PostgreSQL allows.
func (w *winBinding) resolve(spec ast.WindowSpec, depth int) (ast.WindowSpec, error) {
	ref := spec.Ref.L
	if spec.OnlyAlias {
		ref = spec.Name.L
	}
	if ref == "" {
		return spec, nil
	}
	base := w.named[ref]
	if base == nil || depth > len(w.named) {
		return spec, sqlerr.New(sqlerr.UndefinedObject, "window \"%s\" does not exist", ref)
	}
	r, err := w.resolve(*base, depth+1)
	if err != nil || spec.OnlyAlias {
		return r, err
	}
	switch {
	case spec.PartitionBy != nil:
		return r, sqlerr.New(sqlerr.WindowingError, "cannot override PARTITION BY clause of window \"%s\"", ref)
	case spec.OrderBy != nil && r.OrderBy != nil:
		return r, sqlerr.New(sqlerr.WindowingError, "cannot override ORDER BY clause of window \"%s\"", ref)
	case r.Frame != nil:
		return r, sqlerr.New(sqlerr.WindowingError, "cannot copy window \"%s\" because it has a frame clause", ref)
	}
	if spec.OrderBy != nil {
		r.OrderBy = spec.OrderBy
	}
	r.Frame = spec.Frame
	return r, nil
}

type winGroup struct {
	partition []expr.Expr
	order     []exec.SortKey
	spec      string
	funcs     []exec.WinFunc
	reg       []int // registration number of each function
}

func (w *winBinding) group(spec string, part []expr.Expr, order []exec.SortKey) *winGroup {
	for _, g := range w.groups {
		if g.spec == spec {
			return g
		}
	}
	g := &winGroup{partition: part, order: order, spec: spec}
	w.groups = append(w.groups, g)
	return g
}

func (w *winBinding) add1(g *winGroup, f exec.WinFunc, name string) expr.Expr {
	g.funcs = append(g.funcs, f)
	g.reg = append(g.reg, w.n)
	w.n++
	return &expr.Col{Idx: w.base + w.n - 1, T: f.T, Name: name}
}

var winKinds = map[string]exec.WinKind{
	"row_number": exec.WinRowNumber, "rank": exec.WinRank, "dense_rank": exec.WinDenseRank,
	"count": exec.WinCount, "sum": exec.WinSum, "avg": exec.WinAvg, "min": exec.WinMin, "max": exec.WinMax,
	"lag": exec.WinLag, "lead": exec.WinLead, "first_value": exec.WinFirstValue, "last_value": exec.WinLastValue,
	"nth_value": exec.WinNthValue, "ntile": exec.WinNtile, "percent_rank": exec.WinPercentRank, "cume_dist": exec.WinCumeDist,
}

func (w *winBinding) add(b *binder, x *ast.WindowFuncExpr, sc *scope) (expr.Expr, error) {
	kind, ok := winKinds[x.Name]
	if !ok {
		return nil, sqlerr.Unsupported("window function %s is not supported", x.Name)
	}
	spec, err := w.resolve(x.Spec, 0)
	if err != nil {
		return nil, err
	}
	saved := b.win
	b.win = nil
	defer func() { b.win = saved }()
	var part []expr.Expr
	if spec.PartitionBy != nil {
		for _, it := range spec.PartitionBy.Items {
			e, err := b.bindExpr(it.Expr, sc)
			if err != nil {
				return nil, err
			}
			part = append(part, e)
		}
	}
	var order []exec.SortKey
	if spec.OrderBy != nil {
		for _, it := range spec.OrderBy.Items {
			k, err := b.sortKey(it, sc)
			if err != nil {
				return nil, err
			}
			order = append(order, k)
		}
	}
	key := exprList(part) + "|"
	for _, k := range order {
		key += fmt.Sprintf("%s desc=%t nullsfirst=%t,", k.E, k.Desc, k.NullsFirst)
	}
	g := w.group(key, part, order)
	f := exec.WinFunc{Kind: kind, T: types.TInt64}
	if f.Frame, err = b.frame(spec.Frame, spec.OrderBy, order, sc); err != nil {
		return nil, err
	}
	arity := map[exec.WinKind][2]int{exec.WinNtile: {1, 1}, exec.WinLag: {1, 3}, exec.WinLead: {1, 3},
		exec.WinFirstValue: {1, 1}, exec.WinLastValue: {1, 1}, exec.WinNthValue: {2, 2}}[kind]
	if kind <= exec.WinCumeDist {
		arity = [2]int{0, 0}
	}
	if kind < exec.WinCount && (len(x.Args) < arity[0] || len(x.Args) > arity[1]) || kind >= exec.WinLag && (len(x.Args) == 0 || len(x.Args) > arity[1]) {
		return nil, sqlerr.New(sqlerr.UndefinedFunction, "function %s with %d arguments does not exist", x.Name, len(x.Args))
	}
	switch kind {
	case exec.WinPercentRank, exec.WinCumeDist:
		f.T = types.TFloat64
	case exec.WinNtile:
		arg, err := b.bindExpr(x.Args[0], sc)
		if err != nil {
			return nil, err
		}
		if f.Arg, err = b.coerce(arg, types.TInt64); err != nil {
			return nil, err
		}
	}
	if kind >= exec.WinLag {
		arg, err := b.bindExpr(x.Args[0], sc)
		if err != nil {
			return nil, err
		}
		if arg.Type().Kind == types.Unknown {
			if arg, err = b.coerce(arg, types.TText); err != nil {
				return nil, err
			}
		}
		f.Arg, f.T, f.Offset, f.Default = arg, arg.Type(), 1, types.NullDatum
		if len(x.Args) > 1 {
			off, err := b.bindExpr(x.Args[1], sc)
			if err != nil {
				return nil, err
			}
			c, ok := off.(*expr.Const)
			if !ok || !c.T.Kind.IsInteger() || c.D.Null {
				return nil, sqlerr.Unsupported("the offset of %s must be an integer constant", x.Name)
			}
			f.Offset = c.D.I
			if kind == exec.WinNthValue && f.Offset <= 0 {
				return nil, sqlerr.New(sqlerr.InvalidArgumentForNthValue, "argument of nth_value must be greater than zero")
			}
		}
		if len(x.Args) > 2 {
			def, err := b.bindExpr(x.Args[2], sc)
			if err != nil {
				return nil, err
			}
			if def, err = b.coerce(def, f.T); err != nil {
				return nil, err
			}
			c, ok := def.(*expr.Const)
			if !ok {
				return nil, sqlerr.Unsupported("the default of %s must be a constant", x.Name)
			}
			f.Default = c.D
		}
		return w.add1(g, f, x.Name), nil
	}
	if kind == exec.WinCount && (len(x.Args) == 0 || isStar(x.Args[0])) {
		f.Kind = exec.WinCountStar
	} else if kind >= exec.WinCount {
		if len(x.Args) == 0 {
			return nil, sqlerr.New(sqlerr.UndefinedFunction, "function %s() does not exist", x.Name)
		}
		arg, err := b.bindExpr(x.Args[0], sc)
		if err != nil {
			return nil, err
		}
		f.Arg = arg
		ak := map[exec.WinKind]exec.AggKind{exec.WinCount: exec.AggCount, exec.WinSum: exec.AggSum, exec.WinAvg: exec.AggAvg, exec.WinMin: exec.AggMin, exec.WinMax: exec.AggMax}[kind]
		t, err := exec.AggResultType(ak, arg.Type())
		if err != nil {
			return nil, err
		}
		f.T = t
	}
	return w.add1(g, f, x.Name), nil
}

// frame binds a window frame; nil is the default frame.
func (b *binder) frame(fc *ast.FrameClause, orderBy *ast.OrderByClause, order []exec.SortKey, sc *scope) (*exec.Frame, error) {
	if fc == nil {
		return nil, nil
	}
	f := &exec.Frame{Mode: map[ast.FrameType]exec.FrameMode{ast.Rows: exec.FrameRows, ast.Ranges: exec.FrameRange, ast.Groups: exec.FrameGroups}[fc.Type]}
	kind := func(fb ast.FrameBound) exec.BoundKind {
		switch {
		case fb.Type == ast.CurrentRow:
			return exec.CurrentRow
		case fb.Type == ast.Preceding && fb.UnBounded:
			return exec.UnboundedPreceding
		case fb.Type == ast.Preceding:
			return exec.OffsetPreceding
		case fb.UnBounded:
			return exec.UnboundedFollowing
		}
		return exec.OffsetFollowing
	}
	f.Start.Kind, f.End.Kind = kind(fc.Extent.Start), kind(fc.Extent.End)
	bad := func(msg string) error { return sqlerr.New(sqlerr.WindowingError, "%s", msg) }
	switch s, e := f.Start.Kind, f.End.Kind; {
	case s == exec.UnboundedFollowing:
		return nil, bad("frame start cannot be UNBOUNDED FOLLOWING")
	case e == exec.UnboundedPreceding:
		return nil, bad("frame end cannot be UNBOUNDED PRECEDING")
	case s == exec.CurrentRow && e == exec.OffsetPreceding:
		return nil, bad("frame starting from current row cannot have preceding rows")
	case s == exec.OffsetFollowing && (e == exec.OffsetPreceding || e == exec.CurrentRow):
		return nil, bad("frame starting from following row cannot have preceding rows")
	case f.Mode == exec.FrameGroups && len(order) == 0:
		return nil, bad("GROUPS mode requires an ORDER BY clause")
	}
	for i, fb := range []*ast.FrameBound{&fc.Extent.Start, &fc.Extent.End} {
		bd := &f.Start
		which := "starting"
		if i == 1 {
			bd, which = &f.End, "ending"
		}
		if bd.Kind != exec.OffsetPreceding && bd.Kind != exec.OffsetFollowing {
			continue
		}
		off := fb.Expr
		if call, ok := off.(*ast.FuncCallExpr); ok && call.FnName.L == pgsql.FrameOffsetFunc && len(call.Args) == 1 {
			off = call.Args[0] // any expression, carried past the grammar
		} else if fb.Unit != ast.TimeUnitInvalid {
			return nil, sqlerr.Unsupported("a frame offset of MySQL's INTERVAL form")
		}
		e, err := b.bindExpr(off, sc)
		if err != nil {
			return nil, err
		}
		if !readsNoColumn(e) {
			return nil, sqlerr.New(sqlerr.InvalidColumnReference, "argument of %s must not contain variables", map[exec.FrameMode]string{exec.FrameRows: "ROWS", exec.FrameRange: "RANGE", exec.FrameGroups: "GROUPS"}[f.Mode])
		}
		if f.Mode != exec.FrameRange {
			if e, err = b.coerce(e, types.TInt64); err != nil {
				return nil, err
			}
			c, err := b.offsetValue(e)
			if err != nil {
				return nil, err
			}
			switch {
			case c.Null:
				return nil, sqlerr.New(sqlerr.NullValueNotAllowed, "frame %s offset must not be null", which)
			case c.I < 0:
				return nil, sqlerr.New(sqlerr.InvalidPrecedingFollowing, "frame %s offset must not be negative", which)
			}
			bd.N = c.I
			continue
		}
		if len(order) != 1 {
			return nil, bad("RANGE with offset PRECEDING/FOLLOWING requires exactly one ORDER BY column")
		}
		bound, key, err := b.rangeBound(orderBy.Items[0].Expr, order[0], e, bd.Kind == exec.OffsetPreceding, sc)
		if err != nil {
			return nil, err
		}
		bd.Value, f.Key = bound, key
	}
	return f, nil
}

// rangeBound binds a RANGE offset's bound for each row: the ORDER BY value
// moved by off towards the frame's start (preceding) or end, and the ORDER
// BY value of the bound's type to compare it with. The offset's type
// follows the ORDER BY value's, as PostgreSQL's in_range functions do.
func (b *binder) rangeBound(keyAST ast.ExprNode, k exec.SortKey, off expr.Expr, preceding bool, sc *scope) (expr.Expr, expr.Expr, error) {
	kt := k.E.Type()
	var ot types.T
	switch {
	case kt.Kind.IsInteger():
		ot = types.TInt64
	case kt.Kind == types.Numeric, kt.Kind == types.Float32, kt.Kind == types.Float64:
		ot = kt
		if kt.Kind == types.Numeric {
			ot = types.TNumeric
		}
	case kt.Kind == types.Date, kt.Kind == types.Timestamp, kt.Kind == types.TimestampTZ, kt.Kind == types.Time, kt.Kind == types.Interval:
		ot = types.TInterval
	default:
		return nil, nil, sqlerr.New(sqlerr.FeatureNotSupported, "RANGE with offset PRECEDING/FOLLOWING is not supported for column type %s", kt)
	}
	// the offset types with an implicit cast to the one in_range takes
	switch k := off.Type().Kind; {
	case k == ot.Kind, k == types.Unknown, k.IsInteger() && ot.Kind != types.Interval,
		k == types.Numeric && (ot.Kind == types.Float32 || ot.Kind == types.Float64):
	default:
		return nil, nil, sqlerr.New(sqlerr.FeatureNotSupported, "RANGE with offset PRECEDING/FOLLOWING is not supported for column type %s and offset type %s", kt, off.Type())
	}
	off, err := b.coerce(off, ot)
	if err != nil {
		return nil, nil, err
	}
	c, err := b.offsetValue(off)
	if err != nil {
		return nil, nil, err
	}
	if c.Null {
		return nil, nil, sqlerr.New(sqlerr.NullValueNotAllowed, "frame offset must not be null")
	}
	if negativeOffset(ot, c) {
		return nil, nil, sqlerr.New(sqlerr.InvalidPrecedingFollowing, "invalid preceding or following size in window function")
	}
	key, err := b.bindExpr(keyAST, sc)
	if err != nil {
		return nil, nil, err
	}
	op := byte('+')
	if preceding != k.Desc {
		op = '-'
	}
	bound, err := b.arith(op, key, off)
	if err != nil {
		return nil, nil, err
	}
	if key, err = b.coerce(key, bound.Type()); err != nil {
		return nil, nil, err
	}
	return bound, key, nil
}

// offsetValue computes a frame offset at plan time.
func (b *binder) offsetValue(e expr.Expr) (types.Datum, error) {
	e, err := b.fold(e)
	if err != nil {
		return types.Datum{}, err
	}
	c, ok := e.(*expr.Const)
	if !ok {
		return types.Datum{}, sqlerr.Unsupported("a window frame's offset must be a constant")
	}
	return c.D, nil
}

func negativeOffset(t types.T, c types.Datum) bool {
	switch t.Kind {
	case types.Float32, types.Float64:
		return c.F < 0 || math.IsNaN(c.F)
	case types.Numeric:
		return strings.HasPrefix(c.S, "-")
	case types.Interval:
		return c.Iv.Months < 0 || c.Iv.Days < 0 || c.Iv.Micros < 0
	}
	return c.I < 0
}
