package planner

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
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
	// for pg_stat_activity: the backend's pid (the wire layer's), when it
	// started, and what it runs (guarded by act)
	pid      int32
	started  time.Time
	act      sync.Mutex
	state    string
	query    string
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
	s.started, s.state = time.Now(), "idle"
	db.sessMu.Lock()
	if db.sessions == nil {
		db.sessions = map[*Session]struct{}{}
	}
	db.sessions[s] = struct{}{}
	db.sessMu.Unlock()
	return s
}

// SetPID records the backend pid the client knows the session by.
func (s *Session) SetPID(pid int32) { s.pid = pid }

// SetActivity records what the session does (state "active" or "idle")
// and its current or last query, for pg_stat_activity.
func (s *Session) SetActivity(state, query string) {
	s.act.Lock()
	s.state, s.query = state, query
	s.act.Unlock()
}

// activityRows are pg_stat_activity's rows: one per session.
func (db *DB) activityRows() [][]types.Datum {
	db.sessMu.Lock()
	defer db.sessMu.Unlock()
	var out [][]types.Datum
	for s := range db.sessions {
		s.act.Lock()
		state, query := s.state, s.query
		s.act.Unlock()
		app, _ := s.Setting("application_name")
		out = append(out, row(nil, s.database, s.pid, s.user, app, nil, types.Datum{I: s.started.UnixMicro()}, state, query))
	}
	return out
}

// DB returns the session's database.
func (s *Session) DB() *DB { return s.db }

// User implements expr.Session.
func (s *Session) User() string { return s.user }

// Database implements expr.Session.
func (s *Session) Database() string { return s.database }

// Setting implements expr.Session.
func (s *Session) Setting(name string) (string, bool) {
	if v, ok := s.db.systemSetting(strings.ToLower(name)); ok {
		return v, true
	}
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
	if _, ok := s.db.systemSetting(name); ok {
		return "", sqlerr.New(sqlerr.CantChangeRuntimeParam, "parameter %q cannot be changed now", name).
			WithHint(fmt.Sprintf("It is a server-wide setting: use ALTER SYSTEM SET %s = '...'.", name))
	}
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
	out = append(out, systemSettingNames...)
	sort.Strings(out)
	return out
}

// Parse parses a query string.
func (s *Session) Parse(sql string) ([]pgsql.Statement, error) {
	if err := types.CheckText(sql); err != nil {
		// as PostgreSQL's check of what the client sends
		return nil, err
	}
	return s.parser.Parse(sql)
}

func (s *Session) evalCtx(params []types.Datum) *expr.Ctx {
	now := s.now
	if now == 0 {
		now = time.Now().UnixMicro()
	}
	return &expr.Ctx{Go: context.Background(), Mem: memory.DefaultAllocator, Params: params, Loc: s.loc, Now: now, Session: s, Catalog: catalogFuncs{db: s.db, s: s}}
}

// catalogFuncs answers regclass and regtype lookups, for a session (whose
// search path finds unqualified names) or for a flow (s nil: public).
type catalogFuncs struct {
	db *DB
	s  *Session
}

func (c catalogFuncs) path() []string {
	if c.s == nil {
		return []string{catalog.Public}
	}
	return c.s.searchPath()
}

func (c catalogFuncs) RelationOID(text string) (int64, bool) {
	schema, name, ok := qualifiedText(text)
	if !ok {
		return 0, false
	}
	if schema == "" || schema == "pg_catalog" || schema == "information_schema" {
		if v := lookupVirtualIn(orDefault(schema, "pg_catalog"), name); v != nil {
			return int64(v.oid), true
		}
	}
	if o, _ := c.db.lookupIn(c.path(), schema, name); o != nil {
		return int64(o.OID), true
	}
	return 0, false
}

func (c catalogFuncs) RelationName(oid int64) (string, bool) {
	if o := c.db.Catalog.ByOID(uint32(oid)); o != nil && int64(o.OID) == oid {
		return c.db.displayName(c.path(), o), true
	}
	for _, v := range virtualTables {
		if int64(v.oid) == oid {
			return v.name, true
		}
	}
	return "", false
}

func (c catalogFuncs) SearchPath() []string { return c.path() }

func (c catalogFuncs) NamespaceName(oid int64) (string, bool) { return c.db.namespaceName(oid) }

