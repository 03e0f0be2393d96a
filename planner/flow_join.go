package planner

import (
	"sync"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/streamsql/streamsql/catalog"
	"github.com/streamsql/streamsql/engine/dataflow"
	"github.com/streamsql/streamsql/engine/exec"
	"github.com/streamsql/streamsql/engine/expr"
	"github.com/streamsql/streamsql/engine/storage"
	"github.com/streamsql/streamsql/sources/streamstore"
	"github.com/streamsql/streamsql/types"
)

// Stream–table joins in views: the stream's rows enter one side of an
// incremental join (dataflow.Join), the table's rows the other — first
// its rows when the view starts, then every INSERT, UPDATE, DELETE and
// TRUNCATE as it commits. A change to the table retracts and re-emits the
// joined rows it affects, so the view always equals the join of the
// stream with the table as it is now (the consistent semantics; after a
// restart the stream is replayed against the table's current rows, which
// gives the same view).

// tableChange is one committed statement's effect on a joined table.
type tableChange struct {
	deleted, inserted []storage.Row
}

// tableStage is one join of the stream's rows with a table. A view may
// chain several (stream ⋈ t1 ⋈ t2 ...): the stream's rows go through
// each stage's stream side in turn; a table's changes enter its stage's
// table side and go on through the stages above it.
type tableStage struct {
	join       *dataflow.Join
	streamSide int
	tbl        *catalog.Object
	tblTs      []types.T
	tblSteps   []Node
	before     []Node // steps between the stage below and this one
	// the steps compiled (viewFlow.compile)
	tblOps, beforeOps dataflow.Chain
	queue             []tableChange // guarded by the flow's tblMu
	unwatch           func()
	lookup            bool // WITH (table_joins = 'lookup'): table changes revise nothing
}

// planJoin plans a join under a view: one side must read a stream (it
// becomes the flow's source; its node is returned for the caller to walk),
// the other a table, through filters and projections only.
func (f *viewFlow) planJoin(db *DB, b *binder, x *JoinNode) (Node, *tableStage, error) {
	if len(x.LeftKeys) == 0 {
		// no equality between the sides: one partition, each row meets
		// every row of the other side (a time bound keeps that bounded)
		one := &expr.Const{D: types.DInt(0), T: types.TInt64}
		y := *x
		y.LeftKeys, y.RightKeys = []expr.Expr{one}, []expr.Expr{one}
		x = &y
	}
	kinds := [2]catalog.Kind{}
	var tblSteps [2][]Node
	var scans [2]*ScanNode
	for i, side := range []Node{x.Left, x.Right} {
		n := side
		var steps []Node
	walk:
		for {
			switch y := n.(type) {
			case *FilterNode, *ProjectNode, *WindowTVFNode:
				steps = append([]Node{y}, steps...)
				n = y.Children()[0]
			case *ScanNode:
				if y.Rel == nil {
					return nil, nil, cannot("it joins a system relation")
				}
				kinds[i], scans[i] = y.Rel.Kind, y
				break walk
			default:
				// the stream side may be more (windows...); the caller walks it
				kinds[i] = "other"
				break walk
			}
		}
		tblSteps[i] = steps
	}
	if x.AsOf != nil && (kinds[0] != catalog.KindStream || kinds[1] != catalog.KindStream) {
		if kinds[0] == catalog.KindTable && kinds[1] == catalog.KindTable {
			return nil, nil, cannot("it joins tables only")
		}
		return nil, nil, beyondShapes("an ASOF JOIN with a table, a view or a subquery side is a dataflow graph")
	}
	streamSide := -1
	switch {
	case kinds[0] == catalog.KindTable && kinds[1] == catalog.KindTable:
		return nil, nil, cannot("it joins tables only")
	case kinds[0] == catalog.KindMaterializedView && kinds[1] == catalog.KindMaterializedView:
		if err := f.planViewJoin(db, x, scans, tblSteps); err != nil {
			return nil, nil, err
		}
		return x.Left, nil, nil // the first view's side is walked by the caller
	case kinds[1] == catalog.KindTable:
		streamSide = 0
	case kinds[0] == catalog.KindTable:
		streamSide = 1
	case kinds[0] == catalog.KindStream && kinds[1] == catalog.KindStream:
		if f.interval != nil {
			return nil, nil, beyondShapes("one join of two streams per view: make the inner join a materialized view of its own")
		}
		if err := f.planInterval(db, b, x, scans, tblSteps); err != nil {
			return nil, nil, err
		}
		return scans[0], nil, nil
	default:
		return nil, nil, beyondShapes("joins in continuous queries are supported between a stream (or a materialized view) and a table, and between two streams bounded in time, so far")
	}
	tableSide := 1 - streamSide
	j, err := dataflow.NewJoin(x.Kind, x.LeftKeys, x.RightKeys, x.Residual, colTypes(x.Left.Columns()), colTypes(x.Right.Columns()))
	if err != nil {
		return nil, nil, cannot("%s", err.Error())
	}
	j.Cols = [2]expr.Columns{exprColumns(x.Left.Columns()), exprColumns(x.Right.Columns())}
	st := &tableStage{join: j, streamSide: streamSide, tbl: scans[tableSide].Rel, tblTs: colTypes(scans[tableSide].Cols), tblSteps: tblSteps[tableSide]}
	if streamSide == 0 {
		return x.Left, st, nil
	}
	return x.Right, st, nil
}

