package flow

import (
	"context"
	"fmt"
	"log/slog"
	"reflect"
	"sync"
	"sync/atomic"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/streamsql/streamsql/engine/dataflow"
	"github.com/streamsql/streamsql/engine/exec"
	"github.com/streamsql/streamsql/engine/expr"
	"github.com/streamsql/streamsql/sources/streamstore"
	"github.com/streamsql/streamsql/sqlerr"
)

// Sink is where a job's changes go: a materialized view, a blackhole.
type Sink interface {
	// apply takes one step's changes (m stays the caller's); quiet ones
	// are in the sink already (a restart replaying what it wrote).
	apply(m *dataflow.Msg, quiet bool)
	// commit makes what was applied since the last commit durable,
	// recording the positions of the job's sources it reflects; force:
	// even when nothing was applied.
	commit(positions []uint64, force bool) error
	// resumeFrom is the positions the sink reflected when the job
	// started (nil: none), and resumed whether it holds an earlier run's
	// changes.
	resumeFrom() []uint64
	resumed() bool
	// notify tells the sink the job failed or stopped.
	notify()
	// setOutWatermark passes on the output's watermark.
	setOutWatermark(wm int64)
	// for checkpoints: make what was committed durable; write the state
	// changed since the last checkpoint (all of it when full); restore
	// it; where the sink's output ends (a changelog position) and its
	// logical time
	sync() error
	checkpointState(w dataflow.StateWriter, full bool) error
	restoreState(ctx *expr.Ctx, entries []dataflow.Entry, lastTS int64) error
	end() (pos uint64, lastTS int64)
}

// Spec is a job to start.
type Spec struct {
	Name  string
	Graph *dataflow.Graph
	// Sources, in the order of the graph's sources
	Sources []Source
	Sink    Sink
	// Funcs answers the catalog functions expressions call
	Funcs expr.CatalogFuncs
	// ReadBatch is the most records read from a shard at once (0: 65,536)
	ReadBatch int
	// Errors keeps the rows expressions fail on (nil: such a row fails
	// the job)
	Errors *ErrorStream
	// Mem allocates the job's batches (nil: Go's allocator)
	Mem memory.Allocator
	// Checkpoints: where and how often the job checkpoints (nil: never;
	// a restart replays its sources)
	Checkpoints *CheckpointConfig
}

// Job is a continuous query running: its sources feed its graph, one
// goroutine reads the shards of every stream it reads (a reader per shard
// with data, records decoded straight into Arrow batches), pushes the
// batches through the graph in order with the watermarks, applies the
// tables' and parent views' changes as they commit, and hands every step's
// changes to the sink with the positions they reflect.
type Job struct {
	name string
	g    *dataflow.Graph
	srcs []*source
	sink Sink
	errs *ErrorStream
	read int
	mem  memory.Allocator
	ctx  *expr.Ctx

	mu sync.RWMutex
	// positions: every stream shard's next record (in source order)
	positions []uint64
	// progress is closed and replaced whenever positions advance or
	// queued changes are applied
	progress chan struct{}
	err      error
	// catching up: the positions that existed when the job started (a
	// read of its view waits until they are read), and where it started
	catchupTo, catchupFrom []uint64
	catchupIn              int64 // table and view changes queued when it started
	caughtUp               atomic.Bool
	applied                int64 // queued changes applied
	stats                  Stats

	// replaying: reading up to replayTo, the positions the sink already
	// reflects (its changes are not written again); pending: a parent
	// view is not attached yet; quiet: rebuilding a parent view's rows
	// the sink reflects; resuming: the sink holds an earlier run's output
	resuming  bool
	replayTo  []uint64
	replaying atomic.Bool
	pending   atomic.Bool
	quiet     atomic.Bool

	// inMu guards the sources' queues of table and view changes; queued
	// counts the changes queued so far, inWake wakes the job for them
	inMu   sync.Mutex
	queued atomic.Int64
	inWake chan struct{}

	// checkpoints (checkpoint.go): the store, how often, what the last
	// was (guarded by mu), when, whether a step ran since, and requests
	// for one (CHECKPOINT)
	ck         *ckptStore
	ckInterval atomic.Int64 // (a time.Duration)
	ckStats    CheckpointStats
	ckLast     time.Time
	ckDirty    bool
	ckSeq      uint64
	ckReq      chan chan error

	cancel context.CancelFunc
	done   chan struct{}
}

