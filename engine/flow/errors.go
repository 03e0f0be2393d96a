package flow

import (
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/streamsql/streamsql/engine/expr"
	"github.com/streamsql/streamsql/sources/streamstore"
	"github.com/streamsql/streamsql/sqlerr"
	"github.com/streamsql/streamsql/types"
)

// A row that an expression of a job fails on (division by zero, a bad
// cast, an overflow) does not stop the job: the operator drops it and the
// job goes on with the other rows (see dataflow.DropFailing). The row is
// kept in the job's error stream: the input row as JSONB, the error, its
// SQLSTATE, the time, and the source shard and sequence number it came
// from. Its columns are ErrorColumns.

// ErrorColumns name and type the columns of an error stream.
var ErrorColumns = []struct {
	Name string
	Type types.T
}{
	{"input_row", types.TJSONB},
	{"error", types.TText},
	{"sqlstate", types.TText},
	{"error_time", types.TTimestampTZ},
	{"source", types.TText},
	{"source_shard", types.TInt32},
	{"source_seq", types.TInt64},
}

// ErrorStream collects a job's failed rows until the job writes them to
// the stream, before the changes of the step they failed in.
type ErrorStream struct {
	stream *streamstore.Stream
	source string // the relation the job reads
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

// NewErrorStream writes a job's failed rows to s; source names the
// relation the job reads.
func NewErrorStream(s *streamstore.Stream, source string) *ErrorStream {
	return &ErrorStream{stream: s, source: source}
}

// add records one failed row; it may be called from an aggregate's workers.
func (e *ErrorStream) add(r expr.RowError) {
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

// write appends the rows collected so far (true when there were any).
func (e *ErrorStream) write() (bool, error) {
	e.mu.Lock()
	rows := e.buf
	e.buf = nil
	e.mu.Unlock()
	if len(rows) == 0 {
		return false, nil
	}
	if _, err := e.stream.Append(rows); err != nil {
		return false, err
	}
	return true, nil
}

// discard forgets the rows collected so far (they failed in a replay:
// the stream has them already).
func (e *ErrorStream) discard() {
	e.mu.Lock()
	e.buf = nil
	e.mu.Unlock()
}

// rowJSON is a failed row as JSON: an object of its columns when their
// names are known (the positions _shard, _seq and _arrival aside: they
// have columns of their own), an array otherwise.
func rowJSON(r expr.RowError) types.Datum {
	b := r.Batch
	value := func(c int) any {
		d := types.DatumAt(b.Column(c), r.Row)
		if c < len(r.Cols.Types) {
			return types.JSONValue(r.Cols.Types[c], d)
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
			return types.JSONValue(types.TFloat64, d)
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
