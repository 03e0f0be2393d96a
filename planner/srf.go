package planner

import (
	"strconv"
	"strings"

	"github.com/pingcap/tidb/pkg/parser/ast"
	"github.com/streamsql/streamsql/engine/exec"
	"github.com/streamsql/streamsql/engine/expr"
	"github.com/streamsql/streamsql/sqlerr"
	"github.com/streamsql/streamsql/types"
)

// Set-returning functions: generate_series, unnest and generate_subscripts,
// in FROM (TableFuncNode) or in a select list (ProjectSetNode).

func isSRF(name string) bool {
	switch name {
	case "generate_series", "unnest", "generate_subscripts", "_pg_expandarray", "regexp_split_to_table", "pg_options_to_table":
		return true
	}
	return jsonSRFs[name]
}

// jsonSRFs are the set-returning functions over json and jsonb values.
var jsonSRFs = map[string]bool{
	"jsonb_array_elements": true, "jsonb_array_elements_text": true, "jsonb_object_keys": true, "jsonb_each": true, "jsonb_each_text": true,
	"json_array_elements": true, "json_array_elements_text": true, "json_object_keys": true, "json_each": true, "json_each_text": true,
}

// jsonSRFType is what a json set-returning function returns per row.
func jsonSRFType(name string) types.T {
	value := types.TJSONB
	if strings.HasPrefix(name, "json_") {
		value = types.TJSON
	}
	switch {
	case strings.HasSuffix(name, "_text") && strings.Contains(name, "_each"):
		return types.RecordOf(types.Field{Name: "key", Type: types.TText}, types.Field{Name: "value", Type: types.TText})
	case strings.Contains(name, "_each"):
		return types.RecordOf(types.Field{Name: "key", Type: types.TText}, types.Field{Name: "value", Type: value})
	case strings.HasSuffix(name, "_text"), strings.HasSuffix(name, "_keys"):
		return types.TText
	}
	return value
}

// srfOutName is the name of a set-returning function's one OUT parameter,
// which names its column in FROM whatever the alias ("" when it has none).
func srfOutName(name string) string {
	if jsonSRFs[name] && strings.Contains(name, "_array_elements") {
		return "value"
	}
	return ""
}

// expandArrayType is the record _pg_expandarray returns for arrays of t:
// (x element, n position).
func expandArrayType(t types.T) types.T {
	return types.RecordOf(types.Field{Name: "x", Type: t.ElemType()}, types.Field{Name: "n", Type: types.TInt32})
}

// optionsType is what pg_options_to_table returns for each option.
var optionsType = types.RecordOf(types.Field{Name: "option_name", Type: types.TText}, types.Field{Name: "option_value", Type: types.TText})

