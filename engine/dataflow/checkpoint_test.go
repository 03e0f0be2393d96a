package dataflow

import (
	"context"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"sort"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/streamsql/streamsql/engine/exec"
	"github.com/streamsql/streamsql/engine/expr"
	"github.com/streamsql/streamsql/types"
)

// memState is a checkpoint store in memory: the merge of a full
// checkpoint and the deltas after it.
type memState struct {
	m       map[string][]byte
	written int // entries written by the last checkpoint
}

func (s *memState) Put(key, value []byte) { s.m[string(key)] = slices.Clone(value); s.written++ }
func (s *memState) Delete(key []byte)     { delete(s.m, string(key)); s.written++ }

func (s *memState) entries() []Entry {
	var out []Entry
	for k, v := range s.m {
		out = append(out, Entry{[]byte(k), v})
	}
	return out
}

// checkpoint takes op's checkpoint into s: a full one (from nothing) or
// the changes since the last.
func (s *memState) checkpoint(t *testing.T, op any, full bool) {
	t.Helper()
	if full || s.m == nil {
		s.m = map[string][]byte{}
		full = true
	}
	s.written = 0
	if _, err := CheckpointOperator(op, s, full); err != nil {
		t.Fatal(err)
	}
}

func outputOf(m *Msg) string {
	if m == nil || m.Batch == nil {
		return "[]"
	}
	var rows []string
	for r := 0; r < int(m.Batch.NumRows()); r++ {
		row := make([]types.Datum, m.Batch.NumCols())
		for c := range row {
			row[c] = types.DatumAt(m.Batch.Column(c), r)
		}
		rows = append(rows, fmt.Sprintf("%s×%d", rowString(row), m.Weight(r)))
	}
	sort.Strings(rows)
	return fmt.Sprint(rows)
}

// checkpointCase drives an operator with random changes (rows of (k, v)
// that are only retracted once inserted), checkpoints it now and then
// (incrementally, sometimes in full) and, at a few points, restores a new
// one from the checkpoints: from then on both must give the same output.
type checkpointCase struct {
	name       string
	appendOnly bool
	make       func(t *testing.T, restoring bool) (process func(ctx *expr.Ctx, m *Msg) (*Msg, error), op any)
}

