package exec

import (
	"fmt"
	"math"
	"sort"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/cockroachdb/apd/v3"
	"github.com/streamsql/streamsql/engine/expr"
	"github.com/streamsql/streamsql/sqlerr"
	"github.com/streamsql/streamsql/types"
)

// AggKind names an aggregate function.
type AggKind uint8

// Aggregate functions.
const (
	AggCountStar AggKind = iota
	AggCount
	AggSum
	AggAvg
	AggMin
	AggMax
	AggBoolAnd
	AggBoolOr
	AggStringAgg
	AggVarSamp
	AggVarPop
	AggStddevSamp
	AggStddevPop
	AggArrayAgg
	AggJSONAgg  // json_agg: a json array of the values, NULLs as null
	AggJSONBAgg // jsonb_agg
)

var aggKindNames = [...]string{"count", "count", "sum", "avg", "min", "max", "bool_and", "bool_or", "string_agg", "var_samp", "var_pop", "stddev_samp", "stddev_pop", "array_agg", "json_agg", "jsonb_agg"}

// collects reports whether the aggregate collects every value, NULLs
// included (array_agg, json_agg), rather than skipping NULLs.
func (k AggKind) collects() bool { return k == AggArrayAgg || k == AggJSONAgg || k == AggJSONBAgg }

// nullPart stands for a NULL among an array_agg's parts (no text value is
// invalid UTF-8).
const nullPart = "\xff\x00NULL"

// String is the SQL name of the aggregate.
func (k AggKind) String() string {
	if int(k) < len(aggKindNames) {
		return aggKindNames[k]
	}
	return fmt.Sprintf("aggregate(%d)", k)
}

// String renders the aggregate call, e.g. sum(DISTINCT #2).
func (s AggSpec) String() string {
	if s.Kind == AggCountStar {
		return "count(*)"
	}
	arg := "?"
	if s.Arg != nil {
		arg = fmt.Sprint(s.Arg)
	}
	if s.Distinct {
		arg = "DISTINCT " + arg
	}
	return s.Kind.String() + "(" + arg + ")"
}

// AggSpec is one aggregate of a HashAgg.
type AggSpec struct {
	Kind     AggKind
	Arg      expr.Expr // nil for count(*)
	Sep      expr.Expr // string_agg separator
	Distinct bool
	T        types.T // result type
	// Order sorts the inputs of string_agg and array_agg (agg(x ORDER BY ...)).
	Order []SortKey
}

// AggResultType returns the result type of an aggregate over arg, as PostgreSQL types it.
func AggResultType(k AggKind, arg types.T) (types.T, error) {
	switch k {
	case AggCountStar, AggCount:
		return types.TInt64, nil
	case AggSum:
		switch arg.Kind {
		case types.Int16, types.Int32:
			return types.TInt64, nil
		case types.Int64, types.Numeric:
			return types.TNumeric, nil
		case types.Float32, types.Float64, types.Interval:
			return types.T{Kind: arg.Kind, Mod: -1}, nil
		case types.Unknown:
			return types.TFloat64, nil
		}
	case AggAvg:
		switch arg.Kind {
		case types.Int16, types.Int32, types.Int64, types.Numeric:
			return types.TNumeric, nil
		case types.Float32, types.Float64, types.Unknown:
			return types.TFloat64, nil
		case types.Interval:
			return types.TInterval, nil
		}
	case AggMin, AggMax:
		if arg.Kind == types.Unknown {
			return types.TText, nil
		}
		return arg, nil
	case AggBoolAnd, AggBoolOr:
		if arg.Kind == types.Bool || arg.Kind == types.Unknown {
			return types.TBool, nil
		}
	case AggStringAgg:
		return types.TText, nil
	case AggArrayAgg:
		return types.ArrayOf(arg), nil
	case AggJSONAgg:
		return types.TJSON, nil
	case AggJSONBAgg:
		return types.TJSONB, nil
	case AggVarSamp, AggVarPop, AggStddevSamp, AggStddevPop:
		switch arg.Kind {
		case types.Float32, types.Float64, types.Unknown:
			return types.TFloat64, nil
		case types.Int16, types.Int32, types.Int64, types.Numeric:
			return types.TNumeric, nil
		}
	}
	return types.T{}, sqlerr.New(sqlerr.UndefinedFunction, "aggregate function does not accept type %s", arg)
}

