package expr

import (
	"fmt"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/streamsql/streamsql/types"
)

// tri is a three-valued boolean: 0 false, 1 true, 2 unknown.
type tri = uint8

const (
	triF tri = 0
	triT tri = 1
	triU tri = 2
)

func triAt(v Value, i int) tri {
	if v.IsScalar() {
		if v.D.Null {
			return triU
		}
		if v.D.I != 0 {
			return triT
		}
		return triF
	}
	a := v.Arr.(*array.Boolean)
	if a.IsNull(i) {
		return triU
	}
	if a.Value(i) {
		return triT
	}
	return triF
}

func triValue(out []tri) Value {
	n := len(out)
	vals := make([]bool, n)
	nulls := 0
	for _, t := range out {
		if t == triU {
			nulls++
		}
	}
	var valid []byte
	if nulls > 0 {
		valid = make([]byte, (n+7)/8)
	}
	for i, t := range out {
		vals[i] = t == triT
		if nulls > 0 && t != triU {
			valid[i>>3] |= 1 << (i & 7)
		}
	}
	return Value{Arr: NewBools(vals, valid, nulls)}
}

// Logic is AND or OR of two or more boolean operands (Kleene logic).
type Logic struct {
	Or   bool
	Args []Expr
}

func (l *Logic) Type() types.T { return types.TBool }
func (l *Logic) String() string {
	op := " AND "
	if l.Or {
		op = " OR "
	}
	s := "("
	for i, a := range l.Args {
		if i > 0 {
			s += op
		}
		s += a.String()
	}
	return s + ")"
}

// bitsOf returns the value and validity bitmaps of a boolean column whose
// data starts on a byte boundary (valid is nil when there are no NULLs).
func bitsOf(a arrow.Array) (vals, valid []byte, ok bool) {
	d := a.Data()
	if d.Offset()%8 != 0 || len(d.Buffers()) < 2 || d.Buffers()[1] == nil {
		return nil, nil, false
	}
	nb := (a.Len() + 7) / 8
	vals = d.Buffers()[1].Bytes()[d.Offset()/8:][:nb]
	if a.NullN() > 0 {
		valid = d.Buffers()[0].Bytes()[d.Offset()/8:][:nb]
	}
	return vals, valid, true
}

// evalBits is Kleene AND/OR a byte at a time over bitmaps: the common
// case of WHERE a AND b over comparison results.
func (l *Logic) evalBits(vs []Value, n int) (Value, bool) {
	nb := (n + 7) / 8
	outV := make([]byte, nb)
	var outValid []byte
	for i := range outV {
		if l.Or {
			outV[i] = 0
		} else {
			outV[i] = 0xff
		}
	}
	hasNull := false
	for _, v := range vs {
		if v.IsScalar() {
			return Value{}, false
		}
		if _, _, ok := bitsOf(v.Arr); !ok {
			return Value{}, false
		}
		if v.Arr.NullN() > 0 {
			hasNull = true
		}
	}
	if hasNull {
		// known: value decided (AND: some false; OR: some true) or all valid
		outValid = make([]byte, nb)
		allValid := make([]byte, nb)
		decided := make([]byte, nb)
		for i := range allValid {
			allValid[i] = 0xff
		}
		for _, v := range vs {
			vals, valid, _ := bitsOf(v.Arr)
			for i := 0; i < nb; i++ {
				va := byte(0xff)
				if valid != nil {
					va = valid[i]
				}
				allValid[i] &= va
				if l.Or {
					decided[i] |= vals[i] & va
					outV[i] |= vals[i] & va
				} else {
					decided[i] |= ^vals[i] & va
					outV[i] &= vals[i] | ^va
				}
			}
		}
		for i := range outValid {
			outValid[i] = decided[i] | allValid[i]
			outV[i] &= outValid[i]
		}
	} else {
		for _, v := range vs {
			vals, _, _ := bitsOf(v.Arr)
			if l.Or {
				for i := range outV {
					outV[i] |= vals[i]
				}
			} else {
				for i := range outV {
					outV[i] &= vals[i]
				}
			}
		}
	}
	nulls := 0
	if outValid != nil {
		for i := 0; i < n; i++ {
			if outValid[i>>3]&(1<<(i&7)) == 0 {
				nulls++
			}
		}
		if nulls == 0 {
			outValid = nil
		}
	}
	var vb *memory.Buffer
	if nulls > 0 {
		vb = memory.NewBufferBytes(outValid)
	}
	data := array.NewData(arrow.FixedWidthTypes.Boolean, n, []*memory.Buffer{vb, memory.NewBufferBytes(outV)}, nil, nulls, 0)
	defer data.Release()
	return Value{Arr: array.MakeFromData(data)}, true
}

