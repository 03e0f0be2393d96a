package flow

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"

	"github.com/streamsql/streamsql/sources/streamstore"
	"github.com/streamsql/streamsql/sqlerr"
	"github.com/streamsql/streamsql/types"
)

// A materialized view's changelog is kept in the stream store (a
// one-shard stream, not fsynced: it is derived data), so that a
// subscriber can resume from a _ts it saw, a subscriber that fell behind
// the in-memory log catches up from disk, and the jobs reading the view
// are fed what it wrote.
//
// Records are (_ts, _diff, _pos, columns...): the consolidated changes of
// each step, then a marker (_diff 0, _pos set) holding the positions of
// the job's sources the changes reflect. Changes and marker are written
// in one append, which the store makes atomic. After a restart the job
// replays its sources up to the last marker's positions without writing
// (those changes are on disk already), then goes on writing; _ts keeps
// growing from the last one written.
type changelog struct {
	stream *streamstore.Stream
	ts     []types.T // _ts, _diff, _pos, then the view's columns
	// what the last run left: the last _ts and the last marker's positions
	lastTS int64
	marker []uint64

	// guarded by the view's mu: the steps not yet written, and those
	// being written (the write itself is not under mu, so reads and
	// subscribers never wait for it); where the durable records end
	// without them
	buf, flight []delta
	end         uint64
	// write is held across a write and its delivery to the readers
	// (feeds): one write at a time, and no reader attaches in between
	write sync.Mutex
	feeds []*viewFeed
}

// open opens (or creates) the changelog and reads where the last run
// stopped.
func (c *changelog) open(cfg *ChangelogConfig, ts []types.T) error {
	c.ts = append([]types.T{types.TInt64, types.TInt64, types.TText}, ts...)
	s, err := cfg.Store.OpenStream(cfg.Key, streamstore.Config{Types: c.ts, Shards: 1, PartitionBy: -1, Retention: cfg.Retention, NoSync: true})
	if err != nil {
		return err
	}
	c.stream = s
	sh := s.Shards()[0]
	c.end = sh.Latest()
	if sh.Latest() <= sh.TrimHorizon() {
		return nil // empty
	}
	recs, _, err := sh.Read(sh.Latest()-1, 1)
	if err != nil || len(recs) == 0 {
		return err
	}
	last := recs[0].Row
	c.lastTS = last[0].I
	if last[2].Null {
		return nil
	}
	parts := strings.Split(last[2].S, ",")
	c.marker = make([]uint64, len(parts))
	for i, p := range parts {
		if c.marker[i], err = strconv.ParseUint(p, 10, 64); err != nil {
			return fmt.Errorf("changelog %s: bad marker %q", cfg.Key, last[2].S)
		}
	}
	return nil
}

// commit writes the queued changes followed by a marker of positions,
// then hands them to the jobs reading the view.
func (c *changelog) commit(v *View, positions []uint64, force bool) error {
	if c.stream == nil {
		return nil
	}
	c.write.Lock()
	defer c.write.Unlock()
	v.mu.Lock()
	if len(c.buf) == 0 && !force {
		v.mu.Unlock()
		return nil
	}
	parts := make([]string, len(positions))
	for i, p := range positions {
		parts[i] = strconv.FormatUint(p, 10)
	}
	write := c.buf
	c.flight, c.buf = write, nil
	lastTS := v.lastTS
	v.mu.Unlock()

	// written without the view's lock: subscribers and reads go on
	// meanwhile (a backlog made now reads the changes in flight from memory)
	marker := make([]types.Datum, len(c.ts))
	for i := range marker {
		marker[i] = types.NullDatum
	}
	marker[0], marker[1], marker[2] = types.DInt(lastTS), types.DInt(0), types.DText(strings.Join(parts, ","))
	_, err := c.stream.AppendRecords(&deltaRecords{ts: c.ts, deltas: write, marker: marker})
	v.mu.Lock()
	c.end, c.flight = c.stream.Shards()[0].Latest(), nil
	end := c.end
	wm, hasWM := v.outWM, v.hasOutWM
	if err == nil {
		v.logLocked(write)
	}
	v.mu.Unlock()
	if err == nil {
		feedReaders(c.feeds, write, end, wm, hasWM)
	}
	for _, d := range write {
		d.rows.Release()
	}
	if err != nil {
		return fmt.Errorf("writing the changelog of %s: %w", v.name, err)
	}
	return nil
}

