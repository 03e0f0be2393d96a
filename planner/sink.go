package planner

import (
	"github.com/streamsql/streamsql/catalog"
	"github.com/streamsql/streamsql/engine/flow"
	"github.com/streamsql/streamsql/sqlerr"
)

// Sinks. CREATE SINK s AS SELECT ... WITH (connector = 'blackhole') runs
// the query's dataflow like a materialized view's but keeps nothing: it
// counts the changes and sums a hash of each row times its weight. The
// sum is the checksum of what a view of the query would hold (a change
// and its retraction cancel), so a benchmark's result can be checked
// without materializing millions of rows. This is how RisingWave and
// Flink run Nexmark's pass-through queries.

// startSink starts a sink's job (blackhole only, so far).
func (db *DB) startSink(o *catalog.Object) error {
	switch c := o.Options["connector"]; c {
	case "blackhole":
	default:
		return sqlerr.Unsupported("sink connector %q is not available in this build (blackhole is)", c)
	}
	return db.startJob(o, true, true)
}

// sink is the running blackhole sink named name (nil when none runs).
func (db *DB) sink(name string) *flow.Blackhole {
	if j := db.rt.Job(name); j != nil {
		if b, ok := j.Sink().(*flow.Blackhole); ok {
			return b
		}
	}
	return nil
}

// SinkStats reports a blackhole sink's count of rows and checksum.
func (db *DB) SinkStats(name string) (rows int64, checksum uint64, ok bool) {
	b := db.sink(name)
	if b == nil {
		return 0, 0, false
	}
	st := b.Stats()
	return st.Rows, st.Checksum, true
}

// ResultChecksum returns the number of rows of a sink or a materialized
// view and their checksum (a sink's from the changes it saw, a view's from
// its rows: equal for the same query).
func (db *DB) ResultChecksum(name string) (rows int64, checksum uint64, err error) {
	if rows, sum, ok := db.SinkStats(name); ok {
		return rows, sum, nil
	}
	v := db.view(name)
	if v == nil {
		return 0, 0, sqlerr.New(sqlerr.UndefinedTable, "no sink or incrementally maintained view %q", name)
	}
	return v.Checksum()
}
