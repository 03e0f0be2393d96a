package dataflow

import (
	"github.com/apache/arrow-go/v18/arrow"
	"github.com/streamsql/streamsql/engine/exec"
	"github.com/streamsql/streamsql/engine/expr"
	"github.com/streamsql/streamsql/sqlerr"
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
	// Session windows (SESSION): rows of a partition less than Gap apart.
	Session bool
	Gap     int64
	// ClosedBefore, when HasClosed, drops the windows that end at or
	// before it: the watermark closed them and late rows must not reopen them.
	ClosedBefore int64
	HasClosed    bool
}

// Windows is the streaming operator of TUMBLE and HOP: AssignWindowsLate
// over each changelog batch, weights following their rows. CloseBefore
// drops the windows the watermark has closed from then on.
type Windows struct {
	Spec  WindowSpec
	Types []types.T // the output's columns
	late  int64
}

func (w *Windows) Process(ctx *expr.Ctx, m *Msg) (*Msg, error) {
	b, rows, dropped := AssignWindowsLate(ctx, m.Batch, w.Spec, w.Types)
	w.late += int64(dropped)
	out := &Msg{Kind: MsgData, Batch: b, Weights: m.Weights}
	if m.Weights != nil && rows != nil {
		out.Weights = make([]int64, len(rows))
		for k, r := range rows {
			out.Weights[k] = m.Weights[r]
		}
	}
	return out, nil
}

// CloseBefore makes windows that end at or before wm closed: rows only in
// them are late.
func (w *Windows) CloseBefore(wm int64) { w.Spec.ClosedBefore, w.Spec.HasClosed = wm, true }

// Late is the rows dropped because all their windows had closed.
func (w *Windows) Late() int64 { return w.late }

var errInfiniteWindow = sqlerr.New(sqlerr.DatetimeFieldOverflow, "timestamp out of range: an infinite time is in no window")

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
// rows is nil when every input row became exactly one output row, in order.
func AssignWindowsLate(ctx *expr.Ctx, b arrow.RecordBatch, w WindowSpec, ts []types.T) (arrow.RecordBatch, []int, int) {
	if out := tumbleAll(b, w, ts); out != nil {
		return out, nil, 0
	}
	late := 0
	n := int(b.NumRows())
	times := b.Column(w.TimeCol)
	per := 1
	if w.Hopping && w.Slide > 0 {
		per = int((w.Size + w.Slide - 1) / w.Slide)
	}
	rows := make([]int, 0, n*per)
	starts := make([]int64, 0, n*per)
	var buf []int64
	for i := 0; i < n; i++ {
		if times.IsNull(i) {
			continue
		}
		t := types.DatumAt(times, i).I
		if !types.TimestampFinite(t) {
			// infinity is in no window: the row is reported, not kept
			if ctx.RowError != nil {
				ctx.RowError(expr.RowError{Batch: b, Row: i, Err: errInfiniteWindow})
			}
			continue
		}
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

// tumbleAll is the common case of TUMBLE: no NULL times and no late rows,
// so every row keeps its columns and gains its window (nil otherwise).
func tumbleAll(b arrow.RecordBatch, w WindowSpec, ts []types.T) arrow.RecordBatch {
	times := b.Column(w.TimeCol)
	if w.Hopping || times.NullN() > 0 || times.DataType().ID() != arrow.TIMESTAMP {
		return nil
	}
	vals := expr.FixedValues[int64](times)[:b.NumRows()]
	starts := make([]int64, len(vals))
	ends := make([]int64, len(vals))
	// rows of one window come in runs: divide only when leaving the last window
	lo, hi := int64(1), int64(0)
	for i, t := range vals {
		if !types.TimestampFinite(t) {
			return nil
		}
		if t < lo || t >= hi {
			lo = TumbleStart(t, w.Size, w.Offset)
			hi = lo + w.Size
			if w.HasClosed && hi <= w.ClosedBefore {
				return nil
			}
		}
		starts[i], ends[i] = lo, hi
	}
	cols := make([]arrow.Array, 0, b.NumCols()+2)
	cols = append(cols, b.Columns()...)
	st, en := expr.NewFixed(w.TimeType, starts, nil, 0), expr.NewFixed(w.TimeType, ends, nil, 0)
	out := expr.NewBatch(ts, append(cols, st, en), len(vals))
	st.Release()
	en.Release()
	return out
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
