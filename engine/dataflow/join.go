package dataflow

import (
	"context"
	"math"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/streamsql/streamsql/engine/exec"
	"github.com/streamsql/streamsql/engine/expr"
	"github.com/streamsql/streamsql/sqlerr"
	"github.com/streamsql/streamsql/types"
)

// Join maintains an equi-join of two changelogs incrementally (the
// symmetric hash join of differential dataflow): each side keeps its rows
// indexed by join key; a change on one side is joined with the other
// side's current rows, so Δ(L ⋈ R) = ΔL ⋈ R + L' ⋈ ΔR, retractions
// included. For outer joins every kept row counts its matches on the
// other side: a row whose count goes to zero gets its NULL-padded row
// back, one whose count leaves zero retracts it — so a late match turns a
// padded row into a joined one. Rows with a NULL key never match.
//
// It works a batch at a time and column by column: a side's rows live in
// a colStore (typed columns, numbered slots), the key index maps a key to
// a chain of slots, a batch's probe yields (delta row, other slot) pairs,
// and the output columns are gathered by those indices — no row is
// materialized as Datums on the way.
type Join struct {
	Kind     exec.JoinKind // InnerJoin, LeftJoin, RightJoin or FullJoin
	Keys     [2][]expr.Expr
	Residual expr.Expr // over left ++ right columns; nil: none
	Types    [2][]types.T
	// Cols describe each side's columns, for reports of rows an
	// expression failed on (optional).
	Cols     [2]expr.Columns
	outTypes []types.T
	sides    [2]*joinSide
	buf      []byte
	ibuf     []int64
	// Lookup makes side Lookup-1's rows look up the other side (a table)
	// as it is when they arrive: they are not kept, and changes of the
	// table side change no output (history is not revised). Set with
	// SetLookup.
	lookup     bool
	lookupSide int
	// the expiry limit each side had last (ExpireBelow): rows arriving
	// later on that side are expired against it once joined, so a side
	// fed after the other's watermark stopped moving stays small too
	limit    [2]int64
	hasLimit [2]bool
}

// SetLookup turns the join into a lookup join: rows of the other side are
// joined with tableSide's rows as they are at that moment and not kept;
// changes to tableSide only update it. The table side cannot be outer.
func (j *Join) SetLookup(tableSide int) error {
	if j.sides[tableSide].outer {
		return sqlerr.Unsupported("a lookup join keeps no rows to revise: the table side cannot be outer (use LEFT JOIN with the stream on the left)")
	}
	j.lookup, j.lookupSide = true, tableSide
	return nil
}

// SetTimeColumn makes side's rows expirable by their column col (a
// timestamp): ExpireBelow drops them in time order. Call before any row.
func (j *Join) SetTimeColumn(side, col int) { j.sides[side].tsCol = col }

// joinSide is one side's rows and their key index.
type joinSide struct {
	outer bool // rows without a match appear NULL-padded
	store *colStore
	// the index: a key's group id (an integer table for integer keys),
	// then the key's first slot; slots of one key are chained
	keyTs []types.T
	tbl   groupTable
	heads []int32 // by group id: -1 none yet, noKey: the id is free
	meta  chunked[slotMeta]
	rows  int
	// expiry by time (SetTimeColumn): a min-heap of (time, slot); an
	// entry whose slot was freed since (gen moved on) is skipped
	tsCol    int
	heap     []expEntry
	fifo     []expEntry // entries queued in time order, read from fifoHead
	fifoHead int
	// the rows' entries in checkpoints (checkpoint_join.go)
	ck entryIDs
}

const noKey = -2

// slotMeta is a kept row's place in its key's chain, its multiplicity
// (0: the slot is free) and the weighted count of its matches on the
// other side (for outer joins).
type slotMeta struct {
	next, prev, gid int32
	gen             uint32
	n, matches      int64
}

type expEntry struct {
	ts   int64
	slot int32
	gen  uint32
}

// keySet is a batch's join keys: their values, and null[r] when row r
// has a NULL key part (nil: none has); such rows match nothing.
type keySet struct {
	vals []expr.Value
	null []bool
}

