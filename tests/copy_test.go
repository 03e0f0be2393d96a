package tests

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
)

// TestCopyAsPostgres runs COPY FROM and TO against streamsql and PostgreSQL
// and compares what a client sees: the bytes COPY TO writes (text, CSV,
// headers, binary), and for COPY FROM the row count or the error's
// SQLSTATE, message and CONTEXT line.
func TestCopyAsPostgres(t *testing.T) {
	ctx := context.Background()
	pg, ss := oraclePair(t, fmt.Sprintf("copy_%d", os.Getpid()))

	setup := []string{
		`CREATE TABLE c (a int, b text, t timestamp, d date, x float8, n numeric, ok boolean)`,
		`INSERT INTO c VALUES (1, 'plain', '2024-01-02 03:04:05.5', '2024-01-02', 1.5, 12.345, true),
			(2, E'tab\there, new\nline, back\\slash', 'infinity', '-infinity', '-Infinity', -0.5, false),
			(3, 'comma, "quote"', '1999-12-31 23:59:59', '0044-03-15 BC', 'NaN', 'NaN', NULL),
			(4, '', NULL, NULL, NULL, NULL, NULL), (NULL, NULL, NULL, NULL, NULL, NULL, NULL)`,
		`CREATE TABLE dst (a int, b text)`,
	}
	for _, q := range setup {
		for _, c := range []*pgconn.PgConn{pg, ss} {
			if _, err := c.Exec(ctx, q).ReadAll(); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
		}
	}

	outs := []string{
		`COPY c TO STDOUT`,
		`COPY c TO STDOUT (HEADER)`,
		`COPY c TO STDOUT (FORMAT csv, HEADER)`,
		`COPY c (b, a) TO STDOUT (FORMAT csv, HEADER true, DELIMITER ';', NULL 'nil')`,
		`COPY (SELECT * FROM c ORDER BY a) TO STDOUT (FORMAT binary)`,
		`COPY (SELECT a, b AS "Label" FROM c WHERE a < 3 ORDER BY a) TO STDOUT WITH (FORMAT text, HEADER on)`,
		`COPY (SELECT '\.' AS v UNION ALL SELECT '\.x') TO STDOUT (FORMAT csv)`,
		`COPY (SELECT '\.' AS v, 1 AS w) TO STDOUT (FORMAT csv)`,
	}
	for _, q := range outs {
		want, werr := copyTo(ctx, pg, q)
		got, gerr := copyTo(ctx, ss, q)
		if werr != nil || gerr != nil {
			t.Errorf("%s: postgres %v, streamsql %v", q, werr, gerr)
			continue
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s:\n--- postgres\n%q\n--- streamsql\n%q", q, want, got)
		}
	}

	// binary COPY out of one and into the other, both ways
	for _, pair := range [][2]*pgconn.PgConn{{pg, ss}, {ss, pg}} {
		data, err := copyTo(ctx, pair[0], `COPY (SELECT a, b FROM c ORDER BY a) TO STDOUT (FORMAT binary)`)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := pair[1].CopyFrom(ctx, bytes.NewReader(data), `COPY dst FROM STDIN (FORMAT binary)`); err != nil {
			t.Fatalf("binary COPY FROM: %v", err)
		}
	}
	for _, c := range []*pgconn.PgConn{pg, ss} {
		got, err := copyTo(ctx, c, `COPY (SELECT a, b, count(*) FROM dst GROUP BY a, b ORDER BY a) TO STDOUT`)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(string(got), "1\tplain\t1\n2\ttab\\there, new\\nline, back\\\\slash\t1\n") {
			t.Errorf("after binary COPY FROM: %q", got)
		}
		if _, err := c.Exec(ctx, `TRUNCATE dst`).ReadAll(); err != nil {
			t.Fatal(err)
		}
	}

	ins := []struct{ sql, data string }{
		{`COPY dst FROM STDIN`, "1\tx\n2\ty\n"},
		{`COPY dst FROM STDIN`, "1\tx\n2\n"},
		{`COPY dst FROM STDIN`, "1\tx\n2\ty\tz\n"},
		{`COPY dst FROM STDIN`, "1\tx\nzz\ty\n"},
		{`COPY dst FROM STDIN`, "1\tx\n\\.\ngarbage after the end marker\n"},
		{`COPY dst FROM STDIN (HEADER)`, "a\tb\n1\tx\n"},
		{`COPY dst FROM STDIN (HEADER MATCH)`, "a\tb\n1\tx\n"},
		{`COPY dst FROM STDIN (HEADER MATCH)`, "a\tc\n1\tx\n"},
		{`COPY dst FROM STDIN (HEADER MATCH)`, "a\n1\tx\n"},
		{`COPY dst FROM STDIN (FORMAT csv)`, "1,x\n2,\"y\"\n\\.\n3,z\n"},
		{`COPY dst FROM STDIN (FORMAT csv)`, "1,\"\\.\"\n"},
		{`COPY dst FROM STDIN (FORMAT csv)`, "1,\"a\nb\"\nq,r\n"},
		{`COPY dst FROM STDIN (FORMAT csv, HEADER)`, "a,b\n1,x\n2,y,z\n"},
		{`COPY dst FROM STDIN`, "1\tab\xffc\n"},
		{`COPY dst FROM STDIN`, "1\tab\xe2\x28\xa1\n"},
		{`COPY dst FROM STDIN`, "1\tab\\000c\n"},
		{`COPY dst FROM STDIN (FORMAT csv)`, "1,\"caf\xc3\"\n"},
		{`COPY dst FROM STDIN`, "1\t" + strings.Repeat("long ", 30) + "\t3\n"},
		{`COPY dst FROM STDIN (HEADER maybe)`, "1\tx\n"},
		{`COPY dst FROM STDIN (FORMAT binary, HEADER)`, ""},
	}
	for _, in := range ins {
		want := copyFrom(ctx, pg, in.sql, in.data)
		got := copyFrom(ctx, ss, in.sql, in.data)
		if got != want {
			t.Errorf("%s with %q:\n  postgres:  %s\n  streamsql: %s", in.sql, in.data, want, got)
		}
	}
}

