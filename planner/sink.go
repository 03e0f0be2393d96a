package planner

import (
	"encoding/binary"
	"math"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/streamsql/streamsql/catalog"
	"github.com/streamsql/streamsql/engine/dataflow"
	"github.com/streamsql/streamsql/sqlerr"
)

// Sinks. CREATE SINK s AS SELECT ... WITH (connector = 'blackhole') runs
// the query's dataflow like a materialized view's but keeps nothing: it
// counts the changes and sums a hash of each row times its weight. The
// sum is the checksum of what a view of the query would hold (a change
// and its retraction cancel), so a benchmark's result can be checked
// without materializing millions of rows. This is how RisingWave and
// Flink run Nexmark's pass-through queries.

// sinkStats is what a blackhole sink has seen.
type sinkStats struct {
	changes  int64  // rows of the changelog
	rows     int64  // net rows: the sum of the weights
	checksum uint64 // sum of hash(row) × weight
}

// startSink starts a sink's dataflow (blackhole only, so far).
func (db *DB) startSink(o *catalog.Object) error {
	switch c := o.Options["connector"]; c {
	case "blackhole":
	default:
		return sqlerr.Unsupported("sink connector %q is not available in this build (blackhole is)", c)
	}
	view := &catalog.Object{Name: o.Name, Kind: catalog.KindMaterializedView, Query: o.Query, Options: o.Options, OID: o.OID}
	return db.startFlowAs(view, true, true)
}

// SinkStats reports a blackhole sink's count of rows and checksum.
func (db *DB) SinkStats(name string) (rows int64, checksum uint64, ok bool) {
	f := db.flow(name)
	if f == nil || !f.discard {
		return 0, 0, false
	}
	f.mu.RLock()
	defer f.mu.RUnlock()
	return f.sink.rows, f.sink.checksum, true
}

// hashRows hashes each row of a batch from its columns, a column at a time
// (the same rows give the same hashes in every process and run).
func hashRows(b arrow.RecordBatch) []uint64 {
	n := int(b.NumRows())
	hs := make([]uint64, n)
	for c := 0; c < int(b.NumCols()); c++ {
		col := b.Column(c)
		var value func(r int) uint64
		switch x := col.(type) {
		case *array.Int64:
			value = func(r int) uint64 { return uint64(x.Value(r)) }
		case *array.Int32:
			value = func(r int) uint64 { return uint64(x.Value(r)) }
		case *array.Timestamp:
			value = func(r int) uint64 { return uint64(x.Value(r)) }
		case *array.Float64:
			value = func(r int) uint64 { return math.Float64bits(x.Value(r)) }
		case *array.String:
			value = func(r int) uint64 { return strHash(x.Value(r)) }
		default:
			value = func(r int) uint64 { return strHash(x.ValueStr(r)) }
		}
		nulls := col.NullN() > 0
		for r := 0; r < n; r++ {
			v := uint64(0x9E3779B97F4A7C15) // NULL
			if !nulls || !col.IsNull(r) {
				v = value(r)
			}
			hs[r] = (hs[r]^v)*0xBF58476D1CE4E5B9 + uint64(c)
		}
	}
	return hs
}

// add adds a changelog batch to a sink's sums.
func (s *sinkStats) add(m *dataflow.Msg) {
	n := int(m.Batch.NumRows())
	for r, h := range hashRows(m.Batch) {
		w := m.Weight(r)
		s.checksum += h * uint64(w)
		s.rows += w
	}
	s.changes += int64(n)
}

// ResultChecksum returns the number of rows of a sink or a materialized
// view and their checksum (a sink's from the changes it saw, a view's from
// its rows: equal for the same query).
func (db *DB) ResultChecksum(name string) (rows int64, checksum uint64, err error) {
	if rows, sum, ok := db.SinkStats(name); ok {
		return rows, sum, nil
	}
	f := db.flow(name)
	if f == nil {
		return 0, 0, sqlerr.New(sqlerr.UndefinedTable, "no sink or incrementally maintained view %q", name)
	}
	batches, err := f.snapshot(memory.DefaultAllocator)
	if err != nil {
		return 0, 0, err
	}
	var s sinkStats
	for _, b := range batches {
		s.add(&dataflow.Msg{Kind: dataflow.MsgData, Batch: b})
		b.Release()
	}
	return s.rows, s.checksum, nil
}

// strHash is a 64-bit hash of a string, eight bytes at a step.
func strHash(s string) uint64 {
	h := uint64(len(s)) * 0x9E3779B97F4A7C15
	for len(s) >= 8 {
		x := binary.LittleEndian.Uint64([]byte(s[:8]))
		h = (h ^ x) * 0xBF58476D1CE4E5B9
		h ^= h >> 31
		s = s[8:]
	}
	var tail uint64
	for i := 0; i < len(s); i++ {
		tail |= uint64(s[i]) << (8 * i)
	}
	h = (h ^ tail) * 0x94D049BB133111EB
	return h ^ h>>29
}
