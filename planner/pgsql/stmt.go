package pgsql

import (
	"github.com/pingcap/tidb/pkg/parser/ast"
	"github.com/streamsql/streamsql/catalog"
	"github.com/streamsql/streamsql/types"
)

// Statement is one parsed statement.
type Statement interface{ statement() }

// Query is a SELECT, INSERT, UPDATE or DELETE parsed by the TiDB parser.
type Query struct {
	Node ast.StmtNode
	Tr   *Translated
	Text string // the original text of the statement
}

// ColumnDef is a column in CREATE TABLE / STREAM / SOURCE.
type ColumnDef struct {
	Name       string
	Type       types.T
	NotNull    bool
	PrimaryKey bool
	Default    string // SQL text
	Serial     bool   // SERIAL or IDENTITY: defaults to nextval of a sequence
	Pos        int
}

// CreateRelation is CREATE TABLE, CREATE STREAM or CREATE SOURCE.
type CreateRelation struct {
	Kind        catalog.Kind
	Name        string
	IfNotExists bool
	Columns     []ColumnDef
	PrimaryKey  []string
	Watermark   *catalog.Watermark
	Options     map[string]string
	AsQuery     *Query // CREATE TABLE ... AS SELECT
	Text        string
}

// CreateView is CREATE [MATERIALIZED] VIEW.
type CreateView struct {
	Materialized      bool
	Name              string
	IfNotExists       bool
	OrReplace         bool
	Columns           []string
	Query             *Query
	EmitOnWindowClose bool
	Options           map[string]string
	Text              string
}

// CreateSink is CREATE SINK name FROM relation | (query) WITH (...).
type CreateSink struct {
	Name        string
	IfNotExists bool
	From        string
	Query       *Query
	Options     map[string]string
	Text        string
}

// Drop is DROP <kind> [IF EXISTS] names [CASCADE|RESTRICT].
type Drop struct {
	Kind     catalog.Kind
	Index    bool // DROP INDEX (Kind is empty)
	Schema   bool // DROP SCHEMA (Kind is empty)
	Names    []string
	IfExists bool
	Cascade  bool
}

// Show is SHOW <what>: a catalog listing or a session variable.
type Show struct {
	What string // "streams", "sources", "tables", "views", "materialized views", "sinks", "all" or a variable
}

// Describe is DESCRIBE name.
type Describe struct{ Name string }

// Explain is EXPLAIN stmt, or EXPLAIN MATERIALIZED VIEW name (View set,
// Stmt nil).
type Explain struct {
	Stmt Statement
	View string
}

// Set is SET [SESSION|LOCAL] name = value | TO value | SET TIME ZONE value.
type Set struct {
	Name    string
	Value   string // "" with Default
	Default bool
	Local   bool
}

// Reset is RESET name | RESET ALL.
type Reset struct{ Name string }

// Txn is BEGIN / START TRANSACTION / COMMIT / END / ROLLBACK / ABORT and savepoints.
type Txn struct{ Op string }

// Copy is COPY t [(cols)] FROM STDIN [options] or COPY t|(query) TO STDOUT [options].
type Copy struct {
	Table     string
	Columns   []string
	Query     *Query
	Subscribe *Subscribe // COPY (SUBSCRIBE ...) TO STDOUT
	From      bool
	Options   map[string]string
}

// Truncate is TRUNCATE [TABLE] names.
type Truncate struct{ Names []string }

// Flush is FLUSH.
type Flush struct{}

// Checkpoint is CHECKPOINT: every view and sink checkpoints now.
type Checkpoint struct{}

// AlterSystem is ALTER SYSTEM SET name {= | TO} value | DEFAULT, or ALTER
// SYSTEM RESET name | ALL: a server-wide setting, kept across restarts.
type AlterSystem struct {
	Name    string
	Value   string
	Default bool // SET ... DEFAULT or RESET
}

// Declare is DECLARE name [BINARY] [NO SCROLL] CURSOR [WITH HOLD] FOR query.
type Declare struct {
	Name      string
	Query     *Query
	Subscribe *Subscribe // DECLARE c CURSOR FOR SUBSCRIBE ...
	Binary    bool       // BINARY: rows in binary format
	Scroll    bool       // SCROLL: may move backward
	Hold      bool       // WITH HOLD: outlives its transaction
	Text      string     // the statement, for pg_cursors
}

// FetchDir is the direction of a FETCH or MOVE.
type FetchDir uint8

// Directions: Count rows forward or backward (All: every row there is),
// or to the row numbered Count (absolute; negative counts from the end)
// or Count rows away from the current one (relative).
const (
	FetchForward FetchDir = iota
	FetchBackward
	FetchAbsolute
	FetchRelative
)

// Fetch is FETCH [direction] [FROM|IN] name, or MOVE.
type Fetch struct {
	Name  string
	Dir   FetchDir
	Count int64 // rows, or the position of ABSOLUTE / RELATIVE
	All   bool  // ALL, FORWARD ALL, BACKWARD ALL
	Move  bool
	// Options are FETCH ... WITH (timeout = '1s'), for subscriptions.
	Options map[string]string
}

// Subscribe is SUBSCRIBE [TO] name | SUBSCRIBE (query) [WITH (options)]:
// a never-ending stream of the changes to a view or query's result.
type Subscribe struct {
	Name    string // a relation, or "" with Query
	Query   *Query
	Options map[string]string // snapshot, since
}

// CloseCursor is CLOSE name | CLOSE ALL.
type CloseCursor struct{ Name string }

// Deallocate is DEALLOCATE [PREPARE] name | ALL.
type Deallocate struct{ Name string }

// Discard is DISCARD ALL | PLANS | ...
type Discard struct{}

// Empty is a statement with nothing in it.
type Empty struct{}

// Ignored are statements accepted for compatibility that do nothing here
// (LISTEN, UNLISTEN, ANALYZE, VACUUM, CHECKPOINT); Tag is the command tag.
type Ignored struct{ Tag string }

// CreateIndex is CREATE INDEX ... ON rel (columns): Columns holds each
// element's column name ("" for an expression).
type CreateIndex struct {
	Name, Rel   string
	RelPos      int
	Columns     []string
	ColumnPos   []int
	IfNotExists bool
}

// CreateSchema is CREATE SCHEMA [IF NOT EXISTS] name.
type CreateSchema struct {
	Name        string
	Pos         int
	IfNotExists bool
}

func (*CreateIndex) statement()  {}
func (*CreateSchema) statement() {}

func (*Query) statement()          {}
func (*Subscribe) statement()      {}
func (*CreateRelation) statement() {}
func (*CreateView) statement()     {}
func (*CreateSink) statement()     {}
func (*Drop) statement()           {}
func (*Show) statement()           {}
func (*Describe) statement()       {}
func (*Explain) statement()        {}
func (*Set) statement()            {}
func (*Reset) statement()          {}
func (*Txn) statement()            {}
func (*Copy) statement()           {}
func (*Truncate) statement()       {}
func (*Flush) statement()          {}
func (*Checkpoint) statement()     {}
func (*AlterSystem) statement()    {}
func (*Declare) statement()        {}
func (*Fetch) statement()          {}
func (*CloseCursor) statement()    {}
func (*Deallocate) statement()     {}
func (*Discard) statement()        {}
func (*Empty) statement()          {}
func (*Ignored) statement()        {}
