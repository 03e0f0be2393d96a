package dataflow

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/streamsql/streamsql/engine/exec"
	"github.com/streamsql/streamsql/engine/expr"
	"github.com/streamsql/streamsql/types"
)

// The encoding orders keys exactly as the SQL values compare (NULL first).
func TestOrderedKeyOrder(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	gen := map[types.Kind]func() types.Datum{
		types.Int64:   func() types.Datum { return types.DInt(r.Int64N(2000) - 1000) },
		types.Float64: func() types.Datum { return types.DFloat((r.Float64() - 0.5) * math.Pow(10, float64(r.IntN(6)))) },
		types.Text: func() types.Datum {
			b := make([]byte, r.IntN(4))
			for i := range b {
				b[i] = "a\x00b"[r.IntN(3)]
			}
			return types.DText(string(b))
		},
		types.Timestamp: func() types.Datum { return types.DInt(r.Int64N(1e15) - 5e14) },
	}
	for kind, g := range gen {
		typ := types.T{Kind: kind, Mod: -1}
		for i := 0; i < 2000; i++ {
			x, y := g(), g()
			if r.IntN(10) == 0 {
				x = types.NullDatum
			}
			want := 0
			switch {
			case x.Null && y.Null:
			case x.Null:
				want = -1
			case y.Null:
				want = 1
			default:
				want = types.Compare(typ, x, y)
			}
			got := bytes.Compare(AppendOrderedKey(nil, typ, x), AppendOrderedKey(nil, typ, y))
			if got != want {
				t.Fatalf("%v: %+v vs %+v: key order %d, value order %d", kind, x, y, got, want)
			}
		}
	}
}

func TestWindowAssignment(t *testing.T) {
	const min = int64(60e6)
	if s := TumbleStart(90e6, min, 0); s != min {
		t.Fatalf("tumble: %d", s)
	}
	if s := TumbleStart(-1, min, 0); s != -min {
		t.Fatalf("tumble before the epoch: %d", s)
	}
	if s := TumbleStart(70e6, min, 15e6); s != 15e6 {
		t.Fatalf("tumble with offset: %d", s)
	}
	// 10-minute windows every 4 minutes: a time is in 2 or 3 of them
	got := HopStarts(nil, 9*min, 4*min, 10*min)
	if fmt.Sprint(got) != fmt.Sprint([]int64{0, 4 * min, 8 * min}) {
		t.Fatalf("hop: %v", got)
	}
	for ts := int64(-20 * min); ts < 20*min; ts += 7e6 {
		for _, s := range HopStarts(nil, ts, 4*min, 10*min) {
			if ts < s || ts >= s+10*min || s%(4*min) != 0 {
				t.Fatalf("hop %d: bad window %d", ts, s)
			}
		}
	}
}

func TestStateSnapshotRestore(t *testing.T) {
	s := NewMemState()
	for i := 0; i < 100; i++ {
		s.Put(AppendOrderedKey(nil, types.TInt64, types.DInt(int64(50-i))), []byte(fmt.Sprint(i)))
	}
	s.Delete(AppendOrderedKey(nil, types.TInt64, types.DInt(0)))
	var first []byte
	s.Scan(nil, nil, func(k, v []byte) bool { first = v; return false })
	if string(first) != "99" {
		t.Fatalf("scan starts at %q", first)
	}
	r := NewMemState()
	if err := r.Restore(s.Snapshot()); err != nil {
		t.Fatal(err)
	}
	if r.Len() != 99 || !bytes.Equal(r.Snapshot(), s.Snapshot()) {
		t.Fatalf("restored %d entries", r.Len())
	}
}

