package wire

import (
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/jackc/pgx/v5/pgproto3"
	"github.com/streamsql/streamsql/planner"
	"github.com/streamsql/streamsql/types"
)

// wireType is the type a column is sent as: unknown and NULL-typed
// columns go out as text.
func wireType(t types.T) types.T {
	if t.Kind == types.Unknown || t.Kind == types.Null {
		return types.TText
	}
	return t
}

func rowDescription(cols []planner.Column, formats []int16) *pgproto3.RowDescription {
	rd := &pgproto3.RowDescription{Fields: make([]pgproto3.FieldDescription, len(cols))}
	for i, c := range cols {
		t := wireType(c.Type)
		mod := int32(-1)
		if t.Kind == types.Text && t.Mod >= 0 {
			mod = t.Mod + 4
		}
		if t.Kind == types.Numeric && t.Mod >= 0 {
			mod = t.Mod + 4
		}
		rd.Fields[i] = pgproto3.FieldDescription{
			Name: []byte(c.Name), TableOID: c.TableOID, TableAttributeNumber: uint16(c.AttNum),
			DataTypeOID: t.OID(), DataTypeSize: t.Size(), TypeModifier: mod, Format: formatFor(formats, i),
		}
	}
	return rd
}

// formatFor applies Bind's result-format rule: none means text, one applies to all.
func formatFor(formats []int16, i int) int16 {
	switch len(formats) {
	case 0:
		return 0
	case 1:
		return formats[0]
	}
	if i < len(formats) {
		return formats[i]
	}
	return 0
}

// rowEncoder turns batch rows into DataRow messages, reusing buffers.
type rowEncoder struct {
	ts      []types.T
	formats []int16
	loc     *time.Location
	buf     []byte
	vals    [][]byte
	// regName prints regclass, regtype, regproc and regnamespace values
	// as the names of the objects their OIDs identify
	regName func(t types.T, oid int64) string
}

func newRowEncoder(cols []planner.Column, formats []int16, loc *time.Location, regName func(types.T, int64) string) *rowEncoder {
	e := &rowEncoder{formats: formats, loc: loc, vals: make([][]byte, len(cols)), buf: make([]byte, 0, 256), regName: regName}
	for _, c := range cols {
		e.ts = append(e.ts, wireType(c.Type))
	}
	return e
}

func (e *rowEncoder) row(b arrow.RecordBatch, r int) (*pgproto3.DataRow, error) {
	e.buf = e.buf[:0]
	offs := make([]int, len(e.ts)+1)
	nulls := make([]bool, len(e.ts))
	for c := range e.ts {
		offs[c] = len(e.buf)
		d := types.DatumAt(b.Column(c), r)
		if d.Null {
			nulls[c] = true
			continue
		}
		if formatFor(e.formats, c) == 1 {
			var err error
			if e.buf, err = types.AppendBinary(e.buf, e.ts[c], d); err != nil {
				return nil, err
			}
		} else if t := e.ts[c]; t.Kind == types.Oid && t.Name != "" && e.regName != nil {
			e.buf = append(e.buf, e.regName(t, d.I)...)
		} else {
			e.buf = append(e.buf, types.FormatText(e.ts[c], d, e.loc)...)
		}
	}
	offs[len(e.ts)] = len(e.buf)
	for c := range e.ts {
		if nulls[c] {
			e.vals[c] = nil
		} else {
			e.vals[c] = e.buf[offs[c]:offs[c+1]:offs[c+1]]
		}
	}
	return &pgproto3.DataRow{Values: e.vals}, nil
}
