package planner

import (
	"strconv"
	"strings"

	"github.com/pingcap/tidb/pkg/parser/ast"
	driver "github.com/pingcap/tidb/pkg/parser/test_driver"
	"github.com/streamsql/streamsql/engine/exec"
	"github.com/streamsql/streamsql/engine/expr"
	"github.com/streamsql/streamsql/sqlerr"
	"github.com/streamsql/streamsql/types"
)

// query binds a SELECT or a set operation in the scope of an outer query
// (nil at top level).
func (b *binder) query(n ast.ResultSetNode, outer *scope) (Node, error) {
	switch x := n.(type) {
	case *ast.SelectStmt:
		return b.selectStmt(x, outer)
	case *ast.SetOprStmt:
		return b.setOpr(x, outer)
	case *ast.SubqueryExpr:
		return b.query(x.Query, outer)
	}
	return nil, sqlerr.Unsupported("query of kind %T is not supported", n)
}

func (b *binder) withClause(w *ast.WithClause, outer *scope) error {
	if w == nil {
		return nil
	}
	if w.IsRecursive {
		return sqlerr.Unsupported("WITH RECURSIVE is not supported")
	}
	m := map[string]*cte{}
	b.ctes = append(b.ctes, m)
	for _, c := range w.CTEs {
		node, err := b.query(c.Query.Query, outer)
		if err != nil {
			return err
		}
		cols := relabel(node.Columns(), c.Name.O)
		if len(c.ColNameList) > 0 {
			if len(c.ColNameList) > len(cols) {
				return sqlerr.New(sqlerr.InvalidColumnReference, "WITH query %q has %d columns available but %d columns specified", c.Name.O, len(cols), len(c.ColNameList))
			}
			for i, cn := range c.ColNameList {
				cols[i].Name = cn.O
			}
		}
		m[c.Name.O] = &cte{node: node, cols: cols}
	}
	return nil
}

func relabel(cols []Column, table string) []Column {
	out := make([]Column, len(cols))
	for i, c := range cols {
		out[i] = Column{Name: c.Name, Type: c.Type, Table: table, TableOID: c.TableOID, AttNum: c.AttNum}
	}
	return out
}

func (b *binder) setOpr(x *ast.SetOprStmt, outer *scope) (Node, error) {
	if x.With != nil {
		if err := b.withClause(x.With, outer); err != nil {
			return nil, err
		}
		defer func() { b.ctes = b.ctes[:len(b.ctes)-1] }()
	}
	sels := x.SelectList.Selects
	nodes := make([]Node, 0, len(sels))
	var ops []ast.SetOprType // ops[i] is between nodes[i] and nodes[i+1]
	for i, s := range sels {
		var n Node
		var err error
		switch q := s.(type) {
		case *ast.SelectStmt:
			n, err = b.selectStmt(q, outer)
		case *ast.SetOprSelectList:
			n, err = b.setOpr(&ast.SetOprStmt{SelectList: q}, outer)
		case *ast.SetOprStmt:
			n, err = b.setOpr(q, outer)
		default:
			err = sqlerr.Unsupported("set operation input %T", s)
		}
		if err != nil {
			return nil, err
		}
		nodes = append(nodes, n)
		if i == 0 {
			continue
		}
		var op *ast.SetOprType
		switch q := s.(type) {
		case *ast.SelectStmt:
			op = q.AfterSetOperator
		case *ast.SetOprSelectList:
			op = q.AfterSetOperator
		}
		if op == nil {
			return nil, sqlerr.Unsupported("set operation without an operator")
		}
		ops = append(ops, *op)
	}
	// INTERSECT binds tighter than UNION and EXCEPT, which go left to
	// right (the grammar lists them all flat)
	node, err := b.combineList(nodes, ops, func(op ast.SetOprType) bool { return op == ast.Intersect || op == ast.IntersectAll })
	if err != nil {
		return nil, err
	}
	return b.orderLimit(node, x.OrderBy, x.Limit, nil, nil)
}

