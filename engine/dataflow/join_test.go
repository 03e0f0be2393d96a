package dataflow

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sort"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/streamsql/streamsql/engine/exec"
	"github.com/streamsql/streamsql/engine/expr"
	"github.com/streamsql/streamsql/types"
)

// The incremental join's changelog, accumulated, always equals the batch
// hash join of the rows currently on both sides — for inner, left, right
// and full joins, with a residual predicate, NULL keys, duplicates, and
// random inserts and retractions on either side in any batch sizes; and
// halfway the join continues from a snapshot of its state.
func TestJoinMatchesBatchUnderRetractions(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	ctx := &expr.Ctx{Go: context.Background(), Mem: mem}
	lt := []types.T{types.TInt64, types.TInt64} // k, v
	rt := []types.T{types.TInt64, types.TText}  // k, name
	out := append(append([]types.T{}, lt...), rt...)
	// residual: l.v < 7 OR r.name <> 'x'
	residual := &expr.Logic{Or: true, Args: []expr.Expr{
		&expr.Compare{Op: expr.LT, L: &expr.Col{Idx: 1, T: types.TInt64}, R: &expr.Const{D: types.DInt(7), T: types.TInt64}},
		&expr.Compare{Op: expr.NE, L: &expr.Col{Idx: 3, T: types.TText}, R: &expr.Const{D: types.DText("x"), T: types.TText}},
	}}
	k := &expr.Col{Idx: 0, T: types.TInt64}
	// the key shapes take the three key indexes: one integer, several
	// integers, anything else (by encoding)
	keyShapes := [][]expr.Expr{
		{k},
		{k, &expr.Arith{Op: '*', L: k, R: &expr.Const{D: types.DInt(2), T: types.TInt64}, T: types.TInt64}},
		{&expr.Cast{E: k, To: types.TText}},
	}
	for shape, keys := range keyShapes {
		for _, kind := range []exec.JoinKind{exec.InnerJoin, exec.LeftJoin, exec.RightJoin, exec.FullJoin} {
			for _, batch := range []int{1, 5, 40} {
				for _, res := range []expr.Expr{nil, residual} {
					j, err := NewJoin(kind, keys, keys, res, lt, rt)
					if err != nil {
						t.Fatal(err)
					}
					r := rand.New(rand.NewPCG(uint64(batch), uint64(kind)))
					restored := false
					live := [2][][]types.Datum{}
					view := map[string]int64{}
					for step := 0; step < 60; step++ {
						side := r.IntN(2)
						var rows [][]types.Datum
						var ws []int64
						for i := 0; i < 1+r.IntN(batch); i++ {
							if len(live[side]) > 0 && r.IntN(3) == 0 {
								k := r.IntN(len(live[side]))
								rows, ws = append(rows, live[side][k]), append(ws, -1)
								live[side] = append(live[side][:k], live[side][k+1:]...)
								continue
							}
							key := types.DInt(int64(r.IntN(5)))
							if r.IntN(8) == 0 {
								key = types.NullDatum
							}
							var row []types.Datum
							if side == Left {
								row = []types.Datum{key, types.DInt(int64(r.IntN(10)))}
							} else {
								row = []types.Datum{key, types.DText([]string{"x", "y"}[r.IntN(2)])}
							}
							rows, ws = append(rows, row), append(ws, 1)
							live[side] = append(live[side], row)
						}
						ts := lt
						if side == Right {
							ts = rt
						}
						in := &Msg{Kind: MsgData, Batch: expr.BatchFromRows(mem, ts, rows), Weights: ws}
						if step == 30 && !restored {
							// halfway: continue on a join restored from a snapshot
							snap, err := j.Snapshot()
							if err != nil {
								t.Fatal(err)
							}
							j2, _ := NewJoin(kind, j.Keys[Left], j.Keys[Right], res, lt, rt)
							if err := j2.Restore(snap); err != nil {
								t.Fatal(err)
							}
							j, restored = j2, true
						}
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
							t.Fatalf("%v: row %s has weight %d", kind, row, n)
						}
						for ; n > 0; n-- {
							got = append(got, row)
						}
					}
					var want []string
					left := exec.NewScan(lt, []arrowBatch{expr.BatchFromRows(mem, lt, live[Left])})
					right := exec.NewScan(rt, []arrowBatch{expr.BatchFromRows(mem, rt, live[Right])})
					bs, err := exec.Drain(ctx, exec.NewHashJoin(kind, left, right, keys, keys, res))
					if err != nil {
						t.Fatal(err)
					}
					for _, b := range bs {
						for i := 0; i < int(b.NumRows()); i++ {
							want = append(want, renderRow(b, out, i))
						}
						b.Release()
					}
					sort.Strings(got)
					sort.Strings(want)
					if fmt.Sprint(got) != fmt.Sprint(want) {
						t.Fatalf("join %v keys %d batch %d residual %v:\n got %v\nwant %v", kind, shape, batch, res != nil, got, want)
					}
				}
			}
		}
	}
}

// Rows expire in time order whatever order they came in (a NULL time
// first); expired rows match nothing later, and a slot freed by a
// retraction before its time is not expired twice.
func TestJoinExpireBelow(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	ctx := &expr.Ctx{Go: context.Background(), Mem: mem}
	ts := []types.T{types.TInt64, types.TTimestamp}
	k := &expr.Col{Idx: 0, T: types.TInt64}
	j, err := NewJoin(exec.InnerJoin, []expr.Expr{k}, []expr.Expr{k}, nil, ts, ts)
	if err != nil {
		t.Fatal(err)
	}
	j.SetTimeColumn(Left, 1)
	process := func(side int, rows [][]types.Datum, ws []int64) int {
		t.Helper()
		in := &Msg{Kind: MsgData, Batch: expr.BatchFromRows(mem, ts, rows), Weights: ws}
		defer in.Release()
		out, err := j.Process(ctx, side, in)
		if err != nil {
			t.Fatal(err)
		}
		defer out.Release()
		return int(out.Batch.NumRows())
	}
	var rows [][]types.Datum
	for _, i := range rand.New(rand.NewPCG(1, 2)).Perm(100) {
		rows = append(rows, []types.Datum{types.DInt(int64(i % 10)), types.DInt(int64(i))})
	}
	rows = append(rows, []types.Datum{types.DInt(3), types.NullDatum})
	process(Left, rows, nil)
	// retract the row at time 7 (key 7): its heap entry must be skipped
	process(Left, [][]types.Datum{{types.DInt(7), types.DInt(7)}}, []int64{-1})
	if got := j.Rows(Left); got != 100 {
		t.Fatalf("rows = %d, want 100", got)
	}
	j.ExpireBelow(Left, 50)
	// left: times 50..99, 5 per key
	if got := j.Rows(Left); got != 50 {
		t.Fatalf("after expiry rows = %d, want 50", got)
	}
	if got := process(Right, [][]types.Datum{{types.DInt(3), types.DInt(0)}}, nil); got != 5 {
		t.Fatalf("key 3 matched %d rows, want 5 (times 53..93)", got)
	}
	j.ExpireBelow(Left, 1000)
	if got := j.Rows(Left); got != 0 {
		t.Fatalf("rows = %d, want 0", got)
	}
	if got := process(Right, [][]types.Datum{{types.DInt(3), types.DInt(0)}}, nil); got != 0 {
		t.Fatalf("matched %d rows after everything expired", got)
	}
}
