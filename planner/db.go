package planner

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/streamsql/streamsql/catalog"
	"github.com/streamsql/streamsql/engine/flow"
	"github.com/streamsql/streamsql/engine/storage"
	"github.com/streamsql/streamsql/sources/streamstore"
	"github.com/streamsql/streamsql/sqlerr"
	"github.com/streamsql/streamsql/types"
)

// DB is one streamsql database: the catalog and the storage of its tables.
// It is shared by every session.
type DB struct {
	Catalog *catalog.Catalog
	// the open sessions, for pg_stat_activity
	sessMu    sync.Mutex
	sessions  map[*Session]struct{}
	viewBatch int     // records per view read (Options.ViewBatch)
	startErrs []error // views that could not start when the database opened
	workers   int     // aggregate workers per view (Options.Workers)
	dir       string
	lock      *dirLock // held on dir while the database is open
	mu        sync.RWMutex
	tables    map[string]*storage.Table
	// ddl serialises catalog changes with the storage they create.
	ddl sync.Mutex
	// the running jobs of materialized views, sinks and subscriptions
	rt *flow.Runtime
	// checkpoint_interval: now (ALTER SYSTEM's, or the default), and the
	// server's default (Options.CheckpointInterval)
	ckInterval atomic.Int64
	ckDefault  time.Duration
	// streams live in the embedded stream store
	store    *streamstore.Store
	storeTmp string // removed on Close: the store of an in-memory database
	streams  map[string]*streamstore.Stream
	// sequences: the next value of each sequence, by name, started from
	// the owning column's maximum when first used after a start.
	seqMu sync.Mutex
	seqs  map[string]int64
}

// nextVal advances sequence o (a catalog object of kind sequence).
func (db *DB) nextVal(o *catalog.Object) (int64, error) {
	db.seqMu.Lock()
	defer db.seqMu.Unlock()
	if db.seqs == nil {
		db.seqs = map[string]int64{}
	}
	next, ok := db.seqs[o.Name]
	if !ok {
		next = 1
		dot := strings.LastIndexByte(o.Options["owned_by"], '.')
		owner, col := o.Options["owned_by"][:max(dot, 0)], o.Options["owned_by"][dot+1:]
		if tbl := db.Catalog.Lookup(owner); tbl != nil {
			if t, err := db.Table(owner); err == nil {
				ci := tbl.ColumnIndex(col)
				t.Rows(func(_ int64, r storage.Row) bool {
					if ci >= 0 && !r[ci].Null && r[ci].I >= next {
						next = r[ci].I + 1
					}
					return true
				})
			}
		}
	}
	db.seqs[o.Name] = next + 1
	return next, nil
}

// Options configure a database.
type Options struct {
	// StreamNoSync acknowledges stream appends once written to the OS,
	// without fsync (faster; a machine crash can lose acknowledged records).
	StreamNoSync bool
	// ViewBatch is the most records a materialized view reads from a shard
	// at once (0: 65,536). Results never depend on it; tests run views
	// with 1 to check that.
	ViewBatch int
	// Workers is the number of goroutines a view's aggregate is split
	// over by key (0: the number of CPUs).
	Workers int
	// CheckpointInterval is the default time between the checkpoints of
	// views and sinks (0: one second; negative: only when asked, by
	// CHECKPOINT). ALTER SYSTEM SET checkpoint_interval overrides it.
	CheckpointInterval time.Duration
}

// Open opens the database in dir ("" for a database in memory only).
func Open(dir string) (*DB, error) { return OpenWith(dir, Options{}) }

