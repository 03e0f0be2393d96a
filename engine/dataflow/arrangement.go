package dataflow

// A materialized view's contents as an arrangement: the multiset of its
// rows, each held once with its count, column by column in a colStore
// (typed columns, numbered slots: no Datum and no pointer per row for the
// collector to chase but the strings), found by a 64-bit hash of the whole
// row in a table of bucket heads whose chains run through the slots'
// metadata. Point indexes on single columns are made on demand and kept
// up to date with every change. Applying a changelog batch hashes its
// rows column by column, then walks each row's bucket; a row seen for the
// first time takes a slot whose values are copied in at the end of the
// batch, all new rows together.

import (
	"bytes"
	"encoding/binary"
	"hash/maphash"
	"math"
	"math/bits"
	"sort"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/streamsql/streamsql/engine/exec"
	"github.com/streamsql/streamsql/engine/expr"
	"github.com/streamsql/streamsql/types"
)

// Arrangement is a multiset of rows of fixed column types. It is not safe
// for concurrent use: the owner serialises Apply against reads (reads may
// run concurrently with each other).
type Arrangement struct {
	ts    []types.T
	store *colStore
	meta  chunked[arrMeta]
	heads []int32 // bucket → first slot (-1: none); len is a power of two
	live  int     // slots in use
	total int64   // the sum of the counts
	epoch uint32  // Apply calls so far

	indexes []*arrIndex
	seed    maphash.Seed
	// the rows' entries in checkpoints (checkpoint_arrangement.go)
	ck entryIDs

	// scratch for Apply
	hashes            []uint64
	touched           []int32
	newRows, newSlots []int32
}

// arrMeta is a slot's bookkeeping: the row's hash, the next slot of its
// bucket, its count, and while an Apply runs, the count it had before
// (when epoch is that Apply's) and the batch row it came from (src ≥ 0:
// its values are not stored yet).
type arrMeta struct {
	hash   uint64
	n      int64
	before int64
	next   int32
	src    int32
	epoch  uint32
	used   bool
}

// Change is one row's net change over an applied batch.
type Change struct {
	Row  []types.Datum
	Diff int64
}

// NewArrangement returns an empty arrangement of rows of the given types.
func NewArrangement(ts []types.T) *Arrangement {
	return &Arrangement{ts: ts, store: newColStore(ts), heads: newHeads(64), seed: maphash.MakeSeed()}
}

func newHeads(n int) []int32 {
	h := make([]int32, n)
	for i := range h {
		h[i] = -1
	}
	return h
}

// Types returns the rows' column types.
func (a *Arrangement) Types() []types.T { return a.ts }

// Len is the number of distinct rows held (with any nonzero count).
func (a *Arrangement) Len() int { return a.live }

// Count is the number of rows, each counted as often as it occurs.
func (a *Arrangement) Count() int64 { return a.total }

// Apply adds a changelog batch (weights nil: every row +1). With collect,
// it returns the net changes: a batch of the rows whose counts changed,
// gathered from the state, and each one's change — retractions first,
// each kind in the order the rows were first touched, those whose
// changes cancel left out (nil when none, or collect is off).
func (a *Arrangement) Apply(b arrow.RecordBatch, weights []int64, collect bool) (arrow.RecordBatch, []int64) {
	n := int(b.NumRows())
	if n == 0 {
		return nil, nil
	}
	a.epoch++
	hs := a.hashRows(b)
	if a.live+n > len(a.heads) {
		a.rehash(a.live + n)
	}
	mask := uint64(len(a.heads) - 1)
	touched, newRows, newSlots := a.touched[:0], a.newRows[:0], a.newSlots[:0]
	for r := 0; r < n; r++ {
		h := hs[r]
		slot := a.find(h, mask, b, r)
		if slot < 0 {
			slot = a.store.alloc()
			if slot == a.meta.len() {
				a.meta.push()
			}
			bucket := h & mask
			*a.meta.at(slot) = arrMeta{hash: h, next: a.heads[bucket], src: int32(r), used: true, epoch: a.epoch - 1}
			a.heads[bucket] = slot
			a.live++
			a.ck.born(slot)
			newRows, newSlots = append(newRows, int32(r)), append(newSlots, slot)
		}
		m := a.meta.at(slot)
		if m.epoch != a.epoch {
			m.epoch, m.before = a.epoch, m.n
			touched = append(touched, slot)
			a.ck.touch(slot)
		}
		w := int64(1)
		if weights != nil {
			w = weights[r]
		}
		m.n += w
		a.total += w
	}
	if len(newRows) > 0 {
		a.store.put(b, newRows, newSlots)
		for _, slot := range newSlots {
			a.meta.at(slot).src = -1
			for _, ix := range a.indexes {
				a.indexAdd(ix, slot)
			}
		}
	}
	var rows arrow.RecordBatch
	var diffs []int64
	if collect {
		// (gathered before the rows whose counts fell to zero go)
		var changed []int32
		for pass := 0; pass < 2; pass++ {
			for _, slot := range touched {
				m := a.meta.at(slot)
				if d := m.n - m.before; (pass == 0 && d < 0) || (pass == 1 && d > 0) {
					changed, diffs = append(changed, slot), append(diffs, d)
				}
			}
		}
		if len(changed) > 0 {
			rows = a.gatherBatch(changed)
		}
	}
	for _, slot := range touched {
		if a.meta.at(slot).n == 0 {
			a.remove(slot, mask)
		}
	}
	a.touched, a.newRows, a.newSlots = touched[:0], newRows[:0], newSlots[:0]
	return rows, diffs
}

