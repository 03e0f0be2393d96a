package dataflow

import (
	"context"
	"fmt"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/streamsql/streamsql/engine/expr"
	"github.com/streamsql/streamsql/types"
)

// SetOp gives each row the multiplicity its two counts make under each
// operation, times its weight, drops the counts, and leaves nothing
// allocated: a group's update (a retraction and an insertion) becomes the
// change in how many times its row is in the result.
func TestSetOpMultiplicities(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	ctx := &expr.Ctx{Go: context.Background(), Mem: mem}
	in := []types.T{types.TInt64, types.TInt64, types.TInt64} // row, left count, right count
	rows := [][]types.Datum{
		{types.DInt(1), types.DInt(3), types.DInt(1)},
		{types.DInt(1), types.DInt(3), types.DInt(2)},
		{types.DInt(2), types.DInt(0), types.DInt(2)},
		{types.DInt(3), types.DInt(2), types.DInt(0)},
	}
	weights := []int64{-1, 1, 1, 1} // row 1's group goes from (3, 1) to (3, 2)
	for _, tc := range []struct {
		except, all bool
		want        string
	}{
		{false, false, "[[1] [1]] [-1 1]"},     // INTERSECT: row 1 stays in (−1, +1 cancel downstream)
		{false, true, "[[1] [1]] [-1 2]"},      // INTERSECT ALL: min(3, 1) → min(3, 2)
		{true, false, "[[3]] [1]"},             // EXCEPT: only row 3 has no right-hand rows
		{true, true, "[[1] [1] [3]] [-2 1 2]"}, // EXCEPT ALL: 3−1 → 3−2, and row 3 twice
	} {
		op := &SetOp{Except: tc.except, All: tc.all, Types: []types.T{types.TInt64}}
		b := expr.BatchFromRows(mem, in, rows)
		m := &Msg{Kind: MsgData, Batch: b, Weights: weights}
		out, err := op.Process(ctx, m)
		m.Release()
		if err != nil {
			t.Fatal(err)
		}
		got := fmt.Sprint(rowsOf(out.Batch), out.Weights)
		out.Release()
		if got != tc.want {
			t.Errorf("except=%v all=%v: got %s, want %s", tc.except, tc.all, got, tc.want)
		}
	}
}
