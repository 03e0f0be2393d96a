package types

import (
	"encoding/binary"
	"math"
	"math/big"
	"strings"
	"time"

	"github.com/streamsql/streamsql/sqlerr"
)

// pgEpochMicros is 2000-01-01 in µs since 1970-01-01: PostgreSQL's binary
// format counts from there.
const pgEpochMicros = 946684800_000_000
const pgEpochDays = 10957

// PostgreSQL's binary infinities are the extreme integers, as ours are;
// only finite values move between the epochs.

func timestampToPG(us int64) int64 {
	if !TimestampFinite(us) {
		return us
	}
	return us - pgEpochMicros
}

func timestampFromPG(v int64) (int64, error) {
	if v == math.MaxInt64 || v == math.MinInt64 {
		return v, nil
	}
	if v > math.MaxInt64-pgEpochMicros {
		return 0, errTimestampRange
	}
	us := v + pgEpochMicros
	return us, CheckTimestamp(us)
}

func dateToPG(days int64) int32 {
	if !DateFinite(days) {
		return int32(days)
	}
	return int32(days - pgEpochDays)
}

func dateFromPG(v int32) (int64, error) {
	if v == math.MaxInt32 || v == math.MinInt32 {
		return int64(v), nil
	}
	days := int64(v) + pgEpochDays
	if days < MinDate || days > MaxDate {
		return 0, errDateRange
	}
	return days, nil
}

// AppendBinary appends the PostgreSQL binary wire form of d (not NULL) to buf.
func AppendBinary(buf []byte, t T, d Datum) ([]byte, error) {
	switch t.Kind {
	case Bool:
		if d.I != 0 {
			return append(buf, 1), nil
		}
		return append(buf, 0), nil
	case Int16:
		return binary.BigEndian.AppendUint16(buf, uint16(d.I)), nil
	case Int32:
		return binary.BigEndian.AppendUint32(buf, uint32(d.I)), nil
	case Oid:
		return binary.BigEndian.AppendUint32(buf, uint32(d.I)), nil
	case Int64:
		return binary.BigEndian.AppendUint64(buf, uint64(d.I)), nil
	case Float32:
		if math.IsNaN(d.F) {
			return binary.BigEndian.AppendUint32(buf, 0x7fc00000), nil // PostgreSQL's NaN
		}
		return binary.BigEndian.AppendUint32(buf, math.Float32bits(float32(d.F))), nil
	case Float64:
		if math.IsNaN(d.F) {
			return binary.BigEndian.AppendUint64(buf, 0x7ff8000000000000), nil
		}
		return binary.BigEndian.AppendUint64(buf, math.Float64bits(d.F)), nil
	case Date:
		return binary.BigEndian.AppendUint32(buf, uint32(dateToPG(d.I))), nil
	case Time:
		return binary.BigEndian.AppendUint64(buf, uint64(d.I)), nil
	case Timestamp, TimestampTZ:
		return binary.BigEndian.AppendUint64(buf, uint64(timestampToPG(d.I))), nil
	case Interval:
		buf = binary.BigEndian.AppendUint64(buf, uint64(d.Iv.Micros))
		buf = binary.BigEndian.AppendUint32(buf, uint32(d.Iv.Days))
		return binary.BigEndian.AppendUint32(buf, uint32(d.Iv.Months)), nil
	case Numeric:
		return appendNumericBinary(buf, d.S)
	case JSONB:
		if t.Name == "json" {
			return append(buf, d.S...), nil
		}
		buf = append(buf, 1)
		return append(buf, d.S...), nil
	case Array:
		return appendArrayBinary(buf, t, d.S)
	}
	return append(buf, d.S...), nil
}

