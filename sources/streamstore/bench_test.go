package streamstore

import (
	"strings"
	"sync"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/streamsql/streamsql/types"
)

// 100-byte records: a symbol, a price, a timestamp and a padding text.
var benchCols = []types.T{types.TText, types.TFloat64, types.TTimestamp, types.TText}

func benchRows(n int) [][]types.Datum {
	pad := strings.Repeat("x", 62)
	rows := make([][]types.Datum, n)
	for i := range rows {
		rows[i] = []types.Datum{types.DText([]string{"BTC", "ETH", "SOL", "ADA"}[i%4]), types.DFloat(float64(i)), types.DInt(int64(i)), types.DText(pad)}
	}
	return rows
}

// Durable appends (fsync per group commit) of 1,000-record batches, as COPY
// sends them, from 4 writers to a 4-shard stream.
func BenchmarkAppendDurable(b *testing.B) {
	st := Open(b.TempDir(), Options{})
	defer st.Close()
	s, err := st.OpenStream("bench", Config{Types: benchCols, Shards: 4, PartitionBy: 0})
	if err != nil {
		b.Fatal(err)
	}
	rows := benchRows(1000)
	b.ReportAllocs()
	b.ResetTimer()
	var wg sync.WaitGroup
	per := b.N/4 + 1
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < per; i++ {
				if _, err := s.Append(rows); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	b.ReportMetric(float64(per*4*1000)/b.Elapsed().Seconds(), "records/s")
}

// Sequential read of a retained shard into Arrow batches.
func BenchmarkReadBatches(b *testing.B) {
	st := Open(b.TempDir(), Options{NoSync: true})
	defer st.Close()
	s, _ := st.OpenStream("bench", Config{Types: benchCols, Shards: 1, PartitionBy: -1})
	rows := benchRows(1000)
	for i := 0; i < 200; i++ {
		s.Append(rows)
	}
	sh := s.Shards()[0]
	b.ReportAllocs()
	b.ResetTimer()
	n := 0
	for i := 0; i < b.N; i++ {
		from := uint64(1)
		for {
			batch, _, next, err := sh.ReadBatch(memory.DefaultAllocator, from, 4096)
			if err != nil {
				b.Fatal(err)
			}
			if batch == nil {
				break
			}
			n += int(batch.NumRows())
			batch.Release()
			from = next
		}
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "records/s")
}
