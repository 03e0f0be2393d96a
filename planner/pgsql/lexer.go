package pgsql

import (
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/streamsql/streamsql/sqlerr"
	"github.com/streamsql/streamsql/types"
)

// TokKind classifies a token.
type TokKind uint8

// Token kinds.
const (
	TEOF    TokKind = iota
	TIdent          // unquoted word; Val is folded to lower case
	TQIdent         // "quoted" identifier; Val keeps case
	TString         // string literal of any form; Val is the decoded value
	TNumber         // numeric literal
	TParam          // $n; Val is n
	TOp             // operator: + - * / < > = ~ ! @ # % ^ & | ` ? and combinations, ::
	TPunct          // ( ) [ ] , ; .
)

// Token is one lexical token of the source text.
type Token struct {
	Kind TokKind
	Val  string // folded identifier, decoded string, operator text
	Raw  string // source text of the token
	Pos  int    // byte offset in the source
}

// Is reports whether t is the unquoted keyword kw (lower case).
func (t Token) Is(kw string) bool { return t.Kind == TIdent && t.Val == kw }

// IsPunct reports whether t is the punctuation or operator p.
func (t Token) IsPunct(p string) bool {
	return (t.Kind == TPunct || t.Kind == TOp) && t.Val == p
}

// CharPos converts a byte offset of src into PostgreSQL's 1-based character position.
func CharPos(src string, off int) int {
	if off > len(src) {
		off = len(src)
	}
	if off < 0 {
		off = 0
	}
	return utf8.RuneCountInString(src[:off]) + 1
}

func isIdentStart(c byte) bool {
	return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c >= 0x80
}

func isIdentChar(c byte) bool {
	return isIdentStart(c) || (c >= '0' && c <= '9') || c == '$'
}

const opChars = "+-*/<>=~!@#%^&|`?"

