package planner

import (
	"strings"

	"github.com/pingcap/tidb/pkg/parser/ast"
	"github.com/streamsql/streamsql/catalog"
	"github.com/streamsql/streamsql/engine/dataflow"
	"github.com/streamsql/streamsql/engine/exec"
	"github.com/streamsql/streamsql/engine/expr"
	"github.com/streamsql/streamsql/planner/pgsql"
	"github.com/streamsql/streamsql/sqlerr"
	"github.com/streamsql/streamsql/types"
)

// fromItem binds a FROM clause item: a table, a derived table, a table
// function or a join. It returns the node, its columns (qualified by the
// range-table name) and the USING columns of joins.
func (b *binder) fromItem(n ast.ResultSetNode, outer *scope) (Node, []Column, map[string]int, error) {
	switch x := n.(type) {
	case *ast.Join:
		if x.Right == nil {
			return b.fromItem(x.Left, outer)
		}
		return b.join(x, outer)
	case *ast.TableSource:
		alias := x.AsName.O
		switch src := x.Source.(type) {
		case *ast.TableName:
			node, cols, err := b.table(src, alias, outer)
			return node, cols, nil, err
		case *ast.SelectStmt, *ast.SetOprStmt:
			node, err := b.query(src, outer)
			if err != nil {
				return nil, nil, nil, err
			}
			if alias == "" {
				alias = "subquery"
			}
			cols, err := b.aliasColumns(relabel(node.Columns(), alias), alias)
			return node, cols, nil, err
		case *ast.Join:
			node, cols, using, err := b.join(src, outer)
			if err != nil {
				return nil, nil, nil, err
			}
			if alias != "" {
				cols = relabel(cols, alias)
			}
			return node, cols, using, nil
		}
	case *ast.TableName:
		node, cols, err := b.table(x, "", outer)
		return node, cols, nil, err
	}
	return nil, nil, nil, sqlerr.Unsupported("FROM item %T is not supported", n)
}

func (b *binder) aliasColumns(cols []Column, alias string) ([]Column, error) {
	names, ok := b.tr.AliasColumns[alias]
	if !ok {
		return cols, nil
	}
	if len(names) > len(cols) {
		return nil, sqlerr.New(sqlerr.InvalidColumnReference, "table %q has %d columns available but %d columns specified", alias, len(cols), len(names))
	}
	for i, n := range names {
		cols[i].Name = n
	}
	return cols, nil
}

// table resolves a table name: a CTE, a table function placeholder, a
// catalog relation (pg_catalog, information_schema) or a user object.
func (b *binder) table(t *ast.TableName, alias string, outer *scope) (Node, []Column, error) {
	n, cols, err := b.tableNamed(t, alias, outer)
	if err == nil && alias == "" && len(cols) > 0 && cols[0].TableOID != 0 {
		schema := t.Schema.O
		if schema == "" {
			schema = b.schemaOf(cols[0].TableOID)
		}
		for i := range cols {
			cols[i].Schema = schema
		}
	}
	return n, cols, err
}

// schemaOf is the schema of the relation with the given OID.
func (b *binder) schemaOf(oid uint32) string {
	if v := virtualByOID(oid); v != nil {
		return v.schema
	}
	if o := b.s.db.Catalog.ByOID(oid); o != nil {
		return o.Schema()
	}
	return ""
}

