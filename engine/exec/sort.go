package exec

import (
	"sort"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/streamsql/streamsql/engine/expr"
	"github.com/streamsql/streamsql/types"
)

// SortKey orders by an expression; NULLs sort as if larger than every value
// unless NullsFirst says otherwise (PostgreSQL's default is NULLS LAST for
// ASC and NULLS FIRST for DESC; the planner fills NullsFirst accordingly).
type SortKey struct {
	E          expr.Expr
	Desc       bool
	NullsFirst bool
}

// Sort materialises its input and emits it ordered by Keys (a stable sort).
// With Limit >= 0 only the first Limit rows are kept.
type Sort struct {
	In    Operator
	Keys  []SortKey
	Limit int64
	out   []arrow.RecordBatch
	pos   int
	done  bool
}

func (s *Sort) Types() []types.T { return s.In.Types() }
func (s *Sort) Close() {
	s.In.Close()
	if s.pos < len(s.out) {
		for _, b := range s.out[s.pos:] {
			b.Release()
		}
	}
	s.out, s.pos = nil, 0
}

func (s *Sort) Next(ctx *expr.Ctx) (arrow.RecordBatch, error) {
	if !s.done {
		s.done = true
		batches, err := Drain(ctx, s.In)
		if err != nil {
			return nil, err
		}
		all := Concat(ctx, s.In.Types(), batches)
		for _, b := range batches {
			b.Release()
		}
		defer all.Release()
		n := int(all.NumRows())
		keys, err := evalAll(ctx, all, keyExprs(s.Keys))
		if err != nil {
			return nil, err
		}
		defer releaseValues(keys)
		idx := make([]int, n)
		for i := range idx {
			idx[i] = i
		}
		cols := make([][]types.Datum, len(keys))
		for k, v := range keys {
			cols[k] = make([]types.Datum, n)
			for i := 0; i < n; i++ {
				cols[k][i] = v.At(i)
			}
		}
		ts := make([]types.T, len(s.Keys))
		for k, key := range s.Keys {
			ts[k] = key.E.Type()
		}
		sort.SliceStable(idx, func(a, b int) bool {
			ra, rb := idx[a], idx[b]
			for k, key := range s.Keys {
				c := compareNullable(ts[k], cols[k][ra], cols[k][rb], key.NullsFirst)
				if key.Desc {
					c = -c
					if cols[k][ra].Null != cols[k][rb].Null {
						c = -c // NULL placement is absolute, not reversed
					}
				}
				if c != 0 {
					return c < 0
				}
			}
			return false
		})
		if s.Limit >= 0 && int64(len(idx)) > s.Limit {
			idx = idx[:s.Limit]
		}
		for start := 0; start < len(idx); start += BatchSize {
			end := min(start+BatchSize, len(idx))
			s.out = append(s.out, expr.Take(ctx.Mem, all, idx[start:end]))
		}
	}
	if s.pos >= len(s.out) {
		return nil, nil
	}
	b := s.out[s.pos]
	s.pos++
	return b, nil
}

func keyExprs(ks []SortKey) []expr.Expr {
	out := make([]expr.Expr, len(ks))
	for i, k := range ks {
		out[i] = k.E
	}
	return out
}

// compareNullable orders with NULL last (or first when nullsFirst).
func compareNullable(t types.T, a, b types.Datum, nullsFirst bool) int {
	switch {
	case a.Null && b.Null:
		return 0
	case a.Null:
		if nullsFirst {
			return -1
		}
		return 1
	case b.Null:
		if nullsFirst {
			return 1
		}
		return -1
	}
	return types.Compare(t, a, b)
}
