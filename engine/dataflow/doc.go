// Package dataflow is the streaming runtime's core: changelog messages
// (Arrow batches with a weight per row, watermarks, checkpoint barriers),
// the operators that turn them into the changes they cause, and the
// state those operators and materialized views keep. It follows the Z-set
// model of DBSP and Materialize: an update is a retraction of the old row
// (weight −1) and an insertion of the new one (+1), and every operator is
// correct under retractions.
//
//   - operator.go: the Operator, BinaryOperator, Stateful and LateCounter
//     interfaces, Chain, and the stateless Filter and Project; each
//     operator family is in a file of its own — windows (windowassign.go,
//     session.go), the incremental aggregate (incagg.go, incacc.go, split
//     over workers in parallel.go), top-N (topn.go), joins (join.go,
//     asof.go), INTERSECT/EXCEPT over per-row counts (setop.go), EMIT ON
//     WINDOW CLOSE's holding back of rows until the watermark passes them
//     (emitclose.go) — with compile-time checks that it is an Operator.
//   - graph.go: a continuous query compiled into a DAG of operators, run
//     push-based by one goroutine, with watermarks delivered to the
//     operators as bounds on the sources' watermarks.
//   - arrangement.go: a materialized view's rows, each distinct row once
//     with its count, column by column (colstore.go), with point indexes.
//   - keyed state (state.go, keyenc.go), snapshots of operator state for
//     checkpoints (snapshot.go; the other graph operators' and a whole
//     graph's, with its watermarks, in snapshot_graph.go: a graph restored
//     from one continues exactly as the original), per-shard watermarks
//     (watermark.go), and
//     isolation of rows an expression fails on (isolate.go).
//
// It imports neither the planner nor the wire protocol: the planner
// compiles plans into these operators and graphs, and runs them.
package dataflow
