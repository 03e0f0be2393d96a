// Command corpusgen writes the generated corpora of tests/testdata.
//
// corpusgen -corpus joins writes corpus_joins.slt: queries in the
// style of the classic sqllogictest corpus's select4 (nine tables of six
// columns; comma joins of up to six of them with the join equalities and
// single-table filters mixed in WHERE; chains of UNION, UNION ALL,
// EXCEPT and INTERSECT over filtered selects), and the shapes around them
// that stress where a planner puts predicates (outer joins with filters
// on either side, IN and EXISTS subqueries over joins). It is seeded, so
// the file is the same each run; the expected rows are PostgreSQL's:
//
//	go run ./tests/corpusgen -corpus joins > tests/testdata/corpus_joins.slt
//	go test ./tests -run 'TestSQLLogicOracle/corpus_joins' -rewrite
//
// corpusgen -corpus exprs writes corpus_exprs.slt, in the style of the
// corpus's random/aggregates and random/expr files: three small tables,
// random expression trees of unary and binary operators, CAST, CASE,
// NULLIF, COALESCE and NULLs, predicates of every comparison form, and
// aggregates (DISTINCT, GROUP BY, HAVING) over them. Constants and
// nesting are bounded so that no integer overflows and no division is by
// zero: every record has an answer, PostgreSQL's.
package main

import (
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"strings"
)

const (
	tables  = 9
	rows    = 10
	values  = 25 // column values are drawn from 0..values-1, so equalities match
	queries = 360
)

var cols = []string{"a", "b", "c", "d", "e"}

type gen struct {
	r *rand.Rand
	b strings.Builder
}

func (g *gen) pick(n int) int { return g.r.IntN(n) }

func (g *gen) col(t int) string { return fmt.Sprintf("%s%d", cols[g.pick(len(cols))], t) }

func (g *gen) value() int { return g.pick(values) }

// filter is a condition on table t alone.
func (g *gen) filter(t int) string {
	c := g.col(t)
	switch g.pick(7) {
	case 0:
		return fmt.Sprintf("%s=%d", c, g.value())
	case 1:
		return fmt.Sprintf("%d=%s", g.value(), c)
	case 2:
		in := make([]string, 2+g.pick(5))
		for i := range in {
			in[i] = fmt.Sprint(g.value())
		}
		return fmt.Sprintf("%s in (%s)", c, strings.Join(in, ","))
	case 3:
		return fmt.Sprintf("(%s=%d OR %s=%d)", c, g.value(), g.col(t), g.value())
	case 4:
		lo := g.value()
		return fmt.Sprintf("%s BETWEEN %d AND %d", c, lo, lo+g.pick(10))
	case 5:
		return fmt.Sprintf("%s>%d", c, g.value())
	}
	return fmt.Sprintf("NOT (%s<%d)", c, g.value())
}

// item is a select-list expression over the tables ts.
func (g *gen) item(ts []int) string {
	t := ts[g.pick(len(ts))]
	switch g.pick(4) {
	case 0:
		return fmt.Sprintf("%s*%d", g.col(t), 1+g.pick(999))
	case 1:
		u := ts[g.pick(len(ts))]
		return fmt.Sprintf("%s*%d+%s", g.col(t), 1+g.pick(999), g.col(u))
	}
	return g.col(t)
}

func (g *gen) tables(n int) []int {
	p := g.r.Perm(tables)[:n]
	for i := range p {
		p[i]++
	}
	return p
}

// join is a comma join of 2..6 tables: each table but the first is
// connected to one before it by an equality, except now and then (a
// cross product, which the plan must leave to the end).
func (g *gen) join() string {
	ts := g.tables(2 + g.pick(5))
	var conds []string
	cross := 0
	for i := 1; i < len(ts); i++ {
		if cross < 1 && g.pick(8) == 0 {
			cross++
			continue
		}
		prev := ts[g.pick(i)]
		if g.pick(2) == 0 {
			conds = append(conds, fmt.Sprintf("%s=%s", g.col(ts[i]), g.col(prev)))
		} else {
			conds = append(conds, fmt.Sprintf("%s=%s", g.col(prev), g.col(ts[i])))
		}
	}
	for i := g.pick(4); i > 0; i-- {
		conds = append(conds, g.filter(ts[g.pick(len(ts))]))
	}
	g.r.Shuffle(len(conds), func(i, j int) { conds[i], conds[j] = conds[j], conds[i] })
	items := make([]string, 1+g.pick(5))
	for i := range items {
		items[i] = g.item(ts)
	}
	from := make([]string, len(ts))
	for i, t := range ts {
		from[i] = fmt.Sprintf("t%d", t)
	}
	sel := strings.Join(items, ", ")
	if g.pick(6) == 0 {
		sel = "count(*)"
		items = items[:1]
	}
	q := fmt.Sprintf("SELECT %s FROM %s", sel, strings.Join(from, ", "))
	if len(conds) > 0 {
		q += "\n WHERE " + strings.Join(conds, "\n   AND ")
	}
	return g.record(len(items), q)
}

