package dataflow

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/streamsql/streamsql/engine/exec"
	"github.com/streamsql/streamsql/engine/expr"
	"github.com/streamsql/streamsql/types"
)

// windowedInput makes batches of (ts, k, v): event time advancing 1 ms per
// row, k cycling through keys values, v a small amount.
func windowedInput(batches, rows, keys int) []arrow.RecordBatch {
	ts := []types.T{types.TTimestampTZ, types.TInt64, types.TInt64}
	var out []arrow.RecordBatch
	t := int64(1_700_000_000_000_000)
	for b := 0; b < batches; b++ {
		tc, kc, vc := make([]int64, rows), make([]int64, rows), make([]int64, rows)
		for i := range tc {
			n := b*rows + i
			tc[i] = t + int64(n)*1000
			kc[i] = int64((n * 7919) % keys)
			vc[i] = int64(n % 1000)
		}
		cols := []arrow.Array{expr.NewFixed(types.TTimestampTZ, tc, nil, 0), expr.NewFixed(types.TInt64, kc, nil, 0), expr.NewFixed(types.TInt64, vc, nil, 0)}
		out = append(out, expr.NewBatch(ts, cols, rows))
		for _, c := range cols {
			c.Release()
		}
	}
	return out
}

// BenchmarkTumbleAgg is the target shape: TUMBLE(1 minute), GROUP BY
// window_start and one key of 1,000 values, count(*), sum(v), avg(v),
// changelog batches fed in-process; reported as events/s.
func BenchmarkTumbleAgg(b *testing.B) {
	for _, eowc := range []bool{false, true} {
		name := "emit=update"
		if eowc {
			name = "emit=close"
		}
		b.Run(name, func(b *testing.B) { benchTumbleAgg(b, eowc) })
	}
}

