package planner

import (
	"fmt"
	"strings"

	"github.com/streamsql/streamsql/catalog"
	"github.com/streamsql/streamsql/engine/expr"
	"github.com/streamsql/streamsql/planner/pgsql"
	"github.com/streamsql/streamsql/sqlerr"
)

// Schemas. A relation lives in one schema; the catalog keys it by
// schema.name (by its name alone in public). An unqualified name is
// looked up along the session's search_path, as in PostgreSQL, and a new
// object goes into the first schema of the path that exists. A view keeps
// the path it was created under, so its query means the same whatever
// path later readers (or the server at start-up) have.

// parseSearchPath reads a search_path setting: comma-separated names,
// double-quoted or not (unquoted ones fold to lower case); "$user" stands
// for the session's user.
func parseSearchPath(v, user string) []string {
	var out []string
	for _, part := range strings.Split(v, ",") {
		p := strings.TrimSpace(part)
		if len(p) >= 2 && p[0] == '"' && p[len(p)-1] == '"' {
			p = strings.ReplaceAll(p[1:len(p)-1], `""`, `"`)
		} else {
			p = strings.ToLower(p)
		}
		if p == "$user" {
			p = user
		}
		if p != "" {
			out = append(out, p)
		}
	}
	return out
}

// existingPath keeps the schemas of path that hold user objects and
// exist (pg_catalog's tables are found before the path, as in PostgreSQL).
func (db *DB) existingPath(path []string) []string {
	out := path[:0:0]
	for _, p := range path {
		if p != "pg_catalog" && p != "information_schema" && db.Catalog.HasSchema(p) {
			out = append(out, p)
		}
	}
	return out
}

// searchPath is the session's search path: the schemas that exist, in order.
func (s *Session) searchPath() []string {
	v, _ := s.Setting("search_path")
	return s.db.existingPath(parseSearchPath(v, s.user))
}

// splitName splits a name as written ("name" or "schema.name").
func splitName(written string) (schema, name string) {
	if i := strings.IndexByte(written, '.'); i >= 0 {
		return written[:i], written[i+1:]
	}
	return "", written
}

// lookupIn finds schema.name, or with no schema the first schema of path
// that has name. It returns the object (nil if there is none) and the key
// it has or would have.
func (db *DB) lookupIn(path []string, schema, name string) (*catalog.Object, string) {
	if schema != "" {
		k := catalog.Key(schema, name)
		return db.Catalog.Lookup(k), k
	}
	for _, sch := range path {
		k := catalog.Key(sch, name)
		if o := db.Catalog.Lookup(k); o != nil {
			return o, k
		}
	}
	if len(path) > 0 {
		return nil, catalog.Key(path[0], name)
	}
	return nil, name
}

// lookup finds a relation named as written in a statement.
func (s *Session) lookup(written string) (*catalog.Object, string) {
	schema, name := splitName(written)
	return s.db.lookupIn(s.searchPath(), schema, name)
}

// resolveName rewrites a name as written into the catalog key of the
// object it names (or would name: the first schema of the path).
func (s *Session) resolveName(written string) string {
	_, k := s.lookup(written)
	return k
}

// createKey is the catalog key a new object named as written gets.
func (s *Session) createKey(written string) (string, error) {
	schema, name := splitName(written)
	if schema == "" {
		path := s.searchPath()
		if len(path) == 0 {
			return "", sqlerr.New(sqlerr.InvalidSchemaName, "no schema has been selected to create in")
		}
		schema = path[0]
	}
	switch {
	case schema == "pg_catalog" || schema == "information_schema":
		return "", &sqlerr.Error{Code: sqlerr.InsufficientPrivilege, Message: fmt.Sprintf("permission denied to create %q", schema+"."+name),
			Detail: "System catalog modifications are currently disallowed."}
	case !s.db.Catalog.HasSchema(schema):
		return "", sqlerr.New(sqlerr.InvalidSchemaName, "schema %q does not exist", schema)
	}
	return catalog.Key(schema, name), nil
}

// viewPath is the search path a new view's query is bound under, kept
// with the view when it is not the default (public alone).
func (s *Session) viewPath() []string {
	p := s.searchPath()
	if len(p) == 1 && p[0] == catalog.Public {
		return nil
	}
	return p
}

// pathOf is the search path an object's stored query is bound under.
func pathOf(o *catalog.Object) []string {
	if o.SearchPath != nil {
		return o.SearchPath
	}
	return []string{catalog.Public}
}

