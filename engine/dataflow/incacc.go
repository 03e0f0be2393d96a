package dataflow

import (
	"math"
	"strconv"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/cockroachdb/apd/v3"
	"github.com/streamsql/streamsql/engine/exec"
	"github.com/streamsql/streamsql/engine/expr"
	"github.com/streamsql/streamsql/sqlerr"
	"github.com/streamsql/streamsql/types"
)

// An incAccum keeps one aggregate for every group of an IncAgg, in flat
// slices indexed by group id, under weighted updates.
type incAccum interface {
	grow(groups int)
	reset(g int32) // a new group takes the id
	// update adds row i's value with weight ws[i] (1 when ws is nil) to
	// group gids[i].
	update(gids []int32, ws []int64, v expr.Value) error
	result(g int32) types.Datum
}

func newIncAccum(s exec.AggSpec, appendOnly bool) (incAccum, error) {
	var at types.T
	if s.Arg != nil {
		at = s.Arg.Type()
	}
	if s.Distinct {
		switch s.Kind {
		case exec.AggCount, exec.AggSum, exec.AggAvg, exec.AggMin, exec.AggMax:
			return &genericAcc{spec: s, at: at}, nil
		}
		return nil, sqlerr.Unsupported("%s(DISTINCT ...) is not supported in continuous queries", s.Kind)
	}
	switch s.Kind {
	case exec.AggCountStar, exec.AggCount:
		return &countInc{star: s.Kind == exec.AggCountStar}, nil
	case exec.AggSum, exec.AggAvg:
		switch at.Kind {
		case types.Int16, types.Int32, types.Int64:
			return &sumIntInc{avg: s.Kind == exec.AggAvg, out: s.T}, nil
		case types.Float32, types.Float64:
			return &sumFloatInc{avg: s.Kind == exec.AggAvg}, nil
		case types.Numeric, types.Interval:
			return &genericAcc{spec: s, at: at}, nil
		}
	case exec.AggMin, exec.AggMax:
		if appendOnly && (at.Kind == types.Float64 || IntLike(at.Kind)) {
			return &extremeInc{max: s.Kind == exec.AggMax, float: at.Kind == types.Float64}, nil
		}
		return &genericAcc{spec: s, at: at}, nil
	case exec.AggVarSamp, exec.AggVarPop, exec.AggStddevSamp, exec.AggStddevPop, exec.AggBoolAnd, exec.AggBoolOr:
		return &genericAcc{spec: s, at: at}, nil
	}
	return nil, sqlerr.Unsupported("%s is not supported in continuous queries (its result depends on input order or it cannot be retracted)", s.Kind)
}

func weight(ws []int64, i int) int64 {
	if ws == nil {
		return 1
	}
	return ws[i]
}

func growTo[T any](s []T, n int) []T {
	if len(s) >= n {
		return s
	}
	return append(s, make([]T, n-len(s))...)
}

// count(*) and count(x): the weighted number of (non-NULL) rows.
type countInc struct {
	star bool
	n    []int64
}

func (c *countInc) grow(n int)                 { c.n = growTo(c.n, n) }
func (c *countInc) reset(g int32)              { c.n[g] = 0 }
func (c *countInc) result(g int32) types.Datum { return types.DInt(c.n[g]) }
func (c *countInc) update(gids []int32, ws []int64, v expr.Value) error {
	n := c.n
	if c.star || (v.IsScalar() && !v.D.Null) || (!v.IsScalar() && v.Arr.NullN() == 0) {
		if ws == nil {
			for _, g := range gids {
				n[g]++
			}
			return nil
		}
		for i, g := range gids {
			n[g] += ws[i]
		}
		return nil
	}
	if v.IsScalar() {
		return nil
	}
	for i, g := range gids {
		if v.Arr.IsValid(i) {
			n[g] += weight(ws, i)
		}
	}
	return nil
}

// sum and avg of integers: int64 sums that move to a decimal on overflow.
type sumIntInc struct {
	avg  bool
	out  types.T
	sums []int64
	cnt  []int64
	big  map[int32]*apd.Decimal
	buf  []int64
}

func (s *sumIntInc) grow(n int) { s.sums, s.cnt = growTo(s.sums, n), growTo(s.cnt, n) }
func (s *sumIntInc) reset(g int32) {
	s.sums[g], s.cnt[g] = 0, 0
	delete(s.big, g)
}

