package tests

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestDataDirLocked: a second server on the same data directory refuses
// to start, saying why; the first one keeps every row.
func TestDataDirLocked(t *testing.T) {
	s := startServer(t)
	exec1 := execer(t, s.connect(t))
	exec1("CREATE TABLE t (a INT)")
	exec1("INSERT INTO t VALUES (1)")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	second := exec.CommandContext(ctx, binary, "serve", "--listen", fmt.Sprintf("127.0.0.1:%d", freePort(t)), "--data-dir", s.dataDir, "--http", "")
	out, err := second.CombinedOutput()
	if ctx.Err() != nil {
		t.Fatalf("a second server started on the same data directory:\n%s", out)
	}
	if err == nil {
		t.Fatalf("a second server exited cleanly:\n%s", out)
	}
	if !strings.Contains(string(out), "in use by another streamsql process") {
		t.Fatalf("unclear refusal: %s", out)
	}
	exec1("INSERT INTO t VALUES (2)")
	s.restart()
	if got := querier(t, s.connect(t))("SELECT count(*) FROM t"); got != "2" {
		t.Fatalf("rows after restart: %s", got)
	}
}

// TestOrphanedDataQuarantined: with catalog.json gone, the data of the
// old objects never shows up in new objects that get the same numbers; it
// is moved aside and the server says so.
func TestOrphanedDataQuarantined(t *testing.T) {
	s := startServer(t)
	exec1 := execer(t, s.connect(t))
	exec1("CREATE STREAM old (a INT)")
	exec1("INSERT INTO old SELECT g FROM generate_series(1, 1000) g")
	exec1("CREATE TABLE oldt (a INT)")
	exec1("INSERT INTO oldt VALUES (1), (2)")
	s.stop()
	if err := os.Remove(filepath.Join(s.dataDir, "catalog.json")); err != nil {
		t.Fatal(err)
	}
	s.start()
	c := s.connect(t)
	exec2 := execer(t, c)
	q := querier(t, c)
	exec2("CREATE STREAM fresh (a INT)")
	exec2("CREATE TABLE freshb (a INT)")
	if got := q("SELECT count(*) FROM fresh"); got != "0" {
		t.Fatalf("a new stream shows %s records of an old one", got)
	}
	if got := q("SELECT count(*) FROM freshb"); got != "0" {
		t.Fatalf("a new table shows %s rows of an old one", got)
	}
	if !strings.Contains(s.logText(), "catalog never created") {
		t.Fatalf("nothing said about the orphaned data; log:\n%s", s.logText())
	}
	moved, _ := filepath.Glob(filepath.Join(s.dataDir, "orphaned", "*", "streams", "*"))
	if len(moved) == 0 {
		t.Fatal("orphaned stream data was not kept aside")
	}
	// and after another restart the new objects are still empty
	s.restart()
	if got := querier(t, s.connect(t))("SELECT count(*) FROM fresh"); got != "0" {
		t.Fatalf("after restart: %s", got)
	}
}

// TestDeletedSegmentReported: a segment deleted behind the server's back
// is reported at start-up and in streamsql_shards, and the sequence
// numbers it held are not handed out again.
func TestDeletedSegmentReported(t *testing.T) {
	s := startServer(t)
	c := s.connect(t)
	execer(t, c)("CREATE STREAM ev (a INT)")
	execer(t, c)("INSERT INTO ev SELECT g FROM generate_series(1, 500) g")
	last := querier(t, c)("SELECT max(_seq) FROM ev")
	s.stop()
	segs, _ := filepath.Glob(filepath.Join(s.dataDir, "streams", "*", "shard-0000", "*.seg"))
	if len(segs) != 1 {
		t.Fatalf("segments: %v", segs)
	}
	os.Remove(segs[0])
	s.start()
	c = s.connect(t)
	q := querier(t, c)
	if got := q("SELECT lost_records > 0, lost_seqs IS NOT NULL FROM streamsql_shards WHERE stream = 'ev'"); got != "true true" {
		t.Fatalf("streamsql_shards: %s", got)
	}
	if !strings.Contains(s.logText(), "acknowledged records are missing") {
		t.Fatalf("start-up said nothing; log:\n%s", s.logText())
	}
	execer(t, c)("INSERT INTO ev VALUES (501)")
	if got := q(fmt.Sprintf("SELECT _seq > %s FROM ev", last)); got != "true" {
		t.Fatalf("a sequence number up to %s was reused: %s", last, q("SELECT _seq FROM ev"))
	}
}

// TestStatementsAtomicAcrossKill: statements that write many rows over a
// 4-shard stream are stored whole or not at all when the server is killed
// in the middle of them; every acknowledged one is there whole.
func TestStatementsAtomicAcrossKill(t *testing.T) {
	s := startServer(t)
	execer(t, s.connect(t))("CREATE STREAM ev (batch INT, i INT) WITH (shards = 4)")
	var acked sync.Map
	var next atomic.Int64
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := s.connectErr()
			if err != nil {
				return
			}
			defer c.Close(context.Background())
			for {
				select {
				case <-stop:
					return
				default:
				}
				b := next.Add(1)
				if _, err := c.Exec(context.Background(), fmt.Sprintf("INSERT INTO ev SELECT %d, g FROM generate_series(1, 37) g", b)); err != nil {
					return
				}
				acked.Store(b, true)
			}
		}()
	}
	time.Sleep(700 * time.Millisecond)
	s.kill()
	close(stop)
	wg.Wait()
	s.start()
	c := s.connect(t)
	rows, err := c.Query(context.Background(), "SELECT batch, count(*) FROM ev GROUP BY batch")
	if err != nil {
		t.Fatal(err)
	}
	counts := map[int64]int64{}
	for rows.Next() {
		var b, n int64
		if err := rows.Scan(&b, &n); err != nil {
			t.Fatal(err)
		}
		counts[b] = n
	}
	rows.Close()
	n := 0
	for b, k := range counts {
		if k != 37 {
			t.Errorf("statement %d stored %d of its 37 rows", b, k)
		}
	}
	acked.Range(func(k, _ any) bool {
		n++
		if counts[k.(int64)] != 37 {
			t.Errorf("acknowledged statement %v has %d rows", k, counts[k.(int64)])
		}
		return true
	})
	if n < 5 {
		t.Fatalf("only %d statements acknowledged before the kill", n)
	}
}
