package planner

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/pingcap/tidb/pkg/parser/ast"
	"github.com/streamsql/streamsql/catalog"
	"github.com/streamsql/streamsql/engine/dataflow"
	"github.com/streamsql/streamsql/engine/expr"
	"github.com/streamsql/streamsql/engine/storage"
	"github.com/streamsql/streamsql/planner/pgsql"
	"github.com/streamsql/streamsql/sqlerr"
	"github.com/streamsql/streamsql/types"
)

func storageTruncate() storage.Change { return storage.Change{Truncate: true} }

// relationOptions are the WITH options each kind of relation accepts;
// a source's also depend on its connector (sourceConnectors).
var relationOptions = map[catalog.Kind][]string{
	catalog.KindTable:  {},
	catalog.KindStream: {"shards", "partition_by", "retention"},
	catalog.KindSource: {"connector", "shards"},
}

// sourceConnectors are the connectors CREATE SOURCE knows, each with the
// options it takes. Only nexmark generates rows in this build; the others
// are declarations their readers (issue 14) will serve.
var sourceConnectors = map[string][]string{
	"kafka":   {"brokers", "topic", "format", "start", "group"},
	"kinesis": {"stream", "region", "endpoint", "format", "start"},
	"file":    {"path", "format", "start"},
	"nexmark": {"events", "rate", "seed"},
}

// sinkConnectors are the connectors CREATE SINK knows, with their options;
// only blackhole runs in this build (startSink).
var sinkConnectors = map[string][]string{
	"blackhole": {},
	"webhook":   {"url"},
	"kafka":     {"brokers", "topic", "format"},
	"kinesis":   {"stream", "region", "endpoint", "format"},
	"file":      {"path", "format"},
}

// viewOptions are the WITH options of CREATE [MATERIALIZED] VIEW.
var viewOptions = map[catalog.Kind][]string{
	catalog.KindView:             {},
	catalog.KindMaterializedView: {"changelog_retention", "stream_joins", "table_joins"},
}

// postgresOnly are PostgreSQL's storage parameters of tables and views,
// which mean nothing here: accepted, so that PostgreSQL DDL runs, with a
// notice (ignoredOptions).
func postgresOnly(kind catalog.Kind, k string) bool {
	switch kind {
	case catalog.KindTable:
		return k == "fillfactor" || k == "parallel_workers" || k == "toast_tuple_target" || k == "user_catalog_table" ||
			strings.HasPrefix(k, "autovacuum_") || strings.HasPrefix(k, "toast.")
	case catalog.KindView:
		return k == "check_option" || k == "security_barrier" || k == "security_invoker"
	}
	return false
}

// ignoredOptions is the notice for the PostgreSQL-only options of opts.
func ignoredOptions(kind catalog.Kind, opts map[string]string) string {
	var ks []string
	for k := range opts {
		if postgresOnly(kind, k) {
			ks = append(ks, k)
		}
	}
	if len(ks) == 0 {
		return ""
	}
	slices.Sort(ks)
	return fmt.Sprintf("%s option %s has no effect in streamsql", kind, strings.Join(ks, ", "))
}

// checkOptionKeys refuses a WITH key that is not one of known (22023),
// naming the keys there are.
func checkOptionKeys(kind catalog.Kind, what string, opts map[string]string, known ...[]string) error {
	var all []string
	for _, k := range known {
		all = append(all, k...)
	}
	for _, k := range slices.Sorted(maps.Keys(opts)) {
		if !slices.Contains(all, k) && !postgresOnly(kind, k) {
			if len(all) == 0 {
				return sqlerr.New(sqlerr.InvalidParameterValue, "unrecognized %s option %q", what, k).
					WithHint(fmt.Sprintf("A %s takes no WITH options but PostgreSQL's storage parameters, which are ignored.", what))
			}
			slices.Sort(all)
			return sqlerr.New(sqlerr.InvalidParameterValue, "unrecognized %s option %q", what, k).
				WithHint("Valid options are: " + strings.Join(all, ", ") + ".")
		}
	}
	return nil
}

// checkConnector refuses a connector that is not one of known (22023).
func checkConnector(what, c string, known []string) error {
	if slices.Contains(known, c) {
		return nil
	}
	slices.Sort(known)
	return sqlerr.New(sqlerr.InvalidParameterValue, "unknown %s connector %q", what, c).
		WithHint("Known connectors are: " + strings.Join(known, ", ") + ".")
}

