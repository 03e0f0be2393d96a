package streamstore

import (
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/streamsql/streamsql/types"
)

// countFS counts the bytes read from segment files.
type countFS struct {
	OSFS
	segBytes atomic.Int64
}

type countFile struct {
	File
	fs  *countFS
	seg bool
}

func (c *countFS) OpenFile(name string, flag int, perm os.FileMode) (File, error) {
	f, err := c.OSFS.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err
	}
	return &countFile{f, c, strings.HasSuffix(name, ".seg")}, nil
}

func (f *countFile) ReadAt(p []byte, off int64) (int, error) {
	n, err := f.File.ReadAt(p, off)
	if f.seg {
		f.fs.segBytes.Add(int64(n))
	}
	return n, err
}

// fillShard appends batches of 5 records to a one-shard stream of small
// segments and returns the store and the bytes written.
func fillShard(t *testing.T, dir string, batches int) (*Store, *Stream) {
	t.Helper()
	st := Open(dir, Options{SegmentSize: 4096})
	s, err := st.OpenStream("s", Config{Types: cols, Shards: 1, PartitionBy: -1})
	if err != nil {
		t.Fatal(err)
	}
	for i := range batches {
		var rows [][]types.Datum
		for k := range 5 {
			rows = append(rows, rec("x", float64(i*5+k)))
		}
		if _, err := s.Append(rows); err != nil {
			t.Fatal(err)
		}
	}
	return st, s
}

// reopen opens the stream in dir counting what it reads from segments
// while opening.
func reopen(t *testing.T, dir string) (*Store, *Stream, int64) {
	t.Helper()
	fs := &countFS{}
	st := Open(dir, Options{SegmentSize: 4096, FS: fs})
	s, err := st.OpenStream("s", Config{Types: cols, Shards: 1, PartitionBy: -1})
	if err != nil {
		t.Fatal(err)
	}
	return st, s, fs.segBytes.Load()
}

func segBytes(t *testing.T, dir string) (total, last int64) {
	t.Helper()
	files := segFiles(t, dir)
	for i, f := range files {
		info, err := os.Stat(f)
		if err != nil {
			t.Fatal(err)
		}
		total += info.Size()
		if i == len(files)-1 {
			last = info.Size()
		}
	}
	return total, last
}

func checkRecords(t *testing.T, s *Stream, want int) {
	t.Helper()
	rs := readAll(t, s.Shards()[0], 1)
	if len(rs) != want {
		t.Fatalf("%d records, want %d", len(rs), want)
	}
	for i, r := range rs {
		if r.Seq != uint64(i+1) || r.Row[1].F != float64(i) {
			t.Fatalf("record %d: seq %d value %v", i, r.Seq, r.Row[1].F)
		}
	}
}

// Opening a shard reads its segments' indexes, not their records: after a
// clean stop it reads one frame per segment (each index's last, checked
// against the file); after a crash the segment being appended to is
// scanned, the sealed ones are not.
func TestSegmentIndexesSpareStartUp(t *testing.T) {
	dir := t.TempDir()
	st, _ := fillShard(t, dir, 300)
	// a crash now: a copy of the files as they are (the store is idle)
	crashed := t.TempDir()
	if err := os.CopyFS(crashed, os.DirFS(dir)); err != nil {
		t.Fatal(err)
	}
	st.Close()
	total, last := segBytes(t, dir)
	if n := len(segFiles(t, dir)); n < 10 {
		t.Fatalf("%d segments: the test wants many", n)
	}
	st, s, read := reopen(t, dir)
	if read > total/10 {
		t.Fatalf("a clean start read %d of %d bytes of segments", read, total)
	}
	checkRecords(t, s, 1500)
	st.Close()

	st, s, read = reopen(t, crashed)
	if read > last+total/10 {
		t.Fatalf("a start after a crash read %d bytes of segments (%d in all, %d in the last)", read, total, last)
	}
	checkRecords(t, s, 1500)
	// and it goes on appending where it stopped
	pos, err := s.Append([][]types.Datum{rec("y", 1500)})
	if err != nil || pos[0].Seq != 1501 {
		t.Fatalf("append after the crash: %v %v", pos, err)
	}
	st.Close()
}