// bindSRF types a set-returning function's arguments and result.
func (b *binder) bindSRF(name string, bound []expr.Expr) (types.T, []expr.Expr, error) {
	var err error
	switch name {
	case "generate_series":
		if len(bound) < 2 || len(bound) > 3 {
			return types.T{}, nil, sqlerr.New(sqlerr.UndefinedFunction, "function generate_series(%s) does not exist", argTypes(bound))
		}
		t := types.TInt64
		allInt := true
		for _, e := range bound[:2] {
			if !e.Type().Kind.IsInteger() && e.Type().Kind != types.Unknown {
				allInt = false
			}
		}
		if allInt && bound[0].Type().Kind == types.Int32 && bound[1].Type().Kind == types.Int32 {
			t = types.TInt32
		}
		if !allInt {
			t = bound[0].Type()
			if t.Kind == types.Unknown {
				t = types.TTimestampTZ
			}
		}
		for i := range bound[:2] {
			if bound[i], err = b.coerce(bound[i], t); err != nil {
				return types.T{}, nil, err
			}
		}
		if len(bound) == 3 {
			step := types.TInt64
			if !allInt {
				step = types.TInterval
			}
			if bound[2], err = b.coerce(bound[2], step); err != nil {
				return types.T{}, nil, err
			}
		}
		return t, bound, nil
	case "jsonb_array_elements", "jsonb_array_elements_text", "jsonb_object_keys", "jsonb_each", "jsonb_each_text",
		"json_array_elements", "json_array_elements_text", "json_object_keys", "json_each", "json_each_text":
		if len(bound) != 1 {
			return types.T{}, nil, sqlerr.New(sqlerr.UndefinedFunction, "function %s(%s) does not exist", name, argTypes(bound))
		}
		if bound[0], err = b.coerce(bound[0], types.TJSONB); err != nil {
			return types.T{}, nil, sqlerr.New(sqlerr.UndefinedFunction, "function %s(%s) does not exist", name, argTypes(bound))
		}
		return jsonSRFType(name), bound, nil
	case "_pg_expandarray":
		// information_schema._pg_expandarray(a): each element with its position
		if len(bound) != 1 || bound[0].Type().Kind != types.Array {
			return types.T{}, nil, sqlerr.New(sqlerr.UndefinedFunction, "function _pg_expandarray(%s) does not exist", argTypes(bound))
		}
		return expandArrayType(bound[0].Type()), bound, nil
	case "regexp_split_to_table":
		if len(bound) < 2 || len(bound) > 3 {
			return types.T{}, nil, sqlerr.New(sqlerr.UndefinedFunction, "function regexp_split_to_table(%s) does not exist", argTypes(bound))
		}
		for i := range bound {
			if bound[i], err = b.coerce(bound[i], types.TText); err != nil {
				return types.T{}, nil, err
			}
		}
		return types.TText, bound, nil
	case "pg_options_to_table":
		if len(bound) != 1 {
			return types.T{}, nil, sqlerr.New(sqlerr.UndefinedFunction, "function pg_options_to_table(%s) does not exist", argTypes(bound))
		}
		if bound[0], err = b.coerce(bound[0], types.TTextArray); err != nil {
			return types.T{}, nil, err
		}
		return optionsType, bound, nil
	case "unnest", "generate_subscripts":
		if name == "unnest" && len(bound) != 1 {
			return types.T{}, nil, sqlerr.Unsupported("unnest with several arrays is not supported")
		}
		if name == "generate_subscripts" && (len(bound) < 2 || len(bound) > 3) {
			return types.T{}, nil, sqlerr.New(sqlerr.UndefinedFunction, "function generate_subscripts(%s) does not exist", argTypes(bound))
		}
		at := bound[0].Type()
		if at.Kind == types.Unknown {
			at = types.TTextArray
			if bound[0], err = b.coerce(bound[0], at); err != nil {
				return types.T{}, nil, err
			}
		}
		if at.Kind != types.Array {
			return types.T{}, nil, sqlerr.New(sqlerr.UndefinedFunction, "function %s(%s) does not exist", name, at)
		}
		if name == "generate_subscripts" {
			for i := 1; i < len(bound); i++ {
				want := types.TInt32
				if i == 2 {
					want = types.TBool
				}
				if bound[i], err = b.coerce(bound[i], want); err != nil {
					return types.T{}, nil, err
				}
			}
			return types.TInt32, bound, nil
		}
		return at.ElemType(), bound, nil
	}
	return types.T{}, nil, sqlerr.New(sqlerr.UndefinedFunction, "function %s does not exist", name)
}

// newSeries is the operator of generate_series(args) with values of type
// t; nil (an empty set) when an argument is NULL.
func newSeries(ctx *expr.Ctx, t types.T, args []types.Datum) (*exec.Series, error) {
	for _, a := range args {
		if a.Null {
			return nil, nil
		}
	}
	if t.Kind.IsInteger() {
		step := int64(1)
		if len(args) > 2 {
			step = args[2].I
		}
		if step == 0 {
			return nil, sqlerr.New(sqlerr.InvalidParameterValue, "step size cannot equal zero")
		}
		return exec.NewIntSeries(t, args[0].I, args[1].I, step), nil
	}
	if len(args) < 3 {
		return nil, sqlerr.New(sqlerr.UndefinedFunction, "function generate_series(%s, %s) does not exist", t, t)
	}
	step := args[2].Iv
	if step.ApproxMicros() == 0 {
		return nil, sqlerr.New(sqlerr.InvalidParameterValue, "step size cannot equal zero")
	}
	loc := ctx.Loc
	if t.Kind == types.Timestamp {
		loc = nil
	}
	return exec.NewTimeSeries(t, args[0].I, args[1].I, step, step.ApproxMicros() > 0, loc), nil
}

