package planner

// A continuous query — any composition of filters, projections, windows,
// aggregates, top-Ns, unions, set operations and joins over streams,
// tables and materialized views — is compiled into a dataflow graph of
// the engine's operators (dataflow.Graph): each plan node becomes an
// operator reading the operators of its inputs, each stream, table or
// view read becomes a source, and the graph's output is the view's
// changes.
//
// Event time is followed column by column at plan time: a column is
// bounded when every change still to come holds a value at least some
// sources' watermarks (each plus an offset) — a stream's WATERMARK
// column, what projections, windows, aggregate keys and joins make of it.
// Operators that can drop state register on the bound of the column they
// drop it by: a window assignment closes windows, an aggregate frees the
// groups of windows (or times) passed, a top-N its partitions, and a join
// each side's rows that no future row of the other side can match — an
// interval join by its time bound, a join on window_start or another
// time column by that column. A join bounded in neither way keeps both
// sides, and needs WITH (stream_joins = 'unbounded').

import (
	"fmt"
	"slices"
	"strings"

	"github.com/streamsql/streamsql/catalog"
	"github.com/streamsql/streamsql/engine/dataflow"
	"github.com/streamsql/streamsql/engine/exec"
	"github.com/streamsql/streamsql/engine/expr"
	"github.com/streamsql/streamsql/engine/flow"
	"github.com/streamsql/streamsql/sources/streamstore"
	"github.com/streamsql/streamsql/sqlerr"
	"github.com/streamsql/streamsql/types"
)

// graphSource is one stream, table or materialized view a graph reads.
type graphSource struct {
	rel    *catalog.Object
	stream *streamstore.Stream // a stream's
	view   *flow.View          // a materialized view's
	table  flow.Table          // a table's
	ts     []types.T
	node   int // its node in the graph
	// the watermark: its expression over the stream's columns and the
	// column it is on (-1: none; a view's: the column its own watermark
	// bounds)
	wmExpr expr.Expr
	wmCol  int
	// keep: the stream's columns the graph reads (nil: all; flow_prune.go)
	keep []bool
}

// gout is what a plan node compiles to: the graph node producing its
// rows, the event-time bound of each of its columns (nil: none), and
// whether it only ever inserts.
type gout struct {
	node       int
	time       []dataflow.WMBound
	appendOnly bool
	// table: its rows come from tables only, so the state kept for them
	// is as large as the tables (a join need not be bounded in time)
	table bool
}

// graphPlan compiles one continuous query into a dataflow graph and the
// sources feeding it.
type graphPlan struct {
	db   *DB
	b    *binder
	g    *dataflow.Graph
	srcs []*graphSource
	// WITH (table_joins = 'lookup'): joins with a table look it up
	lookup bool
	// WITH (stream_joins = 'unbounded'): a join of two streams may have
	// no time bound; both sides are kept for the view's life
	unboundedJoins bool
	// each stream scan's source (several scans of a stream share one)
	scans map[*ScanNode]*graphSource
	// EMIT ON WINDOW CLOSE (emitOnClose)
	eowc bool
	// the aggregates whose groups the watermark frees by a key, by node
	windowed map[int]*windowedAggNode
	// the output's columns
	outTs []types.T
}

// planGraph compiles a continuous query's plan into a dataflow graph.
func planGraph(db *DB, b *binder, node Node, o *catalog.Object) (*graphPlan, error) {
	p := &graphPlan{db: db, b: b, g: dataflow.NewGraph(), scans: map[*ScanNode]*graphSource{}, windowed: map[int]*windowedAggNode{}}
	switch mode := o.Options["stream_joins"]; mode {
	case "", "bounded":
	case "unbounded":
		p.unboundedJoins = true
	default:
		return nil, sqlerr.New(sqlerr.InvalidParameterValue, "stream_joins must be 'bounded' or 'unbounded', not %q", mode)
	}
	switch mode := o.Options["table_joins"]; mode {
	case "", "revise":
	case "lookup":
		p.lookup = true
	default:
		return nil, sqlerr.New(sqlerr.InvalidParameterValue, "table_joins must be 'revise' or 'lookup', not %q", mode)
	}
	var out gout
	var err error
	if o.Options["emit"] == "on window close" {
		out, err = p.compileHeld(node)
	} else {
		out, err = p.compile(node)
	}
	if err != nil {
		return nil, err
	}
	boundCol := -1
	if cols := node.Columns(); len(visible(cols)) == len(cols) {
		if boundCol = heldColumn(out.time, cols); boundCol >= 0 {
			p.g.SetOutputBound(boundCol, out.time[boundCol])
		}
	}
	p.g.SetOutput(out.node)
	if !p.g.UsesWatermarks() && (boundCol < 0 || o.Kind == catalog.KindSink) {
		// no operator goes by a watermark and no reader takes one from
		// this view (a sink has none): the streams' watermarks are not
		// followed (nor their columns read for it)
		for _, s := range p.srcs {
			if s.stream != nil {
				s.wmExpr, s.wmCol = nil, -1
			}
		}
	}
	p.pruneSources(node)
	reads := false
	for _, s := range p.srcs {
		reads = reads || s.stream != nil || s.view != nil
	}
	if !reads {
		return nil, cannot("it reads no stream")
	}
	p.outTs = colTypes(visible(node.Columns()))
	return p, nil
}

