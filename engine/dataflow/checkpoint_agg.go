package dataflow

import (
	"fmt"

	"github.com/streamsql/streamsql/engine/expr"
	"github.com/streamsql/streamsql/types"
)

// Incremental checkpoints of aggregates: an entry per group (its key
// values, row count, last emitted row and each aggregate's state), and a
// meta entry (a global aggregate's row over no input).

var aggMetaKey = []byte("meta")

// CheckpointState writes the groups changed since the last checkpoint.
func (a *IncAgg) CheckpointState(w StateWriter, full bool) error {
	err := a.ck.flush(w, full, int32(len(a.alive)), func(g int32) bool { return a.alive[g] }, a.saveGroup)
	if err != nil {
		return err
	}
	if len(a.Keys) == 0 {
		sw := &snapWriter{}
		sw.row([]types.T{types.TBool}, types.DBool(a.emptyOut))
		w.Put(aggMetaKey, sw.buf)
	}
	return nil
}

// saveGroup writes group g: key, row count, last emitted row, and each
// aggregate's state (as Snapshot does for every group).
func (a *IncAgg) saveGroup(g int32, w *snapWriter) {
	w.stored(a.keyTypes, a.keyVals, g)
	hasLast := int64(0)
	if a.hasLast[g] {
		hasLast = 1
	}
	w.row(tInts2, types.DInt(a.rows[g]), types.DInt(hasLast))
	if a.hasLast[g] {
		w.stored(a.outTypes, a.last, g)
	}
	for _, acc := range a.accs {
		acc.(snapshotter).save(w, g)
	}
}

// loadGroup reads a group saveGroup wrote and makes it; it returns its id.
func (a *IncAgg) loadGroup(r *snapReader) (int32, error) {
	key := r.row(a.keyTypes)
	meta := r.row(tInts2)
	var last []types.Datum
	if meta[1].I == 1 {
		last = r.row(a.outTypes)
	}
	if r.err != nil {
		return 0, r.err
	}
	vals := make([]expr.Value, len(key))
	for c, d := range key {
		vals[c] = expr.Value{D: d}
	}
	var gids [1]int32
	a.tab.assign(vals, 1, gids[:], func(g int32, row int) { a.added(g, vals, row) })
	g := gids[0]
	a.rows[g] = meta[0].I
	if last != nil {
		for ci, d := range last {
			a.last.setDatum(ci, g, d)
		}
		a.hasLast[g] = true
	}
	for _, acc := range a.accs {
		acc.(snapshotter).load(r, g)
	}
	return g, r.err
}

// RestoreState rebuilds the aggregate from its checkpoint's entries.
func (a *IncAgg) RestoreState(ctx *expr.Ctx, entries []Entry) error {
	fresh, err := NewIncAgg(a.Keys, a.Aggs, a.opts)
	if err != nil {
		return err
	}
	fresh.Input, fresh.ck.prefix = a.Input, a.ck.prefix
	*a = *fresh
	for _, e := range entries {
		if string(e.Key) == string(aggMetaKey) {
			r := &snapReader{p: e.Value}
			a.emptyOut = r.row([]types.T{types.TBool})[0].I != 0
			if err := r.done("an aggregate's meta entry"); err != nil {
				return err
			}
			continue
		}
		id, ok := entryID(e.Key)
		if !ok {
			return fmt.Errorf("dataflow: restoring an aggregate: unknown entry %q", e.Key)
		}
		r := &snapReader{p: e.Value}
		g, err := a.loadGroup(r)
		if err == nil {
			err = r.done("an aggregate's group")
		}
		if err != nil {
			return err
		}
		a.ck.restored(g, id)
	}
	// (every group made is dirty: none is, it is as checkpointed)
	for _, g := range a.ck.list {
		a.ck.dirty[g] = false
	}
	a.ck.list = a.ck.list[:0]
	return nil
}

// CheckpointState writes every worker's changed groups: the workers are
// between steps, and each in turn writes into w (its own while the
// caller waits for its reply).
func (p *ParallelAgg) CheckpointState(w StateWriter, full bool) error {
	p.start()
	for _, wk := range p.workers {
		reply := make(chan aggResult, 1)
		wk.in <- aggWork{kind: workCheckpoint, full: full, w: w, reply: reply}
		if res := <-reply; res.err != nil {
			return res.err
		}
	}
	return nil
}

// RestoreState hands each group to the worker its key hashes to: a
// checkpoint taken with any number of workers restores with any other.
func (p *ParallelAgg) RestoreState(ctx *expr.Ctx, entries []Entry) error {
	p.start()
	parts := make([][]Entry, len(p.workers))
	proto := p.workers[0].agg
	hs := make([]uint64, 1)
	for _, e := range entries {
		if _, ok := entryID(e.Key); !ok {
			return fmt.Errorf("dataflow: restoring an aggregate: unknown entry %q", e.Key)
		}
		r := &snapReader{p: e.Value}
		key := r.row(proto.keyTypes)
		if r.err != nil {
			return fmt.Errorf("dataflow: restoring an aggregate: %w", r.err)
		}
		hs[0] = 0
		for i, d := range key {
			p.hashColumn(hs, expr.Value{D: d}, p.keyTypes[i])
		}
		w := int(hs[0] % uint64(len(p.workers)))
		parts[w] = append(parts[w], e)
	}
	for i, wk := range p.workers {
		reply := make(chan aggResult, 1)
		wk.in <- aggWork{kind: workRestoreEntries, ctx: *ctx, entries: parts[i], reply: reply}
		if res := <-reply; res.err != nil {
			return res.err
		}
	}
	// a worker's new groups get ids above every id restored, whichever
	// worker had it
	var top uint64
	for _, wk := range p.workers {
		top = max(top, wk.agg.ck.next)
	}
	for _, wk := range p.workers {
		wk.agg.ck.next = top
	}
	return nil
}