// Stats describes a running job.
type Stats struct {
	Groups    int   // aggregate groups and join rows held (state size)
	Late      int64 // rows dropped because the state they belong to was freed
	Watermark int64 // the lowest of its streams' watermarks, µs
	HasWM     bool
}

// Start starts a job.
func Start(spec Spec) (*Job, error) {
	j := &Job{name: spec.Name, g: spec.Graph, sink: spec.Sink, errs: spec.Errors, read: spec.ReadBatch,
		progress: make(chan struct{}), inWake: make(chan struct{}, 1), done: make(chan struct{})}
	if j.read <= 0 {
		j.read = 1 << 16
	}
	if j.mem = spec.Mem; j.mem == nil {
		j.mem = memory.DefaultAllocator
	}
	if len(spec.Sources) != j.g.Sources() {
		return nil, fmt.Errorf("job %s: %d sources for a graph of %d", j.name, len(spec.Sources), j.g.Sources())
	}
	shard := 0
	for _, s := range spec.Sources {
		src := &source{Source: s}
		if s.Stream != nil {
			src.first = shard
			shard += len(s.Stream.Shards())
			if s.Watermark != nil {
				src.wms = dataflow.NewWatermarks(len(s.Stream.Shards()), 0, WatermarkIdle)
			}
		}
		j.srcs = append(j.srcs, src)
	}
	if v, ok := j.sink.(*View); ok {
		v.job = j
	}
	// where the sink's last run stopped: replay the streams up to there
	// without writing; the parents' positions say where to take up their
	// changes
	shards := j.shards()
	views, tables := 0, 0
	for _, s := range j.srcs {
		switch {
		case s.View != nil:
			views++
		case s.Table != nil:
			tables++
		}
	}
	if pos := j.sink.resumeFrom(); pos != nil && len(pos) == len(shards)+views+tables {
		j.resuming = true
		j.replayTo = pos[:len(shards)]
		k := len(shards)
		for _, s := range j.srcs {
			if s.View != nil {
				s.replayAt, s.hasReplayAt = pos[k], true
				k++
			}
		}
		for _, s := range j.srcs {
			if s.Table != nil {
				s.replayLSN, s.hasLSN = int64(pos[k]), true
				k++
			}
		}
	}
	j.pending.Store(views > 0)
	j.ctx = &expr.Ctx{Go: context.Background(), Mem: j.mem, Loc: time.UTC, Catalog: spec.Funcs, RowError: j.rowErrorHandler()}
	j.g.Out = func(ctx *expr.Ctx, m *dataflow.Msg) error {
		j.sink.apply(m, j.suppressed())
		return nil
	}
	// the last checkpoint, when there is one the job can start from
	var from *manifest
	if spec.Checkpoints != nil {
		var err error
		if from, err = j.openCheckpoints(spec.Checkpoints); err != nil {
			return nil, err
		}
	}
	if from == nil {
		// a global aggregate's row over no input is there from the start
		j.quiet.Store(j.sink.resumed()) // (an earlier run wrote it)
		err := j.g.Prime(j.ctx)
		j.quiet.Store(false)
		if err != nil {
			j.g.Close()
			return nil, err
		}
	}
	j.positions = make([]uint64, len(shards))
	j.catchupTo = make([]uint64, len(shards))
	for i, sh := range shards {
		j.positions[i] = sh.TrimHorizon()
		if from != nil {
			if from.Positions[i] < j.positions[i] {
				slog.Warn("records a view's checkpoint has not seen are gone (retention): it goes on without them", "view", j.name, "shard", i, "lost", j.positions[i]-from.Positions[i])
			}
			j.positions[i] = max(j.positions[i], from.Positions[i])
		}
		j.catchupTo[i] = sh.Latest()
		if j.replayTo != nil && j.positions[i] < j.replayTo[i] {
			j.replaying.Store(true)
		}
	}
	// (after the replay is known: what the sink does not reflect waits
	// for it)
	tableFrom := map[int]int64{}
	if from != nil {
		k := 0
		for i, s := range j.srcs {
			if s.Table != nil {
				tableFrom[i] = from.Tables[k]
				if !s.hasLSN {
					s.replayLSN, s.hasLSN = from.Tables[k], true
				}
				k++
			}
		}
	}
	j.watchTables(tableFrom)
	j.catchupIn = j.queued.Load()
	j.catchupFrom = append([]uint64(nil), j.positions...)
	j.noteCaughtUpLocked()
	if from != nil {
		// the restored watermarks and counts, for Stats
		if err := j.watermarks(j.ctx, time.Now()); err != nil {
			j.g.Close()
			return nil, err
		}
	}
	j.ckLast = time.Now()
	ctx, cancel := context.WithCancel(context.Background())
	j.cancel = cancel
	j.ctx.Go = ctx
	go j.run(ctx)
	return j, nil
}

