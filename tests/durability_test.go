package tests

import (
	"context"
	"fmt"
	"sync"
	"testing"
)

// Rows acknowledged to the client survive kill -9: table changes are
// fsynced before the statement completes.
func TestKillNineKeepsAcknowledgedRows(t *testing.T) {
	s := startServer(t)
	ctx := context.Background()
	c := s.connect(t)
	if _, err := c.Exec(ctx, "CREATE TABLE acks (id INT PRIMARY KEY, v TEXT)"); err != nil {
		t.Fatal(err)
	}
	acked := 0
	for i := 0; i < 200; i++ {
		if _, err := c.Exec(ctx, "INSERT INTO acks VALUES ($1, $2)", i, fmt.Sprint("v", i)); err != nil {
			t.Fatal(err)
		}
		acked++
	}
	if _, err := c.Exec(ctx, "UPDATE acks SET v = 'changed' WHERE id < 10"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Exec(ctx, "DELETE FROM acks WHERE id >= 190"); err != nil {
		t.Fatal(err)
	}
	s.kill()
	s.start()
	c2 := s.connect(t)
	var n, changed int
	if err := c2.QueryRow(ctx, "SELECT count(*), count(*) FILTER (WHERE v = 'changed') FROM acks").Scan(&n, &changed); err != nil {
		t.Fatal(err)
	}
	if n != acked-10 || changed != 10 {
		t.Fatalf("after kill -9: %d rows (%d changed), want %d (10)", n, changed, acked-10)
	}
}

// Many sessions write and read at once; every write lands exactly once.
func TestConcurrentSessions(t *testing.T) {
	s := startServer(t)
	ctx := context.Background()
	c := s.connect(t)
	if _, err := c.Exec(ctx, "CREATE TABLE events (worker INT, seq INT, PRIMARY KEY (worker, seq))"); err != nil {
		t.Fatal(err)
	}
	const workers, each = 8, 50
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			conn := s.connect(t)
			for i := 0; i < each; i++ {
				if _, err := conn.Exec(ctx, "INSERT INTO events VALUES ($1, $2)", w, i); err != nil {
					errs <- err
					return
				}
				var n int
				if err := conn.QueryRow(ctx, "SELECT count(*) FROM events WHERE worker = $1", w).Scan(&n); err != nil || n != i+1 {
					errs <- fmt.Errorf("worker %d sees %d rows after %d inserts: %v", w, n, i+1, err)
					return
				}
			}
		}(w)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	var n int
	if err := c.QueryRow(ctx, "SELECT count(*) FROM events").Scan(&n); err != nil || n != workers*each {
		t.Fatalf("total %d, want %d (%v)", n, workers*each, err)
	}
}
