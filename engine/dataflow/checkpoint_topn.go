package dataflow

import (
	"encoding/binary"
	"fmt"
	"slices"

	"github.com/streamsql/streamsql/engine/exec"
	"github.com/streamsql/streamsql/engine/expr"
	"github.com/streamsql/streamsql/types"
)

// Incremental checkpoints of top-N: an entry per row kept (its
// partition's key and window, its values, ORDER BY values and count); a
// partition's top rows are recomputed from its rows on restore.

func (t *TopN) born(x *topRow) {
	t.ckNext++
	x.id = t.ckNext
	t.touch(x)
}

// untrack stops tracking changes (the state is derived: see
// checkpoint_derived.go).
func (t *TopN) untrack() {
	t.ckOff = true
	for _, x := range t.ckDirty {
		x.dirty = false
	}
	t.ckDirty, t.ckGone, t.ckDirtyDead = nil, nil, 0
}

func (t *TopN) touch(x *topRow) {
	if !x.dirty && !t.ckOff {
		x.dirty = true
		t.ckDirty = append(t.ckDirty, x)
	}
}

func (t *TopN) died(x *topRow) {
	if x.saved && !t.ckOff {
		t.ckGone = append(t.ckGone, x.id)
		x.saved = false
	}
	if x.dirty {
		// the changed rows that died stay listed until the next
		// checkpoint; when they are most of the list, it drops them (so
		// that without checkpoints the list does not keep every row
		// that ever died)
		if t.ckDirtyDead++; t.ckDirtyDead > 1024 && 2*t.ckDirtyDead > len(t.ckDirty) {
			t.ckDirty = slices.DeleteFunc(t.ckDirty, func(x *topRow) bool { return x.dead })
			t.ckDirtyDead = 0
		}
	}
}

// rowTypes are the types of a row's entry: the input's columns, the
// ORDER BY values, the count.
func (t *TopN) rowTypes() []types.T {
	ts := append([]types.T{}, t.InTypes...)
	for _, k := range t.Order {
		ts = append(ts, k.E.Type())
	}
	return append(ts, types.TInt64)
}

var tInt64Bool = []types.T{types.TInt64, types.TBool}

// CheckpointState writes the rows kept, changed or gone since the last
// checkpoint.
func (t *TopN) CheckpointState(w StateWriter, full bool) error {
	rowTs := t.rowTypes()
	inTs, orderTs := rowTs[:len(t.InTypes)], rowTs[len(t.InTypes):len(rowTs)-1]
	put := func(x *topRow) error {
		p := x.part
		sw := t.ckBuf.value()
		sw.buf = binary.AppendUvarint(sw.buf, uint64(len(p.key)))
		sw.buf = append(sw.buf, p.key...)
		sw.row(tInt64Bool, types.DInt(p.window.I), types.DBool(p.window.Null))
		// (a row's encoding is its columns', one after the other)
		sw.row(inTs, x.d...)
		sw.row(orderTs, x.keys...)
		sw.row(tInt, types.DInt(x.n))
		if sw.err != nil {
			return sw.err
		}
		w.Put(t.ckBuf.keyOf(x.id), sw.buf)
		x.saved = true
		return nil
	}
	if full {
		for _, p := range t.parts {
			for _, x := range p.rows {
				if err := put(x); err != nil {
					return err
				}
			}
		}
	} else {
		for _, id := range t.ckGone {
			w.Delete(t.ckBuf.keyOf(id))
		}
		for _, x := range t.ckDirty {
			if !x.dead && x.n > 0 {
				if err := put(x); err != nil {
					return err
				}
			}
		}
	}
	for _, x := range t.ckDirty {
		x.dirty = false
	}
	t.ckDirty, t.ckGone, t.ckDirtyDead = t.ckDirty[:0], t.ckGone[:0], 0
	return nil
}

// RestoreState rebuilds the partitions from their rows, and each one's
// top N from them.
func (t *TopN) RestoreState(_ *expr.Ctx, entries []Entry) error {
	rowTs := t.rowTypes()
	t.parts, t.last, t.ckDirty, t.ckGone = map[string]*topPart{}, nil, nil, nil
	for _, e := range entries {
		id, ok := entryID(e.Key)
		if !ok {
			return fmt.Errorf("dataflow: restoring a top-N: unknown entry %q", e.Key)
		}
		r := &snapReader{p: e.Value}
		n := r.count()
		if n > len(r.p) {
			return fmt.Errorf("dataflow: restoring a top-N: %w", errSnapshot)
		}
		pk := string(r.p[:n])
		r.p = r.p[n:]
		win := r.row(tInt64Bool)
		row := r.row(rowTs)
		if err := r.done("a top-N's row"); err != nil {
			return err
		}
		p := t.parts[pk]
		if p == nil {
			p = &topPart{rows: map[string]*topRow{}, key: pk, window: types.Datum{I: win[0].I, Null: win[1].I != 0}}
			t.parts[pk] = p
		}
		d := row[:len(t.InTypes)]
		buf := []byte(pk) // row keys extend the partition key, as in Process
		for c, v := range d {
			buf = exec.AppendKey(buf, t.InTypes[c], v)
		}
		x := &topRow{d: d, keys: row[len(t.InTypes) : len(row)-1], n: row[len(row)-1].I, enc: string(buf), part: p, id: id, saved: true}
		t.setKey(x)
		p.rows[x.enc] = x
		t.push(p, x)
		t.ckNext = max(t.ckNext, id)
	}
	for _, p := range t.parts {
		p.top, p.worst = t.top(p)
	}
	return nil
}
