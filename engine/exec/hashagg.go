package exec

import (
	"github.com/apache/arrow-go/v18/arrow"
	"github.com/streamsql/streamsql/engine/expr"
	"github.com/streamsql/streamsql/types"
)

// HashAgg groups its input by Keys and computes Aggs per group. The output
// has the key columns followed by the aggregate columns. With no keys it
// produces exactly one row, as SQL requires.
type HashAgg struct {
	In   Operator
	Keys []expr.Expr
	Aggs []AggSpec

	t       []types.T
	done    bool
	out     []arrow.RecordBatch
	pos     int
	grouper grouper
	accs    []accumulator
	// distinct aggregates: seen (group, value) pairs
	seen []map[string]struct{}
}

// NewHashAgg returns a hash aggregate.
func NewHashAgg(in Operator, keys []expr.Expr, aggs []AggSpec) *HashAgg {
	h := &HashAgg{In: in, Keys: keys, Aggs: aggs}
	for _, k := range keys {
		h.t = append(h.t, k.Type())
	}
	for _, a := range aggs {
		h.t = append(h.t, a.T)
	}
	return h
}

func (h *HashAgg) Types() []types.T { return h.t }
func (h *HashAgg) Close() {
	h.In.Close()
	if h.pos < len(h.out) {
		for _, b := range h.out[h.pos:] {
			b.Release()
		}
	}
	h.out, h.pos = nil, 0
}

func (h *HashAgg) Next(ctx *expr.Ctx) (arrow.RecordBatch, error) {
	if !h.done {
		h.done = true
		if err := h.consume(ctx); err != nil {
			return nil, err
		}
	}
	if h.pos >= len(h.out) {
		return nil, nil
	}
	b := h.out[h.pos]
	h.pos++
	return b, nil
}

func (h *HashAgg) consume(ctx *expr.Ctx) error {
	keyTypes := make([]types.T, len(h.Keys))
	for i, k := range h.Keys {
		keyTypes[i] = k.Type()
	}
	h.grouper = newGrouper(keyTypes)
	h.accs = make([]accumulator, len(h.Aggs))
	h.seen = make([]map[string]struct{}, len(h.Aggs))
	for i, a := range h.Aggs {
		h.accs[i] = newAccumulator(a)
		if a.Distinct {
			h.seen[i] = map[string]struct{}{}
		}
	}
	var gids []int32
	for {
		b, err := h.In.Next(ctx)
		if err != nil {
			return err
		}
		if b == nil {
			break
		}
		n := int(b.NumRows())
		if cap(gids) < n {
			gids = make([]int32, n)
		}
		gids = gids[:n]
		keys, err := evalAll(ctx, b, h.Keys)
		if err != nil {
			b.Release()
			return err
		}
		h.grouper.assign(keys, n, gids)
		releaseValues(keys)
		ng := h.grouper.groups()
		for i, a := range h.Aggs {
			h.accs[i].grow(ng)
			if err := h.updateAgg(ctx, i, a, b, gids); err != nil {
				b.Release()
				return err
			}
		}
		b.Release()
	}
	ng := h.grouper.groups()
	if len(h.Keys) == 0 && ng == 0 {
		ng = 1
		h.grouper.addEmpty()
	}
	cols := h.grouper.keyColumns(ctx)
	for i := range h.Aggs {
		h.accs[i].grow(ng)
		c, err := h.accs[i].result(ctx, ng)
		if err != nil {
			for _, c := range cols {
				c.Release()
			}
			return err
		}
		cols = append(cols, c)
	}
	// hand out in batches
	for start := 0; start < ng; start += BatchSize * 4 {
		end := min(start+BatchSize*4, ng)
		sl := make([]arrow.Array, len(cols))
		for i, c := range cols {
			sl[i] = sliceArray(c, start, end)
		}
		h.out = append(h.out, expr.NewBatch(h.t, sl, end-start))
		for _, c := range sl {
			c.Release()
		}
	}
	for _, c := range cols {
		c.Release()
	}
	return nil
}

func (h *HashAgg) updateAgg(ctx *expr.Ctx, i int, a AggSpec, b arrow.RecordBatch, gids []int32) error {
	if a.Distinct {
		// keep only the first occurrence of each (group, value), then
		// aggregate those rows as usual
		keep, err := h.firstOccurrences(ctx, i, a, b, gids)
		if err != nil || len(keep) == 0 {
			return err
		}
		sub := expr.Take(ctx.Mem, b, keep)
		defer sub.Release()
		subG := make([]int32, len(keep))
		for k, r := range keep {
			subG[k] = gids[r]
		}
		b, gids = sub, subG
	}
	var v, sep expr.Value
	var err error
	if a.Arg != nil {
		if v, err = a.Arg.Eval(ctx, b); err != nil {
			return err
		}
		defer v.Release()
	}
	if a.Sep != nil {
		if sep, err = a.Sep.Eval(ctx, b); err != nil {
			return err
		}
		defer sep.Release()
	}
	if ord, ok := h.accs[i].(*datumAcc); ok && len(a.Order) > 0 {
		keys, err := evalAll(ctx, b, keyExprs(a.Order))
		if err != nil {
			return err
		}
		defer releaseValues(keys)
		return ord.updateOrdered(ctx, gids, v, sep, keys)
	}
	return h.accs[i].update(ctx, gids, v, sep)
}

// firstOccurrences returns the rows whose (group, argument) pair was not
// seen before by aggregate i; NULL arguments are left out.
func (h *HashAgg) firstOccurrences(ctx *expr.Ctx, i int, a AggSpec, b arrow.RecordBatch, gids []int32) ([]int, error) {
	v, err := a.Arg.Eval(ctx, b)
	if err != nil {
		return nil, err
	}
	defer v.Release()
	var keep []int
	var buf []byte
	at := a.Arg.Type()
	for r, g := range gids {
		d := v.At(r)
		if d.Null {
			continue
		}
		buf = buf[:0]
		buf = append(buf, byte(g), byte(g>>8), byte(g>>16), byte(g>>24))
		buf = AppendKey(buf, at, d)
		if _, ok := h.seen[i][string(buf)]; ok {
			continue
		}
		h.seen[i][string(buf)] = struct{}{}
		keep = append(keep, r)
	}
	return keep, nil
}

func evalAll(ctx *expr.Ctx, b arrow.RecordBatch, es []expr.Expr) ([]expr.Value, error) {
	out := make([]expr.Value, len(es))
	for i, e := range es {
		v, err := e.Eval(ctx, b)
		if err != nil {
			releaseValues(out[:i])
			return nil, err
		}
		out[i] = v
	}
	return out, nil
}

func releaseValues(vs []expr.Value) {
	for _, v := range vs {
		v.Release()
	}
}

func sliceArray(a arrow.Array, i, j int) arrow.Array {
	if i == 0 && j == a.Len() {
		a.Retain()
		return a
	}
	return newSlice(a, i, j)
}
