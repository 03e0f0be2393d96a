package expr

import (
	"fmt"
	"math"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/cockroachdb/apd/v3"
	"github.com/streamsql/streamsql/sqlerr"
	"github.com/streamsql/streamsql/types"
)

// Arith is L op R for op in + - * / %. The binder has cast both operands
// to a common numeric type, or chosen a date/time combination
// (timestamp ± interval, date ± integer, timestamp - timestamp, ...).
type Arith struct {
	Op   byte
	L, R Expr
	T    types.T
}

func (a *Arith) Type() types.T  { return a.T }
func (a *Arith) String() string { return fmt.Sprintf("(%s %c %s)", a.L, a.Op, a.R) }

type signed interface{ ~int16 | ~int32 | ~int64 }
type number interface {
	~int16 | ~int32 | ~int64 | ~float32 | ~float64
}

func (a *Arith) Eval(ctx *Ctx, b arrow.RecordBatch) (Value, error) {
	if v, ok, err := scaleTimesInts(ctx, a, b); ok || err != nil {
		return v, err
	}
	l, err := a.L.Eval(ctx, b)
	if err != nil {
		return Value{}, err
	}
	defer l.Release()
	r, err := a.R.Eval(ctx, b)
	if err != nil {
		return Value{}, err
	}
	defer r.Release()
	n := int(b.NumRows())
	lk, rk := a.L.Type().Kind, a.R.Type().Kind
	if lk == rk && !(l.IsScalar() && r.IsScalar()) {
		switch lk {
		case types.Int16:
			return arithFixed[int16](a.Op, a.T, l, r, n, math.MinInt16, math.MaxInt16, "smallint")
		case types.Int32:
			return arithFixed[int32](a.Op, a.T, l, r, n, math.MinInt32, math.MaxInt32, "integer")
		case types.Int64:
			return arithFixed[int64](a.Op, a.T, l, r, n, math.MinInt64, math.MaxInt64, "bigint")
		case types.Float64:
			return arithFixed[float64](a.Op, a.T, l, r, n, 0, 0, "double precision")
		case types.Float32:
			return arithFixed[float32](a.Op, a.T, l, r, n, 0, 0, "real")
		}
	}
	if v, ok := shiftTimes(a.Op, lk, rk, l, r, n, a.T); ok {
		return v, nil
	}
	lt, rt := a.L.Type(), a.R.Type()
	return rowFunc(ctx, n, a.T, []Value{l, r}, true, func(ds []types.Datum) (types.Datum, error) {
		return ArithDatum(ctx, a.Op, lt, rt, a.T, ds[0], ds[1])
	})
}

// shiftTimes is the column kernel for a timestamp column plus or minus a
// constant interval of fixed length (no months; days only for TIMESTAMP,
// where a day is always 24 hours): one addition per row. ok is false for
// every other shape.
func shiftTimes(op byte, lk, rk types.Kind, l, r Value, n int, t types.T) (Value, bool) {
	if (lk != types.Timestamp && lk != types.TimestampTZ) || rk != types.Interval || l.IsScalar() || !r.IsScalar() || (op != '+' && op != '-') {
		return Value{}, false
	}
	if r.D.Null {
		return Scalar(types.NullDatum), true
	}
	iv := r.D.Iv
	if iv.Months != 0 || (iv.Days != 0 && lk != types.Timestamp) {
		return Value{}, false
	}
	delta := iv.Micros + int64(iv.Days)*86400_000_000
	if op == '-' {
		delta = -delta
	}
	src := FixedValues[int64](l.Arr)
	out := make([]int64, n)
	for i := range out {
		out[i] = src[i] + delta
	}
	valid, nulls := mergeValidity(n, l.Arr, nil)
	for i, x := range src {
		// infinities stay; a finite time leaving the range takes the
		// row path, which reports it
		switch {
		case !types.TimestampFinite(x):
			out[i] = x
		case !validAt(valid, i):
		case (out[i] > x) != (delta > 0) && delta != 0, types.CheckTimestamp(out[i]) != nil:
			return Value{}, false
		}
	}
	return Value{Arr: NewFixed(t, out, valid, nulls)}, true
}

func overflow(name string) error {
	return sqlerr.New(sqlerr.NumericOutOfRange, "%s out of range", name)
}

var errDivZero = sqlerr.New(sqlerr.DivisionByZero, "division by zero")