// createSchema is CREATE SCHEMA.
func (s *Session) createSchema(st *pgsql.CreateSchema) (*Result, error) {
	if s.db.Catalog.HasSchema(st.Name) {
		if st.IfNotExists {
			return &Result{Tag: "CREATE SCHEMA", Notice: fmt.Sprintf("schema %q already exists, skipping", st.Name)}, nil
		}
		return nil, sqlerr.New(sqlerr.DuplicateSchema, "schema %q already exists", st.Name)
	}
	if strings.HasPrefix(st.Name, "pg_") {
		return nil, &sqlerr.Error{Code: sqlerr.ReservedName, Message: fmt.Sprintf("unacceptable schema name %q", st.Name),
			Detail: `The prefix "pg_" is reserved for system schemas.`, Position: st.Pos}
	}
	if err := s.db.Catalog.CreateSchema(st.Name); err != nil {
		return nil, err
	}
	return &Result{Tag: "CREATE SCHEMA"}, nil
}

// dropSchemas is DROP SCHEMA [IF EXISTS] name, ... [CASCADE | RESTRICT].
// With CASCADE the schema's objects go first, as DROP ... CASCADE of each
// would drop them (and whatever depends on them, in any schema).
func (s *Session) dropSchemas(st *pgsql.Drop) (*Result, error) {
	var notices []string
	for _, name := range st.Names {
		if strings.ContainsRune(name, '.') {
			return nil, sqlerr.New(sqlerr.SyntaxError, "syntax error: a schema name has no qualifier: %q", name)
		}
		if !s.db.Catalog.HasSchema(name) {
			if st.IfExists {
				notices = append(notices, fmt.Sprintf("schema %q does not exist, skipping", name))
				continue
			}
			return nil, sqlerr.New(sqlerr.InvalidSchemaName, "schema %q does not exist", name)
		}
		if catalog.BuiltinSchema(name) {
			return nil, sqlerr.New(sqlerr.DependentObjects, "cannot drop schema %s because it is required by the database system", name)
		}
		objs := s.db.Catalog.InSchema(name)
		if len(objs) > 0 && !st.Cascade {
			return nil, s.db.Catalog.DropSchema(name) // reports what is in it
		}
		for _, o := range objs {
			if s.db.Catalog.Lookup(o.Name) == nil {
				continue // gone with an earlier one
			}
			if errorsOf(o) == "" && o.Kind != catalog.KindSequence {
				notices = append(notices, fmt.Sprintf("drop cascades to %s %s", o.Kind, o.Name))
			}
			more, err := s.dropObjects(o.Name, true)
			if err != nil {
				return nil, err
			}
			notices = append(notices, more...)
		}
		if err := s.db.Catalog.DropSchema(name); err != nil {
			return nil, err
		}
	}
	return &Result{Tag: "DROP SCHEMA", Notice: strings.Join(notices, "\n")}, nil
}

// relationVisible reports whether the relation with the given key is the
// one its bare name finds along path (pg_table_is_visible).
func (db *DB) relationVisible(path []string, o *catalog.Object) bool {
	found, _ := db.lookupIn(path, "", o.RelName())
	return found == o
}

// qualifiedText splits a relation name given as text ('s.t',
// '"My Schema".t', 't'), folding unquoted parts to lower case, as
// PostgreSQL's regclass input does.
func qualifiedText(s string) (schema, name string, ok bool) {
	var parts []string
	for i := 0; i < len(s); {
		var part strings.Builder
		if s[i] == '"' {
			i++
			for {
				if i >= len(s) {
					return "", "", false
				}
				if s[i] == '"' {
					if i+1 < len(s) && s[i+1] == '"' {
						part.WriteByte('"')
						i += 2
						continue
					}
					i++
					break
				}
				part.WriteByte(s[i])
				i++
			}
		} else {
			j := strings.IndexByte(s[i:], '.')
			if j < 0 {
				j = len(s) - i
			}
			part.WriteString(strings.ToLower(strings.TrimSpace(s[i : i+j])))
			i += j
		}
		parts = append(parts, part.String())
		if i < len(s) {
			if s[i] != '.' {
				return "", "", false
			}
			i++
		}
	}
	switch len(parts) {
	case 1:
		return "", parts[0], parts[0] != ""
	case 2:
		return parts[0], parts[1], parts[1] != ""
	case 3: // database.schema.name
		return parts[1], parts[2], parts[2] != ""
	}
	return "", "", false
}

// displayName is how a relation prints where PostgreSQL qualifies names
// that the search path would not find (regclass output).
func (db *DB) displayName(path []string, o *catalog.Object) string {
	if db.relationVisible(path, o) {
		return expr.QuoteIdent(o.RelName())
	}
	return expr.QuoteIdent(o.Schema()) + "." + expr.QuoteIdent(o.RelName())
}
