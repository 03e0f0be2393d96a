// Package tests holds streamsql's end-to-end tests: they build the real
// binary, start it on a loopback port, and talk to it over the wire with
// psql, pgx, pgJDBC, psycopg2 and SQLAlchemy. SQL behaviour lives in
// sqllogictest-style scripts in testdata/, which also run against a real
// PostgreSQL 15 (the oracle) to prove their expected results.
package tests
