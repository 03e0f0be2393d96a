// Package catalog holds the definitions of the user's objects — tables,
// streams, sources, views, materialized views and sinks — and persists them
// in the data directory, so that a restart keeps every object. It is a leaf
// shared by the planner (name resolution), the engine (storage) and the
// wire layer (pg_catalog).
package catalog

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"github.com/streamsql/streamsql/sqlerr"
	"github.com/streamsql/streamsql/types"
)

// Kind is the kind of a catalog object.
type Kind string

// Object kinds.
const (
	KindTable            Kind = "table"
	KindStream           Kind = "stream"
	KindSource           Kind = "source"
	KindView             Kind = "view"
	KindMaterializedView Kind = "materialized view"
	KindSink             Kind = "sink"
	KindSequence         Kind = "sequence" // behind a SERIAL or IDENTITY column; Options["owned_by"] is table.column
)

// RelKind is the pg_class.relkind an object shows to PostgreSQL clients:
// tables and streams are relations ('r'), sources foreign tables ('f'),
// views 'v', materialized views 'm'. Sinks are not relations.
func (k Kind) RelKind() string {
	switch k {
	case KindTable, KindStream:
		return "r"
	case KindSource:
		return "f"
	case KindView:
		return "v"
	case KindMaterializedView:
		return "m"
	case KindSequence:
		return "S"
	}
	return ""
}

// Column is one column of a relation.
type Column struct {
	Name    string  `json:"name"`
	Type    types.T `json:"type"`
	NotNull bool    `json:"not_null,omitempty"`
	Default string  `json:"default,omitempty"` // SQL text of a DEFAULT expression
}

// Watermark is a stream's WATERMARK FOR clause.
type Watermark struct {
	Column string `json:"column"`
	Expr   string `json:"expr"` // SQL text, e.g. "ts - INTERVAL '5' SECOND"
}

// Object is one catalog entry.
type Object struct {
	OID        uint32            `json:"oid"`
	Name       string            `json:"name"`
	Kind       Kind              `json:"kind"`
	Columns    []Column          `json:"columns,omitempty"`
	PrimaryKey []int             `json:"primary_key,omitempty"` // column indexes
	Watermark  *Watermark        `json:"watermark,omitempty"`
	Options    map[string]string `json:"options,omitempty"`
	Query      string            `json:"query,omitempty"` // the SELECT of a view or materialized view, the FROM of a sink
	DependsOn  []string          `json:"depends_on,omitempty"`
	// SearchPath is the schemas the unqualified names of Query were
	// looked up in when it was created (absent: public only), so that
	// the query means the same under any later search_path.
	SearchPath []string `json:"search_path,omitempty"`
	SQL        string   `json:"sql"` // the statement that created it
}

// ColumnIndex returns the index of the named column, or -1.
func (o *Object) ColumnIndex(name string) int {
	for i, c := range o.Columns {
		if c.Name == name {
			return i
		}
	}
	return -1
}

// IsRelation reports whether the object shows in pg_class.
func (o *Object) IsRelation() bool { return o.Kind != KindSink }

// Key is the catalog key of the relation name in schema: an object of
// schema public is keyed by its name alone (so catalogs written before
// schemas existed read unchanged), any other by schema.name. Names with
// a '.' are refused at creation, so a key splits one way only.
func Key(schema, name string) string {
	if schema == "" || schema == Public {
		return name
	}
	return schema + "." + name
}

// Public is the schema every database has; objects are created in it
// unless the search path or the name says otherwise.
const Public = "public"

// Schema is the schema the object is in.
func (o *Object) Schema() string {
	if i := strings.IndexByte(o.Name, '.'); i >= 0 {
		return o.Name[:i]
	}
	return Public
}

// RelName is the object's name within its schema (pg_class.relname).
func (o *Object) RelName() string {
	if i := strings.IndexByte(o.Name, '.'); i >= 0 {
		return o.Name[i+1:]
	}
	return o.Name
}

// Namespace is a schema the user created (public, pg_catalog and
// information_schema are built in and not listed).
type Namespace struct {
	OID  uint32 `json:"oid"`
	Name string `json:"name"`
}

// Catalog is the set of objects, safe for concurrent use.
type Catalog struct {
	mu      sync.RWMutex
	path    string // empty: in memory only
	objects map[string]*Object
	schemas map[string]Namespace
	nextOID uint32
	version uint64
}

// FirstUserOID is the OID given to the first user object, as in PostgreSQL.
const FirstUserOID = 16384

type file struct {
	NextOID uint32      `json:"next_oid"`
	Schemas []Namespace `json:"schemas,omitempty"`
	Objects []*Object   `json:"objects"`
}

