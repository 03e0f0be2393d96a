package tests

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
)

// Random queries over the same rows on streamsql and PostgreSQL must give
// the same answers (or both fail with the same SQLSTATE class).
func TestDifferentialRandomQueries(t *testing.T) {
	ctx := context.Background()
	pgc, ssc := oraclePair(t, "difftest")

	r := rand.New(rand.NewPCG(42, 7))
	setup := []string{"CREATE TABLE r (k INT, a INT, b BIGINT, x DOUBLE PRECISION, n NUMERIC(10,2), s TEXT, f BOOLEAN, t TIMESTAMP, d DATE)"}
	words := []string{"'alpha'", "'beta'", "'Gamma'", "''", "'a b'", "NULL"}
	for i := 0; i < 40; i++ {
		val := func(p string) string {
			if r.IntN(8) == 0 {
				return "NULL"
			}
			return p
		}
		ts := fmt.Sprintf("'2024-%02d-%02d %02d:%02d:%02d'", 1+r.IntN(12), 1+r.IntN(28), r.IntN(24), r.IntN(60), r.IntN(60))
		setup = append(setup, fmt.Sprintf("INSERT INTO r VALUES (%d, %s, %s, %s, %s, %s, %s, %s, %s)", i%5,
			val(fmt.Sprint(r.IntN(21)-10)), val(fmt.Sprint(r.Int64N(1_000_000)-500_000)), val(fmt.Sprintf("%.3f", r.Float64()*100-50)),
			val(fmt.Sprintf("%.2f", r.Float64()*1000-500)), words[r.IntN(len(words))], val([]string{"true", "false"}[r.IntN(2)]),
			val(ts), val(fmt.Sprintf("'2023-%02d-%02d'", 1+r.IntN(12), 1+r.IntN(28)))))
	}
	for _, q := range setup {
		if _, err := pgc.Exec(ctx, q).ReadAll(); err != nil {
			t.Fatalf("postgres: %s: %v", q, err)
		}
		if _, err := ssc.Exec(ctx, q).ReadAll(); err != nil {
			t.Fatalf("streamsql: %s: %v", q, err)
		}
	}
	ints := []string{"a", "b", "k", "a + b", "a * 3", "b - a", "abs(a)", "a % 3", "coalesce(a, 0)", "length(s)", "CASE WHEN f THEN a ELSE k END"}
	nums := []string{"x", "n", "x * 2", "n + 1", "round(n, 1)", "x / 4", "a + n", "coalesce(x, n)", "greatest(a, n)"}
	texts := []string{"s", "upper(s)", "s || 'z'", "coalesce(s, 'none')", "substr(s, 2)", "replace(s, 'a', 'o')", "trim(s)"}
	times := []string{"t", "date_trunc('hour', t)", "t + INTERVAL '1 day'", "t - INTERVAL '90 minutes'", "d::timestamp", "t::date", "d + 3", "date_trunc('month', d)"}
	bools := []string{"t > '2024-06-01'", "d < DATE '2023-06-15'", "f", "a > 0", "b < 0", "s LIKE '%a%'", "x IS NULL", "n BETWEEN -100 AND 100", "a IN (1, 2, 3)", "s ILIKE 'g%'", "NOT f", "a IS DISTINCT FROM k"}
	pick := func(xs []string) string { return xs[r.IntN(len(xs))] }
	pred := func() string {
		p := pick(bools)
		for r.IntN(2) == 0 {
			p = fmt.Sprintf("(%s %s %s)", p, []string{"AND", "OR"}[r.IntN(2)], pick(bools))
		}
		return p
	}
	queries := 0
	for i := 0; i < 500; i++ {
		var q string
		switch r.IntN(8) {
		case 4:
			if r.IntN(2) == 0 {
				q = fmt.Sprintf("SELECT %s, extract(epoch FROM t), t - d, to_char(t, 'YYYY-MM-DD HH24:MI'), age(t, d) FROM r WHERE %s", pick(times), pred())
				break
			}
			q = fmt.Sprintf("SELECT DISTINCT %s FROM r WHERE %s", pick(texts), pred())
		case 5:
			q = fmt.Sprintf("SELECT k, %s, row_number() OVER (PARTITION BY k ORDER BY %s, a, b, x, s), sum(%s) OVER (PARTITION BY k) FROM r", pick(ints), pick(nums), pick(ints))
		case 6:
			q = fmt.Sprintf("SELECT %s / nullif(%s, 0), %s::text, (%s)::int FROM r WHERE %s", pick(ints), pick(ints), pick(nums), pick(nums), pred())
		case 7:
			q = fmt.Sprintf("SELECT k, string_agg(%s, ',' ORDER BY %s, a, b, x, s), count(DISTINCT %s), bool_or(%s) FROM r GROUP BY k", pick(texts), pick(nums), pick(ints), pred())
		case 0:
			q = fmt.Sprintf("SELECT %s, %s, %s FROM r WHERE %s", pick(ints), pick(nums), pick(texts), pred())
		case 1:
			q = fmt.Sprintf("SELECT k, count(*), sum(%s), min(%s), max(%s), avg(%s) FROM r WHERE %s GROUP BY k", pick(ints), pick(nums), pick(texts), pick(ints), pred())
		case 2:
			q = fmt.Sprintf("SELECT %s, count(*) FROM r GROUP BY 1 HAVING count(*) > %d", pick(texts), r.IntN(3))
		default:
			q = fmt.Sprintf("SELECT r1.k, %s FROM r r1 JOIN r r2 ON r1.k = r2.k AND r1.a < r2.a WHERE %s", strings.ReplaceAll(pick(nums), "x", "r2.x"), strings.ReplaceAll(strings.ReplaceAll(pred(), " a ", " r1.a "), "(a ", "(r1.a "))
			if strings.Contains(q, " n") || strings.Contains(q, "(n") || strings.Contains(q, " s") || strings.Contains(q, "(s") || strings.Contains(q, " f") || strings.Contains(q, "(f") || strings.Contains(q, " k") || strings.Contains(q, "(k") || strings.Contains(q, " b") || strings.Contains(q, "(b") {
				continue // ambiguous names in the self-join
			}
		}
		want, werr := runRows(ctx, pgc, q)
		got, gerr := runRows(ctx, ssc, q)
		queries++
		if (werr == nil) != (gerr == nil) {
			t.Errorf("%s\npostgres: %v\nstreamsql: %v", q, werr, gerr)
			continue
		}
		if werr != nil {
			if werr.Code[:2] != gerr.Code[:2] {
				t.Errorf("%s\npostgres error %s %s, streamsql %s %s", q, werr.Code, werr.Message, gerr.Code, gerr.Message)
			}
			continue
		}
		if strings.Join(want, "\n") != strings.Join(got, "\n") {
			t.Errorf("%s\n--- postgres\n%s\n--- streamsql\n%s", q, strings.Join(want, "\n"), strings.Join(got, "\n"))
		}
	}
	t.Logf("%d random queries compared", queries)
}

func runRows(ctx context.Context, c *pgconn.PgConn, q string) ([]string, *pgconn.PgError) {
	res, err := c.Exec(ctx, q).ReadAll()
	if err != nil {
		if pe, ok := err.(*pgconn.PgError); ok {
			return nil, pe
		}
		return nil, &pgconn.PgError{Code: "XX000", Message: err.Error()}
	}
	var rows []string
	for _, row := range res[len(res)-1].Rows {
		rows = append(rows, render(row))
	}
	sort.Strings(rows)
	return rows, nil
}