func (b *binder) tableNamed(t *ast.TableName, alias string, outer *scope) (Node, []Column, error) {
	name, schema := t.Name.O, t.Schema.O
	if alias == "" {
		alias = name
	}
	if schema == "" {
		for i := len(b.ctes) - 1; i >= 0; i-- {
			if c, ok := b.ctes[i][name]; ok {
				cols, err := b.aliasColumns(relabel(c.cols, alias), alias)
				if err != nil {
					return nil, nil, err
				}
				return renamed(c.node, cols), cols, nil
			}
		}
		for _, tf := range b.tr.TableFuncs {
			if tf.Placeholder == name {
				if alias == name {
					alias = tf.Name
				}
				return b.tableFunc(tf.Name, tf.Args, alias, outer)
			}
		}
	}
	switch schema {
	case "pg_catalog", "information_schema":
		v := lookupVirtualIn(schema, name)
		if v == nil {
			return nil, nil, sqlerr.New(sqlerr.UndefinedTable, "relation \"%s.%s\" does not exist", schema, name)
		}
		return b.virtual(v, alias)
	}
	if schema == "" {
		if v := lookupVirtualIn("pg_catalog", name); v != nil {
			return b.virtual(v, alias)
		}
	}
	o, _ := b.s.db.lookupIn(b.searchPath(), schema, name)
	if o == nil {
		if schema != "" {
			return nil, nil, sqlerr.New(sqlerr.UndefinedTable, "relation \"%s.%s\" does not exist", schema, name)
		}
		return nil, nil, sqlerr.New(sqlerr.UndefinedTable, "relation %q does not exist", name)
	}
	b.deps = append(b.deps, o.Name)
	switch o.Kind {
	case catalog.KindTable, catalog.KindStream:
		cols := make([]Column, len(o.Columns))
		for i, c := range o.Columns {
			cols[i] = Column{Name: c.Name, Type: c.Type, Table: alias, TableOID: o.OID, AttNum: int16(i + 1)}
		}
		if o.Kind == catalog.KindStream {
			// where each record is: hidden from SELECT *, there by name
			for _, c := range streamSystemColumns {
				c.Table = alias
				cols = append(cols, c)
			}
		}
		cols, err := b.aliasColumns(cols, alias)
		if err != nil {
			return nil, nil, err
		}
		return &ScanNode{Rel: o, Cols: cols}, cols, nil
	case catalog.KindView, catalog.KindMaterializedView:
		if o.Kind == catalog.KindMaterializedView && b.s.db.view(o.Name) != nil {
			// maintained incrementally: read its current rows
			cols := make([]Column, len(o.Columns))
			for i, c := range o.Columns {
				cols[i] = Column{Name: c.Name, Type: c.Type, Table: alias, TableOID: o.OID, AttNum: int16(i + 1)}
			}
			cols, err := b.aliasColumns(cols, alias)
			if err != nil {
				return nil, nil, err
			}
			return &ScanNode{Rel: o, Cols: cols}, cols, nil
		}
		node, err := b.viewQuery(o)
		if err != nil {
			return nil, nil, err
		}
		cols := relabel(node.Columns(), alias)
		for i := range cols {
			cols[i].TableOID, cols[i].AttNum = o.OID, int16(i+1)
		}
		cols, err = b.aliasColumns(cols, alias)
		if err != nil {
			return nil, nil, err
		}
		return renamed(node, cols), cols, nil
	case catalog.KindSource:
		return nil, nil, sqlerr.Unsupported("reading source %q needs its connector, which is not available in this build", name)
	case catalog.KindSequence:
		return nil, nil, sqlerr.Unsupported("reading sequence %q as a relation is not supported; use nextval()", name)
	}
	return nil, nil, sqlerr.New(sqlerr.WrongObjectType, "%q is a %s, not a relation", name, o.Kind)
}

// streamSystemColumns are a stream record's position: its shard, its
// sequence number in the shard and its arrival time.
var streamSystemColumns = []Column{
	{Name: "_shard", Type: types.TInt32, System: true},
	{Name: "_seq", Type: types.TInt64, System: true},
	{Name: "_arrival", Type: types.TTimestampTZ, System: true},
}

// renamed gives a node new output column names (a projection of its columns).
func renamed(n Node, cols []Column) Node {
	es := make([]expr.Expr, len(cols))
	for i, c := range cols {
		es[i] = &expr.Col{Idx: i, T: c.Type, Name: c.Name}
	}
	return &ProjectNode{In: n, Exprs: es, Cols: cols}
}

// searchPath is where unqualified names are looked up: the view's path
// while a view's query is bound, else the session's.
func (b *binder) searchPath() []string {
	if b.path != nil {
		return b.path
	}
	return b.s.searchPath()
}

// viewQuery binds the defining query of a view or materialized view.
func (b *binder) viewQuery(o *catalog.Object) (Node, error) {
	b.viewDepth++
	defer func() { b.viewDepth-- }()
	if b.viewDepth > 32 {
		return nil, sqlerr.New(sqlerr.InvalidObjectDefinition, "infinite recursion detected in view %q", o.Name)
	}
	stmts, err := b.s.parser.Parse(o.Query)
	if err != nil {
		return nil, err
	}
	var query *pgsql.Query
	if len(stmts) == 1 {
		query, _ = stmts[0].(*pgsql.Query)
	}
	if query == nil {
		return nil, sqlerr.New(sqlerr.InternalError, "view %q has a corrupt definition", o.Name)
	}
	sub := &binder{s: b.s, tr: query.Tr, viewDepth: b.viewDepth, path: pathOf(o)}
	node, err := sub.query(query.Node.(ast.ResultSetNode), nil)
	if err != nil {
		return nil, err
	}
	if len(sub.params) > 0 {
		return nil, sqlerr.New(sqlerr.InvalidObjectDefinition, "a view cannot have parameters")
	}
	cols := node.Columns()
	out := make([]Column, len(cols))
	for i, c := range cols {
		out[i] = Column{Name: c.Name, Type: c.Type}
		if i < len(o.Columns) {
			out[i].Name = o.Columns[i].Name
		}
	}
	return renamed(node, out), nil
}

