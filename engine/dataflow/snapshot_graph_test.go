package dataflow

import (
	"context"
	"fmt"
	"sort"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/streamsql/streamsql/engine/exec"
	"github.com/streamsql/streamsql/engine/expr"
	"github.com/streamsql/streamsql/types"
)

// A graph snapshot taken midway and restored into a graph built the same
// way continues exactly as the original: late rows dropped, an as-of join
// revised by a late right row, rows held until the watermark passes them,
// an aggregate, a join and tumbling windows — with nothing left allocated.
func TestGraphSnapshotRestore(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	ctx := &expr.Ctx{Go: context.Background(), Mem: mem}
	tsL := []types.T{types.TInt64, types.TInt64}               // k, t
	tsR := []types.T{types.TInt64, types.TInt64, types.TInt64} // k, t, v
	col := func(i int) *expr.Col { return &expr.Col{Idx: i, T: types.TInt64} }

	type built struct {
		g    *Graph
		view map[string]int64
	}
	build := func() built {
		g := NewGraph()
		a, srcA := g.AddSource("left")
		b, srcB := g.AddSource("right")
		drop := &DropClosed{Col: 1}
		da := g.Add(a, drop, "drop late left rows")
		g.OnWatermark(da, WMBound{{Source: srcA}}, func(_ *expr.Ctx, wm int64) (*Msg, error) { drop.Close(wm); return nil, nil })
		asof := NewAsOfJoin(false, []expr.Expr{col(0)}, []expr.Expr{col(0)}, [2]int{1, 1}, false, tsL, tsR)
		j := g.AddBinary(da, b, asof, "as of")
		joined := append(append([]types.T{}, tsL...), tsR...)
		hold := &EmitOnClose{Col: 1, Types: joined}
		h := g.Add(j, hold, "hold")
		g.OnWatermark(h, WMBound{{Source: srcA}, {Source: srcB}}, func(ctx *expr.Ctx, wm int64) (*Msg, error) { return hold.Close(ctx, wm), nil })
		win := &Windows{Spec: WindowSpec{TimeCol: 1, TimeType: types.TInt64, Size: 10, Slide: 10}, Types: append(append([]types.T{}, joined...), types.TInt64, types.TInt64)}
		w := g.Add(h, win, "tumble")
		agg, err := NewIncAgg([]expr.Expr{col(5)}, []exec.AggSpec{{Kind: exec.AggSum, Arg: col(4), T: types.TInt64}, {Kind: exec.AggCountStar, T: types.TInt64}}, IncAggOptions{})
		if err != nil {
			t.Fatal(err)
		}
		s := g.Add(w, agg, "sum per window")
		jn, err := NewJoin(exec.InnerJoin, []expr.Expr{col(0)}, []expr.Expr{col(0)}, nil, agg.Types(), agg.Types())
		if err != nil {
			t.Fatal(err)
		}
		g.SetOutput(g.AddBinary(s, s, jn, "self join"))
		bt := built{g: g, view: map[string]int64{}}
		g.Out = func(ctx *expr.Ctx, m *Msg) error {
			for r := 0; r < int(m.Batch.NumRows()); r++ {
				row := fmt.Sprint(rowsOf(m.Batch)[r])
				if bt.view[row] += m.Weight(r); bt.view[row] == 0 {
					delete(bt.view, row)
				}
			}
			return nil
		}
		return bt
	}
	push := func(g *Graph, src int, ts []types.T, rows ...[]int64) {
		t.Helper()
		var ds [][]types.Datum
		for _, r := range rows {
			d := make([]types.Datum, len(r))
			for i, v := range r {
				d[i] = types.DInt(v)
			}
			ds = append(ds, d)
		}
		m := &Msg{Kind: MsgData, Batch: expr.BatchFromRows(mem, ts, ds)}
		if err := g.Push(ctx, src, m); err != nil {
			t.Fatal(err)
		}
		m.Release()
	}
	wm := func(g *Graph, src int, v int64) {
		t.Helper()
		if err := g.Watermark(ctx, src, v); err != nil {
			t.Fatal(err)
		}
	}
	phaseA := func(g *Graph) {
		push(g, 1, tsR, []int64{1, 0, 100}, []int64{2, 0, 200})
		push(g, 0, tsL, []int64{1, 3}, []int64{2, 4}, []int64{1, 12})
		wm(g, 0, 5)
		wm(g, 1, 5)
		push(g, 1, tsR, []int64{1, 2, 150}) // revises left row (1, 3), still held
	}
	phaseB := func(g *Graph) {
		push(g, 0, tsL, []int64{1, 1}, []int64{2, 15}) // (1, 1) is late
		wm(g, 0, 14)
		wm(g, 1, 20)
		push(g, 1, tsR, []int64{2, 13, 250})
		wm(g, 0, 30)
	}
	whole := build()
	phaseA(whole.g)
	phaseB(whole.g)

	first := build()
	phaseA(first.g)
	snap, err := first.g.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	second := build()
	if err := second.g.Restore(ctx, snap); err != nil {
		t.Fatal(err)
	}
	for k, v := range first.view { // the output so far is the view's, not the graph's
		second.view[k] = v
	}
	phaseB(second.g)
	if got, want := renderView(second.view), renderView(whole.view); got != want {
		t.Fatalf("restored: %s\nwhole run: %s", got, want)
	}
	if renderView(whole.view) == "[]" {
		t.Fatal("the run produced nothing: the test tests nothing")
	}
	// a snapshot of the restored graph is the same bytes as the original's
	again, err := second.g.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	third := build()
	if err := third.g.Restore(ctx, again); err != nil {
		t.Fatal(err)
	}
	if _, err := third.g.Snapshot(); err != nil {
		t.Fatal(err)
	}
	if err := third.g.Restore(ctx, snap[:len(snap)-1]); err == nil {
		t.Fatal("a truncated snapshot restored")
	}
}