// arithFixed is the column kernel for integer and float arithmetic.
func arithFixed[T number](op byte, rt types.T, l, r Value, n int, lo, hi int64, name string) (Value, error) {
	var lv, rv []T
	var ls, rs T
	if l.IsScalar() {
		if l.D.Null {
			return Scalar(types.NullDatum), nil
		}
		ls = scalarAs[T](l.D)
	} else {
		lv = FixedValues[T](l.Arr)
	}
	if r.IsScalar() {
		if r.D.Null {
			return Scalar(types.NullDatum), nil
		}
		rs = scalarAs[T](r.D)
	} else {
		rv = FixedValues[T](r.Arr)
	}
	valid, nulls := mergeValidity(n, l.Arr, r.Arr)
	out := make([]T, n)
	get := func(v []T, s T, i int) T {
		if v == nil {
			return s
		}
		return v[i]
	}
	isFloat := isFloatType[T]()
	switch op {
	case '+':
		switch {
		case lv != nil && rv != nil:
			for i := range out {
				out[i] = lv[i] + rv[i]
			}
		case lv != nil:
			for i := range out {
				out[i] = lv[i] + rs
			}
		default:
			for i := range out {
				out[i] = ls + rv[i]
			}
		}
		if !isFloat {
			for i := range out {
				x, y := get(lv, ls, i), get(rv, rs, i)
				if (out[i] > x) != (y > 0) && y != 0 && validAt(valid, i) {
					return Value{}, overflow(name)
				}
			}
		} else if err := floatChecks(op, lv, rv, ls, rs, out, valid); err != nil {
			return Value{}, err
		}
	case '-':
		switch {
		case lv != nil && rv != nil:
			for i := range out {
				out[i] = lv[i] - rv[i]
			}
		case lv != nil:
			for i := range out {
				out[i] = lv[i] - rs
			}
		default:
			for i := range out {
				out[i] = ls - rv[i]
			}
		}
		if !isFloat {
			for i := range out {
				x, y := get(lv, ls, i), get(rv, rs, i)
				if (out[i] < x) != (y > 0) && y != 0 && validAt(valid, i) {
					return Value{}, overflow(name)
				}
			}
		} else if err := floatChecks(op, lv, rv, ls, rs, out, valid); err != nil {
			return Value{}, err
		}
	case '*':
		switch {
		case lv != nil && rv != nil:
			for i := range out {
				out[i] = lv[i] * rv[i]
			}
		case lv != nil:
			for i := range out {
				out[i] = lv[i] * rs
			}
		default:
			for i := range out {
				out[i] = ls * rv[i]
			}
		}
		if !isFloat {
			for i := range out {
				x, y := get(lv, ls, i), get(rv, rs, i)
				if x != 0 && validAt(valid, i) && (out[i]/x != y || (x == -1 && int64(y) == lo)) {
					return Value{}, overflow(name)
				}
			}
		} else if err := floatChecks(op, lv, rv, ls, rs, out, valid); err != nil {
			return Value{}, err
		}
	case '/', '%':
		for i := range out {
			if !validAt(valid, i) {
				continue
			}
			x, y := get(lv, ls, i), get(rv, rs, i)
			if y == 0 && !(isFloat && x != x) { // NaN / 0 is NaN
				return Value{}, errDivZero
			}
			if op == '/' {
				if !isFloat && y == -1 && int64(x) == lo {
					return Value{}, overflow(name)
				}
				out[i] = x / y
				if isFloat {
					if err := floatCheck(op, float64(x), float64(y), float64(out[i])); err != nil {
						return Value{}, err
					}
				}
			} else if isFloat {
				return Value{}, sqlerr.New(sqlerr.UndefinedFunction, "operator does not exist: %s %% %s", name, name)
			} else if y == -1 {
				out[i] = 0
			} else {
				out[i] = T(int64(x) % int64(y))
			}
		}
	default:
		return Value{}, sqlerr.New(sqlerr.InternalError, "unknown operator %c", op)
	}
	return Value{Arr: NewFixed(rt, out, valid, nulls)}, nil
}

var (
	errFloatOverflow  = sqlerr.New(sqlerr.NumericOutOfRange, "value out of range: overflow")
	errFloatUnderflow = sqlerr.New(sqlerr.NumericOutOfRange, "value out of range: underflow")
)

// floatCheck is PostgreSQL's check of a float result r = x op y: infinite
// from finite operands is an overflow, zero from non-zero operands (and a
// finite divisor) an underflow. Infinity and NaN operands pass through.
func floatCheck(op byte, x, y, r float64) error {
	inf := func(f float64) bool { return math.IsInf(f, 0) }
	switch op {
	case '+', '-':
		if inf(r) && !inf(x) && !inf(y) {
			return errFloatOverflow
		}
	case '*':
		if inf(r) && !inf(x) && !inf(y) {
			return errFloatOverflow
		}
		if r == 0 && x != 0 && y != 0 {
			return errFloatUnderflow
		}
	case '/':
		if inf(r) && !inf(x) {
			return errFloatOverflow
		}
		if r == 0 && x != 0 && !inf(y) {
			return errFloatUnderflow
		}
	}
	return nil
}