// viewJoin is a join of two materialized views, each side fed by its
// view's changelog: the first view is the flow's parent, the second
// other. The parents run the join in their own goroutines, one message at
// a time (mu), so it sees each change of either side once, in order.
type viewJoin struct {
	mu    sync.Mutex
	join  *dataflow.Join // nil: a UNION ALL of the two views
	other *viewFlow
	rels  [2]*catalog.Object
	steps []Node // the second side's steps between its view and the join
	ops   dataflow.Chain
}

// planViewJoin plans a join of two materialized views, maintained: a
// change on either side is joined with the other side's rows (a view's
// rows are its state, so the join keeps no more than the two views hold).
func (f *viewFlow) planViewJoin(db *DB, x *JoinNode, scans [2]*ScanNode, steps [2][]Node) error {
	if f.vj != nil || f.interval != nil || len(f.stages) > 0 {
		return beyondShapes("a join of two materialized views joins nothing else in the same view so far: make one side a view of its own")
	}
	other := db.flow(scans[1].Rel.Name)
	if other == nil || db.flow(scans[0].Rel.Name) == nil {
		return cannot("materialized views %s and %s must both be maintained incrementally to be joined", scans[0].Rel.Name, scans[1].Rel.Name)
	}
	j, err := dataflow.NewJoin(x.Kind, x.LeftKeys, x.RightKeys, x.Residual, colTypes(x.Left.Columns()), colTypes(x.Right.Columns()))
	if err != nil {
		return cannot("%s", err.Error())
	}
	j.Cols = [2]expr.Columns{exprColumns(x.Left.Columns()), exprColumns(x.Right.Columns())}
	f.vj = &viewJoin{join: j, other: other, rels: [2]*catalog.Object{scans[0].Rel, scans[1].Rel}, steps: steps[1]}
	return nil
}

// planViewUnion plans UNION ALL of two materialized views (each through
// filters and projections): each view's changes, through its side's
// steps, are the union's changes. UNION (distinct) is an aggregate above.
func (f *viewFlow) planViewUnion(db *DB, x *UnionNode) error {
	if f.vj != nil || f.interval != nil || len(f.stages) > 0 || f.joinAbove || len(x.Inputs) != 2 {
		return beyondShapes("UNION ALL in a continuous query unites two materialized views and nothing else in the same view so far: make the other parts views of their own")
	}
	for _, in := range x.Inputs {
		if readsStream(in) {
			return beyondShapes("UNION ALL over a stream is a dataflow graph")
		}
	}
	var scans [2]*ScanNode
	var steps [2][]Node
	for i, in := range x.Inputs {
		n := in
	walk:
		for {
			switch y := n.(type) {
			case *FilterNode, *ProjectNode:
				steps[i] = append([]Node{y}, steps[i]...)
				n = y.Children()[0]
			case *ScanNode:
				scans[i] = y
				break walk
			default:
				return beyondShapes("UNION ALL in a continuous query unites materialized views (through filters and projections) so far: make each side a materialized view")
			}
		}
		if scans[i].Rel == nil || scans[i].Rel.Kind != catalog.KindMaterializedView || db.flow(scans[i].Rel.Name) == nil {
			return cannot("UNION ALL in a continuous query unites materialized views maintained incrementally so far: make each side a materialized view")
		}
	}
	f.vj = &viewJoin{other: db.flow(scans[1].Rel.Name), rels: [2]*catalog.Object{scans[0].Rel, scans[1].Rel}, steps: steps[1]}
	return nil
}

