package streamstore

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/streamsql/streamsql/types"
)

// Shard is one ordered, durable log of a stream.
type Shard struct {
	ID     int
	Parent int // -1: none (a shard created with the stream)

	dir     string
	fs      FS
	ts      []types.T
	segSize int64
	noSync  bool

	mu   sync.Mutex
	segs []*segment
	// committed is the visible horizon: every record below it is readable
	// (or void: a part of an aborted transaction). next is the sequence
	// number the next append gets; between them are pending frames —
	// durable, not yet visible, because a transaction they belong to has
	// parts on other shards still being written. Visibility is a prefix,
	// so a reader's position never skips a record that appears later.
	committed uint64
	next      uint64
	pending   []pendingFrame
	notify    chan struct{}
	queue     []*appendReq
	writing   bool
	wbuf      []byte // the committer's encoding buffer, reused between groups
	widths    []int  // average width of text columns seen by reads
	records   int64
	bytes     int64
	report    scanReport
	sealed    bool      // a segment was sealed and may want its index
	gen       Generator // a generated shard: records computed, not stored
	// man is the manifest as last written; manMu serialises its writes
	manMu sync.Mutex
	man   manifest
}

type appendReq struct {
	rows    Records
	arrival int64
	txn     *txn // nil: a frame of its own
	first   uint64
	err     error
	done    chan struct{}
}

// pendingFrame is a durable frame waiting for its transaction.
type pendingFrame struct {
	seg *segment
	fr  frame
	req *appendReq
}

func openShard(fs FS, dir string, id int, ts []types.T, segSize int64, noSync bool) (*Shard, error) {
	s := &Shard{ID: id, Parent: -1, dir: dir, fs: fs, ts: ts, segSize: segSize, noSync: noSync, committed: 1, next: 1, notify: make(chan struct{})}
	if err := fs.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	man, hasManifest, err := readManifest(fs, dir)
	if err != nil {
		return nil, err
	}
	names, err := fs.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var firsts []uint64
	indexes := map[uint64]bool{}
	for _, n := range names {
		switch {
		case strings.HasSuffix(n, ".seg"):
			if v, err := strconv.ParseUint(strings.TrimSuffix(n, ".seg"), 10, 64); err == nil {
				firsts = append(firsts, v)
			}
		case strings.HasSuffix(n, ".idx"):
			if v, err := strconv.ParseUint(strings.TrimSuffix(n, ".idx"), 10, 64); err == nil {
				indexes[v] = true
			}
		case strings.HasSuffix(n, ".idx.tmp"):
			_ = fs.Remove(filepath.Join(dir, n))
		}
	}
	sort.Slice(firsts, func(i, j int) bool { return firsts[i] < firsts[j] })
	if hasManifest && len(man.Segments) > 0 {
		// files older than the oldest segment the manifest lists were
		// trimmed by retention just before a crash: finish the job
		keep := firsts[:0]
		for _, first := range firsts {
			if first < man.Segments[0] {
				_ = fs.Remove(filepath.Join(dir, segName(first)))
				continue
			}
			keep = append(keep, first)
		}
		firsts = keep
	}
	for first := range indexes {
		if !slices.Contains(firsts, first) {
			_ = fs.Remove(indexPath(filepath.Join(dir, segName(first))))
		}
	}
	for _, first := range firsts {
		seg := &segment{path: filepath.Join(dir, segName(first)), firstSeq: first}
		if seg.f, err = fs.OpenFile(seg.path, os.O_RDWR|os.O_APPEND, 0o644); err != nil {
			return nil, err
		}
		rep, err := seg.load(fs)
		if err != nil {
			return nil, err
		}
		s.report.skippedBytes += rep.skippedBytes
		s.report.cutBytes += rep.cutBytes
		s.segs = append(s.segs, seg)
		s.bytes += seg.size
	}
	if err := s.recover(man, hasManifest, firsts); err != nil {
		return nil, err
	}
	// sealed segments that were scanned get an index for the next start
	s.sealed = true
	s.index()
	return s, nil
}

