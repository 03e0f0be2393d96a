package wire

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgproto3"
	"github.com/streamsql/streamsql/planner"
)

// startServerWith runs a server with the given authentication and start-up
// timeout over an in-memory database.
func startServerWith(t testing.TB, auth Auth, authTimeout time.Duration) string {
	t.Helper()
	db, err := planner.Open("")
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	srv := NewServer(db, auth, slog.New(slog.NewTextHandler(io.Discard, nil)))
	srv.AuthTimeout = authTimeout
	done := make(chan struct{})
	go func() { _ = srv.Serve(ctx, ln); close(done) }()
	t.Cleanup(func() { cancel(); <-done; db.Close() })
	return ln.Addr().String()
}

// fatalThenClose reads what the server sends until it closes the
// connection and returns the FATAL error it sent (nil if none).
func fatalThenClose(t *testing.T, nc net.Conn) *pgproto3.ErrorResponse {
	t.Helper()
	_ = nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	fe := pgproto3.NewFrontend(nc, nc)
	var fatal *pgproto3.ErrorResponse
	for {
		m, err := fe.Receive()
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				t.Fatal("the server kept the connection open")
			}
			return fatal
		}
		if e, ok := m.(*pgproto3.ErrorResponse); ok {
			c := *e
			fatal = &c
		}
	}
}

func header(typ byte, length uint32) []byte {
	b := []byte{typ, 0, 0, 0, 0}
	binary.BigEndian.PutUint32(b[1:], length)
	return b
}

// TestMessageLimits: a message longer than PostgreSQL allows is refused
// with a FATAL protocol violation before its body is read, in every phase.
func TestMessageLimits(t *testing.T) {
	addr := startTestServer(t)
	for _, tc := range []struct {
		name string
		msg  []byte
		want string
	}{
		{"query of 2 GiB", header('Q', 0x7fffffff), "invalid message length"},
		{"sync with a body", header('S', 20000), "invalid message length"},
		{"unknown type", header('y', 8), "invalid frontend message type 121"},
		{"password after login", append(header('p', 8), 'a', 'b', 'c', 0), "invalid frontend message type 112"},
		{"negative length", header('Q', 0x80000000), "invalid message length"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := dial(t, addr)
			if _, err := c.nc.Write(tc.msg); err != nil {
				t.Fatal(err)
			}
			e := fatalThenClose(t, c.nc)
			if e == nil || e.Code != "08P01" || e.Severity != "FATAL" || !strings.Contains(e.Message, tc.want) {
				t.Fatalf("got %+v, want FATAL 08P01 %q", e, tc.want)
			}
		})
	}
	t.Run("startup packet of 2 GiB", func(t *testing.T) {
		nc, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		nc.Write([]byte{0x7f, 0xff, 0xff, 0xff, 0, 3, 0, 0})
		if e := fatalThenClose(t, nc); e == nil || e.Code != "08P01" {
			t.Fatalf("got %+v, want FATAL 08P01", e)
		}
	})
	// the server is still fine
	c := dial(t, addr)
	c.send(&pgproto3.Query{String: "SELECT 1"})
	expect(t, c.until("Z"), "T ?column?:23:0", `D "1"`, "C SELECT 1", "Z I")
}

// TestAuthMessageLimit: before authentication a password message is at
// most 65,535 bytes, and nothing but a password message is read.
func TestAuthMessageLimit(t *testing.T) {
	addr := startServerWith(t, Auth{Users: map[string]string{"u": "secret"}, Cleartext: true}, 0)
	for _, msg := range [][]byte{header('p', 0x7fffffff), header('p', 70000), append(header('Q', 13), []byte("SELECT 1;\x00")...)} {
		nc, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		fe := pgproto3.NewFrontend(nc, nc)
		fe.Send(&pgproto3.StartupMessage{ProtocolVersion: pgproto3.ProtocolVersionNumber, Parameters: map[string]string{"user": "u"}})
		if err := fe.Flush(); err != nil {
			t.Fatal(err)
		}
		if m, err := fe.Receive(); err != nil {
			t.Fatal(err)
		} else if _, ok := m.(*pgproto3.AuthenticationCleartextPassword); !ok {
			t.Fatalf("got %T", m)
		}
		nc.Write(msg)
		if e := fatalThenClose(t, nc); e == nil || e.Code != "08P01" {
			t.Fatalf("%x: got %+v, want FATAL 08P01", msg[:5], e)
		}
		nc.Close()
	}
}

// TestAuthenticationTimeout: a connection that never finishes logging in
// is closed.
func TestAuthenticationTimeout(t *testing.T) {
	addr := startServerWith(t, Auth{Users: map[string]string{"u": "secret"}}, 300*time.Millisecond)
	silent, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	start := time.Now()
	fatalThenClose(t, silent)
	// one that stops after the start-up packet, at the password prompt
	half, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer half.Close()
	fe := pgproto3.NewFrontend(half, half)
	fe.Send(&pgproto3.StartupMessage{ProtocolVersion: pgproto3.ProtocolVersionNumber, Parameters: map[string]string{"user": "u"}})
	if err := fe.Flush(); err != nil {
		t.Fatal(err)
	}
	e := fatalThenClose(t, half)
	if e == nil || !strings.Contains(e.Message, "timeout") {
		t.Fatalf("got %+v, want a timeout", e)
	}
	if time.Since(start) > 4*time.Second {
		t.Fatalf("took %v", time.Since(start))
	}
}

// TestFunctionCallAndMalformed: a FunctionCall gets an error and
// ReadyForQuery (the client does not hang); a malformed message ends the
// connection with an ErrorResponse saying why.
func TestFunctionCallAndMalformed(t *testing.T) {
	addr := startTestServer(t)
	c := dial(t, addr)
	c.send(&pgproto3.FunctionCall{Function: 1598, Arguments: [][]byte{}, ResultFormatCode: 0})
	expect(t, c.until("Z"), "E 0A000", "Z I")
	c.send(&pgproto3.Query{String: "SELECT 1"})
	expect(t, c.until("Z"), "T ?column?:23:0", `D "1"`, "C SELECT 1", "Z I")
	// a Bind whose parameter count runs past the message
	bad := append(header('B', 4+2+2+2+2), 0, 0, 0, 0, 0, 0, 0, 9)
	c.nc.Write(bad)
	if e := fatalThenClose(t, c.nc); e == nil || e.Code != "08P01" {
		t.Fatalf("got %+v, want FATAL 08P01", e)
	}
}

// TestFramingAllocatesWhatArrives: a header announcing a huge message
// makes the reader hold only the bytes that really came.
func TestFramingAllocatesWhatArrives(t *testing.T) {
	cl, sv := net.Pipe()
	defer cl.Close()
	r := &peerReader{nc: sv, phase: phaseReady}
	go func() {
		cl.Write(header('Q', largeMessage))
		cl.Write([]byte("SELECT 1"))
		cl.Close()
	}()
	buf := make([]byte, 16)
	if _, err := r.Read(buf); err == nil {
		t.Fatal("a truncated message was handed on")
	}
	if cap(r.raw) > 1<<20 {
		t.Fatalf("reader reserved %d bytes for 13 received", cap(r.raw))
	}
}