// Open loads the catalog from dir (created if missing). An empty dir keeps
// the catalog in memory only.
func Open(dir string) (*Catalog, error) {
	c := &Catalog{objects: map[string]*Object{}, schemas: map[string]Namespace{}, nextOID: FirstUserOID}
	if dir == "" {
		return c, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("catalog: %w", err)
	}
	c.path = filepath.Join(dir, "catalog.json")
	b, err := os.ReadFile(c.path)
	if errors.Is(err, os.ErrNotExist) {
		return c, nil
	}
	if err != nil {
		return nil, fmt.Errorf("catalog: %w", err)
	}
	var f file
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("catalog: corrupt %s: %w", c.path, err)
	}
	c.nextOID = f.NextOID
	for _, n := range f.Schemas {
		c.schemas[n.Name] = n
	}
	for _, o := range f.Objects {
		c.objects[o.Name] = o
	}
	return c, nil
}

// save writes the catalog atomically: a temporary file, fsync, rename, and an
// fsync of the directory. Callers hold c.mu.
func (c *Catalog) save() error {
	c.version++
	if c.path == "" {
		return nil
	}
	f := file{NextOID: c.nextOID}
	for _, o := range c.objects {
		f.Objects = append(f.Objects, o)
	}
	for _, n := range c.schemas {
		f.Schemas = append(f.Schemas, n)
	}
	sort.Slice(f.Schemas, func(i, j int) bool { return f.Schemas[i].OID < f.Schemas[j].OID })
	sort.Slice(f.Objects, func(i, j int) bool { return f.Objects[i].OID < f.Objects[j].OID })
	b, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return err
	}
	return WriteFileAtomic(c.path, b)
}

// WriteFileAtomic replaces path with data durably.
func WriteFileAtomic(path string, data []byte) error {
	tmp := path + ".tmp"
	fh, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o644)
	if err != nil {
		return sqlerr.New(sqlerr.IOError, "could not write %s: %v", tmp, err)
	}
	if _, err := fh.Write(data); err != nil {
		fh.Close()
		return sqlerr.New(sqlerr.IOError, "could not write %s: %v", tmp, err)
	}
	if err := fh.Sync(); err != nil {
		fh.Close()
		return sqlerr.New(sqlerr.IOError, "could not fsync %s: %v", tmp, err)
	}
	if err := fh.Close(); err != nil {
		return sqlerr.New(sqlerr.IOError, "could not close %s: %v", tmp, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return sqlerr.New(sqlerr.IOError, "could not rename %s: %v", tmp, err)
	}
	if d, err := os.Open(filepath.Dir(path)); err == nil {
		_ = d.Sync()
		d.Close()
	}
	return nil
}

// NextOID is the number the next object will get: every object the
// catalog ever created has a smaller one.
func (c *Catalog) NextOID() uint32 {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.nextOID
}

// Version increases with every change; caches key on it.
func (c *Catalog) Version() uint64 {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.version
}

// Lookup returns the named object, or nil.
func (c *Catalog) Lookup(name string) *Object {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.objects[name]
}

// ByOID returns the object with the given OID, or nil.
func (c *Catalog) ByOID(oid uint32) *Object {
	c.mu.RLock()
	defer c.mu.RUnlock()
	for _, o := range c.objects {
		if o.OID == oid {
			return o
		}
	}
	return nil
}

// Objects returns every object ordered by OID.
func (c *Catalog) Objects() []*Object {
	c.mu.RLock()
	defer c.mu.RUnlock()
	out := make([]*Object, 0, len(c.objects))
	for _, o := range c.objects {
		out = append(out, o)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].OID < out[j].OID })
	return out
}

// BuiltinSchema reports whether name is one of the schemas every
// database has.
func BuiltinSchema(name string) bool {
	return name == Public || name == "pg_catalog" || name == "information_schema"
}

// Namespaces returns the schemas the user created, ordered by OID.
func (c *Catalog) Namespaces() []Namespace {
	c.mu.RLock()
	defer c.mu.RUnlock()
	out := make([]Namespace, 0, len(c.schemas))
	for _, n := range c.schemas {
		out = append(out, n)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].OID < out[j].OID })
	return out
}

// HasSchema reports whether the schema exists (built in or created).
func (c *Catalog) HasSchema(name string) bool {
	if BuiltinSchema(name) {
		return true
	}
	c.mu.RLock()
	defer c.mu.RUnlock()
	_, ok := c.schemas[name]
	return ok
}

// SchemaOID is the OID of a created schema (0 for a built-in or unknown one).
func (c *Catalog) SchemaOID(name string) uint32 {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.schemas[name].OID
}

// CreateSchema adds a schema; 42P06 if it exists. Durable when it returns.
func (c *Catalog) CreateSchema(name string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.schemas[name]; ok || BuiltinSchema(name) {
		return sqlerr.New(sqlerr.DuplicateSchema, "schema %q already exists", name)
	}
	if strings.ContainsRune(name, '.') {
		return sqlerr.New(sqlerr.InvalidName, "schema name %q contains a '.': streamsql keeps names free of dots so that schema.name reads one way", name)
	}
	c.schemas[name] = Namespace{OID: c.nextOID, Name: name}
	c.nextOID++
	if err := c.save(); err != nil {
		delete(c.schemas, name)
		return err
	}
	return nil
}

