package flow

// SUBSCRIBE: a never-ending stream of the changes to a view. While anyone
// subscribes, a view keeps in memory what its steps changed (consolidated
// per step); a subscription is a cursor into it. The job only appends, so
// a slow subscriber never slows it or other subscribers: it falls behind
// on the in-memory log, which is bounded; a subscriber further behind
// than that reads the view's changelog on disk (a private view has none:
// its laggard fails with 54000).
//
// A row is (_ts, _diff, columns...): _ts is the view's logical time of the
// step that made the change, in microseconds since the epoch and strictly
// increasing per view; an update is a −1 and a +1 at the same _ts.

import (
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/streamsql/streamsql/engine/exec"
	"github.com/streamsql/streamsql/engine/expr"
	"github.com/streamsql/streamsql/sqlerr"
	"github.com/streamsql/streamsql/types"
)

// Subscription reads a view's changes; it is an exec.Operator whose Next
// blocks until there are changes (or the statement is cancelled).
type Subscription struct {
	v    *View
	ts   []types.T
	snap []change
	pos  int64
	// bl, while set, is read before the live log: the changes a resumed
	// (or fallen behind) subscription missed, from the stream store
	bl *backlog
	// the _ts of the last change delivered, and how many at that _ts
	lastTS int64
	atTS   int
	// onClose runs when the subscription is closed (a private view's job
	// is stopped)
	onClose func()
}

var _ exec.Operator = (*Subscription)(nil)

// SubscribeOptions are where a subscription starts.
type SubscribeOptions struct {
	// Snapshot: the view's current rows first, as inserts at its _ts
	Snapshot bool
	// Since, when HasSince: resume after the changes up to this _ts
	Since    int64
	HasSince bool
	// OnClose runs when the subscription is closed
	OnClose func()
}

// Subscribe registers a subscription at the view's current state (or, to
// resume, at a _ts the subscriber saw); ts are the rows' types (_ts,
// _diff, then the view's columns).
func (v *View) Subscribe(opts SubscribeOptions, ts []types.T) (*Subscription, error) {
	if err := v.failure(); err != nil {
		return nil, err
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	// the rows now hold changes not yet in the changelog: the snapshot
	// has them, the live log must not give them again
	pos := v.logEnd
	if opts.Snapshot {
		pos += v.pendingRowsLocked()
	}
	s := &Subscription{v: v, ts: ts, pos: pos, onClose: opts.OnClose}
	if opts.HasSince {
		bl, err := v.backlogLocked(opts.Since)
		if err != nil {
			return nil, err
		}
		s.bl = bl
	}
	if opts.Snapshot {
		for _, r := range v.rows.Sorted() {
			s.snap = append(s.snap, change{ts: v.lastTS, diff: r.Diff, row: r.Row})
		}
	}
	if v.subs == nil {
		v.subs = map[*Subscription]struct{}{}
	}
	v.subs[s] = struct{}{}
	return s, nil
}

// Types are the types of the rows Next returns.
func (s *Subscription) Types() []types.T { return s.ts }

// Next returns the next changes, waiting for them as long as it takes.
func (s *Subscription) Next(ctx *expr.Ctx) (arrow.RecordBatch, error) { return s.NextWithin(ctx, -1) }

// NextWithin returns the next changes, waiting up to wait for some
// (forever when wait < 0); nil when the wait ran out or the view's job
// stopped.
func (s *Subscription) NextWithin(ctx *expr.Ctx, wait time.Duration) (arrow.RecordBatch, error) {
	if len(s.snap) > 0 {
		n := min(len(s.snap), exec.BatchSize)
		b := s.batch(ctx, s.snap[:n])
		s.snap = s.snap[n:]
		if len(s.snap) == 0 {
			s.atTS = -1 // the snapshot is everything up to its _ts
		}
		return b, nil
	}
	var timer <-chan time.Time
	if wait > 0 {
		t := time.NewTimer(wait)
		defer t.Stop()
		timer = t.C
	}
	v := s.v
	if s.bl != nil {
		cs, err := s.bl.read(exec.BatchSize)
		if err != nil {
			return nil, err
		}
		if s.bl.done() {
			s.bl = nil
		}
		if len(cs) > 0 {
			return s.batch(ctx, cs), nil
		}
	}
	for {
		if err := v.failure(); err != nil {
			return nil, err
		}
		v.mu.Lock()
		if v.endErr != nil {
			v.mu.Unlock()
			return nil, v.endErr
		}
		if s.pos < v.logStart {
			if v.clog.stream == nil {
				v.mu.Unlock()
				return nil, sqlerr.New(sqlerr.ProgramLimitExceeded, "subscription fell more than %d changes or %d MB behind; subscribe again", MaxSubscriptionLog, MaxSubscriptionLogBytes>>20).
					WithHint("Subscribe to a materialized view to read at any pace: its changelog on disk keeps what a slow subscriber has not read.")
			}
			// fell out of the in-memory log: catch up from the changelog on disk
			since, skip := s.lastTS-1, s.atTS
			if skip < 0 {
				since, skip = s.lastTS, 0
			}
			bl, err := v.backlogLocked(since)
			if err != nil {
				v.mu.Unlock()
				return nil, err
			}
			bl.skip = skip
			s.bl, s.pos = bl, v.logEnd
			v.mu.Unlock()
			return s.NextWithin(ctx, wait)
		}
		if s.pos < v.logEnd {
			d := &v.log[find(v.log, s.pos)]
			from := int(s.pos - d.start)
			n := min(int(d.len())-from, exec.BatchSize)
			b := d.batch(s.ts, from, n)
			s.delivered(d.ts, n)
			s.pos += int64(n)
			v.mu.Unlock()
			return b, nil
		}
		changed, ended := v.changed, v.endedLocked()
		v.mu.Unlock()
		if wait == 0 {
			return nil, nil
		}
		var cancel <-chan struct{}
		if ctx.Go != nil {
			cancel = ctx.Go.Done()
		}
		var stopped <-chan struct{}
		if v.job != nil {
			stopped = v.job.done
		}
		select {
		case <-changed:
		case <-ended:
		case <-stopped:
			return nil, nil
		case <-timer:
			return nil, nil
		case <-cancel:
			return nil, sqlerr.New(sqlerr.QueryCanceled, "canceling statement due to user request")
		}
	}
}

// delivered counts n changes at _ts ts handed to the subscriber.
func (s *Subscription) delivered(ts int64, n int) {
	if ts != s.lastTS || s.atTS < 0 {
		s.lastTS, s.atTS = ts, 0
	}
	s.atTS += n
}

func (s *Subscription) batch(ctx *expr.Ctx, cs []change) arrow.RecordBatch {
	for _, c := range cs {
		s.delivered(c.ts, 1)
	}
	rows := make([][]types.Datum, len(cs))
	for i, c := range cs {
		row := make([]types.Datum, 0, len(c.row)+2)
		row = append(row, types.DInt(c.ts), types.DInt(c.diff))
		rows[i] = append(row, c.row...)
	}
	return expr.BatchFromRows(ctx.Mem, s.ts, rows)
}

// Close ends the subscription.
func (s *Subscription) Close() {
	v := s.v
	if v == nil {
		return
	}
	s.v = nil
	v.mu.Lock()
	delete(v.subs, s)
	v.trimLogLocked()
	v.mu.Unlock()
	if s.onClose != nil {
		s.onClose()
	}
}

// HeldBytes is the memory the view keeps for its subscribers (tests).
func (v *View) HeldBytes() int64 {
	v.mu.RLock()
	defer v.mu.RUnlock()
	return v.logBytes
}
