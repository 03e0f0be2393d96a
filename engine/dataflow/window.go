package dataflow

// Window assignment in event time (µs since the epoch).

// floorDiv rounds a/b toward minus infinity.
func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

// TumbleStart is the start of the tumbling window of the given size (and
// offset) that contains ts.
func TumbleStart(ts, size, offset int64) int64 {
	return floorDiv(ts-offset, size)*size + offset
}

// HopStarts appends the starts of every hopping window (size, advancing by
// slide) that contains ts, earliest first.
func HopStarts(dst []int64, ts, slide, size int64) []int64 {
	last := floorDiv(ts, slide) * slide
	first := floorDiv(ts-size, slide)*slide + slide
	for s := first; s <= last; s += slide {
		if ts >= s && ts < s+size {
			dst = append(dst, s)
		}
	}
	return dst
}
