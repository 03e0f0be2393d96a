package expr

import (
	"crypto/md5"
	"encoding/hex"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"github.com/streamsql/streamsql/sqlerr"
	"github.com/streamsql/streamsql/types"
)

var (
	tText = types.TText
	tInt  = types.TInt32
	tBig  = types.TInt64
	tBool = types.TBool
)

func textFn(name string, f func(s string) string) {
	Register(&Func{Name: name, Strict: true, Resolve: sig(tText, tText), Row: func(_ *Ctx, a []types.Datum, _ []types.T, _ types.T) (types.Datum, error) {
		return types.DText(f(a[0].S)), nil
	}})
}

func init() {
	textFn("lower", strings.ToLower)
	textFn("upper", strings.ToUpper)
	textFn("reverse", func(s string) string {
		r := []rune(s)
		for i, j := 0, len(r)-1; i < j; i, j = i+1, j-1 {
			r[i], r[j] = r[j], r[i]
		}
		return string(r)
	})
	textFn("initcap", func(s string) string {
		r := []rune(strings.ToLower(s))
		up := true
		for i, c := range r {
			if up && unicode.IsLetter(c) {
				r[i] = unicode.ToUpper(c)
			}
			up = !(unicode.IsLetter(c) || unicode.IsDigit(c))
		}
		return string(r)
	})
	textFn("md5", func(s string) string { h := md5.Sum([]byte(s)); return hex.EncodeToString(h[:]) })
	textFn("quote_ident", QuoteIdent)
	textFn("quote_literal", QuoteLiteral)
	for _, n := range []string{"length", "char_length", "character_length"} {
		Register(&Func{Name: n, Strict: true, Resolve: sig(tInt, tText), Row: func(_ *Ctx, a []types.Datum, _ []types.T, _ types.T) (types.Datum, error) {
			return types.DInt(int64(utf8.RuneCountInString(a[0].S))), nil
		}})
	}
	Register(&Func{Name: "length", Strict: true, Resolve: sig(tInt, types.TBytea), Row: func(_ *Ctx, a []types.Datum, _ []types.T, _ types.T) (types.Datum, error) {
		return types.DInt(int64(len(a[0].S))), nil
	}})
	Register(&Func{Name: "octet_length", Strict: true, Resolve: sig(tInt, tText), Row: func(_ *Ctx, a []types.Datum, _ []types.T, _ types.T) (types.Datum, error) {
		return types.DInt(int64(len(a[0].S))), nil
	}})
	substr := func(_ *Ctx, a []types.Datum, _ []types.T, _ types.T) (types.Datum, error) {
		r := []rune(a[0].S)
		start := a[1].I
		end := int64(len(r)) + 1
		if len(a) > 2 {
			if a[2].I < 0 {
				return types.Datum{}, sqlerr.New(sqlerr.SubstringError, "negative substring length not allowed")
			}
			end = start + a[2].I
		}
		if start < 1 {
			start = 1
		}
		if end > int64(len(r))+1 {
			end = int64(len(r)) + 1
		}
		if end <= start {
			return types.DText(""), nil
		}
		return types.DText(string(r[start-1 : end-1])), nil
	}
	for _, n := range []string{"substr", "substring"} {
		Register(&Func{Name: n, Strict: true, Resolve: sig(tText, tText, tInt), Row: substr})
		Register(&Func{Name: n, Strict: true, Resolve: sig(tText, tText, tInt, tInt), Row: substr})
	}
	trim := func(name string, left, right bool) {
		f := func(_ *Ctx, a []types.Datum, _ []types.T, _ types.T) (types.Datum, error) {
			cut := " "
			if len(a) > 1 {
				cut = a[1].S
			}
			s := a[0].S
			if left {
				s = strings.TrimLeft(s, cut)
			}
			if right {
				s = strings.TrimRight(s, cut)
			}
			return types.DText(s), nil
		}
		Register(&Func{Name: name, Strict: true, Resolve: sig(tText, tText), Row: f})
		Register(&Func{Name: name, Strict: true, Resolve: sig(tText, tText, tText), Row: f})
	}
	trim("btrim", true, true)
	trim("trim", true, true)
	trim("ltrim", true, false)
	trim("rtrim", false, true)
	Register(&Func{Name: "replace", Strict: true, Resolve: sig(tText, tText, tText, tText), Row: func(_ *Ctx, a []types.Datum, _ []types.T, _ types.T) (types.Datum, error) {
		if a[1].S == "" {
			return a[0], nil
		}
		return types.DText(strings.ReplaceAll(a[0].S, a[1].S, a[2].S)), nil
	}})
	Register(&Func{Name: "__concat", Resolve: variadic(tText, tText, 1), Row: func(ctx *Ctx, a []types.Datum, at []types.T, _ types.T) (types.Datum, error) {
		var b strings.Builder
		for i, d := range a {
			if !d.Null {
				b.WriteString(asText(ctx, at[i], d))
			}
		}
		return types.DText(b.String()), nil
	}})
	Register(&Func{Name: "concat_ws", Resolve: variadic(tText, tText, 2), Row: func(ctx *Ctx, a []types.Datum, at []types.T, _ types.T) (types.Datum, error) {
		if a[0].Null {
			return types.NullDatum, nil
		}
		var parts []string
		for i, d := range a[1:] {
			if !d.Null {
				parts = append(parts, asText(ctx, at[i+1], d))
			}
		}
		return types.DText(strings.Join(parts, a[0].S)), nil
	}})
	Register(&Func{Name: "left", Strict: true, Resolve: sig(tText, tText, tInt), Row: func(_ *Ctx, a []types.Datum, _ []types.T, _ types.T) (types.Datum, error) {
		r := []rune(a[0].S)
		n := int(a[1].I)
		if n < 0 {
			n = max(len(r)+n, 0)
		}
		return types.DText(string(r[:min(n, len(r))])), nil
	}})
	Register(&Func{Name: "right", Strict: true, Resolve: sig(tText, tText, tInt), Row: func(_ *Ctx, a []types.Datum, _ []types.T, _ types.T) (types.Datum, error) {
		r := []rune(a[0].S)
		n := int(a[1].I)
		if n < 0 {
			n = max(len(r)+n, 0)
		}
		return types.DText(string(r[len(r)-min(n, len(r)):])), nil
	}})
	pos := func(_ *Ctx, a []types.Datum, _ []types.T, _ types.T) (types.Datum, error) {
		i := strings.Index(a[0].S, a[1].S)
		if i < 0 {
			return types.DInt(0), nil
		}
		return types.DInt(int64(utf8.RuneCountInString(a[0].S[:i]) + 1)), nil
	}
	Register(&Func{Name: "strpos", Strict: true, Resolve: sig(tInt, tText, tText), Row: pos})
	Register(&Func{Name: "position", Strict: true, Resolve: sig(tInt, tText, tText), Row: func(ctx *Ctx, a []types.Datum, t []types.T, r types.T) (types.Datum, error) {
		// TiDB gives position(sub IN s) as position(sub, s)
		return pos(ctx, []types.Datum{a[1], a[0]}, t, r)
	}})
	Register(&Func{Name: "split_part", Strict: true, Resolve: sig(tText, tText, tText, tInt), Row: func(_ *Ctx, a []types.Datum, _ []types.T, _ types.T) (types.Datum, error) {
		parts := strings.Split(a[0].S, a[1].S)
		n := int(a[2].I)
		if n == 0 {
			return types.Datum{}, sqlerr.New(sqlerr.InvalidParameterValue, "field position must not be zero")
		}
		if n < 0 {
			n = len(parts) + n + 1
		}
		if n < 1 || n > len(parts) {
			return types.DText(""), nil
		}
		return types.DText(parts[n-1]), nil
	}})
	Register(&Func{Name: "repeat", Strict: true, Resolve: sig(tText, tText, tInt), Row: func(_ *Ctx, a []types.Datum, _ []types.T, _ types.T) (types.Datum, error) {
		if a[1].I <= 0 {
			return types.DText(""), nil
		}
		if int64(len(a[0].S))*a[1].I > 1<<28 {
			return types.Datum{}, sqlerr.New(sqlerr.ProgramLimitExceeded, "requested length too large")
		}
		return types.DText(strings.Repeat(a[0].S, int(a[1].I))), nil
	}})
	pad := func(left bool) func(*Ctx, []types.Datum, []types.T, types.T) (types.Datum, error) {
		return func(_ *Ctx, a []types.Datum, _ []types.T, _ types.T) (types.Datum, error) {
			r := []rune(a[0].S)
			n := int(a[1].I)
			fill := " "
			if len(a) > 2 {
				fill = a[2].S
			}
			if n <= len(r) {
				return types.DText(string(r[:max(n, 0)])), nil
			}
			if fill == "" {
				return a[0], nil
			}
			f := []rune(fill)
			p := make([]rune, 0, n-len(r))
			for i := 0; len(p) < n-len(r); i++ {
				p = append(p, f[i%len(f)])
			}
			if left {
				return types.DText(string(p) + string(r)), nil
			}
			return types.DText(string(r) + string(p)), nil
		}
	}
	Register(&Func{Name: "lpad", Strict: true, Resolve: sig(tText, tText, tInt), Row: pad(true)})
	Register(&Func{Name: "lpad", Strict: true, Resolve: sig(tText, tText, tInt, tText), Row: pad(true)})
	Register(&Func{Name: "rpad", Strict: true, Resolve: sig(tText, tText, tInt), Row: pad(false)})
	Register(&Func{Name: "rpad", Strict: true, Resolve: sig(tText, tText, tInt, tText), Row: pad(false)})
	Register(&Func{Name: "starts_with", Strict: true, Resolve: sig(tBool, tText, tText), Row: func(_ *Ctx, a []types.Datum, _ []types.T, _ types.T) (types.Datum, error) {
		return types.DBool(strings.HasPrefix(a[0].S, a[1].S)), nil
	}})
	Register(&Func{Name: "chr", Strict: true, Resolve: sig(tText, tInt), Row: func(_ *Ctx, a []types.Datum, _ []types.T, _ types.T) (types.Datum, error) {
		switch c := a[0].I; {
		case c == 0:
			return types.Datum{}, sqlerr.New(sqlerr.ProgramLimitExceeded, "null character not permitted")
		case c < 0:
			return types.Datum{}, sqlerr.New(sqlerr.InvalidParameterValue, "character number must be positive")
		case c > utf8.MaxRune:
			return types.Datum{}, sqlerr.New(sqlerr.ProgramLimitExceeded, "requested character too large for encoding: %d", c)
		case c >= 0xd800 && c <= 0xdfff:
			return types.Datum{}, sqlerr.New(sqlerr.ProgramLimitExceeded, "requested character not valid for encoding: %d", c)
		}
		return types.DText(string(rune(a[0].I))), nil
	}})
	Register(&Func{Name: "ascii", Strict: true, Resolve: sig(tInt, tText), Row: func(_ *Ctx, a []types.Datum, _ []types.T, _ types.T) (types.Datum, error) {
		r, _ := utf8.DecodeRuneInString(a[0].S)
		if a[0].S == "" {
			r = 0
		}
		return types.DInt(int64(r)), nil
	}})
	Register(&Func{Name: "__regex_match", Strict: true, Resolve: sig(tBool, tText, tText, tText), Row: func(_ *Ctx, a []types.Datum, _ []types.T, _ types.T) (types.Datum, error) {
		re, err := compileRegex(a[1].S, a[2].S)
		if err != nil {
			return types.Datum{}, err
		}
		return types.DBool(re.MatchString(a[0].S)), nil
	}})
	regexReplace := func(_ *Ctx, a []types.Datum, _ []types.T, _ types.T) (types.Datum, error) {
		flags := ""
		if len(a) > 3 {
			flags = a[3].S
		}
		re, err := compileRegex(a[1].S, strings.ReplaceAll(flags, "g", ""))
		if err != nil {
			return types.Datum{}, err
		}
		repl := convertReplacement(a[2].S)
		if strings.Contains(flags, "g") {
			return types.DText(re.ReplaceAllString(a[0].S, repl)), nil
		}
		loc := re.FindStringSubmatchIndex(a[0].S)
		if loc == nil {
			return a[0], nil
		}
		var dst []byte
		dst = re.ExpandString(dst, repl, a[0].S, loc)
		return types.DText(a[0].S[:loc[0]] + string(dst) + a[0].S[loc[1]:]), nil
	}
	Register(&Func{Name: "regexp_replace", Strict: true, Resolve: sig(tText, tText, tText, tText), Row: regexReplace})
	Register(&Func{Name: "regexp_replace", Strict: true, Resolve: sig(tText, tText, tText, tText, tText), Row: regexReplace})
	Register(&Func{Name: "__like", Strict: true, Resolve: sig(tBool, tText, tText, tText, tBool), Row: func(_ *Ctx, a []types.Datum, _ []types.T, _ types.T) (types.Datum, error) {
		m, err := likeMatcher(a[1].S, a[2].S, a[3].I != 0)
		if err != nil {
			return types.Datum{}, err
		}
		return types.DBool(m(a[0].S)), nil
	}})
}

