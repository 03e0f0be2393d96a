package streamstore

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/streamsql/streamsql/types"
)

var cols = []types.T{types.TText, types.TFloat64, types.TTimestamp}

func rec(sym string, price float64) []types.Datum {
	return []types.Datum{types.DText(sym), types.DFloat(price), types.DInt(time.Now().UnixMicro())}
}

func readAll(t *testing.T, sh *Shard, from uint64) []Record {
	t.Helper()
	var out []Record
	for {
		rs, next, err := sh.Read(from, 1000)
		if err != nil {
			t.Fatal(err)
		}
		if len(rs) == 0 {
			return out
		}
		out = append(out, rs...)
		from = next
	}
}

func TestAppendReadReopen(t *testing.T) {
	dir := t.TempDir()
	st := Open(dir, Options{})
	s, err := st.OpenStream("trades", Config{Types: cols, Shards: 4, PartitionBy: 0})
	if err != nil {
		t.Fatal(err)
	}
	var all []Position
	for i := 0; i < 50; i++ {
		pos, err := s.Append([][]types.Datum{rec(fmt.Sprint("S", i%7), float64(i)), rec("BTC", float64(i))})
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, pos...)
	}
	// the same key always lands on the same shard; sequence numbers increase per shard
	btc := -1
	last := map[int]uint64{}
	for i, p := range all {
		if i%2 == 1 {
			if btc >= 0 && p.Shard != btc {
				t.Fatalf("BTC moved from shard %d to %d", btc, p.Shard)
			}
			btc = p.Shard
		}
		if p.Seq <= last[p.Shard] {
			t.Fatalf("sequence not increasing on shard %d: %d after %d", p.Shard, p.Seq, last[p.Shard])
		}
		last[p.Shard] = p.Seq
	}
	total := 0
	for _, sh := range s.Shards() {
		total += len(readAll(t, sh, sh.TrimHorizon()))
	}
	if total != 100 {
		t.Fatalf("read %d records, want 100", total)
	}
	st.Close()
	st = Open(dir, Options{})
	defer st.Close()
	s, err = st.OpenStream("trades", Config{Types: cols, Shards: 4, PartitionBy: 0})
	if err != nil {
		t.Fatal(err)
	}
	got := 0
	for _, sh := range s.Shards() {
		rs := readAll(t, sh, 1)
		for j, r := range rs {
			if j > 0 && r.Seq != rs[j-1].Seq+1 {
				t.Fatalf("gap after reopen: %d then %d", rs[j-1].Seq, r.Seq)
			}
		}
		got += len(rs)
		if sh.Latest() != last[sh.ID]+1 && len(rs) > 0 {
			t.Fatalf("shard %d latest %d, want %d", sh.ID, sh.Latest(), last[sh.ID]+1)
		}
	}
	if got != 100 {
		t.Fatalf("after reopen: %d records", got)
	}
}

func TestGroupCommitConcurrentWriters(t *testing.T) {
	st := Open(t.TempDir(), Options{})
	defer st.Close()
	s, _ := st.OpenStream("s", Config{Types: cols, Shards: 2, PartitionBy: -1})
	var wg sync.WaitGroup
	seen := sync.Map{}
	var dup atomic.Bool
	for w := 0; w < 16; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < 40; i++ {
				pos, err := s.Append([][]types.Datum{rec("x", float64(w*1000+i))})
				if err != nil {
					t.Error(err)
					return
				}
				if _, loaded := seen.LoadOrStore(pos[0], true); loaded {
					dup.Store(true)
				}
			}
		}(w)
	}
	wg.Wait()
	if dup.Load() {
		t.Fatal("two records got the same position")
	}
	n := 0
	for _, sh := range s.Shards() {
		n += len(readAll(t, sh, 1))
	}
	if n != 640 {
		t.Fatalf("%d records, want 640", n)
	}
}

func segFiles(t *testing.T, dir string) []string {
	m, _ := filepath.Glob(filepath.Join(dir, "*", "shard-*", "*.seg"))
	return m
}

