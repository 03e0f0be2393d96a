package planner

import (
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/pingcap/tidb/pkg/parser/ast"
	"github.com/streamsql/streamsql/catalog"
	"github.com/streamsql/streamsql/engine/exec"
	"github.com/streamsql/streamsql/engine/expr"
	"github.com/streamsql/streamsql/engine/storage"
	"github.com/streamsql/streamsql/planner/pgsql"
	"github.com/streamsql/streamsql/sqlerr"
	"github.com/streamsql/streamsql/types"
)

type dmlKind uint8

const (
	dmlInsert dmlKind = iota
	dmlUpdate
	dmlDelete
)

// dmlPlan is a bound INSERT, UPDATE or DELETE.
type dmlPlan struct {
	kind  dmlKind
	table *catalog.Object
	// INSERT: rows in table column order
	source Node
	// ON CONFLICT
	onConflict string      // "", "nothing", "update"
	setCols    []int       // columns assigned by DO UPDATE / UPDATE
	setExprs   []expr.Expr // over [existing row, excluded row] for DO UPDATE; over the row for UPDATE
	// UPDATE / DELETE
	where expr.Expr
	// RETURNING: expressions over the affected rows (table columns)
	returning     []expr.Expr
	returningCols []Column
}

// bindReturning binds a RETURNING list over the target table's columns.
func (b *binder) bindReturning(d *dmlPlan, alias string) error {
	if b.tr.Returning == "" {
		return nil
	}
	q, err := b.s.parser.ParseSelectList(b.tr.Returning)
	if err != nil {
		return err
	}
	sc := &scope{cols: tableScope(d.table, alias)}
	for _, f := range q.Node.(*ast.SelectStmt).Fields.Fields {
		if f.WildCard != nil {
			for i, c := range sc.cols {
				d.returning = append(d.returning, &expr.Col{Idx: i, T: c.Type, Name: c.Name})
				d.returningCols = append(d.returningCols, Column{Name: c.Name, Type: c.Type, TableOID: c.TableOID, AttNum: c.AttNum})
			}
			continue
		}
		e, err := b.bindExpr(f.Expr, sc)
		if err != nil {
			return err
		}
		if e.Type().Kind == types.Unknown {
			if e, err = b.coerce(e, types.TText); err != nil {
				return err
			}
		}
		d.returning = append(d.returning, e)
		d.returningCols = append(d.returningCols, Column{Name: fieldName(f), Type: e.Type()})
	}
	return nil
}

func (b *binder) dml(q *pgsql.Query) (*dmlPlan, error) {
	var d *dmlPlan
	var err error
	alias := ""
	switch n := q.Node.(type) {
	case *ast.InsertStmt:
		d, err = b.insert(n)
	case *ast.UpdateStmt:
		d, err = b.update(n)
		if err == nil {
			_, alias, err = b.targetTable(n.TableRefs)
		}
	case *ast.DeleteStmt:
		d, err = b.delete(n)
		if err == nil {
			_, alias, err = b.targetTable(n.TableRefs)
		}
	default:
		return nil, sqlerr.Unsupported("statement %T is not supported", q.Node)
	}
	if err != nil {
		return nil, err
	}
	if alias == "" {
		alias = d.table.Name
	}
	return d, b.bindReturning(d, alias)
}

func (b *binder) targetTable(refs *ast.TableRefsClause) (*catalog.Object, string, error) {
	if refs == nil || refs.TableRefs == nil || refs.TableRefs.Right != nil {
		return nil, "", sqlerr.Unsupported("UPDATE and DELETE on more than one table are not supported")
	}
	ts, ok := refs.TableRefs.Left.(*ast.TableSource)
	if !ok {
		return nil, "", sqlerr.Unsupported("unsupported target table")
	}
	tn, ok := ts.Source.(*ast.TableName)
	if !ok {
		return nil, "", sqlerr.Unsupported("unsupported target table")
	}
	o, err := b.writable(tn)
	if err != nil {
		return nil, "", err
	}
	alias := ts.AsName.O
	if alias == "" {
		alias = o.RelName()
	}
	return o, alias, nil
}

