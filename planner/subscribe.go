package planner

// SUBSCRIBE: a never-ending stream of the changes to an incrementally
// maintained result. Each running view keeps, while anyone subscribes, an
// in-memory changelog of what its applied batches changed (consolidated per
// batch); a subscription is a cursor into it. The dataflow only appends, so a
// slow subscriber never slows it or other subscribers: it falls behind on the
// changelog, which is bounded (maxSubscriptionLog changes); a subscriber
// further behind than that fails with 54000 rather than holding memory.
//
// A row is (_ts, _diff, columns...): _ts is the view's logical time of the
// batch that made the change, in microseconds since the epoch and strictly
// increasing per view; an update is a −1 and a +1 at the same _ts.

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/pingcap/tidb/pkg/parser/ast"
	"github.com/streamsql/streamsql/catalog"
	"github.com/streamsql/streamsql/engine/exec"
	"github.com/streamsql/streamsql/engine/expr"
	"github.com/streamsql/streamsql/planner/pgsql"
	"github.com/streamsql/streamsql/sqlerr"
	"github.com/streamsql/streamsql/types"
)

// The changes a view keeps in memory for its subscribers are bounded in
// number and in bytes. A subscriber further behind reads the view's
// changelog on disk (a subscription's own flow has none: it fails).
var (
	maxSubscriptionLog      = 1 << 20
	maxSubscriptionLogBytes = int64(64 << 20)
)

// changeSize estimates the memory a logged change holds.
func changeSize(c change) int64 {
	n := int64(unsafe.Sizeof(c)) + int64(len(c.row))*int64(unsafe.Sizeof(types.Datum{}))
	for _, d := range c.row {
		n += int64(len(d.S))
	}
	return n
}

// change is one consolidated change to a view's rows.
type change struct {
	ts, diff int64
	row      []types.Datum
}

// logChangesLocked records the consolidated changes of one applied batch
// for subscribers and wakes them; callers hold f.mu.
// The batch's logical time advances even when nobody subscribes.
func (f *viewFlow) logChangesLocked(changes []change) {
	now := time.Now().UnixMicro()
	if now <= f.lastTS {
		now = f.lastTS + 1
	}
	f.lastTS = now
	if len(changes) == 0 {
		return
	}
	// retractions first, so that a reader never sees a row twice
	changes = retractionsFirst(changes)
	for i, c := range changes {
		changes[i].ts = now
		if c.diff != 0 {
			c.ts = now
			f.log = append(f.log, c)
			f.logBytes += changeSize(c)
		}
	}
	f.bufferChangesLocked(changes)
	f.trimLogLocked()
	close(f.progress)
	f.progress = make(chan struct{})
}

// retractionsFirst orders changes with every retraction before every
// insertion, each kind in its order (a stable partition).
func retractionsFirst(changes []change) []change {
	for i := 1; i < len(changes); i++ {
		if changes[i].diff < 0 && changes[i-1].diff >= 0 {
			// out of order: partition into a copy
			out := make([]change, 0, len(changes))
			for _, c := range changes {
				if c.diff < 0 {
					out = append(out, c)
				}
			}
			for _, c := range changes {
				if c.diff >= 0 {
					out = append(out, c)
				}
			}
			return out
		}
	}
	return changes
}

// trimLogLocked drops changes every subscriber has read, and the oldest
// ones when the log is over its bound.
func (f *viewFlow) trimLogLocked() {
	end := f.logBase + int64(len(f.log))
	low := end
	for s := range f.subs {
		if s.pos < low {
			low = s.pos
		}
	}
	// over either bound, the laggards lose their place
	over := max(int64(len(f.log)-maxSubscriptionLog), 0)
	for bytes := f.logBytes - f.sizeOfLogLocked(over); bytes > maxSubscriptionLogBytes && over < int64(len(f.log)); over++ {
		bytes -= changeSize(f.log[over])
	}
	if over > 0 && low < f.logBase+over {
		low = f.logBase + over
	}
	drop := low - f.logBase
	switch {
	case drop <= 0:
		return
	case drop == int64(len(f.log)):
		clear(f.log)
		f.log = f.log[:0]
		f.logBytes = 0
	case 2*drop >= int64(len(f.log)) && (drop >= 4096 || over > 0):
		f.logBytes -= f.sizeOfLogLocked(drop)
		f.log = append([]change(nil), f.log[drop:]...)
	case over > 0:
		// let go of the rows now; the array is left behind when append grows it
		f.logBytes -= f.sizeOfLogLocked(drop)
		clear(f.log[:drop])
		f.log = f.log[drop:]
	default:
		return // cheaper to keep a few read changes than to copy
	}
	f.logBase = low
}

