package tests

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// viewErrorSetup is a stream, a table and views whose expressions fail on
// some rows: by division, a cast, an overflow, in a filter, a projection,
// an aggregate's argument, a join's condition and a view over a view.
const viewErrorSetup = `
CREATE STREAM s (k TEXT, v INT, t TEXT) WITH (shards = 3);
CREATE TABLE rates (k TEXT PRIMARY KEY, r INT);
INSERT INTO rates VALUES ('a', 2), ('b', 0), ('c', 5);
CREATE MATERIALIZED VIEW p AS SELECT k, sum(100 / v) AS s, count(*) AS n FROM s GROUP BY k;
CREATE MATERIALIZED VIEW q AS SELECT k, 100 / v AS d, t::int AS ti FROM s WHERE 10 / v >= 0;
CREATE MATERIALIZED VIEW big AS SELECT k, v * 1000000000 AS w FROM s;
CREATE MATERIALIZED VIEW j AS SELECT s.k, s.v, rates.r FROM s JOIN rates ON s.k = rates.k AND s.v / rates.r > 0;
CREATE MATERIALIZED VIEW pp AS SELECT n, count(*) AS c FROM p GROUP BY n;
`

// the rows: ('b', 0) divides by zero, 'x' is no integer, 3000 overflows
// int4 when multiplied, and the join divides by b's rate 0
const viewErrorRows = `INSERT INTO s VALUES ('a', 5, '1'), ('b', 0, '2'), ('a', 10, 'x'), ('c', 3000, '3'), ('b', 4, '4'), ('c', 1, '5')`

// TestBadRowsDoNotPoisonViews: a row an expression fails on is left out of
// the view and kept in <view>_errors; the view, other views and FLUSH go
// on working, also after a restart (no row reported twice), and each view
// holds what PostgreSQL computes over the rows that do not fail.
func TestBadRowsDoNotPoisonViews(t *testing.T) {
	for _, args := range [][]string{nil, {"--view-batch-size", "1"}} {
		t.Run(strings.Join(append([]string{"batch"}, args...), " "), func(t *testing.T) {
			s := startServer(t, args...)
			c := s.connect(t)
			exec := execer(t, c)
			for _, q := range strings.Split(strings.TrimSpace(viewErrorSetup), ";\n") {
				exec(q)
			}
			exec(viewErrorRows)
			exec("FLUSH")
			// another session's FLUSH is not affected
			execer(t, s.connect(t))("FLUSH")
			check := func(when string) {
				t.Helper()
				q := querier(t, s.connect(t))
				for _, v := range []struct{ query, want string }{
					{"SELECT k, s, n FROM p ORDER BY k", "a 30 2; b 25 1; c 100 2"},
					{"SELECT k, d, ti FROM q ORDER BY k, d", "a 20 1; b 25 4; c 0 3; c 100 5"},
					{"SELECT k, w FROM big ORDER BY k, w", "b 0; c 1000000000"},
					{"SELECT k, v, r FROM j ORDER BY k, v", "a 5 2; a 10 2; c 3000 5"},
					{"SELECT n, c FROM pp ORDER BY n", "1 1; 2 2"},
					{"SELECT count(*), min(sqlstate), max(sqlstate) FROM p_errors", "1 22012 22012"},
					{"SELECT count(*), string_agg(sqlstate, ',' ORDER BY sqlstate) FROM q_errors", "2 22012,22P02"},
					{"SELECT count(*), min(sqlstate) FROM big_errors", "4 22003"},
					{"SELECT count(*), min(sqlstate) FROM j_errors", "2 22012"},
					{"SELECT input_row->>'k', input_row->>'v', error, source, source_shard IS NOT NULL, source_seq > 0 FROM p_errors", "b 0 division by zero s true true"},
					{"SELECT view, state, errors FROM streamsql_views WHERE view IN ('p', 'q', 'j') ORDER BY 1", "j running 2; p running 1; q running 2"},
				} {
					if got := q(v.query); got != v.want {
						t.Errorf("%s: %s\n got  %s\n want %s", when, v.query, got, v.want)
					}
				}
			}
			check("before restart")
			s.restart()
			check("after restart")
			// and the same again after more rows, bad and good
			c = s.connect(t)
			execer(t, c)("INSERT INTO s VALUES ('d', 0, 'y'), ('d', 50, '6')")
			execer(t, c)("FLUSH")
			q := querier(t, c)
			if got := q("SELECT k, s, n FROM p WHERE k = 'd'"); got != "d 2 1" {
				t.Errorf("p after more rows: %s", got)
			}
			if got := q("SELECT (SELECT count(*) FROM p_errors), (SELECT count(*) FROM q_errors)"); got != "2 3" {
				t.Errorf("errors after more rows: %s", got)
			}
		})
	}
	// PostgreSQL over the rows that do not fail gives the same views
	pg, err := pgx.Connect(context.Background(), oracle(t))
	if err != nil {
		t.Fatal(err)
	}
	defer pg.Close(context.Background())
	q := querier(t, pg)
	for _, v := range []struct{ query, want string }{
		{"SELECT k, sum(100 / v), count(*) FROM (VALUES ('a', 5), ('a', 10), ('c', 3000), ('b', 4), ('c', 1)) s(k, v) GROUP BY k ORDER BY k", "a 30 2; b 25 1; c 100 2"},
		{"SELECT k, 100 / v, t::int FROM (VALUES ('a', 5, '1'), ('c', 3000, '3'), ('b', 4, '4'), ('c', 1, '5')) s(k, v, t) WHERE 10 / v >= 0 ORDER BY 1, 2", "a 20 1; b 25 4; c 0 3; c 100 5"},
		{"SELECT k, v * 1000000000 FROM (VALUES ('b', 0), ('c', 1)) s(k, v) ORDER BY 1", "b 0; c 1000000000"},
		{"SELECT s.k, s.v, r.r FROM (VALUES ('a', 5), ('a', 10), ('c', 3000), ('c', 1)) s(k, v) JOIN (VALUES ('a', 2), ('c', 5)) r(k, r) ON s.k = r.k AND s.v / r.r > 0 ORDER BY 1, 2", "a 5 2; a 10 2; c 3000 5"},
	} {
		if got := q(v.query); got != v.want {
			t.Errorf("PostgreSQL: %s: %s, want %s", v.query, got, v.want)
		}
	}
}

