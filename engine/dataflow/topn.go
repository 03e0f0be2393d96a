package dataflow

import (
	"math"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/streamsql/streamsql/engine/exec"
	"github.com/streamsql/streamsql/engine/expr"
	"github.com/streamsql/streamsql/types"
)

// TopN maintains ROW_NUMBER() OVER (PARTITION BY ... ORDER BY ...) <= N
// incrementally: per partition it keeps the rows (a multiset, so
// retractions work) and the N rows it emitted with their row numbers; a
// change to a partition recomputes its top N and emits the difference.
// Its output is the input row followed by the row number. Over an input
// that never retracts, rows that fall out of the top N are dropped, so
// state stays at N rows per partition.
type TopN struct {
	Partition  []expr.Expr
	Order      []exec.SortKey
	N          int64
	InTypes    []types.T
	AppendOnly bool
	// Rank: RANK() <= N instead of ROW_NUMBER() <= N — every row tied
	// with the N-th stays in, numbered by its rank
	Rank bool
	// ExpireCol, when >= 0, is a PARTITION BY column holding a window's
	// start (plus ExpireAdd: its end): ExpireBefore drops the partitions
	// of windows the watermark has closed, which get no more changes.
	ExpireCol int
	ExpireAdd int64

	outTypes []types.T
	parts    map[string]*topPart
	buf      []byte
	// the partition the last row went to: rows in time order mostly go
	// to the same one (nil when it may have gone)
	last *topPart
	// the rows' entries in checkpoints (checkpoint_topn.go): the last id
	// given, the rows changed since the last checkpoint, and the ids of
	// saved rows gone since
	ckNext  uint64
	ckDirty []*topRow
	ckGone  []uint64
	// rows of ckDirty that died since (see died)
	ckDirtyDead int
	ckOff       bool // changes are not tracked (derived state)
	ckBuf       entryBuf
}

type topPart struct {
	key     string      // its key in parts
	touched bool        // changed by the batch being processed
	window  types.Datum // the ExpireCol value
	rows    map[string]*topRow
	// h orders the rows best first (ORDER BY values, then encoding); a row
	// taken out of rows stays in it, dead, until it reaches the top or
	// the dead are many and it is rebuilt
	h    []*topRow
	dead int
	top  [][]types.Datum
	// worst is the ORDER BY values of the last row of a full top N (nil
	// while it has fewer): over an input that only inserts, a row ordered
	// after it can never get in, and is skipped before it costs anything
	worst []types.Datum
}

type topRow struct {
	d    []types.Datum // the input row
	keys []types.Datum // its ORDER BY values
	n    int64
	enc  string // its key in the partition's rows
	dead bool
	// k is the ORDER BY value when it is one integer (intKey; see setKey)
	k      int64
	intKey bool
	// its entry in checkpoints: id, whether saved there, changed since
	part         *topPart
	id           uint64
	saved, dirty bool
}

// NewTopN returns an empty top-N operator.
func NewTopN(partition []expr.Expr, order []exec.SortKey, n int64, in []types.T, appendOnly bool) *TopN {
	return &TopN{Partition: partition, Order: order, N: n, InTypes: in, AppendOnly: appendOnly, ExpireCol: -1,
		outTypes: append(append([]types.T{}, in...), types.TInt64), parts: map[string]*topPart{}}
}

// Types are the output columns: the input's and the row number.
func (t *TopN) Types() []types.T { return t.outTypes }

// Rows is the number of rows held.
func (t *TopN) Rows() int {
	n := 0
	for _, p := range t.parts {
		n += len(p.rows)
	}
	return n
}

