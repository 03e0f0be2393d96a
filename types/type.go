package types

import (
	"fmt"
	"strings"

	"github.com/streamsql/streamsql/sqlerr"
)

// Kind is the family of a SQL type.
type Kind uint8

// The kinds. Unknown is the type of an untyped string literal before the
// binder resolves it; Null is the type of a bare NULL.
const (
	Unknown Kind = iota
	Null
	Bool
	Int16
	Int32
	Int64
	Float32
	Float64
	Numeric
	Text
	Bytea
	Date
	Timestamp
	TimestampTZ
	Interval
	JSONB
	Oid
	Array // Elem names the element kind; values are kept in text form
	Time
	Record // fields listed in Name (record.go); values kept in text form
)

// T is a SQL type: a kind plus a type modifier. Mod is -1 when absent; for
// VARCHAR it is the maximum length, for NUMERIC precision<<16 | scale. Name
// distinguishes text-like catalog types (name, "char", bpchar, varchar) that
// share the Text kind but have their own OIDs.
type T struct {
	Kind Kind
	Mod  int32
	Elem Kind   // element kind for Array
	Name string // "", "varchar", "name", "char", "bpchar", "regclass", "regtype", "regproc", "int2vector", "oidvector"
}

// Common types.
var (
	TUnknown      = T{Kind: Unknown, Mod: -1}
	TNull         = T{Kind: Null, Mod: -1}
	TBool         = T{Kind: Bool, Mod: -1}
	TInt16        = T{Kind: Int16, Mod: -1}
	TInt32        = T{Kind: Int32, Mod: -1}
	TInt64        = T{Kind: Int64, Mod: -1}
	TFloat32      = T{Kind: Float32, Mod: -1}
	TFloat64      = T{Kind: Float64, Mod: -1}
	TNumeric      = T{Kind: Numeric, Mod: -1}
	TText         = T{Kind: Text, Mod: -1}
	TVarchar      = T{Kind: Text, Mod: -1, Name: "varchar"}
	TName         = T{Kind: Text, Mod: -1, Name: "name"}
	TChar         = T{Kind: Text, Mod: -1, Name: "char"}
	TBytea        = T{Kind: Bytea, Mod: -1}
	TDate         = T{Kind: Date, Mod: -1}
	TTime         = T{Kind: Time, Mod: -1}
	TTimestamp    = T{Kind: Timestamp, Mod: -1}
	TTimestampTZ  = T{Kind: TimestampTZ, Mod: -1}
	TInterval     = T{Kind: Interval, Mod: -1}
	TJSONB        = T{Kind: JSONB, Mod: -1}
	TJSON         = T{Kind: JSONB, Mod: -1, Name: "json"} // text kept as written
	TOid          = T{Kind: Oid, Mod: -1}
	TRegclass     = T{Kind: Oid, Mod: -1, Name: "regclass"}
	TRegtype      = T{Kind: Oid, Mod: -1, Name: "regtype"}
	TRegproc      = T{Kind: Oid, Mod: -1, Name: "regproc"}
	TRegnamespace = T{Kind: Oid, Mod: -1, Name: "regnamespace"}
	TTextArray    = T{Kind: Array, Mod: -1, Elem: Text}
	TOidArray     = T{Kind: Array, Mod: -1, Elem: Oid}
	TInt16Array   = T{Kind: Array, Mod: -1, Elem: Int16}
	TCharArray    = T{Kind: Array, Mod: -1, Elem: Text, Name: "char"}
	TInt2Vector   = T{Kind: Array, Mod: -1, Elem: Int16, Name: "int2vector"}
	TOidVector    = T{Kind: Array, Mod: -1, Elem: Oid, Name: "oidvector"}
)

// ArrayOf returns the array type whose elements are of type e.
func ArrayOf(e T) T { return T{Kind: Array, Mod: -1, Elem: e.Kind, Name: e.Name} }

// ElemType returns the element type of an array type.
func (t T) ElemType() T {
	e := T{Kind: t.Elem, Mod: -1}
	if t.Name == "char" || t.Name == "name" {
		e.Name = t.Name
	}
	return e
}

// Numeric precision and scale from a modifier.
func (t T) NumericPS() (prec, scale int, ok bool) {
	if t.Kind != Numeric || t.Mod < 0 {
		return 0, 0, false
	}
	return int(t.Mod >> 16), int(t.Mod & 0xffff), true
}

// IsNumeric reports whether the kind is one of the number kinds.
func (k Kind) IsNumeric() bool {
	switch k {
	case Int16, Int32, Int64, Float32, Float64, Numeric, Oid:
		return true
	}
	return false
}

// IsInteger reports whether k is an integer kind.
func (k Kind) IsInteger() bool { return k == Int16 || k == Int32 || k == Int64 || k == Oid }

// IsStringLike reports whether values of t are text.
func (t T) IsStringLike() bool { return t.Kind == Text || t.Kind == Unknown }

// Equal reports whether two types are the same, modifiers included.
func (t T) Equal(u T) bool { return t == u }