func (s *Session) createRelation(ctx *expr.Ctx, st *pgsql.CreateRelation) (*Result, error) {
	s.db.ddl.Lock()
	defer s.db.ddl.Unlock()
	tag := "CREATE " + strings.ToUpper(string(st.Kind))
	key, err := s.createKey(st.Name)
	if err != nil {
		return nil, err
	}
	st.Name = key
	if s.db.Catalog.Lookup(st.Name) != nil {
		if st.IfNotExists {
			return &Result{Tag: tag, Notice: fmt.Sprintf("relation %q already exists, skipping", st.Name)}, nil
		}
		return nil, sqlerr.New(sqlerr.DuplicateTable, "relation %q already exists", st.Name)
	}
	if lookupVirtualIn("pg_catalog", st.Name) != nil { // found before the search path
		return nil, sqlerr.New(sqlerr.DuplicateTable, "relation %q already exists in pg_catalog", st.Name)
	}
	o := &catalog.Object{Name: st.Name, Kind: st.Kind, Options: st.Options, SQL: st.Text}
	var notice string
	if st.Kind == catalog.KindSource {
		c := st.Options["connector"]
		if c == "" {
			return nil, sqlerr.New(sqlerr.InvalidParameterValue, "CREATE SOURCE needs WITH (connector = '...')").
				WithHint("Known connectors are: " + strings.Join(slices.Sorted(maps.Keys(sourceConnectors)), ", ") + ".")
		}
		if err := checkConnector("source", c, slices.Collect(maps.Keys(sourceConnectors))); err != nil {
			return nil, err
		}
		if err := checkOptionKeys(st.Kind, c+" source", st.Options, relationOptions[st.Kind], sourceConnectors[c]); err != nil {
			return nil, err
		}
		if c != "nexmark" {
			notice = fmt.Sprintf("source %q is declared, but this build does not read from %s yet: it stays empty", st.Name, c)
		}
	} else if err := checkOptionKeys(st.Kind, string(st.Kind), st.Options, relationOptions[st.Kind]); err != nil {
		return nil, err
	} else {
		notice = ignoredOptions(st.Kind, st.Options)
	}
	for k, v := range st.Options {
		if err := checkOption(k, v); err != nil {
			return nil, err
		}
	}
	if st.Kind == catalog.KindSource && st.Options["connector"] == "nexmark" {
		for _, c := range st.Columns {
			o.Columns = append(o.Columns, catalog.Column{Name: c.Name, Type: c.Type})
		}
		return s.createNexmark(o)
	}
	var asRows []storage.Row
	if st.AsQuery != nil {
		b := s.newBinder(st.AsQuery.Tr, nil)
		sel, ok := st.AsQuery.Node.(ast.ResultSetNode)
		if !ok {
			return nil, sqlerr.New(sqlerr.SyntaxError, "CREATE TABLE AS needs a query")
		}
		node, err := b.query(sel, nil)
		if err != nil {
			return nil, err
		}
		for _, c := range visible(node.Columns()) {
			if c.System {
				continue
			}
			t := c.Type
			if t.Kind == types.Unknown || t.Kind == types.Null {
				t = types.TText
			}
			o.Columns = append(o.Columns, catalog.Column{Name: c.Name, Type: t})
		}
		op, err := build(ctx, s.db, node)
		if err != nil {
			return nil, err
		}
		batches, err := drainOp(ctx, op)
		if err != nil {
			return nil, err
		}
		asRows = batchRows(batches)
	}
	var seqs []*catalog.Object
	for _, c := range st.Columns {
		col := catalog.Column{Name: c.Name, Type: c.Type, NotNull: c.NotNull, Default: c.Default}
		if c.Serial {
			if st.Kind != catalog.KindTable {
				return nil, sqlerr.Unsupported("serial and identity columns are only supported on tables")
			}
			seq := st.Name + "_" + c.Name + "_seq"
			seqText := seq
			if sch, bare := splitName(seq); sch != "" {
				seqText = expr.QuoteIdent(sch) + "." + expr.QuoteIdent(bare)
			}
			col.Default = "nextval('" + strings.ReplaceAll(seqText, "'", "''") + "'::regclass)"
			col.NotNull = true
			seqs = append(seqs, &catalog.Object{Name: seq, Kind: catalog.KindSequence, DependsOn: []string{st.Name},
				Options: map[string]string{"owned_by": st.Name + "." + c.Name}, SQL: "-- owned by " + st.Name + "." + c.Name})
			o.Columns = append(o.Columns, col)
			continue
		}
		if c.Default != "" {
			b := s.newBinder(&pgsql.Translated{}, nil)
			if _, err := b.defaultExpr(col); err != nil {
				return nil, err
			}
		}
		o.Columns = append(o.Columns, col)
	}
	for _, name := range st.PrimaryKey {
		i := o.ColumnIndex(name)
		if i < 0 {
			return nil, sqlerr.New(sqlerr.UndefinedColumn, "column %q named in key does not exist", name)
		}
		for _, k := range o.PrimaryKey {
			if k == i {
				return nil, sqlerr.New(sqlerr.DuplicateColumn, "column %q appears twice in primary key constraint", name)
			}
		}
		o.PrimaryKey = append(o.PrimaryKey, i)
		o.Columns[i].NotNull = true
	}
	if len(st.PrimaryKey) > 0 && st.Kind != catalog.KindTable {
		return nil, sqlerr.Unsupported("PRIMARY KEY is only supported on tables; a %s is append-only", st.Kind)
	}
	if st.Watermark != nil {
		if st.Kind == catalog.KindTable {
			return nil, sqlerr.Unsupported("WATERMARK is only allowed on streams and sources")
		}
		i := o.ColumnIndex(st.Watermark.Column)
		if i < 0 {
			return nil, sqlerr.New(sqlerr.UndefinedColumn, "column %q named in WATERMARK does not exist", st.Watermark.Column)
		}
		k := o.Columns[i].Type.Kind
		if k != types.Timestamp && k != types.TimestampTZ {
			return nil, sqlerr.New(sqlerr.DatatypeMismatch, "WATERMARK column %q must be a timestamp, not %s", st.Watermark.Column, o.Columns[i].Type)
		}
		if err := s.checkWatermark(o, st.Watermark.Expr); err != nil {
			return nil, err
		}
		o.Watermark = st.Watermark
	}
	if len(o.Columns) == 0 && st.Kind != catalog.KindTable {
		return nil, sqlerr.New(sqlerr.SyntaxError, "a %s needs at least one column", st.Kind)
	}
	if st.Kind == catalog.KindStream {
		if _, err := streamConfig(o); err != nil {
			return nil, err
		}
	}
	for _, seq := range seqs {
		if s.db.Catalog.Lookup(seq.Name) != nil {
			return nil, sqlerr.New(sqlerr.DuplicateTable, "relation %q already exists", seq.Name)
		}
	}
	if err := s.db.Catalog.Create(o); err != nil {
		return nil, err
	}
	for _, seq := range seqs {
		if err := s.db.Catalog.Create(seq); err != nil {
			_, _ = s.db.Catalog.Drop(o.Name, true)
			return nil, err
		}
	}
	switch st.Kind {
	case catalog.KindTable:
		if _, err := s.db.openTable(o); err != nil {
			_, _ = s.db.Catalog.Drop(o.Name, true)
			return nil, err
		}
		if err := s.db.appendRows(o, asRows); err != nil {
			return nil, err
		}
	case catalog.KindStream:
		if _, err := s.db.openStream(o); err != nil {
			_, _ = s.db.Catalog.Drop(o.Name, true)
			return nil, err
		}
	}
	if st.AsQuery != nil {
		return &Result{Tag: fmt.Sprintf("SELECT %d", len(asRows))}, nil
	}
	return &Result{Tag: tag, Notice: notice}, nil
}

