package dataflow

import (
	"github.com/apache/arrow-go/v18/arrow"
	"github.com/streamsql/streamsql/engine/expr"
	"github.com/streamsql/streamsql/types"
)

// SetOp turns per-row counts into INTERSECT or EXCEPT. Its input is an
// incremental aggregate's changelog grouped by every column of the set
// operation, followed by two counts: how often the row is on the left and
// on the right. Each row goes out with the multiplicity the set operation
// gives it — INTERSECT 1 when both counts are positive, INTERSECT ALL the
// smaller count, EXCEPT 1 when only the left one is, EXCEPT ALL the left
// less the right, at least 0 — times its weight, without the counts; a
// group's retraction and insertion so become the change in how many times
// the row is in the result.
type SetOp struct {
	Except, All bool
	Types       []types.T // the output's columns (the input's, less the counts)
}

var _ Operator = (*SetOp)(nil)

// Multiplicity is how many times a row seen l times on the left and r
// times on the right is in the result.
func (s *SetOp) Multiplicity(l, r int64) int64 {
	switch {
	case s.Except && s.All:
		return max(l-r, 0)
	case s.Except:
		if l > 0 && r == 0 {
			return 1
		}
	case s.All:
		return max(min(l, r), 0)
	default:
		if l > 0 && r > 0 {
			return 1
		}
	}
	return 0
}

func (s *SetOp) Process(ctx *expr.Ctx, m *Msg) (*Msg, error) {
	b := m.Batch
	n, cols := int(b.NumRows()), int(b.NumCols())
	lc, rc := b.Column(cols-2), b.Column(cols-1)
	var keep []int
	var weights []int64
	for i := 0; i < n; i++ {
		l, r := types.DatumAt(lc, i), types.DatumAt(rc, i)
		if k := s.Multiplicity(l.I, r.I); k != 0 {
			keep, weights = append(keep, i), append(weights, k*m.Weight(i))
		}
	}
	out := m.Take(ctx.Mem, keep)
	out.Weights = weights
	// without the counts
	arrs := make([]arrow.Array, cols-2)
	for i := range arrs {
		arrs[i] = out.Batch.Column(i)
	}
	pruned := expr.NewBatch(s.Types, arrs, len(keep))
	out.Batch.Release()
	out.Batch = pruned
	return out, nil
}