// find returns the slot holding row r of b (-1: none).
func (a *Arrangement) find(h, mask uint64, b arrow.RecordBatch, r int) int32 {
	for slot := a.heads[h&mask]; slot >= 0; {
		m := a.meta.at(slot)
		if m.hash == h {
			if m.src >= 0 {
				if sameBatchRows(b, int(m.src), r) {
					return slot
				}
			} else if a.holds(slot, b, r) {
				return slot
			}
		}
		slot = m.next
	}
	return -1
}

// remove frees a slot whose count is zero.
func (a *Arrangement) remove(slot int32, mask uint64) {
	m := a.meta.at(slot)
	for _, ix := range a.indexes {
		a.indexRemove(ix, slot)
	}
	p := &a.heads[m.hash&mask]
	for *p != slot {
		p = &a.meta.at(*p).next
	}
	*p = m.next
	m.used = false
	a.ck.died(slot)
	a.store.release(slot)
	a.live--
}

// rehash grows the bucket table to hold n rows at a load of at most ½.
func (a *Arrangement) rehash(n int) {
	size := len(a.heads)
	for size < 2*n {
		size *= 2
	}
	a.heads = newHeads(size)
	mask := uint64(size - 1)
	for slot := int32(0); slot < a.meta.len(); slot++ {
		if m := a.meta.at(slot); m.used {
			m.next = a.heads[m.hash&mask]
			a.heads[m.hash&mask] = slot
		}
	}
}

// holds reports whether a slot's row is row r of b, value for value
// (NULLs equal, -0 = 0, every NaN the same): a retraction finds the row
// its insertion stored.
func (a *Arrangement) holds(slot int32, b arrow.RecordBatch, r int) bool {
	for ci := range a.store.cols {
		if !sameDatum(storeClass(a.ts[ci]), a.store.datum(ci, slot), types.DatumAt(b.Column(ci), r)) {
			return false
		}
	}
	return true
}

// sameBatchRows reports whether rows r1 and r2 of b are the same.
func sameBatchRows(b arrow.RecordBatch, r1, r2 int) bool {
	for ci := 0; ci < int(b.NumCols()); ci++ {
		c := b.Column(ci)
		d, e := types.DatumAt(c, r1), types.DatumAt(c, r2)
		if d.Null != e.Null || d.I != e.I || d.S != e.S || d.Iv != e.Iv || normFloat(d.F) != normFloat(e.F) {
			return false
		}
	}
	return true
}

func sameDatum(class int, d, e types.Datum) bool {
	if d.Null || e.Null {
		return d.Null == e.Null
	}
	switch class {
	case classInt:
		return d.I == e.I
	case classFloat:
		return normFloat(d.F) == normFloat(e.F)
	case classIv:
		return d.Iv == e.Iv
	}
	return d.S == e.S
}

// normFloat maps every float to bits that are equal exactly when the
// values are the same row value: -0 is 0, every NaN one NaN.
func normFloat(f float64) uint64 {
	if f == 0 {
		return 0
	}
	if f != f {
		return 0x7ff8000000000001
	}
	return math.Float64bits(f)
}

const (
	hashMul  = 0x9e3779b97f4a7c15
	hashNull = 0x2545f4914f6cdd1d
)

func mixHash(h, v uint64) uint64 { return (bits.RotateLeft64(h, 23) ^ v) * hashMul }

// finishHash spreads the bits so that the low ones pick a bucket well.
func finishHash(h uint64) uint64 {
	h ^= h >> 33
	h *= 0xff51afd7ed558ccd
	h ^= h >> 33
	h *= 0xc4ceb9fe1a85ec53
	return h ^ h>>33
}

