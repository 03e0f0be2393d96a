// Package planner turns parsed statements into running operators: it binds
// names and types against the catalog (bind*.go), builds a logical plan of
// data-only nodes (plan.go), turns plans into engine operators (build.go),
// and executes DDL, DML, COPY and session statements. The PostgreSQL
// dialect layer in front of it is the pgsql sub-package.
//
// Continuous queries (materialized views, sinks, SUBSCRIBE to a query) are
// compiled into a dataflow graph of the engine's operators: flow_graph.go
// compiles a plan node by node, following event time column by column;
// flow_rules.go holds the rules that rewrite plan shapes into streaming
// operators (top-N, sessions, the bounds of joins); flow_viewsource.go
// reads materialized views, flow_prune.go decodes only the columns a
// graph reads. flows.go starts the graphs as jobs of the engine's runtime
// (engine/flow), which runs them and keeps their state: the planner holds
// no goroutines and no running state. Names resolve along the search path
// (schema.go).
package planner
