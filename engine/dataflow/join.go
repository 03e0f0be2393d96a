package dataflow

import (
	"github.com/streamsql/streamsql/engine/exec"
	"github.com/streamsql/streamsql/engine/expr"
	"github.com/streamsql/streamsql/sqlerr"
	"github.com/streamsql/streamsql/types"
)

// Join maintains an equi-join of two changelogs incrementally (the
// symmetric hash join of differential dataflow): each side keeps its rows
// indexed by join key; a change on one side is joined with the other
// side's current rows, so Δ(L ⋈ R) = ΔL ⋈ R + L' ⋈ ΔR, retractions
// included. For outer joins every kept row counts its matches on the
// other side: a row whose count goes to zero gets its NULL-padded row
// back, one whose count leaves zero retracts it — so a late match turns a
// padded row into a joined one. Rows with a NULL key never match.
type Join struct {
	Kind     exec.JoinKind // InnerJoin, LeftJoin, RightJoin or FullJoin
	Keys     [2][]expr.Expr
	Residual expr.Expr // over left ++ right columns; nil: none
	Types    [2][]types.T
	outTypes []types.T
	sides    [2]*joinSide
	buf      []byte
	ibuf     []int64
	// Lookup makes side Lookup-1's rows look up the other side (a table)
	// as it is when they arrive: they are not kept, and changes of the
	// table side change no output (history is not revised). Set with
	// SetLookup.
	lookup     bool
	lookupSide int
}

// SetLookup turns the join into a lookup join: rows of the other side are
// joined with tableSide's rows as they are at that moment and not kept;
// changes to tableSide only update it. The table side cannot be outer.
func (j *Join) SetLookup(tableSide int) error {
	if j.sides[tableSide].outer {
		return sqlerr.Unsupported("a lookup join keeps no rows to revise: the table side cannot be outer (use LEFT JOIN with the stream on the left)")
	}
	j.lookup, j.lookupSide = true, tableSide
	return nil
}

type joinSide struct {
	outer bool // rows without a match appear NULL-padded
	keys  map[string]*joinBucket
	// one integer key: buckets by value (no key encoding per row)
	intKeys map[int64]*joinBucket
	nulls   *joinBucket // rows with a NULL key (they match nothing)
	rows    int
}

// jkey is a row's join key: its value for one integer key, its encoding
// otherwise.
type jkey struct {
	s    string
	i    int64
	null bool
}

func (s *joinSide) bucket(k jkey, create bool) *joinBucket {
	switch {
	case k.null:
		if s.nulls == nil && create {
			s.nulls = &joinBucket{}
		}
		return s.nulls
	case s.intKeys != nil:
		bk := s.intKeys[k.i]
		if bk == nil && create {
			bk = &joinBucket{}
			s.intKeys[k.i] = bk
		}
		return bk
	}
	bk := s.keys[k.s]
	if bk == nil && create {
		bk = &joinBucket{}
		s.keys[k.s] = bk
	}
	return bk
}

func (s *joinSide) drop(k jkey) {
	switch {
	case k.null:
		s.nulls = nil
	case s.intKeys != nil:
		delete(s.intKeys, k.i)
	default:
		delete(s.keys, k.s)
	}
}

// each calls fn for every bucket.
func (s *joinSide) each(fn func(bk *joinBucket) bool) {
	if s.nulls != nil && !fn(s.nulls) {
		s.nulls = nil
	}
	for k, bk := range s.intKeys {
		if !fn(bk) {
			delete(s.intKeys, k)
		}
	}
	for k, bk := range s.keys {
		if !fn(bk) {
			delete(s.keys, k)
		}
	}
}

// joinBucket holds the rows of one key: usually a few, so a slice beats
// a map per key. Equal rows may have entries of their own (a multiset);
// a retraction takes back any equal one.
type joinBucket struct {
	rows []*joinRow
}

func (bk *joinBucket) find(ts []types.T, row []types.Datum) int {
	for i, x := range bk.rows {
		if x.n > 0 && sameOut(ts, x.d, row) {
			return i
		}
	}
	return -1
}

type joinRow struct {
	d       []types.Datum
	n       int64 // multiplicity
	matches int64 // weighted count of matching rows on the other side
}

// Sides of a join.
const (
	Left  = 0
	Right = 1
)

