package tests

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// change is one subscription row: _ts, _diff and the view's columns as text.
type change struct {
	ts, diff int64
	row      string
}

func subscribeSetup(t *testing.T, s *server) (*pgx.Conn, func(string)) {
	c := s.connect(t)
	exec := func(q string) {
		t.Helper()
		if _, err := c.Exec(context.Background(), q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	exec("CREATE STREAM pay (k TEXT, v INT)")
	exec("CREATE MATERIALIZED VIEW totals AS SELECT k, count(*) AS n, sum(v) AS s FROM pay GROUP BY k")
	exec("INSERT INTO pay VALUES ('a', 1), ('b', 2), ('a', 3)")
	return c, exec
}

// readChanges reads n subscription rows from rs.
func readChanges(t *testing.T, rs pgx.Rows, n int) []change {
	t.Helper()
	var out []change
	for len(out) < n && rs.Next() {
		vals, err := rs.Values()
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, change{ts: vals[0].(int64), diff: vals[1].(int64), row: joinValues(vals[2:])})
	}
	if len(out) < n {
		t.Fatalf("subscription ended after %d of %d rows: %v", len(out), n, rs.Err())
	}
	return out
}

// SUBSCRIBE as plain DataRows (pgx): the snapshot first, then every change
// as it happens; an update is a −1 and a +1 at the same _ts, _ts never goes
// back; dropping the view ends the subscription.
func TestSubscribeDataRows(t *testing.T) {
	s := startServer(t)
	_, exec := subscribeSetup(t, s)
	sc := s.connect(t)
	ctx, cancel := context.WithCancel(context.Background())
	rs, err := sc.Query(ctx, "SUBSCRIBE TO totals")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { cancel(); rs.Close() }()
	if got := fieldNames(rs); got != "_ts _diff k n s" {
		t.Fatalf("columns: %s", got)
	}
	snap := readChanges(t, rs, 2)
	if snap[0].row != "a 2 4" || snap[1].row != "b 1 2" || snap[0].diff != 1 || snap[0].ts != snap[1].ts {
		t.Fatalf("snapshot: %+v", snap)
	}
	exec("INSERT INTO pay VALUES ('a', 10)")
	upd := readChanges(t, rs, 2)
	if upd[0].diff != -1 || upd[0].row != "a 2 4" || upd[1].diff != 1 || upd[1].row != "a 3 14" || upd[0].ts != upd[1].ts || upd[0].ts <= snap[0].ts {
		t.Fatalf("update: %+v after %+v", upd, snap)
	}
	exec("INSERT INTO pay VALUES ('c', 7)")
	ins := readChanges(t, rs, 1)
	if ins[0].diff != 1 || ins[0].row != "c 1 7" || ins[0].ts <= upd[0].ts {
		t.Fatalf("insert: %+v", ins)
	}
	exec("DROP MATERIALIZED VIEW totals")
	if rs.Next() {
		t.Fatalf("rows after the view was dropped")
	}
	var pe *pgconn.PgError
	if err := rs.Err(); !errors.As(err, &pe) || pe.Code != "42P01" || !strings.Contains(pe.Message, `"totals" was dropped`) {
		t.Fatalf("subscription ended with %v, not with an error saying the view was dropped", err)
	}
}

// Dropping what a subscription reads ends it with an error (never with
// success, which a client would take for the end of the data): COPY of a
// view's subscription, and a subscription's own flow over a stream.
func TestSubscribeEndsWhenDropped(t *testing.T) {
	s := startServer(t)
	_, exec := subscribeSetup(t, s)
	ctx := context.Background()
	// ended runs a COPY of a subscription and returns once its snapshot
	// arrives (the subscription is attached); the channel gets its end
	ended := func(q string) chan error {
		c, err := pgconn.Connect(ctx, s.url("sub"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close(ctx) })
		done := make(chan error, 1)
		w := &firstWrite{seen: make(chan struct{})}
		go func() {
			_, err := c.CopyTo(ctx, w, q)
			done <- err
		}()
		select {
		case <-w.seen:
		case err := <-done:
			t.Fatalf("%s: %v", q, err)
		}
		return done
	}
	view := ended("COPY (SUBSCRIBE TO totals) TO STDOUT")
	own := ended("COPY (SUBSCRIBE (SELECT k, v * 2 FROM pay WHERE v > 0)) TO STDOUT")
	exec("DROP MATERIALIZED VIEW totals")
	for name, ch := range map[string]chan error{"view": view} {
		var pe *pgconn.PgError
		if err := <-ch; !errors.As(err, &pe) || pe.Code != "42P01" || !strings.Contains(pe.Message, `materialized view "totals" was dropped`) {
			t.Fatalf("%s subscription ended with %v", name, err)
		}
	}
	select {
	case err := <-own:
		t.Fatalf("the stream's subscription ended with the view: %v", err)
	default:
	}
	exec("DROP STREAM pay")
	var pe *pgconn.PgError
	if err := <-own; !errors.As(err, &pe) || pe.Code != "42P01" || !strings.Contains(pe.Message, `stream "pay" was dropped`) {
		t.Fatalf("subscription of its own ended with %v", err)
	}
}

// firstWrite closes seen at the first write.
type firstWrite struct {
	once sync.Once
	seen chan struct{}
}

func (w *firstWrite) Write(p []byte) (int, error) {
	w.once.Do(func() { close(w.seen) })
	return len(p), nil
}

func fieldNames(rs pgx.Rows) string {
	var names []string
	for _, f := range rs.FieldDescriptions() {
		names = append(names, f.Name)
	}
	return strings.Join(names, " ")
}

// DECLARE ... CURSOR FOR SUBSCRIBE and FETCH, for drivers that need each
// result to end: FETCH waits for the first change (or the timeout) and
// returns what is there. Also SUBSCRIBE over an ad hoc query.
func TestSubscribeCursorFetch(t *testing.T) {
	s := startServer(t)
	c, exec := subscribeSetup(t, s)
	ctx := context.Background()
	fetch := func(q string) []change {
		t.Helper()
		rs, err := c.Query(ctx, q)
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		defer rs.Close()
		var out []change
		for rs.Next() {
			vals, err := rs.Values()
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, change{ts: vals[0].(int64), diff: vals[1].(int64), row: joinValues(vals[2:])})
		}
		if err := rs.Err(); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		return out
	}
	exec("BEGIN")
	exec("DECLARE c CURSOR FOR SUBSCRIBE TO totals WITH (snapshot = false)")
	if got := fetch("FETCH ALL c WITH (timeout = '50ms')"); len(got) != 0 {
		t.Fatalf("changes without a write: %+v", got)
	}
	done := make(chan []change)
	go func() {
		// FETCH without a timeout waits for the first change
		rs, err := c.Query(ctx, "FETCH 10 c")
		if err != nil {
			done <- nil
			return
		}
		var out []change
		for rs.Next() {
			vals, _ := rs.Values()
			out = append(out, change{ts: vals[0].(int64), diff: vals[1].(int64), row: joinValues(vals[2:])})
		}
		rs.Close()
		done <- out
	}()
	w := s.connect(t)
	if _, err := w.Exec(ctx, "INSERT INTO pay VALUES ('b', 5)"); err != nil {
		t.Fatal(err)
	}
	got := <-done
	if len(got) != 2 || got[0].diff != -1 || got[0].row != "b 1 2" || got[1].diff != 1 || got[1].row != "b 2 7" || got[0].ts != got[1].ts {
		t.Fatalf("fetched %+v", got)
	}
	exec("CLOSE c")
	exec("COMMIT")

	// an ad hoc query: its current result as the snapshot, with counts
	exec("BEGIN")
	exec("DECLARE q CURSOR FOR SUBSCRIBE (SELECT k, v * 2 AS w FROM pay WHERE v > 1)")
	got = fetch("FETCH ALL q WITH (timeout = '1s')")
	var rows []string
	for _, ch := range got {
		rows = append(rows, fmt.Sprintf("%d %s", ch.diff, ch.row))
	}
	if strings.Join(rows, "; ") != "1 a 6; 1 b 4; 1 b 10" {
		t.Fatalf("ad hoc snapshot: %v", rows)
	}
	exec("COMMIT")

	// errors: SQLSTATEs as PostgreSQL users expect
	for q, code := range map[string]string{
		"SUBSCRIBE TO nope":                                     "42P01",
		"SUBSCRIBE TO totals WITH (since = 'soon')":             "22023",
		"SUBSCRIBE TO totals WITH (since = 1, snapshot = true)": "22023",
		"SUBSCRIBE (SELECT k FROM pay) WITH (since = 1)":        "0A000",
		"SUBSCRIBE TO totals WITH (snapshot = 'maybe')":         "22023",
		"SUBSCRIBE TO totals WITH (color = 'blue')":             "22023",
		"SUBSCRIBE (SELECT k FROM pay ORDER BY k)":              "0A000",
		"SUBSCRIBE (SELECT nope FROM pay)":                      "42703",
		"COPY (SUBSCRIBE TO totals) FROM STDIN":                 "42601",
		"SUBSCRIBE TO totals WITH (snapshot = false) xx":        "42601",
	} {
		_, err := c.Exec(ctx, q)
		var pe *pgconn.PgError
		if !errors.As(err, &pe) || pe.Code != code {
			t.Errorf("%s: got %v, want %s", q, err, code)
		}
	}
}

