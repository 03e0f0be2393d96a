package exec

import (
	"math/rand/v2"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/streamsql/streamsql/engine/expr"
	"github.com/streamsql/streamsql/types"
)

const benchRows = 10_000_000

// benchData is 10M rows of (key BIGINT in 0..999, v DOUBLE, w BIGINT) in
// batches of BatchSize, built once.
var benchData []arrow.RecordBatch

func benchBatches(b *testing.B) []arrow.RecordBatch {
	if benchData != nil {
		return benchData
	}
	ts := []types.T{types.TInt64, types.TFloat64, types.TInt64}
	r := rand.New(rand.NewPCG(1, 2))
	for start := 0; start < benchRows; start += BatchSize {
		n := min(BatchSize, benchRows-start)
		keys := make([]int64, n)
		vals := make([]float64, n)
		ws := make([]int64, n)
		for i := range keys {
			keys[i] = int64(r.IntN(1000))
			vals[i] = r.Float64() * 100
			ws[i] = int64(r.IntN(1_000_000))
		}
		cols := []arrow.Array{expr.NewFixed(types.TInt64, keys, nil, 0), expr.NewFixed(types.TFloat64, vals, nil, 0), expr.NewFixed(types.TInt64, ws, nil, 0)}
		benchData = append(benchData, expr.NewBatch(ts, cols, n))
	}
	return benchData
}

func retained(bs []arrow.RecordBatch) []arrow.RecordBatch {
	out := make([]arrow.RecordBatch, len(bs))
	for i, b := range bs {
		b.Retain()
		out[i] = b
	}
	return out
}

func reportRows(b *testing.B, rows int) {
	b.ReportMetric(float64(rows)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}

// SELECT key, count(*), sum(v), avg(v) FROM t GROUP BY key — 1,000 keys.
func BenchmarkGroupBySum(b *testing.B) {
	data := benchBatches(b)
	ts := []types.T{types.TInt64, types.TFloat64, types.TInt64}
	ctx := newCtx(memory.DefaultAllocator)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		agg := NewHashAgg(NewScan(ts, retained(data)), []expr.Expr{col(0, types.TInt64)}, []AggSpec{
			{Kind: AggCountStar, T: types.TInt64},
			{Kind: AggSum, Arg: col(1, types.TFloat64), T: types.TFloat64},
			{Kind: AggAvg, Arg: col(1, types.TFloat64), T: types.TFloat64},
		})
		out, err := Drain(ctx, agg)
		if err != nil {
			b.Fatal(err)
		}
		n := 0
		for _, o := range out {
			n += int(o.NumRows())
			o.Release()
		}
		if n != 1000 {
			b.Fatalf("%d groups", n)
		}
	}
	reportRows(b, benchRows)
}

// SELECT key, v * 2 + w FROM t WHERE v > 50 AND w < 500000.
func BenchmarkFilterProject(b *testing.B) {
	data := benchBatches(b)
	ts := []types.T{types.TInt64, types.TFloat64, types.TInt64}
	ctx := newCtx(memory.DefaultAllocator)
	pred := &expr.Logic{Args: []expr.Expr{
		&expr.Compare{Op: expr.GT, L: col(1, types.TFloat64), R: &expr.Const{D: types.DFloat(50), T: types.TFloat64}},
		&expr.Compare{Op: expr.LT, L: col(2, types.TInt64), R: &expr.Const{D: types.DInt(500000), T: types.TInt64}},
	}}
	proj := []expr.Expr{col(0, types.TInt64), &expr.Arith{Op: '+', T: types.TFloat64,
		L: &expr.Arith{Op: '*', L: col(1, types.TFloat64), R: &expr.Const{D: types.DFloat(2), T: types.TFloat64}, T: types.TFloat64},
		R: &expr.Cast{E: col(2, types.TInt64), To: types.TFloat64}}}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		op := NewProject(&Filter{In: NewScan(ts, retained(data)), Pred: pred}, proj)
		n := 0
		for {
			out, err := op.Next(ctx)
			if err != nil {
				b.Fatal(err)
			}
			if out == nil {
				break
			}
			n += int(out.NumRows())
			out.Release()
		}
		op.Close()
		if n < benchRows/5 {
			b.Fatalf("%d rows", n)
		}
	}
	reportRows(b, benchRows)
}

// SELECT key, sum(w) OVER (PARTITION BY key ORDER BY w), max(v) OVER
// (PARTITION BY key ORDER BY w ROWS BETWEEN 10 PRECEDING AND 10 FOLLOWING)
// FROM t — 1M rows in 1,000 partitions: running and sliding frames.
func BenchmarkWindowFrames(b *testing.B) {
	data := benchBatches(b)[:1_000_000/BatchSize]
	rows := 0
	for _, d := range data {
		rows += int(d.NumRows())
	}
	ts := []types.T{types.TInt64, types.TFloat64, types.TInt64}
	ctx := newCtx(memory.DefaultAllocator)
	sliding := &Frame{Mode: FrameRows, Start: FrameBound{Kind: OffsetPreceding, N: 10}, End: FrameBound{Kind: OffsetFollowing, N: 10}}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		w := NewWindow(NewScan(ts, retained(data)), []expr.Expr{col(0, types.TInt64)}, []SortKey{{E: col(2, types.TInt64)}}, []WinFunc{
			{Kind: WinSum, Arg: col(2, types.TInt64), T: types.TNumeric},
			{Kind: WinMax, Arg: col(1, types.TFloat64), T: types.TFloat64, Frame: sliding},
		})
		out, err := Drain(ctx, w)
		if err != nil {
			b.Fatal(err)
		}
		for _, o := range out {
			o.Release()
		}
	}
	reportRows(b, rows)
}
