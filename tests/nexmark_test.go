package tests

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/streamsql/streamsql/sources/nexmark"
)

// The Nexmark queries, as shipped (sources/nexmark/queries), over a small
// generated run: each one's final result equals the same query run by
// PostgreSQL 15 as a batch over the same events, exported from streamsql
// with COPY. The pass-through queries are blackhole sinks in the files;
// here they become views, so their rows can be compared.
func TestNexmarkMatchesPostgres(t *testing.T) {
	url := oracle(t)
	ctx := context.Background()
	run := func(c *pgconn.PgConn, sql string) []string {
		t.Helper()
		res, err := c.Exec(ctx, sql).ReadAll()
		if err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
		var rows []string
		for _, r := range res {
			for _, row := range r.Rows {
				rows = append(rows, render(row))
			}
		}
		sort.Strings(rows)
		return rows
	}
	admin, err := pgconn.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(ctx)
	db := fmt.Sprintf("nexmark_%d", os.Getpid())
	run(admin, "CREATE DATABASE "+db)
	defer func() { _, _ = admin.Exec(ctx, "DROP DATABASE "+db+" WITH (FORCE)").ReadAll() }()
	pg, err := pgconn.Connect(ctx, strings.Replace(url, "/postgres?", "/"+db+"?", 1))
	if err != nil {
		t.Fatal(err)
	}
	defer pg.Close(ctx)
	run(pg, `CREATE TABLE person (id BIGINT, name TEXT, email_address TEXT, credit_card TEXT, city TEXT, state TEXT, date_time TIMESTAMP, extra TEXT);
		CREATE TABLE auction (id BIGINT, item_name TEXT, description TEXT, initial_bid BIGINT, reserve BIGINT, date_time TIMESTAMP, expires TIMESTAMP, seller BIGINT, category BIGINT, extra TEXT);
		CREATE TABLE bid (auction BIGINT, bidder BIGINT, price BIGINT, channel TEXT, url TEXT, date_time TIMESTAMP, extra TEXT)`)

	// the same answers whatever the batches and workers (small batches
	// cut windows and joins at other places)
	sink := regexp.MustCompile(`(?is)CREATE SINK (\w+) AS\s+(.*?)\s+WITH \(connector = 'blackhole'(?:, )?([^)]*)\)`)
	asView := func(sql string) string {
		return sink.ReplaceAllStringFunc(sql, func(m string) string {
			p := sink.FindStringSubmatch(m)
			if p[3] != "" {
				return fmt.Sprintf("CREATE MATERIALIZED VIEW %s WITH (%s) AS %s", p[1], p[3], p[2])
			}
			return fmt.Sprintf("CREATE MATERIALIZED VIEW %s AS %s", p[1], p[2])
		})
	}
	for i, args := range [][]string{nil, {"--view-batch-size", "97", "--workers", "3"}} {
		srv := startServer(t, args...)
		ss, err := pgconn.Connect(ctx, srv.url("nexmark"))
		if err != nil {
			t.Fatal(err)
		}
		// 60,000 events at 1,000 a second: a minute of event time, windows
		// of every query close many times, auctions open and expire
		run(ss, "CREATE SOURCE nexmark WITH (connector = 'nexmark', events = 60000, rate = 1000, shards = 3, seed = 42)")
		if i == 0 {
			for _, table := range nexmark.Names {
				var buf bytes.Buffer
				if _, err := ss.CopyTo(ctx, &buf, fmt.Sprintf("COPY (SELECT * FROM %s) TO STDOUT", table)); err != nil {
					t.Fatal(err)
				}
				tag, err := pg.CopyFrom(ctx, &buf, fmt.Sprintf("COPY %s FROM STDIN", table))
				if err != nil {
					t.Fatal(err)
				}
				if tag.RowsAffected() == 0 {
					t.Fatalf("no %s events", table)
				}
			}
		}
		for _, q := range nexmark.Queries() {
			t.Run(fmt.Sprintf("%s/%s", q, strings.Join(append([]string{"server"}, args...), " ")), func(t *testing.T) {
				sql, err := nexmark.Query(q)
				if err != nil {
					t.Fatal(err)
				}
				run(ss, asView(sql))
				run(ss, "FLUSH")
				got := run(ss, "SELECT * FROM "+q)
				want := run(pg, postgresNexmark[q])
				if len(want) == 0 {
					t.Fatalf("PostgreSQL's %s is empty: the run is too small to test it", q)
				}
				if strings.Join(got, "\n") != strings.Join(want, "\n") {
					t.Fatalf("%s: %d rows, PostgreSQL %d\n got %.600s\nwant %.600s", q, len(got), len(want), strings.Join(got, " | "), strings.Join(want, " | "))
				}
				t.Logf("%s: %d rows equal", q, len(got))
			})
		}
		ss.Close(ctx)
		srv.stop()
	}
}

// PostgreSQL's versions of the queries: TUMBLE and HOP written with
// date_bin (windows aligned to the epoch, as streamsql's), the rest as
// the files have them.
var postgresNexmark = map[string]string{
	"q0": `SELECT auction, bidder, price, date_time FROM bid`,
	"q1": `SELECT auction, bidder, 0.908 * price AS price, date_time FROM bid`,
	"q2": `SELECT auction, price FROM bid WHERE auction = 1007 OR auction = 1020 OR auction = 2001 OR auction = 2019 OR auction = 2087`,
	"q3": `SELECT p.name, p.city, p.state, a.id FROM auction AS a JOIN person AS p ON a.seller = p.id
		WHERE a.category = 10 AND (p.state = 'OR' OR p.state = 'ID' OR p.state = 'CA')`,
	"q4": `SELECT category, avg(final) AS avg FROM (
		SELECT a.id, a.category, max(b.price) AS final FROM auction AS a JOIN bid AS b
		ON a.id = b.auction AND b.date_time BETWEEN a.date_time AND a.expires GROUP BY a.id, a.category) AS q
		GROUP BY category`,
	"q5": `SELECT auction, num FROM (
		SELECT auction, num, rank() OVER (PARTITION BY starttime ORDER BY num DESC) AS rn FROM (
			SELECT auction, count(*) AS num, ws AS starttime
			FROM bid CROSS JOIN LATERAL generate_series(
				date_bin('2 seconds', date_time, TIMESTAMP '1970-01-01') - INTERVAL '8 seconds',
				date_bin('2 seconds', date_time, TIMESTAMP '1970-01-01'), INTERVAL '2 seconds') AS ws
			GROUP BY ws, auction) AS counts) AS ranked
		WHERE rn <= 1`,
	"q7": `SELECT auction, price, bidder, date_time FROM (
		SELECT auction, price, bidder, date_time,
			rank() OVER (PARTITION BY date_bin('10 seconds', date_time, TIMESTAMP '1970-01-01') ORDER BY price DESC) AS rn
		FROM bid) AS ranked
		WHERE rn <= 1`,
	"q13": `WITH side_input AS (SELECT g AS key, 'value-' || g AS value FROM generate_series(0, 9999) AS g)
		SELECT b.auction, b.bidder, b.price, b.date_time, s.value
		FROM bid AS b JOIN side_input AS s ON b.auction % 10000 = s.key`,
	"q8": `SELECT DISTINCT p.id, p.name, date_bin('10 seconds', p.date_time, TIMESTAMP '1970-01-01') AS starttime
		FROM person AS p JOIN auction AS a ON p.id = a.seller
		AND date_bin('10 seconds', p.date_time, TIMESTAMP '1970-01-01') = date_bin('10 seconds', a.date_time, TIMESTAMP '1970-01-01')`,
}
