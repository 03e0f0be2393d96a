package exec

import (
	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/streamsql/streamsql/engine/expr"
	"github.com/streamsql/streamsql/types"
)

// JoinKind is the kind of a join.
type JoinKind uint8

// Join kinds. Semi and Anti output only the left columns.
const (
	InnerJoin JoinKind = iota
	LeftJoin
	RightJoin
	FullJoin
	SemiJoin
	AntiJoin
)

// HashJoin joins Left and Right on LeftKeys = RightKeys (NULL keys never
// match) and an optional residual condition over the combined row (left
// columns, then right columns). The right input is the build side.
type HashJoin struct {
	Left, Right         Operator
	LeftKeys, RightKeys []expr.Expr
	Residual            expr.Expr
	Kind                JoinKind

	t          []types.T
	built      bool
	build      arrow.RecordBatch // the right input, concatenated
	index      map[string][]int32
	rightMatch []bool
	tailDone   bool
	// queue holds output produced but not yet returned (a cross join
	// of one left batch is cut into pieces of bounded size).
	queue []arrow.RecordBatch
}

// NewHashJoin returns a hash join. With no keys it is a nested-loop join.
func NewHashJoin(kind JoinKind, left, right Operator, lk, rk []expr.Expr, residual expr.Expr) *HashJoin {
	j := &HashJoin{Left: left, Right: right, LeftKeys: lk, RightKeys: rk, Residual: residual, Kind: kind}
	j.t = append(j.t, left.Types()...)
	if kind != SemiJoin && kind != AntiJoin {
		j.t = append(j.t, right.Types()...)
	}
	return j
}

func (j *HashJoin) Types() []types.T { return j.t }
func (j *HashJoin) Close() {
	for _, b := range j.queue {
		b.Release()
	}
	j.queue = nil
	j.Left.Close()
	j.Right.Close()
	if j.build != nil {
		j.build.Release()
		j.build = nil
	}
}

func (j *HashJoin) buildSide(ctx *expr.Ctx) error {
	j.built = true
	batches, err := Drain(ctx, j.Right)
	if err != nil {
		return err
	}
	j.build = Concat(ctx, j.Right.Types(), batches)
	for _, b := range batches {
		b.Release()
	}
	n := int(j.build.NumRows())
	j.rightMatch = make([]bool, n)
	j.index = make(map[string][]int32, n)
	if len(j.RightKeys) == 0 {
		return nil
	}
	keys, err := evalAll(ctx, j.build, j.RightKeys)
	if err != nil {
		return err
	}
	defer releaseValues(keys)
	ts := exprTypes(j.RightKeys)
	for i, k := range rowKeys(keys, ts, n) {
		if hasNullKey(keys, i) {
			continue
		}
		j.index[k] = append(j.index[k], int32(i))
	}
	return nil
}

func hasNullKey(keys []expr.Value, i int) bool {
	for _, k := range keys {
		if k.IsNull(i) {
			return true
		}
	}
	return false
}

func exprTypes(es []expr.Expr) []types.T {
	ts := make([]types.T, len(es))
	for i, e := range es {
		ts[i] = e.Type()
	}
	return ts
}

func (j *HashJoin) Next(ctx *expr.Ctx) (arrow.RecordBatch, error) {
	if !j.built {
		if err := j.buildSide(ctx); err != nil {
			return nil, err
		}
	}
	for {
		if len(j.queue) > 0 {
			b := j.queue[0]
			j.queue = j.queue[1:]
			return b, nil
		}
		if err := checkCancel(ctx); err != nil {
			return nil, err
		}
		lb, err := j.Left.Next(ctx)
		if err != nil {
			return nil, err
		}
		if lb == nil {
			return j.tail(ctx)
		}
		// bound the pairs of a nested-loop join per piece
		rn := max(int(j.build.NumRows()), 1)
		step := int(lb.NumRows())
		if len(j.LeftKeys) == 0 {
			step = max(1, (1<<16)/rn)
		}
		for start := 0; start < int(lb.NumRows()); start += step {
			piece := lb.NewSlice(int64(start), int64(min(start+step, int(lb.NumRows()))))
			out, err := j.probe(ctx, piece)
			piece.Release()
			if err != nil {
				lb.Release()
				return nil, err
			}
			if out.NumRows() > 0 {
				j.queue = append(j.queue, out)
			} else {
				out.Release()
			}
			if len(j.queue) > 0 && len(j.LeftKeys) == 0 {
				// hand out cross-join pieces as they are made
				if err := checkCancel(ctx); err != nil {
					lb.Release()
					return nil, err
				}
			}
		}
		lb.Release()
	}
}

