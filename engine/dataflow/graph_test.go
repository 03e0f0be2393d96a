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

// A graph of two sources, a union of both (one read twice: a node with
// several consumers), an aggregate over it and a join of one source with
// the aggregate: every output equals the changes of the same query run
// by hand, watermark hooks fire once per advance of their bound (the
// least of two sources), and nothing is left allocated.
func TestGraphUnionAggregateJoin(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	ctx := &expr.Ctx{Go: context.Background(), Mem: mem}
	ts := []types.T{types.TInt64, types.TInt64} // k, v
	k := &expr.Col{Idx: 0, T: types.TInt64}
	v := &expr.Col{Idx: 1, T: types.TInt64}

	g := NewGraph()
	a, srcA := g.AddSource("a")
	b, srcB := g.AddSource("b")
	u := g.AddUnion([]int{a, b}, "union")
	agg, err := NewIncAgg([]expr.Expr{k}, []exec.AggSpec{{Kind: exec.AggSum, Arg: v, T: types.TInt64}}, IncAggOptions{})
	if err != nil {
		t.Fatal(err)
	}
	sum := g.Add(u, agg, "sum")
	j, err := NewJoin(exec.InnerJoin, []expr.Expr{k}, []expr.Expr{k}, nil, ts, agg.Types())
	if err != nil {
		t.Fatal(err)
	}
	out := g.AddBinary(a, sum, j, "join")
	g.SetOutput(out)
	view := map[string]int64{}
	g.Out = func(ctx *expr.Ctx, m *Msg) error {
		for r := 0; r < int(m.Batch.NumRows()); r++ {
			row := fmt.Sprint(rowsOf(m.Batch)[r])
			if view[row] += m.Weight(r); view[row] == 0 {
				delete(view, row)
			}
		}
		return nil
	}
	var fired []int64
	g.OnWatermark(sum, WMBound{{Source: srcA}, {Source: srcB, Offset: -10}}, func(_ *expr.Ctx, wm int64) (*Msg, error) {
		fired = append(fired, wm)
		return nil, nil
	})
	push := func(src int, rows ...[2]int64) {
		var ds [][]types.Datum
		for _, r := range rows {
			ds = append(ds, []types.Datum{types.DInt(r[0]), types.DInt(r[1])})
		}
		batch := expr.BatchFromRows(mem, ts, ds)
		m := &Msg{Kind: MsgData, Batch: batch}
		if err := g.Push(ctx, src, m); err != nil {
			t.Fatal(err)
		}
		m.Release()
	}
	push(srcA, [2]int64{1, 10}, [2]int64{2, 5})
	push(srcB, [2]int64{1, 7})
	push(srcA, [2]int64{1, 1})
	// a's rows joined with the sums of a ∪ b per key: k=1 sums 10+7+1 = 18
	var got []string
	for row, n := range view {
		got = append(got, fmt.Sprintf("%s×%d", row, n))
	}
	sort.Strings(got)
	if want := "[[1 1 1 18]×1 [1 10 1 18]×1 [2 5 2 5]×1]"; fmt.Sprint(got) != want {
		t.Fatalf("view %v, want %s", got, want)
	}
	for _, step := range []struct {
		src int
		wm  int64
	}{{srcA, 100}, {srcB, 50}, {srcB, 60}, {srcA, 30}, {srcB, 200}, {srcA, 120}} {
		if err := g.Watermark(ctx, step.src, step.wm); err != nil {
			t.Fatal(err)
		}
	}
	// bound = min(a, b - 10): none until b has one, then 40, 50; a going
	// back is ignored; then 100 and 120
	if fmt.Sprint(fired) != "[40 50 100 120]" {
		t.Fatalf("watermark hook fired at %v", fired)
	}
}

// A checkpoint barrier goes through every node once, after the data sent
// before it: a join whose inputs send their barriers at different times
// holds what the first one sends after its barrier until the second's
// comes (alignment), so the state it has when the barrier passes is
// exactly that of the input before the barrier on both sides; then the
// held data goes through, and the output is the whole join.
func TestGraphBarrierAlignment(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	ctx := &expr.Ctx{Go: context.Background(), Mem: mem}
	ts := []types.T{types.TInt64, types.TInt64}
	k := &expr.Col{Idx: 0, T: types.TInt64}
	g := NewGraph()
	a, srcA := g.AddSource("a")
	b, srcB := g.AddSource("b")
	fa := g.Add(a, &Filter{Pred: &expr.Compare{Op: expr.GE, L: k, R: &expr.Const{D: types.DInt(0), T: types.TInt64}}}, "filter")
	j, err := NewJoin(exec.InnerJoin, []expr.Expr{k}, []expr.Expr{k}, nil, ts, ts)
	if err != nil {
		t.Fatal(err)
	}
	join := g.AddBinary(fa, b, j, "join")
	g.SetOutput(join)
	out := 0
	g.Out = func(_ *expr.Ctx, m *Msg) error {
		out += int(m.Batch.NumRows())
		return nil
	}
	push := func(src int, rows ...[2]int64) {
		var ds [][]types.Datum
		for _, r := range rows {
			ds = append(ds, []types.Datum{types.DInt(r[0]), types.DInt(r[1])})
		}
		m := &Msg{Kind: MsgData, Batch: expr.BatchFromRows(mem, ts, ds)}
		if err := g.Push(ctx, src, m); err != nil {
			t.Fatal(err)
		}
		m.Release()
	}
	var passed []string
	at := func(node int, op any) error {
		if jn, ok := op.(*Join); ok {
			passed = append(passed, fmt.Sprintf("join %d+%d rows, %d out", jn.Rows(0), jn.Rows(1), out))
		} else {
			passed = append(passed, fmt.Sprint(node))
		}
		return nil
	}
	push(srcA, [2]int64{1, 10}, [2]int64{2, 20})
	if err := g.SourceBarrier(ctx, srcA, 7, at); err != nil {
		t.Fatal(err)
	}
	push(srcA, [2]int64{1, 11}) // after a's barrier: held at the join
	push(srcB, [2]int64{1, 100})
	if out != 1 {
		t.Fatalf("%d rows out before the alignment, want 1 (a's row after its barrier is held)", out)
	}
	if err := g.SourceBarrier(ctx, srcB, 7, at); err != nil {
		t.Fatal(err)
	}
	if want := "[0 2 1 join 2+1 rows, 1 out]"; fmt.Sprint(passed) != want {
		t.Fatalf("barrier passed %v, want %v", passed, want)
	}
	if out != 2 {
		t.Fatalf("%d rows out after the alignment, want 2", out)
	}
	// a second barrier, from every source at once
	passed = nil
	if err := g.Barrier(ctx, 8, at); err != nil {
		t.Fatal(err)
	}
	if want := "[0 2 1 join 3+1 rows, 2 out]"; fmt.Sprint(passed) != want {
		t.Fatalf("second barrier passed %v, want %v", passed, want)
	}
}
