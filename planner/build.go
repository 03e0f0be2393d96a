package planner

import (
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/streamsql/streamsql/catalog"
	"github.com/streamsql/streamsql/engine/dataflow"
	"github.com/streamsql/streamsql/engine/exec"
	"github.com/streamsql/streamsql/engine/expr"
	"github.com/streamsql/streamsql/sqlerr"
	"github.com/streamsql/streamsql/types"
)

func colTypes(cols []Column) []types.T {
	ts := make([]types.T, len(cols))
	for i, c := range cols {
		ts[i] = c.Type
	}
	return ts
}

// build turns a logical plan into operators for one execution.
func build(ctx *expr.Ctx, db *DB, n Node) (exec.Operator, error) {
	switch x := n.(type) {
	case *ScanNode:
		return buildScan(ctx, db, x)
	case *ValuesNode:
		return &exec.Values{T: colTypes(x.Cols), Rows: x.Rows}, nil
	case *TableFuncNode:
		return buildTableFunc(ctx, x)
	case *JoinNode:
		l, r, err := buildPair(ctx, db, x.Left, x.Right)
		if err != nil {
			return nil, err
		}
		if a := x.AsOf; a != nil {
			j := dataflow.NewAsOfJoin(x.Kind == exec.LeftJoin, x.LeftKeys, x.RightKeys, [2]int{a.LeftTime, a.RightTime}, a.Strict, colTypes(x.Left.Columns()), colTypes(x.Right.Columns()))
			return &dataflow.AsOfJoinOp{Left: l, Right: r, J: j}, nil
		}
		return exec.NewHashJoin(x.Kind, l, r, x.LeftKeys, x.RightKeys, x.Residual), nil
	case *SetOpNode:
		l, r, err := buildPair(ctx, db, x.Left, x.Right)
		if err != nil {
			return nil, err
		}
		return &exec.SetOp{Left: l, Right: r, Except: x.Except, All: x.All}, nil
	case *UnionNode:
		u := &exec.UnionAll{T: colTypes(x.Cols)}
		for _, in := range x.Inputs {
			op, err := build(ctx, db, in)
			if err != nil {
				u.Close()
				return nil, err
			}
			u.Inputs = append(u.Inputs, op)
		}
		return u, nil
	}
	// the rest have one input
	kids := n.Children()
	if len(kids) != 1 {
		return nil, sqlerr.New(sqlerr.InternalError, "cannot build plan node %T", n)
	}
	var in exec.Operator
	var err error
	if fl, ok := n.(*FilterNode); ok {
		// WHERE col = value over a materialized view: a lookup
		if in, err = buildViewLookup(ctx, db, fl); err != nil {
			return nil, err
		}
	}
	if in == nil {
		if in, err = build(ctx, db, kids[0]); err != nil {
			return nil, err
		}
	}
	op, err := buildOver(ctx, n, in)
	if err != nil {
		in.Close()
		return nil, err
	}
	return op, nil
}

func buildPair(ctx *expr.Ctx, db *DB, left, right Node) (exec.Operator, exec.Operator, error) {
	l, err := build(ctx, db, left)
	if err != nil {
		return nil, nil, err
	}
	r, err := build(ctx, db, right)
	if err != nil {
		l.Close()
		return nil, nil, err
	}
	return l, r, nil
}

// buildOver makes the operator of a one-input node over its built input.
func buildOver(ctx *expr.Ctx, n Node, in exec.Operator) (exec.Operator, error) {
	switch x := n.(type) {
	case *FilterNode:
		return &exec.Filter{In: in, Pred: x.Pred}, nil
	case *ProjectNode:
		return exec.NewProject(in, x.Exprs), nil
	case *AggNode:
		return exec.NewHashAgg(in, x.Keys, x.Aggs), nil
	case *SortNode:
		return &exec.Sort{In: in, Keys: x.Keys, Limit: x.Limit}, nil
	case *LimitNode:
		count, err := rowCount(ctx, x.Count, -1, sqlerr.InvalidRowCountInLimit, "LIMIT")
		if err != nil {
			return nil, err
		}
		offset, err := rowCount(ctx, x.Offset, 0, sqlerr.InvalidRowCountInOffset, "OFFSET")
		if err != nil {
			return nil, err
		}
		l := &exec.Limit{In: in, Count: count, Offset: offset}
		for _, k := range x.Ties {
			l.Ties = append(l.Ties, k.E)
		}
		return l, nil
	case *WindowNode:
		return exec.NewWindow(in, x.Partition, x.Order, x.Funcs), nil
	case *DistinctOnNode:
		return &exec.DistinctOn{In: in, Keys: x.Keys}, nil
	case *WindowTVFNode:
		if x.Spec.Session {
			return dataflow.NewSessionAssign(in, x.Spec, x.Partition), nil
		}
		return dataflow.NewWindowAssign(in, x.Spec), nil
	case *ProjectSetNode:
		return buildProjectSet(ctx, in, x), nil
	}
	return nil, sqlerr.New(sqlerr.InternalError, "cannot build plan node %T", n)
}

