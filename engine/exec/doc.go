// Package exec holds the batch operators: scan, filter, project, hash
// aggregate, hash and nested-loop joins, sort, limit, set operations and
// window functions. Each operator pulls Arrow record batches from its
// inputs and hands out batches its caller owns (and must release).
package exec
