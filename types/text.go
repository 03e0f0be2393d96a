package types

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/streamsql/streamsql/sqlerr"
)

func invalidText(t T, s string) *sqlerr.Error {
	return sqlerr.New(sqlerr.InvalidTextRep, "invalid input syntax for type %s: %q", t.String(), s)
}

// ParseText parses s, in PostgreSQL's text format for t, into a Datum. loc is
// the session time zone, used for TIMESTAMPTZ input without an offset.
func ParseText(t T, s string, loc *time.Location) (Datum, error) {
	switch t.Kind {
	case Bool:
		switch strings.ToLower(strings.TrimSpace(s)) {
		case "t", "true", "yes", "y", "on", "1":
			return DBool(true), nil
		case "f", "false", "no", "n", "off", "0":
			return DBool(false), nil
		}
		return Datum{}, invalidText(t, s)
	case Int16, Int32, Int64, Oid:
		v, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
		if err != nil {
			if ne, ok := err.(*strconv.NumError); ok && ne.Err == strconv.ErrRange {
				return Datum{}, sqlerr.New(sqlerr.NumericOutOfRange, "value %q is out of range for type %s", s, t.String())
			}
			return Datum{}, invalidText(t, s)
		}
		if err := CheckIntRange(t.Kind, v); err != nil {
			return Datum{}, err
		}
		return DInt(v), nil
	case Float32, Float64:
		f, err := parseFloat(strings.TrimSpace(s))
		if err != nil {
			if sqlerr.Code(err) == sqlerr.NumericOutOfRange {
				if t.Kind == Float32 {
					return Datum{}, sqlerr.New(sqlerr.NumericOutOfRange, "%q is out of range for type real", s)
				}
				return Datum{}, err
			}
			return Datum{}, invalidText(t, s)
		}
		if t.Kind == Float32 {
			g := float64(float32(f))
			if (math.IsInf(g, 0) && !math.IsInf(f, 0)) || (g == 0 && f != 0) {
				return Datum{}, sqlerr.New(sqlerr.NumericOutOfRange, "%q is out of range for type real", s)
			}
			f = g
		}
		return DFloat(f), nil
	case Numeric:
		c, err := CanonicalNumeric(s, t)
		if err != nil {
			if sqlerr.Code(err) == sqlerr.InvalidTextRep {
				return Datum{}, invalidText(t, s)
			}
			return Datum{}, err
		}
		return DText(c), nil
	case Text, Unknown, Null:
		if err := CheckText(s); err != nil {
			return Datum{}, err
		}
		if t.Name == "varchar" && t.Mod >= 0 && int32(len([]rune(s))) > t.Mod {
			return Datum{}, sqlerr.New(sqlerr.StringDataRightTrunc, "value too long for type character varying(%d)", t.Mod)
		}
		if t.Name == "bpchar" && t.Mod >= 0 {
			r := []rune(s)
			if int32(len(r)) > t.Mod {
				trimmed := strings.TrimRight(s, " ")
				if int32(len([]rune(trimmed))) > t.Mod {
					return Datum{}, sqlerr.New(sqlerr.StringDataRightTrunc, "value too long for type character(%d)", t.Mod)
				}
				s = string(r[:t.Mod])
			} else if int32(len(r)) < t.Mod {
				s += strings.Repeat(" ", int(t.Mod)-len(r))
			}
		}
		return DText(s), nil
	case Bytea:
		if strings.HasPrefix(s, `\x`) {
			b, err := hex.DecodeString(s[2:])
			if err != nil {
				return Datum{}, invalidText(t, s)
			}
			return DText(string(b)), nil
		}
		b, err := unescapeBytea(s)
		if err != nil {
			return Datum{}, invalidText(t, s)
		}
		return DText(b), nil
	case Date:
		d, err := ParseDate(s)
		if err != nil {
			return Datum{}, err
		}
		return DInt(d), nil
	case Time:
		us, err := parseTimeOfDay(strings.TrimSpace(s))
		if err != nil {
			return Datum{}, invalidText(t, s)
		}
		return DInt(us), nil
	case Timestamp, TimestampTZ:
		us, err := ParseTimestamp(s, t.Kind == TimestampTZ, loc)
		if err != nil {
			return Datum{}, err
		}
		return DInt(us), nil
	case Interval:
		iv, err := ParseInterval(s)
		if err != nil {
			return Datum{}, err
		}
		return Datum{Iv: iv}, nil
	case JSONB:
		if !utf8.ValidString(s) {
			return Datum{}, CheckText(s)
		}
		if t.Name != "json" && strings.Contains(s, `\u0000`) {
			if err := checkJSONBText(s); err != nil {
				return Datum{}, err
			}
		}
		if t.Name == "json" {
			if _, err := CanonicalJSON(s); err != nil {
				return Datum{}, err
			}
			return DText(s), nil
		}
		c, err := CanonicalJSON(s)
		if err != nil {
			return Datum{}, err
		}
		return DText(c), nil
	case Array:
		elems, err := ParseArray(s)
		if err != nil {
			return Datum{}, invalidText(t, s)
		}
		et := t.ElemType()
		for _, e := range elems {
			if e != nil {
				if _, err := ParseText(et, *e, loc); err != nil {
					return Datum{}, err
				}
			}
		}
		return DText(FormatArray(elems)), nil
	}
	return Datum{}, sqlerr.Unsupported("cannot parse values of type %s", t.String())
}