func benchTumbleAgg(b *testing.B, eowc bool) {
	const rows, keys = 1 << 16, 1000
	in := windowedInput(16, rows, keys)
	defer func() {
		for _, x := range in {
			x.Release()
		}
	}()
	wts := []types.T{types.TTimestampTZ, types.TInt64, types.TInt64, types.TTimestampTZ, types.TTimestampTZ}
	spec := WindowSpec{TimeCol: 0, TimeType: types.TTimestampTZ, Size: 60e6, Slide: 60e6}
	v := &expr.Col{Idx: 2, T: types.TInt64}
	aggs := []exec.AggSpec{
		{Kind: exec.AggCountStar, T: types.TInt64},
		{Kind: exec.AggSum, Arg: v, T: types.TNumeric},
		{Kind: exec.AggAvg, Arg: v, T: types.TNumeric},
	}
	ctx := &expr.Ctx{Go: context.Background(), Mem: memory.DefaultAllocator}
	b.ReportAllocs()
	b.ResetTimer()
	events := 0
	for i := 0; i < b.N; i++ {
		opts := IncAggOptions{AppendOnly: true, Quiet: eowc, HasWindow: true, WindowKey: 0, WindowAdd: 60e6}
		agg, err := NewIncAgg([]expr.Expr{&expr.Col{Idx: 3, T: types.TTimestampTZ}, &expr.Col{Idx: 1, T: types.TInt64}}, aggs, opts)
		if err != nil {
			b.Fatal(err)
		}
		for _, batch := range in {
			wb, _, _ := AssignWindowsLate(ctx, batch, spec, wts)
			out, err := agg.Process(ctx, &Msg{Kind: MsgData, Batch: wb})
			wb.Release()
			if err != nil {
				b.Fatal(err)
			}
			out.Release()
			// the watermark: the batch's first event time
			agg.ExpireWindows(expr.FixedValues[int64](batch.Column(0))[0])
			events += rows
		}
	}
	b.ReportMetric(float64(events)/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkIntervalJoin: two streams of rows (k of 10,000 keys, ts) joined
// on k with |l.ts - r.ts| <= 10 s, both advancing 1 ms per row, state
// expired behind each side's time as the watermark would; input rows/s.
func BenchmarkIntervalJoin(b *testing.B) {
	const rows, batch, keys = 1 << 20, 1 << 14, 10_000
	ts := []types.T{types.TInt64, types.TTimestamp}
	mk := func(seed int) []arrow.RecordBatch {
		var out []arrow.RecordBatch
		for lo := 0; lo < rows; lo += batch {
			kc, tc := make([]int64, batch), make([]int64, batch)
			for i := range kc {
				n := lo + i
				kc[i], tc[i] = int64((n*7919+seed)%keys), int64(n)*1000
			}
			cols := []arrow.Array{expr.NewFixed(types.TInt64, kc, nil, 0), expr.NewFixed(types.TTimestamp, tc, nil, 0)}
			out = append(out, expr.NewBatch(ts, cols, batch))
			for _, c := range cols {
				c.Release()
			}
		}
		return out
	}
	left, right := mk(1), mk(2)
	ctx := &expr.Ctx{Go: context.Background(), Mem: memory.DefaultAllocator}
	k := func(i int) expr.Expr { return &expr.Col{Idx: i, T: types.TInt64} }
	// residual: l.ts - r.ts between -10 s and 10 s
	residual := &expr.Logic{Args: []expr.Expr{
		&expr.Compare{Op: expr.GE, L: &expr.Col{Idx: 1, T: types.TTimestamp}, R: &expr.Arith{Op: '-', L: &expr.Col{Idx: 3, T: types.TTimestamp}, R: &expr.Const{D: types.Datum{Iv: types.IntervalValue{Micros: 10e6}}, T: types.TInterval}, T: types.TTimestamp}},
		&expr.Compare{Op: expr.LE, L: &expr.Col{Idx: 1, T: types.TTimestamp}, R: &expr.Arith{Op: '+', L: &expr.Col{Idx: 3, T: types.TTimestamp}, R: &expr.Const{D: types.Datum{Iv: types.IntervalValue{Micros: 10e6}}, T: types.TInterval}, T: types.TTimestamp}},
	}}
	b.ReportAllocs()
	b.ResetTimer()
	maxState := 0
	for i := 0; i < b.N; i++ {
		j, err := NewJoin(exec.InnerJoin, []expr.Expr{k(0)}, []expr.Expr{k(0)}, residual, ts, ts)
		if err != nil {
			b.Fatal(err)
		}
		j.SetTimeColumn(Left, 1)
		j.SetTimeColumn(Right, 1)
		for n := range left {
			for side, in := range [][]arrow.RecordBatch{left, right} {
				out, err := j.Process(ctx, side, &Msg{Kind: MsgData, Batch: in[n]})
				if err != nil {
					b.Fatal(err)
				}
				out.Release()
			}
			wm := int64((n+1)*batch)*1000 - 10e6
			for side := 0; side < 2; side++ {
				j.ExpireBelow(side, wm-10e6)
			}
			maxState = max(maxState, j.Rows(Left)+j.Rows(Right))
		}
	}
	b.ReportMetric(float64(2*rows*b.N)/b.Elapsed().Seconds(), "rows/s")
	b.ReportMetric(float64(maxState), "max-state-rows")
}

// BenchmarkStreamTableJoin: a stream of rows (k among 1M keys, v) joined
// with a table of 1M rows (k primary key, name), loaded first; stream
// rows/s through the incremental join.
func BenchmarkStreamTableJoin(b *testing.B) {
	const tableRows, streamRows, batch = 1_000_000, 1 << 20, 1 << 16
	st := []types.T{types.TInt64, types.TInt64}
	tt := []types.T{types.TInt64, types.TText}
	ctx := &expr.Ctx{Go: context.Background(), Mem: memory.DefaultAllocator}
	k := &expr.Col{Idx: 0, T: types.TInt64}
	var table [][]types.Datum
	for i := 0; i < tableRows; i++ {
		table = append(table, []types.Datum{types.DInt(int64(i)), types.DText(fmt.Sprintf("name-%d", i))})
	}
	var stream []arrow.RecordBatch
	for lo := 0; lo < streamRows; lo += batch {
		kc, vc := make([]int64, batch), make([]int64, batch)
		for i := range kc {
			kc[i], vc[i] = int64(((lo+i)*7919)%tableRows), int64(i)
		}
		cols := []arrow.Array{expr.NewFixed(types.TInt64, kc, nil, 0), expr.NewFixed(types.TInt64, vc, nil, 0)}
		stream = append(stream, expr.NewBatch(st, cols, batch))
		for _, c := range cols {
			c.Release()
		}
	}
	// revise: the stream's rows are kept, so a table change revises the
	// joined rows (the default); lookup: they are not (table_joins = 'lookup')
	for _, lookup := range []bool{false, true} {
		mode := "revise"
		if lookup {
			mode = "lookup"
		}
		b.Run("mode="+mode, func(b *testing.B) {
			b.ReportAllocs()
			elapsed := time.Duration(0)
			for i := 0; i < b.N; i++ {
				j, err := NewJoin(exec.InnerJoin, []expr.Expr{k}, []expr.Expr{k}, nil, st, tt)
				if err != nil {
					b.Fatal(err)
				}
				if lookup {
					if err := j.SetLookup(Right); err != nil {
						b.Fatal(err)
					}
				}
				tb := expr.BatchFromRows(ctx.Mem, tt, table)
				out, err := j.Process(ctx, Right, &Msg{Kind: MsgData, Batch: tb})
				if err != nil {
					b.Fatal(err)
				}
				tb.Release()
				out.Release()
				start := time.Now()
				for _, sb := range stream {
					out, err := j.Process(ctx, Left, &Msg{Kind: MsgData, Batch: sb})
					if err != nil {
						b.Fatal(err)
					}
					out.Release()
				}
				elapsed += time.Since(start)
			}
			b.ReportMetric(float64(streamRows*b.N)/elapsed.Seconds(), "stream-rows/s")
		})
	}
}

// countingState is a StateWriter that keeps nothing: it counts what a
// checkpoint writes.
type countingState struct{ entries, bytes int }

func (s *countingState) Put(key, value []byte) { s.entries++; s.bytes += len(key) + len(value) }
func (s *countingState) Delete(key []byte)     { s.entries++; s.bytes += len(key) }

// BenchmarkCheckpoint is q5's shape at a checkpoint: every one of 100,000
// groups (window, auction) of a count(*) changed since the last, and so
// has every row of the top-N over them (partitioned by window); the
// incremental checkpoint writes them all. Reported per entry written.
func BenchmarkCheckpoint(b *testing.B) {
	const groups, windows = 100_000, 5
	ctx := &expr.Ctx{Go: context.Background(), Mem: memory.DefaultAllocator}
	ts := []types.T{types.TInt64, types.TInt64}
	rows := make([][]types.Datum, groups)
	for i := range rows {
		rows[i] = []types.Datum{types.DInt(int64(i % windows)), types.DInt(int64(i))}
	}
	in := expr.BatchFromRows(ctx.Mem, ts, rows)
	defer in.Release()
	win, auction := &expr.Col{Idx: 0, T: types.TInt64}, &expr.Col{Idx: 1, T: types.TInt64}
	agg := func() any {
		a, err := NewIncAgg([]expr.Expr{win, auction}, []exec.AggSpec{{Kind: exec.AggCountStar, T: types.TInt64}}, IncAggOptions{})
		if err != nil {
			b.Fatal(err)
		}
		return a
	}
	topN := func() any {
		return NewTopN([]expr.Expr{win}, []exec.SortKey{{E: auction, Desc: true}}, 1, ts, false)
	}
	for _, c := range []struct {
		name string
		make func() any
	}{{"agg", agg}, {"topn", topN}} {
		b.Run(c.name, func(b *testing.B) {
			op := c.make()
			var s countingState
			if _, err := CheckpointOperator(op, &s, true); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				b.StopTimer()
				in.Retain()
				m := &Msg{Kind: MsgData, Batch: in}
				out, err := op.(Operator).Process(ctx, m)
				if err != nil {
					b.Fatal(err)
				}
				m.Release()
				out.Release()
				s = countingState{}
				b.StartTimer()
				if _, err := CheckpointOperator(op, &s, false); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(s.entries), "ns/entry")
			b.ReportMetric(float64(s.bytes)/float64(s.entries), "B/entry")
		})
	}
}