// combineList combines nodes by the operators between them: first every
// run of operators tight says bind tighter, then the rest left to right.
func (b *binder) combineList(nodes []Node, ops []ast.SetOprType, tight func(ast.SetOprType) bool) (Node, error) {
	var outer []Node
	var outerOps []ast.SetOprType
	cur := nodes[0]
	for i, op := range ops {
		if !tight(op) {
			outer, outerOps = append(outer, cur), append(outerOps, op)
			cur = nodes[i+1]
			continue
		}
		var err error
		if cur, err = b.combine(op, cur, nodes[i+1]); err != nil {
			return nil, err
		}
	}
	outer = append(outer, cur)
	node := outer[0]
	for i, op := range outerOps {
		var err error
		if node, err = b.combine(op, node, outer[i+1]); err != nil {
			return nil, err
		}
	}
	return node, nil
}

func (b *binder) combine(op ast.SetOprType, l, r Node) (Node, error) {
	lc, rc := l.Columns(), r.Columns()
	if len(lc) != len(rc) {
		return nil, sqlerr.New(sqlerr.SyntaxError, "each UNION query must have the same number of columns")
	}
	cols := make([]Column, len(lc))
	var lx, rx []expr.Expr
	castL, castR := false, false
	for i := range lc {
		t, ok := expr.CommonType([]types.T{lc[i].Type, rc[i].Type})
		if !ok {
			return nil, sqlerr.New(sqlerr.DatatypeMismatch, "UNION types %s and %s cannot be matched", lc[i].Type, rc[i].Type)
		}
		if t.Kind == types.Unknown || t.Kind == types.Null {
			t = types.TText
		}
		cols[i] = Column{Name: lc[i].Name, Type: t}
		le, err := b.coerce(&expr.Col{Idx: i, T: lc[i].Type}, t)
		if err != nil {
			return nil, err
		}
		re, err := b.coerce(&expr.Col{Idx: i, T: rc[i].Type}, t)
		if err != nil {
			return nil, err
		}
		castL = castL || lc[i].Type != t
		castR = castR || rc[i].Type != t
		lx, rx = append(lx, le), append(rx, re)
	}
	if castL {
		l = &ProjectNode{In: l, Exprs: lx, Cols: cols}
	}
	if castR {
		r = &ProjectNode{In: r, Exprs: rx, Cols: cols}
	}
	switch op {
	case ast.UnionAll:
		return &UnionNode{Inputs: []Node{l, r}, Cols: cols}, nil
	case ast.Union:
		u := &UnionNode{Inputs: []Node{l, r}, Cols: cols}
		return distinctNode(u), nil
	case ast.Intersect, ast.IntersectAll:
		return &SetOpNode{Left: l, Right: r, All: op == ast.IntersectAll}, nil
	case ast.Except, ast.ExceptAll:
		return &SetOpNode{Left: l, Right: r, Except: true, All: op == ast.ExceptAll}, nil
	}
	return nil, sqlerr.Unsupported("set operation %v", op)
}

func distinctNode(n Node) Node {
	cols := n.Columns()
	keys := make([]expr.Expr, len(cols))
	for i, c := range cols {
		keys[i] = &expr.Col{Idx: i, T: c.Type, Name: c.Name}
	}
	return &AggNode{In: n, Keys: keys, Cols: cols}
}