// ParseBinary decodes the binary wire form of a value of type t.
func ParseBinary(t T, b []byte) (Datum, error) {
	need := func(n int) error {
		if len(b) != n {
			return sqlerr.New(sqlerr.ProtocolViolation, "incorrect binary data format for type %s", t.String())
		}
		return nil
	}
	switch t.Kind {
	case Bool:
		if err := need(1); err != nil {
			return Datum{}, err
		}
		return DBool(b[0] != 0), nil
	case Int16:
		if err := need(2); err != nil {
			return Datum{}, err
		}
		return DInt(int64(int16(binary.BigEndian.Uint16(b)))), nil
	case Int32:
		if err := need(4); err != nil {
			return Datum{}, err
		}
		return DInt(int64(int32(binary.BigEndian.Uint32(b)))), nil
	case Oid:
		if err := need(4); err != nil {
			return Datum{}, err
		}
		return DInt(int64(binary.BigEndian.Uint32(b))), nil
	case Int64:
		if err := need(8); err != nil {
			return Datum{}, err
		}
		return DInt(int64(binary.BigEndian.Uint64(b))), nil
	case Float32:
		if err := need(4); err != nil {
			return Datum{}, err
		}
		return DFloat(float64(math.Float32frombits(binary.BigEndian.Uint32(b)))), nil
	case Float64:
		if err := need(8); err != nil {
			return Datum{}, err
		}
		return DFloat(math.Float64frombits(binary.BigEndian.Uint64(b))), nil
	case Date:
		if err := need(4); err != nil {
			return Datum{}, err
		}
		days, err := dateFromPG(int32(binary.BigEndian.Uint32(b)))
		return DInt(days), err
	case Time:
		if err := need(8); err != nil {
			return Datum{}, err
		}
		return DInt(int64(binary.BigEndian.Uint64(b))), nil
	case Timestamp, TimestampTZ:
		if err := need(8); err != nil {
			return Datum{}, err
		}
		us, err := timestampFromPG(int64(binary.BigEndian.Uint64(b)))
		return DInt(us), err
	case Interval:
		if err := need(16); err != nil {
			return Datum{}, err
		}
		return Datum{Iv: IntervalValue{
			Micros: int64(binary.BigEndian.Uint64(b)),
			Days:   int32(binary.BigEndian.Uint32(b[8:])),
			Months: int32(binary.BigEndian.Uint32(b[12:])),
		}}, nil
	case Numeric:
		s, err := parseNumericBinary(b)
		if err != nil {
			return Datum{}, err
		}
		return ParseText(t, s, time.UTC)
	case JSONB:
		if t.Name == "json" {
			return ParseText(t, string(b), time.UTC)
		}
		if len(b) < 1 || b[0] != 1 {
			return Datum{}, sqlerr.New(sqlerr.ProtocolViolation, "unsupported jsonb version number")
		}
		return ParseText(t, string(b[1:]), time.UTC)
	case Array:
		return parseArrayBinary(t, b)
	}
	if t.Kind == Text || t.Kind == Unknown {
		return ParseText(t, string(b), time.UTC)
	}
	return DText(string(b)), nil
}

func appendNumericBinary(buf []byte, s string) ([]byte, error) {
	if s == "NaN" {
		return append(buf, 0, 0, 0, 0, 0xC0, 0, 0, 0), nil
	}
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	intPart, frac, _ := strings.Cut(s, ".")
	dscale := len(frac)
	// pad to base-10000 groups
	if r := len(intPart) % 4; r != 0 {
		intPart = strings.Repeat("0", 4-r) + intPart
	}
	if r := len(frac) % 4; r != 0 {
		frac += strings.Repeat("0", 4-r)
	}
	var digits []uint16
	for i := 0; i < len(intPart); i += 4 {
		digits = append(digits, atoi4(intPart[i:i+4]))
	}
	weight := len(digits) - 1
	for i := 0; i < len(frac); i += 4 {
		digits = append(digits, atoi4(frac[i:i+4]))
	}
	for len(digits) > 0 && digits[0] == 0 {
		digits = digits[1:]
		weight--
	}
	for len(digits) > 0 && digits[len(digits)-1] == 0 {
		digits = digits[:len(digits)-1]
	}
	if len(digits) == 0 {
		weight = 0
	}
	sign := uint16(0)
	if neg {
		sign = 0x4000
	}
	buf = binary.BigEndian.AppendUint16(buf, uint16(len(digits)))
	buf = binary.BigEndian.AppendUint16(buf, uint16(int16(weight)))
	buf = binary.BigEndian.AppendUint16(buf, sign)
	buf = binary.BigEndian.AppendUint16(buf, uint16(dscale))
	for _, d := range digits {
		buf = binary.BigEndian.AppendUint16(buf, d)
	}
	return buf, nil
}

func atoi4(s string) uint16 {
	var v uint16
	for _, c := range []byte(s) {
		v = v*10 + uint16(c-'0')
	}
	return v
}

