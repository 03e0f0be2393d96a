package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/streamsql/streamsql/planner"
	"github.com/streamsql/streamsql/sources/nexmark"
)

// benchLine is one run's figures (also what a child process prints for
// --all, as JSON).
type benchLine struct {
	Query         string  `json:"query"`
	Events        uint64  `json:"events"`
	Seconds       float64 `json:"seconds"`
	CPUSeconds    float64 `json:"cpu_seconds"`
	EventsPerSec  float64 `json:"events_per_sec"`
	PerCore       float64 `json:"events_per_cpu_sec"`
	PeakMemoryMiB float64 `json:"peak_memory_mib"`
	Rows          int64   `json:"rows"`
	Checksum      string  `json:"checksum"`
	// the query's checkpoints during the run (with --checkpoint-interval)
	Checkpoints     int64   `json:"checkpoints,omitempty"`
	CheckpointKiB   float64 `json:"checkpoint_kib,omitempty"`
	CheckpointMs    float64 `json:"checkpoint_ms,omitempty"`
	CheckpointMaxMs float64 `json:"checkpoint_max_ms,omitempty"`
}

// bench runs a benchmark: streamsql bench nexmark|restart ...
func bench(args []string) error {
	const synopsis = `streamsql bench nexmark [--query q5] [--events 10000000] [--workers N] [--all] [--runs N]
       streamsql bench restart [--events 10000000] [--groups 10000]`
	if len(args) > 0 && (args[0] == "--help" || args[0] == "-help" || args[0] == "-h") {
		fmt.Printf("Usage: %s\n\nRun \"streamsql bench nexmark --help\" (or restart) for its flags.\n", synopsis)
		return flag.ErrHelp
	}
	switch {
	case len(args) > 0 && args[0] == "nexmark":
		return benchNexmark(args[1:])
	case len(args) > 0 && args[0] == "restart":
		return benchRestart(args[1:])
	}
	fmt.Fprintf(os.Stderr, "Usage: %s\n", synopsis)
	return errUsage
}

// benchNexmark runs Nexmark queries.
func benchNexmark(args []string) error {
	const synopsis = "streamsql bench nexmark [--query q5] [--events 10000000] [--workers N] [--all] [--runs N]"
	fs := flag.NewFlagSet("bench nexmark", flag.ContinueOnError)
	query := fs.String("query", "q0", "the query: "+strings.Join(nexmark.Queries(), ", "))
	events := fs.Uint64("events", 10_000_000, "events of all kinds (1 person : 3 auctions : 46 bids)")
	rate := fs.Float64("rate", 100_000, "events per second of event time")
	shards := fs.Int("shards", 2, "shards per stream")
	workers := fs.Int("workers", 0, "goroutines a view's aggregate is split over (0: the number of CPUs)")
	seed := fs.Uint64("seed", 1, "generator seed")
	all := fs.Bool("all", false, "run every query, each in a process of its own, and print a table")
	runs := fs.Int("runs", 1, "runs of each query; the table shows the median")
	jsonOut := fs.Bool("json", false, "print one JSON line per run")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the run to this file")
	memProfile := fs.String("memprofile", "", "write an allocation profile of the run to this file")
	ckInterval := fs.Duration("checkpoint-interval", 0, "checkpoint the query this often (0: never during the run)")
	gcPercent := fs.Int("gogc", 100, "garbage collector target percentage (Go's default; the server's --gogc 400 trades throughput for latency; the GOGC environment variable, when set, wins)")
	if err := parseFlags(fs, synopsis, args); err != nil {
		return err
	}
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(*gcPercent)
	}
	queries := []string{*query}
	if *all {
		queries = nexmark.Queries()
	}
	fmt.Fprintf(os.Stderr, "nexmark: %d events, rate %g/s, %d shards, %d CPUs (GOMAXPROCS %d)\n", *events, *rate, *shards, runtime.NumCPU(), runtime.GOMAXPROCS(0))
	if !*all && *runs == 1 {
		if *cpuProfile != "" {
			f, err := os.Create(*cpuProfile)
			if err != nil {
				return err
			}
			defer f.Close()
			if err := pprof.StartCPUProfile(f); err != nil {
				return err
			}
			defer pprof.StopCPUProfile()
		}
		if *memProfile != "" {
			runtime.MemProfileRate = 64 << 10
		}
		line, err := benchOnce(planner.NexmarkRun{Query: *query, Events: *events, Rate: *rate, Shards: *shards, Workers: *workers, Seed: *seed, CheckpointInterval: *ckInterval})
		if err != nil {
			return err
		}
		if *memProfile != "" {
			f, err := os.Create(*memProfile)
			if err != nil {
				return err
			}
			defer f.Close()
			if err := pprof.Lookup("allocs").WriteTo(f, 0); err != nil {
				return err
			}
		}
		if *jsonOut {
			return json.NewEncoder(os.Stdout).Encode(line)
		}
		printBench([]benchLine{line})
		return nil
	}
	// each run in a fresh process: peak memory and CPU time are its own
	var table []benchLine
	for _, q := range queries {
		var got []benchLine
		for r := 0; r < *runs; r++ {
			cmd := exec.Command(os.Args[0], "bench", "nexmark", "--json", "--query", q, fmt.Sprint("--events=", *events),
				fmt.Sprint("--rate=", *rate), fmt.Sprint("--shards=", *shards), fmt.Sprint("--workers=", *workers), fmt.Sprint("--seed=", *seed), fmt.Sprint("--gogc=", *gcPercent), fmt.Sprint("--checkpoint-interval=", *ckInterval))
			cmd.Stderr = os.Stderr
			out, err := cmd.Output()
			if err != nil {
				return fmt.Errorf("%s: %w", q, err)
			}
			var line benchLine
			if err := json.Unmarshal(out, &line); err != nil {
				return fmt.Errorf("%s: %w", q, err)
			}
			if *jsonOut {
				fmt.Print(string(out))
			}
			got = append(got, line)
		}
		sort.Slice(got, func(i, j int) bool { return got[i].PerCore < got[j].PerCore })
		table = append(table, got[len(got)/2])
	}
	if !*jsonOut {
		printBench(table)
	}
	return nil
}

