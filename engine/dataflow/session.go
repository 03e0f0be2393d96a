package dataflow

import (
	"sort"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/streamsql/streamsql/engine/exec"
	"github.com/streamsql/streamsql/engine/expr"
	"github.com/streamsql/streamsql/types"
)

// Session windows: the rows of one partition key (the GROUP BY keys) whose
// event times are less than gap apart form a session, from its first row's
// time to its last row's time plus gap. A row can merge two sessions, so
// windows are known only for the rows seen so far.

// sessionize orders rows by (partition key, time) and returns, for each
// row in that order, its index and its session's start and end.
func sessionize(keys []string, times []int64, gap int64) (order []int, starts, ends []int64) {
	order = make([]int, len(times))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool {
		x, y := order[a], order[b]
		if keys[x] != keys[y] {
			return keys[x] < keys[y]
		}
		return times[x] < times[y]
	})
	starts, ends = make([]int64, len(order)), make([]int64, len(order))
	for lo := 0; lo < len(order); {
		hi := lo + 1
		for hi < len(order) && keys[order[hi]] == keys[order[lo]] && times[order[hi]]-times[order[hi-1]] < gap {
			hi++
		}
		for i := lo; i < hi; i++ {
			starts[i], ends[i] = times[order[lo]], times[order[hi-1]]+gap
		}
		lo = hi
	}
	return order, starts, ends
}

// SessionAssign is the batch operator of SESSION in FROM: it reads its
// whole (bounded) input and adds window_start and window_end, sessions
// being formed per value of the Partition columns. Rows come out ordered
// by partition and time; rows with a NULL time are in no session.
type SessionAssign struct {
	In        exec.Operator
	Spec      WindowSpec
	Partition []int
	t         []types.T
	done      bool
}

// NewSessionAssign returns the operator.
func NewSessionAssign(in exec.Operator, spec WindowSpec, partition []int) *SessionAssign {
	t := append(append([]types.T{}, in.Types()...), spec.TimeType, spec.TimeType)
	return &SessionAssign{In: in, Spec: spec, Partition: partition, t: t}
}

func (s *SessionAssign) Types() []types.T { return s.t }
func (s *SessionAssign) Close()           { s.In.Close() }
func (s *SessionAssign) Next(ctx *expr.Ctx) (arrow.RecordBatch, error) {
	if s.done {
		return nil, nil
	}
	s.done = true
	var rows [][]types.Datum
	for {
		b, err := s.In.Next(ctx)
		if err != nil {
			return nil, err
		}
		if b == nil {
			break
		}
		for r := 0; r < int(b.NumRows()); r++ {
			if b.Column(s.Spec.TimeCol).IsNull(r) {
				continue
			}
			row := make([]types.Datum, b.NumCols())
			for c := range row {
				row[c] = types.DatumAt(b.Column(c), r)
			}
			rows = append(rows, row)
		}
		b.Release()
	}
	if len(rows) == 0 {
		return nil, nil
	}
	return sessionBatch(ctx, s.t, rows, s.Spec, s.Partition), nil
}

// sessionBatch returns rows (without window columns) with their sessions,
// as a batch of types ts, ordered by partition and time.
func sessionBatch(ctx *expr.Ctx, ts []types.T, rows [][]types.Datum, spec WindowSpec, partition []int) arrow.RecordBatch {
	keys := make([]string, len(rows))
	times := make([]int64, len(rows))
	var buf []byte
	for i, row := range rows {
		buf = buf[:0]
		for _, c := range partition {
			buf = exec.AppendKey(buf, ts[c], row[c])
		}
		keys[i], times[i] = string(buf), row[spec.TimeCol].I
	}
	order, starts, ends := sessionize(keys, times, spec.Gap)
	out := make([][]types.Datum, len(order))
	for i, r := range order {
		out[i] = append(append(make([]types.Datum, 0, len(rows[r])+2), rows[r]...), types.DInt(starts[i]), types.DInt(ends[i]))
	}
	return expr.BatchFromRows(ctx.Mem, ts, out)
}