// InSchema returns the objects of a schema, ordered by OID.
func (c *Catalog) InSchema(name string) []*Object {
	c.mu.RLock()
	defer c.mu.RUnlock()
	var out []*Object
	for _, o := range c.objects {
		if o.Schema() == name {
			out = append(out, o)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].OID < out[j].OID })
	return out
}

// DropSchema removes an empty created schema; 2BP01 if objects remain
// in it (the caller drops them first for CASCADE).
func (c *Catalog) DropSchema(name string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	n, ok := c.schemas[name]
	if !ok {
		if BuiltinSchema(name) {
			return sqlerr.New(sqlerr.DependentObjects, "cannot drop schema %s because it is required by the database system", name)
		}
		return sqlerr.New(sqlerr.InvalidSchemaName, "schema %q does not exist", name)
	}
	var in []string
	for _, o := range c.objects {
		if o.Schema() == name {
			in = append(in, fmt.Sprintf("%s %s depends on schema %s", o.Kind, o.Name, name))
		}
	}
	if len(in) > 0 {
		sort.Strings(in)
		return &sqlerr.Error{Code: sqlerr.DependentObjects,
			Message: fmt.Sprintf("cannot drop schema %s because other objects depend on it", name),
			Detail:  strings.Join(in, "\n"),
			Hint:    "Use DROP ... CASCADE to drop the dependent objects too."}
	}
	delete(c.schemas, name)
	if err := c.save(); err != nil {
		c.schemas[name] = n
		return err
	}
	return nil
}

// Create adds o, assigning its OID. It fails with 42P07 if the name is taken.
// The new object is durable when Create returns.
func (c *Catalog) Create(o *Object) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if old, ok := c.objects[o.Name]; ok {
		return sqlerr.New(sqlerr.DuplicateTable, "%s %q already exists", old.Kind, o.Name)
	}
	if sch := o.Schema(); !BuiltinSchema(sch) {
		if _, ok := c.schemas[sch]; !ok {
			return sqlerr.New(sqlerr.InvalidSchemaName, "schema %q does not exist", sch)
		}
	}
	seen := map[string]bool{}
	for _, col := range o.Columns {
		if seen[col.Name] {
			return sqlerr.New(sqlerr.DuplicateColumn, "column %q specified more than once", col.Name)
		}
		seen[col.Name] = true
	}
	o.OID = c.nextOID
	// leave room for the row type and array type OIDs PostgreSQL would use
	c.nextOID += 3
	c.objects[o.Name] = o
	if err := c.save(); err != nil {
		delete(c.objects, o.Name)
		return err
	}
	return nil
}

// Dependents returns the objects that depend on name.
func (c *Catalog) Dependents(name string) []*Object {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.dependents(name)
}

func (c *Catalog) dependents(name string) []*Object {
	var out []*Object
	for _, o := range c.objects {
		for _, d := range o.DependsOn {
			if d == name {
				out = append(out, o)
				break
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].OID < out[j].OID })
	return out
}

// Drop removes name and, with cascade, everything that depends on it; it
// returns the removed objects, dependents first. Without cascade a
// dependent object is an error (2BP01).
func (c *Catalog) Drop(name string, cascade bool) ([]*Object, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	o, ok := c.objects[name]
	if !ok {
		return nil, sqlerr.New(sqlerr.UndefinedTable, "%q does not exist", name)
	}
	var order []*Object
	var visit func(x *Object) error
	seen := map[string]bool{}
	visit = func(x *Object) error {
		if seen[x.Name] {
			return nil
		}
		seen[x.Name] = true
		deps := c.dependents(x.Name)
		var blocking []*Object
		for _, d := range deps {
			// a sequence owned by a column goes with its table, the
			// streams a source generates with the source, a view's error
			// stream with the view
			if d.Kind != KindSequence && d.Options["generated_by"] != x.Name && d.Options["errors_of"] != x.Name {
				blocking = append(blocking, d)
			}
		}
		if len(blocking) > 0 && !cascade {
			deps = blocking
			names := make([]string, len(deps))
			for i, d := range deps {
				names[i] = fmt.Sprintf("%s %s depends on %s %s", d.Kind, d.Name, x.Kind, x.Name)
			}
			return &sqlerr.Error{Code: sqlerr.DependentObjects,
				Message: fmt.Sprintf("cannot drop %s %s because other objects depend on it", x.Kind, x.Name),
				Detail:  strings.Join(names, "\n"),
				Hint:    "Use DROP ... CASCADE to drop the dependent objects too."}
		}
		for _, d := range deps {
			if err := visit(d); err != nil {
				return err
			}
		}
		order = append(order, x)
		return nil
	}
	if err := visit(o); err != nil {
		return nil, err
	}
	for _, x := range order {
		delete(c.objects, x.Name)
	}
	if err := c.save(); err != nil {
		for _, x := range order {
			c.objects[x.Name] = x
		}
		return nil, err
	}
	return order, nil
}