func drainOp(ctx *expr.Ctx, op interface {
	Next(*expr.Ctx) (arrowBatch, error)
	Close()
}) ([]arrowBatch, error) {
	defer op.Close()
	var out []arrowBatch
	for {
		b, err := op.Next(ctx)
		if err != nil {
			return nil, err
		}
		if b == nil {
			return out, nil
		}
		out = append(out, b)
	}
}

func checkOption(k, v string) error {
	switch k {
	case "shards":
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1024 {
			return sqlerr.New(sqlerr.InvalidParameterValue, "shards must be an integer between 1 and 1024, not %q", v)
		}
	case "retention":
		if _, err := time.ParseDuration(v); err != nil {
			if _, err2 := types.ParseInterval(v); err2 != nil {
				return sqlerr.New(sqlerr.InvalidParameterValue, "invalid retention %q (use e.g. '24h' or '7 days')", v)
			}
		}
	}
	return nil
}

// checkWatermark binds the watermark expression over the stream's columns:
// it must be a timestamp of the same type.
func (s *Session) checkWatermark(o *catalog.Object, text string) error {
	q, err := s.parser.ParseExpr(text)
	if err != nil {
		return err
	}
	b := s.newBinder(q.Tr, nil)
	e, err := b.bindExpr(q.Node.(*ast.SelectStmt).Fields.Fields[0].Expr, &scope{cols: tableScope(o, o.RelName())})
	if err != nil {
		return err
	}
	k := e.Type().Kind
	if k != types.Timestamp && k != types.TimestampTZ {
		return sqlerr.New(sqlerr.DatatypeMismatch, "WATERMARK expression must be a timestamp, not %s", e.Type())
	}
	return nil
}

