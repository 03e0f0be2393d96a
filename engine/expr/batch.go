package expr

import (
	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
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

// NewBatch assembles a batch from columns (it retains them).
func NewBatch(ts []types.T, cols []arrow.Array, n int) arrow.RecordBatch {
	return array.NewRecordBatch(SchemaOf(ts), cols, int64(n))
}
