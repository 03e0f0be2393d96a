package planner

// A dataflow graph can read a materialized view as one of its sources,
// next to streams and tables: a view joining a view with a stream, a
// union of a view and a stream, a view's rows under a join with a table.
// The job takes the parent's rows, then every change the parent writes
// to its changelog (engine/flow/viewsource.go says how a restart resumes
// exactly).

import (
	"fmt"
	"slices"

	"github.com/streamsql/streamsql/engine/dataflow"
)

// viewSource is a materialized view's rows, then its changes.
func (p *graphPlan) viewSource(x *ScanNode) (gout, error) {
	parent := p.db.rt.View(x.Rel.Name)
	if parent == nil || parent.Changelog() == nil {
		return gout{}, cannot("materialized view %s is computed when read, so a view cannot follow its changes", x.Rel.Name)
	}
	ts := colTypes(x.Cols)
	if !slices.Equal(ts, parent.Types()) {
		return gout{}, cannot("%s's columns cannot be read in a continuous query", x.Rel.Name)
	}
	src := &graphSource{rel: x.Rel, view: parent, ts: ts, wmCol: -1}
	label := "ViewSource " + x.Rel.Name + " (its rows, then its changes)"
	out := gout{time: make([]dataflow.WMBound, len(ts)), table: true}
	if col := parent.Job().Graph().OutputBound(); col >= 0 {
		// the parent's watermark on a column bounds its changes there
		src.wmCol = col
		out.time[col] = dataflow.WMBound{{Source: len(p.srcs)}}
		label += fmt.Sprintf(" watermark=its own on #%d (%s)", col, x.Cols[col].Name)
	}
	src.node, _ = p.g.AddSource(label)
	out.node = src.node
	p.srcs = append(p.srcs, src)
	return out, nil
}
