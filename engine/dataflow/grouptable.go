package dataflow

import (
	"math/bits"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/streamsql/streamsql/engine/exec"
	"github.com/streamsql/streamsql/engine/expr"
	"github.com/streamsql/streamsql/types"
)

// A groupTable maps group keys to dense group ids. Ids of removed groups
// are handed out again, so per-group state lives in flat slices indexed by
// id and stays as small as the number of live groups.
type groupTable interface {
	// assign sets gids[i] to the group of row i, adding groups as needed;
	// added is called once for each new group, in row order.
	assign(keys []expr.Value, n int, gids []int32, added func(g int32, row int))
	// lookup sets gids[i] to the group of row i's key (of types ts), or
	// -1 when there is none; it adds nothing.
	lookup(keys []expr.Value, ts []types.T, n int, gids []int32)
	remove(g int32)
}

func newGroupTable(ts []types.T) groupTable {
	for _, t := range ts {
		if !IntLike(t.Kind) {
			return &datumTable{ts: ts, index: map[string]int32{}}
		}
	}
	switch len(ts) {
	case 1:
		return newInt1Table()
	case 2:
		return newInt2Table()
	}
	return newIntTable(len(ts))
}

// IntLike kinds are stored as integers in Arrow (64 bits or fewer),
// in Datum.I.
func IntLike(k types.Kind) bool {
	switch k {
	case types.Int16, types.Int32, types.Int64, types.Date, types.Time, types.Timestamp, types.TimestampTZ, types.Oid:
		return true
	}
	return false
}

// intColumn returns the values of an integer-like column widened to int64
// (*bufp is reused for the conversions), and whether any is NULL.
func intColumn(v expr.Value, n int, bufp *[]int64) ([]int64, bool) {
	buf := (*bufp)[:0]
	defer func() { *bufp = buf[:0] }()
	if v.IsScalar() {
		for i := 0; i < n; i++ {
			buf = append(buf, v.D.I)
		}
		return buf, v.D.Null
	}
	switch v.Arr.DataType().ID() {
	case arrow.INT64, arrow.TIMESTAMP, arrow.TIME64:
		vals := expr.FixedValues[int64](v.Arr)[:n]
		return vals, v.Arr.NullN() > 0
	case arrow.INT32, arrow.DATE32:
		for _, x := range expr.FixedValues[int32](v.Arr)[:n] {
			buf = append(buf, int64(x))
		}
	case arrow.INT16:
		for _, x := range expr.FixedValues[int16](v.Arr)[:n] {
			buf = append(buf, int64(x))
		}
	default:
		for i := 0; i < n; i++ {
			buf = append(buf, v.At(i).I)
		}
	}
	return buf, v.Arr.NullN() > 0
}

// intTable is an open-addressing hash table (linear probing, deletion by
// backward shift) over keys of up to a few integer-like columns: each key
// is its values plus a word of NULL flags, stored flat by group id.
type intTable struct {
	w     int     // words per key: one per column, then the NULL flags
	words []int64 // key words by group id
	slots []int32 // group id + 1; 0 is empty
	mask  uint64
	shift uint
	used  int
	free  []int32
	ids   int32 // ids handed out so far
	cols  [][]int64
	bufs  [][]int64
	key   []int64
}

func newIntTable(cols int) *intTable {
	t := &intTable{w: cols + 1, cols: make([][]int64, cols), bufs: make([][]int64, cols), key: make([]int64, cols+1)}
	t.resize(1024)
	return t
}

func (t *intTable) resize(size int) {
	t.slots = make([]int32, size)
	t.mask, t.shift = probeMask(size)
}

const fib = 0x9E3779B97F4A7C15

// probeMask is the index mask of a table of size slots (a power of two)
// and the shift that takes a 64-bit hash's top bits as a slot.
func probeMask(size int) (uint64, uint) {
	return uint64(size - 1), uint(64 - bits.Len64(uint64(size)-1))
}

// home is the slot a key hashes to (multiplicative hashing, top bits).
func (t *intTable) home(k []int64) uint64 {
	h := uint64(len(k))
	for _, x := range k {
		h = (h ^ uint64(x)) * fib
		h ^= h >> 29
	}
	return (h * fib) >> t.shift
}

func (t *intTable) keyOf(g int32) []int64 {
	return t.words[int(g)*t.w : int(g+1)*t.w]
}

