package planner

import (
	"github.com/apache/arrow-go/v18/arrow"
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
		if x.Virtual != nil {
			rows, err := x.Virtual.rows(ctx, db)
			if err != nil {
				return nil, err
			}
			ts := colTypes(x.Cols)
			var batches []arrow.RecordBatch
			if len(rows) > 0 {
				cols := make([]arrow.Array, len(ts))
				for c, t := range ts {
					bld := types.NewBuilder(ctx.Mem, t)
					bld.Reserve(len(rows))
					for _, r := range rows {
						types.AppendDatum(bld, t, r[c])
					}
					cols[c] = bld.NewArray()
					bld.Release()
				}
				batches = append(batches, expr.NewBatch(ts, cols, len(rows)))
				for _, c := range cols {
					c.Release()
				}
			}
			return exec.NewScan(ts, batches), nil
		}
		t, err := db.Table(x.Rel.Name)
		if err != nil {
			return nil, err
		}
		batches, _ := t.Snapshot(ctx.Mem)
		return exec.NewScan(colTypes(x.Cols), batches), nil
	case *ValuesNode:
		return &exec.Values{T: colTypes(x.Cols), Rows: x.Rows}, nil
	case *FilterNode:
		in, err := build(ctx, db, x.In)
		if err != nil {
			return nil, err
		}
		return &exec.Filter{In: in, Pred: x.Pred}, nil
	case *ProjectNode:
		in, err := build(ctx, db, x.In)
		if err != nil {
			return nil, err
		}
		return exec.NewProject(in, x.Exprs), nil
	case *AggNode:
		in, err := build(ctx, db, x.In)
		if err != nil {
			return nil, err
		}
		return exec.NewHashAgg(in, x.Keys, x.Aggs), nil
	case *JoinNode:
		l, err := build(ctx, db, x.Left)
		if err != nil {
			return nil, err
		}
		r, err := build(ctx, db, x.Right)
		if err != nil {
			l.Close()
			return nil, err
		}
		return exec.NewHashJoin(x.Kind, l, r, x.LeftKeys, x.RightKeys, x.Residual), nil
	case *SortNode:
		in, err := build(ctx, db, x.In)
		if err != nil {
			return nil, err
		}
		return &exec.Sort{In: in, Keys: x.Keys, Limit: x.Limit}, nil
	case *LimitNode:
		in, err := build(ctx, db, x.In)
		if err != nil {
			return nil, err
		}
		l := &exec.Limit{In: in, Count: -1}
		if x.Count != nil {
			d, err := expr.EvalRow(ctx, x.Count)
			if err != nil {
				in.Close()
				return nil, err
			}
			if !d.Null {
				if d.I < 0 {
					in.Close()
					return nil, sqlerr.New(sqlerr.InvalidRowCountInLimit, "LIMIT must not be negative")
				}
				l.Count = d.I
			}
		}
		if x.Offset != nil {
			d, err := expr.EvalRow(ctx, x.Offset)
			if err != nil {
				in.Close()
				return nil, err
			}
			if !d.Null {
				if d.I < 0 {
					in.Close()
					return nil, sqlerr.New(sqlerr.InvalidRowCountInOffset, "OFFSET must not be negative")
				}
				l.Offset = d.I
			}
		}
		return l, nil
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
	case *SetOpNode:
		l, err := build(ctx, db, x.Left)
		if err != nil {
			return nil, err
		}
		r, err := build(ctx, db, x.Right)
		if err != nil {
			l.Close()
			return nil, err
		}
		return &exec.SetOp{Left: l, Right: r, Except: x.Except, All: x.All}, nil
	case *WindowNode:
		in, err := build(ctx, db, x.In)
		if err != nil {
			return nil, err
		}
		return exec.NewWindow(in, x.Partition, x.Order, x.Funcs), nil
	case *TableFuncNode:
		return buildTableFunc(ctx, x)
	}
	return nil, sqlerr.New(sqlerr.InternalError, "cannot build plan node %T", n)
}

// buildTableFunc materialises generate_series or unnest.
func buildTableFunc(ctx *expr.Ctx, x *TableFuncNode) (exec.Operator, error) {
	args := make([]types.Datum, len(x.Args))
	for i, a := range x.Args {
		d, err := expr.EvalRow(ctx, a)
		if err != nil {
			return nil, err
		}
		args[i] = d
	}
	t := x.Cols[0].Type
	var out []types.Datum
	switch x.Name {
	case "generate_series":
		if args[0].Null || args[1].Null || (len(args) > 2 && args[2].Null) {
			break
		}
		if t.Kind.IsInteger() {
			step := int64(1)
			if len(args) > 2 {
				step = args[2].I
			}
			if step == 0 {
				return nil, sqlerr.New(sqlerr.InvalidParameterValue, "step size cannot equal zero")
			}
			for v := args[0].I; (step > 0 && v <= args[1].I) || (step < 0 && v >= args[1].I); v += step {
				out = append(out, types.DInt(v))
				if len(out) > 100_000_000 {
					return nil, sqlerr.New(sqlerr.ProgramLimitExceeded, "generate_series result too large")
				}
			}
			break
		}
		if len(args) < 3 {
			return nil, sqlerr.New(sqlerr.UndefinedFunction, "function generate_series(%s, %s) does not exist", t, t)
		}
		step := args[2].Iv
		if step.ApproxMicros() == 0 {
			return nil, sqlerr.New(sqlerr.InvalidParameterValue, "step size cannot equal zero")
		}
		loc := ctx.Loc
		if t.Kind == types.Timestamp {
			loc = nil
		}
		for v := args[0].I; (step.ApproxMicros() > 0 && v <= args[1].I) || (step.ApproxMicros() < 0 && v >= args[1].I); v = types.AddInterval(v, step, loc) {
			out = append(out, types.DInt(v))
			if len(out) > 10_000_000 {
				return nil, sqlerr.New(sqlerr.ProgramLimitExceeded, "generate_series result too large")
			}
		}
	case "unnest":
		if args[0].Null {
			break
		}
		elems, err := types.ParseArray(args[0].S)
		if err != nil {
			return nil, sqlerr.New(sqlerr.InvalidTextRep, "malformed array literal: %q", args[0].S)
		}
		for _, e := range elems {
			if e == nil {
				out = append(out, types.NullDatum)
				continue
			}
			d, err := types.ParseText(t, *e, ctx.Loc)
			if err != nil {
				return nil, err
			}
			out = append(out, d)
		}
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
