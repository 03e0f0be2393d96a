package planner

import (
	"errors"
	"fmt"
	"maps"
	"strings"

	"github.com/pingcap/tidb/pkg/parser/ast"
	"github.com/streamsql/streamsql/catalog"
	"github.com/streamsql/streamsql/engine/dataflow"
	"github.com/streamsql/streamsql/planner/pgsql"
	"github.com/streamsql/streamsql/sqlerr"
	"github.com/streamsql/streamsql/types"
)

// EXPLAIN of continuous queries: the dataflow a materialized view runs,
// from its output down to the stream (or view) it reads.

// explainCreateView is EXPLAIN CREATE MATERIALIZED VIEW: the dataflow the
// view would run, or the reason it cannot run over a stream.
func (s *Session) explainCreateView(st *pgsql.CreateView) ([]string, error) {
	b := s.newBinder(st.Query.Tr, nil)
	node, err := b.query(st.Query.Node.(ast.ResultSetNode), nil)
	if err != nil {
		return nil, err
	}
	opts := maps.Clone(st.Options)
	if opts == nil {
		opts = map[string]string{}
	}
	if st.EmitOnWindowClose {
		opts["emit"] = "on window close"
	}
	f, err := planFlow(s.db, b, node, &catalog.Object{Name: st.Name, Options: opts})
	var ni *notIncremental
	if errors.As(err, &ni) {
		if readsStream(node) {
			return nil, sqlerr.Unsupported("materialized view %s cannot be maintained incrementally over a stream: %s", st.Name, ni.reason)
		}
		return computedWhenRead(st.Name, ni.reason, node), nil
	}
	if err != nil {
		return nil, err
	}
	return f.explain(st.Name, false), nil
}

// explainView is EXPLAIN MATERIALIZED VIEW name: the running dataflow
// with its state.
func (s *Session) explainView(name string) ([]string, error) {
	o, _ := s.lookup(name)
	if o == nil {
		return nil, sqlerr.New(sqlerr.UndefinedTable, "materialized view %q does not exist", name)
	}
	name = o.Name
	if o.Kind != catalog.KindMaterializedView {
		return nil, sqlerr.New(sqlerr.WrongObjectType, "%q is not a materialized view", name)
	}
	if f := s.db.flow(name); f != nil {
		return f.explain(name, true), nil
	}
	stmts, err := s.parser.Parse(o.Query)
	if err != nil {
		return nil, err
	}
	q := stmts[0].(*pgsql.Query)
	b := s.newBinder(q.Tr, nil)
	b.path = pathOf(o)
	node, err := b.query(q.Node.(ast.ResultSetNode), nil)
	if err != nil {
		return nil, err
	}
	reason := "it reads no stream"
	var ni *notIncremental
	if _, err := planFlow(s.db, b, node, o); errors.As(err, &ni) {
		reason = ni.reason
	}
	return computedWhenRead(name, reason, node), nil
}

func computedWhenRead(name, reason string, node Node) []string {
	lines := []string{fmt.Sprintf("Materialized view %s: computed when read (%s)", name, reason)}
	for _, l := range Explain(node) {
		lines = append(lines, "  "+l)
	}
	return lines
}

