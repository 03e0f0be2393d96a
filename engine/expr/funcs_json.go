package expr

import (
	"encoding/json"
	"strconv"
	"strings"

	"github.com/streamsql/streamsql/sqlerr"
	"github.com/streamsql/streamsql/types"
)

// JSONB operators and functions: || (concatenation), ? ?| ?& (keys),
// @> <@ (containment), #> #>> (paths), - and #- (deletion), and the
// accessors of jsonb_extract_path, jsonb_array_length. Values are kept as
// canonical jsonb text (types.CanonicalJSON) and decoded per row with
// numbers kept exact.

// DecodeJSON decodes a json/jsonb value's text, numbers as json.Number.
func DecodeJSON(s string) (any, error) {
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, sqlerr.New(sqlerr.InvalidTextRep, "invalid input syntax for type json")
	}
	return v, nil
}

func jsonDatum(v any) types.Datum { return types.DText(types.JSONText(v)) }

// JSONConcat is jsonb || jsonb: two objects merge (the right one's keys
// win); otherwise both sides, as arrays (a non-array as an array of
// itself), are concatenated.
func JSONConcat(a, b any) any {
	ao, aok := a.(map[string]any)
	bo, bok := b.(map[string]any)
	if aok && bok {
		out := make(map[string]any, len(ao)+len(bo))
		for k, v := range ao {
			out[k] = v
		}
		for k, v := range bo {
			out[k] = v
		}
		return out
	}
	asArray := func(v any) []any {
		if arr, ok := v.([]any); ok {
			return arr
		}
		return []any{v}
	}
	return append(append([]any{}, asArray(a)...), asArray(b)...)
}

// JSONContains is a @> b: every key of b's objects is in a's with a
// containing value, every element of b's arrays is contained in one of
// a's; a top-level array contains a scalar it holds.
func JSONContains(a, b any, top bool) bool {
	switch bv := b.(type) {
	case map[string]any:
		ao, ok := a.(map[string]any)
		if !ok {
			return false
		}
		for k, v := range bv {
			av, ok := ao[k]
			if !ok || !JSONContains(av, v, false) {
				return false
			}
		}
		return true
	case []any:
		aa, ok := a.([]any)
		if !ok {
			return false
		}
		for _, e := range bv {
			found := false
			for _, x := range aa {
				if JSONContains(x, e, false) {
					found = true
					break
				}
			}
			if !found {
				return false
			}
		}
		return true
	}
	if aa, ok := a.([]any); ok && top {
		for _, x := range aa {
			if jsonScalarEqual(x, b) {
				return true
			}
		}
		return false
	}
	return jsonScalarEqual(a, b)
}

func jsonScalarEqual(a, b any) bool {
	switch x := a.(type) {
	case json.Number:
		y, ok := b.(json.Number)
		if !ok {
			return false
		}
		if x == y {
			return true
		}
		xd, err1 := types.ParseDecimal(string(x))
		yd, err2 := types.ParseDecimal(string(y))
		return err1 == nil && err2 == nil && xd.Cmp(yd) == 0
	case map[string]any, []any:
		return false
	}
	return a == b
}

// jsonHasKey is a ? key: an object's key, an array's string element, or
// the string itself.
func jsonHasKey(v any, key string) bool {
	switch x := v.(type) {
	case map[string]any:
		_, ok := x[key]
		return ok
	case []any:
		for _, e := range x {
			if s, ok := e.(string); ok && s == key {
				return true
			}
		}
		return false
	case string:
		return x == key
	}
	return false
}

// JSONPath follows a path of keys and array indexes (negative from the
// end); ok is false where the path leads nowhere.
func JSONPath(v any, path []*string) (any, bool) {
	for _, p := range path {
		if p == nil {
			return nil, false
		}
		switch x := v.(type) {
		case map[string]any:
			var ok bool
			if v, ok = x[*p]; !ok {
				return nil, false
			}
		case []any:
			i, err := strconv.Atoi(*p)
			if err != nil {
				return nil, false
			}
			if i < 0 {
				i += len(x)
			}
			if i < 0 || i >= len(x) {
				return nil, false
			}
			v = x[i]
		default:
			return nil, false
		}
	}
	return v, true
}