// accumulator keeps the state of one aggregate for every group.
type accumulator interface {
	grow(groups int)
	update(ctx *expr.Ctx, gids []int32, v expr.Value, sep expr.Value) error
	result(ctx *expr.Ctx, groups int) (arrow.Array, error)
}

func newAccumulator(s AggSpec) accumulator {
	var at types.T
	if s.Arg != nil {
		at = s.Arg.Type()
	}
	switch s.Kind {
	case AggCountStar, AggCount:
		return &countAcc{star: s.Kind == AggCountStar}
	case AggSum, AggAvg:
		switch at.Kind {
		case types.Int16, types.Int32, types.Int64:
			return &sumIntAcc{kind: at.Kind, avg: s.Kind == AggAvg, out: s.T}
		case types.Float32, types.Float64:
			return &sumFloatAcc{avg: s.Kind == AggAvg, out: s.T}
		}
		return &datumAcc{spec: s, at: at}
	case AggMin, AggMax:
		if at.Kind == types.Float64 {
			return &minMaxFloat{max: s.Kind == AggMax}
		}
		if at.Kind == types.Int64 {
			return &minMaxInt{max: s.Kind == AggMax, t: at}
		}
	}
	return &datumAcc{spec: s, at: at}
}

type countAcc struct {
	star   bool
	counts []int64
}

func (c *countAcc) grow(n int) {
	for len(c.counts) < n {
		c.counts = append(c.counts, 0)
	}
}
func (c *countAcc) update(_ *expr.Ctx, gids []int32, v expr.Value, _ expr.Value) error {
	counts := c.counts
	if c.star || (v.IsScalar() && !v.D.Null) || (!v.IsScalar() && v.Arr.NullN() == 0) {
		for _, g := range gids {
			counts[g]++
		}
		return nil
	}
	if v.IsScalar() {
		return nil
	}
	for i, g := range gids {
		if v.Arr.IsValid(i) {
			counts[g]++
		}
	}
	return nil
}
func (c *countAcc) result(_ *expr.Ctx, n int) (arrow.Array, error) {
	c.grow(n)
	return expr.NewFixed(types.TInt64, c.counts[:n], nil, 0), nil
}

type sumIntAcc struct {
	kind types.Kind
	avg  bool
	out  types.T
	sums []int64
	cnt  []int64
	big  map[int32]*apd.Decimal // groups whose sum left int64
}

func (s *sumIntAcc) grow(n int) {
	for len(s.sums) < n {
		s.sums = append(s.sums, 0)
		s.cnt = append(s.cnt, 0)
	}
}

func (s *sumIntAcc) add(g int32, x int64) {
	old := s.sums[g]
	sum := old + x
	if (sum > old) != (x > 0) && x != 0 {
		if s.big == nil {
			s.big = map[int32]*apd.Decimal{}
		}
		b := s.big[g]
		if b == nil {
			b = apd.New(0, 0)
			s.big[g] = b
		}
		_, _ = types.DecCtx.Add(b, b, apd.New(old, 0))
		sum = x
	}
	s.sums[g] = sum
}

