package planner

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/pingcap/tidb/pkg/parser/ast"
	"github.com/pingcap/tidb/pkg/parser/opcode"
	driver "github.com/pingcap/tidb/pkg/parser/test_driver"
	"github.com/streamsql/streamsql/engine/dataflow"
	"github.com/streamsql/streamsql/engine/exec"
	"github.com/streamsql/streamsql/engine/expr"
	"github.com/streamsql/streamsql/planner/pgsql"
	"github.com/streamsql/streamsql/sqlerr"
	"github.com/streamsql/streamsql/types"
)

// scope is the set of columns a name can refer to, with the enclosing
// query's scope for correlated references.
type scope struct {
	cols   []Column
	parent *scope
	// usingCols: for an unqualified reference to a JOIN ... USING column,
	// the index to use.
	using map[string]int
}

// binder binds one statement.
type binder struct {
	// unreached > 0 while binding what a constant before it decides will
	// never run (coalesce(1, <this>), CASE WHEN true THEN 1 ELSE <this>,
	// true OR <this>): its constant errors are left to runtime, which
	// never gets there, as PostgreSQL's planner skips folding them
	unreached int
	// withTies is set by binding the count of FETCH FIRST ... WITH TIES
	withTies bool
	s        *Session
	tr       *pgsql.Translated
	params   []*expr.Param // by $n - 1
	ctes     []map[string]*cte
	// agg is set while binding a select list, HAVING or ORDER BY of an
	// aggregating query.
	agg *aggBinding
	// win collects window functions of the select list.
	win *winBinding
	// correlated is set when a column of an outer scope was referenced.
	correlated int
	depth      int // subquery nesting
	exprDepth  int // bindExpr recursion (bounded by sqlerr.MaxExprDepth)
	// varying lists the functions called whose value changes from call to
	// call (now(), random(), ...): a continuous query cannot use them
	varying []string
	// deps are the catalog objects the statement reads.
	deps      []string
	viewDepth int
	// path is the search path of the view being bound (nil: the session's)
	path []string
	// srfCols maps set-returning calls of the select list to the columns
	// of the ProjectSet below the projection.
	srfCols map[ast.ExprNode]int
}

type cte struct {
	node Node
	cols []Column
}

func (b *binder) errf(code, format string, args ...any) *sqlerr.Error {
	return sqlerr.New(code, format, args...)
}

// param returns the (shared) Param node for $n.
func (b *binder) param(n int) (*expr.Param, error) {
	if n < 1 || n > 65535 {
		return nil, b.errf(sqlerr.UndefinedParameter, "there is no parameter $%d", n)
	}
	for len(b.params) < n {
		b.params = append(b.params, nil)
	}
	if b.params[n-1] == nil {
		b.params[n-1] = &expr.Param{N: n, T: types.TUnknown}
	}
	return b.params[n-1], nil
}

// coerce converts e to type to as an implicit (assignment) cast would.
func (b *binder) coerce(e expr.Expr, to types.T) (expr.Expr, error) {
	from := e.Type()
	if from == to {
		return e, nil
	}
	if p, ok := e.(*expr.Param); ok && p.T.Kind == types.Unknown {
		p.T = to
		return p, nil
	}
	if from.Kind == types.Unknown || from.Kind == types.Null {
		return b.fold(&expr.Cast{E: e, To: to})
	}
	if from.SameKind(to) && to.Mod < 0 && from.Kind != types.Oid && !(from.Kind == types.Text && to.Name == "char") {
		if from.Kind == types.Text && from.Name != to.Name {
			return &expr.Cast{E: e, To: to}, nil
		}
		return e, nil
	}
	if expr.CanImplicit(from, to) || from.SameKind(to) || (from.Kind == types.Oid && to.Kind.IsInteger()) || (from.Kind.IsInteger() && to.Kind == types.Oid) {
		return b.fold(&expr.Cast{E: e, To: to})
	}
	return nil, b.errf(sqlerr.DatatypeMismatch, "expression is of type %s but expected %s", from, to)
}

// assign converts e for storing into a column of type to (INSERT, UPDATE):
// assignment casts also allow numeric narrowing and anything to text.
func (b *binder) assign(e expr.Expr, to types.T, col string) (expr.Expr, error) {
	from := e.Type()
	if from == to {
		return e, nil
	}
	ok := expr.CanImplicit(from, to) || from.SameKind(to) ||
		(from.Kind.IsNumeric() && to.Kind.IsNumeric()) || to.Kind == types.Text ||
		(from.Kind == types.TimestampTZ && (to.Kind == types.Timestamp || to.Kind == types.Date)) ||
		(from.Kind == types.Timestamp && to.Kind == types.Date)
	if !ok {
		return nil, b.errf(sqlerr.DatatypeMismatch, "column %q is of type %s but expression is of type %s", col, to, from).WithHint("You will need to rewrite or cast the expression.")
	}
	if p, isP := e.(*expr.Param); isP && p.T.Kind == types.Unknown {
		p.T = to
		return p, nil
	}
	out, err := b.fold(&expr.Cast{E: e, To: to})
	if err != nil {
		// say which column the value was for
		return nil, sqlerr.As(err).WithDetail(fmt.Sprintf("The value was for column %q.", col))
	}
	return out, nil
}

