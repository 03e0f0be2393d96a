package dataflow

import (
	"sort"

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

	outTypes []types.T
	parts    map[string]*topPart
	buf      []byte
}

type topPart struct {
	rows map[string]*topRow
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
}

// NewTopN returns an empty top-N operator.
func NewTopN(partition []expr.Expr, order []exec.SortKey, n int64, in []types.T, appendOnly bool) *TopN {
	return &TopN{Partition: partition, Order: order, N: n, InTypes: in, AppendOnly: appendOnly,
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
	b := m.Batch
	pvals, err := evalExprs(ctx, b, t.Partition)
	if err != nil {
		return nil, err
	}
	orderExprs := make([]expr.Expr, len(t.Order))
	for i, k := range t.Order {
		orderExprs[i] = k.E
	}
	ovals, err := evalExprs(ctx, b, orderExprs)
	if err != nil {
		releaseValues(pvals)
		return nil, err
	}
	defer func() {
		for _, v := range append(pvals, ovals...) {
			v.Release()
		}
	}()
	touched := map[string]*topPart{}
	var order []string
	scratch := make([]types.Datum, len(ovals))
	for r := 0; r < int(b.NumRows()); r++ {
		t.buf = t.buf[:0]
		for i, v := range pvals {
			t.buf = exec.AppendKey(t.buf, t.Partition[i].Type(), v.At(r))
		}
		p := t.parts[string(t.buf)]
		if p != nil && p.worst != nil && t.AppendOnly && m.Weight(r) > 0 {
			for i, v := range ovals {
				scratch[i] = v.At(r)
			}
			if t.compare(scratch, p.worst) > 0 {
				continue
			}
		}
		pk := string(t.buf)
		if p == nil {
			p = &topPart{rows: map[string]*topRow{}}
			t.parts[pk] = p
		}
		if touched[pk] == nil {
			touched[pk] = p
			order = append(order, pk)
		}
		row := make([]types.Datum, b.NumCols())
		for c := range row {
			row[c] = types.DatumAt(b.Column(c), r)
			t.buf = exec.AppendKey(t.buf, t.InTypes[c], row[c])
		}
		x := p.rows[string(t.buf)]
		if x == nil {
			keys := make([]types.Datum, len(ovals))
			for i, v := range ovals {
				keys[i] = v.At(r)
			}
			x = &topRow{d: row, keys: keys}
			p.rows[string(t.buf)] = x
		}
		x.n += m.Weight(r)
		if x.n == 0 {
			delete(p.rows, string(t.buf))
		}
	}
	var out [][]types.Datum
	var weights []int64
	for _, pk := range order {
		p := touched[pk]
		now, worst := t.top(p)
		out, weights = diffRows(t.outTypes, p.top, now, out, weights)
		p.top, p.worst = now, worst
		if len(p.rows) == 0 {
			delete(t.parts, pk)
		}
	}
	return &Msg{Kind: MsgData, Batch: expr.BatchFromRows(ctx.Mem, t.outTypes, out), Weights: weights}, nil
}

// top sorts a partition's rows and returns its first N with row numbers
// (or ranks), and the ORDER BY values of the last when there are N.
func (t *TopN) top(p *topPart) ([][]types.Datum, []types.Datum) {
	type entry struct {
		enc string
		r   *topRow
	}
	all := make([]entry, 0, len(p.rows))
	var best *topRow
	for k, r := range p.rows {
		all = append(all, entry{k, r})
		if best == nil || t.compare(r.keys, best.keys) < 0 {
			best = r
		}
	}
	if t.N == 1 && len(all) > 1 && (t.Rank || !t.AppendOnly) {
		// the first place only: the rows tied with the best are all that
		// can be in it, no need to sort the others
		tied := all[:0:0]
		for _, e := range all {
			if t.compare(e.r.keys, best.keys) == 0 {
				tied = append(tied, e)
			}
		}
		if !t.AppendOnly {
			all = tied
		} else {
			// an input that only inserts keeps just those
			for _, e := range all {
				if t.compare(e.r.keys, best.keys) != 0 {
					delete(p.rows, e.enc)
				}
			}
			all = tied
		}
	}
	sort.Slice(all, func(i, j int) bool {
		if c := t.compare(all[i].r.keys, all[j].r.keys); c != 0 {
			return c < 0
		}
		return all[i].enc < all[j].enc // ties: a fixed order
	})
	var out [][]types.Datum
	var worst []types.Datum
	in := len(all) // rows from here on are outside the top N
	for i, e := range all {
		rank := int64(len(out)) + 1
		if t.Rank && i > 0 && t.compare(all[i-1].r.keys, e.r.keys) == 0 {
			rank = out[len(out)-1][len(e.r.d)].I // tied with the row before
		}
		if rank > t.N {
			in = i
			break
		}
		for k := int64(0); k < e.r.n && (t.Rank || int64(len(out)) < t.N); k++ {
			if !t.Rank {
				rank = int64(len(out)) + 1
			}
			out = append(out, append(append(make([]types.Datum, 0, len(e.r.d)+1), e.r.d...), types.DInt(rank)))
		}
		if int64(len(out)) >= t.N {
			worst = e.r.keys
		}
	}
	if t.AppendOnly {
		// rows outside the top N can never come back into it
		for _, e := range all[in:] {
			delete(p.rows, e.enc)
		}
	}
	if int64(len(out)) < t.N {
		worst = nil
	}
	return out, worst
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
