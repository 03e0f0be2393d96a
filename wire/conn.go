package wire

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/pgproto3"
	"github.com/streamsql/streamsql/engine/expr"
	"github.com/streamsql/streamsql/planner"
	"github.com/streamsql/streamsql/planner/pgsql"
	"github.com/streamsql/streamsql/sqlerr"
	"github.com/streamsql/streamsql/types"
)

type conn struct {
	srv *Server
	nc  net.Conn
	rd  *peerReader
	// watching: a goroutine reads ahead on the connection while a
	// statement runs, and cancels it if the client goes away (unwatch
	// stops it)
	watching bool
	unwatch  func()
	be       *pgproto3.Backend
	sess     *planner.Session
	pid      uint32
	secret   []byte

	mu     sync.Mutex
	cancel context.CancelFunc
	// terminating: the server is shutting down; the running statement
	// was cancelled and ends the connection with FATAL 57P01
	terminating atomic.Bool
	stmts       map[string]*preparedStmt
	portals     map[string]*portal
	// ignoreTillSync is set after an error in the extended protocol.
	ignoreTillSync bool
	pending        int // DataRows buffered since the last flush
}

type preparedStmt struct {
	sql      string
	stmt     pgsql.Statement
	prep     *planner.Prepared
	paramOID []uint32
}

type portal struct {
	stmt    *preparedStmt
	params  []types.Datum
	formats []int16
	res     *planner.Result
	cursor  bool
	done    bool
	sent    int64
}

func newConn(s *Server, nc net.Conn) *conn {
	rd := &peerReader{nc: nc, phase: phaseStartup}
	return &conn{srv: s, nc: nc, rd: rd, be: pgproto3.NewBackend(rd, nc), stmts: map[string]*preparedStmt{}, portals: map[string]*portal{}}
}

func (c *conn) cancelRunning() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cancel != nil {
		c.cancel()
	}
}

func (c *conn) serve(ctx context.Context) {
	defer c.nc.Close()
	// a client has authentication_timeout to log in, as in PostgreSQL
	_ = c.nc.SetReadDeadline(time.Now().Add(c.srv.authTimeout()))
	ok, err := c.startup()
	if err != nil || !ok {
		if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
			c.protocolError(err)
			c.srv.Log.Debug("startup failed", "remote", c.nc.RemoteAddr(), "err", err)
		}
		return
	}
	_ = c.nc.SetReadDeadline(time.Time{})
	defer c.srv.unregister(c)
	defer c.closeAll()
	for {
		msg, err := c.be.Receive()
		if err != nil {
			if !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) && !isClosed(err) {
				c.protocolError(err)
				c.srv.Log.Debug("connection closed", "remote", c.nc.RemoteAddr(), "err", err)
			}
			return
		}
		if err := c.handle(ctx, msg); err != nil {
			if errors.Is(err, errTerminate) {
				return
			}
			c.srv.Log.Debug("connection error", "err", err)
			return
		}
		if c.terminating.Load() {
			_ = c.be.Flush()
			return
		}
	}
}

// protocolError tells the client why the connection ends: a message the
// server will not read (too long, of an unknown type, malformed) is a
// FATAL protocol violation, as in PostgreSQL, before the socket closes.
func (c *conn) protocolError(err error) {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		c.fatal(sqlerr.New(sqlerr.ProtocolViolation, "canceling authentication due to timeout"))
		return
	}
	if isClosed(err) {
		return
	}
	c.fatal(sqlerr.New(sqlerr.ProtocolViolation, "%s", err.Error()))
}

