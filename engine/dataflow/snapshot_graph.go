package dataflow

import (
	"fmt"
	"maps"
	"slices"

	"github.com/streamsql/streamsql/engine/exec"
	"github.com/streamsql/streamsql/engine/expr"
	"github.com/streamsql/streamsql/types"
)

// Snapshots of the graph operators not in snapshot.go, and of a whole
// graph: every stateful operator's state, the sources' watermarks and
// where each watermark hook last fired. A graph built the same way and
// restored from a snapshot, given the same input as the original after
// the snapshot, produces the same output.

var (
	_ Stateful = (*DropClosed)(nil)
	_ Stateful = (*Windows)(nil)
	_ Stateful = (*EmitOnClose)(nil)
	_ Stateful = (*AsOfJoin)(nil)
)

// Snapshot writes the bound and the late count.
func (d *DropClosed) Snapshot() ([]byte, error) {
	w := &snapWriter{}
	w.row([]types.T{types.TInt64, types.TBool, types.TInt64}, types.DInt(d.below), types.DBool(d.closed), types.DInt(d.late))
	return w.buf, w.err
}

// Restore reads what Snapshot wrote.
func (d *DropClosed) Restore(p []byte) error {
	r := &snapReader{p: p}
	row := r.row([]types.T{types.TInt64, types.TBool, types.TInt64})
	d.below, d.closed, d.late = row[0].I, row[1].I != 0, row[2].I
	return r.done("a late-row filter")
}

// Snapshot writes which windows are closed and the late count.
func (w *Windows) Snapshot() ([]byte, error) {
	sw := &snapWriter{}
	sw.row([]types.T{types.TInt64, types.TBool, types.TInt64}, types.DInt(w.Spec.ClosedBefore), types.DBool(w.Spec.HasClosed), types.DInt(w.late))
	return sw.buf, sw.err
}

// Restore reads what Snapshot wrote.
func (w *Windows) Restore(p []byte) error {
	r := &snapReader{p: p}
	row := r.row([]types.T{types.TInt64, types.TBool, types.TInt64})
	w.Spec.ClosedBefore, w.Spec.HasClosed, w.late = row[0].I, row[1].I != 0, row[2].I
	return r.done("a window assignment")
}

// Snapshot writes the rows held back, with their counts, by encoding.
func (e *EmitOnClose) Snapshot() ([]byte, error) {
	w := &snapWriter{}
	keys := slices.Sorted(maps.Keys(e.held))
	ts := append(append([]types.T{}, e.Types...), types.TInt64)
	w.count(len(keys))
	for _, k := range keys {
		h := e.held[k]
		w.row(ts, append(append([]types.Datum{}, h.row...), types.DInt(h.n))...)
	}
	return w.buf, w.err
}

// Restore reads what Snapshot wrote.
func (e *EmitOnClose) Restore(p []byte) error {
	r := &snapReader{p: p}
	ts := append(append([]types.T{}, e.Types...), types.TInt64)
	e.held = map[string]*heldRow{}
	for n := r.count(); n > 0 && r.err == nil; n-- {
		row := r.row(ts)
		var buf []byte
		for c, t := range e.Types {
			buf = exec.AppendKey(buf, t, row[c])
		}
		e.held[string(buf)] = &heldRow{row: row[:len(e.Types)], n: row[len(e.Types)].I}
	}
	return r.done("rows held for their window to close")
}

// Snapshot writes each key's rows of both sides with their counts, keys
// and rows in a fixed order.
func (j *AsOfJoin) Snapshot() ([]byte, error) {
	w := &snapWriter{}
	keys := slices.Sorted(maps.Keys(j.keys))
	w.count(len(keys))
	for _, key := range keys {
		k := j.keys[key]
		w.row([]types.T{types.TBytea}, types.DText(key))
		for side, rows := range [2][]*asofRow{k.left, k.right} {
			ts := append(append([]types.T{}, j.Types[side]...), types.TInt64)
			w.count(len(rows))
			for _, x := range rows {
				w.row(ts, append(append([]types.Datum{}, x.d...), types.DInt(x.n))...)
			}
		}
	}
	return w.buf, w.err
}

