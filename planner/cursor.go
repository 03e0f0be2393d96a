package planner

import (
	"fmt"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/streamsql/streamsql/engine/exec"
	"github.com/streamsql/streamsql/engine/expr"
	"github.com/streamsql/streamsql/engine/flow"
	"github.com/streamsql/streamsql/planner/pgsql"
	"github.com/streamsql/streamsql/sqlerr"
	"github.com/streamsql/streamsql/types"
)

// cursor is a DECLAREd cursor, as in PostgreSQL: a query's rows read on
// demand by FETCH and MOVE, with PostgreSQL's position — 0 before the
// first row, n on row n, past the last once it ran off the end. A SCROLL
// cursor keeps the rows it has read, so it can move backward and to any
// row; others only go forward ("cursor can only scan forward", 55000). A
// cursor lives until CLOSE or the end of its transaction; WITH HOLD, past
// the transaction's commit. Each FETCH runs with its own statement's
// context (cancel), not the DECLARE's, which ends with the DECLARE.
type cursor struct {
	name, text           string
	op                   exec.Operator // nil once drained
	ctx                  *expr.Ctx
	cols                 []Column
	sub                  *flow.Subscription // a cursor over SUBSCRIBE
	binary, scroll, hold bool
	created              int64
	// declared in the current transaction block: its rollback drops it
	// even WITH HOLD
	thisTxn bool

	pending arrow.RecordBatch   // forward only: rows read and not returned
	kept    []arrow.RecordBatch // SCROLL: every row read, in order
	read    int64               // rows read from op
	pos     int64
	done    bool // op drained: read is the count of rows
}

func (c *cursor) close() {
	if c.pending != nil {
		c.pending.Release()
		c.pending = nil
	}
	for _, b := range c.kept {
		b.Release()
	}
	c.kept = nil
	if c.op != nil {
		c.op.Close()
		c.op = nil
	}
}

// readMore reads the next batch from the query (kept for a SCROLL cursor);
// nil when there is no more.
func (c *cursor) readMore(ctx *expr.Ctx) (arrow.RecordBatch, error) {
	if c.done || c.op == nil {
		c.done = true
		return nil, nil
	}
	// the statement running the FETCH decides cancellation
	saved := c.ctx.Go
	c.ctx.Go = ctx.Go
	b, err := c.op.Next(c.ctx)
	c.ctx.Go = saved
	if err != nil {
		return nil, err
	}
	if b == nil || b.NumRows() == 0 {
		if b != nil {
			b.Release()
		}
		if b == nil {
			c.done = true
		}
		return nil, nil
	}
	c.read += b.NumRows()
	if c.scroll {
		b.Retain()
		c.kept = append(c.kept, b)
	}
	return b, nil
}

// fill makes a SCROLL cursor read until it holds n rows (or all there are).
func (c *cursor) fill(ctx *expr.Ctx, n int64) error {
	for (n < 0 || c.read < n) && !c.done {
		b, err := c.readMore(ctx)
		if err != nil {
			return err
		}
		if b != nil {
			b.Release()
		}
	}
	return nil
}

// rowsOf gathers kept rows from..to (1-based, inclusive), backward when
// from > to.
func (c *cursor) rowsOf(ctx *expr.Ctx, from, to int64) arrow.RecordBatch {
	var idx []int64
	if from <= to {
		for i := from; i <= to; i++ {
			idx = append(idx, i)
		}
	} else {
		for i := from; i >= to; i-- {
			idx = append(idx, i)
		}
	}
	rows := make([][]types.Datum, 0, len(idx))
	for _, i := range idx {
		rows = append(rows, c.keptRow(i))
	}
	return expr.BatchFromRows(ctx.Mem, colTypes(c.cols), rows)
}

// keptRow is kept row i (1-based).
func (c *cursor) keptRow(i int64) []types.Datum {
	i--
	for _, b := range c.kept {
		if i < b.NumRows() {
			row := make([]types.Datum, b.NumCols())
			for k := range row {
				row[k] = types.DatumAt(b.Column(k), int(i))
			}
			return row
		}
		i -= b.NumRows()
	}
	return nil
}

var errScanForward = sqlerr.New(sqlerr.ObjectNotInPrerequisiteState, "cursor can only scan forward").
	WithHint("Declare it with SCROLL option to enable backward scan.")