// selectStmt binds one SELECT.
func (b *binder) selectStmt(s *ast.SelectStmt, outer *scope) (Node, error) {
	if s.Kind == ast.SelectStmtKindValues || s.Kind == ast.SelectStmtKindTable {
		return nil, sqlerr.Unsupported("this form of VALUES/TABLE is not supported")
	}
	if s.With != nil {
		if err := b.withClause(s.With, outer); err != nil {
			return nil, err
		}
		defer func() { b.ctes = b.ctes[:len(b.ctes)-1] }()
	}
	if s.LockInfo != nil {
		// FOR UPDATE/SHARE: reads are consistent snapshots; nothing to lock
	}
	var node Node
	sc := &scope{parent: outer}
	if s.From != nil {
		n, cols, using, err := b.fromItem(s.From.TableRefs, outer)
		if err != nil {
			return nil, err
		}
		node, sc.cols, sc.using = n, cols, using
	} else {
		node = &ValuesNode{Rows: [][]expr.Expr{{}}}
	}
	if s.Where != nil {
		pred, err := b.bindExpr(s.Where, sc)
		if err != nil {
			return nil, err
		}
		if pred, err = b.boolean(pred, "WHERE"); err != nil {
			return nil, err
		}
		node = b.pushFilter(node, pred)
	}
	fields := s.Fields.Fields
	var distinctOn []ast.ExprNode
	if len(fields) > 0 {
		if f, ok := fields[0].Expr.(*ast.FuncCallExpr); ok && f.FnName.L == "__distinct_on" {
			distinctOn = f.Args
			fields = fields[1:]
		}
	}
	hasAgg := s.GroupBy != nil || (s.Having != nil)
	for _, f := range fields {
		if f.Expr != nil && containsAgg(f.Expr) {
			hasAgg = true
		}
	}
	if s.OrderBy != nil {
		for _, it := range s.OrderBy.Items {
			if containsAgg(it.Expr) {
				hasAgg = true
			}
		}
	}
	// set-returning functions of the select list run below the projection
	if srf, err := b.selectListSRFs(fields, node, sc); err != nil {
		return nil, err
	} else if srf != nil {
		// with aggregates, only a set-returning call that is a grouping key
		// can run below them (PostgreSQL runs the others above)
		if hasAgg && !srfsGrouped(b.srfCols, s.GroupBy, fields) {
			return nil, sqlerr.Unsupported("set-returning functions with aggregates are supported only as GROUP BY keys")
		}
		node = srf
	}
	// the scope the select list is bound in
	post := sc
	var agg *aggBinding
	if hasAgg {
		agg = &aggBinding{pre: sc}
		if s.GroupBy != nil {
			for _, it := range s.GroupBy.Items {
				e, written, err := b.groupKey(it.Expr, fields, sc)
				if err != nil {
					return nil, err
				}
				agg.keys = append(agg.keys, e)
				agg.keyStr = append(agg.keyStr, e.String())
				agg.keySize = max(agg.keySize, astSize(written, 1<<30))
			}
		}
		agg.active = true
		post = &scope{parent: outer}
	}
	hasWin := false
	for _, f := range fields {
		if f.Expr != nil && containsWindow(f.Expr) {
			hasWin = true
		}
	}
	if s.OrderBy != nil {
		for _, it := range s.OrderBy.Items {
			hasWin = hasWin || containsWindow(it.Expr)
		}
	}
	var win *winBinding
	if hasWin {
		win = &winBinding{base: winSentinel}
		if err := win.define(s.WindowSpecs); err != nil {
			return nil, err
		}
	}
	b.agg, b.win = agg, win
	defer func() { b.agg, b.win = nil, nil }()

	// select list
	var exprs []expr.Expr
	var cols []Column
	for _, f := range fields {
		if f.WildCard != nil {
			if agg != nil && len(agg.keys) == 0 {
				return nil, sqlerr.New(sqlerr.GroupingError, "column %q must appear in the GROUP BY clause or be used in an aggregate function", "*")
			}
			table := f.WildCard.Table.O
			found := false
			for i, c := range sc.cols {
				if c.Hidden || c.System || (table != "" && c.Table != table) || (table == "" && c.Merged) {
					continue
				}
				found = true
				var e expr.Expr = &expr.Col{Idx: i, T: c.Type, Name: c.Name}
				if agg != nil {
					e2, ok, err := agg.lookup(b, &ast.ColumnNameExpr{Name: &ast.ColumnName{Name: ciStr(c.Name), Table: ciStr(c.Table)}}, sc)
					if err != nil {
						return nil, err
					}
					if !ok {
						return nil, sqlerr.New(sqlerr.GroupingError, "column %q must appear in the GROUP BY clause or be used in an aggregate function", c.Table+"."+c.Name)
					}
					e = e2
				}
				exprs = append(exprs, e)
				cols = append(cols, Column{Name: c.Name, Type: c.Type, TableOID: c.TableOID, AttNum: c.AttNum})
			}
			if table != "" && !found {
				return nil, sqlerr.New(sqlerr.UndefinedTable, "missing FROM-clause entry for table %q", table)
			}
			continue
		}
		e, err := b.bindExpr(f.Expr, post)
		if err != nil {
			return nil, err
		}
		name := fieldName(f)
		col := Column{Name: name, Type: e.Type()}
		if c, ok := e.(*expr.Col); ok && agg == nil && win == nil && c.Idx < len(sc.cols) {
			col.TableOID, col.AttNum = sc.cols[c.Idx].TableOID, sc.cols[c.Idx].AttNum
		}
		exprs = append(exprs, e)
		cols = append(cols, col)
	}
	var having expr.Expr
	if s.Having != nil {
		if agg == nil {
			agg = &aggBinding{pre: sc, active: true}
			b.agg = agg
		}
		h, err := b.bindExpr(s.Having.Expr, post)
		if err != nil {
			return nil, err
		}
		if having, err = b.boolean(h, "HAVING"); err != nil {
			return nil, err
		}
	}
	// ORDER BY expressions that are not output columns are computed as
	// hidden columns, bound in the same scope as the select list.
	var orderKeys []exec.SortKey
	hidden := 0
	distinct := s.Distinct
	if s.OrderBy != nil {
		for _, it := range s.OrderBy.Items {
			k, extra, err := b.orderItem(it, fields, cols, exprs, post, distinct)
			if err != nil {
				return nil, err
			}
			if extra != nil {
				exprs = append(exprs, extra)
				cols = append(cols, Column{Name: "?order?", Type: extra.Type(), Hidden: true})
				k.E = &expr.Col{Idx: len(exprs) - 1, T: extra.Type()}
				hidden++
			}
			orderKeys = append(orderKeys, k)
		}
	}
	// DISTINCT ON keys are hidden columns too; ORDER BY must start with them
	var onKeys []expr.Expr
	for k, n := range distinctOn {
		e, err := b.bindExpr(n, post)
		if err != nil {
			return nil, err
		}
		if k < len(orderKeys) {
			ok := orderKeys[k].E.String() == e.String()
			if c, isCol := orderKeys[k].E.(*expr.Col); isCol && !ok {
				ok = exprs[c.Idx].String() == e.String()
			}
			if !ok {
				return nil, sqlerr.New(sqlerr.InvalidColumnReference, "SELECT DISTINCT ON expressions must match initial ORDER BY expressions")
			}
		}
		exprs = append(exprs, e)
		cols = append(cols, Column{Name: "?distinct?", Type: e.Type(), Hidden: true})
		hidden++
		onKeys = append(onKeys, &expr.Col{Idx: len(exprs) - 1, T: e.Type()})
	}
	if len(onKeys) > 0 && len(orderKeys) < len(onKeys) {
		for _, k := range onKeys[len(orderKeys):] {
			orderKeys = append(orderKeys, exec.SortKey{E: k})
		}
	}
	b.agg, b.win = nil, nil
	if agg != nil {
		aggCols := make([]Column, 0, len(agg.keys)+len(agg.aggs))
		for i, k := range agg.keys {
			aggCols = append(aggCols, Column{Name: "key" + strconv.Itoa(i), Type: k.Type()})
		}
		for i, a := range agg.aggs {
			aggCols = append(aggCols, Column{Name: "agg" + strconv.Itoa(i), Type: a.T})
		}
		an := &AggNode{In: node, Keys: agg.keys, Aggs: agg.aggs, Cols: aggCols}
		if err := partitionSessions(an); err != nil {
			return nil, err
		}
		node = an
		if having != nil {
			node = &FilterNode{In: node, Pred: having}
		}
		post.cols = aggCols
	}
	if win != nil {
		// one WindowNode per window; function k (numbered from
		// winSentinel) lands after the input columns in chain order
		pos := make([]int, win.n)
		next := len(post.cols)
		wcols := append([]Column{}, post.cols...)
		for _, g := range win.groups {
			for i, f := range g.funcs {
				pos[g.reg[i]] = next
				next++
				wcols = append(wcols, Column{Name: "window", Type: f.T})
			}
			node = &WindowNode{In: node, Partition: g.partition, Order: g.order, Funcs: g.funcs, Cols: append([]Column{}, wcols...)}
		}
		for i := range exprs {
			exprs[i] = mapCols(exprs[i], func(c *expr.Col) expr.Expr {
				if c.Idx >= winSentinel {
					return &expr.Col{Idx: pos[c.Idx-winSentinel], T: c.T, Name: c.Name}
				}
				return nil
			})
		}
	}
	node = &ProjectNode{In: node, Exprs: exprs, Cols: cols}
	if distinct {
		node = distinctNode(node)
	}
	if len(onKeys) > 0 {
		node = &SortNode{In: node, Keys: orderKeys, Limit: -1}
		node = &DistinctOnNode{In: node, Keys: onKeys}
		orderKeys = nil
	}
	var err error
	node, err = b.orderLimit(node, nil, s.Limit, orderKeys, &hidden)
	if err != nil {
		return nil, err
	}
	return node, nil
}

