package exec

import (
	"cmp"
	"slices"
	"sort"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/cockroachdb/apd/v3"
	"github.com/streamsql/streamsql/engine/expr"
	"github.com/streamsql/streamsql/sqlerr"
	"github.com/streamsql/streamsql/types"
)

// WinKind is a window function.
type WinKind uint8

// Window functions. The aggregates and the value functions (first_value,
// last_value, nth_value) read their frame; the others the partition.
const (
	WinRowNumber WinKind = iota
	WinRank
	WinDenseRank
	WinPercentRank
	WinCumeDist
	WinNtile
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
	WinNthValue
)

// WinFunc is one window function call.
type WinFunc struct {
	Kind WinKind
	Arg  expr.Expr
	T    types.T
	// Offset and Default are lag/lead's second and third arguments;
	// Offset is also nth_value's n.
	Offset  int64
	Default types.Datum
	// Frame is the rows an aggregate or value function reads; nil is
	// the default frame: RANGE BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW.
	Frame *Frame
}

// FrameMode is what a frame's offsets count: rows, peer groups (rows
// equal in ORDER BY), or a distance in the ORDER BY value.
type FrameMode uint8

// Frame modes.
const (
	FrameRange FrameMode = iota
	FrameRows
	FrameGroups
)

// BoundKind is where a frame starts or ends.
type BoundKind uint8

// Frame bounds.
const (
	UnboundedPreceding BoundKind = iota
	OffsetPreceding
	CurrentRow
	OffsetFollowing
	UnboundedFollowing
)

// FrameBound is a frame's start or end.
type FrameBound struct {
	Kind BoundKind
	// N is a ROWS or GROUPS offset.
	N int64
	// Value is a RANGE offset's bound for each row: the ORDER BY value
	// moved by the offset towards the bound (value - offset for
	// PRECEDING under ASC), of Frame.Key's type.
	Value expr.Expr
}

