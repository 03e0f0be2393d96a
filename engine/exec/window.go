package exec

import (
	"sort"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/cockroachdb/apd/v3"
	"github.com/streamsql/streamsql/engine/expr"
	"github.com/streamsql/streamsql/types"
)

// WinKind is a window function.
type WinKind uint8

// Window functions. The aggregates use the default frame: the whole
// partition without ORDER BY, else from its start to the current row's
// last peer.
const (
	WinRowNumber WinKind = iota
	WinRank
	WinDenseRank
	WinCount
	WinCountStar
	WinSum
	WinAvg
	WinMin
	WinMax
	WinLag
	WinLead
	WinFirstValue
	WinLastValue
)

// WinFunc is one window function call.
type WinFunc struct {
	Kind WinKind
	Arg  expr.Expr
	T    types.T
	// Offset and Default are lag/lead's second and third arguments.
	Offset  int64
	Default types.Datum
}

// Window computes window functions over partitions sorted by Order. Output:
// the input columns followed by one column per function, in partition order.
type Window struct {
	In        Operator
	Partition []expr.Expr
	Order     []SortKey
	Funcs     []WinFunc
	t         []types.T
	done      bool
	out       []arrow.RecordBatch
	pos       int
}

// NewWindow returns a window operator.
func NewWindow(in Operator, part []expr.Expr, order []SortKey, fs []WinFunc) *Window {
	w := &Window{In: in, Partition: part, Order: order, Funcs: fs}
	w.t = append(w.t, in.Types()...)
	for _, f := range fs {
		w.t = append(w.t, f.T)
	}
	return w
}

func (w *Window) Types() []types.T { return w.t }
func (w *Window) Close() {
	w.In.Close()
	if w.pos < len(w.out) {
		for _, b := range w.out[w.pos:] {
			b.Release()
		}
	}
	w.out, w.pos = nil, 0
}

func (w *Window) Next(ctx *expr.Ctx) (arrow.RecordBatch, error) {
	if !w.done {
		w.done = true
		if err := w.run(ctx); err != nil {
			return nil, err
		}
	}
	if w.pos >= len(w.out) {
		return nil, nil
	}
	b := w.out[w.pos]
	w.pos++
	return b, nil
}

func (w *Window) run(ctx *expr.Ctx) error {
	batches, err := Drain(ctx, w.In)
	if err != nil {
		return err
	}
	all := Concat(ctx, w.In.Types(), batches)
	for _, b := range batches {
		b.Release()
	}
	defer all.Release()
	n := int(all.NumRows())
	pv, err := evalAll(ctx, all, w.Partition)
	if err != nil {
		return err
	}
	defer releaseValues(pv)
	ov, err := evalAll(ctx, all, keyExprs(w.Order))
	if err != nil {
		return err
	}
	defer releaseValues(ov)
	pkeys := rowKeys(pv, exprTypes(w.Partition), n)
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	ots := exprTypes(keyExprs(w.Order))
	cmpOrder := func(a, b int) int {
		for k, key := range w.Order {
			c := compareNullable(ots[k], ov[k].At(a), ov[k].At(b), key.NullsFirst)
			if key.Desc {
				c = -c
				if ov[k].IsNull(a) != ov[k].IsNull(b) {
					c = -c
				}
			}
			if c != 0 {
				return c
			}
		}
		return 0
	}
	sort.SliceStable(idx, func(a, b int) bool {
		ra, rb := idx[a], idx[b]
		if pkeys[ra] != pkeys[rb] {
			return pkeys[ra] < pkeys[rb]
		}
		return cmpOrder(ra, rb) < 0
	})
	sorted := expr.Take(ctx.Mem, all, idx)
	defer sorted.Release()
	results := make([][]types.Datum, len(w.Funcs))
	args := make([]expr.Value, len(w.Funcs))
	for f, fn := range w.Funcs {
		results[f] = make([]types.Datum, n)
		if fn.Arg != nil {
			v, err := fn.Arg.Eval(ctx, sorted)
			if err != nil {
				return err
			}
			defer v.Release()
			args[f] = v
		}
	}
	for start := 0; start < n; {
		end := start + 1
		for end < n && pkeys[idx[end]] == pkeys[idx[start]] {
			end++
		}
		for f, fn := range w.Funcs {
			w.compute(ctx, fn, args[f], idx, start, end, cmpOrder, results[f])
		}
		start = end
	}
	cols := make([]arrow.Array, 0, len(w.t))
	for c := 0; c < int(sorted.NumCols()); c++ {
		a := sorted.Column(c)
		a.Retain()
		cols = append(cols, a)
	}
	for f, fn := range w.Funcs {
		cols = append(cols, types.ArrayFromDatums(ctx.Mem, fn.T, results[f]))
	}
	b := expr.NewBatch(w.t, cols, n)
	for _, c := range cols {
		c.Release()
	}
	w.out = append(w.out, b)
	return nil
}

