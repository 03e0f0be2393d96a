package flow

import (
	"log/slog"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/streamsql/streamsql/engine/dataflow"
	"github.com/streamsql/streamsql/engine/expr"
	"github.com/streamsql/streamsql/engine/storage"
	"github.com/streamsql/streamsql/sources/streamstore"
	"github.com/streamsql/streamsql/types"
)

// Source is one input of a job, in the order of its graph's sources: a
// stream's shards, a table's rows and then its changes, or a
// materialized view's rows and then its changes.
type Source struct {
	Name   string              // the relation read
	Stream *streamstore.Stream // a stream
	Table  Table               // or a table
	View   *View               // or a materialized view
	// Types are the rows' columns (a stream's end with _shard, _seq and
	// _arrival)
	Types []types.T
	// Keep: the stream's columns the graph reads (nil: all); the others
	// are never decoded, NULL columns stand in for them
	Keep []bool
	// Watermark: a stream's WATERMARK FOR expression over its columns
	// (nil: its watermark is not followed); TimeCol is the column it is
	// on, or for a view the column its own watermark bounds (-1: none)
	Watermark expr.Expr
	TimeCol   int
}

// Table is a table a job reads (storage.Table is one): Watch returns its
// rows and the number of the last change they reflect, then calls fn with
// each committed change; WatchFrom returns the changes after a number,
// read back from the table's log, then calls fn with the later ones.
type Table interface {
	Watch(fn storage.WatchFunc) (rows []storage.Row, lsn int64, unwatch func())
	WatchFrom(lsn int64, fn storage.WatchFunc) ([]storage.LoggedChange, func(), error)
}

// WatermarkIdle is how long a silent shard holds a stream's watermark back.
const WatermarkIdle = 2 * time.Second

// source is a Source as its job runs it.
type source struct {
	Source
	first int                  // a stream's first shard among the job's shards
	wms   *dataflow.Watermarks // a stream's watermark, per shard
	// a table's committed changes not yet pushed (guarded by the job's
	// inMu): its rows when the job starts, then each statement's; those
	// held while the job replays; the last change applied (lsn), and the
	// one the sink's last marker recorded
	queue     []tableChange
	tblHeld   []tableChange
	unwatch   func()
	lsn       int64
	replayLSN int64
	hasLSN    bool
	// a view (viewsource.go): attached once its rows are rebuilt; its
	// changes queued (changes) or, while the job replays, held; the
	// view's changelog position applied up to, and the one the job's
	// sink last recorded (replayAt)
	attached    bool
	changes     []viewChange
	held        []viewChange
	holding     bool
	applied     uint64
	replayAt    uint64
	hasReplayAt bool
	// restored from a checkpoint: the job has the parent as of its
	// changelog position ckptAt, and takes up its changes from there
	fromCkpt bool
	ckptAt   uint64
}

// tableChange is one committed statement's effect on a table, and its
// number; quiet: the sink reflects it already (a restart applies it
// again without writing).
type tableChange struct {
	lsn               int64
	deleted, inserted []storage.Row
	quiet             bool
}

// shardRead is a batch read from one shard of the job's shards, and the
// position after it.
type shardRead struct {
	shard int
	batch arrow.RecordBatch
	next  uint64
}

// read reads up to max records of shard i from position from, with the
// position columns, as the graph's source wants them.
func (s *source) read(mem memory.Allocator, sh *streamstore.Shard, from uint64, max int) (shardRead, error) {
	var keep []bool
	if s.Keep != nil {
		keep = s.Keep[:len(s.Types)-3] // the stream's own columns, without _shard, _seq, _arrival
	}
	b, seqs, arrivals, next, err := sh.ReadColumns(mem, from, max, keep)
	if err != nil || b == nil {
		if err == nil && next > from {
			// only void sequence numbers (an aborted append): step over them
			return shardRead{next: next}, nil
		}
		return shardRead{}, err
	}
	out := prune(WithPositions(s.Types, b, sh.ID, seqs, arrivals), s.Keep)
	b.Release()
	return shardRead{batch: out, next: next}, nil
}

// WithPositions adds a shard read's _shard, _seq and _arrival columns.
func WithPositions(ts []types.T, b arrow.RecordBatch, shard int, seqs []uint64, arrivals []int64) arrow.RecordBatch {
	shardIDs := make([]int32, len(seqs))
	seqCol := make([]int64, len(seqs))
	for i := range seqs {
		shardIDs[i], seqCol[i] = int32(shard), int64(seqs[i])
	}
	cols := make([]arrow.Array, 0, b.NumCols()+3)
	for c := 0; c < int(b.NumCols()); c++ {
		col := b.Column(c)
		col.Retain()
		cols = append(cols, col)
	}
	cols = append(cols, expr.NewFixed(types.TInt32, shardIDs, nil, 0), expr.NewFixed(types.TInt64, seqCol, nil, 0), expr.NewFixed(types.TTimestampTZ, arrivals, nil, 0))
	out := expr.NewBatch(ts, cols, int(b.NumRows()))
	for _, c := range cols {
		c.Release()
	}
	return out
}