func (s *sumIntAcc) update(_ *expr.Ctx, gids []int32, v expr.Value, _ expr.Value) error {
	if v.IsScalar() {
		if v.D.Null {
			return nil
		}
		for _, g := range gids {
			s.add(g, v.D.I)
			s.cnt[g]++
		}
		return nil
	}
	hasNulls := v.Arr.NullN() > 0
	switch s.kind {
	case types.Int64:
		vals := expr.FixedValues[int64](v.Arr)
		if !hasNulls && s.kind == types.Int64 {
			sums, cnt := s.sums, s.cnt
			for i, g := range gids {
				x := vals[i]
				old := sums[g]
				sum := old + x
				if (sum > old) != (x > 0) && x != 0 {
					s.add(g, x)
				} else {
					sums[g] = sum
				}
				cnt[g]++
			}
			return nil
		}
		for i, g := range gids {
			if !hasNulls || v.Arr.IsValid(i) {
				s.add(g, vals[i])
				s.cnt[g]++
			}
		}
	case types.Int32:
		vals := expr.FixedValues[int32](v.Arr)
		for i, g := range gids {
			if !hasNulls || v.Arr.IsValid(i) {
				s.sums[g] += int64(vals[i])
				s.cnt[g]++
			}
		}
	case types.Int16:
		vals := expr.FixedValues[int16](v.Arr)
		for i, g := range gids {
			if !hasNulls || v.Arr.IsValid(i) {
				s.sums[g] += int64(vals[i])
				s.cnt[g]++
			}
		}
	}
	return nil
}

func (s *sumIntAcc) total(g int) *apd.Decimal {
	d := apd.New(s.sums[g], 0)
	if b := s.big[int32(g)]; b != nil {
		_, _ = types.DecCtx.Add(d, d, b)
	}
	return d
}

func (s *sumIntAcc) result(ctx *expr.Ctx, n int) (arrow.Array, error) {
	s.grow(n)
	b := types.NewBuilder(ctx.Mem, s.out)
	defer b.Release()
	for g := 0; g < n; g++ {
		if s.cnt[g] == 0 {
			b.AppendNull()
			continue
		}
		switch {
		case s.avg:
			if s.big[int32(g)] == nil {
				if q, ok := types.DivInt64(s.sums[g], s.cnt[g]); ok {
					types.AppendDatum(b, s.out, types.DText(q))
					continue
				}
			}
			sum := s.total(g)
			types.AppendDatum(b, s.out, types.DText(types.FormatDecimal(types.DivNumeric(sum, apd.New(s.cnt[g], 0)))))
		case s.out.Kind == types.Numeric:
			types.AppendDatum(b, s.out, types.DText(types.FormatDecimal(s.total(g))))
		default:
			if s.big[int32(g)] != nil {
				return nil, sqlerr.New(sqlerr.NumericOutOfRange, "bigint out of range")
			}
			types.AppendDatum(b, s.out, types.DInt(s.sums[g]))
		}
	}
	return b.NewArray(), nil
}

type sumFloatAcc struct {
	avg  bool
	out  types.T
	sums []float64
	cnt  []int64
	inf  []bool // an input was infinite (or NaN): a non-finite sum is no overflow
}

func (s *sumFloatAcc) grow(n int) {
	for len(s.sums) < n {
		s.sums = append(s.sums, 0)
		s.cnt = append(s.cnt, 0)
		s.inf = append(s.inf, false)
	}
}