// recover checks the segments found against the manifest: frames of
// aborted transactions are voided, records that are gone (a deleted or
// damaged segment) are reported as lost, and the next sequence number is
// never one that may have been acknowledged before.
func (s *Shard) recover(man manifest, hasManifest bool, present []uint64) error {
	changed := !hasManifest
	// the frames the manifest says are aborted, or lost (damaged ones an
	// index still lists)
	void := slices.Concat(man.Aborted, man.Lost)
	for _, seg := range s.segs {
		for i := range seg.frames {
			f := &seg.frames[i]
			for _, r := range void {
				if f.firstSeq >= r.From && f.firstSeq < r.To {
					f.aborted = true
				}
			}
		}
	}
	// walk the sequence: a jump is records that were written and are gone
	expect := max(1, man.Base)
	switch {
	case len(man.Segments) > 0:
		expect = man.Segments[0]
	case len(present) > 0 && !hasManifest:
		expect = present[0]
	}
	var lost []seqRange
	for _, seg := range s.segs {
		if len(seg.frames) == 0 && seg.firstSeq > expect {
			lost = append(lost, seqRange{expect, seg.firstSeq})
			expect = seg.firstSeq
		}
		for _, f := range seg.frames {
			if f.firstSeq > expect {
				lost = append(lost, seqRange{expect, f.firstSeq})
			}
			expect = max(expect, f.lastSeq()+1)
		}
		if len(seg.frames) == 0 {
			expect = max(expect, seg.firstSeq)
		}
	}
	next := expect
	// segments the manifest lists beyond the last one present: the tail
	// is gone, with up to the reserved sequence numbers
	lastPresent := uint64(0)
	if n := len(present); n > 0 {
		lastPresent = present[n-1]
	}
	for _, first := range man.Segments {
		if first > lastPresent && !contains(present, first) {
			if man.Reserved > next {
				lost = append(lost, seqRange{next, man.Reserved})
				next = man.Reserved
			}
			break
		}
	}
	for _, r := range lost {
		if !covered(man.Lost, r) {
			man.Lost = append(man.Lost, r)
			s.report.newLost = append(s.report.newLost, r)
			changed = true
		}
	}
	s.report.lost = man.Lost
	s.next, s.committed = next, next
	var segsNow []uint64
	for _, seg := range s.segs {
		segsNow = append(segsNow, seg.firstSeq)
	}
	if !equalU64(segsNow, man.Segments) {
		man.Segments, changed = segsNow, true
	}
	if man.Reserved < next {
		man.Reserved, changed = next+reserveBlock, true
	}
	for _, seg := range s.segs {
		for _, f := range seg.frames {
			if !f.aborted {
				s.records += int64(f.count)
			}
		}
	}
	s.man = man
	if changed {
		return writeManifest(s.fs, s.dir, &s.man, !s.noSync)
	}
	return nil
}

func contains(xs []uint64, x uint64) bool {
	for _, v := range xs {
		if v == x {
			return true
		}
	}
	return false
}

func equalU64(a, b []uint64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// covered reports whether r lies within one of rs.
func covered(rs []seqRange, r seqRange) bool {
	for _, x := range rs {
		if r.From >= x.From && r.To <= x.To {
			return true
		}
	}
	return false
}

func (s *Shard) reserved() uint64 {
	s.manMu.Lock()
	defer s.manMu.Unlock()
	return s.man.Reserved
}

// saveManifest writes the manifest after edit changes it. (Lock order:
// s.mu, then s.manMu.)
func (s *Shard) saveManifest(edit func(m *manifest)) error {
	s.manMu.Lock()
	defer s.manMu.Unlock()
	m := s.man
	m.Segments = append([]uint64(nil), s.man.Segments...)
	m.Aborted = append([]seqRange(nil), s.man.Aborted...)
	m.Lost = append([]seqRange(nil), s.man.Lost...)
	edit(&m)
	if err := writeManifest(s.fs, s.dir, &m, !s.noSync); err != nil {
		return err
	}
	s.man = m
	return nil
}

func segName(first uint64) string { return fmt.Sprintf("%020d.seg", first) }

func (s *Shard) close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, seg := range s.segs {
		if seg.indexed != seg.size && !s.pendingIn(seg) {
			// (a cache for the next start: without it, that start scans)
			s.indexLocked(seg)
		}
		seg.f.Close()
	}
	s.segs = nil
}

