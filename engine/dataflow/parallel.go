package dataflow

import (
	"fmt"
	"sync/atomic"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/streamsql/streamsql/engine/exec"
	"github.com/streamsql/streamsql/engine/expr"
	"github.com/streamsql/streamsql/types"
)

// ParallelAgg is an incremental aggregate split over worker goroutines by
// a hash of the group key: each worker owns its groups' state (no locks
// on state), rows reach it over a bounded channel (a full channel stops
// the caller: backpressure), and End gathers every worker's changes into
// one changelog batch, so a step's output is applied at once.
//
// It has IncAgg's step API (Begin, Absorb, End, Process, ExpireWindows).
type ParallelAgg struct {
	// Narrow, when set, lists the input columns the keys and aggregates
	// read (they refer to them by position in this list): only these are
	// copied to the workers.
	Narrow      []int
	Keys        []expr.Expr
	keyTypes    []types.T
	outTypes    []types.T
	workers     []*aggWorker
	narrowTypes []types.T
	hashes      []uint64
	buf         []byte
	started     bool
}

type aggWork struct {
	kind    int // workAbsorb, workEnd, workExpire, ...
	ctx     expr.Ctx
	msg     *Msg
	wm      int64
	snap    []byte      // workRestore's
	full    bool        // workCheckpoint's
	w       StateWriter // workCheckpoint's
	entries []Entry     // workRestoreEntries'
	reply   chan aggResult
}

const (
	workAbsorb = iota
	workEnd
	workExpire
	workSnapshot
	workRestore
	workCheckpoint
	workRestoreEntries
	workCurrent
)

type aggResult struct {
	msg  *Msg
	rows [][]types.Datum
	snap []byte
	err  error
}

type aggWorker struct {
	agg    *IncAgg
	in     chan aggWork
	err    error // of an Absorb, reported by End
	groups atomic.Int64
	done   chan struct{}
}

// NewParallelAgg makes n workers, each with an IncAgg of the same spec;
// their goroutines start with the first message (so a plan that never
// runs holds none), and Close stops them. narrow (may be nil) is the
// Narrow list, with the columns' types.
func NewParallelAgg(keys []expr.Expr, aggs []exec.AggSpec, opts IncAggOptions, n int, narrow []int, narrowTypes []types.T) (*ParallelAgg, error) {
	p := &ParallelAgg{Keys: keys, Narrow: narrow, narrowTypes: narrowTypes}
	for i := 0; i < n; i++ {
		a, err := NewIncAgg(keys, aggs, opts)
		if err != nil {
			p.Close()
			return nil, err
		}
		a.Begin()
		a.ck.prefix = uint64(i) << idPrefixShift
		w := &aggWorker{agg: a, in: make(chan aggWork, 2), done: make(chan struct{})}
		p.workers = append(p.workers, w)
	}
	p.keyTypes, p.outTypes = p.workers[0].agg.keyTypes, p.workers[0].agg.outTypes
	return p, nil
}

// start starts the workers' goroutines, once.
func (p *ParallelAgg) start() {
	if p.started {
		return
	}
	p.started = true
	for _, w := range p.workers {
		go w.run()
	}
}

func (w *aggWorker) run() {
	defer close(w.done)
	for job := range w.in {
		ctx := job.ctx
		switch job.kind {
		case workAbsorb:
			if w.err == nil {
				w.err = w.agg.Absorb(&ctx, job.msg)
			}
			job.msg.Release()
		case workEnd:
			var res aggResult
			if res.err = w.err; res.err == nil {
				res.msg, res.err = w.agg.End(&ctx)
			}
			w.err = nil
			w.agg.Begin()
			// the count first: whoever has the reply may read it
			w.groups.Store(int64(w.agg.Groups()))
			job.reply <- res
		case workExpire:
			rows := w.agg.ExpireWindows(job.wm)
			w.groups.Store(int64(w.agg.Groups()))
			job.reply <- aggResult{rows: rows}
		case workSnapshot:
			var res aggResult
			res.snap, res.err = w.agg.Snapshot()
			job.reply <- res
		case workRestore:
			err := w.agg.Restore(&ctx, job.snap)
			w.agg.Begin()
			w.groups.Store(int64(w.agg.Groups()))
			job.reply <- aggResult{err: err}
		case workCheckpoint:
			err := w.agg.CheckpointState(job.w, job.full)
			job.reply <- aggResult{err: err}
		case workCurrent:
			var res aggResult
			var ok bool
			if res.msg, ok, res.err = w.agg.CurrentRows(&ctx); !ok && res.msg != nil {
				res.msg.Release()
				res.msg = nil
			}
			job.reply <- res
		case workRestoreEntries:
			err := w.agg.RestoreState(&ctx, job.entries)
			w.agg.Begin()
			w.groups.Store(int64(w.agg.Groups()))
			job.reply <- aggResult{err: err}
		}
	}
}