// Eval evaluates every operand over the whole batch (the fast way); when
// a later one fails, it evaluates again lazily, each operand only on the
// rows the ones before it left undecided, so that a > 0 OR 1/(a-a) = 1 is
// true where a > 0, as in PostgreSQL.
func (l *Logic) Eval(ctx *Ctx, b arrow.RecordBatch) (Value, error) {
	n := int(b.NumRows())
	if len(l.Args) <= 8 && n > 0 {
		vs := make([]Value, 0, len(l.Args))
		allCols := true
		for i, e := range l.Args {
			v, err := e.Eval(ctx, b)
			if err != nil {
				releaseAll(vs)
				if i > 0 {
					return l.lazy(ctx, b)
				}
				return Value{}, err
			}
			vs = append(vs, v)
			if v.IsScalar() {
				allCols = false
			}
		}
		if allCols {
			if out, ok := l.evalBits(vs, n); ok {
				releaseAll(vs)
				return out, nil
			}
		}
		out := l.combineValues(vs, n)
		releaseAll(vs)
		return out, nil
	}
	var acc []tri
	var accScalar tri = triT
	if l.Or {
		accScalar = triF
	}
	scalar := true
	for i, e := range l.Args {
		v, err := e.Eval(ctx, b)
		if err != nil {
			if i > 0 {
				return l.lazy(ctx, b)
			}
			return Value{}, err
		}
		if scalar && v.IsScalar() {
			accScalar = combine(l.Or, accScalar, triAt(v, 0))
			continue
		}
		if scalar {
			acc = make([]tri, n)
			for i := range acc {
				acc[i] = accScalar
			}
			scalar = false
		}
		for i := range acc {
			acc[i] = combine(l.Or, acc[i], triAt(v, i))
		}
		v.Release()
	}
	if scalar {
		if accScalar == triU {
			return Scalar(types.NullDatum), nil
		}
		return Scalar(types.DBool(accScalar == triT)), nil
	}
	return triValue(acc), nil
}

// lazy evaluates each operand on the rows still undecided (OR: not yet
// true; AND: not yet false) by the ones before it.
func (l *Logic) lazy(ctx *Ctx, b arrow.RecordBatch) (Value, error) {
	n := int(b.NumRows())
	acc := make([]tri, n)
	for i := range acc {
		acc[i] = triT
		if l.Or {
			acc[i] = triF
		}
	}
	err := lazyRows(ctx, b, l.Args, func(r int, v Value, k int) bool {
		acc[r] = combine(l.Or, acc[r], triAt(v, k))
		return (l.Or && acc[r] == triT) || (!l.Or && acc[r] == triF)
	})
	if err != nil {
		return Value{}, err
	}
	return triValue(acc), nil
}

// lazyRows evaluates args in order, each on the rows of b the ones
// before it left undecided: decide(r, v, k) takes row r's value (row k of
// v) and says whether r is decided.
func lazyRows(ctx *Ctx, b arrow.RecordBatch, args []Expr, decide func(r int, v Value, k int) bool) error {
	remaining := make([]int, int(b.NumRows()))
	for i := range remaining {
		remaining[i] = i
	}
	cur := b
	cur.Retain()
	defer func() { cur.Release() }()
	for _, e := range args {
		if len(remaining) == 0 {
			break
		}
		v, err := e.Eval(ctx, cur)
		if err != nil {
			return err
		}
		var still, stillLocal []int
		for k, r := range remaining {
			if !decide(r, v, k) {
				still, stillLocal = append(still, r), append(stillLocal, k)
			}
		}
		v.Release()
		if len(still) != len(remaining) {
			next := Take(ctx.Mem, cur, stillLocal)
			cur.Release()
			cur = next
		}
		remaining = still
	}
	return nil
}

// combineValues folds evaluated operands row by row.
func (l *Logic) combineValues(vs []Value, n int) Value {
	var acc []tri
	var accScalar tri = triT
	if l.Or {
		accScalar = triF
	}
	scalar := true
	for _, v := range vs {
		if scalar && v.IsScalar() {
			accScalar = combine(l.Or, accScalar, triAt(v, 0))
			continue
		}
		if scalar {
			acc = make([]tri, n)
			for i := range acc {
				acc[i] = accScalar
			}
			scalar = false
		}
		for i := range acc {
			acc[i] = combine(l.Or, acc[i], triAt(v, i))
		}
	}
	if scalar {
		if accScalar == triU {
			return Scalar(types.NullDatum)
		}
		return Scalar(types.DBool(accScalar == triT))
	}
	return triValue(acc)
}