// add adds x·w to group g.
func (s *sumIntInc) add(g int32, x, w int64) {
	p := x * w
	if w != 1 && (x != 0 && (p/x != w || (x == -1 && w == math.MinInt64) || (w == -1 && x == math.MinInt64))) {
		d := apd.New(x, 0)
		_, _ = types.DecCtx.Mul(d, d, apd.New(w, 0))
		s.addBig(g, d)
		return
	}
	old := s.sums[g]
	sum := old + p
	if (p > 0 && sum < old) || (p < 0 && sum > old) {
		s.addBig(g, apd.New(p, 0))
		return
	}
	s.sums[g] = sum
}

func (s *sumIntInc) addBig(g int32, d *apd.Decimal) {
	if s.big == nil {
		s.big = map[int32]*apd.Decimal{}
	}
	b := s.big[g]
	if b == nil {
		b = apd.New(0, 0)
		s.big[g] = b
	}
	_, _ = types.DecCtx.Add(b, b, d)
}

func (s *sumIntInc) update(gids []int32, ws []int64, v expr.Value) error {
	if v.IsScalar() {
		if v.D.Null {
			return nil
		}
		for i, g := range gids {
			w := weight(ws, i)
			s.add(g, v.D.I, w)
			s.cnt[g] += w
		}
		return nil
	}
	vals, nulls := intColumn(v, len(gids), &s.buf)
	sums, cnt := s.sums, s.cnt
	if !nulls && ws == nil {
		for i, g := range gids {
			x := vals[i]
			old := sums[g]
			sum := old + x
			if (x > 0 && sum < old) || (x < 0 && sum > old) {
				s.add(g, x, 1)
			} else {
				sums[g] = sum
			}
			cnt[g]++
		}
		return nil
	}
	for i, g := range gids {
		if nulls && v.Arr.IsNull(i) {
			continue
		}
		w := weight(ws, i)
		s.add(g, vals[i], w)
		cnt[g] += w
	}
	return nil
}

func (s *sumIntInc) total(g int32) *apd.Decimal {
	d := apd.New(s.sums[g], 0)
	if b := s.big[g]; b != nil {
		_, _ = types.DecCtx.Add(d, d, b)
	}
	return d
}

func (s *sumIntInc) result(g int32) types.Datum {
	if s.cnt[g] == 0 {
		return types.NullDatum
	}
	switch {
	case s.avg:
		if s.big[g] == nil {
			if q, ok := types.DivInt64(s.sums[g], s.cnt[g]); ok {
				return types.DText(q)
			}
		}
		return types.DText(types.FormatDecimal(types.DivNumeric(s.total(g), apd.New(s.cnt[g], 0))))
	case s.big[g] != nil:
		if s.out.Kind == types.Int64 {
			v, _ := s.total(g).Int64()
			return types.DInt(v)
		}
		return types.DText(types.FormatDecimal(s.total(g)))
	case s.out.Kind == types.Numeric:
		return types.DText(strconv.FormatInt(s.sums[g], 10))
	}
	return types.DInt(s.sums[g])
}

// sum and avg of floats.
type sumFloatInc struct {
	avg  bool
	sums []float64
	cnt  []int64
	buf  []float64
}

func (s *sumFloatInc) grow(n int)    { s.sums, s.cnt = growTo(s.sums, n), growTo(s.cnt, n) }
func (s *sumFloatInc) reset(g int32) { s.sums[g], s.cnt[g] = 0, 0 }
func (s *sumFloatInc) update(gids []int32, ws []int64, v expr.Value) error {
	for i, g := range gids {
		var x float64
		if v.IsScalar() {
			if v.D.Null {
				return nil
			}
			x = v.D.F
		} else {
			if v.Arr.IsNull(i) {
				continue
			}
			x = floatAt(v.Arr, i)
		}
		w := weight(ws, i)
		s.sums[g] += x * float64(w)
		s.cnt[g] += w
	}
	return nil
}

func floatAt(a arrow.Array, i int) float64 {
	if a.DataType().ID() == arrow.FLOAT32 {
		return float64(expr.FixedValues[float32](a)[i])
	}
	return expr.FixedValues[float64](a)[i]
}

