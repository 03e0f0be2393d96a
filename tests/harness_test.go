package tests

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	// the binary under test is built from these packages: importing them
	// makes go test's cache notice when they change
	_ "github.com/streamsql/streamsql/wire"
)

var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "streamsql-bin")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "streamsql")
	build := exec.Command("go", "build", "-o", binary, "../cmd/streamsql")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building streamsql:", err)
		os.Exit(1)
	}
	code := m.Run()
	stopOracle()
	os.RemoveAll(dir)
	os.Exit(code)
}

// inCI reports whether missing tools must fail tests instead of skipping them.
func inCI() bool { return os.Getenv("CI") == "true" }

// need skips (or, in CI, fails) when a tool is missing.
func need(t testing.TB, tool string) string {
	t.Helper()
	p, err := exec.LookPath(tool)
	if err != nil {
		if inCI() {
			t.Fatalf("%s is required in CI but not installed", tool)
		}
		t.Skipf("%s not installed", tool)
	}
	return p
}

func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// server is a running streamsql process.
type server struct {
	t       testing.TB
	port    int
	dataDir string
	args    []string
	command string // "serve" unless set (e.g. "demo")
	cmd     *exec.Cmd
	log     *os.File
}

// startServer runs streamsql on a free loopback port with a fresh data
// directory; it is stopped when the test ends.
func startServer(t testing.TB, args ...string) *server {
	t.Helper()
	s := &server{t: t, dataDir: t.TempDir(), args: args}
	s.start()
	t.Cleanup(s.stop)
	return s
}

func (s *server) start() {
	s.t.Helper()
	s.port = freePort(s.t)
	logf, err := os.CreateTemp(s.t.TempDir(), "server-*.log")
	if err != nil {
		s.t.Fatal(err)
	}
	s.log = logf
	command := s.command
	if command == "" {
		command = "serve"
	}
	args := append([]string{command, "--listen", fmt.Sprintf("127.0.0.1:%d", s.port), "--data-dir", s.dataDir, "--http", ""}, s.args...)
	s.cmd = exec.Command(binary, args...)
	s.cmd.Stdout, s.cmd.Stderr = logf, logf
	if err := s.cmd.Start(); err != nil {
		s.t.Fatal(err)
	}
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		c, err := net.Dial("tcp", s.addr())
		if err == nil {
			c.Close()
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	s.t.Fatalf("streamsql did not start; log:\n%s", s.logText())
}

func (s *server) logText() string {
	b, _ := os.ReadFile(s.log.Name())
	return string(b)
}

func (s *server) addr() string { return fmt.Sprintf("127.0.0.1:%d", s.port) }

// stop sends SIGINT and waits, as Ctrl-C would.
func (s *server) stop() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	_ = s.cmd.Process.Signal(os.Interrupt)
	done := make(chan error, 1)
	go func() { done <- s.cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = s.cmd.Process.Kill()
		<-done
	}
	s.cmd = nil
}

// goroutines makes the server print every goroutine's stack and exit
// (SIGQUIT), and returns its log: for a statement that never finished.
func (s *server) goroutines() string {
	if s.cmd == nil || s.cmd.Process == nil {
		return s.logText()
	}
	_ = s.cmd.Process.Signal(syscall.SIGQUIT)
	_ = s.cmd.Wait()
	s.cmd = nil
	return s.logText()
}

// kill stops the process abruptly (kill -9).
func (s *server) kill() {
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Signal(syscall.SIGKILL)
	_ = s.cmd.Wait()
	s.cmd = nil
}

func (s *server) restart() {
	s.stop()
	s.start()
}

func (s *server) url(user string) string {
	return fmt.Sprintf("postgres://%s@127.0.0.1:%d/streamsql?sslmode=disable", user, s.port)
}

// connectErr connects without failing the test (for connections that may
// race with the server going away).
func (s *server) connectErr() (*pgx.Conn, error) {
	return pgx.Connect(context.Background(), s.url("tester"))
}

func (s *server) connect(t testing.TB) *pgx.Conn {
	t.Helper()
	c, err := pgx.Connect(context.Background(), s.url("tester"))
	if err != nil {
		t.Fatalf("connect: %v\nlog:\n%s", err, s.logText())
	}
	t.Cleanup(func() { c.Close(context.Background()) })
	return c
}

// The PostgreSQL oracle: one server for the whole test run, started on
// demand as a non-root user on a private port.
var (
	oracleOnce sync.Once
	oracleURL  string
	oracleErr  error
	oracleStop func()
)

