package dataflow

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"regexp"

	"github.com/streamsql/streamsql/engine/expr"
	"github.com/streamsql/streamsql/types"
)

// Checkpoints of operator state are incremental. An operator's state is
// a set of entries — a key and a value — and a checkpoint writes the
// entries that changed since the previous one (puts and deletes); a full
// checkpoint writes them all. The store keeps a full checkpoint and the
// deltas after it, and restores an operator from their merge: each key's
// latest value. So a checkpoint costs what changed, not the state's size.
//
// Each item of a large state (a group of an aggregate, a row a join or a
// view keeps, a row of a top-N) has an entry of its own, named by an id
// given when the item is made and never reused (entryIDs). Operators
// whose state is small or bounded by the watermark (window assignment,
// late-row filters, sessions, as-of joins, rows held for EMIT ON WINDOW
// CLOSE) write one entry, their whole snapshot, at every checkpoint.

// StateWriter takes an operator's changed entries for a checkpoint.
type StateWriter interface {
	Put(key, value []byte)
	Delete(key []byte)
}

// Entry is one entry of an operator's checkpointed state.
type Entry struct{ Key, Value []byte }

// IncrementalState is an operator whose checkpoints are incremental.
type IncrementalState interface {
	// CheckpointState writes the entries that changed since the last
	// call (every entry when full) and starts tracking changes afresh.
	// It runs between steps.
	CheckpointState(w StateWriter, full bool) error
	// RestoreState replaces the operator's state with the one entries
	// make (each key once, with its latest value; in any order).
	RestoreState(ctx *expr.Ctx, entries []Entry) error
}

var (
	_ IncrementalState = (*IncAgg)(nil)
	_ IncrementalState = (*ParallelAgg)(nil)
	_ IncrementalState = (*Join)(nil)
	_ IncrementalState = (*TopN)(nil)
)

// entryIDs names the items of an operator's state, by slot, for
// checkpoints, and tracks which changed since the last one.
type entryIDs struct {
	prefix uint64   // high bits of every id given (a worker's number)
	next   uint64   // the last id given (without prefix)
	id     []uint64 // by slot: the id of the item it holds
	saved  []bool   // by slot: the item's entry is in the checkpoints
	dirty  []bool   // by slot: changed since the last checkpoint
	list   []int32  // the dirty slots
	gone   []uint64 // ids of saved items removed since
	buf    entryBuf
}

// entryBuf holds an entry's key and value as they are written, reused
// from entry to entry (a StateWriter copies what it is given).
type entryBuf struct {
	sw  snapWriter
	key []byte
}

// value starts an entry's value.
func (b *entryBuf) value() *snapWriter {
	b.sw.buf, b.sw.err = b.sw.buf[:0], nil
	return &b.sw
}

// keyOf is the key of item id's entry.
func (b *entryBuf) keyOf(id uint64) []byte {
	b.key = binary.BigEndian.AppendUint64(b.key[:0], id)
	return b.key
}

const idPrefixShift = 48

func (e *entryIDs) grow(slot int32) {
	if n := int(slot) + 1; n > len(e.id) {
		n = max(n, 2*len(e.id))
		e.id, e.saved, e.dirty = growTo(e.id, n), growTo(e.saved, n), growTo(e.dirty, n)
	}
}

// born gives the item now in slot a new id.
func (e *entryIDs) born(slot int32) {
	e.grow(slot)
	e.next++
	e.id[slot], e.saved[slot] = e.prefix|e.next, false
	e.touch(slot)
}

// touch marks the item in slot changed.
func (e *entryIDs) touch(slot int32) {
	if !e.dirty[slot] {
		e.dirty[slot] = true
		e.list = append(e.list, slot)
	}
}

// died notes that the item in slot is gone.
func (e *entryIDs) died(slot int32) {
	if e.saved[slot] {
		e.gone = append(e.gone, e.id[slot])
		e.saved[slot] = false
	}
}

// restored puts item id back in slot, as in the checkpoints.
func (e *entryIDs) restored(slot int32, id uint64) {
	e.grow(slot)
	e.id[slot], e.saved[slot] = id, true
	e.next = max(e.next, id&(1<<idPrefixShift-1))
}

// flush writes the changed entries — value(slot) for each dirty slot still
// live, a delete for each saved item gone — or, when full, every live
// slot of n; then nothing is dirty. value writes into a buffer flush
// reuses (the writer copies what it is given).
func (e *entryIDs) flush(w StateWriter, full bool, n int32, live func(slot int32) bool, value func(slot int32, sw *snapWriter)) error {
	put := func(slot int32) error {
		sw := e.buf.value()
		if value(slot, sw); sw.err != nil {
			return sw.err
		}
		w.Put(e.buf.keyOf(e.id[slot]), sw.buf)
		e.saved[slot] = true
		return nil
	}
	if full {
		for slot := int32(0); slot < n; slot++ {
			if live(slot) {
				if err := put(slot); err != nil {
					return err
				}
			}
		}
	} else {
		for _, id := range e.gone {
			w.Delete(e.buf.keyOf(id))
		}
		for _, slot := range e.list {
			if live(slot) {
				if err := put(slot); err != nil {
					return err
				}
			}
		}
	}
	for _, slot := range e.list {
		e.dirty[slot] = false
	}
	e.list, e.gone = e.list[:0], e.gone[:0]
	return nil
}

