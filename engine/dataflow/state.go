package dataflow

import (
	"encoding/binary"
	"errors"
	"sort"
)

// State is the keyed state an operator keeps: byte keys (from
// OrderedKey) to byte values, scanned in key order. Implementations may
// keep it in memory or spill it; operators use only this interface.
// A State is owned by one goroutine.
type State interface {
	Get(key []byte) ([]byte, bool)
	Put(key, value []byte)
	Delete(key []byte)
	// Scan calls fn for each key in [from, to) in order (nil bounds are
	// open); fn must not modify the state.
	Scan(from, to []byte, fn func(key, value []byte) bool)
	Len() int
	// Snapshot and Restore copy the whole state, for checkpoints.
	Snapshot() []byte
	Restore(b []byte) error
}

// MemState is the in-memory State: a hash map, with the key order built
// when a scan needs it.
type MemState struct {
	m      map[string][]byte
	sorted []string
	dirty  bool
}

// NewMemState returns an empty in-memory state.
func NewMemState() *MemState { return &MemState{m: map[string][]byte{}} }

var _ State = (*MemState)(nil)

func (s *MemState) Get(key []byte) ([]byte, bool) {
	v, ok := s.m[string(key)]
	return v, ok
}

func (s *MemState) Put(key, value []byte) {
	if _, ok := s.m[string(key)]; !ok {
		s.dirty = true
	}
	s.m[string(key)] = value
}

func (s *MemState) Delete(key []byte) {
	if _, ok := s.m[string(key)]; ok {
		delete(s.m, string(key))
		s.dirty = true
	}
}

func (s *MemState) Len() int { return len(s.m) }

func (s *MemState) Scan(from, to []byte, fn func(key, value []byte) bool) {
	if s.dirty {
		s.sorted = s.sorted[:0]
		for k := range s.m {
			s.sorted = append(s.sorted, k)
		}
		sort.Strings(s.sorted)
		s.dirty = false
	}
	i := 0
	if from != nil {
		i = sort.SearchStrings(s.sorted, string(from))
	}
	for ; i < len(s.sorted); i++ {
		k := s.sorted[i]
		if to != nil && k >= string(to) {
			return
		}
		v, ok := s.m[k]
		if !ok {
			continue
		}
		if !fn([]byte(k), v) {
			return
		}
	}
}

func (s *MemState) Snapshot() []byte {
	var buf []byte
	s.Scan(nil, nil, func(k, v []byte) bool {
		buf = binary.AppendUvarint(buf, uint64(len(k)))
		buf = append(buf, k...)
		buf = binary.AppendUvarint(buf, uint64(len(v)))
		buf = append(buf, v...)
		return true
	})
	return buf
}

var errBadSnapshot = errors.New("dataflow: corrupt state snapshot")

func (s *MemState) Restore(b []byte) error {
	m := map[string][]byte{}
	for len(b) > 0 {
		n, k := binary.Uvarint(b)
		if k <= 0 || uint64(len(b)-k) < n {
			return errBadSnapshot
		}
		key := string(b[k : k+int(n)])
		b = b[k+int(n):]
		n, k = binary.Uvarint(b)
		if k <= 0 || uint64(len(b)-k) < n {
			return errBadSnapshot
		}
		m[key] = append([]byte(nil), b[k:k+int(n)]...)
		b = b[k+int(n):]
	}
	s.m, s.dirty = m, true
	return nil
}