// nonIntegerConstant reports a literal that is not an integer (a string,
// a decimal, NULL): PostgreSQL refuses it as a GROUP BY or ORDER BY item,
// where an integer is a position.
func nonIntegerConstant(n ast.ExprNode, clause string) error {
	v, ok := n.(*driver.ValueExpr)
	if !ok {
		return nil
	}
	switch v.Datum.GetValue().(type) {
	case int64, uint64:
		return nil
	}
	return sqlerr.New(sqlerr.SyntaxError, "non-integer constant in %s", clause)
}

// ordinal recognises a positional reference (ORDER BY 1, GROUP BY 2).
func ordinal(n ast.ExprNode) (int64, bool) {
	switch x := n.(type) {
	case *ast.PositionExpr:
		if x.P == nil {
			return int64(x.N), true
		}
	case *driver.ValueExpr:
		if i, ok := x.Datum.GetValue().(int64); ok {
			return i, true
		}
	}
	return 0, false
}

// winSentinel numbers window function results until the input width is known.
const winSentinel = 1 << 20

func ciStr(s string) ast.CIStr { return ast.NewCIStr(s) }

// groupKey binds a GROUP BY item: an input expression, an output ordinal,
// or an output alias (input columns win over aliases, as in PostgreSQL).
// groupKey binds a GROUP BY item: an expression over the input, a
// position in the select list or an output name. written is the
// expression the key stands for as written in the query.
func (b *binder) groupKey(n ast.ExprNode, fields []*ast.SelectField, sc *scope) (e expr.Expr, written ast.ExprNode, err error) {
	if err := nonIntegerConstant(n, "GROUP BY"); err != nil {
		return nil, nil, err
	}
	if i, ok := ordinal(n); ok {
		if i < 1 || int(i) > len(fields) || fields[i-1].WildCard != nil {
			return nil, nil, sqlerr.New(sqlerr.InvalidColumnReference, "GROUP BY position %d is not in select list", i)
		}
		e, err := b.bindExpr(fields[i-1].Expr, sc)
		return e, fields[i-1].Expr, err
	}
	if c, ok := n.(*ast.ColumnNameExpr); ok && c.Name.Table.O == "" {
		if _, err := b.resolveColumn(sc, c.Name); err != nil {
			for _, f := range fields {
				if f.AsName.O == c.Name.Name.O && f.Expr != nil {
					e, err := b.bindExpr(f.Expr, sc)
					return e, f.Expr, err
				}
			}
		}
	}
	e, err = b.bindExpr(n, sc)
	return e, n, err
}

