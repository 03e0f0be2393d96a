package tests

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// pgJDBC (Debian libpgjava): prepared statements past the server-side
// threshold, DatabaseMetaData, fetch-size cursors.
func TestJDBC(t *testing.T) {
	javac := need(t, "javac")
	java := need(t, "java")
	jar := "/usr/share/java/postgresql.jar"
	if _, err := os.Stat(jar); err != nil {
		if inCI() {
			t.Fatalf("%s is required in CI (apt-get install libpgjava)", jar)
		}
		t.Skip("pgJDBC not installed")
	}
	s := startServer(t)
	dir := t.TempDir()
	if out, err := exec.Command(javac, "-cp", jar, "-d", dir, "clients/JdbcCheck.java").CombinedOutput(); err != nil {
		t.Fatalf("javac: %v\n%s", err, out)
	}
	url := "jdbc:postgresql://" + s.addr() + "/streamsql"
	out, err := exec.Command(java, "-cp", jar+string(filepath.ListSeparator)+dir, "JdbcCheck", url).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "jdbc ok") {
		t.Fatalf("JDBC check failed: %v\n%s\nserver log:\n%s", err, out, s.logText())
	}
}

// psycopg2, psycopg 3, SQLAlchemy 1.4, pandas and pgcli from Debian,
// with the system Python.
func TestPython(t *testing.T) {
	py := "/usr/bin/python3"
	if _, err := os.Stat(py); err != nil {
		need(t, "python3-system")
	}
	if out, err := exec.Command(py, "-c", "import psycopg2, psycopg, sqlalchemy, pandas, pgcli.pgexecute, pgspecial").CombinedOutput(); err != nil {
		if inCI() {
			t.Fatalf("psycopg2, psycopg 3, SQLAlchemy, pandas and pgcli are required in CI: %s", out)
		}
		t.Skipf("psycopg2, psycopg 3, SQLAlchemy, pandas or pgcli not installed: %s", out)
	}
	s := startServer(t)
	out, err := exec.Command(py, "clients/python_check.py", s.addr()).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "python ok") {
		t.Fatalf("python check failed: %v\n%s\nserver log:\n%s", err, out, s.logText())
	}
}

// node-postgres (npm pg), installed into tests/clients by .ci/run.
func TestNodePostgres(t *testing.T) {
	node := need(t, "node")
	if _, err := os.Stat("clients/node_modules/pg"); err != nil {
		if inCI() {
			t.Fatal("node-postgres is required in CI (npm install --prefix tests/clients)")
		}
		t.Skip("node-postgres not installed (npm install --prefix tests/clients)")
	}
	s := startServer(t)
	out, err := exec.Command(node, "clients/node_check.js", s.addr()).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "node ok") {
		t.Fatalf("node-postgres check failed: %v\n%s", err, out)
	}
}
