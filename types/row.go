package types

import (
	"encoding/binary"
	"errors"
	"math"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
)

// Rows on disk (table logs, stream segments) are a sequence of columns,
// each u8 null flag (1 = NULL) then, for a value, u32 length (little
// endian) and the value in PostgreSQL's binary format.

// ErrCorruptRow reports a row that does not decode.
var ErrCorruptRow = errors.New("types: corrupt row")

// AppendRow appends the encoding of row (of types ts) to buf.
func AppendRow(buf []byte, ts []T, row []Datum) ([]byte, error) {
	var err error
	for c, t := range ts {
		if buf, err = AppendColumn(buf, t, row[c]); err != nil {
			return nil, err
		}
	}
	return buf, nil
}

// AppendColumn appends the encoding of one column of a row: a row is its
// columns' encodings one after the other.
func AppendColumn(buf []byte, t T, d Datum) ([]byte, error) {
	if d.Null {
		return append(buf, 1), nil
	}
	buf = append(buf, 0)
	at := len(buf)
	buf = append(buf, 0, 0, 0, 0)
	var err error
	if buf, err = AppendBinary(buf, t, d); err != nil {
		return nil, err
	}
	binary.LittleEndian.PutUint32(buf[at:], uint32(len(buf)-at-4))
	return buf, nil
}

// DecodeRow decodes one row from the front of p and returns the rest.
func DecodeRow(ts []T, p []byte) ([]Datum, []byte, error) {
	row := make([]Datum, len(ts))
	for c, t := range ts {
		if len(p) < 1 {
			return nil, nil, ErrCorruptRow
		}
		if p[0] == 1 {
			row[c] = NullDatum
			p = p[1:]
			continue
		}
		if len(p) < 5 {
			return nil, nil, ErrCorruptRow
		}
		l := int(binary.LittleEndian.Uint32(p[1:]))
		p = p[5:]
		if len(p) < l {
			return nil, nil, ErrCorruptRow
		}
		d, err := ParseBinary(t, p[:l])
		if err != nil {
			return nil, nil, err
		}
		row[c] = d
		p = p[l:]
	}
	return row, p, nil
}

// AppendBinaryTo appends a value in binary wire format (nil for NULL) to
// an Arrow builder made by NewBuilder(t): the fast path of decoding stored
// rows straight into columns (values from clients go through ParseBinary,
// which checks them).
func AppendBinaryTo(b array.Builder, t T, v []byte) error {
	if v == nil {
		b.AppendNull()
		return nil
	}
	switch bb := b.(type) {
	case *array.Float64Builder:
		if len(v) == 8 {
			bb.Append(math.Float64frombits(binary.BigEndian.Uint64(v)))
			return nil
		}
	case *array.Int64Builder:
		if len(v) == 8 {
			bb.Append(int64(binary.BigEndian.Uint64(v)))
			return nil
		}
		if len(v) == 4 && t.Kind == Oid {
			bb.Append(int64(binary.BigEndian.Uint32(v)))
			return nil
		}
	case *array.Int32Builder:
		if len(v) == 4 {
			bb.Append(int32(binary.BigEndian.Uint32(v)))
			return nil
		}
	case *array.TimestampBuilder:
		if len(v) == 8 {
			us, err := timestampFromPG(int64(binary.BigEndian.Uint64(v)))
			if err != nil {
				return err
			}
			bb.Append(arrow.Timestamp(us))
			return nil
		}
	case *array.StringBuilder:
		if t.Kind == Text {
			// stored rows: their text was checked when it came in
			bb.BinaryBuilder.Append(v)
			return nil
		}
	case *array.BinaryBuilder:
		bb.Append(v)
		return nil
	}
	d, err := ParseBinary(t, v)
	if err != nil {
		return err
	}
	AppendDatum(b, t, d)
	return nil
}

// DecodeRowInto decodes one row from p straight into builders and returns the rest.
func DecodeRowInto(bs []array.Builder, ts []T, p []byte) ([]byte, error) {
	for c, t := range ts {
		if len(p) < 1 {
			return nil, ErrCorruptRow
		}
		if p[0] == 1 {
			bs[c].AppendNull()
			p = p[1:]
			continue
		}
		if len(p) < 5 {
			return nil, ErrCorruptRow
		}
		l := int(binary.LittleEndian.Uint32(p[1:]))
		p = p[5:]
		if len(p) < l {
			return nil, ErrCorruptRow
		}
		if err := AppendBinaryTo(bs[c], t, p[:l:l]); err != nil {
			return nil, err
		}
		p = p[l:]
	}
	return p, nil
}

// SkipRow returns what follows the row at the front of p, without decoding it.
func SkipRow(ts []T, p []byte) ([]byte, error) {
	for range ts {
		if len(p) < 1 {
			return nil, ErrCorruptRow
		}
		if p[0] == 1 {
			p = p[1:]
			continue
		}
		if len(p) < 5 {
			return nil, ErrCorruptRow
		}
		l := int(binary.LittleEndian.Uint32(p[1:]))
		if len(p) < 5+l {
			return nil, ErrCorruptRow
		}
		p = p[5+l:]
	}
	return p, nil
}