// pendingIn reports whether frames of seg wait for their transactions.
func (s *Shard) pendingIn(seg *segment) bool {
	return slices.ContainsFunc(s.pending, func(p pendingFrame) bool { return p.seg == seg })
}

// indexLocked adds seg's new frames to its index; the caller holds s.mu.
func (s *Shard) indexLocked(seg *segment) {
	buf, whole := seg.indexBlock()
	if err := seg.writeIndex(s.fs, buf, whole); err != nil {
		seg.idxRewrite = true // (a block may be torn: the next one rewrites)
		return
	}
	seg.indexed, seg.indexedFrames, seg.idxRewrite = seg.size, len(seg.frames), false
}

// index extends the indexes of the segment being appended to, once
// indexEvery bytes went unindexed, and of sealed segments not yet whole,
// when their frames are all visible (none waits for a transaction).
func (s *Shard) index() {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := len(s.segs)
	if n == 0 {
		return
	}
	if active := s.segs[n-1]; active.size-active.indexed >= indexEvery && !s.pendingIn(active) {
		s.indexLocked(active)
	}
	if !s.sealed {
		return
	}
	s.sealed = false
	for _, seg := range s.segs[:n-1] {
		switch {
		case seg.indexed == seg.size && !seg.idxRewrite:
		case s.pendingIn(seg):
			s.sealed = true // (its last frames are not visible yet: later)
		default:
			s.indexLocked(seg)
		}
	}
}

// append writes rows durably and returns the sequence number of the
// first, once they are visible. Concurrent appends share writes and fsyncs
// (group commit): the first appender to find the shard idle writes
// everything queued. With t set, the rows are this shard's part of a
// multi-shard append: they become visible when every part is durable, and
// never if one fails.
func (s *Shard) append(rows Records, arrival int64, t *txn) (uint64, error) {
	req := &appendReq{rows: rows, arrival: arrival, txn: t, done: make(chan struct{})}
	s.mu.Lock()
	s.queue = append(s.queue, req)
	if s.writing {
		s.mu.Unlock()
		<-req.done
		return req.first, req.err
	}
	s.writing = true
	for len(s.queue) > 0 {
		batch := s.queue
		s.queue = nil
		s.mu.Unlock()
		s.commit(batch)
		s.mu.Lock()
	}
	s.writing = false
	s.mu.Unlock()
	<-req.done
	return req.first, req.err
}