func asText(ctx *Ctx, t types.T, d types.Datum) string {
	if t.Kind == types.Bool {
		if d.I != 0 {
			return "t"
		}
		return "f"
	}
	return types.FormatText(t, d, ctx.Loc)
}

var regexCache sync.Map

// compileRegex compiles a POSIX-style regular expression as PostgreSQL's ~
// operators use it (flags: i for case-insensitive).
func compileRegex(pat, flags string) (*regexp.Regexp, error) {
	key := flags + "\x00" + pat
	if re, ok := regexCache.Load(key); ok {
		return re.(*regexp.Regexp), nil
	}
	p := pat
	if strings.Contains(flags, "i") {
		p = "(?i)" + p
	}
	re, err := regexp.Compile(p)
	if err != nil {
		return nil, sqlerr.New(sqlerr.InvalidRegex, "invalid regular expression: %v", err)
	}
	regexCache.Store(key, re)
	return re, nil
}

// convertReplacement maps PostgreSQL's \1 and \& to Go's ${1} and ${0}.
func convertReplacement(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '$' {
			b.WriteString("$$")
			continue
		}
		if c == '\\' && i+1 < len(s) {
			n := s[i+1]
			if n >= '0' && n <= '9' {
				b.WriteString("${" + string(n) + "}")
				i++
				continue
			}
			if n == '&' {
				b.WriteString("${0}")
				i++
				continue
			}
			if n == '\\' {
				b.WriteByte('\\')
				i++
				continue
			}
		}
		b.WriteByte(c)
	}
	return b.String()
}

