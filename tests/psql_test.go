package tests

import (
	"os/exec"
	"regexp"
	"strings"
	"testing"
)

func psql(t *testing.T, url string, args ...string) string {
	t.Helper()
	bin := need(t, "psql")
	cmd := exec.Command(bin, append([]string{url, "-X", "-v", "ON_ERROR_STOP=1"}, args...)...)
	cmd.Env = append(cmd.Environ(), "PGCLIENTENCODING=UTF8", "PAGER=", "PSQL_PAGER=")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("psql %v: %v\n%s", args, err, out)
	}
	return string(out)
}

const psqlSetup = `
CREATE TABLE trades (symbol TEXT PRIMARY KEY, price DOUBLE PRECISION NOT NULL, qty NUMERIC(10,2), note VARCHAR(20), ts TIMESTAMP WITH TIME ZONE);
INSERT INTO trades VALUES ('BTC', 64000.5, 0.10, 'x', '2026-01-01 00:00:01+00');
CREATE VIEW expensive AS SELECT symbol, price FROM trades WHERE price > 100;
CREATE MATERIALIZED VIEW per_symbol AS SELECT symbol, count(*) AS n FROM trades GROUP BY symbol;
`

// psql's meta-commands print the same on streamsql as on PostgreSQL 15
// (owner names aside).
func TestPsqlMetaCommands(t *testing.T) {
	pg := oracle(t)
	s := startServer(t)
	ss := s.url("tester")
	// a fresh database on the oracle
	psql(t, pg, "-c", "DROP DATABASE IF EXISTS psqlmeta", "-c", "CREATE DATABASE psqlmeta")
	pgdb := strings.Replace(pg, "/postgres?", "/psqlmeta?", 1)
	psql(t, pgdb, "-c", psqlSetup)
	out := psql(t, ss, "-c", psqlSetup)
	if !strings.Contains(out, "CREATE MATERIALIZED VIEW") {
		t.Fatalf("setup: %s", out)
	}
	owner := regexp.MustCompile(`\b(pg_database_owner|postgres|streamsql)\b`)
	for _, cmd := range []string{`\d`, `\dt`, `\dv`, `\dm`, `\d trades`, `\d expensive`, `\dn`, `\df`, `\dx`} {
		// unaligned output: column widths depend on the owner's name
		want := owner.ReplaceAllString(psql(t, pgdb, "-A", "-c", cmd), "OWNER")
		got := owner.ReplaceAllString(psql(t, ss, "-A", "-c", cmd), "OWNER")
		if cmd == `\dx` {
			// PostgreSQL lists plpgsql with its own description
			want, got = firstLine(want), firstLine(got)
		}
		if want != got {
			t.Errorf("%s differs\n--- postgres\n%s--- streamsql\n%s", cmd, want, got)
		}
	}
	// the rest must work and show our objects
	for _, cmd := range []string{`\l`, `\du`, `\d+ trades`, `\dt+`, `\d per_symbol`} {
		out := psql(t, ss, "-c", cmd)
		if strings.Contains(out, "ERROR") {
			t.Errorf("%s: %s", cmd, out)
		}
	}
	if out := psql(t, ss, "-c", `\d per_symbol`); !strings.Contains(out, `Materialized view "public.per_symbol"`) {
		t.Errorf(`\d per_symbol: %s`, out)
	}
	// view definitions (pg_get_viewdef) and a source's options
	// (pg_options_to_table, pg_foreign_server)
	if out := psql(t, ss, "-c", `\d+ expensive`); !strings.Contains(out, "View definition:") || !strings.Contains(out, "WHERE price > 100") {
		t.Errorf(`\d+ expensive: %s`, out)
	}
	if out := psql(t, ss, "-c", `\sv expensive`); !strings.Contains(out, "CREATE OR REPLACE VIEW public.expensive AS") {
		t.Errorf(`\sv expensive: %s`, out)
	}
	psql(t, ss, "-c", "CREATE SOURCE nx WITH (connector = 'nexmark', events = 1000)")
	if out := psql(t, ss, "-c", `\d nx`); !strings.Contains(out, "Server: nexmark") || !strings.Contains(out, "FDW options: (connector 'nexmark', events '1000')") {
		t.Errorf(`\d nx: %s`, out)
	}
	// DDL, DML and queries in -c, and several statements in one string
	out = psql(t, ss, "-A", "-t", "-c", "INSERT INTO trades VALUES ('ETH', 3000, 2, NULL, NULL); SELECT count(*) FROM trades")
	if !strings.Contains(out, "2") {
		t.Errorf("multi-statement: %s", out)
	}
	// COPY through psql, both ways
	cmd := exec.Command(need(t, "psql"), ss, "-X", "-c", `COPY trades (symbol, price) FROM STDIN WITH (FORMAT csv)`)
	cmd.Stdin = strings.NewReader("SOL,150.5\n\"A,B\",1\n")
	if b, err := cmd.CombinedOutput(); err != nil || !strings.Contains(string(b), "COPY 2") {
		t.Fatalf("COPY FROM: %v %s", err, b)
	}
	out = psql(t, ss, "-c", `COPY (SELECT symbol, price FROM trades ORDER BY symbol) TO STDOUT WITH (FORMAT csv)`)
	if out != "\"A,B\",1\nBTC,64000.5\nETH,3000\nSOL,150.5\n" {
		t.Errorf("COPY TO: %q", out)
	}
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}
