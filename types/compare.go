package types

import (
	"math"
	"strings"
)

// Compare orders two non-NULL values of type t: -1, 0 or +1. Text compares
// bytewise (the C collation); NaN sorts above every other float, as in
// PostgreSQL.
func Compare(t T, a, b Datum) int {
	switch t.Kind {
	case Float32, Float64:
		return CompareFloat(a.F, b.F)
	case Numeric:
		da, err1 := ParseDecimal(a.S)
		db, err2 := ParseDecimal(b.S)
		if err1 != nil || err2 != nil {
			return strings.Compare(a.S, b.S)
		}
		if a.S == "NaN" || b.S == "NaN" {
			switch {
			case a.S == b.S:
				return 0
			case a.S == "NaN":
				return 1
			}
			return -1
		}
		return da.Cmp(db)
	case Text, Bytea, JSONB, Array, Unknown, Null:
		return strings.Compare(a.S, b.S)
	case Interval:
		x, y := a.Iv.ApproxMicros(), b.Iv.ApproxMicros()
		switch {
		case x < y:
			return -1
		case x > y:
			return 1
		}
		return 0
	}
	switch {
	case a.I < b.I:
		return -1
	case a.I > b.I:
		return 1
	}
	return 0
}

// CompareFloat orders floats with NaN greatest and NaN = NaN.
func CompareFloat(x, y float64) int {
	xn, yn := math.IsNaN(x), math.IsNaN(y)
	switch {
	case xn && yn:
		return 0
	case xn:
		return 1
	case yn:
		return -1
	case x < y:
		return -1
	case x > y:
		return 1
	}
	return 0
}
