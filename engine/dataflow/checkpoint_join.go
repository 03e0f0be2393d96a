package dataflow

import (
	"context"
	"fmt"

	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/streamsql/streamsql/engine/expr"
	"github.com/streamsql/streamsql/types"
)

// Incremental checkpoints of joins: an entry per kept row (its side
// first in the key: its values, multiplicity and match count), and one
// for each side's expiry limit.

var joinLimitsKey = []byte("limits")

// sideWriter prefixes a side's keys with its number.
type sideWriter struct {
	w    StateWriter
	side byte
	key  []byte
}

func (s *sideWriter) Put(key, value []byte) {
	s.key = append(append(s.key[:0], s.side), key...)
	s.w.Put(s.key, value)
}

func (s *sideWriter) Delete(key []byte) {
	s.key = append(append(s.key[:0], s.side), key...)
	s.w.Delete(s.key)
}

// CheckpointState writes the rows each side kept, lost or changed since
// the last checkpoint.
func (j *Join) CheckpointState(w StateWriter, full bool) error {
	for side, s := range j.sides {
		err := s.ck.flush(&sideWriter{w: w, side: byte(side)}, full, s.store.n, func(slot int32) bool {
			return slot < s.meta.len() && s.meta.at(slot).n > 0
		}, func(slot int32, sw *snapWriter) {
			sm := s.meta.at(slot)
			sw.stored(j.Types[side], s.store, slot)
			sw.row(tInts2, types.DInt(sm.n), types.DInt(sm.matches))
		})
		if err != nil {
			return err
		}
	}
	sw := &snapWriter{}
	for side := range 2 {
		sw.row(tInts2, types.DInt(j.limit[side]), types.DBool(j.hasLimit[side]))
	}
	w.Put(joinLimitsKey, sw.buf)
	return sw.err
}

// RestoreState rebuilds both sides from their entries.
func (j *Join) RestoreState(_ *expr.Ctx, entries []Entry) error {
	type kept struct {
		rows        [][]types.Datum
		ns, matches []int64
		ids         []uint64
	}
	var sides [2]kept
	for _, e := range entries {
		if string(e.Key) == string(joinLimitsKey) {
			r := &snapReader{p: e.Value}
			for side := range 2 {
				row := r.row(tInts2)
				j.limit[side], j.hasLimit[side] = row[0].I, row[1].I != 0
			}
			if err := r.done("a join's limits"); err != nil {
				return err
			}
			continue
		}
		if len(e.Key) != 9 || e.Key[0] > 1 {
			return fmt.Errorf("dataflow: restoring a join: unknown entry %q", e.Key)
		}
		side := int(e.Key[0])
		id, _ := entryID(e.Key[1:])
		rowTs := append(append([]types.T{}, j.Types[side]...), types.TInt64, types.TInt64)
		r := &snapReader{p: e.Value}
		row := r.row(rowTs)
		if err := r.done("a join's row"); err != nil {
			return err
		}
		k := &sides[side]
		d := row[:len(j.Types[side])]
		k.rows, k.ns, k.matches, k.ids = append(k.rows, d), append(k.ns, row[len(d)].I), append(k.matches, row[len(d)+1].I), append(k.ids, id)
	}
	for side, s := range j.sides {
		_, ints := s.tbl.(*datumTable)
		fresh := newJoinSide(j.Types[side], s.keyTs, !ints, s.outer)
		fresh.tsCol = s.tsCol
		j.sides[side] = fresh
		k := sides[side]
		if len(k.rows) == 0 {
			continue
		}
		ctx := &expr.Ctx{Go: context.Background(), Mem: memory.DefaultAllocator}
		b := expr.BatchFromRows(ctx.Mem, j.Types[side], k.rows)
		ks, err := j.keys(ctx, side, b)
		if err != nil {
			b.Release()
			return err
		}
		slots, err := j.store(side, ks, b, &Msg{Kind: MsgData, Batch: b, Weights: k.ns}, k.matches)
		releaseValues(ks.vals)
		b.Release()
		if err != nil {
			return err
		}
		for i, slot := range slots {
			fresh.ck.restored(slot, k.ids[i])
		}
		for _, slot := range fresh.ck.list {
			fresh.ck.dirty[slot] = false
		}
		fresh.ck.list = fresh.ck.list[:0]
	}
	return nil
}
