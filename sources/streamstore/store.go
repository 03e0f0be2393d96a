package streamstore

import (
	"errors"
	"fmt"
	"hash/fnv"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/streamsql/streamsql/types"
)

// Options configure a store.
type Options struct {
	FS FS
	// SegmentSize is the size at which a shard rolls to a new segment file.
	SegmentSize int64
	// NoSync skips fsync: appends are acknowledged once written to the OS.
	// Only for tests and benchmarks that measure something else.
	NoSync bool
}

// Store holds the streams of a data directory.
type Store struct {
	dir  string
	opts Options
	mu   sync.Mutex
	strs map[string]*Stream
}

// Config describes a stream.
type Config struct {
	Types []types.T
	// Shards is the number of shards (at least 1).
	Shards int
	// PartitionBy is the column whose value picks the shard; -1 for round robin.
	PartitionBy int
	// Retention: records older than this are deleted with their segment (0: forever).
	Retention time.Duration
	// NoSync: this stream's appends skip fsync (derived data that can be
	// rebuilt), whatever the store's option.
	NoSync bool
}

// Open returns the store rooted at dir.
func Open(dir string, opts Options) *Store {
	if opts.FS == nil {
		opts.FS = OSFS{}
	}
	if opts.SegmentSize <= 0 {
		opts.SegmentSize = 64 << 20
	}
	return &Store{dir: dir, opts: opts, strs: map[string]*Stream{}}
}

// Stream is a named, sharded log.
type Stream struct {
	Name      string
	cfg       Config
	shards    []*Shard
	rr        atomic.Uint64
	generated bool          // records computed by a Generator, not stored
	txns      atomic.Uint64 // the last transaction id handed out
}