func (c catalogFuncs) NamespaceOID(name string) (int64, bool) {
	for _, r := range c.db.namespaces() {
		if r[1].S == name {
			return r[0].I, true
		}
	}
	return 0, false
}

// RelationVisible is pg_table_is_visible: the relation is the one its
// name finds along the search path.
func (c catalogFuncs) RelationVisible(oid int64) bool {
	if o := c.db.Catalog.ByOID(uint32(oid)); o != nil && int64(o.OID) == oid {
		return c.db.relationVisible(c.path(), o)
	}
	return true // pg_catalog's relations, or no relation at all
}

// pseudoTypes are PostgreSQL's pseudo-types: no column has them, but
// catalog queries name them ('pg_catalog.trigger'::regtype in pgcli).
var pseudoTypes = map[string]int64{
	"trigger": 2279, "event_trigger": 3838, "void": 2278, "cstring": 2275, "any": 2276,
	"anyelement": 2283, "anyarray": 2277, "anynonarray": 2776, "anyenum": 3500, "anyrange": 3831,
	"anymultirange": 4537, "anycompatible": 5077, "anycompatiblearray": 5078, "internal": 2281,
	"language_handler": 2280, "fdw_handler": 3115, "table_am_handler": 269, "index_am_handler": 325,
	"tsm_handler": 3310, "pg_ddl_command": 32,
}

func (c catalogFuncs) TypeOID(name string) (int64, bool) {
	name = strings.TrimPrefix(strings.ToLower(strings.TrimSpace(name)), "pg_catalog.")
	if oid, ok := pseudoTypes[strings.Trim(name, `"`)]; ok {
		return oid, true
	}
	t, err := types.Parse(name)
	if err != nil {
		return 0, false
	}
	return int64(t.OID()), true
}

func (c catalogFuncs) TypeName(oid int64) (string, bool) {
	if oid == 2249 {
		return "record", true
	}
	for name, o := range pseudoTypes {
		if o == oid {
			return name, true
		}
	}
	t, ok := types.FromOID(uint32(oid))
	if !ok {
		for _, o := range c.db.Catalog.Objects() {
			// a relation's row type
			if int64(o.OID)+2 == oid && o.IsRelation() {
				return o.Name, true
			}
		}
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

func (c catalogFuncs) ProcOID(name string) (int64, bool) { return procOID(name) }

func (c catalogFuncs) ViewDef(oid int64) (string, bool) {
	for _, o := range c.db.Catalog.Objects() {
		if int64(o.OID) == oid && (o.Kind == catalog.KindView || o.Kind == catalog.KindMaterializedView) {
			return o.Query, true
		}
	}
	return "", false
}
func (c catalogFuncs) ProcName(oid int64) (string, bool) { return procName(oid) }

func (c catalogFuncs) ConstraintDef(oid int64) (string, bool) {
	for _, o := range c.db.Catalog.Objects() {
		if len(o.PrimaryKey) > 0 && int64(o.OID+2) == oid {
			return "PRIMARY KEY (" + c.pkColumns(o) + ")", true
		}
	}
	return "", false
}

// RegName is how a value of an OID alias type (regclass, regtype,
// regproc, regnamespace) prints: the name of what its OID identifies, the
// number itself when nothing does, "-" for 0, as in PostgreSQL.
func (s *Session) RegName(t types.T, oid int64) string {
	if oid == 0 {
		return "-"
	}
	c := catalogFuncs{db: s.db, s: s}
	var name string
	var ok bool
	switch t.Name {
	case "regclass":
		name, ok = c.RelationName(oid)
	case "regtype":
		name, ok = c.TypeName(oid)
	case "regproc":
		name, ok = procName(oid)
	case "regnamespace":
		name, ok = s.db.namespaceName(oid)
	}
	if !ok {
		return strconv.FormatInt(oid, 10)
	}
	return name
}

// ParseParam reads a parameter sent as text: as its type's input, where
// an OID alias type (regclass, regtype, ...) takes a name to look up.
func (s *Session) ParseParam(t types.T, text string) (types.Datum, error) {
	if t.Kind == types.Oid && t.Name != "" {
		return expr.CastDatum(s.evalCtx(nil), types.TText, t, types.DText(text))
	}
	return types.ParseText(t, text, s.loc)
}