// noteInfinite marks the groups that got an infinite or NaN input.
func (s *sumFloatAcc) noteInfinite(gids []int32, at func(i int) (float64, bool)) {
	for i, g := range gids {
		if x, ok := at(i); ok && (math.IsInf(x, 0) || math.IsNaN(x)) {
			s.inf[g] = true
		}
	}
}
func (s *sumFloatAcc) update(_ *expr.Ctx, gids []int32, v expr.Value, _ expr.Value) error {
	if v.IsScalar() {
		if v.D.Null {
			return nil
		}
		for _, g := range gids {
			s.sums[g] += v.D.F
			s.cnt[g]++
		}
		s.noteInfinite(gids, func(int) (float64, bool) { return v.D.F, true })
		return nil
	}
	sums, cnt := s.sums, s.cnt
	switch a := v.Arr.(type) {
	case *array.Float64:
		vals := a.Float64Values()
		defer s.noteInfinite(gids, func(i int) (float64, bool) { return vals[i], a.IsValid(i) })
		if a.NullN() == 0 {
			for i, g := range gids {
				sums[g] += vals[i]
				cnt[g]++
			}
			return nil
		}
		for i, g := range gids {
			if a.IsValid(i) {
				sums[g] += vals[i]
				cnt[g]++
			}
		}
	case *array.Float32:
		vals := a.Float32Values()
		defer s.noteInfinite(gids, func(i int) (float64, bool) { return float64(vals[i]), a.IsValid(i) })
		for i, g := range gids {
			if a.IsValid(i) {
				sums[g] += float64(vals[i])
				cnt[g]++
			}
		}
	}
	return nil
}
func (s *sumFloatAcc) result(ctx *expr.Ctx, n int) (arrow.Array, error) {
	s.grow(n)
	b := types.NewBuilder(ctx.Mem, s.out)
	defer b.Release()
	for g := 0; g < n; g++ {
		if s.cnt[g] == 0 {
			b.AppendNull()
			continue
		}
		v := s.sums[g]
		if math.IsInf(v, 0) && !s.inf[g] {
			return nil, sqlerr.New(sqlerr.NumericOutOfRange, "value out of range: overflow")
		}
		if s.avg {
			v /= float64(s.cnt[g])
		}
		types.AppendDatum(b, s.out, types.DFloat(v))
	}
	return b.NewArray(), nil
}

type minMaxFloat struct {
	max  bool
	vals []float64
	seen []bool
}

func (m *minMaxFloat) grow(n int) {
	for len(m.vals) < n {
		m.vals = append(m.vals, 0)
		m.seen = append(m.seen, false)
	}
}
func (m *minMaxFloat) update(_ *expr.Ctx, gids []int32, v expr.Value, _ expr.Value) error {
	for i, g := range gids {
		if v.IsNull(i) {
			continue
		}
		var x float64
		if v.IsScalar() {
			x = v.D.F
		} else {
			x = v.Arr.(*array.Float64).Value(i)
		}
		if !m.seen[g] || (m.max && types.CompareFloat(x, m.vals[g]) > 0) || (!m.max && types.CompareFloat(x, m.vals[g]) < 0) {
			m.vals[g], m.seen[g] = x, true
		}
	}
	return nil
}
func (m *minMaxFloat) result(ctx *expr.Ctx, n int) (arrow.Array, error) {
	m.grow(n)
	valid := make([]byte, (n+7)/8)
	nulls := 0
	for g := 0; g < n; g++ {
		if m.seen[g] {
			valid[g>>3] |= 1 << (g & 7)
		} else {
			nulls++
		}
	}
	return expr.NewFixed(types.TFloat64, m.vals[:n], valid, nulls), nil
}

type minMaxInt struct {
	max  bool
	t    types.T
	vals []int64
	seen []bool
}

func (m *minMaxInt) grow(n int) {
	for len(m.vals) < n {
		m.vals = append(m.vals, 0)
		m.seen = append(m.seen, false)
	}
}
func (m *minMaxInt) update(_ *expr.Ctx, gids []int32, v expr.Value, _ expr.Value) error {
	var vals []int64
	if !v.IsScalar() {
		vals = expr.FixedValues[int64](v.Arr)
	}
	for i, g := range gids {
		if v.IsNull(i) {
			continue
		}
		x := v.D.I
		if vals != nil {
			x = vals[i]
		}
		if !m.seen[g] || (m.max && x > m.vals[g]) || (!m.max && x < m.vals[g]) {
			m.vals[g], m.seen[g] = x, true
		}
	}
	return nil
}
func (m *minMaxInt) result(ctx *expr.Ctx, n int) (arrow.Array, error) {
	m.grow(n)
	valid := make([]byte, (n+7)/8)
	nulls := 0
	for g := 0; g < n; g++ {
		if m.seen[g] {
			valid[g>>3] |= 1 << (g & 7)
		} else {
			nulls++
		}
	}
	return expr.NewFixed(m.t, m.vals[:n], valid, nulls), nil
}

