package planner

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/streamsql/streamsql/catalog"
	"github.com/streamsql/streamsql/sources/streamstore"
	"github.com/streamsql/streamsql/sqlerr"
	"github.com/streamsql/streamsql/types"
)

// A materialized view's changelog is kept in the stream store (a
// one-shard stream, not fsynced: it is derived data), so that a
// subscriber can resume from a _ts it saw, and a subscriber that fell
// behind the in-memory log catches up from disk.
//
// Records are (_ts, _diff, _pos, columns...): the consolidated changes of
// each batch, then a marker (_diff 0, _pos set) holding the source
// positions the changes reflect. Changes and marker are written in one
// append, which the store makes atomic. After a restart the view replays
// its source up to the last marker's positions without writing (those
// changes are on disk already), then goes on writing; _ts keeps growing
// from the last one written.

// changelogRetention is how long changes are kept by default; WITH
// (changelog_retention = '...') on the view changes it.
const changelogRetention = 24 * time.Hour

func changelogKey(o *catalog.Object) string { return fmt.Sprintf("changelog-%d", o.OID) }

// openChangelog opens (or creates) the view's changelog and reads where
// the last run stopped.
func (f *viewFlow) openChangelog(db *DB, o *catalog.Object) error {
	retention := changelogRetention
	if v, ok := o.Options["changelog_retention"]; ok {
		iv, err := types.ParseInterval(v)
		if err != nil || iv.ApproxMicros() <= 0 {
			return sqlerr.New(sqlerr.InvalidParameterValue, "invalid changelog_retention %q", v)
		}
		retention = time.Duration(iv.ApproxMicros()) * time.Microsecond
	}
	ts := append([]types.T{types.TInt64, types.TInt64, types.TText}, f.outTs...)
	clog, err := db.store.OpenStream(changelogKey(o), streamstore.Config{Types: ts, Shards: 1, PartitionBy: -1, Retention: retention, NoSync: true})
	if err != nil {
		return err
	}
	f.clog, f.clogTs = clog, ts
	sh := clog.Shards()[0]
	f.clogEnd = sh.Latest()
	if sh.Latest() <= sh.TrimHorizon() {
		return nil // empty
	}
	recs, _, err := sh.Read(sh.Latest()-1, 1)
	if err != nil || len(recs) == 0 {
		return err
	}
	last := recs[0].Row
	f.lastTS = last[0].I
	if last[2].Null || (f.stream == nil && f.graph == nil) {
		return nil
	}
	parts := strings.Split(last[2].S, ",")
	var views []*graphSource
	if f.graph != nil {
		views = f.graph.viewSources()
	}
	n := len(f.shards())
	if len(parts) != n+len(views) {
		return nil // the source changed shape: replay writes everything again
	}
	pos := make([]uint64, len(parts))
	for i, p := range parts {
		if pos[i], err = strconv.ParseUint(p, 10, 64); err != nil {
			return fmt.Errorf("changelog of %s: bad marker %q", o.Name, last[2].S)
		}
	}
	f.replayTo = pos[:n]
	for i, src := range views {
		src.replayAt, src.hasReplayAt = pos[n+i], true
	}
	return nil
}

// suppressed reports whether f's changes are already in its changelog:
// its source is replaying what the last run processed.
func (f *viewFlow) suppressed() bool {
	return f.anyRoot(func(r *viewFlow) bool { return r.replaying.Load() || r.viewsPending() || r.quiet.Load() })
}

// bufferChangesLocked queues a batch's consolidated changes for the
// changelog; callers hold f.mu.
func (f *viewFlow) bufferChangesLocked(changes []change) {
	if f.clog == nil || f.suppressed() {
		return
	}
	for _, c := range changes {
		if c.diff == 0 {
			continue
		}
		row := make([]types.Datum, 0, len(c.row)+3)
		row = append(row, types.DInt(c.ts), types.DInt(c.diff), types.NullDatum)
		f.clogBuf = append(f.clogBuf, append(row, c.row...))
	}
}

