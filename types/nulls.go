package types

import (
	"sync"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// zeros is a read-only run of zero bytes that all-NULL columns share as
// their buffers (Arrow arrays are immutable: nobody writes to it).
var (
	zerosMu sync.Mutex
	zeros   = make([]byte, 1<<20)
)

func zeroBytes(n int) []byte {
	zerosMu.Lock()
	defer zerosMu.Unlock()
	if n > len(zeros) {
		zeros = make([]byte, max(n, 2*len(zeros)))
	}
	return zeros[:n:n]
}

// NullColumn returns a column of n NULLs of type dt. Its buffers are
// shared zeros, so it costs no allocation per value: columns nobody reads
// (pruned by a view) are made and copied for free.
func NullColumn(dt arrow.DataType, n int) arrow.Array {
	validity := memory.NewBufferBytes(zeroBytes((n + 7) / 8))
	var bufs []*memory.Buffer
	switch t := dt.(type) {
	case *arrow.StringType, *arrow.BinaryType:
		bufs = []*memory.Buffer{validity, memory.NewBufferBytes(zeroBytes((n + 1) * 4)), memory.NewBufferBytes(nil)}
	case *arrow.BooleanType:
		bufs = []*memory.Buffer{validity, memory.NewBufferBytes(zeroBytes((n + 7) / 8))}
	case arrow.FixedWidthDataType:
		bufs = []*memory.Buffer{validity, memory.NewBufferBytes(zeroBytes(n * t.BitWidth() / 8))}
	default:
		return array.MakeArrayOfNull(memory.DefaultAllocator, dt, n)
	}
	d := array.NewData(dt, n, bufs, nil, n, 0)
	defer d.Release()
	return array.MakeFromData(d)
}