func (s *sumFloatInc) result(g int32) types.Datum {
	if s.cnt[g] == 0 {
		return types.NullDatum
	}
	if s.avg {
		return types.DFloat(s.sums[g] / float64(s.cnt[g]))
	}
	return types.DFloat(s.sums[g])
}

// min and max over an input that never retracts: the extreme so far.
type extremeInc struct {
	max, float bool
	ints       []int64
	floats     []float64
	seen       []bool
	buf        []int64
}

func (m *extremeInc) grow(n int) {
	m.seen = growTo(m.seen, n)
	if m.float {
		m.floats = growTo(m.floats, n)
	} else {
		m.ints = growTo(m.ints, n)
	}
}
func (m *extremeInc) reset(g int32) { m.seen[g] = false }

func (m *extremeInc) update(gids []int32, ws []int64, v expr.Value) error {
	for i := range ws {
		if ws[i] < 0 {
			return sqlerr.New(sqlerr.InternalError, "append-only aggregate received a retraction")
		}
	}
	if m.float {
		for i, g := range gids {
			var x float64
			if v.IsScalar() {
				if v.D.Null {
					return nil
				}
				x = v.D.F
			} else if v.Arr.IsNull(i) {
				continue
			} else {
				x = floatAt(v.Arr, i)
			}
			// NaN is greater than every number, as in PostgreSQL
			if !m.seen[g] || (m.max && floatLess(m.floats[g], x)) || (!m.max && floatLess(x, m.floats[g])) {
				m.floats[g], m.seen[g] = x, true
			}
		}
		return nil
	}
	vals, nulls := intColumn(v, len(gids), &m.buf)
	for i, g := range gids {
		if nulls && v.At(i).Null {
			continue
		}
		x := vals[i]
		if !m.seen[g] || (m.max && x > m.ints[g]) || (!m.max && x < m.ints[g]) {
			m.ints[g], m.seen[g] = x, true
		}
	}
	return nil
}

func floatLess(a, b float64) bool {
	if math.IsNaN(b) {
		return !math.IsNaN(a)
	}
	return a < b
}

func (m *extremeInc) result(g int32) types.Datum {
	if !m.seen[g] {
		return types.NullDatum
	}
	if m.float {
		return types.DFloat(m.floats[g])
	}
	return types.DInt(m.ints[g])
}

// genericAcc covers every other aggregate over datums, one state per
// group: exact NUMERIC and interval sums, min/max and DISTINCT aggregates
// over a multiset of values (so retracting any value is correct), exact
// variance from Σx and Σx², bool_and/bool_or from counts.
type genericAcc struct {
	spec exec.AggSpec
	at   types.T
	st   []genState
	buf  []byte
}

type genState struct {
	n     int64 // weighted count of non-NULL inputs
	total types.DecimalSum
	sum   *apd.Decimal
	sq    *apd.Decimal
	iv    types.IntervalValue
	trues int64
	vals  map[string]*incVal // value key → value and multiplicity
}

type incVal struct {
	d types.Datum
	n int64
}

func (a *genericAcc) grow(n int)    { a.st = growTo(a.st, n) }
func (a *genericAcc) reset(g int32) { a.st[g] = genState{} }

func (a *genericAcc) multiset() bool {
	return a.spec.Distinct || a.spec.Kind == exec.AggMin || a.spec.Kind == exec.AggMax
}

func (a *genericAcc) update(gids []int32, ws []int64, v expr.Value) error {
	for i, g := range gids {
		d := v.At(i)
		if d.Null {
			continue
		}
		w := weight(ws, i)
		st := &a.st[g]
		st.n += w
		if a.multiset() {
			if st.vals == nil {
				st.vals = map[string]*incVal{}
			}
			a.buf = AppendOrderedKey(a.buf[:0], a.at, d)
			x := st.vals[string(a.buf)]
			if x == nil {
				x = &incVal{d: d}
				st.vals[string(a.buf)] = x
			}
			x.n += w
			if x.n == 0 {
				delete(st.vals, string(a.buf))
			}
			continue
		}
		switch a.spec.Kind {
		case exec.AggBoolAnd, exec.AggBoolOr:
			if d.I != 0 {
				st.trues += w
			}
		case exec.AggSum, exec.AggAvg:
			if a.at.Kind == types.Interval {
				st.iv = st.iv.Add(d.Iv.Scale(float64(w)))
				continue
			}
			x, err := a.decimal(d)
			if err != nil {
				return err
			}
			st.total.Add(x, w)
		default: // variance family
			x, err := a.decimal(d)
			if err != nil {
				return err
			}
			if st.sum == nil {
				st.sum, st.sq = apd.New(0, 0), apd.New(0, 0)
			}
			sq := new(apd.Decimal)
			_, _ = types.DecCtx.Mul(sq, x, x)
			if w != 1 {
				_, _ = types.DecCtx.Mul(x, x, apd.New(w, 0))
				_, _ = types.DecCtx.Mul(sq, sq, apd.New(w, 0))
			}
			_, _ = types.DecCtx.Add(st.sum, st.sum, x)
			_, _ = types.DecCtx.Add(st.sq, st.sq, sq)
		}
	}
	return nil
}

