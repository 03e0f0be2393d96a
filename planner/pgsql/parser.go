package pgsql

import (
	"regexp"
	"strconv"
	"strings"

	"github.com/pingcap/tidb/pkg/parser"
	"github.com/pingcap/tidb/pkg/parser/ast"
	"github.com/pingcap/tidb/pkg/parser/mysql"
	_ "github.com/pingcap/tidb/pkg/parser/test_driver" // literal values for the parser
	"github.com/streamsql/streamsql/catalog"
	"github.com/streamsql/streamsql/sqlerr"
	"github.com/streamsql/streamsql/types"
)

// Parser parses PostgreSQL-flavoured SQL. It is not safe for concurrent use
// (the TiDB parser inside is not): keep one per session.
type Parser struct {
	tidb *parser.Parser
}

// NewParser returns a parser.
func NewParser() *Parser {
	p := parser.New()
	p.SetSQLMode(mysql.ModeANSIQuotes | mysql.ModePipesAsConcat | mysql.ModeNoBackslashEscapes)
	return &Parser{tidb: p}
}

// Parse parses every statement of src. A syntax error anywhere fails the
// whole string, as in PostgreSQL, before anything runs.
func (p *Parser) Parse(src string) ([]Statement, error) {
	toks, err := Lex(src)
	if err != nil {
		return nil, err
	}
	var out []Statement
	for _, st := range Split(src, toks) {
		s, err := p.parseOne(src, st)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}

// ParseQuery translates and parses one query or DML statement given as tokens.
func (p *Parser) ParseQuery(src string, toks []Token) (*Query, error) {
	tr, err := Translate(src, toks)
	if err != nil {
		return nil, err
	}
	text := stmtText(src, toks)
	stmts, _, err := p.tidb.Parse(tr.SQL, "", "")
	if err != nil {
		return nil, p.mapError(tr, err)
	}
	if len(stmts) != 1 {
		return nil, sqlerr.Syntax(CharPos(src, toks[0].Pos), "expected one statement")
	}
	return &Query{Node: stmts[0], Tr: tr, Text: text}, nil
}

// ParseExpr parses a stand-alone expression (a DEFAULT, a WATERMARK bound)
// as the select list of a one-column query.
func (p *Parser) ParseExpr(expr string) (*Query, error) {
	src := "SELECT " + expr
	toks, err := Lex(src)
	if err != nil {
		return nil, err
	}
	return p.ParseQuery(src, toks)
}

// ParseSelectList parses "a, b, c" in translated (TiDB) syntax, as produced
// for table function arguments.
func (p *Parser) ParseSelectList(list string) (*Query, error) {
	stmts, _, err := p.tidb.Parse("select "+list, "", "")
	if err != nil {
		return nil, sqlerr.Syntax(0, "syntax error in table function arguments: %v", err)
	}
	return &Query{Node: stmts[0], Tr: &Translated{SQL: "select " + list, AliasColumns: map[string][]string{}}}, nil
}

var nearRe = regexp.MustCompile(`(?s)near "(.*)"\s*$`)

func (p *Parser) mapError(tr *Translated, err error) error {
	msg := err.Error()
	m := nearRe.FindStringSubmatch(msg)
	if m == nil {
		if strings.Contains(msg, "line 1 column") || strings.Contains(msg, "syntax") {
			return sqlerr.Syntax(CharPos(tr.src, len(tr.src)), "syntax error at end of input")
		}
		return sqlerr.Syntax(0, "syntax error: %s", msg)
	}
	off := len(tr.SQL) - len(m[1])
	if off < 0 {
		off = 0
	}
	pos := tr.SourcePos(off)
	// report the source token at that position
	byteOff := 0
	for i, cnt := 0, 1; i < len(tr.src) && cnt < pos; i++ {
		if tr.src[i]&0xC0 != 0x80 {
			cnt++
		}
		byteOff = i + 1
	}
	return syntaxAt(tr.src, byteOff)
}

func stmtText(src string, toks []Token) string {
	if len(toks) < 2 {
		return ""
	}
	last := toks[len(toks)-2]
	return src[toks[0].Pos : last.Pos+len(last.Raw)]
}

func (p *Parser) parseOne(src string, toks []Token) (Statement, error) {
	if len(toks) <= 1 {
		return &Empty{}, nil
	}
	t0 := toks[0]
	kw := func(i int) string {
		if i < len(toks) && toks[i].Kind == TIdent {
			return toks[i].Val
		}
		return ""
	}
	switch kw(0) {
	case "select", "with", "insert", "update", "delete", "values", "table":
		if kw(0) == "table" {
			// TABLE name is SELECT * FROM name
			if len(toks) != 3 {
				return nil, syntaxAt(src, toks[min(2, len(toks)-1)].Pos)
			}
			nsrc := "SELECT * FROM " + toks[1].Raw
			nt, err := Lex(nsrc)
			if err != nil {
				return nil, err
			}
			return p.ParseQuery(nsrc, nt)
		}
		return p.ParseQuery(src, toks)
	case "create":
		return p.parseCreate(src, toks)
	case "drop":
		return p.parseDrop(src, toks)
	case "show":
		return p.parseShow(src, toks)
	case "describe", "desc":
		if len(toks) < 3 {
			return nil, syntaxAt(src, toks[len(toks)-1].Pos)
		}
		name, rest, err := qualifiedName(src, toks[1:])
		if err != nil {
			return nil, err
		}
		if rest[0].Kind != TEOF {
			return nil, syntaxAt(src, rest[0].Pos)
		}
		return &Describe{Name: name}, nil
	case "explain":
		i := 1
		for kw(i) == "analyze" || kw(i) == "verbose" {
			i++
		}
		if i < len(toks) && toks[i].IsPunct("(") {
			for i < len(toks) && !toks[i].IsPunct(")") {
				i++
			}
			i++
		}
		if kw(i) == "analyze" {
			i++
		}
		if kw(i) == "materialized" && kw(i+1) == "view" {
			// EXPLAIN MATERIALIZED VIEW name: the running dataflow
			name, rest, err := qualifiedName(src, toks[i+2:])
			if err != nil {
				return nil, err
			}
			for _, t := range rest {
				if !t.IsPunct(";") && t.Kind != TEOF {
					return nil, syntaxAt(src, t.Pos)
				}
			}
			return &Explain{View: name}, nil
		}
		inner, err := p.parseOne(src, toks[i:])
		if err != nil {
			return nil, err
		}
		return &Explain{Stmt: inner}, nil
	case "set":
		return p.parseSet(src, toks)
	case "reset":
		if kw(1) == "" {
			return nil, syntaxAt(src, toks[1].Pos)
		}
		name := kw(1)
		if name == "time" && kw(2) == "zone" {
			name = "timezone"
		} else if name == "session" && kw(2) == "authorization" {
			name = "session_authorization"
		}
		return &Reset{Name: name}, nil
	case "begin", "start":
		return &Txn{Op: "begin"}, nil
	case "commit", "end":
		return &Txn{Op: "commit"}, nil
	case "rollback", "abort":
		if kw(1) == "to" || kw(2) == "to" {
			return &Txn{Op: "rollback_to"}, nil
		}
		return &Txn{Op: "rollback"}, nil
	case "savepoint":
		return &Txn{Op: "savepoint"}, nil
	case "release":
		return &Txn{Op: "release"}, nil
	case "copy":
		return p.parseCopy(src, toks)
	case "truncate":
		i := 1
		if kw(i) == "table" {
			i++
		}
		var names []string
		for {
			name, rest, err := qualifiedName(src, toks[i:])
			if err != nil {
				return nil, err
			}
			names = append(names, name)
			i = len(toks) - len(rest)
			if toks[i].IsPunct(",") {
				i++
				continue
			}
			break
		}
		for kw(i) == "restart" || kw(i) == "continue" || kw(i) == "identity" || kw(i) == "cascade" || kw(i) == "restrict" {
			i++
		}
		if toks[i].Kind != TEOF {
			return nil, syntaxAt(src, toks[i].Pos)
		}
		return &Truncate{Names: names}, nil
	case "flush":
		if len(toks) != 2 {
			return nil, syntaxAt(src, toks[1].Pos)
		}
		return &Flush{}, nil
	case "declare":
		return p.parseDeclare(src, toks)
	case "fetch", "move":
		return parseFetch(src, toks)
	case "close":
		if kw(1) == "" && toks[1].Kind != TQIdent {
			return nil, syntaxAt(src, toks[1].Pos)
		}
		return &CloseCursor{Name: toks[1].Val}, nil
	case "deallocate":
		i := 1
		if kw(i) == "prepare" {
			i++
		}
		if toks[i].Kind == TEOF {
			return nil, syntaxAt(src, toks[i].Pos)
		}
		return &Deallocate{Name: toks[i].Val}, nil
	case "discard":
		return &Discard{}, nil
	case "checkpoint":
		if len(toks) != 2 {
			return nil, syntaxAt(src, toks[1].Pos)
		}
		return &Checkpoint{}, nil
	case "alter":
		if kw(1) == "system" {
			return p.parseAlterSystem(src, toks)
		}
		return nil, sqlerr.Unsupported("ALTER is not supported").WithPosition(CharPos(src, t0.Pos))
	case "listen", "unlisten", "analyze", "vacuum", "notify":
		return &Ignored{Tag: strings.ToUpper(kw(0))}, nil
	case "subscribe":
		return p.parseSubscribe(src, toks)
	case "prepare", "execute":
		return nil, sqlerr.Unsupported("SQL-level %s is not supported; use the extended query protocol", strings.ToUpper(kw(0))).WithPosition(CharPos(src, t0.Pos))
	case "grant", "revoke", "comment", "lock", "do", "call", "merge", "reindex", "cluster", "refresh", "import", "load":
		return nil, sqlerr.Unsupported("%s is not supported", strings.ToUpper(kw(0))).WithPosition(CharPos(src, t0.Pos))
	}
	if t0.IsPunct("(") {
		return p.ParseQuery(src, toks)
	}
	return nil, syntaxAt(src, t0.Pos)
}

// qualifiedName reads name or schema.name, returned as written: "name"
// or "schema.name" (the planner resolves it against the search path).
// A quoted name holding a '.' is refused, since it would read as a schema.
func qualifiedName(src string, toks []Token) (string, []Token, error) {
	if len(toks) == 0 || (toks[0].Kind != TIdent && toks[0].Kind != TQIdent) {
		if len(toks) == 0 {
			return "", nil, sqlerr.Syntax(CharPos(src, len(src)), "syntax error at end of input")
		}
		return "", nil, syntaxAt(src, toks[0].Pos)
	}
	if err := dotless(src, toks[0]); err != nil {
		return "", nil, err
	}
	name := toks[0].Val
	rest := toks[1:]
	if len(rest) >= 2 && rest[0].IsPunct(".") && (rest[1].Kind == TIdent || rest[1].Kind == TQIdent) {
		if err := dotless(src, rest[1]); err != nil {
			return "", nil, err
		}
		name += "." + rest[1].Val
		rest = rest[2:]
	}
	return name, rest, nil
}

func dotless(src string, t Token) error {
	if strings.ContainsRune(t.Val, '.') {
		return sqlerr.New(sqlerr.InvalidName, "name %q contains a '.': streamsql keeps names free of dots so that schema.name reads one way", t.Val).WithPosition(CharPos(src, t.Pos))
	}
	return nil
}

func (p *Parser) parseCreate(src string, toks []Token) (Statement, error) {
	i := 1
	kw := func(k int) string {
		if k < len(toks) && toks[k].Kind == TIdent {
			return toks[k].Val
		}
		return ""
	}
	orReplace := false
	if kw(i) == "or" && kw(i+1) == "replace" {
		orReplace = true
		i += 2
	}
	for kw(i) == "temp" || kw(i) == "temporary" || kw(i) == "unlogged" {
		return nil, sqlerr.Unsupported("%s tables are not supported", strings.ToUpper(kw(i))).WithPosition(CharPos(src, toks[i].Pos))
	}
	var kind catalog.Kind
	switch kw(i) {
	case "table":
		kind = catalog.KindTable
	case "stream":
		kind = catalog.KindStream
	case "source":
		kind = catalog.KindSource
	case "view":
		kind = catalog.KindView
	case "materialized":
		if kw(i+1) != "view" {
			return nil, syntaxAt(src, toks[i+1].Pos)
		}
		i++
		kind = catalog.KindMaterializedView
	case "sink":
		kind = catalog.KindSink
	case "index":
		return parseCreateIndex(src, toks, i+1)
	case "unique":
		if kw(i+1) == "index" {
			return nil, sqlerr.Unsupported("CREATE UNIQUE INDEX is not supported: nothing would enforce it; declare a PRIMARY KEY").WithPosition(CharPos(src, toks[i].Pos))
		}
		return nil, syntaxAt(src, toks[i+1].Pos)
	case "schema":
		return parseCreateSchema(src, toks, i+1)
	case "database", "sequence", "function", "type", "extension", "role", "user", "trigger":
		return nil, sqlerr.Unsupported("CREATE %s is not supported", strings.ToUpper(kw(i))).WithPosition(CharPos(src, toks[i].Pos))
	default:
		return nil, syntaxAt(src, toks[i].Pos)
	}
	i++
	ifNot := false
	if kw(i) == "if" && kw(i+1) == "not" && kw(i+2) == "exists" {
		ifNot = true
		i += 3
	}
	name, rest, err := qualifiedName(src, toks[i:])
	if err != nil {
		return nil, err
	}
	i = len(toks) - len(rest)
	switch kind {
	case catalog.KindView, catalog.KindMaterializedView:
		return p.parseCreateView(src, toks, i, name, kind == catalog.KindMaterializedView, ifNot, orReplace)
	case catalog.KindSink:
		return p.parseCreateSink(src, toks, i, name, ifNot)
	}
	cr := &CreateRelation{Kind: kind, Name: name, IfNotExists: ifNot, Options: map[string]string{}, Text: stmtText(src, toks)}
	if kind == catalog.KindTable && kw(i) == "as" {
		q, err := p.ParseQuery(src, toks[i+1:])
		if err != nil {
			return nil, err
		}
		cr.AsQuery = q
		return cr, nil
	}
	switch {
	case kind == catalog.KindSource && kw(i) == "with":
		// a source whose connector makes its own streams (nexmark)
	case !toks[i].IsPunct("("):
		return nil, syntaxAt(src, toks[i].Pos)
	default:
		end := matchParen(toks, i)
		if end < 0 {
			return nil, sqlerr.Syntax(CharPos(src, len(src)), "syntax error at end of input")
		}
		if err := p.parseColumnDefs(src, toks[i+1:end], cr); err != nil {
			return nil, err
		}
		i = end + 1
	}
	if kw(i) == "with" {
		opts, n, err := parseOptions(src, toks[i+1:])
		if err != nil {
			return nil, err
		}
		cr.Options = opts
		i += 1 + n
	}
	if toks[i].Kind != TEOF {
		return nil, syntaxAt(src, toks[i].Pos)
	}
	return cr, nil
}

// matchParen returns the index of the ")" matching toks[open], or -1.
func matchParen(toks []Token, open int) int {
	depth := 0
	for j := open; j < len(toks); j++ {
		if toks[j].IsPunct("(") || toks[j].IsPunct("[") {
			depth++
		}
		if toks[j].IsPunct(")") || toks[j].IsPunct("]") {
			depth--
			if depth == 0 {
				return j
			}
		}
	}
	return -1
}

// splitComma splits toks at top-level commas.
func splitComma(toks []Token) [][]Token {
	var out [][]Token
	depth, start := 0, 0
	for j, t := range toks {
		if t.IsPunct("(") || t.IsPunct("[") {
			depth++
		}
		if t.IsPunct(")") || t.IsPunct("]") {
			depth--
		}
		if depth == 0 && t.IsPunct(",") {
			out = append(out, toks[start:j])
			start = j + 1
		}
	}
	out = append(out, toks[start:])
	return out
}

func (p *Parser) parseColumnDefs(src string, toks []Token, cr *CreateRelation) error {
	if len(toks) == 0 {
		return nil
	}
	for _, part := range splitComma(toks) {
		if len(part) == 0 {
			return sqlerr.Syntax(CharPos(src, toks[0].Pos), "syntax error at or near \",\"")
		}
		switch {
		case part[0].Is("watermark") && len(part) > 1 && part[1].Is("for"):
			if len(part) < 5 || !part[1].Is("for") || !part[3].Is("as") {
				return syntaxAt(src, part[0].Pos)
			}
			if cr.Watermark != nil {
				return sqlerr.Syntax(CharPos(src, part[0].Pos), "only one WATERMARK clause is allowed")
			}
			last := part[len(part)-1]
			cr.Watermark = &catalog.Watermark{Column: part[2].Val, Expr: src[part[4].Pos : last.Pos+len(last.Raw)]}
			continue
		case part[0].Is("primary") && len(part) > 2 && part[1].Is("key"):
			if !part[2].IsPunct("(") {
				return syntaxAt(src, part[2].Pos)
			}
			for _, t := range part[3:] {
				if t.Kind == TIdent || t.Kind == TQIdent {
					cr.PrimaryKey = append(cr.PrimaryKey, t.Val)
				}
			}
			continue
		case part[0].Is("constraint") || part[0].Is("unique") || part[0].Is("foreign") || part[0].Is("check") ||
			part[0].Is("exclude") && len(part) > 1 && (part[1].Is("using") || part[1].IsPunct("(")):
			return sqlerr.Unsupported("table constraints other than PRIMARY KEY are not supported").WithPosition(CharPos(src, part[0].Pos))
		}
		if part[0].Kind != TIdent && part[0].Kind != TQIdent {
			return syntaxAt(src, part[0].Pos)
		}
		col := ColumnDef{Name: part[0].Val, Pos: CharPos(src, part[0].Pos)}
		// type: everything up to the first constraint word
		j := 1
		for j < len(part) && !isConstraintWord(part[j]) {
			j++
		}
		if j == 1 {
			if len(part) == 1 {
				return sqlerr.Syntax(CharPos(src, part[0].Pos+len(part[0].Raw)), "syntax error at or near %q", ")")
			}
			return syntaxAt(src, part[1].Pos)
		}
		tsrc := src[part[1].Pos : part[j-1].Pos+len(part[j-1].Raw)]
		typ, serial, err := parseTypeText(tsrc)
		if err != nil {
			return sqlerr.As(err).WithPosition(CharPos(src, part[1].Pos))
		}
		col.Type = typ
		col.Serial = serial
		for j < len(part) {
			t := part[j]
			switch {
			case t.Is("not") && j+1 < len(part) && part[j+1].Is("null"):
				col.NotNull = true
				j += 2
			case t.Is("null"):
				j++
			case t.Is("primary") && j+1 < len(part) && part[j+1].Is("key"):
				col.PrimaryKey, col.NotNull = true, true
				j += 2
			case t.Is("default"):
				k := j + 1
				for k < len(part) && !isConstraintWord(part[k]) {
					k++
				}
				if k == j+1 {
					return syntaxAt(src, t.Pos)
				}
				col.Default = src[part[j+1].Pos : part[k-1].Pos+len(part[k-1].Raw)]
				j = k
			case t.Is("generated") && j+3 < len(part) && part[j+2].Is("as") && part[j+3].Is("identity"):
				// GENERATED ALWAYS|BY DEFAULT AS IDENTITY: a sequence default
				col.Serial, col.NotNull = true, true
				j += 4
				if j < len(part) && part[j].IsPunct("(") {
					j = matchParen(part, j) + 1
				}
			case t.Is("unique") || t.Is("references") || t.Is("check") || t.Is("generated") || t.Is("collate") || t.Is("constraint"):
				return sqlerr.Unsupported("column constraint %s is not supported", strings.ToUpper(t.Val)).WithPosition(CharPos(src, t.Pos))
			default:
				return syntaxAt(src, t.Pos)
			}
		}
		cr.Columns = append(cr.Columns, col)
		if col.PrimaryKey {
			cr.PrimaryKey = append(cr.PrimaryKey, col.Name)
		}
	}
	return nil
}

func isConstraintWord(t Token) bool {
	if t.Kind != TIdent {
		return false
	}
	switch t.Val {
	case "not", "null", "primary", "default", "unique", "references", "check", "generated", "collate", "constraint":
		return true
	}
	return false
}

// parseTypeText parses a type name as written in DDL; serial types are
// integers whose default is the next value of a sequence.
func parseTypeText(s string) (types.T, bool, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "serial", "serial4", "bigserial", "serial8", "smallserial", "serial2":
		t, err := types.Parse(strings.ToLower(strings.TrimSpace(s)))
		return t, true, err
	}
	t, err := types.Parse(s)
	return t, false, err
}