// deltaRecords are steps' changes as changelog records, encoded straight
// from their columns, then a marker.
type deltaRecords struct {
	ts     []types.T // the changelog's: _ts, _diff, _pos, then the view's
	deltas []delta
	marker []types.Datum
	// where the last record encoded was: the next is most likely the one
	// after it
	at, first int
}

func (r *deltaRecords) Len() int {
	n := 1
	for i := range r.deltas {
		n += len(r.deltas[i].diffs)
	}
	return n
}

func (r *deltaRecords) AppendRecord(buf []byte, i int) ([]byte, error) {
	if i < r.first {
		r.at, r.first = 0, 0
	}
	for r.at < len(r.deltas) && i >= r.first+len(r.deltas[r.at].diffs) {
		r.first += len(r.deltas[r.at].diffs)
		r.at++
	}
	if r.at == len(r.deltas) {
		return types.AppendRow(buf, r.ts, r.marker)
	}
	d, row := &r.deltas[r.at], i-r.first
	buf, _ = types.AppendColumn(buf, types.TInt64, types.DInt(d.ts))
	buf, _ = types.AppendColumn(buf, types.TInt64, types.DInt(d.diffs[row]))
	buf, _ = types.AppendColumn(buf, types.TText, types.NullDatum)
	var err error
	for c, t := range r.ts[3:] {
		if buf, err = types.AppendColumn(buf, t, types.DatumAt(d.rows.Column(c), row)); err != nil {
			return nil, err
		}
	}
	return buf, nil
}

// backlog reads a view's changelog for one subscriber: the changes with
// _ts > since from the stream store, up to where the live log takes over
// (every change written since, and those written later, reach the
// subscriber through the live log).
type backlog struct {
	sh    *streamstore.Shard
	pos   uint64 // next record to read
	end   uint64 // records from here on are read from the live log
	since int64
	skip  int // changes at _ts since+1 the subscriber already has
}

// backlogLocked positions a backlog for changes after since; callers hold
// the view's mu (so that disk, queue and live log line up). It fails when
// the changelog no longer reaches back to since.
func (v *View) backlogLocked(since int64) (*backlog, error) {
	c := &v.clog
	if c.stream == nil {
		return nil, sqlerr.Unsupported("SUBSCRIBE ... WITH (since = ...) needs a materialized view: only views keep a changelog")
	}
	sh := c.stream.Shards()[0]
	bl := &backlog{sh: sh, pos: sh.TrimHorizon(), end: c.end, since: since}
	if bl.pos > 1 && bl.pos < bl.end {
		recs, _, err := sh.Read(bl.pos, 1)
		if err != nil {
			return nil, err
		}
		if len(recs) > 0 && recs[0].Row[0].I > since+1 {
			return nil, sqlerr.New(sqlerr.InvalidParameterValue, "the changelog of %q no longer reaches back to _ts %d (retention): subscribe with a snapshot", v.name, since)
		}
	}
	return bl, nil
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
	return out, nil
}

func (bl *backlog) done() bool { return bl.pos >= bl.end }

// rangeRecords reads the changelog's records from from up to end.
func (c *changelog) rangeRecords(from, end uint64) ([][]types.Datum, error) {
	sh := c.stream.Shards()[0]
	if from > end || from < sh.TrimHorizon() {
		return nil, errChangelogGone
	}
	var out [][]types.Datum
	for pos := from; pos < end; {
		recs, next, err := sh.Read(pos, int(min(end-pos, 4096)))
		if err != nil {
			return nil, err
		}
		if next <= pos {
			break
		}
		for _, r := range recs {
			if r.Seq < end {
				out = append(out, r.Row)
			}
		}
		pos = next
	}
	return out, nil
}

var errChangelogGone = errors.New("the parent's changelog no longer holds the changes since the last marker")
