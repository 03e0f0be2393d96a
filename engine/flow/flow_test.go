package flow

import (
	"context"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/streamsql/streamsql/engine/dataflow"
	"github.com/streamsql/streamsql/engine/exec"
	"github.com/streamsql/streamsql/engine/expr"
	"github.com/streamsql/streamsql/engine/storage"
	"github.com/streamsql/streamsql/sources/streamstore"
	"github.com/streamsql/streamsql/types"
)

// The events of the tests: (k TEXT, v BIGINT), then the positions a
// stream source adds.
var (
	evTypes  = []types.T{types.TText, types.TInt64}
	srcTypes = append(slices.Clone(evTypes), types.TInt32, types.TInt64, types.TTimestampTZ)
)

func openStore(t *testing.T) (*streamstore.Store, *streamstore.Stream) {
	t.Helper()
	st := streamstore.Open(t.TempDir(), streamstore.Options{NoSync: true})
	t.Cleanup(st.Close)
	s, err := st.OpenStream("ev", streamstore.Config{Types: evTypes, Shards: 2, PartitionBy: 0})
	if err != nil {
		t.Fatal(err)
	}
	return st, s
}

func appendEvents(t *testing.T, s *streamstore.Stream, from, to int) {
	t.Helper()
	var rows [][]types.Datum
	for i := from; i < to; i++ {
		rows = append(rows, []types.Datum{types.DText(fmt.Sprintf("k%d", i%7)), types.DInt(int64(i))})
	}
	if _, err := s.Append(rows); err != nil {
		t.Fatal(err)
	}
}