// fetch runs FETCH or MOVE on a query cursor.
func (c *cursor) fetch(ctx *expr.Ctx, st *pgsql.Fetch) (*Result, error) {
	if !c.scroll {
		return c.fetchForward(ctx, st)
	}
	var out arrow.RecordBatch
	var got int64
	switch st.Dir {
	case pgsql.FetchForward, pgsql.FetchBackward:
		n := st.Count
		if st.All {
			n = -1
		}
		if st.Dir == pgsql.FetchForward {
			want := int64(-1)
			if n >= 0 {
				want = c.pos + n
			}
			if err := c.fill(ctx, want); err != nil {
				return nil, err
			}
			from := min(c.pos, c.read)
			last := c.read
			if n >= 0 {
				last = min(from+n, c.read)
			}
			if last > from {
				out, got = c.rowsOf(ctx, from+1, last), last-from
			}
			if n < 0 || got < n {
				c.pos = c.read + 1 // ran off the end
			} else {
				c.pos = last
			}
		} else {
			first := int64(1)
			if n >= 0 {
				first = max(c.pos-n, 1)
			}
			if c.pos > c.read+1 {
				c.pos = c.read + 1
			}
			if c.pos-1 >= first {
				out, got = c.rowsOf(ctx, c.pos-1, first), c.pos-first
			}
			if n < 0 || got < n {
				c.pos = 0
			} else {
				c.pos = first
			}
		}
	case pgsql.FetchAbsolute, pgsql.FetchRelative:
		target := st.Count
		if st.Dir == pgsql.FetchRelative {
			target = c.pos + st.Count
		} else if target < 0 {
			if err := c.fill(ctx, -1); err != nil {
				return nil, err
			}
			target = c.read + 1 + target
		}
		if err := c.fill(ctx, target); err != nil {
			return nil, err
		}
		switch {
		case target <= 0:
			c.pos = 0
		case target > c.read:
			c.pos = c.read + 1
		default:
			c.pos = target
			out, got = c.rowsOf(ctx, target, target), 1
		}
	}
	return c.result(ctx, st, got, out)
}

// fetchForward is fetch on a cursor without SCROLL: rows are returned as
// they are read, and nothing can be fetched twice.
func (c *cursor) fetchForward(ctx *expr.Ctx, st *pgsql.Fetch) (*Result, error) {
	want := st.Count
	switch {
	case st.Dir == pgsql.FetchBackward && (st.All || st.Count > 0):
		return nil, errScanForward
	case st.Dir == pgsql.FetchBackward:
		want = 0
	case st.Dir == pgsql.FetchAbsolute || st.Dir == pgsql.FetchRelative:
		target := st.Count
		if st.Dir == pgsql.FetchRelative {
			target = c.pos + st.Count
		}
		if target <= c.pos || st.Count < 0 && st.Dir == pgsql.FetchAbsolute {
			return nil, errScanForward
		}
		// skip to the row before target, then return one
		if _, err := c.takeForward(ctx, target-c.pos-1, true, c.next); err != nil {
			return nil, err
		}
		want = 1
	case st.All:
		want = -1
	}
	out, err := c.takeForward(ctx, want, st.Move, c.next)
	if err != nil {
		return nil, err
	}
	var got int64
	for _, b := range out {
		got += b.NumRows()
	}
	var b arrow.RecordBatch
	if len(out) > 0 {
		b = concat(ctx, colTypes(c.cols), out)
	}
	return c.result(ctx, st, got, b)
}

// next is takeForward's source for a query cursor.
func (c *cursor) next(ctx *expr.Ctx, _ int64) (arrow.RecordBatch, error) { return c.readMore(ctx) }

// takeForward takes up to want rows (-1: all there are) from the pending
// batch and then next (told how many rows it has so far), which returns
// nil when no more are to be had now, advancing the position; discard
// drops them instead of returning them.
func (c *cursor) takeForward(ctx *expr.Ctx, want int64, discard bool, next func(ctx *expr.Ctx, got int64) (arrow.RecordBatch, error)) ([]arrow.RecordBatch, error) {
	var out []arrow.RecordBatch
	var got int64
	keep := func(b arrow.RecordBatch) {
		if discard {
			b.Release()
		} else {
			out = append(out, b)
		}
	}
	for want < 0 || got < want {
		b := c.pending
		c.pending = nil
		if b == nil {
			var err error
			if b, err = next(ctx, got); err != nil {
				for _, o := range out {
					o.Release()
				}
				return nil, err
			}
			if b == nil {
				break
			}
		}
		n := b.NumRows()
		if want >= 0 && got+n > want {
			take := want - got
			keep(b.NewSlice(0, take))
			c.pending = b.NewSlice(take, n)
			b.Release()
			got += take
			break
		}
		keep(b)
		got += n
	}
	c.pos += got
	if (want < 0 || got < want) && c.done {
		c.pos = c.read + 1
	}
	return out, nil
}

// result is FETCH's rows or MOVE's count.
func (c *cursor) result(ctx *expr.Ctx, st *pgsql.Fetch, got int64, b arrow.RecordBatch) (*Result, error) {
	if st.Move {
		if b != nil {
			b.Release()
		}
		return &Result{Tag: fmt.Sprintf("MOVE %d", got)}, nil
	}
	var batches []arrow.RecordBatch
	if b != nil {
		batches = append(batches, b)
	}
	return &Result{Cols: c.cols, Rows: exec.NewScan(colTypes(c.cols), batches), Ctx: ctx, Tag: "FETCH", CountRows: true, Binary: c.binary}, nil
}

