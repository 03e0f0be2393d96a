package exec

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/streamsql/streamsql/engine/expr"
	"github.com/streamsql/streamsql/types"
)

func newCtx(mem memory.Allocator) *expr.Ctx {
	return &expr.Ctx{Go: context.Background(), Mem: mem}
}

// batch builds a batch from rows of Go values (nil = NULL).
func batch(mem memory.Allocator, ts []types.T, rows ...[]any) arrow.RecordBatch {
	cols := make([]arrow.Array, len(ts))
	for c, t := range ts {
		ds := make([]types.Datum, len(rows))
		for r, row := range rows {
			switch v := row[c].(type) {
			case nil:
				ds[r] = types.NullDatum
			case int:
				ds[r] = types.DInt(int64(v))
			case float64:
				ds[r] = types.DFloat(v)
			case string:
				ds[r] = types.DText(v)
			case bool:
				ds[r] = types.DBool(v)
			}
		}
		cols[c] = types.ArrayFromDatums(mem, t, ds)
	}
	b := expr.NewBatch(ts, cols, len(rows))
	for _, c := range cols {
		c.Release()
	}
	return b
}

// rows renders an operator's whole output, one sorted line per row.
func rows(t testing.TB, ctx *expr.Ctx, op Operator) []string {
	t.Helper()
	out := orderedRows(t, ctx, op)
	sort.Strings(out)
	return out
}

// orderedRows is rows in the operator's order.
func orderedRows(t testing.TB, ctx *expr.Ctx, op Operator) []string {
	t.Helper()
	bs, err := Drain(ctx, op)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	ts := op.Types()
	for _, b := range bs {
		for r := 0; r < int(b.NumRows()); r++ {
			var parts []string
			for c := 0; c < int(b.NumCols()); c++ {
				d := types.DatumAt(b.Column(c), r)
				if d.Null {
					parts = append(parts, "NULL")
				} else {
					parts = append(parts, types.FormatText(ts[c], d, nil))
				}
			}
			out = append(out, strings.Join(parts, " "))
		}
		b.Release()
	}
	return out
}

func col(i int, t types.T) *expr.Col { return &expr.Col{Idx: i, T: t} }

func TestHashAggNoLeaks(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	ctx := newCtx(mem)
	ts := []types.T{types.TText, types.TInt64, types.TFloat64}
	in := NewScan(ts, []arrow.RecordBatch{
		batch(mem, ts, []any{"a", 1, 1.5}, []any{"b", 2, nil}, []any{nil, 3, 2.0}),
		batch(mem, ts, []any{"a", nil, 4.0}, []any{"b", 5, 0.5}, []any{nil, nil, nil}),
	})
	agg := NewHashAgg(in, []expr.Expr{col(0, types.TText)}, []AggSpec{
		{Kind: AggCountStar, T: types.TInt64},
		{Kind: AggCount, Arg: col(1, types.TInt64), T: types.TInt64},
		{Kind: AggSum, Arg: col(1, types.TInt64), T: types.TNumeric},
		{Kind: AggAvg, Arg: col(2, types.TFloat64), T: types.TFloat64},
		{Kind: AggMax, Arg: col(2, types.TFloat64), T: types.TFloat64},
		{Kind: AggCount, Arg: col(1, types.TInt64), Distinct: true, T: types.TInt64},
	})
	got := rows(t, ctx, agg)
	want := []string{"NULL 2 1 3 2 2 1", "a 2 1 1 2.75 4 1", "b 2 2 7 0.5 0.5 2"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("got %q\nwant %q", got, want)
	}
}

func TestGlobalAggOfNothing(t *testing.T) {
	ctx := newCtx(memory.DefaultAllocator)
	ts := []types.T{types.TInt64}
	agg := NewHashAgg(NewScan(ts, nil), nil, []AggSpec{{Kind: AggCountStar, T: types.TInt64}, {Kind: AggSum, Arg: col(0, types.TInt64), T: types.TNumeric}})
	if got := rows(t, ctx, agg); fmt.Sprint(got) != "[0 NULL]" {
		t.Fatalf("got %q", got)
	}
}

func TestHashJoinKinds(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	ctx := newCtx(mem)
	lt := []types.T{types.TInt64, types.TText}
	rt := []types.T{types.TInt64, types.TText}
	mk := func() (Operator, Operator) {
		l := NewScan(lt, []arrow.RecordBatch{batch(mem, lt, []any{1, "l1"}, []any{2, "l2"}, []any{nil, "lnull"}, []any{2, "l2b"})})
		r := NewScan(rt, []arrow.RecordBatch{batch(mem, rt, []any{2, "r2"}, []any{3, "r3"}, []any{nil, "rnull"})})
		return l, r
	}
	cases := map[JoinKind][]string{
		InnerJoin: {"2 l2 2 r2", "2 l2b 2 r2"},
		LeftJoin:  {"1 l1 NULL NULL", "2 l2 2 r2", "2 l2b 2 r2", "NULL lnull NULL NULL"},
		RightJoin: {"2 l2 2 r2", "2 l2b 2 r2", "NULL NULL 3 r3", "NULL NULL NULL rnull"},
		FullJoin:  {"1 l1 NULL NULL", "2 l2 2 r2", "2 l2b 2 r2", "NULL NULL 3 r3", "NULL NULL NULL rnull", "NULL lnull NULL NULL"},
		SemiJoin:  {"2 l2", "2 l2b"},
		AntiJoin:  {"1 l1", "NULL lnull"},
	}
	for kind, want := range cases {
		l, r := mk()
		j := NewHashJoin(kind, l, r, []expr.Expr{col(0, types.TInt64)}, []expr.Expr{col(0, types.TInt64)}, nil)
		if got := rows(t, ctx, j); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("kind %d: got %q\nwant %q", kind, got, want)
		}
	}
}

func TestSortNullsAndLimit(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	ctx := newCtx(mem)
	ts := []types.T{types.TInt64}
	in := NewScan(ts, []arrow.RecordBatch{batch(mem, ts, []any{3}, []any{nil}, []any{1}, []any{2})})
	s := &Sort{In: in, Keys: []SortKey{{E: col(0, types.TInt64), Desc: true, NullsFirst: true}}, Limit: 3}
	bs, err := Drain(ctx, s)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, b := range bs {
		for r := 0; r < int(b.NumRows()); r++ {
			got = append(got, b.Column(0).ValueStr(r))
		}
		b.Release()
	}
	if fmt.Sprint(got) != "[(null) 3 2]" {
		t.Fatalf("got %v", got)
	}
}