func isSelect(q *Query) bool {
	switch q.Node.(type) {
	case *ast.SelectStmt, *ast.SetOprStmt:
		return true
	}
	return false
}

// parseOptions reads "(k = v, ...)" and returns the options and the number
// of tokens consumed.
func parseOptions(src string, toks []Token) (map[string]string, int, error) {
	if len(toks) == 0 || !toks[0].IsPunct("(") {
		if len(toks) == 0 {
			return nil, 0, sqlerr.Syntax(CharPos(src, len(src)), "syntax error at end of input")
		}
		return nil, 0, syntaxAt(src, toks[0].Pos)
	}
	end := matchParen(toks, 0)
	if end < 0 {
		return nil, 0, sqlerr.Syntax(CharPos(src, len(src)), "syntax error at end of input")
	}
	opts := map[string]string{}
	if end == 1 {
		return opts, end + 1, nil
	}
	for _, part := range splitComma(toks[1:end]) {
		if len(part) == 0 || (part[0].Kind != TIdent && part[0].Kind != TQIdent && part[0].Kind != TString) {
			return nil, 0, syntaxAt(src, toks[0].Pos)
		}
		key := strings.ToLower(part[0].Val)
		rest := part[1:]
		// dotted keys: a.b = v
		for len(rest) >= 2 && rest[0].IsPunct(".") {
			key += "." + strings.ToLower(rest[1].Val)
			rest = rest[2:]
		}
		if len(rest) > 0 && rest[0].IsPunct("=") {
			rest = rest[1:]
		}
		if len(rest) == 0 {
			opts[key] = "true"
			continue
		}
		var val strings.Builder
		for k, t := range rest {
			if k > 0 {
				val.WriteByte(' ')
			}
			if t.Kind == TString || t.Kind == TIdent || t.Kind == TQIdent {
				val.WriteString(t.Val)
			} else {
				val.WriteString(t.Raw)
			}
		}
		if _, dup := opts[key]; dup {
			return nil, 0, sqlerr.Syntax(CharPos(src, part[0].Pos), "option %q specified more than once", key)
		}
		opts[key] = val.String()
	}
	return opts, end + 1, nil
}

