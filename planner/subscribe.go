package planner

// SUBSCRIBE binds here and runs in the engine (engine/flow/subscribe.go):
// to a materialized view, its view's subscription; to a query, a private
// job of its own with a view that keeps no changelog.

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/pingcap/tidb/pkg/parser/ast"
	"github.com/streamsql/streamsql/catalog"
	"github.com/streamsql/streamsql/engine/expr"
	"github.com/streamsql/streamsql/engine/flow"
	"github.com/streamsql/streamsql/planner/pgsql"
	"github.com/streamsql/streamsql/sqlerr"
	"github.com/streamsql/streamsql/types"
)

var subscriptionSeq atomic.Int64

// subscribeOptions reads WITH (snapshot = ..., since = ...). Resuming from
// since means no snapshot: the subscriber has the state as of since.
func subscribeOptions(opts map[string]string) (o flow.SubscribeOptions, err error) {
	o.Snapshot = true
	snapSet := false
	for k, v := range opts {
		switch k {
		case "snapshot":
			b, ok := parseBoolOption(v)
			if !ok {
				return o, sqlerr.New(sqlerr.InvalidParameterValue, "snapshot must be true or false, not %q", v)
			}
			o.Snapshot, snapSet = b, true
		case "since":
			n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			if err != nil || n < 0 {
				return o, sqlerr.New(sqlerr.InvalidParameterValue, "since must be a _ts value (a non-negative integer), not %q", v)
			}
			o.Since, o.HasSince = n, true
		default:
			return o, sqlerr.New(sqlerr.InvalidParameterValue, "unknown SUBSCRIBE option %q (known: snapshot, since)", k)
		}
	}
	if o.HasSince {
		if snapSet && o.Snapshot {
			return o, sqlerr.New(sqlerr.InvalidParameterValue, "since and snapshot = true cannot be combined: a resumed subscription continues from its _ts")
		}
		o.Snapshot = false
	}
	return o, nil
}

func parseBoolOption(v string) (bool, bool) {
	switch strings.ToLower(v) {
	case "true", "on", "yes", "1":
		return true, true
	case "false", "off", "no", "0":
		return false, true
	}
	return false, false
}

// subscriptionColumns are _ts, _diff, then the result's columns.
func subscriptionColumns(cols []Column) []Column {
	out := []Column{{Name: "_ts", Type: types.TInt64}, {Name: "_diff", Type: types.TInt64}}
	for _, c := range cols {
		out = append(out, Column{Name: c.Name, Type: c.Type})
	}
	return out
}

// planSubscribe finds or plans what a SUBSCRIBE reads. For a
// materialized view that is maintained incrementally it is the view;
// otherwise the query (or SELECT * FROM the relation) is planned as a
// job of its own, started only when start is set (own is then true).
func (s *Session) planSubscribe(st *pgsql.Subscribe, start bool) (v *flow.View, own bool, cols []Column, err error) {
	if _, err := subscribeOptions(st.Options); err != nil {
		return nil, false, nil, err
	}
	q := st.Query
	if st.Name != "" {
		o, _ := s.lookup(st.Name)
		if o == nil {
			return nil, false, nil, sqlerr.New(sqlerr.UndefinedTable, "relation %q does not exist", st.Name)
		}
		if o.Kind == catalog.KindMaterializedView {
			if v := s.db.view(o.Name); v != nil {
				for _, c := range o.Columns {
					cols = append(cols, Column{Name: c.Name, Type: c.Type})
				}
				return v, false, subscriptionColumns(cols), nil
			}
		}
		stmts, err := s.parser.Parse("SELECT * FROM " + quoteRel(o))
		if err != nil {
			return nil, false, nil, err
		}
		q = stmts[0].(*pgsql.Query)
	}
	sel, ok := q.Node.(ast.ResultSetNode)
	if !ok {
		return nil, false, nil, sqlerr.New(sqlerr.SyntaxError, "SUBSCRIBE needs a query")
	}
	b := s.newBinder(q.Tr, nil)
	node, err := b.query(sel, nil)
	if err != nil {
		return nil, false, nil, err
	}
	cols = subscriptionColumns(visible(node.Columns()))
	if !start {
		return nil, true, cols, nil
	}
	p, err := planGraph(s.db, b, node, &catalog.Object{Options: map[string]string{}})
	var ni *notIncremental
	if errors.As(err, &ni) {
		return nil, false, nil, sqlerr.Unsupported("SUBSCRIBE needs a result that is maintained incrementally over a stream or a materialized view: %s", ni.reason)
	}
	if err != nil {
		return nil, false, nil, err
	}
	name := fmt.Sprintf("subscribe#%d", subscriptionSeq.Add(1))
	if v, err = flow.NewView(name, p.outTs, nil); err != nil {
		return nil, false, nil, err
	}
	j, err := flow.Start(flow.Spec{Name: name, Graph: p.g, Sources: p.sources(), Sink: v, Funcs: catalogFuncs{db: s.db}, ReadBatch: s.db.viewBatch})
	if err != nil {
		return nil, false, nil, err
	}
	s.db.rt.AddPrivate(j, uniq(b.deps))
	return v, true, cols, nil
}

// subscribe starts a subscription: the view's job first catches up with
// every row written before the statement, so the snapshot reflects them.
func (s *Session) subscribe(ctx *expr.Ctx, st *pgsql.Subscribe) (*flow.Subscription, []Column, error) {
	opts, err := subscribeOptions(st.Options)
	if err != nil {
		return nil, nil, err
	}
	v, own, cols, err := s.planSubscribe(st, true)
	if err != nil {
		return nil, nil, err
	}
	stop := func() {
		if own {
			s.db.rt.RemovePrivate(v.Job())
		}
	}
	if opts.HasSince && v.Changelog() == nil {
		stop()
		return nil, nil, sqlerr.Unsupported("SUBSCRIBE ... WITH (since = ...) needs a materialized view: only views keep a changelog to resume from")
	}
	if err := v.Job().Wait(ctx.Go); err != nil {
		stop()
		return nil, nil, err
	}
	if own {
		opts.OnClose = stop
	}
	sub, err := v.Subscribe(opts, colTypes(cols))
	if err != nil {
		stop()
		return nil, nil, err
	}
	return sub, cols, nil
}

// parseTimeout reads a timeout: a duration with a unit ('1s', '2min',
// '500 milliseconds') or a bare number of bare units (seconds for FETCH,
// milliseconds for settings, as in PostgreSQL).
func parseTimeout(v string, bare time.Duration) (time.Duration, error) {
	v = strings.TrimSpace(v)
	if d, err := time.ParseDuration(v); err == nil && d >= 0 {
		return d, nil
	}
	if n, err := strconv.ParseFloat(v, 64); err == nil && n >= 0 {
		return time.Duration(n * float64(bare)), nil
	}
	iv, err := types.ParseInterval(v)
	if err != nil || iv.ApproxMicros() < 0 {
		return 0, sqlerr.New(sqlerr.InvalidParameterValue, "invalid timeout %q (use e.g. '1s' or '500 milliseconds')", v)
	}
	return time.Duration(iv.ApproxMicros()) * time.Microsecond, nil
}