// datumAcc is the general accumulator over datums, for every aggregate and
// type the typed accumulators do not cover.
type datumAcc struct {
	spec   AggSpec
	at     types.T
	states []aggState
}

type aggState struct {
	keys  [][]types.Datum // ORDER BY keys of each part
	seen  bool
	d     types.Datum
	dec   *apd.Decimal
	sq    *apd.Decimal // sum of squares (exact variance of integers and numerics)
	n     int64
	mean  float64
	m2    float64
	parts []string
	iv    types.IntervalValue
}

func (a *datumAcc) grow(n int) {
	for len(a.states) < n {
		a.states = append(a.states, aggState{})
	}
}

// part is one collected value as array_agg or json_agg keep it.
func (a *datumAcc) part(ctx *expr.Ctx, d types.Datum) string {
	switch {
	case a.spec.Kind == AggArrayAgg && d.Null:
		return nullPart
	case a.spec.Kind == AggArrayAgg:
		return types.FormatText(a.at, d, ctx.Loc)
	}
	return expr.ToJSONText(ctx, a.at, d)
}

// updateOrdered is update for string_agg/array_agg with ORDER BY: each
// part keeps its sort keys (and its separator, sorted with it).
func (a *datumAcc) updateOrdered(ctx *expr.Ctx, gids []int32, v expr.Value, sep expr.Value, keys []expr.Value) error {
	for i, g := range gids {
		d := v.At(i)
		if d.Null && !a.spec.Kind.collects() {
			continue
		}
		st := &a.states[g]
		k := make([]types.Datum, len(keys)+1)
		for j, kv := range keys {
			k[j] = kv.At(i)
		}
		if a.spec.Kind == AggStringAgg {
			k[len(keys)] = sep.At(i)
			st.parts = append(st.parts, d.S)
		} else {
			st.parts = append(st.parts, a.part(ctx, d))
		}
		st.keys = append(st.keys, k)
		st.seen = true
	}
	return nil
}

// sortParts orders a group's parts by their ORDER BY keys (stable).
func (a *datumAcc) sortParts(st *aggState) {
	idx := make([]int, len(st.parts))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(x, y int) bool {
		kx, ky := st.keys[idx[x]], st.keys[idx[y]]
		for j, o := range a.spec.Order {
			c := compareNullable(o.E.Type(), kx[j], ky[j], o.NullsFirst)
			if o.Desc {
				c = -c
				if kx[j].Null != ky[j].Null {
					c = -c
				}
			}
			if c != 0 {
				return c < 0
			}
		}
		return false
	})
	parts := make([]string, len(idx))
	keys := make([][]types.Datum, len(idx))
	for i, j := range idx {
		parts[i], keys[i] = st.parts[j], st.keys[j]
	}
	if a.spec.Kind == AggStringAgg {
		// separators go between parts in their sorted order
		var joined []string
		for i, p := range parts {
			if i > 0 {
				if s := keys[i][len(a.spec.Order)]; !s.Null {
					joined = append(joined, s.S)
				}
			}
			joined = append(joined, p)
		}
		parts = joined
	}
	st.parts = parts
}

