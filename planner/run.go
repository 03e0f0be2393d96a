package planner

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/streamsql/streamsql/catalog"
	"github.com/streamsql/streamsql/engine/exec"
	"github.com/streamsql/streamsql/engine/expr"
	"github.com/streamsql/streamsql/planner/pgsql"
	"github.com/streamsql/streamsql/sqlerr"
	"github.com/streamsql/streamsql/types"
)

// Result is what executing a statement produced: rows to send (Rows, with
// Cols), or a command tag. The caller closes Rows.
type Result struct {
	Cols []Column
	Rows exec.Operator
	Ctx  *expr.Ctx
	// Tag is the command tag; for row-returning statements the wire layer
	// appends the row count ("SELECT n", "FETCH n").
	Tag string
	// CountRows asks the wire layer to append the number of rows sent.
	CountRows bool
	// ParamChanged names a parameter whose new value should be reported
	// (ParameterStatus), e.g. after SET TIME ZONE.
	ParamChanged string
	Notice       string
	// CopyIn / CopyOut are set for COPY statements.
	CopyIn  *CopyIn
	CopyOut *CopyOut
	// Suspended is set when a cursor still has rows.
	Suspended bool
	// Streaming marks rows that arrive over time (SUBSCRIBE): the wire
	// layer flushes after every batch.
	Streaming bool
	// Binary asks for the rows in binary format (a BINARY cursor's FETCH).
	Binary bool
}

// Close releases the rows.
func (r *Result) Close() {
	if r.Rows != nil {
		r.Rows.Close()
		r.Rows = nil
	}
}

// Execute runs a prepared statement with parameter values.
func (s *Session) Execute(goctx context.Context, p *Prepared, params []types.Datum) (*Result, error) {
	if s.Failed {
		if t, ok := p.Stmt.(*pgsql.Txn); !ok || (t.Op != "rollback" && t.Op != "rollback_to" && t.Op != "commit") {
			return nil, sqlerr.New(sqlerr.InFailedTransaction, "current transaction is aborted, commands ignored until end of transaction block")
		}
	}
	if p.version != s.db.Catalog.Version() && (p.plan != nil || p.dml != nil) {
		// the catalog changed since the statement was bound: bind again
		if err := s.bind(p); err != nil {
			return nil, err
		}
		p.version = s.db.Catalog.Version()
	}
	s.now = time.Now().UnixMicro()
	ctx := s.evalCtx(params)
	ctx.Go = goctx
	res, err := s.execute(ctx, p, params)
	if err != nil && s.InTxn {
		s.Failed = true
	}
	return res, err
}