// benchOnce runs one query in this process.
func benchOnce(run planner.NexmarkRun) (benchLine, error) {
	run.CPU = cpuTime
	res, err := planner.RunNexmark(run, false)
	if err != nil {
		return benchLine{}, err
	}
	wall, cpu := res.Elapsed.Seconds(), res.CPU.Seconds()
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	line := benchLine{Query: run.Query, Events: run.Events, Seconds: wall, CPUSeconds: cpu,
		EventsPerSec: float64(run.Events) / wall, PerCore: float64(run.Events) / cpu,
		PeakMemoryMiB: float64(ru.Maxrss) / 1024, Rows: res.Rows, Checksum: fmt.Sprintf("%016x", res.Checksum)}
	if ck := res.Checkpoints; ck.Count > 0 {
		line.Checkpoints = ck.Count
		line.CheckpointKiB = float64(ck.TotalBytes) / float64(ck.Count) / 1024
		line.CheckpointMs = ck.TotalDuration.Seconds() * 1000 / float64(ck.Count)
		line.CheckpointMaxMs = ck.MaxDuration.Seconds() * 1000
	}
	return line, nil
}

// cpuTime is the process's user and system time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func printBench(lines []benchLine) {
	ck := false
	for _, l := range lines {
		ck = ck || l.Checkpoints > 0
	}
	head := fmt.Sprintf("%-5s %12s %10s %10s %14s %16s %12s %10s  %-16s", "query", "events", "seconds", "cpu s", "events/s", "events/s/core", "peak MiB", "rows", "checksum")
	if ck {
		head += fmt.Sprintf(" %12s %14s %12s %12s", "checkpoints", "KiB/checkpoint", "ms/checkpoint", "max ms")
	}
	fmt.Println(head)
	for _, l := range lines {
		line := fmt.Sprintf("%-5s %12d %10.2f %10.2f %14.0f %16.0f %12.0f %10d  %-16s", l.Query, l.Events, l.Seconds, l.CPUSeconds, l.EventsPerSec, l.PerCore, l.PeakMemoryMiB, l.Rows, l.Checksum)
		if ck {
			line += fmt.Sprintf(" %12d %14.1f %12.1f %12.1f", l.Checkpoints, l.CheckpointKiB, l.CheckpointMs, l.CheckpointMaxMs)
		}
		fmt.Println(line)
	}
}

// benchRestart times restarts of a database with a view over a long
// history: after a clean stop, after a crash, and with no checkpoints (a
// full replay).
func benchRestart(args []string) error {
	const synopsis = "streamsql bench restart [--events 10000000] [--groups 10000] [--shards 4] [--tail 100000] [--dir DIR]"
	fs := flag.NewFlagSet("bench restart", flag.ContinueOnError)
	events := fs.Uint64("events", 10_000_000, "records of history behind the view")
	groups := fs.Int("groups", 10_000, "the view's groups (SELECT k, count(*), sum(v) ... GROUP BY k)")
	shards := fs.Int("shards", 4, "the stream's shards")
	tail := fs.Uint64("tail", 100_000, "records written after the last checkpoint before the crash")
	dir := fs.String("dir", "", "where the data directories go (default: a temporary directory, removed)")
	if err := parseFlags(fs, synopsis, args); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "restart: %d records, %d groups, %d shards, %d CPUs\n", *events, *groups, *shards, runtime.NumCPU())
	res, err := planner.RunRestart(planner.RestartRun{Events: *events, Groups: *groups, Shards: *shards, Tail: *tail, Dir: *dir})
	if err != nil {
		return err
	}
	fmt.Printf("%12s %8s %10s %14s %12s %22s %18s\n", "records", "groups", "load s", "checkpoint KiB", "clean stop s", fmt.Sprintf("kill -9 (tail %d) s", *tail), "no checkpoint s")
	fmt.Printf("%12d %8d %10.2f %14.0f %12.3f %22.3f %18.3f\n", *events, *groups, res.Load.Seconds(), float64(res.StateBytes)/1024,
		res.Clean.Seconds(), res.Crash.Seconds(), res.Replay.Seconds())
	return nil
}
