package expr

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/streamsql/streamsql/sqlerr"
	"github.com/streamsql/streamsql/types"
)

// ServerVersion is what version() and server_version report.
const ServerVersion = "15.0"

// VersionString is the text of version().
const VersionString = "PostgreSQL 15.0 (streamsql) on x86_64-pc-linux-gnu, compiled by Go, 64-bit"

func constFn(name string, ret types.T, f func(ctx *Ctx) types.Datum) {
	Register(&Func{Name: name, Volatile: true, SessionConstant: true, Resolve: sig(ret), Row: func(ctx *Ctx, _ []types.Datum, _ []types.T, _ types.T) (types.Datum, error) {
		return f(ctx), nil
	}})
}

func init() {
	constFn("version", tText, func(*Ctx) types.Datum { return types.DText(VersionString) })
	constFn("current_schema", types.TName, func(ctx *Ctx) types.Datum {
		if p := searchPath(ctx); len(p) > 0 {
			return types.DText(p[0])
		}
		return types.NullDatum
	})
	constFn("current_database", types.TName, func(ctx *Ctx) types.Datum { return types.DText(sessionDB(ctx)) })
	for _, n := range []string{"current_user", "session_user", "user", "current_role"} {
		constFn(n, types.TName, func(ctx *Ctx) types.Datum { return types.DText(sessionUser(ctx)) })
	}
	constFn("pg_backend_pid", tInt, func(ctx *Ctx) types.Datum {
		if v, ok := setting(ctx, "__backend_pid"); ok {
			n, _ := strconv.ParseInt(v, 10, 64)
			return types.DInt(n)
		}
		return types.DInt(0)
	})
	constFn("pg_is_in_recovery", tBool, func(*Ctx) types.Datum { return types.DBool(false) })
	constFn("txid_current", tBig, func(ctx *Ctx) types.Datum { return types.DInt(ctx.Now) })
	constFn("pg_postmaster_start_time", tTSTZ, func(ctx *Ctx) types.Datum { return types.DInt(startTime) })
	Register(&Func{Name: "__nextval", Strict: true, Volatile: true, Resolve: func(args []types.T) (types.T, []types.T, bool) {
		if len(args) != 1 {
			return types.T{}, nil, false
		}
		return tBig, []types.T{types.TRegclass}, true
	}, Row: func(ctx *Ctx, a []types.Datum, _ []types.T, _ types.T) (types.Datum, error) {
		if ctx.Catalog == nil {
			return types.Datum{}, sqlerr.Unsupported("sequences are not available here")
		}
		v, err := ctx.Catalog.NextVal(a[0].I)
		return types.DInt(v), err
	}})
	Register(&Func{Name: "current_schemas", Resolve: sig(types.TTextArray, tBool), Row: func(ctx *Ctx, a []types.Datum, _ []types.T, _ types.T) (types.Datum, error) {
		p := searchPath(ctx)
		if !a[0].Null && a[0].I != 0 {
			p = append([]string{"pg_catalog"}, p...)
		}
		return types.DText(textArrayLiteral(p)), nil
	}})
	Register(&Func{Name: "current_setting", Strict: true, Volatile: true, Resolve: anyArgs(tText, 1, 2), Row: func(ctx *Ctx, a []types.Datum, _ []types.T, _ types.T) (types.Datum, error) {
		if v, ok := setting(ctx, strings.ToLower(a[0].S)); ok {
			return types.DText(v), nil
		}
		if len(a) > 1 && a[1].I != 0 {
			return types.NullDatum, nil
		}
		return types.Datum{}, sqlerr.New(sqlerr.UndefinedObject, "unrecognized configuration parameter %q", a[0].S)
	}})
	Register(&Func{Name: "set_config", Volatile: true, Resolve: sig(tText, tText, tText, tBool), Row: func(_ *Ctx, a []types.Datum, _ []types.T, _ types.T) (types.Datum, error) {
		return a[1], nil
	}})
	// catalog helpers
	yes := func(name string, n ...int) {
		Register(&Func{Name: name, Resolve: anyArgs(tBool, n...), Row: func(*Ctx, []types.Datum, []types.T, types.T) (types.Datum, error) {
			return types.DBool(true), nil
		}})
	}
	Register(&Func{Name: "pg_table_is_visible", Strict: true, Resolve: sig(tBool, types.TOid), Row: func(ctx *Ctx, a []types.Datum, _ []types.T, _ types.T) (types.Datum, error) {
		if ctx.Catalog == nil {
			return types.DBool(true), nil
		}
		return types.DBool(ctx.Catalog.RelationVisible(a[0].I)), nil
	}})
	yes("pg_type_is_visible", 1)
	yes("pg_function_is_visible", 1)
	yes("has_table_privilege", 2, 3)
	yes("has_schema_privilege", 2, 3)
	yes("has_database_privilege", 2, 3)
	yes("has_column_privilege", 3, 4)
	yes("has_any_column_privilege", 2, 3)
	Register(&Func{Name: "pg_relation_is_publishable", Resolve: anyArgs(tBool, 1), Row: func(*Ctx, []types.Datum, []types.T, types.T) (types.Datum, error) {
		return types.DBool(false), nil
	}})
	null := func(name string, ret types.T, n ...int) {
		Register(&Func{Name: name, Resolve: anyArgs(ret, n...), Row: func(*Ctx, []types.Datum, []types.T, types.T) (types.Datum, error) {
			return types.NullDatum, nil
		}})
	}
	null("obj_description", tText, 1, 2)
	null("col_description", tText, 2)
	null("shobj_description", tText, 2)
	null("pg_get_statisticsobjdef_columns", tText, 1)
	null("pg_get_serial_sequence", tText, 2)
	null("pg_get_triggerdef", tText, 1, 2)
	null("pg_get_ruledef", tText, 1, 2)
	null("pg_get_partkeydef", tText, 1)
	null("pg_tablespace_location", tText, 1)
	Register(&Func{Name: "pg_get_expr", Resolve: anyArgs(tText, 2, 3), Row: func(_ *Ctx, a []types.Datum, _ []types.T, _ types.T) (types.Datum, error) {
		return a[0], nil // pg_attrdef.adbin holds the expression text
	}})
	Register(&Func{Name: "pg_get_userbyid", Resolve: anyArgs(types.TName, 1), Row: func(ctx *Ctx, _ []types.Datum, _ []types.T, _ types.T) (types.Datum, error) {
		return types.DText(OwnerName), nil
	}})
	Register(&Func{Name: "pg_encoding_to_char", Resolve: anyArgs(types.TName, 1), Row: func(*Ctx, []types.Datum, []types.T, types.T) (types.Datum, error) {
		return types.DText("UTF8"), nil
	}})
	Register(&Func{Name: "format_type", Resolve: anyArgs(tText, 2), Row: func(_ *Ctx, a []types.Datum, _ []types.T, _ types.T) (types.Datum, error) {
		if a[0].Null {
			return types.NullDatum, nil
		}
		t, ok := types.FromOID(uint32(a[0].I))
		if !ok {
			return types.DText("???"), nil
		}
		if !a[1].Null && a[1].I >= 0 {
			switch {
			case t.Kind == types.Text && (t.Name == "varchar" || t.Name == "bpchar"):
				t.Mod = int32(a[1].I - 4)
			case t.Kind == types.Numeric:
				t.Mod = int32(a[1].I - 4)
			}
		}
		return types.DText(t.String()), nil
	}})
	Register(&Func{Name: "pg_get_function_result", Resolve: anyArgs(tText, 1), Row: func(_ *Ctx, a []types.Datum, _ []types.T, _ types.T) (types.Datum, error) {
		return types.DText("unknown"), nil
	}})
	Register(&Func{Name: "pg_get_function_arguments", Resolve: anyArgs(tText, 1), Row: func(_ *Ctx, a []types.Datum, _ []types.T, _ types.T) (types.Datum, error) {
		return types.DText(""), nil
	}})
	// pg_get_indexdef(index [, column, pretty]): CREATE INDEX, or with
	// column > 0 that key column alone
	Register(&Func{Name: "pg_get_indexdef", Resolve: anyArgs(tText, 1, 3), Row: func(ctx *Ctx, a []types.Datum, _ []types.T, _ types.T) (types.Datum, error) {
		if a[0].Null || ctx.Catalog == nil {
			return types.NullDatum, nil
		}
		s, ok := ctx.Catalog.IndexDef(a[0].I)
		if !ok {
			return types.NullDatum, nil
		}
		if len(a) > 1 && !a[1].Null && a[1].I > 0 {
			open, close := strings.LastIndexByte(s, '('), strings.LastIndexByte(s, ')')
			if open < 0 || close < open {
				return types.NullDatum, nil
			}
			cols := strings.Split(s[open+1:close], ", ")
			if int(a[1].I) > len(cols) {
				return types.DText(""), nil
			}
			return types.DText(cols[a[1].I-1]), nil
		}
		return types.DText(s), nil
	}})
	Register(&Func{Name: "pg_get_constraintdef", Resolve: anyArgs(tText, 1, 2), Row: func(ctx *Ctx, a []types.Datum, _ []types.T, _ types.T) (types.Datum, error) {
		if a[0].Null || ctx.Catalog == nil {
			return types.NullDatum, nil
		}
		if s, ok := ctx.Catalog.ConstraintDef(a[0].I); ok {
			return types.DText(s), nil
		}
		return types.NullDatum, nil
	}})
	for _, n := range []string{"pg_table_size", "pg_relation_size", "pg_total_relation_size", "pg_indexes_size"} {
		Register(&Func{Name: n, Resolve: anyArgs(tBig, 1, 2), Row: func(*Ctx, []types.Datum, []types.T, types.T) (types.Datum, error) {
			return types.DInt(0), nil
		}})
	}
	Register(&Func{Name: "pg_size_pretty", Strict: true, Resolve: sig(tText, tBig), Row: func(_ *Ctx, a []types.Datum, _ []types.T, _ types.T) (types.Datum, error) {
		return types.DText(sizePretty(a[0].I)), nil
	}})
	Register(&Func{Name: "array_to_string", Resolve: anyArgs(tText, 2, 3), Row: func(_ *Ctx, a []types.Datum, _ []types.T, _ types.T) (types.Datum, error) {
		if a[0].Null || a[1].Null {
			return types.NullDatum, nil
		}
		elems, err := types.ParseArray(a[0].S)
		if err != nil {
			return types.Datum{}, sqlerr.New(sqlerr.InvalidTextRep, "malformed array literal: %q", a[0].S)
		}
		var parts []string
		for _, e := range elems {
			switch {
			case e != nil:
				parts = append(parts, *e)
			case len(a) > 2 && !a[2].Null:
				parts = append(parts, a[2].S)
			}
		}
		return types.DText(strings.Join(parts, a[1].S)), nil
	}})
	arrayLen := func(_ *Ctx, a []types.Datum, _ []types.T, _ types.T) (types.Datum, error) {
		elems, err := types.ParseArray(a[0].S)
		if err != nil || len(elems) == 0 || (len(a) > 1 && a[1].I != 1) {
			return types.NullDatum, nil
		}
		return types.DInt(int64(len(elems))), nil
	}
	Register(&Func{Name: "array_upper", Strict: true, Resolve: anyArgs(tInt, 2), Row: arrayLen})
	Register(&Func{Name: "array_lower", Strict: true, Resolve: anyArgs(tInt, 2), Row: func(_ *Ctx, a []types.Datum, at []types.T, _ types.T) (types.Datum, error) {
		elems, err := types.ParseArray(a[0].S)
		if err != nil || len(elems) == 0 || a[1].I != 1 {
			return types.NullDatum, nil
		}
		if at[0].Name == "int2vector" || at[0].Name == "oidvector" {
			return types.DInt(0), nil
		}
		return types.DInt(1), nil
	}})
	Register(&Func{Name: "array_length", Strict: true, Resolve: anyArgs(tInt, 2), Row: arrayLen})
	Register(&Func{Name: "__cardinality", Strict: true, Resolve: anyArgs(tInt, 1), Row: func(_ *Ctx, a []types.Datum, _ []types.T, _ types.T) (types.Datum, error) {
		elems, _ := types.ParseArray(a[0].S)
		return types.DInt(int64(len(elems))), nil
	}})
	Register(&Func{Name: "__subscript", Strict: true, Resolve: func(args []types.T) (types.T, []types.T, bool) {
		if len(args) != 2 || args[0].Kind != types.Array {
			return types.T{}, nil, false
		}
		return args[0].ElemType(), []types.T{args[0], tInt}, true
	}, Row: func(ctx *Ctx, a []types.Datum, at []types.T, rt types.T) (types.Datum, error) {
		elems, err := types.ParseArray(a[0].S)
		if err != nil {
			return types.NullDatum, nil
		}
		lb := int64(1)
		if at[0].Name == "int2vector" || at[0].Name == "oidvector" {
			lb = 0
		}
		i := a[1].I - lb
		if i < 0 || i >= int64(len(elems)) || elems[i] == nil {
			return types.NullDatum, nil
		}
		return types.ParseText(rt, *elems[i], ctx.Loc)
	}})
	Register(&Func{Name: "__array", Resolve: func(args []types.T) (types.T, []types.T, bool) {
		t, ok := CommonType(args)
		if !ok || len(args) == 0 {
			return types.T{}, nil, false
		}
		want := make([]types.T, len(args))
		for i := range want {
			want[i] = t
		}
		return types.ArrayOf(t), want, true
	}, Row: func(ctx *Ctx, a []types.Datum, at []types.T, _ types.T) (types.Datum, error) {
		elems := make([]*string, len(a))
		for i, d := range a {
			if !d.Null {
				s := types.FormatText(at[i], d, ctx.Loc)
				elems[i] = &s
			}
		}
		return types.DText(types.FormatArray(elems)), nil
	}})
	for _, n := range []string{"__any", "__all"} {
		all := n == "__all"
		Register(&Func{Name: n, Resolve: func(args []types.T) (types.T, []types.T, bool) {
			if len(args) != 3 {
				return types.T{}, nil, false
			}
			arr := args[2]
			if arr.Kind == types.Unknown {
				arr = types.ArrayOf(args[1])
				if args[1].Kind == types.Unknown {
					arr = types.TTextArray
				}
			}
			if arr.Kind != types.Array {
				return types.T{}, nil, false
			}
			return tBool, []types.T{tText, arr.ElemType(), arr}, true
		}, Row: func(ctx *Ctx, a []types.Datum, at []types.T, _ types.T) (types.Datum, error) {
			if a[1].Null || a[2].Null {
				return types.NullDatum, nil
			}
			elems, err := types.ParseArray(a[2].S)
			if err != nil {
				return types.Datum{}, sqlerr.New(sqlerr.InvalidTextRep, "malformed array literal: %q", a[2].S)
			}
			et := at[1]
			sawNull := false
			for _, e := range elems {
				if e == nil {
					sawNull = true
					continue
				}
				d, err := types.ParseText(et, *e, ctx.Loc)
				if err != nil {
					return types.Datum{}, err
				}
				ok := CompareByName(a[0].S, types.Compare(et, a[1], d))
				if ok && !all {
					return types.DBool(true), nil
				}
				if !ok && all {
					return types.DBool(false), nil
				}
			}
			if sawNull {
				return types.NullDatum, nil
			}
			return types.DBool(all), nil
		}})
	}
	// JSON
	buildObject := func(jsonb bool) func(ctx *Ctx, a []types.Datum, at []types.T, _ types.T) (types.Datum, error) {
		return func(ctx *Ctx, a []types.Datum, at []types.T, _ types.T) (types.Datum, error) {
			if len(a)%2 != 0 {
				return types.Datum{}, sqlerr.New(sqlerr.InvalidParameterValue, "argument list must have even number of elements")
			}
			m := map[string]any{}
			var b strings.Builder
			b.WriteString("{")
			for i := 0; i < len(a); i += 2 {
				if a[i].Null {
					return types.Datum{}, sqlerr.New(sqlerr.InvalidParameterValue, "argument %d cannot be null", i+1)
				}
				k, v := asText(ctx, at[i], a[i]), jsonValue(ctx, at[i+1], a[i+1])
				m[k] = v
				// json keeps the order and spacing PostgreSQL's json_build_object writes
				if i > 0 {
					b.WriteString(", ")
				}
				b.WriteString(types.JSONText(k) + " : " + types.JSONText(v))
			}
			b.WriteString("}")
			if jsonb {
				return types.DText(types.JSONText(m)), nil
			}
			return types.DText(b.String()), nil
		}
	}
	Register(&Func{Name: "json_build_object", Resolve: anyArgs(types.TJSON), Row: buildObject(false)})
	Register(&Func{Name: "jsonb_build_object", Resolve: anyArgs(types.TJSONB), Row: buildObject(true)})
	jsonGet := func(text bool) func(*Ctx, []types.Datum, []types.T, types.T) (types.Datum, error) {
		return func(_ *Ctx, a []types.Datum, at []types.T, _ types.T) (types.Datum, error) {
			var v any
			dec := json.NewDecoder(strings.NewReader(a[0].S))
			dec.UseNumber()
			if err := dec.Decode(&v); err != nil {
				return types.NullDatum, nil
			}
			var r any
			switch x := v.(type) {
			case map[string]any:
				if at[1].Kind.IsInteger() {
					return types.NullDatum, nil
				}
				var ok bool
				if r, ok = x[a[1].S]; !ok {
					return types.NullDatum, nil
				}
			case []any:
				if !at[1].Kind.IsInteger() {
					return types.NullDatum, nil
				}
				i := int(a[1].I)
				if i < 0 {
					i += len(x)
				}
				if i < 0 || i >= len(x) {
					return types.NullDatum, nil
				}
				r = x[i]
			default:
				return types.NullDatum, nil
			}
			if text {
				switch y := r.(type) {
				case nil:
					return types.NullDatum, nil
				case string:
					return types.DText(y), nil
				}
			}
			return types.DText(types.JSONText(r)), nil
		}
	}
	jsonRes := func(ret types.T) func([]types.T) (types.T, []types.T, bool) {
		return func(args []types.T) (types.T, []types.T, bool) {
			if len(args) != 2 {
				return types.T{}, nil, false
			}
			k := tText
			if args[1].Kind.IsInteger() {
				k = tInt
			}
			return ret, []types.T{types.TJSONB, k}, true
		}
	}
	Register(&Func{Name: "__json_get", Strict: true, Resolve: jsonRes(types.TJSONB), Row: jsonGet(false)})
	Register(&Func{Name: "__json_get_text", Strict: true, Resolve: jsonRes(tText), Row: jsonGet(true)})
	Register(&Func{Name: "jsonb_typeof", Strict: true, Resolve: sig(tText, types.TJSONB), Row: func(_ *Ctx, a []types.Datum, _ []types.T, _ types.T) (types.Datum, error) {
		s := strings.TrimSpace(a[0].S)
		switch {
		case s == "null":
			return types.DText("null"), nil
		case s == "true" || s == "false":
			return types.DText("boolean"), nil
		case strings.HasPrefix(s, "{"):
			return types.DText("object"), nil
		case strings.HasPrefix(s, "["):
			return types.DText("array"), nil
		case strings.HasPrefix(s, `"`):
			return types.DText("string"), nil
		}
		return types.DText("number"), nil
	}})
	Register(&Func{Name: "to_jsonb", Strict: true, Resolve: anyArgs(types.TJSONB, 1), Row: func(ctx *Ctx, a []types.Datum, at []types.T, _ types.T) (types.Datum, error) {
		return types.DText(types.JSONText(jsonValue(ctx, at[0], a[0]))), nil
	}})
}

