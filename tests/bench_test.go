package tests

import (
	"context"
	"fmt"
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