// hashRows hashes each row of b, column by column, consistently with
// holds and sameBatchRows.
func (a *Arrangement) hashRows(b arrow.RecordBatch) []uint64 {
	n := int(b.NumRows())
	hs := a.hashes[:0]
	for i := 0; i < n; i++ {
		hs = append(hs, 0)
	}
	for ci := 0; ci < int(b.NumCols()); ci++ {
		a.hashColumn(ci, b.Column(ci), hs)
	}
	for i := range hs {
		hs[i] = finishHash(hs[i])
	}
	a.hashes = hs
	return hs
}

func (a *Arrangement) hashColumn(ci int, col arrow.Array, hs []uint64) {
	nulls := col.NullN() > 0
	switch x := col.(type) {
	case *array.Int64, *array.Timestamp, *array.Time64:
		hashFixed(expr.FixedValues[int64](x), col, nulls, hs)
	case *array.Int32, *array.Date32:
		hashFixed(expr.FixedValues[int32](x), col, nulls, hs)
	case *array.Float64:
		for i, v := range x.Float64Values() {
			if nulls && x.IsNull(i) {
				hs[i] = mixHash(hs[i], hashNull)
			} else {
				hs[i] = mixHash(hs[i], normFloat(v))
			}
		}
	case *array.String:
		for i := range hs {
			if nulls && x.IsNull(i) {
				hs[i] = mixHash(hs[i], hashNull)
			} else {
				hs[i] = mixHash(hs[i], maphash.String(a.seed, x.Value(i)))
			}
		}
	default:
		class := storeClass(a.ts[ci])
		for i := range hs {
			hs[i] = mixHash(hs[i], a.hashDatum(class, types.DatumAt(col, i)))
		}
	}
}

func hashFixed[T int64 | int32](vals []T, col arrow.Array, nulls bool, hs []uint64) {
	for i, v := range vals {
		if nulls && col.IsNull(i) {
			hs[i] = mixHash(hs[i], hashNull)
		} else {
			hs[i] = mixHash(hs[i], uint64(int64(v)))
		}
	}
}

func (a *Arrangement) hashDatum(class int, d types.Datum) uint64 {
	if d.Null {
		return hashNull
	}
	switch class {
	case classInt:
		return uint64(d.I)
	case classFloat:
		return normFloat(d.F)
	case classIv:
		return mixHash(mixHash(uint64(d.Iv.Months), uint64(d.Iv.Days)), uint64(d.Iv.Micros))
	}
	return maphash.String(a.seed, d.S)
}

// live calls fn for each slot in use, in slot order.
func (a *Arrangement) eachSlot(fn func(slot int32, n int64)) {
	for slot := int32(0); slot < a.meta.len(); slot++ {
		if m := a.meta.at(slot); m.used {
			fn(slot, m.n)
		}
	}
}

// gatherBatch builds a batch of the given slots' rows.
func (a *Arrangement) gatherBatch(slots []int32) arrow.RecordBatch {
	return a.store.gatherBatch(a.ts, slots)
}

// snapshotChunk bounds the rows of one batch a snapshot returns.
const snapshotChunk = 1 << 16

// Snapshot returns the rows, each as often as its count says (rows with
// a count below one do not appear), in batches of at most 65,536 rows.
func (a *Arrangement) Snapshot() []arrow.RecordBatch {
	var out []arrow.RecordBatch
	slots := make([]int32, 0, min(a.total, snapshotChunk))
	a.eachSlot(func(slot int32, n int64) {
		for ; n > 0; n-- {
			slots = append(slots, slot)
			if len(slots) == snapshotChunk {
				out = append(out, a.gatherBatch(slots))
				slots = slots[:0]
			}
		}
	})
	if len(slots) > 0 {
		out = append(out, a.gatherBatch(slots))
	}
	return out
}

// Contents returns every distinct row with its count as a changelog (nil
// when there are none): what a view built on this one starts from.
func (a *Arrangement) Contents() (arrow.RecordBatch, []int64) {
	if a.live == 0 {
		return nil, nil
	}
	slots := make([]int32, 0, a.live)
	counts := make([]int64, 0, a.live)
	a.eachSlot(func(slot int32, n int64) {
		slots, counts = append(slots, slot), append(counts, n)
	})
	return a.gatherBatch(slots), counts
}

