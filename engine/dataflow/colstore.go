package dataflow

import (
	"unsafe"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/streamsql/streamsql/engine/expr"
	"github.com/streamsql/streamsql/types"
)

// colStore keeps rows column by column in numbered slots, for operators
// whose state is rows (the join's sides): a row goes in with one typed
// copy per column, comes out gathered by slot into Arrow columns, and a
// freed slot is reused. No Datum per row, no pointer per row for the
// collector to chase except the strings themselves.
type colStore struct {
	cols []storeCol
	free []int32
	n    int32 // slots handed out so far
}

// storeCol is one column: values in the slice of its class, NULLs in a
// flag slice made on the first NULL.
type storeCol struct {
	t    types.T
	dt   arrow.DataType
	i64  chunked[int64] // integers, dates, times, timestamps, booleans (0/1)
	f64  chunked[float64]
	str  chunked[string] // text, bytea, numeric (canonical text)
	iv   chunked[types.IntervalValue]
	null *chunked[bool]
}

const (
	classInt = iota
	classFloat
	classStr
	classIv
)

func storeClass(t types.T) int {
	switch t.Kind {
	case types.Bool, types.Int16, types.Int32, types.Int64, types.Oid, types.Date, types.Time, types.Timestamp, types.TimestampTZ:
		return classInt
	case types.Float32, types.Float64:
		return classFloat
	case types.Interval:
		return classIv
	}
	return classStr
}

func newColStore(ts []types.T) *colStore {
	s := &colStore{cols: make([]storeCol, len(ts))}
	for i, t := range ts {
		s.cols[i] = storeCol{t: t, dt: types.ArrowType(t)}
	}
	return s
}

// alloc returns a free slot.
func (s *colStore) alloc() int32 {
	if k := len(s.free); k > 0 {
		slot := s.free[k-1]
		s.free = s.free[:k-1]
		return slot
	}
	slot := s.n
	s.grow(slot + 1)
	return slot
}

// grow makes slots 0..n-1 exist, for a store whose slots are numbered by
// its owner (an aggregate's group ids) rather than handed out by alloc.
func (s *colStore) grow(n int32) {
	for s.n < n {
		s.n++
		for i := range s.cols {
			c := &s.cols[i]
			switch storeClass(c.t) {
			case classInt:
				c.i64.push()
			case classFloat:
				c.f64.push()
			case classStr:
				c.str.push()
			case classIv:
				c.iv.push()
			}
			if c.null != nil {
				c.null.push()
			}
		}
	}
}

// clearStrings drops a slot's strings, for the collector.
func (s *colStore) clearStrings(slot int32) {
	for i := range s.cols {
		if c := &s.cols[i]; storeClass(c.t) == classStr {
			*c.str.at(slot) = ""
		}
	}
}

// release frees a slot (its strings are dropped for the collector).
func (s *colStore) release(slot int32) {
	s.clearStrings(slot)
	s.free = append(s.free, slot)
}

// put copies rows rows of b into slots (one per row, from alloc).
func (s *colStore) put(b arrow.RecordBatch, rows, slots []int32) {
	for ci := range s.cols {
		c := &s.cols[ci]
		a := b.Column(ci)
		if a.NullN() > 0 {
			if c.null == nil {
				c.null = newChunked[bool](s.n)
			}
			for k, r := range rows {
				*c.null.at(slots[k]) = a.IsNull(int(r))
			}
		} else if c.null != nil {
			for _, slot := range slots {
				*c.null.at(slot) = false
			}
		}
		switch x := a.(type) {
		case *array.Int64, *array.Timestamp:
			scatter(&c.i64, expr.FixedValues[int64](x), rows, slots)
		case *array.Int32, *array.Date32:
			scatter(&c.i64, expr.FixedValues[int32](x), rows, slots)
		case *array.Float64:
			scatter(&c.f64, x.Float64Values(), rows, slots)
		case *array.String:
			for k, r := range rows {
				if !x.IsNull(int(r)) {
					*c.str.at(slots[k]) = x.Value(int(r))
				}
			}
			// the batch's buffer is not ours to keep: copy the bytes of
			// all rows at once, then point the strings into the copy
			cloneStrings(&c.str, slots)
		default:
			for k, r := range rows {
				s.setDatum(ci, slots[k], types.DatumAt(a, int(r)))
			}
		}
	}
}