func (p *Parser) parseCreateView(src string, toks []Token, i int, name string, mat, ifNot, orReplace bool) (Statement, error) {
	cv := &CreateView{Materialized: mat, Name: name, IfNotExists: ifNot, OrReplace: orReplace, Text: stmtText(src, toks), Options: map[string]string{}}
	if toks[i].IsPunct("(") {
		end := matchParen(toks, i)
		if end < 0 {
			return nil, sqlerr.Syntax(CharPos(src, len(src)), "syntax error at end of input")
		}
		for _, part := range splitComma(toks[i+1 : end]) {
			if len(part) != 1 {
				return nil, syntaxAt(src, toks[i].Pos)
			}
			cv.Columns = append(cv.Columns, part[0].Val)
		}
		i = end + 1
	}
	if toks[i].Is("with") && i+1 < len(toks) && toks[i+1].IsPunct("(") {
		opts, n, err := parseOptions(src, toks[i+1:])
		if err != nil {
			return nil, err
		}
		cv.Options = opts
		i += 1 + n
	}
	if !toks[i].Is("as") {
		return nil, syntaxAt(src, toks[i].Pos)
	}
	q := toks[i+1:]
	// trailing EMIT ON WINDOW CLOSE
	n := len(q)
	if n >= 5 && q[n-5].Is("emit") && q[n-4].Is("on") && q[n-3].Is("window") && q[n-2].Is("close") {
		cv.EmitOnWindowClose = true
		q = append(append([]Token{}, q[:n-5]...), q[n-1])
	}
	query, err := p.ParseQuery(src, q)
	if err != nil {
		return nil, err
	}
	if !isSelect(query) {
		return nil, sqlerr.Syntax(CharPos(src, q[0].Pos), "a view must be defined by a SELECT")
	}
	cv.Query = query
	return cv, nil
}