// Name is the job's name.
func (j *Job) Name() string { return j.name }

// Graph is the job's graph (for EXPLAIN: read it only through
// Describe and the operators' counters).
func (j *Job) Graph() *dataflow.Graph { return j.g }

// Sink is where the job's changes go.
func (j *Job) Sink() Sink { return j.sink }

// shards are every shard the job reads, in source order.
func (j *Job) shards() []*streamstore.Shard {
	var out []*streamstore.Shard
	for _, s := range j.srcs {
		if s.Stream != nil {
			out = append(out, s.Stream.Shards()...)
		}
	}
	return out
}

// sourceOf maps a shard of shards() to its source and its index in its
// stream.
func (j *Job) sourceOf(i int) (int, int) {
	for k := len(j.srcs) - 1; k >= 0; k-- {
		if j.srcs[k].Stream != nil && i >= j.srcs[k].first {
			return k, i - j.srcs[k].first
		}
	}
	return 0, i
}

// wake wakes the job's loop for queued changes.
func (j *Job) wake() {
	select {
	case j.inWake <- struct{}{}:
	default:
	}
}

// suppressed reports whether the job's changes are in its sink already:
// it replays what the last run processed, or rebuilds a parent's rows.
func (j *Job) suppressed() bool {
	return j.replaying.Load() || j.pending.Load() || j.quiet.Load()
}

// rowErrorHandler is what the job's evaluation context does with a row
// an expression fails on: keep it for the error stream (nil — the error
// fails the job — when it has none).
func (j *Job) rowErrorHandler() func(expr.RowError) {
	if j.errs == nil {
		return nil
	}
	return func(r expr.RowError) {
		// rows failed during a replay are in the error stream already
		if !j.suppressed() {
			j.errs.add(r)
		}
	}
}