// CheckIntRange returns 22003 when v does not fit kind k.
func CheckIntRange(k Kind, v int64) error {
	switch k {
	case Int16:
		if v < math.MinInt16 || v > math.MaxInt16 {
			return sqlerr.New(sqlerr.NumericOutOfRange, "smallint out of range")
		}
	case Int32:
		if v < math.MinInt32 || v > math.MaxInt32 {
			return sqlerr.New(sqlerr.NumericOutOfRange, "integer out of range")
		}
	case Oid:
		if v < math.MinInt32 || v > math.MaxUint32 {
			return sqlerr.New(sqlerr.NumericOutOfRange, "OID out of range")
		}
	}
	return nil
}

func parseFloat(s string) (float64, error) {
	switch strings.ToLower(s) {
	case "nan":
		return math.NaN(), nil
	case "infinity", "inf", "+infinity", "+inf":
		return math.Inf(1), nil
	case "-infinity", "-inf":
		return math.Inf(-1), nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		if ne, ok := err.(*strconv.NumError); ok && ne.Err == strconv.ErrRange {
			return 0, sqlerr.New(sqlerr.NumericOutOfRange, "%q is out of range for type double precision", s)
		}
		return 0, err
	}
	if f == 0 && hasNonZeroDigit(s) {
		// too small to be told from zero: PostgreSQL's underflow
		return 0, sqlerr.New(sqlerr.NumericOutOfRange, "%q is out of range for type double precision", s)
	}
	return f, nil
}

// hasNonZeroDigit reports whether a number's mantissa has a digit other
// than 0 (hexadecimal forms are not numbers here).
func hasNonZeroDigit(s string) bool {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == 'e' || c == 'E':
			return false
		case c >= '1' && c <= '9':
			return true
		}
	}
	return false
}

func unescapeBytea(s string) (string, error) {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '\\' {
			b.WriteByte(s[i])
			continue
		}
		if i+1 < len(s) && s[i+1] == '\\' {
			b.WriteByte('\\')
			i++
			continue
		}
		if i+3 < len(s) {
			v, err := strconv.ParseUint(s[i+1:i+4], 8, 8)
			if err != nil {
				return "", err
			}
			b.WriteByte(byte(v))
			i += 3
			continue
		}
		return "", strconv.ErrSyntax
	}
	return b.String(), nil
}

// CanonicalJSON validates s and returns the JSONB text form: keys sorted,
// duplicates removed (last wins), spacing as PostgreSQL prints jsonb.
func CanonicalJSON(s string) (string, error) {
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return "", sqlerr.New(sqlerr.InvalidTextRep, "invalid input syntax for type json")
	}
	if dec.More() {
		return "", sqlerr.New(sqlerr.InvalidTextRep, "invalid input syntax for type json")
	}
	var b strings.Builder
	writeJSONB(&b, v)
	return b.String(), nil
}

// checkJSONBText refuses a JSON text whose strings hold \u0000.
func checkJSONBText(s string) error {
	var v any
	if json.Unmarshal([]byte(s), &v) == nil && jsonHasNUL(v) {
		return sqlerr.New(sqlerr.UntranslatableCharacter, "unsupported Unicode escape sequence").WithDetail(`\u0000 cannot be converted to text.`)
	}
	return nil
}

// jsonHasNUL reports whether a string or key of v holds \u0000, which
// jsonb (being text inside) cannot.
func jsonHasNUL(v any) bool {
	switch x := v.(type) {
	case string:
		return strings.IndexByte(x, 0) >= 0
	case []any:
		for _, e := range x {
			if jsonHasNUL(e) {
				return true
			}
		}
	case map[string]any:
		for k, e := range x {
			if strings.IndexByte(k, 0) >= 0 || jsonHasNUL(e) {
				return true
			}
		}
	}
	return false
}

// JSONText renders a decoded JSON value in jsonb's text form.
func JSONText(v any) string {
	var b strings.Builder
	writeJSONB(&b, v)
	return b.String()
}

