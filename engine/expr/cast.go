package expr

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/cockroachdb/apd/v3"
	"github.com/streamsql/streamsql/sqlerr"
	"github.com/streamsql/streamsql/types"
)

// Cast converts E to type To.
type Cast struct {
	E  Expr
	To types.T
	// Explicit casts (CAST, ::) truncate text to a varchar(n)/char(n)
	// length instead of failing, as in PostgreSQL.
	Explicit bool
}

func (c *Cast) Type() types.T  { return c.To }
func (c *Cast) String() string { return fmt.Sprintf("CAST(%s AS %s)", c.E, c.To) }

func (c *Cast) Eval(ctx *Ctx, b arrow.RecordBatch) (Value, error) {
	v, err := c.E.Eval(ctx, b)
	if err != nil {
		return Value{}, err
	}
	defer v.Release()
	from := c.E.Type()
	n := int(b.NumRows())
	if !v.IsScalar() && c.To.Mod < 0 {
		// widening casts as column loops
		switch {
		case from.Kind == c.To.Kind && from.Elem == c.To.Elem && c.To.Kind != types.Text:
			v.Arr.Retain()
			return Value{Arr: v.Arr}, nil
		case c.To.Kind == types.Int64 && from.Kind == types.Int32:
			return widen[int32, int64](c.To, v.Arr), nil
		case c.To.Kind == types.Int64 && from.Kind == types.Int16:
			return widen[int16, int64](c.To, v.Arr), nil
		case c.To.Kind == types.Int32 && from.Kind == types.Int16:
			return widen[int16, int32](c.To, v.Arr), nil
		case c.To.Kind == types.Float64 && from.Kind == types.Int64:
			return widen[int64, float64](c.To, v.Arr), nil
		case c.To.Kind == types.Float64 && from.Kind == types.Int32:
			return widen[int32, float64](c.To, v.Arr), nil
		case c.To.Kind == types.Float64 && from.Kind == types.Float32:
			return widen[float32, float64](c.To, v.Arr), nil
		case c.To.Kind == types.Int64 && from.Kind == types.Oid:
			v.Arr.Retain()
			return Value{Arr: v.Arr}, nil
		}
	}
	truncate := c.Explicit && c.To.Kind == types.Text && c.To.Mod >= 0
	return rowFunc(ctx, n, c.To, []Value{v}, true, func(ds []types.Datum) (types.Datum, error) {
		d := ds[0]
		if truncate && (from.Kind == types.Text || from.Kind == types.Unknown) {
			if r := []rune(d.S); int32(len(r)) > c.To.Mod {
				d = types.DText(string(r[:c.To.Mod]))
			}
		}
		return CastDatum(ctx, from, c.To, d)
	})
}

func widen[F, T int16 | int32 | int64 | float32 | float64](to types.T, a arrow.Array) Value {
	src := FixedValues[F](a)
	out := make([]T, len(src))
	for i, x := range src {
		out[i] = T(x)
	}
	valid, nulls := validityOf(a)
	return Value{Arr: NewFixed(to, out, valid, nulls)}
}