// COPY (SUBSCRIBE ...) TO STDOUT with psql: the rows arrive as COPY data
// while the statement runs; psql's cancel (SIGINT) ends it.
func TestSubscribeCopyPsql(t *testing.T) {
	bin := need(t, "psql")
	s := startServer(t)
	c, run := subscribeSetup(t, s)
	ctx := context.Background()
	cmd := exec.Command(bin, "-X", "-q", s.url("tester"), "-c", "COPY (SUBSCRIBE TO totals) TO STDOUT")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	// the subscriber has attached and read everything logged for it
	caughtUp := func() bool {
		var n int32
		var lag int64
		err := c.QueryRow(ctx, "SELECT subscribers, subscriber_lag FROM streamsql_views WHERE view = 'totals'").Scan(&n, &lag)
		return err == nil && n == 1 && lag == 0
	}
	waitUntil(t, caughtUp)
	run("INSERT INTO pay VALUES ('a', 100)")
	run("FLUSH")
	waitUntil(t, caughtUp)
	_ = cmd.Process.Signal(syscall.SIGINT)
	var lines []string
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		f := strings.SplitN(sc.Text(), "\t", 3)
		lines = append(lines, f[1]+" "+f[2])
	}
	_ = cmd.Wait()
	if got := strings.Join(lines, "; "); got != "1 a\t2\t4; 1 b\t1\t2; -1 a\t2\t4; 1 a\t3\t104" {
		t.Fatalf("COPY (SUBSCRIBE) output: %q", got)
	}
}

