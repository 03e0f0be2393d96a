package dataflow

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/streamsql/streamsql/engine/exec"
	"github.com/streamsql/streamsql/engine/expr"
	"github.com/streamsql/streamsql/types"
)

// operator is what the round-trip test drives.
type operator interface {
	Process(ctx *expr.Ctx, m *Msg) (*Msg, error)
}

// changeStream makes batches of random inserts and retractions of rows
// (text key, int, float, timestamp) that were inserted before.
func changeStream(seed uint64, batches int, retract bool) ([][][]types.Datum, [][]int64) {
	r := rand.New(rand.NewPCG(seed, 7))
	var live [][]types.Datum
	var rows [][][]types.Datum
	var ws [][]int64
	for b := 0; b < batches; b++ {
		var br [][]types.Datum
		var bw []int64
		for i := 0; i < 1+r.IntN(20); i++ {
			if retract && len(live) > 0 && r.IntN(3) == 0 {
				k := r.IntN(len(live))
				br, bw = append(br, live[k]), append(bw, -1)
				live = append(live[:k], live[k+1:]...)
				continue
			}
			row := []types.Datum{types.DText([]string{"a", "b", "c", "d"}[r.IntN(4)]), types.DInt(int64(r.IntN(50))), types.DFloat(float64(r.IntN(9))), types.DInt(int64(b*1_000_000 + r.IntN(3_000_000)))}
			if r.IntN(7) == 0 {
				row[1] = types.NullDatum
			}
			br, bw = append(br, row), append(bw, 1)
			live = append(live, row)
		}
		rows, ws = append(rows, br), append(ws, bw)
	}
	return rows, ws
}

var changeTypes = []types.T{types.TText, types.TInt64, types.TFloat64, types.TTimestamp}

func render(t *testing.T, m *Msg, ts []types.T) []string {
	t.Helper()
	var out []string
	for i := 0; i < int(m.Batch.NumRows()); i++ {
		out = append(out, fmt.Sprintf("%+d %s", m.Weight(i), renderRow(m.Batch, ts, i)))
	}
	sort.Strings(out)
	return out
}

// roundTrip feeds the first half of a change stream to a, snapshots it
// into b (a fresh operator), then feeds the second half to both: every
// output must be the same.
func roundTrip(t *testing.T, name string, retract bool, a, b operator, outTs []types.T, snap func() ([]byte, error), restore func([]byte) error) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	ctx := &expr.Ctx{Go: context.Background(), Mem: mem}
	rows, ws := changeStream(uint64(len(name)), 80, retract)
	feed := func(op operator, i int) []string {
		in := &Msg{Kind: MsgData, Batch: expr.BatchFromRows(mem, changeTypes, rows[i]), Weights: ws[i]}
		out, err := op.Process(ctx, in)
		in.Release()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		defer out.Release()
		return render(t, out, outTs)
	}
	for i := 0; i < 40; i++ {
		feed(a, i)
	}
	p, err := snap()
	if err != nil {
		t.Fatalf("%s: snapshot: %v", name, err)
	}
	if err := restore(p); err != nil {
		t.Fatalf("%s: restore: %v", name, err)
	}
	for i := 40; i < 80; i++ {
		x, y := feed(a, i), feed(b, i)
		if fmt.Sprint(x) != fmt.Sprint(y) {
			t.Fatalf("%s: batch %d after restore:\n original %v\n restored %v", name, i, x, y)
		}
	}
	// a corrupt snapshot is an error, not a panic
	if len(p) > 2 {
		if err := restore(p[:len(p)/2]); err == nil {
			t.Fatalf("%s: a truncated snapshot restored", name)
		}
	}
}

func TestSnapshotRestoreRoundTrip(t *testing.T) {
	ctx := &expr.Ctx{Go: context.Background(), Mem: memory.DefaultAllocator}
	col := func(i int) *expr.Col { return &expr.Col{Idx: i, T: changeTypes[i]} }
	aggs := []exec.AggSpec{
		{Kind: exec.AggCountStar, T: types.TInt64},
		{Kind: exec.AggSum, Arg: col(1), T: types.TNumeric},
		{Kind: exec.AggAvg, Arg: col(2), T: types.TFloat64},
		{Kind: exec.AggMin, Arg: col(1), T: types.TInt64},
		{Kind: exec.AggCount, Arg: col(1), T: types.TInt64, Distinct: true},
		{Kind: exec.AggStddevSamp, Arg: col(1), T: types.TNumeric},
		{Kind: exec.AggMax, Arg: col(2), T: types.TFloat64},
	}
	for _, tc := range []struct {
		name    string
		keys    []expr.Expr
		opts    IncAggOptions
		retract bool
	}{
		{"text keys, retractions", []expr.Expr{col(0)}, IncAggOptions{}, true},
		{"integer keys, retractions", []expr.Expr{col(1)}, IncAggOptions{}, true},
		{"append-only", []expr.Expr{col(0), col(1)}, IncAggOptions{AppendOnly: true}, false},
	} {
		a, err := NewIncAgg(tc.keys, aggs, tc.opts)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := NewIncAgg(tc.keys, aggs, tc.opts)
		roundTrip(t, tc.name, tc.retract, a, b, a.Types(), a.Snapshot, func(p []byte) error { return b.Restore(ctx, p) })
	}

	order := []exec.SortKey{{E: col(1), Desc: true, NullsFirst: true}, {E: col(2)}}
	for _, retract := range []bool{true, false} {
		a := NewTopN([]expr.Expr{col(0)}, order, 3, changeTypes, !retract)
		b := NewTopN([]expr.Expr{col(0)}, order, 3, changeTypes, !retract)
		roundTrip(t, fmt.Sprintf("top-N retract=%v", retract), retract, a, b, a.Types(), a.Snapshot, b.Restore)
	}

	// sessions of 2 s per key: the session's count and sum
	spec := WindowSpec{TimeCol: 3, TimeType: types.TTimestamp, Session: true, Gap: 2_000_000}
	outTs := []types.T{types.TTimestamp, types.TTimestamp, types.TText, types.TInt64}
	compute := func(ctx *expr.Ctx, b arrow.RecordBatch) ([][]types.Datum, error) {
		n := int(b.NumRows())
		first := types.DatumAt(b.Column(4), 0)
		end := types.DatumAt(b.Column(5), 0)
		return [][]types.Datum{{first, end, types.DatumAt(b.Column(0), 0), types.DInt(int64(n))}}, nil
	}
	sa := NewSessionAgg(spec, []int{0}, changeTypes, outTs, compute)
	sb := NewSessionAgg(spec, []int{0}, changeTypes, outTs, compute)
	roundTrip(t, "sessions", true, sa, sb, outTs, sa.Snapshot, func(p []byte) error { return sb.Restore(ctx, p) })

	w := NewWatermarks(3, 0, time.Second)
	now := time.Unix(100, 0)
	w.Observe(0, 50, now)
	w.Observe(2, 70, now)
	w2 := NewWatermarks(3, 0, time.Second)
	if err := w2.Restore(w.Snapshot(), now); err != nil {
		t.Fatal(err)
	}
	w.Observe(1, 60, now)
	w2.Observe(1, 60, now)
	x, okx := w.Current(now)
	y, oky := w2.Current(now)
	if x != y || okx != oky || x != 50 {
		t.Fatalf("watermarks after restore: %d %v, %d %v", x, okx, y, oky)
	}
}

