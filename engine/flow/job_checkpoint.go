package flow

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/streamsql/streamsql/engine/dataflow"
)

// A job checkpoints between steps, every CheckpointConfig.Interval while
// it has work, and when asked (CHECKPOINT): a barrier goes through its
// graph and each operator writes its changed state at it (checkpoint.go),
// the sink its rows; the manifest records the sources' positions. At
// start a job restores its newest usable checkpoint and reads its sources
// from there; what its changelog already holds past the checkpoint is
// replayed without writing, as after a restart without one.

// openCheckpoints opens the job's checkpoints and restores the newest it
// can: it returns its manifest (nil: none, or none that fits this job,
// which then starts from nothing and checkpoints in full).
func (j *Job) openCheckpoints(cfg *CheckpointConfig) (*manifest, error) {
	st, err := openCkptStore(cfg)
	if err != nil {
		return nil, err
	}
	j.ck, j.ckReq = st, make(chan chan error, 16)
	j.ckInterval.Store(int64(cfg.Interval))
	r, note, err := st.load()
	if err != nil {
		slog.Warn("a view's checkpoints cannot be read: it starts from its sources", "view", j.name, "reason", err)
		note, r = err.Error(), nil
	}
	if r != nil {
		if why := j.cannotRestore(r.m); why != "" {
			note, r = joinNotes(note, fmt.Sprintf("checkpoint %d not used: %s", r.m.ID, why)), nil
		}
	}
	if r != nil {
		if err := j.restore(r); err != nil {
			return nil, fmt.Errorf("restoring %s from checkpoint %d: %w", j.name, r.m.ID, err)
		}
	} else {
		st.full = true
	}
	if note != "" {
		slog.Warn("a view did not start from its newest checkpoint", "view", j.name, "why", note)
	}
	j.ckStats.RestoreNote = note
	if r == nil {
		return nil, nil
	}
	j.ckStats.Restored, j.ckStats.ID, j.ckStats.Time = r.m.ID, r.m.ID, time.UnixMicro(r.m.Time)
	j.ckStats.StateBytes = st.stateBytes()
	return r.m, nil
}

func joinNotes(a, b string) string {
	if a == "" {
		return b
	}
	return a + "; " + b
}

// cannotRestore says why checkpoint m does not fit the job ("": it does).
func (j *Job) cannotRestore(m *manifest) string {
	if m.Signature != j.g.Signature() {
		return "the view's dataflow changed"
	}
	if len(m.Positions) != len(j.shards()) || len(m.Watermarks) != len(j.srcs) {
		return "the view's sources changed"
	}
	views, tables := 0, 0
	for _, s := range j.srcs {
		switch {
		case s.View != nil:
			if views >= len(m.Views) {
				return "the view's sources changed"
			}
			// the parent's changes since must still be in its changelog
			if end, _ := s.View.end(); s.View.Changelog().Shards()[0].TrimHorizon() > m.Views[views] && m.Views[views] < end {
				return fmt.Sprintf("the changelog of %s no longer reaches back to it", s.Name)
			}
			views++
		case s.Table != nil:
			tables++
		}
	}
	if views != len(m.Views) || tables != len(m.Tables) {
		return "the view's sources changed"
	}
	return ""
}

// restore puts checkpoint r's state into the graph, the sink and the
// sources.
func (j *Job) restore(r *restored) error {
	m := r.m
	if err := j.g.RestoreNodes(j.ctx, func(n int) []dataflow.Entry { return r.sections[n+1] }); err != nil {
		return err
	}
	if err := j.g.RestoreWatermarkState(m.Graph); err != nil {
		return err
	}
	if err := j.sink.restoreState(j.ctx, r.sections[sinkSection], m.LastTS); err != nil {
		return err
	}
	now := time.Now()
	k := 0
	for i, s := range j.srcs {
		if s.wms != nil && m.Watermarks[i] != nil {
			if err := s.wms.Restore(m.Watermarks[i], now); err != nil {
				return err
			}
		}
		if s.View != nil {
			s.applied, s.ckptAt, s.fromCkpt = m.Views[k], m.Views[k], true
			k++
		}
	}
	return nil
}