// fold evaluates an expression with only constant inputs now, so that
// SELECT 1/0 fails before any row description, as in PostgreSQL — except
// where a constant before it means it never runs (see unreached):
// coalesce(1, 1/0) is 1.
func (b *binder) fold(e expr.Expr) (expr.Expr, error) {
	if !foldable(e) {
		return e, nil
	}
	d, err := expr.EvalRow(b.s.evalCtx(nil), e)
	if err != nil && b.unreached > 0 && dataflow.RowErrorsOf(err) {
		return e, nil
	}
	if err != nil {
		return nil, err
	}
	return &expr.Const{D: d, T: e.Type()}, nil
}

func foldable(e expr.Expr) bool {
	switch x := e.(type) {
	case *expr.Const:
		return true
	case *expr.Cast:
		return foldable(x.E)
	case *expr.Arith:
		return foldable(x.L) && foldable(x.R)
	case *expr.Neg:
		return foldable(x.E)
	case *expr.Call:
		if x.F.Volatile {
			return false
		}
		for _, a := range x.Args {
			if !foldable(a) {
				return false
			}
		}
		return true
	}
	return false
}

// unify makes two operands comparable (or combinable), as PostgreSQL's
// operator resolution would.
func (b *binder) unify(l, r expr.Expr, op string) (expr.Expr, expr.Expr, error) {
	lt, rt := l.Type(), r.Type()
	lu := lt.Kind == types.Unknown || lt.Kind == types.Null
	ru := rt.Kind == types.Unknown || rt.Kind == types.Null
	var err error
	switch {
	case lu && ru:
		if l, err = b.coerce(l, types.TText); err != nil {
			return nil, nil, err
		}
		r, err = b.coerce(r, types.TText)
		return l, r, err
	case lu:
		l, err = b.coerce(l, rt)
		return l, r, err
	case ru:
		r, err = b.coerce(r, lt)
		return l, r, err
	case lt.SameKind(rt):
		return l, r, nil
	case lt.Kind.IsNumeric() && rt.Kind.IsNumeric():
		t := expr.CommonNumeric(lt, rt)
		if lt.Kind == types.Oid || rt.Kind == types.Oid {
			t = types.TInt64
		}
		if l, err = b.coerce(l, t); err != nil {
			return nil, nil, err
		}
		r, err = b.coerce(r, t)
		return l, r, err
	case expr.CanImplicit(lt, rt):
		l, err = b.coerce(l, rt)
		return l, r, err
	case expr.CanImplicit(rt, lt):
		r, err = b.coerce(r, lt)
		return l, r, err
	}
	return nil, nil, b.errf(sqlerr.UndefinedFunction, "operator does not exist: %s %s %s", lt, op, rt).WithHint("No operator matches the given name and argument types. You might need to add explicit type casts.")
}

func (b *binder) resolveColumn(sc *scope, n *ast.ColumnName) (expr.Expr, error) {
	name := n.Name.O
	table := n.Table.O
	if n.Schema.O != "" && !b.s.db.Catalog.HasSchema(n.Schema.O) {
		return nil, b.errf(sqlerr.UndefinedTable, "missing FROM-clause entry for table %q", n.Schema.O)
	}
	depth := 0
	for s := sc; s != nil; s = s.parent {
		idx := -1
		ambiguous := false
		if table == "" && s.using != nil {
			if i, ok := s.using[name]; ok {
				idx = i
			}
		}
		if idx < 0 {
			for i, c := range s.cols {
				if c.Name != name || (table != "" && c.Table != table) || (table == "" && (c.Hidden || c.Merged)) || (n.Schema.O != "" && c.Schema != "" && c.Schema != n.Schema.O) {
					continue
				}
				if idx >= 0 {
					ambiguous = true
				}
				idx = i
			}
		}
		if ambiguous {
			return nil, b.errf(sqlerr.AmbiguousColumn, "column reference %q is ambiguous", name)
		}
		if idx >= 0 {
			c := s.cols[idx]
			if depth == 0 {
				return &expr.Col{Idx: idx, T: c.Type, Name: c.Name}, nil
			}
			b.correlated = max(b.correlated, depth)
			return &expr.OuterCol{Depth: depth, Idx: idx, T: c.Type}, nil
		}
		depth++
	}
	if table != "" {
		for s := sc; s != nil; s = s.parent {
			for _, c := range s.cols {
				if c.Table == table {
					return nil, b.errf(sqlerr.UndefinedColumn, "column %s.%s does not exist", table, name)
				}
			}
		}
		return nil, b.errf(sqlerr.UndefinedTable, "missing FROM-clause entry for table %q", table)
	}
	return nil, b.errf(sqlerr.UndefinedColumn, "column %q does not exist", name)
}

