package streamstore

import (
	"encoding/binary"
	"errors"
	"hash/crc32"
	"os"
	"strings"
)

// A segment's index file (<first>.idx) lists its frames, so that opening
// a shard reads a few bytes per frame instead of every record: start-up
// time depends on the number of frames, not on the bytes in them. The
// index grows in blocks as the segment does — one for every indexEvery
// bytes appended, one when the segment is sealed or the shard closes —
// so a crash leaves at most indexEvery bytes per shard to scan at
// start-up (a torn tail is cut there, as without an index). Frames known
// from an index are checked when first read: a damaged one is skipped
// and reported then, as a scan would have at start-up.
//
// Format: "SSQLIDX2", then blocks — u32 payload length, payload, u32
// CRC-32C of the payload — each listing the frames after the blocks'
// before it: uvarint bytes of the segment covered, uvarint frames, per
// frame uvarint offset, size, rows offset, first sequence, count, zigzag
// arrival, txn, parts (count, then each). An index is a cache of the
// segment, written without fsync: reading stops at a torn or damaged
// block (the bytes past it are scanned and the index rewritten), and one
// covering more than the file holds is ignored.

const indexMagic = "SSQLIDX2"

// indexEvery is how many bytes of a segment go unindexed at most (a
// variable for tests).
var indexEvery int64 = 4 << 20

func indexPath(segPath string) string { return strings.TrimSuffix(segPath, ".seg") + ".idx" }

// indexBlock encodes the frames not yet indexed as a block (the whole
// index, magic first, when it is to be rewritten). The caller holds the
// shard's lock.
func (s *segment) indexBlock() (buf []byte, whole bool) {
	from := s.indexedFrames
	if s.idxRewrite {
		from = 0
		buf = []byte(indexMagic)
	}
	at := len(buf)
	buf = append(buf, 0, 0, 0, 0)
	buf = binary.AppendUvarint(buf, uint64(s.size))
	buf = binary.AppendUvarint(buf, uint64(len(s.frames)-from))
	for _, f := range s.frames[from:] {
		buf = binary.AppendUvarint(buf, uint64(f.off))
		buf = binary.AppendUvarint(buf, uint64(f.size))
		buf = binary.AppendUvarint(buf, uint64(f.rowsOff))
		buf = binary.AppendUvarint(buf, f.firstSeq)
		buf = binary.AppendUvarint(buf, uint64(f.count))
		buf = binary.AppendVarint(buf, f.arrival)
		buf = binary.AppendUvarint(buf, f.txn)
		buf = binary.AppendUvarint(buf, uint64(len(f.parts)))
		for _, p := range f.parts {
			buf = binary.AppendUvarint(buf, uint64(p))
		}
	}
	binary.LittleEndian.PutUint32(buf[at:], uint32(len(buf)-at-4))
	return binary.LittleEndian.AppendUint32(buf, crc32.Checksum(buf[at+4:], castagnoli)), s.idxRewrite
}

// writeIndex adds a block indexBlock made to the index file (whole: the
// file is replaced by it).
func (s *segment) writeIndex(fs FS, buf []byte, whole bool) error {
	path := indexPath(s.path)
	if !whole {
		f, err := fs.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			return err
		}
		n, err := f.Write(buf)
		if err == nil && n != len(buf) {
			err = errors.New("short write")
		}
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		return err
	}
	tmp := path + ".tmp"
	f, err := fs.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	_, err = f.Write(buf)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = fs.Rename(tmp, path, false)
	}
	if err != nil {
		_ = fs.Remove(tmp)
	}
	return err
}

var errBadIndex = errors.New("streamstore: bad segment index")

// readIndex loads the segment's index: its frames and the bytes they
// cover (those past it are the caller's to scan); clean is false when
// blocks past those were torn or damaged. An index that does not fit the
// file (size bytes) is refused.
func (s *segment) readIndex(fs FS, size int64) (frames []frame, covered int64, clean bool, err error) {
	f, err := fs.OpenFile(indexPath(s.path), os.O_RDONLY, 0)
	if err != nil {
		return nil, 0, false, err
	}
	defer f.Close()
	n, err := f.Size()
	if err != nil {
		return nil, 0, false, err
	}
	if n < int64(len(indexMagic)) || n > 1<<32 {
		return nil, 0, false, errBadIndex
	}
	b := make([]byte, n)
	if _, err := f.ReadAt(b, 0); err != nil {
		return nil, 0, false, err
	}
	if string(b[:len(indexMagic)]) != indexMagic {
		return nil, 0, false, errBadIndex
	}
	b = b[len(indexMagic):]
	for len(b) > 0 {
		if len(b) < 8 {
			break
		}
		l := int(binary.LittleEndian.Uint32(b))
		if l > len(b)-8 || crc32.Checksum(b[4:4+l], castagnoli) != binary.LittleEndian.Uint32(b[4+l:]) {
			break
		}
		more, c, ok := parseIndexBlock(b[4:4+l], frames, size)
		if !ok {
			break
		}
		frames, covered = more, c
		b = b[8+l:]
	}
	if frames == nil && covered == 0 {
		return nil, 0, false, errBadIndex
	}
	return frames, covered, len(b) == 0, nil
}

// parseIndexBlock appends a block's frames to frames.
func parseIndexBlock(p []byte, frames []frame, size int64) ([]frame, int64, bool) {
	bad := false
	uv := func() uint64 {
		v, k := binary.Uvarint(p)
		if k <= 0 {
			bad = true
			return 0
		}
		p = p[k:]
		return v
	}
	covered := int64(uv())
	count := uv()
	if bad || covered > size || count > uint64(len(p)) {
		return nil, 0, false
	}
	end := int64(0)
	if n := len(frames); n > 0 {
		end = frames[n-1].off + frames[n-1].size
	}
	for range count {
		fr := frame{off: int64(uv()), size: int64(uv()), rowsOff: int(uv()), firstSeq: uv(), count: uint32(uv())}
		v, k := binary.Varint(p)
		if k <= 0 {
			return nil, 0, false
		}
		p = p[k:]
		fr.arrival = v
		fr.txn = uv()
		if np := uv(); np > 0 && np <= maxTxnShards && !bad {
			fr.parts = make([]uint16, np)
			for i := range fr.parts {
				fr.parts[i] = uint16(uv())
			}
		}
		if bad || fr.off < end || fr.off+fr.size > covered {
			return nil, 0, false
		}
		end = fr.off + fr.size
		frames = append(frames, fr)
	}
	return frames, covered, len(p) == 0
}
