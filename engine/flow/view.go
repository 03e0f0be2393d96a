package flow

import (
	"sync"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/streamsql/streamsql/engine/dataflow"
	"github.com/streamsql/streamsql/engine/expr"
	"github.com/streamsql/streamsql/sources/streamstore"
	"github.com/streamsql/streamsql/sqlerr"
	"github.com/streamsql/streamsql/types"
)

// View is a materialized view as a job's sink: its rows (an arrangement,
// each distinct row once with its count, with point indexes on the
// columns reads asked for), the changes kept in memory for its
// subscribers, and its changelog in the stream store, which the jobs
// reading the view are fed from.
//
// Reads see whole steps: a step's changes are applied under the lock.
type View struct {
	name string
	ts   []types.T
	job  *Job // the job maintaining it (set by Start)

	mu   sync.RWMutex
	rows *dataflow.Arrangement
	// subscriptions (subscribe.go): the logical time of the last step
	// that changed rows (µs, strictly increasing), the subscribers, and
	// the changes not yet read by every one of them
	lastTS int64
	subs   map[*Subscription]struct{}
	// the steps' changes not yet read by every subscriber, and the
	// positions of their first row and after their last
	log              []delta
	logStart, logEnd int64
	logBytes         int64 // memory the log holds
	// changed is closed and replaced whenever changes are logged, the job
	// fails or stops
	changed chan struct{}
	// ended is closed, with endErr set, when the subscribers must stop:
	// what the view reads was dropped, or the server is shutting down
	ended  chan struct{}
	endErr error
	// the view's output watermark on its bounded column: the jobs reading
	// it take it as their source's
	outWM    int64
	hasOutWM bool

	clog changelog // changelog.go (its stream is nil for a private view)
}

// The changes a view keeps in memory for its subscribers are bounded in
// number and in bytes. A subscriber further behind reads the view's
// changelog on disk (a private view has none: its laggard fails).
var (
	MaxSubscriptionLog      = 1 << 20
	MaxSubscriptionLogBytes = int64(64 << 20)
)

// ChangelogConfig is where a view keeps its changelog.
type ChangelogConfig struct {
	Store     *streamstore.Store
	Key       string // the stream's key in the store
	Retention time.Duration
}

// NewView makes the sink of a materialized view of columns ts, opening
// its changelog (cl nil: a private view, as a SUBSCRIBE to a query
// runs, which keeps none).
func NewView(name string, ts []types.T, cl *ChangelogConfig) (*View, error) {
	v := &View{name: name, ts: ts, rows: dataflow.NewArrangement(ts), changed: make(chan struct{})}
	if cl != nil {
		if err := v.clog.open(cl, ts); err != nil {
			return nil, err
		}
		v.lastTS = v.clog.lastTS
	}
	return v, nil
}

// Name is the view's name.
func (v *View) Name() string { return v.name }

// Types are the view's column types.
func (v *View) Types() []types.T { return v.ts }

// Job is the job maintaining the view.
func (v *View) Job() *Job { return v.job }

// Changelog is the view's changelog stream (nil for a private view).
func (v *View) Changelog() *streamstore.Stream { return v.clog.stream }

var _ Sink = (*View)(nil)

// resumeFrom is the marker of the changelog's last step: the positions
// of the job's sources it reflects (nil when there is none).
func (v *View) resumeFrom() []uint64 { return v.clog.marker }

// resumed reports whether the changelog holds an earlier run's changes.
func (v *View) resumed() bool { return v.clog.stream != nil && v.clog.lastTS > 0 }

// apply adds a step's changes to the rows; quiet ones are in the
// changelog already (a restart replaying what the last run wrote).
func (v *View) apply(m *dataflow.Msg, quiet bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	// changes are consolidated for subscribers and the changelog, when
	// there are any: a row retracted and added back in one step is no
	// change
	collect := len(v.subs) > 0 || (v.clog.stream != nil && !quiet)
	rows, diffs := v.rows.Apply(m.Batch, m.Weights, collect)
	if m.Batch.NumRows() == 0 {
		return
	}
	// the step's logical time advances even when nobody subscribes
	ts := time.Now().UnixMicro()
	if ts <= v.lastTS {
		ts = v.lastTS + 1
	}
	v.lastTS = ts
	if rows == nil {
		return
	}
	d := newDelta(ts, rows, diffs)
	switch {
	case v.clog.stream != nil && !quiet:
		// subscribers get it once it is in the changelog: what one has
		// seen is there after a crash, and never comes twice
		v.clog.buf = append(v.clog.buf, d.retain())
	case v.clog.stream == nil:
		v.logLocked([]delta{d})
	}
	rows.Release()
}

// logLocked hands steps' changes to the subscribers; callers hold v.mu.
func (v *View) logLocked(ds []delta) {
	if len(v.subs) == 0 {
		return
	}
	for _, d := range ds {
		d.start = v.logEnd
		v.log = append(v.log, d.retain())
		v.logEnd += d.len()
		v.logBytes += d.bytes
	}
	v.trimLogLocked()
	v.notifyLocked()
}

// pendingRowsLocked is the changes applied to the rows but not yet in
// the changelog (so not yet logged for subscribers); callers hold v.mu.
func (v *View) pendingRowsLocked() int64 {
	var n int64
	for _, ds := range [][]delta{v.clog.flight, v.clog.buf} {
		for i := range ds {
			n += ds[i].len()
		}
	}
	return n
}

// notifyLocked wakes whoever waits for a change; callers hold v.mu.
func (v *View) notifyLocked() {
	close(v.changed)
	v.changed = make(chan struct{})
}