// constant converts a parser literal into a typed constant, typing numbers
// as PostgreSQL does (int4, int8, then numeric) and strings as unknown.
func constant(v *driver.ValueExpr) (expr.Expr, error) {
	switch x := v.Datum.GetValue().(type) {
	case nil:
		return &expr.Const{D: types.NullDatum, T: types.TNull}, nil
	case int64:
		if x >= -1<<31 && x < 1<<31 {
			return &expr.Const{D: types.DInt(x), T: types.TInt32}, nil
		}
		return &expr.Const{D: types.DInt(x), T: types.TInt64}, nil
	case uint64:
		if x < 1<<63 {
			return &expr.Const{D: types.DInt(int64(x)), T: types.TInt64}, nil
		}
		return &expr.Const{D: types.DText(strconv.FormatUint(x, 10)), T: types.TNumeric}, nil
	case string:
		return &expr.Const{D: types.DText(x), T: types.TUnknown}, nil
	case []byte:
		return &expr.Const{D: types.DText(string(x)), T: types.TUnknown}, nil
	case float64:
		s := strconv.FormatFloat(x, 'f', -1, 64)
		c, err := types.CanonicalNumeric(s, types.TNumeric)
		if err != nil {
			return nil, err
		}
		return &expr.Const{D: types.DText(c), T: types.TNumeric}, nil
	case *driver.MyDecimal:
		c, err := types.CanonicalNumeric(x.String(), types.TNumeric)
		if err != nil {
			return nil, err
		}
		return &expr.Const{D: types.DText(c), T: types.TNumeric}, nil
	}
	return nil, sqlerr.Unsupported("literal of this kind is not supported: %v", v.Datum.GetValue())
}

// bindExpr binds an expression in scope sc.
func (b *binder) bindExpr(n ast.ExprNode, sc *scope) (expr.Expr, error) {
	b.exprDepth++
	defer func() { b.exprDepth-- }()
	if b.exprDepth > sqlerr.MaxExprDepth {
		return nil, sqlerr.TooDeep(0)
	}
	if b.agg != nil {
		if e, ok, err := b.agg.lookup(b, n, sc); ok || err != nil {
			return e, err
		}
	}
	switch x := n.(type) {
	case *ast.ColumnNameExpr:
		if b.agg != nil && b.agg.active {
			return nil, b.errf(sqlerr.GroupingError, "column %q must appear in the GROUP BY clause or be used in an aggregate function", colText(x.Name))
		}
		return b.resolveColumn(sc, x.Name)
	case *driver.ValueExpr:
		return constant(x)
	case *driver.ParamMarkerExpr:
		k := x.Order
		if k >= len(b.tr.LimitParams) {
			return nil, b.errf(sqlerr.SyntaxError, "unexpected parameter marker")
		}
		if n := b.tr.LimitParams[k]; n < 0 {
			// the count of a FETCH FIRST ... WITH TIES
			b.withTies = true
			count := b.tr.WithTies[-n-1]
			if strings.HasPrefix(count, "$") {
				p, _ := strconv.Atoi(count[1:])
				return b.param(p)
			}
			q, err := b.s.parser.ParseExpr(count)
			if err != nil {
				return nil, err
			}
			sub := &binder{s: b.s, tr: q.Tr}
			return sub.bindExpr(q.Node.(*ast.SelectStmt).Fields.Fields[0].Expr, &scope{})
		}
		return b.param(b.tr.LimitParams[k])
	case *ast.ParenthesesExpr:
		return b.bindExpr(x.Expr, sc)
	case *ast.BinaryOperationExpr:
		return b.binary(x, sc)
	case *ast.UnaryOperationExpr:
		e, err := b.bindExpr(x.V, sc)
		if err != nil {
			return nil, err
		}
		switch x.Op {
		case opcode.Minus:
			if c, ok := e.(*expr.Const); ok && c.T.Kind == types.Unknown {
				e, _ = b.coerce(e, types.TFloat64)
			}
			if !e.Type().Kind.IsNumeric() && e.Type().Kind != types.Interval {
				return nil, b.errf(sqlerr.UndefinedFunction, "operator does not exist: - %s", e.Type())
			}
			return b.fold(&expr.Neg{E: e})
		case opcode.Plus:
			return e, nil
		case opcode.Not, opcode.Not2:
			if e, err = b.coerce(e, types.TBool); err != nil {
				return nil, b.errf(sqlerr.DatatypeMismatch, "argument of NOT must be type boolean, not type %s", e.Type())
			}
			return &expr.Not{E: e}, nil
		}
		return nil, sqlerr.Unsupported("operator %s is not supported", x.Op)
	case *ast.IsNullExpr:
		e, err := b.bindExpr(x.Expr, sc)
		if err != nil {
			return nil, err
		}
		return &expr.IsNull{E: e, Not: x.Not}, nil
	case *ast.IsTruthExpr:
		e, err := b.bindExpr(x.Expr, sc)
		if err != nil {
			return nil, err
		}
		if e, err = b.boolean(e, "IS TRUE"); err != nil {
			return nil, err
		}
		what := "false"
		if x.True != 0 {
			what = "true"
		}
		return expr.NewIsBool(e, what, x.Not), nil
	case *ast.BetweenExpr:
		v, err := b.bindExpr(x.Expr, sc)
		if err != nil {
			return nil, err
		}
		lo, err := b.bindExpr(x.Left, sc)
		if err != nil {
			return nil, err
		}
		hi, err := b.bindExpr(x.Right, sc)
		if err != nil {
			return nil, err
		}
		v1, lo, err := b.unify(v, lo, "BETWEEN")
		if err != nil {
			return nil, err
		}
		v2, hi, err := b.unify(v, hi, "BETWEEN")
		if err != nil {
			return nil, err
		}
		e := expr.Expr(&expr.Logic{Args: []expr.Expr{&expr.Compare{Op: expr.GE, L: v1, R: lo}, &expr.Compare{Op: expr.LE, L: v2, R: hi}}})
		if x.Not {
			e = &expr.Not{E: e}
		}
		return e, nil
	case *ast.PatternInExpr:
		return b.in(x, sc)
	case *ast.PatternLikeOrIlikeExpr:
		v, err := b.bindExpr(x.Expr, sc)
		if err != nil {
			return nil, err
		}
		p, err := b.bindExpr(x.Pattern, sc)
		if err != nil {
			return nil, err
		}
		if v, err = b.coerce(v, types.TText); err != nil {
			return nil, b.errf(sqlerr.UndefinedFunction, "operator does not exist: %s ~~ %s", v.Type(), p.Type())
		}
		if p, err = b.coerce(p, types.TText); err != nil {
			return nil, err
		}
		esc := string(rune(x.Escape))
		if x.Escape == 0 {
			esc = ""
		}
		fn := expr.Lookup("__like")[0]
		e := expr.Expr(&expr.Call{F: fn, Args: []expr.Expr{v, p, &expr.Const{D: types.DText(esc), T: types.TText}, &expr.Const{D: types.DBool(!x.IsLike), T: types.TBool}}, T: types.TBool})
		if x.Not {
			e = &expr.Not{E: e}
		}
		return b.fold(e)
	case *ast.CaseExpr:
		return b.caseExpr(x, sc)
	case *ast.FuncCallExpr:
		return b.funcCall(x, sc)
	case *ast.AggregateFuncExpr:
		return nil, b.errf(sqlerr.GroupingError, "aggregate functions are not allowed here")
	case *ast.WindowFuncExpr:
		if b.win != nil {
			return b.win.add(b, x, sc)
		}
		return nil, b.errf(sqlerr.WindowingError, "window functions are not allowed here")
	case *ast.SubqueryExpr:
		return b.subquery(x, sc, subScalar, nil, "")
	case *ast.ExistsSubqueryExpr:
		sq, ok := x.Sel.(*ast.SubqueryExpr)
		if !ok {
			return nil, sqlerr.Unsupported("EXISTS needs a subquery")
		}
		e, err := b.subquery(sq, sc, subExists, nil, "")
		if err != nil {
			return nil, err
		}
		if x.Not {
			return &expr.Not{E: e}, nil
		}
		return e, nil
	case *ast.CompareSubqueryExpr:
		l, err := b.bindExpr(x.L, sc)
		if err != nil {
			return nil, err
		}
		sq, ok := x.R.(*ast.SubqueryExpr)
		if !ok {
			return nil, sqlerr.Unsupported("ANY/ALL needs a subquery or an array")
		}
		mode := subAny
		if x.All {
			mode = subAll
		}
		return b.subquery(sq, sc, mode, l, opName(x.Op))
	case *ast.DefaultExpr:
		return nil, sqlerr.Unsupported("DEFAULT is not allowed here")
	case *ast.RowExpr:
		return nil, sqlerr.Unsupported("row constructors are not supported here")
	case *ast.VariableExpr:
		return nil, b.errf(sqlerr.SyntaxError, "syntax error at or near \"@\"")
	case *ast.TrimDirectionExpr:
		return &expr.Const{D: types.DInt(int64(x.Direction)), T: types.TInt32}, nil
	case *ast.TimeUnitExpr:
		return &expr.Const{D: types.DText(strings.ToLower(x.Unit.String())), T: types.TText}, nil
	}
	return nil, sqlerr.Unsupported("expression %T is not supported", n)
}