var likeCache sync.Map

// likeMatcher compiles a LIKE pattern (with escape character esc, default
// backslash) into a matcher.
func likeMatcher(pat, esc string, ci bool) (func(string) bool, error) {
	key := pat + "\x00" + esc
	if ci {
		key += "\x00i"
	}
	if m, ok := likeCache.Load(key); ok {
		return m.(func(string) bool), nil
	}
	escRune := '\\'
	if esc != "\\" {
		r := []rune(esc)
		switch len(r) {
		case 0:
			escRune = -1
		case 1:
			escRune = r[0]
		default:
			return nil, sqlerr.New(sqlerr.InvalidEscapeSequence, "invalid escape string")
		}
	}
	// fast paths: exact, prefix%, %suffix, %infix%
	simple := !strings.ContainsAny(pat, "_") && (escRune < 0 || !strings.ContainsRune(pat, escRune))
	var m func(string) bool
	if simple && !ci {
		inner := strings.Trim(pat, "%")
		switch {
		case !strings.Contains(inner, "%") && strings.HasPrefix(pat, "%") && strings.HasSuffix(pat, "%") && len(pat) >= 2:
			m = func(s string) bool { return strings.Contains(s, inner) }
		case !strings.Contains(inner, "%") && strings.HasSuffix(pat, "%") && !strings.HasPrefix(pat, "%"):
			m = func(s string) bool { return strings.HasPrefix(s, inner) }
		case !strings.Contains(inner, "%") && strings.HasPrefix(pat, "%") && !strings.HasSuffix(pat, "%"):
			m = func(s string) bool { return strings.HasSuffix(s, inner) }
		case !strings.Contains(pat, "%"):
			m = func(s string) bool { return s == pat }
		}
	}
	if m == nil {
		var b strings.Builder
		b.WriteString("(?s)^")
		if ci {
			b.WriteString("(?i)")
		}
		rs := []rune(pat)
		for i := 0; i < len(rs); i++ {
			c := rs[i]
			switch {
			case c == escRune:
				if i+1 >= len(rs) {
					return nil, sqlerr.New(sqlerr.InvalidEscapeSequence, "LIKE pattern must not end with escape character")
				}
				i++
				b.WriteString(regexp.QuoteMeta(string(rs[i])))
			case c == '%':
				b.WriteString(".*")
			case c == '_':
				b.WriteString(".")
			default:
				b.WriteString(regexp.QuoteMeta(string(c)))
			}
		}
		b.WriteString("$")
		re, err := regexp.Compile(b.String())
		if err != nil {
			return nil, sqlerr.New(sqlerr.InvalidRegex, "invalid LIKE pattern: %v", err)
		}
		m = re.MatchString
	}
	likeCache.Store(key, m)
	return m, nil
}