// find returns the group of key k, adding it when new.
func (t *intTable) find(k []int64) (int32, bool) {
	h := t.home(k)
	for {
		s := t.slots[h]
		if s == 0 {
			break
		}
		if equalWords(t.keyOf(s-1), k) {
			return s - 1, false
		}
		h = (h + 1) & t.mask
	}
	var g int32
	if n := len(t.free); n > 0 {
		g, t.free = t.free[n-1], t.free[:n-1]
		copy(t.keyOf(g), k)
	} else {
		g = t.ids
		t.ids++
		t.words = append(t.words, k...)
	}
	t.slots[h] = g + 1
	t.used++
	if t.used*2 > len(t.slots) {
		t.rehash()
	}
	return g, true
}

func equalWords(a, b []int64) bool {
	for i := range b {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func (t *intTable) rehash() {
	old := t.slots
	t.resize(len(old) * 2)
	reinsert(old, t.slots, t.mask, func(s *int32) bool { return *s == 0 }, func(s *int32) uint64 { return t.home(t.keyOf(*s - 1)) })
}

// reinsert places the members of old into the (larger, empty) slots.
func reinsert[E any](old, slots []E, mask uint64, empty func(*E) bool, home func(*E) uint64) {
	for i := range old {
		if empty(&old[i]) {
			continue
		}
		h := home(&old[i])
		for !empty(&slots[h]) {
			h = (h + 1) & mask
		}
		slots[h] = old[i]
	}
}

func (t *intTable) assign(keys []expr.Value, n int, gids []int32, added func(int32, int)) {
	nulls := t.load(keys, n)
	for i := 0; i < n; i++ {
		g, isNew := t.find(t.rowKey(keys, i, nulls))
		gids[i] = g
		if isNew {
			added(g, i)
		}
	}
}

func (t *intTable) lookup(keys []expr.Value, _ []types.T, n int, gids []int32) {
	nulls := t.load(keys, n)
	for i := 0; i < n; i++ {
		k := t.rowKey(keys, i, nulls)
		gids[i] = -1
		for h := t.home(k); t.slots[h] != 0; h = (h + 1) & t.mask {
			if s := t.slots[h]; equalWords(t.keyOf(s-1), k) {
				gids[i] = s - 1
				break
			}
		}
	}
}

// load reads the key columns as integers; it reports whether any is NULL.
func (t *intTable) load(keys []expr.Value, n int) bool {
	nulls := false
	for c, v := range keys {
		var hasNull bool
		t.cols[c], hasNull = intColumn(v, n, &t.bufs[c])
		nulls = nulls || hasNull
	}
	return nulls
}

// rowKey is row i's key words (in a buffer reused for the next row).
func (t *intTable) rowKey(keys []expr.Value, i int, nulls bool) []int64 {
	k := t.key
	var flags int64
	for c, col := range t.cols {
		k[c] = col[i]
		if nulls && keys[c].IsNull(i) {
			k[c], flags = 0, flags|1<<c
		}
	}
	k[len(t.cols)] = flags
	return k
}

func (t *intTable) remove(g int32) {
	h := t.home(t.keyOf(g))
	for t.slots[h] != g+1 {
		h = (h + 1) & t.mask
	}
	backshiftDelete(t.slots, h, t.mask, func(s *int32) bool { return *s == 0 }, func(s *int32) uint64 { return t.home(t.keyOf(*s - 1)) })
	t.used--
	t.free = append(t.free, g)
}

// backshiftDelete empties slot i of a linear-probing table and moves the
// later members of its probe run into the hole, so that lookups still
// find them (deletion without tombstones).
func backshiftDelete[E any](slots []E, i, mask uint64, empty func(*E) bool, home func(*E) uint64) {
	var zero E
	for {
		slots[i] = zero
		j := i
		for {
			j = (j + 1) & mask
			if empty(&slots[j]) {
				return
			}
			k := home(&slots[j])
			// it stays when its home lies cyclically in (i, j]
			if (i <= j && i < k && k <= j) || (i > j && (i < k || k <= j)) {
				continue
			}
			slots[i] = slots[j]
			i = j
			break
		}
	}
}

// datumTable is the general table: keys encoded for equality (NUMERIC
// normalised, so 1.0 and 1.00 are one group) in a Go map.
type datumTable struct {
	ts    []types.T
	index map[string]int32
	enc   []string // by group id
	free  []int32
	buf   []byte
}

func (t *datumTable) assign(keys []expr.Value, n int, gids []int32, added func(int32, int)) {
	for i := 0; i < n; i++ {
		t.buf = t.buf[:0]
		for c, v := range keys {
			t.buf = exec.AppendKey(t.buf, t.ts[c], v.At(i))
		}
		g, ok := t.index[string(t.buf)]
		if !ok {
			k := string(t.buf)
			if m := len(t.free); m > 0 {
				g, t.free = t.free[m-1], t.free[:m-1]
				t.enc[g] = k
			} else {
				g = int32(len(t.enc))
				t.enc = append(t.enc, k)
			}
			t.index[k] = g
			added(g, i)
		}
		gids[i] = g
	}
}

func (t *datumTable) lookup(keys []expr.Value, ts []types.T, n int, gids []int32) {
	for i := 0; i < n; i++ {
		t.buf = t.buf[:0]
		for c, v := range keys {
			t.buf = exec.AppendKey(t.buf, ts[c], v.At(i))
		}
		g, ok := t.index[string(t.buf)]
		if !ok {
			g = -1
		}
		gids[i] = g
	}
}

func (t *datumTable) remove(g int32) {
	delete(t.index, t.enc[g])
	t.enc[g] = ""
	t.free = append(t.free, g)
}

// int1Table is the table for one integer-like column, the commonest key
// (a join on an id): the key sits in the probed entry itself, so a lookup
// touches one cache line; linear probing, deletion by backward shift.
// Rows with a NULL key share one group of their own.
type int1Table struct {
	entries []int1Entry
	mask    uint64
	shift   uint
	used    int
	keys    []int64 // by group id
	free    []int32
	ids     int32
	nullG   int32 // the NULL key's group, -1 none
	buf     []int64
}

type int1Entry struct {
	key int64
	gid int32 // group id + 1; 0 is empty
}

func newInt1Table() *int1Table {
	t := &int1Table{nullG: -1}
	t.resize(1024)
	return t
}

func (t *int1Table) resize(size int) {
	t.entries = make([]int1Entry, size)
	t.mask, t.shift = probeMask(size)
}

func (t *int1Table) home(k int64) uint64 {
	h := uint64(k) * fib
	return (h ^ h>>29) * fib >> t.shift
}

func (t *int1Table) newID() int32 {
	if n := len(t.free); n > 0 {
		g := t.free[n-1]
		t.free = t.free[:n-1]
		return g
	}
	g := t.ids
	t.ids++
	t.keys = append(t.keys, 0)
	return g
}

func (t *int1Table) assign(keys []expr.Value, n int, gids []int32, added func(int32, int)) {
	vals, nulls := intColumn(keys[0], n, &t.buf)
	for i := 0; i < n; i++ {
		if nulls && keys[0].IsNull(i) {
			if t.nullG < 0 {
				t.nullG = t.newID()
				added(t.nullG, i)
			}
			gids[i] = t.nullG
			continue
		}
		k := vals[i]
		h := t.home(k)
		for {
			e := &t.entries[h]
			if e.gid == 0 {
				g := t.newID()
				t.keys[g] = k
				*e = int1Entry{key: k, gid: g + 1}
				gids[i] = g
				t.used++
				if t.used*2 > len(t.entries) {
					t.rehash()
				}
				added(g, i)
				break
			}
			if e.key == k {
				gids[i] = e.gid - 1
				break
			}
			h = (h + 1) & t.mask
		}
	}
}

func (t *int1Table) lookup(keys []expr.Value, _ []types.T, n int, gids []int32) {
	vals, nulls := intColumn(keys[0], n, &t.buf)
	for i := 0; i < n; i++ {
		gids[i] = -1
		if nulls && keys[0].IsNull(i) {
			gids[i] = t.nullG
			continue
		}
		k := vals[i]
		for h := t.home(k); t.entries[h].gid != 0; h = (h + 1) & t.mask {
			if t.entries[h].key == k {
				gids[i] = t.entries[h].gid - 1
				break
			}
		}
	}
}

func (t *int1Table) rehash() {
	old := t.entries
	t.resize(len(old) * 2)
	reinsert(old, t.entries, t.mask, func(e *int1Entry) bool { return e.gid == 0 }, func(e *int1Entry) uint64 { return t.home(e.key) })
}

func (t *int1Table) remove(g int32) {
	t.free = append(t.free, g)
	if g == t.nullG {
		t.nullG = -1
		return
	}
	h := t.home(t.keys[g])
	for t.entries[h].gid != g+1 {
		h = (h + 1) & t.mask
	}
	backshiftDelete(t.entries, h, t.mask, func(e *int1Entry) bool { return e.gid == 0 }, func(e *int1Entry) uint64 { return t.home(e.key) })
	t.used--
}

// int2Table is the table for two integer-like columns (a window and a
// key: the commonest GROUP BY of a windowed view): both values and their
// NULL flags sit in the probed entry, so a lookup touches one cache line
// and compares three words inline; linear probing, deletion by backward
// shift.
type int2Table struct {
	entries []int2Entry
	mask    uint64
	shift   uint
	used    int
	keys    []int2Entry // by group id (gid unused)
	free    []int32
	ids     int32
	bufs    [2][]int64
}

type int2Entry struct {
	a, b  int64
	nulls uint8 // bit 0: a is NULL, bit 1: b is NULL (the value is then 0)
	gid   int32 // group id + 1; 0 is empty
}

func newInt2Table() *int2Table {
	t := &int2Table{}
	t.resize(1024)
	return t
}

func (t *int2Table) resize(size int) {
	t.entries = make([]int2Entry, size)
	t.mask, t.shift = probeMask(size)
}

func (t *int2Table) home(e *int2Entry) uint64 {
	h := (uint64(e.a)^uint64(e.nulls)<<56)*fib ^ uint64(e.b)
	h *= fib
	return (h ^ h>>29) * fib >> t.shift
}

func same2(x, y *int2Entry) bool { return x.a == y.a && x.b == y.b && x.nulls == y.nulls }

// rows reads the batch's keys as entries, one per row.
func (t *int2Table) rows(keys []expr.Value, n int) []int2Entry {
	a, an := intColumn(keys[0], n, &t.bufs[0])
	b, bn := intColumn(keys[1], n, &t.bufs[1])
	out := make([]int2Entry, n)
	for i := range out {
		e := &out[i]
		e.a, e.b = a[i], b[i]
		if an && keys[0].IsNull(i) {
			e.a, e.nulls = 0, e.nulls|1
		}
		if bn && keys[1].IsNull(i) {
			e.b, e.nulls = 0, e.nulls|2
		}
	}
	return out
}

func (t *int2Table) assign(keys []expr.Value, n int, gids []int32, added func(int32, int)) {
	for i, k := range t.rows(keys, n) {
		h := t.home(&k)
		for {
			e := &t.entries[h]
			if e.gid == 0 {
				var g int32
				if m := len(t.free); m > 0 {
					g, t.free = t.free[m-1], t.free[:m-1]
					t.keys[g] = k
				} else {
					g = t.ids
					t.ids++
					t.keys = append(t.keys, k)
				}
				k.gid = g + 1
				*e = k
				gids[i] = g
				t.used++
				if t.used*2 > len(t.entries) {
					t.rehash()
				}
				added(g, i)
				break
			}
			if same2(e, &k) {
				gids[i] = e.gid - 1
				break
			}
			h = (h + 1) & t.mask
		}
	}
}

func (t *int2Table) lookup(keys []expr.Value, _ []types.T, n int, gids []int32) {
	for i, k := range t.rows(keys, n) {
		gids[i] = -1
		for h := t.home(&k); t.entries[h].gid != 0; h = (h + 1) & t.mask {
			if same2(&t.entries[h], &k) {
				gids[i] = t.entries[h].gid - 1
				break
			}
		}
	}
}

func (t *int2Table) rehash() {
	old := t.entries
	t.resize(len(old) * 2)
	reinsert(old, t.entries, t.mask, func(e *int2Entry) bool { return e.gid == 0 }, t.home)
}

func (t *int2Table) remove(g int32) {
	k := t.keys[g]
	h := t.home(&k)
	for t.entries[h].gid != g+1 {
		h = (h + 1) & t.mask
	}
	t.free = append(t.free, g)
	backshiftDelete(t.entries, h, t.mask, func(e *int2Entry) bool { return e.gid == 0 }, t.home)
	t.used--
}