// explain renders the flow outermost first; live adds the state it holds.
func (f *viewFlow) explain(name string, live bool) []string {
	emit := "emit on update"
	if f.eowc || (f.graph != nil && f.graph.eowc) {
		emit = "emit on window close"
	}
	head := fmt.Sprintf("Materialize %s (%s, incremental)", name, emit)
	var st flowStats
	if live {
		st = f.stats()
		head += fmt.Sprintf(" rows=%d subscribers=%d", f.rowCount(), st.subs)
	}
	lines := []string{head}
	if f.graph != nil {
		var note func(op any) string
		if live {
			note = graphNote
		}
		for i, l := range f.graph.g.Describe(note) {
			if i == 0 {
				l = "-> " + l
			}
			lines = append(lines, "  "+l)
		}
		return lines
	}
	depth := 0
	add := func(s string) {
		depth++
		lines = append(lines, strings.Repeat("  ", depth)+"-> "+s)
	}
	for i := len(f.post) - 1; i >= 0; i-- {
		add(f.post[i].describe())
	}
	if f.agg != nil || f.sess != nil {
		d := f.aggDesc
		if live {
			d += fmt.Sprintf(" groups=%d", st.groups)
		}
		if f.agg != nil {
			d += " state=keyed columns"
		} else {
			d += " state=open sessions per key"
		}
		add(d)
		if f.sess != nil {
			add(fmt.Sprintf("Session gap=%dus partition=%v", f.sess.Spec.Gap, f.sess.Partition))
		}
	}
	for i := len(f.pre) - 1; i >= 0; i-- {
		d := f.pre[i].describe()
		if w, ok := f.pre[i].(*WindowTVFNode); ok && w == f.window && f.wms != nil {
			d += " (windows close at the watermark; late rows dropped)"
		}
		add(d)
	}
	if f.join != nil {
		var d string
		switch j := f.join.(type) {
		case *dataflow.Join:
			kind := [...]string{"Inner", "Left", "Right", "Full", "Semi", "Anti"}[j.Kind]
			d = fmt.Sprintf("IncrementalJoin %s on [%s] = [%s]", kind, exprList(j.Keys[0]), exprList(j.Keys[1]))
			if j.Residual != nil {
				d += fmt.Sprintf(" filter %s", j.Residual)
			}
		case *dataflow.AsOfJoin:
			kind := "Inner"
			if j.LeftOuter {
				kind = "Left"
			}
			d = fmt.Sprintf("IncrementalAsOfJoin %s on [%s] = [%s], left #%d >= right #%d", kind, exprList(j.Keys[0]), exprList(j.Keys[1]), j.TimeCol[0], j.TimeCol[1])
		}
		add(d)
		if ij := f.interval; ij != nil {
			if ij.unbounded {
				lines[len(lines)-1] += " (unbounded: both streams kept, stream_joins = 'unbounded')"
			} else if _, asof := f.join.(*dataflow.AsOfJoin); asof {
				lines[len(lines)-1] += " (state dropped behind the watermarks)"
			} else if ij.window {
				lines[len(lines)-1] += " (window join: a window's rows dropped when the other stream's watermark reaches its end)"
			} else if ij.wmCol != ij.tsCol {
				lines[len(lines)-1] += fmt.Sprintf(" (bounded: left #%d - right #%d >= %dus, left #%d - right #%d <= %dus; a left row dropped when the right watermark passes its #%d, a right row when the left watermark passes its #%d)",
					ij.tsCol[0], ij.wmCol[1], ij.lo, ij.wmCol[0], ij.tsCol[1], ij.hi, ij.tsCol[0], ij.tsCol[1])
			} else {
				lines[len(lines)-1] += fmt.Sprintf(" (interval: left.ts - right.ts in [%dus, %dus]; state dropped behind the watermarks)", ij.lo, ij.hi)
			}
			at := depth
			for i := len(ij.steps) - 1; i >= 0; i-- {
				at++
				lines = append(lines, strings.Repeat("  ", at)+"-> "+ij.steps[i].describe())
			}
			lines = append(lines, strings.Repeat("  ", at+1)+"-> "+fmt.Sprintf("StreamSource %s shards=%d%s", ij.secondRel.Name, len(ij.second.Shards()), watermarkNote(ij.secondRel)))
			for i := len(f.srcSteps) - 1; i >= 0; i-- {
				add(f.srcSteps[i].describe())
			}
			add(fmt.Sprintf("StreamSource %s shards=%d%s", f.rel.Name, len(f.stream.Shards()), watermarkNote(f.rel)))
			return lines
		}
	}
	// joins with tables, outermost first: each with its table one level
	// below it, then the stream side
	for i := len(f.stages) - 1; i >= 0; i-- {
		st := f.stages[i]
		kind := [...]string{"Inner", "Left", "Right", "Full", "Semi", "Anti"}[st.join.Kind]
		d := fmt.Sprintf("IncrementalJoin %s on [%s] = [%s]", kind, exprList(st.join.Keys[0]), exprList(st.join.Keys[1]))
		if st.join.Residual != nil {
			d += fmt.Sprintf(" filter %s", st.join.Residual)
		}
		add(d)
		at := depth
		for k := len(st.tblSteps) - 1; k >= 0; k-- {
			at++
			lines = append(lines, strings.Repeat("  ", at)+"-> "+st.tblSteps[k].describe())
		}
		tbl := fmt.Sprintf("Table %s (its changes retract and re-emit joined rows)", st.tbl.Name)
		if st.lookup {
			tbl = fmt.Sprintf("Table %s (lookup: rows joined with it as it is when they arrive; its changes revise nothing)", st.tbl.Name)
		}
		lines = append(lines, strings.Repeat("  ", at+1)+"-> "+tbl)
		if i > 0 {
			for k := len(st.before) - 1; k >= 0; k-- {
				add(st.before[k].describe())
			}
		}
	}
	if len(f.stages) > 0 {
		for i := len(f.srcSteps) - 1; i >= 0; i-- {
			add(f.srcSteps[i].describe())
		}
	}
	if vj := f.vj; vj != nil {
		// a union or join of two views: the second view's side one level
		// below it, then the first's
		d := "UnionAll (of two materialized views: each one's changes as they come)"
		if j := vj.join; j != nil {
			kind := [...]string{"Inner", "Left", "Right", "Full", "Semi", "Anti"}[j.Kind]
			d = fmt.Sprintf("IncrementalJoin %s on [%s] = [%s]", kind, exprList(j.Keys[0]), exprList(j.Keys[1]))
			if j.Residual != nil {
				d += fmt.Sprintf(" filter %s", j.Residual)
			}
			d += " (of two materialized views: each side's changes joined with the other's rows)"
			if live {
				d += fmt.Sprintf(" rows=%d+%d", j.Rows(0), j.Rows(1))
			}
		}
		add(d)
		at := depth
		for i := len(vj.steps) - 1; i >= 0; i-- {
			at++
			lines = append(lines, strings.Repeat("  ", at)+"-> "+vj.steps[i].describe())
		}
		lines = append(lines, strings.Repeat("  ", at+1)+"-> "+fmt.Sprintf("Changelog of materialized view %s", vj.rels[1].Name))
		for i := len(f.srcSteps) - 1; i >= 0; i-- {
			add(f.srcSteps[i].describe())
		}
	}
	if f.parent != nil {
		add(fmt.Sprintf("Changelog of materialized view %s", f.parent.name))
		return lines
	}
	src := fmt.Sprintf("StreamSource %s shards=%d", f.rel.Name, len(f.stream.Shards()))
	if f.rel.Watermark != nil {
		src += fmt.Sprintf(" watermark=(%s)", f.rel.Watermark.Expr)
		if live && st.hasWM {
			src += " at " + types.FormatText(types.TTimestamp, types.DInt(st.watermark), nil)
		}
	}
	add(src)
	return lines
}

