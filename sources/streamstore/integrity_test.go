package streamstore

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/streamsql/streamsql/types"
)

// pathFaultFS fails writes to files under one directory with ENOSPC, as a
// full disk would.
type pathFaultFS struct {
	OSFS
	mu   sync.Mutex
	full string // files whose path contains this fail to write
}

type pathFaultFile struct {
	File
	fs   *pathFaultFS
	path string
}

func (f *pathFaultFS) OpenFile(name string, flag int, perm os.FileMode) (File, error) {
	file, err := f.OSFS.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err
	}
	return &pathFaultFile{file, f, name}, nil
}

func (f *pathFaultFS) setFull(sub string) {
	f.mu.Lock()
	f.full = sub
	f.mu.Unlock()
}

func (f *pathFaultFile) Write(p []byte) (int, error) {
	f.fs.mu.Lock()
	full := f.fs.full != "" && strings.Contains(f.path, f.fs.full)
	f.fs.mu.Unlock()
	if full {
		n, _ := f.File.Write(p[:len(p)/3])
		return n, &os.PathError{Op: "write", Path: f.path, Err: syscall.ENOSPC}
	}
	return f.File.Write(p)
}

func countAll(t *testing.T, s *Stream) int {
	t.Helper()
	n := 0
	for _, sh := range s.Shards() {
		n += len(readAll(t, sh, sh.TrimHorizon()))
	}
	return n
}

// TestMultiShardAppendAllOrNothing: when one shard's part cannot be
// written (a full disk), nothing of the append is visible on any shard,
// before or after a restart, and the stream goes on working.
func TestMultiShardAppendAllOrNothing(t *testing.T) {
	dir := t.TempDir()
	fs := &pathFaultFS{}
	st := Open(dir, Options{FS: fs})
	s, err := st.OpenStream("s", Config{Types: cols, Shards: 4, PartitionBy: -1})
	if err != nil {
		t.Fatal(err)
	}
	batch := func(tag string, n int) [][]types.Datum {
		var rows [][]types.Datum
		for i := 0; i < n; i++ {
			rows = append(rows, rec(tag, float64(i)))
		}
		return rows
	}
	if _, err := s.Append(batch("before", 40)); err != nil {
		t.Fatal(err)
	}
	fs.setFull("shard-0002")
	if _, err := s.Append(batch("failed", 37)); err == nil {
		t.Fatal("an append with a failed part was acknowledged")
	}
	if n := countAll(t, s); n != 40 {
		t.Fatalf("%d records visible after the failed append, want 40", n)
	}
	fs.setFull("")
	if _, err := s.Append(batch("after", 40)); err != nil {
		t.Fatal(err)
	}
	if n := countAll(t, s); n != 80 {
		t.Fatalf("%d records, want 80", n)
	}
	st.Close()
	st = Open(dir, Options{})
	defer st.Close()
	s, err = st.OpenStream("s", Config{Types: cols, Shards: 4, PartitionBy: -1})
	if err != nil {
		t.Fatal(err)
	}
	for _, sh := range s.Shards() {
		for _, r := range readAll(t, sh, 1) {
			if r.Row[0].S == "failed" {
				t.Fatalf("a row of the failed append is back after a restart (shard %d, seq %d)", sh.ID, r.Seq)
			}
		}
	}
	if n := countAll(t, s); n != 80 {
		t.Fatalf("%d records after restart, want 80", n)
	}
}

// TestTornTransactionVoidedAtStart: a crash between the parts of a
// multi-shard append leaves some parts on disk; start-up voids them (and
// remembers it), so the statement is stored whole or not at all.
func TestTornTransactionVoidedAtStart(t *testing.T) {
	dir := t.TempDir()
	st := Open(dir, Options{})
	s, _ := st.OpenStream("s", Config{Types: cols, Shards: 3, PartitionBy: -1})
	var rows [][]types.Datum
	for i := 0; i < 30; i++ {
		rows = append(rows, rec("whole", float64(i)))
	}
	if _, err := s.Append(rows); err != nil {
		t.Fatal(err)
	}
	rows = rows[:0]
	for i := 0; i < 30; i++ {
		rows = append(rows, rec("torn", float64(i)))
	}
	if _, err := s.Append(rows); err != nil {
		t.Fatal(err)
	}
	st.Close()
	// the crash: shard 1 never wrote its part of the second append
	seg := filepath.Join(dir, "s", "shard-0001", segName(1))
	data, err := os.ReadFile(seg)
	if err != nil {
		t.Fatal(err)
	}
	first, ok := parseFrame(data)
	if !ok {
		t.Fatal("no frame")
	}
	if err := os.WriteFile(seg, data[:first.size], 0o644); err != nil {
		t.Fatal(err)
	}
	for round := 0; round < 2; round++ {
		st = Open(dir, Options{})
		s, err = st.OpenStream("s", Config{Types: cols, Shards: 3, PartitionBy: -1})
		if err != nil {
			t.Fatal(err)
		}
		var tags []string
		for _, sh := range s.Shards() {
			for _, r := range readAll(t, sh, 1) {
				tags = append(tags, r.Row[0].S)
			}
		}
		if len(tags) != 30+3*round || strings.Contains(strings.Join(tags, " "), "torn") {
			t.Fatalf("round %d: %d records: %v", round, len(tags), tags)
		}
		var recs int64
		for _, st := range s.Stats() {
			recs += st.Records
		}
		if recs != int64(30+3*round) {
			t.Fatalf("round %d: stats count %d records", round, recs)
		}
		// new appends go on after the voided numbers
		pos, err := s.Append([][]types.Datum{rec("next", 1), rec("next", 2), rec("next", 3)})
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range pos {
			if p.Shard != 1 && p.Seq <= 20 {
				t.Fatalf("round %d: sequence number %d on shard %d reused", round, p.Seq, p.Shard)
			}
		}
		// a later start decides the same, with the transaction resolved
		st.Close()
	}
}