// sizeOfLogLocked is the size of the first n logged changes.
func (f *viewFlow) sizeOfLogLocked(n int64) int64 {
	var b int64
	for _, c := range f.log[:n] {
		b += changeSize(c)
	}
	return b
}

// subscription reads a view's changes; it is an exec.Operator whose Next
// blocks until there are changes (or the statement is cancelled).
type subscription struct {
	f    *viewFlow
	db   *DB
	own  bool // a flow started for this subscription alone
	ts   []types.T
	snap []change
	pos  int64
	// bl, while set, is read before the live log: the changes a resumed
	// (or fallen behind) subscription missed, from the stream store
	bl *backlog
	// the _ts of the last change delivered, and how many at that _ts
	lastTS int64
	atTS   int
}

var subscriptionSeq atomic.Int64

// attach registers a subscription at the view's current state (or, to
// resume, at a _ts it saw).
func (f *viewFlow) attach(opts subscribeOpts, ts []types.T) (*subscription, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return nil, sqlerr.New(sqlerr.InternalError, "materialized view %q failed: %v", f.name, f.err)
	}
	s := &subscription{f: f, ts: ts, pos: f.logBase + int64(len(f.log))}
	if opts.hasSince {
		bl, err := f.backlogLocked(opts.since)
		if err != nil {
			return nil, err
		}
		s.bl = bl
	}
	if opts.snapshot {
		for _, r := range f.rows.Sorted() {
			s.snap = append(s.snap, change{ts: f.lastTS, diff: r.Diff, row: r.Row})
		}
	}
	if f.subs == nil {
		f.subs = map[*subscription]struct{}{}
	}
	f.subs[s] = struct{}{}
	return s, nil
}

// endedLocked is the channel closed when the flow's subscribers must stop;
// callers hold f.mu.
func (f *viewFlow) endedLocked() chan struct{} {
	if f.ended == nil {
		f.ended = make(chan struct{})
	}
	return f.ended
}

// endSubscriptions ends every subscription to f with err (once).
func (f *viewFlow) endSubscriptions(err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.endErr == nil {
		f.endErr = err
		close(f.endedLocked())
	}
}

// endSubscriptionsTo ends, with an error naming it, the subscriptions that
// read the dropped object name: those to a view's flow, those of their own.
func (db *DB) endSubscriptionsTo(name string, kind catalog.Kind) {
	err := sqlerr.New(sqlerr.UndefinedTable, "%s %q was dropped: the subscription ends", kind, name)
	if f := db.flow(name); f != nil {
		f.endSubscriptions(err)
	}
	db.mu.RLock()
	var own []*viewFlow
	for f := range db.subFlows {
		if slices.Contains(f.reads, name) {
			own = append(own, f)
		}
	}
	db.mu.RUnlock()
	for _, f := range own {
		f.endSubscriptions(err)
	}
}

// endAllSubscriptions ends every subscription: the server is stopping.
func (db *DB) endAllSubscriptions() {
	err := sqlerr.New(sqlerr.AdminShutdown, "terminating connection due to administrator command")
	db.mu.RLock()
	flows := slices.Collect(maps.Keys(db.subFlows))
	for _, f := range db.flows {
		flows = append(flows, f)
	}
	db.mu.RUnlock()
	for _, f := range flows {
		f.endSubscriptions(err)
	}
}

func (s *subscription) Types() []types.T { return s.ts }

func (s *subscription) Next(ctx *expr.Ctx) (arrow.RecordBatch, error) { return s.next(ctx, -1) }

