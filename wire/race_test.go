package wire

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"
)

// Several sessions create, write and read tables and streams at once; run
// with -race this checks the sharing of the catalog and storage.
func TestConcurrentSessionsRace(t *testing.T) {
	addr := startTestServer(t)
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for w := 0; w < 6; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			c, err := pgx.Connect(ctx, fmt.Sprintf("postgres://w%d@%s/db?sslmode=disable", w, addr))
			if err != nil {
				errs <- err
				return
			}
			defer c.Close(ctx)
			stmts := []string{
				fmt.Sprintf("CREATE TABLE t%d (id INT PRIMARY KEY, v TEXT)", w),
				fmt.Sprintf("CREATE STREAM s%d (id INT, v TEXT) WITH (shards = 2)", w),
				fmt.Sprintf("CREATE MATERIALIZED VIEW m%d AS SELECT id, count(*) AS n FROM s%d GROUP BY id", w, w),
			}
			for i := 0; i < 20; i++ {
				stmts = append(stmts,
					fmt.Sprintf("INSERT INTO t%d VALUES (%d, 'x') ON CONFLICT (id) DO UPDATE SET v = 'y'", w, i%7),
					fmt.Sprintf("INSERT INTO s%d VALUES (%d, 'x')", w, i),
					"SELECT count(*) FROM pg_class",
					fmt.Sprintf("SELECT count(*) FROM t%d JOIN s%d USING (id)", w, w),
					"FLUSH",
					fmt.Sprintf("SELECT sum(n) FROM m%d", w))
			}
			stmts = append(stmts, fmt.Sprintf("DROP TABLE t%d", w), fmt.Sprintf("DROP STREAM s%d CASCADE", w))
			for _, sql := range stmts {
				if _, err := c.Exec(ctx, sql); err != nil {
					errs <- fmt.Errorf("%s: %w", sql, err)
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
}