// Lex splits src into tokens. Comments and white space are dropped.
func Lex(src string) ([]Token, error) {
	var toks []Token
	i := 0
	n := len(src)
	for i < n {
		c := src[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f':
			i++
		case c == '-' && i+1 < n && src[i+1] == '-':
			for i < n && src[i] != '\n' {
				i++
			}
		case c == '/' && i+1 < n && src[i+1] == '*':
			depth := 0
			start := i
			for {
				if i+1 >= n {
					return nil, sqlerr.Syntax(CharPos(src, start), "unterminated /* comment at or near %q", src[start:min(n, start+2)])
				}
				if src[i] == '/' && src[i+1] == '*' {
					depth++
					i += 2
					continue
				}
				if src[i] == '*' && src[i+1] == '/' {
					depth--
					i += 2
					if depth == 0 {
						break
					}
					continue
				}
				i++
			}
		case (c == 'E' || c == 'e') && i+1 < n && src[i+1] == '\'':
			val, end, err := lexEString(src, i+1)
			if err != nil {
				return nil, err
			}
			toks = append(toks, Token{Kind: TString, Val: val, Raw: src[i:end], Pos: i})
			i = end
		case (c == 'X' || c == 'x' || c == 'B' || c == 'b' || c == 'U' || c == 'u' || c == 'N' || c == 'n') && i+1 < n && (src[i+1] == '\'' || (src[i+1] == '&' && (c == 'U' || c == 'u'))):
			if c == 'N' || c == 'n' {
				// N'...' is a national character literal: plain text
				val, end, err := lexString(src, i+1)
				if err != nil {
					return nil, err
				}
				toks = append(toks, Token{Kind: TString, Val: val, Raw: src[i:end], Pos: i})
				i = end
				continue
			}
			return nil, sqlerr.Unsupported("bit-string and Unicode-escape literals are not supported").WithPosition(CharPos(src, i))
		case c == '\'':
			val, end, err := lexString(src, i)
			if err != nil {
				return nil, err
			}
			toks = append(toks, Token{Kind: TString, Val: val, Raw: src[i:end], Pos: i})
			i = end
		case c == '"':
			var b strings.Builder
			j := i + 1
			for {
				if j >= n {
					return nil, sqlerr.Syntax(CharPos(src, i), "unterminated quoted identifier at or near %q", src[i:])
				}
				if src[j] == '"' {
					if j+1 < n && src[j+1] == '"' {
						b.WriteByte('"')
						j += 2
						continue
					}
					break
				}
				b.WriteByte(src[j])
				j++
			}
			if b.Len() == 0 {
				return nil, sqlerr.Syntax(CharPos(src, i), "zero-length delimited identifier at or near \"\"\"\"")
			}
			toks = append(toks, Token{Kind: TQIdent, Val: b.String(), Raw: src[i : j+1], Pos: i})
			i = j + 1
		case c == '$' && i+1 < n && src[i+1] >= '0' && src[i+1] <= '9':
			j := i + 1
			for j < n && src[j] >= '0' && src[j] <= '9' {
				j++
			}
			toks = append(toks, Token{Kind: TParam, Val: src[i+1 : j], Raw: src[i:j], Pos: i})
			i = j
		case c == '$':
			// dollar quote: $tag$ ... $tag$
			j := i + 1
			for j < n && src[j] != '$' && isIdentChar(src[j]) {
				j++
			}
			if j >= n || src[j] != '$' {
				return nil, sqlerr.Syntax(CharPos(src, i), "syntax error at or near \"$\"")
			}
			tag := src[i : j+1]
			end := strings.Index(src[j+1:], tag)
			if end < 0 {
				return nil, sqlerr.Syntax(CharPos(src, i), "unterminated dollar-quoted string at or near %q", src[i:])
			}
			val := src[j+1 : j+1+end]
			stop := j + 1 + end + len(tag)
			toks = append(toks, Token{Kind: TString, Val: val, Raw: src[i:stop], Pos: i})
			i = stop
		case c >= '0' && c <= '9' || (c == '.' && i+1 < n && src[i+1] >= '0' && src[i+1] <= '9'):
			j := i
			for j < n && src[j] >= '0' && src[j] <= '9' {
				j++
			}
			if j < n && src[j] == '.' && !(j+1 < n && src[j+1] == '.') {
				j++
				for j < n && src[j] >= '0' && src[j] <= '9' {
					j++
				}
			}
			mantissa := j
			if j < n && (src[j] == 'e' || src[j] == 'E') {
				k := j + 1
				if k < n && (src[k] == '+' || src[k] == '-') {
					k++
				}
				if k < n && src[k] >= '0' && src[k] <= '9' {
					for k < n && src[k] >= '0' && src[k] <= '9' {
						k++
					}
					j = k
				}
			}
			if j < n && isIdentStart(src[j]) {
				return nil, sqlerr.Syntax(CharPos(src, i), "trailing junk after numeric literal at or near %q", src[i:j+1])
			}
			val := src[i:j]
			if mantissa < j {
				// 1.5e2 is the numeric 150 in PostgreSQL (the grammar
				// would read a double, and refuse 1e400): written out
				var ok bool
				if val, ok = expandExponent(src[i:mantissa], src[mantissa+1:j]); !ok {
					return nil, sqlerr.New(sqlerr.NumericOutOfRange, "value overflows numeric format").WithPosition(CharPos(src, i))
				}
			}
			toks = append(toks, Token{Kind: TNumber, Val: val, Raw: src[i:j], Pos: i})
			i = j
		case isIdentStart(c):
			j := i
			for j < n && isIdentChar(src[j]) {
				j++
			}
			toks = append(toks, Token{Kind: TIdent, Val: strings.ToLower(src[i:j]), Raw: src[i:j], Pos: i})
			i = j
		case c == ':' && i+1 < n && src[i+1] == ':':
			toks = append(toks, Token{Kind: TOp, Val: "::", Raw: "::", Pos: i})
			i += 2
		case strings.IndexByte("()[],;.:", c) >= 0:
			toks = append(toks, Token{Kind: TPunct, Val: string(c), Raw: string(c), Pos: i})
			i++
		case strings.IndexByte(opChars, c) >= 0:
			j := i
			for j < n && strings.IndexByte(opChars, src[j]) >= 0 {
				// a comment start ends an operator
				if j > i && ((src[j] == '-' && j+1 < n && src[j+1] == '-') || (src[j] == '/' && j+1 < n && src[j+1] == '*')) {
					break
				}
				j++
			}
			op := src[i:j]
			// PostgreSQL: a multi-char operator ending in + or - is split unless it
			// contains one of ~ ! @ # % ^ & | ` ?
			for len(op) > 1 && (op[len(op)-1] == '+' || op[len(op)-1] == '-') && !strings.ContainsAny(op, "~!@#%^&|`?") {
				op = op[:len(op)-1]
			}
			toks = append(toks, Token{Kind: TOp, Val: op, Raw: op, Pos: i})
			i += len(op)
		default:
			return nil, sqlerr.Syntax(CharPos(src, i), "syntax error at or near %q", string(c))
		}
	}
	toks = append(toks, Token{Kind: TEOF, Pos: n})
	return toks, nil
}

func lexString(src string, i int) (string, int, error) {
	var b strings.Builder
	j := i + 1
	for {
		if j >= len(src) {
			return "", 0, sqlerr.Syntax(CharPos(src, i), "unterminated quoted string at or near %q", src[i:])
		}
		if src[j] == '\'' {
			if j+1 < len(src) && src[j+1] == '\'' {
				b.WriteByte('\'')
				j += 2
				continue
			}
			j++
			// adjacent literals separated by a newline concatenate
			k := j
			for k < len(src) && (src[k] == ' ' || src[k] == '\t' || src[k] == '\r') {
				k++
			}
			if k < len(src) && src[k] == '\n' {
				for k < len(src) && (src[k] == ' ' || src[k] == '\t' || src[k] == '\r' || src[k] == '\n') {
					k++
				}
				if k < len(src) && src[k] == '\'' {
					j = k + 1
					continue
				}
			}
			return b.String(), j, nil
		}
		b.WriteByte(src[j])
		j++
	}
}