func (j *Job) run(ctx context.Context) {
	defer close(j.done)
	ectx := j.ctx
	shards := j.shards()
	for {
		if j.pending.Load() {
			// nothing is read before every materialized view read is
			// attached (its rows rebuilt): see viewsource.go
			all, err := j.attachViews()
			if err != nil {
				j.fail(err)
				return
			}
			if !all {
				select {
				case <-ctx.Done():
					return
				case <-time.After(10 * time.Millisecond):
				}
				continue
			}
		}
		j.releaseHeld()
		ectx.Now = time.Now().UnixMicro()
		count, err := j.drainInputs(ectx)
		if err == nil && count > 0 {
			err = j.commitAtPositions()
		}
		if err != nil {
			j.fail(err)
			return
		}
		// FLUSH waits for the changes applied: they are in the changelog
		// (and so with the views reading this one) by now
		j.inputsApplied(count)
		progressed := count > 0
		// a round reads what every shard has, then applies it: one
		// reader per shard with data, as reading and decoding records
		// into Arrow is most of a job's work when it catches up
		reads := make([]shardRead, len(shards))
		errs := make([]error, len(shards))
		var wg sync.WaitGroup
		for i, sh := range shards {
			max := j.read
			if j.replaying.Load() {
				// replay exactly what the sink reflects, then write again
				if j.positions[i] >= j.replayTo[i] {
					continue
				}
				max = int(min(uint64(max), j.replayTo[i]-j.positions[i]))
			}
			if sh.Latest() <= j.positions[i] {
				continue
			}
			wg.Add(1)
			go func(i int, sh *streamstore.Shard, from uint64) {
				defer wg.Done()
				si, _ := j.sourceOf(i)
				reads[i], errs[i] = j.srcs[si].read(j.mem, sh, from, max)
				reads[i].shard = i
			}(i, sh, j.positions[i])
		}
		wg.Wait()
		var round []shardRead
		var skipped []uint64
		for i, r := range reads {
			if errs[i] != nil {
				for _, r := range reads {
					if r.batch != nil {
						r.batch.Release()
					}
				}
				j.fail(errs[i])
				return
			}
			if r.batch != nil {
				round = append(round, r)
			} else if r.next > 0 {
				if skipped == nil {
					skipped = append([]uint64(nil), j.positions...)
				}
				skipped[i] = r.next
			}
		}
		if skipped != nil {
			j.advance(skipped)
			progressed = true
		}
		ectx.Now = time.Now().UnixMicro()
		if len(round) > 0 {
			// the round is one step: its batches go through the graph,
			// then the sink commits with every shard's new position
			pos := append([]uint64(nil), j.positions...)
			for _, r := range round {
				pos[r.shard] = r.next
			}
			for k, r := range round {
				err := j.pushStream(ectx, r.shard, r.batch)
				r.batch.Release()
				if err != nil {
					for _, rest := range round[k+1:] {
						rest.batch.Release()
					}
					j.fail(err)
					return
				}
			}
			if !j.replaying.Load() {
				if err := j.commit(pos); err != nil {
					j.fail(err)
					return
				}
			}
			j.advance(pos)
			progressed = true
		}
		if progressed {
			j.ckDirty = true
			if err := j.checkpointIfDue(); err != nil {
				j.fail(err)
				return
			}
			continue
		}
		// wait for any shard to change, without polling
		cases := []reflect.SelectCase{{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(ctx.Done())}}
		for _, sh := range shards {
			cases = append(cases, reflect.SelectCase{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(sh.Changed())})
		}
		// a commit between the reads above and now has already closed its channel
		behind := false
		for i, sh := range shards {
			if sh.Latest() > j.positions[i] {
				behind = true
			}
		}
		if behind {
			continue
		}
		cases = append(cases, reflect.SelectCase{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(j.inWake)})
		if j.g.UsesWatermarks() && len(shards) > 0 {
			// idle shards stop holding the watermark back after a while
			cases = append(cases, reflect.SelectCase{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(time.After(WatermarkIdle / 2))})
		}
		var reqCase, ckCase = -1, -1
		if j.ck != nil && !j.suppressed() {
			reqCase = len(cases)
			cases = append(cases, reflect.SelectCase{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(j.ckReq)})
			if iv := time.Duration(j.ckInterval.Load()); j.ckDirty && iv > 0 {
				ckCase = len(cases)
				cases = append(cases, reflect.SelectCase{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(time.After(time.Until(j.ckLast.Add(iv))))})
			}
		}
		chosen, recv, _ := reflect.Select(cases)
		switch chosen {
		case 0:
			return
		case reqCase:
			recv.Interface().(chan error) <- j.checkpoint()
			continue
		case ckCase:
			if err := j.checkpointIfDue(); err != nil {
				j.fail(err)
				return
			}
			continue
		}
		// (idle shards may have let the watermark on)
		ectx.Now = time.Now().UnixMicro()
		err = j.watermarks(ectx, time.Now())
		if err == nil {
			err = j.commitAtPositions()
		}
		if err != nil {
			j.fail(err)
			return
		}
	}
}

