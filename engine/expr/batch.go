package expr

import (
	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/streamsql/streamsql/types"
)

// emptyBatch is a batch of one row and no columns, for evaluating constant
// expressions.
var emptyBatch = array.NewRecordBatch(arrow.NewSchema(nil, nil), nil, 1)

// OneRow returns a batch with no columns and one row.
func OneRow() arrow.RecordBatch { emptyBatch.Retain(); return emptyBatch }

// SchemaOf returns an Arrow schema for columns of the given types.
func SchemaOf(ts []types.T) *arrow.Schema {
	fields := make([]arrow.Field, len(ts))
	for i, t := range ts {
		fields[i] = arrow.Field{Name: "c" + itoa(i), Type: types.ArrowType(t), Nullable: true}
	}
	return arrow.NewSchema(fields, nil)
}

func itoa(i int) string {
	if i < 10 {
		return string(rune('0' + i))
	}
	return itoa(i/10) + string(rune('0'+i%10))
}

// BatchFromRows builds a batch of columns of types ts from row-wise datums.
func BatchFromRows[R ~[]types.Datum](mem memory.Allocator, ts []types.T, rows []R) arrow.RecordBatch {
	cols := make([]arrow.Array, len(ts))
	for c, t := range ts {
		b := types.NewBuilder(mem, t)
		b.Reserve(len(rows))
		for _, r := range rows {
			types.AppendDatum(b, t, r[c])
		}
		cols[c] = b.NewArray()
		b.Release()
	}
	out := NewBatch(ts, cols, len(rows))
	for _, c := range cols {
		c.Release()
	}
	return out
}

// NewBatch assembles a batch from columns (it retains them).
func NewBatch(ts []types.T, cols []arrow.Array, n int) arrow.RecordBatch {
	return array.NewRecordBatch(SchemaOf(ts), cols, int64(n))
}