// A parallel aggregate restored from a snapshot (text keys, hashed to its
// workers the same way in every process) continues as one never stopped.
func TestParallelAggSnapshotRestore(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	ctx := &expr.Ctx{Go: context.Background(), Mem: mem}
	ts := []types.T{types.TText, types.TInt64}
	keys := []expr.Expr{&expr.Col{Idx: 0, T: types.TText}}
	aggs := []exec.AggSpec{{Kind: exec.AggSum, Arg: &expr.Col{Idx: 1, T: types.TInt64}, T: types.TInt64}, {Kind: exec.AggCountStar, T: types.TInt64}}
	newAgg := func() *ParallelAgg {
		p, err := NewParallelAgg(keys, aggs, IncAggOptions{}, 3, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	view := map[string]int64{}
	step := func(p *ParallelAgg, rows [][]types.Datum, weights []int64) {
		t.Helper()
		m := &Msg{Kind: MsgData, Batch: expr.BatchFromRows(mem, ts, rows), Weights: weights}
		out, err := p.Process(ctx, m)
		m.Release()
		if err != nil {
			t.Fatal(err)
		}
		for r := 0; r < int(out.Batch.NumRows()); r++ {
			row := fmt.Sprint(types.DatumAt(out.Batch.Column(0), r).S, rowsOf(out.Batch)[r][1:])
			if view[row] += out.Weight(r); view[row] == 0 {
				delete(view, row)
			}
		}
		out.Release()
	}
	var a, b [][]types.Datum
	for i := range 200 {
		a = append(a, []types.Datum{types.DText(fmt.Sprintf("k%d", i%37)), types.DInt(int64(i))})
		b = append(b, []types.Datum{types.DText(fmt.Sprintf("k%d", i%41)), types.DInt(int64(i * 3))})
	}
	first := newAgg()
	step(first, a, nil)
	snap, err := first.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	first.Close()
	second := newAgg()
	defer second.Close()
	if err := second.Restore(ctx, snap); err != nil {
		t.Fatal(err)
	}
	step(second, b, nil)
	step(second, a[:50], slicesRepeat(-1, 50))
	restored := renderView(view)

	view = map[string]int64{}
	whole := newAgg()
	defer whole.Close()
	step(whole, a, nil)
	step(whole, b, nil)
	step(whole, a[:50], slicesRepeat(-1, 50))
	if got := renderView(view); got != restored || len(view) != 41 {
		t.Fatalf("restored:\n%s\nwhole run:\n%s", restored, got)
	}
	two, err := NewParallelAgg(keys, aggs, IncAggOptions{}, 2, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer two.Close()
	if err := two.Restore(ctx, snap); err == nil {
		t.Fatal("a snapshot of 3 workers restored into 2")
	}
}

func slicesRepeat(v int64, n int) []int64 {
	out := make([]int64, n)
	for i := range out {
		out[i] = v
	}
	return out
}

func renderView(v map[string]int64) string {
	var out []string
	for row, n := range v {
		out = append(out, fmt.Sprintf("%s×%d", row, n))
	}
	sort.Strings(out)
	return fmt.Sprint(out)
}
