package dataflow

import (
	"context"
	"fmt"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/streamsql/streamsql/engine/expr"
	"github.com/streamsql/streamsql/types"
)

// A chain of filter, projection and tumbling windows keeps each row's
// weight with it, drops (and reports) the rows an expression fails on
// without failing the batch, counts the rows late for closed windows, and
// leaves nothing allocated.
func TestChainStatelessSteps(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	var failed []string
	ctx := &expr.Ctx{Go: context.Background(), Mem: mem, RowError: func(e expr.RowError) {
		failed = append(failed, fmt.Sprintf("%v: %v", types.DatumAt(e.Batch.Column(0), e.Row).I, e.Err))
	}}
	in := []types.T{types.TInt64, types.TTimestamp} // v, ts
	v := &expr.Col{Idx: 0, T: types.TInt64}
	ts := &expr.Col{Idx: 1, T: types.TTimestamp}
	// WHERE 100 / v > 10, SELECT v, ts, windows of 10 s on ts
	div := &expr.Arith{Op: '/', L: &expr.Const{D: types.DInt(100), T: types.TInt64}, R: v, T: types.TInt64}
	proj := []types.T{types.TInt64, types.TTimestamp}
	win := append(append([]types.T{}, proj...), types.TTimestamp, types.TTimestamp)
	windows := &Windows{Spec: WindowSpec{TimeCol: 1, TimeType: types.TTimestamp, Size: 10_000_000, Slide: 10_000_000}, Types: win}
	chain := Chain{
		&Filter{Pred: &expr.Compare{Op: expr.GT, L: div, R: &expr.Const{D: types.DInt(10), T: types.TInt64}}, In: expr.Columns{Types: in}},
		&Project{Exprs: []expr.Expr{v, ts}, Types: proj, In: expr.Columns{Types: in}},
		windows,
	}
	rows := [][]types.Datum{
		{types.DInt(1), types.DInt(1_000_000)},  // 100 > 10: kept, window [0, 10 s)
		{types.DInt(0), types.DInt(2_000_000)},  // division by zero: dropped, reported
		{types.DInt(50), types.DInt(3_000_000)}, // 2 > 10 is false
		{types.DInt(5), types.DInt(25_000_000)}, // 20 > 10: window [20 s, 30 s)
	}
	run := func(weights []int64) *Msg {
		b := expr.BatchFromRows(mem, in, rows)
		out, err := chain.Run(ctx, &Msg{Kind: MsgData, Batch: b, Weights: weights})
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	out := run([]int64{2, 1, 1, -1})
	if got := fmt.Sprint(rowsOf(out.Batch), out.Weights); got != "[[1 1000000 0 10000000] [5 25000000 20000000 30000000]] [2 -1]" {
		t.Fatalf("got %s", got)
	}
	out.Release()
	if len(failed) != 1 || failed[0] != "0: division by zero" {
		t.Fatalf("reported %v", failed)
	}
	// windows ending at or before 20 s are closed: the first row is late
	windows.CloseBefore(20_000_000)
	out = run(nil)
	if got := fmt.Sprint(rowsOf(out.Batch), out.Weights, chain.Late()); got != "[[5 25000000 20000000 30000000]] [] 1" {
		t.Fatalf("got %s", got)
	}
	out.Release()
}

func rowsOf(rb arrowBatch) [][]int64 {
	var out [][]int64
	for r := 0; r < int(rb.NumRows()); r++ {
		var row []int64
		for c := 0; c < int(rb.NumCols()); c++ {
			row = append(row, types.DatumAt(rb.Column(c), r).I)
		}
		out = append(out, row)
	}
	return out
}

// DropClosed passes every row until closed, then only the rows at or
// after the bound (and NULL times), weights with them, counting the rest.
func TestDropClosed(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	ctx := &expr.Ctx{Go: context.Background(), Mem: mem}
	ts := []types.T{types.TInt64, types.TTimestamp}
	rows := [][]types.Datum{{types.DInt(1), types.DInt(5)}, {types.DInt(2), types.NullDatum}, {types.DInt(3), types.DInt(10)}, {types.DInt(4), types.DInt(9)}}
	d := &DropClosed{Col: 1}
	run := func() string {
		b := expr.BatchFromRows(mem, ts, rows)
		m := &Msg{Kind: MsgData, Batch: b, Weights: []int64{1, -1, 2, 3}}
		out, err := d.Process(ctx, m)
		m.Release()
		if err != nil {
			t.Fatal(err)
		}
		defer out.Release()
		var ids []int64
		for _, r := range rowsOf(out.Batch) {
			ids = append(ids, r[0])
		}
		return fmt.Sprint(ids, out.Weights, d.Late())
	}
	if got := run(); got != "[1 2 3 4] [1 -1 2 3] 0" {
		t.Fatalf("open: %s", got)
	}
	d.Close(9)
	d.Close(7) // a lower bound does not reopen
	if got := run(); got != "[2 3 4] [-1 2 3] 1" {
		t.Fatalf("closed below 9: %s", got)
	}
}
