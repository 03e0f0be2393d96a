package planner

// Continuous queries: a materialized view or a sink over streams (and
// tables and other views) is planned into a dataflow graph
// (flow_graph.go) and run by the engine as a job (engine/flow) whose sink
// is the view's rows and changelog, or a blackhole. Everything here is
// planning and bookkeeping: the jobs, their goroutines and their state
// live in the engine's runtime (db.rt).

import (
	"errors"
	"fmt"
	"time"

	"github.com/pingcap/tidb/pkg/parser/ast"
	"github.com/streamsql/streamsql/catalog"
	"github.com/streamsql/streamsql/engine/expr"
	"github.com/streamsql/streamsql/engine/flow"
	"github.com/streamsql/streamsql/planner/pgsql"
	"github.com/streamsql/streamsql/sqlerr"
	"github.com/streamsql/streamsql/types"
)

// flowReadMax is the most records a job reads from a shard at once: a
// view catching up (replay, a burst) works on large batches, so the
// changelog it emits per input row shrinks; at the tail batches are as
// small as what arrived.
const flowReadMax = 1 << 16

// changelogRetention is how long a view's changes are kept by default;
// WITH (changelog_retention = '...') on the view changes it.
const changelogRetention = 24 * time.Hour

func changelogKey(o *catalog.Object) string { return fmt.Sprintf("changelog-%d", o.OID) }

// changelogConfig is where view o keeps its changelog.
func (db *DB) changelogConfig(o *catalog.Object) (*flow.ChangelogConfig, error) {
	retention := changelogRetention
	if v, ok := o.Options["changelog_retention"]; ok {
		iv, err := types.ParseInterval(v)
		if err != nil || iv.ApproxMicros() <= 0 {
			return nil, sqlerr.New(sqlerr.InvalidParameterValue, "invalid changelog_retention %q", v)
		}
		retention = time.Duration(iv.ApproxMicros()) * time.Microsecond
	}
	return &flow.ChangelogConfig{Store: db.store, Key: changelogKey(o), Retention: retention}, nil
}

// bindContinuous binds a stored continuous query (a view's or a sink's).
func (db *DB) bindContinuous(o *catalog.Object, what string) (*binder, Node, error) {
	s := db.NewSession(expr.OwnerName, "streamsql")
	stmts, err := s.parser.Parse(o.Query)
	if err != nil || len(stmts) != 1 {
		return nil, nil, err
	}
	q, ok := stmts[0].(*pgsql.Query)
	if !ok {
		return nil, nil, nil
	}
	b := s.newBinder(q.Tr, nil)
	b.path = pathOf(o)
	sel, ok := q.Node.(ast.ResultSetNode)
	if !ok {
		return nil, nil, nil
	}
	node, err := b.query(sel, nil)
	if err != nil {
		return nil, nil, err
	}
	if len(b.varying) > 0 && readsStream(node) {
		// evaluated once per row as it arrives, a view with now() would
		// silently differ from the same SELECT, and retractions would not
		// cancel what they retract
		return nil, nil, sqlerr.Unsupported("%s %s cannot use %s(): a continuous query over a stream computes each row once, when it arrives, so the result would depend on when rows were processed", what, o.Name, b.varying[0]).
			WithHint("Use the rows' event time instead (a column, TUMBLE/HOP windows, a WATERMARK), or compute it when you SELECT from the view.")
	}
	return b, node, nil
}

// startFlow starts incremental maintenance of materialized view o when it
// reads a stream or a maintained view; otherwise the view is computed
// when read. When creating is set and the view reads a stream but cannot
// be maintained incrementally, the view is rejected (0A000) with the
// reason: computing it when read would replay the whole stream on every
// SELECT.
func (db *DB) startFlow(o *catalog.Object, creating bool) (err error) {
	return db.startJob(o, creating, false)
}

// startJob is startFlow; discard runs a blackhole sink's job (no rows
// kept, no changelog, and a query that cannot run incrementally is an
// error).
func (db *DB) startJob(o *catalog.Object, creating, discard bool) (err error) {
	defer func() {
		// a bug in planning one view must not take the server (or, at
		// start-up, every other view) down with it
		if r := recover(); r != nil {
			err = sqlerr.New(sqlerr.InternalError, "materialized view %s could not be started: %v", o.Name, r)
		}
	}()
	what := "materialized view"
	if discard {
		what = "sink"
	}
	b, node, err := db.bindContinuous(o, what)
	if err != nil || node == nil {
		return err
	}
	p, err := planGraph(db, b, node, o)
	var ni *notIncremental
	if errors.As(err, &ni) {
		if discard {
			return sqlerr.Unsupported("sink %s cannot be maintained incrementally: %s", o.Name, ni.reason)
		}
		if creating && readsStream(node) {
			return sqlerr.Unsupported("materialized view %s cannot be maintained incrementally over a stream: %s", o.Name, ni.reason)
		}
		return nil // computed when read
	}
	if err != nil {
		return err
	}
	var sink flow.Sink = &flow.Blackhole{}
	if !discard {
		cl, err := db.changelogConfig(o)
		if err != nil {
			return err
		}
		if sink, err = flow.NewView(o.Name, p.outTs, cl); err != nil {
			return err
		}
	}
	es, err := db.errorStream(o.Name)
	if err != nil {
		return err
	}
	j, err := flow.Start(flow.Spec{Name: o.Name, Graph: p.g, Sources: p.sources(), Sink: sink,
		Funcs: catalogFuncs{db: db}, ReadBatch: db.viewBatch, Errors: flow.NewErrorStream(es, p.sourceName()),
		Checkpoints: db.checkpointConfig(o)})
	if err != nil {
		return err
	}
	db.rt.Add(j)
	return nil
}

// sourceName is the relation a job's failed rows are reported as read
// from: its first stream's, or its first view's.
func (p *graphPlan) sourceName() string {
	for _, s := range p.srcs {
		if s.stream != nil {
			return s.rel.Name
		}
	}
	for _, s := range p.srcs {
		if s.view != nil {
			return s.rel.Name
		}
	}
	return ""
}

// view is the running view of materialized view name (nil: it is
// computed when read).
func (db *DB) view(name string) *flow.View { return db.rt.View(name) }

// stopFlow stops the job of a view or sink.
func (db *DB) stopFlow(name string) { db.rt.Stop(name) }

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

// endSubscriptionsTo ends, with an error naming it, the subscriptions that
// read the dropped object name: those to its view, and private ones.
func (db *DB) endSubscriptionsTo(name string, kind catalog.Kind) {
	db.rt.EndSubscriptionsTo(name, sqlerr.New(sqlerr.UndefinedTable, "%s %q was dropped: the subscription ends", kind, name))
}

// endAllSubscriptions ends every subscription: the server is stopping.
func (db *DB) endAllSubscriptions() {
	db.rt.EndAll(sqlerr.New(sqlerr.AdminShutdown, "terminating connection due to administrator command"))
}