func (b *binder) virtual(v *virtualTable, alias string) (Node, []Column, error) {
	cols := make([]Column, len(v.cols))
	for i, c := range v.cols {
		cols[i] = Column{Name: c.Name, Type: c.Type, Table: alias, TableOID: v.oid, AttNum: int16(i + 1)}
	}
	cols, err := b.aliasColumns(cols, alias)
	if err != nil {
		return nil, nil, err
	}
	return &ScanNode{Virtual: v, Cols: cols}, cols, nil
}

// join binds a JOIN, extracting equality keys from ON for a hash join.
func (b *binder) join(j *ast.Join, outer *scope) (Node, []Column, map[string]int, error) {
	left, lcols, lusing, err := b.fromItem(j.Left, outer)
	if err != nil {
		return nil, nil, nil, err
	}
	if node, cols, using, ok, err := b.lateral(j, left, lcols, lusing, outer); ok || err != nil {
		return node, cols, using, err
	}
	right, rcols, rusing, err := b.fromItem(j.Right, outer)
	if err != nil {
		return nil, nil, nil, err
	}
	kind := exec.InnerJoin
	switch {
	case j.StraightJoin:
		kind = exec.FullJoin
	case j.Tp == ast.LeftJoin:
		kind = exec.LeftJoin
	case j.Tp == ast.RightJoin:
		kind = exec.RightJoin
	}
	cols := append(append([]Column{}, lcols...), rcols...)
	using := map[string]int{}
	for k, v := range lusing {
		using[k] = v
	}
	for k, v := range rusing {
		using[k] = v + len(lcols)
	}
	sc := &scope{cols: cols, parent: outer, using: using}
	var lk, rk []expr.Expr
	var residual []expr.Expr
	asof := false
	usingNames := []string{}
	for _, u := range j.Using {
		usingNames = append(usingNames, u.Name.O)
	}
	if j.NaturalJoin {
		for _, lc := range lcols {
			for _, rc := range rcols {
				if lc.Name == rc.Name && !lc.Hidden && !rc.Hidden && !lc.Merged && !rc.Merged {
					usingNames = append(usingNames, lc.Name)
				}
			}
		}
	}
	type merge struct {
		name   string
		li, ri int
		t      types.T
	}
	var merges []merge
	for _, name := range usingNames {
		li, ri := -1, -1
		for side, sideCols := range [2][]Column{lcols, rcols} {
			at := &li
			if side == 1 {
				at = &ri
			}
			for i, c := range sideCols {
				if c.Name != name || c.Hidden || c.Merged {
					continue
				}
				if *at >= 0 {
					return nil, nil, nil, sqlerr.New(sqlerr.AmbiguousColumn, "common column name %q appears more than once in %s table", name, [2]string{"left", "right"}[side])
				}
				*at = i
			}
		}
		if li < 0 || ri < 0 {
			return nil, nil, nil, sqlerr.New(sqlerr.UndefinedColumn, "column %q specified in USING clause does not exist in %s table", name, map[bool]string{true: "left", false: "right"}[li < 0])
		}
		l, r, err := b.unify(&expr.Col{Idx: li, T: lcols[li].Type}, &expr.Col{Idx: ri, T: rcols[ri].Type}, "=")
		if err != nil {
			return nil, nil, nil, err
		}
		lk, rk = append(lk, l), append(rk, r)
		merges = append(merges, merge{name, li, ri, l.Type()})
	}
	if j.On != nil {
		cond, err := b.bindExpr(j.On.Expr, sc)
		if err != nil {
			return nil, nil, nil, err
		}
		if cond, err = b.boolean(cond, "JOIN/ON"); err != nil {
			return nil, nil, nil, err
		}
		for _, c := range conjuncts(cond) {
			if call, ok := c.(*expr.Call); ok && call.F.Name == "__asof_join" {
				asof = true
				continue
			}
			if l, r, ok := splitEquality(c, len(lcols)); ok {
				lk, rk = append(lk, l), append(rk, r)
				continue
			}
			residual = append(residual, c)
		}
	}
	node := &JoinNode{Kind: kind, Left: left, Right: right, LeftKeys: lk, RightKeys: rk, Cols: cols}
	if !asof {
		// an ON condition on one side's rows filters that side first when
		// the join would drop or NULL-extend what it drops: either side of
		// an inner join, the side an outer join may extend
		residual = b.pushIntoSides(node, residual, kind == exec.InnerJoin || kind == exec.RightJoin, kind == exec.InnerJoin || kind == exec.LeftJoin)
	}
	node.Residual = and(residual)
	if asof {
		if err := asOfJoin(node, residual, len(lcols)); err != nil {
			return nil, nil, nil, err
		}
	}
	if len(merges) == 0 {
		return node, cols, using, nil
	}
	// USING and NATURAL: the merged columns come first, in the USING
	// list's order, then the left's other columns, then the right's, as
	// in PostgreSQL; a merged column is the left's value (the right's in
	// a RIGHT JOIN, the one that is there in a FULL JOIN). Each side's own
	// copy stays, for t.col and t.*.
	proj := &ProjectNode{In: node}
	out := map[string]int{}
	for _, m := range merges {
		l, err := b.coerce(&expr.Col{Idx: m.li, T: lcols[m.li].Type, Name: m.name}, m.t)
		if err != nil {
			return nil, nil, nil, err
		}
		r, err := b.coerce(&expr.Col{Idx: len(lcols) + m.ri, T: rcols[m.ri].Type, Name: m.name}, m.t)
		if err != nil {
			return nil, nil, nil, err
		}
		var e expr.Expr = l
		switch kind {
		case exec.RightJoin:
			e = r
		case exec.FullJoin:
			e = &expr.Coalesce{Args: []expr.Expr{l, r}, T: m.t}
		}
		out[m.name] = len(proj.Exprs)
		proj.Exprs = append(proj.Exprs, e)
		proj.Cols = append(proj.Cols, Column{Name: m.name, Type: m.t})
	}
	for k, v := range using {
		if _, merged := out[k]; !merged {
			out[k] = v + len(merges)
		}
	}
	for i, c := range cols {
		for _, m := range merges {
			if i == m.li || i == len(lcols)+m.ri {
				c.Merged = true
			}
		}
		proj.Exprs = append(proj.Exprs, &expr.Col{Idx: i, T: c.Type, Name: c.Name})
		proj.Cols = append(proj.Cols, c)
	}
	return proj, proj.Cols, out, nil
}