// flushChangelogs writes the queued changes of f and of every view built
// on it, each followed by a marker of the source positions.
func (f *viewFlow) flushChangelogs(positions []uint64) error {
	// failed rows first: after a crash between the two writes the replay
	// writes them again (twice rather than never)
	wroteErrors := false
	if f.errs != nil {
		if rows := f.errs.take(); len(rows) > 0 && !f.suppressed() {
			if _, err := f.errs.stream.Append(rows); err != nil {
				return fmt.Errorf("writing the failed rows of %s: %w", f.name, err)
			}
			wroteErrors = true
		}
	}
	f.clogWrite.Lock()
	f.mu.Lock()
	var write [][]types.Datum
	if f.clog != nil && (len(f.clogBuf) > 0 || wroteErrors) {
		parts := make([]string, 0, len(positions))
		for _, p := range append(positions, f.viewPositions()...) {
			parts = append(parts, strconv.FormatUint(p, 10))
		}
		marker := make([]types.Datum, len(f.clogTs))
		for i := range marker {
			marker[i] = types.NullDatum
		}
		marker[0], marker[1], marker[2] = types.DInt(f.lastTS), types.DInt(0), types.DText(strings.Join(parts, ","))
		write = append(f.clogBuf, marker)
		f.clogFlight, f.clogBuf = write, nil
	}
	children := f.children
	f.mu.Unlock()
	var err error
	if write != nil {
		// written without f.mu: subscribers and reads go on meanwhile
		// (a backlog made now reads the changes in flight from memory)
		_, err = f.clog.Append(write)
		f.mu.Lock()
		f.clogEnd, f.clogFlight = f.clog.Shards()[0].Latest(), nil
		end := f.clogEnd
		f.mu.Unlock()
		if err == nil {
			f.feedChildren(write, end)
		}
	}
	f.clogWrite.Unlock()
	if err != nil {
		return fmt.Errorf("writing the changelog of %s: %w", f.name, err)
	}
	for _, c := range children {
		if err := c.flushChangelogs(positions); err != nil {
			c.fail(err)
		}
	}
	return nil
}

// backlog reads a view's changelog for one subscriber: the changes with
// _ts > since from the stream store, up to where the live log takes over,
// then the ones still queued in memory at that moment.
type backlog struct {
	sh     *streamstore.Shard
	pos    uint64 // next record to read
	end    uint64 // records from here on are read from the live log
	since  int64
	skip   int // changes at _ts since+1 the subscriber already has
	queued []change
}

// backlogLocked positions a backlog for changes after since; callers hold
// f.mu (so that disk, queue and live log line up). It fails when the
// changelog no longer reaches back to since.
func (f *viewFlow) backlogLocked(since int64) (*backlog, error) {
	if f.clog == nil {
		return nil, sqlerr.Unsupported("SUBSCRIBE ... WITH (since = ...) needs a materialized view: only views keep a changelog")
	}
	sh := f.clog.Shards()[0]
	// what is on disk up to clogEnd; the changes in flight and queued are
	// read from memory
	bl := &backlog{sh: sh, pos: sh.TrimHorizon(), end: f.clogEnd, since: since}
	if bl.pos > 1 && bl.pos < bl.end {
		recs, _, err := sh.Read(bl.pos, 1)
		if err != nil {
			return nil, err
		}
		if len(recs) > 0 && recs[0].Row[0].I > since+1 {
			return nil, sqlerr.New(sqlerr.InvalidParameterValue, "the changelog of %q no longer reaches back to _ts %d (retention): subscribe with a snapshot", f.name, since)
		}
	}
	for _, r := range append(append([][]types.Datum(nil), f.clogFlight...), f.clogBuf...) {
		if r[0].I > since && r[2].Null {
			bl.queued = append(bl.queued, change{ts: r[0].I, diff: r[1].I, row: r[3:]})
		}
	}
	return bl, nil
}

// skipQueued drops the first n queued changes at _ts since+1 (the ones
// the subscriber read from the live log before falling behind), when the
// disk part has none left to skip.
func (bl *backlog) skipQueued() {
	for bl.skip > 0 && len(bl.queued) > 0 && bl.queued[0].ts == bl.since+1 {
		bl.queued = bl.queued[1:]
		bl.skip--
	}
}

// read returns up to max changes of the backlog; none when it is drained.
func (bl *backlog) read(max int) ([]change, error) {
	var out []change
	for bl.pos < bl.end && len(out) < max {
		recs, next, err := bl.sh.Read(bl.pos, min(max, int(bl.end-bl.pos)))
		if err != nil {
			return nil, err
		}
		if next <= bl.pos {
			break
		}
		bl.pos = next
		for _, r := range recs {
			if r.Seq >= bl.end {
				break
			}
			if !r.Row[2].Null || r.Row[0].I <= bl.since {
				continue // markers, and changes the subscriber has
			}
			if bl.skip > 0 && r.Row[0].I == bl.since+1 {
				bl.skip--
				continue
			}
			out = append(out, change{ts: r.Row[0].I, diff: r.Row[1].I, row: r.Row[3:]})
		}
	}
	if bl.pos >= bl.end {
		bl.skipQueued()
	}
	if len(out) < max && bl.pos >= bl.end && len(bl.queued) > 0 {
		n := min(max-len(out), len(bl.queued))
		out = append(out, bl.queued[:n]...)
		bl.queued = bl.queued[n:]
	}
	return out, nil
}

func (bl *backlog) done() bool {
	if bl.pos >= bl.end {
		bl.skipQueued()
	}
	return bl.pos >= bl.end && len(bl.queued) == 0
}