func (s *Session) createView(ctx *expr.Ctx, st *pgsql.CreateView) (*Result, error) {
	s.db.ddl.Lock()
	defer s.db.ddl.Unlock()
	kind := catalog.KindView
	if st.Materialized {
		kind = catalog.KindMaterializedView
	}
	tag := "CREATE " + strings.ToUpper(string(kind))
	key, err := s.createKey(st.Name)
	if err != nil {
		return nil, err
	}
	st.Name = key
	if old := s.db.Catalog.Lookup(st.Name); old != nil {
		if st.IfNotExists {
			return &Result{Tag: tag, Notice: fmt.Sprintf("relation %q already exists, skipping", st.Name)}, nil
		}
		if !(st.OrReplace && old.Kind == kind) {
			return nil, sqlerr.New(sqlerr.DuplicateTable, "relation %q already exists", st.Name)
		}
	}
	if err := checkOptionKeys(kind, string(kind), st.Options, viewOptions[kind]); err != nil {
		return nil, err
	}
	b := s.newBinder(st.Query.Tr, nil)
	node, err := b.query(st.Query.Node.(ast.ResultSetNode), nil)
	if err != nil {
		return nil, err
	}
	if len(b.params) > 0 {
		return nil, sqlerr.New(sqlerr.InvalidObjectDefinition, "a view cannot have parameters")
	}
	cols := visible(node.Columns())
	if len(st.Columns) > len(cols) {
		return nil, sqlerr.New(sqlerr.SyntaxError, "CREATE VIEW specifies more column names than columns")
	}
	o := &catalog.Object{Name: st.Name, Kind: kind, Query: st.Query.Text, SQL: st.Text, Options: st.Options, SearchPath: s.viewPath()}
	seen := map[string]bool{}
	for i, c := range cols {
		name := c.Name
		if i < len(st.Columns) {
			name = st.Columns[i]
		}
		if seen[name] {
			return nil, sqlerr.New(sqlerr.DuplicateColumn, "column %q specified more than once", name)
		}
		seen[name] = true
		t := c.Type
		if t.Kind == types.Unknown || t.Kind == types.Null {
			t = types.TText
		}
		o.Columns = append(o.Columns, catalog.Column{Name: name, Type: t})
	}
	if st.EmitOnWindowClose {
		o.Options["emit"] = "on window close"
	}
	deps := map[string]bool{}
	for _, d := range b.deps {
		if !deps[d] {
			deps[d] = true
			o.DependsOn = append(o.DependsOn, d)
		}
	}
	if old := s.db.Catalog.Lookup(st.Name); st.OrReplace && old != nil {
		dropped, err := s.db.Catalog.Drop(st.Name, false)
		if err != nil {
			return nil, err
		}
		s.db.stopFlow(st.Name)
		s.db.dropCheckpoints(old)
		if old.Kind == catalog.KindMaterializedView {
			_ = s.db.store.Drop(changelogKey(old))
		}
		for _, d := range dropped {
			if d.Kind == catalog.KindStream {
				_ = s.db.dropStream(d) // its error stream
			}
		}
	}
	if err := s.db.Catalog.Create(o); err != nil {
		return nil, err
	}
	if kind == catalog.KindMaterializedView {
		if err := s.db.startFlow(o, true); err != nil {
			for _, d := range s.db.Catalog.Dependents(o.Name) {
				if errorsOf(d) == o.Name && d.Kind == catalog.KindStream {
					_ = s.db.dropStream(d)
				}
			}
			_, _ = s.db.Catalog.Drop(o.Name, true)
			return nil, err
		}
		if v := s.db.view(o.Name); v != nil && !v.Job().CaughtUp() {
			if _, total := v.Job().Catchup(); total > 0 {
				return &Result{Tag: tag, Notice: fmt.Sprintf("materialized view %q is catching up on %d existing records: reads of it wait until it has (streamsql_views shows its progress)", o.Name, total)}, nil
			}
		}
	}
	return &Result{Tag: tag, Notice: ignoredOptions(kind, st.Options)}, nil
}

