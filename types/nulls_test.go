package types

import "testing"

// All-NULL columns of every SQL type: the right length and type, every
// value NULL, whatever the size (past the shared zeros too).
func TestNullColumn(t *testing.T) {
	for _, tt := range []T{TBool, TInt16, TInt32, TInt64, TFloat64, TText, TTimestamp, TTimestampTZ, TInterval, TDate, TNumeric, TBytea} {
		for _, n := range []int{0, 1, 9, 300_000} {
			c := NullColumn(ArrowType(tt), n)
			if c.Len() != n || c.NullN() != n {
				t.Fatalf("%v × %d: len %d, nulls %d", tt, n, c.Len(), c.NullN())
			}
			if c.DataType().ID() != ArrowType(tt).ID() {
				t.Fatalf("%v: type %v", tt, c.DataType())
			}
			for _, i := range []int{0, n / 2, n - 1} {
				if n > 0 && !DatumAt(c, i).Null {
					t.Fatalf("%v × %d: row %d not NULL", tt, n, i)
				}
			}
			c.Release()
		}
	}
}
