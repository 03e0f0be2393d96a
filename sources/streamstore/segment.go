package streamstore

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"sort"

	"github.com/streamsql/streamsql/types"
)

const (
	frameMagic  = 0x53514c31
	frameHeader = 12 // magic, length, crc
	batchHeader = 20 // first seq, count, arrival
	maxFrame    = 1 << 30
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// frame is the index entry of one append batch in a segment.
type frame struct {
	off      int64 // of the frame header
	size     int64 // header and payload
	firstSeq uint64
	count    uint32
	arrival  int64
}

func (f frame) lastSeq() uint64 { return f.firstSeq + uint64(f.count) - 1 }

// appendFrame encodes rows as one frame.
func appendFrame(buf []byte, firstSeq uint64, arrival int64, ts []types.T, rows [][]types.Datum) ([]byte, error) {
	start := len(buf)
	buf = append(buf, make([]byte, frameHeader+batchHeader)...)
	binary.LittleEndian.PutUint64(buf[start+frameHeader:], firstSeq)
	binary.LittleEndian.PutUint32(buf[start+frameHeader+8:], uint32(len(rows)))
	binary.LittleEndian.PutUint64(buf[start+frameHeader+12:], uint64(arrival))
	var err error
	for _, r := range rows {
		if buf, err = types.AppendRow(buf, ts, r); err != nil {
			return nil, err
		}
	}
	payload := buf[start+frameHeader:]
	binary.LittleEndian.PutUint32(buf[start:], frameMagic)
	binary.LittleEndian.PutUint32(buf[start+4:], uint32(len(payload)))
	binary.LittleEndian.PutUint32(buf[start+8:], crc32.Checksum(payload, castagnoli))
	return buf, nil
}

// parseFrame checks the frame at b[0:] and returns its index entry.
func parseFrame(b []byte) (frame, bool) {
	if len(b) < frameHeader+batchHeader || binary.LittleEndian.Uint32(b) != frameMagic {
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
	return frame{
		size:     int64(frameHeader + n),
		firstSeq: binary.LittleEndian.Uint64(payload),
		count:    binary.LittleEndian.Uint32(payload[8:]),
		arrival:  int64(binary.LittleEndian.Uint64(payload[12:])),
	}, true
}

// segment is one file of a shard's log.
type segment struct {
	path     string
	firstSeq uint64
	f        File
	frames   []frame
	size     int64
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
}

// scan rebuilds the frame index from the file. Corrupt frames in the
// middle are skipped by searching for the next valid frame; a bad tail is
// cut off.
func (s *segment) scan() (scanReport, error) {
	var rep scanReport
	size, err := s.f.Size()
	if err != nil {
		return rep, err
	}
	data := make([]byte, size)
	if _, err := s.f.ReadAt(data, 0); err != nil && int64(len(data)) != size {
		return rep, err
	}
	s.frames = s.frames[:0]
	off := 0
	lastGood := 0
	var expect uint64
	for off < len(data) {
		fr, ok := parseFrame(data[off:])
		if ok && (len(s.frames) == 0 || fr.firstSeq >= expect) {
			fr.off = int64(off)
			s.frames = append(s.frames, fr)
			expect = fr.lastSeq() + 1
			off += int(fr.size)
			lastGood = off
			continue
		}
		// resynchronise: the next offset where a valid frame starts
		next := -1
		for p := off + 1; p+frameHeader+batchHeader <= len(data); p++ {
			if binary.LittleEndian.Uint32(data[p:]) != frameMagic {
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
		if err := s.f.Truncate(int64(lastGood)); err != nil {
			return rep, fmt.Errorf("streamstore: truncating %s: %w", s.path, err)
		}
	}
	s.size = int64(lastGood)
	return rep, nil
}

// frameFor returns the index of the frame holding seq (or the first one
// after it).
func (s *segment) frameFor(seq uint64) int {
	return sort.Search(len(s.frames), func(i int) bool { return s.frames[i].lastSeq() >= seq })
}
