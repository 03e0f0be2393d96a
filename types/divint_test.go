package types

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/cockroachdb/apd/v3"
)

// DivInt64 agrees with DivNumeric wherever it answers.
func TestDivInt64(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	cases := [][2]int64{{1, 1}, {5, 1}, {0, 7}, {-5, 2}, {5, -2}, {1, 3}, {2, 3}, {-2, 3}, {10, 4}, {9999, 1}, {10000, 1}, {12345678, 9},
		{math.MaxInt64, 1}, {math.MaxInt64, 3}, {1, math.MaxInt64}, {-1, 7}, {5, 10}, {15, 10}, {-15, 10}, {99995, 100000}}
	for i := 0; i < 20000; i++ {
		n := r.Int64N(2_000_000_000) - 1_000_000_000
		if i%3 == 0 {
			n = r.Int64() >> r.IntN(63)
		}
		d := 1 + r.Int64N(1000)
		if i%5 == 0 {
			d = 1 + r.Int64N(10_000_000)
		}
		cases = append(cases, [2]int64{n, d})
	}
	answered := 0
	for _, c := range cases {
		got, ok := DivInt64(c[0], c[1])
		if !ok {
			continue
		}
		answered++
		if want := FormatDecimal(DivNumeric(apd.New(c[0], 0), apd.New(c[1], 0))); got != want {
			t.Fatalf("%d / %d: %s, want %s", c[0], c[1], got, want)
		}
	}
	if answered < len(cases)*3/4 {
		t.Fatalf("answered only %d of %d", answered, len(cases))
	}
}

func BenchmarkDivInt64(b *testing.B) {
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		_, _ = DivInt64(int64(i)*37+5, int64(i%97)+1)
	}
}
