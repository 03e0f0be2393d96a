package dataflow

import (
	"container/heap"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/streamsql/streamsql/engine/exec"
	"github.com/streamsql/streamsql/engine/expr"
	"github.com/streamsql/streamsql/sqlerr"
	"github.com/streamsql/streamsql/types"
)

// IncAgg maintains GROUP BY aggregates under insertions and retractions:
// for each input changelog batch it emits the changelog of its output —
// for every group whose result changed, −old and +new (only +new for a new
// group, only −old for a group whose last row was retracted).
//
// It is vectorized: a hash table maps each row's key to a dense group id
// (integer keys hash their values directly), and each aggregate keeps its
// state in flat slices by group id, updated a column at a time. The last
// emitted row of each group is kept, so an update costs one new result per
// touched group, not a recomputation of the old one.
type IncAgg struct {
	Keys []expr.Expr
	Aggs []exec.AggSpec
	// Input describes the input's columns, for reports of rows an
	// expression failed on (optional).
	Input expr.Columns

	opts     IncAggOptions
	keyTypes []types.T
	outTypes []types.T
	tab      groupTable
	accs     []incAccum
	rows     []int64 // sum of weights, by group id
	// by group id, column by column: the key values, and the last
	// emitted output row (when hasLast)
	keyVals *colStore
	last    *colStore
	hasLast []bool
	alive   []bool
	live    int
	ends    map[int64][]int32 // window end → groups (when grouped by a window)
	endHeap int64Heap
	// emptyOut: a global aggregate's row over no input is in the output
	emptyOut bool
	// the groups' entries in checkpoints (checkpoint_agg.go)
	ck entryIDs

	// per batch
	gids    []int32
	stamp   []uint32
	epoch   uint32
	touched []int32
	arena   []types.Datum
}

// IncAggOptions tune an IncAgg to its input and emit mode.
type IncAggOptions struct {
	// AppendOnly: the input never retracts (rows of a stream), so min and
	// max keep only the extreme instead of a multiset of values.
	AppendOnly bool
	// Quiet: Process updates state and emits nothing; results come out of
	// Expire (EMIT ON WINDOW CLOSE).
	Quiet bool
	// WindowKey, when HasWindow, is the key column whose value plus
	// WindowAdd is the end of the group's window: Expire then finds
	// closed windows without scanning every group.
	HasWindow bool
	WindowKey int
	WindowAdd int64
}

// NewIncAgg returns an incremental aggregate. Supported: count(*), count,
// sum, avg, min, max, bool_and, bool_or, the variance family, and the
// DISTINCT forms of count, sum, avg, min and max.
func NewIncAgg(keys []expr.Expr, aggs []exec.AggSpec, opts IncAggOptions) (*IncAgg, error) {
	a := &IncAgg{Keys: keys, Aggs: aggs, opts: opts, ends: map[int64][]int32{}}
	for _, k := range keys {
		a.keyTypes = append(a.keyTypes, k.Type())
		a.outTypes = append(a.outTypes, k.Type())
	}
	for _, s := range aggs {
		acc, err := newIncAccum(s, opts.AppendOnly)
		if err != nil {
			return nil, err
		}
		a.accs = append(a.accs, acc)
		a.outTypes = append(a.outTypes, s.T)
	}
	a.tab = newGroupTable(a.keyTypes)
	a.keyVals, a.last = newColStore(a.keyTypes), newColStore(a.outTypes)
	return a, nil
}

// Initial is the row a global aggregate (no keys) has over no input, as
// PostgreSQL's — count 0, every other aggregate NULL — as a message to put
// in the view before any input; nil when the aggregate has keys, or rows.
// While it is out, the first group retracts it, and the last one leaving
// puts it back.
func (a *IncAgg) Initial(ctx *expr.Ctx) *Msg {
	if len(a.Keys) > 0 || a.live > 0 || a.emptyOut || a.opts.Quiet {
		return nil
	}
	a.emptyOut = true
	return &Msg{Kind: MsgData, Batch: expr.BatchFromRows(ctx.Mem, a.outTypes, [][]types.Datum{a.emptyRow()}), Weights: []int64{1}}
}

// emptyRow is a global aggregate's result over no rows.
func (a *IncAgg) emptyRow() []types.Datum {
	row := make([]types.Datum, len(a.Aggs))
	for i, s := range a.Aggs {
		row[i] = types.NullDatum
		if s.Kind == exec.AggCountStar || s.Kind == exec.AggCount {
			row[i] = types.DInt(0)
		}
	}
	return row
}