func (k *keySet) isNull(r int) bool { return k.null != nil && k.null[r] }

func newJoinSide(ts, keyTs []types.T, ints, outer bool) *joinSide {
	s := &joinSide{outer: outer, store: newColStore(ts), keyTs: keyTs, tsCol: -1}
	if ints {
		s.tbl = newGroupTable(keyTs)
	} else {
		// by key encoding, each side its own types (as the batch join)
		s.tbl = &datumTable{ts: keyTs, index: map[string]int32{}}
	}
	return s
}

// newSlot returns a free slot with room for its metadata.
func (s *joinSide) newSlot() int32 {
	slot := s.store.alloc()
	if slot == s.meta.len() {
		s.meta.push()
	}
	return slot
}

// link files slot under key group g, first in its chain.
func (s *joinSide) link(slot, g int32) {
	m := s.meta.at(slot)
	h := s.heads[g]
	m.next, m.prev, m.gid = h, -1, g
	if h >= 0 {
		s.meta.at(h).prev = slot
	}
	s.heads[g] = slot
	s.rows++
}

// remove takes a slot out of the index (and its key, if it was the last)
// and frees it.
func (s *joinSide) remove(slot int32) {
	m := s.meta.at(slot)
	if m.prev >= 0 {
		s.meta.at(m.prev).next = m.next
	} else {
		s.heads[m.gid] = m.next
		if m.next < 0 {
			s.tbl.remove(m.gid)
			s.heads[m.gid] = noKey
		}
	}
	if m.next >= 0 {
		s.meta.at(m.next).prev = m.prev
	}
	m.n, m.matches = 0, 0
	m.gen++
	s.ck.died(slot)
	s.store.release(slot)
	s.rows--
}

// Sides of a join.
const (
	Left  = 0
	Right = 1
)

// NewJoin returns an empty join of rows of types left and right.
func NewJoin(kind exec.JoinKind, leftKeys, rightKeys []expr.Expr, residual expr.Expr, left, right []types.T) (*Join, error) {
	switch kind {
	case exec.InnerJoin, exec.LeftJoin, exec.RightJoin, exec.FullJoin:
	default:
		return nil, sqlerr.Unsupported("semi and anti joins are not supported in continuous queries yet")
	}
	j := &Join{Kind: kind, Keys: [2][]expr.Expr{leftKeys, rightKeys}, Residual: residual, Types: [2][]types.T{left, right}}
	j.outTypes = append(append([]types.T{}, left...), right...)
	keyTs := [2][]types.T{}
	ints := true // integer keys on both sides: compared as integers
	for i := range leftKeys {
		lt, rt := leftKeys[i].Type(), rightKeys[i].Type()
		ints = ints && IntLike(lt.Kind) && IntLike(rt.Kind)
		keyTs[Left], keyTs[Right] = append(keyTs[Left], lt), append(keyTs[Right], rt)
	}
	j.sides[Left] = newJoinSide(left, keyTs[Left], ints, kind == exec.LeftJoin || kind == exec.FullJoin)
	j.sides[Right] = newJoinSide(right, keyTs[Right], ints, kind == exec.RightJoin || kind == exec.FullJoin)
	return j, nil
}

// Rows is the number of distinct rows held on a side (its state size).
func (j *Join) Rows(side int) int { return j.sides[side].rows }

// keys evaluates side's join keys over a batch (the caller releases
// them).
func (j *Join) keys(ctx *expr.Ctx, side int, b arrow.RecordBatch) (*keySet, error) {
	vals, err := evalExprs(ctx, b, j.Keys[side])
	if err != nil {
		return nil, err
	}
	ks := &keySet{vals: vals}
	n := int(b.NumRows())
	for _, v := range vals {
		if v.IsScalar() && !v.D.Null || !v.IsScalar() && v.Arr.NullN() == 0 {
			continue
		}
		if ks.null == nil {
			ks.null = make([]bool, n)
		}
		for r := range ks.null {
			ks.null[r] = ks.null[r] || v.IsNull(r)
		}
	}
	return ks, nil
}

