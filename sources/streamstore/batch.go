package streamstore

import (
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/streamsql/streamsql/types"
)

// ReadBatch reads up to max records with sequence numbers >= from as one
// Arrow record batch (columns of the stream's types), with each row's
// sequence number, and the position to continue from. The caller releases
// the batch; it is nil when there is nothing to read.
func (s *Shard) ReadBatch(mem memory.Allocator, from uint64, max int) (arrow.RecordBatch, []uint64, uint64, error) {
	b, seqs, _, next, err := s.ReadBatchWithPositions(mem, from, max)
	return b, seqs, next, err
}

// ReadBatchWithPositions is ReadBatch that also returns each record's
// arrival time (µs since the epoch).
func (s *Shard) ReadBatchWithPositions(mem memory.Allocator, from uint64, max int) (arrow.RecordBatch, []uint64, []int64, uint64, error) {
	return s.ReadColumns(mem, from, max, nil)
}

// ReadColumns is ReadBatchWithPositions for a reader of only the columns
// keep marks (nil: all): a generated shard computes no others (they are
// NULL); a stored one decodes every column.
func (s *Shard) ReadColumns(mem memory.Allocator, from uint64, max int, keep []bool) (arrow.RecordBatch, []uint64, []int64, uint64, error) {
	if s.gen != nil {
		return s.readGenerated(mem, from, max, keep)
	}
	builders := make([]array.Builder, len(s.ts))
	fields := make([]arrow.Field, len(s.ts))
	s.mu.Lock()
	// room for what is there to read, not for max
	reserve := 0
	if s.committed > from {
		reserve = int(min(uint64(max), s.committed-from, 1<<16))
	}
	if s.widths == nil {
		s.widths = make([]int, len(s.ts))
	}
	widths := append([]int(nil), s.widths...)
	s.mu.Unlock()
	for c, t := range s.ts {
		builders[c] = types.NewBuilder(mem, t)
		builders[c].Reserve(reserve)
		if sb, ok := builders[c].(*array.StringBuilder); ok {
			// text columns: the average width seen by earlier reads, so
			// the data buffer is allocated once, at about the right size
			w := widths[c]
			if w == 0 {
				w = 32
			}
			sb.ReserveData(reserve * (w + w/8 + 1))
		}
		fields[c] = arrow.Field{Name: fmt.Sprintf("c%d", c), Type: types.ArrowType(t), Nullable: true}
	}
	defer func() {
		for _, b := range builders {
			b.Release()
		}
	}()
	seqs := make([]uint64, 0, reserve)
	arrivals := make([]int64, 0, reserve)
	next, n, err := s.readFrames(from, max, func(seq uint64, arrival int64, rows []byte) ([]byte, error) {
		seqs = append(seqs, seq)
		arrivals = append(arrivals, arrival)
		return types.DecodeRowInto(builders, s.ts, rows)
	})
	if err != nil || n == 0 {
		return nil, nil, nil, next, err
	}
	cols := make([]arrow.Array, len(s.ts))
	for c, b := range builders {
		cols[c] = b.NewArray()
		if str, ok := cols[c].(*array.String); ok && n > 0 {
			widths[c] = len(str.ValueBytes())/n + 1
		}
	}
	s.mu.Lock()
	s.widths = widths
	s.mu.Unlock()
	batch := array.NewRecordBatch(arrow.NewSchema(fields, nil), cols, int64(n))
	for _, c := range cols {
		c.Release()
	}
	return batch, seqs, arrivals, next, nil
}
