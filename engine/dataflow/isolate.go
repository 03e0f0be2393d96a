package dataflow

import (
	"github.com/apache/arrow-go/v18/arrow"
	"github.com/streamsql/streamsql/engine/expr"
	"github.com/streamsql/streamsql/sqlerr"
)

// A row whose expression fails — a division by zero, a cast of bad text,
// an overflow: a data exception — must not stop a continuous query: the
// operator drops that row (with its weight) and reports it, and goes on
// with the others. When the evaluation context has no RowError handler
// (a batch query) the error stands, as PostgreSQL's would.
//
// Operators evaluate all of a batch's expressions before they change any
// state, so that a failure leaves the state untouched; DropFailing then
// finds the failing rows and the operator processes the rest. Expressions
// are deterministic, so a row that failed on its insertion fails again on
// its retraction, and both are dropped: the output stays consistent.

// RowErrorsOf reports whether err is about a row's values (SQLSTATE
// class 22, data exception) rather than the query or the system.
func RowErrorsOf(err error) bool {
	code := sqlerr.Code(err)
	return len(code) == 5 && code[:2] == "22"
}

// DropFailing splits m into the rows eval succeeds on and the rows it
// fails on with a data exception, reports each of the latter to
// ctx.RowError (with cols, the input's column names and types, when known), and
// returns a message of the former; m is released. eval must only evaluate
// (no state changes) and be deterministic per row. The failing rows are
// found by bisection: a few bad rows in a large batch cost a few dozen
// evaluations of small slices. Any other error is returned.
func DropFailing(ctx *expr.Ctx, m *Msg, cols expr.Columns, eval func(b arrow.RecordBatch) error) (*Msg, error) {
	if ctx.RowError == nil {
		if err := eval(m.Batch); err != nil {
			m.Release()
			return nil, err
		}
		return m, nil
	}
	keep, err := PassingRows(ctx, m.Batch, cols, eval)
	if err != nil {
		m.Release()
		return nil, err
	}
	out := m.Take(ctx.Mem, keep)
	m.Release()
	return out, nil
}

// PassingRows returns the rows of b that eval succeeds on, reporting the
// others to ctx.RowError (which must be set), as DropFailing does.
func PassingRows(ctx *expr.Ctx, b arrow.RecordBatch, cols expr.Columns, eval func(b arrow.RecordBatch) error) ([]int, error) {
	var keep []int
	var walk func(lo, hi int, err error) error
	walk = func(lo, hi int, err error) error {
		if err == nil {
			for i := lo; i < hi; i++ {
				keep = append(keep, i)
			}
			return nil
		}
		if !RowErrorsOf(err) {
			return err
		}
		if hi-lo == 1 {
			ctx.RowError(expr.RowError{Batch: b, Row: lo, Cols: cols, Err: err})
			return nil
		}
		mid := lo + (hi-lo)/2
		for _, r := range [][2]int{{lo, mid}, {mid, hi}} {
			sub := b.NewSlice(int64(r[0]), int64(r[1]))
			e := eval(sub)
			sub.Release()
			if err := walk(r[0], r[1], e); err != nil {
				return err
			}
		}
		return nil
	}
	if err := walk(0, int(b.NumRows()), eval(b)); err != nil {
		return nil, err
	}
	return keep, nil
}

// evalOrDrop is the operators' way in: vals evaluates what an operator
// needs of a batch; on a data exception the failing rows are dropped and
// reported and vals runs again over the rest. It returns the message the
// operator should process (m itself, or the rows left; the caller owns it
// either way) and the values.
func evalOrDrop[V any](ctx *expr.Ctx, m *Msg, cols expr.Columns, vals func(b arrow.RecordBatch) (V, error), release func(V)) (*Msg, V, error) {
	v, err := vals(m.Batch)
	if err == nil {
		return m.Share(), v, nil
	}
	var zero V
	if ctx.RowError == nil || !RowErrorsOf(err) {
		return nil, zero, err
	}
	rest, err := DropFailing(ctx, m.Share(), cols, func(b arrow.RecordBatch) error {
		v, err := vals(b)
		if err == nil {
			release(v)
		}
		return err
	})
	if err != nil {
		return nil, zero, err
	}
	if v, err = vals(rest.Batch); err != nil {
		rest.Release()
		return nil, zero, err
	}
	return rest, v, nil
}
