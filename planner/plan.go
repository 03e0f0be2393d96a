package planner

import (
	"fmt"
	"strings"

	"github.com/streamsql/streamsql/catalog"
	"github.com/streamsql/streamsql/engine/dataflow"
	"github.com/streamsql/streamsql/engine/exec"
	"github.com/streamsql/streamsql/engine/expr"
	"github.com/streamsql/streamsql/types"
)

// Column is an output column of a plan node: its name (as the client
// sees it), type, and the table it came from (for qualified references
// and for RowDescription's table OID).
type Column struct {
	Name  string
	Type  types.T
	Table string // range-table alias that qualifies it
	// Schema is the schema of Table when the relation has no alias, so
	// schema.table.column finds it (two schemas' tables of one name can
	// then be read side by side without aliases)
	Schema   string
	TableOID uint32
	AttNum   int16
	Hidden   bool // not visible to SELECT * (e.g. ORDER BY helpers)
	// Merged: a side's own copy of a USING column, visible to t.* and
	// t.col but not to SELECT * or an unqualified name
	Merged bool
	// System columns (a stream record's _shard, _seq, _arrival) are left
	// out of SELECT * but can be named.
	System bool
}

// Node is a logical plan node. Nodes hold data only; build.go turns them
// into operators.
type Node interface {
	Columns() []Column
	Children() []Node
	describe() string
}

// ScanNode reads a table, stream, or a virtual catalog relation.
type ScanNode struct {
	Rel     *catalog.Object // nil for virtual relations
	Virtual *virtualTable
	Cols    []Column
}

// ValuesNode is a constant relation.
type ValuesNode struct {
	Rows [][]expr.Expr
	Cols []Column
}

// FilterNode keeps the rows where Pred holds.
type FilterNode struct {
	In   Node
	Pred expr.Expr
}

// ProjectNode computes expressions.
type ProjectNode struct {
	In    Node
	Exprs []expr.Expr
	Cols  []Column
}

// AggNode groups and aggregates; output is keys then aggregates.
type AggNode struct {
	In   Node
	Keys []expr.Expr
	Aggs []exec.AggSpec
	Cols []Column
}

// JoinNode joins two inputs.
type JoinNode struct {
	Kind                exec.JoinKind
	Left, Right         Node
	LeftKeys, RightKeys []expr.Expr
	Residual            expr.Expr
	Cols                []Column
	// AsOf: ASOF JOIN — each left row with the latest right row (same
	// keys) whose time is at or before (Strict: before) the left row's
	AsOf *AsOfSpec
}

// AsOfSpec is the time comparison of an ASOF JOIN: columns of each side.
type AsOfSpec struct {
	LeftTime, RightTime int
	Strict              bool
}

// SortNode orders rows; Limit < 0 means all.
type SortNode struct {
	In    Node
	Keys  []exec.SortKey
	Limit int64
}

// LimitNode applies LIMIT/OFFSET (expressions: they may be parameters).
type LimitNode struct {
	In            Node
	Count, Offset expr.Expr // nil: none
	// Ties (FETCH FIRST n ROWS WITH TIES): the ORDER BY keys; rows equal to
	// the last one counted on them come too
	Ties []exec.SortKey
}

// UnionNode concatenates inputs of the same shape.
type UnionNode struct {
	Inputs []Node
	Cols   []Column
}

// SetOpNode is INTERSECT or EXCEPT.
type SetOpNode struct {
	Left, Right Node
	Except, All bool
}

// WindowNode computes window functions.
type WindowNode struct {
	In        Node
	Partition []expr.Expr
	Order     []exec.SortKey
	Funcs     []exec.WinFunc
	Cols      []Column
}

// WindowTVFNode is TUMBLE, HOP or SESSION in FROM: its input's columns
// plus window_start and window_end (one row per window a row falls in).
type WindowTVFNode struct {
	In   Node
	Spec dataflow.WindowSpec
	Cols []Column
	// Partition: for SESSION, the input columns whose values each have
	// their own sessions (the GROUP BY keys of the aggregate above).
	Partition []int
}

func (n *WindowTVFNode) Columns() []Column { return n.Cols }
func (n *WindowTVFNode) Children() []Node  { return []Node{n.In} }
func (n *WindowTVFNode) describe() string {
	if n.Spec.Session {
		return fmt.Sprintf("Session gap=%dus partition=%v", n.Spec.Gap, n.Partition)
	}
	if n.Spec.Hopping {
		return fmt.Sprintf("Hop slide=%dus size=%dus", n.Spec.Slide, n.Spec.Size)
	}
	return fmt.Sprintf("Tumble size=%dus", n.Spec.Size)
}

// DistinctOnNode keeps the first row per key of sorted input.
type DistinctOnNode struct {
	In   Node
	Keys []expr.Expr
}

func (n *DistinctOnNode) Columns() []Column { return n.In.Columns() }
func (n *DistinctOnNode) Children() []Node  { return []Node{n.In} }
func (n *DistinctOnNode) describe() string  { return "DistinctOn " + exprList(n.Keys) }

// ProjectSetNode evaluates set-returning functions of a select list.
type ProjectSetNode struct {
	In    Node
	Names []string
	Args  [][]expr.Expr
	Cols  []Column
}

// TableFuncNode is a set-returning function in FROM.
type TableFuncNode struct {
	Name string
	Args []expr.Expr
	Cols []Column
}

