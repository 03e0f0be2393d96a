package tests

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// TestKeywordsAsNames: every keyword PostgreSQL does not reserve (its
// keyword table's categories U and C, read from the oracle) works as a
// table and a column name in the statements people write, with the same
// results as PostgreSQL — although the grammar underneath (MySQL's)
// reserves many of them.
func TestKeywordsAsNames(t *testing.T) {
	pg, err := pgx.Connect(context.Background(), oracle(t))
	if err != nil {
		t.Fatal(err)
	}
	defer pg.Close(context.Background())
	rows, err := pg.Query(context.Background(), "SELECT word FROM pg_get_keywords() WHERE catcode IN ('U', 'C') ORDER BY word")
	if err != nil {
		t.Fatal(err)
	}
	var words []string
	for rows.Next() {
		var w string
		if err := rows.Scan(&w); err != nil {
			t.Fatal(err)
		}
		words = append(words, w)
	}
	rows.Close()
	if len(words) < 300 {
		t.Fatalf("only %d keywords", len(words))
	}
	s := startServer(t)
	ss := s.connect(t)
	statements := []string{
		"CREATE TABLE %[1]s (%[1]s INT, b INT)",
		"INSERT INTO %[1]s (%[1]s, b) VALUES (1, 2), (3, 4)",
		"INSERT INTO %[1]s VALUES (5, 6)",
		"SELECT %[1]s, b FROM %[1]s WHERE %[1]s > 0 ORDER BY %[1]s",
		"SELECT %[1]s.%[1]s FROM %[1]s ORDER BY 1",
		"SELECT t.%[1]s FROM %[1]s AS t ORDER BY t.%[1]s DESC",
		"SELECT %[1]s + 1 AS x, count(*) FROM %[1]s GROUP BY %[1]s ORDER BY 1",
		"SELECT count(*) FROM %[1]s WHERE %[1]s BETWEEN 1 AND 4",
		"SELECT %[1]s AS %[1]s FROM %[1]s ORDER BY 1",
		"SELECT sum(%[1]s) OVER (ORDER BY %[1]s) FROM %[1]s ORDER BY 1",
		"SELECT %[1]s FROM (SELECT %[1]s FROM %[1]s) AS %[1]s ORDER BY 1",
		"UPDATE %[1]s SET %[1]s = %[1]s + 10 WHERE b = 2",
		"UPDATE %[1]s AS u SET b = u.%[1]s WHERE u.%[1]s = 3",
		"SELECT %[1]s, b FROM %[1]s ORDER BY %[1]s",
		"DELETE FROM %[1]s WHERE %[1]s = 11",
		"SELECT count(*) FROM %[1]s",
		"DROP TABLE %[1]s",
	}
	outcome := func(c *pgx.Conn, q string) string {
		res, err := c.PgConn().Exec(context.Background(), q).ReadAll()
		var pe *pgconn.PgError
		if errors.As(err, &pe) {
			return "error " + pe.Code
		}
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		var out []string
		for _, r := range res {
			for _, row := range r.Rows {
				out = append(out, render(row))
			}
		}
		return strings.Join(out, "; ")
	}
	failed := 0
	for _, w := range words {
		for _, st := range statements {
			q := fmt.Sprintf(st, w)
			want, got := outcome(pg, q), outcome(ss, q)
			if got != want {
				failed++
				if failed <= 40 {
					t.Errorf("%s\n got  %s\n want %s", q, got, want)
				}
			}
		}
		// whatever happened, start the next word clean
		outcome(pg, "DROP TABLE IF EXISTS "+w)
		outcome(ss, "DROP TABLE IF EXISTS "+w)
	}
	if failed > 0 {
		t.Errorf("%d statements of %d differ from PostgreSQL", failed, len(words)*len(statements))
	}
}