// JSONText is a json value as ->> returns it: strings without quotes,
// null as SQL NULL, the rest as json text.
func JSONText(v any) types.Datum {
	switch x := v.(type) {
	case nil:
		return types.NullDatum
	case string:
		return types.DText(x)
	}
	return jsonDatum(v)
}

// jsonDelete removes keys from an object, matching strings from an
// array, or (with an integer) an array's element.
func jsonDelete(v any, key any) any {
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = e
		}
		switch kk := key.(type) {
		case string:
			delete(out, kk)
		case []*string:
			for _, k := range kk {
				if k != nil {
					delete(out, *k)
				}
			}
		}
		return out
	case []any:
		var out []any
		switch kk := key.(type) {
		case string:
			for _, e := range x {
				if s, ok := e.(string); !ok || s != kk {
					out = append(out, e)
				}
			}
		case int:
			if kk < 0 {
				kk += len(x)
			}
			for i, e := range x {
				if i != kk {
					out = append(out, e)
				}
			}
		case []*string:
			drop := map[string]bool{}
			for _, k := range kk {
				if k != nil {
					drop[*k] = true
				}
			}
			for _, e := range x {
				if s, ok := e.(string); !ok || !drop[s] {
					out = append(out, e)
				}
			}
		}
		if out == nil {
			out = []any{}
		}
		return out
	}
	return v
}

// jsonDeletePath removes the element at a path.
func jsonDeletePath(v any, path []*string) any {
	if len(path) == 0 || path[0] == nil {
		return v
	}
	switch x := v.(type) {
	case map[string]any:
		k := *path[0]
		e, ok := x[k]
		if !ok {
			return v
		}
		out := make(map[string]any, len(x))
		for kk, vv := range x {
			out[kk] = vv
		}
		if len(path) == 1 {
			delete(out, k)
		} else {
			out[k] = jsonDeletePath(e, path[1:])
		}
		return out
	case []any:
		i, err := strconv.Atoi(*path[0])
		if err != nil {
			return v
		}
		if i < 0 {
			i += len(x)
		}
		if i < 0 || i >= len(x) {
			return v
		}
		out := append([]any{}, x...)
		if len(path) == 1 {
			return append(out[:i], out[i+1:]...)
		}
		out[i] = jsonDeletePath(x[i], path[1:])
		return out
	}
	return v
}

// pathValue is what #> (or, as text, #>>) gives for a path: NULL where
// it leads nowhere.
func pathValue(v any, path []*string, text bool) types.Datum {
	r, ok := JSONPath(v, path)
	switch {
	case !ok:
		return types.NullDatum
	case text:
		return JSONText(r)
	}
	return jsonDatum(r)
}

// jsonAndList decodes a call's json value and its text[] second argument
// (keys or a path).
func jsonAndList(a []types.Datum) (any, []*string, error) {
	v, err := DecodeJSON(a[0].S)
	if err != nil {
		return nil, nil, err
	}
	list, err := types.ParseArray(a[1].S)
	return v, list, err
}

