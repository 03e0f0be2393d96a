package exec

import (
	"encoding/binary"
	"math"

	"github.com/streamsql/streamsql/engine/expr"
	"github.com/streamsql/streamsql/types"
)

// AppendKey appends an encoding of d to buf such that equal values (as SQL
// GROUP BY / DISTINCT / join equality see them) encode equally and NULL is
// distinct from every value. Numbers are normalised so that 1, 1.0 and
// 1.00 in a NUMERIC column are one group.
func AppendKey(buf []byte, t types.T, d types.Datum) []byte {
	if d.Null {
		return append(buf, 0)
	}
	buf = append(buf, 1)
	switch t.Kind {
	case types.Float32, types.Float64:
		f := d.F
		if f == 0 {
			f = 0 // -0 = 0
		}
		if f != f {
			f = math.NaN()
		}
		return binary.BigEndian.AppendUint64(buf, math.Float64bits(f))
	case types.Numeric:
		dec, err := types.ParseDecimal(d.S)
		if err == nil {
			dec.Reduce(dec)
			s := dec.Text('E')
			buf = binary.AppendUvarint(buf, uint64(len(s)))
			return append(buf, s...)
		}
		buf = binary.AppendUvarint(buf, uint64(len(d.S)))
		return append(buf, d.S...)
	case types.Text, types.Bytea, types.JSONB, types.Array, types.Unknown:
		buf = binary.AppendUvarint(buf, uint64(len(d.S)))
		return append(buf, d.S...)
	case types.Interval:
		// intervals equal when their 30-day-month lengths are equal
		return binary.BigEndian.AppendUint64(buf, uint64(d.Iv.ApproxMicros()))
	}
	return binary.BigEndian.AppendUint64(buf, uint64(d.I))
}

// rowKeys encodes the key columns of each row of a batch.
func rowKeys(vals []expr.Value, ts []types.T, n int) []string {
	out := make([]string, n)
	var buf []byte
	for i := 0; i < n; i++ {
		buf = buf[:0]
		for k, v := range vals {
			buf = AppendKey(buf, ts[k], v.At(i))
		}
		out[i] = string(buf)
	}
	return out
}