// Types returns the output column types: keys, then aggregates.
func (a *IncAgg) Types() []types.T { return a.outTypes }

// Groups is the number of groups held.
func (a *IncAgg) Groups() int { return a.live }

// Process applies one data message and returns the output changelog (a
// message with no rows when nothing changed). The input stays owned by the caller.
func (a *IncAgg) Process(ctx *expr.Ctx, m *Msg) (*Msg, error) {
	a.Begin()
	if err := a.Absorb(ctx, m); err != nil {
		return nil, err
	}
	return a.End(ctx)
}

// Begin starts a step that may absorb several messages before End emits
// the changes of all of them at once (a group changed by each is emitted
// once).
func (a *IncAgg) Begin() {
	a.epoch++
	if a.epoch == 0 {
		clear(a.stamp)
		a.epoch = 1
	}
	a.touched = a.touched[:0]
}

// aggInputs are a batch's key and argument values (args[i] is the zero
// Value for an aggregate without one).
type aggInputs struct{ keys, args []expr.Value }

func (in aggInputs) release() {
	releaseValues(in.keys)
	releaseValues(in.args)
}

// inputs evaluates everything Absorb reads of a batch, before it changes
// any state: a row an expression fails on is then dropped whole.
func (a *IncAgg) inputs(ctx *expr.Ctx, b arrow.RecordBatch) (aggInputs, error) {
	keys, err := evalExprs(ctx, b, a.Keys)
	if err != nil {
		return aggInputs{}, err
	}
	args := make([]expr.Value, len(a.Aggs))
	for i, s := range a.Aggs {
		if s.Arg == nil {
			continue
		}
		if args[i], err = s.Arg.Eval(ctx, b); err != nil {
			releaseValues(keys)
			releaseValues(args[:i])
			return aggInputs{}, err
		}
	}
	return aggInputs{keys, args}, nil
}

// Absorb applies one data message to the state of the current step.
func (a *IncAgg) Absorb(ctx *expr.Ctx, m *Msg) error {
	m, in, err := evalOrDrop(ctx, m, a.Input, func(b arrow.RecordBatch) (aggInputs, error) { return a.inputs(ctx, b) }, aggInputs.release)
	if err != nil {
		return err
	}
	defer m.Release()
	defer in.release()
	n := int(m.Batch.NumRows())
	keys := in.keys
	if cap(a.gids) < n {
		a.gids = make([]int32, n)
	}
	gids := a.gids[:n]
	a.tab.assign(keys, n, gids, func(g int32, row int) { a.added(g, keys, row) })

	// rows per group, and which groups this step touches (in first-touch order)
	rows, stamp, epoch := a.rows, a.stamp, a.epoch
	for i, g := range gids {
		if m.Weights != nil {
			rows[g] += m.Weights[i]
		} else {
			rows[g]++
		}
		if stamp[g] != epoch {
			stamp[g] = epoch
			a.touched = append(a.touched, g)
		}
	}
	for i := range a.Aggs {
		if err := a.accs[i].update(gids, m.Weights, in.args[i]); err != nil {
			return err
		}
	}
	return nil
}

// End emits the changes of the current step.
func (a *IncAgg) End(ctx *expr.Ctx) (*Msg, error) {
	var out [][]types.Datum
	var weights []int64
	width := len(a.outTypes)
	// output rows live in an arena reused by every batch (the output batch
	// copies them; last[g] keeps its own copy)
	if need := 2 * width * len(a.touched); cap(a.arena) < need && !a.opts.Quiet {
		a.arena = make([]types.Datum, 0, need)
	}
	arena := a.arena[:0]
	for _, g := range a.touched {
		a.ck.touch(g)
		switch {
		case a.rows[g] < 0:
			return nil, sqlerr.New(sqlerr.InternalError, "group retracted more often than inserted")
		case a.opts.Quiet:
			if a.rows[g] == 0 {
				a.removeGroup(g)
			}
			continue
		}
		old := a.hasLast[g]
		if a.rows[g] == 0 {
			if old {
				out, weights = append(out, a.last.row(g)), append(weights, -1)
			}
			a.removeGroup(g)
			if len(a.Keys) == 0 && !a.emptyOut {
				// a global aggregate over no rows again
				a.emptyOut = true
				out, weights = append(out, a.emptyRow()), append(weights, 1)
			}
			continue
		}
		start := len(arena)
		arena = a.appendResult(arena, g)
		now := arena[start:len(arena):len(arena)]
		if old && a.sameAsLast(g, now) {
			continue
		}
		if !old && a.emptyOut {
			// a global aggregate's first row replaces its row over nothing
			a.emptyOut = false
			out, weights = append(out, a.emptyRow()), append(weights, -1)
		}
		if old {
			// the stored row is overwritten below: emit a copy
			at := len(arena)
			for ci := range a.outTypes {
				arena = append(arena, a.last.datum(ci, g))
			}
			out, weights = append(out, arena[at:len(arena):len(arena)]), append(weights, -1)
		}
		out, weights = append(out, now), append(weights, 1)
		for ci, d := range now {
			a.last.setDatum(ci, g, d)
		}
		a.hasLast[g] = true
	}
	return &Msg{Kind: MsgData, Batch: expr.BatchFromRows(ctx.Mem, a.outTypes, out), Weights: weights}, nil
}