func (b *binder) writable(tn *ast.TableName) (*catalog.Object, error) {
	o, _ := b.s.db.lookupIn(b.searchPath(), tn.Schema.O, tn.Name.O)
	if o == nil {
		if tn.Schema.O != "" {
			return nil, sqlerr.New(sqlerr.UndefinedTable, "relation \"%s.%s\" does not exist", tn.Schema.O, tn.Name.O)
		}
		return nil, sqlerr.New(sqlerr.UndefinedTable, "relation %q does not exist", tn.Name.O)
	}
	if err := checkWritable(o); err != nil {
		return nil, err
	}
	return o, nil
}

// checkWritable refuses writes to what users cannot write: anything but a
// table or a stream, and a view's error stream (the view writes it).
func checkWritable(o *catalog.Object) error {
	if o.Kind != catalog.KindTable && o.Kind != catalog.KindStream {
		return sqlerr.New(sqlerr.WrongObjectType, "cannot change %s %q", o.Kind, o.Name)
	}
	if v := errorsOf(o); v != "" {
		return sqlerr.New(sqlerr.WrongObjectType, "cannot write to stream %q: it keeps the rows that %s's expressions failed on, and only %s writes it", o.Name, v, v)
	}
	return nil
}

func tableScope(o *catalog.Object, alias string) []Column {
	cols := make([]Column, len(o.Columns))
	for i, c := range o.Columns {
		cols[i] = Column{Name: c.Name, Type: c.Type, Table: alias, TableOID: o.OID, AttNum: int16(i + 1)}
	}
	return cols
}

// defaultExpr binds a column's DEFAULT (NULL when it has none).
func (b *binder) defaultExpr(c catalog.Column) (expr.Expr, error) {
	if c.Default == "" {
		return &expr.Const{D: types.NullDatum, T: c.Type}, nil
	}
	q, err := b.s.parser.ParseExpr(c.Default)
	if err != nil {
		return nil, err
	}
	sub := &binder{s: b.s, tr: q.Tr}
	e, err := sub.bindExpr(q.Node.(*ast.SelectStmt).Fields.Fields[0].Expr, &scope{})
	if err != nil {
		return nil, err
	}
	return sub.assign(e, c.Type, c.Name)
}