// TestVaryingFunctionsRefusedInViews: now(), random() and the like in a
// view over a stream are refused with the reason (they would be computed
// once per row as it arrives); in a SELECT they work.
func TestVaryingFunctionsRefusedInViews(t *testing.T) {
	s := startServer(t)
	c := s.connect(t)
	execer(t, c)("CREATE STREAM ev (ts TIMESTAMPTZ, v INT)")
	for _, q := range []string{
		"CREATE MATERIALIZED VIEW recent AS SELECT * FROM ev WHERE ts > now() - INTERVAL '1 minute'",
		"CREATE MATERIALIZED VIEW sampled AS SELECT v FROM ev WHERE random() < 0.5",
		"CREATE MATERIALIZED VIEW stamped AS SELECT v, current_timestamp AS at FROM ev",
		"CREATE SINK s1 AS SELECT v, clock_timestamp() FROM ev WITH (connector = 'blackhole')",
	} {
		_, err := c.Exec(context.Background(), q)
		var pe *pgconn.PgError
		if !errors.As(err, &pe) || pe.Code != "0A000" || !strings.Contains(pe.Message, "cannot use") {
			t.Errorf("%s: %v", q, err)
		}
	}
	if got := querier(t, c)("SELECT count(*) FROM pg_class WHERE relname IN ('recent', 'recent_errors', 'sampled', 'stamped')"); got != "0" {
		t.Errorf("a refused view left %s objects behind", got)
	}
	execer(t, c)("CREATE MATERIALIZED VIEW ok AS SELECT v, current_user AS who FROM ev")
	if got := querier(t, c)("SELECT count(*) FROM ev WHERE ts < now()"); got != "0" {
		t.Error(got)
	}
}

