package dataflow

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"sort"
	"time"

	"github.com/cockroachdb/apd/v3"
	"github.com/streamsql/streamsql/engine/exec"
	"github.com/streamsql/streamsql/engine/expr"
	"github.com/streamsql/streamsql/types"
)

// Snapshots of operator state, for checkpoints: each stateful operator
// writes its state as a sequence of rows of values (appendDatum) and
// rebuilds it from them. A restored operator given the same input as the
// original produces the same output.

var errSnapshot = errors.New("dataflow: corrupt operator snapshot")

// A value in a snapshot: a tag byte saying which of the datum's fields are
// set — it is NULL, or has I, F, S, Iv — then those: I as a zigzag varint,
// F as its 8 bytes, S as a uvarint length and its bytes, Iv as three
// varints. Every SQL type keeps its value in those fields, so the encoding
// needs no type and loses nothing; an integer takes 2 to 11 bytes, a zero
// 1 (the engine's row encoding, types.AppendRow, takes 13 for any BIGINT).
const (
	datumNull = 1 << iota
	datumI
	datumF
	datumS
	datumIv
)

func appendDatum(buf []byte, d types.Datum) []byte {
	if d.Null {
		return append(buf, datumNull)
	}
	var tag byte
	fbits := math.Float64bits(d.F)
	if d.I != 0 {
		tag |= datumI
	}
	if fbits != 0 {
		tag |= datumF
	}
	if d.S != "" {
		tag |= datumS
	}
	if d.Iv != (types.IntervalValue{}) {
		tag |= datumIv
	}
	buf = append(buf, tag)
	if d.I != 0 {
		buf = binary.AppendVarint(buf, d.I)
	}
	if fbits != 0 {
		buf = binary.LittleEndian.AppendUint64(buf, fbits)
	}
	if d.S != "" {
		buf = binary.AppendUvarint(buf, uint64(len(d.S)))
		buf = append(buf, d.S...)
	}
	if d.Iv != (types.IntervalValue{}) {
		buf = binary.AppendVarint(buf, int64(d.Iv.Months))
		buf = binary.AppendVarint(buf, int64(d.Iv.Days))
		buf = binary.AppendVarint(buf, d.Iv.Micros)
	}
	return buf
}

// readDatum decodes a value appendDatum wrote from the front of p.
func readDatum(p []byte) (types.Datum, []byte, bool) {
	if len(p) == 0 {
		return types.Datum{}, nil, false
	}
	tag := p[0]
	p = p[1:]
	if tag&datumNull != 0 {
		return types.NullDatum, p, tag == datumNull
	}
	var d types.Datum
	varint := func() int64 {
		v, k := binary.Varint(p)
		if k <= 0 {
			tag = 0xff
			return 0
		}
		p = p[k:]
		return v
	}
	if tag&datumI != 0 {
		d.I = varint()
	}
	if tag&datumF != 0 {
		if len(p) < 8 {
			return d, nil, false
		}
		d.F = math.Float64frombits(binary.LittleEndian.Uint64(p))
		p = p[8:]
	}
	if tag&datumS != 0 {
		n, k := binary.Uvarint(p)
		if k <= 0 || n > uint64(len(p)-k) {
			return d, nil, false
		}
		d.S = string(p[k : k+int(n)])
		p = p[k+int(n):]
	}
	if tag&datumIv != 0 {
		d.Iv = types.IntervalValue{Months: int32(varint()), Days: int32(varint()), Micros: varint()}
	}
	return d, p, tag&^(datumI|datumF|datumS|datumIv) == 0
}

// snapWriter appends rows of values.
type snapWriter struct {
	buf []byte
	err error
}

func (w *snapWriter) row(_ []types.T, row ...types.Datum) {
	for _, d := range row {
		w.buf = appendDatum(w.buf, d)
	}
}

// stored writes a slot's row of a column store (as row would).
func (w *snapWriter) stored(ts []types.T, s *colStore, slot int32) {
	for ci := range ts {
		w.buf = appendDatum(w.buf, s.datum(ci, slot))
	}
}

