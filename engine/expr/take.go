package expr

import (
	"unsafe"

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
	if a.Len() > 0 && a.NullN() == a.Len() {
		return types.NullColumn(a.DataType(), len(rows))
	}
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
		return takeStrings(c, rows)
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

// takeStrings gathers strings with one allocation for the offsets and one
// for the bytes.
func takeStrings(c *array.String, rows []int) arrow.Array {
	n := len(rows)
	offsets := make([]int32, n+1)
	total := 0
	for i, r := range rows {
		total += c.ValueLen(r)
		offsets[i+1] = int32(total)
	}
	data := make([]byte, 0, total)
	var valid []byte
	nulls := 0
	if c.NullN() > 0 {
		valid = make([]byte, (n+7)/8)
	}
	for i, r := range rows {
		data = append(data, c.Value(r)...)
		if valid != nil {
			if c.IsNull(r) {
				nulls++
			} else {
				valid[i>>3] |= 1 << (i & 7)
			}
		}
	}
	var vb *memory.Buffer
	if nulls > 0 {
		vb = memory.NewBufferBytes(valid)
	}
	raw := unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(offsets))), len(offsets)*4)
	d := array.NewData(c.DataType(), n, []*memory.Buffer{vb, memory.NewBufferBytes(raw), memory.NewBufferBytes(data)}, nil, nulls, 0)
	defer d.Release()
	return array.MakeFromData(d)
}