// srfEval computes the values of a set-returning function for one row.
func srfEval(ctx *expr.Ctx, name string, t types.T, argT []types.T, args []types.Datum) ([]types.Datum, error) {
	var out []types.Datum
	for _, a := range args {
		if a.Null {
			return nil, nil
		}
	}
	switch name {
	case "generate_series":
		// in a select list: made whole, a row's set at a time
		series, err := newSeries(ctx, t, args)
		if err != nil || series == nil {
			return nil, err
		}
		defer series.Close()
		for {
			b, err := series.Next(ctx)
			if err != nil || b == nil {
				return out, err
			}
			col := b.Column(0)
			for i := 0; i < col.Len(); i++ {
				out = append(out, types.DatumAt(col, i))
			}
			b.Release()
			if len(out) > 100_000_000 {
				return nil, sqlerr.New(sqlerr.ProgramLimitExceeded, "generate_series result too large in a select list: call it in FROM")
			}
		}
	case "jsonb_array_elements", "jsonb_array_elements_text", "json_array_elements", "json_array_elements_text":
		v, err := expr.DecodeJSON(args[0].S)
		if err != nil {
			return nil, err
		}
		arr, ok := v.([]any)
		if !ok {
			return nil, sqlerr.New(sqlerr.InvalidParameterValue, "cannot extract elements from %s", jsonKind(v))
		}
		text := strings.HasSuffix(name, "_text")
		for _, e := range arr {
			if text {
				out = append(out, expr.JSONText(e))
			} else {
				out = append(out, types.DText(types.JSONText(e)))
			}
		}
		return out, nil
	case "jsonb_object_keys", "json_object_keys", "jsonb_each", "jsonb_each_text", "json_each", "json_each_text":
		v, err := expr.DecodeJSON(args[0].S)
		if err != nil {
			return nil, err
		}
		obj, ok := v.(map[string]any)
		if !ok {
			what := "call " + name + " on"
			return nil, sqlerr.New(sqlerr.InvalidParameterValue, "cannot %s a non-object", what)
		}
		keys := types.JSONKeys(obj)
		for _, k := range keys {
			switch {
			case strings.HasSuffix(name, "_keys"):
				out = append(out, types.DText(k))
			case strings.HasSuffix(name, "_text"):
				k := k
				var vp *string
				if d := expr.JSONText(obj[k]); !d.Null {
					vp = &d.S
				}
				out = append(out, types.DText(types.FormatRecord([]*string{&k, vp})))
			default:
				k := k
				j := types.JSONText(obj[k])
				out = append(out, types.DText(types.FormatRecord([]*string{&k, &j})))
			}
		}
		return out, nil
	case "_pg_expandarray":
		elems, err := types.ParseArray(args[0].S)
		if err != nil {
			return nil, sqlerr.New(sqlerr.InvalidTextRep, "malformed array literal: %q", args[0].S)
		}
		for i, e := range elems {
			n := strconv.Itoa(i + 1)
			out = append(out, types.DText(types.FormatRecord([]*string{e, &n})))
		}
		return out, nil
	case "regexp_split_to_table":
		flags := ""
		if len(args) > 2 {
			flags = args[2].S
		}
		parts, err := expr.RegexpSplit(args[0].S, args[1].S, flags)
		if err != nil {
			return nil, err
		}
		for _, p := range parts {
			out = append(out, types.DText(p))
		}
		return out, nil
	case "pg_options_to_table":
		elems, err := types.ParseArray(args[0].S)
		if err != nil {
			return nil, sqlerr.New(sqlerr.InvalidTextRep, "malformed array literal: %q", args[0].S)
		}
		for _, e := range elems {
			if e == nil {
				continue
			}
			k, v, _ := strings.Cut(*e, "=")
			out = append(out, types.DText(types.FormatRecord([]*string{&k, &v})))
		}
		return out, nil
	case "unnest", "generate_subscripts":
		elems, err := types.ParseArray(args[0].S)
		if err != nil {
			return nil, sqlerr.New(sqlerr.InvalidTextRep, "malformed array literal: %q", args[0].S)
		}
		if name == "generate_subscripts" {
			if args[1].I != 1 || len(elems) == 0 {
				return nil, nil
			}
			lb := int64(1)
			if argT[0].Name == "int2vector" || argT[0].Name == "oidvector" {
				lb = 0
			}
			reverse := len(args) > 2 && args[2].I != 0
			for i := range elems {
				k := int64(i)
				if reverse {
					k = int64(len(elems) - 1 - i)
				}
				out = append(out, types.DInt(lb+k))
			}
			return out, nil
		}
		for _, e := range elems {
			if e == nil {
				out = append(out, types.NullDatum)
				continue
			}
			d, err := types.ParseText(t, *e, ctx.Loc)
			if err != nil {
				return nil, err
			}
			out = append(out, d)
		}
		return out, nil
	}
	return nil, sqlerr.New(sqlerr.UndefinedFunction, "function %s does not exist", name)
}

