package exec

import (
	"github.com/apache/arrow-go/v18/arrow"
	"github.com/streamsql/streamsql/engine/expr"
	"github.com/streamsql/streamsql/types"
)

// SetFunc expands one row's argument values into a list of values: a
// set-returning function in a select list (unnest, generate_series, ...).
type SetFunc struct {
	Args []expr.Expr
	T    types.T
	Eval func(ctx *expr.Ctx, args []types.Datum) ([]types.Datum, error)
}

// ProjectSet evaluates set-returning functions per input row and emits
// one output row per element, the input columns repeated; shorter
// results are padded with NULLs (PostgreSQL 10+ semantics).
type ProjectSet struct {
	In    Operator
	Funcs []SetFunc
	t     []types.T
}

// NewProjectSet returns the operator; its output is the input columns
// followed by one column per function.
func NewProjectSet(in Operator, fs []SetFunc) *ProjectSet {
	p := &ProjectSet{In: in, Funcs: fs}
	p.t = append(p.t, in.Types()...)
	for _, f := range fs {
		p.t = append(p.t, f.T)
	}
	return p
}

func (p *ProjectSet) Types() []types.T { return p.t }
func (p *ProjectSet) Close()           { p.In.Close() }

func (p *ProjectSet) Next(ctx *expr.Ctx) (arrow.RecordBatch, error) {
	for {
		b, err := p.In.Next(ctx)
		if err != nil || b == nil {
			return nil, err
		}
		out, err := p.expand(ctx, b)
		b.Release()
		if err != nil {
			return nil, err
		}
		if out.NumRows() > 0 {
			return out, nil
		}
		out.Release()
	}
}

func (p *ProjectSet) expand(ctx *expr.Ctx, b arrow.RecordBatch) (arrow.RecordBatch, error) {
	n := int(b.NumRows())
	argVals := make([][]expr.Value, len(p.Funcs))
	for i, f := range p.Funcs {
		vs, err := evalAll(ctx, b, f.Args)
		if err != nil {
			return nil, err
		}
		defer releaseValues(vs)
		argVals[i] = vs
	}
	var rows []int
	results := make([][]types.Datum, len(p.Funcs))
	for r := 0; r < n; r++ {
		per := make([][]types.Datum, len(p.Funcs))
		longest := 0
		for i, f := range p.Funcs {
			args := make([]types.Datum, len(f.Args))
			for k, v := range argVals[i] {
				args[k] = v.At(r)
			}
			vals, err := f.Eval(ctx, args)
			if err != nil {
				return nil, err
			}
			per[i] = vals
			longest = max(longest, len(vals))
		}
		for k := 0; k < longest; k++ {
			rows = append(rows, r)
			for i := range p.Funcs {
				if k < len(per[i]) {
					results[i] = append(results[i], per[i][k])
				} else {
					results[i] = append(results[i], types.NullDatum)
				}
			}
		}
	}
	cols := make([]arrow.Array, 0, len(p.t))
	for c := 0; c < int(b.NumCols()); c++ {
		cols = append(cols, expr.TakeArray(ctx.Mem, b.Column(c), rows))
	}
	for i, f := range p.Funcs {
		cols = append(cols, types.ArrayFromDatums(ctx.Mem, f.T, results[i]))
	}
	out := expr.NewBatch(p.t, cols, len(rows))
	for _, c := range cols {
		c.Release()
	}
	return out, nil
}