func init() {
	// the || operator (TiDB's concat): NULL if any operand is NULL; the
	// operands are cast to text, so booleans read true/false
	Register(&Func{Name: "concat", Strict: true, Resolve: func(args []types.T) (types.T, []types.T, bool) {
		// jsonb || jsonb
		if len(args) == 2 && (args[0].Kind == types.JSONB || args[1].Kind == types.JSONB) &&
			(args[0].Kind == types.JSONB || args[0].Kind == types.Unknown) && (args[1].Kind == types.JSONB || args[1].Kind == types.Unknown) {
			return types.TJSONB, []types.T{types.TJSONB, types.TJSONB}, true
		}
		// array || array, array || element, element || array
		for _, t := range args {
			if t.Kind == types.Array && len(args) == 2 {
				want := make([]types.T, 2)
				for i, u := range args {
					want[i] = u
					if u.Kind == types.Unknown {
						want[i] = t
					}
				}
				return t, want, true
			}
		}
		return variadic(tText, tText, 2)(args)
	}, Row: func(ctx *Ctx, a []types.Datum, at []types.T, rt types.T) (types.Datum, error) {
		if rt.Kind == types.JSONB {
			x, err := DecodeJSON(a[0].S)
			if err != nil {
				return types.Datum{}, err
			}
			y, err := DecodeJSON(a[1].S)
			if err != nil {
				return types.Datum{}, err
			}
			return jsonDatum(JSONConcat(x, y)), nil
		}
		if rt.Kind == types.Array {
			var elems []*string
			for i, d := range a {
				if at[i].Kind == types.Array {
					es, err := types.ParseArray(d.S)
					if err != nil {
						return types.Datum{}, sqlerr.New(sqlerr.InvalidTextRep, "malformed array literal: %q", d.S)
					}
					elems = append(elems, es...)
					continue
				}
				e := types.FormatText(at[i], d, ctx.Loc)
				elems = append(elems, &e)
			}
			return types.DText(types.FormatArray(elems)), nil
		}
		var b strings.Builder
		for i, d := range a {
			if at[i].Kind == types.Bool {
				b.WriteString(strconv.FormatBool(d.I != 0))
				continue
			}
			b.WriteString(asText(ctx, at[i], d))
		}
		return types.DText(b.String()), nil
	}})
}