func init() {
	isJSON := func(t types.T) bool { return t.Kind == types.JSONB }
	two := func(ret types.T, second types.T) func([]types.T) (types.T, []types.T, bool) {
		return func(args []types.T) (types.T, []types.T, bool) {
			if len(args) != 2 || !(isJSON(args[0]) || args[0].Kind == types.Unknown) {
				return types.T{}, nil, false
			}
			return ret, []types.T{types.TJSONB, second}, true
		}
	}
	decode2 := func(a []types.Datum) (any, any, error) {
		x, err := DecodeJSON(a[0].S)
		if err != nil {
			return nil, nil, err
		}
		y, err := DecodeJSON(a[1].S)
		return x, y, err
	}
	Register(&Func{Name: "__jsonb_concat", Strict: true, Resolve: sig(types.TJSONB, types.TJSONB, types.TJSONB), Row: func(_ *Ctx, a []types.Datum, _ []types.T, _ types.T) (types.Datum, error) {
		x, y, err := decode2(a)
		if err != nil {
			return types.Datum{}, err
		}
		return jsonDatum(JSONConcat(x, y)), nil
	}})
	for _, name := range []string{"__json_contains", "__json_contained"} {
		contained := name == "__json_contained"
		Register(&Func{Name: name, Strict: true, Resolve: two(tBool, types.TJSONB), Row: func(_ *Ctx, a []types.Datum, _ []types.T, _ types.T) (types.Datum, error) {
			x, y, err := decode2(a)
			if err != nil {
				return types.Datum{}, err
			}
			if contained {
				x, y = y, x
			}
			return types.DBool(JSONContains(x, y, true)), nil
		}})
		// arrays: ARRAY[1,2] @> ARRAY[1]
		Register(&Func{Name: name, Strict: true, Resolve: func(args []types.T) (types.T, []types.T, bool) {
			if len(args) != 2 {
				return types.T{}, nil, false
			}
			at := args[0]
			if at.Kind != types.Array {
				at = args[1]
			}
			if at.Kind != types.Array {
				return types.T{}, nil, false
			}
			return tBool, []types.T{at, at}, true
		}, Row: func(_ *Ctx, a []types.Datum, _ []types.T, _ types.T) (types.Datum, error) {
			x, err := types.ParseArray(a[0].S)
			if err != nil {
				return types.Datum{}, err
			}
			y, err := types.ParseArray(a[1].S)
			if err != nil {
				return types.Datum{}, err
			}
			if contained {
				x, y = y, x
			}
			have := map[string]bool{}
			for _, e := range x {
				if e != nil {
					have[*e] = true
				}
			}
			for _, e := range y {
				if e == nil || !have[*e] {
					return types.DBool(false), nil
				}
			}
			return types.DBool(true), nil
		}})
	}
	Register(&Func{Name: "__json_has_key", Strict: true, Resolve: two(tBool, tText), Row: func(_ *Ctx, a []types.Datum, _ []types.T, _ types.T) (types.Datum, error) {
		v, err := DecodeJSON(a[0].S)
		if err != nil {
			return types.Datum{}, err
		}
		return types.DBool(jsonHasKey(v, a[1].S)), nil
	}})
	for _, name := range []string{"__json_has_any", "__json_has_all"} {
		all := name == "__json_has_all"
		Register(&Func{Name: name, Strict: true, Resolve: two(tBool, types.TTextArray), Row: func(_ *Ctx, a []types.Datum, _ []types.T, _ types.T) (types.Datum, error) {
			v, keys, err := jsonAndList(a)
			if err != nil {
				return types.Datum{}, err
			}
			for _, k := range keys {
				has := k != nil && jsonHasKey(v, *k)
				if has && !all {
					return types.DBool(true), nil
				}
				if !has && all {
					return types.DBool(false), nil
				}
			}
			return types.DBool(all), nil
		}})
	}
	for _, name := range []string{"__json_path", "__json_path_text"} {
		text := name == "__json_path_text"
		ret := types.TJSONB
		if text {
			ret = tText
		}
		Register(&Func{Name: name, Strict: true, Resolve: two(ret, types.TTextArray), Row: func(_ *Ctx, a []types.Datum, _ []types.T, _ types.T) (types.Datum, error) {
			v, path, err := jsonAndList(a)
			if err != nil {
				return types.Datum{}, err
			}
			return pathValue(v, path, text), nil
		}})
	}
	// jsonb_extract_path(j, VARIADIC keys), jsonb_extract_path_text, and json_
	for _, name := range []string{"jsonb_extract_path", "jsonb_extract_path_text", "json_extract_path", "json_extract_path_text"} {
		text := strings.HasSuffix(name, "_text")
		ret := types.TJSONB
		if text {
			ret = tText
		} else if strings.HasPrefix(name, "json_") {
			ret = types.TJSON
		}
		Register(&Func{Name: name, Resolve: func(args []types.T) (types.T, []types.T, bool) {
			if len(args) < 2 || !(isJSON(args[0]) || args[0].Kind == types.Unknown) {
				return types.T{}, nil, false
			}
			want := []types.T{types.TJSONB}
			for range args[1:] {
				want = append(want, tText)
			}
			return ret, want, true
		}, Row: func(_ *Ctx, a []types.Datum, _ []types.T, _ types.T) (types.Datum, error) {
			if a[0].Null {
				return types.NullDatum, nil
			}
			v, err := DecodeJSON(a[0].S)
			if err != nil {
				return types.Datum{}, err
			}
			path := make([]*string, len(a)-1)
			for i, d := range a[1:] {
				if !d.Null {
					s := d.S
					path[i] = &s
				}
			}
			return pathValue(v, path, text), nil
		}})
	}
	for _, name := range []string{"jsonb_array_length", "json_array_length"} {
		Register(&Func{Name: name, Strict: true, Resolve: sig(tInt, types.TJSONB), Row: func(_ *Ctx, a []types.Datum, _ []types.T, _ types.T) (types.Datum, error) {
			v, err := DecodeJSON(a[0].S)
			if err != nil {
				return types.Datum{}, err
			}
			arr, ok := v.([]any)
			if !ok {
				return types.Datum{}, sqlerr.New(sqlerr.InvalidParameterValue, "cannot get array length of a non-array")
			}
			return types.DInt(int64(len(arr))), nil
		}})
	}
	// jsonb - key, jsonb - index, jsonb - keys, jsonb #- path
	Register(&Func{Name: "__json_delete", Strict: true, Resolve: func(args []types.T) (types.T, []types.T, bool) {
		if len(args) != 2 || !isJSON(args[0]) {
			return types.T{}, nil, false
		}
		switch {
		case args[1].Kind.IsInteger():
			return types.TJSONB, []types.T{types.TJSONB, tInt}, true
		case args[1].Kind == types.Array:
			return types.TJSONB, []types.T{types.TJSONB, types.TTextArray}, true
		}
		return types.TJSONB, []types.T{types.TJSONB, tText}, true
	}, Row: func(_ *Ctx, a []types.Datum, at []types.T, _ types.T) (types.Datum, error) {
		v, err := DecodeJSON(a[0].S)
		if err != nil {
			return types.Datum{}, err
		}
		var key any = a[1].S
		switch {
		case at[1].Kind.IsInteger():
			if _, isArr := v.([]any); !isArr {
				return types.Datum{}, sqlerr.New(sqlerr.InvalidParameterValue, "cannot delete from object using integer index")
			}
			key = int(a[1].I)
		case at[1].Kind == types.Array:
			ks, err := types.ParseArray(a[1].S)
			if err != nil {
				return types.Datum{}, err
			}
			key = ks
		}
		return jsonDatum(jsonDelete(v, key)), nil
	}})
	Register(&Func{Name: "__json_delete_path", Strict: true, Resolve: two(types.TJSONB, types.TTextArray), Row: func(_ *Ctx, a []types.Datum, _ []types.T, _ types.T) (types.Datum, error) {
		v, path, err := jsonAndList(a)
		if err != nil {
			return types.Datum{}, err
		}
		return jsonDatum(jsonDeletePath(v, path)), nil
	}})
}

