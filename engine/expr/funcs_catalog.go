package expr

import (
	"strconv"
	"strings"

	"github.com/streamsql/streamsql/sqlerr"
	"github.com/streamsql/streamsql/types"
)

// Functions BI tools and drivers call while they introspect: PostgreSQL's
// format(), string_to_array(), pg_get_viewdef(), the connection's
// addresses.

func init() {
	// pg_typeof(any): the argument's type, NULL or not
	Register(&Func{Name: "pg_typeof", Resolve: anyArgs(types.TRegtype, 1), Row: func(_ *Ctx, _ []types.Datum, at []types.T, _ types.T) (types.Datum, error) {
		return types.DInt(int64(at[0].OID())), nil
	}})
	Register(&Func{Name: "format", Resolve: func(args []types.T) (types.T, []types.T, bool) {
		if len(args) < 1 {
			return types.T{}, nil, false
		}
		want := append([]types.T{tText}, args[1:]...)
		for i := 1; i < len(want); i++ {
			if want[i].Kind == types.Unknown || want[i].Kind == types.Null {
				want[i] = tText
			}
		}
		return tText, want, true
	}, Row: func(ctx *Ctx, a []types.Datum, at []types.T, _ types.T) (types.Datum, error) {
		if a[0].Null {
			return types.NullDatum, nil
		}
		args := make([]*string, len(a)-1)
		for i, d := range a[1:] {
			if !d.Null {
				s := textOf(ctx, at[i+1], d)
				args[i] = &s
			}
		}
		s, err := Format(a[0].S, args)
		if err != nil {
			return types.Datum{}, err
		}
		return types.DText(s), nil
	}})
	Register(&Func{Name: "string_to_array", Resolve: func(args []types.T) (types.T, []types.T, bool) {
		if len(args) != 2 && len(args) != 3 {
			return types.T{}, nil, false
		}
		want := make([]types.T, len(args))
		for i := range want {
			want[i] = tText
		}
		return types.TTextArray, want, true
	}, Row: func(_ *Ctx, a []types.Datum, _ []types.T, _ types.T) (types.Datum, error) {
		if a[0].Null {
			return types.NullDatum, nil
		}
		var parts []string
		switch {
		case a[0].S == "":
			parts = nil
		case a[1].Null:
			for _, r := range a[0].S {
				parts = append(parts, string(r)) // a NULL delimiter splits into characters
			}
		case a[1].S == "":
			parts = []string{a[0].S}
		default:
			parts = strings.Split(a[0].S, a[1].S)
		}
		elems := make([]*string, len(parts))
		for i := range parts {
			if len(a) > 2 && !a[2].Null && parts[i] == a[2].S {
				continue // the null string becomes NULL
			}
			elems[i] = &parts[i]
		}
		return types.DText(types.FormatArray(elems)), nil
	}})
	// pg_get_viewdef(view [, pretty]): the SELECT of a view, as PostgreSQL
	// prints it (a leading space, a closing semicolon)
	Register(&Func{Name: "pg_get_viewdef", Resolve: func(args []types.T) (types.T, []types.T, bool) {
		if len(args) < 1 || len(args) > 2 {
			return types.T{}, nil, false
		}
		want := []types.T{types.TOid}
		if k := args[0].Kind; k == types.Text || k == types.Unknown {
			want[0] = types.TRegclass // pg_get_viewdef('name')
		}
		if len(args) == 2 {
			want = append(want, args[1])
			if args[1].Kind != types.Bool && args[1].Kind.IsInteger() {
				want[1] = tInt // wrap column
			} else {
				want[1] = tBool
			}
		}
		return tText, want, true
	}, Row: func(ctx *Ctx, a []types.Datum, _ []types.T, _ types.T) (types.Datum, error) {
		if a[0].Null || ctx.Catalog == nil {
			return types.NullDatum, nil
		}
		if q, ok := ctx.Catalog.ViewDef(a[0].I); ok {
			q = strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(q), ";"))
			return types.DText(" " + q + ";"), nil
		}
		return types.NullDatum, nil
	}})
	// the connection's ends, as the wire layer records them in settings
	addr := func(name, setting string, t types.T) {
		Register(&Func{Name: name, Volatile: true, SessionConstant: true, Resolve: sig(t), Row: func(ctx *Ctx, _ []types.Datum, _ []types.T, _ types.T) (types.Datum, error) {
			v, ok := setting2(ctx, setting)
			if !ok || v == "" {
				return types.NullDatum, nil
			}
			if t.Kind == types.Int32 {
				n, err := strconv.Atoi(v)
				if err != nil {
					return types.NullDatum, nil
				}
				return types.DInt(int64(n)), nil
			}
			return types.DText(v), nil
		}})
	}
	addr("inet_server_addr", "__server_addr", tText)
	addr("inet_server_port", "__server_port", tInt)
	addr("inet_client_addr", "__client_addr", tText)
	addr("inet_client_port", "__client_port", tInt)
}