// applyFrom applies a change of parent p: for a join of two views, on the
// side (or, joined with itself, both sides) p feeds.
func (f *viewFlow) applyFrom(p *viewFlow, ctx *expr.Ctx, b arrow.RecordBatch, weights []int64) error {
	vj := f.vj
	if vj == nil {
		return f.apply(ctx, b, weights)
	}
	vj.mu.Lock()
	defer vj.mu.Unlock()
	for side, steps := range [2]dataflow.Chain{f.srcOps, vj.ops} {
		if (side == 0 && p != f.parent) || (side == 1 && p != vj.other) {
			continue
		}
		b.Retain()
		m, err := steps.Run(ctx, &dataflow.Msg{Kind: dataflow.MsgData, Batch: b, Weights: weights})
		if err != nil {
			return err
		}
		if vj.join == nil {
			// a union: the side's changes are the union's
			if err := f.applyMsg(ctx, m); err != nil {
				return err
			}
			continue
		}
		out, err := vj.join.Process(ctx, side, m)
		m.Release()
		if err != nil {
			return err
		}
		f.mu.Lock()
		f.joinRows = vj.join.Rows(0) + vj.join.Rows(1)
		f.mu.Unlock()
		if err := f.applyMsg(ctx, out); err != nil {
			return err
		}
	}
	return nil
}

// watchTables starts feeding each joined table's rows, then its changes,
// to its stage's queue.
func (f *viewFlow) watchTables(db *DB) error {
	if f.graph != nil {
		for _, src := range f.graph.srcs {
			if src.stream != nil || src.view != nil {
				continue
			}
			t, err := db.Table(src.rel.Name)
			if err != nil {
				return err
			}
			changed := func(deleted, inserted []storage.Row) { f.graphTableChanged(src, deleted, inserted) }
			rows, unwatch := t.Watch(changed)
			src.unwatch = unwatch
			changed(nil, rows)
		}
	}
	for _, st := range f.stages {
		t, err := db.Table(st.tbl.Name)
		if err != nil {
			return err
		}
		changed := func(deleted, inserted []storage.Row) { f.tableChanged(st, deleted, inserted) }
		rows, unwatch := t.Watch(changed)
		st.unwatch = unwatch
		changed(nil, rows)
	}
	return nil
}

// tableChanged queues a committed change (it runs under the table's lock).
func (f *viewFlow) tableChanged(st *tableStage, deleted, inserted []storage.Row) {
	if len(deleted) == 0 && len(inserted) == 0 {
		return
	}
	f.tblMu.Lock()
	st.queue = append(st.queue, tableChange{deleted, inserted})
	f.tblMu.Unlock()
	// the flow reading the stream applies it (for a view over a view too:
	// it runs every view built on it)
	src := f.source()
	src.tblEnq.Add(1)
	select {
	case src.tblWake <- struct{}{}:
	default:
	}
}

// graphTableChanged queues a committed change of a table a graph flow
// reads (it runs under the table's lock).
func (f *viewFlow) graphTableChanged(src *graphSource, deleted, inserted []storage.Row) {
	if len(deleted) == 0 && len(inserted) == 0 {
		return
	}
	f.tblMu.Lock()
	src.queue = append(src.queue, tableChange{deleted, inserted})
	f.tblMu.Unlock()
	f.tblEnq.Add(1)
	select {
	case f.tblWake <- struct{}{}:
	default:
	}
}