func (a *datumAcc) update(ctx *expr.Ctx, gids []int32, v expr.Value, sep expr.Value) error {
	for i, g := range gids {
		d := v.At(i)
		if d.Null && !a.spec.Kind.collects() {
			continue
		}
		st := &a.states[g]
		switch a.spec.Kind {
		case AggSum, AggAvg:
			switch a.at.Kind {
			case types.Interval:
				st.iv = st.iv.Add(d.Iv)
			default:
				x, err := types.ParseDecimal(d.S)
				if err != nil {
					return err
				}
				if st.dec == nil {
					st.dec = apd.New(0, 0)
				}
				_, _ = types.DecCtx.Add(st.dec, st.dec, x)
			}
			st.n++
		case AggMin, AggMax:
			if !st.seen {
				st.d = d
			} else {
				c := types.Compare(a.at, d, st.d)
				if (a.spec.Kind == AggMax && c > 0) || (a.spec.Kind == AggMin && c < 0) {
					st.d = d
				}
			}
		case AggBoolAnd:
			if !st.seen {
				st.d = d
			} else if d.I == 0 {
				st.d = d
			}
		case AggBoolOr:
			if !st.seen {
				st.d = d
			} else if d.I != 0 {
				st.d = d
			}
		case AggStringAgg:
			s := sep.At(i)
			if st.seen && !s.Null {
				st.parts = append(st.parts, s.S)
			}
			st.parts = append(st.parts, d.S)
		case AggArrayAgg, AggJSONAgg, AggJSONBAgg:
			st.parts = append(st.parts, a.part(ctx, d))
		case AggVarSamp, AggVarPop, AggStddevSamp, AggStddevPop:
			if a.spec.T.Kind == types.Numeric {
				x, err := DecimalOf(a.at, d)
				if err != nil {
					return err
				}
				if st.dec == nil {
					st.dec, st.sq = apd.New(0, 0), apd.New(0, 0)
				}
				_, _ = types.DecCtx.Add(st.dec, st.dec, x)
				_, _ = types.DecCtx.Mul(x, x, x)
				_, _ = types.DecCtx.Add(st.sq, st.sq, x)
				st.n++
				break
			}
			x := d.Approx(a.at.Kind)
			st.n++
			delta := x - st.mean
			st.mean += delta / float64(st.n)
			st.m2 += delta * (x - st.mean)
		}
		st.seen = true
	}
	return nil
}

func (a *datumAcc) result(ctx *expr.Ctx, n int) (arrow.Array, error) {
	a.grow(n)
	out := make([]types.Datum, n)
	for g := 0; g < n; g++ {
		st := &a.states[g]
		if !st.seen {
			out[g] = types.NullDatum
			continue
		}
		if st.keys != nil {
			a.sortParts(st)
		}
		switch a.spec.Kind {
		case AggSum:
			if a.at.Kind == types.Interval {
				out[g] = types.Datum{Iv: st.iv}
			} else {
				out[g] = types.DText(types.FormatDecimal(st.dec))
			}
		case AggAvg:
			if a.at.Kind == types.Interval {
				out[g] = types.Datum{Iv: st.iv.Scale(1 / float64(st.n))}
				continue
			}
			out[g] = types.DText(types.FormatDecimal(types.DivNumeric(st.dec, apd.New(st.n, 0))))
		case AggStringAgg:
			out[g] = types.DText(strings.Join(st.parts, ""))
		case AggArrayAgg:
			elems := make([]*string, len(st.parts))
			for i := range st.parts {
				if st.parts[i] != nullPart {
					elems[i] = &st.parts[i]
				}
			}
			out[g] = types.DText(types.FormatArray(elems))
		case AggJSONAgg, AggJSONBAgg:
			out[g] = types.DText("[" + strings.Join(st.parts, ", ") + "]")
		case AggVarSamp, AggVarPop, AggStddevSamp, AggStddevPop:
			if st.sq != nil {
				out[g] = Variance(a.spec.Kind, st.n, st.dec, st.sq, a.spec.T)
				continue
			}
			den := float64(st.n)
			if a.spec.Kind == AggVarSamp || a.spec.Kind == AggStddevSamp {
				den--
			}
			if den <= 0 {
				out[g] = types.NullDatum
				continue
			}
			v := st.m2 / den
			if v < 0 {
				v = 0
			}
			if a.spec.Kind == AggStddevSamp || a.spec.Kind == AggStddevPop {
				v = math.Sqrt(v)
			}
			if a.spec.T.Kind == types.Numeric {
				d, err := expr.CastDatum(ctx, types.TFloat64, types.TNumeric, types.DFloat(v))
				if err != nil {
					return nil, err
				}
				out[g] = d
			} else {
				out[g] = types.DFloat(v)
			}
		default:
			out[g] = st.d
		}
	}
	return types.ArrayFromDatums(ctx.Mem, a.spec.T, out), nil
}