// OpenWith opens the database in dir with options.
func OpenWith(dir string, opts Options) (db *DB, err error) {
	var lock *dirLock
	if dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, fmt.Errorf("planner: %w", err)
		}
		if lock, err = lockDir(dir); err != nil {
			return nil, err
		}
		defer func() {
			if err != nil {
				lock.release()
			}
		}()
	}
	cat, err := catalog.Open(dir)
	if err != nil {
		return nil, err
	}
	db = &DB{Catalog: cat, dir: dir, lock: lock, tables: map[string]*storage.Table{}, streams: map[string]*streamstore.Stream{}, viewBatch: opts.ViewBatch, rt: flow.NewRuntime()}
	if db.viewBatch <= 0 {
		db.viewBatch = flowReadMax
	}
	if db.workers = opts.Workers; db.workers <= 0 {
		db.workers = runtime.NumCPU()
	}
	switch db.ckDefault = opts.CheckpointInterval; {
	case db.ckDefault == 0:
		db.ckDefault = defaultCheckpointInterval
	case db.ckDefault < 0:
		db.ckDefault = 0
	}
	db.ckInterval.Store(int64(db.ckDefault))
	if err := db.loadSystemSettings(); err != nil {
		return nil, err
	}
	storeDir := ""
	if dir != "" {
		if err := os.MkdirAll(filepath.Join(dir, "tables"), 0o755); err != nil {
			return nil, fmt.Errorf("planner: %w", err)
		}
		storeDir = filepath.Join(dir, "streams")
	} else {
		tmp, err := os.MkdirTemp("", "streamsql-streams")
		if err != nil {
			return nil, err
		}
		storeDir, db.storeTmp = tmp, tmp
	}
	if dir != "" {
		db.startErrs = append(db.startErrs, quarantineOrphans(dir, cat)...)
	}
	db.store = streamstore.Open(storeDir, streamstore.Options{NoSync: opts.StreamNoSync})
	for _, o := range cat.Objects() {
		switch o.Kind {
		case catalog.KindTable:
			if _, err := db.openTable(o); err != nil {
				return nil, err
			}
		case catalog.KindStream:
			if _, err := db.openStream(o); err != nil {
				return nil, err
			}
		}
	}
	// materialized views over streams replay them from the store; one
	// that cannot start is left to be computed when read (and logged by
	// the caller through the error list), the others start
	for _, o := range cat.Objects() {
		if o.Kind == catalog.KindMaterializedView {
			if err := db.startFlow(o, false); err != nil {
				db.startErrs = append(db.startErrs, fmt.Errorf("materialized view %q: %w", o.Name, err))
			}
		}
		if o.Kind == catalog.KindSink {
			if err := db.startSink(o); err != nil {
				db.startErrs = append(db.startErrs, fmt.Errorf("sink %q: %w", o.Name, err))
			}
		}
	}
	return db, nil
}

// streamConfig reads a stream's WITH options.
func streamConfig(o *catalog.Object) (streamstore.Config, error) {
	cfg := streamstore.Config{Shards: 1, PartitionBy: -1}
	for _, c := range o.Columns {
		cfg.Types = append(cfg.Types, c.Type)
	}
	if v := o.Options["shards"]; v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return cfg, sqlerr.New(sqlerr.InvalidParameterValue, "shards must be a positive integer, not %q", v)
		}
		cfg.Shards = n
	}
	if v := o.Options["partition_by"]; v != "" {
		i := o.ColumnIndex(v)
		if i < 0 {
			return cfg, sqlerr.New(sqlerr.UndefinedColumn, "partition_by column %q does not exist", v)
		}
		cfg.PartitionBy = i
	}
	if v := o.Options["retention"]; v != "" {
		d, err := parseRetention(v)
		if err != nil {
			return cfg, err
		}
		cfg.Retention = d
	}
	return cfg, nil
}

func parseRetention(v string) (time.Duration, error) {
	if d, err := time.ParseDuration(v); err == nil && d > 0 {
		return d, nil
	}
	iv, err := types.ParseInterval(v)
	if err != nil || iv.ApproxMicros() <= 0 {
		return 0, sqlerr.New(sqlerr.InvalidParameterValue, "invalid retention %q (use e.g. '24h' or '7 days')", v)
	}
	return time.Duration(iv.ApproxMicros()) * time.Microsecond, nil
}

func streamKey(o *catalog.Object) string { return fmt.Sprintf("%d", o.OID) }

