package pgsql

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/streamsql/streamsql/sqlerr"
)

// FuzzParse: the SQL front end never panics, and every error it returns
// carries a SQLSTATE (and syntax errors a position inside the text).
func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob("../../tests/testdata/pg-clients/*.sql")
	for _, file := range files {
		b, _ := os.ReadFile(file)
		for _, stmt := range strings.Split(string(b), ";\n") {
			f.Add(stmt)
		}
	}
	for _, s := range []string{
		"SELECT a::text, $1, E'x\\n' FROM t FULL JOIN u ON t.a = u.b WHERE x IS DISTINCT FROM y",
		"CREATE STREAM s (a INT, ts TIMESTAMP, WATERMARK FOR ts AS ts - INTERVAL '5' SECOND) WITH (shards = 4)",
		"SELECT * FROM TUMBLE(t, ts, INTERVAL '1' MINUTE) ORDER BY 1 NULLS FIRST LIMIT $1",
		"INSERT INTO t VALUES (1) ON CONFLICT (a) DO UPDATE SET b = excluded.b",
		"SELECT $$a$$ || 'b' ~* 'c', ARRAY[1,2][1], x -> 'k' ->> 'j'",
		"COPY t (a, b) FROM STDIN WITH (FORMAT csv, HEADER true)",
		"/* nested /* comment */ */ SELECT 1; SELECT 2",
		"COPY (SUBSCRIBE TO v WITH (snapshot = false)) TO STDOUT; DECLARE c CURSOR FOR SUBSCRIBE (SELECT 1); FETCH 10 c WITH (timeout = '1s')",
		// nested past the depth limit (it used to overflow the stack)
		"SELECT " + strings.Repeat("(", 20001) + "1" + strings.Repeat(")", 20001),
		"SELECT 1" + strings.Repeat("+1", 100001),
		"SELECT " + strings.Repeat("NOT ", 100001) + "true",
	} {
		f.Add(s)
	}
	p := NewParser()
	f.Fuzz(func(t *testing.T, sql string) {
		_, err := p.Parse(sql)
		if err == nil {
			return
		}
		var e *sqlerr.Error
		if !errors.As(err, &e) || e.Code == "" {
			t.Fatalf("error without SQLSTATE for %q: %v", sql, err)
		}
		if (e.Code == sqlerr.SyntaxError || e.Code == sqlerr.StatementTooComplex) && (e.Position < 0 || e.Position > len([]rune(sql))+1) {
			t.Fatalf("position %d outside %q", e.Position, sql)
		}
	})
}
