package planner

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/apache/arrow-go/v18/arrow"
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
	match  bool // HEADER MATCH: the header line must name the columns
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
			switch strings.ToLower(v) {
			case "", "true", "on", "1":
				f.header = true
			case "false", "off", "0":
			case "match":
				f.header, f.match = true, true
			default:
				return f, sqlerr.New(sqlerr.SyntaxError, "header requires a Boolean value or \"match\"")
			}
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
	if f.binary && f.header {
		return f, sqlerr.Unsupported("cannot specify HEADER in BINARY mode")
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
	ended      bool // the end marker \. was read: the rest is ignored
	block      []types.Datum
}

// CopyOut streams a query's rows as COPY TO STDOUT lines.
type CopyOut struct {
	Rows    exec.Operator
	Ctx     *expr.Ctx
	Types   []types.T
	format  copyFormat
	names   []string
	Columns int
	// Binary is set for COPY ... TO STDOUT (FORMAT binary).
	Binary bool
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
		return &Result{CopyOut: newCopyOut(sub, ctx, cols, f, true)}, nil
	}
	if !st.From {
		node := p.plan
		if node == nil {
			o, _ := s.lookup(st.Table)
			if o == nil {
				return nil, sqlerr.New(sqlerr.UndefinedTable, "relation %q does not exist", st.Table)
			}
			b := s.newBinder(&pgsql.Translated{AliasColumns: map[string][]string{}}, nil)
			n, cols, err := b.table(&ast.TableName{Schema: ast.NewCIStr(o.Schema()), Name: ast.NewCIStr(o.RelName())}, o.RelName(), nil)
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
		return &Result{CopyOut: newCopyOut(op, ctx, cols, f, false)}, nil
	}
	o, _ := s.lookup(st.Table)
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
	return &Result{CopyIn: ci}, nil
}

func newCopyOut(rows exec.Operator, ctx *expr.Ctx, cols []Column, f copyFormat, streaming bool) *CopyOut {
	co := &CopyOut{Rows: rows, Ctx: ctx, Types: colTypes(cols), format: f, Columns: len(cols), Binary: f.binary, Streaming: streaming}
	for _, c := range cols {
		co.names = append(co.names, c.Name)
	}
	return co
}

// Write takes a chunk of COPY data (any split).
func (c *CopyIn) Write(data []byte) error {
	if c.ended {
		return nil
	}
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
				return c.errf(1, "", "COPY file signature not recognized")
			}
			return nil
		}
		if string(b[:11]) != string(copyBinarySignature) {
			return c.errf(1, "", "COPY file signature not recognized")
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
			return c.errf(c.line+1, "", "row field count is %d, expected %d", n, len(c.target))
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
				return sqlerr.As(err).WithWhere(fmt.Sprintf("COPY %s, line %d, column %s", c.table.Name, c.line+1, col.Name))
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
		return c.errf(c.line+1, "", "unexpected end of binary COPY data")
	}
	return nil
}

// parse consumes complete records from the buffer.
func (c *CopyIn) parse(final bool) error {
	if c.Binary {
		return c.parseBinary(final)
	}
	for len(c.buf) > 0 && !c.ended {
		end, raw, fields, err := c.record(final)
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
			if c.format.match {
				if err := c.matchHeader(raw, fields); err != nil {
					return err
				}
			}
			continue
		}
		if fields == nil {
			continue
		}
		if len(fields) == 1 && fields[0] == &endMarker {
			// the end-of-data marker: what follows it is ignored, as in PostgreSQL
			c.buf, c.ended = nil, true
			return nil
		}
		if err := c.addRow(raw, fields); err != nil {
			return err
		}
	}
	return nil
}

// matchHeader checks HEADER MATCH's line against the target columns.
func (c *CopyIn) matchHeader(raw string, fields []*string) error {
	if len(fields) != len(c.target) {
		return c.errf(c.line, raw, "wrong number of fields in header line: got %d, expected %d", len(fields), len(c.target))
	}
	for k, f := range fields {
		want := c.table.Columns[c.target[k]].Name
		if f == nil {
			return c.errf(c.line, raw, "column name mismatch in header line field %d: got null value (\"%s\"), expected \"%s\"", k+1, c.format.null, want)
		}
		if *f != want {
			return c.errf(c.line, raw, "column name mismatch in header line field %d: got \"%s\", expected \"%s\"", k+1, *f, want)
		}
	}
	return nil
}

