package types

import (
	"errors"
	"strings"
)

// Arrays are kept in PostgreSQL's text form ({a,b,"c d",NULL}); these helpers
// convert between that form and element strings (nil for NULL).

// ParseArray splits a one-dimensional array literal into its elements.
func ParseArray(s string) ([]*string, error) {
	s = strings.TrimSpace(s)
	if len(s) < 2 || s[0] != '{' || s[len(s)-1] != '}' {
		return nil, errors.New("types: malformed array literal")
	}
	body := s[1 : len(s)-1]
	var out []*string
	if strings.TrimSpace(body) == "" {
		return out, nil
	}
	i := 0
	for i <= len(body) {
		for i < len(body) && body[i] == ' ' {
			i++
		}
		var b strings.Builder
		quoted := false
		if i < len(body) && body[i] == '"' {
			quoted = true
			i++
			for i < len(body) && body[i] != '"' {
				if body[i] == '\\' && i+1 < len(body) {
					i++
				}
				b.WriteByte(body[i])
				i++
			}
			if i >= len(body) {
				return nil, errors.New("types: unterminated quoted array element")
			}
			i++
		} else {
			for i < len(body) && body[i] != ',' {
				if body[i] == '{' || body[i] == '}' {
					return nil, errors.New("types: multidimensional arrays are not supported")
				}
				b.WriteByte(body[i])
				i++
			}
		}
		e := b.String()
		if !quoted {
			e = strings.TrimSpace(e)
		}
		if !quoted && strings.EqualFold(e, "null") {
			out = append(out, nil)
		} else {
			out = append(out, &e)
		}
		for i < len(body) && body[i] == ' ' {
			i++
		}
		if i < len(body) && body[i] != ',' {
			return nil, errors.New("types: malformed array literal")
		}
		i++
	}
	return out, nil
}

// FormatArray renders elements as an array literal, quoting where needed.
func FormatArray(elems []*string) string {
	var b strings.Builder
	b.WriteByte('{')
	for i, e := range elems {
		if i > 0 {
			b.WriteByte(',')
		}
		if e == nil {
			b.WriteString("NULL")
			continue
		}
		v := *e
		if v == "" || strings.EqualFold(v, "null") || strings.ContainsAny(v, ` ,{}"\`+"\t\n") {
			b.WriteByte('"')
			for _, c := range []byte(v) {
				if c == '"' || c == '\\' {
					b.WriteByte('\\')
				}
				b.WriteByte(c)
			}
			b.WriteByte('"')
		} else {
			b.WriteString(v)
		}
	}
	b.WriteByte('}')
	return b.String()
}