// mergeRound makes the batches a round read from the shards of a stream
// whose watermark the job does not follow one batch: without event time
// the order of rows across shards changes nothing, and one larger step
// costs less than one per shard (a keyed aggregate's workers meet once).
// Streams with a watermark keep a batch per shard, which the watermark
// cuts (pushStream).
func (j *Job) mergeRound(ctx *expr.Ctx, round []shardRead) []shardRead {
	if len(round) < 2 {
		return round
	}
	var out []shardRead
	bySource := map[int]int{} // source → its merged read in out
	var parts [][]arrow.RecordBatch
	for _, r := range round {
		si, _ := j.sourceOf(r.shard)
		if j.srcs[si].wms != nil {
			out = append(out, r)
			parts = append(parts, nil)
			continue
		}
		at, ok := bySource[si]
		if !ok {
			at = len(out)
			bySource[si] = at
			out = append(out, r)
			parts = append(parts, nil)
		}
		parts[at] = append(parts[at], r.batch)
	}
	for i, ps := range parts {
		if len(ps) > 1 {
			si, _ := j.sourceOf(out[i].shard)
			out[i].batch = exec.Concat(ctx, j.srcs[si].Types, ps)
			for _, b := range ps {
				b.Release()
			}
		}
	}
	return out
}

// drainInputs applies the tables' and parent views' queued changes.
func (j *Job) drainInputs(ctx *expr.Ctx) (int, error) {
	count, err := j.drainTables(ctx)
	if err != nil {
		return count, err
	}
	n, err := j.drainViews(ctx)
	count += n
	if err != nil || count == 0 {
		return count, err
	}
	return count, j.watermarks(ctx, time.Now())
}

// watermarks hands the graph every stream's current watermark, and
// records the job's state for Stats.
func (j *Job) watermarks(ctx *expr.Ctx, now time.Time) error {
	low, hasLow := int64(0), false // the lowest stream watermark, for Stats
	for i, s := range j.srcs {
		if s.wms == nil {
			continue
		}
		if wm, ok := s.wms.Current(now); ok {
			if !hasLow || wm < low {
				low, hasLow = wm, true
			}
			if err := j.g.Watermark(ctx, i, wm); err != nil {
				return err
			}
		}
	}
	if wm, ok := j.g.OutputWatermark(); ok {
		j.sink.setOutWatermark(wm)
	}
	st := Stats{Late: j.g.Late(), Groups: j.g.StateRows()}
	j.mu.Lock()
	st.Watermark, st.HasWM = j.stats.Watermark, j.stats.HasWM
	if hasLow {
		st.Watermark, st.HasWM = low, true
	}
	j.stats = st
	j.mu.Unlock()
	return nil
}

// commit writes the failed rows, then the sink's changes, with the
// positions they reflect (the streams' pos, then the parent views').
func (j *Job) commit(pos []uint64) error {
	// failed rows first: after a crash between the two writes the replay
	// writes them again (twice rather than never)
	wroteErrors := false
	if j.errs != nil {
		if j.suppressed() {
			j.errs.discard()
		} else {
			var err error
			if wroteErrors, err = j.errs.write(); err != nil {
				return fmt.Errorf("writing the failed rows of %s: %w", j.name, err)
			}
		}
	}
	if j.suppressed() {
		return nil
	}
	return j.sink.commit(append(append([]uint64(nil), pos...), j.inputPositions()...), wroteErrors)
}

// commitAtPositions commits at the current positions (changes not tied
// to a new read: table changes, windows closed by an idle shard); nothing
// while replaying.
func (j *Job) commitAtPositions() error {
	if j.replaying.Load() {
		return nil
	}
	j.mu.RLock()
	pos := append([]uint64(nil), j.positions...)
	j.mu.RUnlock()
	return j.commit(pos)
}

// advance records that the shards have been processed up to pos and
// wakes whoever waits for it.
func (j *Job) advance(pos []uint64) {
	j.mu.Lock()
	defer j.mu.Unlock()
	copy(j.positions, pos)
	if j.replaying.Load() {
		done := true
		for k, p := range j.positions {
			if p < j.replayTo[k] {
				done = false
			}
		}
		j.replaying.Store(!done)
	}
	j.noteCaughtUpLocked()
	j.progressLocked()
}

