// Package planner turns parsed statements into running operators: it binds
// names and types against the catalog (bind*.go), builds a logical plan of
// data-only nodes (plan.go), turns plans into engine operators (build.go),
// and executes DDL, DML, COPY and session statements. The PostgreSQL
// dialect layer in front of it is the pgsql sub-package.
package planner
