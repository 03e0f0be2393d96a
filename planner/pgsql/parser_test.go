package pgsql

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pingcap/tidb/pkg/parser/ast"
	"github.com/streamsql/streamsql/sqlerr"
)

// Every statement that psql, pgJDBC and SQLAlchemy send on connect and
// introspection must get through the dialect layer and the TiDB grammar.
func TestClientCatalogQueriesParse(t *testing.T) {
	files, err := filepath.Glob("../../tests/testdata/pg-clients/*.sql")
	if err != nil || len(files) == 0 {
		t.Fatalf("no client captures found: %v", err)
	}
	p := NewParser()
	n := 0
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		// the captures write Bind parameters as $n and literal oids as '16384'
		stmts, err := p.Parse(string(b))
		if err != nil {
			t.Errorf("%s: %v", filepath.Base(f), err)
			continue
		}
		n += len(stmts)
	}
	if n < 30 {
		t.Fatalf("parsed only %d statements", n)
	}
}

func TestTranslate(t *testing.T) {
	cases := []struct{ in, want string }{
		{`SELECT a::text FROM t`, `select __pgcast( "a" , 'text') from "t"`},
		{`SELECT "Mixed", Key FROM T`, `select "Mixed" , "key" from "t"`},
		{`SELECT x FROM a FULL OUTER JOIN b ON a.k = b.k`, `select "x" from "a" straight_join "b" on "a" . "k" = "b" . "k"`},
		{`SELECT E'a\nb', $$it's$$`, "select 'a\nb' , 'it''s'"},
		{`SELECT INTERVAL '5' SECOND, INTERVAL '1 hour'`, `select __pgcast('5 second', 'interval') , __pgcast('1 hour', 'interval')`},
		{`SELECT a IS DISTINCT FROM b FROM t`, `select "a" <=> "b" is false from "t"`},
		{`SELECT * FROM t WHERE a ~ '^x' AND b !~* 'y'`, `select * from "t" where __regex_match( "a" , '^x' , '' ) and not __regex_match( "b" , 'y' , 'i' )`},
		{`SELECT $1 LIMIT $2`, `select __param(1) limit ?`},
		{`SELECT EXTRACT(EPOCH FROM ts) FROM t`, `select __extract('epoch', "ts" ) from "t"`},
		{`SELECT * FROM TUMBLE(trades, ts, INTERVAL '1' MINUTE) w`, `select * from "__tvf1" "w"`},
		{`SELECT a FROM t ORDER BY a DESC NULLS LAST OFFSET 2`, `select "a" from "t" order by __nulls_last( "a" ) desc limit 18446744073709551615 offset 2`},
	}
	for _, c := range cases {
		toks, err := Lex(c.in)
		if err != nil {
			t.Fatalf("%s: %v", c.in, err)
		}
		tr, err := Translate(c.in, Split(c.in, toks)[0])
		if err != nil {
			t.Fatalf("%s: %v", c.in, err)
		}
		norm := func(s string) string { return strings.Join(strings.Fields(s), "") }
		if norm(tr.SQL) != norm(c.want) {
			t.Errorf("%s\n got  %s\n want %s", c.in, tr.SQL, c.want)
		}
	}
}

func TestSyntaxErrorPosition(t *testing.T) {
	p := NewParser()
	for _, c := range []struct {
		sql  string
		pos  int
		near string
	}{
		{"SELECT 1 FROM WHERE x", 15, "WHERE"},
		{"SELEC 1", 1, "SELEC"},
		{"SELECT (1", 10, ""},
		{"SELECT 'x'::text FROM t t2 WHERE t2.a = = 1", 41, "="},
	} {
		_, err := p.Parse(c.sql)
		e := sqlerr.As(err)
		if err == nil || e.Code != sqlerr.SyntaxError {
			t.Errorf("%q: got %v, want a syntax error", c.sql, err)
			continue
		}
		if e.Position != c.pos || !strings.Contains(e.Message, c.near) {
			t.Errorf("%q: got position %d %q, want %d near %q", c.sql, e.Position, e.Message, c.pos, c.near)
		}
	}
}

