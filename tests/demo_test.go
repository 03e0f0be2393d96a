package tests

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// `streamsql demo` from a fresh data directory: its views fill within
// seconds, payments are valued in USD at prices of their moment, and a
// subscription to the alert view delivers alerts as they happen. A
// table change (a customer's usual amount raised) retracts their alerts.
func TestDemo(t *testing.T) {
	s := &server{t: t, dataDir: t.TempDir(), command: "demo"}
	s.start()
	t.Cleanup(s.stop)
	c := s.connect(t)
	ctx := context.Background()
	count := func(q string) int64 {
		var n int64
		if err := c.QueryRow(ctx, q).Scan(&n); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		return n
	}
	waitUntil(t, func() bool {
		return count("SELECT count(*) FROM payments_usd") >= 10 && count("SELECT count(*) FROM revenue_per_minute") > 0 &&
			count("SELECT count(DISTINCT symbol) FROM price_per_minute") == 3
	})
	// a payment's USD value is its amount at a BTC price near its time
	if n := count("SELECT count(*) FROM payments_usd WHERE usd <= 0 OR btc_usd NOT BETWEEN 40000 AND 90000"); n != 0 {
		t.Fatalf("%d payments valued oddly", n)
	}
	if n := count("SELECT count(*) FROM streamsql_views WHERE NOT incremental"); n != 0 {
		t.Fatalf("%d demo views are not incremental", n)
	}

	// alerts as they happen
	sc := s.connect(t)
	sctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	rs, err := sc.Query(sctx, "SUBSCRIBE TO alerts WITH (snapshot = false)", pgx.QueryExecModeSimpleProtocol)
	if err != nil {
		t.Fatal(err)
	}
	got := readChanges(t, rs, 1)
	cancel()
	rs.Close()
	if got[0].diff != 1 {
		t.Fatalf("first alert: %+v", got[0])
	}

	// raising every customer's usual amount a thousandfold retracts the alerts
	waitUntil(t, func() bool { return count("SELECT count(*) FROM alerts") > 0 })
	if _, err := c.Exec(ctx, "UPDATE customers SET usual_btc = usual_btc * 1000"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Exec(ctx, "FLUSH"); err != nil {
		t.Fatal(err)
	}
	if n := count("SELECT count(*) FROM alerts"); n != 0 {
		t.Fatalf("%d alerts after every usual amount was raised", n)
	}
}

// A restarted demo goes on from its last order id: no order id twice.
func TestDemoRestartKeepsOrderIDs(t *testing.T) {
	s := &server{t: t, dataDir: t.TempDir(), command: "demo"}
	s.start()
	t.Cleanup(s.stop)
	ctx := context.Background()
	count := func(q string) int64 {
		c := s.connect(t)
		defer c.Close(ctx)
		var n int64
		if err := c.QueryRow(ctx, q).Scan(&n); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		return n
	}
	waitUntil(t, func() bool { return count("SELECT count(*) FROM payments") >= 5 })
	s.restart()
	before := count("SELECT count(*) FROM payments")
	waitUntil(t, func() bool { return count("SELECT count(*) FROM payments") >= before+5 })
	if n, d := count("SELECT count(*) FROM payments"), count("SELECT count(DISTINCT order_id) FROM payments"); n != d {
		t.Fatalf("%d payments with %d order ids after a restart", n, d)
	}
}