// checkpointIfDue checkpoints when the interval has passed since the
// last and a step ran since, and answers the CHECKPOINTs asked for. A
// checkpoint that fails is reported; the next is a full one.
func (j *Job) checkpointIfDue() error {
	if j.ck == nil || j.suppressed() {
		return nil
	}
	for {
		select {
		case reply := <-j.ckReq:
			reply <- j.checkpoint()
			continue
		default:
		}
		break
	}
	if iv := time.Duration(j.ckInterval.Load()); j.ckDirty && iv > 0 && time.Since(j.ckLast) >= iv {
		_ = j.checkpoint()
	}
	return nil
}

// SetCheckpointInterval sets the time between checkpoints (0: only when
// asked).
func (j *Job) SetCheckpointInterval(d time.Duration) {
	j.ckInterval.Store(int64(d))
	j.wake()
}

// checkpoint takes a checkpoint now.
func (j *Job) checkpoint() error {
	if j.ck == nil {
		return nil
	}
	err := j.writeCheckpoint()
	j.mu.Lock()
	defer j.mu.Unlock()
	j.ckLast = time.Now()
	if err != nil {
		j.ck.full = true
		j.ckStats.Failures++
		j.ckStats.LastError = err.Error()
		slog.Warn("a checkpoint failed: the previous one stands, the next is retried", "view", j.name, "reason", err)
		return fmt.Errorf("checkpoint of %s: %w", j.name, err)
	}
	j.ckDirty = false
	return nil
}

func (j *Job) writeCheckpoint() error {
	start := time.Now()
	// the changelog first: the checkpoint depends on what it holds
	if err := j.sink.sync(); err != nil {
		return err
	}
	full := j.ck.full
	f, err := j.ck.create()
	if err != nil {
		return err
	}
	defer f.abort()
	j.ckSeq++
	err = j.g.Barrier(j.ctx, j.ckSeq, func(node int, op any) error {
		if op == nil {
			return nil
		}
		return j.g.CheckpointNode(node, f.section(node+1), full)
	})
	if err == nil {
		err = j.sink.checkpointState(f.section(sinkSection), full)
	}
	if err != nil {
		return err
	}
	end, lastTS := j.sink.end()
	m := &manifest{Time: start.UnixMicro(), Signature: j.g.Signature(), Changelog: end, LastTS: lastTS, Graph: j.g.WatermarkState()}
	j.mu.RLock()
	m.Positions = append([]uint64(nil), j.positions...)
	j.mu.RUnlock()
	for _, s := range j.srcs {
		var wm []byte
		if s.wms != nil {
			wm = s.wms.Snapshot()
		}
		m.Watermarks = append(m.Watermarks, wm)
		switch {
		case s.View != nil:
			m.Views = append(m.Views, s.applied)
		case s.Table != nil:
			m.Tables = append(m.Tables, s.lsn)
		}
	}
	m.DurationUS = time.Since(start).Microseconds()
	n, err := j.ck.commit(f, m, full)
	if err != nil {
		return err
	}
	j.mu.Lock()
	old := j.ckStats
	d := time.Since(start)
	j.ckStats = CheckpointStats{ID: m.ID, Time: start, Duration: d, Bytes: n, Full: full,
		StateBytes: j.ck.stateBytes(), Failures: old.Failures, LastError: old.LastError,
		Restored: old.Restored, RestoreNote: old.RestoreNote,
		Count: old.Count + 1, TotalBytes: old.TotalBytes + n, TotalDuration: old.TotalDuration + d, MaxDuration: max(old.MaxDuration, d)}
	j.mu.Unlock()
	return nil
}

// errNoCheckpoints: the job keeps none.
var errNoCheckpoints = errors.New("the job keeps no checkpoints")

// Checkpoint takes a checkpoint now and returns once it is durable (or
// failed). A job still replaying what its changelog holds takes it once
// it has caught up with it.
func (j *Job) Checkpoint(ctx context.Context) error {
	if j.ck == nil {
		return errNoCheckpoints
	}
	reply := make(chan error, 1)
	select {
	case j.ckReq <- reply:
	case <-j.done:
		return j.Err()
	case <-ctx.Done():
		return ctx.Err()
	}
	j.wake()
	select {
	case err := <-reply:
		return err
	case <-j.done:
		return j.Err()
	case <-ctx.Done():
		return ctx.Err()
	}
}

// CheckpointStats reports on the job's checkpoints (ok false: it keeps
// none).
func (j *Job) CheckpointStats() (CheckpointStats, bool) {
	j.mu.RLock()
	defer j.mu.RUnlock()
	return j.ckStats, j.ck != nil
}
