package wire

import (
	"context"
	"fmt"
	"runtime/debug"

	"github.com/jackc/pgx/v5/pgproto3"
	"github.com/streamsql/streamsql/planner"
	"github.com/streamsql/streamsql/planner/pgsql"
	"github.com/streamsql/streamsql/sqlerr"
	"github.com/streamsql/streamsql/types"
)

func (c *conn) handle(ctx context.Context, msg pgproto3.FrontendMessage) (err error) {
	defer func() {
		// a bug in one statement must not take the server down
		if r := recover(); r != nil {
			c.srv.Log.Error("internal error", "panic", r, "stack", string(debug.Stack()))
			c.sendError(sqlerr.New(sqlerr.InternalError, "internal error: %v", r))
			c.ignoreTillSync = true
			if _, isQuery := msg.(*pgproto3.Query); isQuery {
				err = c.ready()
			}
		}
	}()
	switch m := msg.(type) {
	case *pgproto3.Query:
		c.ignoreTillSync = false
		c.simpleQuery(ctx, m.String)
		return c.ready()
	case *pgproto3.Sync:
		c.ignoreTillSync = false
		// an unnamed portal's open result is dropped at Sync outside a transaction
		return c.ready()
	case *pgproto3.Terminate:
		return errTerminate
	case *pgproto3.FunctionCall:
		// a cycle of its own, as in PostgreSQL: a reply, then ReadyForQuery
		c.ignoreTillSync = false
		c.sendError(sqlerr.Unsupported("the function call protocol is not supported: call the function in a query"))
		if c.sess.InTxn {
			c.sess.Failed = true
		}
		return c.ready()
	case *pgproto3.Flush:
		return c.be.Flush()
	case *pgproto3.CopyData, *pgproto3.CopyDone, *pgproto3.CopyFail:
		// stray COPY messages after a failed COPY are ignored
		return nil
	}
	if c.ignoreTillSync {
		return nil
	}
	switch m := msg.(type) {
	case *pgproto3.Parse:
		err = c.parse(m)
	case *pgproto3.Bind:
		err = c.bind(m)
	case *pgproto3.Describe:
		err = c.describe(m)
	case *pgproto3.Execute:
		err = c.execute(ctx, m)
	case *pgproto3.Close:
		err = c.closeMsg(m)
	default:
		err = sqlerr.New(sqlerr.ProtocolViolation, "unexpected message %T", msg)
	}
	if err != nil {
		if isNetErr(err) {
			return err
		}
		c.sendError(err)
		c.ignoreTillSync = true
		if c.sess.InTxn {
			c.sess.Failed = true
		}
	}
	return nil
}

type netError struct{ error }

func isNetErr(err error) bool {
	_, ok := err.(netError)
	return ok
}

// simpleQuery runs every statement of a Query message.
func (c *conn) simpleQuery(ctx context.Context, sql string) {
	c.sess.SetActivity("active", sql)
	defer c.sess.SetActivity("idle", sql)
	stmts, err := c.sess.Parse(sql)
	if err != nil {
		c.sendError(err)
		if c.sess.InTxn {
			c.sess.Failed = true
		}
		return
	}
	if len(stmts) == 0 {
		c.be.Send(&pgproto3.EmptyQueryResponse{})
		return
	}
	for _, st := range stmts {
		if _, empty := st.(*pgsql.Empty); empty {
			continue
		}
		if err := c.runSimple(ctx, st); err != nil {
			c.sendError(err)
			if c.sess.InTxn {
				c.sess.Failed = true
			}
			return
		}
	}
}

func (c *conn) runSimple(ctx context.Context, st pgsql.Statement) error {
	p, err := c.sess.Prepare(st, nil)
	if err != nil {
		return err
	}
	if len(p.Params) > 0 {
		return sqlerr.New(sqlerr.UndefinedParameter, "there is no parameter $%d", len(p.Params))
	}
	res, cancel, err := c.run(ctx, p, nil)
	if err != nil {
		return err
	}
	defer c.stopRun(cancel)
	defer res.Close()
	c.reportParam(res)
	c.notice(res.Notice)
	switch {
	case res.CopyIn != nil:
		return c.copyIn(res.CopyIn)
	case res.CopyOut != nil:
		return c.copyOut(res.CopyOut)
	}
	if res.Rows != nil {
		var formats []int16
		if res.Binary {
			formats = []int16{1} // a BINARY cursor's rows
		}
		c.be.Send(rowDescription(res.Cols, formats))
		n, err := c.sendRows(res, formats, 0)
		if err != nil {
			return err
		}
		c.complete(res, n)
		return nil
	}
	c.be.Send(&pgproto3.CommandComplete{CommandTag: []byte(res.Tag)})
	return nil
}

func (c *conn) complete(res *planner.Result, n int64) {
	tag := res.Tag
	if res.CountRows {
		tag = fmt.Sprintf("%s %d", res.Tag, n)
	}
	c.be.Send(&pgproto3.CommandComplete{CommandTag: []byte(tag)})
}

// sendRows sends up to max rows (0: all) of res as DataRows. more reports
// whether rows remain.
func (c *conn) sendRows(res *planner.Result, formats []int16, max int64) (int64, error) {
	n, _, err := c.sendRowsMore(res, formats, max)
	return n, err
}