// endMarker is the field record returns for the line \. that ends the data.
var endMarker = `\.`

// record splits one record from the buffer: end offset (-1 if incomplete),
// the record's text and its fields (nil entry = NULL).
func (c *CopyIn) record(final bool) (int, string, []*string, error) {
	b := c.buf
	if !c.format.csv {
		nl := bytes.IndexByte(b, '\n')
		if nl < 0 {
			if !final {
				return -1, "", nil, nil
			}
			nl = len(b)
		}
		if !utf8.Valid(b[:nl]) {
			return 0, "", nil, c.encodingError(b[:nl])
		}
		line := strings.TrimSuffix(string(b[:nl]), "\r")
		end := min(nl+1, len(b))
		if line == "" && nl == len(b) {
			return end, "", nil, nil
		}
		if line == `\.` {
			return end, line, []*string{&endMarker}, nil
		}
		var out []*string
		for _, raw := range strings.Split(line, string(c.format.delim)) {
			if raw == c.format.null {
				out = append(out, nil)
				continue
			}
			v, err := unescapeCopy(raw)
			if err != nil {
				return 0, "", nil, c.errf(c.line+1, line, "%v", err)
			}
			out = append(out, &v)
		}
		return end, line, out, nil
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
					return -1, "", nil, nil
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
			if !utf8.Valid(b[:i]) {
				return 0, "", nil, c.encodingError(b[:i])
			}
			if len(out) == 0 && len(field) == 0 && !quoted {
				return end, "", nil, nil
			}
			if len(out) == 0 && !quoted && string(field) == `\.` {
				return end, `\.`, []*string{&endMarker}, nil
			}
			out = append(out, c.csvField(field, quoted))
			return end, string(b[:i]), out, nil
		default:
			field = append(field, ch)
		}
	}
	if !final {
		return -1, "", nil, nil
	}
	if !utf8.Valid(b) {
		return 0, "", nil, c.encodingError(b)
	}
	if inQuotes {
		return 0, "", nil, c.errf(c.line+1, string(b), "unterminated CSV quoted field")
	}
	if len(out) == 0 && len(field) == 0 && !quoted {
		return len(b), "", nil, nil
	}
	if len(out) == 0 && !quoted && string(field) == `\.` {
		return len(b), `\.`, []*string{&endMarker}, nil
	}
	out = append(out, c.csvField(field, quoted))
	return len(b), string(b), out, nil
}

// encodingError reports the first bad UTF-8 sequence of a record.
func (c *CopyIn) encodingError(b []byte) error {
	if err := types.CheckText(string(b)); err != nil {
		return sqlerr.As(err).WithWhere(c.where(c.line+1, ""))
	}
	return nil
}

func (c *CopyIn) csvField(f []byte, quoted bool) *string {
	s := string(f)
	if !quoted && s == c.format.null {
		return nil
	}
	return &s
}

// errf is a 22P04 error in the given line of the input, quoted when
// text is not empty: PostgreSQL's context line.
func (c *CopyIn) errf(line int, text, format string, args ...any) error {
	return sqlerr.New(sqlerr.BadCopyFileFormat, format, args...).WithWhere(c.where(line, text))
}

func (c *CopyIn) where(line int, text string) string {
	if text == "" {
		return fmt.Sprintf("COPY %s, line %d", c.table.Name, line)
	}
	return fmt.Sprintf("COPY %s, line %d: %s", c.table.Name, line, quoteContext(text))
}

// quoteContext quotes a line of input as PostgreSQL's context does,
// cut after 100 bytes.
func quoteContext(s string) string {
	if len(s) > 100 {
		cut := 100
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		return `"` + s[:cut] + `..."`
	}
	return `"` + s + `"`
}

