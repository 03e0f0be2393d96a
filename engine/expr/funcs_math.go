package expr

import (
	"math"
	"math/rand/v2"

	"github.com/cockroachdb/apd/v3"
	"github.com/streamsql/streamsql/sqlerr"
	"github.com/streamsql/streamsql/types"
)

var (
	tF64 = types.TFloat64
	tNum = types.TNumeric
)

func floatFn(name string, f func(float64) (float64, error)) {
	Register(&Func{Name: name, Strict: true, Resolve: sig(tF64, tF64), Row: func(_ *Ctx, a []types.Datum, _ []types.T, _ types.T) (types.Datum, error) {
		v, err := f(a[0].F)
		return types.DFloat(v), err
	}})
}

// finite is PostgreSQL's check of a float function's result r of x: an
// infinite result of a finite argument overflows; with underflow, a zero
// result of a non-zero one underflows.
func finite(x, r float64, underflow bool) (float64, error) {
	if math.IsInf(r, 0) && !math.IsInf(x, 0) {
		return 0, errFloatOverflow
	}
	if underflow && r == 0 && x != 0 && !math.IsInf(x, 0) {
		return 0, errFloatUnderflow
	}
	return r, nil
}

// sameNumeric keeps the argument's numeric type (abs, ceil, ...).
func sameNumeric(args []types.T) (types.T, []types.T, bool) {
	if len(args) != 1 {
		return types.T{}, nil, false
	}
	t := args[0]
	switch t.Kind {
	case types.Int16, types.Int32, types.Int64, types.Float32, types.Float64, types.Numeric:
		return t, args, true
	case types.Unknown, types.Null:
		return tF64, []types.T{tF64}, true
	}
	return types.T{}, nil, false
}

func decOf(d types.Datum) *apd.Decimal {
	x, _ := types.ParseDecimal(d.S)
	if x == nil {
		x = apd.New(0, 0)
	}
	return x
}