// The index of the segment being appended to grows every indexEvery
// bytes: a crash leaves no more than that to scan.
func TestSegmentIndexGrowsWithTheSegment(t *testing.T) {
	defer func(n int64) { indexEvery = n }(indexEvery)
	indexEvery = 1024
	dir := t.TempDir()
	st := Open(dir, Options{SegmentSize: 1 << 20})
	s, err := st.OpenStream("s", Config{Types: cols, Shards: 1, PartitionBy: -1})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 1500 {
		if _, err := s.Append([][]types.Datum{rec("x", float64(i))}); err != nil {
			t.Fatal(err)
		}
	}
	crashed := t.TempDir()
	if err := os.CopyFS(crashed, os.DirFS(dir)); err != nil {
		t.Fatal(err)
	}
	st.Close()
	total, _ := segBytes(t, crashed)
	if n := len(segFiles(t, crashed)); n != 1 {
		t.Fatalf("%d segments, want 1", n)
	}
	st, s, read := reopen(t, crashed)
	defer st.Close()
	if read > indexEvery+200 {
		t.Fatalf("a start after a crash read %d bytes of a segment of %d (index every %d)", read, total, indexEvery)
	}
	checkRecords(t, s, 1500)
}

// An index that is damaged, or covers bytes the file no longer holds, is
// not used: the segment is scanned. Bytes appended past what an index
// covers are scanned, and a torn tail there is cut.
func TestSegmentIndexFallbacks(t *testing.T) {
	dir := t.TempDir()
	st, _ := fillShard(t, dir, 300)
	st.Close()
	idx, _ := filepath.Glob(filepath.Join(dir, "*", "shard-*", "*.idx"))
	if len(idx) < 10 {
		t.Fatalf("%d index files", len(idx))
	}
	b, _ := os.ReadFile(idx[3])
	b[len(b)/2] ^= 0xff
	os.WriteFile(idx[3], b, 0o644)
	os.WriteFile(idx[5], b[:len(b)/2], 0o644)
	st, s, _ := reopen(t, dir)
	checkRecords(t, s, 1500)
	st.Close()

	// the last segment grows past its index, then its tail is torn
	st, s, _ = reopen(t, dir)
	if _, err := s.Append([][]types.Datum{rec("x", 1500), rec("x", 1501)}); err != nil {
		t.Fatal(err)
	}
	crashed := t.TempDir()
	if err := os.CopyFS(crashed, os.DirFS(dir)); err != nil {
		t.Fatal(err)
	}
	st.Close()
	segs := segFiles(t, crashed)
	lastSeg := segs[len(segs)-1]
	info, _ := os.Stat(lastSeg)
	os.Truncate(lastSeg, info.Size()-10)
	st, s, _ = reopen(t, crashed)
	defer st.Close()
	checkRecords(t, s, 1500)
	if s.Stats()[0].RecoveredCut == 0 {
		t.Fatal("the torn tail was not reported")
	}
}

// A frame an index lists that is damaged is found on its first read: its
// records are skipped and reported lost, the others read, as a scan at
// start-up would have done; the loss is kept in the manifest.
func TestSegmentIndexDamagedFrame(t *testing.T) {
	dir := t.TempDir()
	st, _ := fillShard(t, dir, 300)
	st.Close()
	seg := segFiles(t, dir)[2]
	b, _ := os.ReadFile(seg)
	b[len(b)/2] ^= 0xff
	os.WriteFile(seg, b, 0o644)
	st, s, _ := reopen(t, dir)
	rs := readAll(t, s.Shards()[0], 1)
	if len(rs) != 1495 {
		t.Fatalf("%d records, want 1495 (one batch of 5 lost)", len(rs))
	}
	stats := s.Stats()[0]
	if stats.RecoveredSkipped == 0 || stats.Lost != 5 || stats.Records != 1495 {
		t.Fatalf("stats after the damaged frame: %+v", stats)
	}
	st.Close()
	st, s, _ = reopen(t, dir)
	defer st.Close()
	if n := len(readAll(t, s.Shards()[0], 1)); n != 1495 {
		t.Fatalf("%d records after a restart", n)
	}
	if got := s.Stats()[0]; got.Lost != 5 || got.LostRanges != stats.LostRanges || got.Records != 1495 {
		t.Fatalf("after a restart: %+v, want 5 lost (%s)", got, stats.LostRanges)
	}
}
