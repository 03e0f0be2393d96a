package dataflow

import "math/bits"

// chunked is a growable array that never copies what it holds to grow:
// chunk k holds chunkBase<<k elements, so a small state stays small and a
// large one sits in a few large chunks (which the kernel can back with
// huge pages: random access into a join's state of millions of rows
// stays cheap). Growing a flat slice by doubling costs seconds at that
// size — allocating, zeroing and copying ever larger arrays.
type chunked[T any] struct {
	chunks [][]T
	n      int32
}

const chunkBase = 256

// newChunked returns n zero elements.
func newChunked[T any](n int32) *chunked[T] {
	c := &chunked[T]{}
	for c.n < n {
		c.push()
	}
	return c
}

// place is the chunk of element i and its offset there: chunk k starts
// at chunkBase·(2^k − 1).
func place(i int32) (int, int32) {
	q := uint32(i)/chunkBase + 1
	k := bits.Len32(q) - 1
	return k, i - chunkBase*(1<<k-1)
}

// push appends a zero element and returns its index.
func (c *chunked[T]) push() int32 {
	if k, _ := place(c.n); k == len(c.chunks) {
		c.chunks = append(c.chunks, make([]T, chunkBase<<k))
	}
	c.n++
	return c.n - 1
}

// at is element i.
func (c *chunked[T]) at(i int32) *T {
	k, off := place(i)
	return &c.chunks[k][off]
}

// len is the number of elements.
func (c *chunked[T]) len() int32 { return c.n }
