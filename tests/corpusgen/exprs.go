package main

import (
	"fmt"
	"math/rand/v2"
	"os"
	"strings"
)

// exprGen makes random expressions over the columns of one table
// (col0, col1, col2: positive integers, some NULL), bounding each
// expression's magnitude so that none overflows an integer.
type exprGen struct {
	*gen
	aggs bool // aggregates stand for the columns (a select list over the whole table)
}

const maxMagnitude = 1 << 30

// expr returns an integer expression and a bound on its absolute value.
func (g *exprGen) expr(depth int) (string, int64) {
	if depth <= 0 || g.pick(3) == 0 {
		return g.leaf()
	}
	switch g.pick(10) {
	case 0, 1:
		e, m := g.expr(depth - 1)
		return []string{"- ", "+ ", "- - ", "+ - "}[g.pick(4)] + e, m
	case 2:
		e, m := g.expr(depth - 1)
		return "( " + e + " )", m
	case 3:
		e, m := g.expr(depth - 1)
		return "CAST ( " + e + " AS INTEGER )", m
	case 4:
		a, ma := g.expr(depth - 1)
		b, mb := g.expr(depth - 1)
		return fmt.Sprintf("CASE WHEN %s THEN %s ELSE %s END", g.pred(depth-1), a, b), max(ma, mb)
	case 5:
		a, ma := g.expr(depth - 1)
		b, _ := g.expr(depth - 1)
		if g.pick(2) == 0 {
			return fmt.Sprintf("NULLIF ( %s, %s )", a, b), ma
		}
		return fmt.Sprintf("COALESCE ( %s, %d )", a, g.pick(100)), max(ma, 100)
	case 6:
		// division and remainder by a positive constant: never by zero
		a, ma := g.expr(depth - 1)
		return fmt.Sprintf("%s %s %d", a, []string{"/", "/", "%"}[g.pick(3)], 1+g.pick(99)), ma
	case 7:
		a, ma := g.expr(depth - 1)
		return fmt.Sprintf("ABS ( %s )", a), ma
	}
	a, ma := g.expr(depth - 1)
	b, mb := g.expr(depth - 1)
	op := []string{"+", "-", "*"}[g.pick(3)]
	m := ma + mb
	if op == "*" {
		m = ma * mb
	}
	if m > maxMagnitude {
		return g.leaf()
	}
	return fmt.Sprintf("%s %s %s", a, op, b), m
}

func (g *exprGen) leaf() (string, int64) {
	switch g.pick(6) {
	case 0, 1:
		return fmt.Sprint(g.pick(100)), 100
	case 2:
		if g.pick(4) == 0 {
			return "CAST ( NULL AS INTEGER )", 0
		}
	}
	if g.aggs {
		return g.agg()
	}
	return fmt.Sprintf("col%d", g.pick(3)), 100
}

// agg is an aggregate over a small expression; its bound allows for a
// sum over the table's rows.
func (g *exprGen) agg() (string, int64) {
	inner := *g
	inner.aggs = false
	e, m := inner.expr(1)
	switch g.pick(7) {
	case 6:
		// a NUMERIC average: in full, or cast back to an integer
		if g.pick(2) == 0 {
			return "AVG ( " + e + " )", m
		}
		return "CAST ( AVG ( " + e + " ) AS INTEGER )", m
	case 0:
		return "COUNT ( * )", 100
	case 1:
		return "COUNT ( DISTINCT " + e + " )", 100
	case 2:
		return "SUM ( " + e + " )", m * 10
	case 3:
		return "MIN ( " + e + " )", m
	case 4:
		return "MAX ( ALL " + e + " )", m
	}
	return "SUM ( DISTINCT " + e + " )", m * 10
}

func (g *exprGen) pred(depth int) string {
	a, _ := g.expr(depth)
	switch g.pick(9) {
	case 0:
		return fmt.Sprintf("%s IS NULL", a)
	case 1:
		return fmt.Sprintf("%s IS NOT NULL", a)
	case 2:
		b, _ := g.expr(depth)
		c, _ := g.expr(depth)
		return fmt.Sprintf("%s %sBETWEEN %s AND %s", a, []string{"", "NOT "}[g.pick(2)], b, c)
	case 3:
		in := make([]string, 1+g.pick(4))
		for i := range in {
			in[i], _ = g.expr(0)
		}
		return fmt.Sprintf("%s %sIN ( %s )", a, []string{"", "NOT "}[g.pick(2)], strings.Join(in, ", "))
	case 4:
		return "NOT " + g.pred(depth-1)
	case 5:
		return fmt.Sprintf("( %s %s %s )", g.pred(depth-1), []string{"AND", "OR"}[g.pick(2)], g.pred(depth-1))
	}
	b, _ := g.expr(depth)
	return fmt.Sprintf("%s %s %s", a, []string{"=", "<>", "<", "<=", ">", ">="}[g.pick(6)], b)
}

