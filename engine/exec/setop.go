package exec

import (
	"github.com/apache/arrow-go/v18/arrow"
	"github.com/streamsql/streamsql/engine/expr"
	"github.com/streamsql/streamsql/types"
)

// UnionAll concatenates its inputs.
type UnionAll struct {
	Inputs []Operator
	T      []types.T
	i      int
}

func (u *UnionAll) Types() []types.T { return u.T }
func (u *UnionAll) Close() {
	for _, in := range u.Inputs {
		in.Close()
	}
}
func (u *UnionAll) Next(ctx *expr.Ctx) (arrow.RecordBatch, error) {
	for u.i < len(u.Inputs) {
		b, err := u.Inputs[u.i].Next(ctx)
		if err != nil {
			return nil, err
		}
		if b != nil {
			return b, nil
		}
		u.i++
	}
	return nil, nil
}

// SetOp is INTERSECT [ALL] or EXCEPT [ALL] of two inputs (UNION DISTINCT is
// a HashAgg over UnionAll).
type SetOp struct {
	Left, Right Operator
	Except, All bool
	out         arrow.RecordBatch
	done        bool
}

func (s *SetOp) Types() []types.T { return s.Left.Types() }
func (s *SetOp) Close() {
	s.Left.Close()
	s.Right.Close()
	if s.out != nil {
		s.out.Release()
		s.out = nil
	}
}
func (s *SetOp) Next(ctx *expr.Ctx) (arrow.RecordBatch, error) {
	if s.done {
		return nil, nil
	}
	s.done = true
	ts := s.Left.Types()
	counts := map[string]int{}
	rb, err := Drain(ctx, s.Right)
	if err != nil {
		return nil, err
	}
	for _, b := range rb {
		for _, k := range batchKeys(b, ts) {
			counts[k]++
		}
		b.Release()
	}
	lb, err := Drain(ctx, s.Left)
	if err != nil {
		return nil, err
	}
	all := Concat(ctx, ts, lb)
	for _, b := range lb {
		b.Release()
	}
	defer all.Release()
	emitted := map[string]bool{}
	var keep []int
	for i, k := range batchKeys(all, ts) {
		c := counts[k]
		if s.Except {
			if s.All {
				if c > 0 {
					counts[k]--
					continue
				}
				keep = append(keep, i)
			} else if c == 0 && !emitted[k] {
				emitted[k] = true
				keep = append(keep, i)
			}
			continue
		}
		if s.All {
			if c > 0 {
				counts[k]--
				keep = append(keep, i)
			}
		} else if c > 0 && !emitted[k] {
			emitted[k] = true
			keep = append(keep, i)
		}
	}
	return expr.Take(ctx.Mem, all, keep), nil
}

func batchKeys(b arrow.RecordBatch, ts []types.T) []string {
	vals := make([]expr.Value, b.NumCols())
	for i := range vals {
		vals[i] = expr.Value{Arr: b.Column(i)}
	}
	return rowKeys(vals, ts, int(b.NumRows()))
}