// jsonStripNulls drops object fields whose value is null, at every depth
// (nulls in arrays stay).
func jsonStripNulls(v any) any {
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			if e != nil {
				out[k] = jsonStripNulls(e)
			}
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = jsonStripNulls(e)
		}
		return out
	}
	return v
}

// jsonSet replaces the value at path with nv (jsonb_set). A missing last
// key is added when create is set; an array index past either end adds
// at that end; a path through something missing leaves v as it is.
func jsonSet(v any, path []*string, nv any, create bool) (any, error) {
	if len(path) == 0 {
		return v, nil
	}
	if path[0] == nil {
		return nil, sqlerr.New(sqlerr.NullValueNotAllowed, "path element at position %d is null", 1)
	}
	switch x := v.(type) {
	case map[string]any:
		k := *path[0]
		e, ok := x[k]
		if !ok && (len(path) > 1 || !create) {
			return v, nil
		}
		out := make(map[string]any, len(x)+1)
		for kk, vv := range x {
			out[kk] = vv
		}
		if len(path) == 1 {
			out[k] = nv
			return out, nil
		}
		sub, err := jsonSet(e, path[1:], nv, create)
		if err != nil {
			return nil, err
		}
		out[k] = sub
		return out, nil
	case []any:
		i, err := strconv.Atoi(*path[0])
		if err != nil {
			return nil, sqlerr.New(sqlerr.InvalidTextRep, "path element at position 1 is not an integer: %q", *path[0])
		}
		if i < 0 {
			i += len(x)
		}
		out := append([]any{}, x...)
		switch {
		case i >= 0 && i < len(x) && len(path) == 1:
			out[i] = nv
		case i >= 0 && i < len(x):
			sub, err := jsonSet(x[i], path[1:], nv, create)
			if err != nil {
				return nil, err
			}
			out[i] = sub
		case len(path) > 1 || !create:
		case i < 0:
			out = append([]any{nv}, out...)
		default:
			out = append(out, nv)
		}
		return out, nil
	}
	return v, nil
}