func (db *DB) openStream(o *catalog.Object) (*streamstore.Stream, error) {
	cfg, err := streamConfig(o)
	if err != nil {
		return nil, err
	}
	var s *streamstore.Stream
	if o.Options["generated_by"] != "" {
		s, err = db.generatedStream(o, cfg)
	} else {
		s, err = db.store.OpenStream(streamKey(o), cfg)
	}
	if err != nil {
		return nil, err
	}
	for _, sh := range s.Shards() {
		if lost := sh.LostReport(); lost != "" {
			db.startErrs = append(db.startErrs, fmt.Errorf("stream %q, shard %d: acknowledged records are missing (sequence numbers %s): a segment file was deleted or damaged outside streamsql; streamsql_shards lists them", o.Name, sh.ID, lost))
		}
	}
	db.mu.Lock()
	db.streams[o.Name] = s
	db.mu.Unlock()
	return s, nil
}

// Stream returns the store of a stream.
func (db *DB) Stream(name string) (*streamstore.Stream, error) {
	db.mu.RLock()
	defer db.mu.RUnlock()
	s, ok := db.streams[name]
	if !ok {
		return nil, sqlerr.New(sqlerr.UndefinedTable, "stream %q does not exist", name)
	}
	return s, nil
}

func (db *DB) dropStream(o *catalog.Object) error {
	db.mu.Lock()
	delete(db.streams, o.Name)
	db.mu.Unlock()
	return db.store.Drop(streamKey(o))
}

// EnforceRetention deletes stream segments past their retention.
func (db *DB) EnforceRetention(now time.Time) {
	db.mu.RLock()
	var ss []*streamstore.Stream
	for _, s := range db.streams {
		ss = append(ss, s)
	}
	for _, v := range db.rt.Views() {
		if c := v.Changelog(); c != nil {
			ss = append(ss, c) // views' changelogs
		}
	}
	db.mu.RUnlock()
	for _, s := range ss {
		_ = s.EnforceRetention(now)
	}
}

// appendRows stores new rows in a table or a stream (durably, all or nothing).
func (db *DB) appendRows(o *catalog.Object, rows []storage.Row) error {
	if len(rows) == 0 {
		return nil
	}
	if o.Kind == catalog.KindStream {
		s, err := db.Stream(o.Name)
		if err != nil {
			return err
		}
		rs := make([][]types.Datum, len(rows))
		for i, r := range rows {
			rs[i] = r
		}
		if _, err := s.Append(rs); err != nil {
			return appendError(o.Name, err)
		}
		return nil
	}
	t, err := db.Table(o.Name)
	if err != nil {
		return err
	}
	return t.Apply(storage.Change{Inserts: rows})
}

// streamSnapshot reads everything a stream retains now, shard by shard,
// with each record's shard, sequence number and arrival time as three
// extra columns.
func (db *DB) streamSnapshot(mem memory.Allocator, name string, ts []types.T) ([]arrow.RecordBatch, error) {
	s, err := db.Stream(name)
	if err != nil {
		return nil, err
	}
	var out []arrow.RecordBatch
	fail := func(err error) ([]arrow.RecordBatch, error) {
		for _, x := range out {
			x.Release()
		}
		return nil, err
	}
	for _, sh := range s.Shards() {
		end := sh.Latest()
		for from := sh.TrimHorizon(); from < end; {
			b, seqs, arrivals, next, err := sh.ReadBatchWithPositions(mem, from, min(4096, int(end-from)))
			if err != nil {
				return fail(err)
			}
			if b == nil {
				break
			}
			out = append(out, flow.WithPositions(ts, b, sh.ID, seqs, arrivals))
			b.Release()
			from = next
		}
	}
	return out, nil
}

// Position is where an ingested record landed in a stream.
type Position = streamstore.Position

