package dataflow

import (
	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/streamsql/streamsql/engine/exec"
	"github.com/streamsql/streamsql/engine/expr"
	"github.com/streamsql/streamsql/types"
)

// Operator is one step of a dataflow with one input: it turns each data
// message into the changes it causes downstream (nil or an empty batch:
// none). The message stays the caller's. An operator is owned by one
// goroutine at a time.
type Operator interface {
	Process(ctx *expr.Ctx, m *Msg) (*Msg, error)
}

// BinaryOperator is a step with two inputs (a join): side says which.
type BinaryOperator interface {
	Process(ctx *expr.Ctx, side int, m *Msg) (*Msg, error)
}

// Stateful is an operator whose state a checkpoint takes.
type Stateful interface {
	Snapshot() ([]byte, error)
}

// LateCounter is an operator that drops rows that arrive after their
// windows closed, and counts them.
type LateCounter interface {
	Late() int64
}

var (
	_ Operator       = (*Filter)(nil)
	_ Operator       = (*Project)(nil)
	_ Operator       = (*Windows)(nil)
	_ Operator       = (*IncAgg)(nil)
	_ Operator       = (*ParallelAgg)(nil)
	_ Operator       = (*SessionAgg)(nil)
	_ Operator       = (*TopN)(nil)
	_ BinaryOperator = (*Join)(nil)
	_ BinaryOperator = (*AsOfJoin)(nil)
	_ Stateful       = (*IncAgg)(nil)
	_ Stateful       = (*SessionAgg)(nil)
	_ Stateful       = (*TopN)(nil)
	_ Stateful       = (*Join)(nil)
	_ Operator       = (*DropClosed)(nil)
	_ LateCounter    = (*Windows)(nil)
	_ LateCounter    = (*DropClosed)(nil)
	_ LateCounter    = Chain(nil)
)

// Chain is operators run one after the other, innermost first.
type Chain []Operator

// Run pushes m through the chain and returns the last operator's output;
// m is released.
func (c Chain) Run(ctx *expr.Ctx, m *Msg) (*Msg, error) {
	for _, op := range c {
		out, err := op.Process(ctx, m)
		m.Release()
		if err != nil {
			return nil, err
		}
		m = out
	}
	return m, nil
}

// Late is the rows the chain's window assignments dropped as late.
func (c Chain) Late() int64 {
	var n int64
	for _, op := range c {
		if l, ok := op.(LateCounter); ok {
			n += l.Late()
		}
	}
	return n
}

// Filter keeps the rows its predicate is true on, with their weights. A
// row the predicate fails on with a data exception is dropped and
// reported (DropFailing); In names the input's columns for that report.
type Filter struct {
	Pred expr.Expr
	In   expr.Columns
}

func (f *Filter) Process(ctx *expr.Ctx, m *Msg) (*Msg, error) {
	v, err := f.Pred.Eval(ctx, m.Batch)
	if err != nil && ctx.RowError != nil && RowErrorsOf(err) {
		if m, err = DropFailing(ctx, m.Share(), f.In, func(b arrow.RecordBatch) error {
			v, err := f.Pred.Eval(ctx, b)
			v.Release()
			return err
		}); err == nil {
			defer m.Release()
			v, err = f.Pred.Eval(ctx, m.Batch)
		}
	}
	if err != nil {
		return nil, err
	}
	n := int(m.Batch.NumRows())
	var sel []int
	if v.IsScalar() {
		if !v.D.Null && v.D.I != 0 {
			sel = make([]int, n)
			for i := range sel {
				sel[i] = i
			}
		}
	} else {
		sel = exec.Selection(v.Arr, n)
	}
	v.Release()
	return m.Take(ctx.Mem, sel), nil
}

// Project computes new columns from each row, keeping its weight; rows
// an expression fails on with a data exception are dropped and reported.
type Project struct {
	Exprs []expr.Expr
	Types []types.T
	In    expr.Columns
}

func (p *Project) Process(ctx *expr.Ctx, m *Msg) (*Msg, error) {
	b, err := exec.ProjectBatch(ctx, m.Batch, p.Exprs, p.Types)
	if err != nil && ctx.RowError != nil && RowErrorsOf(err) {
		if m, err = DropFailing(ctx, m.Share(), p.In, func(in arrow.RecordBatch) error {
			b, err := exec.ProjectBatch(ctx, in, p.Exprs, p.Types)
			if err == nil {
				b.Release()
			}
			return err
		}); err == nil {
			defer m.Release()
			b, err = exec.ProjectBatch(ctx, m.Batch, p.Exprs, p.Types)
		}
	}
	if err != nil {
		return nil, err
	}
	return &Msg{Kind: MsgData, Batch: b, Weights: m.Weights}, nil
}

// DropClosed drops the rows whose time column Col is below the bound set
// by Close (and counts them late): in front of an operator that frees
// the state of times the watermark passed, a row for such a time would
// start it again from nothing.
type DropClosed struct {
	Col    int
	below  int64
	closed bool
	late   int64
}

// Close makes times below t closed.
func (d *DropClosed) Close(t int64) {
	if !d.closed || t > d.below {
		d.below, d.closed = t, true
	}
}

// Late is the rows dropped.
func (d *DropClosed) Late() int64 { return d.late }

func (d *DropClosed) Process(ctx *expr.Ctx, m *Msg) (*Msg, error) {
	n := int(m.Batch.NumRows())
	col := m.Batch.Column(d.Col)
	if !d.closed || allAtLeast(col, d.below) {
		return m.Share(), nil
	}
	var keep []int
	for i := 0; i < n; i++ {
		if t := types.DatumAt(col, i); t.Null || t.I >= d.below {
			keep = append(keep, i)
		}
	}
	if len(keep) == n {
		return m.Share(), nil
	}
	d.late += int64(n - len(keep))
	return m.Take(ctx.Mem, keep), nil
}

// allAtLeast reports whether every non-NULL value of a time or integer
// column is at least t, reading the values in place where it can (false:
// look row by row).
func allAtLeast(col arrow.Array, t int64) bool {
	switch a := col.(type) {
	case *array.Timestamp:
		for _, v := range a.TimestampValues() {
			if int64(v) < t {
				return a.NullN() > 0 && rowsAtLeast(col, t)
			}
		}
		return true
	case *array.Int64:
		for _, v := range a.Int64Values() {
			if v < t {
				return a.NullN() > 0 && rowsAtLeast(col, t)
			}
		}
		return true
	}
	return rowsAtLeast(col, t)
}

func rowsAtLeast(col arrow.Array, t int64) bool {
	for i := 0; i < col.Len(); i++ {
		if d := types.DatumAt(col, i); !d.Null && d.I < t {
			return false
		}
	}
	return true
}
