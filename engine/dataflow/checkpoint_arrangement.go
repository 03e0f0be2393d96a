package dataflow

import (
	"fmt"

	"github.com/streamsql/streamsql/engine/expr"
	"github.com/streamsql/streamsql/types"
)

// Incremental checkpoints of a view's rows: an entry per distinct row,
// its values and its count.

var _ IncrementalState = (*Arrangement)(nil)

// CheckpointState writes the rows changed since the last checkpoint.
func (a *Arrangement) CheckpointState(w StateWriter, full bool) error {
	return a.ck.flush(w, full, a.meta.len(), func(slot int32) bool {
		m := a.meta.at(slot)
		return m.used && m.n != 0
	}, func(slot int32, sw *snapWriter) {
		sw.stored(a.ts, a.store, slot)
		sw.row(tInt, types.DInt(a.meta.at(slot).n))
	})
}

// RestoreState replaces the rows with those of the entries.
func (a *Arrangement) RestoreState(ctx *expr.Ctx, entries []Entry) error {
	fresh := NewArrangement(a.ts)
	rowTs := append(append([]types.T{}, a.ts...), types.TInt64)
	rows := make([][]types.Datum, 0, len(entries))
	counts := make([]int64, 0, len(entries))
	ids := make([]uint64, 0, len(entries))
	for _, e := range entries {
		id, ok := entryID(e.Key)
		if !ok {
			return fmt.Errorf("dataflow: restoring a view's rows: unknown entry %q", e.Key)
		}
		r := &snapReader{p: e.Value}
		row := r.row(rowTs)
		if err := r.done("a view's row"); err != nil {
			return err
		}
		rows, counts, ids = append(rows, row[:len(a.ts)]), append(counts, row[len(a.ts)].I), append(ids, id)
	}
	for at := 0; at < len(rows); at += snapshotChunk {
		end := min(at+snapshotChunk, len(rows))
		b := expr.BatchFromRows(ctx.Mem, a.ts, rows[at:end])
		fresh.Apply(b, counts[at:end], false)
		hs := fresh.hashRows(b)
		mask := uint64(len(fresh.heads) - 1)
		for r := range end - at {
			fresh.ck.restored(fresh.find(hs[r], mask, b, r), ids[at+r])
		}
		b.Release()
	}
	for _, slot := range fresh.ck.list {
		fresh.ck.dirty[slot] = false
	}
	fresh.ck.list = fresh.ck.list[:0]
	fresh.indexes = nil
	idx := a.indexes
	*a = *fresh
	for _, ix := range idx {
		a.AddIndex(ix.col)
	}
	return nil
}
