package dataflow

import (
	"fmt"

	"github.com/cockroachdb/apd/v3"
	"github.com/streamsql/streamsql/engine/exec"
	"github.com/streamsql/streamsql/engine/expr"
	"github.com/streamsql/streamsql/sqlerr"
	"github.com/streamsql/streamsql/types"
)

// IncAgg maintains GROUP BY aggregates under insertions and retractions:
// for each input changelog batch it emits the changelog of its output —
// for every group whose result changed, −old and +new (only +new for a new
// group, only −old for a group whose last row was retracted). min and max
// keep a multiset of values, so retracting the current extreme is correct.
type IncAgg struct {
	Keys []expr.Expr
	Aggs []exec.AggSpec

	keyTypes []types.T
	outTypes []types.T
	groups   map[string]*incGroup
}

type incGroup struct {
	key  []types.Datum
	rows int64 // sum of weights
	accs []incAcc
}

type incAcc struct {
	n    int64 // weighted count of non-NULL inputs
	sumF float64
	sumD *apd.Decimal
	iv   types.IntervalValue
	// min/max: value key → value and multiplicity
	vals map[string]*incVal
}

type incVal struct {
	d types.Datum
	n int64
}

// NewIncAgg returns an incremental aggregate. Supported: count(*), count,
// sum, avg, min, max (DISTINCT is not).
func NewIncAgg(keys []expr.Expr, aggs []exec.AggSpec) (*IncAgg, error) {
	a := &IncAgg{Keys: keys, Aggs: aggs, groups: map[string]*incGroup{}}
	for _, k := range keys {
		a.keyTypes = append(a.keyTypes, k.Type())
		a.outTypes = append(a.outTypes, k.Type())
	}
	for _, s := range aggs {
		switch s.Kind {
		case exec.AggCountStar, exec.AggCount, exec.AggSum, exec.AggAvg, exec.AggMin, exec.AggMax:
		default:
			return nil, sqlerr.Unsupported("this aggregate is not supported in continuous queries yet")
		}
		if s.Distinct {
			return nil, sqlerr.Unsupported("DISTINCT aggregates are not supported in continuous queries yet")
		}
		a.outTypes = append(a.outTypes, s.T)
	}
	return a, nil
}

// Types returns the output column types: keys, then aggregates.
func (a *IncAgg) Types() []types.T { return a.outTypes }

// Groups is the number of groups held.
func (a *IncAgg) Groups() int { return len(a.groups) }

// Process applies one data message and returns the output changelog (a
// message with no rows when nothing changed). The input stays owned by the caller.
func (a *IncAgg) Process(ctx *expr.Ctx, m *Msg) (*Msg, error) {
	b := m.Batch
	n := int(b.NumRows())
	keys := make([]expr.Value, len(a.Keys))
	for i, k := range a.Keys {
		v, err := k.Eval(ctx, b)
		if err != nil {
			return nil, err
		}
		defer v.Release()
		keys[i] = v
	}
	args := make([]expr.Value, len(a.Aggs))
	for i, s := range a.Aggs {
		if s.Arg == nil {
			continue
		}
		v, err := s.Arg.Eval(ctx, b)
		if err != nil {
			return nil, err
		}
		defer v.Release()
		args[i] = v
	}
	type touched struct {
		g   *incGroup
		old []types.Datum // nil: the group had no output
	}
	var order []string
	seen := map[string]*touched{}
	var kb []byte
	row := make([]types.Datum, len(a.Keys))
	for r := 0; r < n; r++ {
		w := m.Weight(r)
		if w == 0 {
			continue
		}
		kb = kb[:0]
		for i, k := range keys {
			row[i] = k.At(r)
			kb = exec.AppendKey(kb, a.keyTypes[i], row[i])
		}
		g := a.groups[string(kb)]
		t := seen[string(kb)]
		if t == nil {
			t = &touched{}
			if g != nil {
				t.old = a.output(g)
			}
			seen[string(kb)] = t
			order = append(order, string(kb))
		}
		if g == nil {
			g = &incGroup{key: append([]types.Datum(nil), row...), accs: make([]incAcc, len(a.Aggs))}
			a.groups[string(kb)] = g
		}
		t.g = g
		g.rows += w
		for i, s := range a.Aggs {
			var d types.Datum
			if s.Arg != nil {
				d = args[i].At(r)
			}
			if err := a.apply(&g.accs[i], s, d, w); err != nil {
				return nil, err
			}
		}
	}
	var outRows [][]types.Datum
	var weights []int64
	for _, k := range order {
		t := seen[k]
		var now []types.Datum
		if t.g.rows > 0 {
			now = a.output(t.g)
		} else if t.g.rows < 0 {
			return nil, sqlerr.New(sqlerr.InternalError, "group retracted more often than inserted")
		} else {
			delete(a.groups, k)
		}
		if t.old != nil && now != nil && sameRow(a.outTypes, t.old, now) {
			continue
		}
		if t.old != nil {
			outRows, weights = append(outRows, t.old), append(weights, -1)
		}
		if now != nil {
			outRows, weights = append(outRows, now), append(weights, 1)
		}
	}
	out := &Msg{Kind: MsgData, Weights: weights}
	out.Batch = expr.BatchFromRows(ctx.Mem, a.outTypes, outRows)
	return out, nil
}

