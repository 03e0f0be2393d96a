package dataflow

import "testing"

// Elements keep their values and places as the array grows through
// chunks of growing sizes.
func TestChunked(t *testing.T) {
	c := newChunked[int64](3)
	if c.len() != 3 || *c.at(2) != 0 {
		t.Fatal("newChunked")
	}
	for i := int32(3); i < 100_000; i++ {
		if got := c.push(); got != i {
			t.Fatalf("push returned %d, want %d", got, i)
		}
		*c.at(i) = int64(i) * 7
	}
	for i := int32(3); i < 100_000; i++ {
		if *c.at(i) != int64(i)*7 {
			t.Fatalf("element %d is %d", i, *c.at(i))
		}
	}
	for _, i := range []int32{0, chunkBase - 1, chunkBase, 3*chunkBase - 1, 3 * chunkBase} {
		k, off := place(i)
		if off < 0 || int(off) >= chunkBase<<k {
			t.Fatalf("place(%d) = %d, %d", i, k, off)
		}
	}
}
