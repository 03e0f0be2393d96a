package tests

import (
	"context"
	"fmt"
	"os"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// COPY into a 4-shard stream over the wire: 100-byte records, durable.
func BenchmarkCopyIntoStream(b *testing.B) {
	s := startServer(b)
	ctx := context.Background()
	c := s.connect(b)
	if _, err := c.Exec(ctx, "CREATE STREAM trades (symbol TEXT, price DOUBLE PRECISION, ts TIMESTAMP, pad TEXT) WITH (shards = 4, partition_by = 'symbol')"); err != nil {
		b.Fatal(err)
	}
	pad := strings.Repeat("x", 62)
	const batch = 100_000
	rows := make([][]any, batch)
	for i := range rows {
		rows[i] = []any{[]string{"BTC", "ETH", "SOL", "ADA"}[i%4], float64(i), time.Unix(int64(i), 0).UTC(), pad}
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		n, err := c.CopyFrom(ctx, pgx.Identifier{"trades"}, []string{"symbol", "price", "ts", "pad"}, pgx.CopyFromRows(rows))
		if err != nil || n != batch {
			b.Fatal(n, err)
		}
	}
	b.ReportMetric(float64(batch*b.N)/b.Elapsed().Seconds(), "records/s")
}

// Single-record INSERTs from 16 connections: throughput and p99 latency.
func BenchmarkConcurrentInserts(b *testing.B) {
	s := startServer(b)
	ctx := context.Background()
	c := s.connect(b)
	if _, err := c.Exec(ctx, "CREATE STREAM events (id BIGINT, payload TEXT) WITH (shards = 4, partition_by = 'id')"); err != nil {
		b.Fatal(err)
	}
	const conns = 16
	per := b.N/conns + 1
	lat := make([][]time.Duration, conns)
	var wg sync.WaitGroup
	b.ResetTimer()
	for w := 0; w < conns; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			conn := s.connect(b)
			for i := 0; i < per; i++ {
				start := time.Now()
				if _, err := conn.Exec(ctx, "INSERT INTO events VALUES ($1, $2)", int64(w*per+i), "payload"); err != nil {
					b.Error(err)
					return
				}
				lat[w] = append(lat[w], time.Since(start))
			}
		}(w)
	}
	wg.Wait()
	var all []time.Duration
	for _, l := range lat {
		all = append(all, l...)
	}
	sort.Slice(all, func(i, j int) bool { return all[i] < all[j] })
	b.ReportMetric(float64(len(all))/b.Elapsed().Seconds(), "inserts/s")
	if len(all) > 0 {
		b.ReportMetric(float64(all[len(all)*99/100].Microseconds()), "p99-µs")
		b.ReportMetric(float64(all[len(all)/2].Microseconds()), "p50-µs")
	}
	_ = fmt.Sprint
}