func colText(c *ast.ColumnName) string {
	if c.Table.O != "" {
		return c.Table.O + "." + c.Name.O
	}
	return c.Name.O
}

func (b *binder) boolean(e expr.Expr, ctx string) (expr.Expr, error) {
	if e.Type().Kind == types.Bool {
		return e, nil
	}
	c, err := b.coerce(e, types.TBool)
	if err != nil || e.Type().Kind != types.Unknown && e.Type().Kind != types.Null && e.Type().Kind != types.Bool {
		return nil, b.errf(sqlerr.DatatypeMismatch, "argument of %s must be type boolean, not type %s", ctx, e.Type())
	}
	return c, nil
}

func opName(op opcode.Op) string {
	switch op {
	case opcode.EQ:
		return "="
	case opcode.NE:
		return "<>"
	case opcode.LT:
		return "<"
	case opcode.LE:
		return "<="
	case opcode.GT:
		return ">"
	case opcode.GE:
		return ">="
	}
	return op.String()
}

var cmpOps = map[opcode.Op]expr.CmpOp{opcode.EQ: expr.EQ, opcode.NE: expr.NE, opcode.LT: expr.LT, opcode.LE: expr.LE, opcode.GT: expr.GT, opcode.GE: expr.GE, opcode.NullEQ: expr.NullSafeEq}