// selectListSRFs finds set-returning calls that make up whole select
// items, binds them, and returns the ProjectSet node to put under the
// projection (nil when there are none).
func (b *binder) selectListSRFs(fields []*ast.SelectField, node Node, sc *scope) (Node, error) {
	var names []string
	var args [][]expr.Expr
	var cols []Column
	for _, f := range fields {
		if f.Expr == nil {
			continue
		}
		// the set-returning calls of the item, also inside an expression
		// ((_pg_expandarray(a)).n): each is a column of the ProjectSet
		var calls []*ast.FuncCallExpr
		f.Expr.Accept(&srfFinder{found: &calls})
		for _, call := range calls {
			bound, err := b.bindArgs(call.Args, sc)
			if err != nil {
				return nil, err
			}
			t, bound, err := b.bindSRF(call.FnName.L, bound)
			if err != nil {
				return nil, err
			}
			if b.srfCols == nil {
				b.srfCols = map[ast.ExprNode]int{}
			}
			b.srfCols[call] = len(sc.cols) + len(names)
			names = append(names, call.FnName.L)
			args = append(args, bound)
			cols = append(cols, Column{Name: call.FnName.L, Type: t})
		}
	}
	if len(names) == 0 {
		return nil, nil
	}
	all := append(append([]Column{}, sc.cols...), cols...)
	sc.cols = all
	return &ProjectSetNode{In: node, Names: names, Args: args, Cols: all}, nil
}

func buildProjectSet(ctx *expr.Ctx, in exec.Operator, x *ProjectSetNode) exec.Operator {
	fs := make([]exec.SetFunc, len(x.Names))
	base := len(x.Cols) - len(x.Names)
	for i, name := range x.Names {
		name := name
		t := x.Cols[base+i].Type
		argT := make([]types.T, len(x.Args[i]))
		for k, a := range x.Args[i] {
			argT[k] = a.Type()
		}
		fs[i] = exec.SetFunc{Args: x.Args[i], T: t, Eval: func(ctx *expr.Ctx, args []types.Datum) ([]types.Datum, error) {
			return srfEval(ctx, name, t, argT, args)
		}}
	}
	return exec.NewProjectSet(in, fs)
}

// srfFinder collects the set-returning calls of an expression, not
// looking into subqueries (they have select lists of their own).
type srfFinder struct{ found *[]*ast.FuncCallExpr }

func (v *srfFinder) Enter(n ast.Node) (ast.Node, bool) {
	switch x := n.(type) {
	case *ast.SubqueryExpr:
		return n, true
	case *ast.FuncCallExpr:
		if isSRF(x.FnName.L) {
			*v.found = append(*v.found, x)
			return n, true
		}
	}
	return n, false
}

func (v *srfFinder) Leave(n ast.Node) (ast.Node, bool) { return n, true }

func jsonKind(v any) string {
	switch v.(type) {
	case map[string]any:
		return "an object"
	case nil:
		return "a null"
	case string, bool:
		return "a scalar"
	}
	return "a scalar"
}