// The incremental aggregate's changelog, applied to an empty view, always
// equals the batch aggregate of the rows currently in the input, however
// they were inserted and retracted and in whatever batch sizes.
func TestIncAggMatchesBatchUnderRetractions(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	ctx := &expr.Ctx{Go: context.Background(), Mem: mem}
	ts := []types.T{types.TText, types.TInt64, types.TFloat64, types.TInt32}
	col := func(i int) *expr.Col { return &expr.Col{Idx: i, T: ts[i]} }
	aggs := []exec.AggSpec{
		{Kind: exec.AggCountStar, T: types.TInt64},
		{Kind: exec.AggSum, Arg: col(1), T: types.TNumeric},
		{Kind: exec.AggMin, Arg: col(1), T: types.TInt64},
		{Kind: exec.AggMax, Arg: col(2), T: types.TFloat64},
		{Kind: exec.AggAvg, Arg: col(1), T: types.TNumeric},
		{Kind: exec.AggCount, Arg: col(2), T: types.TInt64},
		{Kind: exec.AggCount, Arg: col(1), T: types.TInt64, Distinct: true},
		{Kind: exec.AggSum, Arg: col(1), T: types.TNumeric, Distinct: true},
		{Kind: exec.AggStddevSamp, Arg: col(1), T: types.TNumeric},
		{Kind: exec.AggVarPop, Arg: col(1), T: types.TNumeric},
		{Kind: exec.AggMin, Arg: col(2), T: types.TFloat64},
	}
	// text keys (the general table), integer and text keys, two integer
	// keys with NULLs (the two-integer table, whose groups come and go),
	// and an append-only input over one integer key (min/max keep only the
	// extreme)
	keySets := [][]expr.Expr{{col(0)}, {col(3), col(0)}, {col(3), col(1)}, {col(3)}}
	for run, batchSize := range []int{1, 7, 200, 1, 7, 200, 1, 7, 200, 1, 7, 200} {
		keys := keySets[run/3]
		appendOnly := run >= 9
		agg, err := NewIncAgg(keys, append(aggs, exec.AggSpec{Kind: exec.AggMax, Arg: col(1), T: types.TInt64}), IncAggOptions{AppendOnly: appendOnly})
		if err != nil {
			t.Fatal(err)
		}
		r := rand.New(rand.NewPCG(uint64(batchSize), 3))
		var live [][]types.Datum
		view := map[string]int64{}
		for step := 0; step < 60; step++ {
			var rows [][]types.Datum
			var ws []int64
			for i := 0; i < batchSize; i++ {
				if len(live) > 0 && r.IntN(3) == 0 && !appendOnly {
					k := r.IntN(len(live))
					rows, ws = append(rows, live[k]), append(ws, -1)
					live = append(live[:k], live[k+1:]...)
					continue
				}
				row := []types.Datum{types.DText([]string{"a", "b", "c"}[r.IntN(3)]), types.DInt(int64(r.IntN(100))), types.DFloat(float64(r.IntN(50))), types.DInt(int64(r.IntN(40)))}
				if r.IntN(6) == 0 {
					row[2] = types.NullDatum
				}
				if r.IntN(9) == 0 {
					row[3] = types.NullDatum
				}
				rows, ws = append(rows, row), append(ws, 1)
				live = append(live, row)
			}
			in := &Msg{Kind: MsgData, Batch: expr.BatchFromRows(mem, ts, rows), Weights: ws}
			out, err := agg.Process(ctx, in)
			in.Release()
			if err != nil {
				t.Fatal(err)
			}
			for i := 0; i < int(out.Batch.NumRows()); i++ {
				view[renderRow(out.Batch, agg.Types(), i)] += out.Weight(i)
			}
			out.Release()
		}
		// the batch engine over the live rows
		var want []string
		if len(live) > 0 {
			scan := exec.NewScan(ts, []arrowBatch{expr.BatchFromRows(mem, ts, live)})
			bs, err := exec.Drain(ctx, exec.NewHashAgg(scan, keys, append(aggs, exec.AggSpec{Kind: exec.AggMax, Arg: col(1), T: types.TInt64})))
			if err != nil {
				t.Fatal(err)
			}
			for _, b := range bs {
				for i := 0; i < int(b.NumRows()); i++ {
					want = append(want, renderRow(b, agg.Types(), i))
				}
				b.Release()
			}
		}
		var got []string
		for k, w := range view {
			if w < 0 || w > 1 {
				t.Fatalf("batch size %d: row %s has weight %d", batchSize, k, w)
			}
			if w == 1 {
				got = append(got, k)
			}
		}
		sort.Strings(want)
		sort.Strings(got)
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("keys %v, batch size %d:\n got %v\nwant %v", keys, batchSize, got, want)
		}
	}
}

func renderRow(b arrowBatch, ts []types.T, i int) string {
	s := ""
	for c := 0; c < int(b.NumCols()); c++ {
		d := types.DatumAt(b.Column(c), i)
		if d.Null {
			s += "NULL "
		} else {
			s += types.FormatText(ts[c], d, nil) + " "
		}
	}
	return s
}

func TestWatermarks(t *testing.T) {
	t0 := time.Unix(0, 0)
	w := NewWatermarks(2, 5, time.Second)
	if _, ok := w.Current(t0); ok {
		t.Fatal("a watermark before any data")
	}
	w.Observe(0, 100, t0)
	// shard 1 has never seen data: it holds the watermark back...
	if _, ok := w.Current(t0); ok {
		t.Fatal("a watermark while shard 1 has no data")
	}
	w.Observe(1, 50, t0)
	if wm, _ := w.Current(t0); wm != 45 {
		t.Fatalf("min over shards: %d", wm)
	}
	w.Observe(1, 200, t0)
	if wm, _ := w.Current(t0); wm != 95 {
		t.Fatalf("after shard 1 advanced: %d", wm)
	}
	// ...an idle shard stops holding it back, and it never goes backwards
	w.Observe(0, 300, t0.Add(3*time.Second))
	if wm, _ := w.Current(t0.Add(3 * time.Second)); wm != 295 {
		t.Fatalf("with shard 1 idle: %d", wm)
	}
	w.Observe(1, 210, t0.Add(3*time.Second))
	if wm, _ := w.Current(t0.Add(3 * time.Second)); wm != 295 {
		t.Fatalf("watermark went backwards to %d", wm)
	}
	if !w.Late(200) || w.Late(296) {
		t.Fatal("lateness")
	}
}
