package tests

import (
	"context"
	"errors"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// TestDeepInputRefused: statements nested deeper than the server can
// recurse are refused with 54001 — the server used to die of a stack
// overflow — and PostgreSQL refuses the same ones (54001 or 42601); a
// chain just inside the limit still runs and gives PostgreSQL's answer.
func TestDeepInputRefused(t *testing.T) {
	s := startServer(t)
	c := s.connect(t)
	pg, err := pgx.Connect(context.Background(), oracle(t))
	if err != nil {
		t.Fatal(err)
	}
	defer pg.Close(context.Background())
	code := func(c *pgx.Conn, q string) string {
		var one any
		err := c.QueryRow(context.Background(), q).Scan(&one)
		var pe *pgconn.PgError
		if errors.As(err, &pe) {
			return pe.Code
		}
		if err != nil {
			t.Fatalf("%.60s...: %v", q, err)
		}
		return "ok"
	}
	for name, q := range map[string]string{
		"700,000 parentheses": "SELECT " + strings.Repeat("(", 700000) + "1" + strings.Repeat(")", 700000),
		"1,000,000 terms":     "SELECT 1" + strings.Repeat("+1", 1000000),
		"1,000,000 NOTs":      "SELECT " + strings.Repeat("NOT ", 1000000) + "true",
		"20,000 terms":        "SELECT 1" + strings.Repeat("+1", 20000),
	} {
		got := code(c, q)
		if got != "54001" {
			t.Errorf("%s: got %s, want 54001", name, got)
		}
		if name != "1,000,000 NOTs" { // PostgreSQL takes minutes over that one
			if want := code(pg, q); want != "54001" && want != "42601" {
				t.Errorf("%s: PostgreSQL says %s", name, want)
			}
		}
	}
	// the server is alive, and what PostgreSQL runs still runs
	for _, q := range []string{
		"SELECT 1" + strings.Repeat("+1", 900),
		"SELECT " + strings.Repeat("(", 3000) + "1" + strings.Repeat(")", 3000),
		"SELECT count(*) FROM generate_series(1, 3) g WHERE " + strings.Repeat("g = 0 OR ", 50000) + "g > 1",
	} {
		var got, want string
		if err := c.QueryRow(context.Background(), q).Scan(&got); err != nil {
			t.Fatalf("%.60s...: %v", q, err)
		}
		if err := pg.QueryRow(context.Background(), q).Scan(&want); err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Errorf("%.60s...: got %s, PostgreSQL %s", q, got, want)
		}
	}
}

// endlessQuery would count 27 billion rows: it runs until stopped.
const endlessQuery = "SELECT count(*) FROM generate_series(1, 3000) a, generate_series(1, 3000) b, generate_series(1, 3000) c"

// waitActivity polls pg_stat_activity until the count of sessions running
// the endless query is want (it fails after 20 s).
func waitActivity(t *testing.T, c *pgx.Conn, want int) {
	t.Helper()
	for i := 0; i < 400; i++ {
		var n int
		if err := c.QueryRow(context.Background(), "SELECT count(*) FROM pg_stat_activity WHERE state = 'active' AND query = $1", endlessQuery).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n == want {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("pg_stat_activity never showed %d sessions running the query", want)
}

// A query whose client goes away stops (it used to run on, burning CPU
// and memory, until it finished); pg_stat_activity shows it running,
// then gone.
func TestClientGoneStopsQuery(t *testing.T) {
	bin := need(t, "psql")
	s := startServer(t)
	watch := s.connect(t)
	client := exec.Command(bin, s.url("tester"), "-X", "-c", endlessQuery)
	if err := client.Start(); err != nil {
		t.Fatal(err)
	}
	waitActivity(t, watch, 1)
	// the client vanishes (kill -9): no Terminate, no cancel request
	_ = client.Process.Kill()
	_ = client.Wait()
	waitActivity(t, watch, 0)
}

// SIGTERM stops a server while a query runs: the query's client gets
// FATAL 57P01, as from PostgreSQL, and the process exits.
func TestShutdownDuringQuery(t *testing.T) {
	s := startServer(t)
	watch := s.connect(t)
	c := s.connect(t)
	errc := make(chan error, 1)
	go func() { _, err := c.Exec(context.Background(), endlessQuery); errc <- err }()
	waitActivity(t, watch, 1)
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	err := <-errc
	var pe *pgconn.PgError
	if !errors.As(err, &pe) || pe.Code != "57P01" || pe.Severity != "FATAL" {
		t.Fatalf("the running query ended with %v, want FATAL 57P01", err)
	}
	if err := s.cmd.Wait(); err != nil {
		t.Fatalf("server exit: %v", err)
	}
	s.cmd = nil
}
