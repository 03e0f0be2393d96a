package exec

import (
	"context"
	"fmt"
	"math"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/streamsql/streamsql/types"
)

func TestSeries(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	ctx := newCtx(mem)
	for _, c := range []struct {
		s    *Series
		want string
	}{
		{NewIntSeries(types.TInt32, 1, 5, 2), "[1 3 5]"},
		{NewIntSeries(types.TInt32, 5, 1, -2), "[5 3 1]"},
		{NewIntSeries(types.TInt64, 1, 0, 1), "[]"},
		// ends before it would overflow, as PostgreSQL's does
		{NewIntSeries(types.TInt64, math.MaxInt64-2, math.MaxInt64, 1), "[9223372036854775805 9223372036854775806 9223372036854775807]"},
		{NewIntSeries(types.TInt64, math.MinInt64+1, math.MinInt64, -1), "[-9223372036854775807 -9223372036854775808]"},
		{NewTimeSeries(types.TTimestamp, 0, 2*86400_000_000, types.IntervalValue{Days: 1}, true, nil), "[1970-01-01 00:00:00 1970-01-02 00:00:00 1970-01-03 00:00:00]"},
	} {
		if got := fmt.Sprint(orderedRows(t, ctx, c.s)); got != c.want {
			t.Errorf("got %s, want %s", got, c.want)
		}
	}
	// a long series is made a batch at a time
	s := NewIntSeries(types.TInt64, 1, 10*BatchSize+1, 1)
	n, batches := 0, 0
	for {
		b, err := s.Next(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if b == nil {
			break
		}
		if b.NumRows() > BatchSize {
			t.Fatalf("a batch of %d rows", b.NumRows())
		}
		n += int(b.NumRows())
		batches++
		b.Release()
	}
	if n != 10*BatchSize+1 || batches != 11 {
		t.Fatalf("%d rows in %d batches", n, batches)
	}
	// an endless series stops when the statement is cancelled
	cctx, cancel := context.WithCancel(context.Background())
	ctx.Go = cctx
	s = NewTimeSeries(types.TTimestamp, 0, types.TimestampInfinity, types.IntervalValue{Micros: 1}, true, nil)
	b, err := s.Next(ctx)
	if err != nil || b == nil {
		t.Fatal(err)
	}
	b.Release()
	cancel()
	if _, err := s.Next(ctx); err == nil {
		t.Fatal("an endless series went on after cancel")
	}
}

// SELECT count(*) FROM generate_series(1, 10000000): 38 s and 2.4 GB when
// the series was made whole as datums.
func BenchmarkSeriesCount(b *testing.B) {
	ctx := newCtx(memory.DefaultAllocator)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		agg := NewHashAgg(NewIntSeries(types.TInt64, 1, benchRows, 1), nil, []AggSpec{{Kind: AggCountStar, T: types.TInt64}})
		if got := rows(b, ctx, agg); fmt.Sprint(got) != "[10000000]" {
			b.Fatal(got)
		}
		agg.Close()
	}
	reportRows(b, benchRows)
}
