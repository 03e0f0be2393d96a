package planner

import (
	"time"

	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/streamsql/streamsql/catalog"
	"github.com/streamsql/streamsql/engine/dataflow"
	"github.com/streamsql/streamsql/engine/expr"
	"github.com/streamsql/streamsql/engine/storage"
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

// planJoin plans a join under a view: one side must read a stream (it
// becomes the flow's source; its node is returned for the caller to walk),
// the other a table, through filters and projections only.
func (f *viewFlow) planJoin(db *DB, x *JoinNode) (Node, error) {
	if len(x.LeftKeys) == 0 {
		return nil, cannot("a join in a continuous query needs an equality between columns of both sides (an equi-join)")
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
			case *FilterNode, *ProjectNode:
				steps = append([]Node{y}, steps...)
				n = y.Children()[0]
			case *ScanNode:
				if y.Rel == nil {
					return nil, cannot("it joins a system relation")
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
	streamSide := -1
	switch {
	case kinds[0] == catalog.KindTable && kinds[1] == catalog.KindTable:
		return nil, cannot("it joins tables only")
	case kinds[1] == catalog.KindTable:
		streamSide = 0
	case kinds[0] == catalog.KindTable:
		streamSide = 1
	case kinds[0] == catalog.KindStream && kinds[1] == catalog.KindStream:
		return nil, cannot("a join of two streams keeps both sides forever unless it is bounded in time: interval joins with watermarks are not supported yet")
	default:
		return nil, cannot("joins in continuous queries are supported between a stream and a table so far")
	}
	tableSide := 1 - streamSide
	j, err := dataflow.NewJoin(x.Kind, x.LeftKeys, x.RightKeys, x.Residual, colTypes(x.Left.Columns()), colTypes(x.Right.Columns()))
	if err != nil {
		return nil, cannot("%s", err.Error())
	}
	f.join, f.streamSide = j, streamSide
	f.tbl, f.tblTs, f.tblSteps = scans[tableSide].Rel, colTypes(scans[tableSide].Cols), tblSteps[tableSide]
	if streamSide == 0 {
		return x.Left, nil
	}
	return x.Right, nil
}

// watchTable starts feeding the table's rows, then its changes, to the
// flow's queue.
func (f *viewFlow) watchTable(db *DB) error {
	if f.tbl == nil {
		return nil
	}
	t, err := db.Table(f.tbl.Name)
	if err != nil {
		return err
	}
	f.tblWake = make(chan struct{}, 1)
	rows, unwatch := t.Watch(f.tableChanged)
	f.unwatch = unwatch
	f.tableChanged(nil, rows)
	return nil
}

// tableChanged queues a committed change (it runs under the table's lock).
func (f *viewFlow) tableChanged(deleted, inserted []storage.Row) {
	if len(deleted) == 0 && len(inserted) == 0 {
		return
	}
	f.tblMu.Lock()
	f.tblQueue = append(f.tblQueue, tableChange{deleted, inserted})
	f.tblMu.Unlock()
	f.tblEnq.Add(1)
	select {
	case f.tblWake <- struct{}{}:
	default:
	}
}

// applyTableChanges runs the queued table changes through the join.
func (f *viewFlow) applyTableChanges(ctx *expr.Ctx) (bool, error) {
	if f.tbl == nil {
		return false, nil
	}
	f.tblMu.Lock()
	queue := f.tblQueue
	f.tblQueue = nil
	f.tblMu.Unlock()
	if len(queue) == 0 {
		return false, nil
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
	ctx.Now = time.Now().UnixMicro()
	m := &dataflow.Msg{Kind: dataflow.MsgData, Batch: expr.BatchFromRows(memory.DefaultAllocator, f.tblTs, rows), Weights: weights}
	out, err := f.throughJoin(ctx, 1-f.streamSide, f.tblSteps, m)
	if err == nil {
		err = f.applyMsg(ctx, out)
	}
	f.mu.Lock()
	f.tblDone += int64(len(queue))
	close(f.progress)
	f.progress = make(chan struct{})
	f.mu.Unlock()
	return true, err
}