// Frame is a window frame.
type Frame struct {
	Mode       FrameMode
	Start, End FrameBound
	// Key is the ORDER BY value that RANGE offsets' bounds are compared
	// with, of their type.
	Key expr.Expr
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
	// partitions as dense numbers, ORDER BY values read once: the sort
	// compares integers and datums, not strings and arrays
	part := make([]int32, n)
	if len(w.Partition) > 0 {
		ids := map[string]int32{}
		for r, k := range rowKeys(pv, exprTypes(w.Partition), n) {
			id, ok := ids[k]
			if !ok {
				id = int32(len(ids))
				ids[k] = id
			}
			part[r] = id
		}
	}
	ots := exprTypes(keyExprs(w.Order))
	od := make([][]types.Datum, len(ov))
	for k, v := range ov {
		od[k] = make([]types.Datum, n)
		for r := range od[k] {
			od[k][r] = v.At(r)
		}
	}
	cmpOrder := func(a, b int) int {
		for k, key := range w.Order {
			x, y := od[k][a], od[k][b]
			c := compareNullable(ots[k], x, y, key.NullsFirst)
			if key.Desc && x.Null == y.Null {
				c = -c // NULL placement is absolute, not reversed
			}
			if c != 0 {
				return c
			}
		}
		return 0
	}
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	slices.SortFunc(idx, func(a, b int) int {
		if part[a] != part[b] {
			return cmp.Compare(part[a], part[b])
		}
		if c := cmpOrder(a, b); c != 0 {
			return c
		}
		return a - b // stable
	})
	sorted := expr.Take(ctx.Mem, all, idx)
	defer sorted.Release()
	results := make([][]types.Datum, len(w.Funcs))
	vals := make([]winValues, len(w.Funcs))
	defer func() {
		for _, v := range vals {
			v.release()
		}
	}()
	for f, fn := range w.Funcs {
		results[f] = make([]types.Datum, n)
		if err := vals[f].eval(ctx, fn, sorted); err != nil {
			return err
		}
	}
	p := newWinPart(n)
	for start := 0; start < n; {
		if err := checkCancel(ctx); err != nil {
			return err
		}
		end := start + 1
		for end < n && part[idx[end]] == part[idx[start]] {
			end++
		}
		p.split(start, end, len(w.Order) > 0, func(a, b int) bool { return cmpOrder(idx[a], idx[b]) == 0 })
		for f := range w.Funcs {
			if err := w.compute(ctx, &w.Funcs[f], &vals[f], p, results[f]); err != nil {
				return err
			}
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

// winValues are a function's inputs over the sorted rows.
type winValues struct {
	arg, key, lo, hi expr.Value
}

func (v *winValues) eval(ctx *expr.Ctx, fn WinFunc, b arrow.RecordBatch) error {
	var err error
	at := func(e expr.Expr, dst *expr.Value) {
		if e != nil && err == nil {
			*dst, err = e.Eval(ctx, b)
		}
	}
	at(fn.Arg, &v.arg)
	if fn.Frame != nil {
		at(fn.Frame.Key, &v.key)
		at(fn.Frame.Start.Value, &v.lo)
		at(fn.Frame.End.Value, &v.hi)
	}
	return err
}

func (v *winValues) release() {
	for _, x := range []expr.Value{v.arg, v.key, v.lo, v.hi} {
		x.Release()
	}
}

// winPart is one partition of the sorted rows, [start, end), with its
// peer groups. The per-row slices are indexed by row, shared by all
// partitions.
type winPart struct {
	start, end int
	group      []int // the peer group of each row, counted from the partition's start
	groups     []int // the first row of each peer group, then end
}

func newWinPart(n int) *winPart { return &winPart{group: make([]int, n)} }

// split finds the peer groups of [start, end): rows equal in ORDER BY
// (all of them without one).
func (p *winPart) split(start, end int, ordered bool, peers func(a, b int) bool) {
	p.start, p.end = start, end
	p.groups = append(p.groups[:0], start)
	for r := start; r < end; r++ {
		if ordered && r > start && !peers(r, r-1) {
			p.groups = append(p.groups, r)
		}
		p.group[r] = len(p.groups) - 1
	}
	p.groups = append(p.groups, end)
}

func (p *winPart) peerStart(r int) int { return p.groups[p.group[r]] }
func (p *winPart) peerEnd(r int) int   { return p.groups[p.group[r]+1] }

func (w *Window) compute(ctx *expr.Ctx, fn *WinFunc, v *winValues, p *winPart, out []types.Datum) error {
	start, end := p.start, p.end
	rows := end - start
	switch fn.Kind {
	case WinRowNumber, WinRank, WinDenseRank, WinPercentRank, WinCumeDist:
		for r := start; r < end; r++ {
			rank := p.peerStart(r) - start + 1
			switch fn.Kind {
			case WinRowNumber:
				out[r] = types.DInt(int64(r - start + 1))
			case WinRank:
				out[r] = types.DInt(int64(rank))
			case WinDenseRank:
				out[r] = types.DInt(int64(p.group[r] + 1))
			case WinPercentRank:
				out[r] = types.DFloat(0)
				if rows > 1 {
					out[r] = types.DFloat(float64(rank-1) / float64(rows-1))
				}
			case WinCumeDist:
				out[r] = types.DFloat(float64(p.peerEnd(r)-start) / float64(rows))
			}
		}
		return nil
	case WinNtile:
		// the bucket count is read at the partition's first row, as in PostgreSQL
		d := v.arg.At(start)
		if d.Null {
			for r := start; r < end; r++ {
				out[r] = types.NullDatum
			}
			return nil
		}
		if d.I <= 0 {
			return sqlerr.New(sqlerr.InvalidArgumentForNtile, "argument of ntile must be greater than zero")
		}
		per, extra := int64(rows)/d.I, int64(rows)%d.I
		bucket, left := int64(1), per
		if extra > 0 {
			left++
		}
		for r := start; r < end; r++ {
			if left == 0 {
				bucket++
				left = per
				if bucket <= extra {
					left++
				}
			}
			out[r] = types.DInt(bucket)
			left--
		}
		return nil
	case WinLag, WinLead:
		for r := start; r < end; r++ {
			j := int64(r) - fn.Offset
			if fn.Kind == WinLead {
				j = int64(r) + fn.Offset
			}
			if j >= int64(start) && j < int64(end) {
				out[r] = v.arg.At(int(j))
			} else {
				out[r] = fn.Default
			}
		}
		return nil
	}
	acc := frameAcc{fn: fn, arg: v.arg, lo: start, hi: start}
	if fn.Arg != nil {
		acc.at = fn.Arg.Type()
	}
	for r := start; r < end; r++ {
		if r&1023 == 0 {
			if err := checkCancel(ctx); err != nil {
				return err
			}
		}
		fs, fe := w.frame(fn.Frame, v, p, r)
		switch fn.Kind {
		case WinFirstValue, WinLastValue, WinNthValue:
			out[r] = types.NullDatum
			at := fs
			switch fn.Kind {
			case WinLastValue:
				at = fe - 1
			case WinNthValue:
				at = fs + int(fn.Offset) - 1
			}
			if fs < fe && at >= fs && at < fe {
				out[r] = v.arg.At(at)
			}
		default:
			if err := acc.slide(fs, fe); err != nil {
				return err
			}
			out[r] = acc.result()
		}
	}
	return nil
}

// frame returns row r's frame, [fs, fe); empty when fs >= fe.
func (w *Window) frame(f *Frame, v *winValues, p *winPart, r int) (fs, fe int) {
	if f == nil {
		return p.start, p.peerEnd(r)
	}
	return w.bound(f, &f.Start, v.lo, v, p, r, false), w.bound(f, &f.End, v.hi, v, p, r, true)
}

// bound places a frame's start (end false: the first row in it) or end
// (the first row after it) for row r.
func (w *Window) bound(f *Frame, b *FrameBound, val expr.Value, v *winValues, p *winPart, r int, end bool) int {
	switch b.Kind {
	case UnboundedPreceding:
		return p.start
	case UnboundedFollowing:
		return p.end
	case CurrentRow:
		switch {
		case f.Mode == FrameRows && end:
			return r + 1
		case f.Mode == FrameRows:
			return r
		case end:
			return p.peerEnd(r)
		}
		return p.peerStart(r)
	}
	n := b.N
	if b.Kind == OffsetPreceding {
		n = -n
	}
	switch f.Mode {
	case FrameRows:
		x := int64(r) + n
		if end {
			x++
		}
		return int(max(min(x, int64(p.end)), int64(p.start)))
	case FrameGroups:
		g := int64(p.group[r]) + n
		last := int64(len(p.groups) - 2)
		switch {
		case g < 0:
			return p.start
		case g > last:
			return p.end
		case end:
			return p.groups[g+1]
		}
		return p.groups[g]
	}
	// RANGE: the rows whose ORDER BY value is within the offset; a NULL
	// value's frame is its peers (the NULLs), a non-NULL's never has NULLs
	bv := val.At(r)
	if v.key.IsNull(r) || bv.Null {
		if end {
			return p.peerEnd(r)
		}
		return p.peerStart(r)
	}
	lo, hi := p.start, p.end
	for lo < hi && v.key.IsNull(lo) {
		lo++
	}
	for hi > lo && v.key.IsNull(hi-1) {
		hi--
	}
	desc := w.Order[0].Desc
	kt := f.Key.Type()
	return lo + sort.Search(hi-lo, func(i int) bool {
		c := types.Compare(kt, v.key.At(lo+i), bv)
		if desc {
			c = -c
		}
		if end {
			return c > 0
		}
		return c >= 0
	})
}

// frameAcc is an aggregate over a frame that slides down the partition:
// rows enter at its end and leave at its start. An aggregate with no exact
// inverse (a float sum) starts again from the frame's start when rows
// leave, as PostgreSQL does, so that its rounding is PostgreSQL's.
type frameAcc struct {
	fn     *WinFunc
	arg    expr.Value
	at     types.T
	lo, hi int // the rows in the aggregate
	count  int64
	dec    types.DecimalSum
	f      float64
	iv     types.IntervalValue
	dq     []int // min/max: the rows that can still be the answer, best first
	dqHead int
}

func (a *frameAcc) reset(at int) {
	a.lo, a.hi = at, at
	a.count, a.f, a.iv = 0, 0, types.IntervalValue{}
	a.dec = types.DecimalSum{}
	a.dq, a.dqHead = a.dq[:0], 0
}

func (a *frameAcc) float() bool { return a.at.Kind == types.Float32 || a.at.Kind == types.Float64 }

func (a *frameAcc) slide(fs, fe int) error {
	if fs < a.lo || fe < a.hi || fs >= a.hi || fs > a.lo && a.float() && (a.fn.Kind == WinSum || a.fn.Kind == WinAvg) {
		a.reset(fs)
	}
	for ; a.hi < fe; a.hi++ {
		if err := a.add(a.hi, 1); err != nil {
			return err
		}
	}
	for ; a.lo < fs; a.lo++ {
		if err := a.add(a.lo, -1); err != nil {
			return err
		}
	}
	return nil
}

// add takes row r into the aggregate (w = 1) or out of it (w = -1).
func (a *frameAcc) add(r int, w int64) error {
	if a.fn.Kind == WinCountStar {
		a.count += w
		return nil
	}
	if a.arg.IsNull(r) {
		return nil
	}
	a.count += w
	switch a.fn.Kind {
	case WinSum, WinAvg:
		d := a.arg.At(r)
		switch {
		case a.float():
			a.f += d.F
		case a.at.Kind == types.Interval:
			a.iv = a.iv.Add(d.Iv.Scale(float64(w)))
		case a.at.Kind == types.Numeric:
			x, err := types.ParseDecimal(d.S)
			if err != nil {
				return err
			}
			a.dec.Add(x, w)
		default:
			a.dec.AddInt(d.I, w)
		}
	case WinMin, WinMax:
		if w < 0 {
			if a.dqHead < len(a.dq) && a.dq[a.dqHead] == r {
				a.dqHead++
			}
			return nil
		}
		d := a.arg.At(r)
		for len(a.dq) > a.dqHead {
			c := types.Compare(a.at, a.arg.At(a.dq[len(a.dq)-1]), d)
			if a.fn.Kind == WinMin && c < 0 || a.fn.Kind == WinMax && c > 0 {
				break
			}
			a.dq = a.dq[:len(a.dq)-1]
		}
		a.dq = append(a.dq, r)
	}
	return nil
}

func (a *frameAcc) result() types.Datum {
	switch a.fn.Kind {
	case WinCount, WinCountStar:
		return types.DInt(a.count)
	case WinMin, WinMax:
		if a.dqHead >= len(a.dq) {
			return types.NullDatum
		}
		return a.arg.At(a.dq[a.dqHead])
	}
	if a.count == 0 {
		return types.NullDatum
	}
	avg := a.fn.Kind == WinAvg
	switch {
	case a.float():
		if avg {
			return types.DFloat(a.f / float64(a.count))
		}
		return types.DFloat(a.f)
	case a.at.Kind == types.Interval:
		if avg {
			return types.Datum{Iv: a.iv.Scale(1 / float64(a.count))}
		}
		return types.Datum{Iv: a.iv}
	}
	sum := a.dec.Sum()
	if avg {
		return types.DText(types.FormatDecimal(types.DivNumeric(sum, apd.New(a.count, 0))))
	}
	if a.fn.T.Kind == types.Int64 {
		x, _ := sum.Int64()
		return types.DInt(x)
	}
	return types.DText(types.FormatDecimal(sum))
}
