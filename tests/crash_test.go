package tests

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

// Randomized crash recovery against the real binary: writers insert into
// a 4-shard stream and change a table while the server is killed (kill
// -9) at random moments — during writes, during checkpoints (taken every
// 30 ms here), while a view is being created — and started again, over
// and over. At the end every acknowledged row is there, every view equals
// PostgreSQL's answer over exactly the rows the server holds, and a
// subscriber that resumed WITH (since = _ts) after every crash has seen
// each change once: the changes it merged are the view.
//
// STREAMSQL_CRASH_RUNS sets the number of runs (default 4; the figures in
// README are of 50), STREAMSQL_CRASH_SEED the first seed.
func TestCrashRecoveryRandomized(t *testing.T) {
	runs, seed := 4, uint64(1)
	if v, err := strconv.Atoi(os.Getenv("STREAMSQL_CRASH_RUNS")); err == nil && v > 0 {
		runs = v
	}
	if v, err := strconv.ParseUint(os.Getenv("STREAMSQL_CRASH_SEED"), 10, 64); err == nil {
		seed = v
	}
	pgURL := oracle(t)
	for i := range uint64(runs) {
		t.Run(fmt.Sprintf("seed=%d", seed+i), func(t *testing.T) { crashRun(t, pgURL, seed+i) })
	}
}

var crashViews = map[string]string{
	"by_key":       "SELECT k, count(*) AS n, sum(amount) AS total FROM pay GROUP BY k",
	"by_region":    "SELECT c.region, count(*) AS n, sum(p.amount) AS total FROM pay p JOIN cust c ON p.k = c.k GROUP BY c.region",
	"keys_summary": "SELECT count(*) AS keys, sum(n) AS payments FROM by_key",
	"big":          "SELECT k, max(amount) AS top, count(*) AS n FROM pay WHERE amount > 900 GROUP BY k",
}

// what PostgreSQL runs for a view over a view
var crashPG = map[string]string{
	"keys_summary": "SELECT count(*), sum(n) FROM (SELECT k, count(*) AS n FROM pay GROUP BY k) v",
}