// floatChecks runs floatCheck over a kernel's results.
func floatChecks[T number](op byte, lv, rv []T, ls, rs T, out []T, valid []byte) error {
	for i := range out {
		r := float64(out[i])
		if !math.IsInf(r, 0) && r != 0 {
			continue
		}
		x, y := ls, rs
		if lv != nil {
			x = lv[i]
		}
		if rv != nil {
			y = rv[i]
		}
		if !validAt(valid, i) {
			continue
		}
		if err := floatCheck(op, float64(x), float64(y), r); err != nil {
			return err
		}
	}
	return nil
}

func isFloatType[T number]() bool {
	var z T
	switch any(z).(type) {
	case float32, float64:
		return true
	}
	return false
}

func validAt(valid []byte, i int) bool {
	return valid == nil || valid[i>>3]&(1<<(i&7)) != 0
}

func scalarAs[T number](d types.Datum) T {
	var z T
	switch any(z).(type) {
	case float32, float64:
		return T(d.F)
	}
	return T(d.I)
}

// ArithDatum computes one arithmetic result; it is the reference semantics
// that the column kernels follow, and the path for NUMERIC and date/time.
func ArithDatum(ctx *Ctx, op byte, lt, rt, out types.T, l, r types.Datum) (types.Datum, error) {
	if l.Null || r.Null {
		return types.NullDatum, nil
	}
	lk, rk := lt.Kind, rt.Kind
	switch {
	case lk == types.Numeric && rk == types.Numeric:
		return numericArith(op, l.S, r.S)
	case lk.IsInteger() && rk.IsInteger():
		x, y := l.I, r.I
		var v int64
		switch op {
		case '+':
			v = x + y
			if (v > x) != (y > 0) && y != 0 {
				return types.Datum{}, overflow(out.String())
			}
		case '-':
			v = x - y
			if (v < x) != (y > 0) && y != 0 {
				return types.Datum{}, overflow(out.String())
			}
		case '*':
			v = x * y
			if x != 0 && (v/x != y || (x == -1 && y == math.MinInt64)) {
				return types.Datum{}, overflow(out.String())
			}
		case '/':
			if y == 0 {
				return types.Datum{}, errDivZero
			}
			if y == -1 && x == math.MinInt64 {
				return types.Datum{}, overflow(out.String())
			}
			v = x / y
		case '%':
			if y == 0 {
				return types.Datum{}, errDivZero
			}
			if y == -1 {
				v = 0
			} else {
				v = x % y
			}
		}
		if err := types.CheckIntRange(out.Kind, v); err != nil {
			return types.Datum{}, err
		}
		return types.DInt(v), nil
	case lk == types.Float64 || lk == types.Float32:
		x, y := l.F, r.F
		var v float64
		switch op {
		case '+':
			v = x + y
		case '-':
			v = x - y
		case '*':
			v = x * y
		case '/':
			if y == 0 && !math.IsNaN(x) {
				return types.Datum{}, errDivZero
			}
			v = x / y
		default:
			return types.Datum{}, sqlerr.New(sqlerr.UndefinedFunction, "operator does not exist: %s %c %s", lt, op, rt)
		}
		if lk == types.Float32 {
			v = float64(float32(v))
		}
		if err := floatCheck(op, x, y, v); err != nil {
			return types.Datum{}, err
		}
		return types.DFloat(v), nil
	case (lk == types.Timestamp || lk == types.TimestampTZ) && rk == types.Interval:
		iv := r.Iv
		if op == '-' {
			iv = iv.Neg()
		}
		loc := ctx.Loc
		if lk == types.Timestamp {
			loc = nil
		}
		v, err := types.AddInterval(l.I, iv, loc)
		return types.DInt(v), err
	case lk == types.Interval && (rk == types.Timestamp || rk == types.TimestampTZ) && op == '+':
		return ArithDatum(ctx, op, rt, lt, out, r, l)
	case (lk == types.Timestamp || lk == types.TimestampTZ) && lk == rk && op == '-':
		if !types.TimestampFinite(l.I) || !types.TimestampFinite(r.I) {
			return types.Datum{}, sqlerr.New(sqlerr.DatetimeFieldOverflow, "cannot subtract infinite timestamps")
		}
		d := l.I - r.I
		if (d < l.I) != (r.I > 0) && r.I != 0 {
			return types.Datum{}, sqlerr.New(sqlerr.DatetimeFieldOverflow, "interval out of range")
		}
		days := d / 86400_000_000
		return types.Datum{Iv: types.IntervalValue{Days: int32(days), Micros: d - days*86400_000_000}}, nil
	case lk == types.Date && rk == types.Date && op == '-':
		if !types.DateFinite(l.I) || !types.DateFinite(r.I) {
			return types.Datum{}, sqlerr.New(sqlerr.DatetimeFieldOverflow, "cannot subtract infinite dates")
		}
		return types.DInt(l.I - r.I), nil
	case lk == types.Date && rk.IsInteger(), lk.IsInteger() && rk == types.Date && op == '+':
		date, n := l.I, r.I
		if lk.IsInteger() {
			date, n = r.I, l.I
		}
		if !types.DateFinite(date) {
			return types.DInt(date), nil
		}
		if op == '-' {
			n = -n
		}
		v := date + n
		if v < types.MinDate || v > types.MaxDate {
			return types.Datum{}, sqlerr.New(sqlerr.DatetimeFieldOverflow, "date out of range")
		}
		return types.DInt(v), nil
	case lk == types.Date && rk == types.Interval:
		iv := r.Iv
		if op == '-' {
			iv = iv.Neg()
		}
		ts, err := DateToTimestamp(l.I)
		if err != nil {
			return types.Datum{}, err
		}
		v, err := types.AddInterval(ts, iv, nil)
		return types.DInt(v), err
	case lk == types.Interval && rk == types.Interval:
		w := r.Iv
		if op == '-' {
			var err error
			if w, err = w.CheckedNeg(); err != nil {
				return types.Datum{}, err
			}
		}
		v, err := l.Iv.CheckedAdd(w)
		return types.Datum{Iv: v}, err
	case lk == types.Interval && rk.IsNumeric():
		f := r.Approx(rk)
		if op == '/' {
			if f == 0 {
				return types.Datum{}, errDivZero
			}
			f = 1 / f
		}
		v, err := l.Iv.CheckedScale(f)
		return types.Datum{Iv: v}, err
	case lk.IsNumeric() && rk == types.Interval && op == '*':
		v, err := r.Iv.CheckedScale(l.Approx(lk))
		return types.Datum{Iv: v}, err
	}
	return types.Datum{}, sqlerr.New(sqlerr.UndefinedFunction, "operator does not exist: %s %c %s", lt, op, rt)
}