func (s *Session) execute(ctx *expr.Ctx, p *Prepared, params []types.Datum) (*Result, error) {
	switch st := p.Stmt.(type) {
	case *pgsql.Query:
		if p.plan != nil {
			op, err := build(ctx, s.db, p.plan)
			if err != nil {
				return nil, err
			}
			return &Result{Cols: p.Cols, Rows: op, Ctx: ctx, Tag: "SELECT", CountRows: true}, nil
		}
		n, rows, err := s.runDML(ctx, p.dml)
		if err != nil {
			return nil, err
		}
		if p.dml.returning != nil {
			tag := [...]string{"INSERT 0", "UPDATE", "DELETE"}[p.dml.kind]
			var batches []arrow.RecordBatch
			if len(rows) > 0 {
				in := expr.BatchFromRows(ctx.Mem, colTypesOf(p.dml.table), rows)
				out, err := exec.ProjectBatch(ctx, in, p.dml.returning, colTypes(p.dml.returningCols))
				in.Release()
				if err != nil {
					return nil, err
				}
				batches = append(batches, out)
			}
			return &Result{Cols: p.dml.returningCols, Rows: exec.NewScan(colTypes(p.dml.returningCols), batches), Ctx: ctx, Tag: tag, CountRows: true}, nil
		}
		switch p.dml.kind {
		case dmlInsert:
			return &Result{Tag: fmt.Sprintf("INSERT 0 %d", n)}, nil
		case dmlUpdate:
			return &Result{Tag: fmt.Sprintf("UPDATE %d", n)}, nil
		}
		return &Result{Tag: fmt.Sprintf("DELETE %d", n)}, nil
	case *pgsql.Explain:
		var lines []string
		switch {
		case st.View != "":
			l, err := s.explainView(st.View)
			if err != nil {
				return nil, err
			}
			lines = l
		case p.explained != nil:
			lines = p.explained
		case p.plan != nil:
			lines = Explain(p.plan)
		case p.dml != nil:
			lines = []string{fmt.Sprintf("%s on %s", [...]string{"Insert", "Update", "Delete"}[p.dml.kind], p.dml.table.Name)}
			if p.dml.source != nil {
				for _, l := range Explain(p.dml.source) {
					lines = append(lines, "  -> "+strings.TrimLeft(l, " ->"))
				}
			}
		default:
			lines = []string{fmt.Sprintf("%T (utility statement)", st.Stmt)}
		}
		rows := make([][]types.Datum, len(lines))
		for i, l := range lines {
			rows[i] = row(l)
		}
		return rowsResult(ctx, p.Cols, rows, "EXPLAIN", false), nil
	case *pgsql.CreateRelation:
		return s.createRelation(ctx, st)
	case *pgsql.CreateView:
		return s.createView(ctx, st)
	case *pgsql.CreateSink:
		return s.createSink(ctx, st)
	case *pgsql.Drop:
		return s.drop(st)
	case *pgsql.Show:
		return s.show(ctx, st, p.Cols)
	case *pgsql.Describe:
		return s.describe(ctx, st)
	case *pgsql.Set:
		return s.set(st)
	case *pgsql.Reset:
		s.Reset(st.Name)
		res := &Result{Tag: "RESET"}
		if st.Name == "timezone" || st.Name == "all" {
			res.ParamChanged = "TimeZone"
		}
		return res, nil
	case *pgsql.Txn:
		return s.txn(st)
	case *pgsql.Truncate:
		names := make([]string, len(st.Names))
		for i, written := range st.Names {
			o, key := s.lookup(written)
			if o == nil {
				return nil, sqlerr.New(sqlerr.UndefinedTable, "relation %q does not exist", written)
			}
			if o.Kind != catalog.KindTable {
				return nil, sqlerr.New(sqlerr.WrongObjectType, "%q is not a table", written)
			}
			names[i] = key
		}
		for _, name := range names {
			t, err := s.db.Table(name)
			if err != nil {
				return nil, err
			}
			if err := t.Apply(storageTruncate()); err != nil {
				return nil, err
			}
		}
		return &Result{Tag: "TRUNCATE TABLE"}, nil
	case *pgsql.Checkpoint:
		if err := s.db.rt.Checkpoint(ctx.Go); err != nil {
			if ctx.Go.Err() != nil {
				return nil, sqlerr.New(sqlerr.QueryCanceled, "canceling statement due to user request")
			}
			return nil, sqlerr.New(sqlerr.IOError, "%v", err)
		}
		return &Result{Tag: "CHECKPOINT"}, nil
	case *pgsql.AlterSystem:
		return s.alterSystem(st)
	case *pgsql.Flush:
		// tables are written synchronously; incremental views catch up
		notice, err := s.db.rt.Flush(ctx.Go)
		if err != nil {
			return nil, err
		}
		return &Result{Tag: "FLUSH", Notice: notice}, nil
	case *pgsql.Copy:
		return s.copy(ctx, st, p)
	case *pgsql.Declare:
		return s.declare(ctx, st, p)
	case *pgsql.Fetch:
		c, ok := s.cursors[st.Name]
		if !ok {
			return nil, sqlerr.New(sqlerr.InvalidCursorName, "cursor %q does not exist", st.Name)
		}
		if c.sub != nil {
			return c.fetchSubscription(ctx, st)
		}
		if len(st.Options) > 0 {
			return nil, sqlerr.New(sqlerr.InvalidParameterValue, "FETCH options apply to subscription cursors only")
		}
		return c.fetch(ctx, st)
	case *pgsql.Subscribe:
		sub, cols, err := s.subscribe(ctx, st)
		if err != nil {
			return nil, err
		}
		return &Result{Cols: cols, Rows: sub, Ctx: ctx, Tag: "SUBSCRIBE", CountRows: true, Streaming: true}, nil
	case *pgsql.CloseCursor:
		if st.Name == "all" {
			for k, c := range s.cursors {
				c.close()
				delete(s.cursors, k)
			}
			return &Result{Tag: "CLOSE CURSOR"}, nil
		}
		c, ok := s.cursors[st.Name]
		if !ok {
			return nil, sqlerr.New(sqlerr.InvalidCursorName, "cursor %q does not exist", st.Name)
		}
		c.close()
		delete(s.cursors, st.Name)
		return &Result{Tag: "CLOSE CURSOR"}, nil
	case *pgsql.Discard:
		s.closeCursors()
		s.Reset("all")
		return &Result{Tag: "DISCARD ALL"}, nil
	case *pgsql.Deallocate:
		return &Result{Tag: "DEALLOCATE"}, nil
	case *pgsql.Empty:
		return &Result{}, nil
	case *pgsql.Ignored:
		return &Result{Tag: st.Tag}, nil
	case *pgsql.CreateIndex:
		return s.createIndex(st)
	case *pgsql.CreateSchema:
		return s.createSchema(st)
	}
	return nil, sqlerr.Unsupported("statement %T is not supported", p.Stmt)
}

