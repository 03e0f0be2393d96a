package exec

import (
	"math/bits"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/streamsql/streamsql/engine/expr"
	"github.com/streamsql/streamsql/sqlerr"
	"github.com/streamsql/streamsql/types"
)

// Operator produces batches. Next returns nil at the end. The caller owns
// (and releases) each batch. Close releases what the operator holds; it is
// safe to call more than once.
type Operator interface {
	Types() []types.T
	Next(ctx *expr.Ctx) (arrow.RecordBatch, error)
	Close()
}

// BatchSize is the number of rows operators aim for per batch.
const BatchSize = 4096

// checkCancel returns 57014 when the statement's context is done.
func checkCancel(ctx *expr.Ctx) error {
	if ctx.Go != nil {
		select {
		case <-ctx.Go.Done():
			return sqlerr.New(sqlerr.QueryCanceled, "canceling statement due to user request")
		default:
		}
	}
	return nil
}

// Drain runs op to the end, returning all batches.
func Drain(ctx *expr.Ctx, op Operator) ([]arrow.RecordBatch, error) {
	defer op.Close()
	var out []arrow.RecordBatch
	for {
		b, err := op.Next(ctx)
		if err != nil {
			for _, x := range out {
				x.Release()
			}
			return nil, err
		}
		if b == nil {
			return out, nil
		}
		if b.NumRows() == 0 {
			b.Release()
			continue
		}
		out = append(out, b)
	}
}

// Scan yields a fixed list of batches (a table snapshot, a materialised input).
type Scan struct {
	T       []types.T
	Batches []arrow.RecordBatch // retained by the scan, released on Close
	i       int
}

// NewScan returns a scan over batches; it takes ownership of them.
func NewScan(ts []types.T, batches []arrow.RecordBatch) *Scan {
	return &Scan{T: ts, Batches: batches}
}

func (s *Scan) Types() []types.T { return s.T }
func (s *Scan) Next(ctx *expr.Ctx) (arrow.RecordBatch, error) {
	if err := checkCancel(ctx); err != nil {
		return nil, err
	}
	if s.i >= len(s.Batches) {
		return nil, nil
	}
	b := s.Batches[s.i]
	s.i++
	b.Retain()
	return b, nil
}
func (s *Scan) Close() {
	for _, b := range s.Batches {
		b.Release()
	}
	s.Batches = nil
}

// Filter keeps the rows where Pred is true.
type Filter struct {
	In   Operator
	Pred expr.Expr
}

func (f *Filter) Types() []types.T { return f.In.Types() }
func (f *Filter) Close()           { f.In.Close() }
func (f *Filter) Next(ctx *expr.Ctx) (arrow.RecordBatch, error) {
	for {
		b, err := f.In.Next(ctx)
		if err != nil || b == nil {
			return nil, err
		}
		out, err := FilterBatch(ctx, b, f.Pred)
		b.Release()
		if err != nil {
			return nil, err
		}
		if out.NumRows() == 0 {
			out.Release()
			continue
		}
		return out, nil
	}
}

// FilterBatch returns the rows of b where pred is true (b stays owned by the caller).
func FilterBatch(ctx *expr.Ctx, b arrow.RecordBatch, pred expr.Expr) (arrow.RecordBatch, error) {
	v, err := pred.Eval(ctx, b)
	if err != nil {
		return nil, err
	}
	defer v.Release()
	n := int(b.NumRows())
	if v.IsScalar() {
		if !v.D.Null && v.D.I != 0 {
			b.Retain()
			return b, nil
		}
		return expr.Take(ctx.Mem, b, nil), nil
	}
	sel := Selection(v.Arr, n)
	if len(sel) == n {
		b.Retain()
		return b, nil
	}
	return expr.Take(ctx.Mem, b, sel), nil
}