// commit writes one group: frames in queue order, one write, one fsync.
// The frames then wait, in order, until their transactions resolve (a
// frame of its own resolves at once) and become visible.
func (s *Shard) commit(batch []*appendReq) {
	fail := func(err error) {
		for _, r := range batch {
			r.err = err
			if r.txn != nil {
				r.txn.report(err)
			}
			close(r.done)
		}
	}
	var rows uint64
	for _, r := range batch {
		rows += uint64(r.rows.Len())
	}
	s.mu.Lock()
	seg, err := s.activeSegment()
	start := s.next
	s.mu.Unlock()
	if err != nil {
		fail(fmt.Errorf("streamstore: shard %d: %w", s.ID, err))
		return
	}
	if start+rows > s.reserved() {
		// the sequence numbers handed out stay below what the manifest
		// reserves, so that none is reused after a loss at the tail
		if err := s.saveManifest(func(m *manifest) { m.Reserved = start + rows + reserveBlock }); err != nil {
			fail(fmt.Errorf("streamstore: shard %d: %w", s.ID, err))
			return
		}
	}
	base := seg.size

	buf := s.wbuf[:0]
	next := start
	frames := make([]frame, 0, len(batch))
	for _, r := range batch {
		off := len(buf)
		var id uint64
		var parts []uint16
		if r.txn != nil {
			id, parts = r.txn.id, r.txn.parts
		}
		if buf, err = appendFrame(buf, next, r.arrival, r.rows, id, parts); err != nil {
			fail(err)
			return
		}
		fr, _ := parseFrame(buf[off:])
		fr.off, fr.verified = base+int64(off), true
		frames = append(frames, fr)
		r.first = next
		next += uint64(r.rows.Len())
	}
	n, err := seg.f.Write(buf)
	if err == nil && n != len(buf) {
		err = errors.New("streamstore: short write")
	}
	if err == nil && !s.noSync {
		err = seg.f.Sync()
	}
	if err != nil {
		// nothing of this group is acknowledged; cut what may have been written
		_ = seg.f.Truncate(base)
		fail(fmt.Errorf("streamstore: writing shard %d: %w", s.ID, err))
		return
	}
	if cap(buf) <= 64<<20 {
		s.wbuf = buf
	}
	s.mu.Lock()
	seg.size += int64(len(buf))
	s.next = next
	s.bytes += int64(len(buf))
	for i, r := range batch {
		s.pending = append(s.pending, pendingFrame{seg: seg, fr: frames[i], req: r})
	}
	s.mu.Unlock()
	// parts of transactions are durable here; the last part to report
	// resolves its transaction on every shard it touches
	for _, r := range batch {
		if r.txn != nil {
			r.txn.report(nil)
		}
	}
	s.resolve()
	s.index()
}

// resolve makes the pending frames whose transactions are resolved
// visible, in order, up to the first one still waiting; frames of aborted
// transactions are voided and recorded as such in the manifest first.
func (s *Shard) resolve() {
	var ready []*appendReq
	var aborted []seqRange
	s.mu.Lock()
	for len(s.pending) > 0 {
		p := s.pending[0]
		if p.req.txn != nil && !p.req.txn.isResolved() {
			break
		}
		s.pending = s.pending[1:]
		if p.req.txn != nil && p.req.txn.failed() != nil {
			p.fr.aborted = true
			p.req.err = p.req.txn.failed()
			aborted = append(aborted, seqRange{p.fr.firstSeq, p.fr.lastSeq() + 1})
		} else {
			s.records += int64(p.fr.count)
		}
		p.seg.frames = append(p.seg.frames, p.fr)
		s.committed = p.fr.lastSeq() + 1
		ready = append(ready, p.req)
	}
	if len(ready) > 0 {
		close(s.notify)
		s.notify = make(chan struct{})
	}
	s.mu.Unlock()
	if len(aborted) > 0 {
		// best effort: were it lost, start-up would find the transaction
		// incomplete again
		_ = s.saveManifest(func(m *manifest) { m.Aborted = append(m.Aborted, aborted...) })
	}
	for _, r := range ready {
		close(r.done)
	}
}

// sync fsyncs the segments written since they last were.
func (s *Shard) sync() error {
	type todo struct {
		seg  *segment
		size int64
	}
	var work []todo
	s.mu.Lock()
	for _, seg := range s.segs {
		if seg.f != nil && seg.size > seg.synced {
			work = append(work, todo{seg, seg.size})
		}
	}
	s.mu.Unlock()
	for _, w := range work {
		if err := w.seg.f.Sync(); err != nil {
			return fmt.Errorf("streamstore: syncing shard %d: %w", s.ID, err)
		}
		s.mu.Lock()
		w.seg.synced = max(w.seg.synced, w.size)
		s.mu.Unlock()
	}
	return nil
}

