package dataflow

import "time"

// Watermarks tracks the watermark of a source with several shards: each
// shard's watermark is the largest event time it has seen minus the
// allowed lateness; the source's is the minimum over shards that are not
// idle (a shard with no data for IdleTimeout stops holding it back), and
// it never goes backwards.
type Watermarks struct {
	Lateness    int64 // µs
	IdleTimeout time.Duration

	maxSeen  []int64
	lastSeen []time.Time
	has      []bool
	current  int64
	started  bool
	first    time.Time // of the first observation: shards silent since are idle
}

// NewWatermarks tracks n shards.
func NewWatermarks(n int, lateness int64, idle time.Duration) *Watermarks {
	return &Watermarks{Lateness: lateness, IdleTimeout: idle, maxSeen: make([]int64, n), lastSeen: make([]time.Time, n), has: make([]bool, n)}
}

// Observe records event time ts on a shard, at wall time now.
func (w *Watermarks) Observe(shard int, ts int64, now time.Time) {
	if w.first.IsZero() {
		w.first = now
	}
	if !w.has[shard] || ts > w.maxSeen[shard] {
		w.maxSeen[shard] = ts
	}
	w.has[shard] = true
	w.lastSeen[shard] = now
}

// Current returns the watermark at wall time now and whether there is one
// yet (no shard has seen data: none).
func (w *Watermarks) Current(now time.Time) (int64, bool) {
	min, any := int64(0), false
	for i := range w.maxSeen {
		if !w.has[i] {
			// a shard that never saw data holds the watermark back until it idles
			if w.IdleTimeout > 0 && !w.first.IsZero() && now.Sub(w.first) > w.IdleTimeout {
				continue
			}
			return w.current, w.started
		}
		if w.IdleTimeout > 0 && now.Sub(w.lastSeen[i]) > w.IdleTimeout {
			continue
		}
		wm := w.maxSeen[i] - w.Lateness
		if !any || wm < min {
			min, any = wm, true
		}
	}
	if !any {
		return w.current, w.started
	}
	if !w.started || min > w.current {
		w.current, w.started = min, true
	}
	return w.current, true
}

// Late reports whether event time ts is behind the watermark (a row that
// windows must drop and count).
func (w *Watermarks) Late(ts int64) bool { return w.started && ts < w.current }