func (p *Parser) parseCreateSink(src string, toks []Token, i int, name string, ifNot bool) (Statement, error) {
	cs := &CreateSink{Name: name, IfNotExists: ifNot, Text: stmtText(src, toks), Options: map[string]string{}}
	if !toks[i].Is("from") && !toks[i].Is("as") {
		return nil, syntaxAt(src, toks[i].Pos)
	}
	i++
	if toks[i].IsPunct("(") || toks[i].Is("select") {
		end := len(toks) - 1
		start := i
		if toks[i].IsPunct("(") {
			end = matchParen(toks, i)
			if end < 0 {
				return nil, sqlerr.Syntax(CharPos(src, len(src)), "syntax error at end of input")
			}
			start = i + 1
		} else {
			for k := i; k < len(toks); k++ {
				if toks[k].Is("with") && k+1 < len(toks) && toks[k+1].IsPunct("(") && k > i {
					end = k
					break
				}
			}
		}
		qt := append(append([]Token{}, toks[start:end]...), Token{Kind: TEOF, Pos: toks[end].Pos})
		q, err := p.ParseQuery(src, qt)
		if err != nil {
			return nil, err
		}
		cs.Query = q
		i = end
		if toks[i].IsPunct(")") {
			i++
		}
	} else {
		from, rest, err := qualifiedName(src, toks[i:])
		if err != nil {
			return nil, err
		}
		cs.From = from
		i = len(toks) - len(rest)
	}
	if toks[i].Is("with") {
		opts, n, err := parseOptions(src, toks[i+1:])
		if err != nil {
			return nil, err
		}
		cs.Options = opts
		i += 1 + n
	}
	if toks[i].Kind != TEOF {
		return nil, syntaxAt(src, toks[i].Pos)
	}
	return cs, nil
}