// notify wakes the subscribers (the job failed or stopped).
func (v *View) notify() {
	v.mu.Lock()
	v.notifyLocked()
	v.mu.Unlock()
}

// trimLogLocked drops the steps every subscriber has read, and the
// oldest ones while the log is over its bounds (the laggards then read
// them from the changelog on disk).
func (v *View) trimLogLocked() {
	low := v.logEnd
	for s := range v.subs {
		low = min(low, s.pos)
	}
	for len(v.log) > 0 {
		d := &v.log[0]
		over := v.logEnd-v.logStart > int64(MaxSubscriptionLog) || v.logBytes > MaxSubscriptionLogBytes
		if d.start+d.len() > low && !over {
			return
		}
		d.rows.Release()
		v.logStart, v.logBytes = d.start+d.len(), v.logBytes-d.bytes
		*d = delta{}
		v.log = v.log[1:]
	}
	v.logStart = v.logEnd
}

// commit writes the changes buffered since the last commit to the
// changelog, with a marker of the positions they reflect; force writes
// the marker even when there are none (the job wrote failed rows up to
// there).
func (v *View) commit(positions []uint64, force bool) error {
	return v.clog.commit(v, positions, force)
}

// failure is the error the view's job stopped with, as a read reports it.
func (v *View) failure() error {
	if v.job == nil {
		return nil
	}
	if err := v.job.Err(); err != nil {
		return sqlerr.New(sqlerr.InternalError, "materialized view %q failed: %v", v.name, err)
	}
	return nil
}

// Snapshot returns the view's current rows (a consistent point in time).
func (v *View) Snapshot() ([]arrow.RecordBatch, error) {
	if err := v.failure(); err != nil {
		return nil, err
	}
	v.mu.RLock()
	defer v.mu.RUnlock()
	return v.rows.Snapshot(), nil
}

// Lookup returns the view's rows whose column col equals d, from its
// index on col, made by the first such read and kept with every change
// after it (ok false when the view keeps no index on col and cannot make
// one).
func (v *View) Lookup(col int, d types.Datum) (batches []arrow.RecordBatch, ok bool, err error) {
	if err := v.failure(); err != nil {
		return nil, true, err
	}
	v.mu.RLock()
	if !v.rows.HasIndex(col) {
		v.mu.RUnlock()
		if !v.AddIndex(col) {
			return nil, false, nil
		}
		v.mu.RLock()
	}
	defer v.mu.RUnlock()
	b, ok := v.rows.Lookup(col, d)
	if !ok || b == nil {
		return nil, ok, nil
	}
	return []arrow.RecordBatch{b}, true, nil
}

// AddIndex makes a point index on column col (false: the view keeps the
// most it can already).
func (v *View) AddIndex(col int) bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.rows.AddIndex(col)
}

// Rows is the number of rows the view holds (with their counts).
func (v *View) Rows() int64 {
	v.mu.RLock()
	defer v.mu.RUnlock()
	return v.rows.Count()
}

// contents is the view's rows, each with its count (nil when empty).
func (v *View) contentsLocked() (arrow.RecordBatch, []int64) { return v.rows.Contents() }

// Checksum is the number of rows and the checksum of the view's contents,
// as a blackhole sink of the same query computes them.
func (v *View) Checksum() (rows int64, checksum uint64, err error) {
	batches, err := v.Snapshot()
	if err != nil {
		return 0, 0, err
	}
	var s SinkStats
	for _, b := range batches {
		s.add(&dataflow.Msg{Kind: dataflow.MsgData, Batch: b})
		b.Release()
	}
	return s.Rows, s.Checksum, nil
}

// SubscriberStats describes a view's subscribers.
type SubscriberStats struct {
	Subscribers int
	Lag         int64 // changes the slowest subscriber has not read
	LogBytes    int64 // memory of the changes kept for them
}

// Subscribers reports on the view's subscribers.
func (v *View) Subscribers() SubscriberStats {
	v.mu.RLock()
	defer v.mu.RUnlock()
	st := SubscriberStats{Subscribers: len(v.subs), LogBytes: v.logBytes}
	for s := range v.subs {
		st.Lag = max(st.Lag, v.logEnd-s.pos)
	}
	return st
}

// sync makes the changelog durable up to its last commit.
func (v *View) sync() error {
	if v.clog.stream == nil {
		return nil
	}
	return v.clog.stream.Sync()
}

// checkpointState writes the rows changed since the last checkpoint.
func (v *View) checkpointState(w dataflow.StateWriter, full bool) error {
	// (the job's goroutine is the only one that changes the rows; reads
	// go on)
	v.mu.RLock()
	defer v.mu.RUnlock()
	return v.rows.CheckpointState(w, full)
}

// restoreState puts the rows of a checkpoint back.
func (v *View) restoreState(ctx *expr.Ctx, entries []dataflow.Entry, lastTS int64) error {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.lastTS = max(v.lastTS, lastTS)
	return v.rows.RestoreState(ctx, entries)
}

// end is where the changelog ends and the last _ts.
func (v *View) end() (uint64, int64) {
	v.mu.RLock()
	defer v.mu.RUnlock()
	return v.clog.end, v.lastTS
}

// setOutWatermark records the view's output watermark.
func (v *View) setOutWatermark(wm int64) {
	v.mu.Lock()
	v.outWM, v.hasOutWM = wm, true
	v.mu.Unlock()
}

// End ends every subscription to the view with err (once).
func (v *View) End(err error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.endErr == nil {
		v.endErr = err
		close(v.endedLocked())
	}
}

// endedLocked is the channel closed when the subscribers must stop;
// callers hold v.mu.
func (v *View) endedLocked() chan struct{} {
	if v.ended == nil {
		v.ended = make(chan struct{})
	}
	return v.ended
}