// sources are the graph's sources as a job reads them.
func (p *graphPlan) sources() []flow.Source {
	out := make([]flow.Source, len(p.srcs))
	for i, s := range p.srcs {
		out[i] = flow.Source{Name: s.rel.Name, Stream: s.stream, View: s.view, Table: s.table, Types: s.ts, Keep: s.keep, Watermark: s.wmExpr, TimeCol: s.wmCol}
	}
	return out
}

// emitOnClose holds the view's changes back until the watermark passes
// the time of their row (EMIT ON WINDOW CLOSE): the first output column
// bounded by a watermark says when a row is final.
func (p *graphPlan) emitOnClose(out gout, cols []Column) (gout, error) {
	col := heldColumn(out.time, cols)
	if col < 0 {
		return gout{}, sqlerr.Unsupported("EMIT ON WINDOW CLOSE needs an output column that a WATERMARK bounds, such as window_start or window_end of a TUMBLE or HOP over a stream with a WATERMARK")
	}
	p.eowc = true
	op := &dataflow.EmitOnClose{Col: col, Types: colTypes(cols)}
	node := p.g.Add(out.node, op, fmt.Sprintf("EmitOnWindowClose by #%d (%s) state=rows until the watermark passes them", col, cols[col].Name))
	p.g.OnWatermark(node, out.time[col], func(ctx *expr.Ctx, wm int64) (*dataflow.Msg, error) { return op.Close(ctx, wm), nil })
	return gout{node: node, time: out.time, appendOnly: out.appendOnly, table: out.table}, nil
}

// compileHeld compiles an EMIT ON WINDOW CLOSE view: its changes are held
// back by the highest level of the projections and filters on top that
// still has a column a watermark bounds (the window's end may be
// projected away, and the filters and projections above the hold change
// nothing about when a row is final).
func (p *graphPlan) compileHeld(node Node) (gout, error) {
	top, below := statelessTop(node)
	out, err := p.compile(below)
	if err != nil {
		return gout{}, err
	}
	// the bounds at each level, without building it
	levels := [][]dataflow.WMBound{out.time}
	for _, st := range top {
		t := levels[len(levels)-1]
		if pr, ok := st.(*ProjectNode); ok {
			t = projectTimes(pr, t)
		}
		levels = append(levels, t)
	}
	at := len(top)
	for at > 0 && heldColumn(levels[at], levelColumns(top, below, at)) < 0 {
		at--
	}
	wa := p.windowed[out.node]
	for _, st := range top[:at] {
		if out, err = p.step(out, st); err != nil {
			return gout{}, err
		}
	}
	cols := levelColumns(top, below, at)
	if col := heldColumn(levels[at], cols); wa != nil && col >= 0 && columnBelow(top[:at], col) == wa.key {
		// rows are held by the aggregate's window key: the aggregate
		// keeps its groups, emits nothing as they change, and hands on
		// each window's final rows when the watermark frees it
		wa.quiet = true
		wa.agg.SetQuiet()
		p.g.Relabel(wa.node, p.g.Label(wa.node)+" emitting each window's rows once, when the watermark closes it")
		p.eowc = true
	} else if out, err = p.emitOnClose(out, cols); err != nil {
		return gout{}, err
	}
	for _, st := range top[at:] {
		if out, err = p.step(out, st); err != nil {
			return gout{}, err
		}
	}
	return out, nil
}

// statelessTop splits the projections and filters (not top-N ones) on top
// of a plan from what is below them; top is innermost first.
func statelessTop(n Node) (top []Node, below Node) {
	for {
		switch x := n.(type) {
		case *ProjectNode:
			top, n = append(top, x), x.In
			continue
		case *FilterNode:
			if t, _ := topNOf(x); t == nil {
				top, n = append(top, x), x.In
				continue
			}
		}
		slices.Reverse(top)
		return top, n
	}
}

