package dataflow

import (
	"sort"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/streamsql/streamsql/engine/exec"
	"github.com/streamsql/streamsql/engine/expr"
	"github.com/streamsql/streamsql/sqlerr"
	"github.com/streamsql/streamsql/types"
)

// AsOfJoin joins each left row with the latest right row of the same key
// at or before its time (strictly before when Strict): the price of a
// coin when a payment happened. Left: a left row with no such right row
// appears NULL-padded. Incrementally, a right row arriving between a left
// row's match and its time changes that left row's output (−old, +new).
// Rows whose output can no longer change are dropped by Expire.
type AsOfJoin struct {
	LeftOuter bool
	Keys      [2][]expr.Expr
	TimeCol   [2]int
	Strict    bool
	Types     [2][]types.T
	outTypes  []types.T
	keys      map[string]*asofKey
	rows      [2]int
	buf       []byte
}

type asofKey struct {
	left  []*asofRow // by time
	right []*asofRow // by time, then encoding
}

type asofRow struct {
	d   []types.Datum
	enc string
	ts  int64
	n   int64
	out []types.Datum // a left row's current output (nil: none)
}

// NewAsOfJoin returns an empty as-of join.
func NewAsOfJoin(leftOuter bool, leftKeys, rightKeys []expr.Expr, timeCols [2]int, strict bool, left, right []types.T) *AsOfJoin {
	return &AsOfJoin{LeftOuter: leftOuter, Keys: [2][]expr.Expr{leftKeys, rightKeys}, TimeCol: timeCols, Strict: strict,
		Types: [2][]types.T{left, right}, outTypes: append(append([]types.T{}, left...), right...), keys: map[string]*asofKey{}}
}

// Rows is the number of distinct rows held on a side.
func (j *AsOfJoin) Rows(side int) int { return j.rows[side] }

func (j *AsOfJoin) find(rows []*asofRow, ts int64, enc string) (int, bool) {
	i := sort.Search(len(rows), func(i int) bool {
		return rows[i].ts > ts || (rows[i].ts == ts && rows[i].enc >= enc)
	})
	return i, i < len(rows) && rows[i].ts == ts && rows[i].enc == enc
}

// match is the right row a left row at ts joins with (nil: none).
func (j *AsOfJoin) match(k *asofKey, ts int64) *asofRow {
	i := sort.Search(len(k.right), func(i int) bool {
		if j.Strict {
			return k.right[i].ts >= ts
		}
		return k.right[i].ts > ts
	})
	if i == 0 {
		return nil
	}
	return k.right[i-1]
}

func (j *AsOfJoin) output(k *asofKey, l *asofRow) []types.Datum {
	r := j.match(k, l.ts)
	if r == nil {
		if !j.LeftOuter {
			return nil
		}
		out := append(make([]types.Datum, 0, len(j.outTypes)), l.d...)
		for range j.Types[Right] {
			out = append(out, types.NullDatum)
		}
		return out
	}
	return append(append(make([]types.Datum, 0, len(j.outTypes)), l.d...), r.d...)
}