func (b *binder) insert(n *ast.InsertStmt) (*dmlPlan, error) {
	if n.IsReplace {
		return nil, sqlerr.Unsupported("REPLACE is not supported")
	}
	tn, ok := n.Table.TableRefs.Left.(*ast.TableSource).Source.(*ast.TableName)
	if !ok {
		return nil, sqlerr.Unsupported("unsupported INSERT target")
	}
	o, err := b.writable(tn)
	if err != nil {
		return nil, err
	}
	b.deps = append(b.deps, o.Name)
	d := &dmlPlan{kind: dmlInsert, table: o, onConflict: b.tr.OnConflict}
	if n.IgnoreErr && b.tr.OnConflict == "" {
		return nil, sqlerr.Unsupported("INSERT IGNORE is not supported")
	}
	if d.onConflict != "" && o.Kind == catalog.KindStream {
		return nil, sqlerr.Unsupported("ON CONFLICT is not supported on streams: they are append-only")
	}
	if d.onConflict != "" && len(o.PrimaryKey) == 0 {
		return nil, sqlerr.New(sqlerr.InvalidColumnReference, "there is no unique or exclusion constraint matching the ON CONFLICT specification")
	}
	if len(b.tr.ConflictTarget) > 0 {
		if len(b.tr.ConflictTarget) != len(o.PrimaryKey) {
			return nil, sqlerr.New(sqlerr.InvalidColumnReference, "there is no unique or exclusion constraint matching the ON CONFLICT specification")
		}
		for _, name := range b.tr.ConflictTarget {
			i := o.ColumnIndex(name)
			found := false
			for _, k := range o.PrimaryKey {
				found = found || k == i
			}
			if !found {
				return nil, sqlerr.New(sqlerr.InvalidColumnReference, "there is no unique or exclusion constraint matching the ON CONFLICT specification")
			}
		}
	}
	// target columns
	target := make([]int, 0, len(o.Columns))
	if len(n.Columns) == 0 {
		for i := range o.Columns {
			target = append(target, i)
		}
	} else {
		seen := map[int]bool{}
		for _, c := range n.Columns {
			i := o.ColumnIndex(c.Name.O)
			if i < 0 {
				return nil, sqlerr.New(sqlerr.UndefinedColumn, "column %q of relation %q does not exist", c.Name.O, o.Name)
			}
			if seen[i] {
				return nil, sqlerr.New(sqlerr.DuplicateColumn, "column %q specified more than once", c.Name.O)
			}
			seen[i] = true
			target = append(target, i)
		}
	}
	if n.Setlist {
		return nil, sqlerr.Unsupported("INSERT ... SET is not supported")
	}
	ncols := len(o.Columns)
	outCols := tableScope(o, o.RelName())
	defaults := make([]expr.Expr, ncols)
	for i, c := range o.Columns {
		if defaults[i], err = b.defaultExpr(c); err != nil {
			return nil, err
		}
	}
	switch {
	case n.Select != nil:
		src, err := b.query(n.Select.(ast.ResultSetNode), nil)
		if err != nil {
			return nil, err
		}
		scols := src.Columns()
		if len(visible(scols)) > len(target) {
			return nil, sqlerr.New(sqlerr.SyntaxError, "INSERT has more expressions than target columns")
		}
		es := append([]expr.Expr{}, defaults...)
		for k, sc := range visible(scols) {
			ci := target[k]
			e, err := b.assign(&expr.Col{Idx: k, T: sc.Type}, o.Columns[ci].Type, o.Columns[ci].Name)
			if err != nil {
				return nil, err
			}
			es[ci] = e
		}
		d.source = &ProjectNode{In: src, Exprs: es, Cols: outCols}
	default:
		var rows [][]expr.Expr
		for _, list := range n.Lists {
			if len(list) > len(target) {
				return nil, sqlerr.New(sqlerr.SyntaxError, "INSERT has more expressions than target columns")
			}
			if len(list) < len(target) && len(n.Columns) > 0 {
				return nil, sqlerr.New(sqlerr.SyntaxError, "INSERT has more target columns than expressions")
			}
			r := append([]expr.Expr{}, defaults...)
			for k, item := range list {
				ci := target[k]
				if _, isDef := item.(*ast.DefaultExpr); isDef {
					continue
				}
				e, err := b.bindExpr(item, &scope{})
				if err != nil {
					return nil, err
				}
				if e, err = b.assign(e, o.Columns[ci].Type, o.Columns[ci].Name); err != nil {
					return nil, err
				}
				r[ci] = e
			}
			rows = append(rows, r)
		}
		d.source = &ValuesNode{Rows: rows, Cols: outCols}
	}
	if d.onConflict == "update" {
		// SET expressions see the existing row and "excluded"
		cols := append(tableScope(o, o.RelName()), tableScope(o, "excluded")...)
		sc := &scope{cols: cols}
		for _, a := range n.OnDuplicate {
			ci := o.ColumnIndex(a.Column.Name.O)
			if ci < 0 {
				return nil, sqlerr.New(sqlerr.UndefinedColumn, "column %q of relation %q does not exist", a.Column.Name.O, o.Name)
			}
			var e expr.Expr
			if _, isDef := a.Expr.(*ast.DefaultExpr); isDef {
				e = defaults[ci]
			} else if e, err = b.bindExpr(a.Expr, sc); err != nil {
				return nil, err
			}
			if e, err = b.assign(e, o.Columns[ci].Type, o.Columns[ci].Name); err != nil {
				return nil, err
			}
			d.setCols = append(d.setCols, ci)
			d.setExprs = append(d.setExprs, e)
		}
	}
	_ = ncols
	return d, nil
}

func (b *binder) update(n *ast.UpdateStmt) (*dmlPlan, error) {
	o, alias, err := b.targetTable(n.TableRefs)
	if err != nil {
		return nil, err
	}
	if o.Kind == catalog.KindStream {
		return nil, sqlerr.Unsupported("UPDATE is not supported on stream %q: streams are append-only", o.Name)
	}
	b.deps = append(b.deps, o.Name)
	if n.Order != nil || n.Limit != nil {
		return nil, sqlerr.Unsupported("UPDATE ... ORDER BY/LIMIT is not supported")
	}
	d := &dmlPlan{kind: dmlUpdate, table: o}
	sc := &scope{cols: tableScope(o, alias)}
	if n.Where != nil {
		if d.where, err = b.bindExpr(n.Where, sc); err != nil {
			return nil, err
		}
		if d.where, err = b.boolean(d.where, "WHERE"); err != nil {
			return nil, err
		}
	}
	for _, a := range n.List {
		ci := o.ColumnIndex(a.Column.Name.O)
		if ci < 0 {
			return nil, sqlerr.New(sqlerr.UndefinedColumn, "column %q of relation %q does not exist", a.Column.Name.O, o.Name)
		}
		var e expr.Expr
		if _, isDef := a.Expr.(*ast.DefaultExpr); isDef {
			if e, err = b.defaultExpr(o.Columns[ci]); err != nil {
				return nil, err
			}
		} else if e, err = b.bindExpr(a.Expr, sc); err != nil {
			return nil, err
		}
		if e, err = b.assign(e, o.Columns[ci].Type, o.Columns[ci].Name); err != nil {
			return nil, err
		}
		d.setCols = append(d.setCols, ci)
		d.setExprs = append(d.setExprs, e)
	}
	return d, nil
}