func (s *Session) createSink(ctx *expr.Ctx, st *pgsql.CreateSink) (*Result, error) {
	s.db.ddl.Lock()
	defer s.db.ddl.Unlock()
	key, err := s.createKey(st.Name)
	if err != nil {
		return nil, err
	}
	st.Name = key
	if s.db.Catalog.Lookup(st.Name) != nil {
		if st.IfNotExists {
			return &Result{Tag: "CREATE SINK", Notice: fmt.Sprintf("sink %q already exists, skipping", st.Name)}, nil
		}
		return nil, sqlerr.New(sqlerr.DuplicateObject, "%q already exists", st.Name)
	}
	c := st.Options["connector"]
	if c == "" {
		return nil, sqlerr.New(sqlerr.InvalidParameterValue, "CREATE SINK needs WITH (connector = '...')").
			WithHint("Known connectors are: " + strings.Join(slices.Sorted(maps.Keys(sinkConnectors)), ", ") + ".")
	}
	if err := checkConnector("sink", c, slices.Collect(maps.Keys(sinkConnectors))); err != nil {
		return nil, err
	}
	// a sink runs a dataflow as a view does: the view's join options too
	if err := checkOptionKeys(catalog.KindSink, c+" sink", st.Options, []string{"connector", "stream_joins", "table_joins"}, sinkConnectors[c]); err != nil {
		return nil, err
	}
	o := &catalog.Object{Name: st.Name, Kind: catalog.KindSink, Options: st.Options, SQL: st.Text, SearchPath: s.viewPath()}
	if st.Query != nil {
		b := s.newBinder(st.Query.Tr, nil)
		if _, err := b.query(st.Query.Node.(ast.ResultSetNode), nil); err != nil {
			return nil, err
		}
		o.Query = st.Query.Text
		o.DependsOn = uniq(b.deps)
	} else {
		from, _ := s.lookup(st.From)
		if from == nil || !from.IsRelation() {
			return nil, sqlerr.New(sqlerr.UndefinedTable, "relation %q does not exist", st.From)
		}
		o.Query = "SELECT * FROM " + quoteRel(from)
		o.DependsOn = []string{from.Name}
	}
	if err := s.db.Catalog.Create(o); err != nil {
		return nil, err
	}
	if err := s.db.startSink(o); err != nil {
		_, _ = s.db.Catalog.Drop(o.Name, true)
		return nil, err
	}
	return &Result{Tag: "CREATE SINK"}, nil
}

func uniq(xs []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, x := range xs {
		if !seen[x] {
			seen[x] = true
			out = append(out, x)
		}
	}
	return out
}

func quoteIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

// quoteRel is a relation's name for SQL text the server writes itself:
// schema-qualified, so it reads the same under any search path.
func quoteRel(o *catalog.Object) string {
	return quoteIdent(o.Schema()) + "." + quoteIdent(o.RelName())
}

func (s *Session) drop(st *pgsql.Drop) (*Result, error) {
	if st.Index {
		return &Result{Tag: "DROP INDEX", Notice: "DROP INDEX does nothing: streamsql keeps no indexes to drop (a materialized view's point indexes live as long as the view)"}, nil
	}
	s.db.ddl.Lock()
	defer s.db.ddl.Unlock()
	if st.Schema {
		return s.dropSchemas(st)
	}
	tag := "DROP " + strings.ToUpper(string(st.Kind))
	var notices []string
	for _, written := range st.Names {
		o, name := s.lookup(written)
		if o == nil {
			if st.IfExists {
				notices = append(notices, fmt.Sprintf("%s %q does not exist, skipping", st.Kind, written))
				continue
			}
			code := sqlerr.UndefinedTable
			if st.Kind == catalog.KindSink {
				code = sqlerr.UndefinedObject
			}
			return nil, sqlerr.New(code, "%s %q does not exist", st.Kind, written)
		}
		if o.Kind != st.Kind {
			return nil, sqlerr.New(sqlerr.WrongObjectType, "%q is not a %s", written, st.Kind).WithHint(fmt.Sprintf("Use DROP %s to remove a %s.", strings.ToUpper(string(o.Kind)), o.Kind))
		}
		more, err := s.dropObjects(name, st.Cascade)
		if err != nil {
			return nil, err
		}
		notices = append(notices, more...)
	}
	return &Result{Tag: tag, Notice: strings.Join(notices, "\n")}, nil
}