// drainGraphTables pushes the queued changes of the tables a graph flow
// reads into their sources, in the order they committed per table.
func (f *viewFlow) drainGraphTables(ctx *expr.Ctx) (int, error) {
	p := f.graph
	f.tblMu.Lock()
	queues := make([][]tableChange, len(p.srcs))
	count := 0
	for i, src := range p.srcs {
		queues[i], src.queue = src.queue, nil
		count += len(queues[i])
	}
	f.tblMu.Unlock()
	for i, queue := range queues {
		if len(queue) == 0 {
			continue
		}
		var rows [][]types.Datum
		var weights []int64
		for _, ch := range queue {
			for _, r := range ch.deleted {
				rows, weights = append(rows, r), append(weights, -1)
			}
			for _, r := range ch.inserted {
				rows, weights = append(rows, r), append(weights, 1)
			}
		}
		m := &dataflow.Msg{Kind: dataflow.MsgData, Batch: expr.BatchFromRows(memory.DefaultAllocator, p.srcs[i].ts, rows), Weights: weights}
		if err := p.g.Push(ctx, i, m); err != nil {
			return count, err
		}
	}
	n, err := f.drainViews(ctx)
	count += n
	if err != nil {
		return count, err
	}
	if count > 0 {
		return count, f.graphWatermarks(ctx, time.Now())
	}
	return 0, nil
}

// throughStages runs the stream's changes (after srcSteps) through every
// stage from the first one at, stream side in.
func (f *viewFlow) throughStages(ctx *expr.Ctx, m *dataflow.Msg, from int) (*dataflow.Msg, error) {
	for i := from; i < len(f.stages); i++ {
		st := f.stages[i]
		var err error
		if i > 0 {
			if m, err = st.beforeOps.Run(ctx, m); err != nil {
				return nil, err
			}
		}
		out, err := st.join.Process(ctx, st.streamSide, m)
		m.Release()
		if err != nil {
			return nil, err
		}
		m = out
	}
	f.countJoinRows()
	return m, nil
}

func (f *viewFlow) countJoinRows() {
	n := 0
	if f.join != nil {
		n += f.join.Rows(dataflow.Left) + f.join.Rows(dataflow.Right)
	}
	for _, st := range f.stages {
		n += st.join.Rows(dataflow.Left) + st.join.Rows(dataflow.Right)
	}
	f.mu.Lock()
	f.joinRows = n
	f.mu.Unlock()
}

// applyTableChanges runs the queued table changes of f's stages, and of
// every view built on f, through their stages; f reads the stream.
func (f *viewFlow) applyTableChanges(ctx *expr.Ctx) (int, error) {
	ctx.Now = time.Now().UnixMicro()
	count, err := f.drainTables(ctx)
	for _, c := range f.descendants() {
		n, cerr := c.drainTables(c.ectx)
		if cerr != nil {
			c.fail(cerr) // a view built on this one fails alone
		}
		count += n
	}
	return count, err
}

// tablesApplied counts queued changes applied and wakes whoever waits.
func (f *viewFlow) tablesApplied(count int) {
	if count == 0 {
		return
	}
	f.mu.Lock()
	f.tblDone += int64(count)
	f.noteCaughtUpLocked()
	close(f.progress)
	f.progress = make(chan struct{})
	f.mu.Unlock()
}

// descendants are the views built on f, transitively.
func (f *viewFlow) descendants() []*viewFlow {
	f.mu.RLock()
	out := append([]*viewFlow(nil), f.children...)
	f.mu.RUnlock()
	for i := 0; i < len(out); i++ {
		c := out[i]
		c.mu.RLock()
		out = append(out, c.children...)
		c.mu.RUnlock()
	}
	return out
}

// drainTables runs f's own queued table changes through their stages and
// returns how many it applied.
func (f *viewFlow) drainTables(ctx *expr.Ctx) (int, error) {
	if f.graph != nil {
		return f.drainGraphTables(ctx)
	}
	if len(f.stages) == 0 {
		return 0, nil
	}
	f.tblMu.Lock()
	queues := make([][]tableChange, len(f.stages))
	count := 0
	for i, st := range f.stages {
		queues[i], st.queue = st.queue, nil
		count += len(queues[i])
	}
	f.tblMu.Unlock()
	if count == 0 {
		return 0, nil
	}
	var err error
	for i, queue := range queues {
		if len(queue) == 0 || err != nil {
			continue
		}
		st := f.stages[i]
		var rows [][]types.Datum
		var weights []int64
		for _, ch := range queue {
			for _, r := range ch.deleted {
				rows, weights = append(rows, r), append(weights, -1)
			}
			for _, r := range ch.inserted {
				rows, weights = append(rows, r), append(weights, 1)
			}
		}
		m := &dataflow.Msg{Kind: dataflow.MsgData, Batch: expr.BatchFromRows(memory.DefaultAllocator, st.tblTs, rows), Weights: weights}
		if m, err = st.tblOps.Run(ctx, m); err != nil {
			continue
		}
		out, perr := st.join.Process(ctx, 1-st.streamSide, m)
		m.Release()
		if err = perr; err != nil {
			continue
		}
		if out, err = f.throughStages(ctx, out, i+1); err == nil {
			err = f.applyMsg(ctx, out)
		}
	}
	f.countJoinRows()
	return count, err
}

