package planner

import (
	"errors"
	"fmt"
	"maps"
	"time"

	"github.com/pingcap/tidb/pkg/parser/ast"
	"github.com/streamsql/streamsql/catalog"
	"github.com/streamsql/streamsql/engine/dataflow"
	"github.com/streamsql/streamsql/engine/flow"
	"github.com/streamsql/streamsql/planner/pgsql"
	"github.com/streamsql/streamsql/sqlerr"
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
	p, err := planGraph(s.db, b, node, &catalog.Object{Name: st.Name, Options: opts})
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
	return explainGraph(st.Name, p.eowc, p.g, nil), nil
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
	if v := s.db.view(name); v != nil {
		return explainGraph(name, o.Options["emit"] == "on window close", v.Job().Graph(), v), nil
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
	if _, err := planGraph(s.db, b, node, o); errors.As(err, &ni) {
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

// explainGraph renders a view's graph from its output down; live (the
// running view) adds its rows, subscribers and each operator's state.
func explainGraph(name string, eowc bool, g *dataflow.Graph, live *flow.View) []string {
	emit := "emit on update"
	if eowc {
		emit = "emit on window close"
	}
	head := fmt.Sprintf("Materialize %s (%s, incremental)", name, emit)
	var note func(op any) string
	if live != nil {
		head += fmt.Sprintf(" rows=%d subscribers=%d", live.Rows(), live.Subscribers().Subscribers)
		note = graphNote
	}
	lines := []string{head}
	if live != nil {
		if ck, ok := live.Job().CheckpointStats(); ok && ck.ID > 0 {
			kind := "delta"
			if ck.Full {
				kind = "full"
			}
			line := fmt.Sprintf("  checkpoint %d at %s (%s, %d bytes written in %s; state %d bytes on disk)", ck.ID, ck.Time.UTC().Format("2006-01-02 15:04:05.000"), kind, ck.Bytes, ck.Duration.Round(time.Microsecond), ck.StateBytes)
			if ck.Failures > 0 {
				line += fmt.Sprintf("; %d failed, the last: %s", ck.Failures, ck.LastError)
			}
			lines = append(lines, line)
		}
	}
	for i, l := range g.Describe(note) {
		if i == 0 {
			l = "-> " + l
		}
		lines = append(lines, "  "+l)
	}
	return lines
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
