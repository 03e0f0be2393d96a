package dataflow

import (
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/streamsql/streamsql/engine/expr"
)

// Graph is a continuous query compiled into a DAG of operators: sources,
// one-input operators, joins (two inputs) and unions (any number). It is
// run by one goroutine, push-based: a batch pushed into a source goes
// through every node downstream of it at once, in order, and what
// reaches the output node is handed to the graph's Out. A node with
// several consumers hands each its own share of every message.
//
// Event time reaches the operators that need it (to close windows, to
// free join and aggregate state) as watermarks: each source has one, and
// a node registers a bound on the sources' watermarks (OnWatermark) —
// the least of some sources' watermarks, each plus an offset — which the
// graph evaluates whenever a source's watermark advances, calling the
// node back when the bound has moved.
type Graph struct {
	nodes   []*gnode
	sources []int // the node of each source
	output  int
	// Out receives the output node's changes.
	Out func(ctx *expr.Ctx, m *Msg) error

	srcWM  []int64
	srcHas []bool
	onWM   []wmHook
	// the output column a watermark bounds (-1: none) and its bound
	outCol   int
	outBound WMBound
}

type gnode struct {
	kind      gkind
	op        Operator
	bin       BinaryOperator
	consumers []gedge
	label     string
	inputs    int // edges into it
	// aligning a barrier (several inputs): which inputs have sent it,
	// and what each sent after it, held until every input has
	barrier uint64
	got     []bool
	held    []heldMsg
}

// operator is the node's operator (nil for sources and unions).
func (n *gnode) operator() any {
	switch n.kind {
	case gUnary:
		return n.op
	case gBinary:
		return n.bin
	}
	return nil
}

// heldMsg is a message an input sent after its barrier.
type heldMsg struct {
	side int
	m    *Msg
}

type gkind uint8

const (
	gSource gkind = iota
	gUnary
	gBinary
	gUnion
)

// gedge is a consumer: its node and the input (side) it is there.
type gedge struct{ node, side int }

// WMTerm is a source's watermark plus an offset (µs).
type WMTerm struct {
	Source int
	Offset int64
}

// WMBound is the least of its terms: the lowest event time a column can
// still hold in any change to come (empty: no bound).
type WMBound []WMTerm

// Shift returns the bound with every offset moved by d.
func (b WMBound) Shift(d int64) WMBound {
	out := make(WMBound, len(b))
	for i, t := range b {
		out[i] = WMTerm{t.Source, t.Offset + d}
	}
	return out
}

// Min returns the bound that holds where either holds (both must be
// bounds: a column unbounded on one side is unbounded).
func (b WMBound) Min(c WMBound) WMBound {
	if len(b) == 0 || len(c) == 0 {
		return nil
	}
	return append(append(WMBound{}, b...), c...)
}

func (b WMBound) String() string {
	s := ""
	for i, t := range b {
		if i > 0 {
			s += " "
		}
		s += fmt.Sprintf("wm%d%+dus", t.Source, t.Offset)
	}
	return s
}

type wmHook struct {
	node  int
	bound WMBound
	fn    func(ctx *expr.Ctx, wm int64) (*Msg, error)
	last  int64
	has   bool
}

// NewGraph returns an empty graph.
func NewGraph() *Graph { return &Graph{output: -1, outCol: -1} }

func (g *Graph) add(n *gnode, inputs ...gedge) int {
	id := len(g.nodes)
	n.inputs = len(inputs)
	g.nodes = append(g.nodes, n)
	for _, in := range inputs {
		g.nodes[in.node].consumers = append(g.nodes[in.node].consumers, gedge{id, in.side})
	}
	return id
}

// AddSource adds a source; its index (for Push and Watermark) is the
// number of sources added before it.
func (g *Graph) AddSource(label string) (node, source int) {
	node = g.add(&gnode{kind: gSource, label: label})
	g.sources = append(g.sources, node)
	g.srcWM, g.srcHas = append(g.srcWM, math.MinInt64), append(g.srcHas, false)
	return node, len(g.sources) - 1
}