func (f *viewFlow) rowCount() int64 {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return f.rows.Count()
}

// watermarkNote describes a stream's watermark for EXPLAIN.
func watermarkNote(rel *catalog.Object) string {
	if rel.Watermark == nil {
		return ""
	}
	return fmt.Sprintf(" watermark=(%s)", rel.Watermark.Expr)
}

// graphNote is an operator's live state for EXPLAIN.
func graphNote(op any) string {
	switch x := op.(type) {
	case *dataflow.IncAgg:
		return fmt.Sprintf(" groups=%d", x.Groups())
	case *dataflow.ParallelAgg:
		return fmt.Sprintf(" groups=%d", x.Groups())
	case *dataflow.SessionAgg:
		return fmt.Sprintf(" sessions=%d late=%d", x.Groups(), x.Late)
	case *dataflow.AsOfJoin:
		return fmt.Sprintf(" rows=%d+%d", x.Rows(0), x.Rows(1))
	case *dataflow.EmitOnClose:
		return fmt.Sprintf(" held=%d", x.Held())
	case *dataflow.DropClosed:
		return fmt.Sprintf(" late=%d", x.Late())
	case *dataflow.Windows:
		return fmt.Sprintf(" late=%d", x.Late())
	case *dataflow.Join:
		return fmt.Sprintf(" rows=%d+%d", x.Rows(0), x.Rows(1))
	case *dataflow.TopN:
		return fmt.Sprintf(" rows=%d", x.Rows())
	}
	return ""
}
