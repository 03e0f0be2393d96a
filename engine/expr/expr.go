package expr

import (
	"fmt"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/streamsql/streamsql/types"
)

// Expr is a bound, typed expression. Eval evaluates it over every row of b;
// the caller releases the returned Value. Eval must not retain b.
type Expr interface {
	Type() types.T
	Eval(ctx *Ctx, b arrow.RecordBatch) (Value, error)
	String() string
}

// Col is a reference to column Idx of the input batch.
type Col struct {
	Idx  int
	T    types.T
	Name string
}

func (c *Col) Type() types.T  { return c.T }
func (c *Col) String() string { return fmt.Sprintf("#%d", c.Idx) }
func (c *Col) Eval(_ *Ctx, b arrow.RecordBatch) (Value, error) {
	a := b.Column(c.Idx)
	a.Retain()
	return Value{Arr: a}, nil
}

// Const is a constant.
type Const struct {
	D types.Datum
	T types.T
}

func (c *Const) Type() types.T { return c.T }
func (c *Const) String() string {
	if c.D.Null {
		return "NULL"
	}
	return types.FormatText(c.T, c.D, nil)
}
func (c *Const) Eval(*Ctx, arrow.RecordBatch) (Value, error) { return Scalar(c.D), nil }

// Param is the statement parameter $N (1-based).
type Param struct {
	N int
	T types.T
}

func (p *Param) Type() types.T  { return p.T }
func (p *Param) String() string { return fmt.Sprintf("$%d", p.N) }
func (p *Param) Eval(ctx *Ctx, _ arrow.RecordBatch) (Value, error) {
	if p.N-1 < len(ctx.Params) {
		return Scalar(ctx.Params[p.N-1]), nil
	}
	return Scalar(types.NullDatum), nil
}

// OuterCol is column Idx of the outer row Depth levels up, in a correlated subquery.
type OuterCol struct {
	Depth, Idx int
	T          types.T
}

func (o *OuterCol) Type() types.T  { return o.T }
func (o *OuterCol) String() string { return fmt.Sprintf("outer%d.#%d", o.Depth, o.Idx) }
func (o *OuterCol) Eval(ctx *Ctx, _ arrow.RecordBatch) (Value, error) {
	k := len(ctx.Outer) - o.Depth
	if k < 0 || k >= len(ctx.Outer) {
		return Scalar(types.NullDatum), nil
	}
	return Scalar(ctx.Outer[k][o.Idx]), nil
}

// IsConst reports whether e is a constant, and its value.
func IsConst(e Expr) (types.Datum, bool) {
	if c, ok := e.(*Const); ok {
		return c.D, true
	}
	return types.Datum{}, false
}

func listString(es []Expr) string {
	s := make([]string, len(es))
	for i, e := range es {
		s[i] = e.String()
	}
	return strings.Join(s, ", ")
}

// evalArgs evaluates each expression, releasing what was made on error.
func evalArgs(ctx *Ctx, b arrow.RecordBatch, es []Expr) ([]Value, error) {
	out := make([]Value, len(es))
	for i, e := range es {
		v, err := e.Eval(ctx, b)
		if err != nil {
			for _, o := range out[:i] {
				o.Release()
			}
			return nil, err
		}
		out[i] = v
	}
	return out, nil
}

func releaseAll(vs []Value) {
	for _, v := range vs {
		v.Release()
	}
}

// rowFunc lifts a function of one row's values to a column: the generic
// path for functions that are not on a hot path.
func rowFunc(ctx *Ctx, n int, t types.T, args []Value, strict bool, f func(ds []types.Datum) (types.Datum, error)) (Value, error) {
	allScalar := true
	for _, a := range args {
		if !a.IsScalar() {
			allScalar = false
		}
	}
	ds := make([]types.Datum, len(args))
	if allScalar {
		for i, a := range args {
			ds[i] = a.D
			if strict && a.D.Null {
				return Scalar(types.NullDatum), nil
			}
		}
		d, err := f(ds)
		return Scalar(d), err
	}
	bld := types.NewBuilder(ctx.Mem, t)
	defer bld.Release()
	bld.Reserve(n)
	for r := 0; r < n; r++ {
		null := false
		for i, a := range args {
			ds[i] = a.At(r)
			if ds[i].Null {
				null = true
			}
		}
		if strict && null {
			bld.AppendNull()
			continue
		}
		d, err := f(ds)
		if err != nil {
			return Value{}, err
		}
		types.AppendDatum(bld, t, d)
	}
	return Value{Arr: bld.NewArray()}, nil
}

// EvalRow evaluates e for a single row given as datums (used for
// DEFAULT values and constant folding).
func EvalRow(ctx *Ctx, e Expr) (types.Datum, error) {
	v, err := e.Eval(ctx, emptyBatch)
	if err != nil {
		return types.Datum{}, err
	}
	defer v.Release()
	if v.IsScalar() {
		return v.D, nil
	}
	if v.Arr.Len() == 0 {
		return types.NullDatum, nil
	}
	return v.At(0), nil
}
