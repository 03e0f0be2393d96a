// Package pgsql is streamsql's PostgreSQL dialect layer. It lexes SQL the way
// PostgreSQL does (E” strings, dollar quotes, nested comments, quoted
// identifiers that keep their case, $n parameters), parses streamsql's own
// statements (CREATE STREAM, CREATE MATERIALIZED VIEW, SHOW, COPY, ...)
// itself, and translates queries and DML onto the MySQL grammar of the TiDB
// parser, rewriting the PostgreSQL-only constructs (:: casts, INTERVAL
// literals, FULL JOIN, IS DISTINCT FROM, regex operators, arrays, table
// functions in FROM, VALUES lists, ...) into forms the binder recognises.
// A rewrite never changes meaning: what cannot be carried over is an error
// with SQLSTATE 0A000 or 42601 and a position in the original text.
package pgsql
