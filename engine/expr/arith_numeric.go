package expr

import (
	"math/bits"
	"strconv"
	"strings"
	"unsafe"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/streamsql/streamsql/types"
)

// scaleTimesInts is the column kernel for a NUMERIC constant times an
// integer column (0.908 * price): the constant is an integer D with s
// fractional digits, so each row is v*D with the same s digits — exact,
// PostgreSQL's scale for a product (the scales add; an integer's is 0) —
// computed in 64 bits and written as text, instead of a decimal per row.
// ok is false for other shapes, and when a product would not fit (the
// general path then computes it).
func scaleTimesInts(ctx *Ctx, a *Arith, b arrow.RecordBatch) (Value, bool, error) {
	if a.Op != '*' || a.T.Kind != types.Numeric {
		return Value{}, false, nil
	}
	k, col := a.L, a.R
	if _, ok := k.(*Const); !ok {
		k, col = a.R, a.L
	}
	c, ok := k.(*Const)
	cast, ok2 := col.(*Cast)
	if !ok || !ok2 || c.D.Null || cast.E.Type().Kind != types.Int64 && cast.E.Type().Kind != types.Int32 {
		return Value{}, false, nil
	}
	d, scale, ok := scaledInt(c.D.S)
	if !ok {
		return Value{}, false, nil
	}
	v, err := cast.E.Eval(ctx, b)
	if err != nil {
		return Value{}, false, err
	}
	defer v.Release()
	if v.IsScalar() {
		return Value{}, false, nil
	}
	n := int(b.NumRows())
	var vals []int64
	switch v.Arr.DataType().ID() {
	case arrow.INT64:
		vals = FixedValues[int64](v.Arr)
	case arrow.INT32:
		vals = make([]int64, n)
		for i, x := range FixedValues[int32](v.Arr) {
			vals[i] = int64(x)
		}
	default:
		return Value{}, false, nil
	}
	offsets := make([]int32, n+1)
	data := make([]byte, 0, n*(scale+12))
	for i, x := range vals[:n] {
		if v.Arr.IsNull(i) {
			offsets[i+1] = int32(len(data))
			continue
		}
		hi, lo := bits.Mul64(uint64(abs64(x)), uint64(abs64(d)))
		if hi != 0 || lo > 1<<63-1 {
			return Value{}, false, nil
		}
		p := int64(lo)
		if (x < 0) != (d < 0) && p != 0 {
			p = -p
		}
		data = appendScaled(data, p, scale)
		offsets[i+1] = int32(len(data))
	}
	var valid []byte
	nulls := v.Arr.NullN()
	if nulls > 0 {
		valid, nulls = mergeValidity(n, v.Arr, nil)
	}
	var vb *memory.Buffer
	if nulls > 0 {
		vb = memory.NewBufferBytes(valid)
	}
	raw := unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(offsets))), len(offsets)*4)
	ad := array.NewData(types.ArrowType(a.T), n, []*memory.Buffer{vb, memory.NewBufferBytes(raw), memory.NewBufferBytes(data)}, nil, nulls, 0)
	defer ad.Release()
	return Value{Arr: array.MakeFromData(ad)}, true, nil
}

func abs64(x int64) int64 {
	if x < 0 {
		return -x
	}
	return x
}

// scaledInt reads a decimal's text as an integer and its count of
// fractional digits ("0.908" is 908, 3).
func scaledInt(s string) (int64, int, bool) {
	whole, frac, _ := strings.Cut(s, ".")
	if strings.ContainsAny(s, "eEN") || len(whole)+len(frac) > 18 {
		return 0, 0, false
	}
	v, err := strconv.ParseInt(whole+frac, 10, 64)
	if err != nil {
		return 0, 0, false
	}
	if strings.HasPrefix(whole, "-") && v > 0 {
		v = -v // "-0.5": ParseInt saw "-05"
	}
	return v, len(frac), true
}

// appendScaled writes v × 10^-scale with exactly scale fractional digits.
func appendScaled(dst []byte, v int64, scale int) []byte {
	if v < 0 {
		dst = append(dst, '-')
		v = -v
	}
	var buf [24]byte
	digits := strconv.AppendInt(buf[:0], v, 10)
	if scale == 0 {
		return append(dst, digits...)
	}
	if len(digits) <= scale {
		dst = append(dst, '0', '.')
		for i := len(digits); i < scale; i++ {
			dst = append(dst, '0')
		}
		return append(dst, digits...)
	}
	dst = append(dst, digits[:len(digits)-scale]...)
	dst = append(dst, '.')
	return append(dst, digits[len(digits)-scale:]...)
}
