// Command streamsql runs the streamsql server: a PostgreSQL-compatible
// SQL engine over durable tables and streams.
//
//	streamsql help  (the commands; streamsql <command> --help: its flags)
//	streamsql demo  (the same flags: the crypto demo, see README)
//	streamsql bench nexmark --query q5 --events 10000000 [--workers N] [--all] [--runs 3]
//	streamsql bench restart --events 10000000 --groups 10000
//	streamsql [serve] [--listen 127.0.0.1:5433] [--data-dir ./streamsql-data] [--http 127.0.0.1:8081]
//	                  [--password PW | --users-file FILE] [--cleartext]
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"strings"
	"syscall"
	"time"

	"github.com/streamsql/streamsql/planner"
	"github.com/streamsql/streamsql/wire"
)

// usage is what streamsql --help prints.
const usage = `streamsql: a streaming SQL engine and stream store, spoken to over the
PostgreSQL wire protocol (connect with psql or any PostgreSQL driver).

Usage:
  streamsql [serve] [flags]   run the server (the default command)
  streamsql demo [flags]      run the server with the crypto demo: generators,
                              reference tables and views (data in ./streamsql-demo-data)
  streamsql bench nexmark     run Nexmark queries and report throughput
  streamsql bench restart     time restarts with a view over a long history
  streamsql version           print the version
  streamsql help [command]    print this, or a command's flags

Run "streamsql <command> --help" for a command's flags.
`

func main() {
	os.Exit(run(os.Args[1:]))
}

// run runs the command line args and returns the exit status: 0, 1 when
// the command failed, 2 for a command line that is wrong.
func run(args []string) int {
	cmd := "serve"
	if len(args) > 0 && (args[0] == "-h" || args[0] == "-help" || args[0] == "--help") {
		// the commands, then the default command's flags
		fmt.Print(usage + "\n")
	}
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		cmd, args = args[0], args[1:]
	}
	if cmd == "help" {
		if len(args) == 0 {
			fmt.Print(usage)
			return 0
		}
		cmd, args = args[0], []string{"--help"}
	}
	var err error
	switch cmd {
	case "serve":
		err = serve(args, false)
	case "demo":
		err = serve(args, true)
	case "bench":
		err = bench(args)
	case "version":
		fmt.Println(version())
		return 0
	default:
		fmt.Fprintf(os.Stderr, "streamsql: unknown command %q\n\n%s", cmd, usage)
		return 2
	}
	switch {
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, errUsage):
		return 2
	case err != nil:
		fmt.Fprintln(os.Stderr, "streamsql:", err)
		return 1
	}
	return 0
}

// errUsage is a command line that is wrong (the flag package has said why).
var errUsage = errors.New("usage")

// parseFlags parses a command's flags; its usage names the command.
func parseFlags(fs *flag.FlagSet, synopsis string, args []string) error {
	for _, a := range args {
		if a == "-h" || a == "-help" || a == "--help" {
			fs.SetOutput(os.Stdout) // asked for: not an error
		}
	}
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: %s\n\nFlags:\n", synopsis)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return errUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(fs.Output(), "streamsql: unexpected argument %q\n", fs.Arg(0))
		fs.Usage()
		return errUsage
	}
	return nil
}

// version is the module version and the commit it was built from.
func version() string {
	v, rev, dirty := "(devel)", "", false
	if bi, ok := debug.ReadBuildInfo(); ok {
		if bi.Main.Version != "" {
			v = bi.Main.Version
		}
		for _, st := range bi.Settings {
			switch st.Key {
			case "vcs.revision":
				rev = st.Value
			case "vcs.modified":
				dirty = st.Value == "true"
			}
		}
	}
	out := "streamsql " + v
	if rev != "" {
		out += " " + rev[:min(12, len(rev))]
		if dirty {
			out += "-dirty"
		}
	}
	return out + " (PostgreSQL 15 wire protocol, " + runtime.Version() + ")"
}