// cloneStrings moves the given slots' strings into one new allocation.
func cloneStrings(strs *chunked[string], slots []int32) {
	total := 0
	for _, slot := range slots {
		total += len(*strs.at(slot))
	}
	if total == 0 {
		return
	}
	buf := make([]byte, 0, total)
	for _, slot := range slots {
		v := *strs.at(slot)
		at := len(buf)
		buf = append(buf, v...)
		*strs.at(slot) = unsafe.String(unsafe.SliceData(buf[at:]), len(v))
	}
}

// setDatum stores one value.
func (s *colStore) setDatum(ci int, slot int32, d types.Datum) {
	c := &s.cols[ci]
	if d.Null {
		if c.null == nil {
			c.null = newChunked[bool](s.n)
		}
		*c.null.at(slot) = true
		return
	}
	if c.null != nil {
		*c.null.at(slot) = false
	}
	switch storeClass(c.t) {
	case classInt:
		*c.i64.at(slot) = d.I
	case classFloat:
		*c.f64.at(slot) = d.F
	case classStr:
		*c.str.at(slot) = d.S
	case classIv:
		*c.iv.at(slot) = d.Iv
	}
}

// datum reads one value.
func (s *colStore) datum(ci int, slot int32) types.Datum {
	c := &s.cols[ci]
	if c.null != nil && *c.null.at(slot) {
		return types.NullDatum
	}
	switch storeClass(c.t) {
	case classInt:
		return types.Datum{I: *c.i64.at(slot)}
	case classFloat:
		return types.Datum{F: *c.f64.at(slot)}
	case classStr:
		return types.Datum{S: *c.str.at(slot)}
	}
	return types.Datum{Iv: *c.iv.at(slot)}
}

// row reads a slot's values.
func (s *colStore) row(slot int32) []types.Datum {
	out := make([]types.Datum, len(s.cols))
	for ci := range s.cols {
		out[ci] = s.datum(ci, slot)
	}
	return out
}

// equal reports whether a slot holds the same row as row r of b (NULLs
// equal: this finds the stored copy of a retracted row).
func (s *colStore) equal(slot int32, b arrow.RecordBatch, r int) bool {
	for ci := range s.cols {
		d, e := s.datum(ci, slot), types.DatumAt(b.Column(ci), r)
		if d.Null || e.Null {
			if d.Null != e.Null {
				return false
			}
			continue
		}
		if !sameValue(storeClass(s.cols[ci].t), d, e) {
			return false
		}
	}
	return true
}

// sameValue reports whether two non-NULL values of one store class are
// the same value as stored: text (and numeric, whose text is kept as
// given) byte for byte, so that no value is parsed to compare it.
func sameValue(class int, d, e types.Datum) bool {
	switch class {
	case classInt:
		return d.I == e.I
	case classFloat:
		return types.CompareFloat(d.F, e.F) == 0
	case classIv:
		return d.Iv == e.Iv
	}
	return d.S == e.S
}

// gather builds column ci of the given slots; slot -1 is NULL.
// gatherBatch builds a batch of the slots' rows (ts: the columns' types).
func (s *colStore) gatherBatch(ts []types.T, slots []int32) arrow.RecordBatch {
	cols := make([]arrow.Array, len(ts))
	for ci := range cols {
		cols[ci] = s.gather(ci, slots)
	}
	b := expr.NewBatch(ts, cols, len(slots))
	for _, c := range cols {
		c.Release()
	}
	return b
}

func (s *colStore) gather(ci int, slots []int32) arrow.Array {
	c := &s.cols[ci]
	n := len(slots)
	var valid []byte
	var nulls int
	if c.null != nil || hasNegative(slots) {
		valid, nulls = gatherValidity(n, func(k int) bool {
			slot := slots[k]
			return slot < 0 || (c.null != nil && *c.null.at(slot))
		})
	}
	switch c.dt.ID() {
	case arrow.INT64, arrow.TIMESTAMP, arrow.TIME64:
		return expr.NewFixedOf(c.dt, pickChunked[int64](&c.i64, slots), valid, nulls)
	case arrow.INT32, arrow.DATE32:
		return expr.NewFixedOf(c.dt, pickChunked[int32](&c.i64, slots), valid, nulls)
	case arrow.INT16:
		return expr.NewFixedOf(c.dt, pickChunked[int16](&c.i64, slots), valid, nulls)
	case arrow.FLOAT64:
		return expr.NewFixedOf(c.dt, pickChunked[float64](&c.f64, slots), valid, nulls)
	case arrow.STRING, arrow.BINARY:
		vals := make([]string, n)
		for k, slot := range slots {
			if slot >= 0 {
				vals[k] = *c.str.at(slot)
			}
		}
		return newStringArray(c.dt, vals, valid, nulls)
	}
	b := array.NewBuilder(memory.DefaultAllocator, c.dt)
	defer b.Release()
	b.Reserve(n)
	for _, slot := range slots {
		if slot < 0 {
			b.AppendNull()
			continue
		}
		types.AppendDatum(b, c.t, s.datum(ci, slot))
	}
	return b.NewArray()
}