// SessionAgg maintains an aggregate over session windows incrementally.
// Per partition key it keeps the rows of its open sessions (a multiset,
// so retractions work) and the output rows of each session; a change to
// a key recomputes that key's sessions with Compute (the aggregate over
// one session's rows, window columns included) and emits the difference.
// A session closes — its rows are freed, and in EMIT ON WINDOW CLOSE mode
// its rows are emitted — when the watermark reaches its end; rows behind
// the watermark are late and dropped.
type SessionAgg struct {
	Spec      WindowSpec
	Partition []int
	InTypes   []types.T // the rows entering the window, without window columns
	OutTypes  []types.T
	Compute   func(ctx *expr.Ctx, session arrow.RecordBatch) ([][]types.Datum, error)
	Quiet     bool // EMIT ON WINDOW CLOSE: Process emits nothing
	// Cols describes a session's rows (the input's columns, then
	// window_start and window_end), for reports of rows Compute fails on.
	Cols expr.Columns

	keys    map[string]*sessKey
	wm      int64
	hasWM   bool
	Late    int64
	withWin []types.T
	scratch []byte
}

type sessKey struct {
	rows     map[string]*sessRow // row encoding → row and multiplicity
	sessions []sessOut
}

type sessRow struct {
	d []types.Datum
	n int64
}

type sessOut struct {
	start, end int64
	rows       [][]types.Datum
}

// NewSessionAgg returns an empty session aggregate.
func NewSessionAgg(spec WindowSpec, partition []int, in, out []types.T, compute func(*expr.Ctx, arrow.RecordBatch) ([][]types.Datum, error)) *SessionAgg {
	return &SessionAgg{Spec: spec, Partition: partition, InTypes: in, OutTypes: out, Compute: compute,
		keys: map[string]*sessKey{}, withWin: append(append([]types.T{}, in...), spec.TimeType, spec.TimeType)}
}

// Groups is the number of open sessions.
func (s *SessionAgg) Groups() int {
	n := 0
	for _, k := range s.keys {
		n += len(k.sessions)
	}
	return n
}

// Process applies a changelog batch of rows entering the window.
func (s *SessionAgg) Process(ctx *expr.Ctx, m *Msg) (*Msg, error) {
	b := m.Batch
	touched := map[string]*sessKey{}
	var order []string
	for r := 0; r < int(b.NumRows()); r++ {
		if b.Column(s.Spec.TimeCol).IsNull(r) {
			continue
		}
		row := make([]types.Datum, b.NumCols())
		for c := range row {
			row[c] = types.DatumAt(b.Column(c), r)
		}
		if s.hasWM && row[s.Spec.TimeCol].I < s.wm {
			s.Late++
			continue
		}
		s.scratch = s.scratch[:0]
		for _, c := range s.Partition {
			s.scratch = exec.AppendKey(s.scratch, s.InTypes[c], row[c])
		}
		pk := string(s.scratch)
		k := s.keys[pk]
		if k == nil {
			k = &sessKey{rows: map[string]*sessRow{}}
			s.keys[pk] = k
		}
		if touched[pk] == nil {
			touched[pk] = k
			order = append(order, pk)
		}
		for c, d := range row {
			s.scratch = exec.AppendKey(s.scratch, s.InTypes[c], d)
		}
		rk := string(s.scratch)
		x := k.rows[rk]
		if x == nil {
			x = &sessRow{d: row}
			k.rows[rk] = x
		}
		x.n += m.Weight(r)
		if x.n == 0 {
			delete(k.rows, rk)
		}
	}
	var out [][]types.Datum
	var weights []int64
	for _, pk := range order {
		k := touched[pk]
		sessions, err := s.recompute(ctx, k)
		if err != nil {
			return nil, err
		}
		if !s.Quiet {
			var old, now [][]types.Datum
			for _, x := range k.sessions {
				old = append(old, x.rows...)
			}
			for _, x := range sessions {
				now = append(now, x.rows...)
			}
			out, weights = diffRows(s.OutTypes, old, now, out, weights)
		}
		k.sessions = sessions
		if len(k.rows) == 0 {
			delete(s.keys, pk)
		}
	}
	return &Msg{Kind: MsgData, Batch: expr.BatchFromRows(ctx.Mem, s.OutTypes, out), Weights: weights}, nil
}