// TestConcurrentMultiShardAppends: appends that cross shards in
// different orders never deadlock and are all visible, each whole.
func TestConcurrentMultiShardAppends(t *testing.T) {
	st := Open(t.TempDir(), Options{NoSync: true})
	defer st.Close()
	s, _ := st.OpenStream("s", Config{Types: cols, Shards: 4, PartitionBy: 0})
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < 200; i++ {
				var rows [][]types.Datum
				for k := 0; k < 1+(i+w)%7; k++ {
					rows = append(rows, rec(fmt.Sprintf("k%d", (w*31+i*7+k)%13), float64(w)))
				}
				if _, err := s.Append(rows); err != nil {
					t.Error(err)
					return
				}
			}
		}(w)
	}
	wg.Wait()
	want := 0
	for w := 0; w < 8; w++ {
		for i := 0; i < 200; i++ {
			want += 1 + (i+w)%7
		}
	}
	if n := countAll(t, s); n != want {
		t.Fatalf("%d records, want %d", n, want)
	}
}

// TestMissingSegmentsReported: a segment deleted from the middle of a
// shard is reported as lost (not served silently as if it never existed),
// and a deleted newest segment does not make the next append reuse the
// sequence numbers it held.
func TestMissingSegmentsReported(t *testing.T) {
	dir := t.TempDir()
	open := func() *Stream {
		st := Open(dir, Options{SegmentSize: 2048})
		t.Cleanup(st.Close)
		s, err := st.OpenStream("s", Config{Types: cols, Shards: 1, PartitionBy: -1})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	st := Open(dir, Options{SegmentSize: 2048})
	s, _ := st.OpenStream("s", Config{Types: cols, Shards: 1, PartitionBy: -1})
	var last uint64
	for i := 0; i < 300; i++ {
		pos, err := s.Append([][]types.Datum{rec("x", float64(i))})
		if err != nil {
			t.Fatal(err)
		}
		last = pos[0].Seq
	}
	st.Close()
	shardDir := filepath.Join(dir, "s", "shard-0000")
	segs, _ := filepath.Glob(filepath.Join(shardDir, "*.seg"))
	sort.Strings(segs)
	if len(segs) < 4 {
		t.Fatalf("only %d segments", len(segs))
	}
	// the middle
	middle := segs[len(segs)/2]
	if err := os.Remove(middle); err != nil {
		t.Fatal(err)
	}
	s = open()
	sh := s.Shards()[0]
	stats := sh.Stats()
	if stats.Lost == 0 || sh.LostReport() == "" {
		t.Fatalf("a deleted middle segment went unreported: %+v", stats)
	}
	if got := int64(len(readAll(t, sh, 1))); got+stats.Lost != 300 {
		t.Fatalf("%d readable + %d lost != 300", got, stats.Lost)
	}
	// the newest
	segs, _ = filepath.Glob(filepath.Join(shardDir, "*.seg"))
	sort.Strings(segs)
	if err := os.Remove(segs[len(segs)-1]); err != nil {
		t.Fatal(err)
	}
	s = open()
	pos, err := s.Append([][]types.Datum{rec("after", 1)})
	if err != nil {
		t.Fatal(err)
	}
	if pos[0].Seq <= last {
		t.Fatalf("sequence number %d reused (%d was acknowledged)", pos[0].Seq, last)
	}
	if s.Shards()[0].Stats().Lost <= stats.Lost || s.Shards()[0].LostReport() == "" {
		t.Fatal("a deleted newest segment went unreported")
	}
	// reported again at the next start (in the stats), not found anew
	s = open()
	if s.Shards()[0].Stats().Lost == 0 || s.Shards()[0].LostReport() != "" {
		t.Fatalf("after another restart: %+v %q", s.Shards()[0].Stats(), s.Shards()[0].LostReport())
	}
}
