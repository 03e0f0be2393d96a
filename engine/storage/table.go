package storage

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"sync"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/streamsql/streamsql/engine/exec"
	"github.com/streamsql/streamsql/engine/expr"
	"github.com/streamsql/streamsql/sqlerr"
	"github.com/streamsql/streamsql/types"
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Row is one table row.
type Row []types.Datum

// Table is the rows of one TABLE. Reads take a snapshot of Arrow batches;
// writes go through Apply, which logs the change durably first.
type Table struct {
	mu      sync.RWMutex
	types   []types.T
	pk      []int
	path    string
	log     logFile
	ids     []int64
	rows    []Row // nil entries are deleted
	pos     map[int64]int
	pkIndex map[string]int64
	nextID  int64
	dead    int
	snap    []arrow.RecordBatch
	// lsn numbers the changes: the number applied since the table was
	// made (its log's records)
	lsn int64
	// watchers see every applied change, in commit order (see Watch)
	watchers map[int]WatchFunc
	nextW    int
}

// WatchFunc takes a committed change: its lsn, the rows it deleted and
// those it inserted.
type WatchFunc func(lsn int64, deleted, inserted []Row)

// Watch calls fn with the rows each later change deletes and inserts,
// synchronously and in commit order (fn must be quick: it runs under the
// table's lock), and returns the rows at that moment and the lsn of the
// last change they reflect — so that a reader of the snapshot plus the
// changes misses nothing and sees nothing twice. The returned function
// stops the watching.
func (t *Table) Watch(fn WatchFunc) ([]Row, int64, func()) {
	t.mu.Lock()
	defer t.mu.Unlock()
	var rows []Row
	for _, r := range t.rows {
		if r != nil {
			rows = append(rows, r)
		}
	}
	return rows, t.lsn, t.watch(fn)
}

// ErrNoHistory: a table kept in memory only has no log to read its
// changes back from.
var ErrNoHistory = errors.New("storage: the table keeps no log of its changes")

// WatchFrom is Watch for a reader that has the table as of lsn from: it
// returns every change after from, read back from the table's log, then
// calls fn with each later one. The rows of a change are those it
// deleted and inserted, as a watcher saw them.
func (t *Table) WatchFrom(from int64, fn WatchFunc) ([]LoggedChange, func(), error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.path == "" {
		return nil, nil, ErrNoHistory
	}
	if from > t.lsn {
		return nil, nil, fmt.Errorf("storage: change %d of a table that has %d", from, t.lsn)
	}
	var out []LoggedChange
	if from < t.lsn {
		f, err := os.Open(t.path)
		if err != nil {
			return nil, nil, fmt.Errorf("storage: reading the table's log: %w", err)
		}
		defer f.Close()
		// the table rebuilt from its log, change by change, tells what
		// each deleted
		past := &Table{types: t.types, pk: t.pk, pos: map[int64]int{}, nextID: 1}
		if t.pkIndex != nil {
			past.pkIndex = map[string]int64{}
		}
		past.watch(func(lsn int64, deleted, inserted []Row) {
			if lsn > from {
				out = append(out, LoggedChange{LSN: lsn, Deleted: deleted, Inserted: inserted})
			}
		})
		if _, err := past.replay(f); err != nil {
			return nil, nil, err
		}
		if past.lsn != t.lsn {
			return nil, nil, fmt.Errorf("storage: the table's log holds %d changes, the table %d", past.lsn, t.lsn)
		}
	}
	return out, t.watch(fn), nil
}

// LoggedChange is one committed change read back from a table's log.
type LoggedChange struct {
	LSN               int64
	Deleted, Inserted []Row
}

// watch registers fn; callers hold t.mu.
func (t *Table) watch(fn WatchFunc) func() {
	if t.watchers == nil {
		t.watchers = map[int]WatchFunc{}
	}
	id := t.nextW
	t.nextW++
	t.watchers[id] = fn
	return func() {
		t.mu.Lock()
		delete(t.watchers, id)
		t.mu.Unlock()
	}
}

