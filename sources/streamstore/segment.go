package streamstore

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"sort"
)

const (
	frameMagic   = 0x53514c31 // a frame of its own
	txnMagic     = 0x53514c32 // a frame that is one shard's part of a multi-shard append
	frameHeader  = 12         // magic, length, crc
	batchHeader  = 20         // first seq, count, arrival
	txnHeader    = 10         // txn id, number of parts (then 2 bytes per part)
	maxFrame     = 1 << 30
	maxTxnShards = 1 << 16
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// frame is the index entry of one append batch in a segment.
type frame struct {
	off      int64 // of the frame header
	size     int64 // header and payload
	rowsOff  int   // where the rows start, from the frame header
	firstSeq uint64
	count    uint32
	arrival  int64
	// a part of a multi-shard append: its transaction and the shards that
	// have a part; aborted when the transaction did not complete (the
	// frame's sequence numbers are then void: never read, never counted)
	txn     uint64
	parts   []uint16
	aborted bool
	// verified: its checksum was checked (by a scan, or on its first read
	// when it came from an index); its own writer's frames are
	verified bool
}

func (f frame) lastSeq() uint64 { return f.firstSeq + uint64(f.count) - 1 }

// appendFrame encodes rows as one frame; txn and parts mark it as one
// shard's part of a multi-shard append (txn 0: a frame of its own).
func appendFrame(buf []byte, firstSeq uint64, arrival int64, rows Records, txn uint64, parts []uint16) ([]byte, error) {
	start := len(buf)
	hdr := frameHeader + batchHeader
	if txn != 0 {
		hdr += txnHeader + 2*len(parts)
	}
	buf = append(buf, make([]byte, hdr)...)
	binary.LittleEndian.PutUint64(buf[start+frameHeader:], firstSeq)
	binary.LittleEndian.PutUint32(buf[start+frameHeader+8:], uint32(rows.Len()))
	binary.LittleEndian.PutUint64(buf[start+frameHeader+12:], uint64(arrival))
	magic := uint32(frameMagic)
	if txn != 0 {
		magic = txnMagic
		p := start + frameHeader + batchHeader
		binary.LittleEndian.PutUint64(buf[p:], txn)
		binary.LittleEndian.PutUint16(buf[p+8:], uint16(len(parts)))
		for i, sh := range parts {
			binary.LittleEndian.PutUint16(buf[p+txnHeader+2*i:], sh)
		}
	}
	var err error
	for i := range rows.Len() {
		if buf, err = rows.AppendRecord(buf, i); err != nil {
			return nil, err
		}
	}
	payload := buf[start+frameHeader:]
	binary.LittleEndian.PutUint32(buf[start:], magic)
	binary.LittleEndian.PutUint32(buf[start+4:], uint32(len(payload)))
	binary.LittleEndian.PutUint32(buf[start+8:], crc32.Checksum(payload, castagnoli))
	return buf, nil
}

// isMagic reports whether b starts with a frame's magic number.
func isMagic(b []byte) bool {
	m := binary.LittleEndian.Uint32(b)
	return m == frameMagic || m == txnMagic
}

// parseFrame checks the frame at b[0:] and returns its index entry.
func parseFrame(b []byte) (frame, bool) {
	if len(b) < frameHeader+batchHeader || !isMagic(b) {
		return frame{}, false
	}
	n := int(binary.LittleEndian.Uint32(b[4:]))
	if n < batchHeader || n > maxFrame || frameHeader+n > len(b) {
		return frame{}, false
	}
	payload := b[frameHeader : frameHeader+n]
	if crc32.Checksum(payload, castagnoli) != binary.LittleEndian.Uint32(b[8:]) {
		return frame{}, false
	}
	fr := frame{
		size:     int64(frameHeader + n),
		rowsOff:  frameHeader + batchHeader,
		firstSeq: binary.LittleEndian.Uint64(payload),
		count:    binary.LittleEndian.Uint32(payload[8:]),
		arrival:  int64(binary.LittleEndian.Uint64(payload[12:])),
	}
	if binary.LittleEndian.Uint32(b) == txnMagic {
		p := payload[batchHeader:]
		if len(p) < txnHeader {
			return frame{}, false
		}
		fr.txn = binary.LittleEndian.Uint64(p)
		np := int(binary.LittleEndian.Uint16(p[8:]))
		if len(p) < txnHeader+2*np {
			return frame{}, false
		}
		fr.parts = make([]uint16, np)
		for i := range fr.parts {
			fr.parts[i] = binary.LittleEndian.Uint16(p[txnHeader+2*i:])
		}
		fr.rowsOff += txnHeader + 2*np
	}
	return fr, true
}

// segment is one file of a shard's log.
type segment struct {
	path     string
	firstSeq uint64
	f        File
	frames   []frame
	size     int64
	synced   int64 // bytes known durable (Sync of a stream appended without fsync)
	// its index file (segindex.go): the bytes and frames it covers, and
	// whether it is to be rewritten whole (none yet, or a bad tail)
	indexed       int64
	indexedFrames int
	idxRewrite    bool
}

func (s *segment) lastArrival() int64 {
	if len(s.frames) == 0 {
		return 0
	}
	return s.frames[len(s.frames)-1].arrival
}

func (s *segment) nextSeq() uint64 {
	if len(s.frames) == 0 {
		return s.firstSeq
	}
	return s.frames[len(s.frames)-1].lastSeq() + 1
}

// scanReport says what start-up recovery did to a segment.
type scanReport struct {
	skippedBytes int64 // corrupt bytes skipped in the middle
	cutBytes     int64 // torn or corrupt tail removed
	// lost: acknowledged records that are gone (all known, and those
	// found this time), see Shard.recover
	lost    []seqRange
	newLost []seqRange
}

// load rebuilds the segment's frame index: from its index file when it
// has a usable one, then by scanning the bytes past it (all of them
// without one).
func (s *segment) load(fs FS) (scanReport, error) {
	size, err := s.f.Size()
	if err != nil {
		return scanReport{}, err
	}
	if frames, covered, clean, err := s.readIndex(fs, size); err == nil && s.lastFrameOK(frames) {
		s.frames, s.indexed, s.indexedFrames, s.idxRewrite = frames, covered, len(frames), !clean
		return s.scan(covered, size)
	}
	s.frames, s.indexed, s.indexedFrames, s.idxRewrite = s.frames[:0], 0, 0, true
	return s.scan(0, size)
}

// lastFrameOK checks the last frame an index lists against the file (an
// index of other bytes than the file's is refused).
func (s *segment) lastFrameOK(frames []frame) bool {
	if len(frames) == 0 {
		return true
	}
	last := frames[len(frames)-1]
	b := make([]byte, last.size)
	if _, err := s.f.ReadAt(b, last.off); err != nil {
		return false
	}
	fr, ok := parseFrame(b)
	return ok && fr.firstSeq == last.firstSeq && fr.count == last.count && fr.size == last.size
}

// scan adds the frames in bytes [from, size) of the file to the index.
// Corrupt frames in the middle are skipped by searching for the next
// valid frame; a bad tail is cut off.
func (s *segment) scan(from, size int64) (scanReport, error) {
	var rep scanReport
	data := make([]byte, size-from)
	if _, err := s.f.ReadAt(data, from); err != nil && int64(len(data)) != size-from {
		return rep, err
	}
	off := 0
	lastGood := 0
	var expect uint64
	if n := len(s.frames); n > 0 {
		expect = s.frames[n-1].lastSeq() + 1
	}
	for off < len(data) {
		fr, ok := parseFrame(data[off:])
		if ok && (len(s.frames) == 0 || fr.firstSeq >= expect) {
			fr.off = from + int64(off)
			fr.verified = true
			s.frames = append(s.frames, fr)
			expect = fr.lastSeq() + 1
			off += int(fr.size)
			lastGood = off
			continue
		}
		// resynchronise: the next offset where a valid frame starts
		next := -1
		for p := off + 1; p+frameHeader+batchHeader <= len(data); p++ {
			if !isMagic(data[p:]) {
				continue
			}
			if fr2, ok := parseFrame(data[p:]); ok && fr2.firstSeq >= expect {
				next = p
				break
			}
		}
		if next < 0 {
			break
		}
		rep.skippedBytes += int64(next - off)
		off = next
	}
	if lastGood < len(data) {
		rep.cutBytes = int64(len(data) - lastGood)
		if err := s.f.Truncate(from + int64(lastGood)); err != nil {
			return rep, fmt.Errorf("streamstore: truncating %s: %w", s.path, err)
		}
	}
	s.size = from + int64(lastGood)
	return rep, nil
}

// frameFor returns the index of the frame holding seq (or the first one
// after it).
func (s *segment) frameFor(seq uint64) int {
	return sort.Search(len(s.frames), func(i int) bool { return s.frames[i].lastSeq() >= seq })
}