func (n *ScanNode) Columns() []Column       { return n.Cols }
func (n *ValuesNode) Columns() []Column     { return n.Cols }
func (n *FilterNode) Columns() []Column     { return n.In.Columns() }
func (n *ProjectNode) Columns() []Column    { return n.Cols }
func (n *AggNode) Columns() []Column        { return n.Cols }
func (n *JoinNode) Columns() []Column       { return n.Cols }
func (n *SortNode) Columns() []Column       { return n.In.Columns() }
func (n *LimitNode) Columns() []Column      { return n.In.Columns() }
func (n *UnionNode) Columns() []Column      { return n.Cols }
func (n *SetOpNode) Columns() []Column      { return n.Left.Columns() }
func (n *WindowNode) Columns() []Column     { return n.Cols }
func (n *TableFuncNode) Columns() []Column  { return n.Cols }
func (n *ProjectSetNode) Columns() []Column { return n.Cols }
func (n *ProjectSetNode) Children() []Node  { return []Node{n.In} }
func (n *ProjectSetNode) describe() string  { return "ProjectSet " + strings.Join(n.Names, ", ") }

func (n *ScanNode) Children() []Node      { return nil }
func (n *ValuesNode) Children() []Node    { return nil }
func (n *FilterNode) Children() []Node    { return []Node{n.In} }
func (n *ProjectNode) Children() []Node   { return []Node{n.In} }
func (n *AggNode) Children() []Node       { return []Node{n.In} }
func (n *JoinNode) Children() []Node      { return []Node{n.Left, n.Right} }
func (n *SortNode) Children() []Node      { return []Node{n.In} }
func (n *LimitNode) Children() []Node     { return []Node{n.In} }
func (n *UnionNode) Children() []Node     { return n.Inputs }
func (n *SetOpNode) Children() []Node     { return []Node{n.Left, n.Right} }
func (n *WindowNode) Children() []Node    { return []Node{n.In} }
func (n *TableFuncNode) Children() []Node { return nil }

func (n *ScanNode) describe() string {
	if n.Rel != nil {
		return fmt.Sprintf("Scan %s (%s)", n.Rel.Name, n.Rel.Kind)
	}
	return "Scan " + n.Virtual.name + " (catalog)"
}
func (n *ValuesNode) describe() string  { return fmt.Sprintf("Values (%d rows)", len(n.Rows)) }
func (n *FilterNode) describe() string  { return "Filter " + n.Pred.String() }
func (n *ProjectNode) describe() string { return "Project " + exprList(n.Exprs) }
func (n *AggNode) describe() string {
	aggs := make([]string, len(n.Aggs))
	for i, a := range n.Aggs {
		aggs[i] = a.String()
	}
	return fmt.Sprintf("HashAggregate keys=[%s] aggs=[%s]", exprList(n.Keys), strings.Join(aggs, ", "))
}
func (n *JoinNode) describe() string {
	kind := [...]string{"Inner", "Left", "Right", "Full", "Semi", "Anti"}[n.Kind]
	if n.AsOf != nil {
		return fmt.Sprintf("AsOfJoin %s on [%s] = [%s], left #%d >= right #%d", kind, exprList(n.LeftKeys), exprList(n.RightKeys), n.AsOf.LeftTime, n.AsOf.RightTime)
	}
	s := fmt.Sprintf("HashJoin %s", kind)
	if len(n.LeftKeys) > 0 {
		s += fmt.Sprintf(" on [%s] = [%s]", exprList(n.LeftKeys), exprList(n.RightKeys))
	} else {
		s = fmt.Sprintf("NestedLoopJoin %s", kind)
	}
	if n.Residual != nil {
		s += " filter " + n.Residual.String()
	}
	return s
}
func (n *SortNode) describe() string {
	keys := make([]string, len(n.Keys))
	for i, k := range n.Keys {
		keys[i] = k.E.String()
		if k.Desc {
			keys[i] += " DESC"
		}
	}
	s := "Sort " + strings.Join(keys, ", ")
	if n.Limit >= 0 {
		s += fmt.Sprintf(" (top %d)", n.Limit)
	}
	return s
}
func (n *LimitNode) describe() string {
	s := "Limit"
	if n.Count != nil {
		s += " " + n.Count.String()
	}
	if n.Offset != nil {
		s += " offset " + n.Offset.String()
	}
	return s
}
func (n *UnionNode) describe() string { return "UnionAll" }
func (n *SetOpNode) describe() string {
	op := "Intersect"
	if n.Except {
		op = "Except"
	}
	if n.All {
		op += " All"
	}
	return op
}
func (n *WindowNode) describe() string {
	return fmt.Sprintf("Window partition=[%s]", exprList(n.Partition))
}
func (n *TableFuncNode) describe() string {
	return "TableFunction " + n.Name + "(" + exprList(n.Args) + ")"
}

func exprList(es []expr.Expr) string {
	s := make([]string, len(es))
	for i, e := range es {
		s[i] = e.String()
	}
	return strings.Join(s, ", ")
}

// Explain renders a plan tree, one node per line.
func Explain(n Node) []string {
	var out []string
	var walk func(n Node, depth int)
	walk = func(n Node, depth int) {
		prefix := strings.Repeat("  ", depth)
		if depth > 0 {
			prefix += "-> "
		}
		out = append(out, prefix+n.describe())
		for _, c := range n.Children() {
			walk(c, depth+1)
		}
	}
	walk(n, 0)
	return out
}