func combine(or bool, a, b tri) tri {
	if or {
		switch {
		case a == triT || b == triT:
			return triT
		case a == triU || b == triU:
			return triU
		}
		return triF
	}
	switch {
	case a == triF || b == triF:
		return triF
	case a == triU || b == triU:
		return triU
	}
	return triT
}

// Not is boolean negation.
type Not struct{ E Expr }

func (n *Not) Type() types.T  { return types.TBool }
func (n *Not) String() string { return "NOT " + n.E.String() }
func (n *Not) Eval(ctx *Ctx, b arrow.RecordBatch) (Value, error) {
	v, err := n.E.Eval(ctx, b)
	if err != nil {
		return Value{}, err
	}
	defer v.Release()
	if v.IsScalar() {
		if v.D.Null {
			return v, nil
		}
		return Scalar(types.DBool(v.D.I == 0)), nil
	}
	rows := int(b.NumRows())
	a := v.Arr.(*array.Boolean)
	out := make([]bool, rows)
	for i := range out {
		out[i] = !a.Value(i)
	}
	valid, nulls := validityOf(v.Arr)
	return Value{Arr: NewBools(out, valid, nulls)}, nil
}

// IsNull is E IS [NOT] NULL.
type IsNull struct {
	E   Expr
	Not bool
}

func (n *IsNull) Type() types.T { return types.TBool }
func (n *IsNull) String() string {
	if n.Not {
		return n.E.String() + " IS NOT NULL"
	}
	return n.E.String() + " IS NULL"
}
func (n *IsNull) Eval(ctx *Ctx, b arrow.RecordBatch) (Value, error) {
	v, err := n.E.Eval(ctx, b)
	if err != nil {
		return Value{}, err
	}
	defer v.Release()
	if v.IsScalar() {
		return Scalar(types.DBool(v.D.Null != n.Not)), nil
	}
	out := make([]bool, v.Arr.Len())
	for i := range out {
		out[i] = v.Arr.IsNull(i) != n.Not
	}
	return Value{Arr: NewBools(out, nil, 0)}, nil
}

// IsBool is E IS [NOT] TRUE|FALSE|UNKNOWN.
type IsBool struct {
	E    Expr
	What tri // triT, triF or triU
	Not  bool
}

func (n *IsBool) Type() types.T { return types.TBool }
func (n *IsBool) String() string {
	return fmt.Sprintf("%s IS %v%s", n.E, map[bool]string{true: "NOT ", false: ""}[n.Not], [...]string{"FALSE", "TRUE", "UNKNOWN"}[n.What])
}
func (n *IsBool) Eval(ctx *Ctx, b arrow.RecordBatch) (Value, error) {
	v, err := n.E.Eval(ctx, b)
	if err != nil {
		return Value{}, err
	}
	defer v.Release()
	if v.IsScalar() {
		return Scalar(types.DBool((triAt(v, 0) == n.What) != n.Not)), nil
	}
	out := make([]bool, v.Arr.Len())
	for i := range out {
		out[i] = (triAt(v, i) == n.What) != n.Not
	}
	return Value{Arr: NewBools(out, nil, 0)}, nil
}

// NewIsBool builds E IS [NOT] TRUE/FALSE/UNKNOWN; what is "true", "false" or "unknown".
func NewIsBool(e Expr, what string, not bool) *IsBool {
	w := triU
	switch what {
	case "true":
		w = triT
	case "false":
		w = triF
	}
	return &IsBool{E: e, What: w, Not: not}
}

// Case is CASE WHEN c1 THEN r1 ... ELSE e END (a simple CASE is rewritten
// by the binder into comparisons).
type Case struct {
	Whens []Expr
	Thens []Expr
	Else  Expr // nil means NULL
	T     types.T
}

func (c *Case) Type() types.T { return c.T }
func (c *Case) String() string {
	s := "CASE"
	for i := range c.Whens {
		s += fmt.Sprintf(" WHEN %s THEN %s", c.Whens[i], c.Thens[i])
	}
	if c.Else != nil {
		s += " ELSE " + c.Else.String()
	}
	return s + " END"
}

