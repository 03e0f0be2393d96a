package planner

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/streamsql/streamsql/catalog"
	"github.com/streamsql/streamsql/engine/storage"
	"github.com/streamsql/streamsql/sqlerr"
	"github.com/streamsql/streamsql/types"
)

// DB is one streamsql database: the catalog and the storage of its tables.
// It is shared by every session.
type DB struct {
	Catalog *catalog.Catalog
	dir     string
	mu      sync.RWMutex
	tables  map[string]*storage.Table
	// ddl serialises catalog changes with the storage they create.
	ddl sync.Mutex
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
		owner, col, _ := strings.Cut(o.Options["owned_by"], ".")
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

// Open opens the database in dir ("" for a database in memory only).
func Open(dir string) (*DB, error) {
	cat, err := catalog.Open(dir)
	if err != nil {
		return nil, err
	}
	db := &DB{Catalog: cat, dir: dir, tables: map[string]*storage.Table{}}
	if dir != "" {
		if err := os.MkdirAll(filepath.Join(dir, "tables"), 0o755); err != nil {
			return nil, fmt.Errorf("planner: %w", err)
		}
	}
	for _, o := range cat.Objects() {
		if o.Kind != catalog.KindTable && o.Kind != catalog.KindStream {
			continue
		}
		if _, err := db.openTable(o); err != nil {
			return nil, err
		}
	}
	return db, nil
}

// Close closes every table.
func (db *DB) Close() error {
	db.mu.Lock()
	defer db.mu.Unlock()
	var first error
	for _, t := range db.tables {
		if err := t.Close(); err != nil && first == nil {
			first = err
		}
	}
	db.tables = map[string]*storage.Table{}
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