// levelColumns is the columns after the first at steps of top over below.
func levelColumns(top []Node, below Node, at int) []Column {
	if at == 0 {
		return below.Columns()
	}
	return top[at-1].Columns()
}

// projectTimes is the event-time bounds of a projection's columns, from
// its input's: a column that is an input's time plus a constant.
func projectTimes(x *ProjectNode, in []dataflow.WMBound) []dataflow.WMBound {
	out := make([]dataflow.WMBound, len(x.Exprs))
	for i, e := range x.Exprs {
		if c, off, ok := linearTime(e); ok && c < len(in) && in[c] != nil {
			out[i] = in[c].Shift(off)
		}
	}
	return out
}

// heldColumn is the first column a watermark bounds, by which EMIT ON
// WINDOW CLOSE holds rows back (-1: none).
func heldColumn(time []dataflow.WMBound, cols []Column) int {
	for i, b := range time {
		if b != nil && i < len(cols) && dataflow.IntLike(cols[i].Type.Kind) {
			return i
		}
	}
	return -1
}

// compile compiles n and what is below it.
func (p *graphPlan) compile(n Node) (gout, error) {
	n, err := rewrite(n)
	if err != nil {
		return gout{}, err
	}
	switch x := n.(type) {
	case *ScanNode:
		return p.scan(x)
	case *FilterNode:
		return p.over(x, x.In)
	case *ProjectNode:
		return p.over(x, x.In)
	case *WindowTVFNode:
		if x.Spec.Session {
			return gout{}, cannot("SESSION windows are supported under a GROUP BY of the session (window_start, window_end, partition keys) only")
		}
		return p.over(x, x.In)
	case *topNStep:
		return p.over(x, x.w.In)
	case *AggNode:
		return p.aggregate(x)
	case *JoinNode:
		return p.join(x)
	case *UnionNode:
		return p.union(x)
	case *setOpCounts:
		return p.setOp(x)
	case *WindowNode:
		return gout{}, cannot("window functions over a stream are supported as top-N only: ROW_NUMBER() or RANK() OVER (PARTITION BY ... ORDER BY ...) <= n in an outer WHERE")
	}
	return gout{}, cannot("%s is not supported in continuous queries", strings.Fields(n.describe())[0])
}

// over compiles in, then the step st over it.
func (p *graphPlan) over(st, in Node) (gout, error) {
	out, err := p.compile(in)
	if err != nil {
		return gout{}, err
	}
	return p.step(out, st)
}

// scan is a stream's rows: one source per stream, however often the
// query reads it.
func (p *graphPlan) scan(x *ScanNode) (gout, error) {
	if x.Rel == nil {
		return gout{}, cannot("it reads a system relation")
	}
	switch x.Rel.Kind {
	case catalog.KindTable:
		return p.table(x)
	case catalog.KindMaterializedView:
		return p.viewSource(x)
	case catalog.KindStream:
	default:
		return gout{}, cannot("%s is a %s: it cannot be read in a continuous query", x.Rel.Name, x.Rel.Kind)
	}
	ts := colTypes(x.Cols)
	var src *graphSource
	for _, s := range p.srcs {
		if s.rel.OID == x.Rel.OID && len(s.ts) == len(ts) {
			src = s
		}
	}
	if src == nil {
		stream, err := p.db.Stream(x.Rel.Name)
		if err != nil {
			return gout{}, err
		}
		src = &graphSource{rel: x.Rel, stream: stream, ts: ts, wmCol: -1}
		src.node, _ = p.g.AddSource("StreamSource " + x.Rel.Name + fmt.Sprintf(" shards=%d", len(stream.Shards())) + watermarkNote(x.Rel))
		if w := x.Rel.Watermark; w != nil {
			for i, c := range x.Rel.Columns {
				if c.Name == w.Column {
					src.wmCol = i
				}
			}
			if src.wmExpr, err = watermarkExpr(p.b, x.Rel); err != nil {
				return gout{}, err
			}
		}
		p.srcs = append(p.srcs, src)
	}
	p.scans[x] = src
	out := gout{node: src.node, time: make([]dataflow.WMBound, len(ts)), appendOnly: true}
	if src.wmCol >= 0 {
		for i, s := range p.srcs {
			if s == src {
				out.time[src.wmCol] = dataflow.WMBound{{Source: i}}
			}
		}
	}
	return out, nil
}