// Add adds a one-input operator reading node in.
func (g *Graph) Add(in int, op Operator, label string) int {
	return g.add(&gnode{kind: gUnary, op: op, label: label}, gedge{in, 0})
}

// Replace puts op in place of a one-input node's operator (before the
// graph runs: parallel operators are started only for a graph that will).
func (g *Graph) Replace(node int, op Operator, label string) {
	n := g.nodes[node]
	n.op, n.label = op, label
}

// Label is node n's description.
func (g *Graph) Label(n int) string { return g.nodes[n].label }

// Relabel changes node n's description.
func (g *Graph) Relabel(n int, label string) { g.nodes[n].label = label }

// AddChain adds the operators of a chain one after the other; it returns
// the last (in itself when the chain is empty).
func (g *Graph) AddChain(in int, ops Chain, labels []string) int {
	for i, op := range ops {
		in = g.Add(in, op, labels[i])
	}
	return in
}

// AddBinary adds a two-input operator: left is its side 0, right side 1.
func (g *Graph) AddBinary(left, right int, op BinaryOperator, label string) int {
	return g.add(&gnode{kind: gBinary, bin: op, label: label}, gedge{left, 0}, gedge{right, 1})
}

// AddUnion adds a node whose output is every input's changes.
func (g *Graph) AddUnion(inputs []int, label string) int {
	edges := make([]gedge, len(inputs))
	for i, in := range inputs {
		edges[i] = gedge{in, i}
	}
	return g.add(&gnode{kind: gUnion, label: label}, edges...)
}

// SetOutput makes node n the graph's output.
func (g *Graph) SetOutput(n int) { g.output = n }

// OnWatermark calls fn (for node n) with the value of bound each time it
// advances; what fn returns goes on from n.
func (g *Graph) OnWatermark(n int, bound WMBound, fn func(ctx *expr.Ctx, wm int64) (*Msg, error)) {
	g.onWM = append(g.onWM, wmHook{node: n, bound: bound, fn: fn})
}

// SetOutputBound says that every change to come holds a value at least
// bound in output column col: the graph's output watermark, which the
// graphs reading its output take as their source's.
func (g *Graph) SetOutputBound(col int, bound WMBound) { g.outCol, g.outBound = col, bound }

// OutputBound is the output column a watermark bounds (-1: none).
func (g *Graph) OutputBound() int { return g.outCol }

// OutputWatermark is the output watermark's value now (false: there is
// none, or not yet).
func (g *Graph) OutputWatermark() (int64, bool) {
	if g.outCol < 0 {
		return 0, false
	}
	return g.Eval(g.outBound)
}

// UsesWatermarks reports whether some operator goes by a watermark.
func (g *Graph) UsesWatermarks() bool { return len(g.onWM) > 0 }

// Initializer is an operator with output before any input: a global
// aggregate's row over no rows.
type Initializer interface {
	Initial(ctx *expr.Ctx) *Msg
}