// Interval joins: two streams joined on keys and a bound in time,
// L.ts - R.ts ∈ [lo, hi] (written as BETWEEN or with >= and <=). A row
// can only match rows of the other side within the bound, so once the
// other side's watermark has passed it, it is dropped: the state of each
// side stays as large as the bound, not the stream.
type intervalJoin struct {
	second    *streamstore.Stream // the other stream (side 1-streamSide)
	secondRel *catalog.Object
	secondTs  []types.T
	steps     []Node // on the second stream's side
	ops       dataflow.Chain
	// the time column of each side (in its rows) and the bound
	tsCol  [2]int
	wmCol  [2]int // the columns the watermarks are on (tsCol but for a bound by two left columns)
	node   *JoinNode
	keep   []bool // the second stream's columns the view reads (nil: all)
	lo, hi int64
	// watermarks of each side, from its stream's WATERMARK FOR
	wmExpr [2]expr.Expr
	wms    [2]*dataflow.Watermarks
	marks  [2]int64 // last watermark applied to expiry
	has    [2]bool
	// unbounded: no time bound (stream_joins = 'unbounded'): nothing expires
	unbounded bool
	// window: a window join — tsCol are the window_end columns; a row is
	// done once the other stream's watermark reaches its window's end
	window bool
}

// windowJoin recognises a join of two windowed streams (TUMBLE or HOP
// with the same size and slide) that equates their window_start or
// window_end: it returns each side's window_end column and the time
// column each window is on.
func windowJoin(x *JoinNode, steps [2][]Node) (endCol, timeCol [2]int, ok bool) {
	var tvf [2]*WindowTVFNode
	for side := 0; side < 2; side++ {
		for _, st := range steps[side] {
			if w, isW := st.(*WindowTVFNode); isW {
				if tvf[side] != nil || w.Spec.Session {
					return endCol, timeCol, false
				}
				tvf[side] = w
			}
		}
		if tvf[side] == nil {
			return endCol, timeCol, false
		}
	}
	a, b := tvf[0].Spec, tvf[1].Spec
	if a.Size != b.Size || a.Slide != b.Slide || a.Offset != b.Offset {
		return endCol, timeCol, false
	}
	base := [2]int{len(tvf[0].In.Columns()), len(tvf[1].In.Columns())}
	for i := range x.LeftKeys {
		l, lok := x.LeftKeys[i].(*expr.Col)
		r, rok := x.RightKeys[i].(*expr.Col)
		if lok && rok && l.Idx-base[0] == r.Idx-base[1] && (l.Idx == base[0] || l.Idx == base[0]+1) {
			// the window columns are the last two of each side (filters keep positions)
			return [2]int{base[0] + 1, base[1] + 1}, [2]int{a.TimeCol, b.TimeCol}, true
		}
	}
	return endCol, timeCol, false
}

// linearTime matches col or col ± constant interval (µs).
func linearTime(e expr.Expr) (int, int64, bool) {
	switch x := e.(type) {
	case *expr.Col:
		return x.Idx, 0, true
	case *expr.Arith:
		c, ok := x.R.(*expr.Const)
		col, ok2 := x.L.(*expr.Col)
		if !ok || !ok2 || c.D.Null || c.Type().Kind != types.Interval || c.D.Iv.Months != 0 || (x.Op != '+' && x.Op != '-') {
			return 0, 0, false
		}
		d := int64(c.D.Iv.Days)*86_400_000_000 + c.D.Iv.Micros
		if x.Op == '-' {
			d = -d
		}
		return col.Idx, d, true
	}
	return 0, 0, false
}