// setOps chains filtered one-column selects with set operations.
func (g *gen) setOps() string {
	n := 2 + g.pick(4)
	var parts []string
	ops := []string{"UNION", "UNION ALL", "EXCEPT", "INTERSECT"}
	for i, t := range g.tables(n) {
		if i > 0 {
			parts = append(parts, ops[g.pick(len(ops))])
		}
		w := g.filter(t)
		if g.pick(2) == 0 {
			w += " OR " + g.filter(t)
		}
		if g.pick(4) == 0 {
			w = "NOT (" + w + ")"
		}
		parts = append(parts, fmt.Sprintf("  SELECT %s FROM t%d\n   WHERE %s", g.col(t), t, w))
	}
	return g.record(1, strings.Join(parts, "\n"))
}

// outer is a LEFT, RIGHT or FULL join with filters in ON and WHERE on
// either side: a filter on the side that may be NULL must stay above it.
func (g *gen) outer() string {
	ts := g.tables(2 + g.pick(2))
	kinds := []string{"LEFT JOIN", "RIGHT JOIN", "FULL JOIN", "JOIN"}
	q := fmt.Sprintf("t%d", ts[0])
	for i := 1; i < len(ts); i++ {
		on := fmt.Sprintf("%s=%s", g.col(ts[g.pick(i)]), g.col(ts[i]))
		if g.pick(3) == 0 {
			on += " AND " + g.filter(ts[g.pick(i+1)])
		}
		kind := kinds[g.pick(len(kinds))]
		if kind == "FULL JOIN" {
			// PostgreSQL runs FULL JOIN on equalities only
			on = fmt.Sprintf("%s=%s", g.col(ts[g.pick(i)]), g.col(ts[i]))
		}
		q += fmt.Sprintf(" %s t%d ON %s", kind, ts[i], on)
	}
	var conds []string
	for i := g.pick(3); i > 0; i-- {
		c := g.filter(ts[g.pick(len(ts))])
		if g.pick(3) == 0 {
			c = g.col(ts[g.pick(len(ts))]) + " IS NULL"
		}
		conds = append(conds, c)
	}
	items := make([]string, 1+g.pick(4))
	for i := range items {
		items[i] = g.col(ts[g.pick(len(ts))])
	}
	q = fmt.Sprintf("SELECT %s FROM %s", strings.Join(items, ", "), q)
	if len(conds) > 0 {
		q += "\n WHERE " + strings.Join(conds, " AND ")
	}
	return g.record(len(items), q)
}

// subquery filters a join by IN or EXISTS over another table.
func (g *gen) subquery() string {
	ts := g.tables(3)
	a, b, s := ts[0], ts[1], ts[2]
	where := fmt.Sprintf("%s=%s", g.col(a), g.col(b))
	switch g.pick(3) {
	case 0:
		where += fmt.Sprintf(" AND %s IN (SELECT %s FROM t%d WHERE %s)", g.col(a), g.col(s), s, g.filter(s))
	case 1:
		where += fmt.Sprintf(" AND EXISTS (SELECT 1 FROM t%d WHERE %s=%s AND %s)", s, g.col(s), g.col(b), g.filter(s))
	default:
		where += fmt.Sprintf(" AND %s NOT IN (SELECT %s FROM t%d WHERE %s)", g.col(b), g.col(s), s, g.filter(s))
	}
	q := fmt.Sprintf("SELECT %s, %s FROM t%d, t%d\n WHERE %s", g.col(a), g.col(b), a, b, where)
	return g.record(2, q)
}

func (g *gen) record(ncols int, q string) string {
	return fmt.Sprintf("query %s rowsort\n%s\n----\n\n", strings.Repeat("I", ncols), q)
}

func main() {
	corpus := flag.String("corpus", "joins", "joins or exprs")
	flag.Parse()
	switch *corpus {
	case "joins":
		joins()
	case "exprs":
		exprs()
	default:
		fmt.Fprintln(os.Stderr, "corpusgen: -corpus is joins or exprs")
		os.Exit(2)
	}
}

func joins() {
	g := &gen{r: rand.New(rand.NewPCG(4, 2026))}
	w := &g.b
	w.WriteString("# Generated by tests/corpusgen (do not edit; see its doc): select4-style\n")
	w.WriteString("# multi-way joins, set operations, outer joins and subqueries over nine\n")
	w.WriteString(fmt.Sprintf("# tables of %d rows, compared with PostgreSQL 15.\n\n", rows))
	for t := 1; t <= tables; t++ {
		fmt.Fprintf(w, "statement ok\nCREATE TABLE t%d(a%d INTEGER, b%d INTEGER, c%d INTEGER, d%d INTEGER, e%d INTEGER, x%d VARCHAR(30))\n\n", t, t, t, t, t, t, t)
	}
	for t := 1; t <= tables; t++ {
		var vals []string
		for r := 1; r <= rows; r++ {
			v := make([]string, len(cols))
			for i := range v {
				v[i] = fmt.Sprint(g.value())
				if g.pick(40) == 0 {
					v[i] = "NULL"
				}
			}
			vals = append(vals, fmt.Sprintf("(%s,'table tn%d row %d')", strings.Join(v, ","), t, r))
		}
		fmt.Fprintf(w, "statement ok\nINSERT INTO t%d VALUES%s\n\n", t, strings.Join(vals, ","))
	}
	for i := 0; i < queries; i++ {
		switch i % 6 {
		case 0, 1, 2:
			w.WriteString(g.join())
		case 3:
			w.WriteString(g.setOps())
		case 4:
			w.WriteString(g.outer())
		default:
			w.WriteString(g.subquery())
		}
	}
	os.Stdout.WriteString(strings.TrimRight(w.String(), "\n") + "\n")
}
