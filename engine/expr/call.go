package expr

import (
	"fmt"
	"sort"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/streamsql/streamsql/types"
)

// Func is a scalar function. Resolve picks the result type and the types
// the arguments are cast to for the given argument types (ok=false when the
// function does not accept them). Row computes one result.
type Func struct {
	Name     string
	Resolve  func(args []types.T) (ret types.T, want []types.T, ok bool)
	Row      func(ctx *Ctx, args []types.Datum, argT []types.T, ret types.T) (types.Datum, error)
	Strict   bool // NULL when any argument is NULL
	Volatile bool // depends on more than its arguments: never folded
	// SessionConstant: volatile, but the same for every call in a session
	// (current_user, version()): a continuous query may use it, unlike
	// now() or random(), whose values change from call to call.
	SessionConstant bool
}

// Call applies a Func to arguments already cast to the wanted types.
type Call struct {
	F    *Func
	Args []Expr
	T    types.T
}

func (c *Call) Type() types.T  { return c.T }
func (c *Call) String() string { return fmt.Sprintf("%s(%s)", c.F.Name, listString(c.Args)) }
func (c *Call) Eval(ctx *Ctx, b arrow.RecordBatch) (Value, error) {
	args, err := evalArgs(ctx, b, c.Args)
	if err != nil {
		return Value{}, err
	}
	defer releaseAll(args)
	argT := make([]types.T, len(c.Args))
	for i, a := range c.Args {
		argT[i] = a.Type()
	}
	if len(args) == 0 {
		d, err := c.F.Row(ctx, nil, nil, c.T)
		return Scalar(d), err
	}
	return rowFunc(ctx, int(b.NumRows()), c.T, args, c.F.Strict, func(ds []types.Datum) (types.Datum, error) {
		return c.F.Row(ctx, ds, argT, c.T)
	})
}

var registry = map[string][]*Func{}

// Register adds a function under its name; overloads are tried in order.
func Register(f *Func) { registry[f.Name] = append(registry[f.Name], f) }

// Lookup returns the overloads of a function.
func Lookup(name string) []*Func { return registry[name] }

// FuncNames lists every registered function name.
func FuncNames() []string {
	out := make([]string, 0, len(registry))
	for k := range registry {
		if len(k) > 2 && k[:2] == "__" {
			continue
		}
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func timeOf(us int64) time.Time { return time.UnixMicro(us).UTC() }

// Signature helpers ---------------------------------------------------------

// sig accepts exactly the given argument types (after implicit casts) and returns ret.
func sig(ret types.T, args ...types.T) func([]types.T) (types.T, []types.T, bool) {
	return func(in []types.T) (types.T, []types.T, bool) {
		if len(in) != len(args) {
			return types.T{}, nil, false
		}
		for i := range in {
			if !CanImplicit(in[i], args[i]) {
				return types.T{}, nil, false
			}
		}
		return ret, args, true
	}
}

// variadic accepts any number (≥ min) of arguments of type t.
func variadic(ret types.T, t types.T, min int) func([]types.T) (types.T, []types.T, bool) {
	return func(in []types.T) (types.T, []types.T, bool) {
		if len(in) < min {
			return types.T{}, nil, false
		}
		want := make([]types.T, len(in))
		for i := range in {
			want[i] = t
			if t.Kind == types.Text && in[i].Kind != types.Text && in[i].Kind != types.Unknown && in[i].Kind != types.Null {
				// concat() and friends accept anything, printed as text
				want[i] = in[i]
			}
		}
		return ret, want, true
	}
}

// anyArgs accepts any arguments as they are.
func anyArgs(ret types.T, n ...int) func([]types.T) (types.T, []types.T, bool) {
	return func(in []types.T) (types.T, []types.T, bool) {
		if len(n) > 0 {
			ok := false
			for _, k := range n {
				if k == len(in) {
					ok = true
				}
			}
			if !ok {
				return types.T{}, nil, false
			}
		}
		return ret, in, true
	}
}

// CanImplicit reports whether PostgreSQL would cast from to to implicitly
// (in function arguments and assignments of expressions).
func CanImplicit(from, to types.T) bool {
	if from.Kind == to.Kind && (from.Kind != types.Array || from.Elem == to.Elem) {
		return true
	}
	switch from.Kind {
	case types.Unknown, types.Null:
		return true
	case types.Int16:
		return to.Kind == types.Int32 || to.Kind == types.Int64 || to.Kind == types.Float32 || to.Kind == types.Float64 || to.Kind == types.Numeric || to.Kind == types.Oid
	case types.Int32:
		return to.Kind == types.Int64 || to.Kind == types.Float32 || to.Kind == types.Float64 || to.Kind == types.Numeric || to.Kind == types.Oid
	case types.Int64:
		return to.Kind == types.Float32 || to.Kind == types.Float64 || to.Kind == types.Numeric || to.Kind == types.Oid
	case types.Oid:
		return to.Kind == types.Int64
	case types.Numeric:
		return to.Kind == types.Float32 || to.Kind == types.Float64
	case types.Float32:
		return to.Kind == types.Float64
	case types.Date:
		return to.Kind == types.Timestamp || to.Kind == types.TimestampTZ
	case types.Timestamp:
		return to.Kind == types.TimestampTZ
	case types.Text:
		return to.Kind == types.Text
	}
	return false
}
