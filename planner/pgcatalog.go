package planner

import (
	"fmt"
	"sort"
	"strings"

	"github.com/streamsql/streamsql/catalog"
	"github.com/streamsql/streamsql/engine/expr"
	"github.com/streamsql/streamsql/types"
)

// The system catalogs: pg_catalog and information_schema as virtual
// relations computed from the catalog when read, with the columns that
// psql, pgJDBC, SQLAlchemy and BI tools select.

const (
	nsPgCatalog  = 11
	nsPublic     = 2200
	nsInfoSchema = 13000
	ownerOID     = 10
	dbOID        = 16383
	pgClassOID   = 1259
)

type virtualTable struct {
	schema string
	name   string
	oid    uint32
	cols   []catalog.Column
	rows   func(ctx *expr.Ctx, db *DB) ([][]types.Datum, error)
}

var virtualTables []*virtualTable

func lookupVirtualIn(schema, name string) *virtualTable {
	for _, v := range virtualTables {
		if v.schema == schema && v.name == name {
			return v
		}
	}
	return nil
}

func lookupVirtual(name string) *virtualTable {
	if i := strings.IndexByte(name, '.'); i >= 0 {
		return lookupVirtualIn(name[:i], name[i+1:])
	}
	return lookupVirtualIn("pg_catalog", name)
}

// defineVirtual declares a relation from "name type, name type" text.
func defineVirtual(schema, name string, oid uint32, spec string, rows func(ctx *expr.Ctx, db *DB) ([][]types.Datum, error)) {
	v := &virtualTable{schema: schema, name: name, oid: oid, rows: rows}
	for _, part := range strings.Split(spec, ",") {
		f := strings.Fields(strings.TrimSpace(part))
		t, err := types.Parse(strings.Join(f[1:], " "))
		if err != nil {
			panic("planner: bad catalog column " + part)
		}
		v.cols = append(v.cols, catalog.Column{Name: f[0], Type: t})
	}
	if rows == nil {
		v.rows = func(*expr.Ctx, *DB) ([][]types.Datum, error) { return nil, nil }
	}
	virtualTables = append(virtualTables, v)
}

// row converts Go values into datums: ints, strings, bools, nil.
func row(vals ...any) []types.Datum {
	out := make([]types.Datum, len(vals))
	for i, v := range vals {
		switch x := v.(type) {
		case nil:
			out[i] = types.NullDatum
		case int:
			out[i] = types.DInt(int64(x))
		case int64:
			out[i] = types.DInt(x)
		case uint32:
			out[i] = types.DInt(int64(x))
		case int16:
			out[i] = types.DInt(int64(x))
		case int32:
			out[i] = types.DInt(int64(x))
		case float64:
			out[i] = types.DFloat(x)
		case string:
			out[i] = types.DText(x)
		case bool:
			out[i] = types.DBool(x)
		case types.Datum:
			out[i] = x
		default:
			panic("planner: bad catalog value")
		}
	}
	return out
}

// relation is one row source for pg_class and pg_attribute.
type relation struct {
	oid    uint32
	name   string
	ns     int
	nsname string
	kind   string
	cols   []catalog.Column
	pk     []int
	obj    *catalog.Object
}

func relations(db *DB) []relation {
	var out []relation
	for _, o := range db.Catalog.Objects() {
		if !o.IsRelation() {
			continue
		}
		out = append(out, relation{oid: o.OID, name: o.RelName(), ns: db.nsOID(o), nsname: o.Schema(), kind: o.Kind.RelKind(), cols: o.Columns, pk: o.PrimaryKey, obj: o})
	}
	for _, v := range virtualTables {
		ns, kind := nsPgCatalog, "r"
		if v.schema == "information_schema" {
			ns, kind = nsInfoSchema, "v"
		}
		out = append(out, relation{oid: v.oid, name: v.name, ns: ns, nsname: v.schema, kind: kind, cols: v.cols})
	}
	return out
}

func typmodOf(t types.T) int {
	switch {
	case t.Kind == types.Text && t.Mod >= 0:
		return int(t.Mod) + 4
	case t.Kind == types.Numeric && t.Mod >= 0:
		return int(t.Mod) + 4
	}
	return -1
}

// nsOID is the pg_namespace OID of the object's schema.
func (db *DB) nsOID(o *catalog.Object) int {
	if sch := o.Schema(); sch != catalog.Public {
		return int(db.Catalog.SchemaOID(sch))
	}
	return nsPublic
}

// namespaces are pg_namespace's rows: the built-in schemas, then the user's.
func (db *DB) namespaces() [][]types.Datum {
	out := [][]types.Datum{row(nsPgCatalog, "pg_catalog", ownerOID, nil), row(nsPublic, "public", ownerOID, nil), row(nsInfoSchema, "information_schema", ownerOID, nil)}
	for _, n := range db.Catalog.Namespaces() {
		out = append(out, row(n.OID, n.Name, ownerOID, nil))
	}
	return out
}

// namespaceName is the schema with OID oid.
func (db *DB) namespaceName(oid int64) (string, bool) {
	for _, r := range db.namespaces() {
		if r[0].I == oid {
			return r[1].S, true
		}
	}
	return "", false
}

func pkIndexOID(o uint32) uint32 { return o + 1 }