// OwnerName is the one role streamsql shows as the owner of everything.
const OwnerName = "streamsql"

var startTime = timeNowMicros()

func sizePretty(n int64) string {
	units := []string{"bytes", "kB", "MB", "GB", "TB"}
	v := n
	i := 0
	for i < len(units)-1 && (v >= 10*1024 || v <= -10*1024) {
		v = (v + 512) / 1024
		i++
	}
	return fmt.Sprintf("%d %s", v, units[i])
}

// CompareByName applies a comparison operator given by name ("=", "<", ...)
// to the result of types.Compare.
func CompareByName(op string, c int) bool {
	switch op {
	case "=":
		return c == 0
	case "<>", "!=":
		return c != 0
	case "<":
		return c < 0
	case "<=":
		return c <= 0
	case ">":
		return c > 0
	}
	return c >= 0
}

// ToJSONText is to_jsonb's text of a value: numbers and booleans as JSON
// scalars, json values as themselves, everything else as a JSON string of
// its text form; NULL is null.
func ToJSONText(ctx *Ctx, t types.T, d types.Datum) string {
	return types.JSONText(jsonValue(ctx, t, d))
}

func jsonValue(ctx *Ctx, t types.T, d types.Datum) any {
	if d.Null {
		return nil
	}
	switch t.Kind {
	case types.Bool:
		return d.I != 0
	case types.Int16, types.Int32, types.Int64, types.Oid:
		return json.Number(strconv.FormatInt(d.I, 10))
	case types.Float32, types.Float64:
		if math.IsNaN(d.F) || math.IsInf(d.F, 0) {
			return types.FormatFloat(d.F, 64) // not JSON numbers: strings
		}
		// jsonb keeps numbers as numeric: no exponent
		return json.Number(strconv.FormatFloat(d.F, 'f', -1, 64))
	case types.Numeric:
		if d.S == "NaN" || strings.HasSuffix(d.S, "Infinity") {
			return d.S
		}
		return json.Number(d.S)
	case types.Timestamp, types.TimestampTZ:
		// ISO 8601, as PostgreSQL's json: 2026-01-01T10:00:00+00:00
		s := strings.Replace(types.FormatText(t, d, ctx.Loc), " ", "T", 1)
		if t.Kind == types.TimestampTZ {
			if i := strings.LastIndexAny(s, "+-"); i > 10 && len(s)-i == 3 {
				s += ":00"
			}
		}
		return s
	case types.JSONB:
		var v any
		dec := json.NewDecoder(strings.NewReader(d.S))
		dec.UseNumber()
		_ = dec.Decode(&v)
		return v
	case types.Array:
		// a JSON array of the elements (one dimension, as streamsql's arrays)
		elems, err := types.ParseArray(d.S)
		if err != nil {
			return d.S
		}
		et := t.ElemType()
		out := make([]any, len(elems))
		for i, e := range elems {
			if e == nil {
				continue
			}
			ed, err := types.ParseText(et, *e, ctx.Loc)
			if err != nil {
				out[i] = *e
				continue
			}
			out[i] = jsonValue(ctx, et, ed)
		}
		return out
	}
	return types.FormatText(t, d, ctx.Loc)
}

func sessionUser(ctx *Ctx) string {
	if ctx.Session != nil {
		return ctx.Session.User()
	}
	return OwnerName
}

func sessionDB(ctx *Ctx) string {
	if ctx.Session != nil {
		return ctx.Session.Database()
	}
	return "streamsql"
}

// searchPath is the session's search path (public without a catalog).
func searchPath(ctx *Ctx) []string {
	if ctx.Catalog == nil {
		return []string{"public"}
	}
	return ctx.Catalog.SearchPath()
}

// textArrayLiteral writes names as a text[] literal, quoting where needed.
func textArrayLiteral(xs []string) string {
	var b strings.Builder
	b.WriteByte('{')
	for i, x := range xs {
		if i > 0 {
			b.WriteByte(',')
		}
		if x == "" || strings.ContainsAny(x, `{},"\ `) || strings.EqualFold(x, "null") {
			b.WriteByte('"')
			b.WriteString(strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(x))
			b.WriteByte('"')
		} else {
			b.WriteString(x)
		}
	}
	b.WriteByte('}')
	return b.String()
}

func setting(ctx *Ctx, name string) (string, bool) {
	if ctx.Session != nil {
		return ctx.Session.Setting(name)
	}
	return "", false
}