// serve runs the server; demo also creates the demo's streams, tables and
// views and feeds them (its data directory defaults to ./streamsql-demo-data).
func serve(args []string, demo bool) error {
	name := "serve"
	if demo {
		name = "demo"
	}
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	listen := fs.String("listen", "127.0.0.1:5433", "PostgreSQL protocol address")
	defaultDir := "./streamsql-data"
	if demo {
		defaultDir = "./streamsql-demo-data"
	}
	dataDir := fs.String("data-dir", defaultDir, "data directory")
	httpAddr := fs.String("http", "127.0.0.1:8081", "HTTP address for health and metrics (empty: off)")
	password := fs.String("password", "", "require this password (SCRAM-SHA-256) from every user")
	usersFile := fs.String("users-file", "", "file of user:password lines; turns on password authentication")
	cleartext := fs.Bool("cleartext", false, "ask for passwords in clear text instead of SCRAM-SHA-256")
	verbose := fs.Bool("v", false, "log debug messages")
	streamFsync := fs.Bool("stream-fsync", true, "fsync stream appends before acknowledging them (group commit); false trades crash safety for speed")
	viewBatch := fs.Int("view-batch-size", 65536, "most records a materialized view reads from a shard at once (results do not depend on it)")
	workers := fs.Int("workers", 0, "goroutines each view's aggregate is split over by key (0: the number of CPUs)")
	ckInterval := fs.Duration("checkpoint-interval", time.Second, "time between the checkpoints of views and sinks (0: only on CHECKPOINT); ALTER SYSTEM SET checkpoint_interval overrides it")
	gcPercent := fs.Int("gogc", 400, "garbage collector target percentage (the GOGC environment variable, when set, wins); a larger value trades memory for lower, steadier latency")
	if err := parseFlags(fs, "streamsql "+name+" [flags]", args); err != nil {
		return err
	}
	if os.Getenv("GOGC") == "" {
		// the dataflow allocates per change: collecting less often cuts
		// the assist work that otherwise lands on the view goroutines
		debug.SetGCPercent(*gcPercent)
	}
	level := slog.LevelInfo
	if *verbose {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	auth := wire.Auth{Cleartext: *cleartext}
	if *password != "" || *usersFile != "" {
		auth.Users = map[string]string{}
	}
	if *usersFile != "" {
		users, err := readUsers(*usersFile)
		if err != nil {
			return err
		}
		auth.Users = users
	}
	if *password != "" {
		auth.Users["*"] = *password
	}
	ck := *ckInterval
	if ck == 0 {
		ck = -1 // (the planner's zero is its default)
	}
	db, err := planner.OpenWith(*dataDir, planner.Options{StreamNoSync: !*streamFsync, ViewBatch: *viewBatch, Workers: *workers, CheckpointInterval: ck})
	if err != nil {
		return err
	}
	defer db.Close()
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	srv := wire.NewServer(db, auth, log)
	go func() {
		// stream retention: whole old segments go (a check of segment metadata)
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case now := <-t.C:
				db.EnforceRetention(now)
			}
		}
	}()
	if *httpAddr != "" {
		hs := wire.NewHTTPServer(db, 0)
		hl, err := net.Listen("tcp", *httpAddr)
		if err != nil {
			return err
		}
		go func() { _ = hs.Serve(hl) }()
		defer hs.Close()
	}
	for _, err := range db.StartErrors() {
		var w *planner.Warning
		if errors.As(err, &w) {
			log.Warn(w.Msg)
			continue
		}
		log.Error("at start-up", "err", err)
	}
	if demo {
		if err := startDemo(ctx, db, log); err != nil {
			return err
		}
		fmt.Print(demoHelp(host(ln.Addr()), port(ln.Addr())))
	}
	log.Info("streamsql is ready", "listen", ln.Addr().String(), "data_dir", *dataDir,
		"connect", fmt.Sprintf("psql -h %s -p %s -U streamsql", host(ln.Addr()), port(ln.Addr())))
	err = srv.Serve(ctx, ln)
	log.Info("streamsql stopped")
	return err
}

func host(a net.Addr) string {
	h, _, _ := net.SplitHostPort(a.String())
	return h
}

func port(a net.Addr) string {
	_, p, _ := net.SplitHostPort(a.String())
	return p
}

func readUsers(path string) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	users := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		u, p, ok := strings.Cut(line, ":")
		if !ok {
			return nil, errors.New("users file: lines must be user:password")
		}
		users[u] = p
	}
	return users, sc.Err()
}