// Process applies a changelog batch of one side and returns the join's
// changes. The input stays owned by the caller.
func (j *Join) Process(ctx *expr.Ctx, side int, m *Msg) (*Msg, error) {
	out, err := j.process(ctx, side, m)
	if err == nil && j.hasLimit[side] && j.sides[side].tsCol >= 0 {
		j.ExpireBelow(side, j.limit[side])
	}
	return out, err
}

func (j *Join) process(ctx *expr.Ctx, side int, m *Msg) (*Msg, error) {
	m, ks, err := evalOrDrop(ctx, m, j.Cols[side], func(b arrow.RecordBatch) (*keySet, error) { return j.keys(ctx, side, b) },
		func(ks *keySet) { releaseValues(ks.vals) })
	if err != nil {
		return nil, err
	}
	defer m.Release()
	defer releaseValues(ks.vals)
	b := m.Batch
	n := int(b.NumRows())
	me, other := j.sides[side], j.sides[1-side]
	if j.lookup && side == j.lookupSide {
		// the table changed: its rows are updated, no output is revised
		if _, err := j.store(side, ks, b, m, nil); err != nil {
			return nil, err
		}
		return &Msg{Kind: MsgData, Batch: j.build(side, b, nil, nil)}, nil
	}
	// candidate pairs: each delta row with the other side's rows of its key
	gids := make([]int32, n)
	other.tbl.lookup(ks.vals, me.keyTs, n, gids)
	var pr, ps []int32
	for r, g := range gids {
		if g < 0 || ks.isNull(r) || m.Weight(r) == 0 {
			continue
		}
		for s := other.heads[g]; s >= 0; s = other.meta.at(s).next {
			pr, ps = append(pr, int32(r)), append(ps, s)
		}
	}
	keep, err := j.residual(ctx, side, b, pr, ps)
	if err != nil {
		return nil, err
	}
	// the output: (delta row, other slot, weight); -1 stands for NULLs
	er, es := make([]int32, 0, len(pr)), make([]int32, 0, len(pr))
	ew := make([]int64, 0, len(pr))
	emit := func(r, s int32, w int64) {
		if w != 0 {
			er, es, ew = append(er, r), append(es, s), append(ew, w)
		}
	}
	matched := make([]int64, n)
	for i, r := range pr {
		if keep != nil && !keep[i] {
			continue
		}
		s := ps[i]
		o := other.meta.at(s)
		w := m.Weight(int(r))
		emit(r, s, w*o.n)
		matched[r] += o.n
		if other.outer {
			// the other row's padded form comes and goes with its matches
			before := o.matches
			o.matches += w
			other.ck.touch(s)
			switch {
			case before == 0 && o.matches > 0:
				emit(-1, s, -o.n)
			case before > 0 && o.matches == 0:
				emit(-1, s, o.n)
			}
		}
	}
	if me.outer {
		for r := 0; r < n; r++ {
			if w := m.Weight(r); w != 0 && matched[r] == 0 {
				emit(int32(r), -1, w)
			}
		}
	}
	out := j.build(side, b, er, es)
	if !j.lookup {
		// the rows are kept, for the other side's later changes
		if _, err := j.store(side, ks, b, m, matched); err != nil {
			out.Release()
			return nil, err
		}
	}
	return &Msg{Kind: MsgData, Batch: out, Weights: ew}, nil
}

// build gathers output rows: row rows[k] of the delta batch b (of side)
// next to slot slots[k] of the other side; -1 gives NULLs.
func (j *Join) build(side int, b arrow.RecordBatch, rows, slots []int32) arrow.RecordBatch {
	cols := make([]arrow.Array, 0, len(j.outTypes))
	for s := Left; s <= Right; s++ {
		for c, t := range j.Types[s] {
			if s == side {
				cols = append(cols, gatherArray(t, b.Column(c), rows))
			} else {
				cols = append(cols, j.sides[s].store.gather(c, slots))
			}
		}
	}
	out := expr.NewBatch(j.outTypes, cols, len(rows))
	for _, c := range cols {
		c.Release()
	}
	return out
}

