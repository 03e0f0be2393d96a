package tests

import (
	"bufio"
	"context"
	"crypto/md5"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

// The script format (sqllogictest style):
//
//	statement ok                      the SQL must succeed
//	statement error 42P01 [text]      it must fail with this SQLSTATE (and message text)
//	query ITR [rowsort]               rows follow "----", one per line, values separated
//	                                  by a space; NULL is NULL, '' is (empty); more
//	                                  than 30 rows are written "N rows hashing to <md5>"
//	restart                           streamsql only: stop and start the server
//	onlyif streamsql | onlyif postgres   the next record runs on that engine only
//
// Records end at a blank line. Every script runs against streamsql and
// against PostgreSQL 15, so its expected results are checked by the oracle.
//
// Streaming scripts (stream_*.slt) feed streams and read materialized
// views. On PostgreSQL, CREATE STREAM becomes CREATE TABLE (without the
// WATERMARK clause and WITH options) and FLUSH is skipped, so the same
// INSERTs fill tables and each view's contents are compared with a batch
// query over them: scripts create the view twice, as a streamsql
// materialized view and (onlyif postgres) as the plain PostgreSQL view it
// must equal. On streamsql every streaming script runs four times: views
// reading one record at a time, reading 65,536 at a time (with aggregates
// split over 3 workers), with a server restart halfway through the script,
// and killed (kill -9) after every FLUSH — then restarted from its last
// checkpoint, taken on CHECKPOINT or every 20 ms.

type record struct {
	kind    string // statement, query, restart
	sql     string
	errCode string
	errText string
	types   string
	sort    bool
	want    []string
	only    string
	line    int
}

func parseScript(t *testing.T, path string) []record {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	var out []record
	var lines []string
	lineNo := 0
	only := ""
	next := func() (string, bool) {
		if !sc.Scan() {
			return "", false
		}
		lineNo++
		return sc.Text(), true
	}
	for {
		l, ok := next()
		if !ok {
			break
		}
		l = strings.TrimRight(l, " \t")
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		f := strings.Fields(l)
		r := record{line: lineNo, only: only}
		only = ""
		switch f[0] {
		case "onlyif":
			only = f[1]
			continue
		case "restart":
			r.kind = "restart"
			out = append(out, r)
			continue
		case "statement":
			r.kind = "statement"
			if len(f) > 1 && f[1] == "error" {
				if len(f) < 3 {
					t.Fatalf("%s:%d: statement error needs a SQLSTATE", path, lineNo)
				}
				r.errCode = f[2]
				r.errText = strings.Join(f[3:], " ")
			}
		case "query":
			r.kind = "query"
			if len(f) > 1 && f[1] != "_" {
				r.types = f[1]
			}
			r.sort = len(f) > 2 && f[2] == "rowsort"
		default:
			t.Fatalf("%s:%d: unknown record %q", path, lineNo, l)
		}
		lines = lines[:0]
		inResult := false
		for {
			l, ok := next()
			if !ok || strings.TrimSpace(l) == "" {
				break
			}
			if r.kind == "query" && l == "----" {
				inResult = true
				continue
			}
			if inResult {
				r.want = append(r.want, l)
			} else {
				lines = append(lines, l)
			}
		}
		r.sql = strings.Join(lines, "\n")
		out = append(out, r)
	}
	return out
}

// render formats a result row the way scripts write it.
func render(vals [][]byte) string {
	parts := make([]string, len(vals))
	for i, v := range vals {
		switch {
		case v == nil:
			parts[i] = "NULL"
		case len(v) == 0:
			parts[i] = "(empty)"
		default:
			parts[i] = string(v)
		}
	}
	return strings.Join(parts, " ")
}

var rewrite = flag.Bool("rewrite", false, "rewrite the expected results of the scripts from PostgreSQL's answers")

// rewriteResults replaces each query's expected rows (by the record's line)
// with got.
func rewriteResults(t *testing.T, path string, got map[int][]string) {
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(b), "\n")
	var out []string
	for i := 0; i < len(lines); i++ {
		out = append(out, lines[i])
		rows, ok := got[i+1]
		if !ok {
			continue
		}
		// copy the SQL up to ----, then the new rows, then skip the old ones
		j := i + 1
		for j < len(lines) && lines[j] != "----" && strings.TrimSpace(lines[j]) != "" {
			out = append(out, lines[j])
			j++
		}
		out = append(out, "----")
		out = append(out, rows...)
		if j < len(lines) && lines[j] == "----" {
			j++
			for j < len(lines) && strings.TrimSpace(lines[j]) != "" {
				j++
			}
		}
		i = j - 1
	}
	if err := os.WriteFile(path, []byte(strings.Join(out, "\n")), 0o644); err != nil {
		t.Fatal(err)
	}
}