// NewJoin returns an empty join of rows of types left and right.
func NewJoin(kind exec.JoinKind, leftKeys, rightKeys []expr.Expr, residual expr.Expr, left, right []types.T) (*Join, error) {
	switch kind {
	case exec.InnerJoin, exec.LeftJoin, exec.RightJoin, exec.FullJoin:
	default:
		return nil, sqlerr.Unsupported("semi and anti joins are not supported in continuous queries yet")
	}
	j := &Join{Kind: kind, Keys: [2][]expr.Expr{leftKeys, rightKeys}, Residual: residual, Types: [2][]types.T{left, right}}
	j.outTypes = append(append([]types.T{}, left...), right...)
	j.sides[Left] = &joinSide{outer: kind == exec.LeftJoin || kind == exec.FullJoin, keys: map[string]*joinBucket{}}
	j.sides[Right] = &joinSide{outer: kind == exec.RightJoin || kind == exec.FullJoin, keys: map[string]*joinBucket{}}
	if len(leftKeys) == 1 && intLike(leftKeys[0].Type().Kind) && leftKeys[0].Type().Kind == rightKeys[0].Type().Kind {
		j.sides[Left].intKeys, j.sides[Right].intKeys = map[int64]*joinBucket{}, map[int64]*joinBucket{}
	}
	return j, nil
}

// Rows is the number of distinct rows held on a side (its state size).
func (j *Join) Rows(side int) int { return j.sides[side].rows }

// pair is a candidate output: a delta row and a row of the other side.
type pair struct {
	delta int      // index of the delta row
	other *joinRow // the other side's row
}

// Process applies a changelog batch of one side and returns the join's
// changes. The input stays owned by the caller.
func (j *Join) Process(ctx *expr.Ctx, side int, m *Msg) (*Msg, error) {
	b := m.Batch
	n := int(b.NumRows())
	me, other := j.sides[side], j.sides[1-side]
	keyVals, err := evalExprs(ctx, b, j.Keys[side])
	if err != nil {
		return nil, err
	}
	defer releaseValues(keyVals)
	// the batch's rows, in one allocation
	nc := int(b.NumCols())
	arena := make([]types.Datum, n*nc)
	rows := make([][]types.Datum, n)
	for c := 0; c < nc; c++ {
		col := b.Column(c)
		for r := 0; r < n; r++ {
			arena[r*nc+c] = types.DatumAt(col, r)
		}
	}
	keys := make([]jkey, n)
	var ints []int64
	var intNulls bool
	if me.intKeys != nil {
		ints, intNulls = intColumn(keyVals[0], n, &j.ibuf)
	}
	for r := 0; r < n; r++ {
		rows[r] = arena[r*nc : (r+1)*nc : (r+1)*nc]
		if ints != nil {
			keys[r] = jkey{i: ints[r], null: intNulls && (keyVals[0].IsScalar() || keyVals[0].Arr.IsNull(r))}
			continue
		}
		j.buf = j.buf[:0]
		for i, v := range keyVals {
			d := v.At(r)
			if d.Null {
				keys[r].null = true
			}
			j.buf = exec.AppendKey(j.buf, j.Keys[side][i].Type(), d)
		}
		keys[r].s = string(j.buf)
	}

	out := make([][]types.Datum, 0, n)
	weights := make([]int64, 0, n)
	emit := func(row []types.Datum, w int64) {
		if w != 0 {
			out, weights = append(out, row), append(weights, w)
		}
	}
	if j.lookup && side == j.lookupSide {
		// the table changed: its rows are updated, no output is revised
		if err := j.store(me, side, keys, rows, m, nil); err != nil {
			return nil, err
		}
		return &Msg{Kind: MsgData, Batch: expr.BatchFromRows(ctx.Mem, j.outTypes, out), Weights: weights}, nil
	}
	// the other side's rows under each delta row's key, filtered by the
	// residual predicate over all candidate pairs at once
	var pairs []pair
	for r := 0; r < n; r++ {
		if keys[r].null || m.Weight(r) == 0 {
			continue
		}
		if bk := other.bucket(keys[r], false); bk != nil {
			for _, o := range bk.rows {
				pairs = append(pairs, pair{r, o})
			}
		}
	}
	keep, err := j.residual(ctx, side, rows, pairs)
	if err != nil {
		return nil, err
	}
	matched := make([]int64, n)
	// joined rows share one allocation
	width := len(j.outTypes)
	kept := 0
	for _, k := range keep {
		if k {
			kept++
		}
	}
	outArena := make([]types.Datum, 0, kept*width)
	for i, p := range pairs {
		if !keep[i] {
			continue
		}
		w := m.Weight(p.delta)
		at := len(outArena)
		if side == Left {
			outArena = append(append(outArena, rows[p.delta]...), p.other.d...)
		} else {
			outArena = append(append(outArena, p.other.d...), rows[p.delta]...)
		}
		emit(outArena[at:at+width:at+width], w*p.other.n)
		matched[p.delta] += p.other.n
		if other.outer {
			// the other row's padded form comes and goes with its matches
			before := p.other.matches
			p.other.matches += w
			switch {
			case before == 0 && p.other.matches > 0:
				emit(j.padded(1-side, p.other.d), -p.other.n)
			case before > 0 && p.other.matches == 0:
				emit(j.padded(1-side, p.other.d), p.other.n)
			}
		}
	}
	for r := 0; r < n; r++ {
		if w := m.Weight(r); w != 0 && me.outer && matched[r] == 0 {
			emit(j.padded(side, rows[r]), w)
		}
	}
	if !j.lookup {
		// the rows are kept, for the other side's later changes
		if err := j.store(me, side, keys, rows, m, matched); err != nil {
			return nil, err
		}
	}
	return &Msg{Kind: MsgData, Batch: expr.BatchFromRows(ctx.Mem, j.outTypes, out), Weights: weights}, nil
}