// CastDatum converts one value; it defines which casts exist.
func CastDatum(ctx *Ctx, from, to types.T, d types.Datum) (types.Datum, error) {
	if d.Null {
		return d, nil
	}
	fk, tk := from.Kind, to.Kind
	switch {
	case tk == types.Text || tk == types.Unknown:
		var s string
		switch {
		case fk == types.Bool:
			s = map[bool]string{true: "true", false: "false"}[d.I != 0]
		case fk == types.Oid && from.Name == "regclass" && ctx.Catalog != nil:
			if name, ok := ctx.Catalog.RelationName(d.I); ok {
				s = name
			} else {
				s = strconv.FormatInt(d.I, 10)
			}
		case fk == types.Oid && from.Name == "regtype" && ctx.Catalog != nil:
			if name, ok := ctx.Catalog.TypeName(d.I); ok {
				s = name
			} else {
				s = strconv.FormatInt(d.I, 10)
			}
		case fk == types.Oid && from.Name == "regproc" && ctx.Catalog != nil:
			if name, ok := ctx.Catalog.ProcName(d.I); ok {
				s = name
			} else if d.I == 0 {
				s = "-"
			} else {
				s = strconv.FormatInt(d.I, 10)
			}
		case fk == types.Oid && from.Name == "regnamespace" && ctx.Catalog != nil:
			var ok bool
			if s, ok = ctx.Catalog.NamespaceName(d.I); !ok {
				s = strconv.FormatInt(d.I, 10)
			}
		default:
			s = types.FormatText(from, d, ctx.Loc)
		}
		return types.ParseText(to, s, ctx.Loc)
	case fk == types.Text || fk == types.Unknown:
		if tk == types.Oid && to.Name != "" && ctx.Catalog != nil {
			return castNameToOID(ctx, to, d.S)
		}
		if tk == types.Bytea {
			return types.ParseText(to, d.S, ctx.Loc)
		}
		return types.ParseText(to, d.S, ctx.Loc)
	case fk == tk && fk != types.Numeric && fk != types.Array:
		return d, nil
	}
	switch tk {
	case types.Bool:
		if fk.IsInteger() {
			return types.DBool(d.I != 0), nil
		}
	case types.Int16, types.Int32, types.Int64, types.Oid:
		var v int64
		switch {
		case fk.IsInteger():
			v = d.I
		case fk == types.Bool:
			v = d.I
		case fk == types.Float32 || fk == types.Float64:
			f := math.RoundToEven(d.F)
			if math.IsNaN(f) || f < math.MinInt64 || f >= math.MaxInt64 {
				return types.Datum{}, overflow(to.String())
			}
			v = int64(f)
		case fk == types.Numeric:
			dec, err := types.ParseDecimal(d.S)
			if err != nil {
				return types.Datum{}, err
			}
			switch dec.Form {
			case apd.Infinite:
				return types.Datum{}, sqlerr.New(sqlerr.FeatureNotSupported, "cannot convert infinity to %s", to)
			case apd.NaN:
				return types.Datum{}, sqlerr.New(sqlerr.FeatureNotSupported, "cannot convert NaN to %s", to)
			}
			r := types.RoundScale(dec, 0)
			i, err := r.Int64()
			if err != nil {
				return types.Datum{}, overflow(to.String())
			}
			v = i
		default:
			return types.Datum{}, cannotCast(from, to)
		}
		if err := types.CheckIntRange(tk, v); err != nil {
			return types.Datum{}, err
		}
		return types.DInt(v), nil
	case types.Float32, types.Float64:
		var f float64
		switch {
		case fk.IsInteger():
			f = float64(d.I)
		case fk == types.Float32 || fk == types.Float64:
			f = d.F
		case fk == types.Numeric:
			v, err := types.ParseText(types.TFloat64, d.S, nil)
			if err != nil {
				return types.Datum{}, err
			}
			f = v.F
		default:
			return types.Datum{}, cannotCast(from, to)
		}
		if tk == types.Float32 {
			g := float64(float32(f))
			if math.IsInf(g, 0) && !math.IsInf(f, 0) {
				return types.Datum{}, errFloatOverflow
			}
			if g == 0 && f != 0 {
				return types.Datum{}, errFloatUnderflow
			}
			f = g
		}
		return types.DFloat(f), nil
	case types.Numeric:
		var dec *apd.Decimal
		switch {
		case fk.IsInteger():
			dec = apd.New(d.I, 0)
		case fk == types.Float32 || fk == types.Float64:
			if math.IsNaN(d.F) {
				return types.DText("NaN"), nil
			}
			if math.IsInf(d.F, 0) {
				dec = &apd.Decimal{Form: apd.Infinite, Negative: d.F < 0}
				s, err := types.NumericWithMod(dec, to)
				return types.DText(s), err
			}
			bits := 64
			if fk == types.Float32 {
				bits = 32
			}
			s := strconv.FormatFloat(d.F, 'g', 15, bits)
			if bits == 32 {
				s = strconv.FormatFloat(d.F, 'g', 6, 32)
			}
			var err error
			dec, _, err = apd.NewFromString(s)
			if err != nil {
				return types.Datum{}, err
			}
			if dec.Exponent > 0 {
				_, _ = types.DecCtx.Quantize(dec, dec, 0)
			}
		case fk == types.Numeric:
			var err error
			dec, err = types.ParseDecimal(d.S)
			if err != nil {
				return types.Datum{}, err
			}
		default:
			return types.Datum{}, cannotCast(from, to)
		}
		s, err := types.NumericWithMod(dec, to)
		return types.DText(s), err
	case types.Date:
		switch {
		case (fk == types.Timestamp || fk == types.TimestampTZ) && d.I == types.TimestampInfinity:
			return types.DInt(types.DateInfinity), nil
		case (fk == types.Timestamp || fk == types.TimestampTZ) && d.I == types.TimestampNegInfinity:
			return types.DInt(types.DateNegInfinity), nil
		case fk == types.Timestamp:
			return types.DInt(floorDiv(d.I, 86400_000_000)), nil
		case fk == types.TimestampTZ:
			return types.DInt(floorDiv(localMicros(ctx, d.I), 86400_000_000)), nil
		}
	case types.Timestamp:
		switch fk {
		case types.Date:
			v, err := DateToTimestamp(d.I)
			return types.DInt(v), err
		case types.TimestampTZ:
			return types.DInt(localMicros(ctx, d.I)), nil
		}
	case types.TimestampTZ:
		switch fk {
		case types.Date:
			return types.ParseText(to, types.FormatDate(d.I), ctx.Loc)
		case types.Timestamp:
			return types.ParseText(to, types.FormatTimestamp(d.I, false, nil), ctx.Loc)
		}
	case types.Time:
		if (fk == types.Timestamp || fk == types.TimestampTZ) && !types.TimestampFinite(d.I) {
			return types.Datum{}, sqlerr.New(sqlerr.DatetimeFieldOverflow, "timestamp out of range")
		}
		switch fk {
		case types.Timestamp:
			return types.DInt(d.I - floorDiv(d.I, 86400_000_000)*86400_000_000), nil
		case types.TimestampTZ:
			l := localMicros(ctx, d.I)
			return types.DInt(l - floorDiv(l, 86400_000_000)*86400_000_000), nil
		case types.Interval:
			return types.DInt(d.Iv.Micros), nil
		}
	case types.Interval:
		if fk == types.Time {
			return types.Datum{Iv: types.IntervalValue{Micros: d.I}}, nil
		}
	case types.JSONB:
		return types.Datum{}, cannotCast(from, to)
	case types.Array:
		if fk == types.Array {
			return types.ParseText(to, d.S, ctx.Loc)
		}
	}
	if fk == tk {
		// NUMERIC typmod, arrays
		return types.ParseText(to, types.FormatText(from, d, ctx.Loc), ctx.Loc)
	}
	return types.Datum{}, cannotCast(from, to)
}