func (c *conn) sendRowsMore(res *planner.Result, formats []int16, max int64) (int64, bool, error) {
	enc := newRowEncoder(res.Cols, formats, c.sess.Location(), c.sess.RegName)
	if res.Streaming {
		// a client that goes away ends the subscription
		if !c.watching {
			c.watchPeer()
			defer c.unwatchPeer()
		}
		// the row description goes out before the first change arrives
		c.pending = 0
		if err := c.be.Flush(); err != nil {
			return 0, false, netError{err}
		}
	}
	var n int64
	for {
		if max > 0 && n >= max {
			return n, true, nil
		}
		b, err := res.Rows.Next(res.Ctx)
		if err != nil {
			return n, false, err
		}
		if b == nil {
			return n, false, nil
		}
		rows := b.NumRows()
		start := int64(0)
		for r := start; r < rows; r++ {
			if max > 0 && n >= max {
				// keep the rest for the next Execute
				rest := b.NewSlice(r, rows)
				b.Release()
				res.Rows = &prefixed{first: rest, rest: res.Rows}
				return n, true, nil
			}
			dr, err := enc.row(b, int(r))
			if err != nil {
				b.Release()
				return n, false, err
			}
			c.be.Send(dr)
			n++
			if err := c.maybeFlush(); err != nil {
				b.Release()
				return n, false, netError{err}
			}
		}
		b.Release()
		if res.Streaming {
			// rows that arrive over time go out as they arrive
			c.pending = 0
			if err := c.be.Flush(); err != nil {
				return n, false, netError{err}
			}
		}
	}
}

// copyFormats are a COPY response's overall and per-column format codes.
func copyFormats(columns int, binary bool) (byte, []uint16) {
	formats := make([]uint16, columns)
	if !binary {
		return 0, formats
	}
	for i := range formats {
		formats[i] = 1
	}
	return 1, formats
}

// copyIn runs the COPY FROM STDIN sub-protocol.
func (c *conn) copyIn(ci *planner.CopyIn) error {
	overall, formats := copyFormats(ci.Columns, ci.Binary)
	c.be.Send(&pgproto3.CopyInResponse{OverallFormat: overall, ColumnFormatCodes: formats})
	if err := c.be.Flush(); err != nil {
		return netError{err}
	}
	var failed error
	for {
		msg, err := c.be.Receive()
		if err != nil {
			return netError{err}
		}
		switch m := msg.(type) {
		case *pgproto3.CopyData:
			if failed == nil {
				failed = ci.Write(m.Data)
			}
		case *pgproto3.CopyDone:
			if failed != nil {
				return failed
			}
			n, err := ci.Finish()
			if err != nil {
				return err
			}
			c.be.Send(&pgproto3.CommandComplete{CommandTag: []byte(fmt.Sprintf("COPY %d", n))})
			return nil
		case *pgproto3.CopyFail:
			return sqlerr.New(sqlerr.QueryCanceled, "COPY from stdin failed: %s", m.Message)
		case *pgproto3.Flush, *pgproto3.Sync:
		default:
			return sqlerr.New(sqlerr.ProtocolViolation, "unexpected message type during COPY from stdin")
		}
	}
}

func (c *conn) copyOut(co *planner.CopyOut) error {
	overall, formats := copyFormats(co.Columns, co.Binary)
	c.be.Send(&pgproto3.CopyOutResponse{OverallFormat: overall, ColumnFormatCodes: formats})
	if flush := c.flushIf(co.Streaming); flush != nil {
		if !c.watching {
			c.watchPeer()
			defer c.unwatchPeer()
		}
		if err := flush(); err != nil {
			return err
		}
	}
	n, err := co.Each(func(line []byte) error {
		c.be.Send(&pgproto3.CopyData{Data: line})
		if err := c.maybeFlush(); err != nil {
			return netError{err}
		}
		return nil
	}, c.flushIf(co.Streaming))
	if err != nil {
		return err
	}
	c.be.Send(&pgproto3.CopyDone{})
	c.be.Send(&pgproto3.CommandComplete{CommandTag: []byte(fmt.Sprintf("COPY %d", n))})
	return nil
}

// decodeParams converts Bind parameter values to datums.
func decodeParams(ts []types.T, formats []int16, vals [][]byte, c *conn) ([]types.Datum, error) {
	if len(vals) != len(ts) {
		return nil, sqlerr.New(sqlerr.ProtocolViolation, "bind message supplies %d parameters, but prepared statement requires %d", len(vals), len(ts))
	}
	out := make([]types.Datum, len(vals))
	for i, v := range vals {
		if v == nil {
			out[i] = types.NullDatum
			continue
		}
		var err error
		if formatFor(formats, i) == 1 {
			out[i], err = types.ParseBinary(ts[i], v)
		} else {
			out[i], err = c.sess.ParseParam(ts[i], string(v))
		}
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// flushIf returns a function that flushes buffered output, or nil.
func (c *conn) flushIf(streaming bool) func() error {
	if !streaming {
		return nil
	}
	return func() error {
		c.pending = 0
		if err := c.be.Flush(); err != nil {
			return netError{err}
		}
		return nil
	}
}