// store adds a batch's rows (with their match counts) to side's state, or
// takes retracted ones out. Insertions go first: a batch may retract a
// row it inserts. It returns the slots the inserted rows went to.
func (j *Join) store(side int, ks *keySet, b arrow.RecordBatch, m *Msg, matched []int64) ([]int32, error) {
	me := j.sides[side]
	n := int(b.NumRows())
	gids := make([]int32, n)
	me.tbl.assign(ks.vals, n, gids, func(g int32, _ int) {
		for int(g) >= len(me.heads) {
			me.heads = append(me.heads, -1)
		}
		me.heads[g] = -1
	})
	var rows, slots []int32
	for r := 0; r < n; r++ {
		if m.Weight(r) > 0 {
			rows, slots = append(rows, int32(r)), append(slots, me.newSlot())
		}
	}
	if len(rows) > 0 {
		me.store.put(b, rows, slots)
		var ts []int64
		if me.tsCol >= 0 {
			ts = timesOf(b.Column(me.tsCol), rows)
		}
		for k, r := range rows {
			slot := slots[k]
			me.link(slot, gids[r])
			me.ck.born(slot)
			sm := me.meta.at(slot)
			sm.n = m.Weight(int(r))
			if matched != nil {
				sm.matches = matched[r]
			}
			if ts != nil {
				me.push(expEntry{ts: ts[k], slot: slot, gen: sm.gen})
			}
		}
	}
	for r := 0; r < n; r++ {
		w := m.Weight(r)
		if w >= 0 {
			continue
		}
		for s := me.heads[gids[r]]; w < 0 && s >= 0; {
			sm := me.meta.at(s)
			nx := sm.next
			if me.store.equal(s, b, r) {
				take := min(sm.n, -w)
				sm.n -= take
				w += take
				me.ck.touch(s)
				if sm.n == 0 {
					me.remove(s)
				}
			}
			s = nx
		}
		if w < 0 {
			return nil, sqlerr.New(sqlerr.InternalError, "join row retracted more often than inserted")
		}
	}
	// keys that came with rows retracted in the same batch, or with
	// nothing at all, have no rows
	for r := 0; r < n; r++ {
		if g := gids[r]; me.heads[g] == -1 {
			me.tbl.remove(g)
			me.heads[g] = noKey
		}
	}
	return slots, nil
}

// timesOf reads a timestamp column at rows (NULL: the smallest time, so
// the row expires first: it matches nothing by time).
func timesOf(a arrow.Array, rows []int32) []int64 {
	out := make([]int64, len(rows))
	var vals []int64
	if id := a.DataType().ID(); id == arrow.INT64 || id == arrow.TIMESTAMP {
		vals = expr.FixedValues[int64](a)
	}
	for k, r := range rows {
		switch {
		case a.IsNull(int(r)):
			out[k] = math.MinInt64
		case vals != nil:
			out[k] = vals[r]
		default:
			out[k] = types.DatumAt(a, int(r)).I
		}
	}
	return out
}

// residual evaluates the residual predicate over candidate pairs (nil:
// all pass).
func (j *Join) residual(ctx *expr.Ctx, side int, b arrow.RecordBatch, pr, ps []int32) ([]bool, error) {
	if j.Residual == nil || len(pr) == 0 {
		return nil, nil
	}
	cand := j.build(side, b, pr, ps)
	defer cand.Release()
	keep, err := j.evalResidual(ctx, cand)
	if err == nil || ctx.RowError == nil || !RowErrorsOf(err) {
		return keep, err
	}
	// a pair the condition fails on does not match (and is reported): the
	// same pair fails the same way whichever of its rows comes first
	rows, err := PassingRows(ctx, cand, expr.Columns{}, func(sub arrow.RecordBatch) error {
		_, err := j.evalResidual(ctx, sub)
		return err
	})
	if err != nil {
		return nil, err
	}
	ok := expr.Take(ctx.Mem, cand, rows)
	defer ok.Release()
	pass, err := j.evalResidual(ctx, ok)
	if err != nil {
		return nil, err
	}
	keep = make([]bool, len(pr))
	for k, r := range rows {
		keep[r] = pass[k]
	}
	return keep, nil
}