func isClosed(err error) bool {
	return errors.Is(err, net.ErrClosed) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

var errTerminate = errors.New("wire: terminate")

func (c *conn) closeAll() {
	for _, p := range c.portals {
		if p.res != nil {
			p.res.Close()
		}
	}
	if c.sess != nil {
		c.sess.Close()
	}
}

// startup handles SSL/GSS negotiation, cancel requests, the startup
// message and authentication. ok is false for a cancel request.
func (c *conn) startup() (bool, error) {
	for {
		msg, err := c.be.ReceiveStartupMessage()
		if err != nil {
			return false, err
		}
		switch m := msg.(type) {
		case *pgproto3.SSLRequest, *pgproto3.GSSEncRequest:
			if _, err := c.nc.Write([]byte{'N'}); err != nil {
				return false, err
			}
		case *pgproto3.CancelRequest:
			c.srv.cancel(m.ProcessID, m.SecretKey)
			return false, nil
		case *pgproto3.StartupMessage:
			if m.ProtocolVersion>>16 != 3 {
				c.fatal(sqlerr.New(sqlerr.ProtocolViolation, "unsupported frontend protocol %d.%d", m.ProtocolVersion>>16, m.ProtocolVersion&0xffff))
				return false, nil
			}
			c.rd.setPhase(phaseAuth)
			return c.login(m.Parameters)
		default:
			return false, fmt.Errorf("wire: unexpected startup message %T", msg)
		}
	}
}

func (c *conn) fatal(e *sqlerr.Error) {
	c.be.Send(errorResponse(e, "FATAL"))
	_ = c.be.Flush()
}

func (c *conn) login(params map[string]string) (bool, error) {
	user := params["user"]
	if user == "" {
		c.fatal(sqlerr.New(sqlerr.InvalidAuthSpec, "no PostgreSQL user name specified in startup packet"))
		return false, nil
	}
	database := params["database"]
	if database == "" {
		database = user
	}
	if err := c.authenticate(user); err != nil {
		var e *sqlerr.Error
		if errors.As(err, &e) {
			c.fatal(e)
			return false, nil
		}
		return false, err
	}
	c.rd.setPhase(phaseReady)
	c.sess = c.srv.DB.NewSession(user, database)
	c.srv.register(c)
	c.sess.SetPID(int32(c.pid))
	_, _ = c.sess.Set("__backend_pid", strconv.Itoa(int(c.pid)))
	// the connection's ends, for inet_server_port() and friends
	if h, p, err := net.SplitHostPort(c.nc.LocalAddr().String()); err == nil {
		_, _ = c.sess.Set("__server_addr", h)
		_, _ = c.sess.Set("__server_port", p)
	}
	if h, p, err := net.SplitHostPort(c.nc.RemoteAddr().String()); err == nil {
		_, _ = c.sess.Set("__client_addr", h)
		_, _ = c.sess.Set("__client_port", p)
	}
	if app, ok := params["application_name"]; ok {
		_, _ = c.sess.Set("application_name", app)
	}
	for k, v := range params {
		switch k {
		case "user", "database", "application_name", "replication":
		case "options":
			// -c name=value settings
			applyOptions(c.sess, v)
		default:
			if _, err := c.sess.Set(k, v); err != nil {
				c.fatal(sqlerr.As(err))
				return false, nil
			}
		}
	}
	c.be.Send(&pgproto3.AuthenticationOk{})
	for _, name := range []string{"server_version", "server_encoding", "client_encoding", "DateStyle", "IntervalStyle", "TimeZone",
		"integer_datetimes", "standard_conforming_strings", "application_name", "is_superuser", "session_authorization", "in_hot_standby"} {
		v, _ := c.sess.Setting(lower(name))
		c.be.Send(&pgproto3.ParameterStatus{Name: name, Value: v})
	}
	c.be.Send(&pgproto3.BackendKeyData{ProcessID: c.pid, SecretKey: c.secret})
	c.be.Send(&pgproto3.ReadyForQuery{TxStatus: 'I'})
	return true, c.be.Flush()
}

func lower(s string) string {
	b := []byte(s)
	for i, ch := range b {
		if ch >= 'A' && ch <= 'Z' {
			b[i] = ch + 32
		}
	}
	return string(b)
}

func applyOptions(s *planner.Session, opts string) {
	fields := splitOptions(opts)
	for i := 0; i < len(fields); i++ {
		f := fields[i]
		if f == "-c" && i+1 < len(fields) {
			f = fields[i+1]
			i++
		} else if len(f) > 2 && f[:2] == "-c" {
			f = f[2:]
		} else if len(f) > 2 && f[:2] == "--" {
			f = f[2:]
		} else {
			continue
		}
		for k := 0; k < len(f); k++ {
			if f[k] == '=' {
				_, _ = s.Set(f[:k], f[k+1:])
				break
			}
		}
	}
}

func splitOptions(s string) []string {
	var out []string
	var cur []byte
	esc := false
	for i := 0; i < len(s); i++ {
		ch := s[i]
		switch {
		case esc:
			cur = append(cur, ch)
			esc = false
		case ch == '\\':
			esc = true
		case ch == ' ':
			if len(cur) > 0 {
				out = append(out, string(cur))
				cur = nil
			}
		default:
			cur = append(cur, ch)
		}
	}
	if len(cur) > 0 {
		out = append(out, string(cur))
	}
	return out
}

func (c *conn) txStatus() byte {
	switch {
	case c.sess.Failed:
		return 'E'
	case c.sess.InTxn:
		return 'T'
	}
	return 'I'
}

func (c *conn) ready() error {
	c.be.Send(&pgproto3.ReadyForQuery{TxStatus: c.txStatus()})
	c.pending = 0
	return c.be.Flush()
}

// maybeFlush flushes a long result every so often, so that buffered
// output stays bounded.
func (c *conn) maybeFlush() error {
	c.pending++
	if c.pending >= 1024 {
		c.pending = 0
		return c.be.Flush()
	}
	return nil
}

func (c *conn) sendError(err error) {
	e := sqlerr.As(err)
	if c.terminating.Load() && e.Code == sqlerr.QueryCanceled {
		c.fatal(errShutdown)
		return
	}
	c.be.Send(errorResponse(e, "ERROR"))
}

var errShutdown = sqlerr.New(sqlerr.AdminShutdown, "terminating connection due to administrator command")

// terminate ends the connection for a shutdown, as PostgreSQL's smart
// shutdown does: a running statement is cancelled and its session sends
// FATAL 57P01 and closes; an idle one is sent it now.
func (c *conn) terminate() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.terminating.Store(true)
	if c.cancel != nil {
		c.cancel()
		return
	}
	// idle (blocked reading the next message): one write of a whole
	// message never interleaves with the session's own writes
	if msg, err := errorResponse(errShutdown, "FATAL").Encode(nil); err == nil {
		_ = c.nc.SetWriteDeadline(time.Now().Add(time.Second))
		_, _ = c.nc.Write(msg)
	}
	c.nc.Close()
}