func (p *Parser) parseDrop(src string, toks []Token) (Statement, error) {
	i := 1
	kw := func(k int) string {
		if k < len(toks) && toks[k].Kind == TIdent {
			return toks[k].Val
		}
		return ""
	}
	d := &Drop{}
	switch kw(i) {
	case "table":
		d.Kind = catalog.KindTable
	case "stream":
		d.Kind = catalog.KindStream
	case "source":
		d.Kind = catalog.KindSource
	case "view":
		d.Kind = catalog.KindView
	case "materialized":
		if kw(i+1) != "view" {
			return nil, syntaxAt(src, toks[i+1].Pos)
		}
		i++
		d.Kind = catalog.KindMaterializedView
	case "sink":
		d.Kind = catalog.KindSink
	case "index":
		d.Index = true
	case "schema":
		d.Schema = true
	default:
		if kw(i) != "" {
			return nil, sqlerr.Unsupported("DROP %s is not supported", strings.ToUpper(kw(i))).WithPosition(CharPos(src, toks[i].Pos))
		}
		return nil, syntaxAt(src, toks[i].Pos)
	}
	i++
	if kw(i) == "if" && kw(i+1) == "exists" {
		d.IfExists = true
		i += 2
	}
	for {
		name, rest, err := qualifiedName(src, toks[i:])
		if err != nil {
			return nil, err
		}
		d.Names = append(d.Names, name)
		i = len(toks) - len(rest)
		if toks[i].IsPunct(",") {
			i++
			continue
		}
		break
	}
	switch kw(i) {
	case "cascade":
		d.Cascade = true
		i++
	case "restrict":
		i++
	}
	if toks[i].Kind != TEOF {
		return nil, syntaxAt(src, toks[i].Pos)
	}
	return d, nil
}

func (p *Parser) parseShow(src string, toks []Token) (Statement, error) {
	var words []string
	for _, t := range toks[1 : len(toks)-1] {
		words = append(words, strings.ToLower(t.Val))
	}
	if len(words) == 0 {
		return nil, sqlerr.Syntax(CharPos(src, len(src)), "syntax error at end of input")
	}
	w := strings.Join(words, " ")
	switch w {
	case "streams", "sources", "tables", "views", "materialized views", "sinks", "all", "objects":
		return &Show{What: w}, nil
	case "time zone":
		return &Show{What: "timezone"}, nil
	case "transaction isolation level":
		return &Show{What: "transaction_isolation"}, nil
	case "session authorization":
		return &Show{What: "session_authorization"}, nil
	}
	if len(toks) != 3 {
		return nil, syntaxAt(src, toks[2].Pos)
	}
	return &Show{What: words[0]}, nil
}

