package planner

import (
	"testing"

	"github.com/streamsql/streamsql/sources/nexmark"
)

// A blackhole sink's checksum is that of the rows a view of the same
// query holds: the sums over the changes equal the sums over the result.
func TestSinkChecksumEqualsView(t *testing.T) {
	for _, q := range []string{"q1", "q2"} {
		res, err := RunNexmark(NexmarkRun{Query: q, Events: 30_000, Rate: 1000, Shards: 2, Dir: t.TempDir(),
			Setup: func(s *Session) error {
				// a view of the same rows, but one that also retracts: a
				// top-N per auction over the bids changes as better ones come
				return s.ExecScript("CREATE MATERIALIZED VIEW same AS SELECT auction, bidder, 0.908 * price AS price, date_time FROM bid; " +
					"CREATE MATERIALIZED VIEW best AS SELECT auction, price FROM (SELECT auction, price, row_number() OVER (PARTITION BY auction ORDER BY price DESC, bidder) AS rn FROM bid) AS r WHERE rn <= 2; " +
					"CREATE SINK best_sink AS SELECT auction, price FROM (SELECT auction, price, row_number() OVER (PARTITION BY auction ORDER BY price DESC, bidder) AS rn FROM bid) AS r WHERE rn <= 2 WITH (connector = 'blackhole')")
			}}, true)
		if err != nil {
			t.Fatal(err)
		}
		if q == "q1" {
			rows, sum, err := res.DB.ResultChecksum("same")
			if err != nil {
				t.Fatal(err)
			}
			if rows != res.Rows || sum != res.Checksum || rows != 27_600 {
				t.Errorf("sink q1: %d rows, %x; view: %d rows, %x", res.Rows, res.Checksum, rows, sum)
			}
		}
		vr, vs, err := res.DB.ResultChecksum("best")
		if err != nil {
			t.Fatal(err)
		}
		sr, ss, err := res.DB.ResultChecksum("best_sink")
		if err != nil {
			t.Fatal(err)
		}
		if vr != sr || vs != ss || vr == 0 {
			t.Errorf("top-N view: %d rows, %x; its sink: %d rows, %x", vr, vs, sr, ss)
		}
		res.DB.Close()
	}
}

// Every shipped query runs as its file has it (the end-to-end test
// rewrites sinks into views to compare them with PostgreSQL).
func TestNexmarkQueryFilesRun(t *testing.T) {
	for _, q := range nexmark.Queries() {
		res, err := RunNexmark(NexmarkRun{Query: q, Events: 5_000, Rate: 1000, Shards: 2, Dir: t.TempDir()}, false)
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		if res.Rows == 0 {
			t.Errorf("%s: no rows from 5,000 events", q)
		}
	}
}

// BenchmarkNexmark runs every query over 1M events (streamsql bench
// nexmark runs them over 10M, each in a process of its own).
func BenchmarkNexmark(b *testing.B) {
	for _, q := range nexmark.Queries() {
		b.Run(q, func(b *testing.B) {
			const events = 1_000_000
			var elapsed float64
			for i := 0; i < b.N; i++ {
				res, err := RunNexmark(NexmarkRun{Query: q, Events: events, Seed: 1}, false)
				if err != nil {
					b.Fatal(err)
				}
				elapsed += res.Elapsed.Seconds()
			}
			b.ReportMetric(float64(events*b.N)/elapsed, "events/s")
		})
	}
}