func (j *HashJoin) probe(ctx *expr.Ctx, lb arrow.RecordBatch) (arrow.RecordBatch, error) {
	n := int(lb.NumRows())
	rn := int(j.build.NumRows())
	var li, ri []int
	if len(j.LeftKeys) == 0 {
		for i := 0; i < n; i++ {
			for r := 0; r < rn; r++ {
				li = append(li, i)
				ri = append(ri, r)
			}
		}
	} else {
		keys, err := evalAll(ctx, lb, j.LeftKeys)
		if err != nil {
			return nil, err
		}
		ts := exprTypes(j.LeftKeys)
		for i, k := range rowKeys(keys, ts, n) {
			if hasNullKey(keys, i) {
				continue
			}
			for _, r := range j.index[k] {
				li = append(li, i)
				ri = append(ri, int(r))
			}
		}
		releaseValues(keys)
	}
	// the candidate pairs, filtered by the residual condition
	if j.Residual != nil && len(li) > 0 {
		pairs := j.combine(ctx, lb, li, ri)
		v, err := j.Residual.Eval(ctx, pairs)
		pairs.Release()
		if err != nil {
			return nil, err
		}
		var sel []int
		if v.IsScalar() {
			if !v.D.Null && v.D.I != 0 {
				sel = nil
			} else {
				li, ri = nil, nil
			}
		} else {
			sel = Selection(v.Arr, len(li))
			nli, nri := make([]int, len(sel)), make([]int, len(sel))
			for k, s := range sel {
				nli[k], nri[k] = li[s], ri[s]
			}
			li, ri = nli, nri
		}
		v.Release()
	}
	leftMatched := make([]bool, n)
	for k := range li {
		leftMatched[li[k]] = true
		j.rightMatch[ri[k]] = true
	}
	switch j.Kind {
	case SemiJoin, AntiJoin:
		var keep []int
		for i := 0; i < n; i++ {
			if leftMatched[i] == (j.Kind == SemiJoin) {
				keep = append(keep, i)
			}
		}
		return expr.Take(ctx.Mem, lb, keep), nil
	case LeftJoin, FullJoin:
		for i := 0; i < n; i++ {
			if !leftMatched[i] {
				li = append(li, i)
				ri = append(ri, -1)
			}
		}
	}
	return j.combine(ctx, lb, li, ri), nil
}

// combine builds left[li] ++ right[ri] (ri = -1: NULLs).
func (j *HashJoin) combine(ctx *expr.Ctx, lb arrow.RecordBatch, li, ri []int) arrow.RecordBatch {
	cols := make([]arrow.Array, 0, int(lb.NumCols())+int(j.build.NumCols()))
	for c := 0; c < int(lb.NumCols()); c++ {
		cols = append(cols, TakeOrNull(ctx, lb.Column(c), li))
	}
	for c := 0; c < int(j.build.NumCols()); c++ {
		cols = append(cols, TakeOrNull(ctx, j.build.Column(c), ri))
	}
	ts := append(append([]types.T{}, j.Left.Types()...), j.Right.Types()...)
	b := expr.NewBatch(ts, cols, len(li))
	for _, c := range cols {
		c.Release()
	}
	return b
}

// tail emits the unmatched right rows of RIGHT and FULL joins.
func (j *HashJoin) tail(ctx *expr.Ctx) (arrow.RecordBatch, error) {
	if j.tailDone || (j.Kind != RightJoin && j.Kind != FullJoin) {
		return nil, nil
	}
	j.tailDone = true
	var ri []int
	for r, m := range j.rightMatch {
		if !m {
			ri = append(ri, r)
		}
	}
	if len(ri) == 0 {
		return nil, nil
	}
	li := make([]int, len(ri))
	for i := range li {
		li[i] = -1
	}
	lt := j.Left.Types()
	cols := make([]arrow.Array, 0, len(j.t))
	for _, t := range lt {
		cols = append(cols, expr.Broadcast(ctx.Mem, t, types.NullDatum, len(ri)))
	}
	for c := 0; c < int(j.build.NumCols()); c++ {
		cols = append(cols, TakeOrNull(ctx, j.build.Column(c), ri))
	}
	b := expr.NewBatch(j.t, cols, len(ri))
	for _, c := range cols {
		c.Release()
	}
	return b, nil
}

// TakeOrNull gathers rows; a negative index yields NULL.
func TakeOrNull(ctx *expr.Ctx, a arrow.Array, rows []int) arrow.Array {
	hasNeg := false
	for _, r := range rows {
		if r < 0 {
			hasNeg = true
			break
		}
	}
	if !hasNeg {
		return expr.TakeArray(ctx.Mem, a, rows)
	}
	b := array.NewBuilder(ctx.Mem, a.DataType())
	defer b.Release()
	b.Reserve(len(rows))
	for _, r := range rows {
		if r < 0 {
			b.AppendNull()
			continue
		}
		types.AppendDatum(b, types.T{}, types.DatumAt(a, r))
	}
	return b.NewArray()
}

// Concat joins batches of the same types into one.
func Concat(ctx *expr.Ctx, ts []types.T, batches []arrow.RecordBatch) arrow.RecordBatch {
	if len(batches) == 1 {
		batches[0].Retain()
		return batches[0]
	}
	cols := make([]arrow.Array, len(ts))
	n := 0
	for _, b := range batches {
		n += int(b.NumRows())
	}
	for c := range ts {
		if len(batches) == 0 {
			cols[c] = expr.Broadcast(ctx.Mem, ts[c], types.NullDatum, 0)
			continue
		}
		parts := make([]arrow.Array, len(batches))
		for i, b := range batches {
			parts[i] = b.Column(c)
		}
		merged, err := array.Concatenate(parts, ctx.Mem)
		if err != nil {
			panic(err)
		}
		cols[c] = merged
	}
	b := expr.NewBatch(ts, cols, n)
	for _, c := range cols {
		c.Release()
	}
	return b
}