func (b *binder) binary(x *ast.BinaryOperationExpr, sc *scope) (expr.Expr, error) {
	if x.Op == opcode.LogicAnd || x.Op == opcode.LogicOr {
		return b.logic(x, sc)
	}
	l, err := b.bindExpr(x.L, sc)
	if err != nil {
		return nil, err
	}
	r, err := b.bindExpr(x.R, sc)
	if err != nil {
		return nil, err
	}
	switch x.Op {
	case opcode.EQ, opcode.NE, opcode.LT, opcode.LE, opcode.GT, opcode.GE, opcode.NullEQ:
		l, r, err := b.unify(l, r, opName(x.Op))
		if err != nil {
			return nil, err
		}
		e := &expr.Compare{Op: cmpOps[x.Op], L: l, R: r}
		if _, ok := l.(*expr.Const); ok {
			if _, ok := r.(*expr.Const); ok {
				d, err := expr.EvalRow(b.s.evalCtx(nil), e)
				if err != nil {
					return nil, err
				}
				return &expr.Const{D: d, T: types.TBool}, nil
			}
		}
		return e, nil
	case opcode.Plus, opcode.Minus, opcode.Mul, opcode.Div, opcode.Mod, opcode.IntDiv:
		op := map[opcode.Op]byte{opcode.Plus: '+', opcode.Minus: '-', opcode.Mul: '*', opcode.Div: '/', opcode.Mod: '%', opcode.IntDiv: '/'}[x.Op]
		return b.arith(op, l, r)
	}
	return nil, sqlerr.Unsupported("operator %s is not supported", x.Op)
}

// logic binds a chain of ANDs (or ORs) as one n-ary node: the grammar
// nests a long chain — generated WHERE clauses can have thousands of
// terms — one level per operator, and binding it level by level would be
// as deep as the chain is long. Parentheses around a term of the same
// operator change nothing and are looked through.
func (b *binder) logic(x *ast.BinaryOperationExpr, sc *scope) (expr.Expr, error) {
	name := "AND"
	if x.Op == opcode.LogicOr {
		name = "OR"
	}
	same := func(n ast.ExprNode) *ast.BinaryOperationExpr {
		for {
			switch y := n.(type) {
			case *ast.ParenthesesExpr:
				n = y.Expr
				continue
			case *ast.BinaryOperationExpr:
				if y.Op == x.Op {
					return y
				}
			}
			return nil
		}
	}
	// the terms in order, walking the tree with an explicit stack
	var terms []ast.ExprNode
	stack := []ast.ExprNode{x}
	for len(stack) > 0 {
		n := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if y := same(n); y != nil {
			stack = append(stack, y.R, y.L)
			continue
		}
		terms = append(terms, n)
	}
	args := make([]expr.Expr, len(terms))
	or := x.Op == opcode.LogicOr
	unreached := 0
	defer func() { b.unreached -= unreached }()
	for i, t := range terms {
		e, err := b.bindExpr(t, sc)
		if err != nil {
			return nil, err
		}
		if args[i], err = b.boolean(e, name); err != nil {
			return nil, err
		}
		if c, ok := args[i].(*expr.Const); ok && !c.D.Null && (c.D.I != 0) == or && unreached == 0 {
			// true OR ..., false AND ...: the rest never runs
			unreached = 1
			b.unreached++
		}
	}
	return &expr.Logic{Or: or, Args: args}, nil
}