// Change → subscriber latency at 100k events/s: every 10 ms a COPY of 1,000
// events into a 4-shard stream, one of them for a marker key; a subscriber
// of a GROUP BY view measures from the start of each COPY (so the durable
// commit is included) to the arrival of the marker's new count.
func BenchmarkSubscribeLatency(b *testing.B) {
	s := startServer(b, strings.Fields(os.Getenv("LATENCY_SERVER_ARGS"))...)
	ctx := context.Background()
	c := s.connect(b)
	for _, q := range []string{
		"CREATE STREAM ev (k TEXT, v BIGINT) WITH (shards = 4, partition_by = 'k')",
		"CREATE MATERIALIZED VIEW ev_counts AS SELECT k, count(*) AS n, sum(v) AS s FROM ev GROUP BY k",
	} {
		if _, err := c.Exec(ctx, q); err != nil {
			b.Fatal(err)
		}
	}
	sub := s.connect(b)
	sctx, cancel := context.WithCancel(ctx)
	rs, err := sub.Query(sctx, "SUBSCRIBE TO ev_counts WITH (snapshot = false)", pgx.QueryExecModeSimpleProtocol)
	if err != nil {
		b.Fatal(err)
	}
	defer func() { cancel(); rs.Close() }()
	const perBatch, every = 1000, 10 * time.Millisecond
	starts, acks := make([]time.Time, b.N), make([]time.Time, b.N)
	var mu sync.Mutex
	seen := make(chan [2]time.Time, b.N) // start and arrival of each COPY
	go func() {
		next := 0
		for rs.Next() {
			vals, err := rs.Values()
			if err != nil || vals[2] != "mark" || vals[1].(int64) != 1 {
				continue
			}
			// one dataflow batch may span several COPYs: the marker's
			// count then jumps, and each COPY it covers has arrived
			n := int(vals[3].(int64))
			now := time.Now()
			mu.Lock()
			for ; next < n; next++ {
				seen <- [2]time.Time{starts[next], now}
			}
			mu.Unlock()
			if next == b.N {
				return
			}
		}
		b.Errorf("subscription ended: %v", rs.Err())
		close(seen)
	}()
	rows := make([][]any, perBatch)
	b.ResetTimer()
	tick := time.NewTicker(every)
	defer tick.Stop()
	for i := 0; i < b.N; i++ {
		<-tick.C
		for r := range rows[:perBatch-1] {
			rows[r] = []any{fmt.Sprintf("k%d", (i*perBatch+r)%1000), int64(r)}
		}
		rows[perBatch-1] = []any{"mark", int64(i)}
		mu.Lock()
		starts[i] = time.Now()
		mu.Unlock()
		if _, err := c.CopyFrom(ctx, pgx.Identifier{"ev"}, []string{"k", "v"}, pgx.CopyFromRows(rows)); err != nil {
			b.Fatal(err)
		}
		mu.Lock()
		acks[i] = time.Now()
		mu.Unlock()
	}
	lat := make([]time.Duration, 0, b.N)
	fromAck := make([]time.Duration, 0, b.N)
	commit := make([]time.Duration, 0, b.N) // the COPY itself: durable, then acknowledged
	for i := range b.N {
		d, ok := <-seen
		if !ok {
			b.FailNow()
		}
		lat = append(lat, d[1].Sub(d[0]))
		mu.Lock()
		// the subscriber can see a change before COPY's acknowledgement
		// reaches the client
		fromAck = append(fromAck, max(0, d[1].Sub(acks[i])))
		commit = append(commit, acks[i].Sub(starts[i]))
		mu.Unlock()
	}
	b.StopTimer()
	pct := func(xs []time.Duration, p int) float64 {
		sort.Slice(xs, func(i, j int) bool { return xs[i] < xs[j] })
		return float64(xs[len(xs)*p/100].Microseconds())
	}
	b.ReportMetric(float64(perBatch*b.N)/b.Elapsed().Seconds(), "events/s")
	b.ReportMetric(pct(lat, 50), "p50-µs")
	b.ReportMetric(pct(lat, 99), "p99-µs")
	b.ReportMetric(pct(fromAck, 50), "ack-p50-µs")
	b.ReportMetric(pct(fromAck, 99), "ack-p99-µs")
	b.ReportMetric(pct(commit, 50), "copy-p50-µs")
	b.ReportMetric(pct(commit, 99), "copy-p99-µs")
}

// Point SELECTs of a view of 1M groups by its key, over the wire (pgx,
// extended protocol, the key a parameter): the view's index on the key,
// made by the first such read, answers each one. Reports the latency
// percentiles.
func BenchmarkViewPointSelect(b *testing.B) {
	s := startServer(b)
	ctx := context.Background()
	c := s.connect(b)
	const groups = 1_000_000
	for _, q := range []string{
		"CREATE STREAM ev (k BIGINT, v BIGINT) WITH (shards = 2)",
		"CREATE MATERIALIZED VIEW per_key AS SELECT k, count(*) AS n, sum(v) AS s FROM ev GROUP BY k",
		fmt.Sprintf("INSERT INTO ev SELECT g, g FROM generate_series(1, %d) g", groups),
		"FLUSH",
	} {
		if _, err := c.Exec(ctx, q); err != nil {
			b.Fatal(err)
		}
	}
	var n, sum int64
	if err := c.QueryRow(ctx, "SELECT n, s FROM per_key WHERE k = $1", int64(1)).Scan(&n, &sum); err != nil || n != 1 || sum != 1 {
		b.Fatalf("first read: %d %d %v", n, sum, err)
	}
	lat := make([]time.Duration, b.N)
	b.ResetTimer()
	for i := range b.N {
		k := int64(1 + (i*7919)%groups)
		start := time.Now()
		if err := c.QueryRow(ctx, "SELECT n, s FROM per_key WHERE k = $1", k).Scan(&n, &sum); err != nil || sum != k {
			b.Fatalf("k=%d: %d %v", k, sum, err)
		}
		lat[i] = time.Since(start)
	}
	b.StopTimer()
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
}
