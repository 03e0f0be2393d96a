package planner

// The rewrites that map a continuous query's plan onto the operators of
// the streaming engine: top-N filters, ORDER BY ... LIMIT and DISTINCT ON
// as top-N, an aggregate over SESSION windows as the session operator,
// an aggregate's columns narrowed for its workers, and the time bounds of
// interval joins. The graph compiler (flow_graph.go) applies them.

import (
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/pingcap/tidb/pkg/parser/ast"
	"github.com/streamsql/streamsql/catalog"
	"github.com/streamsql/streamsql/engine/dataflow"
	"github.com/streamsql/streamsql/engine/exec"
	"github.com/streamsql/streamsql/engine/expr"
	"github.com/streamsql/streamsql/types"
)

// rule rewrites a plan node into nodes the streaming operators run; nil
// when it does not apply.
type rule struct {
	name string
	fn   func(n Node) (Node, error)
}

// rules are tried in order on every node the graph compiler meets; the
// first that applies replaces the node (and the compiler goes on with
// what it made).
var rules = []rule{
	{"a filter rn <= N over ROW_NUMBER() or RANK() is a top-N", topNFilter},
	{"ORDER BY ... LIMIT n is a top-N of one partition", orderByLimit},
	{"DISTINCT ON (keys) is a top-1 per key", distinctOn},
	{"INTERSECT and EXCEPT are per-row counts of both sides", setOpAsCounts},
}

// rewrite applies the first rule that applies to n (n itself when none).
func rewrite(n Node) (Node, error) {
	for _, r := range rules {
		m, err := r.fn(n)
		if err != nil {
			return nil, err
		}
		if m != nil {
			return m, nil
		}
	}
	return n, nil
}

// topNFilter is topNOf as a rule.
func topNFilter(n Node) (Node, error) {
	f, ok := n.(*FilterNode)
	if !ok {
		return nil, nil
	}
	top, below := topNOf(f)
	if top == nil {
		return nil, nil
	}
	return chain(top, below), nil
}

// orderByLimit is orderLimitOf as a rule.
func orderByLimit(n Node) (Node, error) {
	switch n.(type) {
	case *LimitNode:
	case *SortNode:
	default:
		return nil, nil
	}
	top, below, err := orderLimitOf(n)
	if err != nil {
		return nil, err
	}
	return chain(top, below), nil
}

// distinctOn is distinctOnTopN as a rule.
func distinctOn(n Node) (Node, error) {
	x, ok := n.(*DistinctOnNode)
	if !ok {
		return nil, nil
	}
	top, below, err := distinctOnTopN(x)
	if err != nil {
		return nil, err
	}
	return chain(top, below), nil
}

// chain stacks steps (a top-N, projections; lowest first) over below.
func chain(steps []Node, below Node) Node {
	n := below
	for _, st := range steps {
		switch x := st.(type) {
		case *topNStep:
			n = x // (over its window's input: below)
		case *ProjectNode:
			n = &ProjectNode{In: n, Exprs: x.Exprs, Cols: x.Cols}
		}
	}
	return n
}

// setOpCounts is INTERSECT or EXCEPT computed from counts: both inputs
// tagged and united, counted per row by an aggregate keyed by every
// column (counts), then each row given the multiplicity the operation
// makes of its two counts.
type setOpCounts struct {
	op     *SetOpNode
	counts Node
}

func (s *setOpCounts) Columns() []Column { return s.op.Columns() }
func (s *setOpCounts) Children() []Node  { return []Node{s.counts} }
func (s *setOpCounts) describe() string  { return s.op.describe() + " from the counts per row" }