// Restore rebuilds both sides and each left row's current output.
func (j *AsOfJoin) Restore(p []byte) error {
	r := &snapReader{p: p}
	j.keys, j.rows = map[string]*asofKey{}, [2]int{}
	for n := r.count(); n > 0 && r.err == nil; n-- {
		key := r.row([]types.T{types.TBytea})[0].S
		k := &asofKey{}
		for side := range 2 {
			ts := append(append([]types.T{}, j.Types[side]...), types.TInt64)
			for m := r.count(); m > 0 && r.err == nil; m-- {
				row := r.row(ts)
				d := row[:len(j.Types[side])]
				var buf []byte
				for c, t := range j.Types[side] {
					buf = exec.AppendKey(buf, t, d[c])
				}
				x := &asofRow{d: d, enc: string(buf), ts: d[j.TimeCol[side]].I, n: row[len(d)].I}
				if side == Left {
					k.left = append(k.left, x)
				} else {
					k.right = append(k.right, x)
				}
				j.rows[side]++
			}
		}
		for _, l := range k.left {
			l.out = j.output(k, l)
		}
		j.keys[key] = k
	}
	return r.done("an as-of join")
}

// done reports a snapshot with bytes left over, or that failed to decode.
func (r *snapReader) done(what string) error {
	if r.err == nil && len(r.p) != 0 {
		r.err = errSnapshot
	}
	if r.err != nil {
		return fmt.Errorf("dataflow: restoring %s: %w", what, r.err)
	}
	return nil
}

// Snapshot takes the state of every stateful operator of the graph (in
// node order), the sources' watermarks and where each watermark hook last
// fired. An operator that cannot snapshot its state makes it an error.
func (g *Graph) Snapshot() ([]byte, error) {
	w := &snapWriter{}
	w.count(len(g.nodes))
	for id, n := range g.nodes {
		var op any = n.op
		if n.kind == gBinary {
			op = n.bin
		}
		if n.kind == gSource || n.kind == gUnion || op == nil {
			w.row([]types.T{types.TBytea}, types.NullDatum)
			continue
		}
		s, ok := op.(Stateful)
		if !ok {
			if _, stateless := op.(stateless); stateless {
				w.row([]types.T{types.TBytea}, types.NullDatum)
				continue
			}
			return nil, fmt.Errorf("dataflow: node %d (%s) cannot take a snapshot of its state", id, n.label)
		}
		b, err := s.Snapshot()
		if err != nil {
			return nil, err
		}
		w.row([]types.T{types.TBytea}, types.DText(string(b)))
	}
	g.writeWatermarks(w)
	return w.buf, w.err
}

// Restore puts a snapshot taken of a graph built the same way into g.
func (g *Graph) Restore(ctx *expr.Ctx, p []byte) error {
	r := &snapReader{p: p}
	if n := r.count(); r.err == nil && n != len(g.nodes) {
		return fmt.Errorf("dataflow: a snapshot of a graph of %d nodes cannot restore one of %d", n, len(g.nodes))
	}
	for id, n := range g.nodes {
		blob := r.row([]types.T{types.TBytea})[0]
		if r.err != nil || blob.Null {
			continue
		}
		var op any = n.op
		if n.kind == gBinary {
			op = n.bin
		}
		var err error
		switch x := op.(type) {
		case *IncAgg:
			err = x.Restore(ctx, []byte(blob.S))
		case *SessionAgg:
			err = x.Restore(ctx, []byte(blob.S))
		case *ParallelAgg:
			err = x.Restore(ctx, []byte(blob.S))
		case interface{ Restore([]byte) error }:
			err = x.Restore([]byte(blob.S))
		default:
			err = fmt.Errorf("dataflow: node %d (%s) cannot be restored", id, n.label)
		}
		if err != nil {
			return err
		}
	}
	if err := g.readWatermarks(r); err != nil {
		return err
	}
	return r.done("a dataflow graph")
}

// stateless operators hold nothing a snapshot must keep.
type stateless interface{ stateless() }

func (*Filter) stateless()  {}
func (*Project) stateless() {}
func (*SetOp) stateless()   {}