// intervalBound finds L.a - R.b >= lo and L.c - R.d <= hi among the
// residual's conjuncts (columns: left's, then right's; nL is the left's
// width): L.ts - R.ts ∈ [lo, hi] when a = c and b = d, or a bound by two
// columns of a side (R.t BETWEEN L.start AND L.end, Nexmark q4's bids
// within an auction's life). A left row can match no future right row
// once L.a - lo is below the right watermark (on R.b), a right row none
// once R.d + hi is below the left one (on L.c): tsCol are the columns rows
// expire by (a, d), wmCol those the watermarks must be on (c, b).
func intervalBound(residual expr.Expr, nL int) (tsCol, wmCol [2]int, lo, hi int64, ok bool) {
	if residual == nil {
		return tsCol, wmCol, 0, 0, false
	}
	hasLo, hasHi := false, false
	var loCols, hiCols [2]int
	for _, c := range conjuncts(residual) {
		cmp, isCmp := c.(*expr.Compare)
		if !isCmp {
			continue
		}
		a, ca, ok1 := linearTime(cmp.L)
		b, cb, ok2 := linearTime(cmp.R)
		if !ok1 || !ok2 || cmp.L.Type().Kind != cmp.R.Type().Kind || (cmp.L.Type().Kind != types.Timestamp && cmp.L.Type().Kind != types.TimestampTZ) {
			continue
		}
		op := cmp.Op
		// as L.ts - R.ts op d
		if a >= nL && b < nL {
			a, b, ca, cb = b, a, cb, ca
			switch op {
			case expr.GE:
				op = expr.LE
			case expr.GT:
				op = expr.LT
			case expr.LE:
				op = expr.GE
			case expr.LT:
				op = expr.GT
			}
		}
		if a >= nL || b < nL {
			continue
		}
		d := cb - ca
		cols := [2]int{a, b - nL}
		switch op {
		case expr.GE, expr.GT:
			if hasLo && loCols != cols {
				continue
			}
			if !hasLo || d > lo {
				lo = d
			}
			hasLo, loCols = true, cols
		case expr.LE, expr.LT:
			if hasHi && hiCols != cols {
				continue
			}
			if !hasHi || d < hi {
				hi = d
			}
			hasHi, hiCols = true, cols
		}
	}
	return [2]int{loCols[0], hiCols[1]}, [2]int{hiCols[0], loCols[1]}, lo, hi, hasLo && hasHi
}

// watermarkOn reports whether column col of what steps output is the
// stream rel's own WATERMARK column.
func watermarkOn(rel *catalog.Object, steps []Node, col int) bool {
	c, direct := streamColumn(steps, col)
	return direct && rel.Watermark != nil && c < len(rel.Columns) && rel.Columns[c].Name == rel.Watermark.Column
}

// streamColumn maps column idx of the rows coming out of steps (filters
// and projections, lowest first) to the stream's column it is, if it is one.
func streamColumn(steps []Node, idx int) (int, bool) {
	for i := len(steps) - 1; i >= 0; i-- {
		if p, ok := steps[i].(*ProjectNode); ok {
			c, ok := p.Exprs[idx].(*expr.Col)
			if !ok {
				return 0, false
			}
			idx = c.Idx
		}
	}
	return idx, true
}