// setOpAsCounts rewrites INTERSECT and EXCEPT [ALL] into setOpCounts.
func setOpAsCounts(n Node) (Node, error) {
	x, ok := n.(*SetOpNode)
	if !ok {
		return nil, nil
	}
	cols := x.Columns()
	w := len(cols)
	one, none := &expr.Const{D: types.DInt(1), T: types.TInt64}, &expr.Const{D: types.NullDatum, T: types.TInt64}
	tagged := func(in Node, l, r expr.Expr) Node {
		es := make([]expr.Expr, 0, w+2)
		for i, c := range cols {
			es = append(es, &expr.Col{Idx: i, T: c.Type, Name: c.Name})
		}
		tc := append(append([]Column(nil), cols...), Column{Name: "_left", Type: types.TInt64}, Column{Name: "_right", Type: types.TInt64})
		return &ProjectNode{In: in, Exprs: append(es, l, r), Cols: tc}
	}
	left, right := tagged(x.Left, one, none), tagged(x.Right, none, one)
	u := &UnionNode{Inputs: []Node{left, right}, Cols: left.Columns()}
	keys := make([]expr.Expr, w)
	for i, c := range cols {
		keys[i] = &expr.Col{Idx: i, T: c.Type, Name: c.Name}
	}
	agg := &AggNode{In: u, Keys: keys, Cols: u.Cols, Aggs: []exec.AggSpec{
		{Kind: exec.AggCount, Arg: &expr.Col{Idx: w, T: types.TInt64}, T: types.TInt64},
		{Kind: exec.AggCount, Arg: &expr.Col{Idx: w + 1, T: types.TInt64}, T: types.TInt64},
	}}
	return &setOpCounts{op: x, counts: agg}, nil
}

// notIncremental says why a query cannot be maintained incrementally.
type notIncremental struct {
	reason string
}

func (e *notIncremental) Error() string { return e.reason }

func cannot(format string, args ...any) error {
	return &notIncremental{reason: fmt.Sprintf(format, args...)}
}

// orderLimitOf maps ORDER BY ... LIMIT n onto a top-N over one partition
// (the row number is projected away); ORDER BY without LIMIT over an
// unbounded input never finishes and is rejected.
func orderLimitOf(n Node) ([]Node, Node, error) {
	var limit int64 = -1
	if l, ok := n.(*LimitNode); ok {
		c, ok := l.Count.(*expr.Const)
		if !ok || c.D.Null || l.Offset != nil {
			return nil, nil, cannot("LIMIT in a continuous query needs a constant count and no OFFSET")
		}
		limit = c.D.I
		n = l.In
	}
	sn, ok := n.(*SortNode)
	if !ok {
		return nil, nil, cannot("LIMIT without ORDER BY over a stream picks arbitrary rows: add ORDER BY")
	}
	if sn.Limit > 0 && (limit < 0 || sn.Limit < limit) {
		limit = sn.Limit
	}
	if limit < 0 {
		return nil, nil, cannot("ORDER BY without LIMIT over a stream never ends: order when you SELECT from the view, or keep the first rows with ORDER BY ... LIMIT n")
	}
	in := sn.In
	w := &WindowNode{In: in, Order: sn.Keys, Funcs: []exec.WinFunc{{Kind: exec.WinRowNumber, T: types.TInt64}}}
	w.Cols = append(append([]Column{}, in.Columns()...), Column{Name: "row_number", Type: types.TInt64})
	step := &topNStep{w: w, op: dataflow.NewTopN(nil, sn.Keys, limit, colTypes(in.Columns()), false)}
	cols := in.Columns()
	exprs := make([]expr.Expr, len(cols))
	for i, c := range cols {
		exprs[i] = &expr.Col{Idx: i, T: c.Type, Name: c.Name}
	}
	return []Node{step, &ProjectNode{In: step, Exprs: exprs, Cols: cols}}, in, nil
}

