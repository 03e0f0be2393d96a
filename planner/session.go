package planner

import (
	"context"
	"sort"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/streamsql/streamsql/catalog"
	"github.com/streamsql/streamsql/engine/expr"
	"github.com/streamsql/streamsql/planner/pgsql"
	"github.com/streamsql/streamsql/sqlerr"
	"github.com/streamsql/streamsql/types"
)

// Session is one client's state: its parser, settings and transaction
// status. It is used by one goroutine at a time.
type Session struct {
	db       *DB
	parser   *pgsql.Parser
	user     string
	database string
	settings map[string]string
	loc      *time.Location
	// InTxn is true between BEGIN and COMMIT/ROLLBACK; Failed after an
	// error inside a transaction block.
	InTxn, Failed bool
	cursors       map[string]*cursor
	now           int64
}

// defaultSettings are the session parameters and their defaults.
var defaultSettings = map[string]string{
	"server_version":                      expr.ServerVersion,
	"server_version_num":                  "150000",
	"server_encoding":                     "UTF8",
	"client_encoding":                     "UTF8",
	"datestyle":                           "ISO, MDY",
	"intervalstyle":                       "postgres",
	"timezone":                            "UTC",
	"integer_datetimes":                   "on",
	"standard_conforming_strings":         "on",
	"application_name":                    "",
	"transaction_isolation":               "read committed",
	"default_transaction_isolation":       "read committed",
	"transaction_read_only":               "off",
	"is_superuser":                        "on",
	"search_path":                         `"$user", public`,
	"extra_float_digits":                  "1",
	"max_identifier_length":               "63",
	"lc_collate":                          "C",
	"lc_ctype":                            "C",
	"statement_timeout":                   "0",
	"lock_timeout":                        "0",
	"idle_in_transaction_session_timeout": "0",
	"bytea_output":                        "hex",
	"client_min_messages":                 "notice",
	"default_transaction_read_only":       "off",
	"in_hot_standby":                      "off",
	"session_authorization":               "",
	"view_catchup_timeout":                "1min",
}

// NewSession starts a session for user on database.
func (db *DB) NewSession(user, database string) *Session {
	s := &Session{db: db, parser: pgsql.NewParser(), user: user, database: database, settings: map[string]string{}, loc: time.UTC, cursors: map[string]*cursor{}}
	for k, v := range defaultSettings {
		s.settings[k] = v
	}
	s.settings["session_authorization"] = user
	return s
}

// DB returns the session's database.
func (s *Session) DB() *DB { return s.db }

// User implements expr.Session.
func (s *Session) User() string { return s.user }

// Database implements expr.Session.
func (s *Session) Database() string { return s.database }

// Setting implements expr.Session.
func (s *Session) Setting(name string) (string, bool) {
	v, ok := s.settings[strings.ToLower(name)]
	if name == "timezone" {
		return s.settings["timezone"], true
	}
	return v, ok
}

// Location is the session time zone.
func (s *Session) Location() *time.Location { return s.loc }

// Set changes a session parameter. It returns the canonical value.
func (s *Session) Set(name, value string) (string, error) {
	name = strings.ToLower(name)
	switch name {
	case "timezone", "time zone":
		v := strings.Trim(value, "'")
		loc, err := types.LoadZone(v)
		if err != nil {
			return "", sqlerr.New(sqlerr.InvalidParameterValue, "invalid value for parameter \"TimeZone\": %q", value)
		}
		s.loc = loc
		if strings.EqualFold(v, "utc") {
			v = "UTC"
		}
		s.settings["timezone"] = v
		return v, nil
	case "client_encoding":
		v := strings.ToUpper(strings.ReplaceAll(value, "-", ""))
		if v != "UTF8" && v != "UNICODE" && v != "SQL_ASCII" {
			return "", sqlerr.New(sqlerr.InvalidParameterValue, "invalid value for parameter \"client_encoding\": %q", value).WithDetail("streamsql only speaks UTF8")
		}
		s.settings[name] = "UTF8"
		return "UTF8", nil
	case "standard_conforming_strings":
		if !strings.EqualFold(value, "on") && !strings.EqualFold(value, "true") {
			return "", sqlerr.Unsupported("standard_conforming_strings can only be on")
		}
		return "on", nil
	case "datestyle":
		s.settings[name] = "ISO, MDY"
		return "ISO, MDY", nil
	case "intervalstyle":
		if !strings.EqualFold(value, "postgres") {
			return "", sqlerr.Unsupported("IntervalStyle %q is not supported", value)
		}
		return "postgres", nil
	}
	s.settings[name] = value
	return value, nil
}