func (w *Window) compute(ctx *expr.Ctx, fn WinFunc, arg expr.Value, idx []int, start, end int, cmpOrder func(a, b int) int, out []types.Datum) {
	rank, dense := 0, 0
	// peers: rows with equal ORDER BY values share a frame end
	peerEnd := func(i int) int {
		if len(w.Order) == 0 {
			return end
		}
		j := i + 1
		for j < end && cmpOrder(idx[j], idx[i]) == 0 {
			j++
		}
		return j
	}
	for i := start; i < end; {
		pe := peerEnd(i)
		if i == start || len(w.Order) == 0 || cmpOrder(idx[i], idx[i-1]) != 0 {
			rank = i - start + 1
			dense++
		}
		for k := i; k < pe; k++ {
			switch fn.Kind {
			case WinRowNumber:
				out[k] = types.DInt(int64(k - start + 1))
			case WinRank:
				out[k] = types.DInt(int64(rank))
			case WinDenseRank:
				out[k] = types.DInt(int64(dense))
			case WinLag, WinLead:
				j := int64(k) - fn.Offset
				if fn.Kind == WinLead {
					j = int64(k) + fn.Offset
				}
				if j >= int64(start) && j < int64(end) {
					out[k] = arg.At(int(j))
				} else {
					out[k] = fn.Default
				}
			case WinFirstValue:
				out[k] = arg.At(start)
			case WinLastValue:
				out[k] = arg.At(pe - 1)
			default:
				out[k] = frameAgg(ctx, fn, arg, start, pe)
			}
		}
		i = pe
	}
}

func frameAgg(ctx *expr.Ctx, fn WinFunc, arg expr.Value, from, to int) types.Datum {
	count := int64(0)
	var best types.Datum
	best.Null = true
	sumF := 0.0
	sumD := apd.New(0, 0)
	var at types.T
	if fn.Arg != nil {
		at = fn.Arg.Type()
	}
	for r := from; r < to; r++ {
		if fn.Kind == WinCountStar {
			count++
			continue
		}
		d := arg.At(r)
		if d.Null {
			continue
		}
		count++
		switch fn.Kind {
		case WinSum, WinAvg:
			switch at.Kind {
			case types.Float32, types.Float64:
				sumF += d.F
			case types.Numeric:
				x, _ := types.ParseDecimal(d.S)
				_, _ = types.DecCtx.Add(sumD, sumD, x)
			default:
				_, _ = types.DecCtx.Add(sumD, sumD, apd.New(d.I, 0))
			}
		case WinMin, WinMax:
			if best.Null {
				best = d
			} else if c := types.Compare(at, d, best); (fn.Kind == WinMax && c > 0) || (fn.Kind == WinMin && c < 0) {
				best = d
			}
		}
	}
	switch fn.Kind {
	case WinCount, WinCountStar:
		return types.DInt(count)
	case WinMin, WinMax:
		return best
	}
	if count == 0 {
		return types.NullDatum
	}
	if at.Kind == types.Float32 || at.Kind == types.Float64 {
		if fn.Kind == WinAvg {
			return types.DFloat(sumF / float64(count))
		}
		return types.DFloat(sumF)
	}
	if fn.Kind == WinAvg {
		return types.DText(types.FormatDecimal(types.DivNumeric(sumD, apd.New(count, 0))))
	}
	if fn.T.Kind == types.Int64 {
		v, _ := sumD.Int64()
		return types.DInt(v)
	}
	return types.DText(types.FormatDecimal(sumD))
}
