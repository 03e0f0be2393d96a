package types

import (
	"fmt"
	"math"
	"math/bits"
	"strconv"
	"strings"

	"github.com/cockroachdb/apd/v3"
	"github.com/streamsql/streamsql/sqlerr"
)

// NUMERIC values are kept as canonical decimal text ("12.50") and computed
// with apd, which follows the General Decimal Arithmetic rules; the display
// scale rules of PostgreSQL are applied on top (see DivScale).

// DecCtx is the context for NUMERIC arithmetic: PostgreSQL's limits.
var DecCtx = apd.BaseContext.WithPrecision(1000)

// ParseDecimal parses a NUMERIC from text: digits, an exponent, NaN, and
// PostgreSQL's spellings of the infinities (inf, +inf, -inf, Infinity,
// +Infinity, -Infinity, in any case).
func ParseDecimal(s string) (*apd.Decimal, error) {
	t := strings.TrimSpace(s)
	switch strings.ToLower(t) {
	case "inf", "+inf", "infinity", "+infinity":
		return &apd.Decimal{Form: apd.Infinite}, nil
	case "-inf", "-infinity":
		return &apd.Decimal{Form: apd.Infinite, Negative: true}, nil
	}
	d, _, err := apd.NewFromString(t)
	if err != nil || d.Form == apd.Infinite || d.Form == apd.NaNSignaling {
		return nil, sqlerr.New(sqlerr.InvalidTextRep, "invalid input syntax for type numeric: %q", s)
	}
	return d, nil
}

// FormatDecimal renders d in PostgreSQL's NUMERIC output format (no exponent).
func FormatDecimal(d *apd.Decimal) string {
	if d.Form == apd.NaN || d.Form == apd.NaNSignaling {
		return "NaN"
	}
	if d.Form == apd.Infinite {
		if d.Negative {
			return "-Infinity"
		}
		return "Infinity"
	}
	s := d.Text('f')
	if s == "-0" {
		return "0"
	}
	if strings.HasPrefix(s, "-0") && strings.Trim(s, "-0.") == "" {
		return s[1:]
	}
	return s
}

// Scale returns the number of digits after the decimal point of d.
func Scale(d *apd.Decimal) int {
	if d.Exponent < 0 {
		return int(-d.Exponent)
	}
	return 0
}

// RoundScale rounds d to scale digits after the point (half away from zero).
func RoundScale(d *apd.Decimal, scale int) *apd.Decimal {
	r := new(apd.Decimal)
	ctx := DecCtx.WithPrecision(1000)
	ctx.Rounding = apd.RoundHalfUp
	_, _ = ctx.Quantize(r, d, int32(-scale))
	return r
}

// DivScale is PostgreSQL's select_div_scale: the display scale of n / d.
func DivScale(n, d *apd.Decimal) int {
	weight := func(x *apd.Decimal) int {
		if x.IsZero() {
			return 0
		}
		// number of digits before the point minus one, in base 10000 units as PG does,
		// approximated in decimal digits: PG uses base-10000 weights; mirror it.
		digits := int(x.NumDigits()) + int(x.Exponent) // digits before the point
		if digits <= 0 {
			return -((-digits)/4 + 1)
		}
		return (digits - 1) / 4
	}
	firstDigit := func(x *apd.Decimal) int {
		// leading base-10000 digit of x
		s := strings.TrimLeft(x.Text('f'), "-")
		s = strings.ReplaceAll(s, ".", "")
		s = strings.TrimLeft(s, "0")
		if s == "" {
			return 0
		}
		intDigits := int(x.NumDigits()) + int(x.Exponent)
		lead := ((intDigits-1)%4+4)%4 + 1
		if intDigits <= 0 {
			lead = 4 - ((-intDigits) % 4)
			if lead == 0 {
				lead = 4
			}
		}
		if lead > len(s) {
			s += strings.Repeat("0", lead-len(s))
		}
		v, _ := strconv.Atoi(s[:lead])
		return v
	}
	w1, w2 := weight(n), weight(d)
	f1, f2 := firstDigit(n), firstDigit(d)
	qweight := w1 - w2
	if f1 <= f2 {
		qweight--
	}
	rscale := 16 - qweight*4
	if rscale < Scale(n) {
		rscale = Scale(n)
	}
	if rscale < Scale(d) {
		rscale = Scale(d)
	}
	if rscale < 0 {
		rscale = 0
	}
	if rscale > 1000 {
		rscale = 1000
	}
	return rscale
}

// CanonicalNumeric normalises the text of a NUMERIC, applying a typmod.
func CanonicalNumeric(s string, t T) (string, error) {
	d, err := ParseDecimal(s)
	if err != nil {
		return "", err
	}
	return NumericWithMod(d, t)
}