func pgBin(name string) (string, error) {
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	matches, _ := filepath.Glob("/usr/lib/postgresql/*/bin/" + name)
	if len(matches) > 0 {
		return matches[len(matches)-1], nil
	}
	return "", fmt.Errorf("%s not found", name)
}

// oracle returns a connection string for a real PostgreSQL.
func oracle(t testing.TB) string {
	t.Helper()
	oracleOnce.Do(startOracle)
	if oracleErr != nil {
		if inCI() {
			t.Fatalf("PostgreSQL oracle unavailable: %v", oracleErr)
		}
		t.Skipf("PostgreSQL oracle unavailable: %v", oracleErr)
	}
	return oracleURL
}

func startOracle() {
	initdb, err := pgBin("initdb")
	if err != nil {
		oracleErr = err
		return
	}
	pgctl, err := pgBin("pg_ctl")
	if err != nil {
		oracleErr = err
		return
	}
	dir, err := os.MkdirTemp("", "pg-oracle")
	if err != nil {
		oracleErr = err
		return
	}
	os.Chmod(dir, 0o777)
	data := filepath.Join(dir, "data")
	port := 0
	if l, err := net.Listen("tcp", "127.0.0.1:0"); err == nil {
		port = l.Addr().(*net.TCPAddr).Port
		l.Close()
	}
	run := func(args ...string) error {
		var cmd *exec.Cmd
		if os.Geteuid() == 0 {
			u := "postgres"
			if _, err := user.Lookup(u); err != nil {
				u = "nobody"
			}
			cmd = exec.Command("runuser", append([]string{"-u", u, "--"}, args...)...)
		} else {
			cmd = exec.Command(args[0], args[1:]...)
		}
		out, err := cmd.CombinedOutput()
		if err != nil {
			return fmt.Errorf("%s: %v: %s", strings.Join(args, " "), err, out)
		}
		return nil
	}
	if err := run(initdb, "-D", data, "-U", "postgres", "--locale=C", "-E", "UTF8", "-A", "trust"); err != nil {
		oracleErr = err
		return
	}
	opts := "-p " + strconv.Itoa(port) + " -k " + dir + " -c listen_addresses=127.0.0.1 -c fsync=off -c TimeZone=UTC"
	if err := run(pgctl, "-D", data, "-o", opts, "-l", filepath.Join(dir, "log"), "-w", "start"); err != nil {
		oracleErr = err
		return
	}
	oracleURL = fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", port)
	oracleStop = func() {
		_ = run(pgctl, "-D", data, "-m", "immediate", "stop")
		os.RemoveAll(dir)
	}
}

func stopOracle() {
	if oracleStop != nil {
		oracleStop()
	}
}

// execer returns a function that runs a statement on c, failing the test
// on an error.
func execer(t *testing.T, c *pgx.Conn) func(string) {
	return func(q string) {
		t.Helper()
		if _, err := c.Exec(context.Background(), q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
}

// querier returns a function that runs a query on c and renders its rows
// ("a b; c d").
func querier(t *testing.T, c *pgx.Conn) func(string) string {
	return func(q string) string {
		t.Helper()
		rs, err := c.Query(context.Background(), q)
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		defer rs.Close()
		var out []string
		for rs.Next() {
			vals, err := rs.Values()
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, joinValues(vals))
		}
		return strings.Join(out, "; ")
	}
}

// oraclePair connects to a fresh PostgreSQL database named db and to a
// fresh streamsql server: the two sides of a comparison, closed (and the
// database dropped) when the test ends.
func oraclePair(t *testing.T, db string) (pg, ss *pgconn.PgConn) {
	t.Helper()
	url := oracle(t)
	ctx := context.Background()
	admin, err := pgconn.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = admin.Exec(ctx, "DROP DATABASE IF EXISTS "+db).ReadAll()
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+db).ReadAll(); err != nil {
		admin.Close(ctx)
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_, _ = admin.Exec(ctx, "DROP DATABASE "+db+" WITH (FORCE)").ReadAll()
		admin.Close(ctx)
	})
	if pg, err = pgconn.Connect(ctx, strings.Replace(url, "/postgres?", "/"+db+"?", 1)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pg.Close(ctx) })
	s := startServer(t)
	if ss, err = pgconn.Connect(ctx, s.url("u")); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ss.Close(ctx) })
	return pg, ss
}
