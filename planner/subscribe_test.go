package planner

import (
	"fmt"
	"testing"

	"github.com/streamsql/streamsql/engine/flow"
	"github.com/streamsql/streamsql/sqlerr"
	"github.com/streamsql/streamsql/types"
)

// A subscriber that stops reading costs at most the log's bound in bytes:
// past it the view lets go of what the laggard has not read, and the
// laggard, once it reads again, gets every change in order from the
// view's changelog on disk. A subscription's own flow has no changelog:
// its laggard fails with 54000.
func TestStalledSubscriberBoundedMemory(t *testing.T) {
	defer func(n int64) { flow.MaxSubscriptionLogBytes = n }(flow.MaxSubscriptionLogBytes)
	flow.MaxSubscriptionLogBytes = 256 << 10
	db, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	s := db.NewSession("test", "test")
	mustExec(t, s, "CREATE STREAM ev (k TEXT, v BIGINT)")
	mustExec(t, s, "CREATE MATERIALIZED VIEW sums AS SELECT k, sum(v) AS s FROM ev GROUP BY k")
	stalled := mustExec(t, s, "SUBSCRIBE TO sums WITH (snapshot = false)")
	defer stalled.Rows.Close()
	own := mustExec(t, s, "SUBSCRIBE (SELECT k, v FROM ev) WITH (snapshot = false)")
	defer own.Rows.Close()

	const batches, perBatch = 40, 500
	for i := 0; i < batches; i++ {
		mustExec(t, s, fmt.Sprintf("INSERT INTO ev SELECT 'key-%d-' || g, g FROM generate_series(1, %d) g", i, perBatch))
		mustExec(t, s, "FLUSH")
		held := db.view("sums").HeldBytes()
		if held > flow.MaxSubscriptionLogBytes {
			t.Fatalf("after %d batches the view holds %d bytes for a stalled subscriber (bound %d)", i+1, held, flow.MaxSubscriptionLogBytes)
		}
	}
	// the laggard reads everything, in order, from disk and then memory
	seen := map[string]bool{}
	for len(seen) < batches*perBatch {
		b, err := stalled.Rows.Next(stalled.Ctx)
		if err != nil {
			t.Fatalf("after %d changes: %v", len(seen), err)
		}
		for r := 0; r < int(b.NumRows()); r++ {
			k := types.DatumAt(b.Column(2), r).S
			if diff := types.DatumAt(b.Column(1), r).I; diff != 1 || seen[k] {
				t.Fatalf("change %q diff %d (seen before: %v)", k, diff, seen[k])
			}
			seen[k] = true
		}
		b.Release()
	}
	_, err = own.Rows.Next(own.Ctx)
	if sqlerr.Code(err) != sqlerr.ProgramLimitExceeded {
		t.Fatalf("the own flow's laggard: %v, want 54000", err)
	}
}

// A join of two materialized views is fed by both parents' goroutines at
// once: under -race this checks that it runs one message at a time, and
// its result equals the batch join of the two views.
func TestViewJoinConcurrentParents(t *testing.T) {
	db, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	s := db.NewSession("test", "test")
	mustExec(t, s, "CREATE STREAM a (k BIGINT, v BIGINT)")
	mustExec(t, s, "CREATE STREAM b (k BIGINT, w BIGINT)")
	mustExec(t, s, "CREATE MATERIALIZED VIEW sa AS SELECT k, sum(v) AS v FROM a GROUP BY k")
	mustExec(t, s, "CREATE MATERIALIZED VIEW sb AS SELECT k, sum(w) AS w FROM b GROUP BY k")
	mustExec(t, s, "CREATE MATERIALIZED VIEW j AS SELECT sa.k, sa.v * sb.w AS p FROM sa JOIN sb ON sa.k = sb.k")
	done := make(chan error, 2)
	for _, st := range []string{"a", "b"} {
		go func() {
			ws := db.NewSession("w", "w")
			for i := 0; i < 20; i++ {
				q := fmt.Sprintf("INSERT INTO %s SELECT g %% 50, g FROM generate_series(1, 200) g", st)
				stmts, err := ws.Parse(q)
				if err == nil {
					var p *Prepared
					if p, err = ws.Prepare(stmts[0], nil); err == nil {
						_, err = ws.Execute(t.Context(), p, nil)
					}
				}
				if err != nil {
					done <- err
					return
				}
			}
			done <- nil
		}()
	}
	for range 2 {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	mustExec(t, s, "FLUSH")
	got, err := s.QueryRow("SELECT count(*), sum(p) FROM j")
	if err != nil {
		t.Fatal(err)
	}
	want, err := s.QueryRow("SELECT count(*), sum(x.v * y.w) FROM (SELECT k, sum(v) AS v FROM a GROUP BY k) x JOIN (SELECT k, sum(w) AS w FROM b GROUP BY k) y ON x.k = y.k")
	if err != nil {
		t.Fatal(err)
	}
	if got[0].I != 50 || fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("view join %v, batch join %v", got, want)
	}
}