// Eval evaluates each branch only on the rows that reach it, so that
// CASE WHEN x <> 0 THEN 1/x END never divides by zero.
func (c *Case) Eval(ctx *Ctx, b arrow.RecordBatch) (Value, error) {
	n := int(b.NumRows())
	if n == 0 {
		return Value{Arr: Broadcast(ctx.Mem, c.T, types.NullDatum, 0)}, nil
	}
	result := make([]types.Datum, n)
	decided := make([]bool, n)
	remaining := make([]int, n)
	for i := range remaining {
		remaining[i] = i
	}
	cur := b
	cur.Retain()
	defer func() { cur.Release() }()
	branch := func(e Expr, rows []int, sub arrow.RecordBatch) error {
		v, err := e.Eval(ctx, sub)
		if err != nil {
			return err
		}
		defer v.Release()
		for k, r := range rows {
			result[r] = v.At(k)
			decided[r] = true
		}
		return nil
	}
	for i, w := range c.Whens {
		if len(remaining) == 0 {
			break
		}
		cv, err := w.Eval(ctx, cur)
		if err != nil {
			return Value{}, err
		}
		var hit, miss []int
		var hitLocal, missLocal []int
		for k, r := range remaining {
			if triAt(cv, k) == triT {
				hit = append(hit, r)
				hitLocal = append(hitLocal, k)
			} else {
				miss = append(miss, r)
				missLocal = append(missLocal, k)
			}
		}
		cv.Release()
		if len(hit) > 0 {
			sub := Take(ctx.Mem, cur, hitLocal)
			err := branch(c.Thens[i], hit, sub)
			sub.Release()
			if err != nil {
				return Value{}, err
			}
		}
		if len(miss) != len(remaining) {
			next := Take(ctx.Mem, cur, missLocal)
			cur.Release()
			cur = next
		}
		remaining = miss
	}
	if len(remaining) > 0 && c.Else != nil {
		if err := branch(c.Else, remaining, cur); err != nil {
			return Value{}, err
		}
	}
	for i := range result {
		if !decided[i] {
			result[i] = types.NullDatum
		}
	}
	return Value{Arr: types.ArrayFromDatums(ctx.Mem, c.T, result)}, nil
}

// Coalesce returns the first non-NULL argument.
type Coalesce struct {
	Args []Expr
	T    types.T
}

func (c *Coalesce) Type() types.T  { return c.T }
func (c *Coalesce) String() string { return "COALESCE(" + listString(c.Args) + ")" }

// Eval evaluates every argument over the whole batch (the fast way); when
// one fails, it evaluates again lazily, each argument only on the rows
// still NULL, so that coalesce(a, 1/(a-a)) is a wherever a is not NULL.
func (c *Coalesce) Eval(ctx *Ctx, b arrow.RecordBatch) (Value, error) {
	args, err := evalArgs(ctx, b, c.Args)
	if err != nil && len(c.Args) > 1 {
		return c.lazy(ctx, b)
	}
	if err != nil {
		return Value{}, err
	}
	defer releaseAll(args)
	return rowFunc(ctx, int(b.NumRows()), c.T, args, false, func(ds []types.Datum) (types.Datum, error) {
		for _, d := range ds {
			if !d.Null {
				return d, nil
			}
		}
		return types.NullDatum, nil
	})
}

func (c *Coalesce) lazy(ctx *Ctx, b arrow.RecordBatch) (Value, error) {
	n := int(b.NumRows())
	result := make([]types.Datum, n)
	for i := range result {
		result[i] = types.NullDatum
	}
	err := lazyRows(ctx, b, c.Args, func(r int, v Value, k int) bool {
		d := v.At(k)
		if d.Null {
			return false
		}
		d.S = strings.Clone(d.S) // v's buffers go before the result is built
		result[r] = d
		return true
	})
	if err != nil {
		return Value{}, err
	}
	if n == 0 {
		return Value{Arr: Broadcast(ctx.Mem, c.T, types.NullDatum, 0)}, nil
	}
	return Value{Arr: types.ArrayFromDatums(ctx.Mem, c.T, result)}, nil
}

// InList is E [NOT] IN (v1, v2, ...), with SQL NULL semantics.
type InList struct {
	E    Expr
	List []Expr
	Not  bool
}

func (in *InList) Type() types.T { return types.TBool }
func (in *InList) String() string {
	not := ""
	if in.Not {
		not = "NOT "
	}
	return fmt.Sprintf("%s %sIN (%s)", in.E, not, listString(in.List))
}
func (in *InList) Eval(ctx *Ctx, b arrow.RecordBatch) (Value, error) {
	args, err := evalArgs(ctx, b, append([]Expr{in.E}, in.List...))
	if err != nil {
		return Value{}, err
	}
	defer releaseAll(args)
	t := in.E.Type()
	// constant lists on a column: a set lookup
	return rowFunc(ctx, int(b.NumRows()), types.TBool, args, false, func(ds []types.Datum) (types.Datum, error) {
		if ds[0].Null {
			return types.NullDatum, nil
		}
		sawNull := false
		for _, d := range ds[1:] {
			if d.Null {
				sawNull = true
				continue
			}
			if types.Compare(t, ds[0], d) == 0 {
				return types.DBool(!in.Not), nil
			}
		}
		if sawNull {
			return types.NullDatum, nil
		}
		return types.DBool(in.Not), nil
	})
}
