package wire

import (
	"context"
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/jackc/pgx/v5/pgproto3"
	"github.com/streamsql/streamsql/engine/expr"
	"github.com/streamsql/streamsql/planner"
	"github.com/streamsql/streamsql/planner/pgsql"
	"github.com/streamsql/streamsql/sqlerr"
	"github.com/streamsql/streamsql/types"
)

func (c *conn) parse(m *pgproto3.Parse) error {
	if m.Name != "" {
		if _, dup := c.stmts[m.Name]; dup {
			return sqlerr.New(sqlerr.DuplicatePreparedStmt, "prepared statement %q already exists", m.Name)
		}
	}
	stmts, err := c.sess.Parse(m.Query)
	if err != nil {
		return err
	}
	if len(stmts) > 1 {
		return sqlerr.New(sqlerr.SyntaxError, "cannot insert multiple commands into a prepared statement")
	}
	var st pgsql.Statement = &pgsql.Empty{}
	if len(stmts) == 1 {
		st = stmts[0]
	}
	hint := make([]types.T, len(m.ParameterOIDs))
	for i, oid := range m.ParameterOIDs {
		if oid == 0 {
			hint[i] = types.TUnknown
			continue
		}
		t, ok := types.FromOID(oid)
		if !ok {
			return sqlerr.New(sqlerr.UndefinedObject, "type with OID %d does not exist", oid)
		}
		hint[i] = t
	}
	p, err := c.sess.Prepare(st, hint)
	if err != nil {
		return err
	}
	// declared parameters that the query never uses still count
	for len(p.Params) < len(hint) {
		t := hint[len(p.Params)]
		if t.Kind == types.Unknown {
			t = types.TText
		}
		p.Params = append(p.Params, t)
	}
	c.stmts[m.Name] = &preparedStmt{sql: m.Query, stmt: st, prep: p, paramOID: append([]uint32(nil), m.ParameterOIDs...)}
	c.be.Send(&pgproto3.ParseComplete{})
	return nil
}

func (c *conn) bind(m *pgproto3.Bind) error {
	ps, ok := c.stmts[m.PreparedStatement]
	if !ok {
		return sqlerr.New(sqlerr.InvalidPreparedStmt, "prepared statement %q does not exist", m.PreparedStatement)
	}
	if m.DestinationPortal != "" {
		if _, dup := c.portals[m.DestinationPortal]; dup {
			return sqlerr.New(sqlerr.DuplicateCursor, "portal %q already exists", m.DestinationPortal)
		}
	}
	params, err := decodeParams(ps.prep.Params, m.ParameterFormatCodes, m.Parameters, c)
	if err != nil {
		return err
	}
	if old, ok := c.portals[m.DestinationPortal]; ok && old.res != nil {
		old.res.Close()
	}
	c.portals[m.DestinationPortal] = &portal{stmt: ps, params: params, formats: append([]int16(nil), m.ResultFormatCodes...)}
	c.be.Send(&pgproto3.BindComplete{})
	return nil
}

func (c *conn) describe(m *pgproto3.Describe) error {
	switch m.ObjectType {
	case 'S':
		ps, ok := c.stmts[m.Name]
		if !ok {
			return sqlerr.New(sqlerr.InvalidPreparedStmt, "prepared statement %q does not exist", m.Name)
		}
		oids := make([]uint32, len(ps.prep.Params))
		for i, t := range ps.prep.Params {
			oids[i] = wireType(t).OID()
		}
		c.be.Send(&pgproto3.ParameterDescription{ParameterOIDs: oids})
		if ps.prep.Cols != nil {
			c.be.Send(rowDescription(ps.prep.Cols, nil))
		} else {
			c.be.Send(&pgproto3.NoData{})
		}
	case 'P':
		p, ok := c.portals[m.Name]
		if !ok {
			// a cursor DECLAREd in SQL is a portal too (psycopg 3 and libpq
			// clients describe their named cursors this way)
			if cols, ok := c.sess.CursorColumns(m.Name); ok && m.Name != "" {
				c.be.Send(rowDescription(cols, nil))
				return nil
			}
			return sqlerr.New(sqlerr.InvalidCursorName, "portal %q does not exist", m.Name)
		}
		if p.stmt.prep.Cols != nil {
			c.be.Send(rowDescription(p.stmt.prep.Cols, p.formats))
		} else {
			c.be.Send(&pgproto3.NoData{})
		}
	default:
		return sqlerr.New(sqlerr.ProtocolViolation, "invalid DESCRIBE message subtype %d", m.ObjectType)
	}
	return nil
}

