package planner

import (
	"context"
	"errors"
	"fmt"
	"math"
	"reflect"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/pingcap/tidb/pkg/parser/ast"
	"github.com/streamsql/streamsql/catalog"
	"github.com/streamsql/streamsql/engine/dataflow"
	"github.com/streamsql/streamsql/engine/exec"
	"github.com/streamsql/streamsql/engine/expr"
	"github.com/streamsql/streamsql/planner/pgsql"
	"github.com/streamsql/streamsql/sources/streamstore"
	"github.com/streamsql/streamsql/sqlerr"
	"github.com/streamsql/streamsql/types"
)

// A materialized view over one stream whose query is stateless steps
// (WHERE, projections) around at most one GROUP BY is maintained
// incrementally: a goroutine reads the stream's shards from the start
// (replaying after a restart) and at the tail, pushes changelog batches
// through the steps and the incremental aggregate, and applies the output
// changelog to the view's rows. Other views are computed when read.

// viewFlow is a running incremental view.
type viewFlow struct {
	name string
	// discard: a blackhole sink's flow — its changes are counted and
	// summed into sink, not kept
	discard bool
	sink    sinkStats

	stream *streamstore.Stream
	// a view over another incrementally maintained view has no stream: its
	// parent feeds it its changelog (snapshot first), in the parent's
	// goroutine, right after applying each change to itself
	parent   *viewFlow
	children []*viewFlow // guarded by mu
	// graph flows reading this view as a source, fed what it writes to
	// its changelog (guarded by clogWrite; flow_viewsource.go)
	feeds []*viewFeed

	// the changelog in the stream store (changelog.go); nil for a
	// subscription's private flow
	clog    *streamstore.Stream
	clogTs  []types.T
	clogBuf [][]types.Datum // changes not yet written, guarded by mu
	// the changes being written (guarded by mu; the write itself is not,
	// so reads and subscribers never wait for it), and where the durable
	// records end without them
	clogFlight [][]types.Datum
	clogEnd    uint64
	clogWrite  sync.Mutex  // one write at a time (a view joining two views has two writers)
	replayTo   []uint64    // source positions the changelog already reflects
	replaying  atomic.Bool // reading up to replayTo: changes are not written
	quiet      atomic.Bool // rebuilding a parent view's rows the changelog reflects (flow_viewsource.go)
	ts         []types.T   // the stream scan's columns (data and system)
	pre        []Node      // stateless steps below the aggregate, innermost first
	agg        aggOp
	// joins (flow_join.go): the stream's rows go through srcSteps, then
	// through each stage joining a table (innermost first), or into one
	// side of the join of two streams (join, interval)
	stages     []*tableStage
	join       joinOp
	joinAbove  bool // planning: the scan reached is below a join
	srcSteps   []Node
	interval   *intervalJoin
	streamSide int
	tblMu      sync.Mutex
	tblWake    chan struct{}
	// WITH (stream_joins = 'unbounded'): a join of two streams may have no
	// time bound; both sides are kept for the view's life
	unboundedJoins bool
	// keep: the stream's columns the flow reads (nil: all); the others are
	// replaced by NULLs as batches are read, so that no step copies them
	keep     []bool
	tblEnq   atomic.Int64 // changes queued so far
	tblDone  int64        // changes applied, guarded by mu
	joinRows int          // rows the join holds, guarded by mu
	unwatch  func()
	aggNode  *AggNode
	aggOpts  dataflow.IncAggOptions
	rel      *catalog.Object      // the stream or view read
	aggDesc  string               // the aggregate, for EXPLAIN
	sess     *dataflow.SessionAgg // instead of agg, for SESSION windows
	// sessOnScan: only filters below the SESSION window, so its time
	// column is a column of the stream's rows
	sessOnScan bool
	post       []Node // stateless steps above it, innermost first
	// the steps compiled into the engine's operators, one per step
	// (compile): what runs
	preOps, postOps, srcOps dataflow.Chain
	windowOp                *dataflow.Windows // f.window's, closed by the watermark
	outTs                   []types.T

	// windows closed by the watermark (when the stream has one and the
	// view groups by a window)
	wmExpr    expr.Expr // over the stream scan's columns
	wms       *dataflow.Watermarks
	window    *WindowTVFNode
	endKey    int   // index of the group key holding window_end (or -1)
	startKey  int   // index of the group key holding window_start (or -1)
	eowc      bool  // EMIT ON WINDOW CLOSE: only closed windows reach the view
	watermark int64 // current, µs
	hasWM     bool
	// a graph view's output watermark on its bounded column (guarded by
	// mu): the views reading it take it as their source's
	outWM    int64
	hasOutWM bool
	late     int64 // rows dropped because their windows had closed
	groups   int   // aggregate groups held (state size)

	mu sync.RWMutex
	// the view's rows, with point indexes on the columns reads asked
	// for (view_index.go)
	rows      *dataflow.Arrangement
	positions []uint64
	progress  chan struct{} // closed and replaced whenever positions advance or changes are logged
	err       error

	// subscriptions (subscribe.go)
	lastTS   int64 // logical time of the last batch that changed rows, µs
	subs     map[*subscription]struct{}
	log      []change // changes not yet read by every subscriber
	logBase  int64    // position of log[0]
	logBytes int64    // memory the log holds (changeSize)
	// ended is closed, with endErr set, when the subscribers must stop:
	// what the flow reads was dropped, or the server is shutting down
	ended  chan struct{}
	endErr error
	reads  []string  // the catalog objects a subscription's own flow reads
	vj     *viewJoin // a join of two materialized views (flow_join.go)
	// a query of no fixed shape, compiled into a dataflow graph
	// (flow_graph.go): all of its operators are there
	graph *graphPlan

	cancel context.CancelFunc
	done   chan struct{}
	ectx   *expr.Ctx // a child's evaluation context

	// rows its expressions failed on, for its error stream (nil: a
	// subscription's private flow, whose errors go to the subscriber)
	errs *viewErrors
	// catching up: the source positions that existed when the flow
	// started (a SELECT waits until they are read), and where it started
	catchupTo, catchupFrom []uint64
	catchupTbl             int64 // table changes queued when it started
	caughtUp               atomic.Bool
}

// notIncremental says why a query has no incremental shape; shape: none
// of the fixed flow shapes fits, but a dataflow graph may.
type notIncremental struct {
	reason string
	shape  bool
}

func (e *notIncremental) Error() string { return e.reason }

func cannot(format string, args ...any) error {
	return &notIncremental{reason: fmt.Sprintf(format, args...)}
}

// beyondShapes is cannot for a query no fixed flow shape fits.
func beyondShapes(format string, args ...any) error {
	return &notIncremental{reason: fmt.Sprintf(format, args...), shape: true}
}

// planFlow plans a view's incremental maintenance: as one of the fixed
// flow shapes (planShape), or else as a dataflow graph (planGraph). When
// neither can run it the error is a *notIncremental saying why.
func planFlow(db *DB, b *binder, node Node, o *catalog.Object) (*viewFlow, error) {
	if db.graphFirst {
		if g, err := planGraph(db, b, node, o); err == nil {
			return g, nil
		}
	}
	f, err := planShape(db, b, node, o)
	var ni *notIncremental
	if errors.As(err, &ni) && ni.shape {
		return planGraph(db, b, node, o)
	}
	return f, err
}

