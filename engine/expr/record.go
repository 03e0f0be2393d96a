package expr

import (
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/streamsql/streamsql/types"
)

// FieldOf is (E).name: field Index of the record E (types.Record).
type FieldOf struct {
	E     Expr
	Index int
	Name  string
	T     types.T
}

func (f *FieldOf) Type() types.T  { return f.T }
func (f *FieldOf) String() string { return fmt.Sprintf("(%s).%s", f.E, f.Name) }
func (f *FieldOf) Eval(ctx *Ctx, b arrow.RecordBatch) (Value, error) {
	v, err := f.E.Eval(ctx, b)
	if err != nil {
		return Value{}, err
	}
	defer v.Release()
	return rowFunc(ctx, int(b.NumRows()), f.T, []Value{v}, true, func(ds []types.Datum) (types.Datum, error) {
		fields, err := types.ParseRecord(ds[0].S)
		if err != nil {
			return types.Datum{}, err
		}
		if f.Index >= len(fields) || fields[f.Index] == nil {
			return types.NullDatum, nil
		}
		return types.ParseText(f.T, *fields[f.Index], ctx.Loc)
	})
}

func init() {
	// substring(s FROM pattern): the part of s the POSIX pattern matches,
	// or its first parenthesized part when it has one
	Register(&Func{Name: "__substring_regex", Strict: true, Resolve: sig(tText, tText, tText), Row: func(_ *Ctx, a []types.Datum, _ []types.T, _ types.T) (types.Datum, error) {
		re, err := compileRegex(a[1].S, "")
		if err != nil {
			return types.Datum{}, err
		}
		m := re.FindStringSubmatch(a[0].S)
		switch {
		case m == nil:
			return types.NullDatum, nil
		case len(m) > 1:
			return types.DText(m[1]), nil
		}
		return types.DText(m[0]), nil
	}})
}

// RegexpSplit splits s at every match of the pattern, as PostgreSQL's
// regexp_split_to_table: an empty match splits between two characters.
func RegexpSplit(s, pattern, flags string) ([]string, error) {
	re, err := compileRegex(pattern, flags)
	if err != nil {
		return nil, err
	}
	var out []string
	start := 0
	for _, m := range re.FindAllStringIndex(s, -1) {
		if m[1] == m[0] {
			// an empty match: a split point only inside the string, between characters
			if m[0] == 0 || m[0] >= len(s) || m[0] == start && start == 0 {
				continue
			}
		}
		if m[0] == m[1] && m[0] == start {
			continue
		}
		out = append(out, s[start:m[0]])
		start = m[1]
	}
	return append(out, s[start:]), nil
}

func init() {
	Register(&Func{Name: "regexp_split_to_array", Strict: true, Resolve: func(args []types.T) (types.T, []types.T, bool) {
		if len(args) != 2 && len(args) != 3 {
			return types.T{}, nil, false
		}
		want := make([]types.T, len(args))
		for i := range want {
			want[i] = types.TText
		}
		return types.TTextArray, want, true
	}, Row: func(_ *Ctx, a []types.Datum, _ []types.T, _ types.T) (types.Datum, error) {
		flags := ""
		if len(a) > 2 {
			flags = a[2].S
		}
		parts, err := RegexpSplit(a[0].S, a[1].S, flags)
		if err != nil {
			return types.Datum{}, err
		}
		elems := make([]*string, len(parts))
		for i := range parts {
			elems[i] = &parts[i]
		}
		return types.DText(types.FormatArray(elems)), nil
	}})
}

func init() {
	// the bitwise operators of integers: & | # << >> and prefix ~
	bit := func(name string, f func(a, b int64) int64, shift bool) {
		Register(&Func{Name: name, Strict: true, Resolve: func(args []types.T) (types.T, []types.T, bool) {
			if len(args) != 2 {
				return types.T{}, nil, false
			}
			l, r := args[0], args[1]
			for _, t := range []*types.T{&l, &r} {
				if t.Kind == types.Unknown {
					*t = types.TInt32
				}
			}
			if !intKind(l.Kind) || !intKind(r.Kind) {
				return types.T{}, nil, false
			}
			if shift {
				return l, []types.T{l, types.TInt32}, true
			}
			t := CommonNumeric(l, r)
			return t, []types.T{t, t}, true
		}, Row: func(_ *Ctx, a []types.Datum, _ []types.T, rt types.T) (types.Datum, error) {
			v := f(a[0].I, a[1].I)
			switch rt.Kind {
			case types.Int16:
				v = int64(int16(v))
			case types.Int32:
				v = int64(int32(v))
			}
			return types.DInt(v), nil
		}})
	}
	bit("__bitand", func(a, b int64) int64 { return a & b }, false)
	bit("__bitor", func(a, b int64) int64 { return a | b }, false)
	bit("__bitxor", func(a, b int64) int64 { return a ^ b }, false)
	bit("__shl", func(a, b int64) int64 { return a << uint64(b&63) }, true)
	bit("__shr", func(a, b int64) int64 { return a >> uint64(b&63) }, true)
	Register(&Func{Name: "__bitnot", Strict: true, Resolve: func(args []types.T) (types.T, []types.T, bool) {
		if len(args) != 1 || !intKind(args[0].Kind) {
			return types.T{}, nil, false
		}
		return args[0], args, true
	}, Row: func(_ *Ctx, a []types.Datum, _ []types.T, _ types.T) (types.Datum, error) {
		return types.DInt(^a[0].I), nil
	}})
}

func intKind(k types.Kind) bool { return k == types.Int16 || k == types.Int32 || k == types.Int64 }
