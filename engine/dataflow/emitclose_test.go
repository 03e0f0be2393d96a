package dataflow

import (
	"context"
	"fmt"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/streamsql/streamsql/engine/expr"
	"github.com/streamsql/streamsql/types"
)

// EmitOnClose holds each row's changes until the watermark passes its
// time, then sends their net once, in time order; a row revised and
// retracted before it closes never goes out; NULL times go out at once.
func TestEmitOnClose(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	ctx := &expr.Ctx{Go: context.Background(), Mem: mem}
	ts := []types.T{types.TInt64, types.TInt64} // window, value
	e := &EmitOnClose{Col: 0, Types: ts}
	push := func(rows [][]types.Datum, weights []int64) string {
		t.Helper()
		m := &Msg{Kind: MsgData, Batch: expr.BatchFromRows(mem, ts, rows), Weights: weights}
		out, err := e.Process(ctx, m)
		m.Release()
		if err != nil {
			t.Fatal(err)
		}
		defer out.Release()
		return fmt.Sprint(rowsOf(out.Batch))
	}
	row := func(w, v int64) []types.Datum { return []types.Datum{types.DInt(w), types.DInt(v)} }
	if got := push([][]types.Datum{row(20, 1), row(10, 5), {types.NullDatum, types.DInt(7)}}, nil); got != "[[0 7]]" {
		t.Fatalf("NULL time: got %s", got)
	}
	// window 10 revised (5 → 6), window 30 added and taken back
	push([][]types.Datum{row(10, 5), row(10, 6), row(30, 2), row(30, 2)}, []int64{-1, 1, 1, -1})
	if e.Held() != 2 {
		t.Fatalf("held %d rows, want 2", e.Held())
	}
	close := func(wm int64) string {
		m := e.Close(ctx, wm)
		if m == nil {
			return "none"
		}
		defer m.Release()
		return fmt.Sprint(rowsOf(m.Batch), m.Weights)
	}
	if got := close(10); got != "none" {
		t.Fatalf("watermark 10 closes nothing below it: %s", got)
	}
	if got := close(25); got != "[[10 6] [20 1]] [1 1]" {
		t.Fatalf("watermark 25: got %s", got)
	}
	if got := close(100); got != "none" || e.Held() != 0 {
		t.Fatalf("watermark 100: got %s, %d held", got, e.Held())
	}
}
