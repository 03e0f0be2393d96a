package tests

import (
	"context"
	"errors"
	"math/big"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
)

// Parameters of every type go in and come back out, in pgx's default mode
// (prepared statements, binary results) and in simple-protocol mode.
func TestPgxTypesRoundTrip(t *testing.T) {
	s := startServer(t)
	ctx := context.Background()
	for _, mode := range []pgx.QueryExecMode{pgx.QueryExecModeCacheStatement, pgx.QueryExecModeSimpleProtocol, pgx.QueryExecModeExec, pgx.QueryExecModeDescribeExec} {
		t.Run(mode.String(), func(t *testing.T) {
			cfg, err := pgx.ParseConfig(s.url("tester"))
			if err != nil {
				t.Fatal(err)
			}
			cfg.DefaultQueryExecMode = mode
			c, err := pgx.ConnectConfig(ctx, cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close(ctx)
			ts := time.Date(2024, 5, 6, 7, 8, 9, 123456000, time.UTC)
			cases := []struct {
				sql  string
				in   any
				out  any
				want any
			}{
				{"SELECT $1::boolean", true, new(bool), true},
				{"SELECT $1::smallint", int16(-7), new(int16), int16(-7)},
				{"SELECT $1::integer", int32(123456), new(int32), int32(123456)},
				{"SELECT $1::bigint", int64(1) << 40, new(int64), int64(1) << 40},
				{"SELECT $1::real", float32(1.5), new(float32), float32(1.5)},
				{"SELECT $1::double precision", 2.25, new(float64), 2.25},
				{"SELECT $1::text", "héllo 'w'", new(string), "héllo 'w'"},
				{"SELECT $1::varchar", "v", new(string), "v"},
				{"SELECT $1::bytea", []byte{0, 1, 0xfe}, new([]byte), []byte{0, 1, 0xfe}},
				{"SELECT $1::date", time.Date(2024, 2, 29, 0, 0, 0, 0, time.UTC), new(time.Time), time.Date(2024, 2, 29, 0, 0, 0, 0, time.UTC)},
				{"SELECT $1::timestamp", ts, new(time.Time), ts},
				{"SELECT $1::timestamptz", ts, new(time.Time), ts},
				{"SELECT $1::interval", 90 * time.Minute, new(time.Duration), 90 * time.Minute},
				{"SELECT $1::jsonb", `{"a": 1}`, new(map[string]any), map[string]any{"a": float64(1)}},
				{"SELECT $1::numeric", pgtype.Numeric{Int: big.NewInt(12345), Exp: -2, Valid: true}, new(pgtype.Numeric), "123.45"},
				{"SELECT $1 + 1", int32(41), new(int32), int32(42)},
				{"SELECT length($1)", "abc", new(int32), int32(3)},
			}
			for _, tc := range cases {
				if err := c.QueryRow(ctx, tc.sql, tc.in).Scan(tc.out); err != nil {
					t.Errorf("%s: %v", tc.sql, err)
					continue
				}
				got := deref(tc.out)
				if n, ok := got.(pgtype.Numeric); ok {
					v, _ := n.Value()
					got = v
				}
				if tm, ok := got.(time.Time); ok {
					got = tm.UTC()
				}
				if !equalAny(got, tc.want) {
					t.Errorf("%s: got %#v, want %#v", tc.sql, got, tc.want)
				}
			}
			// NULLs of every type
			var sp *string
			var ip *int64
			var tp *time.Time
			if err := c.QueryRow(ctx, "SELECT $1::text, $2::bigint, $3::timestamptz", nil, nil, nil).Scan(&sp, &ip, &tp); err != nil {
				t.Fatal(err)
			}
			if sp != nil || ip != nil || tp != nil {
				t.Errorf("NULLs came back as %v %v %v", sp, ip, tp)
			}
		})
	}
}

func deref(p any) any {
	switch v := p.(type) {
	case *bool:
		return *v
	case *int16:
		return *v
	case *int32:
		return *v
	case *int64:
		return *v
	case *float32:
		return *v
	case *float64:
		return *v
	case *string:
		return *v
	case *[]byte:
		return *v
	case *time.Time:
		return *v
	case *time.Duration:
		return *v
	case *map[string]any:
		return *v
	case *pgtype.Numeric:
		return *v
	case *netip.Addr:
		return *v
	}
	return p
}

func equalAny(a, b any) bool {
	switch x := a.(type) {
	case []byte:
		return string(x) == string(b.([]byte))
	case map[string]any:
		y := b.(map[string]any)
		if len(x) != len(y) {
			return false
		}
		for k, v := range x {
			if y[k] != v {
				return false
			}
		}
		return true
	case time.Time:
		return x.Equal(b.(time.Time))
	}
	return a == b
}

func TestPgxTablesAndErrors(t *testing.T) {
	s := startServer(t)
	ctx := context.Background()
	c := s.connect(t)
	if _, err := c.Exec(ctx, "CREATE TABLE payments (id BIGINT PRIMARY KEY, address TEXT, btc NUMERIC(16,8), at TIMESTAMPTZ)"); err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 1, 1, 0, 0, 1, 0, time.UTC)
	for i := 0; i < 20; i++ {
		if _, err := c.Exec(ctx, "INSERT INTO payments VALUES ($1, $2, $3, $4)", int64(i), "bc1q"+strings.Repeat("x", i), pgtype.Numeric{Int: big.NewInt(int64(i) * 1000), Exp: -8, Valid: true}, at.Add(time.Duration(i)*time.Second)); err != nil {
			t.Fatal(err)
		}
	}
	var n int64
	var total pgtype.Numeric
	if err := c.QueryRow(ctx, "SELECT count(*), sum(btc) FROM payments WHERE at >= $1", at.Add(10*time.Second)).Scan(&n, &total); err != nil {
		t.Fatal(err)
	}
	if v, _ := total.Value(); n != 10 || v != "0.00145000" {
		t.Errorf("count=%d sum=%v", n, v)
	}
	rows, err := c.Query(ctx, "SELECT id, address FROM payments WHERE id < $1 ORDER BY id DESC", 3)
	if err != nil {
		t.Fatal(err)
	}
	ids, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (int64, error) {
		var id int64
		var addr string
		err := r.Scan(&id, &addr)
		return id, err
	})
	if err != nil || len(ids) != 3 || ids[0] != 2 {
		t.Errorf("ids = %v, %v", ids, err)
	}
	// errors carry SQLSTATE and leave the connection usable
	for _, tc := range []struct{ sql, code string }{
		{"SELECT * FROM nope", "42P01"},
		{"SELECT nope FROM payments", "42703"},
		{"SELECT 1/0", "22012"},
		{"INSERT INTO payments VALUES (1, 'dup', 0, now())", "23505"},
		{"SELEC 1", "42601"},
	} {
		_, err := c.Exec(ctx, tc.sql)
		var pe *pgconn.PgError
		if !errors.As(err, &pe) || pe.Code != tc.code {
			t.Errorf("%s: got %v, want SQLSTATE %s", tc.sql, err, tc.code)
		}
	}
	if err := c.QueryRow(ctx, "SELECT count(*) FROM payments").Scan(&n); err != nil || n != 20 {
		t.Errorf("after errors: %d %v", n, err)
	}
	// binary COPY (pgx CopyFrom)
	n2, err := c.CopyFrom(ctx, pgx.Identifier{"payments"}, []string{"id", "address", "btc", "at"}, pgx.CopyFromRows([][]any{
		{int64(100), "bc1qcopy", pgtype.Numeric{Int: big.NewInt(5), Exp: -1, Valid: true}, at},
		{int64(101), nil, nil, nil},
	}))
	if err != nil || n2 != 2 {
		t.Fatalf("CopyFrom: %d %v", n2, err)
	}
	var addr *string
	if err := c.QueryRow(ctx, "SELECT address FROM payments WHERE id = 101").Scan(&addr); err != nil || addr != nil {
		t.Fatalf("copied NULL: %v %v", addr, err)
	}
	if _, err := c.Exec(ctx, "DELETE FROM payments WHERE id >= 100"); err != nil {
		t.Fatal(err)
	}
	// a syntax error reports its position
	_, err = c.Exec(ctx, "SELECT 1 FROM payments WHERE WHERE")
	var pe *pgconn.PgError
	if !errors.As(err, &pe) || pe.Position != 30 {
		t.Errorf("syntax error position: %+v", err)
	}
	// transactions
	tx, err := c.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := tx.QueryRow(ctx, "SELECT count(*) FROM payments").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	// batch (pipelined extended protocol)
	b := &pgx.Batch{}
	b.Queue("SELECT 1")
	b.Queue("SELECT $1::text", "two")
	br := c.SendBatch(ctx, b)
	var one int32
	var two string
	if err := br.QueryRow().Scan(&one); err != nil {
		t.Fatal(err)
	}
	if err := br.QueryRow().Scan(&two); err != nil || two != "two" {
		t.Fatal(err, two)
	}
	br.Close()
}