func crashRun(t *testing.T, pgURL string, seed uint64) {
	ctx := context.Background()
	r := rand.New(rand.NewPCG(seed, 17))
	s := startServer(t, "--checkpoint-interval", "30ms")
	conn := func() *pgconn.PgConn {
		t.Helper()
		c, err := pgconn.Connect(ctx, s.url("crash"))
		if err != nil {
			t.Fatalf("connect: %v\n%s", err, tail(s.logText(), 4000))
		}
		return c
	}
	exec := func(c *pgconn.PgConn, q string) {
		t.Helper()
		if _, err := c.Exec(ctx, q).ReadAll(); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	c := conn()
	exec(c, "CREATE STREAM pay (id BIGINT, k TEXT, amount BIGINT) WITH (shards = 4, partition_by = 'k')")
	exec(c, "CREATE TABLE cust (k TEXT PRIMARY KEY, region TEXT)")
	for _, v := range []string{"by_key", "by_region", "keys_summary"} {
		exec(c, "CREATE MATERIALIZED VIEW "+v+" AS "+crashViews[v])
	}
	c.Close(ctx)

	sub := startCrashSubscriber(ctx, s.url("crash"))
	defer sub.stop()

	var acked []int64 // ids of acknowledged payments
	nextID := int64(1)
	bigCreated := false
	for cycle := 0; cycle < 6; cycle++ {
		c := conn()
		var mu sync.Mutex
		done := make(chan struct{})
		// the writer: payments and customer changes, as fast as it goes,
		// until the server goes away
		go func() {
			defer close(done)
			wr := rand.New(rand.NewPCG(seed, uint64(cycle)))
			for {
				var q string
				var ids []int64
				switch x := wr.IntN(10); {
				case x < 7:
					var vals []string
					for range 1 + wr.IntN(40) {
						mu.Lock()
						id := nextID
						nextID++
						mu.Unlock()
						ids = append(ids, id)
						vals = append(vals, fmt.Sprintf("(%d, 'k%d', %d)", id, wr.IntN(30), wr.IntN(1000)))
					}
					q = "INSERT INTO pay VALUES " + strings.Join(vals, ", ")
				case x < 9:
					q = fmt.Sprintf("INSERT INTO cust VALUES ('k%d', 'r%d') ON CONFLICT (k) DO UPDATE SET region = excluded.region", wr.IntN(30), wr.IntN(5))
				default:
					q = fmt.Sprintf("DELETE FROM cust WHERE k = 'k%d'", wr.IntN(30))
				}
				if _, err := c.Exec(ctx, q).ReadAll(); err != nil {
					return // the server went away
				}
				mu.Lock()
				acked = append(acked, ids...)
				mu.Unlock()
			}
		}()
		if cycle == 3 && !bigCreated {
			// a view created just before a crash: it exists after the
			// restart only if CREATE returned
			vc := conn()
			go func() {
				_, err := vc.Exec(ctx, "CREATE MATERIALIZED VIEW big AS "+crashViews["big"]).ReadAll()
				mu.Lock()
				bigCreated = err == nil
				mu.Unlock()
				vc.Close(ctx)
			}()
		}
		time.Sleep(time.Duration(20+r.IntN(300)) * time.Millisecond)
		s.kill()
		<-done
		c.Close(ctx)
		s.start()
		sub.url.Store(s.url("crash"))
	}

	// the end: every acknowledged payment is there, and every view is
	// the query over what the server holds
	c = conn()
	defer c.Close(ctx)
	exec(c, "FLUSH")
	read := func(c *pgconn.PgConn, q string) []string {
		t.Helper()
		res, err := c.Exec(ctx, q).ReadAll()
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		var out []string
		for _, row := range res[0].Rows {
			out = append(out, render(row))
		}
		slices.Sort(out)
		return out
	}
	pays := read(c, "SELECT id, k, amount FROM pay")
	held := map[int64]bool{}
	for _, p := range pays {
		id, _ := strconv.ParseInt(strings.Fields(p)[0], 10, 64)
		held[id] = true
	}
	for _, id := range acked {
		if !held[id] {
			t.Fatalf("payment %d was acknowledged, and is gone after the crashes", id)
		}
	}
	custs := read(c, "SELECT k, region FROM cust")
	pg := crashOracle(t, pgURL, pays, custs)
	views := []string{"by_key", "by_region", "keys_summary"}
	if exists := read(c, "SELECT count(*) FROM streamsql_views WHERE view = 'big'"); exists[0] == "1" {
		views = append(views, "big")
	} else if bigCreated {
		t.Fatal("CREATE MATERIALIZED VIEW big returned, and the view is gone after the crash")
	}
	for _, v := range views {
		q := crashViews[v]
		if pq, ok := crashPG[v]; ok {
			q = pq
		}
		got, want := read(c, "SELECT * FROM "+v), read(pg, q)
		if !slices.Equal(got, want) {
			t.Fatalf("view %s after %d crashes (%d payments, %d customers):\n got %v\nwant %v", v, 6, len(pays), len(custs), got, want)
		}
	}
	merged := sub.finish(t)
	if want := read(c, "SELECT * FROM by_key"); !slices.Equal(merged, want) {
		t.Fatalf("the subscriber's changes after %d resumes merge into\n%v\nthe view is\n%v", sub.resumes, merged, want)
	}
	t.Logf("%d payments (%d acknowledged), %d customers, views %v, subscriber resumed %d times, %d changes", len(pays), len(acked), len(custs), views, sub.resumes, sub.changes)
}

// crashOracle loads the rows into a fresh PostgreSQL database.
func crashOracle(t *testing.T, url string, pays, custs []string) *pgconn.PgConn {
	ctx := context.Background()
	admin, err := pgconn.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = admin.Exec(ctx, "DROP DATABASE IF EXISTS crash").ReadAll()
	if _, err := admin.Exec(ctx, "CREATE DATABASE crash").ReadAll(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_, _ = admin.Exec(ctx, "DROP DATABASE crash WITH (FORCE)").ReadAll()
		admin.Close(ctx)
	})
	pg, err := pgconn.Connect(ctx, strings.Replace(url, "/postgres?", "/crash?", 1))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pg.Close(ctx) })
	load := func(table, cols string, rows []string, quote func([]string) string) {
		if _, err := pg.Exec(ctx, "CREATE TABLE "+table+" "+cols).ReadAll(); err != nil {
			t.Fatal(err)
		}
		for at := 0; at < len(rows); at += 1000 {
			var vals []string
			for _, r := range rows[at:min(at+1000, len(rows))] {
				vals = append(vals, quote(strings.Fields(r)))
			}
			if _, err := pg.Exec(ctx, "INSERT INTO "+table+" VALUES "+strings.Join(vals, ", ")).ReadAll(); err != nil {
				t.Fatal(err)
			}
		}
	}
	load("pay", "(id BIGINT, k TEXT, amount BIGINT)", pays, func(f []string) string { return fmt.Sprintf("(%s, '%s', %s)", f[0], f[1], f[2]) })
	load("cust", "(k TEXT PRIMARY KEY, region TEXT)", custs, func(f []string) string { return fmt.Sprintf("('%s', '%s')", f[0], f[1]) })
	return pg
}