func errorResponse(e *sqlerr.Error, severity string) *pgproto3.ErrorResponse {
	if e.Severity != "" {
		severity = e.Severity
	}
	code := e.Code
	if code == "" {
		code = sqlerr.InternalError
	}
	return &pgproto3.ErrorResponse{Severity: severity, SeverityUnlocalized: severity, Code: code, Message: e.Message,
		Detail: e.Detail, Hint: e.Hint, Where: e.Where, Position: int32(e.Position)}
}

func (c *conn) notice(msg string) {
	if msg == "" {
		return
	}
	c.be.Send(&pgproto3.NoticeResponse{Severity: "NOTICE", SeverityUnlocalized: "NOTICE", Code: "00000", Message: msg})
}

// run executes a prepared statement with a cancellable context.
func (c *conn) run(ctx context.Context, p *planner.Prepared, params []types.Datum) (*planner.Result, context.CancelFunc, error) {
	rctx, cancel := context.WithCancel(ctx)
	c.mu.Lock()
	c.cancel = cancel
	c.mu.Unlock()
	if !isCopyFrom(p) {
		// a client that goes away stops its statement (a join or a scan
		// of millions of rows checks for cancellation as it goes)
		c.watchPeer()
	}
	res, err := c.sess.Execute(rctx, p, params)
	if err != nil {
		c.stopRun(cancel)
		return nil, nil, err
	}
	return res, cancel, nil
}

// watchPeer starts watching the connection for the client going away,
// unless it is watched already.
func (c *conn) watchPeer() {
	if c.watching {
		return
	}
	c.watching = true
	c.unwatch = c.rd.watch(c.cancelRunning)
}

// unwatchPeer stops watching the connection: before it is read again.
func (c *conn) unwatchPeer() {
	if c.watching {
		c.unwatch()
		c.watching, c.unwatch = false, nil
	}
}

// isCopyFrom reports whether a statement reads COPY data from the
// connection itself.
func isCopyFrom(p *planner.Prepared) bool {
	cp, ok := p.Stmt.(*pgsql.Copy)
	return ok && cp.From
}

func (c *conn) stopRun(cancel context.CancelFunc) {
	c.unwatchPeer()
	c.mu.Lock()
	c.cancel = nil
	c.mu.Unlock()
	if cancel != nil {
		cancel()
	}
}

func (c *conn) reportParam(res *planner.Result) {
	if res.ParamChanged == "" {
		return
	}
	name := res.ParamChanged
	v, _ := c.sess.Setting(lower(name))
	switch lower(name) {
	case "timezone":
		name = "TimeZone"
	case "datestyle":
		name = "DateStyle"
	case "intervalstyle":
		name = "IntervalStyle"
	}
	c.be.Send(&pgproto3.ParameterStatus{Name: name, Value: v})
}

var _ = expr.ServerVersion
