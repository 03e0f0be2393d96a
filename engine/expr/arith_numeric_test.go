package expr

import (
	"context"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/streamsql/streamsql/types"
)

// NUMERIC constant × integer column: the kernel's text equals the general
// decimal path's (PostgreSQL's scale: the constant's digits), for signs,
// zero, NULLs and large values; products past 64 bits take the general path.
func TestScaleTimesIntsMatchesDecimals(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	ctx := &Ctx{Go: context.Background(), Mem: mem, Loc: time.UTC}
	vals := []types.Datum{types.DInt(0), types.DInt(1), types.DInt(-1), types.DInt(1000), types.DInt(-123456789), types.NullDatum, types.DInt(9_000_000_000_000_000), types.DInt(7)}
	col := types.ArrayFromDatums(mem, types.TInt64, vals)
	b := NewBatch([]types.T{types.TInt64}, []arrow.Array{col}, len(vals))
	col.Release()
	defer b.Release()
	for _, k := range []string{"0.908", "-0.5", "2", "0.001", "-12.25", "0"} {
		c := &Const{D: types.Datum{S: k}, T: types.TNumeric}
		e := &Arith{Op: '*', L: c, R: &Cast{E: &Col{Idx: 0, T: types.TInt64}, To: types.TNumeric}, T: types.TNumeric}
		got, err := e.Eval(ctx, b)
		if err != nil {
			t.Fatal(err)
		}
		for i, v := range vals {
			want := types.NullDatum
			if !v.Null {
				n, err := CastDatum(ctx, types.TInt64, types.TNumeric, v)
				if err != nil {
					t.Fatal(err)
				}
				if want, err = ArithDatum(ctx, '*', types.TNumeric, types.TNumeric, types.TNumeric, c.D, n); err != nil {
					t.Fatal(err)
				}
			}
			if g := got.At(i); g.Null != want.Null || g.S != want.S {
				t.Errorf("%s * %v = %q (null %v), want %q (null %v)", k, v, g.S, g.Null, want.S, want.Null)
			}
		}
		got.Release()
	}
}
