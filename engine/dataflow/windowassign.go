package dataflow

import (
	"github.com/apache/arrow-go/v18/arrow"
	"github.com/streamsql/streamsql/engine/exec"
	"github.com/streamsql/streamsql/engine/expr"
	"github.com/streamsql/streamsql/types"
)

// WindowSpec is a TUMBLE or HOP over a time column (µs): Slide == Size for
// tumbling windows.
type WindowSpec struct {
	TimeCol     int
	TimeType    types.T
	Size, Slide int64
	Offset      int64
	Hopping     bool
	// ClosedBefore, when HasClosed, drops the windows that end at or
	// before it: the watermark closed them and late rows must not reopen them.
	ClosedBefore int64
	HasClosed    bool
}

// AssignWindows returns b with window_start and window_end columns added:
// one output row per window a row falls in (one for TUMBLE, size/slide for
// HOP); rows with a NULL time are in no window. rows[i] is the input row of
// output row i, so that weights can follow.
func AssignWindows(ctx *expr.Ctx, b arrow.RecordBatch, w WindowSpec, ts []types.T) (arrow.RecordBatch, []int) {
	out, rows, _ := AssignWindowsLate(ctx, b, w, ts)
	return out, rows
}

// AssignWindowsLate is AssignWindows that also counts the rows that fell
// only in closed windows (late rows, dropped).
func AssignWindowsLate(ctx *expr.Ctx, b arrow.RecordBatch, w WindowSpec, ts []types.T) (arrow.RecordBatch, []int, int) {
	late := 0
	n := int(b.NumRows())
	times := b.Column(w.TimeCol)
	var rows []int
	var starts []int64
	var buf []int64
	for i := 0; i < n; i++ {
		if times.IsNull(i) {
			continue
		}
		t := types.DatumAt(times, i).I
		if !w.Hopping {
			s := TumbleStart(t, w.Size, w.Offset)
			if w.HasClosed && s+w.Size <= w.ClosedBefore {
				late++
				continue
			}
			rows = append(rows, i)
			starts = append(starts, s)
			continue
		}
		buf = HopStarts(buf[:0], t-w.Offset, w.Slide, w.Size)
		kept := false
		for _, s := range buf {
			if w.HasClosed && s+w.Offset+w.Size <= w.ClosedBefore {
				continue
			}
			kept = true
			rows = append(rows, i)
			starts = append(starts, s+w.Offset)
		}
		if !kept && len(buf) > 0 {
			late++
		}
	}
	ends := make([]int64, len(starts))
	for i, s := range starts {
		ends[i] = s + w.Size
	}
	cols := make([]arrow.Array, 0, b.NumCols()+2)
	for c := 0; c < int(b.NumCols()); c++ {
		cols = append(cols, expr.TakeArray(ctx.Mem, b.Column(c), rows))
	}
	cols = append(cols, expr.NewFixed(w.TimeType, starts, nil, 0), expr.NewFixed(w.TimeType, ends, nil, 0))
	out := expr.NewBatch(ts, cols, len(rows))
	for _, c := range cols {
		c.Release()
	}
	return out, rows, late
}

var _ exec.Operator = (*WindowAssign)(nil)

// WindowAssign is the batch operator of TUMBLE/HOP in FROM.
type WindowAssign struct {
	In   exec.Operator
	Spec WindowSpec
	t    []types.T
}

// NewWindowAssign returns the operator; its columns are the input's plus
// window_start and window_end.
func NewWindowAssign(in exec.Operator, spec WindowSpec) *WindowAssign {
	t := append(append([]types.T{}, in.Types()...), spec.TimeType, spec.TimeType)
	return &WindowAssign{In: in, Spec: spec, t: t}
}

func (w *WindowAssign) Types() []types.T { return w.t }
func (w *WindowAssign) Close()           { w.In.Close() }
func (w *WindowAssign) Next(ctx *expr.Ctx) (arrow.RecordBatch, error) {
	for {
		b, err := w.In.Next(ctx)
		if err != nil || b == nil {
			return nil, err
		}
		out, _ := AssignWindows(ctx, b, w.Spec, w.t)
		b.Release()
		if out.NumRows() > 0 {
			return out, nil
		}
		out.Release()
	}
}