// LSN is the number of the last change applied.
func (t *Table) LSN() int64 {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return t.lsn
}

// logFile is a table's open log; tests replace openLog to inject faults.
type logFile interface {
	io.ReadWriteSeeker
	Sync() error
	Truncate(size int64) error
	Stat() (os.FileInfo, error)
	Close() error
}

var openLog = func(path string) (logFile, error) {
	return os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
}

// Change is one statement's effect on a table.
type Change struct {
	Truncate bool
	Deletes  []int64
	Inserts  []Row
}

// Open loads (or creates) the table whose log is at path ("" for memory only).
func Open(path string, ts []types.T, pk []int) (*Table, error) {
	t := &Table{types: ts, pk: pk, path: path, pos: map[int64]int{}, nextID: 1}
	if len(pk) > 0 {
		t.pkIndex = map[string]int64{}
	}
	if path == "" {
		return t, nil
	}
	f, err := openLog(path)
	if err != nil {
		return nil, fmt.Errorf("storage: %w", err)
	}
	good, err := t.replay(f)
	if err != nil {
		f.Close()
		return nil, err
	}
	if st, err := f.Stat(); err == nil && st.Size() > good {
		// a torn tail from a crash: cut it off
		if err := f.Truncate(good); err != nil {
			f.Close()
			return nil, fmt.Errorf("storage: truncating torn log tail: %w", err)
		}
	}
	if _, err := f.Seek(good, io.SeekStart); err != nil {
		f.Close()
		return nil, err
	}
	t.log = f
	return t, nil
}

// Close closes the log.
func (t *Table) Close() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.dropSnap()
	if t.log != nil {
		err := t.log.Close()
		t.log = nil
		return err
	}
	return nil
}

// Remove closes the table and deletes its log.
func (t *Table) Remove() error {
	t.Close()
	if t.path != "" {
		return os.Remove(t.path)
	}
	return nil
}

func (t *Table) replay(f io.Reader) (int64, error) {
	r := bufio.NewReaderSize(f, 1<<20)
	var off int64
	hdr := make([]byte, 8)
	for {
		if _, err := io.ReadFull(r, hdr); err != nil {
			return off, nil
		}
		n := binary.LittleEndian.Uint32(hdr)
		sum := binary.LittleEndian.Uint32(hdr[4:])
		if n > 1<<30 {
			return off, nil
		}
		payload := make([]byte, n)
		if _, err := io.ReadFull(r, payload); err != nil {
			return off, nil
		}
		if crc32.Checksum(payload, castagnoli) != sum {
			return off, nil
		}
		ch, ids, err := t.decode(payload)
		if err != nil {
			return off, nil
		}
		t.apply(ch, ids)
		off += 8 + int64(n)
	}
}

// Types returns the column types.
func (t *Table) Types() []types.T { return t.types }

// PrimaryKey returns the primary key column indexes.
func (t *Table) PrimaryKey() []int { return t.pk }

// Len returns the number of live rows.
func (t *Table) Len() int {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return len(t.pos)
}

// KeyOf encodes the primary key of a row.
func (t *Table) KeyOf(r Row) string {
	var buf []byte
	for _, c := range t.pk {
		buf = exec.AppendKey(buf, t.types[c], r[c])
	}
	return string(buf)
}

// LookupKey returns the row id and row with the given primary key.
func (t *Table) LookupKey(key string) (int64, Row, bool) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	id, ok := t.pkIndex[key]
	if !ok {
		return 0, nil, false
	}
	return id, t.rows[t.pos[id]], true
}

// Rows calls f for every live row in insertion order with its row id, under
// the read lock; f must not call back into the table.
func (t *Table) Rows(f func(id int64, r Row) bool) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	for i, r := range t.rows {
		if r != nil && !f(t.ids[i], r) {
			return
		}
	}
}