// table is a table's rows, then its changes as they commit: a view
// joining it is revised by them, as by the stream's rows.
func (p *graphPlan) table(x *ScanNode) (gout, error) {
	ts := colTypes(x.Cols)
	if len(ts) != len(x.Rel.Columns) {
		return gout{}, cannot("%s's system columns cannot be read in a continuous query", x.Rel.Name)
	}
	t, err := p.db.Table(x.Rel.Name)
	if err != nil {
		return gout{}, err
	}
	src := &graphSource{rel: x.Rel, table: t, ts: ts, wmCol: -1}
	src.node, _ = p.g.AddSource("TableSource " + x.Rel.Name + " (its rows, then its changes)")
	p.srcs = append(p.srcs, src)
	return gout{node: src.node, time: make([]dataflow.WMBound, len(ts)), table: true}, nil
}

// step adds one step over in.
func (p *graphPlan) step(in gout, st Node) (gout, error) {
	switch x := st.(type) {
	case *FilterNode:
		op := &dataflow.Filter{Pred: x.Pred, In: exprColumns(x.In.Columns())}
		return gout{node: p.g.Add(in.node, op, x.describe()), time: in.time, appendOnly: in.appendOnly, table: in.table}, nil
	case *ProjectNode:
		op := &dataflow.Project{Exprs: x.Exprs, Types: colTypes(x.Cols), In: exprColumns(x.In.Columns())}
		return gout{node: p.g.Add(in.node, op, x.describe()), time: projectTimes(x, in.time), appendOnly: in.appendOnly, table: in.table}, nil
	case *WindowTVFNode:
		op := &dataflow.Windows{Spec: x.Spec, Types: colTypes(x.Cols)}
		node := p.g.Add(in.node, op, x.describe())
		out := gout{node: node, time: append(append([]dataflow.WMBound{}, in.time...), nil, nil), appendOnly: in.appendOnly, table: in.table}
		if b := in.time[x.Spec.TimeCol]; b != nil {
			// a window starts after its rows' times less its size, and
			// ends after them (so at least 1µs later: a window ending at
			// the watermark gets no more rows); the watermark passing its
			// end closes it
			n := len(in.time)
			out.time[n], out.time[n+1] = b.Shift(-x.Spec.Size+1), b.Shift(1)
			p.onWatermark(node, b, func(wm int64) { op.CloseBefore(wm) })
		}
		return out, nil
	case *topNStep:
		op := x.op
		op.AppendOnly = in.appendOnly
		from, expire := in.node, -1
		for i, e := range op.Partition {
			if c, ok := e.(*expr.Col); ok && in.time[c.Idx] != nil && dataflow.IntLike(c.Type().Kind) {
				// a partition of a time passed gets no more changes
				expire = i
				from = p.dropClosed(from, c.Idx, in.time[c.Idx])
				break
			}
		}
		node := p.g.Add(from, op, x.describe()+" parallelism=1 state=rows per partition")
		if expire >= 0 {
			op.ExpireCol, op.ExpireAdd = expire, 1
			p.onWatermark(node, in.time[op.Partition[expire].(*expr.Col).Idx], func(wm int64) { op.ExpireBefore(wm) })
		}
		return gout{node: node, time: append(append([]dataflow.WMBound{}, in.time...), nil), table: in.table}, nil
	}
	return gout{}, cannot("%s is not supported in continuous queries", strings.Fields(st.describe())[0])
}

// dropClosed puts a DropClosed on column col in front of an operator that
// frees state by the bound b on it.
func (p *graphPlan) dropClosed(in, col int, b dataflow.WMBound) int {
	op := &dataflow.DropClosed{Col: col}
	node := p.g.Add(in, op, fmt.Sprintf("DropClosed #%d", col))
	p.onWatermark(node, b, func(wm int64) { op.Close(wm) })
	return node
}

// onWatermark registers fn on a bound.
func (p *graphPlan) onWatermark(node int, b dataflow.WMBound, fn func(wm int64)) {
	p.g.OnWatermark(node, b, func(_ *expr.Ctx, wm int64) (*dataflow.Msg, error) {
		fn(wm)
		return nil, nil
	})
}

