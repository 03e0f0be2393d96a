package planner

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/streamsql/streamsql/engine/flow"
	"github.com/streamsql/streamsql/sources/nexmark"
	"github.com/streamsql/streamsql/sqlerr"
	"github.com/streamsql/streamsql/types"
)

// NexmarkRun is one run of a Nexmark query: a fresh database with a
// Nexmark source of Events events, the query's relations created, then
// FLUSH — which returns once every event has gone through.
type NexmarkRun struct {
	Query   string
	Events  uint64
	Rate    float64 // events per second of event time (0: 100,000)
	Shards  int     // per stream (0: 2)
	Workers int     // aggregate workers (0: the number of CPUs)
	Seed    uint64
	Dir     string // data directory ("": a temporary one)
	// CheckpointInterval: the query's checkpoints (0: none)
	CheckpointInterval time.Duration
	// Setup, when set, runs after the source exists and before the
	// timer starts (a test creates views to compare here).
	Setup func(s *Session) error
	// CPU, when set, reads the process's CPU time: the result's CPU is
	// what it used between the timer's start and stop.
	CPU func() time.Duration
}

// NexmarkResult is what a run measured and produced.
type NexmarkResult struct {
	Query    string
	Events   uint64
	Elapsed  time.Duration // from creating the query's relations to FLUSH returning
	CPU      time.Duration // CPU time over the same span (when NexmarkRun.CPU is set)
	Rows     int64         // rows of the result (net, for a sink)
	Checksum uint64
	// the query's checkpoints during the run
	Checkpoints flow.CheckpointStats
	DB          *DB // still open when keep was set (the caller closes it)
}

// RunNexmark runs one query; it closes the database unless keep is set.
func RunNexmark(run NexmarkRun, keep bool) (*NexmarkResult, error) {
	sql, err := nexmark.Query(run.Query)
	if err != nil {
		return nil, err
	}
	if run.Rate == 0 {
		run.Rate = 100_000
	}
	if run.Shards == 0 {
		run.Shards = 2
	}
	dir := run.Dir
	if keep && dir == "" {
		return nil, fmt.Errorf("nexmark: keeping the database needs a data directory")
	}
	if dir == "" {
		if dir, err = os.MkdirTemp("", "streamsql-nexmark"); err != nil {
			return nil, err
		}
		defer os.RemoveAll(dir)
	}
	ck := run.CheckpointInterval
	if ck <= 0 {
		ck = -1 // (none but the last, when the database closes)
	}
	db, err := OpenWith(dir, Options{Workers: run.Workers, StreamNoSync: true, CheckpointInterval: ck})
	if err != nil {
		return nil, err
	}
	closeDB := true
	defer func() {
		if closeDB {
			db.Close()
		}
	}()
	s := db.NewSession("nexmark", "nexmark")
	defer s.Close()
	if err := s.ExecScript(fmt.Sprintf("CREATE SOURCE nexmark WITH (connector = 'nexmark', events = %d, rate = %g, shards = %d, seed = %d)", run.Events, run.Rate, run.Shards, run.Seed)); err != nil {
		return nil, err
	}
	if run.Setup != nil {
		if err := run.Setup(s); err != nil {
			return nil, err
		}
	}
	var cpu0 time.Duration
	if run.CPU != nil {
		cpu0 = run.CPU()
	}
	start := time.Now()
	if err := s.ExecScript(sql); err != nil {
		return nil, fmt.Errorf("%s: %w", run.Query, err)
	}
	if err := s.ExecScript("FLUSH"); err != nil {
		return nil, err
	}
	res := &NexmarkResult{Query: run.Query, Events: run.Events, Elapsed: time.Since(start)}
	if run.CPU != nil {
		res.CPU = run.CPU() - cpu0
	}
	if res.Rows, res.Checksum, err = db.ResultChecksum(run.Query); err != nil {
		return nil, err
	}
	if j := db.rt.Job(run.Query); j != nil {
		res.Checkpoints, _ = j.CheckpointStats()
	}
	if keep {
		closeDB, res.DB = false, db
	}
	return res, nil
}

// QueryRow runs one query and returns its first row (nil when none).
func (s *Session) QueryRow(sql string) ([]types.Datum, error) {
	stmts, err := s.Parse(sql)
	if err != nil {
		return nil, err
	}
	if len(stmts) != 1 {
		return nil, sqlerr.New(sqlerr.SyntaxError, "QueryRow takes one statement, not %d", len(stmts))
	}
	p, err := s.Prepare(stmts[0], nil)
	if err != nil {
		return nil, err
	}
	res, err := s.Execute(context.Background(), p, nil)
	if err != nil || res.Rows == nil {
		return nil, err
	}
	defer res.Rows.Close()
	for {
		b, err := res.Rows.Next(res.Ctx)
		if err != nil || b == nil {
			return nil, err
		}
		if b.NumRows() == 0 {
			b.Release()
			continue
		}
		row := make([]types.Datum, b.NumCols())
		for c := range row {
			row[c] = types.DatumAt(b.Column(c), 0)
		}
		b.Release()
		return row, nil
	}
}

// ExecScript runs statements one after another (their results are
// dropped).
func (s *Session) ExecScript(sql string) error {
	stmts, err := s.Parse(sql)
	if err != nil {
		return err
	}
	for _, st := range stmts {
		p, err := s.Prepare(st, nil)
		if err != nil {
			return err
		}
		if _, err := s.Execute(context.Background(), p, nil); err != nil {
			return err
		}
	}
	return nil
}
