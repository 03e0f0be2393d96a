package wire

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"errors"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/streamsql/streamsql/planner"
)

// Auth configures authentication.
type Auth struct {
	// Users maps user names to passwords. Empty: trust (loopback only).
	Users map[string]string
	// Cleartext asks for the password in clear instead of SCRAM-SHA-256.
	Cleartext bool
}

// Server accepts PostgreSQL connections for a database.
type Server struct {
	DB   *planner.DB
	Auth Auth
	Log  *slog.Logger
	// AuthTimeout is how long a client has to complete start-up and
	// authentication (0: a minute, PostgreSQL's authentication_timeout).
	AuthTimeout time.Duration

	mu     sync.Mutex
	conns  map[uint32]*conn
	nextID atomic.Uint32
	wg     sync.WaitGroup
	ln     net.Listener
	closed atomic.Bool
}

// NewServer returns a server for db.
func NewServer(db *planner.DB, auth Auth, log *slog.Logger) *Server {
	if log == nil {
		log = slog.Default()
	}
	return &Server{DB: db, Auth: auth, Log: log, conns: map[uint32]*conn{}}
}

// Serve accepts connections on ln until ctx is done or Close is called.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	s.ln = ln
	go func() {
		<-ctx.Done()
		s.Close()
	}()
	for {
		nc, err := ln.Accept()
		if err != nil {
			if s.closed.Load() || errors.Is(err, net.ErrClosed) {
				s.wg.Wait()
				return nil
			}
			return err
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			c := newConn(s, nc)
			// a shutdown reaches sessions through Close (terminate), so
			// a running statement ends with FATAL 57P01, not as a cancel
			c.serve(context.WithoutCancel(ctx))
		}()
	}
}

// Close stops accepting and closes every connection.
func (s *Server) Close() {
	if s.closed.Swap(true) {
		return
	}
	if s.ln != nil {
		s.ln.Close()
	}
	s.mu.Lock()
	conns := make([]*conn, 0, len(s.conns))
	for _, c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	for _, c := range conns {
		c.terminate()
	}
	// a statement that does not stop within the grace is cut off
	time.AfterFunc(shutdownGrace, func() {
		for _, c := range conns {
			c.nc.Close()
		}
	})
}

// shutdownGrace is how long a cancelled statement has to end its
// connection before the socket is closed under it.
const shutdownGrace = 2 * time.Second

func (s *Server) register(c *conn) {
	c.pid = s.nextID.Add(1) + 1000
	c.secret = make([]byte, 4)
	_, _ = rand.Read(c.secret)
	s.mu.Lock()
	s.conns[c.pid] = c
	s.mu.Unlock()
}

func (s *Server) unregister(c *conn) {
	s.mu.Lock()
	delete(s.conns, c.pid)
	s.mu.Unlock()
}

// cancel cancels the running statement of the session with pid if the
// secret matches; a wrong secret is ignored, as in PostgreSQL.
func (s *Server) cancel(pid uint32, secret []byte) {
	s.mu.Lock()
	c := s.conns[pid]
	s.mu.Unlock()
	if c != nil && subtle.ConstantTimeCompare(c.secret, secret) == 1 {
		c.cancelRunning()
	}
}

func (s *Server) authTimeout() time.Duration {
	if s.AuthTimeout > 0 {
		return s.AuthTimeout
	}
	return maxStartupWait
}