// SetQuiet is IncAgg's SetQuiet, for every worker.
func (p *ParallelAgg) SetQuiet() {
	for _, w := range p.workers {
		w.agg.SetQuiet()
	}
}

// SetInput describes the input's columns (for reports of rows an
// expression fails on); the workers see the Narrow ones.
func (p *ParallelAgg) SetInput(cols expr.Columns) {
	if p.Narrow != nil {
		var nc expr.Columns
		for _, c := range p.Narrow {
			if c < len(cols.Names) {
				nc.Names = append(nc.Names, cols.Names[c])
			}
			if c < len(cols.Types) {
				nc.Types = append(nc.Types, cols.Types[c])
			}
		}
		cols = nc
	}
	for _, w := range p.workers {
		w.agg.Input = cols
	}
}

// Close stops the workers.
func (p *ParallelAgg) Close() {
	for _, w := range p.workers {
		if !p.started {
			break
		}
		close(w.in)
		<-w.done
	}
	p.workers = nil
}

// Types returns the output column types: keys, then aggregates.
func (p *ParallelAgg) Types() []types.T { return p.outTypes }

// Groups is the number of groups held by all workers.
func (p *ParallelAgg) Groups() int {
	n := 0
	for _, w := range p.workers {
		n += int(w.groups.Load())
	}
	return n
}

// Begin starts a step (the workers begin theirs after each End).
func (p *ParallelAgg) Begin() {}

// Absorb routes each row of m to the worker owning its key.
func (p *ParallelAgg) Absorb(ctx *expr.Ctx, m *Msg) error {
	p.start()
	b := m.Batch
	n := int(b.NumRows())
	if p.Narrow != nil {
		cols := make([]arrow.Array, len(p.Narrow))
		ts := make([]types.T, len(p.Narrow))
		for i, c := range p.Narrow {
			cols[i], ts[i] = b.Column(c), p.narrowTypes[i]
		}
		b = expr.NewBatch(ts, cols, n)
		defer b.Release()
	}
	if cap(p.hashes) < n {
		p.hashes = make([]uint64, n)
	}
	keyMsg, vals, err := evalOrDrop(ctx, &Msg{Kind: MsgData, Batch: b, Weights: m.Weights}, expr.Columns{},
		func(b arrow.RecordBatch) ([]expr.Value, error) { return evalExprs(ctx, b, p.Keys) }, releaseValues)
	if err != nil {
		return err
	}
	defer keyMsg.Release()
	defer releaseValues(vals)
	if keyMsg.Batch.NumRows() != int64(n) {
		// rows a key failed on are gone: route the rest
		b, m, n = keyMsg.Batch, keyMsg, int(keyMsg.Batch.NumRows())
	}
	hs := p.hashes[:n]
	clear(hs)
	for i, v := range vals {
		p.hashColumn(hs, v, p.keyTypes[i])
	}
	parts := make([][]int, len(p.workers))
	for w := range parts {
		parts[w] = make([]int, 0, n/len(parts)+n/8+1)
	}
	for r, h := range hs {
		w := int(h % uint64(len(p.workers)))
		parts[w] = append(parts[w], r)
	}
	for w, rows := range parts {
		if len(rows) == 0 {
			continue
		}
		sub := &Msg{Kind: MsgData}
		if len(rows) == n {
			b.Retain()
			sub.Batch, sub.Weights = b, m.Weights
		} else {
			// b: the narrowed batch, whose rows are m's
			t := (&Msg{Batch: b, Weights: m.Weights}).Take(ctx.Mem, rows)
			sub.Batch, sub.Weights = t.Batch, t.Weights
		}
		p.workers[w].in <- aggWork{kind: workAbsorb, ctx: *ctx, msg: sub}
	}
	return nil
}

// hashColumn mixes one key column into the row hashes: integers by value,
// everything else by its equality encoding (so equal keys meet). The hash
// is the same in every process, so a snapshot's groups belong to the same
// workers when it is restored.
func (p *ParallelAgg) hashColumn(hs []uint64, v expr.Value, t types.T) {
	if IntLike(t.Kind) {
		// by value; NULL hashes as a value no integer column holds here
		const nullHash = 0x5bd1e9955bd1e995
		mix := func(i int, x uint64) {
			h := (hs[i] ^ x) * fib
			hs[i] = h ^ h>>29
		}
		if !v.IsScalar() && v.Arr.NullN() == 0 && (v.Arr.DataType().ID() == arrow.INT64 || v.Arr.DataType().ID() == arrow.TIMESTAMP) {
			for i, x := range expr.FixedValues[int64](v.Arr)[:len(hs)] {
				mix(i, uint64(x))
			}
			return
		}
		for i := range hs {
			if d := v.At(i); d.Null {
				mix(i, nullHash)
			} else {
				mix(i, uint64(d.I))
			}
		}
		return
	}
	for i := range hs {
		p.buf = exec.AppendKey(p.buf[:0], t, v.At(i))
		h := (hs[i] ^ fnv1a(p.buf)) * fib
		hs[i] = h ^ h>>29
	}
}

