package dataflow

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/streamsql/streamsql/engine/expr"
	"github.com/streamsql/streamsql/types"
)

// rowString renders a row exactly (the model's key): -0 and 0, and every
// NaN, alike, as the arrangement sees them.
func rowString(row []types.Datum) string {
	var sb strings.Builder
	for _, d := range row {
		if d.Null {
			sb.WriteString("N|")
			continue
		}
		fmt.Fprintf(&sb, "%d/%x/%q/%v|", d.I, normFloat(d.F), d.S, d.Iv)
	}
	return sb.String()
}

func multiset(bs []arrow.RecordBatch) map[string]int64 {
	out := map[string]int64{}
	for _, b := range bs {
		for r := 0; r < int(b.NumRows()); r++ {
			row := make([]types.Datum, b.NumCols())
			for c := range row {
				row[c] = types.DatumAt(b.Column(c), r)
			}
			out[rowString(row)]++
		}
	}
	return out
}

// The arrangement holds what a map from row to count holds, through
// random batches of insertions and retractions (rows repeated within a
// batch, retracted in the batch that adds them, NULLs, -0 and NaN,
// strings, intervals, numerics as spelled): its snapshot, its contents,
// the changes each batch reports, and point lookups through indexes made
// before and after rows arrive. Its input batches are not kept (a checked
// allocator sees them all freed).
func TestArrangementMatchesModel(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	ts := []types.T{types.TInt64, types.TText, types.TFloat64, types.TInterval, types.TNumeric, types.TInt32}
	r := rand.New(rand.NewPCG(7, 11))
	value := func(c int) types.Datum {
		if r.IntN(8) == 0 {
			return types.NullDatum
		}
		switch c {
		case 0:
			return types.DInt(int64(r.IntN(20)))
		case 1:
			return types.DText([]string{"", "a", "bb", "ccc", "ü"}[r.IntN(5)])
		case 2:
			return types.DFloat([]float64{0, math.Copysign(0, -1), 1.5, math.NaN(), -2}[r.IntN(5)])
		case 3:
			return types.Datum{Iv: types.IntervalValue{Days: int32(r.IntN(2)), Micros: int64(r.IntN(2)) * 86_400_000_000}}
		case 4:
			return types.Datum{S: []string{"1", "1.0", "2.50"}[r.IntN(3)]}
		}
		return types.DInt(int64(r.IntN(3)))
	}
	for _, batch := range []int{1, 7, 300} {
		a := NewArrangement(ts)
		model := map[string]int64{}
		var live [][]types.Datum
		if batch == 7 {
			a.AddIndex(1)
		}
		for step := 0; step < 200; step++ {
			var rows [][]types.Datum
			var ws []int64
			for i := 0; i < 1+r.IntN(batch); i++ {
				var row []types.Datum
				w := int64(1)
				if len(live) > 0 && r.IntN(3) == 0 {
					row, w = live[r.IntN(len(live))], -1
				} else {
					row = make([]types.Datum, len(ts))
					for c := range row {
						row[c] = value(c)
					}
					live = append(live, row)
				}
				rows, ws = append(rows, row), append(ws, w)
			}
			before := map[string]int64{}
			for k, v := range model {
				before[k] = v
			}
			for i, row := range rows {
				k := rowString(row)
				if model[k] += ws[i]; model[k] == 0 {
					delete(model, k)
				}
			}
			b := expr.BatchFromRows(mem, ts, rows)
			changed, diffs := a.Apply(b, ws, true)
			b.Release()
			got := map[string]int64{}
			inserted := false
			for i, d := range diffs {
				if d == 0 {
					t.Fatalf("batch %d step %d: a change of 0", batch, step)
				}
				if d < 0 && inserted {
					t.Fatalf("batch %d step %d: a retraction after an insertion", batch, step)
				}
				inserted = inserted || d > 0
				row := make([]types.Datum, len(ts))
				for c := range row {
					row[c] = types.DatumAt(changed.Column(c), i)
				}
				got[rowString(row)] += d
			}
			if changed != nil {
				changed.Release()
			}
			for k := range model {
				if d := model[k] - before[k]; d != got[k] {
					t.Fatalf("batch %d step %d: change of %s = %d, want %d", batch, step, k, got[k], d)
				}
			}
			for k, v := range before {
				if _, ok := model[k]; !ok && got[k] != -v {
					t.Fatalf("batch %d step %d: change of %s = %d, want %d", batch, step, k, got[k], -v)
				}
			}
			if step == 100 {
				a.AddIndex(0)
			}
		}
		want := map[string]int64{}
		var count int64
		for k, v := range model {
			count += v
			if v > 0 {
				want[k] = v
			}
		}
		if got := multiset(a.Snapshot()); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("batch %d: snapshot\n%v\nwant\n%v", batch, got, want)
		}
		if a.Len() != len(model) || a.Count() != count {
			t.Fatalf("batch %d: Len %d Count %d, want %d %d", batch, a.Len(), a.Count(), len(model), count)
		}
		cb, counts := a.Contents()
		contents := map[string]int64{}
		for i := 0; i < len(counts); i++ {
			row := make([]types.Datum, len(ts))
			for c := range row {
				row[c] = types.DatumAt(cb.Column(c), i)
			}
			contents[rowString(row)] += counts[i]
		}
		if fmt.Sprint(contents) != fmt.Sprint(model) {
			t.Fatalf("batch %d: contents %v, want %v", batch, contents, model)
		}
		sorted := a.Sorted()
		if len(sorted) != len(model) {
			t.Fatalf("batch %d: %d sorted rows, want %d", batch, len(sorted), len(model))
		}
		for _, col := range []int{0, 1} {
			if !a.HasIndex(col) {
				continue
			}
			probes := []types.Datum{types.DInt(3), types.DInt(19), types.NullDatum}
			if col == 1 {
				probes = []types.Datum{types.DText("bb"), types.DText(""), types.NullDatum}
			}
			for _, probe := range probes {
				lb, ok := a.Lookup(col, probe)
				if !ok {
					t.Fatalf("batch %d: no index on %d", batch, col)
				}
				var lbs []arrow.RecordBatch
				if lb != nil {
					lbs = append(lbs, lb)
				}
				got := multiset(lbs)
				want := map[string]int64{}
				for _, row := range live {
					k := rowString(row)
					if n := model[k]; n > 0 && !probe.Null && !row[col].Null && types.Compare(ts[col], row[col], probe) == 0 {
						want[k] = n
					}
				}
				if fmt.Sprint(got) != fmt.Sprint(want) {
					t.Fatalf("batch %d: lookup %d = %v: %v, want %v", batch, col, probe, got, want)
				}
			}
		}
	}
}

// Sorted is the same order however the rows arrived.
func TestArrangementSortedIsStable(t *testing.T) {
	ts := []types.T{types.TInt64, types.TText}
	var rows [][]types.Datum
	for i := 0; i < 500; i++ {
		rows = append(rows, []types.Datum{types.DInt(int64(i % 37)), types.DText(fmt.Sprint(i % 11))})
	}
	render := func(a *Arrangement) string {
		var sb strings.Builder
		for _, c := range a.Sorted() {
			fmt.Fprintf(&sb, "%s×%d ", rowString(c.Row), c.Diff)
		}
		return sb.String()
	}
	var first string
	for seed := uint64(0); seed < 4; seed++ {
		r := rand.New(rand.NewPCG(seed, 1))
		r.Shuffle(len(rows), func(i, j int) { rows[i], rows[j] = rows[j], rows[i] })
		a := NewArrangement(ts)
		a.Apply(expr.BatchFromRows(memory.DefaultAllocator, ts, rows), nil, false)
		if got := render(a); seed == 0 {
			first = got
		} else if got != first {
			t.Fatalf("order differs with seed %d", seed)
		}
	}
}