// SameKind reports whether two types have the same kind (and element kind).
func (t T) SameKind(u T) bool { return t.Kind == u.Kind && t.Elem == u.Elem }

// OID returns the PostgreSQL type OID.
func (t T) OID() uint32 {
	switch t.Kind {
	case Unknown:
		return 705
	case Null:
		return 25
	case Bool:
		return 16
	case Int16:
		return 21
	case Int32:
		return 23
	case Int64:
		return 20
	case Float32:
		return 700
	case Float64:
		return 701
	case Numeric:
		return 1700
	case Text:
		switch t.Name {
		case "varchar":
			return 1043
		case "name":
			return 19
		case "char":
			return 18
		case "bpchar":
			return 1042
		}
		return 25
	case Bytea:
		return 17
	case Date:
		return 1082
	case Time:
		return 1083
	case Timestamp:
		return 1114
	case TimestampTZ:
		return 1184
	case Interval:
		return 1186
	case JSONB:
		if t.Name == "json" {
			return 114
		}
		return 3802
	case Oid:
		switch t.Name {
		case "regclass":
			return 2205
		case "regtype":
			return 2206
		case "regproc":
			return 24
		case "regnamespace":
			return 4089
		}
		return 26
	case Record:
		return 2249
	case Array:
		switch t.Name {
		case "int2vector":
			return 22
		case "oidvector":
			return 30
		case "char":
			return 1002
		case "name":
			return 1003
		}
		switch t.Elem {
		case Bool:
			return 1000
		case Int16:
			return 1005
		case Int32:
			return 1007
		case Int64:
			return 1016
		case Float32:
			return 1021
		case Float64:
			return 1022
		case Numeric:
			return 1231
		case Text:
			return 1009
		case Oid:
			return 1028
		case Date:
			return 1182
		case Timestamp:
			return 1115
		case TimestampTZ:
			return 1185
		case Interval:
			return 1187
		case JSONB:
			return 3807
		case Bytea:
			return 1001
		}
		return 1009
	}
	return 25
}

// Size returns pg_type.typlen: the fixed width in bytes, or -1 for varlena.
func (t T) Size() int16 {
	switch t.Kind {
	case Bool:
		return 1
	case Int16:
		return 2
	case Int32, Float32, Date, Oid:
		return 4
	case Int64, Float64, Timestamp, TimestampTZ, Time:
		return 8
	case Interval:
		return 16
	case Text:
		switch t.Name {
		case "name":
			return 64
		case "char":
			return 1
		}
	}
	return -1
}

// String returns the type's name as PostgreSQL's format_type prints it.
func (t T) String() string {
	switch t.Kind {
	case Unknown:
		return "unknown"
	case Null:
		return "text"
	case Bool:
		return "boolean"
	case Int16:
		return "smallint"
	case Int32:
		return "integer"
	case Int64:
		return "bigint"
	case Float32:
		return "real"
	case Float64:
		return "double precision"
	case Numeric:
		if p, s, ok := t.NumericPS(); ok {
			return fmt.Sprintf("numeric(%d,%d)", p, s)
		}
		return "numeric"
	case Text:
		switch t.Name {
		case "varchar":
			if t.Mod >= 0 {
				return fmt.Sprintf("character varying(%d)", t.Mod)
			}
			return "character varying"
		case "bpchar":
			if t.Mod >= 0 {
				return fmt.Sprintf("character(%d)", t.Mod)
			}
			return "bpchar"
		case "name":
			return "name"
		case "char":
			return `"char"`
		}
		return "text"
	case Bytea:
		return "bytea"
	case Date:
		return "date"
	case Time:
		return "time without time zone"
	case Timestamp:
		return "timestamp without time zone"
	case TimestampTZ:
		return "timestamp with time zone"
	case Interval:
		return "interval"
	case JSONB:
		if t.Name == "json" {
			return "json"
		}
		return "jsonb"
	case Oid:
		if t.Name != "" {
			return t.Name
		}
		return "oid"
	case Array:
		if t.Name == "int2vector" || t.Name == "oidvector" {
			return t.Name
		}
		return t.ElemType().String() + "[]"
	case Record:
		return "record"
	}
	return "unknown"
}

// TypName returns the pg_type.typname of t (e.g. int4, _text).
func (t T) TypName() string {
	switch t.Kind {
	case Bool:
		return "bool"
	case Int16:
		return "int2"
	case Int32:
		return "int4"
	case Int64:
		return "int8"
	case Float32:
		return "float4"
	case Float64:
		return "float8"
	case Numeric:
		return "numeric"
	case Text:
		if t.Name != "" {
			return t.Name
		}
		return "text"
	case Bytea:
		return "bytea"
	case Date:
		return "date"
	case Time:
		return "time"
	case Timestamp:
		return "timestamp"
	case TimestampTZ:
		return "timestamptz"
	case Interval:
		return "interval"
	case JSONB:
		if t.Name == "json" {
			return "json"
		}
		return "jsonb"
	case Oid:
		if t.Name != "" {
			return t.Name
		}
		return "oid"
	case Array:
		if t.Name == "int2vector" || t.Name == "oidvector" {
			return t.Name
		}
		return "_" + t.ElemType().TypName()
	case Unknown:
		return "unknown"
	case Record:
		return "record"
	}
	return "text"
}