func (b *binder) delete(n *ast.DeleteStmt) (*dmlPlan, error) {
	if n.IsMultiTable {
		return nil, sqlerr.Unsupported("DELETE with USING is not supported")
	}
	o, alias, err := b.targetTable(n.TableRefs)
	if err != nil {
		return nil, err
	}
	if o.Kind == catalog.KindStream {
		return nil, sqlerr.Unsupported("DELETE is not supported on stream %q: streams are append-only", o.Name)
	}
	b.deps = append(b.deps, o.Name)
	d := &dmlPlan{kind: dmlDelete, table: o}
	if n.Where != nil {
		sc := &scope{cols: tableScope(o, alias)}
		if d.where, err = b.bindExpr(n.Where, sc); err != nil {
			return nil, err
		}
		if d.where, err = b.boolean(d.where, "WHERE"); err != nil {
			return nil, err
		}
	}
	return d, nil
}

// runDML executes a DML plan and returns the number of rows affected and,
// for RETURNING, the affected rows (new rows; deleted rows for DELETE).
func (s *Session) runDML(ctx *expr.Ctx, d *dmlPlan) (int64, []storage.Row, error) {
	n, rows, err := s.runDMLRows(ctx, d)
	if d.returning == nil {
		rows = nil
	}
	return n, rows, err
}

func (s *Session) runDMLRows(ctx *expr.Ctx, d *dmlPlan) (int64, []storage.Row, error) {
	switch d.kind {
	case dmlInsert:
		op, err := build(ctx, s.db, d.source)
		if err != nil {
			return 0, nil, err
		}
		batches, err := exec.Drain(ctx, op)
		if err != nil {
			return 0, nil, err
		}
		rows := batchRows(batches)
		if err := checkNotNull(d.table, rows); err != nil {
			return 0, nil, err
		}
		if d.onConflict == "" {
			return int64(len(rows)), rows, s.db.appendRows(d.table, rows)
		}
		t, err := s.db.Table(d.table.Name)
		if err != nil {
			return 0, nil, err
		}
		return s.upsert(ctx, t, d, rows)
	case dmlUpdate, dmlDelete:
		t, err := s.db.Table(d.table.Name)
		if err != nil {
			return 0, nil, err
		}
		batches, ids := t.Snapshot(ctx.Mem)
		defer func() {
			for _, b := range batches {
				b.Release()
			}
		}()
		var ch storage.Change
		var deleted []storage.Row
		for i, b := range batches {
			sel, err := selectRows(ctx, b, d.where)
			if err != nil {
				return 0, nil, err
			}
			if len(sel) == 0 {
				continue
			}
			for _, r := range sel {
				ch.Deletes = append(ch.Deletes, ids[i][r])
			}
			if d.kind == dmlDelete {
				if d.returning != nil {
					for _, r := range sel {
						row := make(storage.Row, b.NumCols())
						for c := range row {
							row[c] = types.DatumAt(b.Column(c), r)
						}
						deleted = append(deleted, row)
					}
				}
				continue
			}
			sub := expr.Take(ctx.Mem, b, sel)
			vals := make([]expr.Value, len(d.setExprs))
			for k, e := range d.setExprs {
				if vals[k], err = e.Eval(ctx, sub); err != nil {
					sub.Release()
					return 0, nil, err
				}
			}
			for r := 0; r < len(sel); r++ {
				nr := make(storage.Row, sub.NumCols())
				for c := range nr {
					nr[c] = types.DatumAt(sub.Column(c), r)
				}
				for k, c := range d.setCols {
					nr[c] = vals[k].At(r)
				}
				ch.Inserts = append(ch.Inserts, nr)
			}
			for _, v := range vals {
				v.Release()
			}
			sub.Release()
		}
		if err := checkNotNull(d.table, ch.Inserts); err != nil {
			return 0, nil, err
		}
		if len(ch.Deletes) == 0 {
			return 0, nil, nil
		}
		out := ch.Inserts
		if d.kind == dmlDelete {
			out = deleted
		}
		return int64(len(ch.Deletes)), out, t.Apply(ch)
	}
	return 0, nil, nil
}