// sumGraph is SELECT k, count(*), sum(v) FROM ev GROUP BY k, with an
// optional filter on v first.
func sumGraph(t *testing.T, minV int64) *dataflow.Graph {
	t.Helper()
	g := dataflow.NewGraph()
	src, _ := g.AddSource("ev")
	k := &expr.Col{Idx: 0, T: types.TText}
	v := &expr.Col{Idx: 1, T: types.TInt64}
	in := src
	if minV > 0 {
		in = g.Add(src, &dataflow.Filter{Pred: &expr.Compare{Op: expr.GE, L: v, R: &expr.Const{D: types.DInt(minV), T: types.TInt64}}}, "filter")
	}
	agg, err := dataflow.NewIncAgg([]expr.Expr{k}, []exec.AggSpec{{Kind: exec.AggCountStar, T: types.TInt64}, {Kind: exec.AggSum, Arg: v, T: types.TNumeric}}, dataflow.IncAggOptions{AppendOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	g.SetOutput(g.Add(in, agg, "sum"))
	return g
}

var sumTypes = []types.T{types.TText, types.TInt64, types.TNumeric}

// expectedSums is sumGraph's result over events [0, n) with v >= minV.
func expectedSums(n int, minV int64) []string {
	count, sum := map[string]int64{}, map[string]int64{}
	for i := 0; i < n; i++ {
		if int64(i) >= minV {
			k := fmt.Sprintf("k%d", i%7)
			count[k]++
			sum[k] += int64(i)
		}
	}
	var out []string
	for _, k := range slices.Sorted(maps.Keys(count)) {
		out = append(out, fmt.Sprintf("%s %d %d", k, count[k], sum[k]))
	}
	return out
}

func contents(t *testing.T, v *View) []string {
	t.Helper()
	bs, err := v.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, b := range bs {
		out = append(out, rowStrings(b)...)
		b.Release()
	}
	slices.Sort(out)
	return out
}

func rowStrings(b arrow.RecordBatch) []string {
	var out []string
	for r := 0; r < int(b.NumRows()); r++ {
		var vals []string
		for c := 0; c < int(b.NumCols()); c++ {
			vals = append(vals, datumText(b.Column(c), r))
		}
		out = append(out, strings.Join(vals, " "))
	}
	return out
}

// datumText renders a value of any column the tests make.
func datumText(col arrow.Array, r int) string {
	d := types.DatumAt(col, r)
	switch col.DataType().ID() {
	case arrow.INT64, arrow.INT32:
		return fmt.Sprint(d.I)
	case arrow.STRING:
		return d.S
	}
	return types.FormatText(types.TNumeric, d, nil)
}

func waitJob(t *testing.T, j *Job) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := j.Wait(ctx); err != nil {
		t.Fatal(err)
	}
}

// A job reads a stream's shards into its graph and keeps its view equal
// to the query over everything written; a subscriber sees each step's
// changes, retractions before insertions at a strictly increasing _ts,
// and applying them to the snapshot it started from gives the view.
// Nothing the job allocated is left when it stops.
func TestJobMaintainsViewAndSubscribers(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	st, s := openStore(t)
	appendEvents(t, s, 0, 500)
	v, err := NewView("sums", sumTypes, &ChangelogConfig{Store: st, Key: "changelog-sums"})
	if err != nil {
		t.Fatal(err)
	}
	j, err := Start(Spec{Name: "sums", Graph: sumGraph(t, 0), Sources: []Source{{Name: "ev", Stream: s, Types: srcTypes, TimeCol: -1}}, Sink: v, ReadBatch: 97, Mem: mem})
	if err != nil {
		t.Fatal(err)
	}
	waitJob(t, j)
	if got, want := contents(t, v), expectedSums(500, 0); !slices.Equal(got, want) {
		t.Fatalf("view %v, want %v", got, want)
	}
	ctx := &expr.Ctx{Go: context.Background(), Mem: mem}
	sub, err := v.Subscribe(SubscribeOptions{Snapshot: true}, append([]types.T{types.TInt64, types.TInt64}, sumTypes...))
	if err != nil {
		t.Fatal(err)
	}
	appendEvents(t, s, 500, 1200)
	waitJob(t, j)
	want := expectedSums(1200, 0)
	seen := map[string]int64{}
	lastTS := int64(0)
	for {
		b, err := sub.NextWithin(ctx, 200*time.Millisecond)
		if err != nil {
			t.Fatal(err)
		}
		if b == nil {
			break
		}
		inserted := false
		for r := 0; r < int(b.NumRows()); r++ {
			ts, diff := types.DatumAt(b.Column(0), r).I, types.DatumAt(b.Column(1), r).I
			if ts < lastTS {
				t.Fatalf("_ts went back from %d to %d", lastTS, ts)
			}
			if ts > lastTS {
				inserted = false
			}
			if diff < 0 && inserted {
				t.Fatalf("a retraction after an insertion at _ts %d", ts)
			}
			inserted = inserted || diff > 0
			lastTS = ts
			row := fmt.Sprintf("%s %s %s", datumText(b.Column(2), r), datumText(b.Column(3), r), datumText(b.Column(4), r))
			if seen[row] += diff; seen[row] == 0 {
				delete(seen, row)
			}
		}
		b.Release()
	}
	sub.Close()
	if got := slices.Sorted(maps.Keys(seen)); !slices.Equal(got, want) {
		t.Fatalf("snapshot plus changes %v, want %v", got, want)
	}
	if got := contents(t, v); !slices.Equal(got, want) {
		t.Fatalf("view %v, want %v", got, want)
	}
	j.Stop()
}

// changelogRows folds a view's changelog into rows with their counts.
func changelogRows(t *testing.T, s *streamstore.Stream) []string {
	t.Helper()
	sh := s.Shards()[0]
	n := map[string]int64{}
	for pos := sh.TrimHorizon(); pos < sh.Latest(); {
		recs, next, err := sh.Read(pos, 1000)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range recs {
			if !r.Row[2].Null {
				continue // a marker
			}
			row := fmt.Sprintf("%s %d %s", r.Row[3].S, r.Row[4].I, types.FormatText(types.TNumeric, r.Row[5], nil))
			if n[row] += r.Row[1].I; n[row] == 0 {
				delete(n, row)
			}
			if n[row] < 0 {
				t.Fatalf("changelog retracts %s more often than it inserts it", row)
			}
		}
		pos = next
	}
	return slices.Sorted(maps.Keys(n))
}

// startSumsAndBusy starts the job of sumGraph over s, with a view and its
// changelog, and the job of a view over it (its rows with more than 80
// events: busy); with checkpoints in ckDir unless it is "".
func startSumsAndBusy(t *testing.T, st *streamstore.Store, s *streamstore.Stream, ckDir string) (*Job, *View, *Job, *View) {
	t.Helper()
	ck := func(name string) *CheckpointConfig {
		if ckDir == "" {
			return nil
		}
		return &CheckpointConfig{Dir: filepath.Join(ckDir, name)}
	}
	pv, err := NewView("sums", sumTypes, &ChangelogConfig{Store: st, Key: "changelog-sums"})
	if err != nil {
		t.Fatal(err)
	}
	pj, err := Start(Spec{Name: "sums", Graph: sumGraph(t, 0), Sources: []Source{{Name: "ev", Stream: s, Types: srcTypes, TimeCol: -1}}, Sink: pv, ReadBatch: 50, Checkpoints: ck("sums")})
	if err != nil {
		t.Fatal(err)
	}
	g := dataflow.NewGraph()
	src, _ := g.AddSource("sums")
	n := &expr.Col{Idx: 1, T: types.TInt64}
	g.SetOutput(g.Add(src, &dataflow.Filter{Pred: &expr.Compare{Op: expr.GT, L: n, R: &expr.Const{D: types.DInt(80), T: types.TInt64}}}, "filter"))
	cv, err := NewView("busy", sumTypes, &ChangelogConfig{Store: st, Key: "changelog-busy"})
	if err != nil {
		t.Fatal(err)
	}
	cj, err := Start(Spec{Name: "busy", Graph: g, Sources: []Source{{Name: "sums", View: pv, Types: sumTypes, TimeCol: -1}}, Sink: cv, Checkpoints: ck("busy")})
	if err != nil {
		t.Fatal(err)
	}
	return pj, pv, cj, cv
}

// busy is the busy view's rows over events [0, n).
func busy(n int) []string {
	var out []string
	for _, r := range expectedSums(n, 0) {
		var k string
		var c, sum int64
		fmt.Sscan(r, &k, &c, &sum)
		if c > 80 {
			out = append(out, r)
		}
	}
	return out
}

// A job started again over the same changelog replays its stream up to
// the last marker without writing, then goes on: the changelog holds
// every change once, and folds into the view. A job reading the view
// (a view source) resumes from its own marker the same way.
func TestJobRestartContinuesChangelogs(t *testing.T) {
	st, s := openStore(t)
	startBoth := func() (*Job, *View, *Job, *View) { return startSumsAndBusy(t, st, s, "") }
	pj, pv, cj, cv := startBoth()
	appendEvents(t, s, 0, 400)
	waitJob(t, pj)
	waitJob(t, cj)
	appendEvents(t, s, 400, 700)
	waitJob(t, pj)
	waitJob(t, cj)
	if got, want := contents(t, cv), busy(700); !slices.Equal(got, want) {
		t.Fatalf("child view %v, want %v", got, want)
	}
	cj.Stop()
	pj.Stop()
	appendEvents(t, s, 700, 1000) // written while stopped
	pj, pv, cj, cv = startBoth()
	appendEvents(t, s, 1000, 1300)
	waitJob(t, pj)
	waitJob(t, cj)
	if got, want := contents(t, pv), expectedSums(1300, 0); !slices.Equal(got, want) {
		t.Fatalf("restarted view %v, want %v", got, want)
	}
	if got, want := contents(t, cv), busy(1300); !slices.Equal(got, want) {
		t.Fatalf("restarted child view %v, want %v", got, want)
	}
	if got, want := changelogRows(t, pv.Changelog()), expectedSums(1300, 0); !slices.Equal(got, want) {
		t.Fatalf("parent changelog folds into %v, want %v", got, want)
	}
	if got, want := changelogRows(t, cv.Changelog()), busy(1300); !slices.Equal(got, want) {
		t.Fatalf("child changelog folds into %v, want %v", got, want)
	}
	cj.Stop()
	pj.Stop()
}

// A blackhole sink's checksum is that of the rows a view of the same
// query holds.
func TestBlackholeChecksumIsTheView(t *testing.T) {
	st, s := openStore(t)
	appendEvents(t, s, 0, 900)
	v, err := NewView("sums", sumTypes, &ChangelogConfig{Store: st, Key: "changelog-sums"})
	if err != nil {
		t.Fatal(err)
	}
	var bh Blackhole
	var jobs []*Job
	for _, sink := range []Sink{v, &bh} {
		j, err := Start(Spec{Name: "q", Graph: sumGraph(t, 100), Sources: []Source{{Name: "ev", Stream: s, Types: srcTypes, TimeCol: -1}}, Sink: sink, ReadBatch: 64})
		if err != nil {
			t.Fatal(err)
		}
		jobs = append(jobs, j)
	}
	for _, j := range jobs {
		waitJob(t, j)
	}
	rows, sum, err := v.Checksum()
	if err != nil {
		t.Fatal(err)
	}
	if st := bh.Stats(); st.Rows != rows || st.Checksum != sum || rows != 7 || st.Changes <= rows {
		t.Fatalf("blackhole %+v, view %d rows %x", st, rows, sum)
	}
	for _, j := range jobs {
		j.Stop()
	}
}

// A job joining a stream with a table takes the table's rows, then each
// committed change, which revises the joined rows; Wait covers changes
// committed before it. Started again after a stop — with table changes
// committed while it was stopped, and before it stopped but after its last
// step — it applies each table change once: its changelog folds into
// exactly the view.
func TestJobTableChangesReviseView(t *testing.T) {
	st, s := openStore(t)
	tblTypes := []types.T{types.TText, types.TText}
	tbl, err := storage.Open(filepath.Join(t.TempDir(), "names.log"), tblTypes, []int{0})
	if err != nil {
		t.Fatal(err)
	}
	defer tbl.Close()
	commit := func(deleteKey string, inserted ...storage.Row) {
		t.Helper()
		var ch storage.Change
		if deleteKey != "" {
			id, _, ok := tbl.LookupKey(tbl.KeyOf(storage.Row{types.DText(deleteKey)}))
			if !ok {
				t.Fatalf("no row %s", deleteKey)
			}
			ch.Deletes = []int64{id}
		}
		ch.Inserts = inserted
		if err := tbl.Apply(ch); err != nil {
			t.Fatal(err)
		}
	}
	commit("", storage.Row{types.DText("k1"), types.DText("one")})
	outTypes := []types.T{types.TInt64, types.TText}
	start := func() (*Job, *View) {
		g := dataflow.NewGraph()
		ev, _ := g.AddSource("ev")
		tb, _ := g.AddSource("names")
		j, err := dataflow.NewJoin(exec.InnerJoin, []expr.Expr{&expr.Col{Idx: 0, T: types.TText}}, []expr.Expr{&expr.Col{Idx: 0, T: types.TText}}, nil, srcTypes, tblTypes)
		if err != nil {
			t.Fatal(err)
		}
		joined := g.AddBinary(ev, tb, j, "join")
		g.SetOutput(g.Add(joined, &dataflow.Project{Exprs: []expr.Expr{&expr.Col{Idx: 1, T: types.TInt64}, &expr.Col{Idx: 6, T: types.TText}}, Types: outTypes}, "project"))
		v, err := NewView("named", outTypes, &ChangelogConfig{Store: st, Key: "changelog-named"})
		if err != nil {
			t.Fatal(err)
		}
		job, err := Start(Spec{Name: "named", Graph: g, Sources: []Source{{Name: "ev", Stream: s, Types: srcTypes, TimeCol: -1}, {Name: "names", Table: tbl, Types: tblTypes, TimeCol: -1}}, Sink: v})
		if err != nil {
			t.Fatal(err)
		}
		return job, v
	}
	job, v := start()
	appendEvents(t, s, 0, 10) // k1: 1 and 8; k2: 2 and 9
	waitJob(t, job)
	if got := fmt.Sprint(contents(t, v)); got != "[1 one 8 one]" {
		t.Fatalf("view %s", got)
	}
	commit("k1", storage.Row{types.DText("k1"), types.DText("uno")}, storage.Row{types.DText("k2"), types.DText("two")})
	waitJob(t, job)
	want := "[1 uno 2 two 8 uno 9 two]"
	if got := fmt.Sprint(contents(t, v)); got != want {
		t.Fatalf("view after the table changed %s", got)
	}
	job.Stop()
	commit("k2", storage.Row{types.DText("k2"), types.DText("dos")}) // while stopped
	job, v = start()
	defer job.Stop()
	waitJob(t, job)
	want = "[1 uno 2 dos 8 uno 9 dos]"
	if got := fmt.Sprint(contents(t, v)); got != want {
		t.Fatalf("restarted view %s, want %s", got, want)
	}
	folded := func() string {
		sh := v.Changelog().Shards()[0]
		n := map[string]int64{}
		recs, _, err := sh.Read(sh.TrimHorizon(), 1000)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range recs {
			if r.Row[2].Null {
				n[fmt.Sprintf("%d %s", r.Row[3].I, r.Row[4].S)] += r.Row[1].I
			}
		}
		var out []string
		for k, c := range n {
			for range c {
				out = append(out, k)
			}
		}
		slices.Sort(out)
		return fmt.Sprint(out)
	}
	if got := folded(); got != want {
		t.Fatalf("the changelog folds into %s, want %s", got, want)
	}
}

// A job started again restores its last checkpoint and reads its stream
// from the positions recorded there — also when retention has since
// removed the records before them, which a replay would have needed —
// replays what its changelog holds past the checkpoint without writing
// it, and goes on: the view and its changelog end as if it had never
// stopped. A view reading it (restored too) takes up the parent's
// changes where its own checkpoint has them.
func TestJobRestoresCheckpoint(t *testing.T) {
	st := streamstore.Open(t.TempDir(), streamstore.Options{NoSync: true, SegmentSize: 2048})
	defer st.Close()
	s, err := st.OpenStream("ev", streamstore.Config{Types: evTypes, Shards: 2, PartitionBy: 0, Retention: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ckDir := t.TempDir()
	start := func() (*Job, *View, *Job, *View) { return startSumsAndBusy(t, st, s, ckDir) }
	ctx := context.Background()
	pj, pv, cj, cv := start()
	appendEvents(t, s, 0, 600)
	waitJob(t, pj)
	waitJob(t, cj)
	for _, j := range []*Job{pj, cj} {
		if err := j.Checkpoint(ctx); err != nil {
			t.Fatal(err)
		}
	}
	// retention takes what the checkpoint covers; then more, and a
	// crash before the next checkpoint
	if err := s.EnforceRetention(time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if th := s.Shards()[0].TrimHorizon(); th < 50 {
		t.Fatalf("retention left shard 0 from %d: the test needs it to remove records", th)
	}
	appendEvents(t, s, 600, 900)
	waitJob(t, pj)
	waitJob(t, cj)
	cj.Stop()
	pj.Stop()
	appendEvents(t, s, 900, 1000) // while stopped
	pj, pv, cj, cv = start()
	defer pj.Stop()
	defer cj.Stop()
	for _, j := range []*Job{pj, cj} {
		if ck, _ := j.CheckpointStats(); ck.Restored == 0 {
			t.Fatalf("%s did not restore its checkpoint: %s", j.Name(), ck.RestoreNote)
		}
	}
	if read, total := pj.Catchup(); total > 600 || read > total {
		t.Fatalf("the restored job caught up on %d of %d records: it should read from its checkpoint (at most 400 records)", read, total)
	}
	appendEvents(t, s, 1000, 1100)
	waitJob(t, pj)
	waitJob(t, cj)
	if got, want := contents(t, pv), expectedSums(1100, 0); !slices.Equal(got, want) {
		t.Fatalf("restored view %v, want %v", got, want)
	}
	if got, want := contents(t, cv), busy(1100); !slices.Equal(got, want) {
		t.Fatalf("restored child view %v, want %v", got, want)
	}
	if got, want := changelogRows(t, pv.Changelog()), expectedSums(1100, 0); !slices.Equal(got, want) {
		t.Fatalf("parent changelog folds into %v, want %v", got, want)
	}
	if got, want := changelogRows(t, cv.Changelog()), busy(1100); !slices.Equal(got, want) {
		t.Fatalf("child changelog folds into %v, want %v", got, want)
	}
}

// ckptFaults is a file system whose fsyncs fail, or whose writes find the
// disk full, when asked.
type ckptFaults struct {
	streamstore.OSFS
	failSync, diskFull atomic.Bool
}

type faultyFile struct {
	streamstore.File
	fs *ckptFaults
}

func (f *ckptFaults) OpenFile(name string, flag int, perm os.FileMode) (streamstore.File, error) {
	file, err := f.OSFS.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err
	}
	return &faultyFile{file, f}, nil
}

func (f *faultyFile) Write(p []byte) (int, error) {
	if f.fs.diskFull.Load() {
		n, _ := f.File.Write(p[:len(p)/3])
		return n, syscall.ENOSPC
	}
	return f.File.Write(p)
}

func (f *faultyFile) Sync() error {
	if f.fs.failSync.Load() {
		return syscall.EIO
	}
	return f.File.Sync()
}

// A checkpoint that fails — an fsync that fails, a full disk — is
// reported and leaves the job running and the previous checkpoint whole;
// the next one is taken in full. A torn newest manifest makes a restart
// fall back to the one before it, and say so; the view still ends right.
func TestCheckpointFaults(t *testing.T) {
	st, s := openStore(t)
	dir := t.TempDir()
	faults := &ckptFaults{}
	start := func() (*Job, *View) {
		v, err := NewView("sums", sumTypes, &ChangelogConfig{Store: st, Key: "changelog-sums"})
		if err != nil {
			t.Fatal(err)
		}
		j, err := Start(Spec{Name: "sums", Graph: sumGraph(t, 0), Sources: []Source{{Name: "ev", Stream: s, Types: srcTypes, TimeCol: -1}}, Sink: v,
			Checkpoints: &CheckpointConfig{FS: faults, Dir: dir}})
		if err != nil {
			t.Fatal(err)
		}
		return j, v
	}
	ctx := context.Background()
	j, v := start()
	step := func(from, to int) {
		t.Helper()
		appendEvents(t, s, from, to)
		waitJob(t, j)
	}
	step(0, 100)
	if err := j.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	for i, fault := range []*atomic.Bool{&faults.failSync, &faults.diskFull} {
		step(100+50*i, 150+50*i)
		fault.Store(true)
		if err := j.Checkpoint(ctx); err == nil {
			t.Fatal("a checkpoint whose writes fail succeeded")
		}
		fault.Store(false)
		if err := j.Err(); err != nil {
			t.Fatalf("a failed checkpoint stopped the job: %v", err)
		}
	}
	st1, _ := j.CheckpointStats()
	if st1.Failures != 2 || st1.LastError == "" || st1.ID != 1 {
		t.Fatalf("after two failed checkpoints: %+v", st1)
	}
	step(200, 300)
	if err := j.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	if st2, _ := j.CheckpointStats(); !st2.Full || st2.ID <= st1.ID {
		t.Fatalf("the checkpoint after a failed one: %+v, want a full one", st2)
	}
	step(300, 400)
	if err := j.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	j.Stop()
	// the newest manifest torn: the one before is restored, and the
	// changelog's marker says what to replay past it
	names, _ := os.ReadDir(dir)
	var newest string
	for _, n := range names {
		if strings.HasPrefix(n.Name(), "manifest-") && n.Name() > newest {
			newest = n.Name()
		}
	}
	if err := os.Truncate(filepath.Join(dir, newest), 10); err != nil {
		t.Fatal(err)
	}
	j, v = start()
	defer j.Stop()
	ck, _ := j.CheckpointStats()
	if ck.Restored == 0 || !strings.Contains(ck.RestoreNote, "unusable") {
		t.Fatalf("restored %d (%q), want the checkpoint before the torn one", ck.Restored, ck.RestoreNote)
	}
	step(400, 450)
	if got, want := contents(t, v), expectedSums(450, 0); !slices.Equal(got, want) {
		t.Fatalf("view %v, want %v", got, want)
	}
	if got, want := changelogRows(t, v.Changelog()), expectedSums(450, 0); !slices.Equal(got, want) {
		t.Fatalf("changelog folds into %v, want %v", got, want)
	}
}