// jsonPretty writes v as jsonb_pretty does: one element per line,
// indented by four spaces.
func jsonPretty(b *strings.Builder, v any, indent string) {
	const step = "    "
	switch x := v.(type) {
	case map[string]any:
		if len(x) == 0 {
			b.WriteString("{\n" + indent + "}")
			return
		}
		keys := types.JSONKeys(x)
		b.WriteString("{\n")
		for i, k := range keys {
			b.WriteString(indent + step + types.JSONText(k) + ": ")
			jsonPretty(b, x[k], indent+step)
			if i < len(keys)-1 {
				b.WriteByte(',')
			}
			b.WriteByte('\n')
		}
		b.WriteString(indent + "}")
	case []any:
		if len(x) == 0 {
			b.WriteString("[\n" + indent + "]")
			return
		}
		b.WriteString("[\n")
		for i, e := range x {
			b.WriteString(indent + step)
			jsonPretty(b, e, indent+step)
			if i < len(x)-1 {
				b.WriteByte(',')
			}
			b.WriteByte('\n')
		}
		b.WriteString(indent + "]")
	default:
		b.WriteString(types.JSONText(v))
	}
}

func init() {
	buildArray := func(jsonb bool) func(ctx *Ctx, a []types.Datum, at []types.T, _ types.T) (types.Datum, error) {
		return func(ctx *Ctx, a []types.Datum, at []types.T, _ types.T) (types.Datum, error) {
			vs := make([]any, len(a))
			for i := range a {
				vs[i] = jsonValue(ctx, at[i], a[i])
			}
			return jsonDatum(vs), nil
		}
	}
	Register(&Func{Name: "json_build_array", Resolve: anyArgs(types.TJSON), Row: buildArray(false)})
	Register(&Func{Name: "jsonb_build_array", Resolve: anyArgs(types.TJSONB), Row: buildArray(true)})
	Register(&Func{Name: "jsonb_strip_nulls", Strict: true, Resolve: sig(types.TJSONB, types.TJSONB), Row: func(_ *Ctx, a []types.Datum, _ []types.T, _ types.T) (types.Datum, error) {
		v, err := DecodeJSON(a[0].S)
		if err != nil {
			return types.Datum{}, err
		}
		return jsonDatum(jsonStripNulls(v)), nil
	}})
	Register(&Func{Name: "jsonb_pretty", Strict: true, Resolve: sig(tText, types.TJSONB), Row: func(_ *Ctx, a []types.Datum, _ []types.T, _ types.T) (types.Datum, error) {
		v, err := DecodeJSON(a[0].S)
		if err != nil {
			return types.Datum{}, err
		}
		var b strings.Builder
		jsonPretty(&b, v, "")
		return types.DText(b.String()), nil
	}})
	// jsonb_set(target, path, new_value [, create_if_missing])
	Register(&Func{Name: "jsonb_set", Strict: true, Resolve: func(args []types.T) (types.T, []types.T, bool) {
		switch len(args) {
		case 3:
			return types.TJSONB, []types.T{types.TJSONB, types.TTextArray, types.TJSONB}, true
		case 4:
			return types.TJSONB, []types.T{types.TJSONB, types.TTextArray, types.TJSONB, tBool}, true
		}
		return types.T{}, nil, false
	}, Row: func(_ *Ctx, a []types.Datum, _ []types.T, _ types.T) (types.Datum, error) {
		v, path, err := jsonAndList(a)
		if err != nil {
			return types.Datum{}, err
		}
		nv, err := DecodeJSON(a[2].S)
		if err != nil {
			return types.Datum{}, err
		}
		create := len(a) < 4 || a[3].I != 0
		if _, scalar := v.(map[string]any); !scalar {
			if _, arr := v.([]any); !arr {
				return types.Datum{}, sqlerr.New(sqlerr.InvalidParameterValue, "cannot set path in scalar")
			}
		}
		r, err := jsonSet(v, path, nv, create)
		if err != nil {
			return types.Datum{}, err
		}
		return jsonDatum(r), nil
	}})
}
