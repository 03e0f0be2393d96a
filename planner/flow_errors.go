package planner

import (
	"encoding/json"

	"fmt"
	"github.com/apache/arrow-go/v18/arrow"
	"sync"
	"time"

	"github.com/streamsql/streamsql/catalog"
	"github.com/streamsql/streamsql/engine/expr"
	"github.com/streamsql/streamsql/sources/streamstore"
	"github.com/streamsql/streamsql/sqlerr"
	"github.com/streamsql/streamsql/types"
)

// A row that an expression of a maintained view fails on (division by
// zero, a bad cast, an overflow) does not stop the view: the operator
// drops it and the view goes on with the other rows (see
// dataflow.DropFailing). The row is kept in the view's error stream,
// <view>_errors — an ordinary stream, made with the view and dropped with
// it, that users query and subscribe to but cannot write — with the
// error, its SQLSTATE and the time; streamsql_views counts them.

// errorsRetention is how long a view's failed rows are kept.
const errorsRetention = "7 days"

// errorColumns are the columns of a view's error stream.
var errorColumns = []catalog.Column{
	{Name: "input_row", Type: types.TJSONB},
	{Name: "error", Type: types.TText},
	{Name: "sqlstate", Type: types.TText},
	{Name: "error_time", Type: types.TTimestampTZ},
	{Name: "source", Type: types.TText},
	{Name: "source_shard", Type: types.TInt32},
	{Name: "source_seq", Type: types.TInt64},
}

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

// viewErrors collects a flow's failed rows until the flow writes them.
type viewErrors struct {
	stream *streamstore.Stream
	source string // the relation the flow reads
	mu     sync.Mutex
	buf    [][]types.Datum
	// rows already reported, by source position and error: an operator
	// that recomputes from kept rows (SESSION windows) meets a failing row
	// again
	seen map[seenError]bool
}

type seenError struct {
	shard, seq int64
	msg        string
}

// add records one failed row; it may be called from an aggregate's workers.
func (e *viewErrors) add(r expr.RowError) {
	code := sqlerr.Code(r.Err)
	row := []types.Datum{rowJSON(r), types.DText(sqlerr.As(r.Err).Message), types.DText(code),
		types.DInt(time.Now().UnixMicro()), types.DText(e.source), types.NullDatum, types.NullDatum}
	for c, name := range r.Cols.Names {
		d := types.DatumAt(r.Batch.Column(c), r.Row)
		switch name {
		case "_shard":
			row[5] = d
		case "_seq":
			row[6] = d
		}
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if !row[5].Null && !row[6].Null {
		k := seenError{row[5].I, row[6].I, row[1].S}
		if e.seen[k] {
			return
		}
		if e.seen == nil {
			e.seen = map[seenError]bool{}
		}
		e.seen[k] = true
	}
	e.buf = append(e.buf, row)
}

// take returns and forgets the rows collected so far.
func (e *viewErrors) take() [][]types.Datum {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := e.buf
	e.buf = nil
	return out
}

// rowJSON is a failed row as JSON: an object of its columns when their
// names are known (the positions _shard, _seq and _arrival aside: they
// have columns of their own), an array otherwise.
func rowJSON(r expr.RowError) types.Datum {
	b := r.Batch
	value := func(c int) any {
		d := types.DatumAt(b.Column(c), r.Row)
		if c < len(r.Cols.Types) {
			return jsonValue(r.Cols.Types[c], d)
		}
		if d.Null {
			return nil
		}
		switch b.Column(c).DataType().ID() {
		case arrow.BOOL:
			return d.I != 0
		case arrow.INT16, arrow.INT32, arrow.INT64:
			return d.I
		case arrow.FLOAT32, arrow.FLOAT64:
			return jsonValue(types.TFloat64, d)
		case arrow.STRING:
			return d.S
		}
		return fmt.Sprint(d)
	}
	var v any
	if len(r.Cols.Names) == int(b.NumCols()) {
		m := make(map[string]any, len(r.Cols.Names))
		for c, name := range r.Cols.Names {
			if name == "_shard" || name == "_seq" || name == "_arrival" {
				continue
			}
			m[name] = value(c)
		}
		v = m
	} else {
		a := make([]any, b.NumCols())
		for c := range a {
			a[c] = value(c)
		}
		v = a
	}
	text, err := json.Marshal(v)
	if err != nil {
		return types.NullDatum
	}
	d, err := types.ParseText(types.TJSONB, string(text), time.UTC)
	if err != nil {
		return types.NullDatum
	}
	return d
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