// added initialises a new group from row's key values.
func (a *IncAgg) added(g int32, keys []expr.Value, row int) {
	n := int(g) + 1
	if len(a.rows) < n {
		n = max(n, 2*len(a.rows))
		a.rows = growTo(a.rows, n)
		a.keyVals.grow(int32(n))
		a.last.grow(int32(n))
		a.hasLast = growTo(a.hasLast, n)
		a.alive = growTo(a.alive, n)
		a.stamp = growTo(a.stamp, n)
		for _, acc := range a.accs {
			acc.grow(n)
		}
	}
	for i, k := range keys {
		d := k.At(row)
		d.S = strings.Clone(d.S) // not the batch's buffer
		a.keyVals.setDatum(i, g, d)
	}
	a.rows[g], a.hasLast[g], a.alive[g] = 0, false, true
	a.stamp[g] = 0
	for _, acc := range a.accs {
		acc.reset(g)
	}
	a.live++
	a.ck.born(g)
	if a.opts.HasWindow {
		if d := a.keyVals.datum(a.opts.WindowKey, g); !d.Null {
			end := d.I + a.opts.WindowAdd
			if _, ok := a.ends[end]; !ok {
				heap.Push(&a.endHeap, end)
			}
			a.ends[end] = append(a.ends[end], g)
		}
	}
}

func (a *IncAgg) removeGroup(g int32) {
	a.ck.died(g)
	a.tab.remove(g)
	a.keyVals.clearStrings(g)
	a.last.clearStrings(g)
	a.hasLast[g], a.alive[g] = false, false
	a.live--
}

// appendResult appends group g's output row.
func (a *IncAgg) appendResult(dst []types.Datum, g int32) []types.Datum {
	for ci := range a.keyTypes {
		dst = append(dst, a.keyVals.datum(ci, g))
	}
	for _, acc := range a.accs {
		dst = append(dst, acc.result(g))
	}
	return dst
}

// sameAsLast reports whether row is group g's last emitted row.
func (a *IncAgg) sameAsLast(g int32, row []types.Datum) bool {
	for ci, t := range a.outTypes {
		x, y := a.last.datum(ci, g), row[ci]
		if x.Null != y.Null {
			return false
		}
		if !x.Null && (types.Compare(t, x, y) != 0 || x.S != y.S) {
			return false
		}
	}
	return true
}

// SetQuiet makes the aggregate emit nothing as its input changes, only
// each window's final rows when ExpireWindows closes it (EMIT ON WINDOW
// CLOSE). Set it before the first message.
func (a *IncAgg) SetQuiet() { a.opts.Quiet = true }

// ExpireWindows removes the groups whose window ends at or before wm (the
// watermark closed them) and, when Quiet, returns their final rows (others
// have emitted them already): a window closing frees its state. It needs
// the WindowKey option.
func (a *IncAgg) ExpireWindows(wm int64) [][]types.Datum {
	var out [][]types.Datum
	for len(a.endHeap) > 0 && a.endHeap[0] <= wm {
		end := heap.Pop(&a.endHeap).(int64)
		for _, g := range a.ends[end] {
			if !a.alive[g] {
				continue
			}
			if k := a.keyVals.datum(a.opts.WindowKey, g); k.Null || k.I+a.opts.WindowAdd != end {
				continue // the id was reused by another window's group
			}
			if a.rows[g] > 0 && a.opts.Quiet {
				out = append(out, a.appendResult(nil, g))
			}
			a.removeGroup(g)
		}
		delete(a.ends, end)
	}
	return out
}

type int64Heap []int64

func (h int64Heap) Len() int           { return len(h) }
func (h int64Heap) Less(i, j int) bool { return h[i] < h[j] }
func (h int64Heap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *int64Heap) Push(x any)        { *h = append(*h, x.(int64)) }
func (h *int64Heap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}