func parseNumericBinary(b []byte) (string, error) {
	if len(b) < 8 {
		return "", sqlerr.New(sqlerr.ProtocolViolation, "invalid numeric binary data")
	}
	n := int(binary.BigEndian.Uint16(b))
	weight := int(int16(binary.BigEndian.Uint16(b[2:])))
	sign := binary.BigEndian.Uint16(b[4:])
	dscale := int(binary.BigEndian.Uint16(b[6:]))
	if sign == 0xC000 {
		return "NaN", nil
	}
	if len(b) != 8+2*n {
		return "", sqlerr.New(sqlerr.ProtocolViolation, "invalid numeric binary data")
	}
	v := new(big.Int)
	for i := 0; i < n; i++ {
		v.Mul(v, big.NewInt(10000))
		v.Add(v, big.NewInt(int64(binary.BigEndian.Uint16(b[8+2*i:]))))
	}
	// value = v * 10000^(weight - n + 1)
	exp10 := 4 * (weight - n + 1)
	s := v.String()
	if exp10 >= 0 {
		s += strings.Repeat("0", exp10)
		if dscale > 0 {
			s += "." + strings.Repeat("0", dscale)
		}
	} else {
		fd := -exp10
		if len(s) <= fd {
			s = strings.Repeat("0", fd-len(s)+1) + s
		}
		ip, fp := s[:len(s)-fd], s[len(s)-fd:]
		if len(fp) > dscale {
			fp = fp[:dscale]
		} else {
			fp += strings.Repeat("0", dscale-len(fp))
		}
		s = ip
		if dscale > 0 {
			s += "." + fp
		}
	}
	if sign == 0x4000 {
		s = "-" + s
	}
	return s, nil
}

func appendArrayBinary(buf []byte, t T, s string) ([]byte, error) {
	elems, err := ParseArray(s)
	if err != nil {
		return nil, sqlerr.New(sqlerr.InvalidTextRep, "malformed array literal: %q", s)
	}
	et := t.ElemType()
	hasNull := uint32(0)
	for _, e := range elems {
		if e == nil {
			hasNull = 1
		}
	}
	if len(elems) == 0 {
		buf = binary.BigEndian.AppendUint32(buf, 0)
		buf = binary.BigEndian.AppendUint32(buf, 0)
		return binary.BigEndian.AppendUint32(buf, et.OID()), nil
	}
	buf = binary.BigEndian.AppendUint32(buf, 1)
	buf = binary.BigEndian.AppendUint32(buf, hasNull)
	buf = binary.BigEndian.AppendUint32(buf, et.OID())
	buf = binary.BigEndian.AppendUint32(buf, uint32(len(elems)))
	lb := uint32(1)
	if t.Name == "int2vector" || t.Name == "oidvector" {
		lb = 0
	}
	buf = binary.BigEndian.AppendUint32(buf, lb)
	for _, e := range elems {
		if e == nil {
			buf = binary.BigEndian.AppendUint32(buf, math.MaxUint32)
			continue
		}
		d, err := ParseText(et, *e, time.UTC)
		if err != nil {
			return nil, err
		}
		at := len(buf)
		buf = append(buf, 0, 0, 0, 0)
		buf, err = AppendBinary(buf, et, d)
		if err != nil {
			return nil, err
		}
		binary.BigEndian.PutUint32(buf[at:], uint32(len(buf)-at-4))
	}
	return buf, nil
}

func parseArrayBinary(t T, b []byte) (Datum, error) {
	bad := sqlerr.New(sqlerr.ProtocolViolation, "invalid array binary data")
	if len(b) < 12 {
		return Datum{}, bad
	}
	ndim := binary.BigEndian.Uint32(b)
	if ndim == 0 {
		return DText("{}"), nil
	}
	if ndim != 1 || len(b) < 20 {
		return Datum{}, sqlerr.Unsupported("multidimensional arrays are not supported")
	}
	n := int(binary.BigEndian.Uint32(b[12:]))
	p := 20
	et := t.ElemType()
	elems := make([]*string, 0, n)
	for i := 0; i < n; i++ {
		if p+4 > len(b) {
			return Datum{}, bad
		}
		l := int32(binary.BigEndian.Uint32(b[p:]))
		p += 4
		if l < 0 {
			elems = append(elems, nil)
			continue
		}
		if p+int(l) > len(b) {
			return Datum{}, bad
		}
		d, err := ParseBinary(et, b[p:p+int(l)])
		if err != nil {
			return Datum{}, err
		}
		p += int(l)
		s := FormatText(et, d, time.UTC)
		elems = append(elems, &s)
	}
	return DText(FormatArray(elems)), nil
}