func (c *CopyIn) addRow(raw string, fields []*string) error {
	if len(fields) != len(c.target) {
		if len(fields) < len(c.target) {
			return c.errf(c.line, raw, "missing data for column %q", c.table.Columns[c.target[len(fields)]].Name)
		}
		return c.errf(c.line, raw, "extra data after last expected column")
	}
	r := c.newRow()
	for k, f := range fields {
		col := c.table.Columns[c.target[k]]
		if f == nil {
			continue
		}
		d, err := types.ParseText(col.Type, *f, c.s.loc)
		if err != nil && sqlerr.Code(err) == sqlerr.CharacterNotInRepertoire {
			// an escape made bytes that are not text: the line, as it came
			return sqlerr.As(err).WithWhere(c.where(c.line, raw))
		}
		if err != nil {
			return sqlerr.As(err).WithWhere(fmt.Sprintf("COPY %s, line %d, column %s: %s", c.table.Name, c.line, col.Name, quoteContext(*f)))
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

// Each calls f with the output: every line (ending in a newline) of the
// text and CSV formats, the header line first when asked for, or every
// tuple of the binary format after its signature and before its trailer;
// batchDone (when not nil) after each batch. It closes Rows.
func (c *CopyOut) Each(f func(line []byte) error, batchDone func() error) (int64, error) {
	defer c.Rows.Close()
	var n int64
	var line []byte
	switch {
	case c.Binary:
		line = append(line, copyBinarySignature...)
		line = binary.BigEndian.AppendUint32(line, 0) // flags
		line = binary.BigEndian.AppendUint32(line, 0) // header extension
		if err := f(line); err != nil {
			return 0, err
		}
	case c.format.header:
		for k, name := range c.names {
			if k > 0 {
				line = append(line, c.format.delim)
			}
			line = c.appendField(line, name)
		}
		if err := f(append(line, '\n')); err != nil {
			return 0, err
		}
	}
	for {
		b, err := c.Rows.Next(c.Ctx)
		if err != nil {
			return n, err
		}
		if b == nil {
			if c.Binary {
				return n, f(binary.BigEndian.AppendUint16(line[:0], 0xffff))
			}
			return n, nil
		}
		for r := 0; r < int(b.NumRows()); r++ {
			if line, err = c.appendRow(line[:0], b, r); err != nil {
				b.Release()
				return n, err
			}
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

// appendRow appends row r of b in the output format.
func (c *CopyOut) appendRow(line []byte, b arrow.Record, r int) ([]byte, error) {
	if c.Binary {
		line = binary.BigEndian.AppendUint16(line, uint16(b.NumCols()))
		for col := 0; col < int(b.NumCols()); col++ {
			d := types.DatumAt(b.Column(col), r)
			if d.Null {
				line = binary.BigEndian.AppendUint32(line, 0xffffffff)
				continue
			}
			at := len(line)
			line = append(line, 0, 0, 0, 0)
			var err error
			if line, err = types.AppendBinary(line, c.Types[col], d); err != nil {
				return nil, err
			}
			binary.BigEndian.PutUint32(line[at:], uint32(len(line)-at-4))
		}
		return line, nil
	}
	for col := 0; col < int(b.NumCols()); col++ {
		if col > 0 {
			line = append(line, c.format.delim)
		}
		d := types.DatumAt(b.Column(col), r)
		if d.Null {
			line = append(line, c.format.null...)
			continue
		}
		line = c.appendField(line, types.FormatText(c.Types[col], d, c.Ctx.Loc))
	}
	return append(line, '\n'), nil
}

func (c *CopyOut) appendField(line []byte, s string) []byte {
	if c.format.csv && c.Columns == 1 && s == `\.` {
		// alone on a line it would read back as the end marker
		return append(line, c.format.quote, '\\', '.', c.format.quote)
	}
	if c.format.csv {
		return appendCSV(line, s, c.format)
	}
	return appendCopyText(line, s)
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
	need := s == f.null || strings.IndexByte(s, f.delim) >= 0 || strings.ContainsAny(s, "\"\r\n") || strings.IndexByte(s, f.quote) >= 0
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