// IngestJSON appends JSON objects (column name → value) to a stream or
// table durably and returns, for a stream, each record's position. Values
// are converted as text input of the column's type; missing columns are
// NULL; unknown keys are an error.
func (db *DB) IngestJSON(name string, objs []map[string]any) ([]Position, error) {
	o := db.Catalog.Lookup(name)
	if o == nil || (o.Kind != catalog.KindStream && o.Kind != catalog.KindTable) {
		return nil, sqlerr.New(sqlerr.UndefinedTable, "stream %q does not exist", name)
	}
	if err := checkWritable(o); err != nil {
		return nil, err
	}
	rows := make([]storage.Row, len(objs))
	for i, obj := range objs {
		r := make(storage.Row, len(o.Columns))
		for c := range r {
			r[c] = types.NullDatum
		}
		for k, v := range obj {
			c := o.ColumnIndex(k)
			if c < 0 {
				return nil, sqlerr.New(sqlerr.UndefinedColumn, "record %d: column %q of %q does not exist", i+1, k, name)
			}
			d, err := jsonDatum(o.Columns[c].Type, v)
			if err != nil {
				e := sqlerr.As(err)
				return nil, e.WithDetail(fmt.Sprintf("record %d, column %s", i+1, k))
			}
			r[c] = d
		}
		rows[i] = r
	}
	if err := checkNotNull(o, rows); err != nil {
		return nil, err
	}
	if o.Kind == catalog.KindTable {
		return nil, db.appendRows(o, rows)
	}
	s, err := db.Stream(name)
	if err != nil {
		return nil, err
	}
	rs := make([][]types.Datum, len(rows))
	for i, r := range rows {
		rs[i] = r
	}
	pos, err := s.Append(rs)
	if err != nil {
		return nil, appendError(name, err)
	}
	return pos, nil
}

func jsonDatum(t types.T, v any) (types.Datum, error) {
	switch x := v.(type) {
	case nil:
		return types.NullDatum, nil
	case string:
		return types.ParseText(t, x, time.UTC)
	case json.Number:
		if !t.Kind.IsNumeric() && t.Kind != types.Text && t.Kind != types.JSONB {
			return types.Datum{}, sqlerr.New(sqlerr.DatatypeMismatch, "a number cannot be stored in a column of type %s", t)
		}
		return types.ParseText(t, x.String(), time.UTC)
	case bool:
		if t.Kind != types.Bool && t.Kind != types.JSONB && t.Kind != types.Text {
			return types.Datum{}, sqlerr.New(sqlerr.DatatypeMismatch, "a boolean cannot be stored in a column of type %s", t)
		}
		return types.ParseText(t, strconv.FormatBool(x), time.UTC)
	default:
		if t.Kind != types.JSONB {
			return types.Datum{}, sqlerr.New(sqlerr.DatatypeMismatch, "a JSON object or array cannot be stored in a column of type %s", t)
		}
		b, _ := json.Marshal(x)
		return types.ParseText(t, string(b), time.UTC)
	}
}

// Close closes every table.
func (db *DB) Close() error {
	db.endAllSubscriptions()
	db.rt.Close()
	db.mu.Lock()
	defer db.mu.Unlock()
	var first error
	for _, t := range db.tables {
		if err := t.Close(); err != nil && first == nil {
			first = err
		}
	}
	db.tables = map[string]*storage.Table{}
	db.store.Close()
	if db.storeTmp != "" {
		os.RemoveAll(db.storeTmp)
	}
	db.lock.release()
	db.lock = nil
	return first
}

func (db *DB) tablePath(o *catalog.Object) string {
	if db.dir == "" {
		return ""
	}
	return filepath.Join(db.dir, "tables", fmt.Sprintf("%d.log", o.OID))
}

func (db *DB) openTable(o *catalog.Object) (*storage.Table, error) {
	ts := make([]types.T, len(o.Columns))
	for i, c := range o.Columns {
		ts[i] = c.Type
	}
	t, err := storage.Open(db.tablePath(o), ts, o.PrimaryKey)
	if err != nil {
		return nil, err
	}
	db.mu.Lock()
	db.tables[o.Name] = t
	db.mu.Unlock()
	return t, nil
}

// Table returns the storage of a table or stream.
func (db *DB) Table(name string) (*storage.Table, error) {
	db.mu.RLock()
	defer db.mu.RUnlock()
	t, ok := db.tables[name]
	if !ok {
		return nil, sqlerr.New(sqlerr.UndefinedTable, "relation %q does not exist", name)
	}
	return t, nil
}

func (db *DB) dropTable(name string) error {
	db.mu.Lock()
	t, ok := db.tables[name]
	delete(db.tables, name)
	db.mu.Unlock()
	if ok {
		return t.Remove()
	}
	return nil
}

