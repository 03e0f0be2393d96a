// Package sqlerr carries PostgreSQL SQLSTATE codes with errors. An error is
// given its code where it arises (the binder, an expression kernel, the
// storage layer) and read where it is sent (the wire protocol).
package sqlerr

import (
	"errors"
	"fmt"
)

// SQLSTATE codes used by streamsql. The names follow PostgreSQL's errcodes.
const (
	SyntaxError                  = "42601"
	UndefinedTable               = "42P01"
	UndefinedColumn              = "42703"
	UndefinedFunction            = "42883"
	UndefinedObject              = "42704"
	AmbiguousColumn              = "42702"
	DuplicateTable               = "42P07"
	DuplicateSchema              = "42P06"
	InvalidName                  = "42602"
	ReservedName                 = "42939"
	InsufficientPrivilege        = "42501"
	DuplicateObject              = "42710"
	DuplicateColumn              = "42701"
	DatatypeMismatch             = "42804"
	GroupingError                = "42803"
	InvalidTextRep               = "22P02"
	DivisionByZero               = "22012"
	NumericOutOfRange            = "22003"
	StringDataRightTrunc         = "22001"
	InvalidDatetimeFormat        = "22007"
	DatetimeFieldOverflow        = "22008"
	InvalidParameterValue        = "22023"
	CardinalityViolation         = "21000"
	NotNullViolation             = "23502"
	UniqueViolation              = "23505"
	FeatureNotSupported          = "0A000"
	InvalidPassword              = "28P01"
	QueryCanceled                = "57014"
	ProtocolViolation            = "08P01"
	InvalidCursorName            = "34000"
	InvalidPreparedStmt          = "26000"
	DuplicatePreparedStmt        = "42P05"
	DuplicateCursor              = "42P03"
	UndefinedParameter           = "42P02"
	InvalidColumnReference       = "42P10"
	WrongObjectType              = "42809"
	DependentObjects             = "2BP01"
	InvalidTransactionState      = "25000"
	InternalError                = "XX000"
	IOError                      = "58030"
	InvalidSchemaName            = "3F000"
	IndeterminateDatatype        = "42P18"
	ReadOnlyTransaction          = "25006"
	ActiveSQLTransaction         = "25001"
	InvalidEscapeSequence        = "22025"
	InvalidRegex                 = "2201B"
	CharacterNotInRepertoire     = "22021"
	UntranslatableCharacter      = "22P05"
	AdminShutdown                = "57P01"
	InvalidAuthSpec              = "28000"
	UndefinedSchema              = "3F000"
	CannotCoerce                 = "42846"
	BadCopyFileFormat            = "22P04"
	InFailedTransaction          = "25P02"
	NoActiveSQLTransaction       = "25P01"
	InvalidObjectDefinition      = "42P17"
	InvalidRowCountInLimit       = "2201W"
	InvalidRowCountInOffset      = "2201X"
	WindowingError               = "42P20"
	InvalidArgumentForLog        = "2201E"
	InvalidArgumentForPower      = "2201F"
	InvalidArgumentForNtile      = "22014"
	InvalidArgumentForNthValue   = "22016"
	InvalidPrecedingFollowing    = "22013"
	SubstringError               = "22011"
	ProgramLimitExceeded         = "54000"
	StatementTooComplex          = "54001"
	ObjectNotInPrerequisiteState = "55000"
	CantChangeRuntimeParam       = "55P02"
	NullValueNotAllowed          = "22004"
)

// MaxExprDepth is how deeply expressions and parentheses may nest. The
// front end refuses deeper input (54001, as PostgreSQL does past its stack
// depth), so that every recursive pass over a statement — translating,
// binding, evaluating — stays far from the goroutine stack's limit.
const MaxExprDepth = 10000

// TooDeep is the error for input nested past MaxExprDepth.
func TooDeep(pos int) *Error {
	e := New(StatementTooComplex, "stack depth limit exceeded")
	e.Detail = fmt.Sprintf("Expressions may nest at most %d levels deep.", MaxExprDepth)
	e.Hint = "Simplify the expression, e.g. a long chain of operators into a function over an array."
	e.Position = pos
	return e
}

// Error is an error with a SQLSTATE. Position, when non-zero, is the 1-based
// character offset into the statement text that the error refers to.
type Error struct {
	Code     string
	Message  string
	Detail   string
	Hint     string
	Where    string // the CONTEXT line: where in the input the error arose
	Position int
	Severity string // empty means ERROR
}

func (e *Error) Error() string { return e.Message }

// New returns an error with the given code and formatted message.
func New(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// WithPosition returns a copy of e that points at the 1-based character pos.
func (e *Error) WithPosition(pos int) *Error {
	c := *e
	c.Position = pos
	return &c
}

// WithHint returns a copy of e with a hint.
func (e *Error) WithHint(h string) *Error {
	c := *e
	c.Hint = h
	return &c
}

// Code returns the SQLSTATE of err, or XX000 when err carries none.
func Code(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return InternalError
}

// As converts any error into an *Error, keeping the code when err has one.
func As(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return &Error{Code: InternalError, Message: err.Error()}
}

// Unsupported is a 0A000 error for a construct streamsql does not implement.
func Unsupported(format string, args ...any) *Error {
	return New(FeatureNotSupported, format, args...)
}

// Syntax is a 42601 error at the given 1-based position (0 for unknown).
func Syntax(pos int, format string, args ...any) *Error {
	e := New(SyntaxError, format, args...)
	e.Position = pos
	return e
}

// WithWhere returns a copy of e with a context line.
func (e *Error) WithWhere(w string) *Error {
	c := *e
	c.Where = w
	return &c
}

// WithDetail returns a copy of e with a detail line.
func (e *Error) WithDetail(d string) *Error {
	c := *e
	c.Detail = d
	return &c
}
