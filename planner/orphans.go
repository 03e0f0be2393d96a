package planner

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/streamsql/streamsql/catalog"
)

// quarantineOrphans moves aside the data of objects the catalog does not
// know: stream, changelog and table files whose object number is not in
// the catalog. Such files come from an object dropped by a process that
// died before deleting them, or from a catalog that was lost or replaced;
// either way they must never show up in a new object that happens to get
// the same number. They go to <dir>/orphaned/<time>/, nothing is deleted,
// and each is reported (as an error when the catalog never handed out its
// number: the catalog and the data do not belong together).
func quarantineOrphans(dir string, cat *catalog.Catalog) []error {
	known := map[uint32]bool{}
	for _, o := range cat.Objects() {
		known[o.OID] = true
	}
	var reports []error
	var dest string
	move := func(kind, path string, oid uint32) {
		if dest == "" {
			dest = filepath.Join(dir, "orphaned", time.Now().UTC().Format("20060102T150405Z"))
		}
		to := filepath.Join(dest, kind, filepath.Base(path))
		if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
			reports = append(reports, fmt.Errorf("could not quarantine %s: %w", path, err))
			return
		}
		if err := os.Rename(path, to); err != nil {
			reports = append(reports, fmt.Errorf("could not quarantine %s: %w", path, err))
			return
		}
		if oid < cat.NextOID() {
			reports = append(reports, &Warning{Msg: fmt.Sprintf("the data of dropped object %d was still in %s: moved to %s", oid, path, to)})
		} else {
			reports = append(reports, fmt.Errorf("%s holds data of object %d, which the catalog never created (was catalog.json lost or replaced?): moved to %s, not used", path, oid, to))
		}
	}
	// streams/<oid> and streams/changelog-<oid> (views' changelogs)
	if names, err := os.ReadDir(filepath.Join(dir, "streams")); err == nil {
		for _, e := range names {
			if oid, ok := objectNumber(strings.TrimPrefix(e.Name(), "changelog-")); ok && !known[oid] {
				move("streams", filepath.Join(dir, "streams", e.Name()), oid)
			}
		}
	}
	// tables/<oid>.log
	if names, err := os.ReadDir(filepath.Join(dir, "tables")); err == nil {
		for _, e := range names {
			if oid, ok := objectNumber(strings.TrimSuffix(e.Name(), ".log")); ok && !known[oid] {
				move("tables", filepath.Join(dir, "tables", e.Name()), oid)
			}
		}
	}
	return reports
}

func objectNumber(s string) (uint32, bool) {
	n, err := strconv.ParseUint(s, 10, 32)
	return uint32(n), err == nil
}

// Warning is a start-up report that needs no action (StartErrors lists it
// with the errors).
type Warning struct{ Msg string }

func (w *Warning) Error() string { return w.Msg }
