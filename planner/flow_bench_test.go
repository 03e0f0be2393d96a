package planner

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

// BenchmarkWindowedViewFromStore measures a windowed aggregate end to end
// from the stream store: events already in a 4-shard stream (written
// before the timer starts), then CREATE MATERIALIZED VIEW (TUMBLE 1
// minute, GROUP BY window and one key of 1,000 values, count + sum + avg)
// and FLUSH, which returns once the view reflects every event: reading
// the shards into Arrow batches, window assignment, the incremental
// aggregate and applying the changelog to the view.
func BenchmarkWindowedViewFromStore(b *testing.B) {
	for _, workers := range []int{1, 2} {
		for _, emit := range []string{"", " EMIT ON WINDOW CLOSE"} {
			name := fmt.Sprintf("workers=%d/emit=update", workers)
			if emit != "" {
				name = fmt.Sprintf("workers=%d/emit=close", workers)
			}
			b.Run(name, func(b *testing.B) { benchViewFromStore(b, emit, workers, 1000) })
		}
	}
}

// BenchmarkWindowedViewFromStoreRandomKeys is the same view over keys drawn
// uniformly from a million: most events are a group of their own in their
// window, so the view holds about as many rows as there are events.
func BenchmarkWindowedViewFromStoreRandomKeys(b *testing.B) {
	for _, workers := range []int{1, 2} {
		b.Run(fmt.Sprintf("workers=%d/emit=update", workers), func(b *testing.B) { benchViewFromStore(b, "", workers, 0) })
	}
}

// benchViewFromStore: keys > 0 cycles through that many keys; 0 draws them
// at random from a million.
func benchViewFromStore(b *testing.B, emit string, workers, keys int) {
	db, err := OpenWith(b.TempDir(), Options{Workers: workers})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	s := db.NewSession("bench", "bench")
	mustExec(b, s, "CREATE STREAM payments (k BIGINT, amount BIGINT, ts TIMESTAMP, WATERMARK FOR ts AS ts - INTERVAL '5 seconds') WITH (shards = 4)")
	const n = 2_000_000
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	res := mustExec(b, s, "COPY payments FROM STDIN (FORMAT csv)")
	var sb strings.Builder
	r := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < n; i++ {
		k := (i * 7919) % max(keys, 1)
		if keys == 0 {
			k = r.IntN(1_000_000)
		}
		fmt.Fprintf(&sb, "%d,%d,%s\n", k, i%1000, t0.Add(time.Duration(i)*time.Millisecond).Format("2006-01-02 15:04:05.000"))
		if sb.Len() > 1<<20 || i == n-1 {
			if err := res.CopyIn.Write([]byte(sb.String())); err != nil {
				b.Fatal(err)
			}
			sb.Reset()
		}
	}
	if got, err := res.CopyIn.Finish(); err != nil || got != n {
		b.Fatal(got, err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		mustExec(b, s, "CREATE MATERIALIZED VIEW per_key AS SELECT window_start, k, count(*) AS n, sum(amount) AS total, avg(amount) AS mean FROM TUMBLE(payments, ts, INTERVAL '1 minute') GROUP BY window_start, k"+emit)
		mustExec(b, s, "FLUSH")
		b.StopTimer()
		mustExec(b, s, "DROP MATERIALIZED VIEW per_key")
		b.StartTimer()
	}
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "events/s")
}