// orderItem binds an ORDER BY item against the select list (ordinal or
// output name) or, failing that, as an expression over the input; extra is
// that expression when it is not an output column.
func (b *binder) orderItem(it *ast.ByItem, fields []*ast.SelectField, cols []Column, exprs []expr.Expr, sc *scope, distinct bool) (exec.SortKey, expr.Expr, error) {
	e := it.Expr
	nullsFirst, explicitNulls := false, false
	if f, ok := e.(*ast.FuncCallExpr); ok && (f.FnName.L == "__nulls_first" || f.FnName.L == "__nulls_last") {
		nullsFirst, explicitNulls = f.FnName.L == "__nulls_first", true
		e = f.Args[0]
	}
	key := exec.SortKey{Desc: it.Desc, NullsFirst: it.Desc}
	if explicitNulls {
		key.NullsFirst = nullsFirst
	}
	if err := nonIntegerConstant(e, "ORDER BY"); err != nil {
		return key, nil, err
	}
	if i, ok := ordinal(e); ok {
		{
			visible := 0
			for k, c := range cols {
				if c.Hidden {
					continue
				}
				visible++
				if int64(visible) == i {
					key.E = &expr.Col{Idx: k, T: c.Type}
					return key, nil, nil
				}
			}
			return key, nil, sqlerr.New(sqlerr.InvalidColumnReference, "ORDER BY position %d is not in select list", i)
		}
	}
	if c, ok := e.(*ast.ColumnNameExpr); ok && c.Name.Table.O == "" {
		match := -1
		for k, col := range cols {
			if !col.Hidden && col.Name == c.Name.Name.O {
				if match >= 0 {
					return key, nil, sqlerr.New(sqlerr.AmbiguousColumn, "ORDER BY %q is ambiguous", col.Name)
				}
				match = k
			}
		}
		if match >= 0 {
			key.E = &expr.Col{Idx: match, T: cols[match].Type}
			return key, nil, nil
		}
	}
	bound, err := b.bindExpr(e, sc)
	if err != nil {
		return key, nil, err
	}
	s := bound.String()
	for k, x := range exprs {
		if x.String() == s && !cols[k].Hidden {
			key.E = &expr.Col{Idx: k, T: cols[k].Type}
			return key, nil, nil
		}
	}
	if distinct {
		return key, nil, sqlerr.New(sqlerr.InvalidColumnReference, "for SELECT DISTINCT, ORDER BY expressions must appear in select list")
	}
	if bound.Type().Kind == types.Unknown {
		if bound, err = b.coerce(bound, types.TText); err != nil {
			return key, nil, err
		}
	}
	return key, bound, nil
}