// parseAlterSystem parses ALTER SYSTEM SET ... and ALTER SYSTEM RESET ....
func (p *Parser) parseAlterSystem(src string, toks []Token) (Statement, error) {
	switch {
	case toks[2].Is("set"):
		st, err := p.parseSet(src, toks[2:])
		if err != nil {
			return nil, err
		}
		s, ok := st.(*Set)
		if !ok || s.Local || s.Name == "transaction" || s.Name == "session_characteristics" {
			return nil, syntaxAt(src, toks[2].Pos)
		}
		return &AlterSystem{Name: s.Name, Value: s.Value, Default: s.Default}, nil
	case toks[2].Is("reset") && (toks[3].Kind == TIdent || toks[3].Kind == TQIdent) && toks[4].Kind == TEOF:
		return &AlterSystem{Name: strings.ToLower(toks[3].Val), Default: true}, nil
	}
	return nil, syntaxAt(src, toks[2].Pos)
}

func (p *Parser) parseSet(src string, toks []Token) (Statement, error) {
	i := 1
	s := &Set{}
	if toks[i].Is("session") && !(toks[i+1].Is("authorization") || toks[i+1].Is("characteristics")) {
		i++
	} else if toks[i].Is("local") {
		s.Local = true
		i++
	}
	if toks[i].Is("time") && toks[i+1].Is("zone") {
		s.Name = "timezone"
		i += 2
	} else if toks[i].Is("session") && toks[i+1].Is("characteristics") {
		return &Set{Name: "session_characteristics"}, nil
	} else if toks[i].Is("transaction") {
		return &Set{Name: "transaction"}, nil
	} else if toks[i].Is("names") {
		s.Name = "client_encoding"
		i++
	} else if toks[i].Kind == TIdent || toks[i].Kind == TQIdent {
		s.Name = strings.ToLower(toks[i].Val)
		i++
		for toks[i].IsPunct(".") {
			s.Name += "." + strings.ToLower(toks[i+1].Val)
			i += 2
		}
		if !toks[i].IsPunct("=") && !toks[i].Is("to") {
			return nil, syntaxAt(src, toks[i].Pos)
		}
		i++
	} else {
		return nil, syntaxAt(src, toks[i].Pos)
	}
	if toks[i].Kind == TEOF {
		return nil, sqlerr.Syntax(CharPos(src, len(src)), "syntax error at end of input")
	}
	if toks[i].Is("default") || (s.Name == "timezone" && toks[i].Is("local")) {
		s.Default = true
		return s, nil
	}
	var vals []string
	for ; toks[i].Kind != TEOF; i++ {
		t := toks[i]
		switch {
		case t.IsPunct(","):
		case t.Kind == TString || t.Kind == TIdent || t.Kind == TQIdent:
			vals = append(vals, t.Val)
		case t.Kind == TNumber:
			vals = append(vals, t.Val)
		case t.IsPunct("-") && toks[i+1].Kind == TNumber:
			vals = append(vals, "-"+toks[i+1].Val)
			i++
		case t.Is("interval"):
		default:
			return nil, syntaxAt(src, t.Pos)
		}
	}
	s.Value = strings.Join(vals, ", ")
	return s, nil
}

func (p *Parser) parseCopy(src string, toks []Token) (Statement, error) {
	c := &Copy{Options: map[string]string{}}
	i := 1
	if toks[i].IsPunct("(") {
		end := matchParen(toks, i)
		if end < 0 {
			return nil, sqlerr.Syntax(CharPos(src, len(src)), "syntax error at end of input")
		}
		qt := append(append([]Token{}, toks[i+1:end]...), Token{Kind: TEOF, Pos: toks[end].Pos})
		if qt[0].Is("subscribe") {
			sub, err := p.parseSubscribe(src, qt)
			if err != nil {
				return nil, err
			}
			c.Subscribe = sub.(*Subscribe)
		} else {
			q, err := p.ParseQuery(src, qt)
			if err != nil {
				return nil, err
			}
			c.Query = q
		}
		i = end + 1
	} else {
		name, rest, err := qualifiedName(src, toks[i:])
		if err != nil {
			return nil, err
		}
		c.Table = name
		i = len(toks) - len(rest)
		if toks[i].IsPunct("(") {
			end := matchParen(toks, i)
			for _, part := range splitComma(toks[i+1 : end]) {
				if len(part) != 1 {
					return nil, syntaxAt(src, toks[i].Pos)
				}
				c.Columns = append(c.Columns, part[0].Val)
			}
			i = end + 1
		}
	}
	switch {
	case toks[i].Is("from"):
		c.From = true
		if c.Query != nil || c.Subscribe != nil {
			return nil, syntaxAt(src, toks[i].Pos)
		}
		if !toks[i+1].Is("stdin") {
			return nil, sqlerr.Unsupported("COPY FROM a file is not supported; use COPY ... FROM STDIN").WithPosition(CharPos(src, toks[i+1].Pos))
		}
	case toks[i].Is("to"):
		if !toks[i+1].Is("stdout") {
			return nil, sqlerr.Unsupported("COPY TO a file is not supported; use COPY ... TO STDOUT").WithPosition(CharPos(src, toks[i+1].Pos))
		}
	default:
		return nil, syntaxAt(src, toks[i].Pos)
	}
	i += 2
	if toks[i].Is("with") {
		i++
	}
	if toks[i].IsPunct("(") {
		opts, n, err := parseOptions(src, toks[i:])
		if err != nil {
			return nil, err
		}
		c.Options = opts
		i += n
	} else {
		// old-style options: CSV, HEADER, DELIMITER 'x', NULL 'x', BINARY
		for toks[i].Kind == TIdent {
			switch toks[i].Val {
			case "csv", "binary", "text":
				c.Options["format"] = toks[i].Val
				i++
			case "header":
				c.Options["header"] = "true"
				i++
			case "delimiter", "null", "quote", "escape":
				if toks[i+1].Is("as") {
					i++
				}
				c.Options[toks[i].Val] = toks[i+1].Val
				i += 2
			default:
				return nil, syntaxAt(src, toks[i].Pos)
			}
		}
	}
	if toks[i].Kind != TEOF {
		return nil, syntaxAt(src, toks[i].Pos)
	}
	return c, nil
}

