package planner

// Point reads of a materialized view: SELECT ... FROM v WHERE col = value
// looks the rows up in an index on col instead of copying every row of
// the view. An index is made the first time a query asks for one (from
// the rows there are then) and kept up to date with every change after;
// each row knows its place in each index, so taking it out costs O(1).

import (
	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/streamsql/streamsql/engine/exec"
	"github.com/streamsql/streamsql/engine/expr"
	"github.com/streamsql/streamsql/sqlerr"
	"github.com/streamsql/streamsql/types"
)

// maxViewIndexes bounds the columns a view keeps indexes on.
const maxViewIndexes = 4

// viewIndex maps the encoded value of one column to the rows holding it.
type viewIndex struct {
	col  int
	rows map[string][]*viewRow
}

func (f *viewFlow) indexKey(ix *viewIndex, vr *viewRow, buf []byte) []byte {
	return exec.AppendKey(buf[:0], f.outTs[ix.col], vr.d[ix.col])
}

// indexAddLocked puts a new row in every index; callers hold f.mu.
func (f *viewFlow) indexAddLocked(vr *viewRow) {
	if len(f.indexes) == 0 {
		return
	}
	vr.pos = make([]int32, len(f.indexes))
	for i, ix := range f.indexes {
		f.insertLocked(ix, i, vr)
	}
}

// insertLocked adds vr to index ix, the view's i-th.
func (f *viewFlow) insertLocked(ix *viewIndex, i int, vr *viewRow) {
	f.keyBuf = f.indexKey(ix, vr, f.keyBuf)
	l := ix.rows[string(f.keyBuf)]
	vr.pos[i] = int32(len(l))
	ix.rows[string(f.keyBuf)] = append(l, vr)
}

// indexRemoveLocked takes a row out of every index; callers hold f.mu.
func (f *viewFlow) indexRemoveLocked(vr *viewRow) {
	for i, ix := range f.indexes {
		f.keyBuf = f.indexKey(ix, vr, f.keyBuf)
		l := ix.rows[string(f.keyBuf)]
		at := vr.pos[i]
		last := l[len(l)-1]
		l[at], last.pos[i] = last, at
		l[len(l)-1] = nil
		if l = l[:len(l)-1]; len(l) == 0 {
			delete(ix.rows, string(f.keyBuf))
		} else {
			ix.rows[string(f.keyBuf)] = l
		}
	}
}

// indexOnLocked returns the index on col, making it from the view's rows
// when there is none (nil past maxViewIndexes); callers hold f.mu for
// writing.
func (f *viewFlow) indexOnLocked(col int) *viewIndex {
	for _, ix := range f.indexes {
		if ix.col == col {
			return ix
		}
	}
	if len(f.indexes) >= maxViewIndexes {
		return nil
	}
	ix := &viewIndex{col: col, rows: make(map[string][]*viewRow, len(f.rows))}
	f.indexes = append(f.indexes, ix)
	at := len(f.indexes) - 1
	for _, vr := range f.rows {
		vr.pos = append(vr.pos, 0)
		f.insertLocked(ix, at, vr)
	}
	return ix
}

// lookup returns the view's rows whose column col equals d (ok false when
// the view keeps no index on col and cannot make one).
func (f *viewFlow) lookup(mem memory.Allocator, col int, d types.Datum) (batches []arrow.RecordBatch, ok bool, err error) {
	f.mu.RLock()
	var ix *viewIndex
	for _, x := range f.indexes {
		if x.col == col {
			ix = x
		}
	}
	if ix == nil {
		// the first read by this column makes its index
		f.mu.RUnlock()
		f.mu.Lock()
		ix = f.indexOnLocked(col)
		f.mu.Unlock()
		if ix == nil {
			return nil, false, nil
		}
		f.mu.RLock()
	}
	defer f.mu.RUnlock()
	if f.err != nil {
		return nil, true, sqlerr.New(sqlerr.InternalError, "materialized view %q failed: %v", f.name, f.err)
	}
	if d.Null {
		return nil, true, nil // = NULL is never true
	}
	var rows [][]types.Datum
	for _, vr := range ix.rows[string(exec.AppendKey(nil, f.outTs[col], d))] {
		for i := int64(0); i < vr.n; i++ {
			rows = append(rows, vr.d)
		}
	}
	if len(rows) == 0 {
		return nil, true, nil
	}
	return []arrow.RecordBatch{expr.BatchFromRows(mem, f.outTs, rows)}, true, nil
}

// pointLookup finds in a filter over a view a column compared for
// equality with a value that depends on no column (a constant or a
// parameter) of the same type, or both integers: the column and the value
// to look up (ok false when there is none). The filter still runs over
// what the lookup returns.
func pointLookup(ctx *expr.Ctx, pred expr.Expr, ts []types.T) (col int, d types.Datum, ok bool) {
	var conj []expr.Expr
	if l, isAnd := pred.(*expr.Logic); isAnd && !l.Or {
		conj = l.Args
	} else {
		conj = []expr.Expr{pred}
	}
	for _, e := range conj {
		c, isCmp := e.(*expr.Compare)
		if !isCmp || c.Op != expr.EQ {
			continue
		}
		for _, pair := range [2][2]expr.Expr{{c.L, c.R}, {c.R, c.L}} {
			ref, isCol := pair[0].(*expr.Col)
			if !isCol || ref.Idx >= len(ts) || !readsNoColumn(pair[1]) {
				continue
			}
			ct, vt := ts[ref.Idx], pair[1].Type()
			if ct.Name == "bpchar" || vt.Name == "bpchar" {
				continue // blank-padded: equal values can differ in their bytes
			}
			if !(ct.Kind == vt.Kind && ct.Kind != types.Array) && !(ct.Kind.IsInteger() && vt.Kind.IsInteger()) {
				continue
			}
			v, err := expr.EvalRow(ctx, pair[1])
			if err != nil {
				continue // the filter reports it
			}
			return ref.Idx, v, true
		}
	}
	return 0, types.Datum{}, false
}

// readsNoColumn reports whether e reads no column.
func readsNoColumn(e expr.Expr) bool {
	reads := false
	return expr.Refs(e, func(int) { reads = true }) && !reads
}
