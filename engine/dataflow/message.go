package dataflow

import (
	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/streamsql/streamsql/engine/expr"
)

// MsgKind says what a message carries.
type MsgKind uint8

// Message kinds: they travel in order on one channel.
const (
	MsgData MsgKind = iota
	MsgWatermark
	MsgBarrier
)

// Msg is one message on a dataflow edge.
type Msg struct {
	Kind MsgKind
	// Batch and Weights (one per row; nil means every row is +1) for data.
	Batch   arrow.RecordBatch
	Weights []int64
	// Watermark: no later message carries event time below it (µs).
	Watermark int64
	// Barrier: the checkpoint it belongs to.
	Barrier uint64
}

// Weight returns the weight of row i.
func (m *Msg) Weight(i int) int64 {
	if m.Weights == nil {
		return 1
	}
	return m.Weights[i]
}

// Share returns another owner of m's data: a message of its own (so its
// Release does not clear m) holding a new reference to the batch.
func (m *Msg) Share() *Msg {
	if m.Batch != nil {
		m.Batch.Retain()
	}
	return &Msg{Kind: m.Kind, Batch: m.Batch, Weights: m.Weights, Watermark: m.Watermark, Barrier: m.Barrier}
}

// Take returns a message of the given rows of m (in that order), each
// with its weight; m stays the caller's.
func (m *Msg) Take(mem memory.Allocator, rows []int) *Msg {
	out := &Msg{Kind: MsgData, Batch: expr.Take(mem, m.Batch, rows)}
	if m.Weights != nil {
		out.Weights = make([]int64, len(rows))
		for k, r := range rows {
			out.Weights[k] = m.Weights[r]
		}
	}
	return out
}

// Release frees the batch.
func (m *Msg) Release() {
	if m.Batch != nil {
		m.Batch.Release()
		m.Batch = nil
	}
}

type arrowBatch = arrow.RecordBatch

// evalExprs evaluates expressions over a batch (the caller releases the
// values with releaseValues).
func evalExprs(ctx *expr.Ctx, b arrow.RecordBatch, es []expr.Expr) ([]expr.Value, error) {
	vs := make([]expr.Value, len(es))
	for i, e := range es {
		v, err := e.Eval(ctx, b)
		if err != nil {
			releaseValues(vs[:i])
			return nil, err
		}
		vs[i] = v
	}
	return vs, nil
}

func releaseValues(vs []expr.Value) {
	for _, v := range vs {
		v.Release()
	}
}