// A stalled subscriber (it never reads) does not slow the dataflow or a
// live subscriber next to it; it just falls behind on the view's changelog.
func TestSubscribeStalledNextToLive(t *testing.T) {
	s := startServer(t)
	c, exec := subscribeSetup(t, s)
	ctx := context.Background()
	stalled := s.connect(t)
	// (pgx's extended protocol returns from Query only at the first row when
	// the statement is cached; the simple protocol returns at RowDescription)
	srs, err := stalled.Query(ctx, "SUBSCRIBE TO totals WITH (snapshot = false)", pgx.QueryExecModeSimpleProtocol)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { stalled.PgConn().Close(ctx) }()
	_ = srs // never read
	live := s.connect(t)
	lctx, cancel := context.WithCancel(ctx)
	lrs, err := live.Query(lctx, "SUBSCRIBE TO totals WITH (snapshot = false)", pgx.QueryExecModeSimpleProtocol)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { cancel(); lrs.Close() }()
	// enough changes, with wide rows, to fill the stalled socket's buffers
	pad := strings.Repeat("x", 200)
	exec(fmt.Sprintf("INSERT INTO pay SELECT 'key' || g || '%s', g FROM generate_series(1, 30000) g", pad))
	exec("INSERT INTO pay VALUES ('last', 42)")
	exec("FLUSH")
	seen := 0
	for lrs.Next() {
		vals, err := lrs.Values()
		if err != nil {
			t.Fatal(err)
		}
		seen++
		if vals[2] == "last" {
			break
		}
	}
	if seen != 30001 {
		t.Fatalf("live subscriber saw %d changes, want 30001 (err %v)", seen, lrs.Err())
	}
	var lag int64
	if err := c.QueryRow(ctx, "SELECT subscriber_lag FROM streamsql_views WHERE view = 'totals'").Scan(&lag); err != nil {
		t.Fatal(err)
	}
	if lag == 0 {
		t.Fatalf("the stalled subscriber is not behind")
	}
}