// entryID reads an item's id from its entry's key (false: not an item's).
func entryID(key []byte) (uint64, bool) {
	if len(key) != 8 {
		return 0, false
	}
	return binary.BigEndian.Uint64(key), true
}

// blobKey names the single entry of an operator checkpointed whole.
var blobKey = []byte("snapshot")

// CheckpointOperator writes op's state into w: its changed entries when
// it checkpoints incrementally, its whole snapshot as one entry when it
// is Stateful, nothing when it is stateless. It reports whether op holds
// state.
func CheckpointOperator(op any, w StateWriter, full bool) (bool, error) {
	switch x := op.(type) {
	case IncrementalState:
		return true, x.CheckpointState(w, full)
	case Stateful:
		b, err := x.Snapshot()
		if err != nil {
			return true, err
		}
		w.Put(blobKey, b)
		return true, nil
	case stateless, nil:
		return false, nil
	}
	return false, fmt.Errorf("dataflow: %T cannot be checkpointed", op)
}

// RestoreOperator puts the state entries make back into op.
func RestoreOperator(ctx *expr.Ctx, op any, entries []Entry) error {
	if x, ok := op.(IncrementalState); ok {
		return x.RestoreState(ctx, entries)
	}
	var blob []byte
	for _, e := range entries {
		if string(e.Key) == string(blobKey) {
			blob = e.Value
		}
	}
	if blob == nil {
		return nil // (nothing was written: a stateless operator)
	}
	var err error
	switch x := op.(type) {
	case *SessionAgg:
		err = x.Restore(ctx, blob)
	case interface{ Restore([]byte) error }:
		err = x.Restore(blob)
	default:
		err = fmt.Errorf("dataflow: %T cannot be restored", op)
	}
	return err
}

// WatermarkState is the graph's own state a checkpoint keeps: the
// sources' watermarks and where each watermark hook last fired.
func (g *Graph) WatermarkState() []byte {
	w := &snapWriter{}
	g.writeWatermarks(w)
	return w.buf
}

// RestoreWatermarkState puts what WatermarkState wrote back.
func (g *Graph) RestoreWatermarkState(p []byte) error {
	r := &snapReader{p: p}
	if err := g.readWatermarks(r); err != nil {
		return err
	}
	return r.done("the graph's watermarks")
}

func (g *Graph) writeWatermarks(w *snapWriter) {
	w.count(len(g.srcWM))
	for i := range g.srcWM {
		w.row(tInts2, types.DInt(g.srcWM[i]), types.DBool(g.srcHas[i]))
	}
	w.count(len(g.onWM))
	for _, h := range g.onWM {
		w.row(tInts2, types.DInt(h.last), types.DBool(h.has))
	}
}

func (g *Graph) readWatermarks(r *snapReader) error {
	if n := r.count(); r.err == nil && n != len(g.srcWM) {
		return fmt.Errorf("dataflow: watermarks of %d sources cannot restore %d", n, len(g.srcWM))
	}
	for i := range g.srcWM {
		row := r.row(tInts2)
		g.srcWM[i], g.srcHas[i] = row[0].I, row[1].I != 0
	}
	if n := r.count(); r.err == nil && n != len(g.onWM) {
		return fmt.Errorf("dataflow: %d watermark hooks cannot restore %d", n, len(g.onWM))
	}
	for i := range g.onWM {
		row := r.row(tInts2)
		g.onWM[i].last, g.onWM[i].has = row[0].I, row[1].I != 0
	}
	return r.err
}

// Nodes is the number of nodes.
func (g *Graph) Nodes() int { return len(g.nodes) }

// Operator is node n's operator (nil for a source or a union).
func (g *Graph) Operator(n int) any { return g.nodes[n].operator() }

// parallelism in a node's label, which a checkpoint does not depend on
var parallelismNote = regexp.MustCompile(`parallelism=\d+( \(keys hashed to workers\))?`)

// Signature identifies the graph's shape: its nodes, their operators and
// edges. A checkpoint restores only into a graph of the same signature
// (the parallelism of its aggregates aside: they restore with any).
func (g *Graph) Signature() string {
	h := sha256.New()
	for id, n := range g.nodes {
		typ := fmt.Sprintf("%T", n.operator())
		if typ == "*dataflow.ParallelAgg" {
			typ = "*dataflow.IncAgg" // (their checkpoints are alike)
		}
		fmt.Fprintf(h, "%d %d %s %s", id, n.kind, typ, parallelismNote.ReplaceAllString(n.label, ""))
		for _, c := range n.consumers {
			fmt.Fprintf(h, " ->%d.%d", c.node, c.side)
		}
		fmt.Fprintln(h)
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}