// concat joins batches of the same columns into one.
func concat(ctx *expr.Ctx, ts []types.T, bs []arrow.RecordBatch) arrow.RecordBatch {
	if len(bs) == 1 {
		return bs[0]
	}
	var rows [][]types.Datum
	for _, b := range bs {
		for r := 0; r < int(b.NumRows()); r++ {
			row := make([]types.Datum, b.NumCols())
			for k := range row {
				row[k] = types.DatumAt(b.Column(k), r)
			}
			rows = append(rows, row)
		}
		b.Release()
	}
	return expr.BatchFromRows(ctx.Mem, ts, rows)
}

// fetchSubscription is FETCH from a subscription cursor: it waits (up to
// the timeout, or until the first change when there is none) for at least
// one row, then returns what is available, up to the count.
func (c *cursor) fetchSubscription(ctx *expr.Ctx, st *pgsql.Fetch) (*Result, error) {
	if st.Dir != pgsql.FetchForward {
		return nil, errScanForward
	}
	wait := time.Duration(-1)
	for k, v := range st.Options {
		if k != "timeout" {
			return nil, sqlerr.New(sqlerr.InvalidParameterValue, "unknown FETCH option %q (known: timeout)", k)
		}
		d, err := parseTimeout(v, time.Second)
		if err != nil {
			return nil, err
		}
		wait = d
	}
	want := st.Count
	if st.All {
		want = -1
	}
	out, err := c.takeForward(ctx, want, st.Move, func(ctx *expr.Ctx, got int64) (arrow.RecordBatch, error) {
		if got > 0 {
			return c.sub.NextWithin(ctx, 0) // only what is already there
		}
		return c.sub.NextWithin(ctx, wait)
	})
	if err != nil {
		return nil, err
	}
	var rows int64
	for _, b := range out {
		rows += b.NumRows()
	}
	if st.Move {
		return &Result{Tag: fmt.Sprintf("MOVE %d", rows)}, nil
	}
	return &Result{Cols: c.cols, Rows: exec.NewScan(colTypes(c.cols), out), Ctx: ctx, Tag: "FETCH", CountRows: true}, nil
}

// cursorInfo describes an open cursor for pg_cursors.
type cursorInfo struct {
	name, statement              string
	holdable, binary, scrollable bool
	created                      int64
}

// Cursors lists the session's open cursors (pg_cursors).
func (s *Session) Cursors() []cursorInfo {
	var out []cursorInfo
	for _, c := range s.cursors {
		out = append(out, cursorInfo{c.name, c.text, c.hold, c.binary, c.scroll, c.created})
	}
	return out
}

// CursorColumns returns the columns of an open cursor, so that the
// protocol can describe it as a portal (the two share one namespace).
func (s *Session) CursorColumns(name string) ([]Column, bool) {
	c, ok := s.cursors[name]
	if !ok {
		return nil, false
	}
	return c.cols, true
}

// CloseCursor closes an open cursor (a protocol Close of its portal).
func (s *Session) CloseCursor(name string) {
	if c, ok := s.cursors[name]; ok {
		c.close()
		delete(s.cursors, name)
	}
}

// declare opens a cursor.
func (s *Session) declare(ctx *expr.Ctx, st *pgsql.Declare, p *Prepared) (*Result, error) {
	if _, dup := s.cursors[st.Name]; dup {
		return nil, sqlerr.New(sqlerr.DuplicateCursor, "cursor %q already exists", st.Name)
	}
	if !s.InTxn && !st.Hold {
		return nil, sqlerr.New(sqlerr.NoActiveSQLTransaction, "DECLARE CURSOR can only be used in transaction blocks")
	}
	c := &cursor{name: st.Name, text: st.Text, ctx: ctx, binary: st.Binary, scroll: st.Scroll, hold: st.Hold,
		created: time.Now().UnixMicro(), thisTxn: s.InTxn}
	if st.Subscribe != nil {
		sub, cols, err := s.subscribe(ctx, st.Subscribe)
		if err != nil {
			return nil, err
		}
		c.op, c.sub, c.cols = sub, sub, cols
	} else {
		op, err := build(ctx, s.db, p.plan)
		if err != nil {
			return nil, err
		}
		c.op, c.cols = op, visible(p.plan.Columns())
	}
	// the DECLARE's context ends with it; FETCH brings its own
	dctx := *ctx
	c.ctx = &dctx
	s.cursors[st.Name] = c
	return &Result{Tag: "DECLARE CURSOR"}, nil
}

// endTxnCursors closes the cursors a transaction's end closes: all but
// the held ones at COMMIT, all declared in it (held or not) at ROLLBACK.
func (s *Session) endTxnCursors(commit bool) {
	for k, c := range s.cursors {
		if c.hold && (commit || !c.thisTxn) {
			c.thisTxn = false
			continue
		}
		c.close()
		delete(s.cursors, k)
	}
}