// The aggregate split over workers by key hash emits, step by step, the
// same changes as one aggregate.
func TestParallelAggMatchesSerial(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	ctx := &expr.Ctx{Go: context.Background(), Mem: mem}
	col := func(i int) *expr.Col { return &expr.Col{Idx: i, T: changeTypes[i]} }
	aggs := []exec.AggSpec{
		{Kind: exec.AggCountStar, T: types.TInt64},
		{Kind: exec.AggSum, Arg: col(1), T: types.TNumeric},
		{Kind: exec.AggMax, Arg: col(2), T: types.TFloat64},
	}
	for _, keys := range [][]expr.Expr{{col(0)}, {col(1)}, {col(0), col(1)}} {
		serial, _ := NewIncAgg(keys, aggs, IncAggOptions{})
		par, err := NewParallelAgg(keys, aggs, IncAggOptions{}, 3, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		rows, ws := changeStream(9, 60, true)
		for i := range rows {
			in := &Msg{Kind: MsgData, Batch: expr.BatchFromRows(mem, changeTypes, rows[i]), Weights: ws[i]}
			a, err := serial.Process(ctx, in)
			if err != nil {
				t.Fatal(err)
			}
			b, err := par.Process(ctx, in)
			if err != nil {
				t.Fatal(err)
			}
			in.Release()
			x, y := render(t, a, serial.Types()), render(t, b, par.Types())
			a.Release()
			b.Release()
			if fmt.Sprint(x) != fmt.Sprint(y) {
				t.Fatalf("keys %v, step %d:\n serial   %v\n parallel %v", keys, i, x, y)
			}
		}
		if serial.Groups() != par.Groups() {
			t.Fatalf("groups: %d vs %d", serial.Groups(), par.Groups())
		}
		par.Close()
	}
}

// Snapshot values come back exactly — every field of every datum, NaN,
// -0 and the extremes included — and a truncated or damaged value is an
// error, never a panic or a wrong value taken for a right one.
func TestDatumEncoding(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	ints := []int64{0, 1, -1, math.MaxInt64, math.MinInt64, 1 << 40}
	floats := []float64{0, math.Copysign(0, -1), math.NaN(), math.Inf(-1), 1.5, math.MaxFloat64}
	strs := []string{"", "a", "héllo", string(make([]byte, 300))}
	var ds []types.Datum
	for range 2000 {
		d := types.Datum{I: ints[r.IntN(len(ints))], F: floats[r.IntN(len(floats))], S: strs[r.IntN(len(strs))]}
		if r.IntN(3) == 0 {
			d.Iv = types.IntervalValue{Months: r.Int32() - 1<<30, Days: -r.Int32N(100), Micros: r.Int64() - 1<<62}
		}
		if r.IntN(10) == 0 {
			d = types.NullDatum
		}
		ds = append(ds, d)
	}
	w := &snapWriter{}
	w.row(nil, ds...)
	rd := &snapReader{p: w.buf}
	got := rd.row(make([]types.T, len(ds)))
	if rd.err != nil || len(rd.p) != 0 {
		t.Fatalf("decoding: %v, %d bytes left", rd.err, len(rd.p))
	}
	for i := range ds {
		a, b := ds[i], got[i]
		if a.Null != b.Null || a.I != b.I || math.Float64bits(a.F) != math.Float64bits(b.F) || a.S != b.S || a.Iv != b.Iv {
			t.Fatalf("value %d: wrote %+v, read %+v", i, a, b)
		}
	}
	for n := 0; n < len(w.buf); n += 1 + r.IntN(200) {
		rd := &snapReader{p: w.buf[:n]}
		rd.row(make([]types.T, len(ds)))
		if rd.err == nil {
			t.Fatalf("%d of %d bytes decoded as whole", n, len(w.buf))
		}
	}
	if _, _, ok := readDatum([]byte{0x40}); ok {
		t.Fatal("an unknown tag was accepted")
	}
}