// asOfJoin checks an ASOF JOIN: equality keys, and one comparison of a
// left time column with a right one (left.ts >= right.ts, or > for a
// strictly earlier match), nothing else.
func asOfJoin(j *JoinNode, residual []expr.Expr, nl int) error {
	if j.Kind != exec.InnerJoin && j.Kind != exec.LeftJoin {
		return sqlerr.Unsupported("ASOF JOIN is inner or LEFT")
	}
	if len(j.LeftKeys) == 0 {
		return sqlerr.Unsupported("ASOF JOIN needs equality keys besides the time comparison, e.g. ON p.symbol = q.symbol AND p.ts >= q.ts")
	}
	if len(residual) != 1 {
		return sqlerr.Unsupported("ASOF JOIN needs exactly one time comparison (left.ts >= right.ts) besides its equality keys")
	}
	c, ok := residual[0].(*expr.Compare)
	if !ok {
		return sqlerr.Unsupported("the time comparison of an ASOF JOIN must be left.ts >= right.ts (or >), one column of each side")
	}
	l, lok := orderColumn(c.L)
	r, rok := orderColumn(c.R)
	op := c.Op
	if lok && rok && l.Idx >= nl && r.Idx < nl {
		l, r = r, l
		op = map[expr.CmpOp]expr.CmpOp{expr.LE: expr.GE, expr.LT: expr.GT, expr.GE: expr.LE, expr.GT: expr.LT}[op]
	}
	switch {
	case !lok || !rok || l.Idx >= nl || r.Idx < nl:
		return sqlerr.Unsupported("the time comparison of an ASOF JOIN must compare a column of the left side with one of the right side (left.ts >= right.ts)")
	case op != expr.GE && op != expr.GT:
		return sqlerr.Unsupported("the time comparison of an ASOF JOIN must be left.ts >= right.ts or left.ts > right.ts (the latest right row at or before the left row)")
	}
	lt, rt := l.T.Kind, r.T.Kind
	timeKind := lt == rt && (lt == types.Timestamp || lt == types.TimestampTZ || lt == types.Date)
	if !timeKind && !(lt.IsInteger() && rt.IsInteger()) {
		return sqlerr.Unsupported("ASOF JOIN orders by integers, dates or timestamps of the same kind: %s and %s cannot be compared that way", l.T, r.T)
	}
	j.AsOf = &AsOfSpec{LeftTime: l.Idx, RightTime: r.Idx - nl, Strict: op == expr.GT}
	j.Residual = nil
	return nil
}

