// Package wire speaks the PostgreSQL frontend/backend protocol (version
// 3.0): start-up and authentication (trust on loopback, SCRAM-SHA-256 or
// cleartext passwords), the simple and extended query protocols, COPY in
// both directions, and cancellation. Reading a connection is separate from
// executing statements: each connection has one goroutine that reads a
// message, runs it through its planner session, and buffers the replies,
// which are flushed at ReadyForQuery or on Flush.
package wire