// activeSegment returns the segment to append to, rolling to a new file
// when the current one is full. Callers hold s.mu.
func (s *Shard) activeSegment() (*segment, error) {
	if n := len(s.segs); n > 0 && s.segs[n-1].size < s.segSize {
		return s.segs[n-1], nil
	}
	seg := &segment{path: filepath.Join(s.dir, segName(s.next)), firstSeq: s.next, idxRewrite: true}
	f, err := s.fs.OpenFile(seg.path, os.O_CREATE|os.O_RDWR|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	seg.f = f
	s.segs = append(s.segs, seg)
	s.sealed = len(s.segs) > 1
	// the manifest lists every segment, so that a deleted one is noticed
	// (one not listed yet, after a crash here, is adopted at start-up)
	if err := s.saveManifest(func(m *manifest) { m.Segments = append(m.Segments, seg.firstSeq) }); err != nil {
		return nil, err
	}
	return seg, nil
}

// Record is one record read back with its position.
type Record struct {
	Seq     uint64
	Arrival int64
	Row     []types.Datum
}

// frameRef is a frame to read and the segment it is in.
type frameRef struct {
	seg *segment
	fr  frame
}

// framesFrom lists the frames holding up to max records from seq on; a
// position before the trim horizon starts at the oldest retained record.
func (s *Shard) framesFrom(from uint64, max int) ([]frameRef, uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.segs) > 0 && len(s.segs[0].frames) > 0 && from < s.segs[0].frames[0].firstSeq {
		from = s.segs[0].frames[0].firstSeq
	}
	var out []frameRef
	want := max
	for _, seg := range s.segs {
		if want <= 0 {
			break
		}
		if seg.nextSeq() <= from || len(seg.frames) == 0 {
			continue
		}
		for i := seg.frameFor(from); i < len(seg.frames) && want > 0; i++ {
			out = append(out, frameRef{seg, seg.frames[i]})
			if !seg.frames[i].aborted {
				want -= int(seg.frames[i].count)
			}
		}
	}
	return out, from
}

// readFrames calls fn for each record at or after from, up to max, with
// the rows still encoded; fn decodes and returns the rest of the buffer.
func (s *Shard) readFrames(from uint64, limit int, fn func(seq uint64, arrival int64, rows []byte) ([]byte, error)) (uint64, int, error) {
	refs, from := s.framesFrom(from, limit)
	next, n := from, 0
	bp := readBufs.Get().(*[]byte)
	defer readBufs.Put(bp)
	buf := *bp
	defer func() { *bp = buf }()
	for _, ref := range refs {
		fr := ref.fr
		if fr.aborted {
			// void: the sequence numbers of a transaction that did not complete
			next = max(next, fr.lastSeq()+1)
			continue
		}
		if int64(cap(buf)) < fr.size {
			buf = make([]byte, fr.size)
		}
		buf = buf[:fr.size]
		if _, err := ref.seg.f.ReadAt(buf, fr.off); err != nil {
			if s.trimmed(ref.seg) && n == 0 {
				// retention removed the segment under us: go on from the oldest kept record
				return s.readFrames(s.oldest(), limit, fn)
			}
			return from, 0, fmt.Errorf("streamstore: reading shard %d: %w", s.ID, err)
		}
		if !fr.verified && !s.verify(ref, buf) {
			next = max(next, fr.lastSeq()+1)
			continue
		}
		rows := buf[fr.rowsOff:]
		for k := uint32(0); k < fr.count && n < limit; k++ {
			seq := fr.firstSeq + uint64(k)
			if seq < from {
				var err error
				if rows, err = types.SkipRow(s.ts, rows); err != nil {
					return from, 0, err
				}
				continue
			}
			var err error
			if rows, err = fn(seq, fr.arrival, rows); err != nil {
				return from, 0, fmt.Errorf("streamstore: shard %d seq %d: %w", s.ID, seq, err)
			}
			next = seq + 1
			n++
		}
	}
	return next, n, nil
}