// orderColumn is the column an ASOF comparison orders by: a column, or a
// column widened to another integer type (int = bigint compares them so).
func orderColumn(e expr.Expr) (*expr.Col, bool) {
	if c, ok := e.(*expr.Cast); ok && c.To.Kind.IsInteger() && c.E.Type().Kind.IsInteger() {
		e = c.E
	}
	col, ok := e.(*expr.Col)
	return col, ok
}

// splitEquality recognises left-expr = right-expr over a join of a left
// input with nl columns, returning each side in its own input's columns.
func splitEquality(e expr.Expr, nl int) (expr.Expr, expr.Expr, bool) {
	c, ok := e.(*expr.Compare)
	if !ok || c.Op != expr.EQ {
		return nil, nil, false
	}
	if hasSubquery(c.L) || hasSubquery(c.R) {
		return nil, nil, false
	}
	llo, lhi := colRange(c.L)
	rlo, rhi := colRange(c.R)
	switch {
	case llo >= 0 && lhi < nl && rlo >= nl:
		return c.L, shift(c.R, -nl), true
	case rlo >= 0 && rhi < nl && llo >= nl:
		return c.R, shift(c.L, -nl), true
	}
	return nil, nil, false
}

func hasSubquery(e expr.Expr) bool {
	found := false
	var walk func(e expr.Expr)
	walk = func(e expr.Expr) {
		switch x := e.(type) {
		case *subqueryExpr, *expr.OuterCol:
			found = true
		case *expr.Arith:
			walk(x.L)
			walk(x.R)
		case *expr.Cast:
			walk(x.E)
		case *expr.Call:
			for _, a := range x.Args {
				walk(a)
			}
		}
	}
	walk(e)
	return found
}

// pushFilter applies a WHERE predicate; equalities between the two sides
// of an inner join without keys (FROM a, b WHERE a.x = b.y) become its keys.
func (b *binder) pushFilter(n Node, pred expr.Expr) Node {
	if ps, base := lateralCall(n); ps != nil {
		// conditions on the rows a lateral call runs over go below it
		// (PostgreSQL's order: the call never sees the rows they drop)
		var down, rest []expr.Expr
		for _, c := range conjuncts(pred) {
			below := true
			if !expr.Refs(c, func(i int) { below = below && i < base }) {
				below = false
			}
			if below {
				down = append(down, c)
			} else {
				rest = append(rest, c)
			}
		}
		if len(down) > 0 {
			ps.In = b.pushFilter(ps.In, and(down))
		}
		if len(rest) == 0 {
			return n
		}
		return &FilterNode{In: n, Pred: and(rest)}
	}
	if planned, ok := planInnerJoins(n, pred); ok {
		return planned
	}
	j, ok := n.(*JoinNode)
	if !ok || j.Kind != exec.InnerJoin && j.Kind != exec.LeftJoin && j.Kind != exec.RightJoin {
		return &FilterNode{In: n, Pred: pred}
	}
	nl := len(j.Left.Columns())
	var rest []expr.Expr
	for _, c := range conjuncts(pred) {
		if l, r, ok := splitEquality(c, nl); ok && j.Kind == exec.InnerJoin && j.AsOf == nil {
			j.LeftKeys = append(j.LeftKeys, l)
			j.RightKeys = append(j.RightKeys, r)
			continue
		}
		rest = append(rest, c)
	}
	// a condition on the rows of one side filters that side before the
	// join, when that drops the same rows: either side of an inner join,
	// the side an outer join keeps whole (a condition on the other side
	// would also drop its NULL-extended rows); only the left of an ASOF
	// JOIN (a right row filtered out first is no one's latest)
	inner := j.Kind == exec.InnerJoin
	rest = b.pushIntoSides(j, rest, inner || j.Kind == exec.LeftJoin, (inner || j.Kind == exec.RightJoin) && j.AsOf == nil)
	if len(rest) == 0 {
		return j
	}
	return &FilterNode{In: j, Pred: and(rest)}
}