func runCheckpointCase(t *testing.T, c checkpointCase, seed uint64) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	ctx := &expr.Ctx{Go: context.Background(), Mem: mem}
	ts := []types.T{types.TInt64, types.TInt64}
	r := rand.New(rand.NewPCG(seed, 7))
	var live [][]types.Datum
	batch := func() ([][]types.Datum, []int64) {
		var rows [][]types.Datum
		var ws []int64
		for i := 0; i < 1+r.IntN(20); i++ {
			if !c.appendOnly && len(live) > 0 && r.IntN(3) == 0 {
				k := r.IntN(len(live))
				rows, ws = append(rows, live[k]), append(ws, -1)
				live = append(live[:k], live[k+1:]...)
				continue
			}
			row := []types.Datum{types.DInt(int64(r.IntN(12))), types.DInt(int64(r.IntN(100)))}
			rows, ws = append(rows, row), append(ws, 1)
			live = append(live, row)
		}
		return rows, ws
	}
	push := func(process func(*expr.Ctx, *Msg) (*Msg, error), rows [][]types.Datum, ws []int64) string {
		m := &Msg{Kind: MsgData, Batch: expr.BatchFromRows(mem, ts, rows), Weights: ws}
		if c.appendOnly {
			m.Weights = nil
		}
		out, err := process(ctx, m)
		m.Release()
		if err != nil {
			t.Fatal(err)
		}
		s := outputOf(out)
		if out != nil {
			out.Release()
		}
		return s
	}
	orig, op := c.make(t, false)
	var store memState
	var restored func(*expr.Ctx, *Msg) (*Msg, error)
	var restoredOp any
	for step := 0; step < 300; step++ {
		rows, ws := batch()
		want := push(orig, rows, ws)
		if restored != nil {
			if got := push(restored, rows, ws); got != want {
				t.Fatalf("%s step %d: restored gives %s, the original %s", c.name, step, got, want)
			}
		}
		if step%7 == 3 {
			store.checkpoint(t, op, step%70 == 3)
			if restored != nil {
				// the restored one checkpoints into a store of its own
				// (its ids carry on from the restored ones)
				var other memState
				other.checkpoint(t, restoredOp, true)
			}
		}
		if step%50 == 31 {
			// a new instance from the checkpoint taken so far, caught up
			// with the changes since it from nothing but the original's
			// next checkpoint
			store.checkpoint(t, op, false)
			restored, restoredOp = c.make(t, true)
			if err := RestoreOperator(ctx, restoredOp, store.entries()); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, x := range []any{op, restoredOp} {
		if cl, ok := x.(Closer); ok {
			cl.Close()
		}
	}
}

func TestIncrementalCheckpointRestore(t *testing.T) {
	k := &expr.Col{Idx: 0, T: types.TInt64}
	v := &expr.Col{Idx: 1, T: types.TInt64}
	ts := []types.T{types.TInt64, types.TInt64}
	// (a numeric sum keeps the scales of the values in it)
	half := &expr.Arith{Op: '/', L: &expr.Cast{E: v, To: types.TNumeric}, R: &expr.Const{D: types.DText("4"), T: types.TNumeric}, T: types.TNumeric}
	aggs := []exec.AggSpec{{Kind: exec.AggCountStar, T: types.TInt64}, {Kind: exec.AggSum, Arg: v, T: types.TNumeric}, {Kind: exec.AggMax, Arg: v, T: types.TInt64},
		{Kind: exec.AggSum, Arg: half, T: types.TNumeric}, {Kind: exec.AggAvg, Arg: half, T: types.TNumeric}}
	cases := []checkpointCase{
		{name: "aggregate", make: func(t *testing.T, _ bool) (func(*expr.Ctx, *Msg) (*Msg, error), any) {
			a, err := NewIncAgg([]expr.Expr{k}, aggs, IncAggOptions{})
			if err != nil {
				t.Fatal(err)
			}
			return a.Process, a
		}},
		{name: "global aggregate", make: func(t *testing.T, _ bool) (func(*expr.Ctx, *Msg) (*Msg, error), any) {
			a, err := NewIncAgg(nil, aggs, IncAggOptions{})
			if err != nil {
				t.Fatal(err)
			}
			return a.Process, a
		}},
		{name: "parallel aggregate (2 workers, restored on 3)", make: func(t *testing.T, restoring bool) (func(*expr.Ctx, *Msg) (*Msg, error), any) {
			n := 2
			if restoring {
				n = 3
			}
			p, err := NewParallelAgg([]expr.Expr{k}, aggs, IncAggOptions{}, n, nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			return p.Process, p
		}},
		{name: "top-N", make: func(t *testing.T, _ bool) (func(*expr.Ctx, *Msg) (*Msg, error), any) {
			tn := NewTopN([]expr.Expr{k}, []exec.SortKey{{E: v, Desc: true}}, 2, ts, false)
			tn.Rank = true
			return tn.Process, tn
		}},
		{name: "top-N over inserts", appendOnly: true, make: func(t *testing.T, _ bool) (func(*expr.Ctx, *Msg) (*Msg, error), any) {
			tn := NewTopN([]expr.Expr{k}, []exec.SortKey{{E: v}}, 3, ts, true)
			return tn.Process, tn
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for seed := range uint64(3) {
				runCheckpointCase(t, c, seed)
			}
		})
	}
	// a left join of the changes with themselves, shifted: every other
	// batch goes to the right side
	t.Run("left join", func(t *testing.T) {
		for seed := range uint64(3) {
			runCheckpointCase(t, checkpointCase{name: "left join", make: func(t *testing.T, _ bool) (func(*expr.Ctx, *Msg) (*Msg, error), any) {
				side := 0
				j, err := NewJoin(exec.LeftJoin, []expr.Expr{k}, []expr.Expr{k}, nil, ts, ts)
				if err != nil {
					t.Fatal(err)
				}
				return func(ctx *expr.Ctx, m *Msg) (*Msg, error) {
					side = 1 - side
					// a side's retraction must be of a row it has: each
					// batch goes to both sides, the right one shifted
					out, err := j.Process(ctx, side, m)
					if err != nil {
						return nil, err
					}
					out.Release()
					return j.Process(ctx, 1-side, m)
				}, j
			}}, seed)
		}
	})
}

// An incremental checkpoint writes what changed: after the first (full)
// one, a step that touches a few groups of many writes those few.
func TestIncrementalCheckpointCostsWhatChanged(t *testing.T) {
	ctx := &expr.Ctx{Go: context.Background(), Mem: memory.DefaultAllocator}
	ts := []types.T{types.TInt64, types.TInt64}
	k := &expr.Col{Idx: 0, T: types.TInt64}
	a, err := NewIncAgg([]expr.Expr{k}, []exec.AggSpec{{Kind: exec.AggCountStar, T: types.TInt64}}, IncAggOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var rows [][]types.Datum
	for i := range 10_000 {
		rows = append(rows, []types.Datum{types.DInt(int64(i)), types.DInt(0)})
	}
	push := func(rows [][]types.Datum) {
		m := &Msg{Kind: MsgData, Batch: expr.BatchFromRows(ctx.Mem, ts, rows)}
		out, err := a.Process(ctx, m)
		if err != nil {
			t.Fatal(err)
		}
		m.Release()
		out.Release()
	}
	push(rows)
	var s memState
	s.checkpoint(t, a, true)
	if s.written != 10_000 {
		t.Fatalf("the full checkpoint wrote %d entries", s.written)
	}
	push(rows[:5])
	s.checkpoint(t, a, false)
	if s.written != 5 {
		t.Fatalf("a checkpoint after 5 groups changed wrote %d entries", s.written)
	}
	s.checkpoint(t, a, false)
	if s.written != 0 {
		t.Fatalf("a checkpoint after nothing changed wrote %d entries", s.written)
	}
}

// A top-N over an aggregate checkpoints nothing of its own: restored, it is
// rebuilt from the aggregate's restored rows through the steps between
// (here a filter and a projection), and continues exactly as the
// original — with a serial aggregate, and a parallel one restored on
// another number of workers. Over an aggregate that emits only as windows
// close it keeps its rows in the checkpoint.
func TestDerivedTopNRestore(t *testing.T) {
	for _, c := range []struct {
		name             string
		workers, restore int // 0: a serial aggregate
		quiet, derived   bool
	}{{"serial", 0, 0, false, true}, {"parallel 2 restored on 3", 2, 3, false, true}, {"quiet aggregate", 0, 0, true, false}} {
		t.Run(c.name, func(t *testing.T) {
			mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
			defer mem.AssertSize(t, 0)
			ctx := &expr.Ctx{Go: context.Background(), Mem: mem}
			ts := []types.T{types.TInt64, types.TInt64}
			col := func(i int) *expr.Col { return &expr.Col{Idx: i, T: types.TInt64} }
			type built struct {
				g    *Graph
				topN int
				view map[string]int64
			}
			build := func(workers int) built {
				g := NewGraph()
				src, _ := g.AddSource("kv")
				keys, aggs := []expr.Expr{col(0)}, []exec.AggSpec{{Kind: exec.AggCountStar, T: types.TInt64}, {Kind: exec.AggSum, Arg: col(1), T: types.TInt64}}
				var agg Operator
				if workers > 0 {
					p, err := NewParallelAgg(keys, aggs, IncAggOptions{}, workers, nil, nil)
					if err != nil {
						t.Fatal(err)
					}
					agg = p
				} else {
					a, err := NewIncAgg(keys, aggs, IncAggOptions{Quiet: c.quiet})
					if err != nil {
						t.Fatal(err)
					}
					agg = a
				}
				n := g.Add(src, agg, "aggregate")
				n = g.Add(n, &Filter{Pred: &expr.Compare{Op: expr.LT, L: col(1), R: &expr.Const{D: types.DInt(6), T: types.TInt64}}}, "count < 6")
				out := []types.T{types.TInt64, types.TInt64, types.TInt64}
				n = g.Add(n, &Project{Exprs: []expr.Expr{col(1), col(2), col(0)}, Types: out}, "count, sum, k")
				tn := NewTopN([]expr.Expr{col(0)}, []exec.SortKey{{E: col(1), Desc: true}}, 2, out, false)
				tn.Rank = true
				top := g.Add(n, tn, "top 2 sums per count")
				g.SetOutput(top)
				b := built{g: g, topN: top, view: map[string]int64{}}
				g.Out = func(ctx *expr.Ctx, m *Msg) error {
					for r := range int(m.Batch.NumRows()) {
						row := fmt.Sprint(rowsOf(m.Batch)[r])
						if b.view[row] += m.Weight(r); b.view[row] == 0 {
							delete(b.view, row)
						}
					}
					return nil
				}
				return b
			}
			r := rand.New(rand.NewPCG(11, 12))
			var live [][]types.Datum
			var batches [][][]types.Datum
			var weights [][]int64
			for range 200 {
				var rows [][]types.Datum
				var ws []int64
				for range 1 + r.IntN(15) {
					if len(live) > 0 && r.IntN(3) == 0 {
						k := r.IntN(len(live))
						rows, ws = append(rows, live[k]), append(ws, -1)
						live = append(live[:k], live[k+1:]...)
						continue
					}
					row := []types.Datum{types.DInt(int64(r.IntN(250))), types.DInt(int64(r.IntN(100)))}
					rows, ws = append(rows, row), append(ws, 1)
					live = append(live, row)
				}
				batches, weights = append(batches, rows), append(weights, ws)
			}
			feed := func(b built, from, to int) {
				for i := from; i < to; i++ {
					m := &Msg{Kind: MsgData, Batch: expr.BatchFromRows(mem, ts, batches[i]), Weights: weights[i]}
					if c.quiet {
						m.Weights = nil // (a quiet aggregate here stands for one over a stream)
					}
					if err := b.g.Push(ctx, 0, m); err != nil {
						t.Fatal(err)
					}
					m.Release()
				}
			}
			whole := build(c.workers)
			defer whole.g.Close()
			feed(whole, 0, len(batches))
			first := build(c.workers)
			defer first.g.Close()
			feed(first, 0, 120)
			sections := map[int]*memState{}
			for n := range first.g.Nodes() {
				if first.g.Operator(n) == nil {
					continue
				}
				s := &memState{m: map[string][]byte{}}
				if err := first.g.CheckpointNode(n, s, true); err != nil {
					t.Fatal(err)
				}
				sections[n] = s
			}
			if es := sections[first.topN].entries(); c.derived != (len(es) == 1 && string(es[0].Key) == string(derivedKey)) {
				t.Fatalf("derived %v, but the top-N wrote %d entries", c.derived, len(es))
			}
			second := build(c.restore)
			defer second.g.Close()
			if err := second.g.RestoreNodes(ctx, func(n int) []Entry {
				if s := sections[n]; s != nil {
					return s.entries()
				}
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			maps.Copy(second.view, first.view)
			feed(second, 120, len(batches))
			if got, want := renderView(second.view), renderView(whole.view); got != want {
				t.Fatalf("restored: %s\nwhole run: %s", got, want)
			}
			if len(whole.view) < 5 && !c.quiet {
				t.Fatalf("the run left %d rows: the test tests little", len(whole.view))
			}
		})
	}
}