// Process applies a changelog batch and returns the changes to the top N.
func (t *TopN) Process(ctx *expr.Ctx, m *Msg) (*Msg, error) {
	np := len(t.Partition)
	exprs := make([]expr.Expr, 0, np+len(t.Order))
	exprs = append(exprs, t.Partition...)
	for _, k := range t.Order {
		exprs = append(exprs, k.E)
	}
	m, vals, err := evalOrDrop(ctx, m, expr.Columns{}, func(b arrow.RecordBatch) ([]expr.Value, error) { return evalExprs(ctx, b, exprs) }, releaseValues)
	if err != nil {
		return nil, err
	}
	defer m.Release()
	defer releaseValues(vals)
	b := m.Batch
	pvals, ovals := vals[:np], vals[np:]
	var touched []*topPart
	scratch := make([]types.Datum, len(ovals))
	rowBuf := make([]types.Datum, b.NumCols()) // copied only for new rows
	for r := 0; r < int(b.NumRows()); r++ {
		t.buf = t.buf[:0]
		for i, v := range pvals {
			t.buf = exec.AppendKey(t.buf, t.Partition[i].Type(), v.At(r))
		}
		p := t.last
		if p == nil || p.key != string(t.buf) {
			p = t.parts[string(t.buf)]
			t.last = p
		}
		if p != nil && p.worst != nil && t.AppendOnly && m.Weight(r) > 0 {
			for i, v := range ovals {
				scratch[i] = v.At(r)
			}
			if t.compare(scratch, p.worst) > 0 {
				continue
			}
		}
		if p == nil {
			p = &topPart{rows: map[string]*topRow{}, key: string(t.buf)}
			if t.ExpireCol >= 0 {
				p.window = pvals[t.ExpireCol].At(r)
			}
			t.parts[p.key] = p
			t.last = p
		}
		if !p.touched {
			p.touched = true
			touched = append(touched, p)
		}
		for c := range rowBuf {
			rowBuf[c] = types.DatumAt(b.Column(c), r)
			t.buf = exec.AppendKey(t.buf, t.InTypes[c], rowBuf[c])
		}
		x := p.rows[string(t.buf)]
		if x == nil {
			// a new row: its values and ORDER BY values in one allocation
			d := make([]types.Datum, len(rowBuf)+len(ovals))
			copy(d, rowBuf)
			for i, v := range ovals {
				d[len(rowBuf)+i] = v.At(r)
			}
			x = &topRow{d: d[:len(rowBuf):len(rowBuf)], keys: d[len(rowBuf):], enc: string(t.buf), part: p}
			t.setKey(x)
			t.born(x)
			p.rows[x.enc] = x
			t.push(p, x)
		}
		x.n += m.Weight(r)
		t.touch(x)
		if x.n == 0 {
			delete(p.rows, x.enc)
			x.dead = true
			t.died(x)
			p.dead++
		}
	}
	var out [][]types.Datum
	var weights []int64
	for _, p := range touched {
		p.touched = false
		now, worst := t.top(p)
		out, weights = diffRows(t.outTypes, p.top, now, out, weights)
		p.top, p.worst = now, worst
		if len(p.rows) == 0 {
			delete(t.parts, p.key)
			t.last = nil
		}
	}
	return &Msg{Kind: MsgData, Batch: expr.BatchFromRows(ctx.Mem, t.outTypes, out), Weights: weights}, nil
}

// ExpireBefore drops the partitions whose window ended at or before wm
// (see ExpireCol); their rows in the output stay. It returns how many.
func (t *TopN) ExpireBefore(wm int64) int {
	if t.ExpireCol < 0 {
		return 0
	}
	n := 0
	for k, p := range t.parts {
		if !p.window.Null && p.window.I+t.ExpireAdd <= wm {
			for _, x := range p.rows {
				x.dead = true
				t.died(x)
			}
			delete(t.parts, k)
			t.last = nil
			n++
		}
	}
	return n
}

