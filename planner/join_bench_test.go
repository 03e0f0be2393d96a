package planner

import (
	"fmt"
	"strings"
	"testing"

	"github.com/streamsql/streamsql/engine/exec"
)

// BenchmarkSixTableJoin: a comma join of six tables of 10,000 rows each,
// written in the order that would build cross products first, with the
// equalities and single-table filters mixed in WHERE (as the
// sqllogictest corpus's select4 writes them). The plan must hash-join
// along the equality chain with each filter at its table.
func BenchmarkSixTableJoin(b *testing.B) {
	db, err := OpenWith(b.TempDir(), Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	s := db.NewSession("bench", "bench")
	const rows = 10_000
	for t := 1; t <= 6; t++ {
		mustExec(b, s, fmt.Sprintf("CREATE TABLE t%d (a%d INT, b%d INT, c%d INT)", t, t, t, t))
		mustExec(b, s, fmt.Sprintf("INSERT INTO t%d SELECT g, (g * %d) %% %d, g %% 100 FROM generate_series(1, %d) g", t, 7+t, rows, rows))
	}
	q := `SELECT count(*), sum(a1 + b6) FROM t1, t4, t6, t2, t5, t3
		WHERE c4 < 50 AND b1 = a2 AND a3 = b2 AND c6 <> 7 AND b3 = a4 AND a5 = b4 AND b5 = a6 AND c1 IN (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30)`
	count := func() string {
		res := mustExec(b, s, q)
		out, err := exec.Drain(res.Ctx, res.Rows)
		if err != nil {
			b.Fatal(err)
		}
		var sb strings.Builder
		for _, o := range out {
			for r := 0; r < int(o.NumRows()); r++ {
				for c := 0; c < int(o.NumCols()); c++ {
					fmt.Fprintf(&sb, "%v ", o.Column(c).ValueStr(r))
				}
			}
			o.Release()
		}
		return sb.String()
	}
	first := count()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if got := count(); got != first {
			b.Fatalf("the answer changed: %s, then %s", first, got)
		}
	}
	b.ReportMetric(float64(6*rows)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
	b.Logf("answer: %s", first)
}
