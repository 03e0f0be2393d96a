package tests

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
)

// Materialized views over a stream are maintained incrementally; after
// FLUSH their contents equal the same query run as a batch in PostgreSQL
// over the same rows — with rows arriving in single-row and in large
// inserts, before and after the view is created, and after a restart
// (which replays the stream).
func TestIncrementalViewsMatchPostgres(t *testing.T) {
	pg := oracle(t)
	ctx := context.Background()
	admin, err := pgconn.Connect(ctx, pg)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(ctx)
	admin.Exec(ctx, "DROP DATABASE IF EXISTS views").ReadAll()
	if _, err := admin.Exec(ctx, "CREATE DATABASE views").ReadAll(); err != nil {
		t.Fatal(err)
	}
	defer func() { _, _ = admin.Exec(ctx, "DROP DATABASE views WITH (FORCE)").ReadAll() }()
	pgc, err := pgconn.Connect(ctx, strings.Replace(pg, "/postgres?", "/views?", 1))
	if err != nil {
		t.Fatal(err)
	}
	defer pgc.Close(ctx)
	s := startServer(t)
	connect := func() *pgconn.PgConn {
		c, err := pgconn.Connect(ctx, s.url("views"))
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	ss := connect()
	exec := func(c *pgconn.PgConn, q string) {
		t.Helper()
		if _, err := c.Exec(ctx, q).ReadAll(); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	cols := "(symbol TEXT, price DOUBLE PRECISION, qty BIGINT, note TEXT, ts TIMESTAMP)"
	exec(pgc, "CREATE TABLE trades "+cols)
	exec(ss, "CREATE STREAM trades "+cols+" WITH (shards = 3, partition_by = 'symbol')")
	views := map[string]string{
		"per_symbol": "SELECT symbol, count(*) AS n, sum(qty) AS q, avg(price) AS p, min(price) AS lo, max(note) AS hi FROM trades GROUP BY symbol",
		"busy":       "SELECT symbol, count(*) AS n FROM trades WHERE price > 50 GROUP BY symbol HAVING count(*) > 2",
		"big":        "SELECT symbol, price * qty AS notional FROM trades WHERE qty > 5",
		"total":      "SELECT count(*) AS n, sum(price) AS s, avg(qty) AS a FROM trades",
		"per_minute": "SELECT symbol, window_start, window_end, count(*) AS n, sum(qty) AS q FROM TUMBLE(trades, ts, INTERVAL '1' MINUTE) GROUP BY symbol, window_start, window_end",
		"hopping":    "SELECT window_start, max(price) AS hi FROM HOP(trades, ts, INTERVAL '30' SECOND, INTERVAL '2' MINUTE) GROUP BY window_start",
	}
	// what PostgreSQL runs for the windowed views
	pgQuery := map[string]string{
		"per_minute": "SELECT symbol, date_trunc('minute', ts), date_trunc('minute', ts) + INTERVAL '1 minute', count(*), sum(qty) FROM trades WHERE ts IS NOT NULL GROUP BY 1, 2, 3",
		"hopping": `SELECT w, max(price) FROM trades, generate_series(date_bin('30 seconds', ts, TIMESTAMP '2000-01-01') - INTERVAL '90 seconds',
			date_bin('30 seconds', ts, TIMESTAMP '2000-01-01'), INTERVAL '30 seconds') AS w WHERE ts IS NOT NULL GROUP BY w`,
	}
	r := rand.New(rand.NewPCG(9, 9))
	insert := func(rows int, single bool) {
		var vals []string
		for i := 0; i < rows; i++ {
			note := "NULL"
			if r.IntN(3) > 0 {
				note = fmt.Sprintf("'n%d'", r.IntN(10))
			}
			ts := "NULL"
			if r.IntN(10) > 0 {
				ts = fmt.Sprintf("TIMESTAMP '2026-01-01 00:00:00' + INTERVAL '%d seconds'", r.IntN(600))
			}
			vals = append(vals, fmt.Sprintf("('%s', %d.5, %d, %s, %s)", []string{"BTC", "ETH", "SOL", "ADA", "XRP"}[r.IntN(5)], r.IntN(100), r.IntN(10), note, ts))
		}
		if single {
			for _, v := range vals {
				exec(pgc, "INSERT INTO trades VALUES "+v)
				exec(ss, "INSERT INTO trades VALUES "+v)
			}
			return
		}
		q := "INSERT INTO trades VALUES " + strings.Join(vals, ", ")
		exec(pgc, q)
		exec(ss, q)
	}
	check := func(when string) {
		t.Helper()
		exec(ss, "FLUSH")
		for name, q := range views {
			pq := q
			if p, ok := pgQuery[name]; ok {
				pq = p
			}
			want, werr := runRows(ctx, pgc, pq)
			got, gerr := runRows(ctx, ss, "SELECT * FROM "+name)
			adhoc, aerr := runRows(ctx, ss, q) // the same query as a batch over the stream
			if werr != nil || gerr != nil || aerr != nil {
				t.Fatalf("%s %s: %v %v %v", when, name, werr, gerr, aerr)
			}
			if strings.Join(want, "\n") != strings.Join(got, "\n") {
				t.Errorf("%s: view %s\n--- postgres\n%s\n--- streamsql\n%s", when, name, strings.Join(want, "\n"), strings.Join(got, "\n"))
			}
			if strings.Join(want, "\n") != strings.Join(adhoc, "\n") {
				t.Errorf("%s: query of %s as a batch\n--- postgres\n%s\n--- streamsql\n%s", when, name, strings.Join(want, "\n"), strings.Join(adhoc, "\n"))
			}
		}
	}
	insert(40, false)
	for name, q := range views {
		exec(ss, fmt.Sprintf("CREATE MATERIALIZED VIEW %s AS %s", name, q))
	}
	check("after creation")
	insert(30, true)
	insert(500, false)
	check("after more rows")
	ss.Close(ctx)
	s.restart()
	ss = connect()
	defer ss.Close(ctx)
	check("after a restart")
	insert(25, true)
	check("after rows since the restart")
	var plan string
	res, err := ss.Exec(ctx, "EXPLAIN SELECT * FROM per_symbol").ReadAll()
	if err == nil {
		for _, row := range res[0].Rows {
			plan += string(row[0]) + "\n"
		}
	}
	if !strings.Contains(plan, "Scan per_symbol (materialized view)") {
		t.Errorf("per_symbol is not read from its maintained state: %q", plan)
	}
}

// WITH (table_joins = 'lookup'): each stream row joins the table as it is
// when the row arrives; a later table change does not revise earlier rows
// (unlike the default), and the view keeps no stream rows as state — also
// for a union of streams joined with the table, under an aggregate.
func TestLookupJoin(t *testing.T) {
	s := startServer(t)
	c := s.connect(t)
	ctx := context.Background()
	exec, rows := execer(t, c), querier(t, c)
	exec("CREATE TABLE fx (currency TEXT PRIMARY KEY, usd NUMERIC(10,4))")
	exec("INSERT INTO fx VALUES ('EUR', 1.10), ('GBP', 1.25)")
	exec("CREATE STREAM orders (id INT, currency TEXT, amount NUMERIC(10,2))")
	exec("CREATE STREAM refunds (id INT, currency TEXT, amount NUMERIC(10,2))")
	exec("CREATE MATERIALIZED VIEW at_the_time WITH (table_joins = 'lookup') AS SELECT o.id, o.amount * f.usd AS usd FROM orders AS o LEFT JOIN fx AS f ON o.currency = f.currency")
	exec("CREATE MATERIALIZED VIEW as_of_now AS SELECT o.id, o.amount * f.usd AS usd FROM orders AS o LEFT JOIN fx AS f ON o.currency = f.currency")
	exec("CREATE MATERIALIZED VIEW net_usd WITH (table_joins = 'lookup') AS SELECT count(*) AS n, sum(m.amount * f.usd) AS usd FROM (SELECT currency, amount FROM orders UNION ALL SELECT currency, -amount FROM refunds) AS m JOIN fx AS f ON f.currency = m.currency")
	exec("INSERT INTO orders VALUES (1, 'EUR', 100), (2, 'GBP', 100), (3, 'JPY', 100)")
	exec("INSERT INTO refunds VALUES (1, 'EUR', 10)")
	exec("FLUSH")
	exec("UPDATE fx SET usd = 1.20 WHERE currency = 'EUR'")
	exec("INSERT INTO fx VALUES ('JPY', 0.0070)")
	exec("INSERT INTO orders VALUES (4, 'EUR', 100), (5, 'JPY', 100)")
	exec("FLUSH")
	if got := rows("SELECT id, coalesce(usd::text, 'NULL') FROM at_the_time ORDER BY id"); got != "1 110.000000; 2 125.000000; 3 NULL; 4 120.000000; 5 0.700000" {
		t.Fatalf("lookup join: %s", got)
	}
	if got := rows("SELECT id, coalesce(usd::text, 'NULL') FROM as_of_now ORDER BY id"); got != "1 120.000000; 2 125.000000; 3 0.700000; 4 120.000000; 5 0.700000" {
		t.Fatalf("revising join: %s", got)
	}
	// 110 + 125 - 11 at the old EUR rate, then 120 + 0.70 at the new ones
	if got := rows("SELECT n, usd::text FROM net_usd"); got != "5 344.700000" {
		t.Fatalf("lookup join in a graph: %s", got)
	}
	// only the table's 3 rows are kept by the lookup views
	if got := rows("SELECT groups FROM streamsql_views WHERE view = 'at_the_time'"); got != "3" {
		t.Fatalf("lookup join state: %s rows", got)
	}
	var pe *pgconn.PgError
	_, err := c.Exec(ctx, "CREATE MATERIALIZED VIEW bad WITH (table_joins = 'lookup') AS SELECT o.id FROM orders AS o RIGHT JOIN fx AS f ON o.currency = f.currency")
	if !errors.As(err, &pe) || pe.Code != "0A000" {
		t.Fatalf("lookup with the table outer: %v", err)
	}
	_, err = c.Exec(ctx, "CREATE MATERIALIZED VIEW bad2 WITH (table_joins = 'sometimes') AS SELECT o.id FROM orders AS o JOIN fx AS f ON o.currency = f.currency")
	if !errors.As(err, &pe) || pe.Code != "22023" {
		t.Fatalf("bad table_joins: %v", err)
	}
}
