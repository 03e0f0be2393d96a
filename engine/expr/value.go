package expr

import (
	"context"
	"time"
	"unsafe"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/bitutil"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/streamsql/streamsql/types"
)

// Value is the result of evaluating an expression over a batch: a column of
// the batch's length, or a scalar that stands for every row.
type Value struct {
	Arr arrow.Array // nil for a scalar
	D   types.Datum
}

// IsScalar reports whether v is one value for all rows.
func (v Value) IsScalar() bool { return v.Arr == nil }

// Release frees the column, if any.
func (v Value) Release() {
	if v.Arr != nil {
		v.Arr.Release()
	}
}

// At returns row i of v.
func (v Value) At(i int) types.Datum {
	if v.Arr == nil {
		return v.D
	}
	return types.DatumAt(v.Arr, i)
}

// IsNull reports whether row i is NULL.
func (v Value) IsNull(i int) bool {
	if v.Arr == nil {
		return v.D.Null
	}
	return v.Arr.IsNull(i)
}

// Scalar returns a scalar value.
func Scalar(d types.Datum) Value { return Value{D: d} }

// Session is what expressions may ask of the session that runs them.
type Session interface {
	User() string
	Database() string
	Setting(name string) (string, bool)
}

// Ctx carries what evaluation needs besides the batch. It is created per
// statement; Outer is the stack of outer rows for correlated subqueries.
type Ctx struct {
	Go      context.Context
	Mem     memory.Allocator
	Params  []types.Datum
	Loc     *time.Location
	Now     int64 // statement start, µs since the epoch
	Outer   [][]types.Datum
	Session Session
	Catalog CatalogFuncs
	// Memo caches per-statement results (uncorrelated subqueries).
	Memo map[any]any
	// RowError, when set (a continuous query), takes the rows that an
	// expression failed on with a data exception, instead of the error
	// failing the statement: operators drop those rows and go on (see
	// dataflow.DropFailing). It may be called from several goroutines.
	RowError func(RowError)
}

// RowError is one row an expression failed on: row Row of Batch (valid
// only during the call), whose columns Cols describes when known.
type RowError struct {
	Batch arrow.RecordBatch
	Row   int
	Cols  Columns
	Err   error
}

// Columns names and types a batch's columns (for reports; both may be nil).
type Columns struct {
	Names []string
	Types []types.T
}

// CatalogFuncs answers the catalog functions (pg_table_is_visible, regclass
// casts, ...) that expressions call; the planner provides it.
type CatalogFuncs interface {
	RelationOID(name string) (int64, bool)
	RelationName(oid int64) (string, bool)
	// RelationVisible is pg_table_is_visible; SearchPath the schemas that
	// exist of the session's search_path, in order.
	RelationVisible(oid int64) bool
	SearchPath() []string
	// NamespaceOID and NamespaceName map schemas and their OIDs (regnamespace).
	NamespaceOID(name string) (int64, bool)
	NamespaceName(oid int64) (string, bool)
	TypeOID(name string) (int64, bool)
	TypeName(oid int64) (string, bool)
	// IndexDef returns CREATE INDEX text for an index OID; ConstraintDef the
	// definition of a constraint OID.
	IndexDef(oid int64) (string, bool)
	ConstraintDef(oid int64) (string, bool)
	// NextVal advances the sequence with the given OID.
	NextVal(oid int64) (int64, error)
	// ProcOID and ProcName map functions and their pg_proc OIDs (regproc).
	ProcOID(name string) (int64, bool)
	ProcName(oid int64) (string, bool)
	// ViewDef is the SELECT of the view with the given OID.
	ViewDef(oid int64) (string, bool)
}

// fixed-width value access -------------------------------------------------

// FixedValues returns the typed values buffer of a fixed-width column.
func FixedValues[T any](a arrow.Array) []T {
	d := a.Data()
	bufs := d.Buffers()
	if len(bufs) < 2 || bufs[1] == nil || a.Len() == 0 {
		return nil
	}
	b := bufs[1].Bytes()
	var zero T
	size := int(unsafe.Sizeof(zero))
	all := unsafe.Slice((*T)(unsafe.Pointer(unsafe.SliceData(b))), len(b)/size)
	return all[d.Offset() : d.Offset()+d.Len()]
}

