package expr

import (
	"context"
	"math/rand/v2"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/streamsql/streamsql/types"
)

func testCtx(mem memory.Allocator) *Ctx {
	return &Ctx{Go: context.Background(), Mem: mem}
}

func randomBools(r *rand.Rand, n int) []types.Datum {
	out := make([]types.Datum, n)
	for i := range out {
		switch r.IntN(3) {
		case 0:
			out[i] = types.NullDatum
		case 1:
			out[i] = types.DBool(true)
		default:
			out[i] = types.DBool(false)
		}
	}
	return out
}

// The bitmap path of AND/OR agrees with three-valued logic row by row.
func TestLogicKleene(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	r := rand.New(rand.NewPCG(7, 9))
	for _, n := range []int{1, 7, 8, 9, 100, 1000} {
		a, b, c := randomBools(r, n), randomBools(r, n), randomBools(r, n)
		ts := []types.T{types.TBool, types.TBool, types.TBool}
		cols := []arrow.Array{types.ArrayFromDatums(mem, types.TBool, a), types.ArrayFromDatums(mem, types.TBool, b), types.ArrayFromDatums(mem, types.TBool, c)}
		batch := NewBatch(ts, cols, n)
		for _, col := range cols {
			col.Release()
		}
		for _, or := range []bool{false, true} {
			e := &Logic{Or: or, Args: []Expr{&Col{Idx: 0, T: types.TBool}, &Col{Idx: 1, T: types.TBool}, &Col{Idx: 2, T: types.TBool}}}
			v, err := e.Eval(testCtx(mem), batch)
			if err != nil {
				t.Fatal(err)
			}
			for i := 0; i < n; i++ {
				want := triT
				if or {
					want = triF
				}
				for _, x := range [][]types.Datum{a, b, c} {
					ti := triF
					switch {
					case x[i].Null:
						ti = triU
					case x[i].I != 0:
						ti = triT
					}
					want = combine(or, want, ti)
				}
				if got := triAt(v, i); got != want {
					t.Fatalf("n=%d or=%v row %d: got %d want %d", n, or, i, got, want)
				}
			}
			v.Release()
		}
		batch.Release()
	}
}

func TestArithOverflowAndDivision(t *testing.T) {
	ctx := testCtx(memory.DefaultAllocator)
	vals := NewFixed(types.TInt32, []int32{2147483647, 1, 0}, nil, 0)
	b := NewBatch([]types.T{types.TInt32}, []arrow.Array{vals}, 3)
	defer b.Release()
	vals.Release()
	one := &Const{D: types.DInt(1), T: types.TInt32}
	if _, err := (&Arith{Op: '+', L: &Col{Idx: 0, T: types.TInt32}, R: one, T: types.TInt32}).Eval(ctx, b); err == nil {
		t.Fatal("expected integer out of range")
	}
	if _, err := (&Arith{Op: '/', L: one, R: &Col{Idx: 0, T: types.TInt32}, T: types.TInt32}).Eval(ctx, b); err == nil {
		t.Fatal("expected division by zero")
	}
	// CASE evaluates a branch only where it applies
	c := &Case{Whens: []Expr{&Compare{Op: NE, L: &Col{Idx: 0, T: types.TInt32}, R: &Const{D: types.DInt(0), T: types.TInt32}}},
		Thens: []Expr{&Arith{Op: '/', L: one, R: &Col{Idx: 0, T: types.TInt32}, T: types.TInt32}}, T: types.TInt32}
	v, err := c.Eval(ctx, b)
	if err != nil {
		t.Fatal(err)
	}
	defer v.Release()
	if !v.At(2).Null || v.At(1).I != 1 {
		t.Fatalf("CASE: %v %v", v.At(1), v.At(2))
	}
}