// aggregate is an incremental GROUP BY; a group keyed by a bounded
// column is freed once the watermark passes its key (its row stays in
// the view: no change can reach it any more).
func (p *graphPlan) aggregate(x *AggNode) (gout, error) {
	if w, above := sessionBelow(x.In); w != nil {
		return p.session(x, w, above)
	}
	in, err := p.compile(x.In)
	if err != nil {
		return gout{}, err
	}
	opts := dataflow.IncAggOptions{AppendOnly: in.appendOnly}
	var bound dataflow.WMBound
	out := gout{time: make([]dataflow.WMBound, len(x.Cols)), table: in.table}
	for k, e := range x.Keys {
		c, ok := e.(*expr.Col)
		if !ok || in.time[c.Idx] == nil {
			continue
		}
		out.time[k] = in.time[c.Idx]
		if bound == nil && dataflow.IntLike(c.Type().Kind) {
			opts.HasWindow, opts.WindowKey, opts.WindowAdd = true, k, 1
			bound = in.time[c.Idx]
		}
	}
	agg, parallelism, err := p.keyedAgg(x, opts)
	if err != nil {
		return gout{}, err
	}
	label := "Incremental" + strings.TrimPrefix(x.describe(), "Hash") + " " + parallelism + " state=keyed columns"
	from := in.node
	if bound != nil {
		label += fmt.Sprintf(" freed by watermark on key %d", opts.WindowKey)
		from = p.dropClosed(from, x.Keys[opts.WindowKey].(*expr.Col).Idx, bound)
	}
	out.node = p.g.Add(from, agg, label)
	if bound != nil {
		wa := &windowedAggNode{node: out.node, agg: agg, key: opts.WindowKey}
		p.windowed[out.node] = wa
		ts := colTypes(x.Cols)
		p.g.OnWatermark(out.node, bound, func(ctx *expr.Ctx, wm int64) (*dataflow.Msg, error) {
			final := agg.ExpireWindows(wm)
			if !wa.quiet || len(final) == 0 {
				return nil, nil
			}
			return &dataflow.Msg{Kind: dataflow.MsgData, Batch: expr.BatchFromRows(ctx.Mem, ts, final)}, nil
		})
	}
	return out, nil
}

// windowedAgg is an incremental aggregate whose window groups the
// watermark frees.
type windowedAgg interface {
	dataflow.Operator
	ExpireWindows(wm int64) [][]types.Datum
	SetQuiet()
}

// windowedAggNode is an aggregate of the graph whose groups the
// watermark frees by key column key; quiet: it emits each group's final
// row then (EMIT ON WINDOW CLOSE), nothing before.
type windowedAggNode struct {
	node  int
	agg   windowedAgg
	key   int
	quiet bool
}

// keyedAgg is the incremental aggregate of x: with --workers > 1 and
// keys, split over the workers by a hash of the key, so each key's state
// is owned by one goroutine (their goroutines start when the job does).
func (p *graphPlan) keyedAgg(x *AggNode, opts dataflow.IncAggOptions) (windowedAgg, string, error) {
	if p.db.workers > 1 && len(x.Keys) > 0 {
		keys, aggs, narrow, nts := narrowAgg(x)
		if par, err := dataflow.NewParallelAgg(keys, aggs, opts, p.db.workers, narrow, nts); err == nil {
			par.SetInput(exprColumns(x.In.Columns()))
			return par, fmt.Sprintf("parallelism=%d (keys hashed to workers)", p.db.workers), nil
		}
	}
	agg, err := dataflow.NewIncAgg(x.Keys, x.Aggs, opts)
	if err != nil {
		return nil, "", cannot("%s", err.Error())
	}
	agg.Input = exprColumns(x.In.Columns())
	return agg, "parallelism=1", nil
}

// setOp is INTERSECT or EXCEPT over the per-row counts of both sides
// (rewritten so by setOpAsCounts): each row given the multiplicity the
// operation makes of its two counts.
func (p *graphPlan) setOp(x *setOpCounts) (gout, error) {
	in, err := p.compile(x.counts)
	if err != nil {
		return gout{}, err
	}
	cols := x.Columns()
	op := &dataflow.SetOp{Except: x.op.Except, All: x.op.All, Types: colTypes(cols)}
	return gout{node: p.g.Add(in.node, op, x.op.describe()+" from the counts per row"), time: in.time[:len(cols)], table: in.table}, nil
}

// sessionBelow finds a SESSION window under an aggregate, through
// filters and projections; above are those steps, innermost first.
func sessionBelow(n Node) (*WindowTVFNode, []Node) {
	var above []Node
	for {
		switch x := n.(type) {
		case *FilterNode:
			above, n = append(above, x), x.In
		case *ProjectNode:
			above, n = append(above, x), x.In
		case *WindowTVFNode:
			if !x.Spec.Session {
				return nil, nil
			}
			slices.Reverse(above)
			return x, above
		default:
			return nil, nil
		}
	}
}

