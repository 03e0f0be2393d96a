package flow

import (
	"encoding/binary"
	"fmt"
	"math"
	"sync"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/streamsql/streamsql/engine/dataflow"
	"github.com/streamsql/streamsql/engine/expr"
	"github.com/streamsql/streamsql/types"
)

// Blackhole is a sink that keeps nothing: it counts the changes and sums
// a hash of each row times its weight, which equals the checksum of what
// a view of the same query would hold (View.Checksum). It is how
// pass-through queries are measured.
type Blackhole struct {
	mu    sync.Mutex
	stats SinkStats
}

var _ Sink = (*Blackhole)(nil)

// SinkStats is what a blackhole sink has seen.
type SinkStats struct {
	Changes  int64  // rows of the changelog
	Rows     int64  // net rows: the sum of the weights
	Checksum uint64 // sum of hash(row) × weight
}

// Stats reports the changes seen so far.
func (b *Blackhole) Stats() SinkStats {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.stats
}

func (b *Blackhole) apply(m *dataflow.Msg, _ bool) {
	b.mu.Lock()
	b.stats.add(m)
	b.mu.Unlock()
}

func (b *Blackhole) commit([]uint64, bool) error { return nil }
func (b *Blackhole) resumeFrom() []uint64        { return nil }
func (b *Blackhole) resumed() bool               { return false }
func (b *Blackhole) notify()                     {}
func (b *Blackhole) setOutWatermark(int64)       {}
func (b *Blackhole) sync() error                 { return nil }
func (b *Blackhole) end() (uint64, int64)        { return 0, 0 }

var blackholeTypes = []types.T{types.TInt64, types.TInt64, types.TInt64}

// checkpointState writes the sums (one entry: they change with every step).
func (b *Blackhole) checkpointState(w dataflow.StateWriter, _ bool) error {
	st := b.Stats()
	buf, err := types.AppendRow(nil, blackholeTypes, []types.Datum{types.DInt(st.Changes), types.DInt(st.Rows), types.DInt(int64(st.Checksum))})
	if err == nil {
		w.Put([]byte("sums"), buf)
	}
	return err
}

func (b *Blackhole) restoreState(_ *expr.Ctx, entries []dataflow.Entry, _ int64) error {
	for _, e := range entries {
		row, _, err := types.DecodeRow(blackholeTypes, e.Value)
		if err != nil {
			return fmt.Errorf("restoring a sink's sums: %w", err)
		}
		b.mu.Lock()
		b.stats = SinkStats{Changes: row[0].I, Rows: row[1].I, Checksum: uint64(row[2].I)}
		b.mu.Unlock()
	}
	return nil
}

// add adds a changelog batch to the sums.
func (s *SinkStats) add(m *dataflow.Msg) {
	n := int(m.Batch.NumRows())
	for r, h := range hashRows(m.Batch) {
		w := m.Weight(r)
		s.Checksum += h * uint64(w)
		s.Rows += w
	}
	s.Changes += int64(n)
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
