package planner

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"strings"

	"github.com/pingcap/tidb/pkg/parser/ast"
	"github.com/streamsql/streamsql/catalog"
	"github.com/streamsql/streamsql/engine/exec"
	"github.com/streamsql/streamsql/engine/expr"
	"github.com/streamsql/streamsql/engine/storage"
	"github.com/streamsql/streamsql/planner/pgsql"
	"github.com/streamsql/streamsql/sqlerr"
	"github.com/streamsql/streamsql/types"
)

// copyFormat is the text or CSV format of COPY.
type copyFormat struct {
	binary bool
	csv    bool
	delim  byte
	null   string
	header bool
	quote  byte
	escape byte
}

func parseCopyOptions(opts map[string]string) (copyFormat, error) {
	f := copyFormat{delim: '\t', null: `\N`, quote: '"', escape: '"'}
	switch strings.ToLower(opts["format"]) {
	case "", "text":
	case "csv":
		f.csv, f.delim, f.null = true, ',', ""
	case "binary":
		f.binary = true
	default:
		return f, sqlerr.New(sqlerr.InvalidParameterValue, "COPY format %q not recognized", opts["format"])
	}
	for k, v := range opts {
		switch k {
		case "format":
		case "delimiter":
			if len(v) != 1 {
				return f, sqlerr.New(sqlerr.FeatureNotSupported, "COPY delimiter must be a single one-byte character")
			}
			f.delim = v[0]
		case "null":
			f.null = v
		case "header":
			f.header = v == "true" || v == "on" || v == "1" || v == ""
		case "quote":
			if len(v) == 1 {
				f.quote = v[0]
			}
		case "escape":
			if len(v) == 1 {
				f.escape = v[0]
			}
		case "encoding":
			if !strings.EqualFold(strings.ReplaceAll(v, "-", ""), "utf8") {
				return f, sqlerr.Unsupported("COPY encoding %q is not supported", v)
			}
		default:
			return f, sqlerr.New(sqlerr.SyntaxError, "option %q not recognized", k)
		}
	}
	return f, nil
}

// CopyIn receives COPY ... FROM STDIN data and stores it when finished.
// Nothing is stored unless every row parses: a COPY is all or nothing.
type CopyIn struct {
	s       *Session
	table   *catalog.Object
	target  []int
	format  copyFormat
	buf     []byte
	rows    []storage.Row
	line    int
	skipHdr bool
	// Columns is the number of columns the client sends.
	Columns int
	// Binary is set for COPY ... (FORMAT binary).
	Binary     bool
	sawHeader  bool
	sawTrailer bool
	block      []types.Datum
}

// CopyOut streams a query's rows as COPY TO STDOUT lines.
type CopyOut struct {
	Rows    exec.Operator
	Ctx     *expr.Ctx
	Types   []types.T
	format  copyFormat
	Columns int
	// Streaming rows (COPY (SUBSCRIBE ...)) are flushed after every batch.
	Streaming bool
}