// recompute forms a key's sessions from its rows and aggregates each.
func (s *SessionAgg) recompute(ctx *expr.Ctx, k *sessKey) ([]sessOut, error) {
	var rows [][]types.Datum
	for _, x := range k.rows {
		for i := int64(0); i < x.n; i++ {
			rows = append(rows, x.d)
		}
	}
	if len(rows) == 0 {
		return nil, nil
	}
	times := make([]int64, len(rows))
	for i, r := range rows {
		times[i] = r[s.Spec.TimeCol].I
	}
	order, starts, ends := sessionize(make([]string, len(rows)), times, s.Spec.Gap)
	var sessions []sessOut
	for lo := 0; lo < len(order); {
		hi := lo
		var sess [][]types.Datum
		for hi < len(order) && starts[hi] == starts[lo] {
			r := rows[order[hi]]
			sess = append(sess, append(append(make([]types.Datum, 0, len(r)+2), r...), types.DInt(starts[hi]), types.DInt(ends[hi])))
			hi++
		}
		b := expr.BatchFromRows(ctx.Mem, s.withWin, sess)
		res, err := s.Compute(ctx, b)
		if err != nil && ctx.RowError != nil && RowErrorsOf(err) {
			// the session without the rows its aggregate fails on
			var keep []int
			if keep, err = PassingRows(ctx, b, s.Cols, func(sub arrow.RecordBatch) error {
				_, err := s.Compute(ctx, sub)
				return err
			}); err == nil {
				ok := expr.Take(ctx.Mem, b, keep)
				res, err = s.Compute(ctx, ok)
				ok.Release()
			}
		}
		b.Release()
		if err != nil {
			return nil, err
		}
		sessions = append(sessions, sessOut{start: starts[lo], end: ends[lo], rows: res})
		lo = hi
	}
	return sessions, nil
}

// diffRows appends −old and +now for the rows that differ between the two lists.
func diffRows(ts []types.T, old, now [][]types.Datum, out [][]types.Datum, weights []int64) ([][]types.Datum, []int64) {
	count := map[string]int{}
	enc := func(r []types.Datum) string {
		var b []byte
		for i, d := range r {
			b = exec.AppendKey(b, ts[i], d)
		}
		return string(b)
	}
	for _, r := range now {
		count[enc(r)]++
	}
	for _, r := range old {
		k := enc(r)
		if count[k] > 0 {
			count[k]--
			continue
		}
		out, weights = append(out, r), append(weights, -1)
	}
	for _, r := range now {
		k := enc(r)
		if count[k] > 0 {
			count[k]--
			out, weights = append(out, r), append(weights, 1)
		}
	}
	return out, weights
}

// Expire advances the watermark to wm: sessions ending at or before it
// close and their state is freed; their rows are returned (the final
// results, for EMIT ON WINDOW CLOSE).
func (s *SessionAgg) Expire(wm int64) [][]types.Datum {
	if s.hasWM && wm <= s.wm {
		return nil
	}
	s.wm, s.hasWM = wm, true
	var out [][]types.Datum
	for pk, k := range s.keys {
		kept := k.sessions[:0]
		for _, x := range k.sessions {
			if x.end > wm {
				kept = append(kept, x)
				continue
			}
			out = append(out, x.rows...)
			for rk, r := range k.rows {
				if t := r.d[s.Spec.TimeCol].I; t >= x.start && t < x.end {
					delete(k.rows, rk)
				}
			}
		}
		k.sessions = kept
		if len(k.rows) == 0 {
			delete(s.keys, pk)
		}
	}
	return out
}