// top returns a partition's first N rows with row numbers (or ranks),
// and the ORDER BY values of the last when there are N. It takes them off
// the heap best first — as many as the top N needs, plus those tied with
// the last for RANK — and puts them back: O(N log n), not a sort.
func (t *TopN) top(p *topPart) ([][]types.Datum, []types.Datum) {
	if p.dead > 16 && p.dead > len(p.h)/2 {
		t.rebuild(p)
	}
	var picked []*topRow
	var count int64
	for len(p.h) > 0 {
		x := p.h[0]
		if x.dead {
			t.pop(p)
			p.dead--
			continue
		}
		if count >= t.N && (!t.Rank || t.compare(x.keys, picked[len(picked)-1].keys) != 0) {
			break
		}
		t.pop(p)
		picked = append(picked, x)
		count += x.n
	}
	for _, x := range picked {
		t.push(p, x)
	}
	var out [][]types.Datum
	var worst []types.Datum
	for i, e := range picked {
		rank := int64(len(out)) + 1
		if t.Rank && i > 0 && t.compare(picked[i-1].keys, e.keys) == 0 {
			rank = out[len(out)-1][len(e.d)].I // tied with the row before
		}
		if rank > t.N {
			break
		}
		for k := int64(0); k < e.n && (t.Rank || int64(len(out)) < t.N); k++ {
			if !t.Rank {
				rank = int64(len(out)) + 1
			}
			out = append(out, append(append(make([]types.Datum, 0, len(e.d)+1), e.d...), types.DInt(rank)))
		}
		if int64(len(out)) >= t.N {
			worst = e.keys
		}
	}
	if t.AppendOnly && len(p.rows) > len(picked) {
		// rows outside the top N can never come back into it
		for _, x := range p.rows {
			x.dead = true
		}
		p.rows = make(map[string]*topRow, len(picked))
		for _, x := range picked {
			x.dead = false
			p.rows[x.enc] = x
		}
		for _, x := range p.h {
			if x.dead {
				t.died(x)
			}
		}
		p.h, p.dead = append(p.h[:0:0], picked...), 0
	}
	if int64(len(out)) < t.N {
		worst = nil
	}
	return out, worst
}

// less orders rows in a partition: by the ORDER BY values, then (ties) by
// encoding, a fixed order.
func (t *TopN) less(a, b *topRow) bool {
	if a.intKey && b.intKey {
		// one integer ORDER BY value on both (the common case: a count)
		if a.k != b.k {
			return a.k < b.k
		}
		return a.enc < b.enc
	}
	if c := t.compare(a.keys, b.keys); c != 0 {
		return c < 0
	}
	return a.enc < b.enc
}

// setKey caches a row's ORDER BY value when it is one non-NULL integer
// (negated for DESC), so that heap order needs no Datum comparison.
func (t *TopN) setKey(x *topRow) {
	if len(t.Order) != 1 || x.keys[0].Null || !IntLike(t.Order[0].E.Type().Kind) || x.keys[0].I == math.MinInt64 {
		return // (the smallest integer has no negation)
	}
	x.intKey, x.k = true, x.keys[0].I
	if t.Order[0].Desc {
		x.k = -x.k
	}
}

func (t *TopN) push(p *topPart, x *topRow) { p.h = heapPush(p.h, x, t.less) }

func (t *TopN) pop(p *topPart) (x *topRow) {
	p.h, x = heapPop(p.h, t.less)
	return x
}

// rebuild makes a partition's heap of its live rows.
func (t *TopN) rebuild(p *topPart) {
	p.h, p.dead = p.h[:0:0], 0
	for _, x := range p.rows {
		t.push(p, x)
	}
}

func (t *TopN) compare(a, b []types.Datum) int {
	for i, k := range t.Order {
		x, y := a[i], b[i]
		var c int
		switch {
		case x.Null && y.Null:
		case x.Null || y.Null:
			// NULLs sort before or after every value, regardless of direction
			c = 1
			if x.Null == k.NullsFirst {
				c = -1
			}
			return c
		default:
			c = types.Compare(k.E.Type(), x, y)
			if k.Desc {
				c = -c
			}
		}
		if c != 0 {
			return c
		}
	}
	return 0
}