func numericArith(op byte, a, b string) (types.Datum, error) {
	x, err := types.ParseDecimal(a)
	if err != nil {
		return types.Datum{}, err
	}
	y, err := types.ParseDecimal(b)
	if err != nil {
		return types.Datum{}, err
	}
	if (op == '/' || op == '%') && y.IsZero() {
		return types.Datum{}, errDivZero
	}
	if z, ok := types.NumericSpecial(op, x, y); ok {
		return types.DText(types.FormatDecimal(z)), nil
	}
	z := new(apd.Decimal)
	c := types.DecCtx
	switch op {
	case '+':
		_, err = c.Add(z, x, y)
	case '-':
		_, err = c.Sub(z, x, y)
	case '*':
		_, err = c.Mul(z, x, y)
	case '/':
		if y.IsZero() {
			return types.Datum{}, errDivZero
		}
		z = types.DivNumeric(x, y)
	case '%':
		if y.IsZero() {
			return types.Datum{}, errDivZero
		}
		_, err = c.Rem(z, x, y)
	}
	if err != nil {
		return types.Datum{}, sqlerr.New(sqlerr.NumericOutOfRange, "numeric overflow: %v", err)
	}
	return types.DText(types.FormatDecimal(z)), nil
}

// DateToTimestamp is a date's midnight as a timestamp: infinite dates are
// infinite timestamps; a date past the timestamps' range is an error.
func DateToTimestamp(days int64) (int64, error) {
	switch days {
	case types.DateInfinity:
		return types.TimestampInfinity, nil
	case types.DateNegInfinity:
		return types.TimestampNegInfinity, nil
	}
	us := days * 86400_000_000
	if days > types.EndTimestamp/86400_000_000 || us < types.MinTimestamp {
		return 0, sqlerr.New(sqlerr.DatetimeFieldOverflow, "date out of range for timestamp")
	}
	return us, nil
}

// Neg is unary minus.
type Neg struct{ E Expr }

func (n *Neg) Type() types.T  { return n.E.Type() }
func (n *Neg) String() string { return "-" + n.E.String() }
func (n *Neg) Eval(ctx *Ctx, b arrow.RecordBatch) (Value, error) {
	zero := &Const{T: n.E.Type()}
	switch n.E.Type().Kind {
	case types.Numeric:
		zero.D = types.DText("0")
	case types.Interval:
		v, err := n.E.Eval(ctx, b)
		if err != nil {
			return Value{}, err
		}
		defer v.Release()
		return rowFunc(ctx, int(b.NumRows()), n.Type(), []Value{v}, true, func(ds []types.Datum) (types.Datum, error) {
			return types.Datum{Iv: ds[0].Iv.Neg()}, nil
		})
	}
	return (&Arith{Op: '-', L: zero, R: n.E, T: n.E.Type()}).Eval(ctx, b)
}