// orderLimit adds ORDER BY (already bound keys, or items of a set
// operation), LIMIT and OFFSET, and drops hidden ORDER BY columns.
func (b *binder) orderLimit(node Node, ob *ast.OrderByClause, lim *ast.Limit, keys []exec.SortKey, hidden *int) (Node, error) {
	if ob != nil {
		cols := node.Columns()
		sc := &scope{cols: cols}
		for _, it := range ob.Items {
			k, extra, err := b.orderItem(it, nil, cols, nil, sc, false)
			if err != nil {
				return nil, err
			}
			if extra != nil {
				return nil, sqlerr.Unsupported("ORDER BY on a UNION must name an output column")
			}
			keys = append(keys, k)
		}
	}
	var count, offset expr.Expr
	ties := false
	if lim != nil {
		var err error
		if lim.Count != nil {
			b.withTies = false
			if count, err = b.limitExpr(lim.Count, "LIMIT"); err != nil {
				return nil, err
			}
			ties, b.withTies = b.withTies, false
			if ties && len(keys) == 0 {
				return nil, sqlerr.New(sqlerr.SyntaxError, "WITH TIES cannot be specified without ORDER BY clause")
			}
		}
		if lim.Offset != nil {
			if offset, err = b.limitExpr(lim.Offset, "OFFSET"); err != nil {
				return nil, err
			}
		}
	}
	if len(keys) > 0 {
		top := int64(-1)
		if c, ok := count.(*expr.Const); ok && offset == nil && !c.D.Null && !ties {
			top = c.D.I
		}
		node = &SortNode{In: node, Keys: keys, Limit: top}
	}
	if count != nil || offset != nil {
		if c, ok := count.(*expr.Const); ok && c.D.I == int64(^uint64(0)>>1) {
			count = nil
		}
		l := &LimitNode{In: node, Count: count, Offset: offset}
		if ties {
			l.Ties = keys
		}
		node = l
	}
	if hidden != nil && *hidden > 0 {
		cols := node.Columns()
		keep := cols[:len(cols)-*hidden]
		es := make([]expr.Expr, len(keep))
		for i, c := range keep {
			es[i] = &expr.Col{Idx: i, T: c.Type, Name: c.Name}
		}
		node = &ProjectNode{In: node, Exprs: es, Cols: append([]Column{}, keep...)}
	}
	return node, nil
}