// next returns the next changes, waiting up to wait for some (forever when
// wait < 0); nil when the wait ran out or the view went away.
func (s *subscription) next(ctx *expr.Ctx, wait time.Duration) (arrow.RecordBatch, error) {
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
	f := s.f
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
		f.mu.Lock()
		if f.endErr != nil {
			f.mu.Unlock()
			return nil, f.endErr
		}
		if f.err != nil {
			f.mu.Unlock()
			return nil, sqlerr.New(sqlerr.InternalError, "materialized view %q failed: %v", f.name, f.err)
		}
		if s.pos < f.logBase {
			if f.clog == nil {
				f.mu.Unlock()
				return nil, sqlerr.New(sqlerr.ProgramLimitExceeded, "subscription fell more than %d changes or %d MB behind; subscribe again", maxSubscriptionLog, maxSubscriptionLogBytes>>20).
					WithHint("Subscribe to a materialized view to read at any pace: its changelog on disk keeps what a slow subscriber has not read.")
			}
			// fell out of the in-memory log: catch up from the changelog on disk
			since, skip := s.lastTS-1, s.atTS
			if skip < 0 {
				since, skip = s.lastTS, 0
			}
			bl, err := f.backlogLocked(since)
			if err != nil {
				f.mu.Unlock()
				return nil, err
			}
			bl.skip = skip
			s.bl, s.pos = bl, f.logBase+int64(len(f.log))
			f.mu.Unlock()
			return s.next(ctx, wait)
		}
		if avail := f.logBase + int64(len(f.log)) - s.pos; avail > 0 {
			n := min(avail, exec.BatchSize)
			off := s.pos - f.logBase
			b := s.batch(ctx, f.log[off:off+n])
			s.pos += n
			f.mu.Unlock()
			return b, nil
		}
		progress, ended := f.progress, f.endedLocked()
		f.mu.Unlock()
		if wait == 0 {
			return nil, nil
		}
		var cancel <-chan struct{}
		if ctx.Go != nil {
			cancel = ctx.Go.Done()
		}
		select {
		case <-progress:
		case <-ended:
		case <-f.done:
			return nil, nil
		case <-timer:
			return nil, nil
		case <-cancel:
			return nil, sqlerr.New(sqlerr.QueryCanceled, "canceling statement due to user request")
		}
	}
}

func (s *subscription) batch(ctx *expr.Ctx, cs []change) arrow.RecordBatch {
	for _, c := range cs {
		if c.ts != s.lastTS || s.atTS < 0 {
			s.lastTS, s.atTS = c.ts, 0
		}
		s.atTS++
	}
	rows := make([][]types.Datum, len(cs))
	for i, c := range cs {
		row := make([]types.Datum, 0, len(c.row)+2)
		row = append(row, types.DInt(c.ts), types.DInt(c.diff))
		rows[i] = append(row, c.row...)
	}
	return expr.BatchFromRows(ctx.Mem, s.ts, rows)
}

func (s *subscription) Close() {
	f := s.f
	if f == nil {
		return
	}
	s.f = nil
	f.mu.Lock()
	delete(f.subs, s)
	f.trimLogLocked()
	f.mu.Unlock()
	if s.own {
		s.db.mu.Lock()
		delete(s.db.subFlows, f)
		s.db.mu.Unlock()
		f.stop()
	}
}

// subscribeOpts are SUBSCRIBE's WITH options.
type subscribeOpts struct {
	snapshot bool
	since    int64
	hasSince bool
}

// subscribeOptions reads WITH (snapshot = ..., since = ...). Resuming from
// since means no snapshot: the subscriber has the state as of since.
func subscribeOptions(opts map[string]string) (o subscribeOpts, err error) {
	o.snapshot = true
	snapSet := false
	for k, v := range opts {
		switch k {
		case "snapshot":
			b, ok := parseBoolOption(v)
			if !ok {
				return o, sqlerr.New(sqlerr.InvalidParameterValue, "snapshot must be true or false, not %q", v)
			}
			o.snapshot, snapSet = b, true
		case "since":
			n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			if err != nil || n < 0 {
				return o, sqlerr.New(sqlerr.InvalidParameterValue, "since must be a _ts value (a non-negative integer), not %q", v)
			}
			o.since, o.hasSince = n, true
		default:
			return o, sqlerr.New(sqlerr.InvalidParameterValue, "unknown SUBSCRIBE option %q (known: snapshot, since)", k)
		}
	}
	if o.hasSince {
		if snapSet && o.snapshot {
			return o, sqlerr.New(sqlerr.InvalidParameterValue, "since and snapshot = true cannot be combined: a resumed subscription continues from its _ts")
		}
		o.snapshot = false
	}
	return o, nil
}

func parseBoolOption(v string) (bool, bool) {
	switch strings.ToLower(v) {
	case "true", "on", "yes", "1":
		return true, true
	case "false", "off", "no", "0":
		return false, true
	}
	return false, false
}

// subscriptionColumns are _ts, _diff, then the result's columns.
func subscriptionColumns(cols []Column) []Column {
	out := []Column{{Name: "_ts", Type: types.TInt64}, {Name: "_diff", Type: types.TInt64}}
	for _, c := range cols {
		out = append(out, Column{Name: c.Name, Type: c.Type})
	}
	return out
}