// Apply logs ch durably and then applies it. It checks primary-key
// uniqueness (23505) and NOT NULL on keys before anything is written: a
// statement is applied whole or not at all.
func (t *Table) Apply(ch Change) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.pk) > 0 {
		deleted := map[int64]bool{}
		for _, id := range ch.Deletes {
			deleted[id] = true
		}
		seen := map[string]bool{}
		for _, r := range ch.Inserts {
			for _, c := range t.pk {
				if r[c].Null {
					return sqlerr.New(sqlerr.NotNullViolation, "null value in column of primary key violates not-null constraint")
				}
			}
			k := t.KeyOf(r)
			if seen[k] {
				return sqlerr.New(sqlerr.UniqueViolation, "duplicate key value violates unique constraint").WithDetail(fmt.Sprintf("Key %s already exists.", t.keyText(r)))
			}
			seen[k] = true
			if id, ok := t.pkIndex[k]; ok && !deleted[id] && !ch.Truncate {
				return sqlerr.New(sqlerr.UniqueViolation, "duplicate key value violates unique constraint").WithDetail(fmt.Sprintf("Key %s already exists.", t.keyText(r)))
			}
		}
	}
	ids := make([]int64, len(ch.Inserts))
	for i := range ids {
		ids[i] = t.nextID + int64(i)
	}
	if t.log != nil {
		payload, err := t.encode(ch, ids)
		if err != nil {
			return err
		}
		hdr := make([]byte, 8, 8+len(payload))
		binary.LittleEndian.PutUint32(hdr, uint32(len(payload)))
		binary.LittleEndian.PutUint32(hdr[4:], crc32.Checksum(payload, castagnoli))
		end, err := t.log.Seek(0, io.SeekCurrent)
		if err != nil {
			return sqlerr.New(sqlerr.IOError, "could not write table log: %v", err)
		}
		// a failed write or fsync leaves nothing behind: a torn record in
		// the middle of the log would stop the replay of every later one
		undo := func() {
			_ = t.log.Truncate(end)
			_, _ = t.log.Seek(end, io.SeekStart)
		}
		if _, err := t.log.Write(append(hdr, payload...)); err != nil {
			undo()
			return sqlerr.New(sqlerr.IOError, "could not write table log: %v", err)
		}
		if err := t.log.Sync(); err != nil {
			undo()
			return sqlerr.New(sqlerr.IOError, "could not fsync table log: %v", err)
		}
	}
	t.apply(ch, ids)
	return nil
}

func (t *Table) keyText(r Row) string {
	s := "("
	for i, c := range t.pk {
		if i > 0 {
			s += ", "
		}
		s += types.FormatText(t.types[c], r[c], nil)
	}
	return s + ")"
}

func (t *Table) apply(ch Change, ids []int64) {
	t.dropSnap()
	t.lsn++
	if len(t.watchers) > 0 {
		var deleted []Row
		if ch.Truncate {
			for _, r := range t.rows {
				if r != nil {
					deleted = append(deleted, r)
				}
			}
		} else {
			for _, id := range ch.Deletes {
				if p, ok := t.pos[id]; ok {
					deleted = append(deleted, t.rows[p])
				}
			}
		}
		for _, fn := range t.watchers {
			fn(t.lsn, deleted, ch.Inserts)
		}
	}
	if ch.Truncate {
		t.ids, t.rows, t.pos, t.dead = nil, nil, map[int64]int{}, 0
		if t.pkIndex != nil {
			t.pkIndex = map[string]int64{}
		}
	}
	for _, id := range ch.Deletes {
		p, ok := t.pos[id]
		if !ok {
			continue
		}
		if t.pkIndex != nil {
			delete(t.pkIndex, t.KeyOf(t.rows[p]))
		}
		t.rows[p] = nil
		delete(t.pos, id)
		t.dead++
	}
	for i, r := range ch.Inserts {
		id := ids[i]
		t.pos[id] = len(t.rows)
		t.ids = append(t.ids, id)
		t.rows = append(t.rows, r)
		if t.pkIndex != nil {
			t.pkIndex[t.KeyOf(r)] = id
		}
		if id >= t.nextID {
			t.nextID = id + 1
		}
	}
	if t.dead > 1024 && t.dead > len(t.pos) {
		t.compact()
	}
}