func (b *binder) limitExpr(n ast.ExprNode, what string) (expr.Expr, error) {
	if v, ok := n.(*driver.ValueExpr); ok {
		if u, isU := v.Datum.GetValue().(uint64); isU && u > 1<<62 {
			return &expr.Const{D: types.DInt(int64(^uint64(0) >> 1)), T: types.TInt64}, nil
		}
	}
	e, err := b.bindExpr(n, &scope{})
	if err != nil {
		return nil, err
	}
	if e, err = b.coerce(e, types.TInt64); err != nil {
		return nil, sqlerr.New(sqlerr.DatatypeMismatch, "argument of %s must be type bigint, not type %s", what, e.Type())
	}
	if c, ok := e.(*expr.Const); ok && !c.D.Null && c.D.I < 0 {
		if what == "LIMIT" {
			return nil, sqlerr.New(sqlerr.InvalidRowCountInLimit, "LIMIT must not be negative")
		}
		return nil, sqlerr.New(sqlerr.InvalidRowCountInOffset, "OFFSET must not be negative")
	}
	return e, nil
}

// fieldName is the output column name PostgreSQL would give a select item.
func fieldName(f *ast.SelectField) string {
	if f.AsName.O != "" {
		return f.AsName.O
	}
	return exprName(f.Expr)
}