// StreamRecord is a record read back by position, for the HTTP consumer API.
type StreamRecord struct {
	Shard   int            `json:"shard"`
	Seq     uint64         `json:"sequence_number"`
	Arrival string         `json:"arrival"`
	Data    map[string]any `json:"data"`
}

// ReadStream reads up to limit records of one shard from a position:
// "oldest" (trim horizon), "latest", a sequence number, "after:N", or
// "at:<timestamp>". With wait > 0 a reader at the tail waits that long
// for a new record. It returns the records and the sequence number to
// continue from.
func (db *DB) ReadStream(ctx context.Context, name string, shard int, from string, limit int, wait time.Duration) ([]StreamRecord, uint64, error) {
	o := db.Catalog.Lookup(name)
	s, err := db.Stream(name)
	if err != nil || o == nil {
		return nil, 0, sqlerr.New(sqlerr.UndefinedTable, "stream %q does not exist", name)
	}
	if shard < 0 || shard >= len(s.Shards()) {
		return nil, 0, sqlerr.New(sqlerr.InvalidParameterValue, "stream %q has no shard %d", name, shard)
	}
	sh := s.Shards()[shard]
	var pos uint64
	switch {
	case from == "" || from == "oldest" || from == "trim_horizon":
		pos = sh.TrimHorizon()
	case from == "latest":
		pos = sh.Latest()
	case strings.HasPrefix(from, "after:"):
		n, err := strconv.ParseUint(from[6:], 10, 64)
		if err != nil {
			return nil, 0, sqlerr.New(sqlerr.InvalidParameterValue, "bad position %q", from)
		}
		pos = n + 1
	case strings.HasPrefix(from, "at:"):
		us, err := types.ParseTimestamp(from[3:], true, time.UTC)
		if err != nil {
			return nil, 0, err
		}
		pos = sh.AtTime(us)
	default:
		n, err := strconv.ParseUint(from, 10, 64)
		if err != nil {
			return nil, 0, sqlerr.New(sqlerr.InvalidParameterValue, "bad position %q (oldest, latest, N, after:N or at:TIMESTAMP)", from)
		}
		pos = n
	}
	if latest := sh.Latest(); pos > latest {
		// a consumer there would skip the records numbered up to pos
		return nil, 0, sqlerr.New(sqlerr.InvalidParameterValue, "position %q is past the end of shard %d of %q: the next record will be %d", from, shard, name, latest).
			WithHint(fmt.Sprintf("read from latest, or after:%d", latest-1))
	}
	if limit <= 0 || limit > 10000 {
		limit = 10000
	}
	if wait > 0 && pos >= sh.Latest() {
		wctx, cancel := context.WithTimeout(ctx, wait)
		_ = sh.Wait(wctx, pos)
		cancel()
	}
	recs, next, err := sh.Read(pos, limit)
	if err != nil {
		return nil, 0, sqlerr.New(sqlerr.IOError, "%v", err)
	}
	if len(recs) == 0 && next > pos {
		// sequence numbers left void (an aborted append) were passed over
		pos = next
	}
	out := make([]StreamRecord, len(recs))
	for i, r := range recs {
		data := make(map[string]any, len(o.Columns))
		for c, col := range o.Columns {
			data[col.Name] = types.JSONValue(col.Type, r.Row[c])
		}
		out[i] = StreamRecord{Shard: shard, Seq: r.Seq, Arrival: types.FormatTimestamp(r.Arrival, true, time.UTC), Data: data}
	}
	if len(recs) == 0 {
		next = pos
	}
	return out, next, nil
}

// StartErrors lists what went wrong when the database was opened: data
// that was quarantined (see quarantineOrphans; a *Warning when harmless),
// damage found in the stream store, materialized views that could not be
// started (they are computed when read instead).
func (db *DB) StartErrors() []error { return db.startErrs }

// appendError reports a failed append to a stream: a generated stream
// cannot be written (42809), anything else is the store's I/O error.
func appendError(name string, err error) error {
	if errors.Is(err, streamstore.ErrGenerated) {
		return sqlerr.New(sqlerr.WrongObjectType, "cannot write to stream %q: its source generates it", name)
	}
	return sqlerr.New(sqlerr.IOError, "could not append to stream %q: %v", name, err)
}