// dropObjects drops the object with key name (and with cascade what
// depends on it): its catalog entries, then its data, flows and
// subscriptions. It returns a notice per cascaded object. Callers hold
// db.ddl.
func (s *Session) dropObjects(name string, cascade bool) ([]string, error) {
	dropped, err := s.db.Catalog.Drop(name, cascade)
	if err != nil {
		return nil, err
	}
	for _, d := range dropped {
		s.db.endSubscriptionsTo(d.Name, d.Kind)
	}
	var notices []string
	for _, d := range dropped {
		switch d.Kind {
		case catalog.KindTable:
			if err := s.db.dropTable(d.Name); err != nil {
				return nil, err
			}
		case catalog.KindStream:
			if err := s.db.dropStream(d); err != nil {
				return nil, err
			}
		}
		if d.Kind == catalog.KindSink {
			s.db.stopFlow(d.Name)
			s.db.dropCheckpoints(d)
		}
		if d.Kind == catalog.KindMaterializedView {
			s.db.stopFlow(d.Name)
			s.db.dropCheckpoints(d)
			if err := s.db.store.Drop(changelogKey(d)); err != nil {
				return nil, err
			}
		}
		if d.Kind == catalog.KindSequence {
			s.db.seqMu.Lock()
			delete(s.db.seqs, d.Name)
			s.db.seqMu.Unlock()
			continue
		}
		if d.Name != name && errorsOf(d) == "" {
			notices = append(notices, fmt.Sprintf("drop cascades to %s %s", d.Kind, d.Name))
		}
	}
	return notices, nil
}

var describeColumns = []Column{
	{Name: "name", Type: types.TText}, {Name: "type", Type: types.TText}, {Name: "nullable", Type: types.TBool},
	{Name: "primary_key", Type: types.TBool}, {Name: "default", Type: types.TText},
}

func (s *Session) describe(ctx *expr.Ctx, st *pgsql.Describe) (*Result, error) {
	o, _ := s.lookup(st.Name)
	if o == nil {
		return nil, sqlerr.New(sqlerr.UndefinedTable, "relation %q does not exist", st.Name)
	}
	var rows [][]types.Datum
	for i, c := range o.Columns {
		pk := false
		for _, k := range o.PrimaryKey {
			pk = pk || k == i
		}
		var def any
		if c.Default != "" {
			def = c.Default
		}
		rows = append(rows, row(c.Name, c.Type.String(), !c.NotNull, pk, def))
	}
	res := rowsResult(ctx, describeColumns, rows, "SHOW", true)
	var notes []string
	if o.Watermark != nil {
		notes = append(notes, fmt.Sprintf("watermark: %s AS %s", o.Watermark.Column, o.Watermark.Expr))
	}
	if o.Kind == catalog.KindStream {
		if str, err := s.db.Stream(o.Name); err == nil {
			cfg, _ := streamConfig(o)
			var recs, bytes int64
			for _, st := range str.Stats() {
				recs += st.Records
				bytes += st.Bytes
			}
			ret := "forever"
			if cfg.Retention > 0 {
				ret = cfg.Retention.String()
			}
			if src := o.Options["generated_by"]; src != "" {
				notes = append(notes, fmt.Sprintf("stream: %d shards, generated by source %s when read (nothing stored), %d records", len(str.Shards()), src, recs))
			} else {
				notes = append(notes, fmt.Sprintf("stream: %d shards, partition by %s, retention %s, %d records, %d bytes", len(str.Shards()), orDefault(o.Options["partition_by"], "round robin"), ret, recs, bytes))
			}
			for _, st := range str.Stats() {
				notes = append(notes, fmt.Sprintf("shard %d: %d records, %d bytes, %d segments, oldest sequence %d, next sequence %d", st.ID, st.Records, st.Bytes, st.Segments, st.Oldest, st.Next))
			}
			notes = append(notes, fmt.Sprintf("(also: SELECT * FROM streamsql_shards WHERE stream = '%s')", o.Name))
		}
	}
	res.Notice = strings.Join(notes, "\n")
	return res, nil
}