// planSubscribe finds or plans the incremental flow a SUBSCRIBE reads. For
// a materialized view that is maintained incrementally it is the view's own
// flow; otherwise the query (or SELECT * FROM the relation) is planned as a
// flow of its own, started only when start is set.
func (s *Session) planSubscribe(st *pgsql.Subscribe, start bool) (f *viewFlow, own bool, cols []Column, err error) {
	if _, err := subscribeOptions(st.Options); err != nil {
		return nil, false, nil, err
	}
	q := st.Query
	if st.Name != "" {
		o, _ := s.lookup(st.Name)
		if o == nil {
			return nil, false, nil, sqlerr.New(sqlerr.UndefinedTable, "relation %q does not exist", st.Name)
		}
		if o.Kind == catalog.KindMaterializedView {
			if f := s.db.flow(o.Name); f != nil {
				for _, c := range o.Columns {
					cols = append(cols, Column{Name: c.Name, Type: c.Type})
				}
				return f, false, subscriptionColumns(cols), nil
			}
		}
		stmts, err := s.parser.Parse("SELECT * FROM " + quoteRel(o))
		if err != nil {
			return nil, false, nil, err
		}
		q = stmts[0].(*pgsql.Query)
	}
	sel, ok := q.Node.(ast.ResultSetNode)
	if !ok {
		return nil, false, nil, sqlerr.New(sqlerr.SyntaxError, "SUBSCRIBE needs a query")
	}
	b := s.newBinder(q.Tr, nil)
	node, err := b.query(sel, nil)
	if err != nil {
		return nil, false, nil, err
	}
	cols = subscriptionColumns(visible(node.Columns()))
	if !start {
		return nil, true, cols, nil
	}
	f, err = planFlow(s.db, b, node, &catalog.Object{Options: map[string]string{}})
	var ni *notIncremental
	if errors.As(err, &ni) {
		return nil, false, nil, sqlerr.Unsupported("SUBSCRIBE needs a result that is maintained incrementally over a stream or a materialized view: %s", ni.reason)
	}
	if err != nil {
		return nil, false, nil, err
	}
	f.reads = uniq(b.deps)
	f.start(s.db, fmt.Sprintf("subscribe#%d", subscriptionSeq.Add(1)))
	return f, true, cols, nil
}

// subscribe starts a subscription: the flow first catches up with every
// row written before the statement, so the snapshot reflects them.
func (s *Session) subscribe(ctx *expr.Ctx, st *pgsql.Subscribe) (*subscription, []Column, error) {
	opts, err := subscribeOptions(st.Options)
	if err != nil {
		return nil, nil, err
	}
	f, own, cols, err := s.planSubscribe(st, true)
	if err != nil {
		return nil, nil, err
	}
	if opts.hasSince && f.clog == nil {
		if own {
			f.stop()
		}
		return nil, nil, sqlerr.Unsupported("SUBSCRIBE ... WITH (since = ...) needs a materialized view: only views keep a changelog to resume from")
	}
	for _, src := range f.roots() {
		target := make([]uint64, len(src.shards()))
		for i, sh := range src.shards() {
			target[i] = sh.Latest()
		}
		if err := src.waitFor(ctx.Go, target); err != nil {
			if own {
				f.stop()
			}
			return nil, nil, err
		}
	}
	sub, err := f.attach(opts, colTypes(cols))
	if err != nil {
		if own {
			f.stop()
		}
		return nil, nil, err
	}
	sub.own, sub.db = own, s.db
	if own {
		s.db.mu.Lock()
		if s.db.subFlows == nil {
			s.db.subFlows = map[*viewFlow]struct{}{}
		}
		s.db.subFlows[f] = struct{}{}
		s.db.mu.Unlock()
	}
	return sub, cols, nil
}

// parseTimeout reads a timeout: a duration with a unit ('1s', '2min',
// '500 milliseconds') or a bare number of bare units (seconds for FETCH,
// milliseconds for settings, as in PostgreSQL).
func parseTimeout(v string, bare time.Duration) (time.Duration, error) {
	v = strings.TrimSpace(v)
	if d, err := time.ParseDuration(v); err == nil && d >= 0 {
		return d, nil
	}
	if n, err := strconv.ParseFloat(v, 64); err == nil && n >= 0 {
		return time.Duration(n * float64(bare)), nil
	}
	iv, err := types.ParseInterval(v)
	if err != nil || iv.ApproxMicros() < 0 {
		return 0, sqlerr.New(sqlerr.InvalidParameterValue, "invalid timeout %q (use e.g. '1s' or '500 milliseconds')", v)
	}
	return time.Duration(iv.ApproxMicros()) * time.Microsecond, nil
}