// OpenStream opens (creating when new) the stream stored under key.
func (st *Store) OpenStream(key string, cfg Config) (*Stream, error) {
	if cfg.Shards < 1 {
		cfg.Shards = 1
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	if s, ok := st.strs[key]; ok {
		return s, nil
	}
	s := &Stream{Name: key, cfg: cfg}
	for i := 0; i < cfg.Shards; i++ {
		sh, err := openShard(st.opts.FS, filepath.Join(st.dir, key, fmt.Sprintf("shard-%04d", i)), i, cfg.Types, st.opts.SegmentSize, st.opts.NoSync || cfg.NoSync)
		if err != nil {
			for _, o := range s.shards {
				o.close()
			}
			return nil, err
		}
		s.shards = append(s.shards, sh)
	}
	if err := s.resolveTxns(); err != nil {
		s.close()
		return nil, err
	}
	st.strs[key] = s
	return s, nil
}

// Drop closes a stream and deletes its data.
func (st *Store) Drop(key string) error {
	st.mu.Lock()
	s, ok := st.strs[key]
	delete(st.strs, key)
	st.mu.Unlock()
	if ok && s.generated {
		return nil
	}
	if ok {
		s.close()
	}
	return st.opts.FS.RemoveAll(filepath.Join(st.dir, key))
}

// Close closes every stream.
func (st *Store) Close() {
	st.mu.Lock()
	defer st.mu.Unlock()
	for k, s := range st.strs {
		s.close()
		delete(st.strs, k)
	}
}

func (s *Stream) close() {
	if s.generated {
		return
	}
	for _, sh := range s.shards {
		sh.close()
	}
}

// Shards returns the stream's shards.
func (s *Stream) Shards() []*Shard { return s.shards }

// Position is where a record is: its shard and sequence number.
type Position struct {
	Shard int
	Seq   uint64
}

// shardFor routes a row: a hash of the partition key, or round robin.
func (s *Stream) shardFor(row []types.Datum) int {
	n := len(s.shards)
	if n == 1 {
		return 0
	}
	if s.cfg.PartitionBy < 0 {
		return int(s.rr.Add(1) % uint64(n))
	}
	d := row[s.cfg.PartitionBy]
	h := fnv.New64a()
	if d.Null {
		h.Write([]byte{0})
	} else {
		b, _ := types.AppendBinary(nil, s.cfg.Types[s.cfg.PartitionBy], d)
		h.Write(b)
	}
	return int(h.Sum64() % uint64(n))
}

// ErrSchema reports a row of the wrong width.
var ErrSchema = errors.New("streamstore: row does not match the stream's columns")

// Append stores rows durably and returns each row's position: all of
// them or, with an error, none — also across a crash. Rows that land on
// several shards are one transaction: each shard's part is one frame that
// names the transaction and the shards with a part, and it becomes
// visible only once every part is durable; a part that fails aborts them
// all, and start-up voids the parts of a transaction that did not
// complete (resolveTxns).
func (s *Stream) Append(rows [][]types.Datum) ([]Position, error) {
	if s.generated {
		return nil, ErrGenerated
	}
	for _, r := range rows {
		if len(r) != len(s.cfg.Types) {
			return nil, ErrSchema
		}
	}
	arrival := time.Now().UnixMicro()
	byShard := make([][]int, len(s.shards))
	for i, r := range rows {
		k := s.shardFor(r)
		byShard[k] = append(byShard[k], i)
	}
	out := make([]Position, len(rows))
	var t *txn
	for k, idx := range byShard {
		if len(idx) == 0 {
			continue
		}
		if t == nil {
			t = &txn{}
		}
		t.parts = append(t.parts, uint16(k))
		t.shards = append(t.shards, s.shards[k])
	}
	if t == nil {
		return out, nil
	}
	if len(t.parts) == 1 {
		t = nil // one shard: one frame, atomic by itself
	} else {
		t.id, t.left = s.txns.Add(1), len(t.parts)
	}
	var wg sync.WaitGroup
	errs := make([]error, len(s.shards))
	for k, idx := range byShard {
		if len(idx) == 0 {
			continue
		}
		part := datumRows{ts: s.cfg.Types, rows: make([][]types.Datum, len(idx))}
		for j, i := range idx {
			part.rows[j] = rows[i]
		}
		wg.Add(1)
		go func(k int, idx []int, part Records) {
			defer wg.Done()
			first, err := s.shards[k].append(part, arrival, t)
			if err != nil {
				errs[k] = err
				return
			}
			for j, i := range idx {
				out[i] = Position{Shard: k, Seq: first + uint64(j)}
			}
		}(k, idx, part)
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// Records are rows to append, encoded as they are written: Len rows,
// each appended to buf by AppendRecord in the rows' encoding
// (types.AppendRow), so that a writer holding rows as columns encodes
// them straight from there.
type Records interface {
	Len() int
	AppendRecord(buf []byte, i int) ([]byte, error)
}

// datumRows are rows of values as Records.
type datumRows struct {
	ts   []types.T
	rows [][]types.Datum
}

func (d datumRows) Len() int { return len(d.rows) }
func (d datumRows) AppendRecord(buf []byte, i int) ([]byte, error) {
	return types.AppendRow(buf, d.ts, d.rows[i])
}

// AppendRecords appends records to a stream of one shard, durably, and
// returns the sequence number of the first.
func (s *Stream) AppendRecords(recs Records) (uint64, error) {
	if s.generated {
		return 0, ErrGenerated
	}
	if len(s.shards) != 1 {
		return 0, fmt.Errorf("streamstore: AppendRecords needs a stream of one shard, %s has %d", s.Name, len(s.shards))
	}
	if recs.Len() == 0 {
		return s.shards[0].Latest(), nil
	}
	return s.shards[0].append(recs, time.Now().UnixMicro(), nil)
}

// Sync makes every record appended so far durable: for a stream whose
// appends skip fsync (NoSync), before something is recorded as depending
// on them.
func (s *Stream) Sync() error {
	for _, sh := range s.shards {
		if err := sh.sync(); err != nil {
			return err
		}
	}
	return nil
}

// EnforceRetention deletes segments older than the retention at now.
func (s *Stream) EnforceRetention(now time.Time) error {
	if s.cfg.Retention <= 0 || s.generated {
		return nil
	}
	cutoff := now.Add(-s.cfg.Retention).UnixMicro()
	var first error
	for _, sh := range s.shards {
		if err := sh.trim(cutoff); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// Stats reports every shard.
func (s *Stream) Stats() []ShardStats {
	out := make([]ShardStats, len(s.shards))
	for i, sh := range s.shards {
		out[i] = sh.Stats()
	}
	return out
}

// txn is a multi-shard append in flight: it resolves when every part has
// reported, failed if one failed.
type txn struct {
	id     uint64
	parts  []uint16 // the shards with a part
	shards []*Shard
	mu     sync.Mutex
	left   int
	err    error
}

// report records that one part is durable (err nil) or failed; the last
// report makes every part's shard look at its pending frames again.
func (t *txn) report(err error) {
	t.mu.Lock()
	if err != nil && t.err == nil {
		t.err = err
	}
	t.left--
	done := t.left == 0
	t.mu.Unlock()
	if done {
		for _, sh := range t.shards {
			sh.resolve()
		}
	}
}

func (t *txn) isResolved() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.left == 0
}

func (t *txn) failed() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.err != nil {
		return fmt.Errorf("streamstore: another shard's part of this append failed: %w", t.err)
	}
	return nil
}

// resolveTxns decides, at start-up, the transactions the manifests have
// not resolved yet: one whose part is missing from a shard it names (a
// crash between the parts' writes) is aborted, its other parts voided
// and the abort recorded. A part older than what retention has deleted
// from a shard may have gone with it, so such a transaction counts as
// complete: an incomplete one is always resolved at the first start after
// the crash, before retention runs.
func (s *Stream) resolveTxns() error {
	type key struct {
		txn     uint64
		arrival int64
	}
	has := make([]map[key]bool, len(s.shards))
	var high uint64
	for i, sh := range s.shards {
		has[i] = map[key]bool{}
		high = max(high, sh.man.ResolvedTxn)
		for _, seg := range sh.segs {
			for _, f := range seg.frames {
				if f.txn != 0 {
					high = max(high, f.txn)
					if f.txn > sh.man.ResolvedTxn {
						has[i][key{f.txn, f.arrival}] = true
					}
				}
			}
		}
	}
	s.txns.Store(high)
	for i, sh := range s.shards {
		var aborted []seqRange
		for _, seg := range sh.segs {
			for k := range seg.frames {
				f := &seg.frames[k]
				if f.txn == 0 || f.txn <= sh.man.ResolvedTxn || f.aborted {
					continue
				}
				complete := true
				for _, p := range f.parts {
					j := int(p)
					if j == i {
						continue
					}
					if j >= len(s.shards) {
						complete = false
						break
					}
					if !has[j][key{f.txn, f.arrival}] && f.arrival > s.shards[j].man.TrimmedArrival {
						complete = false
						break
					}
				}
				if !complete {
					f.aborted = true
					sh.records -= int64(f.count)
					aborted = append(aborted, seqRange{f.firstSeq, f.lastSeq() + 1})
				}
			}
		}
		if len(aborted) > 0 || sh.man.ResolvedTxn < high {
			if err := sh.saveManifest(func(m *manifest) {
				m.Aborted = append(m.Aborted, aborted...)
				m.ResolvedTxn = high
			}); err != nil {
				return err
			}
		}
	}
	return nil
}