func exprName(e ast.ExprNode) string {
	switch x := e.(type) {
	case *ast.ColumnNameExpr:
		return x.Name.Name.O
	case *ast.ParenthesesExpr:
		return exprName(x.Expr)
	case *ast.AggregateFuncExpr:
		return strings.ToLower(x.F)
	case *ast.BinaryOperationExpr:
		return "?column?"
	case *ast.WindowFuncExpr:
		return strings.ToLower(x.Name)
	case *ast.CaseExpr:
		return "case"
	case *ast.ExistsSubqueryExpr:
		return "exists"
	case *ast.SubqueryExpr:
		if s, ok := x.Query.(*ast.SelectStmt); ok && len(s.Fields.Fields) == 1 && s.Fields.Fields[0].WildCard == nil {
			return fieldName(s.Fields.Fields[0])
		}
	case *ast.FuncCallExpr:
		switch x.FnName.L {
		case "__pgcast":
			// as PostgreSQL's FigureColname: a name from a column or a
			// function wins over the cast's type, another cast's type does not
			if n := exprName(x.Args[0]); n != "?column?" && !isCastCall(x.Args[0]) {
				return n
			}
			t, err := types.Parse(x.Args[1].(*driver.ValueExpr).Datum.GetString())
			if err == nil {
				if t.Kind == types.Array {
					return "?column?"
				}
				return t.TypName()
			}
		case "__param", "concat", "__regex_match", "__any", "__all", "__json_get", "__json_get_text", "__like":
			return "?column?"
		case "__extract":
			return "extract"
		case "__field":
			if v, ok := x.Args[1].(*driver.ValueExpr); ok {
				return v.Datum.GetString()
			}
		case "__substring":
			return "substring"
		case "__array", "__array_subquery":
			return "array"
		case "__subscript":
			return exprName(x.Args[0])
		case "__at_time_zone":
			return "timezone"
		case "__concat", "__mod", "__stddev", "__variance", "__nextval", "__setval", "__currval", "__lastval", "__cardinality", "__div":
			return x.FnName.L[2:]
		case "current_timestamp":
			return "current_timestamp"
		}
		if strings.HasPrefix(x.FnName.L, "__") {
			return "?column?"
		}
		return x.FnName.L
	}
	return "?column?"
}

func isCastCall(e ast.ExprNode) bool {
	for {
		p, ok := e.(*ast.ParenthesesExpr)
		if !ok {
			break
		}
		e = p.Expr
	}
	f, ok := e.(*ast.FuncCallExpr)
	return ok && f.FnName.L == "__pgcast"
}

// sortKey binds a window's ORDER BY item.
func (b *binder) sortKey(it *ast.ByItem, sc *scope) (exec.SortKey, error) {
	e := it.Expr
	k := exec.SortKey{Desc: it.Desc, NullsFirst: it.Desc}
	if f, ok := e.(*ast.FuncCallExpr); ok && (f.FnName.L == "__nulls_first" || f.FnName.L == "__nulls_last") {
		k.NullsFirst = f.FnName.L == "__nulls_first"
		e = f.Args[0]
	}
	bound, err := b.bindExpr(e, sc)
	if err != nil {
		return k, err
	}
	k.E = bound
	return k, nil
}

// partitionSessions gives a SESSION window under an aggregate its
// partition: the GROUP BY keys other than window_start and window_end,
// which must be columns of the windowed relation.
func partitionSessions(a *AggNode) error {
	n := a.In
	for {
		f, ok := n.(*FilterNode)
		if !ok {
			break
		}
		n = f.In
	}
	w, ok := n.(*WindowTVFNode)
	if !ok || !w.Spec.Session {
		return nil
	}
	base := len(w.In.Columns())
	w.Partition = nil
	for _, k := range a.Keys {
		c, ok := k.(*expr.Col)
		if !ok {
			return sqlerr.Unsupported("GROUP BY over SESSION windows must list columns (the session partition), not expressions")
		}
		if c.Idx < base {
			w.Partition = append(w.Partition, c.Idx)
		}
	}
	return nil
}

// srfsGrouped reports whether every set-returning call of the select list
// is (or is named by) a GROUP BY item.
func srfsGrouped(calls map[ast.ExprNode]int, gb *ast.GroupByClause, fields []*ast.SelectField) bool {
	if gb == nil {
		return false
	}
	keys := map[ast.ExprNode]bool{}
	for _, it := range gb.Items {
		e := it.Expr
		if i, ok := ordinal(e); ok && i >= 1 && int(i) <= len(fields) {
			e = fields[i-1].Expr
		} else if c, ok := e.(*ast.ColumnNameExpr); ok && c.Name.Table.O == "" {
			for _, f := range fields {
				if f.AsName.O == c.Name.Name.O && f.Expr != nil {
					e = f.Expr
				}
			}
		}
		keys[e] = true
	}
	for call := range calls {
		if !keys[call] {
			return false
		}
	}
	return true
}