// evalResidual reports which pairs of cand pass the residual predicate.
func (j *Join) evalResidual(ctx *expr.Ctx, cand arrow.RecordBatch) ([]bool, error) {
	v, err := j.Residual.Eval(ctx, cand)
	if err != nil {
		return nil, err
	}
	defer v.Release()
	keep := make([]bool, cand.NumRows())
	if v.IsScalar() {
		t := !v.D.Null && v.D.I != 0
		for i := range keep {
			keep[i] = t
		}
		return keep, nil
	}
	for i := range keep {
		d := v.At(i)
		keep[i] = !d.Null && d.I != 0
	}
	return keep, nil
}

// ExpireBelow drops side's rows whose time column (SetTimeColumn) is
// below limit or NULL: no future row of the other side can match them (an
// interval join's bound, or a window's end, has passed the watermark).
// Their output stays as it is. Time order makes it cost what it drops.
func (j *Join) ExpireBelow(side int, limit int64) {
	if !j.hasLimit[side] || limit > j.limit[side] {
		j.limit[side], j.hasLimit[side] = limit, true
	}
	limit = j.limit[side]
	s := j.sides[side]
	for {
		e, ok := s.popBelow(limit)
		if !ok {
			return
		}
		if sm := *s.meta.at(e.slot); sm.gen == e.gen && sm.n > 0 {
			s.remove(e.slot)
		}
	}
}

// push queues a row for expiry. Rows mostly arrive in time order: those
// not earlier than the last queued go to a FIFO (O(1) each way), the
// others to the heap.
func (s *joinSide) push(e expEntry) {
	if n := len(s.fifo) - s.fifoHead; n == 0 || s.fifo[len(s.fifo)-1].ts <= e.ts {
		s.fifo = append(s.fifo, e)
		return
	}
	s.heap = heapPush(s.heap, e, earlier)
}

// popBelow takes the earliest queued row if its time is below limit.
func (s *joinSide) popBelow(limit int64) (expEntry, bool) {
	inFIFO := s.fifoHead < len(s.fifo)
	inHeap := len(s.heap) > 0
	switch {
	case inFIFO && (!inHeap || s.fifo[s.fifoHead].ts <= s.heap[0].ts):
		e := s.fifo[s.fifoHead]
		if e.ts >= limit {
			return e, false
		}
		s.fifoHead++
		if s.fifoHead == len(s.fifo) {
			s.fifo, s.fifoHead = s.fifo[:0], 0
		} else if s.fifoHead >= 4096 && 2*s.fifoHead >= len(s.fifo) {
			s.fifo = append(s.fifo[:0], s.fifo[s.fifoHead:]...)
			s.fifoHead = 0
		}
		return e, true
	case inHeap && s.heap[0].ts < limit:
		var e expEntry
		s.heap, e = heapPop(s.heap, earlier)
		return e, true
	}
	return expEntry{}, false
}

func earlier(a, b expEntry) bool { return a.ts < b.ts }

// restoreRows puts snapshot rows (values, multiplicity, match count) back
// into side's state.
func (j *Join) restoreRows(side int, rows [][]types.Datum, ns, matches []int64) error {
	if len(rows) == 0 {
		return nil
	}
	ctx := &expr.Ctx{Go: context.Background(), Mem: memory.DefaultAllocator}
	b := expr.BatchFromRows(ctx.Mem, j.Types[side], rows)
	defer b.Release()
	ks, err := j.keys(ctx, side, b)
	if err != nil {
		return err
	}
	defer releaseValues(ks.vals)
	m := &Msg{Kind: MsgData, Batch: b, Weights: ns}
	_, err = j.store(side, ks, b, m, matches)
	return err
}