// NewFixed wraps a slice of values (and an optional validity bitmap with
// nulls set bits cleared) as an Arrow column of type t. The slice is not copied.
func NewFixed[T any](t types.T, vals []T, valid []byte, nulls int) arrow.Array {
	return NewFixedOf(types.ArrowType(t), vals, valid, nulls)
}

// NewFixedOf is NewFixed for an Arrow type.
func NewFixedOf[T any](dt arrow.DataType, vals []T, valid []byte, nulls int) arrow.Array {
	var zero T
	size := int(unsafe.Sizeof(zero))
	raw := unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(vals))), len(vals)*size)
	var vb *memory.Buffer
	if nulls > 0 {
		vb = memory.NewBufferBytes(valid)
	}
	data := array.NewData(dt, len(vals), []*memory.Buffer{vb, memory.NewBufferBytes(raw)}, nil, nulls, 0)
	defer data.Release()
	return array.MakeFromData(data)
}

// NewBools builds a boolean column from bytes of 0/1 and an optional validity bitmap.
func NewBools(vals []bool, valid []byte, nulls int) arrow.Array {
	n := len(vals)
	bits := make([]byte, bitutil.BytesForBits(int64(n)))
	full := n / 8
	for k := 0; k < full; k++ {
		v := vals[k*8 : k*8+8 : k*8+8]
		bits[k] = b2u(v[0]) | b2u(v[1])<<1 | b2u(v[2])<<2 | b2u(v[3])<<3 | b2u(v[4])<<4 | b2u(v[5])<<5 | b2u(v[6])<<6 | b2u(v[7])<<7
	}
	for i := full * 8; i < n; i++ {
		if vals[i] {
			bits[i>>3] |= 1 << (i & 7)
		}
	}
	var vb *memory.Buffer
	if nulls > 0 {
		vb = memory.NewBufferBytes(valid)
	}
	data := array.NewData(arrow.FixedWidthTypes.Boolean, n, []*memory.Buffer{vb, memory.NewBufferBytes(bits)}, nil, nulls, 0)
	defer data.Release()
	return array.MakeFromData(data)
}

func b2u(b bool) byte {
	if b {
		return 1
	}
	return 0
}

// mergeValidity returns the validity bitmap of rows valid in both a and b
// (either may be nil for a scalar), and the null count.
func mergeValidity(n int, a, b arrow.Array) ([]byte, int) {
	an := a != nil && a.NullN() > 0
	bn := b != nil && b.NullN() > 0
	if !an && !bn {
		return nil, 0
	}
	out := make([]byte, bitutil.BytesForBits(int64(n)))
	nulls := 0
	for i := 0; i < n; i++ {
		if (an && a.IsNull(i)) || (bn && b.IsNull(i)) {
			nulls++
			continue
		}
		out[i>>3] |= 1 << (i & 7)
	}
	return out, nulls
}

// validityOf copies the validity of a (offset-adjusted) or returns nil.
func validityOf(a arrow.Array) ([]byte, int) {
	if a == nil || a.NullN() == 0 {
		return nil, 0
	}
	n := a.Len()
	out := make([]byte, bitutil.BytesForBits(int64(n)))
	for i := 0; i < n; i++ {
		if a.IsValid(i) {
			out[i>>3] |= 1 << (i & 7)
		}
	}
	return out, a.NullN()
}

// Broadcast materialises a scalar as a column of n rows.
func Broadcast(mem memory.Allocator, t types.T, d types.Datum, n int) arrow.Array {
	b := types.NewBuilder(mem, t)
	defer b.Release()
	b.Reserve(n)
	for i := 0; i < n; i++ {
		types.AppendDatum(b, t, d)
	}
	return b.NewArray()
}

// ToArray returns v as a column of n rows (the caller releases it).
func ToArray(mem memory.Allocator, t types.T, v Value, n int) arrow.Array {
	if v.Arr != nil {
		v.Arr.Retain()
		return v.Arr
	}
	return Broadcast(mem, t, v.D, n)
}