func (w *snapWriter) count(n int) { w.buf = binary.AppendUvarint(w.buf, uint64(n)) }

type snapReader struct {
	p   []byte
	err error
}

func (r *snapReader) row(ts []types.T) []types.Datum {
	row := make([]types.Datum, len(ts))
	for i := range row {
		if r.err != nil {
			break
		}
		d, rest, ok := readDatum(r.p)
		if !ok {
			r.err = errSnapshot
			break
		}
		row[i], r.p = d, rest
	}
	return row
}

func (r *snapReader) count() int {
	if r.err != nil {
		return 0
	}
	n, k := binary.Uvarint(r.p)
	if k <= 0 || n > uint64(len(r.p)) {
		r.err = errSnapshot
		return 0
	}
	r.p = r.p[k:]
	return int(n)
}

var (
	tInt   = []types.T{types.TInt64}
	tInts2 = []types.T{types.TInt64, types.TInt64}
)

func decText(d *apd.Decimal) types.Datum {
	if d == nil {
		return types.NullDatum
	}
	return types.DText(d.Text('f'))
}

func textDec(d types.Datum) (*apd.Decimal, error) {
	if d.Null {
		return nil, nil
	}
	return types.ParseDecimal(d.S)
}

// Accumulator states, one group at a time.

func (c *countInc) save(w *snapWriter, g int32) { w.row(tInt, types.DInt(c.n[g])) }
func (c *countInc) load(r *snapReader, g int32) { c.n[g] = r.row(tInt)[0].I }

var sumIntTs = []types.T{types.TInt64, types.TInt64, types.TText}

func (s *sumIntInc) save(w *snapWriter, g int32) {
	w.row(sumIntTs, types.DInt(s.sums[g]), types.DInt(s.cnt[g]), decText(s.big[g]))
}
func (s *sumIntInc) load(r *snapReader, g int32) {
	row := r.row(sumIntTs)
	s.sums[g], s.cnt[g] = row[0].I, row[1].I
	if b, err := textDec(row[2]); err != nil {
		r.err = err
	} else if b != nil {
		s.addBig(g, b)
	}
}

var sumFloatTs = []types.T{types.TFloat64, types.TInt64}

func (s *sumFloatInc) save(w *snapWriter, g int32) {
	w.row(sumFloatTs, types.DFloat(s.sums[g]), types.DInt(s.cnt[g]))
}
func (s *sumFloatInc) load(r *snapReader, g int32) {
	row := r.row(sumFloatTs)
	s.sums[g], s.cnt[g] = row[0].F, row[1].I
}

var extremeTs = []types.T{types.TInt64, types.TInt64, types.TFloat64}

func (m *extremeInc) save(w *snapWriter, g int32) {
	seen := int64(0)
	if m.seen[g] {
		seen = 1
	}
	var i int64
	var f float64
	if m.float {
		f = m.floats[g]
	} else {
		i = m.ints[g]
	}
	w.row(extremeTs, types.DInt(seen), types.DInt(i), types.DFloat(f))
}
func (m *extremeInc) load(r *snapReader, g int32) {
	row := r.row(extremeTs)
	m.seen[g] = row[0].I == 1
	if m.float {
		m.floats[g] = row[2].F
	} else {
		m.ints[g] = row[1].I
	}
}

var genericTs = []types.T{types.TInt64, types.TText, types.TText, types.TInterval, types.TInt64, types.TText}

