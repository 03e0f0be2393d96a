package types

import (
	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// ArrowType maps a SQL type onto the Arrow type its columns use. NUMERIC,
// JSONB and arrays are Arrow strings holding their canonical text, so that
// exact decimal semantics need no fixed scale per column.
func ArrowType(t T) arrow.DataType {
	switch t.Kind {
	case Bool:
		return arrow.FixedWidthTypes.Boolean
	case Int16:
		return arrow.PrimitiveTypes.Int16
	case Int32:
		return arrow.PrimitiveTypes.Int32
	case Int64, Oid:
		return arrow.PrimitiveTypes.Int64
	case Float32:
		return arrow.PrimitiveTypes.Float32
	case Float64:
		return arrow.PrimitiveTypes.Float64
	case Bytea:
		return arrow.BinaryTypes.Binary
	case Date:
		return arrow.FixedWidthTypes.Date32
	case Time:
		return arrow.FixedWidthTypes.Time64us
	case Timestamp:
		return &arrow.TimestampType{Unit: arrow.Microsecond}
	case TimestampTZ:
		return &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}
	case Interval:
		return arrow.FixedWidthTypes.MonthDayNanoInterval
	}
	return arrow.BinaryTypes.String
}

// NewBuilder returns an Arrow builder for columns of type t.
func NewBuilder(mem memory.Allocator, t T) array.Builder {
	return array.NewBuilder(mem, ArrowType(t))
}

// AppendDatum appends d to a builder made by NewBuilder for type t.
func AppendDatum(b array.Builder, t T, d Datum) {
	if d.Null {
		b.AppendNull()
		return
	}
	switch bb := b.(type) {
	case *array.BooleanBuilder:
		bb.Append(d.I != 0)
	case *array.Int16Builder:
		bb.Append(int16(d.I))
	case *array.Int32Builder:
		bb.Append(int32(d.I))
	case *array.Int64Builder:
		bb.Append(d.I)
	case *array.Float32Builder:
		bb.Append(float32(d.F))
	case *array.Float64Builder:
		bb.Append(d.F)
	case *array.StringBuilder:
		bb.Append(d.S)
	case *array.BinaryBuilder:
		bb.AppendString(d.S)
	case *array.Date32Builder:
		bb.Append(arrow.Date32(d.I))
	case *array.Time64Builder:
		bb.Append(arrow.Time64(d.I))
	case *array.TimestampBuilder:
		bb.Append(arrow.Timestamp(d.I))
	case *array.MonthDayNanoIntervalBuilder:
		bb.Append(arrow.MonthDayNanoInterval{Months: d.Iv.Months, Days: d.Iv.Days, Nanoseconds: d.Iv.Micros * 1000})
	default:
		panic("types: unexpected builder " + b.Type().String())
	}
}

// DatumAt reads row i of an Arrow column as a Datum.
func DatumAt(a arrow.Array, i int) Datum {
	if a.IsNull(i) {
		return NullDatum
	}
	switch c := a.(type) {
	case *array.Boolean:
		return DBool(c.Value(i))
	case *array.Int16:
		return DInt(int64(c.Value(i)))
	case *array.Int32:
		return DInt(int64(c.Value(i)))
	case *array.Int64:
		return DInt(c.Value(i))
	case *array.Float32:
		return DFloat(float64(c.Value(i)))
	case *array.Float64:
		return DFloat(c.Value(i))
	case *array.String:
		return DText(c.Value(i))
	case *array.Binary:
		return DText(string(c.Value(i)))
	case *array.Date32:
		return DInt(int64(c.Value(i)))
	case *array.Time64:
		return DInt(int64(c.Value(i)))
	case *array.Timestamp:
		return DInt(int64(c.Value(i)))
	case *array.MonthDayNanoInterval:
		v := c.Value(i)
		return Datum{Iv: IntervalValue{Months: v.Months, Days: v.Days, Micros: v.Nanoseconds / 1000}}
	case *array.Null:
		return NullDatum
	}
	panic("types: unexpected array " + a.DataType().String())
}

// ArrayFromDatums builds an Arrow column of type t from datums.
func ArrayFromDatums(mem memory.Allocator, t T, ds []Datum) arrow.Array {
	b := NewBuilder(mem, t)
	defer b.Release()
	b.Reserve(len(ds))
	for _, d := range ds {
		AppendDatum(b, t, d)
	}
	return b.NewArray()
}
