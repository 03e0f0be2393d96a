package dataflow

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sort"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/streamsql/streamsql/engine/expr"
	"github.com/streamsql/streamsql/types"
)

// The as-of join's changelog, accumulated, equals a direct computation
// over the live rows — each left row with the latest right row of its key
// at or before its time — under random inserts and retractions on both
// sides, for inner and left forms, strict and not.
func TestAsOfJoinMatchesDirect(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	ctx := &expr.Ctx{Go: context.Background(), Mem: mem}
	ts := []types.T{types.TInt64, types.TTimestamp, types.TInt64} // key, time, value
	out := append(append([]types.T{}, ts...), ts...)
	key := []expr.Expr{&expr.Col{Idx: 0, T: types.TInt64}}
	for _, leftOuter := range []bool{false, true} {
		for _, strict := range []bool{false, true} {
			j := NewAsOfJoin(leftOuter, key, key, [2]int{1, 1}, strict, ts, ts)
			r := rand.New(rand.NewPCG(7, 9))
			var live [2][][]types.Datum
			view := map[string]int64{}
			for step := 0; step < 300; step++ {
				side := r.IntN(2)
				var rows [][]types.Datum
				var ws []int64
				for i := 0; i < 1+r.IntN(4); i++ {
					if len(live[side]) > 0 && r.IntN(4) == 0 {
						k := r.IntN(len(live[side]))
						rows, ws = append(rows, live[side][k]), append(ws, -1)
						live[side] = append(live[side][:k], live[side][k+1:]...)
						continue
					}
					row := []types.Datum{types.DInt(int64(r.IntN(3))), types.DInt(int64(r.IntN(40))), types.DInt(int64(r.IntN(1000)))}
					rows, ws = append(rows, row), append(ws, 1)
					live[side] = append(live[side], row)
				}
				in := &Msg{Kind: MsgData, Batch: expr.BatchFromRows(mem, ts, rows), Weights: ws}
				o, err := j.Process(ctx, side, in)
				in.Release()
				if err != nil {
					t.Fatal(err)
				}
				for i := 0; i < int(o.Batch.NumRows()); i++ {
					view[renderRow(o.Batch, out, i)] += o.Weight(i)
				}
				o.Release()
			}
			var got []string
			for row, n := range view {
				if n < 0 {
					t.Fatalf("row %s has weight %d", row, n)
				}
				for ; n > 0; n-- {
					got = append(got, row)
				}
			}
			// direct: the latest right row (ties: the largest encoding, as the join orders them)
			var want []string
			for _, l := range live[Left] {
				var best []types.Datum
				for _, rr := range live[Right] {
					if rr[0].I != l[0].I || rr[1].I > l[1].I || (strict && rr[1].I == l[1].I) {
						continue
					}
					if best == nil || rr[1].I > best[1].I || (rr[1].I == best[1].I && rr[2].I > best[2].I) {
						best = rr
					}
				}
				row := append([]types.Datum{}, l...)
				if best == nil {
					if !leftOuter {
						continue
					}
					row = append(row, types.NullDatum, types.NullDatum, types.NullDatum)
				} else {
					row = append(row, best...)
				}
				b := expr.BatchFromRows(mem, out, [][]types.Datum{row})
				want = append(want, renderRow(b, out, 0))
				b.Release()
			}
			sort.Strings(got)
			sort.Strings(want)
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Fatalf("left=%v strict=%v:\n got %v\nwant %v", leftOuter, strict, got, want)
			}
		}
	}
}

// A batch of right rows revises each left row once: the join's changes
// for it are at most its old output out and its new one in, however many
// of the batch's rows fell before it (not one pair per right row).
func TestAsOfJoinBatchRevisesOnce(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	ctx := &expr.Ctx{Go: context.Background(), Mem: mem}
	ts := []types.T{types.TInt64, types.TTimestamp, types.TInt64}
	key := []expr.Expr{&expr.Col{Idx: 0, T: types.TInt64}}
	j := NewAsOfJoin(true, key, key, [2]int{1, 1}, false, ts, ts)
	push := func(side int, rows [][]types.Datum) int {
		ws := make([]int64, len(rows))
		for i := range ws {
			ws[i] = 1
		}
		in := &Msg{Kind: MsgData, Batch: expr.BatchFromRows(mem, ts, rows), Weights: ws}
		o, err := j.Process(ctx, side, in)
		in.Release()
		if err != nil {
			t.Fatal(err)
		}
		defer o.Release()
		return int(o.Batch.NumRows())
	}
	var lefts, rights [][]types.Datum
	for i := 0; i < 100; i++ {
		lefts = append(lefts, []types.Datum{types.DInt(1), types.DInt(int64(1000 + i)), types.DInt(int64(i))})
		rights = append(rights, []types.Datum{types.DInt(1), types.DInt(int64(i)), types.DInt(int64(i))})
	}
	if n := push(Left, lefts); n != 100 {
		t.Fatalf("left rows: %d changes, want 100 (NULL-padded)", n)
	}
	if n := push(Right, rights); n != 200 {
		t.Fatalf("100 right rows before 100 left rows: %d changes, want 200 (each left row out and in once)", n)
	}
}