// narrowAgg rewrites an aggregate whose keys and arguments are plain
// columns onto just those columns, so that only they are copied to the
// workers (nil narrow: as it is).
func narrowAgg(a *AggNode) ([]expr.Expr, []exec.AggSpec, []int, []types.T) {
	at := map[int]int{}
	var narrow []int
	var ts []types.T
	remap := func(e expr.Expr) (expr.Expr, bool) {
		c, ok := e.(*expr.Col)
		if !ok {
			return e, false
		}
		i, seen := at[c.Idx]
		if !seen {
			i = len(narrow)
			at[c.Idx] = i
			narrow, ts = append(narrow, c.Idx), append(ts, c.T)
		}
		return &expr.Col{Idx: i, T: c.T, Name: c.Name}, true
	}
	keys := make([]expr.Expr, len(a.Keys))
	for i, k := range a.Keys {
		var ok bool
		if keys[i], ok = remap(k); !ok {
			return a.Keys, a.Aggs, nil, nil
		}
	}
	aggs := append([]exec.AggSpec(nil), a.Aggs...)
	for i := range aggs {
		if aggs[i].Sep != nil || len(aggs[i].Order) > 0 {
			return a.Keys, a.Aggs, nil, nil
		}
		if aggs[i].Arg != nil {
			var ok bool
			if aggs[i].Arg, ok = remap(aggs[i].Arg); !ok {
				return a.Keys, a.Aggs, nil, nil
			}
		}
	}
	return keys, aggs, narrow, ts
}

// watermarkExpr binds a stream's WATERMARK FOR expression over its columns.
func watermarkExpr(b *binder, rel *catalog.Object) (expr.Expr, error) {
	q, err := b.s.parser.ParseExpr(rel.Watermark.Expr)
	if err != nil {
		return nil, err
	}
	sub := &binder{s: b.s, tr: q.Tr}
	return sub.bindExpr(q.Node.(*ast.SelectStmt).Fields.Fields[0].Expr, &scope{cols: tableScope(rel, rel.Name)})
}

// topNStep is ROW_NUMBER() OVER (PARTITION BY ... ORDER BY ...) <= N in a
// flow: the window function's rows, limited to the first N per partition.
type topNStep struct {
	w  *WindowNode
	op *dataflow.TopN
}

func (t *topNStep) Columns() []Column { return t.w.Cols }
func (t *topNStep) Children() []Node  { return []Node{t.w.In} }
func (t *topNStep) describe() string {
	kind := "row_number"
	if t.op.Rank {
		kind = "rank"
	}
	return fmt.Sprintf("TopN %s <= %d partition=%v", kind, t.op.N, t.w.Partition)
}

// topNOf recognises a top-N filter: rn <= N (or rn < N, N >= rn) where rn
// is the only function of a window, ROW_NUMBER(), directly below or
// through a projection. It returns the steps replacing the filter and the
// window's input.
func topNOf(f *FilterNode) ([]Node, Node) {
	c, ok := f.Pred.(*expr.Compare)
	if !ok {
		return nil, nil
	}
	col, lim, op := c.L, c.R, c.Op
	switch op {
	case expr.GE:
		col, lim, op = c.R, c.L, expr.LE
	case expr.GT:
		col, lim, op = c.R, c.L, expr.LT
	}
	k, ok := lim.(*expr.Const)
	ref, ok2 := col.(*expr.Col)
	if !ok || !ok2 || k.D.Null || (op != expr.LE && op != expr.LT) {
		return nil, nil
	}
	n := k.D.I
	if k.Type().Kind != types.Int64 && k.Type().Kind != types.Int32 && k.Type().Kind != types.Int16 {
		return nil, nil
	}
	if op == expr.LT {
		n--
	}
	var proj *ProjectNode
	in := f.In
	idx := ref.Idx
	if p, ok := in.(*ProjectNode); ok {
		c, ok := p.Exprs[idx].(*expr.Col)
		if !ok {
			return nil, nil
		}
		proj, in, idx = p, p.In, c.Idx
	}
	w, ok := in.(*WindowNode)
	if !ok || len(w.Funcs) != 1 || (w.Funcs[0].Kind != exec.WinRowNumber && w.Funcs[0].Kind != exec.WinRank) || idx != len(w.In.Columns()) || n < 0 {
		return nil, nil
	}
	step := &topNStep{w: w, op: dataflow.NewTopN(w.Partition, w.Order, n, colTypes(w.In.Columns()), false)}
	step.op.Rank = w.Funcs[0].Kind == exec.WinRank
	if proj != nil {
		return []Node{step, proj}, w.In
	}
	return []Node{step}, w.In
}

