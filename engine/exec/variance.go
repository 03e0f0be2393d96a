package exec

import (
	"github.com/cockroachdb/apd/v3"
	"github.com/streamsql/streamsql/types"
)

// Variance computes var_samp, var_pop, stddev_samp or stddev_pop from the
// count, sum and sum of squares of the inputs, exactly as PostgreSQL's
// numeric_stddev_internal does for integer and numeric inputs: numerator
// N·Σx² − (Σx)², divided by N·(N−1) (or N·N) at select_div_scale, square
// root at the same scale. For float results the exact value is rounded to
// float8. NULL for no rows (or one row for the sample forms).
func Variance(kind AggKind, n int64, sum, sumsq *apd.Decimal, out types.T) types.Datum {
	sample := kind == AggVarSamp || kind == AggStddevSamp
	if n == 0 || (sample && n == 1) {
		return types.NullDatum
	}
	ctx := types.DecCtx
	N := apd.New(n, 0)
	num := new(apd.Decimal)
	sq := new(apd.Decimal)
	_, _ = ctx.Mul(sq, sum, sum)
	_, _ = ctx.Mul(num, N, sumsq)
	_, _ = ctx.Sub(num, num, sq)
	if num.Sign() <= 0 {
		if out.Kind == types.Numeric {
			return types.DText("0")
		}
		return types.DFloat(0)
	}
	den := apd.New(n, 0)
	if sample {
		_, _ = ctx.Mul(den, N, apd.New(n-1, 0))
	} else {
		_, _ = ctx.Mul(den, N, N)
	}
	if out.Kind != types.Numeric {
		v := new(apd.Decimal)
		_, _ = apd.BaseContext.WithPrecision(40).Quo(v, num, den)
		if kind == AggStddevSamp || kind == AggStddevPop {
			_, _ = apd.BaseContext.WithPrecision(40).Sqrt(v, v)
		}
		f, _ := v.Float64()
		return types.DFloat(f)
	}
	scale := types.DivScale(num, den)
	v := new(apd.Decimal)
	_, _ = ctx.WithPrecision(uint32(num.NumDigits())+uint32(scale)+10).Quo(v, num, den)
	if kind == AggStddevSamp || kind == AggStddevPop {
		_, _ = apd.BaseContext.WithPrecision(uint32(v.NumDigits())+uint32(scale)+20).Sqrt(v, v)
	}
	return types.DText(types.FormatDecimal(types.RoundScale(v, scale)))
}

// DecimalOf returns an integer or NUMERIC datum as a decimal (a new value).
func DecimalOf(t types.T, d types.Datum) (*apd.Decimal, error) {
	if t.Kind == types.Numeric || t.Kind == types.Unknown {
		return types.ParseDecimal(d.S)
	}
	return apd.New(d.I, 0), nil
}
