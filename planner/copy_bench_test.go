package planner

import (
	"context"
	"encoding/binary"
	"math"
	"strings"
	"testing"

	"github.com/streamsql/streamsql/planner/pgsql"
)

func mustExec(b testing.TB, s *Session, sql string) *Result {
	stmts, err := s.Parse(sql)
	if err != nil {
		b.Fatal(err)
	}
	var res *Result
	for _, st := range stmts {
		p, err := s.Prepare(st, nil)
		if err != nil {
			b.Fatal(err)
		}
		if res, err = s.Execute(context.Background(), p, nil); err != nil {
			b.Fatal(err)
		}
	}
	return res
}

// The server side of COPY ... FROM STDIN (FORMAT binary) into a 4-shard
// stream: decoding, routing and durable appends, without the network.
func BenchmarkCopyInBinary(b *testing.B) {
	db, err := Open(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	s := db.NewSession("bench", "bench")
	mustExec(b, s, "CREATE STREAM trades (symbol TEXT, price DOUBLE PRECISION, ts TIMESTAMP, pad TEXT) WITH (shards = 4, partition_by = 'symbol')")
	const n = 100_000
	data := append([]byte{}, copyBinarySignature...)
	data = append(data, 0, 0, 0, 0, 0, 0, 0, 0)
	pad := strings.Repeat("x", 62)
	for i := 0; i < n; i++ {
		data = binary.BigEndian.AppendUint16(data, 4)
		sym := []string{"BTC", "ETH", "SOL", "ADA"}[i%4]
		data = binary.BigEndian.AppendUint32(data, uint32(len(sym)))
		data = append(data, sym...)
		data = binary.BigEndian.AppendUint32(data, 8)
		data = binary.BigEndian.AppendUint64(data, math.Float64bits(float64(i)))
		data = binary.BigEndian.AppendUint32(data, 8)
		data = binary.BigEndian.AppendUint64(data, uint64(i))
		data = binary.BigEndian.AppendUint32(data, uint32(len(pad)))
		data = append(data, pad...)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		res := mustExec(b, s, "COPY trades FROM STDIN (FORMAT binary)")
		for off := 0; off < len(data); off += 65536 {
			if err := res.CopyIn.Write(data[off:min(off+65536, len(data))]); err != nil {
				b.Fatal(err)
			}
		}
		if got, err := res.CopyIn.Finish(); err != nil || got != n {
			b.Fatal(got, err)
		}
	}
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "records/s")
}

var _ = pgsql.Empty{}