// A torn tail and a corrupted byte in the middle of a segment are repaired
// at start-up; acknowledged records before the damage are all there.
func TestRecoveryFromDamage(t *testing.T) {
	dir := t.TempDir()
	st := Open(dir, Options{})
	s, _ := st.OpenStream("s", Config{Types: cols, Shards: 1, PartitionBy: -1})
	for i := 0; i < 30; i++ {
		if _, err := s.Append([][]types.Datum{rec("a", float64(i)), rec("b", float64(i))}); err != nil {
			t.Fatal(err)
		}
	}
	st.Close()
	seg := segFiles(t, dir)[0]
	info, _ := os.Stat(seg)
	// torn tail: half of the last frame
	os.Truncate(seg, info.Size()-20)
	st = Open(dir, Options{})
	s, _ = st.OpenStream("s", Config{Types: cols, Shards: 1, PartitionBy: -1})
	if n := len(readAll(t, s.Shards()[0], 1)); n != 58 {
		t.Fatalf("after torn tail: %d records, want 58", n)
	}
	if s.Stats()[0].RecoveredCut == 0 {
		t.Fatal("the cut tail was not reported")
	}
	st.Close()
	// one corrupted byte in the middle: that batch is skipped and reported,
	// everything after it is kept
	b, _ := os.ReadFile(seg)
	b[len(b)/2] ^= 0xff
	os.WriteFile(seg, b, 0o644)
	st = Open(dir, Options{})
	defer st.Close()
	s, _ = st.OpenStream("s", Config{Types: cols, Shards: 1, PartitionBy: -1})
	rs := readAll(t, s.Shards()[0], 1)
	if len(rs) != 56 || rs[len(rs)-1].Seq != 58 {
		t.Fatalf("after corruption: %d records, last %d", len(rs), rs[len(rs)-1].Seq)
	}
	if s.Stats()[0].RecoveredSkipped == 0 {
		t.Fatal("the skipped batch was not reported")
	}
	// and the shard keeps appending after the last good record
	pos, err := s.Append([][]types.Datum{rec("c", 1)})
	if err != nil || pos[0].Seq != 59 {
		t.Fatalf("append after repair: %v %v", pos, err)
	}
}

// faultFS injects short writes and fsync failures.
type faultFS struct {
	OSFS
	shortWrite, failSync atomic.Bool
}

type faultFile struct {
	File
	fs *faultFS
}

func (f *faultFS) OpenFile(name string, flag int, perm os.FileMode) (File, error) {
	file, err := f.OSFS.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err
	}
	return &faultFile{file, f}, nil
}

func (f *faultFile) Write(p []byte) (int, error) {
	if f.fs.shortWrite.Load() {
		n, _ := f.File.Write(p[:len(p)/2])
		return n, nil
	}
	return f.File.Write(p)
}

func (f *faultFile) Sync() error {
	if f.fs.failSync.Load() {
		return errors.New("injected fsync failure")
	}
	return f.File.Sync()
}

func TestWriteFaults(t *testing.T) {
	dir := t.TempDir()
	fs := &faultFS{}
	st := Open(dir, Options{FS: fs})
	s, _ := st.OpenStream("s", Config{Types: cols, Shards: 1, PartitionBy: -1})
	if _, err := s.Append([][]types.Datum{rec("ok", 1)}); err != nil {
		t.Fatal(err)
	}
	fs.shortWrite.Store(true)
	if _, err := s.Append([][]types.Datum{rec("short", 2)}); err == nil {
		t.Fatal("a short write was acknowledged")
	}
	fs.shortWrite.Store(false)
	fs.failSync.Store(true)
	if _, err := s.Append([][]types.Datum{rec("nosync", 3)}); err == nil {
		t.Fatal("an append whose fsync failed was acknowledged")
	}
	fs.failSync.Store(false)
	pos, err := s.Append([][]types.Datum{rec("ok2", 4)})
	if err != nil || pos[0].Seq != 2 {
		t.Fatalf("append after faults: %v %v", pos, err)
	}
	st.Close()
	st = Open(dir, Options{})
	defer st.Close()
	s, _ = st.OpenStream("s", Config{Types: cols, Shards: 1, PartitionBy: -1})
	rs := readAll(t, s.Shards()[0], 1)
	if len(rs) != 2 || rs[0].Row[0].S != "ok" || rs[1].Row[0].S != "ok2" {
		t.Fatalf("after faults and reopen: %+v", rs)
	}
}