type target struct {
	name    string
	connect func() (*pgconn.PgConn, error)
	restart func()
	// log: the server's log so far (nil: none), shown when it went away;
	// stacks: its goroutines' stacks, when a statement did not finish
	log, stacks func() string
	// restartAt, when > 0, restarts the server before the record with
	// this index (and flushes after it, so views have caught up)
	restartAt int
	// crash, when set, kills the server (kill -9) after every FLUSH and
	// starts it again: after every other FLUSH a CHECKPOINT first, after
	// the others from the last periodic checkpoint
	crash func()
}

var (
	createStream = regexp.MustCompile(`(?is)^\s*CREATE\s+STREAM\s`)
	watermarkFor = regexp.MustCompile(`(?is),\s*WATERMARK\s+FOR\s+.*\)`)
	withOptions  = regexp.MustCompile(`(?is)\)\s*WITH\s*\(.*\)\s*$`)
)

// forPostgres maps streamsql's stream statements onto PostgreSQL: a stream
// is a table, FLUSH has nothing to wait for ("" skips the record).
func forPostgres(sql string) string {
	if strings.EqualFold(strings.TrimSpace(sql), "FLUSH") {
		return ""
	}
	if !createStream.MatchString(sql) {
		return sql
	}
	sql = createStream.ReplaceAllString(sql, "CREATE TABLE ")
	sql = withOptions.ReplaceAllString(sql, ")")
	return watermarkFor.ReplaceAllString(sql, ")")
}

func streaming(path string) bool { return strings.HasPrefix(filepath.Base(path), "stream_") }