func (a *genericAcc) save(w *snapWriter, g int32) {
	st := &a.st[g]
	w.row(genericTs, types.DInt(st.n), decText(st.sum), decText(st.sq), types.Datum{Iv: st.iv}, types.DInt(st.trues), types.DText(st.total.State()))
	// the multiset in key order, so that equal states give equal snapshots
	keys := make([]string, 0, len(st.vals))
	for k := range st.vals {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	w.count(len(keys))
	vt := []types.T{a.at, types.TInt64}
	for _, k := range keys {
		v := st.vals[k]
		w.row(vt, v.d, types.DInt(v.n))
	}
}

func (a *genericAcc) load(r *snapReader, g int32) {
	row := r.row(genericTs)
	st := &a.st[g]
	st.n, st.iv, st.trues = row[0].I, row[3].Iv, row[4].I
	var err error
	if st.sum, err = textDec(row[1]); err == nil {
		st.sq, err = textDec(row[2])
	}
	if err == nil {
		err = st.total.SetState(row[5].S)
	}
	if err != nil {
		r.err = err
	}
	n := r.count()
	vt := []types.T{a.at, types.TInt64}
	for i := 0; i < n && r.err == nil; i++ {
		v := r.row(vt)
		if st.vals == nil {
			st.vals = map[string]*incVal{}
		}
		st.vals[string(AppendOrderedKey(nil, a.at, v[0]))] = &incVal{d: v[0], n: v[1].I}
	}
}

// Snapshot writes the aggregate's groups: key, row count, last emitted
// row and each aggregate's state.
func (a *IncAgg) Snapshot() ([]byte, error) {
	w := &snapWriter{}
	w.count(a.live)
	for g, alive := range a.alive {
		if alive {
			a.saveGroup(int32(g), w)
		}
	}
	return w.buf, w.err
}

type snapshotter interface {
	save(w *snapWriter, g int32)
	load(r *snapReader, g int32)
}

// Restore replaces the aggregate's state with a snapshot; the aggregate
// must have been made with the same keys, aggregates and options.
func (a *IncAgg) Restore(ctx *expr.Ctx, p []byte) error {
	fresh, err := NewIncAgg(a.Keys, a.Aggs, a.opts)
	if err != nil {
		return err
	}
	fresh.Input, fresh.ck.prefix = a.Input, a.ck.prefix
	*a = *fresh
	r := &snapReader{p: p}
	n := r.count()
	for i := 0; i < n && r.err == nil; i++ {
		if _, err := a.loadGroup(r); err != nil {
			break
		}
	}
	if r.err == nil && len(r.p) != 0 {
		r.err = errSnapshot
	}
	if r.err != nil {
		return fmt.Errorf("dataflow: restoring an aggregate: %w", r.err)
	}
	return nil
}

// Snapshot writes the open sessions' rows per key (their results are
// recomputed on restore), the watermark and the late count.
func (s *SessionAgg) Snapshot() ([]byte, error) {
	w := &snapWriter{}
	hasWM := int64(0)
	if s.hasWM {
		hasWM = 1
	}
	w.row([]types.T{types.TInt64, types.TInt64, types.TInt64}, types.DInt(s.wm), types.DInt(hasWM), types.DInt(s.Late))
	keys := make([]string, 0, len(s.keys))
	for k := range s.keys {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	w.count(len(keys))
	rowTs := append(append([]types.T{}, s.InTypes...), types.TInt64)
	for _, k := range keys {
		rows := s.keys[k].rows
		rks := make([]string, 0, len(rows))
		for rk := range rows {
			rks = append(rks, rk)
		}
		sort.Strings(rks)
		w.count(len(rks))
		for _, rk := range rks {
			x := rows[rk]
			w.row(rowTs, append(append([]types.Datum{}, x.d...), types.DInt(x.n))...)
		}
	}
	return w.buf, w.err
}

// Restore rebuilds the session state from a snapshot.
func (s *SessionAgg) Restore(ctx *expr.Ctx, p []byte) error {
	r := &snapReader{p: p}
	head := r.row([]types.T{types.TInt64, types.TInt64, types.TInt64})
	s.wm, s.hasWM, s.Late = head[0].I, head[1].I == 1, head[2].I
	s.keys = map[string]*sessKey{}
	rowTs := append(append([]types.T{}, s.InTypes...), types.TInt64)
	nk := r.count()
	for i := 0; i < nk && r.err == nil; i++ {
		k := &sessKey{rows: map[string]*sessRow{}}
		var pk string
		nr := r.count()
		for j := 0; j < nr && r.err == nil; j++ {
			row := r.row(rowTs)
			d := row[:len(s.InTypes)]
			var buf []byte
			for _, c := range s.Partition {
				buf = exec.AppendKey(buf, s.InTypes[c], d[c])
			}
			pk = string(buf)
			for c, x := range d {
				buf = exec.AppendKey(buf, s.InTypes[c], x)
			}
			k.rows[string(buf)] = &sessRow{d: d, n: row[len(s.InTypes)].I}
		}
		if r.err != nil {
			break
		}
		sessions, err := s.recompute(ctx, k)
		if err != nil {
			return err
		}
		k.sessions = sessions
		if len(k.rows) > 0 {
			s.keys[pk] = k
		}
	}
	if r.err == nil && len(r.p) != 0 {
		r.err = errSnapshot
	}
	if r.err != nil {
		return fmt.Errorf("dataflow: restoring sessions: %w", r.err)
	}
	return nil
}

// Snapshot writes each partition's rows (with their ORDER BY values) and
// emitted top rows.
func (t *TopN) Snapshot() ([]byte, error) {
	w := &snapWriter{}
	orderTs := make([]types.T, len(t.Order))
	for i, k := range t.Order {
		orderTs[i] = k.E.Type()
	}
	rowTs := append(append(append([]types.T{}, t.InTypes...), orderTs...), types.TInt64)
	pks := make([]string, 0, len(t.parts))
	for k := range t.parts {
		pks = append(pks, k)
	}
	sort.Strings(pks)
	w.count(len(pks))
	for _, pk := range pks {
		p := t.parts[pk]
		w.buf = binary.AppendUvarint(w.buf, uint64(len(pk)))
		w.buf = append(w.buf, pk...)
		rks := make([]string, 0, len(p.rows))
		for rk := range p.rows {
			rks = append(rks, rk)
		}
		sort.Strings(rks)
		w.count(len(rks))
		for _, rk := range rks {
			x := p.rows[rk]
			w.row(rowTs, append(append(append([]types.Datum{}, x.d...), x.keys...), types.DInt(x.n))...)
		}
		w.count(len(p.top))
		for _, row := range p.top {
			w.row(t.outTypes, row...)
		}
	}
	return w.buf, w.err
}

// Restore rebuilds the top-N state from a snapshot.
func (t *TopN) Restore(p []byte) error {
	r := &snapReader{p: p}
	orderTs := make([]types.T, len(t.Order))
	for i, k := range t.Order {
		orderTs[i] = k.E.Type()
	}
	rowTs := append(append(append([]types.T{}, t.InTypes...), orderTs...), types.TInt64)
	t.parts, t.last = map[string]*topPart{}, nil
	np := r.count()
	for i := 0; i < np && r.err == nil; i++ {
		n := r.count()
		if n > len(r.p) {
			r.err = errSnapshot
			break
		}
		pk := string(r.p[:n])
		r.p = r.p[n:]
		part := &topPart{rows: map[string]*topRow{}, key: pk}
		nr := r.count()
		for j := 0; j < nr && r.err == nil; j++ {
			row := r.row(rowTs)
			d := row[:len(t.InTypes)]
			buf := []byte(pk) // row keys extend the partition key, as in Process
			for c, x := range d {
				buf = exec.AppendKey(buf, t.InTypes[c], x)
			}
			x := &topRow{d: d, keys: row[len(t.InTypes) : len(t.InTypes)+len(orderTs)], n: row[len(row)-1].I, enc: string(buf), part: part}
			t.setKey(x)
			t.born(x)
			part.rows[x.enc] = x
			t.push(part, x)
		}
		nt := r.count()
		for j := 0; j < nt && r.err == nil; j++ {
			part.top = append(part.top, r.row(t.outTypes))
		}
		t.parts[pk] = part
	}
	if r.err == nil && len(r.p) != 0 {
		r.err = errSnapshot
	}
	if r.err != nil {
		return fmt.Errorf("dataflow: restoring a top-N: %w", r.err)
	}
	return nil
}

// Snapshot writes the per-shard maxima and the watermark (not the wall
// times of the last data: after a restore every shard counts as just seen).
func (w *Watermarks) Snapshot() []byte {
	sw := &snapWriter{}
	sw.count(len(w.maxSeen))
	for i := range w.maxSeen {
		has := int64(0)
		if w.has[i] {
			has = 1
		}
		sw.row(tInts2, types.DInt(w.maxSeen[i]), types.DInt(has))
	}
	started := int64(0)
	if w.started {
		started = 1
	}
	sw.row(tInts2, types.DInt(w.current), types.DInt(started))
	return sw.buf
}

// Restore sets the tracker from a snapshot taken with as many shards.
func (w *Watermarks) Restore(p []byte, now time.Time) error {
	r := &snapReader{p: p}
	n := r.count()
	if n != len(w.maxSeen) {
		return fmt.Errorf("dataflow: a watermark snapshot of %d shards for %d", n, len(w.maxSeen))
	}
	for i := 0; i < n; i++ {
		row := r.row(tInts2)
		w.maxSeen[i], w.has[i], w.lastSeen[i] = row[0].I, row[1].I == 1, now
	}
	row := r.row(tInts2)
	w.current, w.started, w.first = row[0].I, row[1].I == 1, now
	if r.err == nil && len(r.p) != 0 {
		r.err = errSnapshot
	}
	return r.err
}

// Snapshot writes both sides' rows with their multiplicities and match
// counts, in a fixed order (by row encoding).
func (j *Join) Snapshot() ([]byte, error) {
	w := &snapWriter{}
	for side, s := range j.sides {
		rowTs := append(append([]types.T{}, j.Types[side]...), types.TInt64, types.TInt64)
		type entry struct {
			enc string
			row []types.Datum
		}
		var entries []entry
		for slot := int32(0); slot < s.store.n; slot++ {
			sm := *s.meta.at(slot)
			if sm.n == 0 {
				continue
			}
			row := append(s.store.row(slot), types.DInt(sm.n), types.DInt(sm.matches))
			var b []byte
			for c, d := range row {
				b = exec.AppendKey(b, rowTs[c], d)
			}
			entries = append(entries, entry{string(b), row})
		}
		sort.Slice(entries, func(a, b int) bool { return entries[a].enc < entries[b].enc })
		w.count(len(entries))
		for _, e := range entries {
			w.row(rowTs, e.row...)
		}
	}
	// each side's expiry limit, which rows arriving later meet
	for side := range 2 {
		w.row(tInts2, types.DInt(j.limit[side]), types.DBool(j.hasLimit[side]))
	}
	return w.buf, w.err
}

// Restore rebuilds both sides from a snapshot.
func (j *Join) Restore(p []byte) error {
	r := &snapReader{p: p}
	for side, s := range j.sides {
		_, ints := s.tbl.(*datumTable)
		ints = !ints
		fresh := newJoinSide(j.Types[side], s.keyTs, ints, s.outer)
		fresh.tsCol = s.tsCol
		j.sides[side] = fresh
		rowTs := append(append([]types.T{}, j.Types[side]...), types.TInt64, types.TInt64)
		nr := r.count()
		var rows [][]types.Datum
		var ns, matches []int64
		for x := 0; x < nr && r.err == nil; x++ {
			row := r.row(rowTs)
			if r.err != nil {
				break
			}
			d := row[:len(j.Types[side])]
			rows, ns, matches = append(rows, d), append(ns, row[len(d)].I), append(matches, row[len(d)+1].I)
		}
		if r.err == nil {
			r.err = j.restoreRows(side, rows, ns, matches)
		}
	}
	for side := range 2 {
		row := r.row(tInts2)
		j.limit[side], j.hasLimit[side] = row[0].I, row[1].I != 0
	}
	if r.err == nil && len(r.p) != 0 {
		r.err = errSnapshot
	}
	if r.err != nil {
		return fmt.Errorf("dataflow: restoring a join: %w", r.err)
	}
	return nil
}