func TestRetentionAndPositions(t *testing.T) {
	st := Open(t.TempDir(), Options{SegmentSize: 512})
	defer st.Close()
	s, _ := st.OpenStream("s", Config{Types: cols, Shards: 1, PartitionBy: -1, Retention: time.Hour})
	for i := 0; i < 40; i++ {
		s.Append([][]types.Datum{rec("x", float64(i))})
	}
	sh := s.Shards()[0]
	mid := time.Now().UnixMicro()
	time.Sleep(2 * time.Millisecond)
	for i := 40; i < 60; i++ {
		s.Append([][]types.Datum{rec("y", float64(i))})
	}
	if p := sh.AtTime(mid); p != 41 {
		t.Fatalf("AtTime: %d, want 41", p)
	}
	before := sh.Stats().Segments
	if err := s.EnforceRetention(time.Now().Add(2 * time.Hour)); err != nil {
		t.Fatal(err)
	}
	after := sh.Stats()
	if after.Segments != 0 || before < 3 || after.Records != 0 {
		t.Fatalf("segments %d → %d, %d records left", before, after.Segments, after.Records)
	}
	// sequence numbers go on after everything expired
	pos, err := s.Append([][]types.Datum{rec("z", 1)})
	if err != nil || pos[0].Seq != 61 {
		t.Fatalf("append after full expiry: %v %v", pos, err)
	}
	// a retention that keeps the newer segments: reading from an expired
	// position starts at the oldest kept record
	for i := 0; i < 40; i++ {
		s.Append([][]types.Datum{rec("w", float64(i))})
	}
	keepFrom := sh.Latest()
	time.Sleep(2 * time.Millisecond)
	cut := time.Now()
	for i := 0; i < 40; i++ {
		s.Append([][]types.Datum{rec("v", float64(i))})
	}
	if err := s.EnforceRetention(cut.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	rs := readAll(t, sh, 1)
	if len(rs) == 0 || rs[0].Seq != sh.TrimHorizon() || rs[0].Seq > keepFrom || rs[len(rs)-1].Seq != sh.Latest()-1 {
		t.Fatalf("after partial retention: %d records from %d (kept from %d)", len(rs), sh.TrimHorizon(), keepFrom)
	}
}

// Independent readers at different positions, and a reader waiting at the
// tail is woken by a new record.
func TestConsumers(t *testing.T) {
	st := Open(t.TempDir(), Options{})
	defer st.Close()
	s, _ := st.OpenStream("s", Config{Types: cols, Shards: 1, PartitionBy: -1})
	for i := 0; i < 10; i++ {
		s.Append([][]types.Datum{rec("x", float64(i))})
	}
	sh := s.Shards()[0]
	if n := len(readAll(t, sh, 1)); n != 10 {
		t.Fatal(n)
	}
	if n := len(readAll(t, sh, 6)); n != 5 {
		t.Fatal(n)
	}
	latest := sh.Latest()
	woke := make(chan time.Duration, 1)
	go func() {
		start := time.Now()
		if err := sh.Wait(context.Background(), latest); err == nil {
			woke <- time.Since(start)
		}
	}()
	time.Sleep(20 * time.Millisecond)
	sent := time.Now()
	s.Append([][]types.Datum{rec("new", 1)})
	select {
	case <-woke:
		if d := time.Since(sent); d > 200*time.Millisecond {
			t.Fatalf("woken after %v", d)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("tail reader not woken")
	}
	rs, _, _ := sh.Read(latest, 10)
	if len(rs) != 1 || rs[0].Row[0].S != "new" {
		t.Fatalf("%+v", rs)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	if err := sh.Wait(ctx, sh.Latest()); err == nil {
		t.Fatal("Wait returned without a new record")
	}
}
