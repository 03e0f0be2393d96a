package exec

import (
	"math"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/streamsql/streamsql/engine/expr"
	"github.com/streamsql/streamsql/types"
)

// Series is generate_series(start, stop, step) over integers or
// timestamps, made a batch at a time: a series of any length costs one
// batch of memory. An integer series ends before its next value would
// overflow, as PostgreSQL's does.
type Series struct {
	T         types.T
	cur, stop int64
	step      int64               // integers
	iv        types.IntervalValue // timestamps
	loc       *time.Location      // timestamptz steps of days and months
	up, ints  bool
	done      bool
}

// NewIntSeries is a series of integers of type t; step is not 0.
func NewIntSeries(t types.T, start, stop, step int64) *Series {
	return &Series{T: t, cur: start, stop: stop, step: step, up: step > 0, ints: true}
}

// NewTimeSeries is a series of timestamps (of type t) stepping by iv, whose
// sign is up; loc is the zone of a timestamptz series (nil otherwise).
func NewTimeSeries(t types.T, start, stop int64, iv types.IntervalValue, up bool, loc *time.Location) *Series {
	return &Series{T: t, cur: start, stop: stop, iv: iv, up: up, loc: loc}
}

// NextInt is the integer after v in a series stepping by step; false when
// it would overflow.
func NextInt(v, step int64) (int64, bool) {
	if (step > 0 && v > math.MaxInt64-step) || (step < 0 && v < math.MinInt64-step) {
		return 0, false
	}
	return v + step, true
}

func (s *Series) Types() []types.T { return []types.T{s.T} }

func (s *Series) Next(ctx *expr.Ctx) (arrow.RecordBatch, error) {
	if err := checkCancel(ctx); err != nil {
		return nil, err
	}
	if s.done {
		return nil, nil
	}
	b := types.NewBuilder(ctx.Mem, s.T)
	defer b.Release()
	b.Reserve(BatchSize)
	i64, _ := b.(*array.Int64Builder)
	n := 0
	for n < BatchSize {
		if (s.up && s.cur > s.stop) || (!s.up && s.cur < s.stop) {
			s.done = true
			break
		}
		if i64 != nil {
			i64.UnsafeAppend(s.cur)
		} else {
			types.AppendDatum(b, s.T, types.DInt(s.cur))
		}
		n++
		if s.ints {
			next, ok := NextInt(s.cur, s.step)
			if !ok {
				s.done = true
				break
			}
			s.cur = next
			continue
		}
		next, err := types.AddInterval(s.cur, s.iv, s.loc)
		if err != nil {
			return nil, err
		}
		s.cur = next
	}
	if n == 0 {
		return nil, nil
	}
	col := b.NewArray()
	defer col.Release()
	return expr.NewBatch(s.Types(), []arrow.Array{col}, n), nil
}

func (s *Series) Close() {}
