package planner

import (
	"github.com/pingcap/tidb/pkg/parser/ast"
	"github.com/streamsql/streamsql/engine/expr"
	"github.com/streamsql/streamsql/planner/pgsql"
	"github.com/streamsql/streamsql/sqlerr"
	"github.com/streamsql/streamsql/types"
)

// Prepared is a bound statement: its parameter types and result columns
// are known; it can be executed many times with different parameters.
type Prepared struct {
	Stmt   pgsql.Statement
	Params []types.T
	Cols   []Column // nil when the statement returns no rows
	plan   Node
	dml    *dmlPlan
	// version is the catalog version the plan was bound against.
	version uint64
	hint    []types.T
	// explained: EXPLAIN CREATE MATERIALIZED VIEW's lines, made when bound
	explained []string
}

// Prepare binds stmt. hint gives parameter types the client declared
// (zero kinds are inferred).
func (s *Session) Prepare(stmt pgsql.Statement, hint []types.T) (*Prepared, error) {
	p := &Prepared{Stmt: stmt, hint: hint, version: s.db.Catalog.Version()}
	if err := s.bind(p); err != nil {
		return nil, err
	}
	return p, nil
}

func (s *Session) bind(p *Prepared) error {
	p.plan, p.dml, p.Cols = nil, nil, nil
	switch st := p.Stmt.(type) {
	case *pgsql.Query:
		b := s.newBinder(st.Tr, p.hint)
		switch n := st.Node.(type) {
		case *ast.SelectStmt, *ast.SetOprStmt:
			node, err := b.query(n.(ast.ResultSetNode), nil)
			if err != nil {
				return err
			}
			p.plan = node
			p.Cols = visible(node.Columns())
		case *ast.InsertStmt, *ast.UpdateStmt, *ast.DeleteStmt:
			d, err := b.dml(st)
			if err != nil {
				return err
			}
			p.dml = d
			if d.returning != nil {
				p.Cols = d.returningCols
			}
		default:
			return sqlerr.Unsupported("statement %T is not supported", n)
		}
		p.Params = b.paramTypes()
	case *pgsql.Explain:
		p.Cols = []Column{{Name: "QUERY PLAN", Type: types.TText}}
		if cv, ok := st.Stmt.(*pgsql.CreateView); ok && cv.Materialized {
			lines, err := s.explainCreateView(cv)
			if err != nil {
				return err
			}
			p.explained = lines
		}
		if q, ok := st.Stmt.(*pgsql.Query); ok {
			b := s.newBinder(q.Tr, p.hint)
			if sel, ok := q.Node.(ast.ResultSetNode); ok {
				node, err := b.query(sel, nil)
				if err != nil {
					return err
				}
				p.plan = node
			} else {
				d, err := b.dml(q)
				if err != nil {
					return err
				}
				p.dml = d
			}
			p.Params = b.paramTypes()
		}
	case *pgsql.Show:
		p.Cols = showColumns(st)
	case *pgsql.Describe:
		p.Cols = describeColumns
	case *pgsql.Fetch:
		c, ok := s.cursors[st.Name]
		if !ok {
			return sqlerr.New(sqlerr.InvalidCursorName, "cursor %q does not exist", st.Name)
		}
		if !st.Move {
			p.Cols = c.cols
		}
	case *pgsql.Subscribe:
		_, _, cols, err := s.planSubscribe(st, false)
		if err != nil {
			return err
		}
		p.Cols = cols
	case *pgsql.Copy:
		if st.Subscribe != nil {
			if _, _, _, err := s.planSubscribe(st.Subscribe, false); err != nil {
				return err
			}
		}
		if st.Query != nil && !st.From {
			b := s.newBinder(st.Query.Tr, nil)
			node, err := b.query(st.Query.Node.(ast.ResultSetNode), nil)
			if err != nil {
				return err
			}
			p.plan = node
		}
	case *pgsql.Declare:
		if st.Subscribe != nil {
			_, _, _, err := s.planSubscribe(st.Subscribe, false)
			return err
		}
		b := s.newBinder(st.Query.Tr, p.hint)
		node, err := b.query(st.Query.Node.(ast.ResultSetNode), nil)
		if err != nil {
			return err
		}
		p.plan = node
		p.Params = b.paramTypes()
		p.Params = b.paramTypes()
	}
	return nil
}

func visible(cols []Column) []Column {
	out := make([]Column, 0, len(cols))
	for _, c := range cols {
		if !c.Hidden {
			out = append(out, c)
		}
	}
	return out
}

func (s *Session) newBinder(tr *pgsql.Translated, hint []types.T) *binder {
	b := &binder{s: s, tr: tr}
	for i, t := range hint {
		if t.Kind != types.Unknown {
			p, _ := b.param(i + 1)
			p.T = t
		}
	}
	return b
}

// paramTypes returns the inferred parameter types; unresolved ones are text.
func (b *binder) paramTypes() []types.T {
	out := make([]types.T, len(b.params))
	for i, p := range b.params {
		if p == nil || p.T.Kind == types.Unknown || p.T.Kind == types.Null {
			out[i] = types.TText
			if p != nil {
				p.T = types.TText
			}
			continue
		}
		out[i] = p.T
	}
	return out
}

var _ = expr.Const{}