// decimal converts an integer, float or NUMERIC datum exactly.
func (a *genericAcc) decimal(d types.Datum) (*apd.Decimal, error) {
	switch a.at.Kind {
	case types.Float32, types.Float64:
		x := new(apd.Decimal)
		if _, err := x.SetFloat64(d.F); err != nil {
			return nil, sqlerr.Unsupported("variance of a non-finite float in a continuous query")
		}
		return x, nil
	}
	return exec.DecimalOf(a.at, d)
}

func (a *genericAcc) result(g int32) types.Datum {
	st := &a.st[g]
	s := a.spec
	if s.Distinct {
		return a.distinctResult(st)
	}
	switch s.Kind {
	case exec.AggMin, exec.AggMax:
		return extremeOf(st.vals, s.Kind == exec.AggMax)
	}
	if st.n == 0 {
		return types.NullDatum
	}
	switch s.Kind {
	case exec.AggBoolAnd:
		return types.DBool(st.trues == st.n)
	case exec.AggBoolOr:
		return types.DBool(st.trues > 0)
	case exec.AggSum:
		if a.at.Kind == types.Interval {
			return types.Datum{Iv: st.iv}
		}
		return types.DText(types.FormatDecimal(st.total.Sum()))
	case exec.AggAvg:
		if a.at.Kind == types.Interval {
			return types.Datum{Iv: st.iv.Scale(1 / float64(st.n))}
		}
		return types.DText(types.FormatDecimal(types.DivNumeric(st.total.Sum(), apd.New(st.n, 0))))
	}
	return exec.Variance(s.Kind, st.n, st.sum, st.sq, s.T)
}

func extremeOf(vals map[string]*incVal, max bool) types.Datum {
	var best string
	first := true
	for k := range vals {
		if first || (!max && k < best) || (max && k > best) {
			best, first = k, false
		}
	}
	if first {
		return types.NullDatum
	}
	return vals[best].d
}

// distinctResult computes a DISTINCT aggregate over the group's distinct values.
func (a *genericAcc) distinctResult(st *genState) types.Datum {
	s := a.spec
	switch s.Kind {
	case exec.AggCount:
		return types.DInt(int64(len(st.vals)))
	case exec.AggMin, exec.AggMax:
		return extremeOf(st.vals, s.Kind == exec.AggMax)
	}
	if len(st.vals) == 0 {
		return types.NullDatum
	}
	var sumF float64
	var iv types.IntervalValue
	sum := apd.New(0, 0)
	for _, x := range st.vals {
		switch a.at.Kind {
		case types.Float32, types.Float64:
			sumF += x.d.F
		case types.Interval:
			iv = iv.Add(x.d.Iv)
		default:
			d, err := exec.DecimalOf(a.at, x.d)
			if err == nil {
				_, _ = types.DecCtx.Add(sum, sum, d)
			}
		}
	}
	n := int64(len(st.vals))
	switch a.at.Kind {
	case types.Float32, types.Float64:
		if s.Kind == exec.AggAvg {
			return types.DFloat(sumF / float64(n))
		}
		return types.DFloat(sumF)
	case types.Interval:
		if s.Kind == exec.AggAvg {
			return types.Datum{Iv: iv.Scale(1 / float64(n))}
		}
		return types.Datum{Iv: iv}
	}
	if s.Kind == exec.AggAvg {
		return types.DText(types.FormatDecimal(types.DivNumeric(sum, apd.New(n, 0))))
	}
	if s.T.Kind == types.Int64 {
		v, _ := sum.Int64()
		return types.DInt(v)
	}
	return types.DText(types.FormatDecimal(sum))
}