// NumericWithMod formats d, rounded and checked against t's precision/scale.
func NumericWithMod(d *apd.Decimal, t T) (string, error) {
	if p, sc, ok := t.NumericPS(); ok && d.Form == apd.Infinite {
		return "", sqlerr.New(sqlerr.NumericOutOfRange, "numeric field overflow").
			WithDetail("A field with precision " + strconv.Itoa(p) + ", scale " + strconv.Itoa(sc) + " cannot hold an infinite value.")
	}
	if p, sc, ok := t.NumericPS(); ok && d.Form == apd.Finite {
		d = RoundScale(d, sc)
		intDigits := int(d.NumDigits()) + int(d.Exponent)
		if !d.IsZero() && intDigits > p-sc {
			return "", sqlerr.New(sqlerr.NumericOutOfRange, "numeric field overflow").
				WithHint("A field with precision " + strconv.Itoa(p) + ", scale " + strconv.Itoa(sc) + " must round to an absolute value less than 10^" + strconv.Itoa(p-sc) + ".")
		}
	}
	return FormatDecimal(d), nil
}

func numericToFloat(s string) (float64, error) {
	if s == "NaN" {
		return 0, nil
	}
	return strconv.ParseFloat(s, 64)
}

// DivNumeric is PostgreSQL's numeric division n / d: the quotient rounded
// (half away from zero) to select_div_scale digits, computed with only the
// digits that scale needs.
func DivNumeric(n, d *apd.Decimal) *apd.Decimal {
	if q, ok := NumericSpecial('/', n, d); ok {
		return q
	}
	scale := DivScale(n, d)
	digits := int64(n.NumDigits()) + int64(n.Exponent) - int64(d.Exponent) + int64(scale) + 10
	if digits < 20 {
		digits = 20
	}
	q := new(apd.Decimal)
	_, _ = DecCtx.WithPrecision(uint32(digits)).Quo(q, n, d)
	return RoundScale(q, scale)
}

// DivInt64 is DivNumeric(n, d) of two integers, formatted, computed with
// machine integers (a decimal division costs a hundred times more); ok
// false when the quotient needs more than 64 bits (then use DivNumeric).
func DivInt64(n, d int64) (string, bool) {
	if d == 0 || n == math.MinInt64 || d == math.MinInt64 {
		return "", false
	}
	neg := (n < 0) != (d < 0)
	un, ud := uint64(n), uint64(d)
	if n < 0 {
		un = uint64(-n)
	}
	if d < 0 {
		ud = uint64(-d)
	}
	// select_div_scale over integers (display scale 0)
	weight := func(x uint64) (w, first int) {
		if x == 0 {
			return 0, 0
		}
		s := strconv.FormatUint(x, 10)
		lead := (len(s)-1)%4 + 1
		first, _ = strconv.Atoi(s[:lead])
		return (len(s) - 1) / 4, first
	}
	w1, f1 := weight(un)
	w2, f2 := weight(ud)
	qweight := w1 - w2
	if f1 <= f2 {
		qweight--
	}
	scale := max(16-qweight*4, 0)
	if scale > 19 {
		return "", false
	}
	hi, lo := bits.Mul64(un, pow10[scale])
	if hi >= ud {
		return "", false
	}
	q, rem := bits.Div64(hi, lo, ud)
	if rem >= ud-rem { // half away from zero
		if q++; q == 0 {
			return "", false
		}
	}
	digits := strconv.FormatUint(q, 10)
	if len(digits) <= scale {
		digits = strings.Repeat("0", scale-len(digits)+1) + digits
	}
	out := digits
	if scale > 0 {
		out = digits[:len(digits)-scale] + "." + digits[len(digits)-scale:]
	}
	if neg && q != 0 {
		out = "-" + out
	}
	return out, true
}

var pow10 = func() (p [20]uint64) {
	p[0] = 1
	for i := 1; i < len(p); i++ {
		p[i] = p[i-1] * 10
	}
	return p
}()

// NumericSpecial is the result of a NUMERIC operation (+ - * / %) when an
// operand is infinite, as PostgreSQL defines it (ok false: both are
// finite, or one is NaN, which apd already carries through). Division by
// zero is the caller's to check first.
func NumericSpecial(op byte, x, y *apd.Decimal) (*apd.Decimal, bool) {
	xi, yi := x.Form == apd.Infinite, y.Form == apd.Infinite
	if !xi && !yi || x.Form == apd.NaN || y.Form == apd.NaN {
		return nil, false
	}
	nan := &apd.Decimal{Form: apd.NaN}
	inf := func(neg bool) *apd.Decimal { return &apd.Decimal{Form: apd.Infinite, Negative: neg} }
	switch op {
	case '+':
		if xi && yi && x.Negative != y.Negative {
			return nan, true
		}
		if xi {
			return inf(x.Negative), true
		}
		return inf(y.Negative), true
	case '-':
		if xi && yi && x.Negative == y.Negative {
			return nan, true
		}
		if xi {
			return inf(x.Negative), true
		}
		return inf(!y.Negative), true
	case '*':
		if (xi && y.IsZero()) || (yi && x.IsZero()) {
			return nan, true
		}
		return inf(x.Negative != y.Negative), true
	case '/':
		if xi && yi {
			return nan, true
		}
		if yi {
			return new(apd.Decimal), true
		}
		return inf(x.Negative != y.Negative), true
	case '%':
		if xi {
			return nan, true
		}
		out := new(apd.Decimal)
		out.Set(x)
		return out, true
	}
	return nil, false
}