// TestViewReadsWaitForCatchUp: a view created over existing data, and any
// view right after a restart, answers with everything written before, not
// with what it has read so far; the wait is visible in streamsql_views
// and bounded by view_catchup_timeout.
func TestViewReadsWaitForCatchUp(t *testing.T) {
	s := startServer(t, "--view-batch-size", "512")
	c := s.connect(t)
	exec := execer(t, c)
	exec("CREATE STREAM ev (k INT, n INT) WITH (shards = 2)")
	for i := 0; i < 4; i++ {
		exec(fmt.Sprintf("INSERT INTO ev SELECT g %% 100, 1 FROM generate_series(%d, %d) g", i*250000+1, (i+1)*250000))
	}
	// no FLUSH: the read itself must wait
	var notice string
	cfg, _ := pgx.ParseConfig(s.url("tester"))
	cfg.OnNotice = func(_ *pgconn.PgConn, n *pgconn.Notice) { notice = n.Message }
	nc, err := pgx.ConnectConfig(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close(context.Background())
	if _, err := nc.Exec(context.Background(), "CREATE MATERIALIZED VIEW tot AS SELECT sum(n) AS s, count(*) AS c FROM ev"); err != nil {
		t.Fatal(err)
	}
	// the backfill blocks no one: other sessions write and read meanwhile,
	// and its progress is there to see
	exec("CREATE TABLE side (x INT)")
	exec("INSERT INTO side VALUES (1)")
	if got := querier(t, c)("SELECT count(*) FROM side"); got != "1" {
		t.Fatalf("a table beside the backfill: %s", got)
	}
	if got := querier(t, c)("SELECT catchup_total, catchup_read <= catchup_total FROM streamsql_views WHERE view = 'tot'"); got != "1000000 true" {
		t.Fatalf("the backfill's progress: %s", got)
	}
	if got := querier(t, c)("SELECT s, c FROM tot"); got != "1000000 1000000" {
		t.Fatalf("right after CREATE: %s", got)
	}
	if !strings.Contains(notice, "catching up on 1000000 existing records") {
		t.Errorf("CREATE said %q", notice)
	}
	// a clean stop checkpoints: the restarted view has nothing to read again
	s.restart()
	c = s.connect(t)
	if got := querier(t, c)("SELECT s, c FROM tot"); got != "1000000 1000000" {
		t.Fatalf("right after a restart: %s", got)
	}
	if got := querier(t, c)("SELECT caught_up, catchup_read = catchup_total, catchup_total FROM streamsql_views WHERE view = 'tot'"); got != "true true 0" {
		t.Errorf("streamsql_views after a restart from a checkpoint: %s", got)
	}
	// without a checkpoint (one only when asked, and a crash) it replays:
	// a read waits for it, and a timeout too short to catch up is a clear
	// error, not a partial answer
	s.args = append(s.args, "--checkpoint-interval", "0")
	s.restart()
	c = s.connect(t)
	execer(t, c)("INSERT INTO ev SELECT g % 100, 1 FROM generate_series(1, 10) g")
	execer(t, c)("FLUSH")
	s.kill()
	s.start()
	c = s.connect(t)
	if got := querier(t, c)("SELECT s, c FROM tot"); got != "1000010 1000010" {
		t.Fatalf("right after a crash: %s", got)
	}
	if got := querier(t, c)("SELECT catchup_total FROM streamsql_views WHERE view = 'tot'"); got != "10" {
		t.Errorf("after a crash the view replays what came after its checkpoint: %s records", got)
	}
	// no checkpoint at all: a replay of everything
	s.kill()
	if err := os.RemoveAll(filepath.Join(s.dataDir, "checkpoints")); err != nil {
		t.Fatal(err)
	}
	s.start()
	c = s.connect(t)
	execer(t, c)("SET view_catchup_timeout = '1ms'")
	var sum, count int64
	err = c.QueryRow(context.Background(), "SELECT s, c FROM tot").Scan(&sum, &count)
	var pe *pgconn.PgError
	switch {
	case errors.As(err, &pe):
		if pe.Code != "55000" || !strings.Contains(pe.Message, "still catching up") {
			t.Fatalf("timeout error: %v", pe)
		}
	case err != nil:
		t.Fatal(err)
	case sum != 1000010 || count != 1000010:
		t.Fatalf("a partial answer after the timeout: %d %d", sum, count)
	}
	execer(t, c)("SET view_catchup_timeout = '1min'")
	waitUntil(t, func() bool {
		return querier(t, c)("SELECT caught_up FROM streamsql_views WHERE view = 'tot'") == "true"
	})
}