func showColumns(st *pgsql.Show) []Column {
	switch st.What {
	case "streams", "sources", "tables", "views", "materialized views", "sinks", "objects":
		return []Column{{Name: "name", Type: types.TText}}
	case "all":
		return []Column{{Name: "name", Type: types.TText}, {Name: "setting", Type: types.TText}, {Name: "description", Type: types.TText}}
	}
	if st.What == "timezone" {
		return []Column{{Name: "TimeZone", Type: types.TText}}
	}
	return []Column{{Name: st.What, Type: types.TText}}
}

func (s *Session) show(ctx *expr.Ctx, st *pgsql.Show, cols []Column) (*Result, error) {
	kinds := map[string]catalog.Kind{"streams": catalog.KindStream, "sources": catalog.KindSource, "tables": catalog.KindTable,
		"views": catalog.KindView, "materialized views": catalog.KindMaterializedView, "sinks": catalog.KindSink}
	var rows [][]types.Datum
	switch st.What {
	case "streams", "sources", "tables", "views", "materialized views", "sinks":
		for _, o := range s.db.Catalog.Objects() {
			if o.Kind == kinds[st.What] {
				rows = append(rows, row(o.Name))
			}
		}
		sortRows(rows)
		return rowsResult(ctx, cols, rows, "SHOW", true), nil
	case "all":
		for _, n := range s.SettingNames() {
			v, _ := s.Setting(n)
			rows = append(rows, row(n, v, ""))
		}
		return rowsResult(ctx, cols, rows, "SHOW", false), nil
	}
	name := strings.ToLower(st.What)
	v, ok := s.Setting(name)
	if !ok {
		return nil, sqlerr.New(sqlerr.UndefinedObject, "unrecognized configuration parameter %q", st.What)
	}
	return rowsResult(ctx, cols, [][]types.Datum{row(v)}, "SHOW", false), nil
}

func sortRows(rows [][]types.Datum) {
	for i := 1; i < len(rows); i++ {
		for j := i; j > 0 && rows[j][0].S < rows[j-1][0].S; j-- {
			rows[j], rows[j-1] = rows[j-1], rows[j]
		}
	}
}

type arrowBatch = arrow.RecordBatch

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}

// createIndex is CREATE INDEX. On a materialized view maintained
// incrementally, an index on its first column answers point reads
// (SELECT ... WHERE col = value) and is made now, not by the first such
// read; elsewhere (tables are kept in memory and scanned, streams are
// logs) it does nothing, and says so.
func (s *Session) createIndex(st *pgsql.CreateIndex) (*Result, error) {
	o, _ := s.lookup(st.Rel)
	if o == nil || !o.IsRelation() {
		return nil, sqlerr.New(sqlerr.UndefinedTable, "relation %q does not exist", st.Rel).WithPosition(st.RelPos)
	}
	first := -1
	for k, name := range st.Columns {
		if name == "" {
			continue
		}
		at := -1
		for i, c := range o.Columns {
			if c.Name == name {
				at = i
			}
		}
		if at < 0 {
			return nil, sqlerr.New(sqlerr.UndefinedColumn, "column %q does not exist", name).WithPosition(st.ColumnPos[k])
		}
		if k == 0 {
			first = at
		}
	}
	res := &Result{Tag: "CREATE INDEX"}
	v := s.db.view(o.Name)
	switch {
	case o.Kind == catalog.KindMaterializedView && v != nil && first >= 0:
		if !v.AddIndex(first) {
			res.Notice = fmt.Sprintf("materialized view %q has %d point indexes already, the most it keeps: this one does nothing", o.Name, dataflow.MaxIndexes)
		} else if len(st.Columns) > 1 {
			res.Notice = fmt.Sprintf("point reads of %q use an index on %q, its first column", o.Name, st.Columns[0])
		}
	case o.Kind == catalog.KindMaterializedView && v != nil:
		res.Notice = "CREATE INDEX does nothing: a materialized view's point indexes are on a column, not an expression"
	default:
		res.Notice = fmt.Sprintf("CREATE INDEX does nothing: %s %q is scanned (streamsql keeps point indexes on materialized views only)", o.Kind, o.Name)
	}
	return res, nil
}
