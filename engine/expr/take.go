package expr

import (
	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/streamsql/streamsql/types"
)

// Take returns a batch of the given rows of b, in order. It copies in
// linear time per column (arrow's own record filter is quadratic).
func Take(mem memory.Allocator, b arrow.RecordBatch, rows []int) arrow.RecordBatch {
	cols := make([]arrow.Array, b.NumCols())
	for i := range cols {
		cols[i] = TakeArray(mem, b.Column(i), rows)
	}
	out := array.NewRecordBatch(b.Schema(), cols, int64(len(rows)))
	for _, c := range cols {
		c.Release()
	}
	return out
}

// TakeArray gathers rows of a into a new column.
func TakeArray(mem memory.Allocator, a arrow.Array, rows []int) arrow.Array {
	switch c := a.(type) {
	case *array.Int64:
		return takeFixed[int64](c, rows)
	case *array.Float64:
		return takeFixed[float64](c, rows)
	case *array.Int32:
		return takeFixed[int32](c, rows)
	case *array.Timestamp:
		return takeFixed[int64](c, rows)
	case *array.Date32:
		return takeFixed[int32](c, rows)
	case *array.String:
		b := array.NewStringBuilder(mem)
		defer b.Release()
		b.Reserve(len(rows))
		for _, r := range rows {
			if c.IsNull(r) {
				b.AppendNull()
			} else {
				b.Append(c.Value(r))
			}
		}
		return b.NewArray()
	}
	b := array.NewBuilder(mem, a.DataType())
	defer b.Release()
	b.Reserve(len(rows))
	for _, r := range rows {
		types.AppendDatum(b, types.T{}, types.DatumAt(a, r))
	}
	return b.NewArray()
}

func takeFixed[T any](a arrow.Array, rows []int) arrow.Array {
	src := FixedValues[T](a)
	out := make([]T, len(rows))
	var valid []byte
	nulls := 0
	if a.NullN() > 0 {
		valid = make([]byte, (len(rows)+7)/8)
		for i, r := range rows {
			out[i] = src[r]
			if a.IsNull(r) {
				nulls++
			} else {
				valid[i>>3] |= 1 << (i & 7)
			}
		}
	} else {
		for i, r := range rows {
			out[i] = src[r]
		}
	}
	return NewFixedOf(a.DataType(), out, valid, nulls)
}
