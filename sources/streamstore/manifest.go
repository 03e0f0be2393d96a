package streamstore

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
)

// A shard's manifest is what its segment files cannot say about
// themselves. Without it a deleted segment would go unnoticed — a missing
// middle segment looks like records never written, a missing newest one
// makes the next append reuse acknowledged sequence numbers — and a torn
// multi-shard append could not be told from a complete one once the other
// shards' parts are gone. It is a small JSON file, replaced atomically
// (written aside, fsynced, renamed), and written only when something it
// records changes: a segment is created or trimmed, the sequence
// reservation runs out (once per reserveBlock records), a transaction
// aborts, or start-up finds damage.
type manifest struct {
	// Reserved: no sequence number at or above it was ever handed out, so
	// after a loss at the tail the shard goes on from here.
	Reserved uint64 `json:"reserved"`
	// Base is where the retained log starts: every sequence number below
	// it was trimmed by retention.
	Base uint64 `json:"base,omitempty"`
	// Segments are the first sequence numbers of the segment files.
	Segments []uint64 `json:"segments"`
	// TrimmedArrival is the newest arrival time among records retention
	// deleted: a transaction older than that may have lost a part to
	// retention, not to a crash.
	TrimmedArrival int64 `json:"trimmed_arrival,omitempty"`
	// ResolvedTxn: transactions up to it are known complete or aborted.
	ResolvedTxn uint64 `json:"resolved_txn,omitempty"`
	// Aborted are frames of transactions that did not complete: durable,
	// never acknowledged, never read.
	Aborted []seqRange `json:"aborted,omitempty"`
	// Lost are records that were acknowledged but are gone (a segment
	// deleted or damaged outside the store), as found at start-up.
	Lost []seqRange `json:"lost,omitempty"`
}

// seqRange is the sequence numbers [From, To).
type seqRange struct {
	From uint64 `json:"from"`
	To   uint64 `json:"to"`
}

func (r seqRange) n() uint64 { return r.To - r.From }

// reserveBlock is how far ahead of the last assigned sequence number the
// manifest reserves: a loss at the tail skips at most this many numbers.
const reserveBlock = 1 << 20

const manifestName = "MANIFEST"

// readManifest loads a shard's manifest; ok is false when it has none (a
// new shard, or one written before manifests existed).
func readManifest(fs FS, dir string) (m manifest, ok bool, err error) {
	f, err := fs.OpenFile(filepath.Join(dir, manifestName), os.O_RDONLY, 0)
	if os.IsNotExist(err) {
		return m, false, nil
	}
	if err != nil {
		return m, false, err
	}
	defer f.Close()
	size, err := f.Size()
	if err != nil {
		return m, false, err
	}
	b := make([]byte, size)
	if _, err := f.ReadAt(b, 0); err != nil && int64(len(b)) != size {
		return m, false, err
	}
	if err := json.Unmarshal(b, &m); err != nil {
		return m, false, fmt.Errorf("streamstore: corrupt manifest in %s: %w", dir, err)
	}
	return m, true, nil
}

// writeManifest replaces a shard's manifest durably (sync: fsync the file
// and the directory; derived streams skip that).
func writeManifest(fs FS, dir string, m *manifest, sync bool) error {
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	tmp := filepath.Join(dir, manifestName+".tmp")
	f, err := fs.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o644)
	if err != nil {
		return fmt.Errorf("streamstore: writing manifest: %w", err)
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return fmt.Errorf("streamstore: writing manifest: %w", err)
	}
	if sync {
		if err := f.Sync(); err != nil {
			f.Close()
			return fmt.Errorf("streamstore: writing manifest: %w", err)
		}
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("streamstore: writing manifest: %w", err)
	}
	if err := fs.Rename(tmp, filepath.Join(dir, manifestName), sync); err != nil {
		return fmt.Errorf("streamstore: writing manifest: %w", err)
	}
	return nil
}

// pruneRanges drops the parts of rs below from (trimmed by retention).
func pruneRanges(rs []seqRange, from uint64) []seqRange {
	out := rs[:0]
	for _, r := range rs {
		if r.To <= from {
			continue
		}
		r.From = max(r.From, from)
		out = append(out, r)
	}
	return out
}