// pushIntoSides moves each condition that reads the columns of one side of
// j only — when that side may take it — into that side, and returns the
// others. Conditions with subqueries or volatile functions stay.
func (b *binder) pushIntoSides(j *JoinNode, conds []expr.Expr, left, right bool) []expr.Expr {
	nl := len(j.Left.Columns())
	var rest, toLeft, toRight []expr.Expr
	for _, c := range conds {
		var reads [2]bool // left's columns, right's
		seen := expr.Refs(c, func(i int) {
			if i < nl {
				reads[0] = true
			} else {
				reads[1] = true
			}
		})
		switch {
		case !seen || hasSubquery(c) || expr.Varies(c) || reads[0] == reads[1]:
			rest = append(rest, c)
		case reads[0] && left:
			toLeft = append(toLeft, c)
		case reads[1] && right:
			toRight = append(toRight, shift(c, -nl))
		default:
			rest = append(rest, c)
		}
	}
	if len(toLeft) > 0 {
		j.Left = b.pushFilter(j.Left, and(toLeft))
	}
	if len(toRight) > 0 {
		j.Right = b.pushFilter(j.Right, and(toRight))
	}
	return rest
}

// lateralCall finds the ProjectSet of a lateral call at the top of n
// (alone or under the Project that names its fields) and the number of
// columns of the rows it runs over, which keep their places above it.
func lateralCall(n Node) (*ProjectSetNode, int) {
	if p, ok := n.(*ProjectNode); ok {
		ps, ok := p.In.(*ProjectSetNode)
		if !ok {
			return nil, 0
		}
		base := len(ps.Cols) - len(ps.Names)
		for i := 0; i < base; i++ {
			if c, ok := p.Exprs[i].(*expr.Col); !ok || c.Idx != i {
				return nil, 0
			}
		}
		return ps, base
	}
	if ps, ok := n.(*ProjectSetNode); ok {
		return ps, len(ps.Cols) - len(ps.Names)
	}
	return nil, 0
}

// tableFunc binds a set-returning function in FROM.
func (b *binder) tableFunc(name, args, alias string, outer *scope) (Node, []Column, error) {
	q, err := b.s.parser.ParseSelectList(args)
	if err != nil {
		return nil, nil, err
	}
	sel := q.Node.(*ast.SelectStmt)
	if name == "tumble" || name == "hop" || name == "session" {
		return b.windowTVF(name, sel, alias, outer)
	}
	var bound []expr.Expr
	for _, f := range sel.Fields.Fields {
		e, err := b.bindExpr(f.Expr, &scope{parent: outer})
		if err != nil {
			return nil, nil, err
		}
		bound = append(bound, e)
	}
	return b.funcRelation(name, bound, alias, nil, nil)
}

