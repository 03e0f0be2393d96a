package types

import (
	"strings"

	"github.com/streamsql/streamsql/sqlerr"
)

// Records are composite values — a row of named fields — as the catalog
// functions PostgreSQL's clients call return them (information_schema.
// _pg_expandarray's (x, n)). A record type lists its fields in Name
// ("x int2,n int4"), so T stays a comparable value; a record is kept as
// PostgreSQL's text form, "(1,2)", and a field is read by position.

// Field is one field of a record type.
type Field struct {
	Name string
	Type T
}

// RecordOf is the record type with these fields.
func RecordOf(fields ...Field) T {
	parts := make([]string, len(fields))
	for i, f := range fields {
		parts[i] = f.Name + " " + f.Type.TypName()
	}
	return T{Kind: Record, Mod: -1, Name: strings.Join(parts, ",")}
}

// Fields are a record type's fields (nil for an anonymous record).
func (t T) Fields() []Field {
	if t.Kind != Record || t.Name == "" {
		return nil
	}
	var out []Field
	for _, p := range strings.Split(t.Name, ",") {
		name, typ, _ := strings.Cut(p, " ")
		ft, err := Parse(typ)
		if err != nil {
			ft = TText
		}
		out = append(out, Field{Name: name, Type: ft})
	}
	return out
}

// FormatRecord writes field values (nil: NULL) in PostgreSQL's record
// text form, quoting those that need it.
func FormatRecord(vals []*string) string {
	var b strings.Builder
	b.WriteByte('(')
	for i, v := range vals {
		if i > 0 {
			b.WriteByte(',')
		}
		if v == nil {
			continue
		}
		s := *v
		if s == "" || strings.ContainsAny(s, "(),\"\\ \t\n") {
			b.WriteByte('"')
			for _, c := range s {
				if c == '"' || c == '\\' {
					b.WriteRune(c)
				}
				b.WriteRune(c)
			}
			b.WriteByte('"')
			continue
		}
		b.WriteString(s)
	}
	b.WriteByte(')')
	return b.String()
}

// ParseRecord splits a record's text form into its fields' texts (nil:
// NULL).
func ParseRecord(s string) ([]*string, error) {
	s = strings.TrimSpace(s)
	if len(s) < 2 || s[0] != '(' || s[len(s)-1] != ')' {
		return nil, sqlerr.New(sqlerr.InvalidTextRep, "malformed record literal: %q", s)
	}
	body := s[1 : len(s)-1]
	var out []*string
	for i := 0; ; {
		if i >= len(body) {
			out = append(out, nil) // trailing empty field: NULL
			return out, nil
		}
		var field strings.Builder
		quoted, null := false, true
		for i < len(body) && (quoted || body[i] != ',') {
			c := body[i]
			switch {
			case c == '"' && quoted && i+1 < len(body) && body[i+1] == '"':
				field.WriteByte('"')
				i++
			case c == '"':
				quoted, null = !quoted, false
			case c == '\\' && i+1 < len(body):
				field.WriteByte(body[i+1])
				i++
			default:
				field.WriteByte(c)
				null = false
			}
			i++
		}
		if null {
			out = append(out, nil)
		} else {
			v := field.String()
			out = append(out, &v)
		}
		if i >= len(body) {
			return out, nil
		}
		i++ // the comma
	}
}