// crashSubscriber follows by_key through the crashes: it applies a _ts's
// changes once the next _ts shows they are all there, and after a crash
// resumes WITH (since = the last _ts it applied), dropping what it had of
// the next.
type crashSubscriber struct {
	url     atomic.Value // the server's, which moves to a new port at each start
	mu      sync.Mutex
	rows    map[string]int64
	last    int64 // the last _ts applied (0: the snapshot is not yet)
	pending []subChange
	resumes int
	changes int
	err     error
	cancel  context.CancelFunc
	done    chan struct{}
}

type subChange struct {
	ts, diff int64
	row      string
}

func startCrashSubscriber(ctx context.Context, url string) *crashSubscriber {
	ctx, cancel := context.WithCancel(ctx)
	s := &crashSubscriber{rows: map[string]int64{}, cancel: cancel, done: make(chan struct{})}
	s.url.Store(url)
	go s.run(ctx)
	return s
}

func (s *crashSubscriber) run(ctx context.Context) {
	defer close(s.done)
	for ctx.Err() == nil {
		c, err := pgconn.Connect(ctx, s.url.Load().(string))
		if err != nil {
			time.Sleep(5 * time.Millisecond)
			continue
		}
		s.mu.Lock()
		q := "SUBSCRIBE TO by_key"
		if s.last > 0 {
			q = fmt.Sprintf("SUBSCRIBE TO by_key WITH (since = %d)", s.last)
			s.resumes++
		}
		s.mu.Unlock()
		rr := c.Exec(ctx, q)
		for rr.NextResult() {
			res := rr.ResultReader()
			for res.NextRow() {
				v := res.Values()
				ts, _ := strconv.ParseInt(string(v[0]), 10, 64)
				diff, _ := strconv.ParseInt(string(v[1]), 10, 64)
				s.add(subChange{ts, diff, render(v[2:])})
			}
			_, _ = res.Close()
		}
		_ = rr.Close()
		c.Close(context.Background())
		if ctx.Err() != nil {
			return
		}
		// the connection is gone: what came of the last _ts may be part
		s.mu.Lock()
		s.pending = nil
		s.mu.Unlock()
	}
}

func (s *crashSubscriber) add(c subChange) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.pending) > 0 && c.ts != s.pending[0].ts {
		s.applyLocked()
	}
	if c.ts < s.last || (c.ts == s.last && s.last > 0) {
		s.err = fmt.Errorf("_ts %d after %d was applied: a change came twice or out of order", c.ts, s.last)
	}
	s.pending = append(s.pending, c)
}

func (s *crashSubscriber) applyLocked() {
	for _, p := range s.pending {
		if s.rows[p.row] += p.diff; s.rows[p.row] == 0 {
			delete(s.rows, p.row)
		}
		if s.rows[p.row] < 0 {
			s.err = fmt.Errorf("row %s retracted more often than inserted", p.row)
		}
		s.last = p.ts
		s.changes++
	}
	s.pending = nil
}

// finish waits until no change has come for a while (the view is
// flushed), applies the last _ts and returns the merged rows.
func (s *crashSubscriber) finish(t *testing.T) []string {
	t.Helper()
	last := -1
	for quiet := 0; quiet < 20; {
		time.Sleep(25 * time.Millisecond)
		s.mu.Lock()
		n := s.changes + len(s.pending)
		s.mu.Unlock()
		if n == last {
			quiet++
		} else {
			quiet, last = 0, n
		}
	}
	s.stop()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.applyLocked()
	if s.err != nil {
		t.Fatalf("subscriber: %v", s.err)
	}
	var out []string
	for row, n := range s.rows {
		for range n {
			out = append(out, row)
		}
	}
	slices.Sort(out)
	return out
}

func (s *crashSubscriber) stop() {
	s.cancel()
	<-s.done
}
