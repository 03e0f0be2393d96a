package main

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"strings"

	"github.com/streamsql/streamsql/engine/expr"
	"github.com/streamsql/streamsql/planner"
	"github.com/streamsql/streamsql/sources/generator"
	"github.com/streamsql/streamsql/types"
)

// The demo: a live crypto price feed and a retailer's bitcoin payments,
// reference tables of customers and IP prefixes, and the views of the
// README's tour. Everything is created with SQL (IF NOT EXISTS, so a
// restarted demo carries on) and fed by generators.

const demoSchema = `
CREATE STREAM IF NOT EXISTS prices (symbol TEXT, price DOUBLE PRECISION, ts TIMESTAMP,
  WATERMARK FOR ts AS ts - INTERVAL '2' SECOND) WITH (shards = 2, partition_by = 'symbol', retention = '24h');
CREATE STREAM IF NOT EXISTS payments (order_id BIGINT, address TEXT, coin TEXT, btc NUMERIC(16,8), ship_country TEXT,
  client_ip TEXT, ts TIMESTAMP, WATERMARK FOR ts AS ts - INTERVAL '5' SECOND) WITH (shards = 2, partition_by = 'address', retention = '24h');
CREATE TABLE IF NOT EXISTS customers (address TEXT PRIMARY KEY, customer TEXT, home_country TEXT, usual_btc NUMERIC(16,8));
CREATE TABLE IF NOT EXISTS ip_countries (prefix TEXT PRIMARY KEY, country TEXT);
`

// demoViews are created after the reference tables are filled.
var demoViews = []string{
	// each payment valued at the BTC price of its moment: the latest tick
	// at or before it (an as-of join of the two streams)
	`CREATE MATERIALIZED VIEW IF NOT EXISTS payments_usd AS
  SELECT p.order_id, p.address, p.ship_country, p.client_ip, p.ts, p.btc,
         q.price AS btc_usd, round(p.btc * q.price::numeric, 2) AS usd
  FROM payments AS p ASOF JOIN prices AS q ON q.symbol = p.coin AND p.ts >= q.ts`,
	// the BTC prices around each payment (2 s before to 1 s after): an interval join
	`CREATE MATERIALIZED VIEW IF NOT EXISTS payment_price_range AS
  SELECT p.order_id, min(q.price) AS low, max(q.price) AS high, count(*) AS ticks
  FROM payments AS p JOIN prices AS q
    ON q.symbol = p.coin AND q.ts BETWEEN p.ts - INTERVAL '2' SECOND AND p.ts + INTERVAL '1' SECOND
  GROUP BY p.order_id`,
	// revenue per shipping country per minute, in USD
	`CREATE MATERIALIZED VIEW IF NOT EXISTS revenue_per_minute AS
  SELECT window_start, ship_country, count(*) AS payments, sum(usd) AS usd
  FROM TUMBLE(payments_usd, ts, INTERVAL '1' MINUTE)
  GROUP BY window_start, ship_country`,
	// alerts: payments far above what the customer usually pays
	`CREATE MATERIALIZED VIEW IF NOT EXISTS alerts AS
  SELECT p.order_id, c.customer, p.btc, c.usual_btc, round(p.btc / c.usual_btc, 1) AS times_usual, p.ship_country, p.ts
  FROM payments AS p JOIN customers AS c ON p.address = c.address
  WHERE p.btc > 5 * c.usual_btc`,
	// payments from an IP of another country than the one shipped to
	`CREATE MATERIALIZED VIEW IF NOT EXISTS ip_alerts AS
  SELECT p.order_id, p.address, p.ship_country, i.country AS ip_country, p.client_ip, p.ts
  FROM payments AS p JOIN ip_countries AS i ON split_part(p.client_ip, '.', 1) = i.prefix
  WHERE i.country <> p.ship_country`,
	// the latest price of every coin, per minute
	`CREATE MATERIALIZED VIEW IF NOT EXISTS price_per_minute AS
  SELECT window_start, symbol, min(price) AS low, max(price) AS high, avg(price) AS average, count(*) AS ticks
  FROM TUMBLE(prices, ts, INTERVAL '1' MINUTE)
  GROUP BY window_start, symbol`,
}