// BuiltinTypes lists the types that pg_type shows.
func BuiltinTypes() []T {
	base := []T{TBool, TBytea, TChar, TName, TInt64, TInt16, TInt32, TText, TOid, TJSONB,
		TFloat32, TFloat64, {Kind: Text, Mod: -1, Name: "bpchar"}, TJSON, TVarchar, TDate, TTime, TTimestamp,
		TTimestampTZ, TInterval, TNumeric, TRegclass, TRegtype, TRegproc, TRegnamespace, TUnknown,
		TInt2Vector, TOidVector}
	out := append([]T{}, base...)
	for _, b := range base {
		if b.Kind == Array || b.Kind == Unknown {
			continue
		}
		out = append(out, ArrayOf(b))
	}
	return out
}

// FromOID returns the type with the given OID.
func FromOID(oid uint32) (T, bool) {
	for _, t := range BuiltinTypes() {
		if t.OID() == oid {
			return t, true
		}
	}
	return T{}, false
}

// Parse parses a PostgreSQL type name such as "double precision",
// "character varying(10)", "numeric(10,2)", "timestamptz", "text[]",
// "pg_catalog.int4".
func Parse(name string) (T, error) {
	s := strings.ToLower(strings.TrimSpace(name))
	s = strings.TrimPrefix(s, "pg_catalog.")
	if strings.HasSuffix(s, "[]") {
		e, err := Parse(strings.TrimSpace(s[:len(s)-2]))
		if err != nil {
			return T{}, err
		}
		return ArrayOf(e), nil
	}
	var mods []int32
	if i := strings.IndexByte(s, '('); i >= 0 {
		j := strings.LastIndexByte(s, ')')
		if j < i {
			return T{}, sqlerr.Syntax(0, "syntax error in type name %q", name)
		}
		for _, m := range strings.Split(s[i+1:j], ",") {
			var v int32
			if _, err := fmt.Sscanf(strings.TrimSpace(m), "%d", &v); err != nil {
				return T{}, sqlerr.Syntax(0, "invalid type modifier in %q", name)
			}
			mods = append(mods, v)
		}
		s = strings.TrimSpace(s[:i] + s[j+1:])
	}
	s = strings.Join(strings.Fields(s), " ")
	if s != `"char"` {
		s = strings.Trim(s, `"`)
	}
	var t T
	switch s {
	case "bool", "boolean":
		t = TBool
	case "int2", "smallint", "smallserial", "serial2":
		t = TInt16
	case "int4", "int", "integer", "serial", "serial4":
		t = TInt32
	case "int8", "bigint", "bigserial", "serial8":
		t = TInt64
	case "float4", "real":
		t = TFloat32
	case "float8", "double precision", "float":
		t = TFloat64
		if len(mods) == 1 && mods[0] <= 24 {
			t = TFloat32
		}
		mods = nil
	case "numeric", "decimal":
		t = TNumeric
		switch len(mods) {
		case 1:
			t.Mod = mods[0] << 16
		case 2:
			t.Mod = mods[0]<<16 | mods[1]
		}
		mods = nil
	case "text", "string":
		t = TText
	case "varchar", "character varying":
		t = TVarchar
	case "char", "character", "bpchar":
		t = T{Kind: Text, Mod: -1, Name: "bpchar"}
		if len(mods) == 0 && s != "bpchar" {
			t.Mod = 1
		}
	case `"char"`:
		t = TChar
	case "name":
		t = TName
	case "bytea":
		t = TBytea
	case "date":
		t = TDate
	case "time", "time without time zone":
		t = TTime
	case "timestamp", "timestamp without time zone":
		t = TTimestamp
	case "timestamptz", "timestamp with time zone":
		t = TTimestampTZ
	case "interval":
		t = TInterval
	case "jsonb":
		t = TJSONB
	case "json":
		t = TJSON
	case "oid":
		t = TOid
	case "regclass":
		t = TRegclass
	case "regtype":
		t = TRegtype
	case "regproc", "regprocedure":
		t = TRegproc
	case "regnamespace":
		t = TRegnamespace
	case "int2vector":
		t = TInt2Vector
	case "oidvector":
		t = TOidVector
	case "unknown":
		t = TUnknown
	case "record":
		t = T{Kind: Record, Mod: -1}
	default:
		return T{}, sqlerr.New(sqlerr.UndefinedObject, "type %q does not exist", name)
	}
	if len(mods) > 0 {
		if t.Kind != Text || t.Name == "" {
			return T{}, sqlerr.Syntax(0, "type modifier is not allowed for type %q", name)
		}
		t.Mod = mods[0]
	}
	if s == "char" && t.Mod < 0 {
		t.Mod = 1
	}
	return t, nil
}