// distinctOnTopN maps DISTINCT ON (keys) ... ORDER BY onto a top-N: the
// first row of each partition of keys in the ORDER BY's order, as
// ROW_NUMBER() OVER (PARTITION BY keys ORDER BY ...) <= 1; the row number
// is projected away.
func distinctOnTopN(x *DistinctOnNode) ([]Node, Node, error) {
	in, order := x.In, []exec.SortKey(nil)
	if s, ok := in.(*SortNode); ok && s.Limit < 0 {
		in, order = s.In, s.Keys
	}
	cols := in.Columns()
	w := &WindowNode{In: in, Partition: x.Keys, Order: order, Funcs: []exec.WinFunc{{Kind: exec.WinRowNumber, T: types.TInt64}},
		Cols: append(append([]Column{}, cols...), Column{Name: "row_number", Type: types.TInt64})}
	step := &topNStep{w: w, op: dataflow.NewTopN(x.Keys, order, 1, colTypes(cols), false)}
	drop := &ProjectNode{In: step, Cols: cols}
	for i, c := range cols {
		drop.Exprs = append(drop.Exprs, &expr.Col{Idx: i, T: c.Type, Name: c.Name})
	}
	return []Node{step, drop}, in, nil
}

// sessionCompute is how a session's rows (window columns included) become
// the view's rows: the steps between the window and the aggregate
// (innermost first), then the aggregate, run as a batch.
func sessionCompute(agg *AggNode, above []Node) ([]types.T, func(*expr.Ctx, arrow.RecordBatch) ([][]types.Datum, error)) {
	outTs := make([]types.T, 0, len(agg.Keys)+len(agg.Aggs))
	for _, k := range agg.Keys {
		outTs = append(outTs, k.Type())
	}
	for _, a := range agg.Aggs {
		outTs = append(outTs, a.T)
	}
	aboveOps := compileSteps(above)
	compute := func(ctx *expr.Ctx, b arrow.RecordBatch) ([][]types.Datum, error) {
		b.Retain()
		m, err := aboveOps.Run(ctx, &dataflow.Msg{Kind: dataflow.MsgData, Batch: b})
		if err != nil {
			return nil, err
		}
		in := colTypes(agg.In.Columns())
		bs, err := exec.Drain(ctx, exec.NewHashAgg(exec.NewScan(in, []arrow.RecordBatch{m.Batch}), agg.Keys, agg.Aggs))
		if err != nil {
			return nil, err
		}
		var rows [][]types.Datum
		for _, b := range bs {
			for r := 0; r < int(b.NumRows()); r++ {
				row := make([]types.Datum, b.NumCols())
				for c := range row {
					row[c] = types.DatumAt(b.Column(c), r)
				}
				rows = append(rows, row)
			}
			b.Release()
		}
		return rows, nil
	}
	return outTs, compute
}

// compileSteps makes the engine's operator of each step (filters and
// projections between a SESSION window and its aggregate), in order.
func compileSteps(steps []Node) dataflow.Chain {
	ops := make(dataflow.Chain, len(steps))
	for i, st := range steps {
		switch x := st.(type) {
		case *FilterNode:
			ops[i] = &dataflow.Filter{Pred: x.Pred, In: exprColumns(x.In.Columns())}
		case *ProjectNode:
			ops[i] = &dataflow.Project{Exprs: x.Exprs, Types: colTypes(x.Cols), In: exprColumns(x.In.Columns())}
		case *topNStep:
			ops[i] = x.op
		case *WindowTVFNode:
			ops[i] = &dataflow.Windows{Spec: x.Spec, Types: colTypes(x.Cols)}
		default:
			panic(fmt.Sprintf("planner: %T is not a streaming step", st))
		}
	}
	return ops
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