func selectRows(ctx *expr.Ctx, b arrow.RecordBatch, where expr.Expr) ([]int, error) {
	n := int(b.NumRows())
	if where == nil {
		sel := make([]int, n)
		for i := range sel {
			sel[i] = i
		}
		return sel, nil
	}
	v, err := where.Eval(ctx, b)
	if err != nil {
		return nil, err
	}
	defer v.Release()
	if v.IsScalar() {
		if !v.D.Null && v.D.I != 0 {
			return selectRows(ctx, b, nil)
		}
		return nil, nil
	}
	return exec.Selection(v.Arr, n), nil
}

func batchRows(batches []arrow.RecordBatch) []storage.Row {
	var rows []storage.Row
	for _, b := range batches {
		for r := 0; r < int(b.NumRows()); r++ {
			row := make(storage.Row, b.NumCols())
			for c := range row {
				row[c] = types.DatumAt(b.Column(c), r)
			}
			rows = append(rows, row)
		}
		b.Release()
	}
	return rows
}

func checkNotNull(o *catalog.Object, rows []storage.Row) error {
	for _, r := range rows {
		for i, c := range o.Columns {
			if c.NotNull && r[i].Null {
				return sqlerr.New(sqlerr.NotNullViolation, "null value in column %q of relation %q violates not-null constraint", c.Name, o.Name)
			}
		}
	}
	return nil
}

// upsert applies INSERT ... ON CONFLICT.
func (s *Session) upsert(ctx *expr.Ctx, t *storage.Table, d *dmlPlan, rows []storage.Row) (int64, []storage.Row, error) {
	var ch storage.Change
	seen := map[string]bool{}
	var n int64
	for _, r := range rows {
		k := t.KeyOf(r)
		if seen[k] {
			if d.onConflict == "update" {
				return 0, nil, sqlerr.New(sqlerr.CardinalityViolation, "ON CONFLICT DO UPDATE command cannot affect row a second time").WithHint("Ensure that no rows proposed for insertion within the same command have duplicate constrained values.")
			}
			continue
		}
		seen[k] = true
		id, old, exists := t.LookupKey(k)
		if !exists {
			ch.Inserts = append(ch.Inserts, r)
			n++
			continue
		}
		if d.onConflict == "nothing" {
			continue
		}
		// evaluate SET over [old row, excluded row]
		ts := append(colTypesOf(d.table), colTypesOf(d.table)...)
		combined := append(append(storage.Row{}, old...), r...)
		cols := make([]arrow.Array, len(ts))
		for c, ty := range ts {
			cols[c] = types.ArrayFromDatums(ctx.Mem, ty, []types.Datum{combined[c]})
		}
		batch := expr.NewBatch(ts, cols, 1)
		for _, c := range cols {
			c.Release()
		}
		nr := append(storage.Row{}, old...)
		for k, e := range d.setExprs {
			v, err := e.Eval(ctx, batch)
			if err != nil {
				batch.Release()
				return 0, nil, err
			}
			nr[d.setCols[k]] = v.At(0)
			v.Release()
		}
		batch.Release()
		if t.KeyOf(nr) != k {
			return 0, nil, sqlerr.Unsupported("ON CONFLICT DO UPDATE may not change the primary key")
		}
		ch.Deletes = append(ch.Deletes, id)
		ch.Inserts = append(ch.Inserts, nr)
		n++
	}
	if len(ch.Inserts) == 0 && len(ch.Deletes) == 0 {
		return 0, nil, nil
	}
	if err := checkNotNull(d.table, ch.Inserts); err != nil {
		return 0, nil, err
	}
	return n, ch.Inserts, t.Apply(ch)
}

func colTypesOf(o *catalog.Object) []types.T {
	ts := make([]types.T, len(o.Columns))
	for i, c := range o.Columns {
		ts[i] = c.Type
	}
	return ts
}

var _ = fmt.Sprintf