// runSQL executes statements (separated by semicolons) in a session.
func runSQL(db *planner.DB, sql string) error {
	return db.NewSession(expr.OwnerName, "streamsql").ExecScript(sql)
}

// startDemo creates the demo's objects and starts its generators.
func startDemo(ctx context.Context, db *planner.DB, log *slog.Logger) error {
	if err := runSQL(db, demoSchema); err != nil {
		return fmt.Errorf("demo schema: %w", err)
	}
	customers := generator.Customers(50, 42)
	var b strings.Builder
	b.WriteString("INSERT INTO customers VALUES ")
	for i, c := range customers {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "('%s', '%s', '%s', %s)", c.Address, c.Name, c.Country, strconv.FormatFloat(c.UsualBTC, 'f', 8, 64))
	}
	b.WriteString(" ON CONFLICT (address) DO NOTHING; INSERT INTO ip_countries VALUES ")
	for i, c := range generator.Countries {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "('%s', '%s')", c.Prefix, c.Country)
	}
	b.WriteString(" ON CONFLICT (prefix) DO NOTHING")
	if err := runSQL(db, b.String()); err != nil {
		return fmt.Errorf("demo reference tables: %w", err)
	}
	for _, v := range demoViews {
		if err := runSQL(db, v); err != nil {
			return fmt.Errorf("demo view: %w", err)
		}
	}
	prices, err := db.Stream("prices")
	if err != nil {
		return err
	}
	payments, err := db.Stream("payments")
	if err != nil {
		return err
	}
	run := func(name string, f func() error) {
		go func() {
			if err := f(); err != nil {
				log.Error("demo generator stopped", "generator", name, "err", err)
			}
		}()
	}
	run("prices", func() error {
		return generator.Prices(ctx, 7, 5, func(rows [][]types.Datum) error { _, err := prices.Append(rows); return err })
	})
	// order ids go on from the last one stored: a restarted demo repeats none
	last, err := db.NewSession(expr.OwnerName, "streamsql").QueryRow("SELECT coalesce(max(order_id), 1000) FROM payments")
	if err != nil {
		return fmt.Errorf("demo: the last order id: %w", err)
	}
	run("payments", func() error {
		return generator.Payments(ctx, 11, 8, customers, last[0].I, func(rows [][]types.Datum) error {
			for _, r := range rows {
				// the coin column: this retailer takes bitcoin
				r = append(r[:2], append([]types.Datum{types.DText("BTC")}, r[2:]...)...)
				if _, err := payments.Append([][]types.Datum{r}); err != nil {
					return err
				}
			}
			return nil
		})
	})
	return nil
}

// demoHelp is printed when the demo is up.
func demoHelp(host, port string) string {
	return fmt.Sprintf(`
streamsql demo is running: BTC/ETH/SOL prices (5 ticks/s each) and a retailer's bitcoin payments (8/s).

  psql -h %[1]s -p %[2]s -U demo

Try:
  SELECT * FROM payments_usd ORDER BY ts DESC LIMIT 5;      -- payments valued at the price of their moment (ASOF JOIN)
  SELECT * FROM payment_price_range ORDER BY order_id DESC LIMIT 5;  -- prices around each payment (interval join)
  SELECT * FROM revenue_per_minute ORDER BY window_start DESC, usd DESC LIMIT 10;
  SELECT * FROM alerts ORDER BY ts DESC;                    -- far above the customer's usual amount
  SELECT * FROM ip_alerts ORDER BY ts DESC LIMIT 5;         -- IP country differs from the shipping country
  SELECT * FROM price_per_minute WHERE symbol = 'BTC' ORDER BY window_start DESC LIMIT 3;
  COPY (SUBSCRIBE TO alerts WITH (snapshot = false)) TO STDOUT;   -- alerts as they happen (Ctrl-C stops)
  EXPLAIN MATERIALIZED VIEW payments_usd;
  UPDATE customers SET usual_btc = usual_btc * 10 WHERE customer = 'customer-007';  -- alerts retract

`, host, port)
}