// session is an aggregate over SESSION windows: the session operator
// keeps each partition's rows and recomputes its sessions (the steps
// above the window and the aggregate, as a batch) when they change; a
// session the watermark passes the end of is freed, and rows behind it
// are late.
func (p *graphPlan) session(agg *AggNode, w *WindowTVFNode, above []Node) (gout, error) {
	in, err := p.compile(w.In)
	if err != nil {
		return gout{}, err
	}
	outTs, compute := sessionCompute(agg, above)
	op := dataflow.NewSessionAgg(w.Spec, w.Partition, colTypes(w.In.Columns()), outTs, compute)
	op.Cols = exprColumns(w.Cols)
	from := in.node
	label := fmt.Sprintf("IncrementalSession gap=%dus partition=%v, then %s parallelism=1 state=rows per partition", w.Spec.Gap, w.Partition, strings.TrimPrefix(agg.describe(), "Hash"))
	b := in.time[w.Spec.TimeCol]
	if b != nil {
		from = p.dropClosed(from, w.Spec.TimeCol, b)
		label += " freed by watermark"
	}
	node := p.g.Add(from, op, label)
	out := gout{node: node, time: make([]dataflow.WMBound, len(agg.Cols)), table: in.table}
	if b != nil {
		p.onWatermark(node, b, func(wm int64) { op.Expire(wm) })
		// window_end as a key: the sessions the watermark has not freed
		// end after it, and a row not late starts a session ending later
		// still, so every change to come ends past the watermark (a
		// session's start has no such bound: an open one may have begun
		// long ago)
		for k, e := range agg.Keys {
			if c, ok := e.(*expr.Col); ok && columnBelow(above, c.Idx) == len(w.Cols)-1 {
				out.time[k] = b.Shift(1)
			}
		}
	}
	return out, nil
}

// columnBelow follows column i of filters and projections (innermost
// first) down to the column of their input it is (-1: it is computed).
func columnBelow(above []Node, i int) int {
	for k := len(above) - 1; k >= 0; k-- {
		if pr, ok := above[k].(*ProjectNode); ok {
			c, ok := pr.Exprs[i].(*expr.Col)
			if !ok {
				return -1
			}
			i = c.Idx
		}
	}
	return i
}

// union is UNION ALL: every input's changes.
func (p *graphPlan) union(x *UnionNode) (gout, error) {
	var ins []int
	var out gout
	for i, n := range x.Inputs {
		in, err := p.compile(n)
		if err != nil {
			return gout{}, err
		}
		ins = append(ins, in.node)
		if i == 0 {
			out.time, out.appendOnly, out.table = append([]dataflow.WMBound{}, in.time...), in.appendOnly, in.table
			continue
		}
		out.appendOnly = out.appendOnly && in.appendOnly
		out.table = out.table && in.table
		for c := range out.time {
			if c < len(in.time) {
				out.time[c] = out.time[c].Min(in.time[c])
			} else {
				out.time[c] = nil
			}
		}
	}
	out.node = p.g.AddUnion(ins, x.describe())
	return out, nil
}

// sides compiles a join's two inputs.
func (p *graphPlan) sides(x *JoinNode) (l, r gout, err error) {
	if l, err = p.compile(x.Left); err == nil {
		r, err = p.compile(x.Right)
	}
	return l, r, err
}

// asOf is an ASOF JOIN of any two inputs: each left row with the latest
// right row of its key at or before its time, revised as right rows come
// and go. With event-time bounds on both time columns, a left row is
// dropped once the right side's watermark passes it and a right row once
// a newer one serves every left row still to come; a side read from a
// table or view is kept whole, as a table-side join keeps it.
func (p *graphPlan) asOf(x *JoinNode) (gout, error) {
	l, r, err := p.sides(x)
	if err != nil {
		return gout{}, err
	}
	a := x.AsOf
	j := dataflow.NewAsOfJoin(x.Kind == exec.LeftJoin, x.LeftKeys, x.RightKeys, [2]int{a.LeftTime, a.RightTime}, a.Strict, colTypes(x.Left.Columns()), colTypes(x.Right.Columns()))
	bl, br := l.time[a.LeftTime], r.time[a.RightTime]
	// rows are dropped by the watermarks only when neither side takes a
	// row back: a retracted right row makes an older one the match again
	bounded := bl != nil && br != nil && l.appendOnly && r.appendOnly
	label := "Incremental" + x.describe() + " parallelism=1"
	switch {
	case bounded:
		label += " state=rows the watermarks have not passed"
	case l.table || r.table || p.unboundedJoins:
		label += " state=both sides"
	case bl != nil && br != nil:
		return gout{}, cannot("an ASOF JOIN of inputs that take rows back (an aggregate's, a join's) keeps both sides forever: join the streams, or materialize a side as a view — or, if the inputs are bounded or small enough, say so with CREATE MATERIALIZED VIEW ... WITH (stream_joins = 'unbounded')")
	default:
		return gout{}, cannot("an ASOF JOIN of two streams keeps both sides forever unless both time columns carry a WATERMARK: declare one on each stream — or, if the streams are bounded or small enough, say so with CREATE MATERIALIZED VIEW ... WITH (stream_joins = 'unbounded')")
	}
	node := p.g.AddBinary(l.node, r.node, j, label)
	if bounded {
		var wm [2]int64
		var has [2]bool
		for side, b := range []dataflow.WMBound{bl, br} {
			p.onWatermark(node, b, func(v int64) {
				wm[side], has[side] = v, true
				if has[0] && has[1] {
					j.Expire(wm[0], wm[1])
				}
			})
		}
	}
	out := gout{node: node, time: append(append([]dataflow.WMBound{}, l.time...), make([]dataflow.WMBound, len(r.time))...), table: l.table && r.table}
	return out, nil
}