func (c *conn) execute(ctx context.Context, m *pgproto3.Execute) error {
	p, ok := c.portals[m.Portal]
	if !ok {
		if _, isCursor := c.sess.CursorColumns(m.Portal); isCursor && m.Portal != "" {
			return c.executeCursor(ctx, m)
		}
		return sqlerr.New(sqlerr.InvalidCursorName, "portal %q does not exist", m.Portal)
	}
	if _, empty := p.stmt.stmt.(*pgsql.Empty); empty {
		c.be.Send(&pgproto3.EmptyQueryResponse{})
		return nil
	}
	if p.done {
		c.be.Send(&pgproto3.CommandComplete{CommandTag: []byte("SELECT 0")})
		return nil
	}
	c.sess.SetActivity("active", p.stmt.sql)
	defer c.sess.SetActivity("idle", p.stmt.sql)
	if p.res == nil {
		res, cancel, err := c.run(ctx, p.stmt.prep, p.params)
		if err != nil {
			return err
		}
		defer c.stopRun(cancel)
		c.reportParam(res)
		c.notice(res.Notice)
		switch {
		case res.CopyIn != nil:
			p.done = true
			return c.copyIn(res.CopyIn)
		case res.CopyOut != nil:
			p.done = true
			return c.copyOut(res.CopyOut)
		}
		if res.Rows == nil {
			p.done = true
			c.be.Send(&pgproto3.CommandComplete{CommandTag: []byte(res.Tag)})
			return nil
		}
		p.res = res
	} else {
		rctx, cancel := context.WithCancel(ctx)
		c.mu.Lock()
		c.cancel = cancel
		c.mu.Unlock()
		p.res.Ctx.Go = rctx
		defer c.stopRun(cancel)
	}
	n, more, err := c.sendRowsMore(p.res, p.formats, int64(m.MaxRows))
	p.sent += n
	if err != nil {
		p.res.Close()
		p.res = nil
		p.done = true
		return err
	}
	if more {
		c.be.Send(&pgproto3.PortalSuspended{})
		return nil
	}
	c.complete(p.res, p.sent)
	p.res.Close()
	p.res = nil
	p.done = true
	return nil
}

// executeCursor is Execute of a portal that is a SQL cursor: FETCH of up
// to MaxRows rows (all with 0), suspended while rows may remain.
func (c *conn) executeCursor(ctx context.Context, m *pgproto3.Execute) error {
	fetch := &pgsql.Fetch{Name: m.Portal, Dir: pgsql.FetchForward, Count: int64(m.MaxRows), All: m.MaxRows == 0}
	p, err := c.sess.Prepare(fetch, nil)
	if err != nil {
		return err
	}
	res, cancel, err := c.run(ctx, p, nil)
	if err != nil {
		return err
	}
	defer c.stopRun(cancel)
	defer res.Close()
	n, err := c.sendRows(res, nil, 0)
	if err != nil {
		return err
	}
	if m.MaxRows > 0 && n == int64(m.MaxRows) {
		c.be.Send(&pgproto3.PortalSuspended{})
		return nil
	}
	c.be.Send(&pgproto3.CommandComplete{CommandTag: []byte(fmt.Sprintf("FETCH %d", n))})
	return nil
}

func (c *conn) closeMsg(m *pgproto3.Close) error {
	switch m.ObjectType {
	case 'S':
		delete(c.stmts, m.Name)
	case 'P':
		if p, ok := c.portals[m.Name]; ok && p.res != nil {
			p.res.Close()
		} else if !ok && m.Name != "" {
			c.sess.CloseCursor(m.Name)
		}
		delete(c.portals, m.Name)
	default:
		return sqlerr.New(sqlerr.ProtocolViolation, "invalid CLOSE message subtype %d", m.ObjectType)
	}
	c.be.Send(&pgproto3.CloseComplete{})
	return nil
}

// prefixed yields a leftover batch before the rest of an operator's output
// (a portal suspended in the middle of a batch).
type prefixed struct {
	first arrow.RecordBatch
	rest  interface {
		Types() []types.T
		Next(*expr.Ctx) (arrow.RecordBatch, error)
		Close()
	}
}

func (p *prefixed) Types() []types.T { return p.rest.Types() }
func (p *prefixed) Next(ctx *expr.Ctx) (arrow.RecordBatch, error) {
	if p.first != nil {
		b := p.first
		p.first = nil
		return b, nil
	}
	return p.rest.Next(ctx)
}
func (p *prefixed) Close() {
	if p.first != nil {
		p.first.Release()
		p.first = nil
	}
	p.rest.Close()
}

var _ = planner.Column{}