// funcRelation is a function call in FROM as a relation. Alone (in nil) a
// set-returning function is a TableFunc and any other function a relation
// of one row; called laterally, over each row of in (whose columns are
// base), it is a ProjectSet (or a Project) that adds its columns to in's.
// A function returning records has a column for each field.
func (b *binder) funcRelation(name string, bound []expr.Expr, alias string, in Node, base []Column) (Node, []Column, error) {
	colName := name
	if alias != name {
		colName = alias
	}
	pass := make([]expr.Expr, len(base))
	for i, c := range base {
		pass[i] = &expr.Col{Idx: i, T: c.Type, Name: c.Name}
	}
	if !isSRF(name) {
		e, err := b.call(name, bound)
		if err != nil {
			return nil, nil, err
		}
		cols, err := b.aliasColumns([]Column{{Name: colName, Type: e.Type(), Table: alias}}, alias)
		if err != nil {
			return nil, nil, err
		}
		if in == nil {
			return &ValuesNode{Rows: [][]expr.Expr{{e}}, Cols: cols}, cols, nil
		}
		all := append(append([]Column{}, base...), cols...)
		return &ProjectNode{In: in, Exprs: append(pass, e), Cols: all}, all, nil
	}
	t, bound, err := b.bindSRF(name, bound)
	if err != nil {
		return nil, nil, err
	}
	outName := srfOutName(name)
	fnCol := Column{Name: colName, Type: t, Table: alias}
	var fn Node = &TableFuncNode{Name: name, Args: bound, Cols: []Column{fnCol}}
	if in != nil {
		fn = &ProjectSetNode{In: in, Names: []string{name}, Args: [][]expr.Expr{bound}, Cols: append(append([]Column{}, base...), fnCol)}
	}
	fields := t.Fields()
	if outName != "" && len(fields) == 0 {
		// the column is named for the OUT parameter (value); the alias
		// names it too, as PostgreSQL lets a scalar function's alias do
		col := &expr.Col{Idx: len(base), T: t, Name: colName}
		cols := []Column{{Name: outName, Type: t, Table: alias}, {Name: colName, Type: t, Table: alias, System: true}}
		all := append(append([]Column{}, base...), cols...)
		return &ProjectNode{In: fn, Exprs: append(pass, col, col), Cols: all}, all, nil
	}
	if len(fields) == 0 {
		cols, err := b.aliasColumns([]Column{fnCol}, alias)
		if err != nil {
			return nil, nil, err
		}
		if in == nil {
			fn.(*TableFuncNode).Cols = cols
			return fn, cols, nil
		}
		all := append(append([]Column{}, base...), cols...)
		fn.(*ProjectSetNode).Cols = all
		return fn, all, nil
	}
	cols := make([]Column, len(fields))
	exprs := make([]expr.Expr, len(fields))
	for i, f := range fields {
		cols[i] = Column{Name: f.Name, Type: f.Type, Table: alias}
		exprs[i] = &expr.FieldOf{E: &expr.Col{Idx: len(base), T: t, Name: colName}, Index: i, Name: f.Name, T: f.Type}
	}
	if cols, err = b.aliasColumns(cols, alias); err != nil {
		return nil, nil, err
	}
	all := append(append([]Column{}, base...), cols...)
	return &ProjectNode{In: fn, Exprs: append(pass, exprs...), Cols: all}, all, nil
}

// lateral binds a function call on the right of a join whose arguments
// read the left side's columns (FROM docs, jsonb_array_elements(docs.tags) t:
// PostgreSQL lets a function in FROM see the items before it). ok is false
// when the right side is not such a call.
func (b *binder) lateral(j *ast.Join, left Node, lcols []Column, lusing map[string]int, outer *scope) (Node, []Column, map[string]int, bool, error) {
	ts, isTS := j.Right.(*ast.TableSource)
	if !isTS {
		return nil, nil, nil, false, nil
	}
	tn, isName := ts.Source.(*ast.TableName)
	if !isName || tn.Schema.O != "" {
		return nil, nil, nil, false, nil
	}
	var tf *pgsql.TableFunc
	for i := range b.tr.TableFuncs {
		if b.tr.TableFuncs[i].Placeholder == tn.Name.O {
			tf = &b.tr.TableFuncs[i]
		}
	}
	if tf == nil || tf.Name == "tumble" || tf.Name == "hop" || tf.Name == "session" {
		return nil, nil, nil, false, nil
	}
	q, err := b.s.parser.ParseSelectList(tf.Args)
	if err != nil {
		return nil, nil, nil, false, err
	}
	sc := &scope{cols: lcols, parent: outer, using: lusing}
	var bound []expr.Expr
	readsLeft := false
	for _, f := range q.Node.(*ast.SelectStmt).Fields.Fields {
		e, err := b.bindExpr(f.Expr, sc)
		if err != nil {
			return nil, nil, nil, false, err
		}
		if !expr.Refs(e, func(int) { readsLeft = true }) {
			readsLeft = true
		}
		bound = append(bound, e)
	}
	if !readsLeft {
		return nil, nil, nil, false, nil
	}
	if j.Tp != ast.CrossJoin || j.StraightJoin {
		return nil, nil, nil, false, sqlerr.Unsupported("an outer join to a function that reads the other side (LATERAL) is not supported")
	}
	if len(j.Using) > 0 || j.NaturalJoin {
		return nil, nil, nil, false, sqlerr.Unsupported("USING and NATURAL with a function that reads the other side (LATERAL) are not supported")
	}
	alias := ts.AsName.O
	if alias == "" || alias == tn.Name.O {
		alias = tf.Name
	}
	node, cols, err := b.funcRelation(tf.Name, bound, alias, left, lcols)
	if err != nil {
		return nil, nil, nil, false, err
	}
	if j.On != nil {
		cond, err := b.bindExpr(j.On.Expr, &scope{cols: cols, parent: outer, using: lusing})
		if err != nil {
			return nil, nil, nil, false, err
		}
		if cond, err = b.boolean(cond, "JOIN/ON"); err != nil {
			return nil, nil, nil, false, err
		}
		node = &FilterNode{In: node, Pred: cond}
	}
	return node, cols, lusing, true, nil
}