func lexEString(src string, i int) (string, int, error) {
	// find the closing quote: \x and '' do not close the string
	j := i + 1
	for {
		if j >= len(src) {
			return "", 0, sqlerr.Syntax(CharPos(src, i), "unterminated quoted string at or near %q", src[i-1:])
		}
		switch {
		case src[j] == '\\' && j+1 < len(src):
			j += 2
		case src[j] == '\'' && j+1 < len(src) && src[j+1] == '\'':
			j += 2
		case src[j] == '\'':
			val, err := DecodeBackslashes(src[i+1:j], false)
			if err == nil {
				// \x00 or bytes that are not UTF-8
				if e := types.CheckText(val); e != nil {
					err = sqlerr.As(e).WithPosition(CharPos(src, i))
				}
			}
			return val, j + 1, err
		default:
			j++
		}
	}
}

// DecodeBackslashes decodes C-style escapes: \b \f \n \r \t, \xHH, octal
// \ooo, and any other escaped character as itself. For E” strings (copy
// false) \uXXXX and \UXXXXXXXX are Unicode and ” is a quote; in COPY's text
// format (copy true) \v is a vertical tab.
func DecodeBackslashes(s string, copy bool) (string, error) {
	if strings.IndexByte(s, '\\') < 0 && (copy || !strings.Contains(s, "''")) {
		return s, nil
	}
	var b strings.Builder
	for j := 0; j < len(s); j++ {
		c := s[j]
		if c == '\'' && !copy && j+1 < len(s) && s[j+1] == '\'' {
			b.WriteByte('\'')
			j++
			continue
		}
		if c != '\\' || j+1 >= len(s) {
			b.WriteByte(c)
			continue
		}
		j++
		e := s[j]
		switch {
		case e == 'b':
			b.WriteByte('\b')
		case e == 'f':
			b.WriteByte('\f')
		case e == 'n':
			b.WriteByte('\n')
		case e == 'r':
			b.WriteByte('\r')
		case e == 't':
			b.WriteByte('\t')
		case e == 'v' && copy:
			b.WriteByte('\v')
		case e == 'x':
			k := j + 1
			for k < len(s) && k < j+3 && strings.IndexByte("0123456789abcdefABCDEF", s[k]) >= 0 {
				k++
			}
			if k == j+1 {
				b.WriteByte('x')
				continue
			}
			v, _ := strconv.ParseUint(s[j+1:k], 16, 8)
			b.WriteByte(byte(v))
			j = k - 1
		case (e == 'u' || e == 'U') && !copy:
			w := 4
			if e == 'U' {
				w = 8
			}
			if j+w >= len(s) {
				return "", sqlerr.New(sqlerr.InvalidEscapeSequence, "invalid Unicode escape")
			}
			v, err := strconv.ParseUint(s[j+1:j+1+w], 16, 32)
			if err != nil {
				return "", sqlerr.New(sqlerr.InvalidEscapeSequence, "invalid Unicode escape")
			}
			b.WriteRune(rune(v))
			j += w
		case e >= '0' && e <= '7':
			k := j
			for k < len(s) && k < j+3 && s[k] >= '0' && s[k] <= '7' {
				k++
			}
			v, _ := strconv.ParseUint(s[j:k], 8, 8)
			b.WriteByte(byte(v))
			j = k - 1
		default:
			b.WriteByte(e)
		}
	}
	return b.String(), nil
}

// Split cuts a token stream into statements at top-level semicolons; each
// piece ends with an EOF token at the statement's end. Empty statements are
// dropped.
func Split(src string, toks []Token) [][]Token {
	var out [][]Token
	start := 0
	depth := 0
	for i, t := range toks {
		if t.Kind == TPunct && (t.Val == "(" || t.Val == "[") {
			depth++
		}
		if t.Kind == TPunct && (t.Val == ")" || t.Val == "]") {
			depth--
		}
		if (t.Kind == TPunct && t.Val == ";" && depth <= 0) || t.Kind == TEOF {
			if i > start {
				stmt := append([]Token{}, toks[start:i]...)
				stmt = append(stmt, Token{Kind: TEOF, Pos: t.Pos})
				out = append(out, stmt)
			}
			start = i + 1
			depth = 0
		}
	}
	return out
}

// expandExponent writes a numeric literal with an exponent (mantissa
// "1.5", exponent "2") without one ("150"), keeping PostgreSQL's scale:
// the mantissa's fractional digits less the exponent. ok is false past
// numeric's limits (131072 digits before the point, 16383 after).
func expandExponent(mantissa, exponent string) (string, bool) {
	exp, err := strconv.Atoi(exponent)
	if err != nil || exp > 200000 || exp < -200000 {
		return "", false
	}
	intPart, frac, _ := strings.Cut(mantissa, ".")
	digits := intPart + frac
	point := len(intPart) + exp // where the point goes in digits
	scale := max(len(frac)-exp, 0)
	if scale > 16383 || point > 131072 {
		return "", false
	}
	if point > len(digits) {
		digits += strings.Repeat("0", point-len(digits))
	}
	if point < 0 {
		digits = strings.Repeat("0", -point) + digits
		point = 0
	}
	whole := strings.TrimLeft(digits[:point], "0")
	if whole == "" {
		whole = "0"
	}
	if scale == 0 {
		return whole, true
	}
	return whole + "." + digits[point:], true
}
