package types

// Datum is one SQL value outside a column: a constant, a parameter, a value
// on the row-at-a-time paths (wire encoding, COPY, catalog rows). Its type is
// known from context. Which field holds the value depends on the kind:
//
//	Bool, integers, Oid, Date (days since 1970-01-01), Time (µs),
//	Timestamp and TimestampTZ (µs since 1970-01-01 UTC)      → I
//	Float32, Float64                                        → F
//	Text, Numeric (canonical decimal text), JSONB (text),
//	Bytea (raw bytes), Array (PostgreSQL text form)         → S
//	Interval                                                → Iv
//
// Datum is a value type with no pointers but the string, so slices of it are
// cheap for the garbage collector.
type Datum struct {
	Null bool
	I    int64
	F    float64
	S    string
	Iv   IntervalValue
}

// IntervalValue is a PostgreSQL interval: months, days and microseconds are
// kept apart because their lengths vary.
type IntervalValue struct {
	Months int32
	Days   int32
	Micros int64
}

// NullDatum is the SQL NULL.
var NullDatum = Datum{Null: true}

// DInt returns an integer datum.
func DInt(v int64) Datum { return Datum{I: v} }

// DFloat returns a float datum.
func DFloat(v float64) Datum { return Datum{F: v} }

// DText returns a text datum.
func DText(s string) Datum { return Datum{S: s} }

// DBool returns a boolean datum.
func DBool(b bool) Datum {
	if b {
		return Datum{I: 1}
	}
	return Datum{}
}

// Bool reports the boolean value of d.
func (d Datum) Bool() bool { return d.I != 0 }

// Approx returns d as a float64 for a numeric kind.
func (d Datum) Approx(k Kind) float64 {
	switch k {
	case Float32, Float64:
		return d.F
	case Numeric:
		f, _ := numericToFloat(d.S)
		return f
	}
	return float64(d.I)
}
