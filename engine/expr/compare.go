package expr

import (
	"cmp"
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/streamsql/streamsql/types"
)

// CmpOp is a comparison operator.
type CmpOp uint8

// Comparison operators. NullSafeEq is IS NOT DISTINCT FROM: never NULL.
const (
	EQ CmpOp = iota
	NE
	LT
	LE
	GT
	GE
	NullSafeEq
)

var cmpNames = [...]string{"=", "<>", "<", "<=", ">", ">=", "IS NOT DISTINCT FROM"}

func (o CmpOp) String() string { return cmpNames[o] }

// Compare is L op R over operands the binder made the same type.
type Compare struct {
	Op   CmpOp
	L, R Expr
}

func (c *Compare) Type() types.T  { return types.TBool }
func (c *Compare) String() string { return fmt.Sprintf("(%s %s %s)", c.L, c.Op, c.R) }

func (o CmpOp) test(c int) bool {
	switch o {
	case EQ, NullSafeEq:
		return c == 0
	case NE:
		return c != 0
	case LT:
		return c < 0
	case LE:
		return c <= 0
	case GT:
		return c > 0
	}
	return c >= 0
}

func (c *Compare) Eval(ctx *Ctx, b arrow.RecordBatch) (Value, error) {
	l, err := c.L.Eval(ctx, b)
	if err != nil {
		return Value{}, err
	}
	defer l.Release()
	r, err := c.R.Eval(ctx, b)
	if err != nil {
		return Value{}, err
	}
	defer r.Release()
	n := int(b.NumRows())
	t := c.L.Type()
	if c.Op != NullSafeEq && !(l.IsScalar() && r.IsScalar()) && !(l.IsScalar() && l.D.Null) && !(r.IsScalar() && r.D.Null) {
		switch t.Kind {
		case types.Int16:
			return cmpFixed[int16](c.Op, l, r, n), nil
		case types.Int32, types.Date:
			return cmpFixed[int32](c.Op, l, r, n), nil
		case types.Int64, types.Oid, types.Timestamp, types.TimestampTZ, types.Time:
			return cmpFixed[int64](c.Op, l, r, n), nil
		case types.Float64:
			if noNaN(l) && noNaN(r) {
				return cmpFixed[float64](c.Op, l, r, n), nil
			}
		case types.Text:
			if sa, ok := l.Arr.(*array.String); ok || l.IsScalar() {
				if sb, ok2 := r.Arr.(*array.String); ok2 || r.IsScalar() {
					return cmpStrings(c.Op, sa, sb, l.D.S, r.D.S, n), nil
				}
			}
		}
	}
	if c.Op == NullSafeEq {
		bld := array.NewBooleanBuilder(ctx.Mem)
		defer bld.Release()
		for i := 0; i < n; i++ {
			x, y := l.At(i), r.At(i)
			switch {
			case x.Null || y.Null:
				bld.Append(x.Null == y.Null)
			default:
				bld.Append(types.Compare(t, x, y) == 0)
			}
		}
		if l.IsScalar() && r.IsScalar() {
			x, y := l.D, r.D
			if x.Null || y.Null {
				return Scalar(types.DBool(x.Null == y.Null)), nil
			}
			return Scalar(types.DBool(types.Compare(t, x, y) == 0)), nil
		}
		return Value{Arr: bld.NewArray()}, nil
	}
	return rowFunc(ctx, n, types.TBool, []Value{l, r}, true, func(ds []types.Datum) (types.Datum, error) {
		return types.DBool(c.Op.test(types.Compare(t, ds[0], ds[1]))), nil
	})
}

func noNaN(v Value) bool {
	if v.IsScalar() {
		return v.D.F == v.D.F
	}
	for _, f := range FixedValues[float64](v.Arr) {
		if f != f {
			return false
		}
	}
	return true
}

func cmpFixed[T cmp.Ordered](op CmpOp, l, r Value, n int) Value {
	out := make([]bool, n)
	var lv, rv []T
	var ls, rs T
	if l.IsScalar() {
		ls = datumAs[T](l.D)
	} else {
		lv = FixedValues[T](l.Arr)
	}
	if r.IsScalar() {
		rs = datumAs[T](r.D)
	} else {
		rv = FixedValues[T](r.Arr)
	}
	switch {
	case lv != nil && rv != nil:
		switch op {
		case EQ:
			for i := range out {
				out[i] = lv[i] == rv[i]
			}
		case NE:
			for i := range out {
				out[i] = lv[i] != rv[i]
			}
		case LT:
			for i := range out {
				out[i] = lv[i] < rv[i]
			}
		case LE:
			for i := range out {
				out[i] = lv[i] <= rv[i]
			}
		case GT:
			for i := range out {
				out[i] = lv[i] > rv[i]
			}
		case GE:
			for i := range out {
				out[i] = lv[i] >= rv[i]
			}
		}
	case lv != nil:
		switch op {
		case EQ:
			for i := range out {
				out[i] = lv[i] == rs
			}
		case NE:
			for i := range out {
				out[i] = lv[i] != rs
			}
		case LT:
			for i := range out {
				out[i] = lv[i] < rs
			}
		case LE:
			for i := range out {
				out[i] = lv[i] <= rs
			}
		case GT:
			for i := range out {
				out[i] = lv[i] > rs
			}
		case GE:
			for i := range out {
				out[i] = lv[i] >= rs
			}
		}
	default:
		for i := range out {
			out[i] = op.test(cmp.Compare(ls, rv[i]))
		}
	}
	valid, nulls := mergeValidity(n, l.Arr, r.Arr)
	return Value{Arr: NewBools(out, valid, nulls)}
}

func datumAs[T cmp.Ordered](d types.Datum) T {
	var z T
	switch p := any(&z).(type) {
	case *float64:
		*p = d.F
	case *float32:
		*p = float32(d.F)
	case *int16:
		*p = int16(d.I)
	case *int32:
		*p = int32(d.I)
	case *int64:
		*p = d.I
	}
	return z
}

func cmpStrings(op CmpOp, a, b *array.String, as, bs string, n int) Value {
	out := make([]bool, n)
	for i := range out {
		x, y := as, bs
		if a != nil {
			x = a.Value(i)
		}
		if b != nil {
			y = b.Value(i)
		}
		switch op {
		case EQ:
			out[i] = x == y
		case NE:
			out[i] = x != y
		default:
			out[i] = op.test(cmp.Compare(x, y))
		}
	}
	var la, lb arrow.Array
	if a != nil {
		la = a
	}
	if b != nil {
		lb = b
	}
	valid, nulls := mergeValidity(n, la, lb)
	return Value{Arr: NewBools(out, valid, nulls)}
}
