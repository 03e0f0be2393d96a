// Package expr evaluates typed, bound expressions over a whole Arrow record
// batch at once, returning a column or a scalar, with SQL NULL semantics.
// Hot operations (arithmetic, comparison, boolean logic on fixed-width
// columns) run as tight loops over the typed value buffers; rarely used
// functions are written once per value and lifted to a column loop.
package expr