// Process applies a changelog batch of one side and returns the join's changes.
func (j *AsOfJoin) Process(ctx *expr.Ctx, side int, m *Msg) (*Msg, error) {
	m, keyVals, err := evalOrDrop(ctx, m, expr.Columns{}, func(b arrow.RecordBatch) ([]expr.Value, error) { return evalExprs(ctx, b, j.Keys[side]) }, releaseValues)
	if err != nil {
		return nil, err
	}
	defer m.Release()
	defer releaseValues(keyVals)
	b := m.Batch
	var out [][]types.Datum
	var weights []int64
	emit := func(row []types.Datum, w int64) {
		if row != nil && w != 0 {
			out, weights = append(out, row), append(weights, w)
		}
	}
	// right rows: the keys whose left rows may match differently, from
	// the earliest time a right row came or went (each left row's output
	// changes once per batch, not once per right row before it)
	dirty := map[*asofKey]int64{}
	var order []*asofKey
	for r := 0; r < int(b.NumRows()); r++ {
		w := m.Weight(r)
		row := make([]types.Datum, b.NumCols())
		for c := range row {
			row[c] = types.DatumAt(b.Column(c), r)
		}
		j.buf = j.buf[:0]
		null := row[j.TimeCol[side]].Null
		for i, v := range keyVals {
			d := v.At(r)
			null = null || d.Null
			j.buf = exec.AppendKey(j.buf, j.Keys[side][i].Type(), d)
		}
		if null {
			// no key or no time: a left row stays unmatched, a right row matches nothing
			if side == Left && j.LeftOuter {
				pad := append(make([]types.Datum, 0, len(j.outTypes)), row...)
				for range j.Types[Right] {
					pad = append(pad, types.NullDatum)
				}
				emit(pad, w)
			}
			continue
		}
		key := string(j.buf)
		k := j.keys[key]
		if k == nil {
			k = &asofKey{}
			j.keys[key] = k
		}
		j.buf = j.buf[:0]
		for c, d := range row {
			j.buf = exec.AppendKey(j.buf, j.Types[side][c], d)
		}
		ts := row[j.TimeCol[side]].I
		list := &k.left
		if side == Right {
			list = &k.right
		}
		i, ok := j.find(*list, ts, string(j.buf))
		if !ok {
			x := &asofRow{d: row, enc: string(j.buf), ts: ts}
			*list = append(*list, nil)
			copy((*list)[i+1:], (*list)[i:])
			(*list)[i] = x
			j.rows[side]++
			if side == Left {
				x.out = j.output(k, x)
			}
		}
		x := (*list)[i]
		x.n += w
		if x.n < 0 {
			return nil, sqlerr.New(sqlerr.InternalError, "as-of join row retracted more often than inserted")
		}
		if x.n == 0 {
			*list = append((*list)[:i], (*list)[i+1:]...)
			j.rows[side]--
		}
		if side == Left {
			emit(x.out, w)
		} else if x.n == 0 || x.n == w {
			// a right row came or went: the left rows at or after it may
			// match differently, once the whole batch is in
			if at, ok := dirty[k]; !ok {
				dirty[k] = ts
				order = append(order, k)
			} else if ts < at {
				dirty[k] = ts
			}
		}
		if len(k.left) == 0 && len(k.right) == 0 {
			delete(j.keys, key)
		}
	}
	for _, k := range order {
		from := sort.Search(len(k.left), func(i int) bool { return k.left[i].ts >= dirty[k] })
		for _, l := range k.left[from:] {
			now := j.output(k, l)
			if !sameOut(j.outTypes, l.out, now) {
				emit(l.out, -l.n)
				emit(now, l.n)
				l.out = now
			}
		}
	}
	return &Msg{Kind: MsgData, Batch: expr.BatchFromRows(ctx.Mem, j.outTypes, out), Weights: weights}, nil
}

func sameOut(ts []types.T, a, b []types.Datum) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return sameRow(ts, a, b)
}

// Expire drops what can no longer change the output: left rows older
// than the right watermark (no right row can arrive before them any
// more), and right rows superseded by a newer one that every future or
// remaining left row would pick instead.
func (j *AsOfJoin) Expire(wmLeft, wmRight int64) {
	for key, k := range j.keys {
		keep := k.left[:0]
		for _, l := range k.left {
			if l.ts < wmRight {
				j.rows[Left]--
				continue
			}
			keep = append(keep, l)
		}
		k.left = keep
		cutoff := wmLeft
		if len(k.left) > 0 && k.left[0].ts < cutoff {
			cutoff = k.left[0].ts
		}
		// the latest right row at or before the cutoff stays; older ones go
		i := sort.Search(len(k.right), func(i int) bool { return k.right[i].ts > cutoff })
		if i > 1 {
			j.rows[Right] -= i - 1
			k.right = append(k.right[:0], k.right[i-1:]...)
		}
		if len(k.left) == 0 && len(k.right) == 0 {
			delete(j.keys, key)
		}
	}
}

// AsOfJoinOp is the batch operator: it reads the whole right input, then
// joins each left batch.
type AsOfJoinOp struct {
	Left, Right exec.Operator
	J           *AsOfJoin
	built       bool
}

func (o *AsOfJoinOp) Types() []types.T { return o.J.outTypes }
func (o *AsOfJoinOp) Close()           { o.Left.Close(); o.Right.Close() }
func (o *AsOfJoinOp) Next(ctx *expr.Ctx) (arrow.RecordBatch, error) {
	if !o.built {
		o.built = true
		for {
			b, err := o.Right.Next(ctx)
			if err != nil {
				return nil, err
			}
			if b == nil {
				break
			}
			out, err := o.J.Process(ctx, Right, &Msg{Kind: MsgData, Batch: b})
			b.Release()
			if err != nil {
				return nil, err
			}
			out.Release()
		}
	}
	for {
		b, err := o.Left.Next(ctx)
		if err != nil || b == nil {
			return nil, err
		}
		out, err := o.J.Process(ctx, Left, &Msg{Kind: MsgData, Batch: b})
		b.Release()
		if err != nil {
			return nil, err
		}
		if out.Batch.NumRows() > 0 {
			return out.Batch, nil
		}
		out.Release()
	}
}

// sameRow reports whether two rows hold the same values, spelled alike.
func sameRow(ts []types.T, x, y []types.Datum) bool {
	for i, t := range ts {
		if x[i].Null != y[i].Null {
			return false
		}
		if !x[i].Null && !sameValue(storeClass(t), x[i], y[i]) {
			return false
		}
	}
	return true
}