// prune replaces the columns of b that keep says no step reads by NULLs
// (cheap to make, and free to copy).
func prune(b arrow.RecordBatch, keep []bool) arrow.RecordBatch {
	if keep == nil {
		return b
	}
	n := int(b.NumRows())
	cols := make([]arrow.Array, b.NumCols())
	for i := range cols {
		if keep[i] {
			cols[i] = b.Column(i)
			cols[i].Retain()
		} else {
			cols[i] = types.NullColumn(b.Column(i).DataType(), n)
		}
	}
	out := array.NewRecordBatch(b.Schema(), cols, int64(n))
	for _, c := range cols {
		c.Release()
	}
	b.Release()
	return out
}

// pushStream feeds a batch of one shard into its source: the stream's
// watermark takes the batch's times, the graph runs, then every source's
// watermark goes in (rows late for what it closed are dropped where it
// closed it: a window, an aggregate's or a top-N's time). The batch is cut
// before each row whose time is behind the watermark as it stands after
// the rows before it, and the watermark goes in at the cut: such a row is
// late exactly when it would be read one record at a time, so which rows
// are late does not depend on how records were batched. In-order rows
// make no cuts.
func (j *Job) pushStream(ctx *expr.Ctx, shard int, b arrow.RecordBatch) error {
	si, local := j.sourceOf(shard)
	s := j.srcs[si]
	now := time.Now()
	if s.wms == nil {
		if err := j.g.Push(ctx, si, &dataflow.Msg{Kind: dataflow.MsgData, Batch: b}); err != nil {
			return err
		}
		return j.watermarks(ctx, now)
	}
	v, err := s.Watermark.Eval(ctx, b)
	if err != nil {
		return err
	}
	defer v.Release()
	n := int(b.NumRows())
	var times arrow.Array
	if s.TimeCol >= 0 {
		times = b.Column(s.TimeCol)
	}
	// plain columns are read in place (the watermark's values and the
	// times a row is late by)
	wv, tv := plainTimes(v.Arr), []int64(nil)
	if times != nil {
		tv = plainTimes(times)
	}
	fast := v.Arr != nil && wv != nil && (times == nil || tv != nil)
	if fast && !j.g.UsesWatermarks() {
		// no operator goes by the watermark: no row is late, so the
		// batch goes in whole and the watermark (for EXPLAIN and the jobs
		// reading this one's view) takes its highest value
		maxV := wv[0]
		for _, d := range wv[1:] {
			maxV = max(maxV, d)
		}
		s.wms.Observe(local, maxV, now)
		if err := j.g.Push(ctx, si, &dataflow.Msg{Kind: dataflow.MsgData, Batch: b}); err != nil {
			return err
		}
		return j.watermarks(ctx, now)
	}
	for lo := 0; lo < n; {
		hi := lo
		// the watermark is at most the larger of where it stood and the
		// highest value observed since: a row at or above both is not
		// behind it (in-order rows never ask the shards)
		start, hasStart := s.wms.Current(now)
		maxV, hasV := int64(0), false
		if fast {
			// the values are observed at once, before the shards are
			// asked and at the end: the same as one by one
			for ; hi < n; hi++ {
				if hi > lo && tv != nil {
					if t := tv[hi]; (hasStart && t < start) || (hasV && t < maxV) {
						if hasV {
							s.wms.Observe(local, maxV, now)
						}
						if wm, ok := s.wms.Current(now); ok && t < wm {
							break // late as things stand: let the watermark in first
						}
					}
				}
				if d := wv[hi]; !hasV || d > maxV {
					maxV, hasV = d, true
				}
			}
			if hasV {
				s.wms.Observe(local, maxV, now)
			}
		}
		for ; !fast && hi < n; hi++ {
			if hi > lo && times != nil && !times.IsNull(hi) {
				t := types.DatumAt(times, hi).I
				if (hasStart && t < start) || (hasV && t < maxV) {
					if wm, ok := s.wms.Current(now); ok && t < wm {
						break // late as things stand: let the watermark in first
					}
				}
			}
			if d := v.At(hi); !d.Null {
				s.wms.Observe(local, d.I, now)
				if !hasV || d.I > maxV {
					maxV, hasV = d.I, true
				}
			}
		}
		sub := rowRange(ctx, b, lo, hi)
		err := j.g.Push(ctx, si, &dataflow.Msg{Kind: dataflow.MsgData, Batch: sub})
		sub.Release()
		if err == nil {
			err = j.watermarks(ctx, now)
		}
		if err != nil {
			return err
		}
		lo = hi
	}
	return nil
}