func (s *Session) copy(ctx *expr.Ctx, st *pgsql.Copy, p *Prepared) (*Result, error) {
	f, err := parseCopyOptions(st.Options)
	if err != nil {
		return nil, err
	}
	if st.Subscribe != nil {
		sub, cols, err := s.subscribe(ctx, st.Subscribe)
		if err != nil {
			return nil, err
		}
		return &Result{CopyOut: &CopyOut{Rows: sub, Ctx: ctx, Types: colTypes(cols), format: f, Columns: len(cols), Streaming: true}}, nil
	}
	if !st.From {
		node := p.plan
		if node == nil {
			o := s.db.Catalog.Lookup(st.Table)
			if o == nil {
				return nil, sqlerr.New(sqlerr.UndefinedTable, "relation %q does not exist", st.Table)
			}
			b := s.newBinder(&pgsql.Translated{AliasColumns: map[string][]string{}}, nil)
			n, cols, err := b.table(astTableName(st.Table), st.Table, nil)
			if err != nil {
				return nil, err
			}
			node = n
			if len(st.Columns) > 0 {
				var es []expr.Expr
				var out []Column
				for _, name := range st.Columns {
					i := -1
					for k, c := range cols {
						if c.Name == name {
							i = k
						}
					}
					if i < 0 {
						return nil, sqlerr.New(sqlerr.UndefinedColumn, "column %q of relation %q does not exist", name, st.Table)
					}
					es = append(es, &expr.Col{Idx: i, T: cols[i].Type})
					out = append(out, cols[i])
				}
				node = &ProjectNode{In: node, Exprs: es, Cols: out}
			}
		}
		op, err := build(ctx, s.db, node)
		if err != nil {
			return nil, err
		}
		cols := visible(node.Columns())
		return &Result{CopyOut: &CopyOut{Rows: op, Ctx: ctx, Types: colTypes(cols), format: f, Columns: len(cols)}}, nil
	}
	o := s.db.Catalog.Lookup(st.Table)
	if o == nil {
		return nil, sqlerr.New(sqlerr.UndefinedTable, "relation %q does not exist", st.Table)
	}
	if o.Kind != catalog.KindTable && o.Kind != catalog.KindStream {
		return nil, sqlerr.New(sqlerr.WrongObjectType, "cannot copy to %s %q", o.Kind, o.Name)
	}
	if err := checkWritable(o); err != nil {
		return nil, err
	}
	ci := &CopyIn{s: s, table: o, format: f, skipHdr: f.header}
	if len(st.Columns) == 0 {
		for i := range o.Columns {
			ci.target = append(ci.target, i)
		}
	} else {
		for _, name := range st.Columns {
			i := o.ColumnIndex(name)
			if i < 0 {
				return nil, sqlerr.New(sqlerr.UndefinedColumn, "column %q of relation %q does not exist", name, o.Name)
			}
			ci.target = append(ci.target, i)
		}
	}
	ci.Columns = len(ci.target)
	ci.Binary = f.binary
	if f.binary && !st.From {
		return nil, sqlerr.Unsupported("COPY TO in binary format is not supported")
	}
	return &Result{CopyIn: ci}, nil
}

// Write takes a chunk of COPY data (any split).
func (c *CopyIn) Write(data []byte) error {
	if len(c.buf) == 0 {
		// parse the client's chunk in place; keep only an incomplete tail
		c.buf = data
		err := c.parse(false)
		c.buf = append([]byte(nil), c.buf...)
		return err
	}
	c.buf = append(c.buf, data...)
	return c.parse(false)
}

// newRow returns an all-NULL row, carved from a block shared by many rows
// so that a large COPY does not allocate per row.
func (c *CopyIn) newRow() storage.Row {
	n := len(c.table.Columns)
	if len(c.block) < n {
		c.block = make([]types.Datum, n*1024)
	}
	r := storage.Row(c.block[:n:n])
	c.block = c.block[n:]
	for i := range r {
		r[i] = types.NullDatum
	}
	return r
}

var copyBinarySignature = []byte("PGCOPY\n\xff\r\n\x00")

// parseBinary consumes complete tuples of the binary COPY format.
func (c *CopyIn) parseBinary(final bool) error {
	b := c.buf
	if !c.sawHeader {
		if len(b) < 19 {
			if final {
				return c.errf("COPY file signature not recognized")
			}
			return nil
		}
		if string(b[:11]) != string(copyBinarySignature) {
			return c.errf("COPY file signature not recognized")
		}
		ext := int(binary.BigEndian.Uint32(b[15:]))
		if len(b) < 19+ext {
			return nil
		}
		b = b[19+ext:]
		c.sawHeader = true
	}
	for len(b) >= 2 && !c.sawTrailer {
		n := int(int16(binary.BigEndian.Uint16(b)))
		if n == -1 {
			c.sawTrailer = true
			b = b[2:]
			break
		}
		if n != len(c.target) {
			return c.errf("row field count is %d, expected %d", n, len(c.target))
		}
		p := 2
		vals := make([][]byte, n)
		complete := true
		for k := 0; k < n; k++ {
			if len(b) < p+4 {
				complete = false
				break
			}
			l := int(int32(binary.BigEndian.Uint32(b[p:])))
			p += 4
			if l < 0 {
				continue
			}
			if len(b) < p+l {
				complete = false
				break
			}
			vals[k] = b[p : p+l]
			if vals[k] == nil {
				vals[k] = []byte{}
			}
			p += l
		}
		if !complete {
			break
		}
		r := c.newRow()
		for k, v := range vals {
			if v == nil {
				continue
			}
			col := c.table.Columns[c.target[k]]
			d, err := types.ParseBinary(col.Type, v)
			if err != nil {
				return sqlerr.As(err).WithDetail(fmt.Sprintf("COPY %s, line %d, column %s", c.table.Name, c.line+1, col.Name))
			}
			r[c.target[k]] = d
		}
		c.rows = append(c.rows, r)
		c.line++
		b = b[p:]
	}
	c.buf = b
	// end of data at a tuple boundary is fine with or without the trailer
	if final && len(c.buf) > 0 && !c.sawTrailer {
		return c.errf("unexpected end of binary COPY data")
	}
	return nil
}