// End gathers the changes of every worker's step into one message.
func (p *ParallelAgg) End(ctx *expr.Ctx) (*Msg, error) {
	p.start()
	reply := make(chan aggResult, len(p.workers))
	for _, w := range p.workers {
		w.in <- aggWork{kind: workEnd, ctx: *ctx, reply: reply}
	}
	var outs []*Msg
	var firstErr error
	for range p.workers {
		r := <-reply
		if r.err != nil && firstErr == nil {
			firstErr = r.err
		}
		if r.msg != nil {
			outs = append(outs, r.msg)
		}
	}
	if firstErr != nil {
		for _, m := range outs {
			m.Release()
		}
		return nil, firstErr
	}
	return concatMsgs(ctx, p.outTypes, outs)
}

// Process is one step over one message.
func (p *ParallelAgg) Process(ctx *expr.Ctx, m *Msg) (*Msg, error) {
	if err := p.Absorb(ctx, m); err != nil {
		return nil, err
	}
	return p.End(ctx)
}

// ExpireWindows closes windows in every worker and returns their final rows.
func (p *ParallelAgg) ExpireWindows(wm int64) [][]types.Datum {
	p.start()
	reply := make(chan aggResult, len(p.workers))
	for _, w := range p.workers {
		w.in <- aggWork{kind: workExpire, wm: wm, reply: reply}
	}
	var out [][]types.Datum
	for range p.workers {
		out = append(out, (<-reply).rows...)
	}
	return out
}

// concatMsgs joins changelog messages (taking ownership of them).
func concatMsgs(ctx *expr.Ctx, ts []types.T, ms []*Msg) (*Msg, error) {
	var keep []*Msg
	for _, m := range ms {
		if m.Batch.NumRows() > 0 {
			keep = append(keep, m)
		} else {
			m.Release()
		}
	}
	switch len(keep) {
	case 0:
		return &Msg{Kind: MsgData, Batch: expr.BatchFromRows[[]types.Datum](ctx.Mem, ts, nil)}, nil
	case 1:
		return keep[0], nil
	}
	defer func() {
		for _, m := range keep {
			m.Release()
		}
	}()
	n := 0
	for _, m := range keep {
		n += int(m.Batch.NumRows())
	}
	weights := make([]int64, 0, n)
	for _, m := range keep {
		for i := 0; i < int(m.Batch.NumRows()); i++ {
			weights = append(weights, m.Weight(i))
		}
	}
	cols := make([]arrow.Array, len(ts))
	for c := range ts {
		parts := make([]arrow.Array, len(keep))
		for i, m := range keep {
			parts[i] = m.Batch.Column(c)
		}
		col, err := array.Concatenate(parts, ctx.Mem)
		if err != nil {
			for _, x := range cols[:c] {
				x.Release()
			}
			return nil, err
		}
		cols[c] = col
	}
	out := expr.NewBatch(ts, cols, n)
	for _, c := range cols {
		c.Release()
	}
	return &Msg{Kind: MsgData, Batch: out, Weights: weights}, nil
}

// fnv1a is the 64-bit FNV-1a hash of b.
func fnv1a(b []byte) uint64 {
	h := uint64(14695981039346656037)
	for _, c := range b {
		h = (h ^ uint64(c)) * 1099511628211
	}
	return h
}

var _ Stateful = (*ParallelAgg)(nil)

// Snapshot takes each worker's state, between steps.
func (p *ParallelAgg) Snapshot() ([]byte, error) {
	p.start()
	w := &snapWriter{}
	w.count(len(p.workers))
	for _, wk := range p.workers {
		reply := make(chan aggResult, 1)
		wk.in <- aggWork{kind: workSnapshot, reply: reply}
		res := <-reply
		if res.err != nil {
			return nil, res.err
		}
		w.row([]types.T{types.TBytea}, types.DText(string(res.snap)))
	}
	return w.buf, w.err
}

// Restore gives each worker its state from a snapshot taken with as many
// workers (keys hash to workers the same way in every process).
func (p *ParallelAgg) Restore(ctx *expr.Ctx, b []byte) error {
	p.start()
	r := &snapReader{p: b}
	if n := r.count(); r.err == nil && n != len(p.workers) {
		return fmt.Errorf("dataflow: an aggregate snapshot of %d workers cannot restore %d: restart with the same --workers", n, len(p.workers))
	}
	for _, wk := range p.workers {
		blob := r.row([]types.T{types.TBytea})[0]
		if r.err != nil {
			break
		}
		reply := make(chan aggResult, 1)
		wk.in <- aggWork{kind: workRestore, ctx: *ctx, snap: []byte(blob.S), reply: reply}
		if res := <-reply; res.err != nil {
			return res.err
		}
	}
	return r.done("a parallel aggregate")
}