// plainTimes is the values of a time or integer column with no NULLs,
// read in place (nil: another kind of column).
func plainTimes(a arrow.Array) []int64 {
	if a == nil || a.NullN() > 0 {
		return nil
	}
	switch a.DataType().ID() {
	case arrow.TIMESTAMP, arrow.INT64:
		return expr.FixedValues[int64](a)
	}
	return nil
}

// rowRange is rows lo to hi of b, a batch of the caller's own (b itself,
// retained, when that is all of it).
func rowRange(ctx *expr.Ctx, b arrow.RecordBatch, lo, hi int) arrow.RecordBatch {
	if lo == 0 && hi == int(b.NumRows()) {
		b.Retain()
		return b
	}
	rows := make([]int, hi-lo)
	for i := range rows {
		rows[i] = lo + i
	}
	return expr.Take(ctx.Mem, b, rows)
}

// watchTables starts feeding each table's rows, then its changes, to its
// source's queue. After a restart a table's changes come from where the
// job's state has it (from: its checkpoint's, or none) back from the
// table's log: those the sink's last marker reflects are applied quietly
// with the replay, the later ones after it — so a restart neither applies
// a table change twice nor loses one.
func (j *Job) watchTables(from map[int]int64) {
	for i, src := range j.srcs {
		if src.Table == nil {
			continue
		}
		changed := func(lsn int64, deleted, inserted []storage.Row) {
			j.tableChanged(src, tableChange{lsn: lsn, deleted: deleted, inserted: inserted})
		}
		if src.hasLSN {
			base := from[i]
			logged, unwatch, err := src.Table.WatchFrom(base, changed)
			if err == nil {
				src.unwatch, src.lsn = unwatch, base
				for _, c := range logged {
					j.tableChanged(src, tableChange{lsn: c.LSN, deleted: c.Deleted, inserted: c.Inserted, quiet: c.LSN <= src.replayLSN})
				}
				continue
			}
			slog.Warn("a view over a table cannot resume exactly: it takes the table as it is now", "view", j.name, "table", src.Name, "reason", err)
		}
		rows, lsn, unwatch := src.Table.Watch(changed)
		src.unwatch = unwatch
		// (after a restart: taken as the table the sink reflects)
		j.tableChanged(src, tableChange{lsn: lsn, inserted: rows, quiet: j.resuming})
	}
}

// tableChanged queues a committed change of a table the job reads (it
// runs under the table's lock); one past what the sink reflects waits
// while the job replays.
func (j *Job) tableChanged(src *source, c tableChange) {
	if len(c.deleted) == 0 && len(c.inserted) == 0 && c.lsn <= src.lsn {
		return
	}
	j.inMu.Lock()
	if !c.quiet && j.replaying.Load() {
		src.tblHeld = append(src.tblHeld, c)
	} else {
		src.queue = append(src.queue, c)
	}
	j.inMu.Unlock()
	j.queued.Add(1)
	j.wake()
}

// drainTables pushes the queued changes of the tables the job reads into
// their sources, in the order they committed per table (quiet ones, which
// the sink reflects already, without writing).
func (j *Job) drainTables(ctx *expr.Ctx) (int, error) {
	j.inMu.Lock()
	queues := make([][]tableChange, len(j.srcs))
	count := 0
	for i, src := range j.srcs {
		queues[i], src.queue = src.queue, nil
		count += len(queues[i])
	}
	j.inMu.Unlock()
	for i, queue := range queues {
		for len(queue) > 0 {
			// a run of changes alike in quietness goes in as one batch
			n := 1
			for n < len(queue) && queue[n].quiet == queue[0].quiet {
				n++
			}
			var rows [][]types.Datum
			var weights []int64
			for _, ch := range queue[:n] {
				for _, r := range ch.deleted {
					rows, weights = append(rows, r), append(weights, -1)
				}
				for _, r := range ch.inserted {
					rows, weights = append(rows, r), append(weights, 1)
				}
			}
			quiet := queue[0].quiet
			j.srcs[i].lsn = max(j.srcs[i].lsn, queue[n-1].lsn)
			queue = queue[n:]
			if len(rows) == 0 {
				continue
			}
			m := &dataflow.Msg{Kind: dataflow.MsgData, Batch: expr.BatchFromRows(j.mem, j.srcs[i].Types, rows), Weights: weights}
			j.quiet.Store(quiet)
			err := j.g.Push(ctx, i, m)
			j.quiet.Store(false)
			m.Release()
			if err != nil {
				return count, err
			}
		}
	}
	return count, nil
}