// gatherArray builds a column of the given rows of a; row -1 is NULL.
func gatherArray(t types.T, a arrow.Array, rows []int32) arrow.Array {
	n := len(rows)
	var valid []byte
	var nulls int
	if a.NullN() > 0 || hasNegative(rows) {
		valid, nulls = gatherValidity(n, func(k int) bool {
			r := rows[k]
			return r < 0 || a.IsNull(int(r))
		})
	}
	switch a.DataType().ID() {
	case arrow.INT64, arrow.TIMESTAMP, arrow.TIME64:
		return gatherFixed[int64](a, rows, valid, nulls)
	case arrow.INT32, arrow.DATE32:
		return gatherFixed[int32](a, rows, valid, nulls)
	case arrow.INT16:
		return gatherFixed[int16](a, rows, valid, nulls)
	case arrow.FLOAT64:
		return gatherFixed[float64](a, rows, valid, nulls)
	case arrow.STRING:
		x := a.(*array.String)
		vals := make([]string, n)
		for k, r := range rows {
			if r >= 0 {
				vals[k] = x.Value(int(r))
			}
		}
		return newStringArray(a.DataType(), vals, valid, nulls)
	}
	b := array.NewBuilder(memory.DefaultAllocator, a.DataType())
	defer b.Release()
	b.Reserve(n)
	for _, r := range rows {
		if r < 0 {
			b.AppendNull()
			continue
		}
		types.AppendDatum(b, t, types.DatumAt(a, int(r)))
	}
	return b.NewArray()
}

func gatherFixed[T int64 | int32 | int16 | float64](a arrow.Array, rows []int32, valid []byte, nulls int) arrow.Array {
	return expr.NewFixedOf(a.DataType(), pick[T](expr.FixedValues[T](a), rows), valid, nulls)
}

// pick gathers src at the given indexes, converted to T; index -1 gives 0.
func pick[T, S int64 | int32 | int16 | float64](src []S, at []int32) []T {
	out := make([]T, len(at))
	for k, i := range at {
		if i >= 0 {
			out[k] = T(src[i])
		}
	}
	return out
}

// hasNegative reports whether any index is -1 (a NULL-padded row).
func hasNegative(idx []int32) bool {
	for _, i := range idx {
		if i < 0 {
			return true
		}
	}
	return false
}

// gatherValidity returns the validity bitmap of n values (nil when none
// is NULL) and the NULL count.
func gatherValidity(n int, isNull func(k int) bool) ([]byte, int) {
	nulls := 0
	var valid []byte
	for k := 0; k < n; k++ {
		if isNull(k) {
			if valid == nil {
				valid = make([]byte, (n+7)/8)
				for j := 0; j < k; j++ {
					valid[j>>3] |= 1 << (j & 7)
				}
			}
			nulls++
		} else if valid != nil {
			valid[k>>3] |= 1 << (k & 7)
		}
	}
	return valid, nulls
}

// newStringArray builds a string (or binary) column of vals.
func newStringArray(dt arrow.DataType, vals []string, valid []byte, nulls int) arrow.Array {
	n := len(vals)
	offsets := make([]int32, n+1)
	total := 0
	for k, v := range vals {
		total += len(v)
		offsets[k+1] = int32(total)
	}
	data := make([]byte, 0, total)
	for _, v := range vals {
		data = append(data, v...)
	}
	var vb *memory.Buffer
	if nulls > 0 {
		vb = memory.NewBufferBytes(valid)
	}
	raw := unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(offsets))), len(offsets)*4)
	d := array.NewData(dt, n, []*memory.Buffer{vb, memory.NewBufferBytes(raw), memory.NewBufferBytes(data)}, nil, nulls, 0)
	defer d.Release()
	return array.MakeFromData(d)
}

// scatter stores src[rows[k]] at slots[k], converted to T.
func scatter[T, S int64 | int32 | float64](dst *chunked[T], src []S, rows, slots []int32) {
	for k, r := range rows {
		*dst.at(slots[k]) = T(src[r])
	}
}

// pickChunked is pick from a chunked array.
func pickChunked[T, S int64 | int32 | int16 | float64](src *chunked[S], at []int32) []T {
	out := make([]T, len(at))
	for k, i := range at {
		if i >= 0 {
			out[k] = T(*src.at(i))
		}
	}
	return out
}
