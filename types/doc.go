// Package types is streamsql's SQL type system: the PostgreSQL-compatible
// types of DESIGN.md, their OIDs and names, how each maps onto an Arrow data
// type, and how values are parsed from and formatted to PostgreSQL's text and
// binary wire formats. It is a leaf shared by every other package.
package types