// DecimalSum is a NUMERIC sum that values can leave as well as enter (a
// retraction, a window frame's start moving on): the finite part is kept
// exact and the infinities and NaNs are counted, so that taking an
// Infinity back out restores the finite sum where Infinity - Infinity
// would be NaN for good. The zero value is an empty sum.
type DecimalSum struct {
	finite              apd.Decimal
	posInf, negInf, nan int64
	// scales counts the finite values in by their scale: the sum has the
	// largest scale of the values in it, as when computed afresh
	scales []scaleCount
}

type scaleCount struct {
	scale int32
	n     int64
}

// Add adds d w times (w < 0 takes it out).
func (s *DecimalSum) Add(d *apd.Decimal, w int64) {
	switch {
	case d.Form == apd.NaN || d.Form == apd.NaNSignaling:
		s.nan += w
	case d.Form == apd.Infinite && d.Negative:
		s.negInf += w
	case d.Form == apd.Infinite:
		s.posInf += w
	default:
		s.addFinite(d, w)
	}
}

func (s *DecimalSum) addFinite(d *apd.Decimal, w int64) {
	if sc := max(-d.Exponent, 0); sc > 0 {
		i := 0
		for i < len(s.scales) && s.scales[i].scale != sc {
			i++
		}
		if i == len(s.scales) {
			s.scales = append(s.scales, scaleCount{scale: sc})
		}
		if s.scales[i].n += w; s.scales[i].n == 0 {
			s.scales = append(s.scales[:i], s.scales[i+1:]...)
		}
	}
	switch w {
	case 1:
		_, _ = DecCtx.Add(&s.finite, &s.finite, d)
	case -1:
		_, _ = DecCtx.Sub(&s.finite, &s.finite, d)
	default:
		var x apd.Decimal
		_, _ = DecCtx.Mul(&x, d, apd.New(w, 0))
		_, _ = DecCtx.Add(&s.finite, &s.finite, &x)
	}
}

// State writes the sum's state as text, for a checkpoint: the finite
// sum, the counts of +Infinity, -Infinity and NaN, and the values in by
// scale.
func (s *DecimalSum) State() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %d %d %d", s.finite.Text('E'), s.posInf, s.negInf, s.nan)
	for _, sc := range s.scales {
		fmt.Fprintf(&b, " %d:%d", sc.scale, sc.n)
	}
	return b.String()
}

// SetState restores a state State wrote.
func (s *DecimalSum) SetState(state string) error {
	f := strings.Fields(state)
	if len(f) < 4 {
		return fmt.Errorf("types: bad numeric sum state %q", state)
	}
	*s = DecimalSum{}
	if _, _, err := s.finite.SetString(f[0]); err != nil {
		return fmt.Errorf("types: bad numeric sum state %q: %w", state, err)
	}
	for i, p := range []*int64{&s.posInf, &s.negInf, &s.nan} {
		v, err := strconv.ParseInt(f[1+i], 10, 64)
		if err != nil {
			return fmt.Errorf("types: bad numeric sum state %q", state)
		}
		*p = v
	}
	for _, part := range f[4:] {
		var sc scaleCount
		if _, err := fmt.Sscanf(part, "%d:%d", &sc.scale, &sc.n); err != nil {
			return fmt.Errorf("types: bad numeric sum state %q", state)
		}
		s.scales = append(s.scales, sc)
	}
	return nil
}

// AddInt adds the integer v w times.
func (s *DecimalSum) AddInt(v, w int64) {
	var x apd.Decimal
	x.SetInt64(v)
	s.Add(&x, w)
}

// Sum returns the sum as PostgreSQL computes it: NaN if a NaN or both
// infinities are in, else the infinity that is, else the finite sum.
func (s *DecimalSum) Sum() *apd.Decimal {
	switch {
	case s.nan > 0 || s.posInf > 0 && s.negInf > 0:
		return &apd.Decimal{Form: apd.NaN}
	case s.posInf > 0:
		return &apd.Decimal{Form: apd.Infinite}
	case s.negInf > 0:
		return &apd.Decimal{Form: apd.Infinite, Negative: true}
	}
	scale := int32(0)
	for _, sc := range s.scales {
		scale = max(scale, sc.scale)
	}
	return RoundScale(&s.finite, int(scale))
}
