// Package planner turns parsed statements into running operators: it binds
// names and types against the catalog (bind*.go), builds a logical plan of
// data-only nodes (plan.go), turns plans into engine operators (build.go),
// and executes DDL, DML, COPY and session statements. The PostgreSQL
// dialect layer in front of it is the pgsql sub-package.
//
// Continuous queries (materialized views, sinks, SUBSCRIBE to a query) are
// planned by planFlow: as one of the fixed flow shapes of flow.go and
// flow_join.go where one fits, otherwise compiled into a dataflow graph of
// the engine's operators (flow_graph.go; materialized views as its
// sources: flow_viewsource.go; column pruning: flow_prune.go). The graph
// compiler runs every shape the fixed ones do (--graph-first plans all of
// them so, and the tests run every streaming script that way); the fixed
// shapes are to go. Names resolve along the search path (schema.go).
package planner