// Selection returns the indexes of rows that are true (not NULL) in a boolean column.
func Selection(a arrow.Array, n int) []int {
	sel := make([]int, 0, n)
	if d := a.Data(); a.NullN() == 0 && d.Offset() == 0 && len(d.Buffers()) > 1 && d.Buffers()[1] != nil {
		// a word at a time over the bitmap
		bm := d.Buffers()[1].Bytes()
		for k := 0; k*8 < n; k++ {
			w := bm[k]
			for w != 0 {
				i := k*8 + bits.TrailingZeros8(w)
				if i >= n {
					break
				}
				sel = append(sel, i)
				w &= w - 1
			}
		}
		return sel
	}
	bools := a.(interface{ Value(int) bool })
	if a.NullN() == 0 {
		for i := 0; i < n; i++ {
			if bools.Value(i) {
				sel = append(sel, i)
			}
		}
		return sel
	}
	for i := 0; i < n; i++ {
		if a.IsValid(i) && bools.Value(i) {
			sel = append(sel, i)
		}
	}
	return sel
}

// Project computes a new batch of expressions.
type Project struct {
	In    Operator
	Exprs []expr.Expr
	t     []types.T
}

// NewProject returns a projection.
func NewProject(in Operator, es []expr.Expr) *Project {
	ts := make([]types.T, len(es))
	for i, e := range es {
		ts[i] = e.Type()
	}
	return &Project{In: in, Exprs: es, t: ts}
}

func (p *Project) Types() []types.T { return p.t }
func (p *Project) Close()           { p.In.Close() }
func (p *Project) Next(ctx *expr.Ctx) (arrow.RecordBatch, error) {
	b, err := p.In.Next(ctx)
	if err != nil || b == nil {
		return nil, err
	}
	defer b.Release()
	return ProjectBatch(ctx, b, p.Exprs, p.t)
}

// ProjectBatch evaluates exprs over b into a new batch.
func ProjectBatch(ctx *expr.Ctx, b arrow.RecordBatch, es []expr.Expr, ts []types.T) (arrow.RecordBatch, error) {
	n := int(b.NumRows())
	cols := make([]arrow.Array, len(es))
	defer func() {
		for _, c := range cols {
			if c != nil {
				c.Release()
			}
		}
	}()
	for i, e := range es {
		v, err := e.Eval(ctx, b)
		if err != nil {
			return nil, err
		}
		cols[i] = expr.ToArray(ctx.Mem, ts[i], v, n)
		v.Release()
	}
	return expr.NewBatch(ts, cols, n), nil
}

// Limit skips Offset rows then passes at most Count rows (Count < 0: all).
type Limit struct {
	In            Operator
	Count, Offset int64
	// Ties: the sort keys of a LIMIT WITH TIES (the input is sorted by
	// them): after Count rows, the rows equal to the last on them come too
	Ties          []expr.Expr
	seen, emitted int64
	last          []types.Datum // the last row counted, on Ties
	done          bool
}

func (l *Limit) Types() []types.T { return l.In.Types() }
func (l *Limit) Close()           { l.In.Close() }
func (l *Limit) Next(ctx *expr.Ctx) (arrow.RecordBatch, error) {
	for {
		if l.done {
			return nil, nil
		}
		if l.Count >= 0 && l.emitted >= l.Count {
			if len(l.Ties) == 0 || l.last == nil {
				return nil, nil
			}
			return l.ties(ctx)
		}
		b, err := l.In.Next(ctx)
		if err != nil || b == nil {
			return nil, err
		}
		n := b.NumRows()
		start := int64(0)
		if l.seen < l.Offset {
			start = min(l.Offset-l.seen, n)
		}
		l.seen += n
		end := n
		if l.Count >= 0 && end-start > l.Count-l.emitted {
			end = start + l.Count - l.emitted
		}
		if start >= end {
			b.Release()
			continue
		}
		l.emitted += end - start
		if len(l.Ties) > 0 && l.Count >= 0 && l.emitted >= l.Count {
			// the last row counted: later rows equal to it come too
			var err error
			if end, err = l.tiedUntil(ctx, b, end, true); err != nil {
				b.Release()
				return nil, err
			}
		}
		if start == 0 && end == n {
			return b, nil
		}
		s := b.NewSlice(start, end)
		b.Release()
		return s, nil
	}
}