func (g *exprGen) query() string {
	t := g.pick(3)
	from := fmt.Sprintf("tab%d", t)
	if g.pick(12) == 0 {
		from = fmt.Sprintf("tab%d AS cor0 CROSS JOIN tab%d AS cor1", t, g.pick(3))
		if g.pick(2) == 0 {
			return g.gen.record(1, fmt.Sprintf("SELECT COUNT ( * ) FROM %s WHERE cor1.col0 %s cor0.col1", from, []string{"<", ">", "=", "<>"}[g.pick(4)]))
		}
		return g.gen.record(1, fmt.Sprintf("SELECT ALL - COUNT ( * ) * %d FROM %s", 1+g.pick(50), from))
	}
	if g.pick(3) == 0 {
		from += []string{" AS cor0", " cor0"}[g.pick(2)]
	}
	distinct := []string{"", "DISTINCT ", "ALL "}[g.pick(3)]
	n := 1 + g.pick(3)
	items := make([]string, n)
	switch g.pick(4) {
	case 0: // aggregates over the whole table
		ag := &exprGen{gen: g.gen, aggs: true}
		for i := range items {
			items[i], _ = ag.expr(2)
		}
		q := fmt.Sprintf("SELECT %s%s FROM %s", distinct, strings.Join(items, ", "), from)
		if g.pick(2) == 0 {
			q += " WHERE " + g.pred(2)
		}
		return g.gen.record(n, q)
	case 1: // grouped
		key := fmt.Sprintf("col%d", g.pick(3))
		ag := &exprGen{gen: g.gen, aggs: true}
		items[0] = key
		for i := 1; i < n; i++ {
			items[i], _ = ag.agg()
		}
		q := fmt.Sprintf("SELECT %s%s FROM %s GROUP BY %s", distinct, strings.Join(items, ", "), from, key)
		if g.pick(2) == 0 {
			a, _ := ag.agg()
			q += fmt.Sprintf(" HAVING %s %s %d", a, []string{"<", ">", "=", "<>", ">="}[g.pick(5)], g.pick(100))
		}
		return g.gen.record(n, q)
	}
	for i := range items {
		items[i], _ = g.expr(3)
		if g.pick(4) == 0 {
			items[i] += fmt.Sprintf(" AS col%d", g.pick(3))
		}
	}
	q := fmt.Sprintf("SELECT %s%s FROM %s", distinct, strings.Join(items, ", "), from)
	if g.pick(3) > 0 {
		q += " WHERE " + g.pred(2)
	}
	return g.gen.record(n, q)
}

func exprs() {
	base := &gen{r: rand.New(rand.NewPCG(7, 2026))}
	g := &exprGen{gen: base}
	w := &base.b
	w.WriteString("# Generated by tests/corpusgen -corpus exprs (do not edit; see its doc):\n")
	w.WriteString("# random expressions, predicates and aggregates in the style of the\n")
	w.WriteString("# sqllogictest corpus's random/ files, compared with PostgreSQL 15.\n\n")
	for t := 0; t < 3; t++ {
		fmt.Fprintf(w, "statement ok\nCREATE TABLE tab%d(col0 INTEGER, col1 INTEGER, col2 INTEGER)\n\n", t)
		var vals []string
		for r := 0; r < 3+t; r++ {
			v := make([]string, 3)
			for i := range v {
				v[i] = fmt.Sprint(1 + g.pick(99))
				if g.pick(12) == 0 {
					v[i] = "NULL"
				}
			}
			vals = append(vals, "("+strings.Join(v, ",")+")")
		}
		fmt.Fprintf(w, "statement ok\nINSERT INTO tab%d VALUES%s\n\n", t, strings.Join(vals, ","))
	}
	for i := 0; i < 600; i++ {
		w.WriteString(g.query())
	}
	os.Stdout.WriteString(strings.TrimRight(w.String(), "\n") + "\n")
}