func init() {
	pg := func(name string, oid uint32, spec string, rows func(ctx *expr.Ctx, db *DB) ([][]types.Datum, error)) {
		defineVirtual("pg_catalog", name, oid, spec, rows)
	}
	pg("pg_namespace", 2615, "oid oid, nspname name, nspowner oid, nspacl text[]", func(_ *expr.Ctx, db *DB) ([][]types.Datum, error) {
		return db.namespaces(), nil
	})
	pg("pg_class", pgClassOID, `oid oid, relname name, relnamespace oid, reltype oid, reloftype oid, relowner oid, relam oid,
		relfilenode oid, reltablespace oid, relpages int4, reltuples float4, relallvisible int4, reltoastrelid oid,
		relhasindex bool, relisshared bool, relpersistence "char", relkind "char", relnatts int2, relchecks int2,
		relhasrules bool, relhastriggers bool, relhassubclass bool, relrowsecurity bool, relforcerowsecurity bool,
		relispopulated bool, relreplident "char", relispartition bool, relrewrite oid, relfrozenxid int8,
		relminmxid int8, relacl text[], reloptions text[], relpartbound text`, func(ctx *expr.Ctx, db *DB) ([][]types.Datum, error) {
		var out [][]types.Datum
		for _, r := range relations(db) {
			am := 0
			if r.kind == "r" || r.kind == "m" {
				am = 2
			}
			tuples := -1.0
			if r.obj != nil && r.obj.Kind == catalog.KindTable {
				if t, err := db.Table(r.name); err == nil {
					tuples = float64(t.Len())
				}
			}
			if r.obj != nil && r.obj.Kind == catalog.KindStream {
				if s, err := db.Stream(r.name); err == nil {
					tuples = 0
					for _, st := range s.Stats() {
						tuples += float64(st.Records)
					}
				}
			}
			out = append(out, row(r.oid, r.name, r.ns, r.oid+2, 0, ownerOID, am, r.oid, 0, 0, tuples, 0, 0,
				len(r.pk) > 0, false, "p", r.kind, int16(len(r.cols)), 0, false, false, false, false, false,
				true, "d", false, 0, 0, 0, nil, nil, nil))
			if len(r.pk) > 0 {
				out = append(out, row(pkIndexOID(r.oid), r.name+"_pkey", r.ns, 0, 0, ownerOID, 403, pkIndexOID(r.oid), 0, 0, tuples, 0, 0,
					false, false, "p", "i", int16(len(r.pk)), 0, false, false, false, false, false,
					true, "n", false, 0, 0, 0, nil, nil, nil))
			}
		}
		return out, nil
	})
	pg("pg_attribute", 1249, `attrelid oid, attname name, atttypid oid, attstattarget int4, attlen int2, attnum int2,
		attndims int4, attcacheoff int4, atttypmod int4, attbyval bool, attalign "char", attstorage "char",
		attcompression "char", attnotnull bool, atthasdef bool, atthasmissing bool, attidentity "char",
		attgenerated "char", attisdropped bool, attislocal bool, attinhcount int4, attcollation oid, attacl text[],
		attoptions text[], attfdwoptions text[], attmissingval text`, func(ctx *expr.Ctx, db *DB) ([][]types.Datum, error) {
		var out [][]types.Datum
		for _, r := range relations(db) {
			for i, c := range r.cols {
				coll := 0
				if c.Type.Kind == types.Text {
					coll = 100
				}
				storage := "p"
				if c.Type.Size() < 0 {
					storage = "x"
				}
				out = append(out, row(r.oid, c.Name, c.Type.OID(), -1, c.Type.Size(), int16(i+1), 0, -1, typmodOf(c.Type),
					c.Type.Size() > 0 && c.Type.Size() <= 8, "i", storage, "", c.NotNull, c.Default != "", false, "", "", false, true, 0, coll, nil, nil, nil, nil))
			}
			for k, c := range r.pk {
				col := r.cols[c]
				out = append(out, row(pkIndexOID(r.oid), col.Name, col.Type.OID(), -1, col.Type.Size(), int16(k+1), 0, -1, typmodOf(col.Type),
					false, "i", "p", "", false, false, false, "", "", false, true, 0, 0, nil, nil, nil, nil))
			}
		}
		return out, nil
	})
	pg("pg_type", 1247, `oid oid, typname name, typnamespace oid, typowner oid, typlen int2, typbyval bool, typtype "char",
		typcategory "char", typispreferred bool, typisdefined bool, typdelim "char", typrelid oid, typsubscript regproc,
		typelem oid, typarray oid, typinput regproc, typoutput regproc, typreceive regproc, typsend regproc,
		typmodin regproc, typmodout regproc, typanalyze regproc, typalign "char", typstorage "char", typnotnull bool,
		typbasetype oid, typtypmod int4, typndims int4, typcollation oid, typdefaultbin text, typdefault text, typacl text[]`,
		func(ctx *expr.Ctx, db *DB) ([][]types.Datum, error) {
			var out [][]types.Datum
			for _, t := range types.BuiltinTypes() {
				elem, arr := 0, 0
				cat := "U"
				in, outf, recv, send := 0, 0, 0, 0
				switch {
				case t.Kind == types.Array:
					elem = int(t.ElemType().OID())
					cat = "A"
					in, outf, recv, send = 750, 751, 2400, 2401 // array_in, array_out, array_recv, array_send
				default:
					arr = int(types.ArrayOf(t).OID())
					cat = typeCategory(t)
				}
				coll := 0
				if t.Kind == types.Text {
					coll = 100
				}
				out = append(out, row(t.OID(), t.TypName(), nsPgCatalog, ownerOID, t.Size(), t.Size() > 0 && t.Size() <= 8, "b",
					cat, false, true, ",", 0, 0, elem, arr, in, outf, recv, send, 0, 0, 0, "i", "p", false, 0, -1, 0, coll, nil, nil, nil))
			}
			for _, r := range relations(db) {
				if r.obj == nil {
					continue
				}
				out = append(out, row(r.oid+2, r.name, r.ns, ownerOID, -1, false, "c", "C", false, true, ",", r.oid, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, "d", "x", false, 0, -1, 0, 0, nil, nil, nil))
			}
			return out, nil
		})
	pg("pg_am", 2601, `oid oid, amname name, amhandler regproc, amtype "char"`, func(*expr.Ctx, *DB) ([][]types.Datum, error) {
		return [][]types.Datum{row(2, "heap", 0, "t"), row(403, "btree", 0, "i")}, nil
	})
	pg("pg_database", 1262, `oid oid, datname name, datdba oid, encoding int4, datlocprovider "char", datistemplate bool,
		datallowconn bool, datconnlimit int4, datfrozenxid int8, datminmxid int8, dattablespace oid, datcollate text,
		datctype text, daticulocale text, datcollversion text, datacl text[]`, func(ctx *expr.Ctx, db *DB) ([][]types.Datum, error) {
		name := "streamsql"
		if ctx.Session != nil {
			name = ctx.Session.Database()
		}
		return [][]types.Datum{row(dbOID, name, ownerOID, 6, "c", false, true, -1, 0, 0, 1663, "C", "C", nil, nil, nil)}, nil
	})
	pg("pg_proc", 1255, `oid oid, proname name, pronamespace oid, proowner oid, prolang oid, procost float4, prorows float4,
		provariadic oid, prosupport regproc, prokind "char", prosecdef bool, proleakproof bool, proisstrict bool,
		proretset bool, provolatile "char", proparallel "char", pronargs int2, pronargdefaults int2, prorettype oid,
		proargtypes oidvector, proallargtypes oid[], proargmodes text[], proargnames text[], proargdefaults text,
		protrftypes oid[], prosrc text, probin text, prosqlbody text, proconfig text[], proacl text[]`,
		func(*expr.Ctx, *DB) ([][]types.Datum, error) {
			var out [][]types.Datum
			for i, name := range expr.FuncNames() {
				out = append(out, row(firstProcOID+i, name, nsPgCatalog, ownerOID, 12, 1.0, 0.0, 0, 0, "f", false, false, true, false, "i", "s", 0, 0, 25, "{}", nil, nil, nil, nil, nil, name, nil, nil, nil, nil))
			}
			for i, name := range []string{"count", "sum", "avg", "min", "max", "bool_and", "bool_or", "string_agg", "array_agg", "stddev", "variance"} {
				out = append(out, row(21000+i, name, nsPgCatalog, ownerOID, 12, 1.0, 0.0, 0, 0, "a", false, false, false, false, "i", "s", 1, 0, 25, "{}", nil, nil, nil, nil, nil, name, nil, nil, nil, nil))
			}
			return out, nil
		})
	roles := func(ctx *expr.Ctx) []string {
		names := []string{expr.OwnerName}
		if ctx.Session != nil && ctx.Session.User() != expr.OwnerName {
			names = append(names, ctx.Session.User())
		}
		return names
	}
	pg("pg_roles", 1260, `rolname name, rolsuper bool, rolinherit bool, rolcreaterole bool, rolcreatedb bool, rolcanlogin bool,
		rolreplication bool, rolconnlimit int4, rolpassword text, rolvaliduntil timestamptz, rolbypassrls bool,
		rolconfig text[], oid oid`, func(ctx *expr.Ctx, db *DB) ([][]types.Datum, error) {
		var out [][]types.Datum
		for i, n := range roles(ctx) {
			out = append(out, row(n, true, true, true, true, true, false, -1, "********", nil, false, nil, ownerOID+i))
		}
		return out, nil
	})
	pg("pg_authid", 1261, `oid oid, rolname name, rolsuper bool, rolinherit bool, rolcreaterole bool, rolcreatedb bool,
		rolcanlogin bool, rolreplication bool, rolbypassrls bool, rolconnlimit int4, rolpassword text, rolvaliduntil timestamptz`,
		func(ctx *expr.Ctx, db *DB) ([][]types.Datum, error) {
			var out [][]types.Datum
			for i, n := range roles(ctx) {
				out = append(out, row(ownerOID+i, n, true, true, true, true, true, false, false, -1, nil, nil))
			}
			return out, nil
		})
	pg("pg_user", 12001, `usename name, usesysid oid, usecreatedb bool, usesuper bool, userepl bool, usebypassrls bool,
		passwd text, valuntil timestamptz, useconfig text[]`, func(ctx *expr.Ctx, db *DB) ([][]types.Datum, error) {
		var out [][]types.Datum
		for i, n := range roles(ctx) {
			out = append(out, row(n, ownerOID+i, true, true, false, false, "********", nil, nil))
		}
		return out, nil
	})
	pg("pg_auth_members", 1261+100, "roleid oid, member oid, grantor oid, admin_option bool", nil)
	pg("pg_description", 2609, "objoid oid, classoid oid, objsubid int4, description text", nil)
	pg("pg_shdescription", 2396, "objoid oid, classoid oid, description text", nil)
	pg("pg_attrdef", 2604, "oid oid, adrelid oid, adnum int2, adbin text", func(ctx *expr.Ctx, db *DB) ([][]types.Datum, error) {
		var out [][]types.Datum
		for _, o := range db.Catalog.Objects() {
			for i, c := range o.Columns {
				if c.Default != "" {
					out = append(out, row(int(o.OID)*100+i, o.OID, int16(i+1), c.Default))
				}
			}
		}
		return out, nil
	})
	pg("pg_index", 2610, `indexrelid oid, indrelid oid, indnatts int2, indnkeyatts int2, indisunique bool, indisprimary bool,
		indisexclusion bool, indimmediate bool, indisclustered bool, indisvalid bool, indcheckxmin bool, indisready bool,
		indislive bool, indisreplident bool, indkey int2vector, indcollation oidvector, indclass oidvector,
		indoption int2vector, indexprs text, indpred text`, func(ctx *expr.Ctx, db *DB) ([][]types.Datum, error) {
		var out [][]types.Datum
		for _, o := range db.Catalog.Objects() {
			if len(o.PrimaryKey) == 0 {
				continue
			}
			keys := make([]*string, len(o.PrimaryKey))
			zeros := make([]*string, len(o.PrimaryKey))
			for i, k := range o.PrimaryKey {
				s := itoa(k + 1)
				z := "0"
				keys[i], zeros[i] = &s, &z
			}
			out = append(out, row(pkIndexOID(o.OID), o.OID, int16(len(keys)), int16(len(keys)), true, true, false, true, false, true, false, true, true, false,
				types.FormatArray(keys), types.FormatArray(zeros), types.FormatArray(zeros), types.FormatArray(zeros), nil, nil))
		}
		return out, nil
	})
	pg("pg_constraint", 2606, `oid oid, conname name, connamespace oid, contype "char", condeferrable bool, condeferred bool,
		convalidated bool, conrelid oid, contypid oid, conindid oid, conparentid oid, confrelid oid, confupdtype "char",
		confdeltype "char", confmatchtype "char", conislocal bool, coninhcount int4, connoinherit bool, conkey int2[],
		confkey int2[], conpfeqop oid[], conppeqop oid[], conffeqop oid[], conexclop oid[], conbin text`,
		func(ctx *expr.Ctx, db *DB) ([][]types.Datum, error) {
			var out [][]types.Datum
			for _, o := range db.Catalog.Objects() {
				if len(o.PrimaryKey) == 0 {
					continue
				}
				keys := make([]*string, len(o.PrimaryKey))
				for i, k := range o.PrimaryKey {
					s := itoa(k + 1)
					keys[i] = &s
				}
				out = append(out, row(o.OID+2, o.RelName()+"_pkey", db.nsOID(o), "p", false, false, true, o.OID, 0, pkIndexOID(o.OID), 0, 0, " ", " ", " ", true, 0, true,
					types.FormatArray(keys), nil, nil, nil, nil, nil, nil))
			}
			return out, nil
		})
	pg("pg_extension", 3079, `oid oid, extname name, extowner oid, extnamespace oid, extrelocatable bool, extversion text,
		extconfig oid[], extcondition text[]`, func(*expr.Ctx, *DB) ([][]types.Datum, error) {
		return [][]types.Datum{row(13500, "plpgsql", ownerOID, nsPgCatalog, false, "1.0", nil, nil)}, nil
	})
	pg("pg_collation", 3456, `oid oid, collname name, collnamespace oid, collowner oid, collprovider "char",
		collisdeterministic bool, collencoding int4, collcollate text, collctype text, colliculocale text, collversion text`,
		func(*expr.Ctx, *DB) ([][]types.Datum, error) {
			return [][]types.Datum{row(100, "default", nsPgCatalog, ownerOID, "d", true, -1, nil, nil, nil, nil), row(950, "C", nsPgCatalog, ownerOID, "c", true, -1, "C", "C", nil, nil)}, nil
		})
	pg("pg_policy", 3256, `oid oid, polname name, polrelid oid, polcmd "char", polpermissive bool, polroles oid[], polqual text, polwithcheck text`, nil)
	pg("pg_statistic_ext", 3381, `oid oid, stxrelid oid, stxname name, stxnamespace oid, stxowner oid, stxstattarget int4,
		stxkeys int2vector, stxkind "char"[], stxexprs text`, nil)
	pg("pg_publication", 6104, `oid oid, pubname name, pubowner oid, puballtables bool, pubinsert bool, pubupdate bool, pubdelete bool, pubtruncate bool, pubviaroot bool`, nil)
	pg("pg_publication_namespace", 6237, "oid oid, pnpubid oid, pnnspid oid", nil)
	pg("pg_publication_rel", 6106, "oid oid, prpubid oid, prrelid oid, prqual text, prattrs int2vector", nil)
	pg("pg_inherits", 2611, "inhrelid oid, inhparent oid, inhseqno int4, inhdetachpending bool", nil)
	pg("pg_sequence", 2224, "seqrelid oid, seqtypid oid, seqstart int8, seqincrement int8, seqmax int8, seqmin int8, seqcache int8, seqcycle bool", nil)
	pg("pg_enum", 3501, "oid oid, enumtypid oid, enumsortorder float4, enumlabel name", nil)
	pg("pg_range", 3541, "rngtypid oid, rngsubtype oid, rngmultitypid oid, rngcollation oid, rngsubopc oid, rngcanonical regproc, rngsubdiff regproc", nil)
	pg("pg_trigger", 2620, `oid oid, tgrelid oid, tgparentid oid, tgname name, tgfoid oid, tgtype int2, tgenabled "char", tgisinternal bool, tgconstraint oid`, nil)
	pg("pg_rewrite", 2618, `oid oid, rulename name, ev_class oid, ev_type "char", ev_enabled "char", is_instead bool, ev_qual text, ev_action text`, nil)
	pg("pg_depend", 2608, `classid oid, objid oid, objsubid int4, refclassid oid, refobjid oid, refobjsubid int4, deptype "char"`, nil)
	pg("pg_tablespace", 1213, "oid oid, spcname name, spcowner oid, spcacl text[], spcoptions text[]", func(*expr.Ctx, *DB) ([][]types.Datum, error) {
		return [][]types.Datum{row(1663, "pg_default", ownerOID, nil, nil)}, nil
	})
	// sources show as foreign tables (relkind f) of a foreign server named
	// after their connector, with their WITH options as the table's options
	pg("pg_foreign_table", 3118, "ftrelid oid, ftserver oid, ftoptions text[]", func(ctx *expr.Ctx, db *DB) ([][]types.Datum, error) {
		var out [][]types.Datum
		for _, o := range db.Catalog.Objects() {
			if o.Kind != catalog.KindSource {
				continue
			}
			keys := make([]string, 0, len(o.Options))
			for k := range o.Options {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			opts := make([]*string, len(keys))
			for i, k := range keys {
				kv := k + "=" + o.Options[k]
				opts[i] = &kv
			}
			out = append(out, row(o.OID, foreignServerOID(o.Options["connector"]), types.FormatArray(opts)))
		}
		return out, nil
	})
	pg("pg_foreign_server", 1417, "oid oid, srvname name, srvowner oid, srvfdw oid, srvtype text, srvversion text, srvacl text[], srvoptions text[]", func(ctx *expr.Ctx, db *DB) ([][]types.Datum, error) {
		var out [][]types.Datum
		seen := map[string]bool{}
		for _, o := range db.Catalog.Objects() {
			if c := o.Options["connector"]; o.Kind == catalog.KindSource && !seen[c] {
				seen[c] = true
				out = append(out, row(foreignServerOID(c), c, ownerOID, foreignWrapperOID, nil, nil, nil, nil))
			}
		}
		return out, nil
	})
	pg("pg_foreign_data_wrapper", 2328, "oid oid, fdwname name, fdwowner oid, fdwhandler oid, fdwvalidator oid, fdwacl text[], fdwoptions text[]", func(*expr.Ctx, *DB) ([][]types.Datum, error) {
		return [][]types.Datum{row(foreignWrapperOID, "streamsql", ownerOID, 0, 0, nil, nil)}, nil
	})
	pg("pg_partitioned_table", 3350, `partrelid oid, partstrat "char", partnatts int2`, nil)
	pg("pg_event_trigger", 3466, `oid oid, evtname name, evtevent name, evtowner oid, evtfoid oid, evtenabled "char"`, nil)
	pg("pg_cast", 2605, `oid oid, castsource oid, casttarget oid, castfunc oid, castcontext "char", castmethod "char"`, nil)
	pg("pg_operator", 2617, `oid oid, oprname name, oprnamespace oid, oprowner oid, oprkind "char", oprleft oid, oprright oid, oprresult oid`, nil)
	pg("pg_language", 2612, "oid oid, lanname name, lanowner oid, lanispl bool, lanpltrusted bool", func(*expr.Ctx, *DB) ([][]types.Datum, error) {
		return [][]types.Datum{row(12, "internal", ownerOID, false, false), row(14, "sql", ownerOID, false, true)}, nil
	})
	pg("pg_settings", 12002, "name text, setting text, unit text, category text, short_desc text, context text, vartype text, source text", func(ctx *expr.Ctx, db *DB) ([][]types.Datum, error) {
		var out [][]types.Datum
		seen := map[string]bool{}
		if s, ok := ctx.Session.(*Session); ok {
			for _, n := range s.SettingNames() {
				v, _ := s.Setting(n)
				out = append(out, row(n, v, nil, "streamsql", "", "user", "string", "session"))
				seen[n] = true
			}
		}
		// the server's fixed limits, which drivers read (pgJDBC: max_index_keys)
		for _, st := range serverSettings {
			if !seen[st[0]] {
				out = append(out, row(st[0], st[1], nilIfEmpty(st[2]), "Preset Options", "", "internal", "integer", "default"))
			}
		}
		sortRows(out)
		return out, nil
	})
	pg("pg_stat_user_tables", 12021, `relid oid, schemaname name, relname name, seq_scan int8, seq_tup_read int8, idx_scan int8,
		idx_tup_fetch int8, n_tup_ins int8, n_tup_upd int8, n_tup_del int8, n_tup_hot_upd int8, n_live_tup int8, n_dead_tup int8,
		n_mod_since_analyze int8, n_ins_since_vacuum int8, last_vacuum timestamptz, last_autovacuum timestamptz,
		last_analyze timestamptz, last_autoanalyze timestamptz, vacuum_count int8, autovacuum_count int8, analyze_count int8,
		autoanalyze_count int8`, func(ctx *expr.Ctx, db *DB) ([][]types.Datum, error) {
		var out [][]types.Datum
		for _, o := range db.Catalog.Objects() {
			n, ok := db.liveRows(o)
			if !ok {
				continue
			}
			out = append(out, row(o.OID, o.Schema(), o.RelName(), 0, 0, nil, nil, n, 0, 0, 0, n, 0, 0, 0, nil, nil, nil, nil, 0, 0, 0, 0))
		}
		return out, nil
	})
	pg("pg_cursors", 12020, "name text, statement text, is_holdable bool, is_binary bool, is_scrollable bool, creation_time timestamptz", func(ctx *expr.Ctx, db *DB) ([][]types.Datum, error) {
		var out [][]types.Datum
		if s, ok := ctx.Session.(*Session); ok {
			for _, c := range s.Cursors() {
				out = append(out, row(c.name, c.statement, c.holdable, c.binary, c.scrollable, types.DInt(c.created)))
			}
		}
		sortRows(out)
		return out, nil
	})
	pg("pg_tables", 12003, "schemaname name, tablename name, tableowner name, tablespace name, hasindexes bool, hasrules bool, hastriggers bool, rowsecurity bool",
		func(ctx *expr.Ctx, db *DB) ([][]types.Datum, error) {
			var out [][]types.Datum
			for _, r := range relations(db) {
				if r.kind == "r" {
					out = append(out, row(r.nsname, r.name, expr.OwnerName, nil, len(r.pk) > 0, false, false, false))
				}
			}
			return out, nil
		})
	pg("pg_views", 12004, "schemaname name, viewname name, viewowner name, definition text", func(ctx *expr.Ctx, db *DB) ([][]types.Datum, error) {
		var out [][]types.Datum
		for _, o := range db.Catalog.Objects() {
			if o.Kind == catalog.KindView {
				out = append(out, row(o.Schema(), o.RelName(), expr.OwnerName, o.Query))
			}
		}
		return out, nil
	})
	pg("pg_matviews", 12005, "schemaname name, matviewname name, matviewowner name, tablespace name, hasindexes bool, ispopulated bool, definition text",
		func(ctx *expr.Ctx, db *DB) ([][]types.Datum, error) {
			var out [][]types.Datum
			for _, o := range db.Catalog.Objects() {
				if o.Kind == catalog.KindMaterializedView {
					out = append(out, row(o.Schema(), o.RelName(), expr.OwnerName, nil, false, true, o.Query))
				}
			}
			return out, nil
		})
	pg("streamsql_shards", 12010, `stream name, shard int4, parent_shard int4, records int8, bytes int8, segments int4,
		oldest_seq int8, next_seq int8, recovered_skipped_bytes int8, recovered_cut_bytes int8, lost_records int8, lost_seqs text`, func(ctx *expr.Ctx, db *DB) ([][]types.Datum, error) {
		var out [][]types.Datum
		for _, o := range db.Catalog.Objects() {
			if o.Kind != catalog.KindStream {
				continue
			}
			s, err := db.Stream(o.Name)
			if err != nil {
				continue
			}
			for _, st := range s.Stats() {
				var parent any
				if st.Parent >= 0 {
					parent = st.Parent
				}
				var lost any
				if st.LostRanges != "" {
					lost = st.LostRanges
				}
				out = append(out, row(o.Name, st.ID, parent, st.Records, st.Bytes, st.Segments, int64(st.Oldest), int64(st.Next), st.RecoveredSkipped, st.RecoveredCut, st.Lost, lost))
			}
		}
		return out, nil
	})
	pg("streamsql_views", 12011, `view name, incremental bool, emit text, groups int8, late_rows int8, watermark timestamptz,
		subscribers int4, subscriber_lag int8, state text, caught_up bool, catchup_read int8, catchup_total int8,
		errors int8, last_error text, subscriber_log_bytes int8`, func(ctx *expr.Ctx, db *DB) ([][]types.Datum, error) {
		var out [][]types.Datum
		for _, o := range db.Catalog.Objects() {
			if o.Kind != catalog.KindMaterializedView {
				continue
			}
			emit := "on update"
			if o.Options["emit"] != "" {
				emit = o.Options["emit"]
			}
			v := db.view(o.Name)
			if v == nil {
				out = append(out, row(o.Name, false, emit, nil, nil, nil, nil, nil, "computed when read", true, nil, nil, nil, nil, nil))
				continue
			}
			j := v.Job()
			st, subs := j.Stats(), v.Subscribers()
			var wm any
			if st.HasWM {
				wm = st.Watermark
			}
			state := "running"
			caughtUp := j.CaughtUp()
			switch err := j.Err(); {
			case err != nil:
				state = "failed: " + err.Error()
			case !caughtUp:
				state = "catching up"
			}
			read, total := j.Catchup()
			errs, last := db.errorStats(o.Name)
			out = append(out, row(o.Name, true, emit, int64(st.Groups), st.Late, wm, int32(subs.Subscribers), subs.Lag,
				state, caughtUp, read, total, errs, last, subs.LogBytes))
		}
		return out, nil
	})
	pg("streamsql_checkpoints", 12016, `name name, kind text, checkpoint_id int8, taken_at timestamptz, duration_ms float8, bytes_written int8,
		full_checkpoint bool, state_bytes int8, state_rows int8, failures int8, last_error text, restored_from int8, restore_note text`,
		func(ctx *expr.Ctx, db *DB) ([][]types.Datum, error) { return db.checkpointRows(), nil })
	pg("streamsql_sinks", 12012, "sink name, connector text, running bool, changes int8, net_rows int8, checksum text", func(ctx *expr.Ctx, db *DB) ([][]types.Datum, error) {
		var out [][]types.Datum
		for _, o := range db.Catalog.Objects() {
			if o.Kind != catalog.KindSink {
				continue
			}
			b := db.sink(o.Name)
			if b == nil {
				out = append(out, row(o.Name, o.Options["connector"], false, nil, nil, nil))
				continue
			}
			st := b.Stats()
			out = append(out, row(o.Name, o.Options["connector"], true, st.Changes, st.Rows, fmt.Sprintf("%016x", st.Checksum)))
		}
		return out, nil
	})
	pg("pg_stat_activity", 12006, "datid oid, datname name, pid int4, usename name, application_name text, client_addr text, backend_start timestamptz, state text, query text",
		func(ctx *expr.Ctx, db *DB) ([][]types.Datum, error) { return db.activityRows(), nil })
	pg("pg_locks", 12007, "locktype text, database oid, relation oid, pid int4, mode text, granted bool", nil)

	is := func(name string, oid uint32, spec string, rows func(ctx *expr.Ctx, db *DB) ([][]types.Datum, error)) {
		defineVirtual("information_schema", name, oid, spec, rows)
	}
	is("schemata", 13100, "catalog_name name, schema_name name, schema_owner name, default_character_set_catalog name, default_character_set_schema name, default_character_set_name name, sql_path text",
		func(ctx *expr.Ctx, db *DB) ([][]types.Datum, error) {
			var out [][]types.Datum
			for _, n := range db.namespaces() {
				out = append(out, row(dbName(ctx), n[1].S, expr.OwnerName, nil, nil, nil, nil))
			}
			return out, nil
		})
	is("tables", 13101, `table_catalog name, table_schema name, table_name name, table_type text, self_referencing_column_name name,
		reference_generation text, user_defined_type_catalog name, user_defined_type_schema name, user_defined_type_name name,
		is_insertable_into text, is_typed text, commit_action text`, func(ctx *expr.Ctx, db *DB) ([][]types.Datum, error) {
		var out [][]types.Datum
		for _, r := range relations(db) {
			if r.kind == "S" {
				continue // sequences are in information_schema.sequences
			}
			tt := "BASE TABLE"
			switch r.kind {
			case "v", "m":
				tt = "VIEW"
			case "f":
				tt = "FOREIGN"
			}
			ins := "YES"
			if r.kind != "r" {
				ins = "NO"
			}
			out = append(out, row(dbName(ctx), r.nsname, r.name, tt, nil, nil, nil, nil, nil, ins, "NO", nil))
		}
		return out, nil
	})
	is("columns", 13102, `table_catalog name, table_schema name, table_name name, column_name name, ordinal_position int4,
		column_default text, is_nullable text, data_type text, character_maximum_length int4, character_octet_length int4,
		numeric_precision int4, numeric_precision_radix int4, numeric_scale int4, datetime_precision int4,
		interval_type text, udt_catalog name, udt_schema name, udt_name name, is_identity text, is_generated text, is_updatable text`,
		func(ctx *expr.Ctx, db *DB) ([][]types.Datum, error) {
			var out [][]types.Datum
			for _, r := range relations(db) {
				for i, c := range r.cols {
					var maxLen, prec, radix, scale, dtPrec any
					if c.Type.Kind == types.Text && c.Type.Mod >= 0 {
						maxLen = int(c.Type.Mod)
					}
					switch c.Type.Kind {
					case types.Int16:
						prec, radix, scale = 16, 2, 0
					case types.Int32:
						prec, radix, scale = 32, 2, 0
					case types.Int64:
						prec, radix, scale = 64, 2, 0
					case types.Float32:
						prec, radix = 24, 2
					case types.Float64:
						prec, radix = 53, 2
					case types.Numeric:
						radix = 10
						if p, s, ok := c.Type.NumericPS(); ok {
							prec, scale = p, s
						}
					case types.Timestamp, types.TimestampTZ, types.Time, types.Interval:
						dtPrec = 6
					case types.Date:
						dtPrec = 0
					}
					dt := c.Type.String()
					if c.Type.Kind == types.Array {
						dt = "ARRAY"
					} else if i := strings.IndexByte(dt, '('); i > 0 {
						dt = dt[:i]
					}
					var def any
					if c.Default != "" {
						def = c.Default
					}
					nullable := "YES"
					if c.NotNull {
						nullable = "NO"
					}
					out = append(out, row(dbName(ctx), r.nsname, r.name, c.Name, i+1, def, nullable, dt, maxLen, nil, prec, radix, scale, dtPrec,
						nil, dbName(ctx), "pg_catalog", c.Type.TypName(), "NO", "NEVER", map[bool]string{true: "YES", false: "NO"}[r.kind == "r"]))
				}
			}
			return out, nil
		})
	is("views", 13103, "table_catalog name, table_schema name, table_name name, view_definition text, check_option text, is_updatable text, is_insertable_into text",
		func(ctx *expr.Ctx, db *DB) ([][]types.Datum, error) {
			var out [][]types.Datum
			for _, o := range db.Catalog.Objects() {
				if o.Kind == catalog.KindView || o.Kind == catalog.KindMaterializedView {
					out = append(out, row(dbName(ctx), o.Schema(), o.RelName(), o.Query, "NONE", "NO", "NO"))
				}
			}
			return out, nil
		})
	is("table_constraints", 13104, "constraint_catalog name, constraint_schema name, constraint_name name, table_catalog name, table_schema name, table_name name, constraint_type text, is_deferrable text, initially_deferred text",
		func(ctx *expr.Ctx, db *DB) ([][]types.Datum, error) {
			var out [][]types.Datum
			for _, o := range db.Catalog.Objects() {
				if len(o.PrimaryKey) > 0 {
					out = append(out, row(dbName(ctx), o.Schema(), o.RelName()+"_pkey", dbName(ctx), o.Schema(), o.RelName(), "PRIMARY KEY", "NO", "NO"))
				}
			}
			return out, nil
		})
	is("key_column_usage", 13105, "constraint_catalog name, constraint_schema name, constraint_name name, table_catalog name, table_schema name, table_name name, column_name name, ordinal_position int4",
		func(ctx *expr.Ctx, db *DB) ([][]types.Datum, error) {
			var out [][]types.Datum
			for _, o := range db.Catalog.Objects() {
				for i, k := range o.PrimaryKey {
					out = append(out, row(dbName(ctx), o.Schema(), o.RelName()+"_pkey", dbName(ctx), o.Schema(), o.RelName(), o.Columns[k].Name, i+1))
				}
			}
			return out, nil
		})
	sort.Slice(virtualTables, func(i, j int) bool { return virtualTables[i].oid < virtualTables[j].oid })
}

func dbName(ctx *expr.Ctx) string {
	if ctx.Session != nil {
		return ctx.Session.Database()
	}
	return "streamsql"
}

func typeCategory(t types.T) string {
	switch t.Kind {
	case types.Bool:
		return "B"
	case types.Int16, types.Int32, types.Int64, types.Float32, types.Float64, types.Numeric, types.Oid:
		return "N"
	case types.Text:
		return "S"
	case types.Date, types.Timestamp, types.TimestampTZ, types.Time:
		return "D"
	case types.Interval:
		return "T"
	}
	return "U"
}

func itoa(i int) string {
	if i < 0 {
		return "-" + itoa(-i)
	}
	if i < 10 {
		return string(rune('0' + i))
	}
	return itoa(i/10) + string(rune('0'+i%10))
}

// serverSettings are the server's preset options: name, value, unit.
var serverSettings = [][3]string{
	{"block_size", "8192", ""}, {"max_index_keys", "32", ""}, {"max_function_args", "100", ""},
	{"max_identifier_length", "63", ""}, {"segment_size", "131072", "8kB"}, {"wal_block_size", "8192", ""},
	{"data_checksums", "off", ""}, {"max_connections", "100", ""}, {"shared_buffers", "16384", "8kB"},
	{"work_mem", "4096", "kB"}, {"server_version", expr.ServerVersion, ""}, {"server_version_num", "150000", ""},
}

func nilIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// liveRows is how many rows a table (or records a stream) holds, for
// pg_stat_user_tables; ok is false for what is not a table.
func (db *DB) liveRows(o *catalog.Object) (int64, bool) {
	switch o.Kind {
	case catalog.KindTable:
		t, err := db.Table(o.Name)
		if err != nil {
			return 0, false
		}
		return int64(t.Len()), true
	case catalog.KindStream:
		s, err := db.Stream(o.Name)
		if err != nil {
			return 0, false
		}
		var n int64
		for _, st := range s.Stats() {
			n += st.Records
		}
		return n, true
	}
	return 0, false
}

// foreignWrapperOID is the one foreign-data wrapper sources belong to.
const foreignWrapperOID = 12030

// foreignServerOID is the OID of the foreign server for a connector.
func foreignServerOID(connector string) int64 {
	h := int64(0)
	for _, c := range connector {
		h = (h*31 + int64(c)) % 1000
	}
	return 12100 + h
}

// virtualByOID is the catalog relation with the given OID, or nil.
func virtualByOID(oid uint32) *virtualTable {
	i := sort.Search(len(virtualTables), func(i int) bool { return virtualTables[i].oid >= oid })
	if i < len(virtualTables) && virtualTables[i].oid == oid {
		return virtualTables[i]
	}
	return nil
}
