package planner

import (
	"fmt"

	"github.com/streamsql/streamsql/catalog"
	"github.com/streamsql/streamsql/engine/expr"
	"github.com/streamsql/streamsql/engine/flow"
	"github.com/streamsql/streamsql/sources/streamstore"
	"github.com/streamsql/streamsql/sqlerr"
	"github.com/streamsql/streamsql/types"
)

// A row that an expression of a maintained view fails on (division by
// zero, a bad cast, an overflow) does not stop the view: the operator
// drops it and the view goes on with the other rows (see
// dataflow.DropFailing and flow.ErrorStream). The row is kept in the
// view's error stream, <view>_errors — an ordinary stream, made with the
// view and dropped with it, that users query and subscribe to but cannot
// write — with the error, its SQLSTATE and the time; streamsql_views
// counts them.

// errorsRetention is how long a view's failed rows are kept.
const errorsRetention = "7 days"

// errorColumns are the columns of a view's error stream.
var errorColumns = func() []catalog.Column {
	out := make([]catalog.Column, len(flow.ErrorColumns))
	for i, c := range flow.ErrorColumns {
		out[i] = catalog.Column{Name: c.Name, Type: c.Type}
	}
	return out
}()

func errorsName(view string) string { return view + "_errors" }

// errorsOf returns the object whose error stream o is ("" if none).
func errorsOf(o *catalog.Object) string { return o.Options["errors_of"] }

// errorStream returns the error stream of the flow named name, creating
// it (in the catalog and the store) when it does not exist yet — also for
// views made before error streams were.
func (db *DB) errorStream(name string) (*streamstore.Stream, error) {
	en := errorsName(name)
	o := db.Catalog.Lookup(en)
	if o != nil && errorsOf(o) != name {
		return nil, sqlerr.New(sqlerr.DuplicateTable, "relation %q already exists", en).
			WithDetail(fmt.Sprintf("%q keeps the rows that %s's expressions fail on.", en, name)).
			WithHint(fmt.Sprintf("Rename or drop %s, or give the view another name.", en))
	}
	if o == nil {
		o = &catalog.Object{Name: en, Kind: catalog.KindStream, Columns: errorColumns, DependsOn: []string{name},
			Options: map[string]string{"errors_of": name, "retention": errorsRetention},
			SQL:     fmt.Sprintf("-- the rows that %s's expressions failed on", name)}
		if err := db.Catalog.Create(o); err != nil {
			return nil, err
		}
	}
	if s, err := db.Stream(en); err == nil {
		return s, nil
	}
	return db.openStream(o)
}

// exprColumns describes columns for reports of failed rows.
func exprColumns(cols []Column) expr.Columns {
	out := expr.Columns{Names: make([]string, len(cols)), Types: make([]types.T, len(cols))}
	for i, c := range cols {
		out.Names[i], out.Types[i] = c.Name, c.Type
	}
	return out
}

// errorStats reads a view's error stream for streamsql_views: how many
// failed rows it keeps, and the last error.
func (db *DB) errorStats(view string) (int64, any) {
	s, err := db.Stream(errorsName(view))
	if err != nil {
		return 0, nil
	}
	var n int64
	var last any
	for _, sh := range s.Shards() {
		n += sh.Stats().Records
		if latest := sh.Latest(); latest > sh.TrimHorizon() {
			if recs, _, err := sh.Read(latest-1, 1); err == nil && len(recs) == 1 {
				last = recs[0].Row[2].S + ": " + recs[0].Row[1].S
			}
		}
	}
	return n, last
}
