package planner

// A dataflow graph can read a materialized view as one of its sources,
// next to streams and tables: a view joining a view with a stream, a
// union of a view and a stream, a view's rows under a join with a table.
// The graph takes the parent view's rows once, then every change the
// parent writes to its changelog, as a table's rows and changes: an
// operator joining them keeps them, and the parent's revisions revise
// the result.
//
// The parent's changes reach the graph only once they are in the
// parent's changelog, with the changelog position they end at, and the
// graph's changelog markers record that position next to its streams'.
// That makes a restart exact: the parent first rebuilds its rows up to
// its own last marker, the graph takes those rows and undoes from them
// the parent's changes past the position its own marker recorded (read
// back from the parent's changelog) — the parent as the graph's
// changelog last saw it — replays its streams up to its marker without
// writing, and only then applies the parent's later changes, so its
// changelog goes on exactly where it stopped.

import (
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/streamsql/streamsql/engine/dataflow"
	"github.com/streamsql/streamsql/engine/expr"
	"github.com/streamsql/streamsql/types"
)

// viewChange is a batch of a parent view's changes for a graph source,
// and the parent's changelog position after them (0: not a position).
type viewChange struct {
	batch   arrow.RecordBatch
	weights []int64
	end     uint64
	// quiet: rebuilding what the flow's changelog already reflects (the
	// parent's rows as of the flow's last marker): applied, not written
	quiet bool
	// the parent's output watermark once these changes are applied
	wm    int64
	hasWM bool
}

// viewFeed is a graph flow's source that a parent view feeds.
type viewFeed struct {
	flow *viewFlow
	src  *graphSource
}

// viewSource is a materialized view's rows, then its changes.
func (p *graphPlan) viewSource(x *ScanNode) (gout, error) {
	parent := p.db.flow(x.Rel.Name)
	if parent == nil || parent.clog == nil {
		return gout{}, cannot("materialized view %s is computed when read, so a view cannot follow its changes", x.Rel.Name)
	}
	ts := colTypes(x.Cols)
	if !slices.Equal(ts, parent.outTs) {
		return gout{}, cannot("%s's columns cannot be read in a continuous query", x.Rel.Name)
	}
	src := &graphSource{rel: x.Rel, view: parent, ts: ts, wmCol: -1}
	label := "ViewSource " + x.Rel.Name + " (its rows, then its changes)"
	out := gout{time: make([]dataflow.WMBound, len(ts)), table: true}
	if pg := parent.graph; pg != nil && pg.boundCol >= 0 {
		// the parent's watermark on a column bounds its changes there
		src.wmCol = pg.boundCol
		out.time[pg.boundCol] = dataflow.WMBound{{Source: len(p.srcs)}}
		label += fmt.Sprintf(" watermark=its own on #%d (%s)", pg.boundCol, x.Cols[pg.boundCol].Name)
	}
	src.node, _ = p.g.AddSource(label)
	out.node = src.node
	p.srcs = append(p.srcs, src)
	return out, nil
}

// viewSources are the graph's sources that read materialized views.
func (p *graphPlan) viewSources() []*graphSource {
	var out []*graphSource
	for _, s := range p.srcs {
		if s.view != nil {
			out = append(out, s)
		}
	}
	return out
}

// viewsPending reports whether some parent view has not been attached
// yet: until it is, the flow reads nothing and writes nothing.
func (f *viewFlow) viewsPending() bool {
	return f.graph != nil && f.graph.pending.Load()
}

// attachViews attaches the graph to each parent view that is ready (not
// replaying what its changelog already has). It reports whether every
// parent is attached.
func (f *viewFlow) attachViews(db *DB) (bool, error) {
	p := f.graph
	all := true
	for _, src := range p.viewSources() {
		if src.attached {
			continue
		}
		ok, err := f.attachView(db, src)
		if err != nil {
			return false, err
		}
		all = all && ok
	}
	p.pending.Store(!all)
	return all, nil
}