func writeJSONB(b *strings.Builder, v any) {
	switch x := v.(type) {
	case nil:
		b.WriteString("null")
	case bool:
		if x {
			b.WriteString("true")
		} else {
			b.WriteString("false")
		}
	case json.Number:
		b.WriteString(x.String())
	case float64:
		b.WriteString(strconv.FormatFloat(x, 'f', -1, 64))
	case string:
		q, _ := json.Marshal(x)
		b.Write(q)
	case []any:
		b.WriteByte('[')
		for i, e := range x {
			if i > 0 {
				b.WriteString(", ")
			}
			writeJSONB(b, e)
		}
		b.WriteByte(']')
	case map[string]any:
		keys := JSONKeys(x)
		b.WriteByte('{')
		for i, k := range keys {
			if i > 0 {
				b.WriteString(", ")
			}
			q, _ := json.Marshal(k)
			b.Write(q)
			b.WriteString(": ")
			writeJSONB(b, x[k])
		}
		b.WriteByte('}')
	}
}

// JSONKeys are an object's keys in jsonb's order: by length, then
// bytewise.
func JSONKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b string) int {
		if len(a) != len(b) {
			return len(a) - len(b)
		}
		return strings.Compare(a, b)
	})
	return keys
}

// FormatText renders d of type t in PostgreSQL's text output format.
func FormatText(t T, d Datum, loc *time.Location) string {
	switch t.Kind {
	case Bool:
		if d.I != 0 {
			return "t"
		}
		return "f"
	case Int16, Int32, Int64, Oid:
		return strconv.FormatInt(d.I, 10)
	case Float32:
		return FormatFloat(d.F, 32)
	case Float64:
		return FormatFloat(d.F, 64)
	case Bytea:
		return `\x` + hex.EncodeToString([]byte(d.S))
	case Date:
		return FormatDate(d.I)
	case Time:
		return formatTimeOfDay(d.I)
	case Timestamp:
		return FormatTimestamp(d.I, false, nil)
	case TimestampTZ:
		return FormatTimestamp(d.I, true, loc)
	case Interval:
		return FormatInterval(d.Iv)
	}
	return d.S
}

// FormatFloat formats like PostgreSQL's float4out/float8out (shortest exact,
// exponent form outside 1e-4 .. 1e15 for doubles, 1e6 for reals).
func FormatFloat(f float64, bits int) string {
	switch {
	case math.IsNaN(f):
		return "NaN"
	case math.IsInf(f, 1):
		return "Infinity"
	case math.IsInf(f, -1):
		return "-Infinity"
	}
	if f == 0 {
		if math.Signbit(f) {
			return "-0"
		}
		return "0"
	}
	e := strconv.FormatFloat(f, 'e', -1, bits)
	// e looks like -1.2345e+06
	mant, expS, _ := strings.Cut(e, "e")
	exp, _ := strconv.Atoi(expS)
	limit := 15
	if bits == 32 {
		limit = 6
	}
	if exp < -4 || exp >= limit {
		sign := "+"
		if exp < 0 {
			sign = "-"
			exp = -exp
		}
		es := strconv.Itoa(exp)
		if len(es) < 2 {
			es = "0" + es
		}
		return mant + "e" + sign + es
	}
	return strconv.FormatFloat(f, 'f', -1, bits)
}

// CheckText refuses what PostgreSQL's UTF8 text cannot hold: bytes that
// are not UTF-8 and the NUL character (22021), with PostgreSQL's message
// naming the bad bytes.
func CheckText(s string) error {
	if utf8.ValidString(s) && strings.IndexByte(s, 0) < 0 {
		return nil
	}
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == 0 || (r == utf8.RuneError && n <= 1) {
			return InvalidEncoding(s[i:])
		}
		i += n
	}
	return nil
}

// InvalidEncoding is PostgreSQL's error for the bad sequence at the start
// of b: its bytes up to the length its first byte announces.
func InvalidEncoding(b string) error {
	l := 1
	switch c := b[0]; {
	case c >= 0xf8:
	case c >= 0xf0:
		l = 4
	case c >= 0xe0:
		l = 3
	case c >= 0xc0:
		l = 2
	}
	l = min(l, len(b))
	var sb strings.Builder
	for i := 0; i < l; i++ {
		if i > 0 {
			sb.WriteByte(' ')
		}
		fmt.Fprintf(&sb, "0x%02x", b[i])
	}
	return sqlerr.New(sqlerr.CharacterNotInRepertoire, "invalid byte sequence for encoding \"UTF8\": %s", sb.String())
}

// JSONValue is a column value as JSON: numbers as numbers (NUMERIC keeps
// its exact digits; NaN and infinities, which JSON lacks, as strings),
// booleans as booleans, JSONB as itself, the rest as PostgreSQL's text.
func JSONValue(t T, d Datum) any {
	if d.Null {
		return nil
	}
	text := FormatText(t, d, time.UTC)
	switch t.Kind {
	case Bool:
		return d.I != 0
	case Int16, Int32, Int64:
		return json.Number(text)
	case Float32, Float64, Numeric:
		if text == "NaN" || strings.HasSuffix(text, "Infinity") {
			return text
		}
		return json.Number(text)
	case JSONB:
		return json.RawMessage(text)
	}
	return text
}
