package nexmark

import (
	"embed"
	"fmt"
	"sort"
	"strings"
)

// The queries, in streamsql's SQL: each file creates the relation named
// after it (a blackhole sink for the pass-through queries, materialized
// views for the others), after any views it builds on.
//
//go:embed queries/*.sql
var queryFiles embed.FS

// Queries lists the queries by name (q0, q1, ...).
func Queries() []string {
	entries, _ := queryFiles.ReadDir("queries")
	var out []string
	for _, e := range entries {
		out = append(out, strings.TrimSuffix(e.Name(), ".sql"))
	}
	sort.Slice(out, func(i, j int) bool { return queryNum(out[i]) < queryNum(out[j]) })
	return out
}

func queryNum(name string) int {
	var n int
	fmt.Sscanf(name, "q%d", &n)
	return n
}

// Query returns a query's SQL.
func Query(name string) (string, error) {
	b, err := queryFiles.ReadFile("queries/" + name + ".sql")
	if err != nil {
		return "", fmt.Errorf("nexmark: no query %q (there are %s)", name, strings.Join(Queries(), ", "))
	}
	return string(b), nil
}
