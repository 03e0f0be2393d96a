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

// One integer ORDER BY key takes the int64 fast path in the heap; rows
// with a NULL key compare by the general rule (NULLS FIRST or LAST) with
// the others, and the order stays total.
func TestTopNIntKeyWithNulls(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	ctx := &expr.Ctx{Go: context.Background(), Mem: mem}
	ts := []types.T{types.TInt64, types.TInt64}
	for _, nullsFirst := range []bool{false, true} {
		op := NewTopN(nil, []exec.SortKey{{E: &expr.Col{Idx: 1, T: types.TInt64}, Desc: true, NullsFirst: nullsFirst}}, 3, ts, false)
		rows := [][]types.Datum{{types.DInt(1), types.DInt(5)}, {types.DInt(2), types.NullDatum}, {types.DInt(3), types.DInt(-7)},
			{types.DInt(4), types.DInt(9)}, {types.DInt(5), types.NullDatum}, {types.DInt(6), types.DInt(5)}}
		in := &Msg{Kind: MsgData, Batch: expr.BatchFromRows(mem, ts, rows)}
		out, err := op.Process(ctx, in)
		in.Release()
		if err != nil {
			t.Fatal(err)
		}
		got := map[int64]int64{}
		for r := 0; r < int(out.Batch.NumRows()); r++ {
			got[types.DatumAt(out.Batch.Column(0), r).I] = types.DatumAt(out.Batch.Column(2), r).I
		}
		out.Release()
		// DESC NULLS LAST: 9, 5, 5; NULLS FIRST: NULL, NULL, 9
		want := map[int64]int64{4: 1, 1: 2, 6: 3}
		if nullsFirst {
			want = map[int64]int64{2: 1, 5: 2, 4: 3}
		}
		if len(got) != 3 {
			t.Fatalf("nulls first %v: %v", nullsFirst, got)
		}
		for id := range want {
			if _, ok := got[id]; !ok {
				t.Fatalf("nulls first %v: got %v, want ids of %v", nullsFirst, got, want)
			}
		}
	}
}