// parse consumes complete records from the buffer.
func (c *CopyIn) parse(final bool) error {
	if c.Binary {
		return c.parseBinary(final)
	}
	for len(c.buf) > 0 {
		end, fields, err := c.record(final)
		if err != nil {
			return err
		}
		if end < 0 {
			return nil
		}
		c.buf = c.buf[end:]
		c.line++
		if c.skipHdr {
			c.skipHdr = false
			continue
		}
		if fields == nil {
			continue
		}
		if len(fields) == 1 && fields[0] != nil && *fields[0] == `\.` && !c.format.csv {
			c.buf = nil
			return nil
		}
		if err := c.addRow(fields); err != nil {
			return err
		}
	}
	return nil
}

// record splits one record from the buffer: end offset (-1 if incomplete)
// and its fields (nil entry = NULL).
func (c *CopyIn) record(final bool) (int, []*string, error) {
	b := c.buf
	if !c.format.csv {
		nl := bytes.IndexByte(b, '\n')
		if nl < 0 {
			if !final {
				return -1, nil, nil
			}
			nl = len(b)
		}
		line := strings.TrimSuffix(string(b[:nl]), "\r")
		end := min(nl+1, len(b))
		if line == "" && nl == len(b) {
			return end, nil, nil
		}
		var out []*string
		for _, raw := range strings.Split(line, string(c.format.delim)) {
			if raw == c.format.null {
				out = append(out, nil)
				continue
			}
			v, err := unescapeCopy(raw)
			if err != nil {
				return 0, nil, c.errf("%v", err)
			}
			out = append(out, &v)
		}
		return end, out, nil
	}
	// CSV: a record ends at a newline outside quotes
	var out []*string
	var field []byte
	quoted, inQuotes := false, false
	for i := 0; i < len(b); i++ {
		ch := b[i]
		switch {
		case inQuotes:
			if ch == c.format.escape && i+1 < len(b) && b[i+1] == c.format.quote && c.format.escape != c.format.quote {
				field = append(field, c.format.quote)
				i++
			} else if ch == c.format.quote {
				if c.format.escape == c.format.quote && i+1 < len(b) && b[i+1] == c.format.quote {
					field = append(field, ch)
					i++
				} else if i+1 >= len(b) && !final {
					return -1, nil, nil
				} else {
					inQuotes = false
				}
			} else {
				field = append(field, ch)
			}
		case ch == c.format.quote:
			inQuotes, quoted = true, true
		case ch == c.format.delim:
			out = append(out, c.csvField(field, quoted))
			field, quoted = nil, false
		case ch == '\n' || ch == '\r':
			end := i + 1
			if ch == '\r' && i+1 < len(b) && b[i+1] == '\n' {
				end++
			}
			if len(out) == 0 && len(field) == 0 && !quoted {
				return end, nil, nil
			}
			out = append(out, c.csvField(field, quoted))
			if len(out) == 1 && out[0] != nil && *out[0] == `\.` {
				return len(b), nil, nil
			}
			return end, out, nil
		default:
			field = append(field, ch)
		}
	}
	if !final {
		return -1, nil, nil
	}
	if inQuotes {
		return 0, nil, c.errf("unterminated CSV quoted field")
	}
	if len(out) == 0 && len(field) == 0 && !quoted {
		return len(b), nil, nil
	}
	out = append(out, c.csvField(field, quoted))
	return len(b), out, nil
}