// Reset restores a parameter (or all with "all") to its default.
func (s *Session) Reset(name string) {
	name = strings.ToLower(name)
	if name == "all" {
		for k, v := range defaultSettings {
			if k != "session_authorization" {
				s.settings[k] = v
			}
		}
		s.loc = time.UTC
		return
	}
	if v, ok := defaultSettings[name]; ok {
		s.settings[name] = v
	} else {
		delete(s.settings, name)
	}
	if name == "timezone" {
		s.loc = time.UTC
	}
}

// SettingNames lists every parameter (for SHOW ALL).
func (s *Session) SettingNames() []string {
	var out []string
	for k := range s.settings {
		if !strings.HasPrefix(k, "__") {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

// Parse parses a query string.
func (s *Session) Parse(sql string) ([]pgsql.Statement, error) { return s.parser.Parse(sql) }

func (s *Session) evalCtx(params []types.Datum) *expr.Ctx {
	now := s.now
	if now == 0 {
		now = time.Now().UnixMicro()
	}
	return &expr.Ctx{Go: context.Background(), Mem: memory.DefaultAllocator, Params: params, Loc: s.loc, Now: now, Session: s, Catalog: catalogFuncs{s.db}}
}

// catalogFuncs answers regclass and regtype lookups.
type catalogFuncs struct{ db *DB }

func (c catalogFuncs) RelationOID(name string) (int64, bool) {
	if o := c.db.Catalog.Lookup(name); o != nil {
		return int64(o.OID), true
	}
	if v := lookupVirtual(name); v != nil {
		return int64(v.oid), true
	}
	return 0, false
}

func (c catalogFuncs) RelationName(oid int64) (string, bool) {
	for _, o := range c.db.Catalog.Objects() {
		if int64(o.OID) == oid {
			return o.Name, true
		}
	}
	for _, v := range virtualTables {
		if int64(v.oid) == oid {
			return v.name, true
		}
	}
	return "", false
}

func (c catalogFuncs) TypeOID(name string) (int64, bool) {
	t, err := types.Parse(name)
	if err != nil {
		return 0, false
	}
	return int64(t.OID()), true
}

func (c catalogFuncs) TypeName(oid int64) (string, bool) {
	t, ok := types.FromOID(uint32(oid))
	if !ok {
		return "", false
	}
	return t.String(), true
}

func (c catalogFuncs) pkColumns(o *catalog.Object) string {
	names := make([]string, len(o.PrimaryKey))
	for i, k := range o.PrimaryKey {
		names[i] = o.Columns[k].Name
	}
	return strings.Join(names, ", ")
}

func (c catalogFuncs) IndexDef(oid int64) (string, bool) {
	for _, o := range c.db.Catalog.Objects() {
		if len(o.PrimaryKey) > 0 && int64(pkIndexOID(o.OID)) == oid {
			return "CREATE UNIQUE INDEX " + o.Name + "_pkey ON public." + o.Name + " USING btree (" + c.pkColumns(o) + ")", true
		}
	}
	return "", false
}

func (c catalogFuncs) NextVal(oid int64) (int64, error) {
	for _, o := range c.db.Catalog.Objects() {
		if int64(o.OID) == oid && o.Kind == catalog.KindSequence {
			return c.db.nextVal(o)
		}
	}
	return 0, sqlerr.New(sqlerr.UndefinedTable, "could not open relation with OID %d", oid)
}

func (c catalogFuncs) ConstraintDef(oid int64) (string, bool) {
	for _, o := range c.db.Catalog.Objects() {
		if len(o.PrimaryKey) > 0 && int64(o.OID+2) == oid {
			return "PRIMARY KEY (" + c.pkColumns(o) + ")", true
		}
	}
	return "", false
}
