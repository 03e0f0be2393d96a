package flow

// A job's checkpoints: at a barrier every operator writes the entries of
// its state that changed since the previous checkpoint (a full
// checkpoint: all of them) into a state file, and a manifest names the
// files that make the state — the last full one and the deltas after it —
// next to the positions of every source the state reflects (stream
// shards' sequence numbers, the parents' changelog positions, the
// tables' change numbers), the watermarks, the sink's changelog end and
// _ts. A checkpoint is durable once its manifest is: the state file is
// written and fsynced, then the manifest is written to a temporary file,
// fsynced and renamed into place (the directory fsynced). The newest two
// manifests are kept, and the files they name; a torn or corrupt manifest
// or state file makes the restore fall back to the one before, and says
// so. When the deltas since the last full checkpoint outgrow it, the next
// checkpoint is full again (compaction).
//
// State file: "SSQLCKP2", then sections — uvarint section number (1 +
// node, or sinkSection), entries (1 put: key, value; 2 delete: key; each
// a uvarint length then the bytes), 0 — then 0, then the CRC-32C of all
// that (4 bytes, little endian). Manifest: a 4-byte length, JSON, its
// CRC-32C.

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/streamsql/streamsql/engine/dataflow"
	"github.com/streamsql/streamsql/sources/streamstore"
)

// CheckpointConfig says where a job keeps its checkpoints and how often
// it takes one.
type CheckpointConfig struct {
	FS  streamstore.FS // nil: the real file system
	Dir string         // the job's own directory
	// Interval between checkpoints (0: only when asked)
	Interval time.Duration
}

// CheckpointStats describe a job's checkpoints.
type CheckpointStats struct {
	ID         uint64        // the last one's (0: none yet)
	Time       time.Time     // when it was taken
	Duration   time.Duration // how long it took
	Bytes      int64         // what it wrote
	Full       bool          // it was a full one
	StateBytes int64         // the state's files on disk
	Failures   int64         // checkpoints that failed since the start
	LastError  string        // the last failure's reason
	// since the job started: checkpoints taken, what they wrote, how
	// long they took in all, and the longest
	Count         int64
	TotalBytes    int64
	TotalDuration time.Duration
	MaxDuration   time.Duration
	Restored      uint64 // the checkpoint the job started from (0: none)
	// RestoreNote says why the job did not start from its newest
	// checkpoint ("": it did, or there was none)
	RestoreNote string
}