// planInterval sets up a join of two streams; it needs the time bound and
// a WATERMARK on both streams (on the bound's columns), with only filters
// between each stream and the join.
func (f *viewFlow) planInterval(db *DB, b *binder, x *JoinNode, scans [2]*ScanNode, steps [2][]Node) error {
	tsCol, wmCol, lo, hi, ok := intervalBound(x.Residual, len(x.Left.Columns()))
	if x.AsOf != nil {
		// the latest right row at or before each left row: the bound is
		// the watermarks themselves
		tsCol, ok = [2]int{x.AsOf.LeftTime, x.AsOf.RightTime}, true
		wmCol = tsCol
	}
	var windowed bool
	var timeCol [2]int // each stream's column the watermark must be on
	if !ok && x.AsOf == nil {
		// a window join: both sides windowed, joined on their windows
		tsCol, timeCol, windowed = windowJoin(x, steps)
		ok = windowed
	}
	unbounded := !ok && f.unboundedJoins
	if !ok && !unbounded {
		return cannot("a join of two streams keeps both sides forever unless it is bounded in time: add a.ts BETWEEN b.ts - INTERVAL ... AND b.ts + INTERVAL ... (an interval join), or join two windowed streams on window_start — or, if the streams are bounded or small enough, say so with CREATE MATERIALIZED VIEW ... WITH (stream_joins = 'unbounded')")
	}
	if !windowed {
		timeCol = wmCol
	}
	if ok && f.unboundedJoins && x.AsOf == nil {
		// bounded, but the streams have no watermarks to drop state by:
		// kept whole, as the view allows
		for side := 0; side < 2; side++ {
			if !watermarkOn(scans[side].Rel, steps[side], timeCol[side]) {
				unbounded = true
			}
		}
	}
	ij := &intervalJoin{tsCol: tsCol, wmCol: wmCol, lo: lo, hi: hi, window: windowed, unbounded: unbounded, node: x}
	if x.AsOf != nil {
		ij.node = nil // its time columns are not in the bound: no pruning
	}
	for side := 0; side < 2; side++ {
		for _, st := range steps[side] {
			_, isFilter := st.(*FilterNode)
			_, isProject := st.(*ProjectNode)
			_, isWindow := st.(*WindowTVFNode)
			if !isFilter && !(isProject && !windowed) && !(isWindow && windowed) {
				return beyondShapes("a join of two streams supports only filters and projections (and, for a window join, the window) between each stream and the join")
			}
		}
		rel := scans[side].Rel
		if unbounded {
			continue // no watermark needed: nothing is ever dropped
		}
		if !watermarkOn(rel, steps[side], timeCol[side]) {
			return cannot("an interval join needs a WATERMARK on both streams, on the columns the time bound compares (%s has none on that column)", rel.Name)
		}
		e, err := watermarkExpr(b, rel)
		if err != nil {
			return err
		}
		s, err := db.Stream(rel.Name)
		if err != nil {
			return err
		}
		ij.wmExpr[side] = e
		ij.wms[side] = dataflow.NewWatermarks(len(s.Shards()), 0, watermarkIdle)
	}
	var j joinOp
	if a := x.AsOf; a != nil {
		j = dataflow.NewAsOfJoin(x.Kind == exec.LeftJoin, x.LeftKeys, x.RightKeys, [2]int{a.LeftTime, a.RightTime}, a.Strict, colTypes(x.Left.Columns()), colTypes(x.Right.Columns()))
	} else {
		nj, err := dataflow.NewJoin(x.Kind, x.LeftKeys, x.RightKeys, x.Residual, colTypes(x.Left.Columns()), colTypes(x.Right.Columns()))
		if err != nil {
			return cannot("%s", err.Error())
		}
		nj.Cols = [2]expr.Columns{exprColumns(x.Left.Columns()), exprColumns(x.Right.Columns())}
		for side := 0; side < 2 && !unbounded; side++ {
			nj.SetTimeColumn(side, tsCol[side])
		}
		j = nj
	}
	first, err := db.Stream(scans[0].Rel.Name)
	if err != nil {
		return err
	}
	second, err := db.Stream(scans[1].Rel.Name)
	if err != nil {
		return err
	}
	f.join, f.streamSide, f.interval = j, 0, ij
	f.stream, f.rel, f.ts, f.srcSteps = first, scans[0].Rel, colTypes(scans[0].Cols), steps[0]
	ij.second, ij.secondRel, ij.secondTs, ij.steps = second, scans[1].Rel, colTypes(scans[1].Cols), steps[1]
	return nil
}

// neededJoinColumns works out which columns of each stream a join of two
// streams reads: what the steps above it use, its keys, its condition,
// its time columns and the watermarks' expressions (nil: all).
func (f *viewFlow) neededJoinColumns() (left, right []bool) {
	ij, x := f.interval, f.interval.node
	nL, nR := len(x.Left.Columns()), len(x.Right.Columns())
	out := neededColumns(f.pre, f.aggNode, f.post, nL+nR)
	if out == nil {
		return nil, nil
	}
	need := [2]map[int]bool{{}, {}}
	for j, k := range out {
		if k && j < nL {
			need[0][j] = true
		} else if k {
			need[1][j-nL] = true
		}
	}
	ok := true
	for side, keys := range [2][]expr.Expr{x.LeftKeys, x.RightKeys} {
		for _, k := range keys {
			ok = ok && expr.Refs(k, func(j int) { need[side][j] = true })
		}
		need[side][ij.tsCol[side]], need[side][ij.wmCol[side]] = true, true
	}
	if x.Residual != nil {
		ok = ok && expr.Refs(x.Residual, func(j int) {
			if j < nL {
				need[0][j] = true
			} else {
				need[1][j-nL] = true
			}
		})
	}
	if !ok {
		return nil, nil
	}
	masks := [2][]bool{}
	for side, steps := range [2][]Node{f.srcSteps, ij.steps} {
		ts := f.ts
		if side == 1 {
			ts = ij.secondTs
		}
		m := traceNeeded(steps, need[side], len(ts))
		if m == nil {
			continue // this side reads all its columns
		}
		if e := ij.wmExpr[side]; e != nil && !expr.Refs(e, func(j int) { m[j] = true }) {
			continue
		}
		m[len(ts)-3], m[len(ts)-2] = true, true // _shard, _seq: where a failed row is
		masks[side] = m
	}
	return masks[0], masks[1]
}