func (t *Table) compact() {
	ids := make([]int64, 0, len(t.pos))
	rows := make([]Row, 0, len(t.pos))
	for i, r := range t.rows {
		if r != nil {
			t.pos[t.ids[i]] = len(rows)
			ids = append(ids, t.ids[i])
			rows = append(rows, r)
		}
	}
	t.ids, t.rows, t.dead = ids, rows, 0
}

func (t *Table) dropSnap() {
	for _, b := range t.snap {
		b.Release()
	}
	t.snap = nil
}

// Snapshot returns the live rows as Arrow batches plus a parallel slice of
// row ids; the caller releases the batches.
func (t *Table) Snapshot(mem memory.Allocator) ([]arrow.RecordBatch, [][]int64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	var idsOut [][]int64
	if t.snap == nil {
		var cur []Row
		var curIDs []int64
		flush := func() {
			if len(cur) == 0 {
				return
			}
			// the snapshot outlives the statement: Go-managed memory
			t.snap = append(t.snap, expr.BatchFromRows(memory.DefaultAllocator, t.types, cur))
			cur = nil
		}
		for i, r := range t.rows {
			if r == nil {
				continue
			}
			cur = append(cur, r)
			curIDs = append(curIDs, t.ids[i])
			if len(cur) == exec.BatchSize {
				flush()
			}
		}
		flush()
		if t.snap == nil {
			t.snap = []arrow.RecordBatch{}
		}
	}
	// row ids in the same chunking
	var ids []int64
	for i, r := range t.rows {
		if r != nil {
			ids = append(ids, t.ids[i])
		}
	}
	for start := 0; start < len(ids); start += exec.BatchSize {
		idsOut = append(idsOut, ids[start:min(start+exec.BatchSize, len(ids))])
	}
	out := make([]arrow.RecordBatch, len(t.snap))
	for i, b := range t.snap {
		b.Retain()
		out[i] = b
	}
	return out, idsOut
}

func (t *Table) encode(ch Change, ids []int64) ([]byte, error) {
	var buf []byte
	flags := byte(0)
	if ch.Truncate {
		flags = 1
	}
	buf = append(buf, flags)
	buf = binary.LittleEndian.AppendUint32(buf, uint32(len(ch.Deletes)))
	for _, id := range ch.Deletes {
		buf = binary.LittleEndian.AppendUint64(buf, uint64(id))
	}
	buf = binary.LittleEndian.AppendUint32(buf, uint32(len(ch.Inserts)))
	for i, r := range ch.Inserts {
		buf = binary.LittleEndian.AppendUint64(buf, uint64(ids[i]))
		var err error
		if buf, err = types.AppendRow(buf, t.types, r); err != nil {
			return nil, err
		}
	}
	return buf, nil
}

var errCorrupt = errors.New("storage: corrupt record")

func (t *Table) decode(p []byte) (Change, []int64, error) {
	var ch Change
	if len(p) < 5 {
		return ch, nil, errCorrupt
	}
	ch.Truncate = p[0]&1 != 0
	p = p[1:]
	nd := int(binary.LittleEndian.Uint32(p))
	p = p[4:]
	if len(p) < nd*8+4 {
		return ch, nil, errCorrupt
	}
	for i := 0; i < nd; i++ {
		ch.Deletes = append(ch.Deletes, int64(binary.LittleEndian.Uint64(p)))
		p = p[8:]
	}
	ni := int(binary.LittleEndian.Uint32(p))
	p = p[4:]
	ids := make([]int64, 0, ni)
	for i := 0; i < ni; i++ {
		if len(p) < 8 {
			return ch, nil, errCorrupt
		}
		ids = append(ids, int64(binary.LittleEndian.Uint64(p)))
		r, rest, err := types.DecodeRow(t.types, p[8:])
		if err != nil {
			return ch, nil, err
		}
		p = rest
		ch.Inserts = append(ch.Inserts, r)
	}
	return ch, ids, nil
}