func TestFullJoinNeverAnAlias(t *testing.T) {
	p := NewParser()
	stmts, err := p.Parse("SELECT * FROM a FULL JOIN b ON a.x = b.x")
	if err != nil {
		t.Fatal(err)
	}
	sel := stmts[0].(*Query).Node.(*ast.SelectStmt)
	j := sel.From.TableRefs
	if !j.StraightJoin || j.Right == nil {
		t.Fatalf("FULL JOIN did not become the full-join marker: %+v", j)
	}
	if src, ok := j.Left.(*ast.TableSource); !ok || src.AsName.O != "" {
		t.Fatalf("FULL became an alias: %+v", j.Left)
	}
}

func TestStringLiterals(t *testing.T) {
	for src, want := range map[string]string{
		`E'a\tb''c\x41\101\u00e9'`: "a\tb'cAAé",
		`E'it\'s'`:                 "it's",
		`'plain ''quoted'' \n'`:    `plain 'quoted' \n`,
		`$tag$a 'b' $x$ c$tag$`:    `a 'b' $x$ c`,
		"'con'\n  'cat'":           "concat",
	} {
		toks, err := Lex(src)
		if err != nil {
			t.Errorf("%s: %v", src, err)
			continue
		}
		if toks[0].Kind != TString || toks[0].Val != want || toks[1].Kind != TEOF {
			t.Errorf("%s: got %q (%d tokens)", src, toks[0].Val, len(toks))
		}
	}
	if _, err := Lex(`E'unterminated\'`); err == nil {
		t.Error("unterminated E'' string accepted")
	}
}

// TestDepthLimit: input nested past sqlerr.MaxExprDepth is refused with
// 54001 before anything recurses over it (it used to overflow the stack
// and kill the server); input just inside the limit parses.
func TestDepthLimit(t *testing.T) {
	p := NewParser()
	deep := map[string]string{
		"parentheses":  "SELECT " + strings.Repeat("(", 700000) + "1" + strings.Repeat(")", 700000),
		"plus chain":   "SELECT 1" + strings.Repeat("+1", 1000000),
		"NOT chain":    "SELECT " + strings.Repeat("NOT ", 1000000) + "true",
		"nested CASE":  "SELECT " + strings.Repeat("CASE WHEN true THEN ", 20000) + "1" + strings.Repeat(" END", 20000),
		"brackets":     "SELECT " + strings.Repeat("ARRAY[", 20000) + "1" + strings.Repeat("]", 20000),
		"cast chain":   "SELECT 1" + strings.Repeat("::int", 200000),
		"unclosed":     "SELECT " + strings.Repeat("(", 200000),
		"in a WHERE":   "SELECT 1 FROM t WHERE a = 1 AND b" + strings.Repeat(" || 'x'", 200000) + " = 'y'",
		"subqueries":   "SELECT " + strings.Repeat("(SELECT ", 20000) + "1" + strings.Repeat(")", 20000),
		"function arg": "SELECT " + strings.Repeat("abs(", 20000) + "1" + strings.Repeat(")", 20000),
	}
	for name, sql := range deep {
		_, err := p.Parse(sql)
		if sqlerr.Code(err) != sqlerr.StatementTooComplex {
			t.Errorf("%s: got %v, want 54001", name, err)
		}
	}
	for name, sql := range map[string]string{
		"parentheses": "SELECT " + strings.Repeat("(", 5000) + "1" + strings.Repeat(")", 5000),
		"OR chain":    "SELECT 1 WHERE " + strings.Repeat("1 = 2 OR ", 200000) + "true",
		"IN list":     "SELECT 1 IN (" + strings.Repeat("1, ", 200000) + "2)",
		"plus chain":  "SELECT 1" + strings.Repeat(" + 1", 5000),
	} {
		if _, err := p.Parse(sql); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}