// verify checks a frame known from an index on its first read (buf holds
// it). A damaged one is voided and reported as a start-up scan would have:
// its bytes skipped, its records lost.
func (s *Shard) verify(ref frameRef, buf []byte) bool {
	got, ok := parseFrame(buf)
	ok = ok && got.firstSeq == ref.fr.firstSeq && got.count == ref.fr.count
	s.mu.Lock()
	i := ref.seg.frameFor(ref.fr.firstSeq)
	if i >= len(ref.seg.frames) || ref.seg.frames[i].firstSeq != ref.fr.firstSeq {
		s.mu.Unlock()
		return ok // (retention removed it meanwhile)
	}
	f := &ref.seg.frames[i]
	if ok {
		f.verified = true
		s.mu.Unlock()
		return true
	}
	if f.aborted {
		s.mu.Unlock()
		return false // (found by another reader)
	}
	f.aborted = true
	lost := seqRange{f.firstSeq, f.lastSeq() + 1}
	s.records -= int64(f.count)
	s.report.skippedBytes += f.size
	s.report.lost = append(s.report.lost, lost)
	s.report.newLost = append(s.report.newLost, lost)
	err := s.saveManifest(func(m *manifest) { m.Lost = append(m.Lost, lost) })
	off := f.off
	s.mu.Unlock()
	slog.Warn("streamstore: a damaged frame was skipped: its records are lost", "shard", s.ID, "segment", ref.seg.path, "offset", off, "records", formatRanges([]seqRange{lost}), "manifest_error", err)
	return false
}

// trimmed reports whether seg is no longer part of the shard.
func (s *Shard) trimmed(seg *segment) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, x := range s.segs {
		if x == seg {
			return false
		}
	}
	return true
}

// readBufs holds frame buffers between reads.
var readBufs = sync.Pool{New: func() any { return new([]byte) }}

// Read returns up to max records with sequence numbers >= from, and the
// position to continue from.
func (s *Shard) Read(from uint64, max int) ([]Record, uint64, error) {
	if s.gen != nil {
		return s.readGeneratedRecords(from, max)
	}
	var out []Record
	next, _, err := s.readFrames(from, max, func(seq uint64, arrival int64, rows []byte) ([]byte, error) {
		row, rest, err := types.DecodeRow(s.ts, rows)
		if err == nil {
			out = append(out, Record{Seq: seq, Arrival: arrival, Row: row})
		}
		return rest, err
	})
	return out, next, err
}