// inputsApplied counts queued changes applied and wakes whoever waits.
func (j *Job) inputsApplied(count int) {
	if count == 0 {
		return
	}
	j.mu.Lock()
	j.applied += int64(count)
	j.noteCaughtUpLocked()
	j.progressLocked()
	j.mu.Unlock()
}

func (j *Job) progressLocked() {
	close(j.progress)
	j.progress = make(chan struct{})
}

// noteCaughtUpLocked marks the job caught up once it has read what its
// sources held when it started; callers hold j.mu (or own j).
func (j *Job) noteCaughtUpLocked() {
	if j.caughtUp.Load() || j.applied < j.catchupIn {
		return
	}
	for i, p := range j.positions {
		if p < j.catchupTo[i] {
			return
		}
	}
	j.caughtUp.Store(true)
}

// CaughtUp reports whether the job has read everything its sources held
// when it started.
func (j *Job) CaughtUp() bool { return j.caughtUp.Load() }

// Catchup is how far the job is: records read of those there were when
// it started.
func (j *Job) Catchup() (read, total int64) {
	j.mu.RLock()
	defer j.mu.RUnlock()
	for i := range j.catchupTo {
		total += int64(j.catchupTo[i]) - int64(j.catchupFrom[i])
		read += int64(min(j.positions[i], j.catchupTo[i])) - int64(j.catchupFrom[i])
	}
	return read, total
}

// WaitCaughtUp blocks until the job has caught up, ctx ends, or timeout
// passes (an error saying how far it got).
func (j *Job) WaitCaughtUp(ctx context.Context, timeout time.Duration) error {
	if j.CaughtUp() {
		return nil
	}
	deadline := time.After(timeout)
	for !j.CaughtUp() {
		j.mu.RLock()
		ch, err := j.progress, j.err
		j.mu.RUnlock()
		if err != nil {
			return nil // the failure is reported by the read itself
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return sqlerr.New(sqlerr.QueryCanceled, "canceling statement due to user request")
		case <-deadline:
			read, total := j.Catchup()
			return sqlerr.New(sqlerr.ObjectNotInPrerequisiteState, "materialized view %q is still catching up: %d of %d records read", j.name, read, total).
				WithHint(fmt.Sprintf("Wait, or SET view_catchup_timeout to more than %s; streamsql_views shows its progress.", timeout))
		}
	}
	return nil
}

// Wait blocks until the job reflects everything written to its streams,
// and every table and view change committed, before the call.
func (j *Job) Wait(ctx context.Context) error {
	shards := j.shards()
	target := make([]uint64, len(shards))
	for i, sh := range shards {
		target[i] = sh.Latest()
	}
	inTarget := j.queued.Load() // changes queued before the call
	for {
		j.mu.RLock()
		done := j.applied >= inTarget && !j.pending.Load()
		for i, p := range j.positions {
			if p < target[i] {
				done = false
			}
		}
		err, ch := j.err, j.progress
		j.mu.RUnlock()
		if err != nil {
			return sqlerr.New(sqlerr.InternalError, "materialized view %q failed: %v", j.name, err)
		}
		if done {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return sqlerr.New(sqlerr.QueryCanceled, "canceling statement due to user request")
		}
	}
}

func (j *Job) fail(err error) {
	j.mu.Lock()
	j.err = err
	j.progressLocked()
	j.mu.Unlock()
	j.sink.notify()
}

// Err is why the job stopped (nil: it runs).
func (j *Job) Err() error {
	j.mu.RLock()
	defer j.mu.RUnlock()
	return j.err
}

// Stats reports on the running job.
func (j *Job) Stats() Stats {
	j.mu.RLock()
	defer j.mu.RUnlock()
	return j.stats
}

// Stop stops the job and releases what it holds.
func (j *Job) Stop() {
	j.cancel()
	<-j.done
	j.detachViews()
	for _, src := range j.srcs {
		if src.unwatch != nil {
			src.unwatch()
		}
	}
	j.g.Close()
	j.sink.notify()
}

// Done is closed when the job has stopped.
func (j *Job) Done() <-chan struct{} { return j.done }