// attachView takes the parent's rows as of its changelog's end, queues
// them and registers for what it writes next, all before the parent can
// write again.
func (f *viewFlow) attachView(db *DB, src *graphSource) (bool, error) {
	pf := src.view
	pf.clogWrite.Lock()
	pf.mu.Lock()
	if pf.err != nil {
		err := pf.err
		pf.mu.Unlock()
		pf.clogWrite.Unlock()
		return false, err
	}
	if pf.suppressed() || pf.viewsPending() {
		pf.mu.Unlock()
		pf.clogWrite.Unlock()
		return false, nil
	}
	rows, weights := pf.rows.Contents()
	pending := slices.Clone(pf.clogBuf) // applied to the rows, not yet written
	end := pf.clogEnd
	wm, hasWM := pf.outWM, pf.hasOutWM && src.wmCol >= 0
	pf.feeds = append(pf.feeds, &viewFeed{flow: f, src: src})
	pf.mu.Unlock()
	// the parent's next write waits until the snapshot is queued: what it
	// hands on comes after it
	defer pf.clogWrite.Unlock()

	mem := memory.DefaultAllocator
	var snapshot []viewChange
	if rows != nil {
		snapshot = append(snapshot, viewChange{batch: rows, weights: weights})
	}
	// the rows as of the changelog's end: undo what is not written yet
	if undo := undoChanges(mem, src.ts, pending); undo != nil {
		snapshot = append(snapshot, *undo)
	}
	var forward []viewChange
	applied := end
	exact := src.hasReplayAt
	if src.hasReplayAt && src.replayAt != end {
		recs, err := changelogRange(pf, src.replayAt, end)
		if err != nil {
			exact = false
			slog.Warn("a view's changelog cannot resume exactly: it reads its parent from the parent's current rows", "view", f.name, "parent", pf.name, "reason", err)
		} else {
			// the rows as the flow's changelog last saw them, then the
			// changes since, once the flow has replayed its streams
			if undo := undoChanges(mem, src.ts, recs); undo != nil {
				snapshot = append(snapshot, *undo)
			}
			if fw := changesBatch(mem, src.ts, recs, 1); fw != nil {
				fw.end = end
				forward = append(forward, *fw)
			}
			applied = src.replayAt
		}
	}
	for i := range snapshot {
		snapshot[i].quiet = exact
	}
	// the parent's watermark goes in once its rows as of now are applied:
	// after the changes since the flow's marker, when there are any
	switch {
	case len(forward) > 0:
		forward[len(forward)-1].wm, forward[len(forward)-1].hasWM = wm, hasWM
	case len(snapshot) > 0:
		snapshot[len(snapshot)-1].wm, snapshot[len(snapshot)-1].hasWM = wm, hasWM
	case hasWM:
		snapshot = append(snapshot, viewChange{wm: wm, hasWM: true})
	}
	f.tblMu.Lock()
	src.applied = applied
	src.changes = append(src.changes, snapshot...)
	src.holding = f.replaying.Load()
	if src.holding {
		src.held = append(forward, src.held...)
	} else {
		src.changes = append(src.changes, forward...)
	}
	src.attached = true
	n := len(snapshot) + len(forward)
	f.tblMu.Unlock()
	f.tblEnq.Add(int64(n))
	return true, nil
}

// undoChanges is the changelog rows (ts, diff, pos, columns...) undone:
// their negation, last first. Nil when there are none.
func undoChanges(mem memory.Allocator, ts []types.T, recs [][]types.Datum) *viewChange {
	rev := slices.Clone(recs)
	slices.Reverse(rev)
	return changesBatch(mem, ts, rev, -1)
}

// changesBatch is the changes among changelog rows, their weights times
// sign; nil when there are none.
func changesBatch(mem memory.Allocator, ts []types.T, recs [][]types.Datum, sign int64) *viewChange {
	var rows [][]types.Datum
	var weights []int64
	for _, r := range recs {
		if !r[2].Null || r[1].I == 0 {
			continue // a marker
		}
		rows, weights = append(rows, r[3:]), append(weights, sign*r[1].I)
	}
	if len(rows) == 0 {
		return nil
	}
	return &viewChange{batch: expr.BatchFromRows(mem, ts, rows), weights: weights}
}

// changelogRange reads a view's changelog records from from up to end.
func changelogRange(pf *viewFlow, from, end uint64) ([][]types.Datum, error) {
	sh := pf.clog.Shards()[0]
	if from > end || from < sh.TrimHorizon() {
		return nil, errChangelogGone
	}
	var out [][]types.Datum
	for pos := from; pos < end; {
		recs, next, err := sh.Read(pos, int(min(end-pos, 4096)))
		if err != nil {
			return nil, err
		}
		if next <= pos {
			break
		}
		for _, r := range recs {
			if r.Seq < end {
				out = append(out, r.Row)
			}
		}
		pos = next
	}
	return out, nil
}

var errChangelogGone = errors.New("the parent's changelog no longer holds the changes since the last marker")