func setting2(ctx *Ctx, name string) (string, bool) { return setting(ctx, name) }

// textOf is a value as text output.
func textOf(ctx *Ctx, t types.T, d types.Datum) string {
	if t.Kind == types.Text || t.Kind == types.Unknown {
		return d.S
	}
	if s, err := CastDatum(ctx, t, types.TText, d); err == nil {
		return s.S
	}
	return types.FormatText(t, d, ctx.Loc)
}

// Format is PostgreSQL's format(): %s (as text), %I (an identifier,
// quoted if needed), %L (a literal, NULL unquoted), %% (a percent), each
// with an optional argument position n$ and width (- left-justifies; * or
// *n$ take it from an argument). args[i] nil is NULL.
func Format(f string, args []*string) (string, error) {
	var b strings.Builder
	next := 0
	arg := func(pos int) (*string, error) {
		if pos < 0 {
			pos = next
		}
		if pos >= len(args) {
			return nil, sqlerr.New(sqlerr.InvalidParameterValue, "too few arguments for format()")
		}
		next = pos + 1
		return args[pos], nil
	}
	for i := 0; i < len(f); i++ {
		c := f[i]
		if c != '%' {
			b.WriteByte(c)
			continue
		}
		i++
		if i >= len(f) {
			return "", sqlerr.New(sqlerr.InvalidParameterValue, "unterminated format() type specifier").WithHint(`For a single "%" use "%%".`)
		}
		if f[i] == '%' {
			b.WriteByte('%')
			continue
		}
		// [n$][flags][width][type]
		num := func() (int, bool) {
			j := i
			for i < len(f) && f[i] >= '0' && f[i] <= '9' {
				i++
			}
			if j == i {
				return 0, false
			}
			n, _ := strconv.Atoi(f[j:i])
			return n, true
		}
		pos := -1
		save := i
		if n, ok := num(); ok && i < len(f) && f[i] == '$' {
			if n == 0 {
				return "", sqlerr.New(sqlerr.InvalidParameterValue, "format specifies argument 0, but arguments are numbered from 1")
			}
			pos = n - 1
			i++
		} else {
			i = save
		}
		left := false
		if i < len(f) && f[i] == '-' {
			left = true
			i++
		}
		width := 0
		if i < len(f) && f[i] == '*' {
			i++
			wpos := -1
			save := i
			if n, ok := num(); ok && i < len(f) && f[i] == '$' {
				wpos = n - 1
				i++
			} else {
				i = save
			}
			w, err := arg(wpos)
			if err != nil {
				return "", err
			}
			if w != nil {
				n, err := strconv.Atoi(*w)
				if err != nil {
					return "", sqlerr.New(sqlerr.InvalidParameterValue, "format() width must be an integer")
				}
				if n < 0 {
					left, n = true, -n
				}
				width = n
			}
		} else if n, ok := num(); ok {
			width = n
		}
		if i >= len(f) {
			return "", sqlerr.New(sqlerr.InvalidParameterValue, "unterminated format() type specifier")
		}
		v, err := arg(pos)
		if err != nil {
			return "", err
		}
		var s string
		switch f[i] {
		case 's':
			if v != nil {
				s = *v
			}
		case 'I':
			if v == nil {
				return "", sqlerr.New(sqlerr.NullValueNotAllowed, "null values cannot be formatted as an SQL identifier")
			}
			s = QuoteIdent(*v)
		case 'L':
			if v == nil {
				s = "NULL"
			} else {
				s = QuoteLiteral(*v)
			}
		default:
			return "", sqlerr.New(sqlerr.InvalidParameterValue, "unrecognized format() type specifier %q", string(f[i])).WithHint(`For a single "%" use "%%".`)
		}
		if pad := width - len([]rune(s)); pad > 0 {
			if left {
				s += strings.Repeat(" ", pad)
			} else {
				s = strings.Repeat(" ", pad) + s
			}
		}
		b.WriteString(s)
	}
	return b.String(), nil
}

// QuoteIdent quotes an identifier when PostgreSQL would (quote_ident).
func QuoteIdent(s string) string {
	plain := s != ""
	for i, r := range s {
		if !(r == '_' || r >= 'a' && r <= 'z' || i > 0 && (r >= '0' && r <= '9' || r == '$')) {
			plain = false
		}
	}
	if plain && !reservedWord(s) {
		return s
	}
	return `"` + strings.ReplaceAll(s, `"`, `""`) + `"`
}