func init() {
	Register(&Func{Name: "abs", Strict: true, Resolve: sameNumeric, Row: func(_ *Ctx, a []types.Datum, at []types.T, _ types.T) (types.Datum, error) {
		switch at[0].Kind {
		case types.Float32, types.Float64:
			return types.DFloat(math.Abs(a[0].F)), nil
		case types.Numeric:
			x := decOf(a[0])
			x.Negative = false
			return types.DText(types.FormatDecimal(x)), nil
		}
		if a[0].I == math.MinInt64 {
			return types.Datum{}, overflow(at[0].String())
		}
		if a[0].I < 0 {
			return types.DInt(-a[0].I), nil
		}
		return a[0], nil
	}})
	rounder := func(name string, mode func(float64) float64, rnd apd.Rounder) {
		Register(&Func{Name: name, Strict: true, Resolve: func(args []types.T) (types.T, []types.T, bool) {
			if len(args) != 1 {
				return types.T{}, nil, false
			}
			if args[0].Kind == types.Numeric || args[0].Kind.IsInteger() {
				return tNum, []types.T{tNum}, true
			}
			return tF64, []types.T{tF64}, true
		}, Row: func(_ *Ctx, a []types.Datum, at []types.T, _ types.T) (types.Datum, error) {
			if at[0].Kind == types.Numeric {
				x := decOf(a[0])
				c := types.DecCtx
				c.Rounding = rnd
				z := new(apd.Decimal)
				_, _ = c.Quantize(z, x, 0)
				return types.DText(types.FormatDecimal(z)), nil
			}
			return types.DFloat(mode(a[0].F)), nil
		}})
	}
	rounder("round", math.RoundToEven, apd.RoundHalfUp)
	rounder("ceil", math.Ceil, apd.RoundCeiling)
	rounder("ceiling", math.Ceil, apd.RoundCeiling)
	rounder("floor", math.Floor, apd.RoundFloor)
	rounder("trunc", math.Trunc, apd.RoundDown)
	for _, n := range []string{"round", "trunc"} {
		mode := apd.RoundHalfUp
		if n == "trunc" {
			mode = apd.RoundDown
		}
		Register(&Func{Name: n, Strict: true, Resolve: sig(tNum, tNum, tInt), Row: func(_ *Ctx, a []types.Datum, _ []types.T, _ types.T) (types.Datum, error) {
			c := types.DecCtx
			c.Rounding = mode
			z := new(apd.Decimal)
			_, _ = c.Quantize(z, decOf(a[0]), int32(-a[1].I))
			return types.DText(types.FormatDecimal(z)), nil
		}})
	}
	floatFn("sqrt", func(x float64) (float64, error) {
		if x < 0 {
			return 0, sqlerr.New(sqlerr.InvalidArgumentForPower, "cannot take square root of a negative number")
		}
		return math.Sqrt(x), nil
	})
	floatFn("cbrt", func(x float64) (float64, error) { return math.Cbrt(x), nil })
	floatFn("exp", func(x float64) (float64, error) { return finite(x, math.Exp(x), true) })
	floatFn("ln", func(x float64) (float64, error) {
		if x <= 0 {
			return 0, sqlerr.New(sqlerr.InvalidArgumentForLog, "cannot take logarithm of a non-positive number")
		}
		return math.Log(x), nil
	})
	floatFn("log", func(x float64) (float64, error) {
		if x <= 0 {
			return 0, sqlerr.New(sqlerr.InvalidArgumentForLog, "cannot take logarithm of a non-positive number")
		}
		return math.Log10(x), nil
	})
	floatFn("log10", func(x float64) (float64, error) { return math.Log10(x), nil })
	floatFn("sin", func(x float64) (float64, error) { return math.Sin(x), nil })
	floatFn("cos", func(x float64) (float64, error) { return math.Cos(x), nil })
	floatFn("tan", func(x float64) (float64, error) { return math.Tan(x), nil })
	floatFn("degrees", func(x float64) (float64, error) { return finite(x, x*180/math.Pi, false) })
	floatFn("radians", func(x float64) (float64, error) { return finite(x, x*math.Pi/180, false) })
	// inverse trigonometric functions refuse arguments outside their domain
	inRange := func(f func(float64) float64, lo, hi float64) func(float64) (float64, error) {
		return func(x float64) (float64, error) {
			if x < lo || x > hi {
				return 0, sqlerr.New(sqlerr.NumericOutOfRange, "input is out of range")
			}
			return f(x), nil
		}
	}
	floatFn("asin", inRange(math.Asin, -1, 1))
	floatFn("acos", inRange(math.Acos, -1, 1))
	floatFn("atan", func(x float64) (float64, error) { return math.Atan(x), nil })
	floatFn("cot", func(x float64) (float64, error) { return 1 / math.Tan(x), nil })
	floatFn("sinh", func(x float64) (float64, error) { return math.Sinh(x), nil })
	floatFn("cosh", func(x float64) (float64, error) { return math.Cosh(x), nil })
	floatFn("tanh", func(x float64) (float64, error) { return math.Tanh(x), nil })
	floatFn("asinh", func(x float64) (float64, error) { return math.Asinh(x), nil })
	floatFn("acosh", inRange(math.Acosh, 1, math.Inf(1)))
	floatFn("atanh", func(x float64) (float64, error) {
		if x < -1 || x > 1 {
			return 0, sqlerr.New(sqlerr.NumericOutOfRange, "input is out of range")
		}
		return math.Atanh(x), nil
	})
	Register(&Func{Name: "atan2", Strict: true, Resolve: sig(tF64, tF64, tF64), Row: func(_ *Ctx, a []types.Datum, _ []types.T, _ types.T) (types.Datum, error) {
		return types.DFloat(math.Atan2(a[0].F, a[1].F)), nil
	}})
	floatFn("sign", func(x float64) (float64, error) {
		switch {
		case x > 0:
			return 1, nil
		case x < 0:
			return -1, nil
		}
		return 0, nil
	})
	for _, n := range []string{"power", "pow", "__pow"} {
		Register(&Func{Name: n, Strict: true, Resolve: sig(tF64, tF64, tF64), Row: func(_ *Ctx, a []types.Datum, _ []types.T, _ types.T) (types.Datum, error) {
			x, y := a[0].F, a[1].F
			if x == 0 && y < 0 {
				return types.Datum{}, sqlerr.New(sqlerr.InvalidArgumentForPower, "zero raised to a negative power is undefined")
			}
			if x < 0 && y != math.Trunc(y) && !math.IsInf(y, 0) {
				return types.Datum{}, sqlerr.New(sqlerr.InvalidArgumentForPower, "a negative number raised to a non-integer power yields a complex result")
			}
			r := math.Pow(x, y)
			if math.IsInf(r, 0) && !math.IsInf(x, 0) && !math.IsInf(y, 0) {
				return types.Datum{}, errFloatOverflow
			}
			if r == 0 && x != 0 && !math.IsInf(x, 0) && !math.IsInf(y, 0) {
				return types.Datum{}, errFloatUnderflow
			}
			return types.DFloat(r), nil
		}})
	}
	// the marker of ASOF JOIN (the dialect layer puts it in ON; the binder
	// takes it out): true, so that it never changes a condition
	Register(&Func{Name: "__asof_join", Volatile: true, SessionConstant: true, Resolve: sig(tBool), Row: func(*Ctx, []types.Datum, []types.T, types.T) (types.Datum, error) {
		return types.DBool(true), nil
	}})
	Register(&Func{Name: "pi", Resolve: sig(tF64), Row: func(*Ctx, []types.Datum, []types.T, types.T) (types.Datum, error) {
		return types.DFloat(math.Pi), nil
	}})
	Register(&Func{Name: "random", Volatile: true, Resolve: sig(tF64), Row: func(*Ctx, []types.Datum, []types.T, types.T) (types.Datum, error) {
		return types.DFloat(rand.Float64()), nil
	}})
	Register(&Func{Name: "mod", Strict: true, Resolve: func(args []types.T) (types.T, []types.T, bool) {
		if len(args) != 2 {
			return types.T{}, nil, false
		}
		t := CommonNumeric(args[0], args[1])
		if t.Kind == types.Unknown || t.Kind == types.Float64 || t.Kind == types.Float32 {
			return types.T{}, nil, false
		}
		return t, []types.T{t, t}, true
	}, Row: func(ctx *Ctx, a []types.Datum, at []types.T, rt types.T) (types.Datum, error) {
		return ArithDatum(ctx, '%', at[0], at[1], rt, a[0], a[1])
	}})
	Register(&Func{Name: "__mod", Strict: true, Resolve: Lookup("mod")[0].Resolve, Row: Lookup("mod")[0].Row})
	// div(y, x): the integer part of y / x (truncated toward zero), NUMERIC
	div := &Func{Name: "div", Strict: true, Resolve: sig(types.TNumeric, types.TNumeric, types.TNumeric), Row: func(_ *Ctx, a []types.Datum, _ []types.T, _ types.T) (types.Datum, error) {
		y, err := types.ParseDecimal(a[0].S)
		if err != nil {
			return types.Datum{}, err
		}
		x, err := types.ParseDecimal(a[1].S)
		if err != nil {
			return types.Datum{}, err
		}
		if x.IsZero() {
			return types.Datum{}, sqlerr.New(sqlerr.DivisionByZero, "division by zero")
		}
		q := new(apd.Decimal)
		if _, err := types.DecCtx.QuoInteger(q, y, x); err != nil {
			return types.Datum{}, sqlerr.New(sqlerr.NumericOutOfRange, "value out of range: %v", err)
		}
		return types.DText(types.FormatDecimal(q)), nil
	}}
	Register(div)
	Register(&Func{Name: "__div", Strict: true, Resolve: div.Resolve, Row: div.Row})
	for _, n := range []string{"greatest", "least"} {
		greatest := n == "greatest"
		Register(&Func{Name: n, Resolve: func(args []types.T) (types.T, []types.T, bool) {
			if len(args) == 0 {
				return types.T{}, nil, false
			}
			t, ok := CommonType(args)
			if !ok {
				return types.T{}, nil, false
			}
			want := make([]types.T, len(args))
			for i := range want {
				want[i] = t
			}
			return t, want, true
		}, Row: func(_ *Ctx, a []types.Datum, at []types.T, _ types.T) (types.Datum, error) {
			best := types.NullDatum
			for _, d := range a {
				if d.Null {
					continue
				}
				if best.Null {
					best = d
					continue
				}
				c := types.Compare(at[0], d, best)
				if (greatest && c > 0) || (!greatest && c < 0) {
					best = d
				}
			}
			return best, nil
		}})
	}
}