// join is a join of any two inputs: the first of joinRules that applies
// says how it runs and how long each side's rows are kept.
func (p *graphPlan) join(x *JoinNode) (gout, error) {
	if x.AsOf != nil {
		return p.asOf(x)
	}
	l, r, err := p.sides(x)
	if err != nil {
		return gout{}, err
	}
	lk, rk := x.LeftKeys, x.RightKeys
	if len(lk) == 0 {
		// no equality: one partition, bounded by time if at all
		one := &expr.Const{D: types.DInt(0), T: types.TInt64}
		lk, rk = []expr.Expr{one}, []expr.Expr{one}
	}
	j, err := dataflow.NewJoin(x.Kind, lk, rk, x.Residual, colTypes(x.Left.Columns()), colTypes(x.Right.Columns()))
	if err != nil {
		return gout{}, cannot("%s", err.Error())
	}
	j.Cols = [2]expr.Columns{exprColumns(x.Left.Columns()), exprColumns(x.Right.Columns())}
	jp := &joinPlan{x: x, j: j, l: l, r: r, nL: len(x.Left.Columns())}
	for _, rule := range joinRules {
		if out, ok, err := rule.fn(p, jp); err != nil || ok {
			return out, err
		}
	}
	return gout{}, cannot("a join of two streams keeps both sides forever unless it is bounded in time: add a.ts BETWEEN b.ts - INTERVAL ... AND b.ts + INTERVAL ... (an interval join), or join on window_start of two windowed inputs — or, if the streams are bounded or small enough, say so with CREATE MATERIALIZED VIEW ... WITH (stream_joins = 'unbounded')")
}

// joinPlan is a join whose inputs are compiled, being planned.
type joinPlan struct {
	x    *JoinNode
	j    *dataflow.Join
	l, r gout
	nL   int // the left input's columns
}

// joinRules choose how a join runs: the first that applies does.
var joinRules = []struct {
	name string
	fn   func(p *graphPlan, jp *joinPlan) (gout, bool, error)
}{
	{"lookup: a stream's rows look a table or view up as it is when they arrive (table_joins = 'lookup')", (*graphPlan).lookupJoin},
	{"interval: each side's rows are dropped once the other side's watermark passes the interval", (*graphPlan).intervalJoin},
	{"window: equal time keys (window_start = window_start); a row is dropped once the other side's watermark passes its time", (*graphPlan).timeKeyJoin},
	{"a side read from a table or view: the other side is kept to be revised by its changes", (*graphPlan).tableSideJoin},
	{"unbounded: both sides kept, as asked (stream_joins = 'unbounded')", (*graphPlan).unboundedJoin},
}

// expiry is how long a join keeps a side's rows: until the bound on
// their time column col passes them (nil: for the join's life).
type expiry struct {
	col   int
	bound dataflow.WMBound
}

// intervalJoin: L.ts - R.ts within [lo, hi] — left rows with a - lo
// below the right watermark on b match no future right row, right rows
// with d + hi below the left one on c none either.
func (p *graphPlan) intervalJoin(jp *joinPlan) (gout, bool, error) {
	l, r, nL := jp.l, jp.r, jp.nL
	tsCol, wmCol, lo, hi, ok := intervalBound(jp.x.Residual, nL)
	if !ok || l.time[wmCol[0]] == nil || r.time[wmCol[1]] == nil {
		return gout{}, false, nil
	}
	time := make([]dataflow.WMBound, len(jp.x.Cols))
	time[tsCol[0]] = l.time[tsCol[0]].Min(r.time[wmCol[1]].Shift(lo))
	time[nL+tsCol[1]] = r.time[tsCol[1]].Min(l.time[wmCol[0]].Shift(-hi))
	return p.boundedJoin(jp, [2]expiry{{tsCol[0], r.time[wmCol[1]].Shift(lo)}, {tsCol[1], l.time[wmCol[0]].Shift(-hi)}}, time, fmt.Sprintf(" interval=[%dus, %dus]", lo, hi))
}