// buildScan reads a table, a stream or a catalog relation.
func buildScan(ctx *expr.Ctx, db *DB, x *ScanNode) (exec.Operator, error) {
	ts := colTypes(x.Cols)
	if x.Virtual != nil {
		rows, err := x.Virtual.rows(ctx, db)
		if err != nil {
			return nil, err
		}
		var batches []arrow.RecordBatch
		if len(rows) > 0 {
			batches = append(batches, expr.BatchFromRows(ctx.Mem, ts, rows))
		}
		return exec.NewScan(ts, batches), nil
	}
	if x.Rel.Kind == catalog.KindMaterializedView {
		v := db.view(x.Rel.Name)
		if v == nil {
			return nil, sqlerr.New(sqlerr.UndefinedTable, "materialized view %q is not running", x.Rel.Name)
		}
		// a view that is still reading what was written before it started
		// (created over existing data, or after a restart) would answer
		// with part of it: wait until it has caught up
		if err := v.Job().WaitCaughtUp(ctx.Go, catchupTimeout(ctx)); err != nil {
			return nil, err
		}
		batches, err := v.Snapshot()
		if err != nil {
			return nil, err
		}
		return exec.NewScan(ts, batches), nil
	}
	if x.Rel.Kind == catalog.KindStream {
		// a bounded read of what the stream retains now
		batches, err := db.streamSnapshot(ctx.Mem, x.Rel.Name, ts)
		if err != nil {
			return nil, err
		}
		return exec.NewScan(ts, batches), nil
	}
	t, err := db.Table(x.Rel.Name)
	if err != nil {
		return nil, err
	}
	batches, _ := t.Snapshot(ctx.Mem)
	return exec.NewScan(ts, batches), nil
}

// buildViewLookup reads, for a filter right over a materialized view with
// an equality of a column and a value, the rows holding that value from
// the view's index on the column; nil when it does not apply.
func buildViewLookup(ctx *expr.Ctx, db *DB, fl *FilterNode) (exec.Operator, error) {
	sc, ok := fl.In.(*ScanNode)
	if !ok || sc.Virtual != nil || sc.Rel == nil || sc.Rel.Kind != catalog.KindMaterializedView {
		return nil, nil
	}
	v := db.view(sc.Rel.Name)
	if v == nil {
		return nil, nil
	}
	ts := colTypes(sc.Cols)
	col, d, ok := pointLookup(ctx, fl.Pred, ts)
	if !ok {
		return nil, nil
	}
	if err := v.Job().WaitCaughtUp(ctx.Go, catchupTimeout(ctx)); err != nil {
		return nil, err
	}
	batches, ok, err := v.Lookup(col, d)
	if err != nil || !ok {
		return nil, err
	}
	return exec.NewScan(ts, batches), nil
}

// rowCount evaluates a LIMIT or OFFSET (it may be a parameter); absent or
// NULL gives def.
func rowCount(ctx *expr.Ctx, e expr.Expr, def int64, code, what string) (int64, error) {
	if e == nil {
		return def, nil
	}
	d, err := expr.EvalRow(ctx, e)
	if err != nil {
		return 0, err
	}
	if d.Null {
		return def, nil
	}
	if d.I < 0 {
		return 0, sqlerr.New(code, "%s must not be negative", what)
	}
	return d.I, nil
}

// buildTableFunc materialises a set-returning function in FROM.
func buildTableFunc(ctx *expr.Ctx, x *TableFuncNode) (exec.Operator, error) {
	args := make([]types.Datum, len(x.Args))
	argT := make([]types.T, len(x.Args))
	for i, a := range x.Args {
		d, err := expr.EvalRow(ctx, a)
		if err != nil {
			return nil, err
		}
		args[i], argT[i] = d, a.Type()
	}
	t := x.Cols[0].Type
	if x.Name == "generate_series" && len(x.Cols) == 1 {
		// made a batch at a time, however long
		series, err := newSeries(ctx, t, args)
		if err != nil || series != nil {
			return series, err
		}
		return exec.NewScan(colTypes(x.Cols), nil), nil
	}
	out, err := srfEval(ctx, x.Name, t, argT, args)
	if err != nil {
		return nil, err
	}
	ts := colTypes(x.Cols)
	var batches []arrow.RecordBatch
	for start := 0; start < len(out); start += exec.BatchSize {
		end := min(start+exec.BatchSize, len(out))
		col := types.ArrayFromDatums(ctx.Mem, t, out[start:end])
		batches = append(batches, expr.NewBatch(ts, []arrow.Array{col}, end-start))
		col.Release()
	}
	return exec.NewScan(ts, batches), nil
}

// catchupTimeout is how long a read waits for a materialized view to
// catch up: the session's view_catchup_timeout (PostgreSQL's interval or
// millisecond spellings; default a minute).
func catchupTimeout(ctx *expr.Ctx) time.Duration {
	const def = time.Minute
	if ctx.Session == nil {
		return def
	}
	v, ok := ctx.Session.Setting("view_catchup_timeout")
	if !ok {
		return def
	}
	d, err := parseTimeout(v, time.Millisecond)
	if err != nil || d <= 0 {
		return def
	}
	return d
}