func (p *Parser) parseDeclare(src string, toks []Token) (Statement, error) {
	if toks[1].Kind != TIdent && toks[1].Kind != TQIdent {
		return nil, syntaxAt(src, toks[1].Pos)
	}
	d := &Declare{Name: toks[1].Val, Text: stmtText(src, toks)}
	// DECLARE name [BINARY] [ASENSITIVE | INSENSITIVE] [[NO] SCROLL]
	//   CURSOR [{WITH | WITHOUT} HOLD] FOR query
	i := 2
	cursor := false
	for toks[i].Kind == TIdent && !toks[i].Is("for") {
		switch {
		case !cursor && toks[i].Is("binary"):
			d.Binary = true
		case !cursor && (toks[i].Is("insensitive") || toks[i].Is("asensitive")):
		case !cursor && toks[i].Is("scroll"):
			d.Scroll = true
		case !cursor && toks[i].Is("no") && toks[i+1].Is("scroll"):
			i++
		case !cursor && toks[i].Is("cursor"):
			cursor = true
		case cursor && (toks[i].Is("with") || toks[i].Is("without")) && toks[i+1].Is("hold"):
			d.Hold = toks[i].Is("with")
			i++
		default:
			return nil, syntaxAt(src, toks[i].Pos)
		}
		i++
	}
	if !cursor || !toks[i].Is("for") {
		return nil, syntaxAt(src, toks[i].Pos)
	}
	if toks[i+1].Is("subscribe") {
		sub, err := p.parseSubscribe(src, toks[i+1:])
		if err != nil {
			return nil, err
		}
		d.Subscribe = sub.(*Subscribe)
		return d, nil
	}
	q, err := p.ParseQuery(src, toks[i+1:])
	if err != nil {
		return nil, err
	}
	if !isSelect(q) {
		return nil, syntaxAt(src, toks[i+1].Pos)
	}
	d.Query = q
	return d, nil
}

// parseFetch parses FETCH or MOVE [direction] [FROM | IN] name, where
// direction is NEXT, PRIOR, FIRST, LAST, ABSOLUTE n, RELATIVE n, n, ALL,
// FORWARD [n | ALL] or BACKWARD [n | ALL].
func parseFetch(src string, toks []Token) (Statement, error) {
	f := &Fetch{Dir: FetchForward, Count: 1, Move: toks[0].Is("move")}
	i := 1
	// a signed integer at toks[i] (FETCH -2 c, ABSOLUTE -1)
	number := func() (int64, bool) {
		neg := false
		k := i
		if toks[k].IsPunct("-") || toks[k].IsPunct("+") {
			neg = toks[k].IsPunct("-")
			k++
		}
		if toks[k].Kind != TNumber {
			return 0, false
		}
		n, err := strconv.ParseInt(toks[k].Val, 10, 64)
		if err != nil {
			return 0, false
		}
		i = k + 1
		if neg {
			n = -n
		}
		return n, true
	}
	// a word that starts the direction, not a cursor named like it
	isDir := func(kw string) bool {
		return toks[i].Is(kw) && !(toks[i+1].Kind == TEOF || toks[i+1].Is("with"))
	}
	switch {
	case isDir("next"):
		i++
	case isDir("prior"):
		f.Dir = FetchBackward
		i++
	case isDir("first"):
		f.Dir, f.Count = FetchAbsolute, 1
		i++
	case isDir("last"):
		f.Dir, f.Count = FetchAbsolute, -1
		i++
	case isDir("absolute"), isDir("relative"):
		f.Dir = FetchAbsolute
		if toks[i].Is("relative") {
			f.Dir = FetchRelative
		}
		i++
		n, ok := number()
		if !ok {
			return nil, syntaxAt(src, toks[i].Pos)
		}
		f.Count = n
	case isDir("all"):
		f.All = true
		i++
	case isDir("forward"), isDir("backward"):
		if toks[i].Is("backward") {
			f.Dir = FetchBackward
		}
		i++
		if toks[i].Is("all") && !(toks[i+1].Kind == TEOF || toks[i+1].Is("with")) {
			f.All = true
			i++
		} else if n, ok := number(); ok {
			f.Count = n
		}
	default:
		if n, ok := number(); ok {
			f.Count = n
		}
	}
	if (f.Dir == FetchForward || f.Dir == FetchBackward) && f.Count < 0 {
		// FETCH -n and FORWARD -n go backward, BACKWARD -n forward
		f.Count = -f.Count
		f.Dir = FetchForward + FetchBackward - f.Dir
	}
	if toks[i].Is("from") || toks[i].Is("in") {
		i++
	}
	if toks[i].Kind != TIdent && toks[i].Kind != TQIdent {
		return nil, syntaxAt(src, toks[i].Pos)
	}
	f.Name = toks[i].Val
	i++
	if toks[i].Is("with") {
		opts, n, err := parseOptions(src, toks[i+1:])
		if err != nil {
			return nil, err
		}
		f.Options = opts
		i += 1 + n
	}
	if toks[i].Kind != TEOF {
		return nil, syntaxAt(src, toks[i].Pos)
	}
	return f, nil
}