func cannotCast(from, to types.T) error {
	return sqlerr.New(sqlerr.CannotCoerce, "cannot cast type %s to %s", from, to)
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

// localMicros converts a UTC instant to the session zone's wall clock.
func localMicros(ctx *Ctx, us int64) int64 {
	if ctx.Loc == nil || !types.TimestampFinite(us) {
		return us
	}
	t := timeOf(us).In(ctx.Loc)
	_, off := t.Zone()
	return us + int64(off)*1_000_000
}

func castNameToOID(ctx *Ctx, to types.T, s string) (types.Datum, error) {
	name := strings.TrimSpace(s)
	if v, err := strconv.ParseInt(name, 10, 64); err == nil {
		return types.DInt(v), nil
	}
	switch to.Name {
	case "regclass":
		if oid, ok := ctx.Catalog.RelationOID(name); ok {
			return types.DInt(oid), nil
		}
		return types.Datum{}, sqlerr.New(sqlerr.UndefinedTable, "relation %q does not exist", name)
	case "regtype":
		if oid, ok := ctx.Catalog.TypeOID(strings.TrimPrefix(name, "pg_catalog.")); ok {
			return types.DInt(oid), nil
		}
		return types.Datum{}, sqlerr.New(sqlerr.UndefinedObject, "type %q does not exist", name)
	case "regproc":
		if oid, ok := ctx.Catalog.ProcOID(name); ok {
			return types.DInt(oid), nil
		}
		return types.Datum{}, sqlerr.New(sqlerr.UndefinedFunction, "function %q does not exist", name)
	case "regnamespace":
		if oid, ok := ctx.Catalog.NamespaceOID(unquoteName(name)); ok {
			return types.DInt(oid), nil
		}
		return types.Datum{}, sqlerr.New(sqlerr.UndefinedSchema, "schema %q does not exist", name)
	}
	return types.Datum{}, sqlerr.Unsupported("cannot cast text to %s", to)
}

func unquoteName(s string) string {
	if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' {
		return strings.ReplaceAll(s[1:len(s)-1], `""`, `"`)
	}
	return strings.ToLower(s)
}
