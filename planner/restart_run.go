package planner

import (
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// RestartRun describes a restart benchmark: a view of Groups groups over
// a stream of Events records, and how long the database takes, once
// stopped, to answer from the view again.
type RestartRun struct {
	Events uint64 // records behind the view
	Groups int    // the view's groups
	Shards int    // the stream's shards
	// Tail is what a crash leaves to replay: the records written after
	// the view's last checkpoint
	Tail uint64
	Dir  string // where the data directories go ("": a temporary one)
}

// RestartResult is what RunRestart measured. Each restart is timed from
// opening the data directory to a SELECT of the view returning its full
// contents (reads wait for the view to catch up).
type RestartResult struct {
	Load       time.Duration // writing the records and the view catching up
	StateBytes int64         // the view's checkpoint on disk
	Clean      time.Duration // after a clean stop (which checkpoints)
	Crash      time.Duration // after a crash Tail records past the last checkpoint
	Replay     time.Duration // without checkpoints: replaying every record
}

// RunRestart loads the history, stops the database three ways and times
// each restart.
func RunRestart(run RestartRun) (*RestartResult, error) {
	if run.Groups <= 0 || run.Events == 0 {
		return nil, fmt.Errorf("restart benchmark: events and groups must be positive")
	}
	if run.Shards <= 0 {
		run.Shards = 4
	}
	root := run.Dir
	if root == "" {
		tmp, err := os.MkdirTemp("", "streamsql-restart-*")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(tmp)
		root = tmp
	}
	live, crash, replay := filepath.Join(root, "live"), filepath.Join(root, "crash"), filepath.Join(root, "replay")
	for _, d := range []string{live, crash, replay} {
		if err := os.RemoveAll(d); err != nil {
			return nil, err
		}
	}
	res := &RestartResult{}
	// checkpoints only when asked, so that the crash image is still
	opts := Options{CheckpointInterval: -1}
	db, err := OpenWith(live, opts)
	if err != nil {
		return nil, err
	}
	defer func() {
		if db != nil {
			db.Close()
		}
	}()
	s := db.NewSession("bench", "bench")
	defer s.Close()
	history := run.Events - min(run.Tail, run.Events)
	start := time.Now()
	if err := s.ExecScript(fmt.Sprintf(`CREATE STREAM ev (k BIGINT, v BIGINT) WITH (shards = %d);
		CREATE MATERIALIZED VIEW tot AS SELECT k, count(*) AS n, sum(v) AS s FROM ev GROUP BY k`, run.Shards)); err != nil {
		return nil, err
	}
	if err := insertHistory(s, 0, history, run.Groups); err != nil {
		return nil, err
	}
	if err := s.ExecScript("FLUSH; CHECKPOINT"); err != nil {
		return nil, err
	}
	if err := insertHistory(s, history, run.Events, run.Groups); err != nil {
		return nil, err
	}
	if err := s.ExecScript("FLUSH"); err != nil {
		return nil, err
	}
	res.Load = time.Since(start)
	if err := checkRestart(s, run); err != nil {
		return nil, err
	}
	// the job is idle and everything it wrote is on disk: a copy is what
	// a kill -9 now would leave
	for _, d := range []string{crash, replay} {
		if err := os.CopyFS(d, os.DirFS(live)); err != nil {
			return nil, err
		}
	}
	if err := os.RemoveAll(filepath.Join(replay, "checkpoints")); err != nil {
		return nil, err
	}
	s.Close()
	err = db.Close()
	db = nil
	if err != nil {
		return nil, err
	}
	if res.StateBytes, err = dirSize(filepath.Join(live, "checkpoints")); err != nil {
		return nil, err
	}
	for _, c := range []struct {
		dir string
		d   *time.Duration
	}{{live, &res.Clean}, {crash, &res.Crash}, {replay, &res.Replay}} {
		if *c.d, err = timeRestart(c.dir, opts, run); err != nil {
			return nil, fmt.Errorf("restart of %s: %w", filepath.Base(c.dir), err)
		}
	}
	return res, nil
}

// insertHistory writes records [from, to): k cycles through the groups.
func insertHistory(s *Session, from, to uint64, groups int) error {
	const chunk = 1_000_000
	for lo := from; lo < to; lo += chunk {
		hi := min(lo+chunk, to)
		if err := s.ExecScript(fmt.Sprintf("INSERT INTO ev SELECT g %% %d, g FROM generate_series(%d, %d) g", groups, lo, hi-1)); err != nil {
			return err
		}
	}
	return nil
}

// checkRestart checks the view holds every record.
func checkRestart(s *Session, run RestartRun) error {
	row, err := s.QueryRow("SELECT count(*), sum(n)::bigint FROM tot")
	if err != nil {
		return err
	}
	if row == nil || row[0].I != int64(min(uint64(run.Groups), run.Events)) || row[1].I != int64(run.Events) {
		return fmt.Errorf("the view holds %v, not %d groups of %d records in all", row, run.Groups, run.Events)
	}
	return nil
}

// timeRestart opens dir and reads the view whole.
func timeRestart(dir string, opts Options, run RestartRun) (time.Duration, error) {
	start := time.Now()
	db, err := OpenWith(dir, opts)
	if err != nil {
		return 0, err
	}
	defer db.Close()
	s := db.NewSession("bench", "bench")
	defer s.Close()
	if err := checkRestart(s, run); err != nil {
		return 0, err
	}
	return time.Since(start), nil
}

func dirSize(dir string) (int64, error) {
	var n int64
	err := filepath.WalkDir(dir, func(_ string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		info, err := d.Info()
		if err == nil {
			n += info.Size()
		}
		return err
	})
	return n, err
}
