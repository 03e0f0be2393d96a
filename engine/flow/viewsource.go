package flow

// A job can read a materialized view as one of its sources, next to
// streams and tables: a view joining a view with a stream, a union of a
// view and a stream, a view's rows under a join with a table. The job
// takes the parent view's rows once, then every change the parent writes
// to its changelog, as a table's rows and changes: an operator joining
// them keeps them, and the parent's revisions revise the result.
//
// The parent's changes reach the job only once they are in the parent's
// changelog, with the changelog position they end at, and the job's sink
// records that position next to its streams'. That makes a restart exact:
// the parent first rebuilds its rows up to its own last marker, the job
// takes those rows and undoes from them the parent's changes past the
// position its own marker recorded (read back from the parent's
// changelog) — the parent as the job's sink last saw it — replays its
// streams up to its marker without writing, and only then applies the
// parent's later changes, so its changelog goes on exactly where it
// stopped.

import (
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

// viewChange is a batch of a parent view's changes for a job's source,
// and the parent's changelog position after them (0: not a position).
type viewChange struct {
	batch   arrow.RecordBatch
	weights []int64
	end     uint64
	// quiet: rebuilding what the job's sink already reflects (the
	// parent's rows as of the job's last marker): applied, not written
	quiet bool
	// the parent's output watermark once these changes are applied
	wm    int64
	hasWM bool
}

// viewFeed is a job's source that a parent view feeds.
type viewFeed struct {
	job *Job
	src *source
}

// attachViews attaches the job to each parent view that is ready (not
// replaying what its changelog already has). It reports whether every
// parent is attached.
func (j *Job) attachViews() (bool, error) {
	all := true
	for _, src := range j.srcs {
		if src.View == nil || src.attached {
			continue
		}
		ok, err := j.attachView(src)
		if err != nil {
			return false, err
		}
		all = all && ok
	}
	j.pending.Store(!all)
	return all, nil
}

// attachView takes the parent's rows as of its changelog's end, queues
// them and registers for what it writes next, all before the parent can
// write again.
func (j *Job) attachView(src *source) (bool, error) {
	pv := src.View
	pc := &pv.clog
	pc.write.Lock()
	if pj := pv.job; pj != nil {
		if err := pj.Err(); err != nil {
			pc.write.Unlock()
			return false, err
		}
		if pj.suppressed() {
			pc.write.Unlock()
			return false, nil
		}
	}
	if src.fromCkpt {
		return j.attachViewFromCheckpoint(src)
	}
	pv.mu.Lock()
	rows, weights := pv.contentsLocked()
	var pending []viewChange // applied to the rows, not yet written: undone, last first
	for i := len(pc.buf) - 1; i >= 0; i-- {
		d := pc.buf[i].retain()
		neg := make([]int64, len(d.diffs))
		for k, w := range d.diffs {
			neg[k] = -w
		}
		pending = append(pending, viewChange{batch: d.rows, weights: neg})
	}
	end := pc.end
	wm, hasWM := pv.outWM, pv.hasOutWM && src.TimeCol >= 0
	pc.feeds = append(pc.feeds, &viewFeed{job: j, src: src})
	pv.mu.Unlock()
	// the parent's next write waits until the snapshot is queued: what it
	// hands on comes after it
	defer pc.write.Unlock()

	var snapshot []viewChange
	if rows != nil {
		snapshot = append(snapshot, viewChange{batch: rows, weights: weights})
	}
	// the rows as of the changelog's end: undo what is not written yet
	snapshot = append(snapshot, pending...)
	var forward []viewChange
	applied := end
	exact := src.hasReplayAt
	if src.hasReplayAt && src.replayAt != end {
		recs, err := pc.rangeRecords(src.replayAt, end)
		if err != nil {
			exact = false
			slog.Warn("a view's changelog cannot resume exactly: it reads its parent from the parent's current rows", "view", j.name, "parent", pv.name, "reason", err)
		} else {
			// the rows as the job's changelog last saw them, then the
			// changes since, once the job has replayed its streams
			if undo := undoChanges(j.mem, src.Types, recs); undo != nil {
				snapshot = append(snapshot, *undo)
			}
			if fw := changesBatch(j.mem, src.Types, recs, 1); fw != nil {
				fw.end = end
				forward = append(forward, *fw)
			}
			applied = src.replayAt
		}
	}
	for i := range snapshot {
		snapshot[i].quiet = exact
	}
	j.inMu.Lock()
	src.applied = applied
	j.inMu.Unlock()
	j.queueAttached(src, snapshot, forward, wm, hasWM)
	return true, nil
}

// queueAttached queues what a job takes of a parent view when it
// attaches: first what its state must have (now), then the parent's
// changes since (after the replay, when the job replays); the parent's
// watermark goes in once they are applied.
func (j *Job) queueAttached(src *source, now, since []viewChange, wm int64, hasWM bool) {
	switch {
	case len(since) > 0:
		since[len(since)-1].wm, since[len(since)-1].hasWM = wm, hasWM
	case len(now) > 0:
		now[len(now)-1].wm, now[len(now)-1].hasWM = wm, hasWM
	case hasWM:
		now = append(now, viewChange{wm: wm, hasWM: true})
	}
	j.inMu.Lock()
	src.changes = append(src.changes, now...)
	src.holding = j.replaying.Load()
	if src.holding {
		src.held = append(since, src.held...)
	} else {
		src.changes = append(src.changes, since...)
	}
	src.attached = true
	j.inMu.Unlock()
	j.queued.Add(int64(len(now) + len(since)))
}

// attachViewFromCheckpoint takes up a parent's changes where the job's
// checkpoint has it (src.ckptAt): those in the parent's changelog since,
// quietly up to the position the job's own changelog marker recorded
// (src.replayAt: it reflects them), the rest after the replay; then what
// the parent writes next. Callers hold the parent's changelog write lock,
// which it releases.
func (j *Job) attachViewFromCheckpoint(src *source) (bool, error) {
	pv := src.View
	pc := &pv.clog
	defer pc.write.Unlock()
	pv.mu.Lock()
	end := pc.end
	wm, hasWM := pv.outWM, pv.hasOutWM && src.TimeCol >= 0
	pc.feeds = append(pc.feeds, &viewFeed{job: j, src: src})
	pv.mu.Unlock()
	quietTo := src.ckptAt
	if src.hasReplayAt {
		quietTo = min(max(src.replayAt, src.ckptAt), end)
	}
	var quiet, forward []viewChange
	if src.ckptAt < quietTo {
		recs, err := pc.rangeRecords(src.ckptAt, quietTo)
		if err != nil {
			return false, fmt.Errorf("%s: %w", pv.name, err)
		}
		if c := changesBatch(j.mem, src.Types, recs, 1); c != nil {
			quiet = append(quiet, *c)
		}
		quiet = append(quiet, viewChange{end: quietTo})
		for i := range quiet {
			quiet[i].quiet = true
		}
	}
	if quietTo < end {
		recs, err := pc.rangeRecords(quietTo, end)
		if err != nil {
			return false, fmt.Errorf("%s: %w", pv.name, err)
		}
		if c := changesBatch(j.mem, src.Types, recs, 1); c != nil {
			forward = append(forward, *c)
		}
		forward = append(forward, viewChange{end: end})
	}
	j.queueAttached(src, quiet, forward, wm, hasWM)
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

// feedReaders hands the steps a view just wrote to its changelog to the
// jobs reading it; end is the changelog position after them, wm the
// view's output watermark. Callers hold the changelog's write lock, so no
// attach falls between a write and its delivery.
func feedReaders(feeds []*viewFeed, written []delta, end uint64, wm int64, hasWM bool) {
	for _, fd := range feeds {
		var cs []viewChange
		for _, d := range written {
			d.rows.Retain()
			cs = append(cs, viewChange{batch: d.rows, weights: d.diffs})
		}
		if len(cs) == 0 {
			cs = append(cs, viewChange{})
		}
		last := &cs[len(cs)-1]
		last.end, last.wm, last.hasWM = end, wm, hasWM && fd.src.TimeCol >= 0
		fd.job.queueViewChanges(fd.src, cs)
	}
}

// queueViewChanges queues a parent's changes (held while the job
// replays) and wakes the job.
func (j *Job) queueViewChanges(src *source, cs []viewChange) {
	j.inMu.Lock()
	if src.holding {
		src.held = append(src.held, cs...)
	} else {
		src.changes = append(src.changes, cs...)
	}
	j.inMu.Unlock()
	j.queued.Add(int64(len(cs)))
	j.wake()
}

// releaseHeld moves the parents' changes held during the replay into the
// queues, once the job has replayed its streams.
func (j *Job) releaseHeld() {
	if j.replaying.Load() {
		return
	}
	j.inMu.Lock()
	for _, src := range j.srcs {
		if src.View != nil && src.holding {
			src.changes = append(src.changes, src.held...)
			src.held, src.holding = nil, false
		}
		if len(src.tblHeld) > 0 {
			src.queue = append(src.queue, src.tblHeld...)
			src.tblHeld = nil
		}
	}
	j.inMu.Unlock()
}

// detachViews stops the parents feeding the job.
func (j *Job) detachViews() {
	for _, src := range j.srcs {
		if src.View == nil {
			continue
		}
		pc := &src.View.clog
		pc.write.Lock()
		pc.feeds = slices.DeleteFunc(pc.feeds, func(fd *viewFeed) bool { return fd.job == j })
		pc.write.Unlock()
		j.inMu.Lock()
		for _, c := range append(src.changes, src.held...) {
			if c.batch != nil {
				c.batch.Release()
			}
		}
		src.changes, src.held = nil, nil
		j.inMu.Unlock()
	}
}

// drainViews pushes the parents' queued changes into their sources, in
// order, and returns how many it pushed. The quiet rebuilds of every
// parent go first: a change written to the changelog is computed from all
// parents' rows as the changelog last saw them, never from a state in
// which one parent is still missing.
func (j *Job) drainViews(ctx *expr.Ctx) (int, error) {
	queues := make([][]viewChange, len(j.srcs))
	count := 0
	j.inMu.Lock()
	for i, src := range j.srcs {
		if src.View != nil {
			queues[i], src.changes = src.changes, nil
			count += len(queues[i])
		}
	}
	j.inMu.Unlock()
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
					j.quiet.Store(c.quiet)
					err := j.g.Push(ctx, i, &dataflow.Msg{Kind: dataflow.MsgData, Batch: c.batch, Weights: c.weights})
					j.quiet.Store(false)
					c.batch.Release()
					if err != nil {
						release()
						return count, err
					}
				}
				if c.end > 0 {
					j.srcs[i].applied = c.end
				}
				if c.hasWM {
					if err := j.g.Watermark(ctx, i, c.wm); err != nil {
						release()
						return count, err
					}
				}
			}
		}
	}
	if count > 0 {
		return count, j.watermarks(ctx, time.Now())
	}
	return 0, nil
}

// inputPositions are, for the sink's marker, the parents' changelog
// positions the job has applied, then the numbers of the tables' last
// changes it has.
func (j *Job) inputPositions() []uint64 {
	var out []uint64
	for _, src := range j.srcs {
		if src.View != nil {
			out = append(out, src.applied)
		}
	}
	for _, src := range j.srcs {
		if src.Table != nil {
			out = append(out, uint64(src.lsn))
		}
	}
	return out
}