const (
	stateMagic  = "SSQLCKP2"
	sinkSection = 1 << 30
	// deltas keep their full checkpoint until they are this many times
	// its size, or this many
	compactRatio = 3
	maxDeltas    = 64
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// ckptFile names a state file of a checkpoint.
type ckptFile struct {
	ID   uint64 `json:"id"`
	Size int64  `json:"size"`
	CRC  uint32 `json:"crc"`
}

// manifest is a checkpoint: its state files (the full one first) and the
// positions the state reflects.
type manifest struct {
	ID         uint64     `json:"id"`
	Time       int64      `json:"time"`
	Signature  string     `json:"signature"`
	Files      []ckptFile `json:"files"`
	Positions  []uint64   `json:"positions"` // stream shards' next records
	Views      []uint64   `json:"views"`     // parents' changelog positions applied
	Tables     []int64    `json:"tables"`    // tables' last changes applied
	Changelog  uint64     `json:"changelog"` // the sink's changelog end
	LastTS     int64      `json:"last_ts"`
	Watermarks [][]byte   `json:"watermarks"` // each stream source's tracker (nil: none)
	Graph      []byte     `json:"graph"`      // the graph's watermark state
	DurationUS int64      `json:"duration_us"`
	Bytes      int64      `json:"bytes"`
}

// ckptStore is a job's directory of checkpoints.
type ckptStore struct {
	fs  streamstore.FS
	dir string
	// the files of the last checkpoint, the full one first
	files  []ckptFile
	lastID uint64
	// the next one is full (none yet, deltas too large, a failure)
	full bool
	buf  []byte // state files' buffer, reused
}

func openCkptStore(cfg *CheckpointConfig) (*ckptStore, error) {
	fs := cfg.FS
	if fs == nil {
		fs = streamstore.OSFS{}
	}
	if err := fs.MkdirAll(cfg.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("checkpoints: %w", err)
	}
	return &ckptStore{fs: fs, dir: cfg.Dir, full: true}, nil
}

func (c *ckptStore) stateName(id uint64) string {
	return filepath.Join(c.dir, fmt.Sprintf("state-%020d", id))
}

func (c *ckptStore) manifestName(id uint64) string {
	return filepath.Join(c.dir, fmt.Sprintf("manifest-%020d", id))
}

// ids lists the ids of the files named prefix-<id>, newest first.
func (c *ckptStore) ids(prefix string) ([]uint64, error) {
	names, err := c.fs.ReadDir(c.dir)
	if err != nil {
		return nil, err
	}
	var out []uint64
	for _, n := range names {
		if rest, ok := strings.CutPrefix(n, prefix+"-"); ok {
			if id, err := strconv.ParseUint(rest, 10, 64); err == nil {
				out = append(out, id)
			}
		}
	}
	slices.Sort(out)
	slices.Reverse(out)
	return out, nil
}

func (c *ckptStore) readFile(name string) ([]byte, error) {
	f, err := c.fs.OpenFile(name, os.O_RDONLY, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	size, err := f.Size()
	if err != nil {
		return nil, err
	}
	buf := make([]byte, size)
	if _, err := f.ReadAt(buf, 0); err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	return buf, nil
}

// writeFile writes name durably: a temporary file, fsynced, renamed.
func (c *ckptStore) writeFile(name string, data []byte, syncDir bool) error {
	tmp := name + ".tmp"
	f, err := c.fs.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	n, err := f.Write(data)
	if err == nil && n != len(data) {
		err = io.ErrShortWrite
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = c.fs.Rename(tmp, name, syncDir)
	}
	if err != nil {
		_ = c.fs.Remove(tmp)
	}
	return err
}

// restored is a checkpoint read back: its manifest and each section's
// entries (the full checkpoint's merged with its deltas').
type restored struct {
	m        *manifest
	sections map[int][]dataflow.Entry
}

// load reads the newest checkpoint that is whole; note says why newer
// ones were passed over ("": none was).
func (c *ckptStore) load() (r *restored, note string, err error) {
	ids, err := c.ids("manifest")
	if err != nil {
		return nil, "", err
	}
	var notes []string
	for _, id := range ids {
		r, err := c.loadOne(id)
		if err == nil {
			c.files, c.lastID, c.full = r.m.Files, id, false
			return r, strings.Join(notes, "; "), nil
		}
		notes = append(notes, fmt.Sprintf("checkpoint %d unusable (%v)", id, err))
	}
	if len(ids) > 0 {
		c.lastID = ids[0]
	}
	return nil, strings.Join(notes, "; "), nil
}

func (c *ckptStore) loadOne(id uint64) (*restored, error) {
	data, err := c.readFile(c.manifestName(id))
	if err != nil {
		return nil, err
	}
	if len(data) < 8 || int(binary.LittleEndian.Uint32(data)) != len(data)-8 {
		return nil, errors.New("torn manifest")
	}
	body := data[4 : len(data)-4]
	if crc32.Checksum(body, castagnoli) != binary.LittleEndian.Uint32(data[len(data)-4:]) {
		return nil, errors.New("manifest checksum mismatch")
	}
	m := &manifest{}
	if err := json.Unmarshal(body, m); err != nil {
		return nil, fmt.Errorf("manifest: %w", err)
	}
	merged := map[int]map[string][]byte{}
	for _, f := range m.Files {
		data, err := c.readFile(c.stateName(f.ID))
		if err != nil {
			return nil, err
		}
		if int64(len(data)) != f.Size || crc32.Checksum(data, castagnoli) != f.CRC {
			return nil, fmt.Errorf("state file %d damaged", f.ID)
		}
		if err := readState(data, merged); err != nil {
			return nil, fmt.Errorf("state file %d: %w", f.ID, err)
		}
	}
	r := &restored{m: m, sections: map[int][]dataflow.Entry{}}
	for sec, kv := range merged {
		es := make([]dataflow.Entry, 0, len(kv))
		for k, v := range kv {
			es = append(es, dataflow.Entry{Key: []byte(k), Value: v})
		}
		r.sections[sec] = es
	}
	return r, nil
}

// readState merges a state file's entries into state.
func readState(data []byte, state map[int]map[string][]byte) error {
	if len(data) < len(stateMagic)+4 || string(data[:len(stateMagic)]) != stateMagic {
		return errors.New("not a state file")
	}
	p := data[len(stateMagic) : len(data)-4]
	uv := func() (uint64, bool) {
		v, n := binary.Uvarint(p)
		if n <= 0 {
			return 0, false
		}
		p = p[n:]
		return v, true
	}
	bytes := func() ([]byte, bool) {
		n, ok := uv()
		if !ok || n > uint64(len(p)) {
			return nil, false
		}
		b := p[:n]
		p = p[n:]
		return b, true
	}
	for {
		sec, ok := uv()
		if !ok {
			return errors.New("truncated")
		}
		if sec == 0 {
			return nil
		}
		kv := state[int(sec)]
		if kv == nil {
			kv = map[string][]byte{}
			state[int(sec)] = kv
		}
		for {
			if len(p) == 0 {
				return errors.New("truncated")
			}
			op := p[0]
			p = p[1:]
			if op == 0 {
				break
			}
			k, ok := bytes()
			if !ok {
				return errors.New("truncated")
			}
			switch op {
			case 1:
				v, ok := bytes()
				if !ok {
					return errors.New("truncated")
				}
				kv[string(k)] = v
			case 2:
				delete(kv, string(k))
			default:
				return fmt.Errorf("bad entry kind %d", op)
			}
		}
	}
}

// stateFile is a checkpoint's state file being written: entries go
// through a buffer into its temporary file as operators write them, so a
// checkpoint holds no more than the buffer in memory whatever it writes.
// The first error sticks and fails the checkpoint at commit.
type stateFile struct {
	c    *ckptStore
	id   uint64
	tmp  string
	file streamstore.File
	buf  []byte
	crc  uint32 // of what was flushed
	size int64  // bytes flushed
	cur  int    // the open section (0: none)
	err  error
}

// stateBufSize is what a state file buffers between writes.
const stateBufSize = 1 << 20

// create starts the next checkpoint's state file.
func (c *ckptStore) create() (*stateFile, error) {
	id := c.lastID + 1
	f := &stateFile{c: c, id: id, tmp: c.stateName(id) + ".tmp"}
	file, err := c.fs.OpenFile(f.tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o644)
	if err != nil {
		return nil, err
	}
	if c.buf == nil {
		c.buf = make([]byte, 0, stateBufSize)
	}
	f.file, f.buf = file, append(c.buf[:0], stateMagic...)
	return f, nil
}

// section starts section sec (ending the open one) and returns its writer.
func (f *stateFile) section(sec int) dataflow.StateWriter {
	f.end()
	f.buf = binary.AppendUvarint(f.buf, uint64(sec))
	f.cur = sec
	return f
}

func (f *stateFile) end() {
	if f.cur != 0 {
		f.buf = append(f.buf, 0)
		f.cur = 0
	}
}

// room makes room for n more bytes in the buffer, writing it out when
// it has not; it reports whether they fit.
func (f *stateFile) room(n int) bool {
	if len(f.buf)+n <= cap(f.buf) {
		return true
	}
	f.flush()
	return n <= cap(f.buf)
}

func (f *stateFile) flush() {
	if len(f.buf) == 0 {
		return
	}
	f.crc = crc32.Update(f.crc, castagnoli, f.buf)
	if f.err == nil {
		var n int
		n, f.err = f.file.Write(f.buf)
		if f.err == nil && n != len(f.buf) {
			f.err = io.ErrShortWrite
		}
	}
	f.size += int64(len(f.buf))
	f.buf = f.buf[:0]
}

// bytes appends p, through the buffer or, when p is larger, past it.
func (f *stateFile) bytes(p []byte) {
	if f.room(len(p)) {
		f.buf = append(f.buf, p...)
		return
	}
	f.crc = crc32.Update(f.crc, castagnoli, p)
	if f.err == nil {
		_, f.err = f.file.Write(p)
	}
	f.size += int64(len(p))
}

func (f *stateFile) Put(key, value []byte) {
	const head = 1 + 2*binary.MaxVarintLen64
	if f.room(head + len(key) + len(value)) {
		f.buf = append(f.buf, 1)
		f.buf = binary.AppendUvarint(f.buf, uint64(len(key)))
		f.buf = append(f.buf, key...)
		f.buf = binary.AppendUvarint(f.buf, uint64(len(value)))
		f.buf = append(f.buf, value...)
		return
	}
	f.buf = append(f.buf, 1)
	f.buf = binary.AppendUvarint(f.buf, uint64(len(key)))
	f.bytes(key)
	f.room(binary.MaxVarintLen64)
	f.buf = binary.AppendUvarint(f.buf, uint64(len(value)))
	f.bytes(value)
}

func (f *stateFile) Delete(key []byte) {
	f.room(1 + binary.MaxVarintLen64)
	f.buf = append(f.buf, 2)
	f.buf = binary.AppendUvarint(f.buf, uint64(len(key)))
	f.bytes(key)
}

// finish ends the file — the last section, the end mark, the checksum —
// and makes it durable under its name; it returns its size and CRC.
func (f *stateFile) finish() (int64, uint32, error) {
	f.end()
	f.room(1)
	f.buf = append(f.buf, 0)
	f.flush()
	f.buf = binary.LittleEndian.AppendUint32(f.buf, f.crc)
	f.flush()
	if f.err == nil {
		f.err = f.file.Sync()
	}
	if err := f.file.Close(); f.err == nil {
		f.err = err
	}
	f.file = nil
	if f.err == nil {
		f.err = f.c.fs.Rename(f.tmp, f.c.stateName(f.id), false)
	}
	if f.err != nil {
		_ = f.c.fs.Remove(f.tmp)
	}
	return f.size, f.crc, f.err
}

// abort drops an unfinished file.
func (f *stateFile) abort() {
	if f.file != nil {
		_ = f.file.Close()
		f.file = nil
		_ = f.c.fs.Remove(f.tmp)
	}
}

// commit writes a checkpoint: its state file, then its manifest. A full
// one starts a new chain of files; a delta adds to the last one's. Then
// what no kept manifest names is removed.
func (c *ckptStore) commit(f *stateFile, m *manifest, full bool) (int64, error) {
	id := f.id
	size, crc, err := f.finish()
	if err != nil {
		c.full = true
		return 0, err
	}
	file := ckptFile{ID: id, Size: size, CRC: crc}
	files := []ckptFile{file}
	if !full {
		files = append(slices.Clone(c.files), file)
	}
	m.ID, m.Files = id, files
	body, err := json.Marshal(m)
	if err != nil {
		return 0, err
	}
	var man bytes.Buffer
	man.Write(binary.LittleEndian.AppendUint32(nil, uint32(len(body))))
	man.Write(body)
	man.Write(binary.LittleEndian.AppendUint32(nil, crc32.Checksum(body, castagnoli)))
	if err := c.writeFile(c.manifestName(id), man.Bytes(), true); err != nil {
		c.full = true
		_ = c.fs.Remove(c.stateName(id))
		return 0, err
	}
	c.files, c.lastID = files, id
	// the next is full once the deltas outweigh the full one
	var base, deltas int64
	for i, f := range files {
		if i == 0 {
			base = f.Size
		} else {
			deltas += f.Size
		}
	}
	c.full = deltas > compactRatio*base || len(files) > maxDeltas
	c.collect()
	return size + int64(man.Len()), nil
}

// collect removes the manifests but the newest two, and the state files
// they do not name.
func (c *ckptStore) collect() {
	mids, err := c.ids("manifest")
	if err != nil {
		return
	}
	keep := map[uint64]bool{}
	for i, id := range mids {
		if i >= 2 {
			_ = c.fs.Remove(c.manifestName(id))
			continue
		}
		if r, err := c.readManifest(id); err == nil {
			for _, f := range r.Files {
				keep[f.ID] = true
			}
		}
	}
	sids, err := c.ids("state")
	if err != nil {
		return
	}
	for _, id := range sids {
		if !keep[id] && id < c.lastID {
			_ = c.fs.Remove(c.stateName(id))
		}
	}
}

// readManifest reads manifest id alone (no state files).
func (c *ckptStore) readManifest(id uint64) (*manifest, error) {
	data, err := c.readFile(c.manifestName(id))
	if err != nil || len(data) < 8 {
		return nil, fmt.Errorf("manifest %d: %v", id, err)
	}
	m := &manifest{}
	return m, json.Unmarshal(data[4:len(data)-4], m)
}

// stateBytes is the size of the last checkpoint's files.
func (c *ckptStore) stateBytes() int64 {
	var n int64
	for _, f := range c.files {
		n += f.Size
	}
	return n
}