// Close ends the session.
func (s *Session) Close() {
	s.closeCursors()
	s.db.sessMu.Lock()
	delete(s.db.sessions, s)
	s.db.sessMu.Unlock()
}

func (s *Session) closeCursors() {
	for k, c := range s.cursors {
		c.close()
		delete(s.cursors, k)
	}
}

func (s *Session) txn(st *pgsql.Txn) (*Result, error) {
	switch st.Op {
	case "begin":
		if s.InTxn {
			return &Result{Tag: "BEGIN", Notice: "there is already a transaction in progress"}, nil
		}
		s.InTxn = true
		return &Result{Tag: "BEGIN"}, nil
	case "commit":
		tag := "COMMIT"
		if s.Failed {
			tag = "ROLLBACK"
		}
		if !s.InTxn {
			s.InTxn, s.Failed = false, false
			return &Result{Tag: tag, Notice: "there is no transaction in progress"}, nil
		}
		s.InTxn, s.Failed = false, false
		s.endTxnCursors(tag == "COMMIT")
		return &Result{Tag: tag}, nil
	case "rollback":
		if !s.InTxn {
			return &Result{Tag: "ROLLBACK", Notice: "there is no transaction in progress"}, nil
		}
		s.InTxn, s.Failed = false, false
		s.endTxnCursors(false)
		return &Result{Tag: "ROLLBACK"}, nil
	case "savepoint":
		if !s.InTxn {
			return nil, sqlerr.New(sqlerr.NoActiveSQLTransaction, "SAVEPOINT can only be used in transaction blocks")
		}
		return &Result{Tag: "SAVEPOINT"}, nil
	case "release":
		return &Result{Tag: "RELEASE"}, nil
	case "rollback_to":
		s.Failed = false
		return &Result{Tag: "ROLLBACK"}, nil
	}
	return nil, sqlerr.Unsupported("transaction command %s", st.Op)
}

func (s *Session) set(st *pgsql.Set) (*Result, error) {
	switch st.Name {
	case "transaction", "session_characteristics":
		return &Result{Tag: "SET"}, nil
	}
	if st.Default {
		s.Reset(st.Name)
		res := &Result{Tag: "SET"}
		if st.Name == "timezone" {
			res.ParamChanged = "TimeZone"
		}
		return res, nil
	}
	if _, err := s.Set(st.Name, st.Value); err != nil {
		return nil, err
	}
	res := &Result{Tag: "SET"}
	switch st.Name {
	case "timezone":
		res.ParamChanged = "TimeZone"
	case "application_name", "client_encoding", "datestyle", "intervalstyle", "standard_conforming_strings":
		res.ParamChanged = st.Name
	}
	return res, nil
}

// rowsResult wraps constant rows as a result.
func rowsResult(ctx *expr.Ctx, cols []Column, rows [][]types.Datum, tag string, count bool) *Result {
	ts := colTypes(cols)
	var batches []arrow.RecordBatch
	if len(rows) > 0 {
		batches = append(batches, expr.BatchFromRows(ctx.Mem, ts, rows))
	}
	return &Result{Cols: cols, Rows: exec.NewScan(ts, batches), Ctx: ctx, Tag: tag, CountRows: count}
}