// shards are every shard the flow reads: the stream's, then (interval
// join) the second stream's.
func (f *viewFlow) shards() []*streamstore.Shard {
	if f.graph != nil {
		var out []*streamstore.Shard
		for _, s := range f.graph.srcs {
			if s.stream != nil {
				out = append(out, s.stream.Shards()...)
			}
		}
		return out
	}
	if f.interval == nil {
		return f.stream.Shards()
	}
	return append(append([]*streamstore.Shard(nil), f.stream.Shards()...), f.interval.second.Shards()...)
}

// sideOf maps a shard of shards() to its join side and its index in its stream.
func (f *viewFlow) sideOf(i int) (side, local int) {
	if n := len(f.stream.Shards()); i >= n {
		return 1, i - n
	}
	return 0, i
}

// applyInterval runs a batch of one stream's shard through its side of an
// interval join, then expires what both watermarks allow.
func (f *viewFlow) applyInterval(ctx *expr.Ctx, shard int, b arrow.RecordBatch) error {
	ij := f.interval
	side, local := f.sideOf(shard)
	now := time.Now()
	if !ij.unbounded {
		v, err := ij.wmExpr[side].Eval(ctx, b)
		if err != nil {
			return err
		}
		for i := 0; i < int(b.NumRows()); i++ {
			if d := v.At(i); !d.Null {
				ij.wms[side].Observe(local, d.I, now)
			}
		}
		v.Release()
	}
	steps := f.srcOps
	if side == 1 {
		steps = ij.ops
	}
	b.Retain()
	out, err := f.throughJoin(ctx, side, steps, &dataflow.Msg{Kind: dataflow.MsgData, Batch: b})
	if err == nil && len(f.stages) > 0 {
		// the joined rows go on to the tables joined with them
		if out, err = f.stages[0].beforeOps.Run(ctx, out); err == nil {
			out, err = f.throughStages(ctx, out, 0)
		}
	}
	if err == nil {
		err = f.applyMsg(ctx, out)
	}
	if err != nil {
		return err
	}
	if !ij.unbounded {
		f.expireInterval(now, side)
	}
	return nil
}

// expireInterval drops the rows no future row of the other side can
// match: left rows with ts - lo < the right watermark, right rows with
// ts + hi < the left watermark. A side is looked at when the other's
// watermark moved or it just received rows (fed says which).
func (f *viewFlow) expireInterval(now time.Time, fed int) {
	ij := f.interval
	for side := 0; side < 2; side++ {
		other := 1 - side
		wm, ok := ij.wms[other].Current(now)
		if !ok || (ij.has[other] && wm <= ij.marks[other] && side != fed) {
			continue
		}
		ij.marks[other], ij.has[other] = wm, true
		if aj, ok := f.join.(*dataflow.AsOfJoin); ok {
			wmL, okL := ij.wms[0].Current(now)
			wmR, okR := ij.wms[1].Current(now)
			if okL && okR {
				aj.Expire(wmL, wmR)
			}
			break
		}
		// a NULL time matches nothing; a window that ended (t <= wm) gets
		// no later row of the other side; an interval row is done once
		// its bound is behind the other side's watermark
		limit := wm + ij.lo // left: t - lo < wm
		switch {
		case ij.window:
			limit = wm + 1
		case side == 1:
			limit = wm - ij.hi // right: t + hi < wm
		}
		f.join.(*dataflow.Join).ExpireBelow(side, limit)
	}
	f.countJoinRows()
}
