package tests

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
)

// The example: a view over a stream with a 3-second retention
// keeps its rows after retention has removed every record and the server
// restarted (before checkpoints it came back empty: its rebuild replayed
// the stream, which no longer held them), and after a kill -9 it has the
// rows written since its last checkpoint too.
func TestViewOutlivesRetention(t *testing.T) {
	s := startServer(t)
	c := s.connect(t)
	exec, rows := execer(t, c), querier(t, c)
	exec("CREATE STREAM ev (k TEXT, v BIGINT, ts TIMESTAMP) WITH (retention = '3s')")
	exec("CREATE MATERIALIZED VIEW tot AS SELECT k, count(*) AS n, sum(v) AS s FROM ev GROUP BY k")
	exec("INSERT INTO ev SELECT 'a', g, '2026-01-01' FROM generate_series(1, 1000) g")
	exec("FLUSH")
	if got := rows("SELECT k, n, s::text FROM tot"); got != "a 1000 500500" {
		t.Fatalf("before: %s", got)
	}
	waitUntil(t, func() bool { return rows("SELECT count(*) FROM ev") == "0" })
	s.restart()
	c = s.connect(t)
	exec, rows = execer(t, c), querier(t, c)
	if got := rows("SELECT k, n, s::text FROM tot"); got != "a 1000 500500" {
		t.Fatalf("after retention removed the records and a restart: %s", got)
	}
	if got := rows("SELECT restored_from > 0, checkpoint_id > 0, failures FROM streamsql_checkpoints WHERE name = 'tot'"); got != "true true 0" {
		t.Fatalf("streamsql_checkpoints: %s", got)
	}
	exec("INSERT INTO ev SELECT 'a', g, '2026-01-01' FROM generate_series(1001, 1010) g")
	exec("FLUSH")
	s.kill()
	s.start()
	c = s.connect(t)
	if got := querier(t, c)("SELECT k, n, s::text FROM tot"); got != "a 1010 510555" {
		t.Fatalf("after a kill -9: %s", got)
	}
}

// CHECKPOINT returns once every view's checkpoint is durable;
// checkpoint_interval is a server-wide setting: SHOW reads it, SET refuses
// it, ALTER SYSTEM SET changes it for every view and keeps it across
// restarts, ALTER SYSTEM RESET goes back to the server's flag.
func TestCheckpointCommandAndInterval(t *testing.T) {
	s := startServer(t, "--checkpoint-interval", "2s")
	c := s.connect(t)
	exec, rows := execer(t, c), querier(t, c)
	if got := rows("SHOW checkpoint_interval"); got != "2s" {
		t.Fatalf("SHOW checkpoint_interval: %s", got)
	}
	_, err := c.Exec(context.Background(), "SET checkpoint_interval = '1s'")
	var pe *pgconn.PgError
	if !errors.As(err, &pe) || pe.Code != "55P02" || !strings.Contains(pe.Hint, "ALTER SYSTEM") {
		t.Fatalf("SET checkpoint_interval: %v", err)
	}
	exec("CREATE STREAM ev (k INT, v INT)")
	exec("CREATE MATERIALIZED VIEW s AS SELECT k, sum(v) FROM ev GROUP BY k")
	exec("INSERT INTO ev SELECT g % 10, g FROM generate_series(1, 100) g")
	exec("FLUSH")
	exec("CHECKPOINT")
	first := rows("SELECT checkpoint_id FROM streamsql_checkpoints WHERE name = 's'")
	if first == "0" || first == "" {
		t.Fatalf("no checkpoint after CHECKPOINT: %q", first)
	}
	exec("ALTER SYSTEM SET checkpoint_interval = '50ms'")
	if got := rows("SHOW checkpoint_interval"); got != "50ms" {
		t.Fatalf("after ALTER SYSTEM: %s", got)
	}
	exec("INSERT INTO ev VALUES (1, 1)")
	exec("FLUSH")
	waitUntil(t, func() bool { return rows("SELECT checkpoint_id FROM streamsql_checkpoints WHERE name = 's'") != first })
	s.restart()
	c = s.connect(t)
	rows = querier(t, c)
	if got := rows("SHOW checkpoint_interval"); got != "50ms" {
		t.Fatalf("after a restart: %s", got)
	}
	execer(t, c)("ALTER SYSTEM RESET checkpoint_interval")
	if got := rows("SHOW checkpoint_interval"); got != "2s" {
		t.Fatalf("after ALTER SYSTEM RESET: %s", got)
	}
	_, err = c.Exec(context.Background(), "ALTER SYSTEM SET no_such_setting = 1")
	if !errors.As(err, &pe) || pe.Code != "42704" {
		t.Fatalf("ALTER SYSTEM of an unknown setting: %v", err)
	}
	// EXPLAIN MATERIALIZED VIEW shows the last checkpoint
	execer(t, c)("CHECKPOINT")
	if got := rows("EXPLAIN MATERIALIZED VIEW s"); !strings.Contains(got, "checkpoint ") {
		t.Fatalf("EXPLAIN MATERIALIZED VIEW: %s", got)
	}
}