// planShape recognises a fixed incremental shape in a view's plan.
func planShape(db *DB, b *binder, node Node, o *catalog.Object) (*viewFlow, error) {
	f := &viewFlow{endKey: -1, startKey: -1, eowc: o.Options["emit"] == "on window close"}
	switch mode := o.Options["stream_joins"]; mode {
	case "", "bounded":
	case "unbounded":
		// joins of two streams without a time bound keep both sides
		f.unboundedJoins = true
	default:
		return nil, sqlerr.New(sqlerr.InvalidParameterValue, "stream_joins must be 'bounded' or 'unbounded', not %q", mode)
	}
	var aggNode *AggNode
	n := node
	var steps []Node
	for {
		switch x := n.(type) {
		case *FilterNode:
			if top, below := topNOf(x); top != nil {
				steps = append(top, steps...)
				n = below
				continue
			}
			steps = append([]Node{x}, steps...)
			n = x.In
			continue
		case *ProjectNode, *WindowTVFNode:
			steps = append([]Node{x}, steps...)
			n = x.Children()[0]
			continue
		case *LimitNode, *SortNode:
			top, below, err := orderLimitOf(x)
			if err != nil {
				return nil, err
			}
			steps = append(top, steps...)
			n = below
			continue
		case *AggNode:
			if f.joinAbove {
				return nil, beyondShapes("an aggregate below a join in a continuous query: make it a materialized view and join that")
			}
			if aggNode != nil {
				// a level above: the outer aggregate runs over the
				// changelog of this one, as a step after it
				st, err := newAggStep(aggNode)
				if err != nil {
					return nil, err
				}
				f.post = append(append(append([]Node{}, steps...), st), f.post...)
			} else {
				f.post = steps
			}
			steps, aggNode = nil, x
			f.aggDesc = "Incremental" + strings.TrimPrefix(x.describe(), "Hash")
			n = x.In
			continue
		case *ScanNode:
			if x.Rel == nil {
				return nil, cannot("it reads a system relation")
			}
			switch x.Rel.Kind {
			case catalog.KindStream:
				s, err := db.Stream(x.Rel.Name)
				if err != nil {
					return nil, err
				}
				f.stream, f.rel = s, x.Rel
			case catalog.KindMaterializedView:
				if f.interval != nil {
					return nil, cannot("interval and as-of joins read two streams, not materialized views")
				}
				if f.parent = db.flow(x.Rel.Name); f.parent == nil {
					return nil, cannot("materialized view %s is not maintained incrementally", x.Rel.Name)
				}
				f.rel = x.Rel
			default:
				return nil, cannot("it reads no stream")
			}
			f.ts = colTypes(x.Cols)
			if f.interval != nil {
				// planInterval set the sources and their steps
			} else if f.joinAbove {
				// steps on the stream side of the join
				f.srcSteps = append(steps, f.srcSteps...)
			} else if aggNode != nil {
				f.pre = steps
			} else {
				f.post = steps
			}
			f.outTs = colTypes(visible(node.Columns()))
			if sessionStep(f.post) >= 0 {
				return nil, cannot("SESSION windows need a GROUP BY (the session's partition and aggregates)")
			}
			if err := f.planWindows(b, x.Rel, aggNode); err != nil {
				return nil, err
			}
			switch mode := o.Options["table_joins"]; mode {
			case "", "revise":
			case "lookup":
				// stream rows look the tables up as they are when they arrive
				for _, st := range f.stages {
					if err := st.join.SetLookup(1 - st.streamSide); err != nil {
						return nil, err
					}
					st.lookup = true
				}
			default:
				return nil, sqlerr.New(sqlerr.InvalidParameterValue, "table_joins must be 'revise' or 'lookup', not %q", mode)
			}
			// top-N steps over the stream itself see only inserts
			for _, st := range f.pre {
				if t, ok := st.(*topNStep); ok {
					t.op.AppendOnly = f.insertOnly()
				}
			}
			if aggNode == nil {
				for _, st := range f.post {
					if t, ok := st.(*topNStep); ok {
						t.op.AppendOnly = f.insertOnly()
					}
				}
			}
			if i := sessionStep(f.pre); aggNode != nil && i >= 0 {
				f.planSession(aggNode, i)
				f.aggDesc = "Session" + strings.TrimPrefix(f.aggDesc, "Incremental")
			} else if aggNode != nil {
				// a stream only inserts; a view's changelog also retracts
				// (a join retracts too: table changes, outer rows matched late)
				opts := dataflow.IncAggOptions{AppendOnly: f.insertOnly() && !retracts(f.pre), Quiet: f.eowc}
				if f.endKey >= 0 {
					opts.HasWindow, opts.WindowKey = true, f.endKey
				} else if f.startKey >= 0 {
					opts.HasWindow, opts.WindowKey, opts.WindowAdd = true, f.startKey, f.window.Spec.Size
				}
				agg, err := dataflow.NewIncAgg(aggNode.Keys, aggNode.Aggs, opts)
				if err != nil {
					return nil, cannot("%s", err.Error())
				}
				agg.Input = exprColumns(aggNode.In.Columns())
				f.agg, f.aggNode, f.aggOpts = agg, aggNode, opts
			}
			if f.eowc && f.endKey < 0 && f.startKey < 0 && (f.sess == nil || f.wms == nil) {
				// the graph holds rows back by any bounded output column
				return nil, beyondShapes("EMIT ON WINDOW CLOSE without a GROUP BY on a window is a dataflow graph")
			}
			if f.stream != nil && f.interval == nil && !f.joinAbove && f.sess == nil {
				if f.keep = neededColumns(f.pre, f.aggNode, f.post, len(f.ts)); f.keep != nil {
					// a failed row's report says where it is (_shard, _seq:
					// made for every read anyway)
					f.keep[len(f.ts)-3], f.keep[len(f.ts)-2] = true, true
				}
			}
			if ij := f.interval; ij != nil && ij.node != nil && f.sess == nil && len(f.stages) == 0 {
				f.keep, ij.keep = f.neededJoinColumns()
			}
			f.planTopNExpiry()
			return f, nil
		case *JoinNode:
			next, stage, err := f.planJoin(db, b, x)
			if err != nil {
				return nil, err
			}
			switch {
			case !f.joinAbove:
				// the steps between the (outermost) join and the aggregate
				// (or the top) run on the join's output
				if aggNode != nil {
					f.pre = steps
				} else {
					f.post = steps
				}
			case len(f.stages) > 0:
				// between this join and the one found above it
				f.stages[0].before = steps
			}
			if stage != nil {
				f.stages = append([]*tableStage{stage}, f.stages...)
			}
			steps = nil
			f.joinAbove = true
			n = next
			continue
		case *WindowNode:
			return nil, cannot("window functions over a stream are supported as top-N only: ROW_NUMBER() or RANK() OVER (PARTITION BY ... ORDER BY ...) <= n in an outer WHERE")
		case *UnionNode:
			if err := f.planViewUnion(db, x); err != nil {
				return nil, err
			}
			// the steps above the union run on both views' changes
			if aggNode != nil {
				f.pre = steps
			} else {
				f.post = steps
			}
			steps = nil
			f.joinAbove = true
			n = x.Inputs[0]
			continue
		case *SetOpNode:
			return nil, beyondShapes("INTERSECT and EXCEPT are a dataflow graph")
		case *DistinctOnNode:
			top, below, err := distinctOnTopN(x)
			if err != nil {
				return nil, err
			}
			steps = append(top, steps...)
			n = below
			continue
		default:
			return nil, cannot("%s is not supported in continuous queries", strings.Fields(n.describe())[0])
		}
	}
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

// joinOp is an incremental join: dataflow.Join or dataflow.AsOfJoin.
type joinOp interface {
	Process(ctx *expr.Ctx, side int, m *dataflow.Msg) (*dataflow.Msg, error)
	Rows(side int) int
}

// aggOp is an incremental aggregate: one (dataflow.IncAgg) or split over
// workers by key (dataflow.ParallelAgg).
type aggOp interface {
	Begin()
	Absorb(ctx *expr.Ctx, m *dataflow.Msg) error
	End(ctx *expr.Ctx) (*dataflow.Msg, error)
	Process(ctx *expr.Ctx, m *dataflow.Msg) (*dataflow.Msg, error)
	ExpireWindows(wm int64) [][]types.Datum
	Groups() int
	Types() []types.T
}

// parallelize splits the flow's aggregate over the database's workers.
func (f *viewFlow) parallelize(db *DB) {
	if f.graph != nil {
		f.graph.parallelize(db.workers)
		return
	}
	if f.aggNode == nil || db.workers <= 1 || len(f.aggNode.Keys) == 0 {
		return // (a global aggregate is one group)
	}
	keys, aggs, narrow, narrowTs := narrowAgg(f.aggNode)
	p, err := dataflow.NewParallelAgg(keys, aggs, f.aggOpts, db.workers, narrow, narrowTs)
	if err != nil {
		return // the single aggregate planned already works
	}
	p.SetInput(exprColumns(f.aggNode.In.Columns()))
	f.agg = p
	f.aggDesc += fmt.Sprintf(" workers=%d", db.workers)
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

// planWindows finds the window the aggregate groups by and binds the
// stream's watermark expression.
func (f *viewFlow) planWindows(b *binder, rel *catalog.Object, agg *AggNode) error {
	if agg == nil || rel.Watermark == nil {
		return nil
	}
	for _, st := range f.pre {
		if w, ok := st.(*WindowTVFNode); ok {
			f.window = w
			if w.Spec.Session {
				break
			}
		} else if _, isFilter := st.(*FilterNode); !isFilter && f.window != nil {
			return nil // a projection after the window: columns moved
		}
	}
	if f.window == nil {
		return nil
	}
	if f.window.Spec.Session {
		return f.bindWatermark(b, rel)
	}
	base := len(f.window.In.Columns())
	for k, e := range agg.Keys {
		if c, ok := e.(*expr.Col); ok {
			switch c.Idx {
			case base:
				f.startKey = k
			case base + 1:
				f.endKey = k
			}
		}
	}
	if f.startKey < 0 && f.endKey < 0 {
		return nil
	}
	return f.bindWatermark(b, rel)
}

// bindWatermark binds the stream's WATERMARK FOR expression and starts
// tracking the watermark of its shards.
func (f *viewFlow) bindWatermark(b *binder, rel *catalog.Object) error {
	e, err := watermarkExpr(b, rel)
	if err != nil {
		return err
	}
	f.wmExpr = e
	f.wms = dataflow.NewWatermarks(len(f.stream.Shards()), 0, watermarkIdle)
	return nil
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

// aggStep is an aggregate over the changelog of the aggregate below it
// (a GROUP BY over a GROUP BY): its input retracts, so every aggregate
// keeps what it needs to take a value back.
type aggStep struct {
	a  *AggNode
	op *dataflow.IncAgg
}

func newAggStep(a *AggNode) (*aggStep, error) {
	op, err := dataflow.NewIncAgg(a.Keys, a.Aggs, dataflow.IncAggOptions{})
	if err != nil {
		return nil, cannot("%s", err.Error())
	}
	op.Input = exprColumns(a.In.Columns())
	return &aggStep{a: a, op: op}, nil
}

func (s *aggStep) Columns() []Column { return s.a.Cols }
func (s *aggStep) Children() []Node  { return []Node{s.a.In} }
func (s *aggStep) describe() string {
	return "Incremental" + strings.TrimPrefix(s.a.describe(), "Hash") + " (over the aggregate below)"
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

// retracts reports whether steps can turn inserts into retractions.
func retracts(steps []Node) bool {
	for _, st := range steps {
		if _, ok := st.(*topNStep); ok {
			return true
		}
	}
	return false
}

// sessionStep is the index of a SESSION window among steps, or -1.
func sessionStep(steps []Node) int {
	for i, st := range steps {
		if w, ok := st.(*WindowTVFNode); ok && w.Spec.Session {
			return i
		}
	}
	return -1
}

// planSession maintains an aggregate over SESSION windows: the steps
// below the window feed the session operator, which recomputes a
// partition's sessions with the steps above the window and the aggregate
// as a batch (one session at a time) when its rows change.
func (f *viewFlow) planSession(agg *AggNode, at int) {
	w := f.pre[at].(*WindowTVFNode)
	above := f.pre[at+1:]
	f.pre = f.pre[:at]
	f.sessOnScan = true
	for _, st := range f.pre {
		if _, ok := st.(*FilterNode); !ok {
			f.sessOnScan = false
		}
	}
	outTs, compute := sessionCompute(agg, above)
	f.sess = dataflow.NewSessionAgg(w.Spec, w.Partition, colTypes(w.In.Columns()), outTs, compute)
	f.sess.Quiet = f.eowc
	f.sess.Cols = exprColumns(w.Cols)
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

// flowReadMax is the most records a view reads from a shard at once: a
// view catching up (replay, a burst) works on large batches, so the
// changelog it emits per input row shrinks; at the tail batches are as
// small as what arrived.
const flowReadMax = 1 << 16

// watermarkIdle is how long a silent shard holds the watermark back.
const watermarkIdle = 2 * time.Second

// applyBatch pushes one batch of a shard's records through the flow. With
// a watermark, the batch is cut where the watermark, advanced row by row
// by the batch's own event times, passes the end of a window: rows after
// the cut see that window closed (late rows, dropped) and EMIT ON WINDOW
// CLOSE emits it there. So which rows are late never depends on how a
// shard's records were batched — one record at a time, a large replay
// batch, or a restart in between give the same view. (Across shards it
// depends on how reads of different shards interleave, as in every engine
// whose sources keep their own watermarks.)
func (f *viewFlow) applyBatch(ctx *expr.Ctx, shard int, b arrow.RecordBatch) error {
	if f.wms == nil {
		return f.apply(ctx, b, nil)
	}
	v, err := f.wmExpr.Eval(ctx, b)
	if err != nil {
		return err
	}
	defer v.Release()
	n := int(b.NumRows())
	now := time.Now()
	if f.sess != nil {
		return f.applySessions(ctx, shard, b, v, now)
	}
	for lo := 0; lo < n; {
		hi := f.cut(v, shard, lo, n, now)
		sub := rowRange(ctx, b, lo, hi)
		err := f.apply(ctx, sub, nil)
		sub.Release()
		if err == nil {
			err = f.closeWindows(ctx)
		}
		if err != nil {
			return err
		}
		lo = hi
	}
	return nil
}

// rowRange is rows lo to hi of b, a batch of the caller's own (b itself,
// retained, when that is all of it).
func rowRange(ctx *expr.Ctx, b arrow.RecordBatch, lo, hi int) arrow.RecordBatch {
	if lo == 0 && hi == int(b.NumRows()) {
		b.Retain()
		return b
	}
	rows := make([]int, hi-lo)
	for i := range rows {
		rows[i] = lo + i
	}
	return expr.Take(ctx.Mem, b, rows)
}

// applySessions drops the rows that are behind the watermark as it
// stands just before each of them (so that, as with window cuts, lateness
// does not depend on batching) and applies the rest.
func (f *viewFlow) applySessions(ctx *expr.Ctx, shard int, b arrow.RecordBatch, v expr.Value, now time.Time) error {
	timeCol := -1
	if f.sessOnScan {
		timeCol = f.window.Spec.TimeCol
	}
	wm0, _ := f.wms.Current(now)
	bound := wm0
	var keep []int
	late := 0
	for i := 0; i < int(b.NumRows()); i++ {
		if timeCol >= 0 && !b.Column(timeCol).IsNull(i) {
			ts := types.DatumAt(b.Column(timeCol), i).I
			if ts < bound {
				if wm, ok := f.wms.Current(now); ok && ts < wm {
					if keep == nil {
						keep = make([]int, 0, b.NumRows())
						for k := 0; k < i; k++ {
							keep = append(keep, k)
						}
					}
					late++
					continue
				}
			}
		}
		if keep != nil {
			keep = append(keep, i)
		}
		if d := v.At(i); !d.Null {
			f.wms.Observe(shard, d.I, now)
			bound = max(bound, d.I)
		}
	}
	if keep != nil {
		b = expr.Take(ctx.Mem, b, keep)
		defer b.Release()
		f.mu.Lock()
		f.late += int64(late)
		f.mu.Unlock()
	}
	if err := f.apply(ctx, b, nil); err != nil {
		return err
	}
	return f.closeWindows(ctx)
}

// cut feeds the event times of rows lo.. to the watermark tracker and
// returns the end of the first segment: just after the row that moves the
// watermark past a window's end, or n.
func (f *viewFlow) cut(v expr.Value, shard, lo, n int, now time.Time) int {
	wm, ok := f.wms.Current(now)
	next := int64(math.MinInt64) // event time at which to look again
	if f.sess != nil {
		next = math.MaxInt64 // session ends are not on a grid: no cuts
	} else if ok {
		next = f.nextEnd(wm)
	}
	var vals []int64
	if !v.IsScalar() && v.Arr.NullN() == 0 && (v.Arr.DataType().ID() == arrow.TIMESTAMP || v.Arr.DataType().ID() == arrow.INT64) {
		vals = expr.FixedValues[int64](v.Arr)
	}
	for i := lo; i < n; i++ {
		var t int64
		if vals != nil {
			t = vals[i]
		} else if d := v.At(i); !d.Null {
			t = d.I
		} else {
			continue
		}
		f.wms.Observe(shard, t, now)
		if t < next {
			continue
		}
		w, has := f.wms.Current(now)
		if has && (!ok || w >= next) {
			return i + 1
		}
		next = math.MaxInt64 // other shards hold the watermark back
	}
	return n
}

// nextEnd is the earliest window end after wm: ends lie on the grid
// offset + size + k·slide.
func (f *viewFlow) nextEnd(wm int64) int64 {
	sp := f.window.Spec
	step := sp.Slide
	if step <= 0 {
		step = sp.Size
	}
	base := sp.Offset + sp.Size
	q := (wm - base) / step
	if (wm-base)%step < 0 {
		q--
	}
	return base + (q+1)*step
}

// closeWindows expires the groups whose windows the watermark passed; in
// EMIT ON WINDOW CLOSE mode their final rows go to the view now.
func (f *viewFlow) closeWindows(ctx *expr.Ctx) error {
	if f.graph != nil {
		return f.graphWatermarks(ctx, time.Now())
	}
	if f.wms == nil {
		return nil
	}
	wm, ok := f.wms.Current(time.Now())
	f.mu.RLock()
	stale := f.hasWM && wm <= f.watermark
	f.mu.RUnlock()
	if !ok || stale {
		return nil
	}
	if f.windowOp != nil { // (a SESSION window's operator closes its own)
		f.windowOp.CloseBefore(wm)
	}
	var final [][]types.Datum
	var ts []types.T
	groups := 0
	if f.sess != nil {
		final, ts, groups = f.sess.Expire(wm), f.sess.OutTypes, f.sess.Groups()
	} else {
		final, ts, groups = f.agg.ExpireWindows(wm), f.agg.Types(), f.agg.Groups()
	}
	for _, st := range f.post {
		if t, ok := st.(*topNStep); ok {
			t.op.ExpireBefore(wm)
		}
	}
	f.mu.Lock()
	f.watermark, f.hasWM = wm, true
	f.groups = groups
	f.mu.Unlock()
	if !f.eowc || len(final) == 0 {
		return nil
	}
	return f.emit(ctx, &dataflow.Msg{Kind: dataflow.MsgData, Batch: expr.BatchFromRows(ctx.Mem, ts, final)})
}

// start runs the flow until stop.
func (f *viewFlow) start(db *DB, name string) {
	f.name = name
	f.parallelize(db)
	f.compile()
	f.rows = dataflow.NewArrangement(f.outTs)
	f.progress = make(chan struct{})
	f.ectx = &expr.Ctx{Go: context.Background(), Mem: memory.DefaultAllocator, Loc: time.UTC, Catalog: catalogFuncs{db: db}, RowError: f.rowErrorHandler()}
	if err := f.prime(f.ectx); err != nil {
		f.fail(err)
		return
	}
	if f.parent != nil {
		// the tables' rows first (a lookup join keeps no parent rows to
		// join them with later), then the parent's rows and changes
		if err := f.watchTables(db); err != nil {
			f.fail(err)
			return
		}
		n, err := f.drainTables(f.ectx)
		if err != nil {
			f.fail(err)
			return
		}
		src := f.source()
		src.mu.Lock()
		src.tblDone += int64(n)
		src.mu.Unlock()
		f.attachTo(db, f.parent)
		if f.vj != nil && f.vj.other != f.parent {
			f.attachTo(db, f.vj.other)
		}
		// table changes queued since the drain wait for the source's loop
		select {
		case src.tblWake <- struct{}{}:
		default:
		}
		return
	}
	f.tblWake = make(chan struct{}, 1)
	if err := f.watchTables(db); err != nil {
		f.fail(err)
	}
	f.catchupTbl = f.tblEnq.Load()
	f.positions = make([]uint64, len(f.shards()))
	f.catchupTo = make([]uint64, len(f.shards()))
	for i, sh := range f.shards() {
		f.positions[i] = sh.TrimHorizon()
		f.catchupTo[i] = sh.Latest()
		if f.replayTo != nil && f.positions[i] < f.replayTo[i] {
			f.replaying.Store(true)
		}
	}
	f.catchupFrom = append([]uint64(nil), f.positions...)
	f.noteCaughtUpLocked()
	f.progress = make(chan struct{})
	ctx, cancel := context.WithCancel(context.Background())
	f.cancel, f.done = cancel, make(chan struct{})
	go f.run(ctx, db)
}

// prime puts in the view the rows its global aggregates (no GROUP BY)
// have over no input, as PostgreSQL's: SELECT count(*), sum(x) FROM s is
// one row, 0 and NULL, before s has any.
func (f *viewFlow) prime(ctx *expr.Ctx) error {
	if f.graph != nil {
		return f.graph.prime(ctx)
	}
	var m *dataflow.Msg
	if a, ok := f.agg.(*dataflow.IncAgg); ok && f.sess == nil {
		m = a.Initial(ctx)
	}
	for i, st := range f.post {
		if m != nil {
			var err error
			if m, err = f.postOps[i:i+1].Run(ctx, m); err != nil {
				return err
			}
		}
		if as, ok := st.(*aggStep); ok {
			if init := as.op.Initial(ctx); init != nil {
				if m != nil {
					m.Release()
				}
				m = init
			}
		}
	}
	if m == nil {
		return nil
	}
	defer m.Release()
	f.mu.Lock()
	defer f.mu.Unlock()
	if clog := f.clog; clog != nil && f.lastTS > 0 {
		// the view ran before: its changelog has these rows already
		f.clog = nil
		defer func() { f.clog = clog }()
	}
	f.applyLocked(m)
	return nil
}

func (f *viewFlow) stop() {
	if p, ok := f.agg.(*dataflow.ParallelAgg); ok {
		defer p.Close()
	}
	if f.graph != nil {
		defer f.graph.close()
	}
	for _, st := range f.stages {
		if st.unwatch != nil {
			st.unwatch()
		}
	}
	if f.graph != nil {
		for _, src := range f.graph.srcs {
			if src.unwatch != nil {
				src.unwatch()
			}
		}
	}
	if f.parent != nil {
		parents := []*viewFlow{f.parent}
		if f.vj != nil && f.vj.other != f.parent {
			parents = append(parents, f.vj.other)
		}
		for _, p := range parents {
			p.mu.Lock()
			for i, c := range p.children {
				if c == f {
					p.children = append(p.children[:i:i], p.children[i+1:]...)
					break
				}
			}
			p.mu.Unlock()
		}
		return
	}
	f.cancel()
	<-f.done
	f.detachViews()
}

// attachTo makes f a child of parent: f first takes the parent's current
// rows as inserts, then every change after them. The parent's lock is held
// throughout, so no change falls between the snapshot and the first
// change delivered.
func (f *viewFlow) attachTo(db *DB, parent *viewFlow) {
	ctx := f.ectx
	parent.mu.Lock()
	defer parent.mu.Unlock()
	parent.children = append(parent.children, f)
	if parent.err != nil {
		f.fail(parent.err)
		return
	}
	b, weights := parent.rows.Contents()
	if b == nil {
		return
	}
	err := f.applyFrom(parent, ctx, b, weights)
	b.Release()
	if err != nil {
		f.fail(err)
	}
}

// source is the flow that reads a stream for f (f itself, or the root of
// the views f is built on).
func (f *viewFlow) source() *viewFlow {
	for f.parent != nil {
		f = f.parent
	}
	return f
}

func (f *viewFlow) run(ctx context.Context, db *DB) {
	defer close(f.done)
	ectx := &expr.Ctx{Go: ctx, Mem: memory.DefaultAllocator, Loc: time.UTC, Catalog: catalogFuncs{db: db}, RowError: f.rowErrorHandler()}
	shards := f.shards()
	for {
		if f.viewsPending() {
			// nothing is read before every materialized view read is
			// attached (its rows rebuilt): see flow_viewsource.go
			all, err := f.attachViews(db)
			if err != nil {
				f.fail(err)
				return
			}
			if !all {
				select {
				case <-ctx.Done():
					return
				case <-time.After(10 * time.Millisecond):
				}
				continue
			}
		}
		f.releaseHeld()
		count, err := f.applyTableChanges(ectx)
		if err == nil && count > 0 {
			err = f.flushAtPositions()
		}
		if err != nil {
			f.fail(err)
			return
		}
		// FLUSH waits for the changes applied: they are in the changelog
		// (and so with the views reading this one) by now
		f.tablesApplied(count)
		progressed := count > 0
		// a round reads what every shard has, then applies it
		type read struct {
			shard int
			batch arrow.RecordBatch
			next  uint64
		}
		// one reader per shard with data: reading and decoding records
		// into Arrow is most of a view's work when it catches up
		reads := make([]read, len(shards))
		errs := make([]error, len(shards))
		var wg sync.WaitGroup
		for i, sh := range shards {
			max := db.viewBatch
			if f.replaying.Load() {
				// replay exactly what the changelog reflects, then write again
				if f.positions[i] >= f.replayTo[i] {
					continue
				}
				max = int(min(uint64(max), f.replayTo[i]-f.positions[i]))
			}
			if sh.Latest() <= f.positions[i] {
				continue
			}
			wg.Add(1)
			go func(i int, sh *streamstore.Shard, from uint64) {
				defer wg.Done()
				ts, mask := f.ts, f.keep
				if side, _ := f.sideOf(i); f.interval != nil && side == 1 {
					ts, mask = f.interval.secondTs, f.interval.keep
				} else if f.graph != nil {
					src, _ := f.graph.sourceOf(i)
					ts, mask = f.graph.srcs[src].ts, f.graph.srcs[src].keep
				}
				var keep []bool
				if mask != nil {
					keep = mask[:len(ts)-3] // the stream's own columns, without _shard, _seq, _arrival
				}
				b, seqs, arrivals, next, err := sh.ReadColumns(memory.DefaultAllocator, from, max, keep)
				if err != nil || b == nil {
					errs[i] = err
					if err == nil && next > from {
						// only void sequence numbers (an aborted append): step over them
						reads[i] = read{shard: i, next: next}
					}
					return
				}
				reads[i] = read{i, prune(withPositions(ts, b, sh.ID, seqs, arrivals), mask), next}
				b.Release()
			}(i, sh, f.positions[i])
		}
		wg.Wait()
		var round []read
		var skipped []uint64
		for i, r := range reads {
			if errs[i] != nil {
				for _, r := range reads {
					if r.batch != nil {
						r.batch.Release()
					}
				}
				f.fail(errs[i])
				return
			}
			if r.batch != nil {
				round = append(round, r)
			} else if r.next > 0 {
				if skipped == nil {
					skipped = append([]uint64(nil), f.positions...)
				}
				skipped[i] = r.next
			}
		}
		if skipped != nil {
			f.advance(skipped)
			progressed = true
		}
		ectx.Now = time.Now().UnixMicro()
		if f.combinable() && len(round) > 1 {
			// one aggregate step for the whole round: each group changed by
			// several shards is emitted once
			f.agg.Begin()
			var err error
			for _, r := range round {
				if err == nil {
					err = f.absorb(ectx, r.batch)
				}
				r.batch.Release()
			}
			if err == nil {
				err = f.endAggregate(ectx)
			}
			pos := append([]uint64(nil), f.positions...)
			for _, r := range round {
				pos[r.shard] = r.next
			}
			if err == nil && !f.replaying.Load() {
				err = f.flushChangelogs(pos)
			}
			if err != nil {
				f.fail(err)
				return
			}
			f.advance(pos)
			continue
		}
		for k, r := range round {
			var err error
			if f.graph != nil {
				err = f.applyGraph(ectx, r.shard, r.batch)
			} else if f.interval != nil {
				err = f.applyInterval(ectx, r.shard, r.batch)
			} else {
				err = f.applyBatch(ectx, r.shard, r.batch)
			}
			r.batch.Release()
			pos := append([]uint64(nil), f.positions...)
			pos[r.shard] = r.next
			if err == nil && !f.replaying.Load() {
				err = f.flushChangelogs(pos)
			}
			if err != nil {
				for _, rest := range round[k+1:] {
					rest.batch.Release()
				}
				f.fail(err)
				return
			}
			f.advance(pos)
			progressed = true
		}
		if progressed {
			continue
		}
		// wait for any shard to change, without polling
		cases := []reflect.SelectCase{{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(ctx.Done())}}
		for _, sh := range shards {
			cases = append(cases, reflect.SelectCase{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(sh.Changed())})
		}
		// a commit between the reads above and now has already closed its channel
		behind := false
		for i, sh := range shards {
			if sh.Latest() > f.positions[i] {
				behind = true
			}
		}
		if behind {
			continue
		}
		cases = append(cases, reflect.SelectCase{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(f.tblWake)})
		if f.wms != nil || (f.graph != nil && f.graph.usesWM) {
			// idle shards stop holding the watermark back after a while
			cases = append(cases, reflect.SelectCase{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(time.After(watermarkIdle / 2))})
		}
		chosen, _, _ := reflect.Select(cases)
		if chosen == 0 {
			return
		}
		err = f.closeWindows(ectx)
		if err == nil {
			err = f.flushAtPositions()
		}
		if err != nil {
			f.fail(err)
			return
		}
	}
}

// flushAtPositions writes the queued changelog with the current source
// positions (changes not tied to a new read: table changes, windows
// closed by an idle shard); nothing while replaying.
func (f *viewFlow) flushAtPositions() error {
	if f.replaying.Load() {
		return nil
	}
	f.mu.RLock()
	pos := append([]uint64(nil), f.positions...)
	f.mu.RUnlock()
	return f.flushChangelogs(pos)
}

// advance records that the source has been processed up to pos and
// wakes whoever waits for it.
func (f *viewFlow) advance(pos []uint64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	copy(f.positions, pos)
	if f.replaying.Load() {
		done := true
		for k, p := range f.positions {
			if p < f.replayTo[k] {
				done = false
			}
		}
		f.replaying.Store(!done)
	}
	f.noteCaughtUpLocked()
	close(f.progress)
	f.progress = make(chan struct{})
}

// noteCaughtUpLocked marks the flow caught up once it has read what its
// source held when it started; callers hold f.mu (or own f).
func (f *viewFlow) noteCaughtUpLocked() {
	if f.caughtUp.Load() || f.tblDone < f.catchupTbl {
		return
	}
	for i, p := range f.positions {
		if p < f.catchupTo[i] {
			return
		}
	}
	f.caughtUp.Store(true)
}

// isCaughtUp reports whether the flow (or, for a view over views, the
// flow reading the stream) has read everything its source held when it
// started.
func (f *viewFlow) isCaughtUp() bool {
	return !f.anyRoot(func(r *viewFlow) bool { return !r.caughtUp.Load() })
}

// anyRoot reports whether pred holds for one of f's roots (see roots),
// without making their list: it runs for every batch.
func (f *viewFlow) anyRoot(pred func(*viewFlow) bool) bool {
	if f.parent == nil {
		return pred(f)
	}
	return f.parent.anyRoot(pred) || (f.vj != nil && f.vj.other.anyRoot(pred))
}

// roots are the flows reading the streams f is built on: f itself, its
// parent's root, or (a join of two views) both parents' roots.
func (f *viewFlow) roots() []*viewFlow {
	if f.parent == nil {
		return []*viewFlow{f}
	}
	rs := f.parent.roots()
	if f.vj != nil {
		for _, r := range f.vj.other.roots() {
			if !slices.Contains(rs, r) {
				rs = append(rs, r)
			}
		}
	}
	return rs
}

// catchup is how far the flow reading f's stream is: records read of
// those there were when it started.
func (f *viewFlow) catchup() (read, total int64) {
	for _, src := range f.roots() {
		src.mu.RLock()
		for i := range src.catchupTo {
			total += int64(src.catchupTo[i]) - int64(src.catchupFrom[i])
			read += int64(min(src.positions[i], src.catchupTo[i])) - int64(src.catchupFrom[i])
		}
		src.mu.RUnlock()
	}
	return read, total
}

// waitCaughtUp blocks until the flow has caught up, ctx ends, or timeout
// passes (an error saying how far it got).
func (f *viewFlow) waitCaughtUp(ctx context.Context, timeout time.Duration) error {
	if f.isCaughtUp() {
		return nil
	}
	deadline := time.After(timeout)
	for !f.isCaughtUp() {
		src := f.roots()[0]
		for _, r := range f.roots() {
			if !r.caughtUp.Load() {
				src = r // wait for one still catching up
				break
			}
		}
		src.mu.RLock()
		ch, err := src.progress, src.err
		src.mu.RUnlock()
		if err != nil {
			return nil // the failure is reported by the read itself
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return sqlerr.New(sqlerr.QueryCanceled, "canceling statement due to user request")
		case <-deadline:
			read, total := f.catchup()
			return sqlerr.New(sqlerr.ObjectNotInPrerequisiteState, "materialized view %q is still catching up: %d of %d records read", f.name, read, total).
				WithHint(fmt.Sprintf("Wait, or SET view_catchup_timeout to more than %s; streamsql_views shows its progress.", timeout))
		}
	}
	return nil
}

// rowErrorHandler is what the flow's evaluation context does with a row
// an expression fails on: keep it for the error stream (nil — the error
// fails the flow — when it has none).
func (f *viewFlow) rowErrorHandler() func(expr.RowError) {
	if f.errs == nil {
		return nil
	}
	return func(r expr.RowError) {
		// rows failed during a replay are in the error stream already
		if !f.suppressed() {
			f.errs.add(r)
		}
	}
}

// combinable: batches of several shards can go through the aggregate as
// one step (no watermark, whose order across shards matters, no sessions).
func (f *viewFlow) combinable() bool {
	return f.agg != nil && f.wms == nil && f.sess == nil && f.interval == nil
}

// absorb runs a batch through the steps below the aggregate into it,
// without emitting (endAggregate does).
func (f *viewFlow) absorb(ctx *expr.Ctx, b arrow.RecordBatch) error {
	b.Retain()
	var late int64
	m := &dataflow.Msg{Kind: dataflow.MsgData, Batch: b}
	var err error
	if f.joinAbove {
		if m, err = f.fromStream(ctx, m); err != nil {
			return err
		}
	}
	before := f.preOps.Late()
	m, err = f.preOps.Run(ctx, m)
	late += f.preOps.Late() - before
	if err != nil {
		return err
	}
	defer m.Release()
	return f.agg.Absorb(ctx, m)
}

// endAggregate emits the changes of the aggregate step begun with Begin.
func (f *viewFlow) endAggregate(ctx *expr.Ctx) error {
	out, err := f.agg.End(ctx)
	if err != nil {
		return err
	}
	f.mu.Lock()
	f.groups = f.agg.Groups()
	f.mu.Unlock()
	if f.eowc {
		out.Release()
		return nil
	}
	return f.emit(ctx, out)
}

func (f *viewFlow) fail(err error) {
	f.mu.Lock()
	f.err = err
	close(f.progress)
	f.progress = make(chan struct{})
	f.mu.Unlock()
}

// apply pushes one changelog batch (stream records: weights nil) through
// the view's steps.
func (f *viewFlow) apply(ctx *expr.Ctx, b arrow.RecordBatch, weights []int64) error {
	m := &dataflow.Msg{Kind: dataflow.MsgData, Batch: b, Weights: weights}
	b.Retain()
	if f.joinAbove {
		var err error
		if m, err = f.fromStream(ctx, m); err != nil {
			return err
		}
	}
	return f.applyMsg(ctx, m)
}

// fromStream runs the stream's rows through the steps below the joins
// and the table joins.
func (f *viewFlow) fromStream(ctx *expr.Ctx, m *dataflow.Msg) (*dataflow.Msg, error) {
	m, err := f.srcOps.Run(ctx, m)
	if err != nil {
		return nil, err
	}
	return f.throughStages(ctx, m, 0)
}

// throughJoin runs one side's changes through its steps and the join.
func (f *viewFlow) throughJoin(ctx *expr.Ctx, side int, steps dataflow.Chain, m *dataflow.Msg) (*dataflow.Msg, error) {
	m, err := steps.Run(ctx, m)
	if err != nil {
		return nil, err
	}
	out, err := f.join.Process(ctx, side, m)
	m.Release()
	f.countJoinRows()
	return out, err
}

// applyMsg pushes a changelog (the join's output, or the stream's rows)
// through the aggregate and the steps around it into the view.
func (f *viewFlow) applyMsg(ctx *expr.Ctx, m *dataflow.Msg) error {
	if f.agg != nil || f.sess != nil {
		var err error
		var late int64
		before := f.preOps.Late()
		m, err = f.preOps.Run(ctx, m)
		late += f.preOps.Late() - before
		if err != nil {
			return err
		}
		var out *dataflow.Msg
		var groups int
		if f.sess != nil {
			before := f.sess.Late
			out, err = f.sess.Process(ctx, m)
			late += f.sess.Late - before
			groups = f.sess.Groups()
		} else {
			out, err = f.agg.Process(ctx, m)
			groups = f.agg.Groups()
		}
		m.Release()
		if err != nil {
			return err
		}
		f.mu.Lock()
		f.late += late
		f.groups = groups
		f.mu.Unlock()
		if f.eowc {
			// results reach the view when their window closes
			out.Release()
			return nil
		}
		m = out
	}
	return f.emit(ctx, m)
}

// emit runs a changelog through the steps above the aggregate and applies
// it to the view's rows.
func (f *viewFlow) emit(ctx *expr.Ctx, m *dataflow.Msg) error {
	m, err := f.postOps.Run(ctx, m)
	if err != nil {
		return err
	}
	defer m.Release()
	f.mu.Lock()
	f.applyLocked(m)
	children := f.children
	f.mu.Unlock()
	for _, c := range children {
		if c.failed() {
			continue
		}
		if err := c.applyFrom(f, c.ectx, m.Batch, m.Weights); err != nil {
			c.fail(err) // a view built on this one fails alone
		}
	}
	return nil
}

func (f *viewFlow) failed() bool {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return f.err != nil
}

// failure is why the flow stopped (nil: it runs).
func (f *viewFlow) failure() error {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return f.err
}

// applyLocked adds a changelog to the view's rows; callers hold f.mu.
func (f *viewFlow) applyLocked(m *dataflow.Msg) {
	if f.discard {
		f.sink.add(m)
		return
	}
	// changes are consolidated for subscribers and the changelog, when
	// there are any: a row retracted and added back in one batch is no
	// change
	consolidate := len(f.subs) > 0 || (f.clog != nil && !f.suppressed())
	cs := f.rows.Apply(m.Batch, m.Weights, consolidate)
	if m.Batch.NumRows() > 0 {
		changes := make([]change, len(cs))
		for i, c := range cs {
			changes[i] = change{row: c.Row, diff: c.Diff}
		}
		f.logChangesLocked(changes)
	}
}

// compileSteps makes the engine's operator of each step, in order.
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
		case *aggStep:
			ops[i] = x.op
		case *WindowTVFNode:
			ops[i] = &dataflow.Windows{Spec: x.Spec, Types: colTypes(x.Cols)}
		default:
			panic(fmt.Sprintf("planner: %T is not a streaming step", st))
		}
	}
	return ops
}

// compile makes the engine's operators of every step list of the flow.
func (f *viewFlow) compile() {
	f.preOps, f.postOps, f.srcOps = compileSteps(f.pre), compileSteps(f.post), compileSteps(f.srcSteps)
	for i, st := range f.pre {
		if st == f.window {
			f.windowOp = f.preOps[i].(*dataflow.Windows)
		}
	}
	for _, st := range f.stages {
		st.beforeOps, st.tblOps = compileSteps(st.before), compileSteps(st.tblSteps)
	}
	if f.vj != nil {
		f.vj.ops = compileSteps(f.vj.steps)
	}
	if f.interval != nil {
		f.interval.ops = compileSteps(f.interval.steps)
	}
}

// withPositions adds a shard read's _shard, _seq and _arrival columns.
func withPositions(ts []types.T, b arrow.RecordBatch, shard int, seqs []uint64, arrivals []int64) arrow.RecordBatch {
	shardIDs := make([]int32, len(seqs))
	seqCol := make([]int64, len(seqs))
	for i := range seqs {
		shardIDs[i], seqCol[i] = int32(shard), int64(seqs[i])
	}
	cols := make([]arrow.Array, 0, b.NumCols()+3)
	for c := 0; c < int(b.NumCols()); c++ {
		col := b.Column(c)
		col.Retain()
		cols = append(cols, col)
	}
	cols = append(cols, expr.NewFixed(types.TInt32, shardIDs, nil, 0), expr.NewFixed(types.TInt64, seqCol, nil, 0), expr.NewFixed(types.TTimestampTZ, arrivals, nil, 0))
	out := expr.NewBatch(ts, cols, int(b.NumRows()))
	for _, c := range cols {
		c.Release()
	}
	return out
}

// snapshot returns the view's current rows (a consistent point in time:
// whole batches are applied under the lock).
func (f *viewFlow) snapshot(mem memory.Allocator) ([]arrow.RecordBatch, error) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	if f.err != nil {
		return nil, sqlerr.New(sqlerr.InternalError, "materialized view %q failed: %v", f.name, f.err)
	}
	return f.rows.Snapshot(), nil
}

// waitFor blocks until every shard has been processed up to target.
func (f *viewFlow) waitFor(ctx context.Context, target []uint64) error {
	tblTarget := f.tblEnq.Load() // table changes committed before the call
	for {
		f.mu.RLock()
		done := f.tblDone >= tblTarget && !f.viewsPending()
		for i, p := range f.positions {
			if p < target[i] {
				done = false
			}
		}
		err, ch := f.err, f.progress
		f.mu.RUnlock()
		if err != nil {
			return sqlerr.New(sqlerr.InternalError, "materialized view %q failed: %v", f.name, err)
		}
		if done {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return sqlerr.New(sqlerr.QueryCanceled, "canceling statement due to user request")
		}
	}
}

// startFlow starts incremental maintenance of materialized view o when its
// query has a supported shape; otherwise the view is computed when read.
// When creating is set and the view reads a stream but cannot be
// maintained incrementally, the view is rejected (0A000) with the reason:
// computing it when read would replay the whole stream on every SELECT.
func (db *DB) startFlow(o *catalog.Object, creating bool) (err error) {
	return db.startFlowAs(o, creating, false)
}

// startFlowAs is startFlow; discard runs a blackhole sink's flow (no rows
// kept, no changelog, and a query that cannot run incrementally is an error).
func (db *DB) startFlowAs(o *catalog.Object, creating, discard bool) (err error) {
	defer func() {
		// a bug in planning one view must not take the server (or, at
		// start-up, every other view) down with it
		if r := recover(); r != nil {
			err = sqlerr.New(sqlerr.InternalError, "materialized view %s could not be started: %v", o.Name, r)
		}
	}()
	s := db.NewSession(expr.OwnerName, "streamsql")
	stmts, err := s.parser.Parse(o.Query)
	if err != nil || len(stmts) != 1 {
		return err
	}
	q, ok := stmts[0].(*pgsql.Query)
	if !ok {
		return nil
	}
	b := s.newBinder(q.Tr, nil)
	b.path = pathOf(o)
	sel, ok := q.Node.(ast.ResultSetNode)
	if !ok {
		return nil
	}
	node, err := b.query(sel, nil)
	if err != nil {
		return err
	}
	if len(b.varying) > 0 && readsStream(node) {
		// evaluated once per row as it arrives, a view with now() would
		// silently differ from the same SELECT, and retractions would not
		// cancel what they retract
		what := "materialized view"
		if discard {
			what = "sink"
		}
		return sqlerr.Unsupported("%s %s cannot use %s(): a continuous query over a stream computes each row once, when it arrives, so the result would depend on when rows were processed", what, o.Name, b.varying[0]).
			WithHint("Use the rows' event time instead (a column, TUMBLE/HOP windows, a WATERMARK), or compute it when you SELECT from the view.")
	}
	f, err := planFlow(db, b, node, o)
	if err == nil && discard {
		f.discard = true
	} else if err == nil {
		err = f.openChangelog(db, o)
	}
	if err == nil {
		var es *streamstore.Stream
		if es, err = db.errorStream(o.Name); err == nil {
			f.errs = &viewErrors{stream: es, source: f.rel.Name}
		}
	}
	var ni *notIncremental
	if errors.As(err, &ni) && discard {
		return sqlerr.Unsupported("sink %s cannot be maintained incrementally: %s", o.Name, ni.reason)
	}
	if errors.As(err, &ni) {
		if creating && readsStream(node) {
			return sqlerr.Unsupported("materialized view %s cannot be maintained incrementally over a stream: %s", o.Name, ni.reason)
		}
		return nil // computed when read
	}
	if err != nil {
		return err
	}
	f.start(db, o.Name)
	db.mu.Lock()
	if db.flows == nil {
		db.flows = map[string]*viewFlow{}
	}
	db.flows[o.Name] = f
	db.mu.Unlock()
	return nil
}

func (db *DB) flow(name string) *viewFlow {
	db.mu.RLock()
	defer db.mu.RUnlock()
	return db.flows[name]
}

func (db *DB) stopFlow(name string) {
	db.mu.Lock()
	f := db.flows[name]
	delete(db.flows, name)
	db.mu.Unlock()
	if f != nil {
		f.stop()
	}
}

// flushFlows waits until every incremental view reflects everything that
// was written to its stream before the call.
// A view that has failed (its changelog cannot be written, a bug) does
// not make FLUSH fail for everyone: it is skipped, and named in the
// returned notice.
func (db *DB) flushFlows(ctx context.Context) (notice string, err error) {
	db.mu.RLock()
	flows := make([]*viewFlow, 0, len(db.flows))
	for _, f := range db.flows {
		flows = append(flows, f)
	}
	db.mu.RUnlock()
	// a view is created after the views it reads: waiting in creation
	// order, a parent has handed its changes on before its reader is waited for
	oid := func(f *viewFlow) uint32 {
		if o := db.Catalog.Lookup(f.name); o != nil {
			return o.OID
		}
		return 0
	}
	sort.Slice(flows, func(i, j int) bool { return oid(flows[i]) < oid(flows[j]) })
	var failed []string
	for _, f := range flows {
		if f.stream == nil && f.graph == nil {
			if f.failed() {
				failed = append(failed, f.name)
			}
			continue // fed by its parent, in the parent's goroutine
		}
		target := make([]uint64, len(f.shards()))
		for i, sh := range f.shards() {
			target[i] = sh.Latest()
		}
		if err := f.waitFor(ctx, target); err != nil {
			if !f.failed() {
				return "", err
			}
			failed = append(failed, f.name)
		}
	}
	if len(failed) > 0 {
		sort.Strings(failed)
		notice = fmt.Sprintf("FLUSH did not wait for failed materialized views: %s (streamsql_views says why)", strings.Join(failed, ", "))
	}
	return notice, nil
}

// flowStats describes a view for streamsql_views.
type flowStats struct {
	groups    int
	late      int64
	watermark int64
	hasWM     bool
	subs      int
	subLag    int64 // changes the slowest subscriber has not read
	logBytes  int64 // memory of the changes kept for subscribers
}

func (f *viewFlow) stats() flowStats {
	f.mu.RLock()
	defer f.mu.RUnlock()
	st := flowStats{groups: f.groups + f.joinRows, late: f.late, watermark: f.watermark, hasWM: f.hasWM, subs: len(f.subs), logBytes: f.logBytes}
	end := f.logBase + int64(len(f.log))
	for s := range f.subs {
		st.subLag = max(st.subLag, end-s.pos)
	}
	return st
}

// readsStream reports whether a plan reads a stream.
func readsStream(n Node) bool {
	if sc, ok := n.(*ScanNode); ok && sc.Rel != nil && sc.Rel.Kind == catalog.KindStream {
		return true
	}
	for _, c := range n.Children() {
		if c != nil && readsStream(c) {
			return true
		}
	}
	return false
}

// planTopNExpiry lets a top-N above a windowed aggregate drop a window's
// partition once the watermark closes the window (the aggregate drops its
// groups then, so no change can reach the partition any more): when a
// PARTITION BY column is the window_start or window_end key, traced
// through the projections and filters between them.
func (f *viewFlow) planTopNExpiry() {
	if f.agg == nil || (f.startKey < 0 && f.endKey < 0) {
		return
	}
	for i, st := range f.post {
		t, ok := st.(*topNStep)
		if !ok {
			continue
		}
		for pi, pe := range t.w.Partition {
			c, ok := pe.(*expr.Col)
			if !ok {
				continue
			}
			idx, traced := c.Idx, true
			for j := i - 1; j >= 0 && traced; j-- {
				switch x := f.post[j].(type) {
				case *ProjectNode:
					cc, ok := x.Exprs[idx].(*expr.Col)
					traced = ok
					if ok {
						idx = cc.Idx
					}
				case *FilterNode:
				default:
					traced = false
				}
			}
			switch {
			case !traced:
			case idx == f.startKey:
				t.op.ExpireCol, t.op.ExpireAdd = pi, f.window.Spec.Size
			case idx == f.endKey:
				t.op.ExpireCol, t.op.ExpireAdd = pi, 0
			default:
				continue
			}
			if t.op.ExpireCol >= 0 {
				break
			}
		}
	}
}

// insertOnly reports whether what reaches the steps above the source (or
// the join) only ever inserts: a stream does; so does an inner join of
// two streams (bounded in time or not: expiring state retracts nothing).
// A view's changelog, a table join (table changes), an outer join (late
// matches) and an as-of join (later rows re-match) retract.
func (f *viewFlow) insertOnly() bool {
	if f.parent != nil {
		return false
	}
	if !f.joinAbove {
		return true
	}
	j, ok := f.join.(*dataflow.Join)
	return ok && f.interval != nil && len(f.stages) == 0 && j.Kind == exec.InnerJoin
}

// neededColumns works out which columns of a source batch of width
// columns a flow reads: the aggregate's keys and arguments (or every
// output column when there is none), traced back through the steps below.
// nil means all (a step it cannot see through).
func neededColumns(pre []Node, agg *AggNode, post []Node, width int) []bool {
	need := map[int]bool{}
	use := func(i int) { need[i] = true }
	steps := pre
	if agg != nil {
		for _, k := range agg.Keys {
			if !expr.Refs(k, use) {
				return nil
			}
		}
		for _, a := range agg.Aggs {
			if !expr.Refs(a.Arg, use) || !expr.Refs(a.Sep, use) {
				return nil
			}
			for _, o := range a.Order {
				if !expr.Refs(o.E, use) {
					return nil
				}
			}
		}
	} else {
		steps = post
		if len(steps) == 0 {
			return nil
		}
		for i := range steps[len(steps)-1].Columns() {
			need[i] = true
		}
	}
	return traceNeeded(steps, need, width)
}

// traceNeeded maps the columns need of what steps (lowest first) output
// back to the columns of their input (of width columns): a keep mask, or
// nil for all (a step it cannot see through).
func traceNeeded(steps []Node, need map[int]bool, width int) []bool {
	for i := len(steps) - 1; i >= 0; i-- {
		in := map[int]bool{}
		add := func(j int) { in[j] = true }
		switch x := steps[i].(type) {
		case *ProjectNode:
			for j := range need {
				if !expr.Refs(x.Exprs[j], add) {
					return nil
				}
			}
		case *FilterNode:
			for j := range need {
				in[j] = true
			}
			if !expr.Refs(x.Pred, add) {
				return nil
			}
		case *topNStep:
			// its input's columns (the row number is its own) and what it
			// partitions and orders by
			n := len(x.w.In.Columns())
			for j := range need {
				if j < n {
					in[j] = true
				}
			}
			for _, e := range x.op.Partition {
				if !expr.Refs(e, add) {
					return nil
				}
			}
			for _, k := range x.op.Order {
				if !expr.Refs(k.E, add) {
					return nil
				}
			}
		case *WindowTVFNode:
			if x.Spec.Session {
				return nil
			}
			n := len(x.In.Columns())
			for j := range need {
				if j < n {
					in[j] = true
				}
			}
			in[x.Spec.TimeCol] = true
		default:
			return nil
		}
		need = in
	}
	keep := make([]bool, width)
	all := true
	for i := range keep {
		keep[i] = need[i]
		all = all && keep[i]
	}
	if all {
		return nil
	}
	return keep
}

// prune replaces the columns of b that keep says no step reads by NULLs
// (cheap to make, and free to copy).
func prune(b arrow.RecordBatch, keep []bool) arrow.RecordBatch {
	if keep == nil {
		return b
	}
	n := int(b.NumRows())
	cols := make([]arrow.Array, b.NumCols())
	for i := range cols {
		if keep[i] {
			cols[i] = b.Column(i)
			cols[i].Retain()
		} else {
			cols[i] = types.NullColumn(b.Column(i).DataType(), n)
		}
	}
	out := array.NewRecordBatch(b.Schema(), cols, int64(n))
	for _, c := range cols {
		c.Release()
	}
	b.Release()
	return out
}
