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
	generated bool // records computed by a Generator, not stored
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

// Append stores rows durably and returns each row's position. Rows of one
// call that land on the same shard are one batch: all or none of them.
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
	var wg sync.WaitGroup
	errs := make([]error, len(s.shards))
	for k, idx := range byShard {
		if len(idx) == 0 {
			continue
		}
		part := make([][]types.Datum, len(idx))
		for j, i := range idx {
			part[j] = rows[i]
		}
		wg.Add(1)
		go func(k int, idx []int, part [][]types.Datum) {
			defer wg.Done()
			first, err := s.shards[k].append(part, arrival)
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