func (b *binder) arith(op byte, l, r expr.Expr) (expr.Expr, error) {
	lt, rt := l.Type(), r.Type()
	lk, rk := lt.Kind, rt.Kind
	isTime := func(k types.Kind) bool {
		return k == types.Timestamp || k == types.TimestampTZ || k == types.Date || k == types.Interval || k == types.Time
	}
	var err error
	if isTime(lk) || isTime(rk) {
		// resolve unknown literals against the other side
		if lk == types.Unknown {
			want := types.TInterval
			if op == '-' && (rk == types.Timestamp || rk == types.TimestampTZ || rk == types.Date) {
				want = rt
			}
			if l, err = b.coerce(l, want); err != nil {
				return nil, err
			}
		}
		if rk == types.Unknown {
			want := types.TInterval
			if op == '-' && (lk == types.Timestamp || lk == types.TimestampTZ) {
				want = types.TInterval
			}
			if lk == types.Date && (op == '+' || op == '-') {
				want = types.TInt32
			}
			if r, err = b.coerce(r, want); err != nil {
				return nil, err
			}
		}
		lt, rt = l.Type(), r.Type()
		lk, rk = lt.Kind, rt.Kind
		var out types.T
		switch {
		case (lk == types.Timestamp || lk == types.TimestampTZ) && rk == types.Interval && (op == '+' || op == '-'):
			out = lt
		case lk == types.Interval && (rk == types.Timestamp || rk == types.TimestampTZ) && op == '+':
			out = rt
		case lk == types.Date && rk == types.Interval && (op == '+' || op == '-'):
			out = types.TTimestamp
		case (lk == types.Timestamp || lk == types.TimestampTZ || lk == types.Date) && op == '-' && (rk == types.Timestamp || rk == types.TimestampTZ || rk == types.Date):
			if lk == types.Date && rk == types.Date {
				out = types.TInt32
				break
			}
			if lk != rk {
				t := types.TTimestampTZ
				if lk != types.TimestampTZ && rk != types.TimestampTZ {
					t = types.TTimestamp
				}
				if l, err = b.coerce(l, t); err != nil {
					return nil, err
				}
				if r, err = b.coerce(r, t); err != nil {
					return nil, err
				}
			}
			out = types.TInterval
		case lk == types.Date && rk.IsInteger() && (op == '+' || op == '-'):
			out = types.TDate
		case lk.IsInteger() && rk == types.Date && op == '+':
			out = types.TDate
		case lk == types.Interval && rk == types.Interval && (op == '+' || op == '-'):
			out = types.TInterval
		case lk == types.Interval && rk.IsNumeric() && (op == '*' || op == '/'):
			out = types.TInterval
		case lk.IsNumeric() && rk == types.Interval && op == '*':
			out = types.TInterval
		default:
			return nil, b.errf(sqlerr.UndefinedFunction, "operator does not exist: %s %c %s", lt, op, rt)
		}
		return b.fold(&expr.Arith{Op: op, L: l, R: r, T: out})
	}
	if op == '-' && lk == types.JSONB {
		// jsonb - key, - index, - keys
		return b.call("__json_delete", []expr.Expr{l, r})
	}
	if lk == types.Unknown && rk == types.Unknown {
		return nil, b.errf(sqlerr.UndefinedFunction, "operator is not unique: unknown %c unknown", op).WithHint("Could not choose a best candidate operator. You might need to add explicit type casts.")
	}
	if lk == types.Unknown || lk == types.Null {
		want := rt
		if !rt.Kind.IsNumeric() {
			return nil, b.errf(sqlerr.UndefinedFunction, "operator does not exist: unknown %c %s", op, rt)
		}
		if l, err = b.coerce(l, want); err != nil {
			return nil, err
		}
	}
	if rk == types.Unknown || rk == types.Null {
		if !lt.Kind.IsNumeric() {
			return nil, b.errf(sqlerr.UndefinedFunction, "operator does not exist: %s %c unknown", lt, op)
		}
		if r, err = b.coerce(r, lt); err != nil {
			return nil, err
		}
	}
	lt, rt = l.Type(), r.Type()
	if !lt.Kind.IsNumeric() || !rt.Kind.IsNumeric() {
		return nil, b.errf(sqlerr.UndefinedFunction, "operator does not exist: %s %c %s", lt, op, rt).WithHint("No operator matches the given name and argument types. You might need to add explicit type casts.")
	}
	t := expr.CommonNumeric(lt, rt)
	if lt.Kind == types.Oid || rt.Kind == types.Oid {
		t = types.TInt64
	}
	if t.Kind == types.Float32 {
		t = types.TFloat32
		if lt.Kind != types.Float32 || rt.Kind != types.Float32 {
			// real with any other number is double precision, as
			// PostgreSQL's float48 operators (3.4e38::real * 10 fits)
			t = types.TFloat64
		}
	}
	if l, err = b.coerce(l, t); err != nil {
		return nil, err
	}
	if r, err = b.coerce(r, t); err != nil {
		return nil, err
	}
	return b.fold(&expr.Arith{Op: op, L: l, R: r, T: t})
}

func (b *binder) in(x *ast.PatternInExpr, sc *scope) (expr.Expr, error) {
	v, err := b.bindExpr(x.Expr, sc)
	if err != nil {
		return nil, err
	}
	if x.Sel != nil {
		sq, ok := x.Sel.(*ast.SubqueryExpr)
		if !ok {
			return nil, sqlerr.Unsupported("IN needs a list or a subquery")
		}
		e, err := b.subquery(sq, sc, subAny, v, "=")
		if err != nil {
			return nil, err
		}
		if x.Not {
			return &expr.Not{E: e}, nil
		}
		return e, nil
	}
	list := make([]expr.Expr, len(x.List))
	all := []expr.Expr{v}
	for i, it := range x.List {
		if list[i], err = b.bindExpr(it, sc); err != nil {
			return nil, err
		}
		all = append(all, list[i])
	}
	ts := make([]types.T, len(all))
	for i, e := range all {
		ts[i] = e.Type()
	}
	t, ok := expr.CommonType(ts)
	if !ok {
		return nil, b.errf(sqlerr.DatatypeMismatch, "IN types %s and %s cannot be matched", v.Type(), list[0].Type())
	}
	if v, err = b.coerce(v, t); err != nil {
		return nil, err
	}
	for i := range list {
		if list[i], err = b.coerce(list[i], t); err != nil {
			return nil, err
		}
	}
	return &expr.InList{E: v, List: list, Not: x.Not}, nil
}

func (b *binder) caseExpr(x *ast.CaseExpr, sc *scope) (expr.Expr, error) {
	var operand expr.Expr
	var err error
	if x.Value != nil {
		if operand, err = b.bindExpr(x.Value, sc); err != nil {
			return nil, err
		}
	}
	c := &expr.Case{}
	var results []expr.Expr
	unreached := 0
	defer func() { b.unreached -= unreached }()
	for _, w := range x.WhenClauses {
		cond, err := b.bindExpr(w.Expr, sc)
		if err != nil {
			return nil, err
		}
		k, constant := cond.(*expr.Const)
		if operand != nil {
			l, r, err := b.unify(operand, cond, "=")
			if err != nil {
				return nil, err
			}
			cond = &expr.Compare{Op: expr.EQ, L: l, R: r}
		} else if cond, err = b.boolean(cond, "CASE/WHEN"); err != nil {
			return nil, err
		}
		skip := constant && operand == nil && (k.D.Null || k.D.I == 0)
		if skip {
			b.unreached++ // WHEN false THEN <never>
		}
		res, err := b.bindExpr(w.Result, sc)
		if skip {
			b.unreached--
		}
		if err != nil {
			return nil, err
		}
		c.Whens = append(c.Whens, cond)
		results = append(results, res)
		if constant && operand == nil && !k.D.Null && k.D.I != 0 && unreached == 0 {
			// WHEN true: what follows never runs
			unreached = 1
			b.unreached++
		}
	}
	if x.ElseClause != nil {
		e, err := b.bindExpr(x.ElseClause, sc)
		if err != nil {
			return nil, err
		}
		results = append(results, e)
	}
	t, err := b.commonType(results, "CASE")
	if err != nil {
		return nil, err
	}
	for i := range results {
		if results[i], err = b.coerce(results[i], t); err != nil {
			return nil, err
		}
	}
	c.Thens = results[:len(c.Whens)]
	if x.ElseClause != nil {
		c.Else = results[len(results)-1]
	}
	c.T = t
	return c, nil
}

