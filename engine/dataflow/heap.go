package dataflow

// heapPush adds x to the binary min-heap h (ordered by less).
func heapPush[T any](h []T, x T, less func(a, b T) bool) []T {
	h = append(h, x)
	for i := len(h) - 1; i > 0; {
		up := (i - 1) / 2
		if !less(h[i], h[up]) {
			break
		}
		h[i], h[up] = h[up], h[i]
		i = up
	}
	return h
}

// heapPop removes the least element of the min-heap h.
func heapPop[T any](h []T, less func(a, b T) bool) ([]T, T) {
	top := h[0]
	last := len(h) - 1
	h[0] = h[last]
	var zero T
	h[last] = zero
	h = h[:last]
	for i := 0; ; {
		l, least := 2*i+1, i
		if l < len(h) && less(h[l], h[least]) {
			least = l
		}
		if l+1 < len(h) && less(h[l+1], h[least]) {
			least = l + 1
		}
		if least == i {
			break
		}
		h[i], h[least] = h[least], h[i]
		i = least
	}
	return h, top
}
