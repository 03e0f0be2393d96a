package streamstore

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
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

	mu        sync.Mutex
	segs      []*segment
	committed uint64 // next sequence number to be made visible
	notify    chan struct{}
	queue     []*appendReq
	writing   bool
	wbuf      []byte // the committer's encoding buffer, reused between groups
	widths    []int  // average width of text columns seen by reads
	records   int64
	bytes     int64
	report    scanReport
	gen       Generator // a generated shard: records computed, not stored
}

type appendReq struct {
	rows    [][]types.Datum
	arrival int64
	first   uint64
	err     error
	done    chan struct{}
}

func openShard(fs FS, dir string, id int, ts []types.T, segSize int64, noSync bool) (*Shard, error) {
	s := &Shard{ID: id, Parent: -1, dir: dir, fs: fs, ts: ts, segSize: segSize, noSync: noSync, committed: 1, notify: make(chan struct{})}
	if err := fs.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	names, err := fs.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var firsts []uint64
	for _, n := range names {
		if !strings.HasSuffix(n, ".seg") {
			continue
		}
		v, err := strconv.ParseUint(strings.TrimSuffix(n, ".seg"), 10, 64)
		if err == nil {
			firsts = append(firsts, v)
		}
	}
	sort.Slice(firsts, func(i, j int) bool { return firsts[i] < firsts[j] })
	for _, first := range firsts {
		seg := &segment{path: filepath.Join(dir, segName(first)), firstSeq: first}
		if seg.f, err = fs.OpenFile(seg.path, os.O_RDWR|os.O_APPEND, 0o644); err != nil {
			return nil, err
		}
		rep, err := seg.scan()
		if err != nil {
			return nil, err
		}
		s.report.skippedBytes += rep.skippedBytes
		s.report.cutBytes += rep.cutBytes
		s.segs = append(s.segs, seg)
		for _, f := range seg.frames {
			s.records += int64(f.count)
		}
		s.bytes += seg.size
	}
	if n := len(s.segs); n > 0 {
		s.committed = s.segs[n-1].nextSeq()
		if s.committed < s.segs[n-1].firstSeq {
			s.committed = s.segs[n-1].firstSeq
		}
	}
	return s, nil
}

func segName(first uint64) string { return fmt.Sprintf("%020d.seg", first) }

func (s *Shard) close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, seg := range s.segs {
		seg.f.Close()
	}
	s.segs = nil
}

// append writes rows durably and returns the sequence number of the first.
// Concurrent appends share writes and fsyncs (group commit): the first
// appender to find the shard idle writes everything queued.
func (s *Shard) append(rows [][]types.Datum, arrival int64) (uint64, error) {
	req := &appendReq{rows: rows, arrival: arrival, done: make(chan struct{})}
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
func (s *Shard) commit(batch []*appendReq) {
	fail := func(err error) {
		for _, r := range batch {
			r.err = err
			close(r.done)
		}
	}
	s.mu.Lock()
	seg, err := s.activeSegment()
	if err != nil {
		s.mu.Unlock()
		fail(err)
		return
	}
	start := s.committed
	base := seg.size
	s.mu.Unlock()

	buf := s.wbuf[:0]
	next := start
	frames := make([]frame, 0, len(batch))
	for _, r := range batch {
		off := len(buf)
		if buf, err = appendFrame(buf, next, r.arrival, s.ts, r.rows); err != nil {
			fail(err)
			return
		}
		frames = append(frames, frame{off: base + int64(off), size: int64(len(buf) - off), firstSeq: next, count: uint32(len(r.rows)), arrival: r.arrival})
		r.first = next
		next += uint64(len(r.rows))
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
	seg.frames = append(seg.frames, frames...)
	seg.size += int64(len(buf))
	s.committed = next
	s.records += int64(next - start)
	s.bytes += int64(len(buf))
	close(s.notify)
	s.notify = make(chan struct{})
	s.mu.Unlock()
	for _, r := range batch {
		close(r.done)
	}
}

// activeSegment returns the segment to append to, rolling to a new file
// when the current one is full. Callers hold s.mu.
func (s *Shard) activeSegment() (*segment, error) {
	if n := len(s.segs); n > 0 && s.segs[n-1].size < s.segSize {
		return s.segs[n-1], nil
	}
	seg := &segment{path: filepath.Join(s.dir, segName(s.committed)), firstSeq: s.committed}
	f, err := s.fs.OpenFile(seg.path, os.O_CREATE|os.O_RDWR|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	seg.f = f
	s.segs = append(s.segs, seg)
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
			want -= int(seg.frames[i].count)
		}
	}
	return out, from
}

// readFrames calls fn for each record at or after from, up to max, with
// the rows still encoded; fn decodes and returns the rest of the buffer.
func (s *Shard) readFrames(from uint64, max int, fn func(seq uint64, arrival int64, rows []byte) ([]byte, error)) (uint64, int, error) {
	refs, from := s.framesFrom(from, max)
	next, n := from, 0
	bp := readBufs.Get().(*[]byte)
	defer readBufs.Put(bp)
	buf := *bp
	defer func() { *bp = buf }()
	for _, ref := range refs {
		fr := ref.fr
		if int64(cap(buf)) < fr.size {
			buf = make([]byte, fr.size)
		}
		buf = buf[:fr.size]
		if _, err := ref.seg.f.ReadAt(buf, fr.off); err != nil {
			if s.trimmed(ref.seg) && n == 0 {
				// retention removed the segment under us: go on from the oldest kept record
				return s.readFrames(s.oldest(), max, fn)
			}
			return from, 0, fmt.Errorf("streamstore: reading shard %d: %w", s.ID, err)
		}
		rows := buf[frameHeader+batchHeader:]
		for k := uint32(0); k < fr.count && n < max; k++ {
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
	if s.writing {
		return nil // a commit is using the active segment; try again later
	}
	keep := s.segs[:0]
	var err error
	for _, seg := range s.segs {
		if len(seg.frames) > 0 && seg.lastArrival() < cutoff {
			seg.f.Close()
			if e := s.fs.Remove(seg.path); e != nil && err == nil {
				err = e
			}
			for _, f := range seg.frames {
				s.records -= int64(f.count)
			}
			s.bytes -= seg.size
			continue
		}
		keep = append(keep, seg)
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
}

// Stats reports the shard's size and positions.
func (s *Shard) Stats() ShardStats {
	oldest := s.oldest()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.gen != nil {
		return ShardStats{ID: s.ID, Parent: s.Parent, Records: int64(s.committed - 1), Oldest: 1, Next: s.committed}
	}
	return ShardStats{ID: s.ID, Parent: s.Parent, Records: s.records, Bytes: s.bytes, Segments: len(s.segs),
		Oldest: oldest, Next: s.committed, RecoveredSkipped: s.report.skippedBytes, RecoveredCut: s.report.cutBytes}
}

var _ = time.Now

// Changed returns a channel that is closed when the next records are
// committed: a reader of several shards selects on them instead of polling.
func (s *Shard) Changed() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.notify
}