// feedChildren hands what a view just wrote to its changelog to the graph
// flows reading it; end is the changelog position after it. Callers hold
// f.clogWrite, so no attach falls between a write and its delivery.
func (f *viewFlow) feedChildren(written [][]types.Datum, end uint64) {
	if len(f.feeds) == 0 {
		return
	}
	ch := changesBatch(memory.DefaultAllocator, f.outTs, written, 1)
	f.mu.RLock()
	wm, hasWM := f.outWM, f.hasOutWM
	f.mu.RUnlock()
	for _, fd := range f.feeds {
		c := viewChange{end: end, wm: wm, hasWM: hasWM && fd.src.wmCol >= 0}
		if ch != nil {
			ch.batch.Retain()
			c.batch, c.weights = ch.batch, ch.weights
		}
		fd.flow.queueViewChange(fd.src, c)
	}
	if ch != nil {
		ch.batch.Release()
	}
}

// queueViewChange queues a parent's change (held while the flow replays)
// and wakes the flow.
func (f *viewFlow) queueViewChange(src *graphSource, c viewChange) {
	f.tblMu.Lock()
	if src.holding {
		src.held = append(src.held, c)
	} else {
		src.changes = append(src.changes, c)
	}
	f.tblMu.Unlock()
	f.tblEnq.Add(1)
	select {
	case f.tblWake <- struct{}{}:
	default:
	}
}

// releaseHeld moves the parents' changes held during the replay into the
// queues, once the flow has replayed its streams.
func (f *viewFlow) releaseHeld() {
	if f.graph == nil || f.replaying.Load() {
		return
	}
	f.tblMu.Lock()
	for _, src := range f.graph.viewSources() {
		if src.holding {
			src.changes = append(src.changes, src.held...)
			src.held, src.holding = nil, false
		}
	}
	f.tblMu.Unlock()
}

// detachViews stops the parents feeding f.
func (f *viewFlow) detachViews() {
	if f.graph == nil {
		return
	}
	for _, src := range f.graph.viewSources() {
		pf := src.view
		pf.clogWrite.Lock()
		pf.feeds = slices.DeleteFunc(pf.feeds, func(fd *viewFeed) bool { return fd.flow == f })
		pf.clogWrite.Unlock()
		f.tblMu.Lock()
		for _, c := range append(src.changes, src.held...) {
			if c.batch != nil {
				c.batch.Release()
			}
		}
		src.changes, src.held = nil, nil
		f.tblMu.Unlock()
	}
}

// drainViews pushes the parents' queued changes into their sources, in
// order, and returns how many it pushed. The quiet rebuilds of every
// parent go first: a change written to the changelog is computed from all
// parents' rows as the changelog last saw them, never from a state in
// which one parent is still missing.
func (f *viewFlow) drainViews(ctx *expr.Ctx) (int, error) {
	p := f.graph
	queues := make([][]viewChange, len(p.srcs))
	count := 0
	f.tblMu.Lock()
	for i, src := range p.srcs {
		if src.view != nil {
			queues[i], src.changes = src.changes, nil
			count += len(queues[i])
		}
	}
	f.tblMu.Unlock()
	release := func() {
		for _, q := range queues {
			for _, c := range q {
				if c.batch != nil {
					c.batch.Release()
				}
			}
		}
	}
	for _, quiet := range []bool{true, false} {
		for i, q := range queues {
			for len(q) > 0 && (q[0].quiet || !quiet) {
				c := q[0]
				q = q[1:]
				queues[i] = q
				if c.batch != nil {
					f.quiet.Store(c.quiet)
					err := p.g.Push(ctx, i, &dataflow.Msg{Kind: dataflow.MsgData, Batch: c.batch, Weights: c.weights})
					f.quiet.Store(false)
					c.batch.Release()
					if err != nil {
						release()
						return count, err
					}
				}
				if c.end > 0 {
					p.srcs[i].applied = c.end
				}
				if c.hasWM {
					if err := p.g.Watermark(ctx, i, c.wm); err != nil {
						release()
						return count, err
					}
				}
			}
		}
	}
	if count > 0 {
		return count, f.graphWatermarks(ctx, time.Now())
	}
	return 0, nil
}

// viewPositions are the parents' changelog positions the flow has applied,
// for its changelog's marker.
func (f *viewFlow) viewPositions() []uint64 {
	if f.graph == nil {
		return nil
	}
	var out []uint64
	for _, src := range f.graph.viewSources() {
		out = append(out, src.applied)
	}
	return out
}
