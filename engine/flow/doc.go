// Package flow runs continuous queries. A Job is one query running: its
// sources (a stream's shards, a table's rows and then its committed
// changes, a materialized view's rows and then the changes it writes)
// feed a compiled dataflow graph (package dataflow), and every step's
// changes go to the job's Sink, with the positions of the sources they
// reflect.
//
//   - job.go: the Job — one goroutine per job reads every shard that has
//     data (a reader per shard, records decoded straight into Arrow
//     batches), pushes the batches through the graph with the watermarks,
//     applies table and view changes as they commit, and commits each
//     step to the sink; catching up, FLUSH (Wait), failure.
//   - source.go: sources, reading shards, the watermark cut of a batch
//     (which rows are late never depends on batching), tables.
//   - viewsource.go: a view read by another job, fed what it writes to
//     its changelog, and resumed exactly after a restart.
//   - view.go, changelog.go, subscribe.go: the materialized view sink —
//     its rows (an arrangement with point indexes), its changelog in the
//     stream store, and subscriptions to its changes.
//   - blackhole.go: the sink that keeps nothing but counts and checksums.
//   - errors.go: rows an expression fails on, kept in an error stream.
//   - runtime.go: a database's running jobs, FLUSH over all of them.
//
// The planner compiles queries into graphs and starts jobs here; this
// package knows no SQL and imports neither the planner nor the wire
// protocol.
package flow
