package tests

import (
	"context"
	"fmt"
	"strings"
	"testing"
)

// Watermarks close windows: EMIT ON WINDOW CLOSE views get each window once,
// final; late rows are dropped and counted; the state of closed windows is
// freed, so it stays small however many windows pass.
func TestWindowsWatermarksAndEmitOnClose(t *testing.T) {
	s := startServer(t)
	ctx := context.Background()
	c := s.connect(t)
	exec := func(q string) {
		t.Helper()
		if _, err := c.Exec(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	rows := func(q string) string {
		t.Helper()
		rs, err := c.Query(ctx, q)
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
			out = append(out, fmt.Sprint(vals...))
		}
		return strings.Join(out, "; ")
	}
	exec("CREATE STREAM trades (symbol TEXT, price DOUBLE PRECISION, ts TIMESTAMP, WATERMARK FOR ts AS ts - INTERVAL '5' SECOND) WITH (shards = 1)")
	exec("CREATE MATERIALIZED VIEW live AS SELECT symbol, window_start, count(*) AS n FROM TUMBLE(trades, ts, INTERVAL '1' MINUTE) GROUP BY symbol, window_start")
	exec("CREATE MATERIALIZED VIEW closed AS SELECT symbol, window_start, count(*) AS n, sum(price) AS total FROM TUMBLE(trades, ts, INTERVAL '1' MINUTE) GROUP BY symbol, window_start EMIT ON WINDOW CLOSE")
	exec("INSERT INTO trades VALUES ('BTC', 1, '2026-01-01 00:00:10'), ('BTC', 2, '2026-01-01 00:00:50'), ('BTC', 3, '2026-01-01 00:01:20')")
	exec("FLUSH")
	if got := rows("SELECT extract(minute FROM window_start)::int, n FROM live ORDER BY 1"); got != "0 2; 1 1" {
		t.Fatalf("live view: %s", got)
	}
	// the watermark (00:01:15) passed the end of minute 0 only
	if got := rows("SELECT extract(minute FROM window_start)::int, n, total FROM closed ORDER BY 1"); got != "0 2 3" {
		t.Fatalf("closed view: %s", got)
	}
	// a late row for the closed minute is dropped and counted; the open
	// minute still takes rows within the lateness
	exec("INSERT INTO trades VALUES ('BTC', 9, '2026-01-01 00:00:30'), ('BTC', 5, '2026-01-01 00:01:12'), ('BTC', 4, '2026-01-01 00:02:30')")
	exec("FLUSH")
	if got := rows("SELECT extract(minute FROM window_start)::int, n, total FROM closed ORDER BY 1"); got != "0 2 3; 1 2 8" {
		t.Fatalf("closed view after the watermark moved: %s", got)
	}
	if got := rows("SELECT late_rows FROM streamsql_views WHERE view = 'closed'"); got != "1" {
		t.Fatalf("late rows: %s", got)
	}
	// many windows pass; the state holds only the open ones
	var vals []string
	for m := 3; m < 203; m++ {
		vals = append(vals, fmt.Sprintf("('BTC', 1, TIMESTAMP '2026-01-01 00:00:00' + INTERVAL '%d minutes')", m))
	}
	exec("INSERT INTO trades VALUES " + strings.Join(vals, ", "))
	exec("FLUSH")
	// (the last two minutes are still open: the watermark is 5 s behind)
	if got := rows("SELECT groups FROM streamsql_views WHERE view = 'closed'"); got != "2" {
		t.Fatalf("open groups after 200 windows: %s", got)
	}
	if got := rows("SELECT count(*) FROM closed"); got != "201" {
		t.Fatalf("closed windows: %s", got)
	}
	if got := rows("SELECT count(*) FROM live"); got != "203" {
		t.Fatalf("live windows: %s", got)
	}
	// EMIT ON WINDOW CLOSE needs a window to close
	if _, err := c.Exec(ctx, "CREATE MATERIALIZED VIEW bad AS SELECT symbol, count(*) FROM trades GROUP BY symbol EMIT ON WINDOW CLOSE"); err == nil {
		t.Fatal("EMIT ON WINDOW CLOSE without a window was accepted")
	}
}

// In a view compiled to a dataflow graph, which rows are late does not
// depend on how the records were read: one at a time or all at once, the
// same out-of-order rows are dropped (a batch is cut where a row is behind
// the watermark the rows before it made), and the views agree.
func TestGraphLatenessIndependentOfBatching(t *testing.T) {
	var results []string
	for _, batch := range []string{"1", "65536"} {
		s := startServer(t, "--view-batch-size", batch)
		c := s.connect(t)
		exec, rows := execer(t, c), querier(t, c)
		exec("CREATE STREAM a (k TEXT, ts TIMESTAMP, WATERMARK FOR ts AS ts - INTERVAL '5' SECOND)")
		exec("CREATE STREAM b (k TEXT, ts TIMESTAMP, WATERMARK FOR ts AS ts - INTERVAL '5' SECOND)")
		exec("CREATE VIEW ab AS SELECT k, ts FROM a UNION ALL SELECT k, ts FROM b")
		exec("CREATE MATERIALIZED VIEW per10 AS SELECT window_start, count(*) AS n FROM TUMBLE(ab, ts, INTERVAL '10' SECOND) GROUP BY window_start")
		exec("INSERT INTO b VALUES ('x', '2026-01-01 00:01:00')")
		// in one statement: 00:00:12 and 00:00:31 move a's watermark to
		// 00:00:26; 00:00:03 is then behind it (its window closed once b's
		// watermark lets the union's pass 00:00:10), 00:00:29 is not
		exec(`INSERT INTO a VALUES ('x', '2026-01-01 00:00:12'), ('x', '2026-01-01 00:00:31'), ('x', '2026-01-01 00:00:03'), ('x', '2026-01-01 00:00:29'), ('x', '2026-01-01 00:00:27')`)
		exec("FLUSH")
		results = append(results, rows("SELECT window_start, n FROM per10 ORDER BY 1")+" late="+rows("SELECT late_rows FROM streamsql_views WHERE view = 'per10'"))
		c.Close(context.Background())
		s.stop()
	}
	if results[0] != results[1] {
		t.Fatalf("one record at a time: %s\nall at once: %s", results[0], results[1])
	}
	if !strings.Contains(results[0], "late=1") {
		t.Fatalf("expected one late row: %s", results[0])
	}
}