// QuoteLiteral quotes a string literal (quote_literal), with E” when it
// holds backslashes.
func QuoteLiteral(s string) string {
	q := "'" + strings.ReplaceAll(s, "'", "''") + "'"
	if strings.Contains(s, `\`) {
		return "E" + strings.ReplaceAll(q, `\`, `\\`)
	}
	return q
}

// reservedWord: PostgreSQL's reserved keywords, which quote_ident quotes.
func reservedWord(s string) bool {
	switch s {
	case "all", "analyse", "analyze", "and", "any", "array", "as", "asc", "asymmetric", "both", "case", "cast",
		"check", "collate", "column", "constraint", "create", "current_catalog", "current_date", "current_role",
		"current_time", "current_timestamp", "current_user", "default", "deferrable", "desc", "distinct", "do",
		"else", "end", "except", "false", "fetch", "for", "foreign", "from", "grant", "group", "having", "in",
		"initially", "intersect", "into", "lateral", "leading", "limit", "localtime", "localtimestamp", "not",
		"null", "offset", "on", "only", "or", "order", "placing", "primary", "references", "returning", "select",
		"session_user", "some", "symmetric", "table", "then", "to", "trailing", "true", "union", "unique", "user",
		"using", "variadic", "when", "where", "window", "with":
		return true
	}
	return false
}

func init() {
	// array functions over any element type: arrays are kept as text
	arrayElem := func(args []types.T, n int) (types.T, []types.T, bool) {
		if len(args) != n {
			return types.T{}, nil, false
		}
		at := args[0]
		if at.Kind == types.Unknown {
			at = types.TTextArray
		}
		if at.Kind != types.Array {
			return types.T{}, nil, false
		}
		want := []types.T{at}
		for range args[1:] {
			want = append(want, at.ElemType())
		}
		return at, want, true
	}
	elemText := func(ctx *Ctx, t types.T, d types.Datum) *string {
		if d.Null {
			return nil
		}
		s := types.FormatText(t, d, ctx.Loc)
		return &s
	}
	Register(&Func{Name: "array_remove", Resolve: func(a []types.T) (types.T, []types.T, bool) { return arrayElem(a, 2) },
		Row: func(ctx *Ctx, a []types.Datum, at []types.T, _ types.T) (types.Datum, error) {
			if a[0].Null {
				return types.NullDatum, nil
			}
			elems, err := types.ParseArray(a[0].S)
			if err != nil {
				return types.Datum{}, sqlerr.New(sqlerr.InvalidTextRep, "malformed array literal: %q", a[0].S)
			}
			drop := elemText(ctx, at[1], a[1])
			out := elems[:0]
			for _, e := range elems {
				if (e == nil) == (drop == nil) && (e == nil || *e == *drop) {
					continue
				}
				out = append(out, e)
			}
			return types.DText(types.FormatArray(out)), nil
		}})
	Register(&Func{Name: "array_append", Resolve: func(a []types.T) (types.T, []types.T, bool) { return arrayElem(a, 2) },
		Row: func(ctx *Ctx, a []types.Datum, at []types.T, _ types.T) (types.Datum, error) {
			var elems []*string
			if !a[0].Null {
				var err error
				if elems, err = types.ParseArray(a[0].S); err != nil {
					return types.Datum{}, sqlerr.New(sqlerr.InvalidTextRep, "malformed array literal: %q", a[0].S)
				}
			}
			return types.DText(types.FormatArray(append(elems, elemText(ctx, at[1], a[1])))), nil
		}})
	Register(&Func{Name: "array_position", Resolve: func(a []types.T) (types.T, []types.T, bool) {
		at, want, ok := arrayElem(a, 2)
		_ = at
		return tInt, want, ok
	}, Row: func(ctx *Ctx, a []types.Datum, at []types.T, _ types.T) (types.Datum, error) {
		if a[0].Null {
			return types.NullDatum, nil
		}
		elems, err := types.ParseArray(a[0].S)
		if err != nil {
			return types.Datum{}, sqlerr.New(sqlerr.InvalidTextRep, "malformed array literal: %q", a[0].S)
		}
		find := elemText(ctx, at[1], a[1])
		for i, e := range elems {
			if (e == nil) == (find == nil) && (e == nil || *e == *find) {
				return types.DInt(int64(i + 1)), nil
			}
		}
		return types.NullDatum, nil
	}})
}