// parseSubscribe parses SUBSCRIBE [TO] name | SUBSCRIBE [TO] (query),
// then an optional WITH (options).
func (p *Parser) parseSubscribe(src string, toks []Token) (Statement, error) {
	sub := &Subscribe{Options: map[string]string{}}
	i := 1
	if toks[i].Is("to") {
		i++
	}
	if toks[i].IsPunct("(") {
		end := matchParen(toks, i)
		if end < 0 {
			return nil, sqlerr.Syntax(CharPos(src, len(src)), "syntax error at end of input")
		}
		qt := append(append([]Token{}, toks[i+1:end]...), Token{Kind: TEOF, Pos: toks[end].Pos})
		q, err := p.ParseQuery(src, qt)
		if err != nil {
			return nil, err
		}
		sub.Query = q
		i = end + 1
	} else {
		name, rest, err := qualifiedName(src, toks[i:])
		if err != nil {
			return nil, err
		}
		sub.Name = name
		i = len(toks) - len(rest)
	}
	if toks[i].Is("with") {
		opts, n, err := parseOptions(src, toks[i+1:])
		if err != nil {
			return nil, err
		}
		sub.Options = opts
		i += 1 + n
	}
	if toks[i].Kind != TEOF {
		return nil, syntaxAt(src, toks[i].Pos)
	}
	return sub, nil
}

// parseCreateIndex reads CREATE INDEX [CONCURRENTLY] [IF NOT EXISTS]
// [name] ON [ONLY] rel [USING method] (column | (expression) [, ...])
// and whatever follows (INCLUDE, WITH, WHERE, TABLESPACE): the
// statement's effect is the planner's to decide.
func parseCreateIndex(src string, toks []Token, i int) (Statement, error) {
	kw := func(k int) string {
		if k < len(toks) && toks[k].Kind == TIdent {
			return toks[k].Val
		}
		return ""
	}
	ci := &CreateIndex{}
	if kw(i) == "concurrently" {
		i++
	}
	if kw(i) == "if" && kw(i+1) == "not" && kw(i+2) == "exists" {
		ci.IfNotExists = true
		i += 3
	}
	if kw(i) != "on" {
		if toks[i].Kind != TIdent && toks[i].Kind != TQIdent {
			return nil, syntaxAt(src, toks[i].Pos)
		}
		ci.Name = toks[i].Val
		i++
	}
	if kw(i) != "on" {
		return nil, syntaxAt(src, toks[i].Pos)
	}
	i++
	if kw(i) == "only" {
		i++
	}
	rel, rest, err := qualifiedName(src, toks[i:])
	if err != nil {
		return nil, err
	}
	ci.Rel, ci.RelPos = rel, CharPos(src, toks[i].Pos)
	i = len(toks) - len(rest)
	if kw(i) == "using" {
		i += 2
	}
	if !toks[i].IsPunct("(") {
		return nil, syntaxAt(src, toks[i].Pos)
	}
	i++
	for {
		// one element: a column (with ASC, DESC, NULLS ..., an operator
		// class) or an expression; the column is what a lookup can use
		start, depth := i, 0
		for ; i < len(toks) && toks[i].Kind != TEOF; i++ {
			t := toks[i]
			if t.IsPunct("(") {
				depth++
			} else if t.IsPunct(")") {
				if depth == 0 {
					break
				}
				depth--
			} else if t.IsPunct(",") && depth == 0 {
				break
			}
		}
		if i >= len(toks) || toks[i].Kind == TEOF || i == start {
			return nil, syntaxAt(src, toks[min(i, len(toks)-1)].Pos)
		}
		col := ""
		if t := toks[start]; t.Kind == TIdent || t.Kind == TQIdent {
			col = t.Val
			if start+1 < i && toks[start+1].IsPunct("(") {
				col = "" // a function call
			}
		}
		ci.Columns, ci.ColumnPos = append(ci.Columns, col), append(ci.ColumnPos, CharPos(src, toks[start].Pos))
		if toks[i].IsPunct(")") {
			break
		}
		i++
	}
	return ci, nil
}

// parseCreateSchema reads CREATE SCHEMA [IF NOT EXISTS] name
// [AUTHORIZATION role] or CREATE SCHEMA [IF NOT EXISTS] AUTHORIZATION role
// (the schema named after the role). Roles are not enforced: the owner
// shown is the database's.
func parseCreateSchema(src string, toks []Token, i int) (Statement, error) {
	cs := &CreateSchema{}
	if toks[i].Kind == TIdent && toks[i].Val == "if" && toks[i+1].Val == "not" && toks[i+2].Val == "exists" {
		cs.IfNotExists = true
		i += 3
	}
	ident := func(t Token) bool { return t.Kind == TIdent || t.Kind == TQIdent }
	if !ident(toks[i]) {
		return nil, syntaxAt(src, toks[i].Pos)
	}
	if toks[i].Kind == TIdent && toks[i].Val == "authorization" {
		if !ident(toks[i+1]) {
			return nil, syntaxAt(src, toks[i+1].Pos)
		}
		cs.Name, cs.Pos = toks[i+1].Val, CharPos(src, toks[i+1].Pos)
		i += 2
	} else {
		cs.Name, cs.Pos = toks[i].Val, CharPos(src, toks[i].Pos)
		i++
		if toks[i].Kind == TIdent && toks[i].Val == "authorization" {
			if !ident(toks[i+1]) {
				return nil, syntaxAt(src, toks[i+1].Pos)
			}
			i += 2
		}
	}
	if toks[i].Kind != TEOF {
		return nil, sqlerr.Unsupported("CREATE SCHEMA with schema elements is not supported: create the schema, then its objects as schema.name").WithPosition(CharPos(src, toks[i].Pos))
	}
	return cs, nil
}