func (b *binder) commonType(es []expr.Expr, what string) (types.T, error) {
	ts := make([]types.T, len(es))
	for i, e := range es {
		ts[i] = e.Type()
	}
	t, ok := expr.CommonType(ts)
	if !ok {
		var names []string
		for _, x := range ts {
			names = append(names, x.String())
		}
		return types.T{}, b.errf(sqlerr.DatatypeMismatch, "%s types %s cannot be matched", what, strings.Join(names, " and "))
	}
	return t, nil
}

// funcCall binds a function call, including the dialect layer's markers.
func (b *binder) funcCall(x *ast.FuncCallExpr, sc *scope) (expr.Expr, error) {
	name := x.FnName.L
	if i, ok := b.srfCols[x]; ok {
		return &expr.Col{Idx: i, T: sc.cols[i].Type, Name: name}, nil
	}
	if isSRF(name) {
		return nil, sqlerr.Unsupported("set-returning function %s is only supported in FROM or as a whole select item", name)
	}
	if x.Schema.L != "" && x.Schema.L != "pg_catalog" && x.Schema.L != "public" && !(x.Schema.L == "information_schema" && name == "_pg_expandarray") {
		return nil, b.errf(sqlerr.UndefinedFunction, "function %s.%s does not exist", x.Schema.O, name)
	}
	switch name {
	case "__param":
		v := x.Args[0].(*driver.ValueExpr).Datum.GetInt64()
		return b.param(int(v))
	case "__pgcast":
		e, err := b.bindExpr(x.Args[0], sc)
		if err != nil {
			return nil, err
		}
		tname := x.Args[1].(*driver.ValueExpr).Datum.GetString()
		t, err := types.Parse(tname)
		if err != nil {
			return nil, err
		}
		if p, ok := e.(*expr.Param); ok && p.T.Kind == types.Unknown {
			p.T = t
			return p, nil
		}
		if e.Type() == t {
			return e, nil
		}
		if e.Type().Kind == types.Null {
			return &expr.Const{D: types.NullDatum, T: t}, nil
		}
		return b.fold(&expr.Cast{E: e, To: t, Explicit: true})
	case "__nulls_first", "__nulls_last":
		return nil, b.errf(sqlerr.SyntaxError, "NULLS FIRST/LAST is only allowed in ORDER BY")
	case "coalesce":
		args := make([]expr.Expr, len(x.Args))
		unreached := 0
		defer func() { b.unreached -= unreached }()
		for i, a := range x.Args {
			e, err := b.bindExpr(a, sc)
			if err != nil {
				return nil, err
			}
			args[i] = e
			if c, ok := e.(*expr.Const); ok && !c.D.Null && unreached == 0 {
				// the first constant that is not NULL ends it
				unreached = 1
				b.unreached++
			}
		}
		t, err := b.commonType(args, "COALESCE")
		if err != nil {
			return nil, err
		}
		for i := range args {
			if args[i], err = b.coerce(args[i], t); err != nil {
				return nil, err
			}
		}
		return &expr.Coalesce{Args: args, T: t}, nil
	case "nullif":
		args, err := b.bindArgs(x.Args, sc)
		if err != nil {
			return nil, err
		}
		if len(args) != 2 {
			return nil, b.errf(sqlerr.UndefinedFunction, "function nullif requires two arguments")
		}
		l, r, err := b.unify(args[0], args[1], "=")
		if err != nil {
			return nil, err
		}
		return &expr.Case{Whens: []expr.Expr{&expr.Compare{Op: expr.EQ, L: l, R: r}}, Thens: []expr.Expr{&expr.Const{D: types.NullDatum, T: l.Type()}}, Else: l, T: l.Type()}, nil
	case "if", "ifnull":
		return nil, b.errf(sqlerr.UndefinedFunction, "function %s does not exist", name)
	case "__array_subquery":
		sq, ok := x.Args[0].(*ast.SubqueryExpr)
		if !ok {
			return nil, sqlerr.Unsupported("ARRAY() needs a subquery")
		}
		return b.subquery(sq, sc, subArray, nil, "")
	case "trim":
		// TiDB: trim(str), trim(str, remstr), trim(str, remstr, direction)
		args, err := b.bindArgs(x.Args, sc)
		if err != nil {
			return nil, err
		}
		fn := "btrim"
		if len(args) == 3 {
			dir, _ := expr.IsConst(args[2])
			switch ast.TrimDirectionType(dir.I) {
			case ast.TrimLeading:
				fn = "ltrim"
			case ast.TrimTrailing:
				fn = "rtrim"
			}
			args = args[:2]
		}
		if len(args) == 2 {
			if d, ok := expr.IsConst(args[1]); ok && d.Null && args[1].Type().Kind == types.Null {
				args = args[:1]
			}
		}
		return b.call(fn, args)
	case "position", "locate":
		args, err := b.bindArgs(x.Args, sc)
		if err != nil {
			return nil, err
		}
		if len(args) == 2 {
			return b.call("strpos", []expr.Expr{args[1], args[0]})
		}
	case "current_timestamp", "now", "localtimestamp", "current_date", "current_time", "localtime":
		if len(x.Args) > 0 {
			// precision argument: ignored (microseconds are kept)
			x = &ast.FuncCallExpr{FnName: x.FnName}
		}
	case "substring", "substr", "mid":
		args, err := b.bindArgs(x.Args, sc)
		if err != nil {
			return nil, err
		}
		return b.call("substr", args)
	case "__substring":
		// substring(s FROM a FOR b): a position, or with a text a a pattern
		args, err := b.bindArgs(x.Args, sc)
		if err != nil {
			return nil, err
		}
		noLength := isNullConst(args[2])
		if k := args[1].Type().Kind; k == types.Text || k == types.Unknown {
			if !noLength {
				return nil, sqlerr.Unsupported("substring(... FROM pattern FOR escape), SQL's regular expressions, is not supported; use a POSIX pattern without FOR")
			}
			return b.call("__substring_regex", args[:2])
		}
		if noLength {
			return b.call("substr", args[:2])
		}
		return b.call("substr", args)
	case "__field":
		e, err := b.bindExpr(x.Args[0], sc)
		if err != nil {
			return nil, err
		}
		field := x.Args[1].(*driver.ValueExpr).Datum.GetString()
		t := e.Type()
		if t.Kind != types.Record {
			return nil, b.errf(sqlerr.WrongObjectType, "column notation .%s applied to type %s, which is not a composite type", field, t)
		}
		for i, f := range t.Fields() {
			if f.Name == field {
				return &expr.FieldOf{E: e, Index: i, Name: field, T: f.Type}, nil
			}
		}
		return nil, b.errf(sqlerr.UndefinedColumn, "could not identify column %q in record data type", field)
	}
	args, err := b.bindArgs(x.Args, sc)
	if err != nil {
		return nil, err
	}
	return b.call(name, args)
}