// waitUntil polls cond (a state the test cannot be told about) until it
// holds; it fails after a generous bound rather than hanging.
func waitUntil(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("condition not reached")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func joinValues(vals []any) string {
	parts := make([]string, len(vals))
	for i, v := range vals {
		parts[i] = fmt.Sprint(v)
	}
	return strings.Join(parts, " ")
}

// A subscriber whose connection drops (no cancel, no Terminate) is noticed
// while it waits for changes: its subscription ends and frees its place.
func TestSubscribeClientGone(t *testing.T) {
	s := startServer(t)
	c, _ := subscribeSetup(t, s)
	ctx := context.Background()
	for _, q := range []string{"SUBSCRIBE TO totals", "COPY (SUBSCRIBE TO totals) TO STDOUT"} {
		sub := s.connect(t)
		// send the statement, then drop the connection without reading
		_ = sub.PgConn().Exec(ctx, q)
		subscribers := func() int32 {
			var n int32
			if err := c.QueryRow(ctx, "SELECT subscribers FROM streamsql_views WHERE view = 'totals'").Scan(&n); err != nil {
				t.Fatal(err)
			}
			return n
		}
		waitUntil(t, func() bool { return subscribers() == 1 })
		_ = sub.PgConn().Conn().Close()
		waitUntil(t, func() bool { return subscribers() == 0 })
	}
}

// A subscriber that disconnects resumes from the last _ts it saw, even
// across a server restart (the view is rebuilt then, and its changelog in
// the stream store is not written twice): applying the snapshot, the
// changes before the disconnect and the resumed changes gives exactly the
// view's contents, with no change twice and none missing.
func TestSubscribeResumeSince(t *testing.T) {
	s := startServer(t)
	c, exec := subscribeSetup(t, s)
	ctx := context.Background()
	state := map[string]int64{}
	applyAll := func(cs []change) {
		for _, ch := range cs {
			state[ch.row] += ch.diff
			if state[ch.row] == 0 {
				delete(state, ch.row)
			}
		}
	}
	readSome := func(q string, n int) []change {
		t.Helper()
		sc := s.connect(t)
		defer sc.Close(ctx)
		qctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		rs, err := sc.Query(qctx, q, pgx.QueryExecModeSimpleProtocol)
		if err != nil {
			cancel()
			t.Fatal(err)
		}
		defer func() { cancel(); rs.Close() }()
		return readChanges(t, rs, n)
	}
	first := readSome("SUBSCRIBE TO totals", 2) // the snapshot: a 2 4, b 1 2
	applyAll(first)
	exec("INSERT INTO pay VALUES ('a', 10)") // -a 2 4, +a 3 14
	exec("FLUSH")
	second := readSome(fmt.Sprintf("SUBSCRIBE TO totals WITH (since = %d)", first[1].ts), 2)
	applyAll(second)
	last := second[1].ts
	// changes while nobody listens, a restart, more changes
	exec("INSERT INTO pay VALUES ('b', 5), ('c', 1)")
	exec("FLUSH")
	c.Close(ctx)
	s.restart()
	c = s.connect(t)
	if _, err := c.Exec(ctx, "INSERT INTO pay VALUES ('c', 2), ('d', 4)"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Exec(ctx, "FLUSH"); err != nil {
		t.Fatal(err)
	}
	// since last: -b 1 2, +b 2 7, +c 1 1 | -c 1 1, +c 2 3, +d 1 4
	resumed := readSome(fmt.Sprintf("SUBSCRIBE TO totals WITH (since = %d)", last), 6)
	for i, ch := range resumed {
		if ch.ts <= last || (i > 0 && ch.ts < resumed[i-1].ts) {
			t.Fatalf("resumed change %d has _ts %d after %d: %+v", i, ch.ts, last, resumed)
		}
	}
	applyAll(resumed)
	got, want := multiset(state), viewMultiset(t, c, "SELECT k, n, s FROM totals ORDER BY k")
	if strings.Join(got, "; ") != strings.Join(want, "; ") {
		t.Fatalf("snapshot + changes + resumed changes:\n %v\nthe view:\n %v", got, want)
	}
	// nothing more: a second resume from the end returns no stale rows
	fctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	sc := s.connect(t)
	rs, err := sc.Query(fctx, fmt.Sprintf("SUBSCRIBE TO totals WITH (since = %d)", resumed[len(resumed)-1].ts), pgx.QueryExecModeSimpleProtocol)
	if err == nil {
		if rs.Next() {
			vals, _ := rs.Values()
			t.Fatalf("a change after the last one: %v", vals)
		}
		rs.Close()
	}
}

// A join of two materialized views can be subscribed to: a change on
// either side reaches the subscriber as the join's retraction and
// insertion.
func TestSubscribeJoinOfViews(t *testing.T) {
	s := startServer(t)
	c := s.connect(t)
	ctx := context.Background()
	for _, q := range []string{
		"CREATE STREAM pay (country TEXT, btc DOUBLE PRECISION, ts TIMESTAMP)",
		"CREATE STREAM px (price DOUBLE PRECISION, ts TIMESTAMP)",
		"CREATE MATERIALIZED VIEW pay_min AS SELECT country, date_trunc('minute', ts) AS m, sum(btc) AS btc FROM pay GROUP BY 1, 2",
		"CREATE MATERIALIZED VIEW px_min AS SELECT date_trunc('minute', ts) AS m, max(price) AS price FROM px GROUP BY 1",
		"CREATE MATERIALIZED VIEW usd AS SELECT p.country, p.m, p.btc * q.price AS usd FROM pay_min p JOIN px_min q ON p.m = q.m",
		"INSERT INTO px VALUES (100, '2026-01-01 00:00:10')",
		"INSERT INTO pay VALUES ('de', 2, '2026-01-01 00:00:20')",
	} {
		if _, err := c.Exec(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	sc := s.connect(t)
	sctx, cancel := context.WithCancel(ctx)
	rs, err := sc.Query(sctx, "SUBSCRIBE TO usd", pgx.QueryExecModeSimpleProtocol)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { cancel(); rs.Close() }()
	checkUSDRevisions(t, c, rs)
}

// checkUSDRevisions follows a subscription to the BTC payments of
// 00:00:20 (2 BTC from de) joined with the minute's price (100): a new
// price revises the joined row, a new payment adds one.
func checkUSDRevisions(t *testing.T, c *pgx.Conn, rs pgx.Rows) {
	t.Helper()
	ctx := context.Background()
	if snap := readChanges(t, rs, 1); snap[0].diff != 1 || snap[0].row != "de 2026-01-01 00:00:00 +0000 UTC 200" {
		t.Fatalf("snapshot: %+v", snap)
	}
	// the price side changes: the joined row is revised
	if _, err := c.Exec(ctx, "INSERT INTO px VALUES (150, '2026-01-01 00:00:30')"); err != nil {
		t.Fatal(err)
	}
	upd := readChanges(t, rs, 2)
	if upd[0].diff != -1 || upd[0].row != "de 2026-01-01 00:00:00 +0000 UTC 200" || upd[1].diff != 1 || upd[1].row != "de 2026-01-01 00:00:00 +0000 UTC 300" || upd[0].ts != upd[1].ts {
		t.Fatalf("price update: %+v", upd)
	}
	// the payment side changes: a new country joins the minute
	if _, err := c.Exec(ctx, "INSERT INTO pay VALUES ('fr', 1, '2026-01-01 00:00:40')"); err != nil {
		t.Fatal(err)
	}
	if ins := readChanges(t, rs, 1); ins[0].diff != 1 || ins[0].row != "fr 2026-01-01 00:00:00 +0000 UTC 150" {
		t.Fatalf("payment: %+v", ins)
	}
}

// A join of two windowed aggregates in one view (a dataflow graph, not a
// join of two views) is subscribable: a change on either side reaches
// the subscriber as the revision of the joined row.
func TestSubscribeJoinOfAggregatesInOneView(t *testing.T) {
	s := startServer(t)
	c := s.connect(t)
	ctx := context.Background()
	for _, q := range []string{
		"CREATE STREAM pay (country TEXT, btc DOUBLE PRECISION, ts TIMESTAMP, WATERMARK FOR ts AS ts - INTERVAL '5' SECOND)",
		"CREATE STREAM px (price DOUBLE PRECISION, ts TIMESTAMP, WATERMARK FOR ts AS ts - INTERVAL '5' SECOND)",
		`CREATE MATERIALIZED VIEW usd AS SELECT p.country, p.window_start AS m, p.btc * q.price AS usd
		 FROM (SELECT country, window_start, sum(btc) AS btc FROM TUMBLE(pay, ts, INTERVAL '1' MINUTE) GROUP BY 1, 2) p
		 JOIN (SELECT window_start, max(price) AS price FROM TUMBLE(px, ts, INTERVAL '1' MINUTE) GROUP BY 1) q ON p.window_start = q.window_start`,
		"INSERT INTO px VALUES (100, '2026-01-01 00:00:10')",
		"INSERT INTO pay VALUES ('de', 2, '2026-01-01 00:00:20')",
	} {
		if _, err := c.Exec(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	sc := s.connect(t)
	sctx, cancel := context.WithCancel(ctx)
	rs, err := sc.Query(sctx, "SUBSCRIBE TO usd", pgx.QueryExecModeSimpleProtocol)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { cancel(); rs.Close() }()
	checkUSDRevisions(t, c, rs)
}

// A view whose dataflow reads a materialized view next to a stream keeps
// a changelog that goes on exactly where it stopped, across restarts and
// crashes: the parent's changes reach it with their position in the
// parent's changelog, so after a restart it resumes the parent from there.
// Integrating the whole changelog gives exactly the view's rows.
func TestChangelogOfGraphViewAcrossRestarts(t *testing.T) {
	s := startServer(t)
	ctx := context.Background()
	c := s.connect(t)
	exec := func(q string) { t.Helper(); execer(t, c)(q) }
	exec("CREATE STREAM px (sym TEXT, px INT)")
	exec("CREATE STREAM pay (id INT, sym TEXT, amt INT) WITH (shards = 2)")
	exec("CREATE MATERIALIZED VIEW last_px AS SELECT sym, max(px) AS px, count(*) AS ticks FROM px GROUP BY sym")
	exec("CREATE MATERIALIZED VIEW fiat AS SELECT p.sym, sum(p.amt * l.px) AS usd, count(*) AS n FROM pay p JOIN last_px l ON l.sym = p.sym GROUP BY p.sym")
	// a graph of views alone, over the graph above: rebuilt after a
	// restart from its parents' rows without writing them again
	exec("CREATE MATERIALIZED VIEW syms AS SELECT sym, count(*) AS n, sum(x) AS x FROM (SELECT sym, n AS x FROM fiat UNION ALL SELECT sym, ticks FROM last_px UNION ALL SELECT sym, usd FROM fiat) u GROUP BY sym")
	id := 0
	round := func(k int) {
		t.Helper()
		for i := 0; i < 20; i++ {
			id++
			sym := []string{"BTC", "ETH", "SOL"}[(id+k)%3]
			exec(fmt.Sprintf("INSERT INTO pay VALUES (%d, '%s', %d)", id, sym, id%7+1))
			if i%3 == k%3 {
				exec(fmt.Sprintf("INSERT INTO px VALUES ('%s', %d)", sym, 100+id))
			}
		}
	}
	for k := 0; k < 4; k++ {
		round(k)
		if k%2 == 0 {
			exec("FLUSH")
		}
		c.Close(ctx)
		if k == 1 {
			s.kill()
			s.start()
		} else {
			s.restart()
		}
		c = s.connect(t)
	}
	round(9)
	exec("FLUSH")

	for _, view := range []string{"fiat", "syms"} {
		got, want := integratedChangelog(t, s, view), viewMultiset(t, c, "SELECT * FROM "+view+" ORDER BY sym")
		if len(want) != 3 || strings.Join(got, "; ") != strings.Join(want, "; ") {
			t.Fatalf("%s: the changelog integrated:\n %v\nthe view:\n %v", view, got, want)
		}
	}
}

// integratedChangelog reads a view's whole changelog (SUBSCRIBE ... WITH
// (since = 0) until it goes quiet) and sums it.
func integratedChangelog(t *testing.T, s *server, view string) []string {
	t.Helper()
	ctx := context.Background()
	sc := s.connect(t)
	defer sc.Close(ctx)
	qctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	rs, err := sc.Query(qctx, "SUBSCRIBE TO "+view+" WITH (since = 0)", pgx.QueryExecModeSimpleProtocol)
	if err != nil {
		t.Fatal(err)
	}
	state := map[string]int64{}
	for rs.Next() {
		vals, err := rs.Values()
		if err != nil {
			t.Fatal(err)
		}
		row := joinValues(vals[2:])
		if state[row] += vals[1].(int64); state[row] == 0 {
			delete(state, row)
		}
	}
	rs.Close()
	return multiset(state)
}

// multiset renders integrated changes ("row xN"), sorted.
func multiset(state map[string]int64) []string {
	var out []string
	for row, n := range state {
		out = append(out, fmt.Sprintf("%s x%d", row, n))
	}
	sort.Strings(out)
	return out
}

// viewMultiset renders a query's rows as multiset does, each once.
func viewMultiset(t *testing.T, c *pgx.Conn, q string) []string {
	t.Helper()
	rows, err := c.Query(context.Background(), q)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		vals, _ := rows.Values()
		out = append(out, joinValues(vals)+" x1")
	}
	return out
}

// SUBSCRIBE to a query of no fixed shape (a union of a stream's rows and
// a materialized view's, aggregated) runs it as a dataflow graph of its
// own: the snapshot, then each change from either input.
func TestSubscribeGraphQuery(t *testing.T) {
	s := startServer(t)
	c := s.connect(t)
	exec := execer(t, c)
	exec("CREATE STREAM a (k INT)")
	exec("CREATE STREAM b (k INT)")
	exec("CREATE MATERIALIZED VIEW va AS SELECT k, count(*) AS n FROM a GROUP BY k")
	exec("INSERT INTO a VALUES (1), (2)")
	exec("INSERT INTO b VALUES (1)")
	exec("FLUSH")
	sc := s.connect(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	rs, err := sc.Query(ctx, "SUBSCRIBE (SELECT k, count(*) AS c FROM (SELECT k FROM b UNION ALL SELECT k FROM va) u GROUP BY k)", pgx.QueryExecModeSimpleProtocol)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { cancel(); rs.Close() }()
	state := map[string]int64{}
	apply := func(cs []change) {
		for _, ch := range cs {
			if state[ch.row] += ch.diff; state[ch.row] == 0 {
				delete(state, ch.row)
			}
		}
	}
	apply(readChanges(t, rs, 2))     // 1 2, 2 1
	exec("INSERT INTO b VALUES (2)") // -2 1, +2 2
	exec("INSERT INTO a VALUES (3)") // +3 1 (a new group of va)
	apply(readChanges(t, rs, 3))
	if got := strings.Join(multiset(state), "; "); got != "1 2 x1; 2 2 x1; 3 1 x1" {
		t.Fatalf("snapshot and changes: %s", got)
	}
}