func runScript(t *testing.T, path string, tg target) {
	got := map[int][]string{}
	defer func() {
		if *rewrite && tg.name == "postgres" && !t.Failed() {
			rewriteResults(t, path, got)
		}
	}()
	recs := parseScript(t, path)
	ctx := context.Background()
	conn, err := tg.connect()
	if err != nil {
		t.Fatal(err)
	}
	defer func() { conn.Close(ctx) }()
	flushes := 0
	for i, r := range recs {
		if r.only != "" && r.only != tg.name {
			continue
		}
		where := fmt.Sprintf("%s:%d (%s)", filepath.Base(path), r.line, tg.name)
		if i == tg.restartAt && i > 0 {
			conn.Close(ctx)
			tg.restart()
			if conn, err = tg.connect(); err != nil {
				t.Fatalf("%s: reconnect: %v", where, err)
			}
			if _, err := conn.Exec(ctx, "FLUSH").ReadAll(); err != nil {
				t.Fatalf("%s: flush after restart: %v", where, err)
			}
		}
		switch r.kind {
		case "restart":
			if tg.restart != nil {
				conn.Close(ctx)
				tg.restart()
				if conn, err = tg.connect(); err != nil {
					t.Fatalf("%s: reconnect: %v", where, err)
				}
			}
			continue
		}
		sql := r.sql
		if tg.name == "postgres" {
			if sql = forPostgres(sql); sql == "" {
				continue
			}
		}
		qctx, cancel := context.WithTimeout(ctx, 60*time.Second)
		results, err := conn.Exec(qctx, sql).ReadAll()
		cancel()
		if r.errCode != "" {
			var pe *pgconn.PgError
			if !errors.As(err, &pe) {
				t.Errorf("%s: expected error %s, got %v\n%s", where, r.errCode, err, r.sql)
				continue
			}
			if pe.Code != r.errCode || (r.errText != "" && !strings.Contains(pe.Message, r.errText)) {
				t.Errorf("%s: expected error %s %q, got %s %q\n%s", where, r.errCode, r.errText, pe.Code, pe.Message, r.sql)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v\n%s", where, err, r.sql)
			if errors.Is(err, context.DeadlineExceeded) && tg.stacks != nil {
				t.Fatalf("%s: the statement did not finish; the server's goroutines:\n%s", where, tail(tg.stacks(), 200000))
			}
			if conn.IsClosed() {
				if tg.log != nil {
					t.Logf("server log:\n%s", tail(tg.log(), 8000))
				}
				t.Fatalf("%s: connection closed", where)
			}
			continue
		}
		if r.kind == "statement" && tg.crash != nil && strings.EqualFold(strings.TrimSpace(sql), "FLUSH") {
			flushes++
			if flushes%2 == 1 {
				if _, err := conn.Exec(ctx, "CHECKPOINT").ReadAll(); err != nil {
					t.Fatalf("%s: checkpoint: %v", where, err)
				}
			}
			conn.Close(ctx)
			tg.crash()
			if conn, err = tg.connect(); err != nil {
				t.Fatalf("%s: reconnect after kill -9: %v", where, err)
			}
			if _, err := conn.Exec(ctx, "FLUSH").ReadAll(); err != nil {
				t.Fatalf("%s: flush after kill -9: %v", where, err)
			}
		}
		if r.kind == "statement" {
			continue
		}
		var last *pgconn.Result
		if len(results) > 0 {
			last = results[len(results)-1]
		}
		if last == nil {
			t.Errorf("%s: query returned no rows description\n%s", where, r.sql)
			continue
		}
		if r.types != "" && len(last.Rows) > 0 && len(last.FieldDescriptions) != len(r.types) {
			t.Errorf("%s: expected %d columns, got %d\n%s", where, len(r.types), len(last.FieldDescriptions), r.sql)
		}
		rows := make([]string, len(last.Rows))
		for i, row := range last.Rows {
			rows[i] = render(row)
		}
		want := append([]string(nil), r.want...)
		if r.sort {
			sort.Strings(rows)
		}
		if *rewrite {
			got[r.line] = rows
			if len(rows) > hashThreshold {
				got[r.line] = []string{hashRows(rows)}
			}
			continue
		}
		if r.sort {
			sort.Strings(want)
		}
		if len(want) == 1 && hashedRows.MatchString(want[0]) {
			rows = []string{hashRows(rows)}
		}
		if strings.Join(rows, "\n") != strings.Join(want, "\n") {
			t.Errorf("%s: wrong result for\n%s\n--- want\n%s\n--- got\n%s", where, r.sql, strings.Join(want, "\n"), strings.Join(rows, "\n"))
		}
	}
}

// hashThreshold: a result of more rows is written as its row count and
// an MD5 of its rows ("120 rows hashing to ..."), as sqllogictest does.
const hashThreshold = 30

var hashedRows = regexp.MustCompile(`^\d+ rows hashing to [0-9a-f]{32}$`)

func hashRows(rows []string) string {
	h := md5.New()
	for _, r := range rows {
		h.Write([]byte(r))
		h.Write([]byte{'\n'})
	}
	return fmt.Sprintf("%d rows hashing to %x", len(rows), h.Sum(nil))
}

func scripts(t *testing.T) []string {
	files, err := filepath.Glob("testdata/*.slt")
	if err != nil || len(files) == 0 {
		t.Fatalf("no scripts in testdata: %v", err)
	}
	return files
}

func TestSQLLogic(t *testing.T) {
	for _, f := range scripts(t) {
		run := func(t *testing.T, restartMidway bool, args ...string) {
			crash := slices.Contains(args, "crash")
			args = slices.DeleteFunc(args, func(a string) bool { return a == "crash" })
			s := startServer(t, args...)
			tg := target{
				name: "streamsql",
				connect: func() (*pgconn.PgConn, error) {
					return pgconn.Connect(context.Background(), s.url("tester"))
				},
				restart: s.restart,
				log:     s.logText,
				stacks:  s.goroutines,
			}
			if restartMidway {
				tg.restartAt = len(parseScript(t, f)) / 2
			}
			if crash {
				tg.crash = func() {
					s.kill()
					s.start()
				}
			}
			runScript(t, f, tg)
		}
		t.Run(filepath.Base(f), func(t *testing.T) {
			if !streaming(f) {
				// (two workers whatever the machine: EXPLAIN prints them)
				run(t, false, "--workers", "2", "--checkpoint-interval", "0")
				return
			}
			t.Run("batch=1", func(t *testing.T) { run(t, false, "--view-batch-size", "1") })
			// large batches, and aggregates split over 3 workers by key
			t.Run("batch=65536", func(t *testing.T) { run(t, false, "--view-batch-size", "65536", "--workers", "3") })
			t.Run("restart-midway", func(t *testing.T) { run(t, true) })
			// kill -9 after every FLUSH, restarted from its checkpoints
			t.Run("kill-9", func(t *testing.T) { run(t, false, "crash", "--checkpoint-interval", "20ms") })
		})
	}
}

// TestSQLLogicOracle runs the same scripts on PostgreSQL 15: the expected
// results in the scripts are PostgreSQL's.
func TestSQLLogicOracle(t *testing.T) {
	url := oracle(t)
	ctx := context.Background()
	admin, err := pgconn.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(ctx)
	for i, f := range scripts(t) {
		t.Run(filepath.Base(f), func(t *testing.T) {
			db := fmt.Sprintf("slt_%d_%d", os.Getpid(), i)
			if _, err := admin.Exec(ctx, "CREATE DATABASE "+db).ReadAll(); err != nil {
				t.Fatal(err)
			}
			defer func() { _, _ = admin.Exec(ctx, "DROP DATABASE "+db+" WITH (FORCE)").ReadAll() }()
			dbURL := strings.Replace(url, "/postgres?", "/"+db+"?", 1)
			runScript(t, f, target{
				name: "postgres",
				connect: func() (*pgconn.PgConn, error) {
					return pgconn.Connect(ctx, dbURL)
				},
			})
		})
	}
}

// tail is the last n bytes of s.
func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}
