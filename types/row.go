package types

import (
	"encoding/binary"
	"errors"
)

// Rows on disk (table logs, stream segments) are a sequence of columns,
// each u8 null flag (1 = NULL) then, for a value, u32 length (little
// endian) and the value in PostgreSQL's binary format.

// ErrCorruptRow reports a row that does not decode.
var ErrCorruptRow = errors.New("types: corrupt row")

// AppendRow appends the encoding of row (of types ts) to buf.
func AppendRow(buf []byte, ts []T, row []Datum) ([]byte, error) {
	for c, t := range ts {
		if row[c].Null {
			buf = append(buf, 1)
			continue
		}
		buf = append(buf, 0)
		at := len(buf)
		buf = append(buf, 0, 0, 0, 0)
		var err error
		if buf, err = AppendBinary(buf, t, row[c]); err != nil {
			return nil, err
		}
		binary.LittleEndian.PutUint32(buf[at:], uint32(len(buf)-at-4))
	}
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
