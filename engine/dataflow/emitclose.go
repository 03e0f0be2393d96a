package dataflow

import (
	"sort"

	"github.com/streamsql/streamsql/engine/exec"
	"github.com/streamsql/streamsql/engine/expr"
	"github.com/streamsql/streamsql/types"
)

// EmitOnClose holds a changelog back until it is final: a row goes out
// once the watermark passes its time column Col — no later change can
// hold a time below the watermark, so none can revise it — with the net
// of the changes it had meanwhile (a window revised five times goes out
// once, with its last value). Rows whose time is NULL are never closed by
// a watermark and go out at once. This is EMIT ON WINDOW CLOSE for any
// shape of query whose output has a column bounded by the watermark.
type EmitOnClose struct {
	Col   int
	Types []types.T
	held  map[string]*heldRow
	buf   []byte
}

type heldRow struct {
	row []types.Datum
	n   int64
}

var _ Operator = (*EmitOnClose)(nil)

// Held is the rows waiting for their time to close.
func (e *EmitOnClose) Held() int { return len(e.held) }

func (e *EmitOnClose) Process(ctx *expr.Ctx, m *Msg) (*Msg, error) {
	if e.held == nil {
		e.held = map[string]*heldRow{}
	}
	b := m.Batch
	var now []int
	for r := 0; r < int(b.NumRows()); r++ {
		if b.Column(e.Col).IsNull(r) {
			now = append(now, r)
			continue
		}
		row := make([]types.Datum, b.NumCols())
		e.buf = e.buf[:0]
		for c := range row {
			row[c] = types.DatumAt(b.Column(c), r)
			e.buf = exec.AppendKey(e.buf, e.Types[c], row[c])
		}
		k := string(e.buf)
		h := e.held[k]
		if h == nil {
			h = &heldRow{row: row}
			e.held[k] = h
		}
		if h.n += m.Weight(r); h.n == 0 {
			delete(e.held, k)
		}
	}
	return m.Take(ctx.Mem, now), nil
}

// Close releases the rows whose time is below wm, in time order.
func (e *EmitOnClose) Close(ctx *expr.Ctx, wm int64) *Msg {
	var rows [][]types.Datum
	var weights []int64
	for k, h := range e.held {
		if h.row[e.Col].I < wm {
			rows, weights = append(rows, h.row), append(weights, h.n)
			delete(e.held, k)
		}
	}
	if len(rows) == 0 {
		return nil
	}
	idx := make([]int, len(rows))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return rows[idx[a]][e.Col].I < rows[idx[b]][e.Col].I })
	sorted, ws := make([][]types.Datum, len(rows)), make([]int64, len(rows))
	for i, j := range idx {
		sorted[i], ws[i] = rows[j], weights[j]
	}
	return &Msg{Kind: MsgData, Batch: expr.BatchFromRows(ctx.Mem, e.Types, sorted), Weights: ws}
}