// CancelRequest stops a running statement with 57014.
func TestCancel(t *testing.T) {
	s := startServer(t)
	ctx := context.Background()
	c := s.connect(t)
	go func() {
		time.Sleep(300 * time.Millisecond)
		// a CancelRequest on a new connection, as psql's Ctrl-C sends it
		_ = c.PgConn().CancelRequest(ctx)
	}()
	var n int64
	start := time.Now()
	err := c.QueryRow(ctx, "SELECT count(*) FROM generate_series(1, 100000) a, generate_series(1, 100000) b").Scan(&n)
	var pe *pgconn.PgError
	if !errors.As(err, &pe) || pe.Code != "57014" {
		t.Fatalf("expected 57014, got %v after %v", err, time.Since(start))
	}
	if err := c.QueryRow(ctx, "SELECT 1").Scan(&n); err != nil {
		t.Fatalf("connection unusable after cancel: %v", err)
	}
}

// Passwords: SCRAM-SHA-256 by default, cleartext on request; a wrong
// password is FATAL 28P01.
func TestPasswordAuth(t *testing.T) {
	ctx := context.Background()
	for _, extra := range [][]string{{"--password", "s3cret"}, {"--password", "s3cret", "--cleartext"}} {
		s := startServer(t, extra...)
		good := strings.Replace(s.url("alice"), "alice@", "alice:s3cret@", 1)
		c, err := pgx.Connect(ctx, good)
		if err != nil {
			t.Fatalf("%v: %v", extra, err)
		}
		c.Close(ctx)
		bad := strings.Replace(s.url("alice"), "alice@", "alice:wrong@", 1)
		_, err = pgx.Connect(ctx, bad)
		var pe *pgconn.PgError
		if !errors.As(err, &pe) || pe.Code != "28P01" || pe.Severity != "FATAL" {
			t.Errorf("%v: wrong password gave %v", extra, err)
		}
	}
}