// ties returns the rows of the next batch equal to the last one counted,
// until one is not.
func (l *Limit) ties(ctx *expr.Ctx) (arrow.RecordBatch, error) {
	b, err := l.In.Next(ctx)
	if err != nil || b == nil {
		return nil, err
	}
	end, err := l.tiedUntil(ctx, b, 0, false)
	if err != nil {
		b.Release()
		return nil, err
	}
	if end == b.NumRows() {
		return b, nil
	}
	s := b.NewSlice(0, end)
	b.Release()
	return s, nil
}

// tiedUntil returns the end of the run of rows of b from row from that
// are tied (NULLs equal: they sort together) with the last row counted —
// with counted, row from-1 of b, which it remembers. done is set when
// the run ends inside b. The keys are evaluated once for the batch.
func (l *Limit) tiedUntil(ctx *expr.Ctx, b arrow.RecordBatch, from int64, counted bool) (int64, error) {
	vals := make([]expr.Value, len(l.Ties))
	for i, k := range l.Ties {
		v, err := k.Eval(ctx, b)
		if err != nil {
			for _, x := range vals[:i] {
				x.Release()
			}
			return 0, err
		}
		vals[i] = v
	}
	defer func() {
		for _, v := range vals {
			v.Release()
		}
	}()
	if counted {
		l.last = make([]types.Datum, len(vals))
		for i, v := range vals {
			d := v.At(int(from - 1))
			d.S = strings.Clone(d.S) // the batch goes; the row is kept
			l.last[i] = d
		}
	}
	end := from
	for ; end < b.NumRows(); end++ {
		for i, v := range vals {
			d, e := v.At(int(end)), l.last[i]
			if d.Null != e.Null || (!d.Null && types.Compare(l.Ties[i].Type(), d, e) != 0) {
				l.done = true
				return end, nil
			}
		}
	}
	return end, nil
}

// Values evaluates rows of expressions once (VALUES lists, SELECT without FROM).
type Values struct {
	T    []types.T
	Rows [][]expr.Expr
	done bool
}

func (v *Values) Types() []types.T { return v.T }
func (v *Values) Close()           {}
func (v *Values) Next(ctx *expr.Ctx) (arrow.RecordBatch, error) {
	if v.done {
		return nil, nil
	}
	v.done = true
	cols := make([][]types.Datum, len(v.T))
	for _, row := range v.Rows {
		for i, e := range row {
			d, err := expr.EvalRow(ctx, e)
			if err != nil {
				return nil, err
			}
			cols[i] = append(cols[i], d)
		}
	}
	arrs := make([]arrow.Array, len(v.T))
	for i := range arrs {
		arrs[i] = types.ArrayFromDatums(ctx.Mem, v.T[i], cols[i])
		defer arrs[i].Release()
	}
	return expr.NewBatch(v.T, arrs, len(v.Rows)), nil
}

// DistinctOn keeps the first row of each run of equal Keys: SELECT
// DISTINCT ON over input sorted by those keys.
type DistinctOn struct {
	In   Operator
	Keys []expr.Expr
	last []byte
	have bool
}

func (d *DistinctOn) Types() []types.T { return d.In.Types() }
func (d *DistinctOn) Close()           { d.In.Close() }
func (d *DistinctOn) Next(ctx *expr.Ctx) (arrow.RecordBatch, error) {
	for {
		b, err := d.In.Next(ctx)
		if err != nil || b == nil {
			return nil, err
		}
		keys, err := evalAll(ctx, b, d.Keys)
		if err != nil {
			b.Release()
			return nil, err
		}
		ts := exprTypes(d.Keys)
		var keep []int
		for i, k := range rowKeys(keys, ts, int(b.NumRows())) {
			if !d.have || k != string(d.last) {
				keep = append(keep, i)
				d.last, d.have = []byte(k), true
			}
		}
		releaseValues(keys)
		out := expr.Take(ctx.Mem, b, keep)
		b.Release()
		if out.NumRows() > 0 {
			return out, nil
		}
		out.Release()
	}
}
