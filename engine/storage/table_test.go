package storage

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/streamsql/streamsql/sqlerr"
	"github.com/streamsql/streamsql/types"
)

var ts = []types.T{types.TInt64, types.TText, types.TNumeric}

func row(id int64, s string) Row {
	return Row{types.DInt(id), types.DText(s), types.DText("1.50")}
}

func TestTableSurvivesReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "t.log")
	tb, err := Open(path, ts, []int{0})
	if err != nil {
		t.Fatal(err)
	}
	if err := tb.Apply(Change{Inserts: []Row{row(1, "a"), row(2, "b"), row(3, "c")}}); err != nil {
		t.Fatal(err)
	}
	id, _, ok := tb.LookupKey(tb.KeyOf(row(2, "")))
	if !ok {
		t.Fatal("key 2 missing")
	}
	if err := tb.Apply(Change{Deletes: []int64{id}, Inserts: []Row{row(2, "B")}}); err != nil {
		t.Fatal(err)
	}
	if err := tb.Apply(Change{Inserts: []Row{row(1, "dup")}}); sqlerr.Code(err) != sqlerr.UniqueViolation {
		t.Fatalf("duplicate key: %v", err)
	}
	tb.Close()
	tb, err = Open(path, ts, []int{0})
	if err != nil {
		t.Fatal(err)
	}
	defer tb.Close()
	var got []string
	tb.Rows(func(_ int64, r Row) bool { got = append(got, r[1].S); return true })
	if len(got) != 3 || got[0] != "a" || got[1] != "c" || got[2] != "B" {
		t.Fatalf("after reopen: %v", got)
	}
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	bs, ids := tb.Snapshot(mem)
	if len(bs) != 1 || bs[0].NumRows() != 3 || len(ids[0]) != 3 {
		t.Fatalf("snapshot: %d batches", len(bs))
	}
	for _, b := range bs {
		b.Release()
	}
}

// A torn or corrupt tail (a crash in the middle of a write) is cut off at
// start-up; everything before it is kept.
func TestTornTail(t *testing.T) {
	path := filepath.Join(t.TempDir(), "t.log")
	tb, err := Open(path, ts, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 5; i++ {
		if err := tb.Apply(Change{Inserts: []Row{row(int64(i), "x")}}); err != nil {
			t.Fatal(err)
		}
	}
	tb.Close()
	st, _ := os.Stat(path)
	full := st.Size()
	for _, damage := range []func(){
		func() { os.Truncate(path, full-3) },                // torn last record
		func() { appendBytes(path, []byte{9, 0, 0, 0, 1}) }, // garbage header
	} {
		damage()
		tb, err = Open(path, ts, nil)
		if err != nil {
			t.Fatal(err)
		}
		if n := tb.Len(); n < 4 {
			t.Fatalf("lost acknowledged rows: %d", n)
		}
		// the table keeps working after the repair
		if err := tb.Apply(Change{Inserts: []Row{row(99, "after")}}); err != nil {
			t.Fatal(err)
		}
		n := tb.Len()
		tb.Close()
		tb, _ = Open(path, ts, nil)
		if tb.Len() != n {
			t.Fatalf("rows after repair and reopen: %d, want %d", tb.Len(), n)
		}
		tb.Close()
		st, _ := os.Stat(path)
		full = st.Size()
	}
}

func appendBytes(path string, b []byte) {
	f, _ := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	f.Write(b)
	f.Close()
}

// fullDisk writes part of what it is given and then fails, as a write to
// a full disk does.
type fullDisk struct {
	*os.File
	full *bool
}

func (f fullDisk) Write(p []byte) (int, error) {
	if *f.full {
		n, _ := f.File.Write(p[:len(p)/2])
		return n, syscall.ENOSPC
	}
	return f.File.Write(p)
}

// TestFailedWriteLeavesNothing: a statement whose log write fails is not
// applied, and leaves no torn record behind — a later statement's rows
// would otherwise sit after it in the log, where the replay never reaches.
func TestFailedWriteLeavesNothing(t *testing.T) {
	full := false
	defer func(f func(string) (logFile, error)) { openLog = f }(openLog)
	openLog = func(path string) (logFile, error) {
		f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
		return fullDisk{f, &full}, err
	}
	path := filepath.Join(t.TempDir(), "t.log")
	tb, err := Open(path, ts, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := tb.Apply(Change{Inserts: []Row{row(1, "before")}}); err != nil {
		t.Fatal(err)
	}
	full = true
	if err := tb.Apply(Change{Inserts: []Row{row(2, "failed"), row(3, "failed")}}); err == nil {
		t.Fatal("a failed write was acknowledged")
	}
	full = false
	if err := tb.Apply(Change{Inserts: []Row{row(4, "after")}}); err != nil {
		t.Fatal(err)
	}
	if tb.Len() != 2 {
		t.Fatalf("%d rows, want 2", tb.Len())
	}
	tb.Close()
	tb, err = Open(path, ts, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tb.Close()
	var got []string
	tb.Rows(func(_ int64, r Row) bool { got = append(got, r[1].S); return true })
	if strings.Join(got, ",") != "before,after" {
		t.Fatalf("after a reopen: %v", got)
	}
}

// A reader that saw a table up to change n gets the changes after n back
// from its log — also after the table was reopened — with the rows each
// deleted, then every later change as it commits: nothing missed, nothing
// twice, numbered in order.
func TestTableWatchFrom(t *testing.T) {
	path := filepath.Join(t.TempDir(), "t.log")
	tb, err := Open(path, ts, []int{0})
	if err != nil {
		t.Fatal(err)
	}
	apply := func(ch Change) {
		t.Helper()
		if err := tb.Apply(ch); err != nil {
			t.Fatal(err)
		}
	}
	apply(Change{Inserts: []Row{row(1, "a"), row(2, "b")}}) // 1
	id, _, _ := tb.LookupKey(tb.KeyOf(row(2, "")))
	apply(Change{Deletes: []int64{id}, Inserts: []Row{row(2, "B")}}) // 2
	apply(Change{Inserts: []Row{row(3, "c")}})                       // 3
	tb.Close()
	if tb, err = Open(path, ts, []int{0}); err != nil {
		t.Fatal(err)
	}
	defer tb.Close()
	if tb.LSN() != 3 {
		t.Fatalf("lsn %d after reopening, want 3", tb.LSN())
	}
	apply(Change{Truncate: true, Inserts: []Row{row(4, "d")}}) // 4
	show := func(lsn int64, deleted, inserted []Row) string {
		var s []string
		for _, r := range deleted {
			s = append(s, "-"+r[1].S)
		}
		for _, r := range inserted {
			s = append(s, "+"+r[1].S)
		}
		return strings.Join(append([]string{string(rune('0' + lsn))}, s...), " ")
	}
	var later []string
	changes, unwatch, err := tb.WatchFrom(1, func(lsn int64, deleted, inserted []Row) { later = append(later, show(lsn, deleted, inserted)) })
	if err != nil {
		t.Fatal(err)
	}
	defer unwatch()
	var got []string
	for _, c := range changes {
		got = append(got, show(c.LSN, c.Deleted, c.Inserted))
	}
	if want := []string{"2 -b +B", "3 +c", "4 -a -B -c +d"}; strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("changes after 1: %q, want %q", got, want)
	}
	apply(Change{Inserts: []Row{row(5, "e")}})
	if strings.Join(later, "|") != "5 +e" {
		t.Fatalf("then: %q", later)
	}
	mem, err := Open("", ts, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := mem.WatchFrom(0, nil); err != ErrNoHistory {
		t.Fatalf("a table in memory: %v", err)
	}
}