// Prime sends each operator's output over no input on through the graph.
func (g *Graph) Prime(ctx *expr.Ctx) error {
	for id, n := range g.nodes {
		if in, ok := n.op.(Initializer); ok && n.kind == gUnary {
			if m := in.Initial(ctx); m != nil {
				if err := g.forward(ctx, id, m); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// Closer is an operator holding resources beyond memory (goroutines).
type Closer interface {
	Close()
}

// Close releases what the operators hold (the graph runs no more).
func (g *Graph) Close() {
	for _, n := range g.nodes {
		if c, ok := n.op.(Closer); ok && n.kind == gUnary {
			c.Close()
		}
	}
}

// Late is the rows the operators dropped as late.
func (g *Graph) Late() int64 {
	var late int64
	g.Operators(func(_ int, op any) {
		if l, ok := op.(LateCounter); ok {
			late += l.Late()
		}
	})
	return late
}

// StateRows is the state the graph holds: aggregate groups and join rows.
func (g *Graph) StateRows() int {
	n := 0
	g.Operators(func(_ int, op any) {
		switch x := op.(type) {
		case *IncAgg:
			n += x.Groups()
		case *ParallelAgg:
			n += x.Groups()
		case *Join:
			n += x.Rows(0) + x.Rows(1)
		}
	})
	return n
}

// Sources is the number of sources.
func (g *Graph) Sources() int { return len(g.sources) }

// Push feeds a data message into a source (the message stays the
// caller's).
func (g *Graph) Push(ctx *expr.Ctx, source int, m *Msg) error {
	return g.forward(ctx, g.sources[source], m.Share())
}

// forward hands m, the output of node n, to n's consumers (m is
// consumed).
func (g *Graph) forward(ctx *expr.Ctx, n int, m *Msg) error {
	if m.Batch != nil && m.Batch.NumRows() == 0 {
		m.Release()
		return nil
	}
	if n == g.output {
		defer m.Release()
		if g.Out == nil {
			return nil
		}
		return g.Out(ctx, m)
	}
	cs := g.nodes[n].consumers
	for i, c := range cs {
		in := m
		if i < len(cs)-1 {
			in = m.Share()
		}
		if err := g.deliver(ctx, c, in); err != nil {
			if i < len(cs)-1 {
				m.Release()
			}
			return err
		}
	}
	return nil
}

// deliver runs consumer c's operator on m (consumed) and forwards its
// output.
func (g *Graph) deliver(ctx *expr.Ctx, c gedge, m *Msg) error {
	node := g.nodes[c.node]
	if node.got != nil && node.got[c.side] {
		// this input is past a barrier the others have not sent yet
		node.held = append(node.held, heldMsg{c.side, m})
		return nil
	}
	var out *Msg
	var err error
	switch node.kind {
	case gUnion:
		out = m
	case gUnary:
		out, err = node.op.Process(ctx, m)
		m.Release()
	case gBinary:
		out, err = node.bin.Process(ctx, c.side, m)
		m.Release()
	}
	if err != nil {
		return err
	}
	if out == nil {
		return nil
	}
	return g.forward(ctx, c.node, out)
}

// Barrier sends checkpoint barrier id from every source through the
// graph (see SourceBarrier); after it returns, every node has passed it
// on and the output has every change the input before it makes.
func (g *Graph) Barrier(ctx *expr.Ctx, id uint64, at func(node int, op any) error) error {
	for s := range g.sources {
		if err := g.SourceBarrier(ctx, s, id, at); err != nil {
			return err
		}
	}
	return nil
}

// SourceBarrier sends checkpoint barrier id from a source: it goes along
// every edge after the data before it, and a node passes it on once it
// has come from each of its inputs, calling at (node, and its operator:
// nil for a source or a union) first — the point at which a checkpoint
// takes the operator's state, when it has seen exactly the input before
// the barrier. A node with several inputs aligns them: what an input
// sends after its barrier is held until every input's barrier has come,
// then processed in order.
func (g *Graph) SourceBarrier(ctx *expr.Ctx, source int, id uint64, at func(node int, op any) error) error {
	return g.passBarrier(ctx, g.sources[source], id, at)
}

// passBarrier lets node n's barrier through: at, then each consumer.
func (g *Graph) passBarrier(ctx *expr.Ctx, n int, id uint64, at func(node int, op any) error) error {
	if at != nil {
		if err := at(n, g.nodes[n].operator()); err != nil {
			return err
		}
	}
	for _, c := range g.nodes[n].consumers {
		node := g.nodes[c.node]
		if node.inputs <= 1 {
			if err := g.passBarrier(ctx, c.node, id, at); err != nil {
				return err
			}
			continue
		}
		if node.got == nil {
			node.got = make([]bool, node.inputs)
		}
		if !slices.Contains(node.got, true) {
			node.barrier = id
		} else if node.barrier != id {
			return fmt.Errorf("dataflow: barrier %d reached %s while it aligns barrier %d", id, node.label, node.barrier)
		}
		node.got[c.side] = true
		if slices.Contains(node.got, false) {
			continue
		}
		// aligned: the barrier goes on, then what came after it
		clear(node.got)
		held := node.held
		node.held = nil
		if err := g.passBarrier(ctx, c.node, id, at); err != nil {
			releaseHeld(held)
			return err
		}
		for i, h := range held {
			if err := g.deliver(ctx, gedge{c.node, h.side}, h.m); err != nil {
				releaseHeld(held[i+1:])
				return err
			}
		}
	}
	return nil
}

func releaseHeld(held []heldMsg) {
	for _, h := range held {
		h.m.Release()
	}
}

// Inject sends m (consumed) on from node n, as if n had output it: an
// operator's output made outside a batch (a global aggregate's row over
// no input).
func (g *Graph) Inject(ctx *expr.Ctx, n int, m *Msg) error { return g.forward(ctx, n, m) }

// Watermark advances source's watermark to wm (lower values are
// ignored) and calls back the nodes whose bounds moved.
func (g *Graph) Watermark(ctx *expr.Ctx, source int, wm int64) error {
	if g.srcHas[source] && wm <= g.srcWM[source] {
		return nil
	}
	g.srcWM[source], g.srcHas[source] = wm, true
	for i := range g.onWM {
		h := &g.onWM[i]
		v, ok := g.Eval(h.bound)
		if !ok || (h.has && v <= h.last) {
			continue
		}
		h.last, h.has = v, true
		out, err := h.fn(ctx, v)
		if err != nil {
			return err
		}
		if out != nil {
			if err := g.forward(ctx, h.node, out); err != nil {
				return err
			}
		}
	}
	return nil
}

// Eval is a bound's value at the sources' current watermarks (false
// while one of its sources has none).
func (g *Graph) Eval(b WMBound) (int64, bool) {
	if len(b) == 0 {
		return 0, false
	}
	v := int64(math.MaxInt64)
	for _, t := range b {
		if !g.srcHas[t.Source] {
			return 0, false
		}
		w := g.srcWM[t.Source]
		// saturate: a watermark near the ends of time plus an offset
		switch {
		case t.Offset > 0 && w > math.MaxInt64-t.Offset:
			w = math.MaxInt64
		case t.Offset < 0 && w < math.MinInt64-t.Offset:
			w = math.MinInt64
		default:
			w += t.Offset
		}
		v = min(v, w)
	}
	return v, true
}

// Describe renders the graph from its output down, one node per line,
// inputs indented below their consumer; note adds figures of a node's
// operator (nil for sources and unions).
func (g *Graph) Describe(note func(op any) string) []string {
	inputs := make([][]int, len(g.nodes))
	for id, n := range g.nodes {
		for _, c := range n.consumers {
			inputs[c.node] = append(inputs[c.node], id)
		}
	}
	var lines []string
	var walk func(n, depth int)
	walk = func(n, depth int) {
		line := g.nodes[n].label
		if note != nil {
			line += note(g.nodes[n].operator())
		}
		prefix := strings.Repeat("  ", depth)
		if depth > 0 {
			prefix += "-> "
		}
		lines = append(lines, prefix+line)
		for _, in := range inputs[n] {
			walk(in, depth+1)
		}
	}
	if g.output >= 0 {
		walk(g.output, 0)
	}
	return lines
}

// Operators calls fn for each node's operator (nil for sources and
// unions).
func (g *Graph) Operators(fn func(node int, op any)) {
	for id, n := range g.nodes {
		if op := n.operator(); op != nil {
			fn(id, op)
		}
	}
}
