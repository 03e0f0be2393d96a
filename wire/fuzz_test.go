package wire

import (
	"context"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgproto3"
	"github.com/streamsql/streamsql/planner"
)

// panicLog records internal errors (recovered panics) the server logs.
type panicLog struct {
	mu  sync.Mutex
	msg []string
}

func (p *panicLog) Enabled(context.Context, slog.Level) bool { return true }
func (p *panicLog) Handle(_ context.Context, r slog.Record) error {
	if r.Message == "internal error" {
		p.mu.Lock()
		var b strings.Builder
		r.Attrs(func(a slog.Attr) bool { b.WriteString(a.String() + " "); return true })
		p.msg = append(p.msg, b.String())
		p.mu.Unlock()
	}
	return nil
}
func (p *panicLog) WithAttrs([]slog.Attr) slog.Handler { return p }
func (p *panicLog) WithGroup(string) slog.Handler      { return p }

// FuzzBackend: after a valid start-up, arbitrary client bytes never crash
// the server or make it panic internally.
func FuzzBackend(f *testing.F) {
	seed := func(msgs ...pgproto3.FrontendMessage) []byte {
		var b []byte
		for _, m := range msgs {
			b, _ = m.Encode(b)
		}
		return b
	}
	f.Add(seed(&pgproto3.Query{String: "SELECT 1"}))
	f.Add(seed(&pgproto3.Parse{Query: "SELECT $1::int"}, &pgproto3.Bind{Parameters: [][]byte{{0, 0, 0, 1}}, ParameterFormatCodes: []int16{1}}, &pgproto3.Execute{MaxRows: 1}, &pgproto3.Sync{}))
	f.Add(seed(&pgproto3.Query{String: "COPY t FROM STDIN"}, &pgproto3.CopyData{Data: []byte("1\n")}, &pgproto3.CopyDone{}))
	f.Add([]byte{'P', 0, 0, 0, 4, 'S', 0, 0, 0, 4})
	db, err := planner.Open("")
	if err != nil {
		f.Fatal(err)
	}
	s := db.NewSession("fuzz", "db")
	if stmts, err := s.Parse("CREATE TABLE t (a INT)"); err == nil {
		if p, err := s.Prepare(stmts[0], nil); err == nil {
			_, _ = s.Execute(context.Background(), p, nil)
		}
	}
	log := &panicLog{}
	srv := NewServer(db, Auth{}, slog.New(log))
	f.Fuzz(func(t *testing.T, data []byte) {
		cl, sv := net.Pipe()
		defer cl.Close()
		done := make(chan struct{})
		go func() {
			c := newConn(srv, &loopbackConn{sv})
			c.serve(context.Background())
			close(done)
		}()
		go io.Copy(io.Discard, cl)
		var start []byte
		start, _ = (&pgproto3.StartupMessage{ProtocolVersion: pgproto3.ProtocolVersionNumber, Parameters: map[string]string{"user": "f"}}).Encode(start)
		_ = cl.SetWriteDeadline(time.Now().Add(200 * time.Millisecond))
		cl.Write(start)
		cl.Write(data)
		cl.Write([]byte{'X', 0, 0, 0, 4})
		cl.Close()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Fatal("server did not finish the connection")
		}
		log.mu.Lock()
		defer log.mu.Unlock()
		if len(log.msg) > 0 {
			t.Fatalf("internal error: %s", log.msg[0])
		}
	})
}

// loopbackConn makes a pipe look like a loopback TCP connection.
type loopbackConn struct{ net.Conn }

func (l *loopbackConn) RemoteAddr() net.Addr { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)} }
