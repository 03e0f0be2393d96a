package dataflow

import "github.com/streamsql/streamsql/engine/expr"

// Derived state. A top-N that keeps every row holds the sum of all its
// input ever sent. When that input comes from an aggregate — whose current
// rows are that sum — through row-by-row steps, the top-N's state is the
// aggregate's current rows passed through those steps, and its checkpoint
// need hold nothing: at restore the aggregate, restored first, lists its
// rows and they are pushed through the steps into the top-N, output
// dropped. Its checkpoint writes one entry saying so. (Nexmark q5: a
// checkpoint writes each changed count once instead of twice.)
//
// Rows of windows an aggregate freed at the watermark without retracting
// them are missing from the rebuilt state; that is the same state when the
// top-N is partitioned by the window and drops a window's partition as it
// closes (no change reaches it after), so a windowed aggregate qualifies
// only under such a top-N.

// untracked is an operator that can stop tracking its changes for
// incremental checkpoints (its state being derived, it writes none).
type untracked interface{ untrack() }

// derivedKey names the entry of a node whose state is derived.
var derivedKey = []byte("derived")

// currentRows is an operator that can list its current output: the sum
// of every change it has sent.
type currentRows interface {
	// ListsRows reports whether it can.
	ListsRows() bool
	// CurrentRows is that output, as insertions (false: it cannot).
	CurrentRows(ctx *expr.Ctx) (*Msg, bool, error)
	// FreesUnretracted reports whether it drops rows without retracting
	// them (a windowed aggregate freeing closed windows).
	FreesUnretracted() bool
}

// inputSum is an operator whose state is the sum of its input.
type inputSum interface {
	StateIsInputSum() bool
	// ForgetsClosedWindows: it drops its rows of closed windows itself
	// (a top-N partitioned by the window).
	ForgetsClosedWindows() bool
}

// StateIsInputSum: a top-N that keeps every row (not the append-only kind,
// which keeps the top N).
func (t *TopN) StateIsInputSum() bool      { return !t.AppendOnly }
func (t *TopN) ForgetsClosedWindows() bool { return t.ExpireCol >= 0 }

// CurrentRows lists the groups' last emitted rows (an aggregate that
// emits only when windows close, or a global one, cannot).
func (a *IncAgg) CurrentRows(ctx *expr.Ctx) (*Msg, bool, error) {
	if !a.ListsRows() {
		return nil, false, nil
	}
	var slots []int32
	for g := range a.alive {
		if a.alive[g] && a.hasLast[g] {
			slots = append(slots, int32(g))
		}
	}
	return &Msg{Kind: MsgData, Batch: a.last.gatherBatch(a.outTypes, slots)}, true, nil
}

func (a *IncAgg) ListsRows() bool        { return !a.opts.Quiet && len(a.Keys) > 0 }
func (a *IncAgg) FreesUnretracted() bool { return a.opts.HasWindow }

// CurrentRows lists every worker's groups' rows.
func (p *ParallelAgg) CurrentRows(ctx *expr.Ctx) (*Msg, bool, error) {
	p.start()
	var ms []*Msg
	for _, w := range p.workers {
		reply := make(chan aggResult, 1)
		w.in <- aggWork{kind: workCurrent, ctx: *ctx, reply: reply}
		res := <-reply
		if res.err != nil || res.msg == nil {
			for _, m := range ms {
				m.Release()
			}
			return nil, false, res.err
		}
		ms = append(ms, res.msg)
	}
	m, err := concatMsgs(ctx, p.outTypes, ms)
	return m, err == nil, err
}

func (p *ParallelAgg) ListsRows() bool        { return p.workers[0].agg.ListsRows() }
func (p *ParallelAgg) FreesUnretracted() bool { return p.workers[0].agg.FreesUnretracted() }

// derivation says whether node n's state can be rebuilt at restore: from
// the current rows of node src pushed through the nodes of chain.
func (g *Graph) derivation(n int) (src int, chain []int, ok bool) {
	sum, isSum := g.nodes[n].operator().(inputSum)
	if !isSum || !sum.StateIsInputSum() {
		return 0, nil, false
	}
	for at := n; ; {
		in, ok := g.inputOf(at)
		if !ok {
			return 0, nil, false
		}
		switch x := g.nodes[in].operator().(type) {
		case *Project, *Filter, *DropClosed:
			chain = append([]int{in}, chain...)
			at = in
			continue
		case currentRows:
			if !x.ListsRows() || x.FreesUnretracted() && !sum.ForgetsClosedWindows() {
				return 0, nil, false
			}
			return in, chain, true
		}
		return 0, nil, false
	}
}

// inputOf is the node feeding unary node n.
func (g *Graph) inputOf(n int) (int, bool) {
	if g.nodes[n].kind != gUnary {
		return 0, false
	}
	for id, x := range g.nodes {
		for _, e := range x.consumers {
			if e.node == n {
				return id, x.kind == gUnary
			}
		}
	}
	return 0, false
}

// CheckpointNode writes node n's state into w (CheckpointOperator), or,
// when it can be rebuilt from the node it derives from, the entry saying
// so.
func (g *Graph) CheckpointNode(n int, w StateWriter, full bool) error {
	op := g.nodes[n].operator()
	if _, _, ok := g.derivation(n); ok {
		if t, ok := op.(untracked); ok {
			t.untrack()
		}
		w.Put(derivedKey, nil)
		return nil
	}
	_, err := CheckpointOperator(op, w, full)
	return err
}

// RestoreNodes puts back every node's state from its entries (by node):
// first each node's own, then, in graph order, each derived one's from the
// node it derives from.
func (g *Graph) RestoreNodes(ctx *expr.Ctx, entries func(n int) []Entry) error {
	var derived []int
	for n, x := range g.nodes {
		op := x.operator()
		if op == nil {
			continue
		}
		es := entries(n)
		if len(es) == 1 && string(es[0].Key) == string(derivedKey) {
			derived = append(derived, n)
			continue
		}
		if err := RestoreOperator(ctx, op, es); err != nil {
			return err
		}
	}
	for _, n := range derived {
		if t, ok := g.nodes[n].operator().(untracked); ok {
			t.untrack()
		}
		if err := g.derive(ctx, n); err != nil {
			return err
		}
	}
	return nil
}

// derive rebuilds node n's state from the node it derives from. Rows an
// expression fails on are dropped as they were the first time, not
// reported again.
func (g *Graph) derive(ctx *expr.Ctx, n int) error {
	src, chain, ok := g.derivation(n)
	if !ok {
		return errSnapshot // (the graph is not the one checkpointed)
	}
	quiet := *ctx
	quiet.RowError = func(expr.RowError) {}
	m, ok, err := g.nodes[src].operator().(currentRows).CurrentRows(&quiet)
	if err != nil || !ok {
		return errSnapshot
	}
	for _, id := range append(chain, n) {
		op := g.nodes[id].op
		if _, skip := op.(*DropClosed); skip {
			// (the rows passed it when they came; it judges new ones)
			continue
		}
		out, err := op.Process(&quiet, m)
		m.Release()
		if err != nil || out == nil {
			return err
		}
		if id == n {
			out.Release()
			break
		}
		m = out
	}
	return nil
}
