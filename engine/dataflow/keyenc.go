package dataflow

import (
	"encoding/binary"
	"math"

	"github.com/streamsql/streamsql/types"
)

// AppendOrderedKey appends an encoding of d whose bytewise order is the
// SQL order of the values (NULL first), so that keyed state can be scanned
// in key order: big-endian integers with the sign bit flipped, floats with
// the IEEE trick, text with 0x00 escaped and a terminator.
func AppendOrderedKey(buf []byte, t types.T, d types.Datum) []byte {
	if d.Null {
		return append(buf, 0)
	}
	buf = append(buf, 1)
	switch t.Kind {
	case types.Float32, types.Float64:
		f := d.F
		if f == 0 {
			f = 0
		}
		if f != f {
			f = math.NaN()
		}
		u := math.Float64bits(f)
		if u&(1<<63) != 0 {
			u = ^u
		} else {
			u |= 1 << 63
		}
		return binary.BigEndian.AppendUint64(buf, u)
	case types.Text, types.Bytea, types.JSONB, types.Array, types.Numeric, types.Unknown:
		s := d.S
		if t.Kind == types.Numeric {
			// order by the value's float image, then by the exact value in a
			// normal form (1.0 and 1.00 are one key)
			if dec, err := types.ParseDecimal(s); err == nil {
				ff, _ := dec.Float64()
				buf = AppendOrderedKey(buf[:len(buf)-1], types.TFloat64, types.DFloat(ff))
				dec.Reduce(dec)
				s = dec.Text('E')
			}
		}
		for i := 0; i < len(s); i++ {
			if s[i] == 0 {
				buf = append(buf, 0, 0xff)
				continue
			}
			buf = append(buf, s[i])
		}
		return append(buf, 0, 1)
	case types.Interval:
		return binary.BigEndian.AppendUint64(buf, uint64(d.Iv.ApproxMicros())^(1<<63))
	}
	return binary.BigEndian.AppendUint64(buf, uint64(d.I)^(1<<63))
}

// OrderedKey encodes a row of key values.
func OrderedKey(ts []types.T, ds []types.Datum) []byte {
	var buf []byte
	for i, t := range ts {
		buf = AppendOrderedKey(buf, t, ds[i])
	}
	return buf
}