// Sorted returns every distinct row with its count, in the order of the
// rows' key encoding (a stable order for a subscription's snapshot).
func (a *Arrangement) Sorted() []Change {
	type keyed struct {
		key []byte
		c   Change
	}
	rows := make([]keyed, 0, a.live)
	a.eachSlot(func(slot int32, n int64) {
		row := a.store.row(slot)
		var key []byte
		for ci, d := range row {
			key = appendRowKey(key, a.ts[ci], d)
		}
		rows = append(rows, keyed{key, Change{Row: row, Diff: n}})
	})
	sort.Slice(rows, func(i, j int) bool { return bytes.Compare(rows[i].key, rows[j].key) < 0 })
	out := make([]Change, len(rows))
	for i, r := range rows {
		out[i] = r.c
	}
	return out
}

// appendRowKey encodes a value for ordering a snapshot; numerics are
// taken as they are spelled (normalising them costs a decimal parse).
func appendRowKey(buf []byte, t types.T, d types.Datum) []byte {
	if t.Kind == types.Numeric && !d.Null {
		buf = append(buf, 1)
		buf = binary.AppendUvarint(buf, uint64(len(d.S)))
		return append(buf, d.S...)
	}
	return exec.AppendKey(buf, t, d)
}

// MaxIndexes bounds the columns an arrangement keeps point indexes on.
const MaxIndexes = 4

// arrIndex finds the slots whose column col holds a value: a hash of the
// value's key encoding (equal values, such as 1.0 and 1, encode alike)
// to the first slot, the others chained both ways so that a slot leaves
// in O(1).
type arrIndex struct {
	col        int
	heads      map[uint64]int32
	next, prev chunked[int32]
}

func (a *Arrangement) indexKey(ix *arrIndex, slot int32, buf []byte) []byte {
	return exec.AppendKey(buf, a.ts[ix.col], a.store.datum(ix.col, slot))
}

func (a *Arrangement) indexAdd(ix *arrIndex, slot int32) {
	for ix.next.len() <= slot {
		ix.next.push()
		ix.prev.push()
	}
	var buf [32]byte
	k := maphash.Bytes(a.seed, a.indexKey(ix, slot, buf[:0]))
	head, ok := ix.heads[k]
	if !ok {
		head = -1
	}
	*ix.next.at(slot), *ix.prev.at(slot) = head, -1
	if head >= 0 {
		*ix.prev.at(head) = slot
	}
	ix.heads[k] = slot
}

func (a *Arrangement) indexRemove(ix *arrIndex, slot int32) {
	nx, pv := *ix.next.at(slot), *ix.prev.at(slot)
	if pv >= 0 {
		*ix.next.at(pv) = nx
	} else {
		var buf [32]byte
		k := maphash.Bytes(a.seed, a.indexKey(ix, slot, buf[:0]))
		if nx >= 0 {
			ix.heads[k] = nx
		} else {
			delete(ix.heads, k)
		}
	}
	if nx >= 0 {
		*ix.prev.at(nx) = pv
	}
}

// HasIndex reports whether there is a point index on column col.
func (a *Arrangement) HasIndex(col int) bool {
	for _, ix := range a.indexes {
		if ix.col == col {
			return true
		}
	}
	return false
}

// AddIndex makes a point index on column col from the rows there are
// (false when there are MaxIndexes already).
func (a *Arrangement) AddIndex(col int) bool {
	if a.HasIndex(col) {
		return true
	}
	if len(a.indexes) >= MaxIndexes {
		return false
	}
	ix := &arrIndex{col: col, heads: make(map[uint64]int32, a.live)}
	a.eachSlot(func(slot int32, _ int64) { a.indexAdd(ix, slot) })
	a.indexes = append(a.indexes, ix)
	return true
}

// Lookup returns the rows whose column col equals d (as often as their
// counts say), through the index on col (ok false: there is none).
func (a *Arrangement) Lookup(col int, d types.Datum) (b arrow.RecordBatch, ok bool) {
	var ix *arrIndex
	for _, x := range a.indexes {
		if x.col == col {
			ix = x
		}
	}
	if ix == nil {
		return nil, false
	}
	if d.Null {
		return nil, true // = NULL is never true
	}
	want := exec.AppendKey(nil, a.ts[col], d)
	head, found := ix.heads[maphash.Bytes(a.seed, want)]
	if !found {
		return nil, true
	}
	var slots []int32
	var buf []byte
	for slot := head; slot >= 0; slot = *ix.next.at(slot) {
		buf = a.indexKey(ix, slot, buf[:0])
		if !bytes.Equal(buf, want) {
			continue // another value of the same hash
		}
		for n := a.meta.at(slot).n; n > 0; n-- {
			slots = append(slots, slot)
		}
	}
	if len(slots) == 0 {
		return nil, true
	}
	return a.gatherBatch(slots), true
}