// timeKeyJoin: equal time columns (window_start = window_start) — a row
// whose time the other side's watermark passed meets nothing more.
func (p *graphPlan) timeKeyJoin(jp *joinPlan) (gout, bool, error) {
	x, l, r := jp.x, jp.l, jp.r
	for i := range x.LeftKeys {
		lc, lok := x.LeftKeys[i].(*expr.Col)
		rc, rok := x.RightKeys[i].(*expr.Col)
		if !lok || !rok || l.time[lc.Idx] == nil || r.time[rc.Idx] == nil || !dataflow.IntLike(lc.Type().Kind) {
			continue
		}
		time := make([]dataflow.WMBound, len(x.Cols))
		both := l.time[lc.Idx].Min(r.time[rc.Idx])
		time[lc.Idx], time[jp.nL+rc.Idx] = both, both
		return p.boundedJoin(jp, [2]expiry{{lc.Idx, r.time[rc.Idx]}, {rc.Idx, l.time[lc.Idx]}}, time, fmt.Sprintf(" by time key %s", x.LeftKeys[i]))
	}
	return gout{}, false, nil
}

// boundedJoin is a join whose sides' rows expire: a side that retracts (a
// view's changes, an aggregate's) may take a row back until its own bound
// passes it, so the row is kept that long too. It does not apply when
// that leaves a side read from streams with no bound.
func (p *graphPlan) boundedJoin(jp *joinPlan, expire [2]expiry, time []dataflow.WMBound, label string) (gout, bool, error) {
	for side, in := range [2]gout{jp.l, jp.r} {
		if !in.appendOnly {
			expire[side].bound = expire[side].bound.Min(in.time[expire[side].col])
		}
		if expire[side].bound == nil && !in.table {
			return gout{}, false, nil
		}
	}
	out := p.addJoin(jp, label)
	out.time = time
	for side, e := range expire {
		if e.bound != nil {
			jp.j.SetTimeColumn(side, e.col)
			p.onWatermark(out.node, e.bound, func(wm int64) { jp.j.ExpireBelow(side, wm) })
		}
	}
	return out, true, nil
}

// tableSideJoin: a side read from a table (or a view) is as large as the
// table; the other side is kept to be revised by the table's changes.
func (p *graphPlan) tableSideJoin(jp *joinPlan) (gout, bool, error) {
	if !jp.l.table && !jp.r.table {
		return gout{}, false, nil
	}
	return p.addJoin(jp, " (a side read from a table or view)"), true, nil
}

// unboundedJoin keeps both sides for the view's life, as the view asks.
func (p *graphPlan) unboundedJoin(jp *joinPlan) (gout, bool, error) {
	if !p.unboundedJoins {
		return gout{}, false, nil
	}
	return p.addJoin(jp, " unbounded"), true, nil
}

// addJoin adds the join's node; the output's time bounds are the caller's.
func (p *graphPlan) addJoin(jp *joinPlan, label string) gout {
	x, l, r := jp.x, jp.l, jp.r
	node := p.g.AddBinary(l.node, r.node, jp.j, "Incremental"+x.describe()+" parallelism=1 state=both sides"+label)
	return gout{node: node, time: make([]dataflow.WMBound, len(x.Cols)), appendOnly: x.Kind == exec.InnerJoin && l.appendOnly && r.appendOnly, table: l.table && r.table}
}

// lookupJoin is a join of a stream's rows with a table or view side under
// WITH (table_joins = 'lookup'): each row looks the other side up as it
// is when the row arrives and is not kept; the side's later changes
// revise nothing. The stream side's time bounds carry through.
func (p *graphPlan) lookupJoin(jp *joinPlan) (gout, bool, error) {
	x, j, l, r := jp.x, jp.j, jp.l, jp.r
	if !p.lookup || l.table == r.table {
		return gout{}, false, nil
	}
	tableSide := 0
	if r.table {
		tableSide = 1
	}
	if err := j.SetLookup(tableSide); err != nil {
		return gout{}, false, err
	}
	stream := l
	if tableSide == 0 {
		stream = r
	}
	nL := len(x.Left.Columns())
	out := gout{time: make([]dataflow.WMBound, len(x.Cols)), appendOnly: x.Kind == exec.InnerJoin && stream.appendOnly}
	if tableSide == 1 {
		copy(out.time, l.time)
	} else {
		copy(out.time[nL:], r.time)
	}
	label := "Incremental" + x.describe() + " parallelism=1 state=the table's side only (a lookup: its changes revise nothing)"
	out.node = p.g.AddBinary(l.node, r.node, j, label)
	return out, true, nil
}