func copyTo(ctx context.Context, c *pgconn.PgConn, sql string) ([]byte, error) {
	var b bytes.Buffer
	_, err := c.CopyTo(ctx, &b, sql)
	return b.Bytes(), err
}

// copyFrom loads data and describes the outcome, then empties the table.
func copyFrom(ctx context.Context, c *pgconn.PgConn, sql, data string) string {
	tag, err := c.CopyFrom(ctx, strings.NewReader(data), sql)
	var out string
	var pe *pgconn.PgError
	switch {
	case errors.As(err, &pe):
		out = fmt.Sprintf("%s %s (%s)", pe.Code, pe.Message, pe.Where)
	case err != nil:
		out = err.Error()
	default:
		out = tag.String()
	}
	_, _ = c.Exec(ctx, `TRUNCATE dst`).ReadAll()
	return out
}

// TestTextEncodingAsPostgres sends text PostgreSQL's UTF8 databases refuse
// (bytes that are not UTF-8, NUL) in every way a client can, and compares
// the outcome with PostgreSQL's.
func TestTextEncodingAsPostgres(t *testing.T) {
	ctx := context.Background()
	pg, ss := oraclePair(t, fmt.Sprintf("encoding_%d", os.Getpid()))
	outcome := func(c *pgconn.PgConn, run func(*pgconn.PgConn) ([]*pgconn.Result, error)) string {
		rs, err := run(c)
		var pe *pgconn.PgError
		if errors.As(err, &pe) {
			return pe.Code + " " + pe.Message
		}
		if err != nil {
			return err.Error()
		}
		var b strings.Builder
		for _, r := range rs {
			if r.Err != nil && errors.As(r.Err, &pe) {
				return pe.Code + " " + pe.Message
			}
			for _, row := range r.Rows {
				fmt.Fprintf(&b, "%q ", row)
			}
		}
		return b.String()
	}
	simple := func(q string) func(*pgconn.PgConn) ([]*pgconn.Result, error) {
		return func(c *pgconn.PgConn) ([]*pgconn.Result, error) { return c.Exec(ctx, q).ReadAll() }
	}
	param := func(q string, v []byte, format int16) func(*pgconn.PgConn) ([]*pgconn.Result, error) {
		return func(c *pgconn.PgConn) ([]*pgconn.Result, error) {
			r := c.ExecParams(ctx, q, [][]byte{v}, []uint32{25}, []int16{format}, nil).Read()
			return []*pgconn.Result{r}, r.Err
		}
	}
	cases := map[string]func(*pgconn.PgConn) ([]*pgconn.Result, error){
		"literal 0xff":         simple("SELECT 'a\xffb'"),
		"literal 3-byte":       simple("SELECT 'a\xe2\x28\xa1'"),
		"escape \\x00":         simple(`SELECT E'a\x00'`),
		"escape \\377":         simple(`SELECT E'a\377'`),
		"escape valid":         simple(`SELECT E'caf\xc3\xa9', E'\u00e9'`),
		"chr(0)":               simple(`SELECT chr(0)`),
		"chr(233)":             simple(`SELECT chr(233)`),
		"chr(-1)":              simple(`SELECT chr(-1)`),
		"chr(0x110000)":        simple(`SELECT chr(1114112)`),
		"jsonb \\u0000":        simple(`SELECT '{"a": "\u0000"}'::jsonb`),
		"json \\u0000":         simple(`SELECT '{"a": "\u0000"}'::json`),
		"text param 0xff":      param("SELECT $1::text", []byte("a\xff"), 0),
		"text param NUL":       param("SELECT $1::text", []byte("a\x00b"), 0),
		"binary text param":    param("SELECT $1::text", []byte("a\xc3"), 1),
		"binary text param ok": param("SELECT $1::text", []byte("caf\xc3\xa9"), 1),
	}
	for name, run := range cases {
		want, got := outcome(pg, run), outcome(ss, run)
		if want != got {
			t.Errorf("%s:\n  postgres:  %s\n  streamsql: %s", name, want, got)
		}
	}
}