func sameRow(ts []types.T, x, y []types.Datum) bool {
	for i, t := range ts {
		if x[i].Null != y[i].Null {
			return false
		}
		if !x[i].Null && (types.Compare(t, x[i], y[i]) != 0 || x[i].S != y[i].S) {
			return false
		}
	}
	return true
}

func (a *IncAgg) apply(acc *incAcc, s exec.AggSpec, d types.Datum, w int64) error {
	switch s.Kind {
	case exec.AggCountStar:
		acc.n += w
		return nil
	}
	if d.Null {
		return nil
	}
	acc.n += w
	at := s.Arg.Type()
	switch s.Kind {
	case exec.AggSum, exec.AggAvg:
		switch at.Kind {
		case types.Float32, types.Float64:
			acc.sumF += d.F * float64(w)
		case types.Interval:
			acc.iv = acc.iv.Add(d.Iv.Scale(float64(w)))
		default:
			var x *apd.Decimal
			if at.Kind == types.Numeric {
				var err error
				if x, err = types.ParseDecimal(d.S); err != nil {
					return err
				}
			} else {
				x = apd.New(d.I, 0)
			}
			if w != 1 {
				_, _ = types.DecCtx.Mul(x, x, apd.New(w, 0))
			}
			if acc.sumD == nil {
				acc.sumD = apd.New(0, 0)
			}
			_, _ = types.DecCtx.Add(acc.sumD, acc.sumD, x)
		}
	case exec.AggMin, exec.AggMax:
		if acc.vals == nil {
			acc.vals = map[string]*incVal{}
		}
		k := string(AppendOrderedKey(nil, at, d))
		v := acc.vals[k]
		if v == nil {
			v = &incVal{d: d}
			acc.vals[k] = v
		}
		v.n += w
		if v.n == 0 {
			delete(acc.vals, k)
		}
	}
	return nil
}

// output computes a group's result row.
func (a *IncAgg) output(g *incGroup) []types.Datum {
	row := append([]types.Datum(nil), g.key...)
	for i, s := range a.Aggs {
		acc := &g.accs[i]
		row = append(row, a.result(s, acc))
	}
	return row
}

func (a *IncAgg) result(s exec.AggSpec, acc *incAcc) types.Datum {
	switch s.Kind {
	case exec.AggCountStar, exec.AggCount:
		return types.DInt(acc.n)
	}
	if acc.n == 0 {
		return types.NullDatum
	}
	at := s.Arg.Type()
	switch s.Kind {
	case exec.AggSum:
		switch {
		case at.Kind == types.Float32 || at.Kind == types.Float64:
			return types.DFloat(acc.sumF)
		case at.Kind == types.Interval:
			return types.Datum{Iv: acc.iv}
		case s.T.Kind == types.Int64:
			v, _ := acc.sumD.Int64()
			return types.DInt(v)
		}
		return types.DText(types.FormatDecimal(acc.sumD))
	case exec.AggAvg:
		switch {
		case at.Kind == types.Float32 || at.Kind == types.Float64:
			return types.DFloat(acc.sumF / float64(acc.n))
		case at.Kind == types.Interval:
			return types.Datum{Iv: acc.iv.Scale(1 / float64(acc.n))}
		}
		cnt := apd.New(acc.n, 0)
		q := new(apd.Decimal)
		scale := types.DivScale(acc.sumD, cnt)
		_, _ = types.DecCtx.Quo(q, acc.sumD, cnt)
		return types.DText(types.FormatDecimal(types.RoundScale(q, scale)))
	case exec.AggMin, exec.AggMax:
		var best string
		first := true
		for k := range acc.vals {
			if first || (s.Kind == exec.AggMin && k < best) || (s.Kind == exec.AggMax && k > best) {
				best, first = k, false
			}
		}
		if first {
			return types.NullDatum
		}
		return acc.vals[best].d
	}
	panic(fmt.Sprintf("dataflow: aggregate %d", s.Kind))
}

// Expire removes the groups for which closed reports true (given the
// group's key values) and returns their final result rows: a window
// closing frees its state.
func (a *IncAgg) Expire(closed func(key []types.Datum) bool) [][]types.Datum {
	var out [][]types.Datum
	for k, g := range a.groups {
		if closed(g.key) {
			if g.rows > 0 {
				out = append(out, a.output(g))
			}
			delete(a.groups, k)
		}
	}
	return out
}
