package planner

import (
	"strings"

	"github.com/streamsql/streamsql/engine/expr"
)

// Functions are pg_proc rows: streamsql's own at OIDs from firstProcOID
// (by name), and the PostgreSQL internals that catalog queries name by
// their usual OIDs (pgJDBC compares typinput with
// 'pg_catalog.array_in'::regproc).
const firstProcOID = 20000

var wellKnownProcs = map[string]int64{
	"array_in": 750, "array_out": 751, "array_recv": 2400, "array_send": 2401,
	"record_in": 2290, "record_out": 2291, "record_recv": 2402, "record_send": 2403,
	"boolin": 1242, "int2in": 38, "int4in": 42, "int8in": 460, "float4in": 200, "float8in": 214,
	"numeric_in": 1701, "textin": 46, "varcharin": 1046, "bpcharin": 1044, "namein": 34,
	"byteain": 1244, "date_in": 1084, "time_in": 1143, "timestamp_in": 1312, "timestamptz_in": 1150,
	"interval_in": 1160, "jsonb_in": 3806, "json_in": 321, "oidin": 1798, "regclassin": 2218,
	"regtypein": 2220, "regprocin": 44, "int2vectorin": 40, "oidvectorin": 54, "charin": 1245,
}

// procOID is the OID of the function called name (schema stripped).
func procOID(name string) (int64, bool) {
	name = unquote(strings.TrimPrefix(strings.ToLower(strings.TrimSpace(name)), "pg_catalog."))
	if i := strings.IndexByte(name, '('); i >= 0 {
		name = strings.TrimSpace(name[:i]) // regprocedure spelling: f(args)
	}
	if oid, ok := wellKnownProcs[name]; ok {
		return oid, true
	}
	for i, n := range expr.FuncNames() {
		if n == name {
			return int64(firstProcOID + i), true
		}
	}
	return 0, false
}

// procName is the name of the function with OID oid.
func procName(oid int64) (string, bool) {
	for name, o := range wellKnownProcs {
		if o == oid {
			return name, true
		}
	}
	names := expr.FuncNames()
	if i := oid - firstProcOID; i >= 0 && i < int64(len(names)) {
		return names[i], true
	}
	return "", false
}

func unquote(s string) string {
	if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' {
		return strings.ReplaceAll(s[1:len(s)-1], `""`, `"`)
	}
	return s
}