func (b *binder) bindArgs(as []ast.ExprNode, sc *scope) ([]expr.Expr, error) {
	out := make([]expr.Expr, len(as))
	for i, a := range as {
		e, err := b.bindExpr(a, sc)
		if err != nil {
			return nil, err
		}
		out[i] = e
	}
	return out, nil
}

// call resolves a function by name and argument types.
func (b *binder) call(name string, args []expr.Expr) (expr.Expr, error) {
	cands := expr.Lookup(name)
	if len(cands) == 0 {
		return nil, b.errf(sqlerr.UndefinedFunction, "function %s(%s) does not exist", name, argTypes(args)).WithHint("No function matches the given name and argument types. You might need to add explicit type casts.")
	}
	in := make([]types.T, len(args))
	for i, a := range args {
		in[i] = a.Type()
	}
	for _, f := range cands {
		ret, want, ok := f.Resolve(in)
		if !ok {
			continue
		}
		cast := make([]expr.Expr, len(args))
		good := true
		for i, a := range args {
			c, err := b.coerce(a, want[i])
			if err != nil {
				good = false
				break
			}
			cast[i] = c
		}
		if !good {
			continue
		}
		if f.Volatile && !f.SessionConstant {
			b.varying = append(b.varying, f.Name)
		}
		return b.fold(&expr.Call{F: f, Args: cast, T: ret})
	}
	return nil, b.errf(sqlerr.UndefinedFunction, "function %s(%s) does not exist", name, argTypes(args)).WithHint("No function matches the given name and argument types. You might need to add explicit type casts.")
}

func argTypes(args []expr.Expr) string {
	s := make([]string, len(args))
	for i, a := range args {
		s[i] = a.Type().String()
	}
	return strings.Join(s, ", ")
}

// aggregate function names and kinds
var aggKinds = map[string]exec.AggKind{
	"count": exec.AggCount, "sum": exec.AggSum, "avg": exec.AggAvg, "min": exec.AggMin, "max": exec.AggMax,
	"bool_and": exec.AggBoolAnd, "bool_or": exec.AggBoolOr, "every": exec.AggBoolAnd, "string_agg": exec.AggStringAgg,
	"group_concat": exec.AggStringAgg, "var_samp": exec.AggVarSamp, "variance": exec.AggVarSamp, "var_pop": exec.AggVarPop,
	"stddev": exec.AggStddevSamp, "__stddev": exec.AggStddevSamp, "__variance": exec.AggVarSamp, "stddev_samp": exec.AggStddevSamp, "stddev_pop": exec.AggStddevPop, "array_agg": exec.AggArrayAgg,
	"json_agg": exec.AggJSONAgg, "jsonb_agg": exec.AggJSONBAgg,
}

func isAggName(n string) bool { _, ok := aggKinds[n]; return ok }

var _ = fmt.Sprintf

func isNullConst(e expr.Expr) bool {
	c, ok := e.(*expr.Const)
	return ok && c.D.Null
}