// CommonNumeric is the type two numeric operands are promoted to.
func CommonNumeric(a, b types.T) types.T {
	rank := func(t types.T) int {
		switch t.Kind {
		case types.Int16:
			return 1
		case types.Int32:
			return 2
		case types.Int64, types.Oid:
			return 3
		case types.Numeric:
			return 4
		case types.Float32:
			return 5
		case types.Float64:
			return 6
		case types.Unknown, types.Null:
			return 0
		}
		return -1
	}
	ra, rb := rank(a), rank(b)
	if ra < 0 || rb < 0 {
		return types.TUnknown
	}
	r := max(ra, rb)
	switch r {
	case 0:
		return types.TUnknown
	case 1:
		return types.TInt16
	case 2:
		return types.TInt32
	case 3:
		return types.TInt64
	case 4:
		return types.TNumeric
	case 5:
		return types.TFloat32
	}
	return types.TFloat64
}

// CommonType resolves the type of UNION/CASE/COALESCE branches as
// PostgreSQL does: unknowns take the type of the others, numbers promote,
// date/time widen; otherwise all must agree.
func CommonType(ts []types.T) (types.T, bool) {
	var out types.T
	have := false
	for _, t := range ts {
		if t.Kind == types.Unknown || t.Kind == types.Null {
			continue
		}
		if !have {
			out, have = t, true
			continue
		}
		switch {
		case out.SameKind(t):
			if out.Name != t.Name || out.Mod != t.Mod {
				if out.Kind == types.Text {
					out = types.TText
				} else {
					out.Mod = -1
				}
			}
		case out.Kind.IsNumeric() && t.Kind.IsNumeric():
			out = CommonNumeric(out, t)
		case CanImplicit(out, t):
			out = t
		case CanImplicit(t, out):
		default:
			return types.T{}, false
		}
	}
	if !have {
		return types.TText, true
	}
	return out, true
}