// store adds a batch's rows (with their match counts) to a side's state,
// or takes retracted ones out.
func (j *Join) store(me *joinSide, side int, keys []jkey, rows [][]types.Datum, m *Msg, matched []int64) error {
	for r := range rows {
		w := m.Weight(r)
		if w == 0 {
			continue
		}
		var match int64
		if matched != nil {
			match = matched[r]
		}
		bk := me.bucket(keys[r], true)
		if w > 0 {
			bk.rows = append(bk.rows, &joinRow{d: rows[r], n: w, matches: match})
			me.rows++
			continue
		}
		for w < 0 {
			at := bk.find(j.Types[side], rows[r])
			if at < 0 {
				return sqlerr.New(sqlerr.InternalError, "join row retracted more often than inserted")
			}
			x := bk.rows[at]
			take := min(x.n, -w)
			x.n -= take
			w += take
			if x.n == 0 {
				bk.rows = append(bk.rows[:at], bk.rows[at+1:]...)
				me.rows--
			}
		}
		if len(bk.rows) == 0 {
			me.drop(keys[r])
		}
	}
	return nil
}

// residual evaluates the residual predicate over candidate pairs.
func (j *Join) residual(ctx *expr.Ctx, side int, rows [][]types.Datum, pairs []pair) ([]bool, error) {
	keep := make([]bool, len(pairs))
	if j.Residual == nil {
		for i := range keep {
			keep[i] = true
		}
		return keep, nil
	}
	if len(pairs) == 0 {
		return keep, nil
	}
	joined := make([][]types.Datum, len(pairs))
	for i, p := range pairs {
		joined[i] = j.joined(side, rows[p.delta], p.other.d)
	}
	b := expr.BatchFromRows(ctx.Mem, j.outTypes, joined)
	defer b.Release()
	v, err := j.Residual.Eval(ctx, b)
	if err != nil {
		return nil, err
	}
	defer v.Release()
	for i := range keep {
		d := v.At(i)
		keep[i] = !d.Null && d.I != 0
	}
	return keep, nil
}

// joined is the output row of a row of side and a row of the other side.
func (j *Join) joined(side int, row, other []types.Datum) []types.Datum {
	out := make([]types.Datum, 0, len(j.outTypes))
	if side == Left {
		return append(append(out, row...), other...)
	}
	return append(append(out, other...), row...)
}

// padded is a row of side with NULLs for the other side's columns.
func (j *Join) padded(side int, row []types.Datum) []types.Datum {
	out := make([]types.Datum, 0, len(j.outTypes))
	nulls := make([]types.Datum, len(j.Types[1-side]))
	for i := range nulls {
		nulls[i] = types.NullDatum
	}
	if side == Left {
		return append(append(out, row...), nulls...)
	}
	return append(append(out, nulls...), row...)
}

// Expire drops the rows of side for which done reports true: no future
// row of the other side can match them (an interval join's bound has
// passed the watermark). Their output stays as it is.
func (j *Join) Expire(side int, done func(row []types.Datum) bool) {
	s := j.sides[side]
	s.each(func(bk *joinBucket) bool {
		keep := bk.rows[:0]
		for _, x := range bk.rows {
			if done(x.d) {
				s.rows--
				continue
			}
			keep = append(keep, x)
		}
		clear(bk.rows[len(keep):])
		bk.rows = keep
		return len(bk.rows) > 0
	})
}