func (b *binder) windowTVF(name string, sel *ast.SelectStmt, alias string, outer *scope) (Node, []Column, error) {
	fields := sel.Fields.Fields
	hop := name == "hop"
	min, max := 3, 4
	if hop {
		min, max = 4, 5
	} else if name == "session" {
		max = 3
	}
	if len(fields) < min || len(fields) > max {
		return nil, nil, sqlerr.New(sqlerr.UndefinedFunction, "%s takes a relation, a time column and %d intervals", strings.ToUpper(name), min-2)
	}
	relName, ok := fields[0].Expr.(*ast.ColumnNameExpr)
	if !ok {
		return nil, nil, sqlerr.New(sqlerr.SyntaxError, "the first argument of %s must name a stream, table or view", strings.ToUpper(name))
	}
	in, inCols, err := b.table(&ast.TableName{Name: relName.Name.Name, Schema: relName.Name.Table}, relName.Name.Name.O, outer)
	if err != nil {
		return nil, nil, err
	}
	timeName, ok := fields[1].Expr.(*ast.ColumnNameExpr)
	if !ok {
		return nil, nil, sqlerr.New(sqlerr.SyntaxError, "the second argument of %s must name a time column", strings.ToUpper(name))
	}
	timeCol := -1
	for i, c := range inCols {
		if c.Name == timeName.Name.Name.O {
			timeCol = i
		}
	}
	if timeCol < 0 {
		return nil, nil, sqlerr.New(sqlerr.UndefinedColumn, "column %q does not exist", timeName.Name.Name.O)
	}
	tt := inCols[timeCol].Type
	if tt.Kind != types.Timestamp && tt.Kind != types.TimestampTZ {
		return nil, nil, sqlerr.New(sqlerr.DatatypeMismatch, "the time column of %s must be a timestamp, not %s", strings.ToUpper(name), tt)
	}
	durs := make([]int64, 0, 3)
	for _, f := range fields[2:] {
		e, err := b.bindExpr(f.Expr, &scope{})
		if err != nil {
			return nil, nil, err
		}
		if e, err = b.coerce(e, types.TInterval); err != nil {
			return nil, nil, err
		}
		c, ok := e.(*expr.Const)
		if !ok || c.D.Null {
			return nil, nil, sqlerr.Unsupported("window sizes must be constant intervals")
		}
		if c.D.Iv.Months != 0 {
			return nil, nil, sqlerr.Unsupported("windows measured in months or years are not supported")
		}
		durs = append(durs, int64(c.D.Iv.Days)*86400_000_000+c.D.Iv.Micros)
	}
	spec := dataflow.WindowSpec{TimeCol: timeCol, TimeType: tt, Hopping: hop}
	if name == "session" {
		spec.Session, spec.Gap, spec.Size, spec.Slide = true, durs[0], durs[0], durs[0]
	} else if hop {
		spec.Slide, spec.Size = durs[0], durs[1]
		if len(durs) > 2 {
			spec.Offset = durs[2]
		}
	} else {
		spec.Size, spec.Slide = durs[0], durs[0]
		if len(durs) > 1 {
			spec.Offset = durs[1]
		}
	}
	if spec.Size <= 0 || spec.Slide <= 0 {
		return nil, nil, sqlerr.New(sqlerr.InvalidParameterValue, "window sizes must be positive")
	}
	if alias == name {
		alias = relName.Name.Name.O
	}
	cols := make([]Column, 0, len(inCols)+2)
	for _, c := range inCols {
		c.Table = alias
		cols = append(cols, c)
	}
	cols = append(cols, Column{Name: "window_start", Type: tt, Table: alias}, Column{Name: "window_end", Type: tt, Table: alias})
	return &WindowTVFNode{In: in, Spec: spec, Cols: cols}, cols, nil
}
