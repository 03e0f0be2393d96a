package dataflow

import (
	"context"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/streamsql/streamsql/engine/exec"
	"github.com/streamsql/streamsql/engine/expr"
	"github.com/streamsql/streamsql/types"
)

// RANK() <= 1 per window keeps every row tied for first, follows counts
// that change (retract old, insert new), and drops a window's partition
// once the watermark passes the window's end (ExpireCol).
func TestTopNRankAndExpiry(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	ctx := &expr.Ctx{Go: context.Background(), Mem: mem}
	ts := []types.T{types.TTimestamp, types.TInt64, types.TInt64} // window_start, auction, num
	col := func(i int) expr.Expr { return &expr.Col{Idx: i, T: ts[i]} }
	op := NewTopN([]expr.Expr{col(0)}, []exec.SortKey{{E: col(2), Desc: true}}, 1, ts, false)
	op.Rank, op.ExpireCol, op.ExpireAdd = true, 0, 10
	view := map[[4]int64]int64{}
	apply := func(rows [][]types.Datum, ws []int64) {
		t.Helper()
		in := &Msg{Kind: MsgData, Batch: expr.BatchFromRows(mem, ts, rows), Weights: ws}
		out, err := op.Process(ctx, in)
		in.Release()
		if err != nil {
			t.Fatal(err)
		}
		for r := 0; r < int(out.Batch.NumRows()); r++ {
			var k [4]int64
			for c := range k {
				k[c] = types.DatumAt(out.Batch.Column(c), r).I
			}
			view[k] += out.Weight(r)
			if view[k] == 0 {
				delete(view, k)
			}
		}
		out.Release()
	}
	d := types.DInt
	apply([][]types.Datum{{d(0), d(1), d(3)}, {d(0), d(2), d(3)}, {d(0), d(3), d(1)}, {d(10), d(1), d(5)}}, nil)
	want := map[[4]int64]int64{{0, 1, 3, 1}: 1, {0, 2, 3, 1}: 1, {10, 1, 5, 1}: 1}
	check := func() {
		t.Helper()
		if len(view) != len(want) {
			t.Fatalf("view %v, want %v", view, want)
		}
		for k, n := range want {
			if view[k] != n {
				t.Fatalf("view %v, want %v", view, want)
			}
		}
	}
	check()
	// auction 3 overtakes both in window 0
	apply([][]types.Datum{{d(0), d(3), d(1)}, {d(0), d(3), d(4)}}, []int64{-1, 1})
	want = map[[4]int64]int64{{0, 3, 4, 1}: 1, {10, 1, 5, 1}: 1}
	check()
	if n := op.ExpireBefore(9); n != 0 || op.Rows() != 4 {
		t.Fatalf("window 0 ends at 10: nothing to drop at 9 (dropped %d, %d rows)", n, op.Rows())
	}
	if n := op.ExpireBefore(10); n != 1 || op.Rows() != 1 {
		t.Fatalf("at 10 window 0's partition goes: dropped %d, %d rows left", n, op.Rows())
	}
	check() // its rows stay in the output
}
