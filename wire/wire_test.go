package wire

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgproto3"
	"github.com/streamsql/streamsql/planner"
)

// startTestServer runs a server on a loopback port over an in-memory database.
func startTestServer(t testing.TB) string {
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
	srv := NewServer(db, Auth{}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	done := make(chan struct{})
	go func() { _ = srv.Serve(ctx, ln); close(done) }()
	t.Cleanup(func() { cancel(); <-done; db.Close() })
	return ln.Addr().String()
}

type client struct {
	t  testing.TB
	nc net.Conn
	fe *pgproto3.Frontend
}

func dial(t testing.TB, addr string) *client {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	c := &client{t: t, nc: nc, fe: pgproto3.NewFrontend(nc, nc)}
	c.fe.Send(&pgproto3.StartupMessage{ProtocolVersion: pgproto3.ProtocolVersionNumber, Parameters: map[string]string{"user": "wire", "database": "db"}})
	c.flush()
	c.until("Z")
	return c
}

func (c *client) send(msgs ...pgproto3.FrontendMessage) {
	for _, m := range msgs {
		c.fe.Send(m)
	}
	c.flush()
}

func (c *client) flush() {
	if err := c.fe.Flush(); err != nil {
		c.t.Fatal(err)
	}
}

// until reads messages up to one of the given type letters and returns a
// compact transcript of everything read.
func (c *client) until(stop string) []string {
	c.t.Helper()
	_ = c.nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	var out []string
	for {
		m, err := c.fe.Receive()
		if err != nil {
			c.t.Fatalf("receive: %v (so far %v)", err, out)
		}
		s := describe(m)
		out = append(out, s)
		if strings.HasPrefix(s, stop) {
			return out
		}
	}
}

func describe(m pgproto3.BackendMessage) string {
	switch x := m.(type) {
	case *pgproto3.ReadyForQuery:
		return "Z " + string(x.TxStatus)
	case *pgproto3.ErrorResponse:
		return "E " + x.Code
	case *pgproto3.CommandComplete:
		return "C " + string(x.CommandTag)
	case *pgproto3.DataRow:
		var vals []string
		for _, v := range x.Values {
			if v == nil {
				vals = append(vals, "NULL")
			} else {
				vals = append(vals, fmt.Sprintf("%q", v))
			}
		}
		return "D " + strings.Join(vals, ",")
	case *pgproto3.RowDescription:
		var f []string
		for _, d := range x.Fields {
			f = append(f, fmt.Sprintf("%s:%d:%d", d.Name, d.DataTypeOID, d.Format))
		}
		return "T " + strings.Join(f, ",")
	case *pgproto3.ParameterDescription:
		return fmt.Sprintf("t %v", x.ParameterOIDs)
	case *pgproto3.ParseComplete:
		return "1"
	case *pgproto3.BindComplete:
		return "2"
	case *pgproto3.CloseComplete:
		return "3"
	case *pgproto3.NoData:
		return "n"
	case *pgproto3.PortalSuspended:
		return "s"
	case *pgproto3.EmptyQueryResponse:
		return "I"
	case *pgproto3.NoticeResponse:
		return "N " + x.Message
	case *pgproto3.ParameterStatus:
		return "S " + x.Name
	case *pgproto3.CopyInResponse:
		return "G"
	case *pgproto3.CopyOutResponse:
		return "H"
	case *pgproto3.CopyData:
		return fmt.Sprintf("d %q", x.Data)
	case *pgproto3.CopyDone:
		return "c"
	}
	return fmt.Sprintf("%T", m)
}

func expect(t *testing.T, got []string, want ...string) {
	t.Helper()
	if strings.Join(got, " | ") != strings.Join(want, " | ") {
		t.Fatalf("got  %s\nwant %s", strings.Join(got, " | "), strings.Join(want, " | "))
	}
}

func TestSimpleQueryProtocol(t *testing.T) {
	c := dial(t, startTestServer(t))
	c.send(&pgproto3.Query{String: "CREATE TABLE t (a INT, b TEXT); INSERT INTO t VALUES (1, 'x'), (2, NULL); SELECT * FROM t ORDER BY a"})
	expect(t, c.until("Z"), "C CREATE TABLE", "C INSERT 0 2", "T a:23:0,b:25:0", `D "1","x"`, `D "2",NULL`, "C SELECT 2", "Z I")
	// an error stops the rest of the string; the connection stays usable
	c.send(&pgproto3.Query{String: "SELECT 1; SELECT * FROM nope; SELECT 2"})
	expect(t, c.until("Z"), "T ?column?:23:0", `D "1"`, "C SELECT 1", "E 42P01", "Z I")
	c.send(&pgproto3.Query{String: " ; "})
	expect(t, c.until("Z"), "I", "Z I")
	// transaction status, including a failed transaction block
	c.send(&pgproto3.Query{String: "BEGIN"})
	expect(t, c.until("Z"), "C BEGIN", "Z T")
	c.send(&pgproto3.Query{String: "SELECT 1/0"})
	expect(t, c.until("Z"), "E 22012", "Z E")
	c.send(&pgproto3.Query{String: "SELECT 1"})
	expect(t, c.until("Z"), "E 25P02", "Z E")
	c.send(&pgproto3.Query{String: "ROLLBACK"})
	expect(t, c.until("Z"), "C ROLLBACK", "Z I")
	c.send(&pgproto3.Query{String: "SET TIME ZONE 'Europe/Paris'"})
	expect(t, c.until("Z"), "S TimeZone", "C SET", "Z I")
}

func TestExtendedProtocol(t *testing.T) {
	c := dial(t, startTestServer(t))
	c.send(&pgproto3.Query{String: "CREATE TABLE t (a BIGINT, b TEXT); INSERT INTO t SELECT g, 'r' || g FROM generate_series(1, 10) g"})
	c.until("Z")
	// parameter types are inferred when the client leaves them 0
	c.send(&pgproto3.Parse{Name: "q", Query: "SELECT a, b FROM t WHERE a > $1 ORDER BY a"},
		&pgproto3.Describe{ObjectType: 'S', Name: "q"}, &pgproto3.Sync{})
	expect(t, c.until("Z"), "1", "t [20]", "T a:20:0,b:25:0", "Z I")
	// row limits: PortalSuspended, then the rest, then CommandComplete with the total
	c.send(&pgproto3.Bind{PreparedStatement: "q", Parameters: [][]byte{[]byte("6")}, ResultFormatCodes: []int16{1, 0}},
		&pgproto3.Execute{MaxRows: 3}, &pgproto3.Execute{MaxRows: 3}, &pgproto3.Sync{})
	expect(t, c.until("Z"), "2", `D "\x00\x00\x00\x00\x00\x00\x00\a","r7"`, `D "\x00\x00\x00\x00\x00\x00\x00\b","r8"`, `D "\x00\x00\x00\x00\x00\x00\x00\t","r9"`, "s",
		`D "\x00\x00\x00\x00\x00\x00\x00\n","r10"`, "C SELECT 4", "Z I")
	// after an error everything up to Sync is discarded; one ReadyForQuery per Sync
	c.send(&pgproto3.Parse{Query: "SELEC nonsense"}, &pgproto3.Bind{}, &pgproto3.Execute{}, &pgproto3.Sync{},
		&pgproto3.Parse{Query: "SELECT $1::int + 1"}, &pgproto3.Bind{Parameters: [][]byte{[]byte("41")}}, &pgproto3.Describe{ObjectType: 'P'}, &pgproto3.Execute{}, &pgproto3.Sync{})
	expect(t, c.until("Z"), "E 42601", "Z I")
	expect(t, c.until("Z"), "1", "2", "T ?column?:23:0", `D "42"`, "C SELECT 1", "Z I")
	// statements without rows, Close, unknown names
	c.send(&pgproto3.Parse{Name: "ins", Query: "INSERT INTO t VALUES ($1, $2)"}, &pgproto3.Describe{ObjectType: 'S', Name: "ins"},
		&pgproto3.Bind{PreparedStatement: "ins", Parameters: [][]byte{[]byte("99"), nil}}, &pgproto3.Execute{},
		&pgproto3.Close{ObjectType: 'S', Name: "ins"}, &pgproto3.Bind{PreparedStatement: "ins"}, &pgproto3.Sync{})
	expect(t, c.until("Z"), "1", "t [20 25]", "n", "2", "C INSERT 0 1", "3", "E 26000", "Z I")
	// Flush pushes pending replies without a Sync
	c.send(&pgproto3.Parse{Query: "SELECT 1"}, &pgproto3.Flush{})
	expect(t, c.until("1"), "1")
	c.send(&pgproto3.Sync{})
	expect(t, c.until("Z"), "Z I")
}

func TestCopyProtocol(t *testing.T) {
	c := dial(t, startTestServer(t))
	c.send(&pgproto3.Query{String: "CREATE TABLE t (a INT, b TEXT)"})
	c.until("Z")
	c.send(&pgproto3.Query{String: "COPY t FROM STDIN"})
	if got := c.until("G"); len(got) != 1 {
		t.Fatalf("expected CopyInResponse, got %v", got)
	}
	c.send(&pgproto3.CopyData{Data: []byte("1\tone\n2\t\\N\n3\ttab\\there")}, &pgproto3.CopyData{Data: []byte("\n")}, &pgproto3.CopyDone{})
	expect(t, c.until("Z"), "C COPY 3", "Z I")
	c.send(&pgproto3.Query{String: "COPY t FROM STDIN"})
	c.until("G")
	c.send(&pgproto3.CopyData{Data: []byte("x\ty\n")}, &pgproto3.CopyDone{})
	expect(t, c.until("Z"), "E 22P02", "Z I")
	c.send(&pgproto3.Query{String: "COPY (SELECT * FROM t ORDER BY a) TO STDOUT"})
	expect(t, c.until("Z"), "H", `d "1\tone\n"`, `d "2\t\\N\n"`, `d "3\ttab\\there\n"`, "c", "C COPY 3", "Z I")
}

func TestTerminateAndGarbage(t *testing.T) {
	addr := startTestServer(t)
	c := dial(t, addr)
	c.send(&pgproto3.Terminate{})
	_ = c.nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.fe.Receive(); err == nil {
		t.Fatal("connection still open after Terminate")
	}
	// garbage instead of a startup packet closes that connection only
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	nc.Write([]byte{0, 0, 0, 9, 1, 2, 3, 4, 5})
	nc.Close()
	c2 := dial(t, addr)
	c2.send(&pgproto3.Query{String: "SELECT 1"})
	c2.until("Z")
}

// A cursor DECLAREd in SQL is a portal of the protocol too: it can be
// described (psycopg 3 does), executed with a row limit and closed; a
// BINARY cursor's rows come in binary format.
func TestCursorsArePortals(t *testing.T) {
	c := dial(t, startTestServer(t))
	c.send(&pgproto3.Query{String: "BEGIN; DECLARE c CURSOR FOR SELECT g AS n FROM generate_series(1, 5) g"})
	expect(t, c.until("Z"), "C BEGIN", "C DECLARE CURSOR", "Z T")
	c.send(&pgproto3.Describe{ObjectType: 'P', Name: "c"}, &pgproto3.Execute{Portal: "c", MaxRows: 2}, &pgproto3.Execute{Portal: "c"}, &pgproto3.Sync{})
	expect(t, c.until("Z"), "T n:23:0", `D "1"`, `D "2"`, "s", `D "3"`, `D "4"`, `D "5"`, "C FETCH 3", "Z T")
	c.send(&pgproto3.Close{ObjectType: 'P', Name: "c"}, &pgproto3.Sync{})
	expect(t, c.until("Z"), "3", "Z T")
	c.send(&pgproto3.Query{String: "FETCH c"})
	expect(t, c.until("Z"), "E 34000", "Z E")
	c.send(&pgproto3.Query{String: "ROLLBACK; BEGIN; DECLARE b BINARY CURSOR FOR SELECT 7::int4 AS x; FETCH b"})
	expect(t, c.until("Z"), "C ROLLBACK", "C BEGIN", "C DECLARE CURSOR", "T x:23:1", `D "\x00\x00\x00\a"`, "C FETCH 1", "Z T")
}