// Wait blocks until a record with sequence number >= seq exists, or ctx ends.
func (s *Shard) Wait(ctx context.Context, seq uint64) error {
	for {
		s.mu.Lock()
		if s.committed > seq {
			s.mu.Unlock()
			return nil
		}
		ch := s.notify
		s.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// oldest is the first retained sequence number (the trim horizon).
func (s *Shard) oldest() uint64 {
	if s.gen != nil {
		return 1
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, seg := range s.segs {
		if len(seg.frames) > 0 {
			return seg.frames[0].firstSeq
		}
	}
	return s.committed
}

// Latest is the sequence number the next record will get.
func (s *Shard) Latest() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.committed
}

// TrimHorizon is the sequence number of the oldest retained record.
func (s *Shard) TrimHorizon() uint64 { return s.oldest() }

// AtTime is the sequence number of the first record that arrived at or
// after t (µs since the epoch).
func (s *Shard) AtTime(t int64) uint64 {
	if s.gen != nil {
		return 1 // generated records have event times, not arrivals to search
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, seg := range s.segs {
		if len(seg.frames) == 0 || seg.lastArrival() < t {
			continue
		}
		i := sort.Search(len(seg.frames), func(i int) bool { return seg.frames[i].arrival >= t })
		return seg.frames[i].firstSeq
	}
	return s.committed
}

// trim deletes whole segments whose newest record arrived before cutoff
// (the one being appended to as well, once all of it has expired: the next
// append starts a new one).
func (s *Shard) trim(cutoff int64) error {
	if s.gen != nil {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.writing || len(s.pending) > 0 {
		return nil // a commit is using the active segment; try again later
	}
	var gone, keep []*segment
	for _, seg := range s.segs {
		if len(seg.frames) > 0 && seg.lastArrival() < cutoff && len(keep) == 0 {
			gone = append(gone, seg)
			continue
		}
		keep = append(keep, seg)
	}
	if len(gone) == 0 {
		return nil
	}
	// the manifest first: a crash between the two leaves files it no
	// longer lists, which start-up deletes, never listed files that are gone
	newest := int64(0)
	for _, seg := range gone {
		newest = max(newest, seg.lastArrival())
	}
	from := s.next
	var firsts []uint64
	for _, seg := range keep {
		firsts = append(firsts, seg.firstSeq)
		from = min(from, seg.firstSeq)
	}
	if err := s.saveManifest(func(m *manifest) {
		m.Segments = firsts
		m.Base = from
		m.TrimmedArrival = max(m.TrimmedArrival, newest)
		m.Aborted = pruneRanges(m.Aborted, from)
		m.Lost = pruneRanges(m.Lost, from)
	}); err != nil {
		return err
	}
	s.report.lost = pruneRanges(s.report.lost, from)
	var err error
	for _, seg := range gone {
		seg.f.Close()
		if e := s.fs.Remove(seg.path); e != nil && err == nil {
			err = e
		}
		if seg.indexed > 0 {
			_ = s.fs.Remove(indexPath(seg.path))
		}
		for _, f := range seg.frames {
			if !f.aborted {
				s.records -= int64(f.count)
			}
		}
		s.bytes -= seg.size
	}
	s.segs = keep
	return err
}

// ShardStats describes a shard for DESCRIBE and the system catalog.
type ShardStats struct {
	ID, Parent       int
	Records, Bytes   int64
	Segments         int
	Oldest, Next     uint64
	RecoveredSkipped int64
	RecoveredCut     int64
	// Lost counts acknowledged records found missing at start-up (a
	// segment deleted or damaged outside the store); LostRanges says which.
	Lost       int64
	LostRanges string
}

// LostReport is what start-up found missing in a shard this time: the
// ranges of sequence numbers of acknowledged records that are gone.
func (s *Shard) LostReport() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return formatRanges(s.report.newLost)
}

func formatRanges(rs []seqRange) string {
	var b strings.Builder
	for i, r := range rs {
		if i > 0 {
			b.WriteString(", ")
		}
		if r.n() == 1 {
			fmt.Fprintf(&b, "%d", r.From)
		} else {
			fmt.Fprintf(&b, "%d-%d", r.From, r.To-1)
		}
	}
	return b.String()
}

// Stats reports the shard's size and positions.
func (s *Shard) Stats() ShardStats {
	oldest := s.oldest()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.gen != nil {
		return ShardStats{ID: s.ID, Parent: s.Parent, Records: int64(s.committed - 1), Oldest: 1, Next: s.committed}
	}
	var lost int64
	for _, r := range s.report.lost {
		lost += int64(r.n())
	}
	return ShardStats{ID: s.ID, Parent: s.Parent, Records: s.records, Bytes: s.bytes, Segments: len(s.segs),
		Oldest: oldest, Next: s.committed, RecoveredSkipped: s.report.skippedBytes, RecoveredCut: s.report.cutBytes,
		Lost: lost, LostRanges: formatRanges(s.report.lost)}
}

var _ = time.Now

// Changed returns a channel that is closed when the next records are
// committed: a reader of several shards selects on them instead of polling.
func (s *Shard) Changed() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.notify
}
