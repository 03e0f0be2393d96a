package flow

import (
	"sort"
	"unsafe"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/streamsql/streamsql/engine/expr"
	"github.com/streamsql/streamsql/types"
)

// delta is one step's consolidated changes to a view, at its logical time
// ts: rows of the view's columns, each with its change (retractions
// first). It is what the view's subscribers read, what its changelog
// writes and what the jobs reading the view are fed, as it is: columns,
// not a value per field.
type delta struct {
	ts    int64
	rows  arrow.RecordBatch
	diffs []int64
	start int64 // its first row's position in the subscribers' log
	bytes int64 // the memory it holds
}

func newDelta(ts int64, rows arrow.RecordBatch, diffs []int64) delta {
	return delta{ts: ts, rows: rows, diffs: diffs, bytes: batchBytes(rows) + int64(len(diffs))*8 + int64(unsafe.Sizeof(delta{}))}
}

func (d *delta) len() int64 { return int64(len(d.diffs)) }

// retain adds a reference to the rows for another holder.
func (d delta) retain() delta {
	d.rows.Retain()
	return d
}

// batchBytes is the memory of a batch's buffers.
func batchBytes(b arrow.RecordBatch) int64 {
	var n int64
	for _, c := range b.Columns() {
		for _, buf := range c.Data().Buffers() {
			if buf != nil {
				n += int64(buf.Len())
			}
		}
	}
	return n
}

// batch is rows [from, from+n) of the delta as subscription rows: _ts,
// _diff, then the view's columns (sliced, not copied).
func (d *delta) batch(ts []types.T, from, n int) arrow.RecordBatch {
	cols := make([]arrow.Array, 0, len(ts))
	tsv := make([]int64, n)
	for i := range tsv {
		tsv[i] = d.ts
	}
	cols = append(cols, expr.NewFixed(types.TInt64, tsv, nil, 0), expr.NewFixed(types.TInt64, d.diffs[from:from+n], nil, 0))
	for _, c := range d.rows.Columns() {
		cols = append(cols, array.NewSlice(c, int64(from), int64(from+n)))
	}
	b := expr.NewBatch(ts, cols, n)
	for _, c := range cols {
		c.Release()
	}
	return b
}

// find is the index of the delta holding position pos in a log of
// deltas in position order (len(log) when none does).
func find(log []delta, pos int64) int {
	return sort.Search(len(log), func(i int) bool { return log[i].start+log[i].len() > pos })
}

// change is one change to a view's rows, as a row of values: how a
// snapshot and a backlog read from disk reach a subscriber.
type change struct {
	ts, diff int64
	row      []types.Datum
}