func (c *CopyIn) csvField(f []byte, quoted bool) *string {
	s := string(f)
	if !quoted && s == c.format.null {
		return nil
	}
	return &s
}

func (c *CopyIn) errf(format string, args ...any) error {
	e := sqlerr.New(sqlerr.BadCopyFileFormat, format, args...)
	e.Detail = fmt.Sprintf("COPY %s, line %d", c.table.Name, c.line+1)
	return e
}

func (c *CopyIn) addRow(fields []*string) error {
	if len(fields) != len(c.target) {
		if len(fields) < len(c.target) {
			return c.errf("missing data for column %q", c.table.Columns[c.target[len(fields)]].Name)
		}
		return c.errf("extra data after last expected column")
	}
	r := c.newRow()
	for k, f := range fields {
		col := c.table.Columns[c.target[k]]
		if f == nil {
			continue
		}
		d, err := types.ParseText(col.Type, *f, c.s.loc)
		if err != nil {
			e := sqlerr.As(err)
			e = e.WithDetail(fmt.Sprintf("COPY %s, line %d, column %s: %q", c.table.Name, c.line, col.Name, *f))
			return e
		}
		r[c.target[k]] = d
	}
	c.rows = append(c.rows, r)
	return nil
}

// Finish stores the rows and returns how many there were.
func (c *CopyIn) Finish() (int64, error) {
	if err := c.parse(true); err != nil {
		return 0, err
	}
	if err := checkNotNull(c.table, c.rows); err != nil {
		return 0, err
	}
	if err := c.s.db.appendRows(c.table, c.rows); err != nil {
		return 0, err
	}
	return int64(len(c.rows)), nil
}

func unescapeCopy(s string) (string, error) { return pgsql.DecodeBackslashes(s, true) }

// Each calls f with every output line (ending in a newline), and batchDone
// (when not nil) after each batch; it closes Rows.
func (c *CopyOut) Each(f func(line []byte) error, batchDone func() error) (int64, error) {
	defer c.Rows.Close()
	var n int64
	var line []byte
	for {
		b, err := c.Rows.Next(c.Ctx)
		if err != nil {
			return n, err
		}
		if b == nil {
			return n, nil
		}
		for r := 0; r < int(b.NumRows()); r++ {
			line = line[:0]
			for col := 0; col < int(b.NumCols()); col++ {
				if col > 0 {
					line = append(line, c.format.delim)
				}
				d := types.DatumAt(b.Column(col), r)
				if d.Null {
					line = append(line, c.format.null...)
					continue
				}
				s := types.FormatText(c.Types[col], d, c.Ctx.Loc)
				if c.format.csv {
					line = appendCSV(line, s, c.format)
				} else {
					line = appendCopyText(line, s)
				}
			}
			line = append(line, '\n')
			if err := f(line); err != nil {
				b.Release()
				return n, err
			}
			n++
		}
		b.Release()
		if batchDone != nil {
			if err := batchDone(); err != nil {
				return n, err
			}
		}
	}
}

func appendCopyText(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		switch ch := s[i]; ch {
		case '\\':
			dst = append(dst, '\\', '\\')
		case '\n':
			dst = append(dst, '\\', 'n')
		case '\r':
			dst = append(dst, '\\', 'r')
		case '\t':
			dst = append(dst, '\\', 't')
		default:
			dst = append(dst, ch)
		}
	}
	return dst
}

func appendCSV(dst []byte, s string, f copyFormat) []byte {
	need := s == "" || s == f.null || strings.IndexByte(s, f.delim) >= 0 || strings.ContainsAny(s, "\"\r\n") || strings.IndexByte(s, f.quote) >= 0
	if !need {
		return append(dst, s...)
	}
	dst = append(dst, f.quote)
	for i := 0; i < len(s); i++ {
		if s[i] == f.quote || s[i] == f.escape {
			dst = append(dst, f.escape)
		}
		dst = append(dst, s[i])
	}
	return append(dst, f.quote)
}

func astTableName(name string) *ast.TableName { return &ast.TableName{Name: ast.NewCIStr(name)} }
